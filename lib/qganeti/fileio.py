"""Durable file replacement: write a temporary file, fsync, rename, fsync the dir.

A crash at any line leaves either the old or the new content under the final
name, never a torn file (as qmail's queue does it).
"""

import os

_counter = 0


def _tmp_name(path):
    global _counter
    _counter += 1
    head, tail = os.path.split(path)
    return os.path.join(head, ".%s.tmp.%d.%d" % (tail, os.getpid(), _counter))


def fsync_dir(dirname):
    fd = os.open(dirname or ".", os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path, data, mode=0o640, durable=True, fsync_file=None):
    """Replace PATH by DATA (bytes or str) atomically; fsync unless not DURABLE.

    fsync_file=True with durable=False syncs the file but leaves the
    directory's fsync to the caller (who may batch several renames).
    """
    if fsync_file is None:
        fsync_file = durable
    if isinstance(data, str):
        data = data.encode("utf-8")
    tmp = _tmp_name(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if fsync_file:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    os.close(fd)
    try:
        os.rename(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    if durable:
        fsync_dir(os.path.dirname(path))


def read_file(path, default=None):
    """The whole file as str, or DEFAULT when it does not exist."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return default


def read_first_line(path, default=None):
    """First line, whitespace stripped (qmail's control-file convention)."""
    text = read_file(path)
    if text is None:
        return default
    return text.split("\n", 1)[0].strip()


def ensure_dir(path, mode=0o755):
    os.makedirs(path, mode=mode, exist_ok=True)


def append_log_line(path, message):
    """Append a time-stamped line to the log at PATH (its directory made);
    never fails: a log must not break what it records."""
    import time
    try:
        os.makedirs(os.path.dirname(path), 0o750, exist_ok=True)
        with open(path, "a") as handle:
            handle.write("%s %s\n" % (time.strftime("%Y-%m-%d %H:%M:%S"), message))
    except OSError:
        pass


def read_tail(path, max_bytes=65536):
    """The last MAX_BYTES of PATH as text ("" when there is no such file),
    starting at a line boundary when it was cut."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - max_bytes))
            data = handle.read()
    except FileNotFoundError:
        return ""
    text = data.decode("utf-8", "replace")
    if size > max_bytes:
        text = text.split("\n", 1)[-1]
    return text
