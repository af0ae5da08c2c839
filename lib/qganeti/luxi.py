"""LUXI: Ganeti's JSON protocol on the master's unix socket.

Each message is a JSON text followed by the byte 0x03. A request is
{"method", "args", "version"}; a reply {"success", "result"[, "version"]},
where a failed call's result is an encoded error [ClassName, [args]] (or,
for requests that could not be parsed, a plain string).
"""

import socket

from qganeti import errors, fastjson, paths

EOM = b"\x03"
VERSION = 3000000
WFJC_TIMEOUT = 89          # Ganeti clients cap WaitForJobChange at this
DEF_CONNECT_TIMEOUT = 30
DEF_RW_TIMEOUT = 180

REQ_ALL = frozenset([
    "SubmitJob", "SubmitJobToDrainedQueue", "SubmitManyJobs", "PickupJob",
    "WaitForJobChange", "CancelJob", "ArchiveJob", "ChangeJobPriority",
    "AutoArchiveJobs", "Query", "QueryFields", "QueryJobs", "QueryFilters",
    "ReplaceFilter", "DeleteFilter", "QueryInstances", "QueryNodes",
    "QueryGroups", "QueryNetworks", "QueryExports", "QueryConfigValues",
    "QueryClusterInfo", "QueryTags", "SetDrainFlag", "SetWatcherPause",
])


def encode_request(method, args):
    return fastjson.dumps({"method": method, "args": args,
                           "version": VERSION}).encode("utf-8") + EOM


def encode_reply(success, result):
    return fastjson.dumps({"success": success, "result": result,
                           "version": VERSION}).encode("utf-8") + EOM


class Client:
    """A LUXI connection to luxid (one request at a time)."""

    def __init__(self, address=None, timeout=DEF_RW_TIMEOUT):
        self.address = address or paths.luxi_socket()
        self.timeout = timeout
        self._sock = None
        self._buffer = b""

    def _connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(DEF_CONNECT_TIMEOUT)
        try:
            sock.connect(self.address)
        except (FileNotFoundError, ConnectionRefusedError):
            sock.close()
            raise errors.NoMasterError(self.address)
        except PermissionError:
            sock.close()
            raise errors.PermissionError(self.address)
        except OSError as err:
            sock.close()
            raise errors.NoMasterError(self.address, str(err))
        sock.settimeout(self.timeout)
        self._sock = sock

    def close(self):
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self._buffer = b""

    def _recv_message(self):
        while True:
            pos = self._buffer.find(EOM)
            if pos >= 0:
                msg, self._buffer = self._buffer[:pos], self._buffer[pos + 1:]
                return msg
            try:
                chunk = self._sock.recv(65536)
            except socket.timeout:
                self.close()
                raise errors.TimeoutError("Timeout while reading from the master daemon")
            if not chunk:
                self.close()
                raise errors.ProtocolError("Connection closed by the master daemon")
            self._buffer += chunk

    def call(self, method, args):
        """Send one request and return its result (raising the encoded error)."""
        if self._sock is None:
            self._connect()
        try:
            self._sock.sendall(encode_request(method, args))
        except OSError as err:
            self.close()
            raise errors.ProtocolError("Error while sending to the master daemon: %s" % err)
        raw = self._recv_message()
        try:
            reply = fastjson.loads(raw)
        except ValueError:
            raise errors.ProtocolError("Invalid LUXI reply: %r" % raw[:200])
        if not isinstance(reply, dict) or "success" not in reply or "result" not in reply:
            raise errors.ProtocolError("Invalid LUXI reply: %r" % raw[:200])
        if reply.get("version", VERSION) != VERSION:
            raise errors.LuxiError("LUXI version mismatch, server %s, request %s" %
                                   (reply.get("version"), VERSION))
        result = reply["result"]
        if not reply["success"]:
            err = errors.decode(result)
            if err is not None:
                raise err
            raise errors.RequestError(result)
        return result

    # Ganeti's client methods
    def SubmitJob(self, ops):
        return self.call("SubmitJob", [ops])

    def SubmitJobToDrainedQueue(self, ops):
        return self.call("SubmitJobToDrainedQueue", [ops])

    def SubmitManyJobs(self, jobs):
        return self.call("SubmitManyJobs", [jobs])

    def WaitForJobChange(self, job_id, fields, prev_job_info, prev_log_serial,
                         timeout=WFJC_TIMEOUT):
        return self.call("WaitForJobChange",
                         [job_id, fields, prev_job_info, prev_log_serial,
                          min(timeout, WFJC_TIMEOUT)])

    def CancelJob(self, job_id, kill=False):
        return self.call("CancelJob", [job_id, kill])

    def ArchiveJob(self, job_id):
        return self.call("ArchiveJob", [job_id])

    def AutoArchiveJobs(self, age, timeout=(DEF_RW_TIMEOUT - 1) // 2):
        return self.call("AutoArchiveJobs", [age, timeout])

    def ChangeJobPriority(self, job_id, priority):
        return self.call("ChangeJobPriority", [job_id, priority])

    def QueryJobs(self, job_ids, fields):
        return self.call("QueryJobs", [job_ids, fields])

    def Query(self, what, fields, qfilter=None):
        return self.call("Query", [what, fields, qfilter])

    def QueryFields(self, what, fields=None):
        return self.call("QueryFields", [what, fields])

    def QueryClusterInfo(self):
        return self.call("QueryClusterInfo", [])

    def QueryConfigValues(self, fields):
        return self.call("QueryConfigValues", [fields])

    def QueryTags(self, kind, name):
        return self.call("QueryTags", [kind, name])

    def SetDrainFlag(self, drain_flag):
        return self.call("SetDrainFlag", [drain_flag])

    def SetWatcherPause(self, until):
        return self.call("SetWatcherPause", [until])
