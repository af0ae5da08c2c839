"""Differential tests: our hbal and hail against Debian's Ganeti 3.0.2
on every file of Ganeti's htools test data and on generated clusters.

Each case runs both programs on the same input and compares stdout,
stderr, the exit code and any files written (-S, -C FILE)."""
import glob
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import htools_gen  # noqa: E402
import htools_peer  # noqa: E402

DATA = os.path.join(os.path.dirname(__file__), "..", "data", "ganeti", "htools")
if not os.path.isdir(DATA):
    DATA = "/work/shared/reference/ganeti-testdata/htools"
TEXT_FILES = sorted(glob.glob(os.path.join(DATA, "*.data")))
REQUESTS = sorted(glob.glob(os.path.join(DATA, "hail-*.json")))

needs_hbal = pytest.mark.skipif(not htools_peer.peer_available("hbal"),
                                reason="Debian's ganeti-htools is not installed")
needs_hail = pytest.mark.skipif(not htools_peer.peer_available("hail"),
                                reason="Debian's ganeti-htools is not installed")

# option sets every test file is balanced with
HBAL_OPTIONS = [
    [],
    ["-v", "-v", "-v", "-v", "-p", "--print-instances", "-C"],
    ["-pidx,name,fqdn,amem,plist,slist,ptags,peermap,spindle_count,hi_spindles,"
     "inst_spindles,nosuch"],
    ["--ignore-soft-errors", "-E"],
    ["--restricted-migration", "-E", "-q"],
    ["--no-disk-moves", "-C"],
    ["--no-instance-moves", "-g", "0", "--min-gain-limit", "0"],
    ["-l", "1", "-Ccmds.sh", "--first-job-group"],
    ["--ignore-dynu", "-e", "1", "--max-cpu", "1.5", "--min-disk", "0.5"],
    ["-G", "group-02", "-v", "-v"],
]


def check(prog, argv, stdin=None, files=()):
    diffs = htools_peer.compare(prog, argv, stdin, files)
    assert not diffs, "\n".join(diffs)


@needs_hbal
@pytest.mark.parametrize("path", TEXT_FILES, ids=os.path.basename)
def test_hbal_on_test_data(path):
    for options in HBAL_OPTIONS:
        check("hbal", ["-t", path] + options, files=["cmds.sh"])


@needs_hbal
@pytest.mark.parametrize("path", TEXT_FILES, ids=os.path.basename)
def test_save_writes_what_ganeti_writes(path):
    check("hbal", ["-t", path, "-S", "out"], files=["out.original", "out.balanced"])


@needs_hail
@pytest.mark.parametrize("path", REQUESTS, ids=os.path.basename)
def test_hail_on_test_data(path):
    check("hail", [path, "-S", "out"], files=["out.pre-ialloc", "out.post-ialloc"])


@needs_hbal
@pytest.mark.parametrize("path", REQUESTS, ids=os.path.basename)
def test_hbal_reads_iallocator_requests(path):
    check("hbal", ["-I", path, "-p", "-C"])


GENERATED = [
    dict(nodes=8, instances=60, template="drbd", seed=1),
    dict(nodes=10, instances=80, template="mixed", seed=2, tags=True, offline=1),
    dict(nodes=9, instances=60, template="plain", seed=3, groups=2),
    dict(nodes=8, instances=50, template="ext", seed=4, tags=True),
]


@needs_hbal
@pytest.mark.parametrize("spec", GENERATED, ids=lambda s: "%(template)s-%(seed)d" % s)
def test_hbal_on_generated_clusters(spec, tmp_path):
    path = tmp_path / "cluster.data"
    dynu = tmp_path / "util"
    path.write_text(htools_gen.generate(dynu=str(dynu), **spec))
    for options in ([], ["-U", str(dynu), "-C"], ["--exclusion-tags", "service", "-v", "-v"],
                    ["-O", "node-0001", "--select-instances",
                     "inst-00001,inst-00002,inst-00005,inst-00007"],
                    ["-G", "group-02", "--exclude-instances", "inst-00003"]):
        check("hbal", ["-t", str(path)] + options)


@needs_hbal
@pytest.mark.parametrize("spec", [dict(nodes=14, instances=140, template="mixed", seed=6),
                                  dict(nodes=16, instances=160, template="drbd", seed=8,
                                       offline=1)],
                         ids=lambda s: "%(template)s-%(nodes)d" % s)
def test_hbal_longer_runs(spec, tmp_path):
    """Bigger clusters, where the search may switch to the compiled kernels."""
    path = tmp_path / "cluster.data"
    path.write_text(htools_gen.generate(**spec))
    check("hbal", ["-t", str(path), "-l", "12", "-C"])


def _requests(text, seed):
    import random
    rng = random.Random(seed)
    lines = [line.split("|") for line in text.split("\n\n")[2].splitlines()]
    names = [fields[0] for fields in lines]
    reqs = [htools_gen.new_instance_request("new1", 1024, 10240, 1, "drbd", 2),
            htools_gen.new_instance_request("new2", 2048, 20480, 2, "plain", 1),
            htools_gen.new_instance_request("new3", 512, 10240, 1, "ext", 1),
            htools_gen.new_instance_request("new4", 1024, 10240, 1, "drbd", 2,
                                            group_name="group-01"),
            {"type": "multi-allocate", "instances": [
                htools_gen.new_instance_request("m%d" % k, 1024, 10240, 1, "drbd", 2)
                for k in range(3)]},
            {"type": "node-evacuate", "instances": rng.sample(names, 3),
             "evac_mode": "secondary-only"},
            {"type": "node-evacuate", "instances": rng.sample(names, 2),
             "evac_mode": "primary-only"},
            {"type": "node-evacuate", "instances": rng.sample(names, 2), "evac_mode": "all"},
            {"type": "change-group", "instances": rng.sample(names, 2), "target_groups": []}]
    for fields in lines[:4]:
        if fields[8] == "drbd":
            reqs.append({"type": "relocate", "name": fields[0], "required_nodes": 1,
                         "relocate_from": [fields[7]]})
        elif fields[8] == "ext":
            reqs.append({"type": "relocate", "name": fields[0], "required_nodes": 1,
                         "relocate_from": [fields[6]]})
        elif fields[8] == "plain":
            reqs.append({"type": "allocate-secondary", "name": fields[0]})
    return reqs


@needs_hail
@pytest.mark.parametrize("spec", [(6, 30, "drbd", 1, 1), (8, 60, "mixed", 2, 2),
                                  (10, 50, "plain", 3, 1), (8, 40, "ext", 4, 2),
                                  (12, 80, "mixed", 5, 3)], ids=str)
def test_hail_on_generated_clusters(spec, tmp_path):
    nodes, insts, template, seed, groups = spec
    text = htools_gen.generate(nodes, insts, template, seed, groups, tags=seed % 2 == 1,
                               offline=seed % 3 == 0)
    for number, req in enumerate(_requests(text, seed)):
        path = tmp_path / ("req%d.json" % number)
        path.write_text(htools_gen.to_request(text, req))
        check("hail", [str(path)])


@needs_hail
def test_hail_evacuates_by_full_scores_with_locations_and_exclusion_tags(tmp_path):
    # node-2 and node-3 score the same in full (the later one wins, as in
    # Ganeti's evacOneNodeInner); the estimates kept the emptied pair of
    # (location, exclusion tag) and made node-2 look one point better
    text = ("group-01|fake-uuid-01|preferred||\n\n"
            "node-1|262144|4096|245248|8388608|8286208|32|N|fake-uuid-01|1|rack:r2\n"
            "node-2|131072|2048|129024|8388608|8388608|32|N|fake-uuid-01|1|rack:r0\n"
            "node-3|131072|2048|129024|8388608|8388608|32|N|fake-uuid-01|1|rack:r2\n\n"
            "inst-7|4096|10240|2|running|Y|node-1||diskless|service:web|1\n\n"
            "htools:iextags:service\nhtools:nlocation:rack\n")
    path = tmp_path / "req.json"
    path.write_text(htools_gen.to_request(text, {"type": "node-evacuate",
                                                 "instances": ["inst-7"], "evac_mode": "all"}))
    check("hail", [str(path)])


H = "g|u|preferred||\n\n"
N = "n1|100|0|100|100|100|4|N|u\n"
I = "i1|10|10|1|running|Y|n1||plain|\n"
BAD_FILES = {
    "sections": H + N,
    "group fields": "g|u\n\n" + N + "\n\n\n",
    "alloc policy": "g|u|weird||\n\n" + N + "\n\n\n",
    "node fields": H + "n1|100|0|100|100|100|4|N\n\n\n\n",
    "node number": H + "n1|100|x|100|100|100|4|N|u\n\n\n\n",
    "leftover": H + "n1|1e3x|0|100|100|100|4|N|u\n\n\n\n",
    "node order": H + "n1|100|0|100|100|100|4|N|u|s||N|z|y|x\n\n\n\n",
    "exclusive storage": H + "n1|100|0|100|100|100|4|N|u|1||Q\n\n" + I + "\n\n",
    "unknown group": H + "n1|100|0|100|100|100|4|N|zz\n\n\n\n",
    "duplicate node": H + N + N + "\n" + I + "\n\n",
    "duplicate instance": H + N + "\n" + I + I + "\n\n",
    "instance fields": H + N + "\ni1|10|10|1|running|Y|n1||plain\n\n\n",
    "status": H + N + "\ni1|10|10|1|runnin|Y|n1||plain|\n\n\n",
    "auto balance": H + N + "\ni1|10|10|1|running|X|n1||plain|\n\n\n",
    "template": H + N + "\ni1|10|10|1|running|Y|n1||plainx|\n\n\n",
    "same nodes": H + N + "\ni1|10|10|1|running|Y|n1|n1|drbd|\n\n\n",
    "int": H + N + "\ni1|1.5|10|1|running|Y|n1||plain|\n\n\n",
    "forthcoming": H + N + "\ni1|10|10|1|running|Y|n1||plain||1|1|Q\n\n\n",
    "unknown node": H + N + "\ni1|10|10|1|running|Y|n2||plain|\n\n\n",
    "policy fields": H + N + "\n" + I + "\n\n|1,2|3\n",
    "odd specs": H + N + "\n" + I + "\n\n|128,1,1024,1,1,1|128,1,1024,1,1,1|drbd|4.0|32.0\n",
    "policy owner": H + N + "\n" + I + "\n\nzz|128,1,1024,1,1,1|128,1,1024,1,1,1;"
                    "32768,8,1048576,16,8,12|drbd|4.0|32.0\n",
    "ispec": H + N + "\n" + I + "\n\n|128,1,1024,1,1|128,1,1024,1,1,1;"
             "32768,8,1048576,16,8,12|drbd|4.0|32.0\n",
    "numbers as ghc reads them": H + "n1|(1e3)|- 5|0x10|1.5e3|0o17|Infinity|N|u\n\n"
                                 "i1|((7))|10|1|running|Y|n1||plain|\n\n\n",
    "empty": "",
    "instance number": H + N + "\n" + I + "i2|x|10|1|running|Y|n1||plain|\n\n\n",
    "missing memory warning": H + "n1|1024|0|0|95367|0|4|N|u\n\n" + I + "\n\n",
}


@needs_hbal
@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_text_files(name, tmp_path):
    path = tmp_path / "bad.data"
    path.write_text(BAD_FILES[name])
    check("hbal", ["-t", str(path)])


BAD_OPTIONS = [["--foo", "--bar"], ["-Z"], ["-t"], ["--print"], ["--no"], ["-l", "x"],
               ["--max-cpu", "0"], ["--priority", "urgent"], ["--mond=maybe"],
               ["--verbose=2"], ["--max-l"], ["--help", "-l", "x"], ["--help"],
               ["--help-completion"], ["-t", "/nonexistent"], ["-U", "/nonexistent"], [],
               ["-O", "nosuch"], ["-G", "nosuch"], ["--select-instances=zz"],
               ["--exclude-instances", "inst-p"], ["-X"], ["extra", "args"],
               ["-m", "host"], ["-L"], ["-t", "/"], ["-l", "-1"], ["-g", "x"],
               ["--min-gain-limit=a"], ["-C/nonexistent/dir/x"], ["-G"],
               ["-S/nonexistent/dir/x"], ["-S/"]]


@needs_hbal
@pytest.mark.parametrize("argv", BAD_OPTIONS, ids=" ".join)
def test_bad_options(argv):
    data = os.path.join(DATA, "hbal-evac.data")
    if argv and argv[0] not in ("-t", "-U", "--help", "--help-completion", "-m", "-L") \
            and "--help" not in argv:
        argv = ["-t", data] + argv
    elif argv in (["-m", "host"], ["-L"]):
        argv = ["-t", data] + argv
    check("hbal", argv)


def _request(change):
    import json
    doc = json.load(open(os.path.join(DATA, "hail-alloc-drbd.json")))
    change(doc)
    return json.dumps(doc)


BAD_REQUESTS = {
    "not json": '{"a":',
    "trailing text": '{"request": {"type": "allocate"}} xx',
    "not an object": "[1,2]",
    "empty": "{}",
    "no request": _request(lambda d: d.pop("request")),
    "no type": _request(lambda d: d["request"].pop("type")),
    "bad type": _request(lambda d: d["request"].update(type="foo")),
    "memory string": _request(lambda d: d["request"].update(memory="x")),
    "memory rounded": _request(lambda d: d["request"].update(memory=1024.7)),
    "node memory": _request(lambda d: d["nodes"]["node1"].update(total_memory="x")),
    "node group": _request(lambda d: d["nodes"]["node1"].update(group="zz")),
    "node offline": _request(lambda d: d["nodes"]["node1"].pop("offline")),
    "instance node": _request(lambda d: list(d["instances"].values())[0].update(
        nodes=["zz"])),
    "template": _request(lambda d: list(d["instances"].values())[0].update(
        disk_template="zz")),
    "group name": _request(lambda d: d["nodegroups"]["uuid-group-1"].pop("name")),
    "tags": _request(lambda d: d.update(cluster_tags="x")),
    "hypervisors": _request(lambda d: d.pop("enabled_hypervisors")),
    "three nodes": _request(lambda d: d["request"].update(required_nodes=3)),
}


@needs_hail
@pytest.mark.parametrize("name", sorted(BAD_REQUESTS))
def test_bad_requests(name, tmp_path):
    path = tmp_path / "req.json"
    path.write_text(BAD_REQUESTS[name])
    check("hail", [str(path)])
    check("hail", ["-"], stdin=BAD_REQUESTS[name].encode())


@needs_hail
@pytest.mark.parametrize("argv", [[], ["a", "b"], ["/nonexistent"], ["--foo"], ["--help"],
                                  [os.path.join(DATA, "hail-alloc-drbd.json"), "-S",
                                   "/nonexistent/dir/x"]],
                         ids=" ".join)
def test_hail_usage(argv):
    check("hail", argv)
