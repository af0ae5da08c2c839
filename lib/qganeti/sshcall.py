"""Node actions on other nodes, over SSH (paramiko).

nodecall.run() comes here when the node is not this one.  The action runs
as `exec PYTHON -S NODE_DIR/ACTION ARG...` on the node, every element
quoted with shlex.join (the remote login shell parses what SSH sends;
nothing else is composed into that string); its JSON payload goes to its
stdin; its stdout, stderr and exit code come back and nodecall turns them
into a result or a NodeCallError.  The node's state root and name are the
node's own business (a virtual cluster's sshd sets QGANETI_ROOT and
QGANETI_HOSTNAME with SetEnv).

A node is reached at its primary IP on its ndparams ssh_port, as the user
this process runs as, with the cluster's key ($ROOT/var/lib/qganeti/ssh/).
Its host key must be the one in the cluster's known_hosts: unknown or
changed keys are refused.  Only `gnt-node add` meets a key for the first
time: it records it (accept_new) and may log in with the operator's own
credentials from ssh-agent, before the cluster's key is installed there.

Connections are kept per process (luxid keeps them for its live queries;
an op process for its lifetime) with TCP_NODELAY.  paramiko costs ~0.2 s
to import, so this module is imported only when a call leaves this node.
"""

import os
import shlex
import socket
import threading
import time

from qganeti import errors, fastjson, nodecall, paths

CONNECT_TIMEOUT = 10.0
KEEPALIVE = 30

_pool = {}               # (address, port) -> paramiko.Transport
_pool_lock = threading.Lock()
_connect_locks = {}      # (address, port) -> Lock: one handshake at a time per node


class HostKeyError(errors.OpExecError):
    """The node's host key is unknown or differs from the cluster's known_hosts."""


def _error(name, action, message, code=None):
    return nodecall.NodeCallError("Node %s: %s" % (name, message), name, action, code)


def user():
    import pwd
    return pwd.getpwuid(os.geteuid()).pw_name


def ssh_port(cfg, node=None):
    """The ssh_port ndparam of NODE (a config node dict), or the cluster's."""
    from qganeti import defaults
    cluster = cfg["cluster"]
    if node is None:
        group = next(iter(cfg.get("nodegroups", {}).values()), {})
        return int(defaults.fill_nd(cluster, group, {}).get("ssh_port", 22))
    group = cfg.get("nodegroups", {}).get(node.get("group"), {})
    return int(defaults.fill_nd(cluster, group, node).get("ssh_port", 22))


def endpoint(cfg, name):
    """(address, port) where node NAME listens for SSH."""
    from qganeti import netutils
    node = None
    if cfg is not None:
        node = next((n for n in cfg.get("nodes", {}).values() if n.get("name") == name), None)
    address = node["primary_ip"] if node else netutils.resolve(name)
    if address is None:
        raise _error(name, None, "cannot resolve the node's name")
    return address, ssh_port(cfg, node) if cfg is not None else 22


def check_host_key(name, address, key, accept_new=False):
    """Refuse KEY (a paramiko PKey) unless known_hosts has it for NAME.

    With ACCEPT_NEW (node add), an unknown key is recorded; a changed one is
    still refused unless ACCEPT_NEW is "replace" (--no-ssh-key-check).
    """
    from qganeti import sshkeys
    presented = (key.get_name(), key.get_base64())
    known = sshkeys.host_key(name, address)
    if known == presented:
        return False
    if known is None and accept_new:
        sshkeys.record_host_key(name, address, *presented)
        return True
    if known is not None and accept_new == "replace":
        sshkeys.record_host_key(name, address, *presented)
        return True
    if known is None:
        raise HostKeyError("Node %s: host key %s %s is unknown (not in %s): refusing to"
                           " connect" % (name, presented[0], sshkeys.fingerprint(presented[1]),
                                         sshkeys.known_hosts_file()))
    raise HostKeyError("Node %s: host key has changed (now %s %s, known_hosts has %s %s):"
                       " refusing to connect" % (name, presented[0],
                                                 sshkeys.fingerprint(presented[1]), known[0],
                                                 sshkeys.fingerprint(known[1])))


def _credentials(use_agent):
    """The keys to offer: the cluster's, then (node add only) the agent's."""
    import paramiko
    from qganeti import sshkeys
    keys = []
    path = sshkeys.private_key_file()
    if path:
        try:
            keys.append(paramiko.PKey.from_path(path))
        except (OSError, paramiko.SSHException) as err:
            raise errors.OpExecError("Cannot read the cluster's SSH key %s: %s" % (path, err))
    if use_agent and os.environ.get("SSH_AUTH_SOCK"):
        keys.extend(paramiko.Agent().get_keys())
    return keys


def connect(name, address, port, timeout=CONNECT_TIMEOUT, accept_new=False, use_agent=False):
    """A new authenticated paramiko Transport to node NAME."""
    import logging
    import paramiko
    logging.getLogger("paramiko").setLevel(logging.WARNING)
    deadline = time.monotonic() + timeout
    try:
        sock = socket.create_connection((address, port), timeout=timeout)
    except OSError as err:
        raise _error(name, None, "cannot connect to %s port %d: %s"
                     % (address, port, err.strerror or err))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    transport = paramiko.Transport(sock)
    try:
        transport.banner_timeout = timeout
        transport.start_client(timeout=max(0.1, deadline - time.monotonic()))
        check_host_key(name, address, transport.get_remote_server_key(), accept_new)
        login = user()
        for key in _credentials(use_agent):
            try:
                transport.auth_publickey(login, key)
            except paramiko.AuthenticationException:
                continue
            if transport.is_authenticated():
                break
        if not transport.is_authenticated():
            raise _error(name, None, "SSH login as %s refused (is the cluster's key in the"
                         " node's authorized_keys?)" % login)
    except HostKeyError:
        transport.close()
        raise
    except (paramiko.SSHException, EOFError, OSError) as err:
        transport.close()
        if time.monotonic() >= deadline:
            raise _error(name, None, "no SSH answer from %s port %d within %d seconds"
                         % (address, port, timeout))
        raise _error(name, None, "SSH to %s port %d failed: %s" % (address, port,
                                                                   err or type(err).__name__))
    except BaseException:
        transport.close()
        raise
    if KEEPALIVE:
        transport.set_keepalive(KEEPALIVE)
    return transport


def _pooled(name, address, port, timeout):
    key = (address, port)
    with _pool_lock:
        lock = _connect_locks.setdefault(key, threading.Lock())
    with lock:
        transport = _pool.get(key)
        if transport is not None and transport.is_active():
            return transport, True
        transport = connect(name, address, port, timeout)
        _pool[key] = transport
        return transport, False


def drop(address, port):
    """Forget (and close) the pooled connection to ADDRESS:PORT."""
    with _pool_lock:
        transport = _pool.pop((address, port), None)
    if transport is not None:
        transport.close()


def close_all():
    with _pool_lock:
        transports = list(_pool.values())
        _pool.clear()
    for transport in transports:
        transport.close()


def execute(transport, argv, data=b"", timeout=300.0, on_stderr=None):
    """Run ARGV on the node behind TRANSPORT; (exit code, stdout, stderr) bytes.

    ON_STDERR, if given, gets stderr chunks as they come (progress lines).
    Raises socket.timeout after TIMEOUT seconds (the channel is closed).
    """
    import select
    deadline = time.monotonic() + timeout
    chan = transport.open_session(timeout=timeout)
    try:
        chan.exec_command("exec " + shlex.join(argv))
        if data:
            chan.sendall(data)
        chan.shutdown_write()
        out, err = [], []
        fd = chan.fileno()
        while True:
            progressed = False
            while chan.recv_ready():
                out.append(chan.recv(65536))
                progressed = True
            while chan.recv_stderr_ready():
                chunk = chan.recv_stderr(65536)
                err.append(chunk)
                if on_stderr is not None:
                    on_stderr(chunk)
                progressed = True
            if chan.exit_status_ready() and not chan.recv_ready() \
                    and not chan.recv_stderr_ready():
                if chan.eof_received or chan.closed:
                    break
            if progressed:
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("timed out")
            select.select([fd], [], [], min(left, 1.0))
        return chan.recv_exit_status(), b"".join(out), b"".join(err)
    finally:
        chan.close()


def remote_argv(action, args):
    return [paths.python(), "-S", os.path.join(paths.NODE_DIR, action)] + [str(a) for a in args]


def run(cfg, name, action, args=(), input=None, timeout=300.0, on_stderr=None):
    """Run node action ACTION on the other node NAME; its parsed JSON output."""
    import paramiko
    address, port = endpoint(cfg, name)
    data = b"" if input is None else fastjson.dumps(input).encode("utf-8")
    argv = remote_argv(action, args)
    for attempt in (1, 2):
        transport, reused = _pooled(name, address, port, min(timeout, CONNECT_TIMEOUT))
        try:
            code, out, err = execute(transport, argv, data, timeout, on_stderr)
            break
        except socket.timeout:
            raise _error(name, action, "%s timed out after %s seconds" % (action, timeout))
        except (paramiko.SSHException, EOFError, OSError) as err:
            drop(address, port)
            if reused and attempt == 1:
                continue     # a kept connection went stale: one fresh try
            raise _error(name, action, "%s failed: connection lost: %s"
                         % (action, err or type(err).__name__))
    return nodecall.outcome(name, action, code, out, err)


class RemoteProcess(nodecall.Streamed):
    """A program running on another node, read as it goes (nodecall.spawn)."""

    def __init__(self, cfg, name, argv, data, keep_stdin=False):
        import paramiko
        self.name = name
        self.what = os.path.basename(argv[2])
        address, port = endpoint(cfg, name)
        transport, _ = _pooled(name, address, port, CONNECT_TIMEOUT)
        try:
            self.chan = transport.open_session(timeout=CONNECT_TIMEOUT)
            self.chan.exec_command("exec " + shlex.join(argv))
            if data:
                self.chan.sendall(data)
            if not keep_stdin:
                self.chan.shutdown_write()
        except (paramiko.SSHException, EOFError, OSError) as err:
            drop(address, port)
            raise _error(name, self.what, "cannot start %s: %s" % (self.what, err))
        self.buf = b""
        self.err = []

    def _pump(self, timeout, on_stderr=None):
        import select
        chan = self.chan
        progressed = False
        while chan.recv_ready():
            self.buf += chan.recv(65536)
            progressed = True
        while chan.recv_stderr_ready():
            chunk = chan.recv_stderr(65536)
            self.err.append(chunk)
            if on_stderr is not None:
                on_stderr(chunk)
            progressed = True
        if progressed:
            return True
        if chan.exit_status_ready() and (chan.eof_received or chan.closed):
            return False
        select.select([chan.fileno()], [], [], timeout)
        return True

    def _exit_code(self):
        code = self.chan.recv_exit_status()
        self.chan.close()
        return code

    def write(self, data):
        """More input for a program started with keep_stdin."""
        self.chan.sendall(data)

    def alive(self):
        return not (self.chan.closed or self.chan.exit_status_ready())

    def kill(self):
        # closing the channel hangs up on the program (its stdio closes)
        self.chan.close()


def run_shell(cfg, name, command, timeout=3600.0):
    """Run the operator's shell COMMAND on node NAME (gnt-cluster command):
    (exit code, output with stderr merged).  The command is the operator's
    own shell text by design; nothing of ours is composed into it."""
    import paramiko
    address, port = endpoint(cfg, name)
    transport, _ = _pooled(name, address, port, CONNECT_TIMEOUT)
    try:
        chan = transport.open_session(timeout=CONNECT_TIMEOUT)
        chan.set_combine_stderr(True)
        chan.settimeout(timeout)
        chan.exec_command(command)
        chan.shutdown_write()
        out = []
        while True:
            chunk = chan.recv(65536)
            if not chunk:
                break
            out.append(chunk)
        code = chan.recv_exit_status()
        chan.close()
    except socket.timeout:
        raise _error(name, None, "command timed out after %s seconds" % timeout)
    except (paramiko.SSHException, EOFError, OSError) as err:
        drop(address, port)
        raise _error(name, None, "command failed: %s" % (err or type(err).__name__))
    return code, b"".join(out).decode("utf-8", "replace")
