import json
import os
import select
import signal
import subprocess
import sys
import time

import pytest

from qganeti import errors, livelock, locks

LIB = os.path.join(os.path.dirname(__file__), "..", "..", "lib")
EX, SH = locks.EXCLUSIVE, locks.SHARED

# A lock owner in its own process, driven by JSON lines on stdin: it answers
# every command with one JSON line, so a test can make it wait for locks,
# release them, or kill it while it holds them.
AGENT = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from qganeti import errors, livelock, locks
ident = json.loads(sys.argv[2])
if len(sys.argv) > 3:
    locks.POLL_INTERVAL = float(sys.argv[3])
live = livelock.LiveLock("agent-%s" % ident)
owner = locks.Owner(ident, live.path)
print(json.dumps({"ready": live.path, "pid": owner.pid}), flush=True)
for line in sys.stdin:
    cmd = json.loads(line)
    try:
        if cmd["op"] == "acquire":
            out = {"ok": locks.acquire(owner, [tuple(r) for r in cmd["reqs"]], wait=cmd.get("wait", False),
                                       timeout=cmd.get("timeout"), at_least=cmd.get("at_least"),
                                       priority=cmd.get("priority", 0))}
        elif cmd["op"] == "release":
            locks.release(owner, cmd.get("names"))
            out = {"ok": None}
    except errors.GenericError as err:
        out = {"error": type(err).__name__, "msg": str(err)}
    print(json.dumps(out), flush=True)
"""


class Agent:
    def __init__(self, ident, poll=None):
        argv = [sys.executable, "-c", AGENT, LIB, json.dumps(ident)]
        if poll is not None:
            argv.append(str(poll))
        self.ident = ident
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        hello = self.answer()
        self.path, self.pid = hello["ready"], hello["pid"]

    def send(self, **cmd):
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()

    def answer(self, bound=60.0):
        """The next answer; fail if none comes within BOUND seconds (a liveness bound)."""
        ready, _, _ = select.select([self.proc.stdout], [], [], bound)
        assert ready, "agent %s did not answer within %s s" % (self.ident, bound)
        line = self.proc.stdout.readline()
        assert line, "agent %s died" % self.ident
        return json.loads(line)

    def do(self, **cmd):
        self.send(**cmd)
        return self.answer()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("QGANETI_ROOT", str(tmp_path))
    return tmp_path


@pytest.fixture
def owners(root):
    made = []

    def make(ident):
        live = livelock.LiveLock("test-%s" % ident)
        made.append(live)
        return locks.Owner(ident, live.path)
    yield make
    for live in made:
        live.close()


@pytest.fixture
def agents(root):
    made = []

    def make(ident, poll=None):
        agent = Agent(ident, poll)
        made.append(agent)
        return agent
    yield make
    for agent in made:
        agent.kill()


def queued(ident, count=1, bound=10.0):
    """Wait until IDENT has a request in line (COUNT requests in all)."""
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        line = locks.waiting()
        if any(entry[0] == ident for entry in line) and len(line) >= count:
            return line
        time.sleep(0.02)
    raise AssertionError("%s never queued: %s" % (ident, locks.waiting()))


def holders(name):
    for row in locks.monitor():
        if row[0] == name:
            return [json.loads(o) for o in row[2]]
    return []


# --- grants ---------------------------------------------------------------

def test_grant_is_all_or_nothing(owners):
    a, b, c = owners(1), owners(2), owners(3)
    locks.acquire(a, [("node/n2", EX)])
    with pytest.raises(errors.LockError) as caught:
        locks.acquire(b, [("node/n1", EX), ("node/n2", EX)])
    assert caught.value.blocked == {"node/n2": [1]}
    assert locks.owned(b) == []
    assert locks.acquire(c, [("node/n1", EX)]) == ["node/n1"]


def test_shared_locks_share_and_exclusive_excludes(owners):
    a, b, c = owners(1), owners(2), owners(3)
    locks.acquire(a, [("cluster/BGL", SH)])
    locks.acquire(b, [("cluster/BGL", SH)])
    with pytest.raises(errors.LockError):
        locks.acquire(c, [("cluster/BGL", EX)])
    locks.release(a)
    locks.release(b)
    assert locks.acquire(c, [("cluster/BGL", EX)]) == ["cluster/BGL"]
    with pytest.raises(errors.LockError):
        locks.acquire(a, [("cluster/BGL", SH)])


def test_whole_level_lockset_against_members(owners):
    a, b = owners(1), owners(2)
    locks.acquire(a, [("node/n1", SH)])
    with pytest.raises(errors.LockError):
        locks.acquire(b, [("node/[lockset]", EX)])
    assert locks.acquire(b, [("node/[lockset]", SH)]) == ["node/[lockset]"]
    locks.release(b)
    locks.release(a)
    locks.acquire(a, [("node/n1", EX)])
    with pytest.raises(errors.LockError):
        locks.acquire(b, [("node/[lockset]", SH)])
    # other levels are not concerned
    assert locks.acquire(b, [("node-res/[lockset]", EX)]) == ["node-res/[lockset]"]
    locks.release(a)
    locks.release(b)
    locks.acquire(a, [("node/[lockset]", SH)])
    assert locks.acquire(b, [("node/n2", SH)]) == ["node/n2"]
    with pytest.raises(errors.LockError):
        locks.acquire(b, [("node/n3", EX)])


def test_bgl_belongs_to_the_cluster_lockset(owners):
    a, b = owners(1), owners(2)
    locks.acquire(a, [("cluster/BGL", SH)])
    with pytest.raises(errors.LockError):
        locks.acquire(b, [("cluster/[lockset]", EX)])


def test_opportunistic_takes_the_free_ones_if_enough(owners):
    a, b, c = owners(1), owners(2), owners(3)
    locks.acquire(a, [("node/n2", EX)])
    wanted = [("node/n1", EX), ("node/n2", EX), ("node/n3", EX)]
    assert locks.acquire(b, wanted, at_least=2) == ["node/n1", "node/n3"]
    with pytest.raises(errors.LockError):
        locks.acquire(c, wanted + [("node/n4", EX)], at_least=2)
    assert locks.owned(c) == []
    assert locks.acquire(c, wanted + [("node/n4", EX)], at_least=1) == ["node/n4"]


def test_opportunistic_does_not_count_locks_already_held(owners):
    a = owners(1)
    locks.acquire(a, [("node/n1", EX)])
    with pytest.raises(errors.LockError):
        locks.acquire(a, [("node/n1", EX), ("node/n2", EX)], at_least=2)
    assert locks.acquire(a, [("node/n1", EX), ("node/n2", EX)], at_least=1) == ["node/n2"]


def test_request_already_fulfilled_is_accepted(owners):
    a = owners(1)
    locks.acquire(a, [("node/n1", EX), ("node/n2", EX)])
    assert locks.acquire(a, [("node/n1", EX)]) == ["node/n1"]


def test_release_of_some_names(owners):
    a, b = owners(1), owners(2)
    locks.acquire(a, [("instance/web1", EX), ("node/n1", EX)])
    locks.release(a, ["node/n1"])
    assert locks.owned(a) == [("instance/web1", EX)]
    assert locks.acquire(b, [("node/n1", EX)]) == ["node/n1"]


def test_bad_requests_are_refused(owners):
    a = owners(1)
    for bad in ([("disk/x", EX)], [("node/", EX)], [("cluster/other", EX)],
                [("node/n1", "weird")], [("node/n1", EX), ("node/n1", SH)]):
        with pytest.raises(errors.ProgrammerError):
            locks.acquire(a, bad)
    with pytest.raises(errors.ProgrammerError):
        locks.acquire(a, [("node/n1", EX)], at_least=2)


# --- order ----------------------------------------------------------------

def test_levels_must_be_taken_in_order(owners):
    a = owners(1)
    locks.acquire(a, [("cluster/BGL", SH), ("node/n1", EX)])
    with pytest.raises(locks.LockOrderError):
        locks.acquire(a, [("instance/web1", EX)])
    with pytest.raises(locks.LockOrderError):
        locks.acquire(a, [("node/n0", EX)])
    assert locks.owned(a) == [("cluster/BGL", SH), ("node/n1", EX)]
    # later names and later levels are fine
    assert locks.acquire(a, [("node/n2", EX), ("network/net1", SH)]) == ["node/n2", "network/net1"]


def test_lower_lock_already_covered_is_no_violation(owners):
    a = owners(1)
    locks.acquire(a, [("node/[lockset]", EX), ("node-res/r1", EX)])
    assert locks.acquire(a, [("node/n1", EX)]) == ["node/n1"]


def test_exclusive_member_under_shared_lockset_is_a_violation(owners):
    a = owners(1)
    locks.acquire(a, [("node/[lockset]", SH)])
    with pytest.raises(locks.LockOrderError):
        locks.acquire(a, [("node/n1", EX)])
    assert locks.acquire(a, [("node/n1", SH)]) == ["node/n1"]


def test_upgrade_of_a_lower_lock_is_a_violation(owners):
    a = owners(1)
    locks.acquire(a, [("cluster/BGL", SH), ("instance/web1", EX)])
    with pytest.raises(locks.LockOrderError):
        locks.acquire(a, [("cluster/BGL", EX)])


def test_opportunistic_skips_what_would_break_the_order(owners):
    a = owners(1)
    locks.acquire(a, [("node/n5", EX)])
    assert locks.acquire(a, [("node/n1", EX), ("node/n9", EX)], at_least=1) == ["node/n9"]


# --- owners that die --------------------------------------------------------

def test_dead_owner_locks_are_released_at_the_next_check(owners, root):
    live = livelock.LiveLock("doomed")
    doomed = locks.Owner(7, live.path)
    locks.acquire(doomed, [("instance/web1", EX)])
    b = owners(2)
    with pytest.raises(errors.LockError):
        locks.acquire(b, [("instance/web1", EX)])
    os.unlink(live.path)   # the file gone counts as dead, as a released flock does
    assert locks.acquire(b, [("instance/web1", EX)]) == ["instance/web1"]
    assert locks.owned(doomed) == []
    live.close()


def test_cleanup_dead_reports_and_removes_livelock(root):
    live = livelock.LiveLock("doomed")
    locks.acquire(locks.Owner("doomed", live.path), [("node/n1", EX)])
    os.close(live.fd)   # the lock goes, the file stays: what kill -9 leaves
    live.fd = None
    assert locks.cleanup_dead() == ["doomed"]
    assert not os.path.exists(live.path)
    assert locks.monitor() == []


def test_release_owner_frees_a_live_owner(owners):
    a, b = owners("stuck"), owners(2)
    locks.acquire(a, [("cluster/BGL", SH), ("node/n1", EX)])
    assert locks.release_owner("stuck") == ["cluster/BGL", "node/n1"]
    assert locks.acquire(b, [("node/n1", EX)]) == ["node/n1"]
    assert locks.release_owner("stuck") is None


# --- waiting ----------------------------------------------------------------

def test_waiter_is_woken_by_release(owners, agents):
    a = owners(1)
    locks.acquire(a, [("node/n1", EX)])
    # polling every 1000 s, only the SIGHUP of the release can wake it in time
    waiter = agents(2, poll=1000)
    waiter.send(op="acquire", reqs=[["node/n1", EX]], wait=True, timeout=100)
    queued(2)
    assert [row[3] for row in locks.monitor() if row[0] == "node/n1"] == [[[EX, ["2"]]]]
    locks.release(a)
    assert waiter.answer(bound=10) == {"ok": ["node/n1"]}
    assert holders("node/n1") == [2]


def test_waiter_proceeds_when_owner_is_killed(agents, root):
    holder = agents(1)
    assert holder.do(op="acquire", reqs=[["node/n1", EX]]) == {"ok": ["node/n1"]}
    waiter = agents(2)
    # the liveness bound: freed within 2 s of the kill, noticed by polling alone
    waiter.send(op="acquire", reqs=[["node/n1", EX]], wait=True, timeout=2)
    queued(2)
    holder.kill()
    assert waiter.answer() == {"ok": ["node/n1"]}
    assert holders("node/n1") == [2]
    assert not os.path.exists(holder.path)


def test_waiter_times_out_and_leaves_the_line(owners, agents):
    a = owners(1)
    locks.acquire(a, [("node/n1", EX)])
    waiter = agents(2)
    answer = waiter.do(op="acquire", reqs=[["node/n1", EX]], wait=True, timeout=0.3)
    assert answer["error"] == "LockTimeout"
    assert locks.waiting() == []
    assert [row[3] for row in locks.monitor()] == [[], []]


def test_higher_priority_waiter_goes_first(owners, agents):
    a = owners(1)
    locks.acquire(a, [("node/n1", EX)])
    low, high = agents(10), agents(20)
    low.send(op="acquire", reqs=[["node/n1", EX]], wait=True, timeout=30, priority=10)
    queued(10)
    high.send(op="acquire", reqs=[["node/n1", EX]], wait=True, timeout=30, priority=-5)
    assert [entry[0] for entry in queued(20, 2)] == [20, 10]
    locks.release(a)
    assert high.answer() == {"ok": ["node/n1"]}
    assert [entry[0] for entry in locks.waiting()] == [10]
    assert high.do(op="release") == {"ok": None}
    assert low.answer() == {"ok": ["node/n1"]}


def test_same_priority_waiters_are_served_in_arrival_order(owners, agents):
    a = owners(1)
    locks.acquire(a, [("node/n1", EX)])
    first, second = agents(31), agents(30)
    first.send(op="acquire", reqs=[["node/n1", EX]], wait=True, timeout=30)
    queued(31)
    second.send(op="acquire", reqs=[["node/n1", EX]], wait=True, timeout=30)
    assert [entry[0] for entry in queued(30, 2)] == [31, 30]
    locks.release(a)
    assert first.answer() == {"ok": ["node/n1"]}
    assert holders("node/n1") == [31]


def test_new_shared_request_does_not_starve_exclusive_waiter(owners, agents):
    a, c = owners(1), owners(3)
    locks.acquire(a, [("instance/web1", SH)])
    waiter = agents(2)
    waiter.send(op="acquire", reqs=[["instance/web1", EX]], wait=True, timeout=30)
    queued(2)
    with pytest.raises(errors.LockError) as caught:
        locks.acquire(c, [("instance/web1", SH)])
    assert caught.value.blocked == {"instance/web1": [2]}
    # a later lower-priority waiter does not overtake either
    late = agents(4)
    late.send(op="acquire", reqs=[["instance/web1", SH]], wait=True, timeout=30, priority=5)
    queued(4, 2)
    locks.release(a)
    assert waiter.answer() == {"ok": ["instance/web1"]}
    assert [entry[0] for entry in locks.waiting()] == [4]


def test_holder_does_not_yield_to_a_waiter_that_waits_for_it(owners, agents):
    # yielding here would deadlock: the waiter needs what the holder has
    a = owners(1)
    locks.acquire(a, [("node/n1", EX)])
    waiter = agents(2)
    waiter.send(op="acquire", reqs=[["node/n1", EX], ["node/n2", EX]], wait=True, timeout=30)
    queued(2)
    assert locks.acquire(a, [("node/n2", EX)]) == ["node/n2"]
    locks.release(a)
    assert waiter.answer() == {"ok": ["node/n1", "node/n2"]}


def test_downgrade_lets_shared_waiter_in(owners, agents):
    a = owners(1)
    locks.acquire(a, [("cluster/BGL", EX), ("instance/web1", EX)])
    waiter = agents(2, poll=1000)
    waiter.send(op="acquire", reqs=[["cluster/BGL", SH]], wait=True, timeout=100)
    queued(2)
    assert locks.acquire(a, [("cluster/BGL", SH)]) == ["cluster/BGL"]
    assert waiter.answer(bound=10) == {"ok": ["cluster/BGL"]}
    assert holders("cluster/BGL") == [1, 2]


def test_waiting_with_no_time_to_wait_is_a_timeout(owners):
    a, b = owners(1), owners(2)
    locks.acquire(a, [("node/n1", EX)])
    with pytest.raises(locks.LockTimeout):
        locks.acquire(b, [("node/n1", EX)], wait=True, timeout=0)
    assert locks.waiting() == []


def test_opportunistic_waiter_gets_what_frees_up(owners, agents):
    a = owners(1)
    locks.acquire(a, [("node/n1", EX), ("node/n2", EX)])
    waiter = agents(2, poll=1000)
    waiter.send(op="acquire", reqs=[["node/n1", EX], ["node/n2", EX], ["node/n3", EX]],
                wait=True, timeout=100, at_least=2)
    queued(2)
    locks.release(a, ["node/n2"])
    assert waiter.answer(bound=10) == {"ok": ["node/n2", "node/n3"]}
    assert locks.owned(a) == [("node/n1", EX)]


def test_waiting_in_this_process_leaves_signal_state_as_it_was(owners, agents):
    holder = agents(1)
    holder.do(op="acquire", reqs=[["node/n1", EX]])
    me = owners(2)
    before = signal.getsignal(signal.SIGHUP), signal.pthread_sigmask(signal.SIG_BLOCK, [])
    with pytest.raises(locks.LockTimeout):
        locks.acquire(me, [("node/n1", EX)], wait=True, timeout=0.2)
    holder.send(op="release")
    holder.answer()
    assert locks.acquire(me, [("node/n1", EX)], wait=True, timeout=10) == ["node/n1"]
    assert (signal.getsignal(signal.SIGHUP), signal.pthread_sigmask(signal.SIG_BLOCK, [])) == before


# --- monitor and names --------------------------------------------------------

def test_monitor_matches_ganeti_lock_monitor(owners, agents):
    # the state of t/data/ganeti-samples/state/livelocks-during-jobs.txt
    node = "node/408d634e-1a37-4c3c-a06d-2780d2d7d54d"
    j1219 = owners(1219)
    locks.acquire(j1219, [("cluster/BGL", SH), (node, EX)])
    j1220 = agents(1220)
    j1220.do(op="acquire", reqs=[["cluster/BGL", SH]])
    j1220.send(op="acquire", reqs=[[node, EX]], wait=True, timeout=30)
    queued(1220)
    assert locks.monitor() == [
        ["cluster/BGL", SH, ["1219", "1220"], []],
        ["cluster/[lockset]", None, [], []],
        [node, EX, ["1219"], [[EX, ["1220"]]]],
        ["node/[lockset]", None, [], []],
    ]
    locks.release(j1219)


def test_monitor_encodes_named_owners_as_ganeti_does(owners):
    locks.acquire(owners("luxi-daemon"), [("instance/web10", SH)])
    locks.acquire(owners(3), [("instance/web9", SH)])
    # nice sort: web9 before web10
    assert [row[:3] for row in locks.monitor()] == [
        ["instance/[lockset]", None, []],
        ["instance/web9", SH, ["3"]],
        ["instance/web10", SH, ['"luxi-daemon"']],
    ]


def test_locks_data_is_ganeti_format(owners, root):
    a = owners(5)
    locks.acquire(a, [("instance/web1", EX)])
    data = json.loads((root / "var/lib/qganeti/locks.data").read_text())
    assert data == [[[[5, a.livelock_path, os.getpid()], [["instance/web1", EX]]]], []]
    locks.release(a)
    assert json.loads((root / "var/lib/qganeti/locks.data").read_text()) == [[], []]


def test_empty_or_torn_locks_data_means_no_locks(owners, root):
    (root / "var/lib/qganeti").mkdir(parents=True)
    for text in ("", "[[[[5,"):
        (root / "var/lib/qganeti/locks.data").write_text(text)
        assert locks.monitor() == []
        assert locks.acquire(owners(1), [("node/n1", EX)]) == ["node/n1"]
        locks.release_owner(1)


CONFIG = os.path.join(os.path.dirname(__file__), "..", "data", "ganeti", "configs", "cluster_config_2.16.json")


def test_names_translate_through_the_config(root):
    with open(CONFIG) as handle:
        config = json.load(handle)
    names = ["node/node2.example.com", "node-res/node1.example.com", "nodegroup/another",
             "network/a network", "instance/instance1.example.com", "node/unknown", "node/[lockset]"]
    internal = ["node/2ae3d962-2dad-44f2-bdb1-85f77107f907", "node-res/9a12d554-75c0-4cb1-8064-103365145db0",
                "nodegroup/6c0a8916-b719-45ad-95dd-82192b1e473f", "network/99f0128a-1c84-44da-90b9-9581ea00c075",
                "instance/instance1.example.com", "node/unknown", "node/[lockset]"]
    assert locks.internal_names(names, config) == internal
    assert locks.display_names(internal, config) == names
    # no config.data under the root: names pass through
    assert locks.internal_names(names) == names
    (root / "var/lib/qganeti").mkdir(parents=True)
    (root / "var/lib/qganeti/config.data").write_text(json.dumps(config))
    assert locks.internal_names(names) == internal


def test_reading_does_not_import_fasteners(root):
    code = ("import sys; sys.path.insert(0, %r)\nfrom qganeti import locks\n"
            "locks.monitor(); locks.waiting()\nprint('fasteners' in sys.modules)" % LIB)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
