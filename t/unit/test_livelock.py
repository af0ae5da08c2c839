import os
import signal
import subprocess
import sys

import pytest

from qganeti import livelock

LIB = os.path.join(os.path.dirname(__file__), "..", "..", "lib")


@pytest.fixture(autouse=True)
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("QGANETI_ROOT", str(tmp_path))
    return tmp_path


def test_livelock_file_is_named_after_owner_and_held(root):
    live = livelock.LiveLock("job_000017")
    try:
        assert os.path.dirname(live.path) == str(root / "var/run/qganeti/livelocks")
        name = os.path.basename(live.path)
        assert name.startswith("job_000017_") and name.split("_")[-1].isdigit()
        assert livelock.is_alive(live.path)
    finally:
        live.close()


def test_closed_livelock_is_dead_and_gone():
    live = livelock.LiveLock("owner")
    live.close()
    assert not os.path.exists(live.path)
    assert not livelock.is_alive(live.path)
    live.close()  # twice is harmless


def test_unlocked_file_counts_as_dead(root):
    stale = root / "stale_1"
    stale.write_text("")
    assert not livelock.is_alive(str(stale))
    assert not livelock.is_alive(str(root / "missing_1"))


def test_same_name_same_second_gets_its_own_file():
    first = livelock.LiveLock("twin")
    second = livelock.LiveLock("twin")
    try:
        assert first.path != second.path
        assert livelock.is_alive(first.path) and livelock.is_alive(second.path)
    finally:
        first.close()
        second.close()


@pytest.mark.parametrize("name", ["", "a/b", ".hidden", "nul\0"])
def test_bad_names_are_refused(name):
    with pytest.raises(ValueError):
        livelock.LiveLock(name)


def _holder(code):
    return subprocess.Popen([sys.executable, "-c", "import sys; sys.path.insert(0, %r)\n" % LIB + code],
                            stdout=subprocess.PIPE, text=True)


def test_owner_killed_by_sigkill_is_dead():
    proc = _holder("from qganeti import livelock\nimport time\n"
                   "l = livelock.LiveLock('victim')\nprint(l.path, flush=True)\ntime.sleep(60)\n")
    path = proc.stdout.readline().strip()
    assert livelock.is_alive(path)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert os.path.exists(path)
    assert not livelock.is_alive(path)


def test_inheritable_livelock_keeps_owner_alive_across_exec():
    # the holder execs a program that outlives nothing but the exec itself
    proc = _holder("from qganeti import livelock\nimport os\n"
                   "l = livelock.LiveLock('chain')\nl.set_inheritable()\nprint(l.path, flush=True)\n"
                   "os.execvp('sleep', ['sleep', '60'])\n")
    path = proc.stdout.readline().strip()
    try:
        assert livelock.is_alive(path)
    finally:
        proc.kill()
        proc.wait()
    assert not livelock.is_alive(path)


def test_without_inheritable_exec_drops_the_livelock():
    proc = _holder("from qganeti import livelock\nimport os\n"
                   "l = livelock.LiveLock('dropped')\nprint(l.path, flush=True)\n"
                   "os.execvp('sh', ['sh', '-c', 'echo; exec sleep 60'])\n")
    path = proc.stdout.readline().strip()
    proc.stdout.readline()   # sh runs: the exec has happened
    try:
        assert not livelock.is_alive(path)
    finally:
        proc.kill()
        proc.wait()
