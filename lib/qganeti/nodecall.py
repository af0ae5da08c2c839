"""Running node actions (libexec/qganeti/node/<action>) on the node they concern.

On this node an action is a plain exec; on another node it goes over SSH
(the multi-node transport). An action gets its arguments on argv, a JSON
value on stdin, prints JSON on stdout and talks on stderr; a non-zero exit
is a failure whose last stderr line becomes the error message.
"""

import os
import sys

from qganeti import errors, fastjson, paths

DEFAULT_TIMEOUT = 300.0
ENV_KEEP = ("QGANETI_ROOT", "QGANETI_HOSTNAME", "PATH", "LANG", "NUMBA_CACHE_DIR")


class NodeCallError(errors.OpExecError):
    """A node action failed: args (message, node name, action, exit code)."""

    def __str__(self):
        return str(self.args[0])


def _node_name(cfg, node):
    """(name, uuid) of NODE, given as a uuid or a name."""
    if cfg is None:
        return node, None
    nodes = cfg.get("nodes", {})
    if node in nodes:
        return nodes[node]["name"], node
    for uuid, obj in nodes.items():
        if obj.get("name") == node:
            return node, uuid
    return node, None


def is_local(name):
    return name == paths.hostname()


def _argv(action, args):
    program = os.path.join(paths.NODE_DIR, action)
    return [sys.executable, "-S", program] + [str(a) for a in args]


def _env():
    return {k: os.environ[k] for k in ENV_KEEP if k in os.environ}


def outcome(name, action, code, out, err):
    """The parsed JSON output of an action that ended with CODE, or NodeCallError."""
    if code != 0:
        lines = [line for line in err.decode("utf-8", "replace").splitlines() if line.strip()]
        reason = lines[-1] if lines else "exit code %d" % code
        raise NodeCallError("Node %s: %s failed: %s" % (name, action, reason), name, action, code)
    text = out.decode("utf-8", "replace").strip()
    if not text:
        return None
    try:
        return fastjson.loads(text)
    except ValueError:
        raise NodeCallError("Node %s: %s printed invalid JSON: %r" % (name, action, text[:200]),
                            name, action, code)


def run(cfg, node, action, args=(), input=None, timeout=None, on_stderr=None):
    """Run ACTION on NODE (uuid or name); its parsed JSON output.

    ON_STDERR (remote calls) gets the action's stderr as it comes.
    """
    name, _ = _node_name(cfg, node)
    if not is_local(name):
        from qganeti import sshcall
        return sshcall.run(cfg, name, action, args, input, timeout or DEFAULT_TIMEOUT,
                           on_stderr)
    from qganeti import spawn
    data = b"" if input is None else fastjson.dumps(input).encode("utf-8")
    try:
        code, out, err = spawn.run(_argv(action, args), data, _env(),
                                   timeout or DEFAULT_TIMEOUT)
    except spawn.Timeout:
        raise NodeCallError("Node %s: %s timed out after %s seconds" %
                            (name, action, timeout or DEFAULT_TIMEOUT), name, action, None)
    except OSError as err:
        raise NodeCallError("Node %s: cannot run %s: %s" % (name, action, err), name, action,
                            None)
    return outcome(name, action, code, out, err)


def run_many(cfg, nodes, action, args=(), input=None, timeout=None):
    """Run ACTION on every node at once; {node: result or the exception}.

    This node's run as child processes, the others over SSH, each in a
    thread of its own: the slowest node sets the pace, not their sum.
    """
    import subprocess
    import threading
    import time
    results = {}
    started = {}
    threads = []
    data = b"" if input is None else fastjson.dumps(input).encode("utf-8")

    def remote(node):
        try:
            results[node] = run(cfg, node, action, args, input, timeout)
        except errors.GenericError as err:
            results[node] = err

    for node in nodes:
        name, _ = _node_name(cfg, node)
        if not is_local(name):
            thread = threading.Thread(target=remote, args=(node,), daemon=True)
            thread.start()
            threads.append(thread)
            continue
        try:
            started[node] = (name, subprocess.Popen(
                _argv(action, args), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, env=_env()))
        except OSError as err:
            results[node] = NodeCallError("Node %s: cannot run %s: %s" % (name, action, err),
                                          name, action, None)
    deadline = time.monotonic() + (timeout or DEFAULT_TIMEOUT)
    for node, (name, proc) in started.items():
        try:
            out, err = proc.communicate(data, timeout=max(0.1, deadline - time.monotonic()))
            results[node] = outcome(name, action, proc.returncode, out, err)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            results[node] = NodeCallError("Node %s: %s timed out" % (name, action), name,
                                          action, None)
        except errors.GenericError as exc:
            results[node] = exc
    for thread in threads:
        thread.join()
    return results


class Streamed:
    """A program that answers as it runs: readline(), then finish().  The
    local and the SSH kinds give _pump() (read what came, False at the end of
    both streams), _exit_code() and kill(); NAME, WHAT, BUF and ERR."""

    def readline(self, timeout):
        """The next line of its stdout (None at the end)."""
        import time
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise NodeCallError("Node %s: %s did not answer in time" % (self.name, self.what),
                                    self.name, self.what, None)
            if not self._pump(min(left, 1.0)) and b"\n" not in self.buf:
                return None
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode("utf-8", "replace")

    def finish(self, timeout, on_stderr=None):
        """Wait for the end; the JSON of the rest of its stdout (NodeCallError if it failed)."""
        import time
        deadline = time.monotonic() + timeout
        while self._pump(max(0.0, min(1.0, deadline - time.monotonic())), on_stderr):
            if time.monotonic() > deadline:
                self.kill()
                raise NodeCallError("Node %s: %s timed out" % (self.name, self.what),
                                    self.name, self.what, None)
        return outcome(self.name, self.what, self._exit_code(), self.buf, b"".join(self.err))


class _LocalProcess(Streamed):
    """A program of ours running on this node, read as it goes (see spawn)."""

    def __init__(self, name, argv, data):
        import subprocess
        self.name = name
        self.what = os.path.basename(argv[2])
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=_env())
        self.buf = b""
        self.err = []
        if data:
            self.proc.stdin.write(data)
        self.proc.stdin.close()

    def _pump(self, timeout, on_stderr=None):
        import select
        fds = [f for f in (self.proc.stdout, self.proc.stderr) if not f.closed]
        if not fds:
            return False
        ready, _, _ = select.select(fds, [], [], timeout)
        for stream in ready:
            chunk = os.read(stream.fileno(), 65536)
            if not chunk:
                stream.close()
            elif stream is self.proc.stdout:
                self.buf += chunk
            else:
                self.err.append(chunk)
                if on_stderr is not None:
                    on_stderr(chunk)
        return True

    def _exit_code(self):
        return self.proc.wait()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def spawn(cfg, node, program, args=(), input=None, keep_stdin=False):
    """Start libexec/qganeti/PROGRAM on NODE, to be read as it runs.

    The result has readline(timeout), finish(timeout, on_stderr) and kill();
    used where a program answers more than once (volume-copy's receiver
    says its port, then the outcome).
    """
    name, _ = _node_name(cfg, node)
    argv = [sys.executable, "-S", os.path.join(paths.LIBEXEC_DIR, program)] + \
        [str(a) for a in args]
    data = b"" if input is None else fastjson.dumps(input).encode("utf-8")
    if is_local(name):
        if keep_stdin:
            raise NodeCallError("Node %s: a kept program runs only on other nodes" % name,
                                name, program, None)
        try:
            return _LocalProcess(name, argv, data)
        except OSError as err:
            raise NodeCallError("Node %s: cannot run %s: %s" % (name, program, err), name,
                                program, None)
    from qganeti import sshcall
    return sshcall.RemoteProcess(cfg, name, argv, data, keep_stdin)
