"""Linux inotify through ctypes: enough to watch a few directories."""

import ctypes
import ctypes.util
import os
import struct

from qganeti import errors

IN_CLOSE_WRITE = 0x00000008
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_MOVED_FROM = 0x00000040
IN_Q_OVERFLOW = 0x00004000
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC

_EVENT = struct.Struct("iIII")
_libc = None


def _lib():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    return _libc


class Watcher:
    """One inotify instance; fileno() for a selector, read() for (dir, mask, name)."""

    def __init__(self):
        self.fd = _lib().inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if self.fd < 0:
            raise errors.InotifyError("inotify_init1: %s" % os.strerror(ctypes.get_errno()))
        self.dirs = {}

    def fileno(self):
        return self.fd

    def add(self, path, mask):
        wd = _lib().inotify_add_watch(self.fd, path.encode(), mask)
        if wd < 0:
            raise errors.InotifyError("inotify_add_watch %s: %s" %
                                      (path, os.strerror(ctypes.get_errno())))
        self.dirs[wd] = path
        return wd

    def read(self):
        """Pending events as (directory, mask, name); [] when none."""
        events = []
        while True:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                return events
            pos = 0
            while pos + _EVENT.size <= len(data):
                wd, mask, _cookie, length = _EVENT.unpack_from(data, pos)
                pos += _EVENT.size
                name = data[pos:pos + length].rstrip(b"\0").decode("utf-8", "replace")
                pos += length
                events.append((self.dirs.get(wd), mask, name))

    def close(self):
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
