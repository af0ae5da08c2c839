"""The guard of locks.data is fasteners' InterProcessLock lock on
locks.data.lock, taken without fasteners: a process holding the lock through
fasteners keeps every lock change waiting, and the change goes through once
that process lets go."""

import os
import subprocess
import sys
import threading
import time

from qganeti import livelock, locks, paths

HOLDER = r"""
import sys, time
import fasteners
lock = fasteners.InterProcessLock(sys.argv[1])
lock.acquire()
print("held", flush=True)
sys.stdin.readline()
lock.release()
"""


def test_a_fasteners_holder_keeps_lock_changes_waiting(tmp_path, monkeypatch):
    monkeypatch.setenv("QGANETI_ROOT", str(tmp_path))
    os.makedirs(paths.data_dir())
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, paths.locks_file() + ".lock"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        live = livelock.LiveLock("guard-test")
        owner = locks.Owner("guard-test", live.path)
        done = []
        worker = threading.Thread(target=lambda: done.append(
            locks.acquire(owner, [("instance/web1", locks.EXCLUSIVE)])))
        worker.start()
        time.sleep(0.5)
        assert not done and not os.path.exists(paths.locks_file())
        holder.stdin.write("\n")
        holder.stdin.flush()
        worker.join(10)
        assert done == [["instance/web1"]]
        assert locks.owned(owner) == [("instance/web1", locks.EXCLUSIVE)]
    finally:
        holder.kill()
        holder.wait()
