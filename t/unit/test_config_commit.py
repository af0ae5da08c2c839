"""config.commit/update across processes: group commit, crashes, readers."""

import fcntl
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from qganeti import config, errors

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                      "config_worker.py")


def new_config(tmp_path, groups):
    """A one-node cluster with GROUPS extra node groups; (path, group uuids)."""
    path = str(tmp_path / "config.data")
    cfg = config.new_cluster("cluster.example.com", "node1.example.com",
                             "192.0.2.100", primary_ip="192.0.2.10",
                             enabled_hypervisors=["fake"],
                             enabled_disk_templates=["file", "diskless"])
    uuids = []
    for idx in range(groups):
        uuid = config.new_uuid()
        cfg["nodegroups"][uuid] = {
            "name": "g%d" % idx, "members": [], "ndparams": {},
            "alloc_policy": "preferred", "ipolicy": {}, "diskparams": {},
            "networks": {}, "ctime": 0, "mtime": 0, "uuid": uuid,
            "serial_no": 1, "tags": []}
        uuids.append(uuid)
    config.create(cfg, path)
    return path, uuids


def spawn(*args, env=None):
    return subprocess.Popen([sys.executable, WORKER] + [str(a) for a in args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, text=True)


def acknowledged(output):
    """{k: serial} of the changes a tags worker saw committed."""
    out = {}
    for line in output.splitlines():
        idx, serial = line.split()
        out["t%d" % int(idx)] = int(serial)
    return out


def test_sixteen_writers_lose_nothing_and_readers_always_parse(tmp_path):
    path, groups = new_config(tmp_path, 16)
    start, stop = tmp_path / "start", tmp_path / "stop"
    count = 25
    writers = [spawn("tags", path, g, count, start) for g in groups]
    counters = [spawn("counter", path, 10, start) for _ in range(2)]
    reader = spawn("reader", path, stop)
    before = config.load(path)
    start.touch()
    outputs = [w.communicate(timeout=300) for w in writers]
    counted = [c.communicate(timeout=300) for c in counters]
    stop.touch()
    read_out, read_err = reader.communicate(timeout=60)
    assert [w.returncode for w in writers + counters] == [0] * 18, \
        [o[1] for o in outputs + counted]

    final = config.load(path)
    for group, (out, _) in zip(groups, outputs):
        acks = acknowledged(out)
        assert len(acks) == count
        serials = [acks["t%d" % k] for k in range(count)]
        assert serials == sorted(set(serials)), "serials not increasing"
        obj = final["nodegroups"][group]
        assert sorted(obj["tags"]) == sorted(acks)  # none lost
        assert obj["serial_no"] == 1 + count        # none applied twice
    bumps = sorted(int(v) for out, _ in counted for v in out.split())
    start_port = before["cluster"]["highest_used_port"]
    assert bumps == list(range(start_port + 1, start_port + 21))
    assert final["cluster"]["highest_used_port"] == start_port + 20
    loads, failures, backwards = map(int, read_out.split())
    assert loads > 0 and failures == 0 and backwards == 0
    # one write confirmed several changes at least once (group commit)
    all_serials = [s for out, _ in outputs
                   for s in acknowledged(out).values()]
    assert len(set(all_serials)) < len(all_serials)
    assert final["serial_no"] >= max(all_serials)
    queue = path + ".queue"
    assert not os.path.exists(path + ".batch")
    assert not os.path.exists(queue) or os.listdir(queue) == []


STEPS = ["collected", "batch-written", "data-renamed", "data-synced",
         "results-partial", "results-written", "ssconf-written"]


@pytest.mark.parametrize("step", STEPS)
def test_leader_killed_mid_batch_loses_and_doubles_nothing(tmp_path, step):
    path, groups = new_config(tmp_path, 8)
    start = tmp_path / "start"
    arm = tmp_path / "arm"
    arm.touch()
    env = dict(os.environ, QGANETI_CONFIG_CRASH_AT=step,
               QGANETI_CONFIG_CRASH_ARM=str(arm))
    count = 15
    writers = [spawn("tags", path, g, count, start, env=env) for g in groups]
    start.touch()
    outputs = [w.communicate(timeout=300) for w in writers]
    codes = [w.returncode for w in writers]
    assert not arm.exists(), "no leader ever had foreign requests"
    assert sorted(codes) == [-signal.SIGKILL] + [0] * 7, outputs

    final = config.load(path)  # a complete, valid config
    for group, code, (out, _) in zip(groups, codes, outputs):
        acks = acknowledged(out)
        obj = final["nodegroups"][group]
        present = set(obj["tags"])
        assert set(acks) <= present, "an acknowledged change was lost"
        assert obj["serial_no"] == 1 + len(obj["tags"]), "applied twice"
        if code == 0:
            assert len(acks) == count
        else:
            assert len(present - set(acks)) <= 1
    assert not os.path.exists(path + ".batch")
    left = [name for name in os.listdir(tmp_path)
            if name.startswith(".config.data.tmp")]
    assert left == []
    # the next writer cleans up after the dead one and works
    serial = config.commit([{"op": "replace", "path": "/cluster/tags",
                             "value": ["after"]}], path)
    assert config.load(path)["serial_no"] == serial
    assert os.listdir(path + ".queue") == []


def test_killed_waiter_change_is_dropped(tmp_path):
    path, groups = new_config(tmp_path, 1)
    lock = os.open(path + ".lock", os.O_RDWR)
    fcntl.flock(lock, fcntl.LOCK_EX)  # every writer must queue
    try:
        waiter = spawn("one", path, json.dumps(
            [{"op": "append", "path": "/cluster/tags", "value": "dead"}]))
        queue = path + ".queue"
        deadline = time.time() + 30
        while time.time() < deadline and not (
                os.path.isdir(queue) and [n for n in os.listdir(queue)
                                          if not n.startswith(".")]):
            time.sleep(0.01)
        waiter.kill()
        waiter.wait()
    finally:
        os.close(lock)
    serial = config.commit([{"op": "append", "path": "/cluster/tags",
                             "value": "alive"}], path)
    final = config.load(path)
    assert final["cluster"]["tags"] == ["alive"]
    assert final["serial_no"] == serial
    assert os.listdir(path + ".queue") == []


def test_queued_change_is_committed_by_the_next_lock_holder(tmp_path):
    path, _ = new_config(tmp_path, 0)
    lock = os.open(path + ".lock", os.O_RDWR)
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        waiters = [spawn("one", path, json.dumps(
            [{"op": "append", "path": "/cluster/tags", "value": "w%d" % i}]))
            for i in range(3)]
        queue = path + ".queue"
        deadline = time.time() + 30
        while time.time() < deadline and (not os.path.isdir(queue) or len(
                [n for n in os.listdir(queue) if not n.startswith(".")]) < 3):
            time.sleep(0.01)
    finally:
        os.close(lock)
    serials = [int(w.communicate(timeout=60)[0]) for w in waiters]
    final = config.load(path)
    assert sorted(final["cluster"]["tags"]) == ["w0", "w1", "w2"]
    # all three waited while the lock was held: one write confirmed them all
    assert len(set(serials)) == 1 and final["serial_no"] == serials[0]


def test_rejected_change_does_not_block_others_in_its_batch(tmp_path):
    path, _ = new_config(tmp_path, 0)
    lock = os.open(path + ".lock", os.O_RDWR)
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        good = spawn("one", path, json.dumps(
            [{"op": "replace", "path": "/cluster/max_running_jobs",
              "value": 5}]))
        bad = spawn("one", path, json.dumps(
            [{"op": "test", "path": "/cluster/max_running_jobs", "value": 7},
             {"op": "append", "path": "/cluster/tags", "value": "no"}]))
        queue = path + ".queue"
        deadline = time.time() + 30
        while time.time() < deadline and (not os.path.isdir(queue) or len(
                [n for n in os.listdir(queue) if not n.startswith(".")]) < 2):
            time.sleep(0.01)
    finally:
        os.close(lock)
    good_out, _ = good.communicate(timeout=60)
    _, bad_err = bad.communicate(timeout=60)
    assert good.returncode == 0 and bad.returncode != 0
    assert "OpPrereqError" in bad_err and "max_running_jobs" in bad_err
    final = config.load(path)
    assert final["cluster"]["max_running_jobs"] == 5
    assert final["cluster"]["tags"] == []


def test_commit_without_config_is_a_configuration_error(tmp_path):
    with pytest.raises(errors.ConfigurationError):
        config.commit([], str(tmp_path / "config.data"))


@pytest.mark.parametrize("step", ["results-written", "ssconf-written"])
def test_ssconf_catches_up_after_leader_killed(tmp_path, step):
    from qganeti import ssconf
    path, _ = new_config(tmp_path, 0)
    arm = tmp_path / "arm"
    arm.touch()
    env = dict(os.environ, QGANETI_CONFIG_CRASH_AT=step,
               QGANETI_CONFIG_CRASH_ARM=str(arm))
    lock = os.open(path + ".lock", os.O_RDWR)
    fcntl.flock(lock, fcntl.LOCK_EX)  # both queue; one leads a batch of two
    try:
        writers = [spawn("one", path, json.dumps(
            [{"op": "append", "path": "/cluster/tags", "value": tag}]),
            env=env) for tag in ("a", "b")]
        queue = path + ".queue"
        deadline = time.time() + 30
        while time.time() < deadline and (not os.path.isdir(queue) or len(
                [n for n in os.listdir(queue) if not n.startswith(".")]) < 2):
            time.sleep(0.01)
    finally:
        os.close(lock)
    codes = sorted(w.wait(timeout=60) for w in writers)
    assert codes == [-signal.SIGKILL, 0] and not arm.exists()
    final = config.load(path)
    assert sorted(final["cluster"]["tags"]) == ["a", "b"]
    assert ssconf.read("cluster_tags", directory=str(tmp_path)) == "a\nb"
