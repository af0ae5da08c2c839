"""The job queue on disk, in Ganeti's format (ganeti-interfaces.md section 2).

queue/job-<id>                  one JSON file per live job
queue/archive/<id//10000>/job-<id>
queue/serial                    the last job id handed out
queue/drain                     exists while the queue is drained

Ownership of a job file (so no two writers race): luxid writes it while no
process runs the job (creation, cancelling a queued job, marking a dead
job's process); the job's own process writes it while it runs (status,
log, result). Every write replaces the file atomically.
"""

import os
import time

from qganeti import fastjson, fileio, paths

# statuses (ops and jobs)
QUEUED = "queued"
WAITING = "waiting"
CANCELING = "canceling"
RUNNING = "running"
CANCELED = "canceled"
SUCCESS = "success"
ERROR = "error"
FINALIZED = frozenset([CANCELED, SUCCESS, ERROR])
PENDING = frozenset([QUEUED, WAITING, CANCELING])
ALL_STATUSES = (QUEUED, WAITING, CANCELING, RUNNING, CANCELED, SUCCESS, ERROR)

PRIO_DEFAULT = 0
PRIO_HIGH = -10
PRIO_LOW = 10
JOBS_PER_ARCHIVE_DIR = 10000
FILE_MODE = 0o640

ELOG_MESSAGE = "message"
ELOG_DELAY_TEST = "delay-test"


def now_ts():
    """[seconds, microseconds], Ganeti's timestamp split."""
    now = time.time()
    sec = int(now)
    return [sec, int((now - sec) * 1000000)]


def now_ns():
    return time.time_ns()


def job_file(jid):
    return os.path.join(paths.queue_dir(), "job-%d" % jid)


def archived_file(jid):
    return os.path.join(paths.archive_dir(), str(jid // JOBS_PER_ARCHIVE_DIR), "job-%d" % jid)


def serial_file():
    return os.path.join(paths.queue_dir(), "serial")


def drain_file():
    return os.path.join(paths.queue_dir(), "drain")


def messages_dir():
    """Where luxid leaves messages for running job processes (cancel, priority)."""
    return os.path.join(paths.run_dir(), "luxidmessages")


def cancel_marker(jid):
    return os.path.join(messages_dir(), "%d.cancel" % jid)


def prio_message(jid):
    return os.path.join(messages_dir(), "%d.prio" % jid)


def claim_path(jid, index):
    """The live-lock file of the process running opcode INDEX of job JID.

    Its name is fixed (not Ganeti's <name>_<unixtime>) because it is also
    the claim on that opcode: whoever holds its flock runs it, so a job is
    never run twice, whatever luxid restarts in between.
    """
    return os.path.join(paths.livelock_dir(), "job_%06d_op%d" % (jid, index))


def init_dirs():
    for path in (paths.queue_dir(), paths.archive_dir()):
        fileio.ensure_dir(path, 0o750)
    fileio.ensure_dir(messages_dir(), 0o750)
    fileio.ensure_dir(paths.livelock_dir(), 0o750)
    if not os.path.exists(serial_file()):
        fileio.atomic_write(serial_file(), "0\n", FILE_MODE)
    version = os.path.join(paths.queue_dir(), "version")
    if not os.path.exists(version):
        fileio.atomic_write(version, "1\n", FILE_MODE)


def read_serial():
    text = fileio.read_first_line(serial_file(), "0")
    return int(text or 0)


def write_serial(value):
    fileio.atomic_write(serial_file(), "%d\n" % value, FILE_MODE)


def parse(text):
    return fastjson.loads(text)


def dumps(job):
    return fastjson.dumps(job)


def load(jid, archived=None):
    """The job dict of JID, or None. archived: None = look in both places."""
    candidates = []
    if archived is not True:
        candidates.append(job_file(jid))
    if archived is not False:
        candidates.append(archived_file(jid))
    for path in candidates:
        try:
            with open(path, "rb") as handle:
                return fastjson.loads(handle.read())
        except FileNotFoundError:
            continue
    return None


def save(job, durable=True):
    fileio.atomic_write(job_file(job["id"]), dumps(job), FILE_MODE, durable=durable)


def new_job(jid, ops, received=None):
    """A queued job for the validated opcode dicts OPS."""
    received = received or now_ts()
    ns = received[0] * 1000000000 + received[1] * 1000
    queued = []
    for index, op in enumerate(ops):
        op = dict(op)
        op["reason"] = list(op.get("reason") or []) + [
            ["gnt:opcode:%s" % op["OP_ID"][3:].lower(), "job=%d;index=%d" % (jid, index), ns]]
        queued.append({
            "input": op,
            "status": QUEUED,
            "result": None,
            "log": [],
            "start_timestamp": None,
            "exec_timestamp": None,
            "end_timestamp": None,
            "priority": op.get("priority", PRIO_DEFAULT),
        })
    return {
        "id": jid,
        "ops": queued,
        "start_timestamp": None,
        "end_timestamp": None,
        "received_timestamp": received,
        "livelock": None,
        "process_id": None,
    }


def status(job):
    """The job's status from its opcodes' statuses (Ganeti's CalcStatus)."""
    ops = job.get("ops") or ()
    if all(op.get("status") == SUCCESS for op in ops):
        return SUCCESS
    result = QUEUED
    for op in ops:
        st = op.get("status")
        if st == SUCCESS:
            continue
        if st == QUEUED:
            continue
        if st in (WAITING, RUNNING):
            result = st
            continue
        if st in (CANCELING, ERROR, CANCELED):
            return st
    return result


def priority(job):
    """Lowest priority number among unfinished opcodes (Ganeti's CalcPriority)."""
    prios = [op.get("priority", PRIO_DEFAULT) for op in job["ops"]
             if op["status"] not in FINALIZED]
    return min(prios) if prios else PRIO_DEFAULT


def next_op_index(job):
    """Index of the first opcode not yet finished, or None."""
    for index, op in enumerate(job["ops"]):
        if op["status"] not in FINALIZED:
            return index
    return None


def finalize_rest(job, index, status_, result):
    """Mark opcodes after INDEX as STATUS_ with RESULT and close the job."""
    now = now_ts()
    for op in job["ops"][index:]:
        if op["status"] not in FINALIZED:
            op["status"] = status_
            op["result"] = result
            op["end_timestamp"] = now
    job["end_timestamp"] = now


def last_log_serial(job):
    serial = 0
    for op in job["ops"]:
        for entry in op["log"]:
            if entry[0] > serial:
                serial = entry[0]
    return serial


def is_drained():
    return os.path.exists(drain_file())


def set_drained(flag):
    if flag:
        fileio.atomic_write(drain_file(), "", FILE_MODE)
    else:
        try:
            os.unlink(drain_file())
        except FileNotFoundError:
            pass


def archive(jid):
    """Move a job file to the archive; False if it is not in the live queue."""
    target = archived_file(jid)
    fileio.ensure_dir(os.path.dirname(target), 0o750)
    try:
        os.rename(job_file(jid), target)
    except FileNotFoundError:
        return False
    fileio.fsync_dir(paths.queue_dir())
    return True


def live_job_ids():
    ids = []
    for name in os.listdir(paths.queue_dir()):
        if name.startswith("job-") and name[4:].isdigit():
            ids.append(int(name[4:]))
    ids.sort()
    return ids


def archived_job_ids():
    ids = []
    base = paths.archive_dir()
    try:
        subdirs = os.listdir(base)
    except FileNotFoundError:
        return ids
    for sub in subdirs:
        try:
            names = os.listdir(os.path.join(base, sub))
        except NotADirectoryError:
            continue
        for name in names:
            if name.startswith("job-") and name[4:].isdigit():
                ids.append(int(name[4:]))
    ids.sort()
    return ids
