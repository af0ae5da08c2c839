"""Differential tests for hsqueeze, hroller and -X execution: ours
against Debian's Ganeti 3.0.2 on Ganeti's test data, generated clusters
and a stand-in LUXI master (t/lib/fake_luxid.py) that records the jobs
each program submits."""
import glob
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import htools_gen  # noqa: E402
import htools_peer  # noqa: E402

DATA = os.path.join(os.path.dirname(__file__), "..", "data", "ganeti", "htools")
if not os.path.isdir(DATA):
    DATA = "/work/shared/reference/ganeti-testdata/htools"
TEXT_FILES = sorted(glob.glob(os.path.join(DATA, "*.data")))
FAKE = os.path.join(os.path.dirname(__file__), "..", "lib", "fake_luxid.py")
PYTHON = sys.executable

needs = {prog: pytest.mark.skipif(not htools_peer.peer_available(prog),
                                  reason="Debian's ganeti-htools is not installed")
         for prog in ("hbal", "hsqueeze", "hroller", "harep")}


def check(prog, argv, files=()):
    diffs = htools_peer.compare(prog, argv, None, files)
    assert not diffs, "\n".join(diffs)


# -- hsqueeze ------------------------------------------------------------------

HSQUEEZE_OPTIONS = [
    [],
    ["-C", "-v", "-v"],
    ["--no-headers", "-Ccmds.sh"],
    ["--minimal-resources=1", "--target-resources=0.5", "-C"],
    ["--minimal-resources", "3", "--target-resources", "3", "-C", "-S", "out"],
]


@needs["hsqueeze"]
@pytest.mark.parametrize("path", TEXT_FILES, ids=os.path.basename)
def test_hsqueeze_on_test_data(path):
    for options in HSQUEEZE_OPTIONS:
        check("hsqueeze", ["-t", path] + options,
              files=["cmds.sh", "out.original", "out.squeezed"])


SQUEEZE = [(6, 0.3, 1, 0, 0), (8, 0.5, 2, 2, 0), (10, 0.2, 3, 3, 0), (8, 0.8, 4, 2, 3),
           (12, 0.4, 5, 0, 2), (9, 0.85, 6, 3, 0)]


@needs["hsqueeze"]
@pytest.mark.parametrize("spec", SQUEEZE, ids=lambda s: "%d-%s-%d" % s[:3])
def test_hsqueeze_on_generated_clusters(spec, tmp_path):
    path = tmp_path / "cluster.data"
    path.write_text(htools_gen.squeeze_cluster(*spec))
    for options in (["-C", "-v", "-v"], ["--minimal-resources=40", "-C"],
                    ["--target-resources=10", "-C", "-S", "out"]):
        check("hsqueeze", ["-t", str(path)] + options, files=["out.original", "out.squeezed"])


# -- hroller -------------------------------------------------------------------

HROLLER_OPTIONS = [
    ["-v", "-v", "-v", "--print-moves"],
    ["--full-evacuation", "--print-moves", "-v", "-v"],
    ["--offline-maintenance", "--one-step-only", "--print-moves"],
    ["--skip-non-redundant", "--print-moves", "-S", "out"],
    ["--ignore-non-redundant", "-f", "--no-headers"],
    ["--node-tags=red,blue", "-G", "group-01", "-O", "node-01-001"],
]


@needs["hroller"]
@pytest.mark.parametrize("path", TEXT_FILES, ids=os.path.basename)
def test_hroller_on_test_data(path):
    for options in HROLLER_OPTIONS:
        check("hroller", ["-t", path] + options, files=["out.original"])


@needs["hroller"]
@pytest.mark.parametrize("seed", range(1, 7))
def test_hroller_on_generated_clusters(seed, tmp_path):
    path = tmp_path / "cluster.data"
    path.write_text(htools_gen.generate(14, 90, "mixed", seed, groups=2, tags=True,
                                        offline=1))
    for options in (["-v", "-v", "-v", "--print-moves"],
                    ["--full-evacuation", "--print-moves"],
                    ["--offline-maintenance", "--print-moves"],
                    ["--skip-non-redundant", "--print-moves", "-G", "group-02"],
                    ["--ignore-non-redundant", "--full-evacuation", "--print-moves"],
                    ["--node-tags=rack:r1,rack:r2", "--one-step-only", "--print-moves"]):
        check("hroller", ["-t", str(path)] + options)


RAPI = os.path.join(DATA, "rapi")


def rapi_variant(tmp_path):
    """The saved RAPI answers, with node tags, an offline node and a
    running non-redundant instance, so that -m reaches what hroller uses."""
    out = tmp_path / "rapi"
    out.mkdir()
    for name in ("groups.json", "info.json"):
        (out / name).write_text(open(os.path.join(RAPI, name)).read())
    nodes = json.load(open(os.path.join(RAPI, "nodes.json")))
    for node, tags in zip(nodes, (["rack:a"], ["rack:b"], ["rack:a"])):
        node["tags"] = tags
    nodes[1]["offline"] = True
    (out / "nodes.json").write_text(json.dumps(nodes))
    insts = json.load(open(os.path.join(RAPI, "instances.json")))
    for inst in insts:
        if inst["disk_template"] == "plain":
            inst["status"], inst["admin_state"] = "running", "up"
            break
    (out / "instances.json").write_text(json.dumps(insts))
    return "file://%s" % out


@needs["hroller"]
@pytest.mark.parametrize("variant", ["saved", "changed"])
def test_hroller_rapi_backend(variant, tmp_path):
    address = "file://" + RAPI if variant == "saved" else rapi_variant(tmp_path)
    for options in HROLLER_OPTIONS[:5] + [["--node-tags=rack:a", "--print-moves"],
                                          ["-G", "default", "-v", "-v", "-v"]]:
        check("hroller", ["-m", address] + options, files=["out.original"])


# -- usage, bad input ------------------------------------------------------------

BAD = {
    "hsqueeze": [["--help"], ["--help-completion"], ["--minimal-resources=x"],
                 ["--target-resources="], ["-t"], ["--bogus"], ["extra"], [],
                 ["-t", "/nonexistent"], ["-t", "a", "-L"], ["-L/nonexistent"]],
    "hroller": [["--help"], ["--help-completion"], ["--node-tags"], ["-G"], ["--bogus"],
                ["extra"], [], ["-t", "/nonexistent"],
                ["-t", os.path.join(DATA, "multiple-master.data")],
                ["-t", os.path.join(DATA, "empty-cluster.data")],
                ["-t", os.path.join(DATA, "empty-cluster.data"), "-f"],
                ["-t", os.path.join(DATA, "hroller-full.data"), "-G", "nosuch"],
                ["-L/nonexistent"], ["-m", "file:///nonexistent"], ["-m", "127.0.0.1:1"],
                ["-m", "file:///nonexistent", "-t", "x"]],
    "harep": [["--help"], ["--help-completion"], ["--job-delay=x"], ["--bogus"], ["extra"],
              ["-L/nonexistent"]],
    "hbal": [["-t", os.path.join(DATA, "hbal-evac.data"), "-X"],
             ["-t", os.path.join(DATA, "hbal-evac.data"), "-X", "--priority=urgent"],
             ["-L/nonexistent", "-X"]],
}


@pytest.mark.parametrize("prog,argv", [(p, a) for p, cases in BAD.items() for a in cases],
                         ids=lambda x: x if isinstance(x, str) else " ".join(x) or "-")
def test_usage_and_bad_input(prog, argv):
    if not htools_peer.peer_available(prog):
        pytest.skip("Debian's ganeti-htools is not installed")
    check(prog, argv)


def test_exec_without_luxi_after_the_plan():
    """-X with -t: the plan and -C still print, then Ganeti's error."""
    code, out, err = htools_peer.run([htools_peer.OURS["hsqueeze"], "-t",
                                      os.path.join(DATA, "hsqueeze-underutilized.data"),
                                      "-X", "-C"], tempfile.gettempdir())
    assert code == 1
    assert "'Nodes to offline'" in out and "Commands to run:" in out
    assert err == "Error: hsqueeze: Execution of commands possible only on LUXI\n"


# -- -X through a LUXI master ------------------------------------------------------

class FakeMaster:
    """fake_luxid.py on a socket in a temporary directory."""

    def __init__(self, datafile, *extra, hypervisor="xen-pvm"):
        self.dir = tempfile.mkdtemp(prefix="fake-luxid-")
        self.socket = os.path.join(self.dir, "sock")
        self.log = os.path.join(self.dir, "jobs")
        env = dict(os.environ, FAKE_HYPERVISOR=hypervisor)
        self.proc = subprocess.Popen([PYTHON, FAKE, self.socket, datafile, self.log]
                                     + list(extra), stdout=subprocess.PIPE, env=env)
        assert self.proc.stdout.readline() == b"ready\n"

    def jobs(self):
        """Submitted jobs, without what differs between the two tools
        (version strings, timestamps)."""
        if not os.path.exists(self.log):
            return []
        out = []
        for line in open(self.log):
            ops = json.loads(line)
            for op in ops:
                op["comment"] = op["comment"].split(" (")[0]
                op["reason"] = [[source, text.split(" (")[0] if " version " in text else text]
                                for source, text, _ in op["reason"]]
            out.append(ops)
        return out

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()


def run_against_master(which, prog, datafile, argv, *extra, hypervisor="xen-pvm"):
    master = FakeMaster(datafile, *extra, hypervisor=hypervisor)
    try:
        exe = htools_peer.OURS[prog] if which == "ours" else htools_peer.PEERS[prog]
        code, out, err = htools_peer.run([exe, "-L" + master.socket] + argv, master.dir)
        return code, htools_peer._VERSION.sub("VERSION", out), err, master.jobs()
    finally:
        master.stop()


EXEC_CASES = [
    ("hbal", "hbal-evac.data", ["-X", "-C"]),
    ("hbal", "hbal-evac.data", ["-X", "--reason=maintenance", "--priority=low"]),
    ("hbal", "hbal-evac.data", ["-X", "--first-job-group", "--priority=high"]),
    ("hbal", "generated", ["-X", "-C", "-l", "6"]),
    ("hsqueeze", "hsqueeze-underutilized.data", ["-X", "-C"]),
    ("hsqueeze", "hsqueeze-overutilized.data", ["-X"]),
    ("hsqueeze", "hsqueeze-mixed-instances.data", ["-X", "-v", "-v"]),
]


@pytest.mark.parametrize("prog,data,argv", EXEC_CASES,
                         ids=lambda x: x if isinstance(x, str) else " ".join(x))
def test_exec_submits_the_jobs_ganeti_submits(prog, data, argv):
    if not htools_peer.peer_available(prog):
        pytest.skip("Debian's ganeti-htools is not installed")
    path = os.path.join(DATA, data)
    if data == "generated":
        path = os.path.join(tempfile.mkdtemp(prefix="htools-ops-"), "cluster.data")
        with open(path, "w") as handle:
            handle.write(htools_gen.generate(8, 60, "drbd", 1))
    ours = run_against_master("ours", prog, path, argv)
    peer = run_against_master("peer", prog, path, argv)
    assert ours == peer
    assert ours[3], "no jobs were submitted"


@needs["hbal"]
def test_exec_stops_at_a_failed_jobset():
    path = os.path.join(DATA, "hbal-evac.data")
    ours = run_against_master("ours", "hbal", path, ["-X"], "--fail", "2")
    peer = run_against_master("peer", "hbal", path, ["-X"], "--fail", "2")
    assert ours == peer
    assert ours[0] == 1 and len(ours[3]) == 2
    assert "Not all jobs completed successfully" in ours[2]


def test_exec_waits_for_each_jobset():
    """A set still running keeps the next one from being submitted."""
    master = FakeMaster(os.path.join(DATA, "hbal-evac.data"), "--delay", "1.2")
    try:
        start = time.time()
        code, out, err = htools_peer.run([htools_peer.OURS["hbal"], "-L" + master.socket,
                                          "-X", "-l", "2"], master.dir)
        elapsed = time.time() - start
        jobs = master.jobs()
    finally:
        master.stop()
    assert code == 0, err
    assert out.count("Got job IDs") == 2 and len(jobs) == 2
    assert elapsed > 2.4


LUXI_CASES = [
    ("hbal", "hbal-evac.data", ["-p", "--print-instances", "-C"], "xen-pvm"),
    ("hbal", "hbal-evac.data", ["-p", "-v", "-v"], "kvm"),
    ("hbal", "hbal-evac.data", ["-p", "--static-kvm-node-memory=0"], "kvm"),
    ("hroller", "hroller-full.data", ["--full-evacuation", "--print-moves", "-v", "-v"],
     "xen-pvm"),
    ("hsqueeze", "hsqueeze-mixed-instances.data", ["-C", "-v", "-v"], "xen-pvm"),
]


@pytest.mark.parametrize("prog,data,argv,hypervisor", LUXI_CASES,
                         ids=lambda x: x if isinstance(x, str) else " ".join(x))
def test_luxi_reads_what_ganeti_reads(prog, data, argv, hypervisor):
    if not htools_peer.peer_available(prog):
        pytest.skip("Debian's ganeti-htools is not installed")
    path = os.path.join(DATA, data)
    ours = run_against_master("ours", prog, path, argv, hypervisor=hypervisor)
    peer = run_against_master("peer", prog, path, argv, hypervisor=hypervisor)
    assert ours == peer


def test_luxi_load_matches_text_load():
    """-L reads what the master reports: the same plan as from the file
    when every node is online."""
    path = os.path.join(DATA, "hbal-excl-tags.data")
    master = FakeMaster(path)
    try:
        via_luxi = htools_peer.run([htools_peer.OURS["hbal"], "-L" + master.socket, "-C",
                                    "-G", "group-01"], master.dir)
    finally:
        master.stop()
    via_file = htools_peer.run([htools_peer.OURS["hbal"], "-t", path, "-C", "-G",
                                "group-01"], tempfile.gettempdir())
    assert via_luxi == via_file


# -- harep -----------------------------------------------------------------------

HAREP_DATA = os.path.join(os.path.dirname(__file__), "..", "data", "htools",
                          "harep-repairs.data")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TIME = re.compile(r":1[0-9]{9}:")


def _unstamp(text):
    """Repair tags carry a fresh uuid and the time: blank them out."""
    return _TIME.sub(":TIME:", _UUID.sub("UUID", text))


def harep_outcome(which, datafile, argv, *extra):
    code, out, err, jobs = run_against_master(which, "harep", datafile, argv, *extra)
    return code, _unstamp(out), _unstamp(err), json.loads(_unstamp(json.dumps(jobs)))


HAREP_CASES = [
    (["--job-delay=0"], ()),
    (["--job-delay=2.5", "--reason=maintenance"], ()),
    (["--dry-run"], ()),
    (["--job-delay=0"], ("--fail", "8")),     # the pending repair's job failed
    (["--job-delay=0"], ("--fail", "1")),     # a tag job fails: harep stops
]


@needs["harep"]
@pytest.mark.parametrize("argv,extra", HAREP_CASES, ids=lambda x: " ".join(x) or "-")
def test_harep_repairs_as_ganeti_does(argv, extra):
    ours = harep_outcome("ours", HAREP_DATA, argv, *extra)
    peer = harep_outcome("peer", HAREP_DATA, argv, *extra)
    assert ours == peer


@needs["harep"]
def test_harep_rejects_two_pending_repairs(tmp_path):
    text = open(HAREP_DATA).read().replace(
        "ganeti:watcher:autorepair:failover,ganeti:watcher:autorepair:pending:failover:"
        "1234-uuid:1700000000:7+8",
        "ganeti:watcher:autorepair:pending:failover:1234-uuid:1700000000:7+8,"
        "ganeti:watcher:autorepair:pending:migrate:2345-uuid:1700000100:9")
    path = tmp_path / "two-pending.data"
    path.write_text(text)
    ours = harep_outcome("ours", str(path), [])
    peer = harep_outcome("peer", str(path), [])
    assert ours == peer
    assert ours[0] == 1 and "An unfinished repair was found" in ours[2]


@pytest.mark.parametrize("spec", [(10, 0.3, 11, 2, 0), (12, 0.5, 12, 0, 2), (9, 0.7, 13, 3, 1),
                                  (14, 0.2, 14, 2, 0)], ids=str)
def test_hsqueeze_skipped_trials_would_have_failed(spec, tmp_path, monkeypatch):
    """Trials judged hopeless on totals fail when balanced in full, and
    skipping them leaves the plan as it was."""
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "lib"))
    from qganeti.htools import hsqueeze, text
    path = tmp_path / "cluster.data"
    path.write_text(htools_gen.squeeze_cluster(*spec))
    cl = text.load(str(path))
    cl.finish()
    row = hsqueeze.test_instance(cl, 2.0)
    cands = hsqueeze.offline_candidates(cl)
    skipped = []
    full = []
    chosen = []
    for n in reversed(cands):
        trial = [n] + chosen
        new, _ = hsqueeze.try_state(cl, trial, True)
        ok = hsqueeze.on_online_nodes(new) and hsqueeze.capacity_for(new, row)
        if hsqueeze.hopeless(cl, trial, True, row):
            skipped.append(n)
            assert not ok
        full.append(ok)
        if ok:
            chosen = trial
    assert hsqueeze.greedy_offline(cl, row, cands) == chosen


@needs["harep"]
@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Asia/Kolkata", "Asia/Dubai",
                                  "Europe/Berlin"])
@pytest.mark.parametrize("until", [4102444800, 4118169599, 1900000000])
def test_harep_shows_a_suspension_until_a_time_as_ganeti(zone, until, tmp_path,
                                                        monkeypatch):
    """'Not repairing ... (Until <time>)': Ganeti shows the time in the
    local zone, as ctime-like text with the zone's abbreviation."""
    text = open(HAREP_DATA).read().replace("ganeti:watcher:autorepair:suspend:|",
                                           "ganeti:watcher:autorepair:suspend:%d,"
                                           "ganeti:watcher:autorepair:suspend:1000|"
                                           % until)
    path = tmp_path / "suspended.data"
    path.write_text(text)
    monkeypatch.setenv("TZ", zone)
    ours = harep_outcome("ours", str(path), ["--dry-run"])
    peer = harep_outcome("peer", str(path), ["--dry-run"])
    assert ours == peer
    assert "because it's in state ArSuspended (Until " in ours[1]


@needs["harep"]
@pytest.mark.parametrize("text", [" 4102444800", "(4102444800)", "( (4102444800) )",
                                  "0x100000000", "0o77777777777", "+4102444800",
                                  "4102444800 ", "4_102_444_800", "4102444800e0", "0x",
                                  "18446744077811996416", "18446744073709551516",
                                  "67767976233316801"])
def test_harep_reads_and_shows_suspend_times_as_ganeti(text, tmp_path, monkeypatch):
    """Times are read as Haskell reads an Integer (blanks, parentheses,
    0x and 0o accepted; a sign, digit groups, trailing blanks not), and
    shown as old-time shows them, wrapped to a 64-bit time_t."""
    data = open(HAREP_DATA).read().replace(
        "ganeti:watcher:autorepair:suspend:|", "ganeti:watcher:autorepair:suspend:%s|" % text)
    data = data.replace("pending:failover:1234-uuid:1700000000:7+8",
                        "pending:failover:1234-uuid:(0x6553F100):7+ 8")
    path = tmp_path / "suspended.data"
    path.write_text(data)
    monkeypatch.setenv("TZ", "UTC")
    ours = harep_outcome("ours", str(path), ["--dry-run"])
    peer = harep_outcome("peer", str(path), ["--dry-run"])
    assert ours == peer


@needs["harep"]
def test_harep_stops_on_a_time_beyond_the_calendar(tmp_path):
    """Ganeti dies in old-time's toCalendarTime (exit 1, a Haskell error
    with a meaningless month number); ours stops there with one line."""
    data = open(HAREP_DATA).read().replace(
        "ganeti:watcher:autorepair:suspend:|",
        "ganeti:watcher:autorepair:suspend:100000000000000000|")
    path = tmp_path / "far.data"
    path.write_text(data)
    ours = harep_outcome("ours", str(path), ["--dry-run"])
    peer = harep_outcome("peer", str(path), ["--dry-run"])
    assert ours[0] == peer[0] == 1
    assert ours[1] == peer[1]
    assert "Traceback" not in ours[2]
    assert ours[2].splitlines()[-1].startswith("harep: toCalendarTime: ")
    assert "harep: toCalendarTime: " in peer[2]
