"""Run a child with input on stdin and its output captured, without subprocess.

Importing subprocess costs an op program about 10 ms (selectors, threading,
signal, locale...), more than its own code; posix_spawn and poll do the same
for one short-lived child.
"""

import os
import select
import time

_CHUNK = 65536


class Timeout(Exception):
    """The child did not end in time; it was killed."""


def run(argv, input=b"", env=None, timeout=None):
    """Run ARGV (argv[0] an absolute path); (exit code, stdout, stderr).

    A child killed by signal N has exit code -N, as subprocess reports it.
    Raises OSError if it cannot be started, Timeout after TIMEOUT seconds.
    """
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    actions = [(os.POSIX_SPAWN_DUP2, in_r, 0), (os.POSIX_SPAWN_DUP2, out_w, 1),
               (os.POSIX_SPAWN_DUP2, err_w, 2)]
    try:
        pid = os.posix_spawn(argv[0], argv, os.environ if env is None else env,
                             file_actions=actions)
    except BaseException:
        for fd in (in_w, out_r, err_r):
            os.close(fd)
        raise
    finally:
        for fd in (in_r, out_w, err_w):
            os.close(fd)
    try:
        out, err = _communicate(in_w, out_r, err_r, memoryview(input or b""), timeout)
    except Timeout:
        os.kill(pid, 9)   # SIGKILL (the signal module costs an import)
        os.waitpid(pid, 0)
        raise
    status = os.waitpid(pid, 0)[1]
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status), out, err
    return os.WEXITSTATUS(status), out, err


def _communicate(in_w, out_r, err_r, data, timeout):
    deadline = None if timeout is None else time.monotonic() + timeout
    poller = select.poll()
    chunks = {out_r: [], err_r: []}
    if data:
        os.set_blocking(in_w, False)
        poller.register(in_w, select.POLLOUT)
    else:
        os.close(in_w)
        in_w = None
    for fd in chunks:
        poller.register(fd, select.POLLIN)
    open_fds = set(chunks)
    try:
        while open_fds or in_w is not None:
            wait = None
            if deadline is not None:
                wait = deadline - time.monotonic()
                if wait <= 0:
                    raise Timeout()
                wait *= 1000
            for fd, _ in poller.poll(wait):
                if fd == in_w:
                    try:
                        data = data[os.write(in_w, data[:_CHUNK]):]
                    except BrokenPipeError:   # the child does not read it all
                        data = data[:0]
                    if not data:
                        poller.unregister(in_w)
                        os.close(in_w)
                        in_w = None
                    continue
                piece = os.read(fd, _CHUNK)
                if piece:
                    chunks[fd].append(piece)
                else:
                    poller.unregister(fd)
                    open_fds.discard(fd)
    finally:
        for fd in [in_w] + list(chunks):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
    return b"".join(chunks[out_r]), b"".join(chunks[err_r])
