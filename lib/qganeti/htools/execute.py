"""-X: run a plan's job sets through LUXI (Ganeti's Jobs.execWithCancel).

Job sets run one after another; the jobs of one set are submitted
together (SubmitManyJobs) and polled until none is queued, waiting or
running, at intervals doubling from 0.5 s to 15 s, as Ganeti's htools
poll.  A set with a failed job stops the run.  SIGINT asks to stop after
the current set; SIGTERM (or a second request) exits at once with 2.
Messages on stdout and the returned error texts are Ganeti's.
"""

import signal
import sys
import time

from qganeti import __version__

PRIORITIES = {"low": 10, "normal": 0, "high": -10}
# job statuses up to "running" mean the job has not finished
UNFINISHED = ("queued", "waiting", "canceling", "running")
HASKELL_STATUS = {"queued": "JOB_STATUS_QUEUED", "waiting": "JOB_STATUS_WAITING",
                  "canceling": "JOB_STATUS_CANCELING", "running": "JOB_STATUS_RUNNING",
                  "canceled": "JOB_STATUS_CANCELED", "success": "JOB_STATUS_SUCCESS",
                  "error": "JOB_STATUS_ERROR"}
# what Ganeti's tools call their version in comments and reasons
VERSION = "(qganeti) version %s" % __version__


class ExecError(Exception):
    """The run stopped; the message is Ganeti's (printed after
    "Error: PROG: ")."""


def annotator(source, reason_text, comment, priority=None, now=None):
    """Ganeti's annotateOpCode + setOpPriority: a function that turns an
    opcode into the one submitted, with the comment, the reason trail
    entry (source, text, timestamp in ns) and the priority."""
    # nanoseconds, of a clock read to the microsecond as Ganeti's is
    stamp = int((time.time() if now is None else now) * 1e6) * 1000

    def annotate(op):
        meta = dict(op)
        meta["comment"] = comment
        meta["depends"] = None
        meta["priority"] = PRIORITIES[priority or "normal"]
        meta["reason"] = list(op.get("reason", [])) + [[source, reason_text, stamp]]
        return meta
    return annotate


def _out(text):
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


class _Cancel:
    def __init__(self):
        self.level = 0

    def interrupt(self, signum, frame):
        self.level = 1
        _out("Cancel request registered, will exit at the end of the current job set...")

    def terminate(self, signum, frame):
        self.level = 2
        _out("Double cancel request, exiting now...")
        sys.stdout.flush()
        import os
        os._exit(2)


def _client(address):
    from qganeti import luxi
    return luxi.Client(address)


def _error_text(exc):
    """Ganeti's formatError of a LUXI failure, roughly: the class and its
    message."""
    return "%s: %s" % (type(exc).__name__, exc) if str(exc) else type(exc).__name__


def wait_for_jobs(client, job_ids, sleep=time.sleep, first=0.5, most=15.0):
    """Poll until every job has finished; [(job id, status)]."""
    delay = first
    while True:
        sleep(delay)
        try:
            rows = client.QueryJobs(job_ids, ["status"])
        except Exception as exc:  # LUXI errors of every kind end the run alike
            raise ExecError("Checking job status: " + _error_text(exc))
        statuses = [row[0] if row else None for row in rows]
        if not any(st in UNFINISHED for st in statuses):
            return list(zip(job_ids, statuses))
        delay = min(delay * 2, most)


def run_jobset(address, jobs, annotate, sleep=time.sleep):
    """Submit one set's jobs (each a list of opcodes) and wait for them."""
    client = _client(address)
    try:
        try:
            results = client.SubmitManyJobs([[annotate(op) for op in ops] for ops in jobs])
        except Exception as exc:
            raise ExecError("Job submission error: " + _error_text(exc))
        ids = []
        for ok, value in results:
            if not ok:
                raise ExecError("Job submission error: %s" % value)
            ids.append(int(value))
        _out("Got job IDs " + ",".join(str(j) for j in ids))
        return wait_for_jobs(client, ids, sleep)
    finally:
        client.close()


def show_failures(failures):
    return "[%s]" % ",".join("(JobId {fromJobId = %d},%s)" % (jid, HASKELL_STATUS.get(st, st))
                             for jid, st in failures)


def exec_with_cancel(address, jobsets, annotate, sleep=time.sleep):
    """jobsets: [(jobs, description)], jobs a list of opcode lists.  Runs
    them in order; raises ExecError when one fails."""
    cancel = _Cancel()
    old = [signal.signal(signal.SIGTERM, cancel.terminate),
           signal.signal(signal.SIGINT, cancel.interrupt)]
    try:
        for pos, (jobs, descr) in enumerate(jobsets):
            if cancel.level:
                rest = jobsets[pos:]
                _out("Exiting early due to user request, ")
                _out("%d jobset(s) not submitted:" % len(rest))
                _out("[%s]" % ",".join('("%s",%d jobs)' % (d, len(j)) for j, d in rest))
                return
            # Ganeti 3.0.2 names the set only when it stops early (below)
            statuses = run_jobset(address, jobs, annotate, sleep)
            failures = [(jid, st) for jid, st in statuses if st != "success"]
            if failures:
                raise ExecError("Not all jobs completed successfully: %s\nAborting.\n"
                                % show_failures(failures))
    finally:
        signal.signal(signal.SIGTERM, old[0])
        signal.signal(signal.SIGINT, old[1])


def move_jobsets(cl, jobsets, describe):
    """hbal/hsqueeze plans as job sets of opcodes: jobsets are lists of
    (nodes, commands, instance, move, target) records."""
    from qganeti.htools import alloc
    out = []
    for jobs in jobsets:
        ops = [alloc.opcodes(cl, job[2], job[3], job[4]) for job in jobs]
        names = ",".join(cl.instrecs[job[2]].name for job in jobs)
        out.append((ops, describe + names))
    return out
