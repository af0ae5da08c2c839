"""Live-lock files: proof that a lock owner is still alive.

Every lock owner (a job's process, lock-grant, a daemon) creates one file
<livelock_dir>/<name>_<unixtime> and holds an exclusive flock on it for its
whole life. The kernel drops the lock when the last descriptor of that open
file goes away, so once a process has died -- even by kill -9 -- anybody can
take a shared lock on its file: that is how a dead owner is recognised
(Ganeti's WConfD does the same). flock is used rather than fcntl record
locks: a record lock belongs to the process and vanishes as soon as the
process closes *any* descriptor of the file, while a flock belongs to the
open file description, survives the owner opening and closing the file
again, and is inherited across fork and exec (lock-grant chain-loads).

Only os and fcntl here: every job process imports this.
"""

import fcntl
import os
import time

from qganeti import paths


def _check_name(name):
    if (not isinstance(name, str) or not name or name[0] == "." or "/" in name
            or "\0" in name or len(name) > 200):
        raise ValueError("invalid live-lock name %r" % (name,))


class LiveLock:
    """The live-lock file of one owner process, held while the object lives."""

    def __init__(self, name, directory=None):
        _check_name(name)
        directory = directory or paths.livelock_dir()
        os.makedirs(directory, mode=0o750, exist_ok=True)
        base = os.path.join(directory, "%s_%d" % (name, int(time.time())))
        path, n = base, 0
        while True:
            # O_EXCL: never reuse the file of an earlier owner of the same
            # name, whose entries in locks.data would come back to life.
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
                break
            except FileExistsError:
                n += 1
                path = "%s.%d" % (base, n)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BaseException:
            os.close(fd)
            os.unlink(path)
            raise
        self.name = name
        self.path = path
        self.fd = fd

    def set_inheritable(self):
        """Keep the descriptor open across exec, so the program exec'd keeps the owner alive."""
        os.set_inheritable(self.fd, True)

    def close(self):
        """Give up: remove the file, then drop the lock (the owner is dead from now on)."""
        if self.fd is None:
            return
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        os.close(self.fd)
        self.fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return "<LiveLock %s fd=%s>" % (self.path, self.fd)


def is_alive(path):
    """Whether the owner of the live-lock file PATH still holds it.

    False if the file is gone or a non-blocking shared flock on it succeeds.
    A file we may not open counts as alive: we cannot tell, and declaring a
    live owner dead would hand its locks to somebody else.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    except OSError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
