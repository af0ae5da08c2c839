"""A small client of QEMU's monitor protocol (QMP) over a unix socket.

One connection per use: connect, read the greeting, negotiate
capabilities, then execute commands; events that arrive meanwhile are kept
in .events.  Errors are Ganeti's HypervisorError, with Ganeti's wording for
a failed command ("kvm: error executing the CMD command: DESC (CLASS)").
"""

import os
import socket

from qganeti import errors, fastjson

# sun_path holds 108 bytes; longer paths are reached through the directory
MAX_SOCKET_PATH = 100


def connect_unix(sock, path):
    """Connect SOCK to PATH, however deep PATH is (through /proc/self/fd)."""
    if len(os.fsencode(path)) < MAX_SOCKET_PATH:
        sock.connect(path)
        return
    dirfd = os.open(os.path.dirname(path) or ".", os.O_PATH | os.O_DIRECTORY)
    try:
        sock.connect("/proc/self/fd/%d/%s" % (dirfd, os.path.basename(path)))
    finally:
        os.close(dirfd)


class Connection:
    """An open QMP session (use as a context manager)."""

    def __init__(self, path, timeout=10.0):
        self.path = path
        self.events = []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            connect_unix(self.sock, path)
        except FileNotFoundError:
            self.sock.close()
            raise errors.HypervisorError("No monitor socket found")
        except OSError as err:
            self.sock.close()
            raise errors.HypervisorError("Can't connect to qmp socket: %s" % err)
        self._file = self.sock.makefile("rb")
        try:
            greeting = self._receive()
            if "QMP" not in greeting:
                raise errors.HypervisorError("kvm: QMP communication error (wrong server"
                                             " greeting)")
            self.execute("qmp_capabilities")
        except BaseException:
            self.close()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        try:
            self._file.close()
        finally:
            self.sock.close()

    def _receive(self):
        try:
            line = self._file.readline()
        except socket.timeout:
            raise errors.HypervisorError("Timeout while receiving a QMP message")
        except OSError as err:
            raise errors.HypervisorError("Unable to receive data from KVM using the QMP"
                                         " protocol: %s" % err)
        if not line:
            raise errors.HypervisorError("QMP connection closed by qemu")
        try:
            return fastjson.loads(line.decode("utf-8"))
        except ValueError as err:
            raise errors.HypervisorError("QMP data serialization error: %s" % err)

    def execute(self, command, arguments=None, fds=()):
        """The "return" value of COMMAND; FDS are passed along (SCM_RIGHTS)."""
        message = {"execute": command}
        if arguments:
            message["arguments"] = arguments
        data = fastjson.dumps(message).encode("utf-8") + b"\r\n"
        try:
            if fds:
                import array
                self.sock.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                            array.array("i", fds))])
            else:
                self.sock.sendall(data)
        except OSError as err:
            raise errors.HypervisorError("Unable to send data to KVM using the QMP"
                                         " protocol: %s" % err)
        while True:
            reply = self._receive()
            if "event" in reply:
                self.events.append(reply)
                continue
            if "error" in reply:
                err = reply["error"]
                raise errors.HypervisorError("kvm: error executing the %s command: %s (%s)"
                                             % (command, err.get("desc"), err.get("class")))
            return reply.get("return")


    def wait_event(self, name, match, timeout):
        """The first event NAME whose data contains MATCH, or None after TIMEOUT."""
        import time
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events:
                data = event.get("data") or {}
                if (event.get("event") == name
                        and all(data.get(k) == v for k, v in match.items())):
                    self.events.remove(event)
                    return event
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                self.events.append(self._receive())
            except errors.HypervisorError:
                if time.monotonic() >= deadline:
                    return None
                raise


def execute(path, command, arguments=None, timeout=10.0):
    """Run one COMMAND on the QMP socket at PATH; its return value."""
    with Connection(path, timeout) as conn:
        return conn.execute(command, arguments)
