"""luxid: the master's job and query daemon.

It accepts LUXI requests on the ganeti-query socket, writes new job files,
starts each queued job's opcode as its own process
(libexec/qganeti/op/<name> --job N ...), at most max_running_jobs at a time,
and reaps them. It executes no operation itself: a job's process claims
its opcode, writes its own progress into the job file and takes its own
locks. luxid follows job files with inotify, answers WaitForJobChange from
them, and answers queries from a read-only snapshot of config.data. A
query never waits for a job or a lock.

If luxid dies, running jobs go on; a new luxid reads the queue back from
the job files, adopts the processes still running (their live-locks say
so) and marks the dead ones' jobs as failed. No job is lost, none runs
twice (the opcode claim in jobrun.py makes a second start a no-op).
"""

import asyncio
import heapq
import json
import logging
import os
import signal
import sys
import time

from qganeti import errors, fileio, inotify, jqueue, luxi, luxiquery, opcodes, paths

QUEUE_SIZE_HARD_LIMIT = 5000
# Job ids are reserved in blocks: the serial file is written (and fsync'd)
# once per block instead of once per job; a crash only leaves a gap in ids.
SERIAL_BLOCK = 64
KILL_TIMEOUT = 30.0           # seconds between SIGTERM (kill request) and SIGKILL
ENV_KEEP = ("QGANETI_ROOT", "QGANETI_HOSTNAME", "PATH", "LANG", "NUMBA_CACHE_DIR")
LIVENESS_INTERVAL = 1.0       # how often adopted processes' live-locks are checked
LIVE_TTL = 2.0                # how long live node data answers queries
NODE_QUERY_TIMEOUT = 5.0      # a node that takes longer gives "no data"
# (the four limits above are replaced by qganeti.yaml's luxid section at start)
NODE_RETRY = 15.0             # a node that gave "no data" is not asked again for this long

log = logging.getLogger("luxid")


def apply_settings():
    """Take kill_timeout, node_query_timeout, live_data_ttl and
    queue_size_hard_limit from qganeti.yaml (read once, at start)."""
    global KILL_TIMEOUT, NODE_QUERY_TIMEOUT, LIVE_TTL, QUEUE_SIZE_HARD_LIMIT
    from qganeti import settings
    conf = settings.load()["luxid"]
    KILL_TIMEOUT = float(conf["kill_timeout"])
    NODE_QUERY_TIMEOUT = float(conf["node_query_timeout"])
    LIVE_TTL = float(conf["live_data_ttl"])
    QUEUE_SIZE_HARD_LIMIT = int(conf["queue_size_hard_limit"])


class DurableWriter:
    """Writes files durably in a thread, batching what piles up meanwhile.

    The event loop never blocks on fsync; writes queued while one batch is
    on its way go out together and share one fsync of their directory.
    """

    def __init__(self, loop):
        import threading
        self.loop = loop
        self.pending = []
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._run, name="durable-writer", daemon=True)
        self.thread.start()

    def write(self, items):
        """Write [(path, bytes)...]; a future that is done once all are durable."""
        fut = self.loop.create_future()
        with self.cond:
            self.pending.append((items, fut))
            self.cond.notify()
        return fut

    def _run(self):
        while True:
            with self.cond:
                while not self.pending:
                    self.cond.wait()
                batch, self.pending = self.pending, []
            dirs = set()
            done = []
            for items, fut in batch:
                try:
                    for path, data in items:
                        fileio.atomic_write(path, data, jqueue.FILE_MODE, durable=False,
                                            fsync_file=True)
                        dirs.add(os.path.dirname(path))
                    done.append((fut, None))
                except OSError as err:
                    done.append((fut, err))
            for directory in dirs:
                fileio.fsync_dir(directory)
            for fut, err in done:
                self.loop.call_soon_threadsafe(_settle, fut, err)


def _settle(fut, err):
    if fut.done():
        return
    if err is None:
        fut.set_result(None)
    else:
        fut.set_exception(err)


class ParseFailure(Exception):
    """A request that cannot be parsed: answered with a plain error string."""


class _Proc:
    __slots__ = ("pid", "pidfd", "index", "child", "killing", "kill_handle")

    def __init__(self, pid, pidfd, index, child):
        self.pid = pid
        self.pidfd = pidfd
        self.index = index
        self.child = child
        self.killing = False
        self.kill_handle = None


def _is_alive(path):
    """A live-lock is alive while someone holds its flock."""
    import fcntl
    if not path:
        return False
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def _claim_holder(jid, index):
    """PID of the process holding the claim on opcode INDEX of job JID, or None."""
    path = jqueue.claim_path(jid, index)
    if not _is_alive(path):
        return None
    try:
        with open(path) as handle:
            return int(handle.read().strip() or 0) or None
    except (OSError, ValueError):
        return None


class Luxid:
    def __init__(self, no_voting=False):
        self.no_voting = no_voting
        self.stopping = None      # set to stop serving
        self.loop = None
        self.jobs = {}          # id -> job dict (live queue)
        self.stale = set()      # ids whose file changed since we read it
        self.ready = []         # heap of (priority, id) of queued jobs that may start
        self.blocked = set()    # queued jobs waiting for dependencies
        self.procs = {}         # id -> _Proc
        self.waiters = {}       # id -> [futures] (WaitForJobChange)
        self.cfg = None
        self.cfg_error = "Configuration not yet loaded"
        self.serial = 0           # last job id handed out
        self.serial_reserved = 0  # what the serial file says (>= serial)
        self.joblog_fd = None
        self.watcher = None
        self.server = None
        self.queue_lock_fd = None
        self.spawned = 0
        self.live_cache = None    # (time, (node_live, instance_live))
        self.replicator = None    # replicate.Replicator, once serving
        self.unreachable = {}     # node uuid -> when it last failed a live query

    # -- configuration snapshot ------------------------------------------
    def load_config(self):
        try:
            with open(paths.config_file(), "rb") as handle:
                self.cfg = json.loads(handle.read())
            self.cfg_error = None
        except (OSError, ValueError) as err:
            self.cfg_error = str(err)
            log.error("cannot load the configuration: %s", err)

    def max_running(self):
        try:
            return int(self.cfg["cluster"].get("max_running_jobs", 20))
        except (TypeError, KeyError, ValueError):
            return 20

    def master_name(self):
        cluster = self.cfg["cluster"]
        node = self.cfg.get("nodes", {}).get(cluster.get("master_node"))
        return node["name"] if node else None

    def deposed(self):
        """True (and stop serving) once the config names another master."""
        master = self.master_name() if self.cfg else None
        if master is None or master == paths.hostname():
            return False
        log.error("this node is no longer the master (%s is): stopping", master)
        if self.stopping is not None and not self.stopping.done():
            self.stopping.set_result(None)
        return True

    def check_master(self):
        """At start: this node must be the master, and (voting) most nodes agree."""
        if self.cfg is None:
            return
        master = self.master_name()
        if master != paths.hostname():
            raise errors.OpPrereqError("This is not the master node (the configuration names"
                                       " %s)" % master, errors.ECODE_STATE)
        if not self.no_voting and len(self.cfg.get("nodes", {})) > 1:
            from qganeti import masterfailover
            masterfailover.check_agreement(self.cfg)

    # -- start-up ----------------------------------------------------------
    def lock_queue(self):
        import fcntl
        jqueue.init_dirs()
        path = os.path.join(paths.queue_dir(), "lock")
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o640)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise errors.JobQueueError("another luxid holds the job queue lock")
        self.queue_lock_fd = fd

    def recover(self):
        """Read the queue back from the job files (after a start or a crash)."""
        self.serial = jqueue.read_serial()
        self.serial_reserved = self.serial
        for jid in jqueue.live_job_ids():
            job = jqueue.load(jid, archived=False)
            if job is None:
                continue
            self.jobs[jid] = job
            self.serial = max(self.serial, jid)
            index = jqueue.next_op_index(job)
            if index is None:
                continue
            status = job["ops"][index]["status"]
            if status == jqueue.QUEUED:
                pid = _claim_holder(jid, index)
                if pid and self.adopt(jid, pid, index):
                    continue
                self.enqueue(jid)
            else:
                pid = job.get("process_id")
                if pid and _is_alive(job.get("livelock")) and self.adopt(jid, pid, index):
                    continue
                self.mark_dead(jid, index, "Job process died while luxid was away")
        log.info("recovered %d jobs, %d running", len(self.jobs), len(self.procs))

    def adopt(self, jid, pid, index):
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:
            return False
        self.procs[jid] = _Proc(pid, pidfd, index, child=False)
        self.loop.add_reader(pidfd, self.on_exit, jid)
        return True

    # -- scheduling --------------------------------------------------------
    def deps_state(self, job, index):
        """'ok', 'wait', or (status, result) that ends the job."""
        deps = job["ops"][index]["input"].get("depends") or []
        for dep_id, wanted in deps:
            other = self.job(dep_id) or jqueue.load(dep_id)
            if other is None:
                return (jqueue.ERROR, ["OpExecError", ["Error while checking job dependencies"]])
            st = jqueue.status(other)
            if st not in jqueue.FINALIZED:
                return "wait"
            if wanted and st not in wanted:
                if st == jqueue.CANCELED:
                    return (jqueue.CANCELED, "Job canceled by request")
                return (jqueue.ERROR, ["OpExecError", [
                    "Dependency job %s's status is '%s', not one of '%s' as required" %
                    (dep_id, st, ",".join(wanted))]])
            if not wanted and st == jqueue.CANCELED:
                return (jqueue.CANCELED, "Job canceled by request")
        return "ok"

    def enqueue(self, jid):
        job = self.jobs[jid]
        heapq.heappush(self.ready, (jqueue.priority(job), jid))

    def schedule(self):
        limit = self.max_running()
        while self.ready and len(self.procs) < limit:
            prio, jid = heapq.heappop(self.ready)
            job = self.jobs.get(jid)
            if job is None or jid in self.procs or jqueue.priority(job) != prio:
                if job is not None and jid not in self.procs and jqueue.status(job) == jqueue.QUEUED \
                        and jqueue.priority(job) != prio:
                    self.enqueue(jid)    # its priority changed: queue under the new one
                continue
            index = jqueue.next_op_index(job)
            if index is None:
                continue
            state = self.deps_state(job, index)
            if state == "wait":
                self.blocked.add(jid)
                continue
            if state != "ok":
                jqueue.finalize_rest(job, index, state[0], state[1])
                jqueue.save(job)
                self.job_changed(jid)
                continue
            self.spawn(jid, index)

    def unblock(self):
        for jid in list(self.blocked):
            job = self.jobs.get(jid)
            index = jqueue.next_op_index(job) if job else None
            if index is None or self.deps_state(job, index) != "wait":
                self.blocked.discard(jid)
                if job is not None:
                    self.enqueue(jid)

    def spawn(self, jid, index):
        job = self.jobs[jid]
        op = job["ops"][index]["input"]
        opdef = opcodes.get(op["OP_ID"])
        program = os.path.join(paths.OP_DIR, opdef.program)
        # -S: no site.py (2 ms a job); lib/qganeti/__init__.py finds the venv
        argv = [sys.executable, "-S", program, "--job", str(jid)]
        if index:
            argv += ["--op-index", str(index)]
        argv += opcodes.to_argv(op)
        env = {k: os.environ[k] for k in ENV_KEEP if k in os.environ}
        actions = [(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0)]
        if self.joblog_fd is not None:
            actions += [(os.POSIX_SPAWN_DUP2, self.joblog_fd, 1),
                        (os.POSIX_SPAWN_DUP2, self.joblog_fd, 2)]
        try:
            pid = os.posix_spawn(sys.executable, argv, env,
                                 file_actions=actions, setsid=True)
        except OSError as err:
            log.error("cannot start job %d: %s", jid, err)
            jqueue.finalize_rest(job, index, jqueue.ERROR,
                                 ["OpExecError", ["Cannot start the job process: %s" % err]])
            jqueue.save(job)
            self.job_changed(jid)
            return
        pidfd = os.pidfd_open(pid)
        self.procs[jid] = _Proc(pid, pidfd, index, child=True)
        self.loop.add_reader(pidfd, self.on_exit, jid)
        self.spawned += 1

    def on_exit(self, jid):
        proc = self.procs.pop(jid)
        self.loop.remove_reader(proc.pidfd)
        os.close(proc.pidfd)
        if proc.kill_handle is not None:
            proc.kill_handle.cancel()
        how = None
        if proc.child:
            try:
                _, status = os.waitpid(proc.pid, 0)
                if os.WIFSIGNALED(status):
                    how = "killed by signal %d" % os.WTERMSIG(status)
            except ChildProcessError:
                pass
        self.stale.discard(jid)
        job = jqueue.load(jid, archived=False)
        if job is None:
            self.jobs.pop(jid, None)
            self.schedule()
            return
        self.jobs[jid] = job
        op = job["ops"][proc.index]
        if op["status"] not in jqueue.FINALIZED:
            if proc.killing:
                jqueue.finalize_rest(job, proc.index, jqueue.CANCELED, "Job canceled by request")
                jqueue.save(job)
            else:
                self.mark_dead(jid, proc.index, "Job process %d died unexpectedly%s" %
                               (proc.pid, " (%s)" % how if how else ""))
            self.cleanup_locks()
        job = self.jobs[jid]
        index = jqueue.next_op_index(job)
        if index is not None and op["status"] == jqueue.SUCCESS:
            state = self.deps_state(job, index)
            if state == "ok":
                self.spawn(jid, index)
            elif state == "wait":
                self.blocked.add(jid)
            else:
                jqueue.finalize_rest(job, index, state[0], state[1])
                jqueue.save(job)
        self.live_cache = None     # the job may have started or stopped something
        self.job_changed(jid)
        self.unblock()
        self.schedule()

    def mark_dead(self, jid, index, message):
        job = self.jobs[jid]
        jqueue.finalize_rest(job, index, jqueue.ERROR, ["OpExecError", [message]])
        jqueue.save(job)
        log.warning("job %d: %s", jid, message)

    def cleanup_locks(self):
        try:
            from qganeti import locks
            locks.cleanup_dead()
        except Exception as err:   # locks are a best effort here; waiters poll too
            log.error("lock cleanup failed: %s", err)

    def check_adopted(self):
        """Adopted (not our child) processes may die without the job file saying so."""
        for jid, proc in list(self.procs.items()):
            if not proc.child:
                try:
                    os.kill(proc.pid, 0)
                except ProcessLookupError:
                    self.on_exit(jid)
        self.loop.call_later(LIVENESS_INTERVAL, self.check_adopted)

    # -- job file changes ----------------------------------------------------
    def on_inotify(self):
        for directory, mask, name in self.watcher.read():
            if mask & inotify.IN_Q_OVERFLOW:
                for jid in list(self.waiters):
                    self.reload_job(jid)
                continue
            if directory == paths.queue_dir() and name.startswith("job-"):
                try:
                    jid = int(name[4:])
                except ValueError:
                    continue
                self.replicator.job_changed(jid)
                if jid in self.waiters:
                    self.reload_job(jid)
                elif jid in self.jobs:
                    self.stale.add(jid)     # read it again when someone asks
            elif name == "config.data":
                self.load_config()
                self.live_cache = None
                if self.deposed():
                    return
                self.replicator.config_changed(self.cfg)
                self.schedule()

    def job(self, jid):
        """The job's current dict (re-read if its file changed), or None."""
        if jid in self.stale:
            self.reload_job(jid)
        return self.jobs.get(jid)

    def reload_job(self, jid):
        self.stale.discard(jid)
        job = jqueue.load(jid, archived=False)
        if job is not None:
            self.jobs[jid] = job
            self.job_changed(jid)

    def job_changed(self, jid):
        for fut in self.waiters.pop(jid, []):
            if not fut.done():
                fut.set_result(None)
        job = self.jobs.get(jid)
        if job is not None and jqueue.status(job) in jqueue.FINALIZED:
            for path in (jqueue.cancel_marker(jid), jqueue.prio_message(jid)):
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass

    # -- LUXI methods ----------------------------------------------------------
    def require_config(self):
        if self.cfg is None:
            raise errors.ConfigurationError(
                "I do not have access to a valid configuration, cannot process queries: %s"
                % self.cfg_error)

    def check_submit(self, count, drained_ok):
        if not drained_ok and jqueue.is_drained():
            raise errors.JobQueueDrainError("Job queue is drained, refusing job")
        if len(self.jobs) + count > QUEUE_SIZE_HARD_LIMIT:
            raise errors.JobQueueFull()

    def validate_ops(self, ops):
        if not isinstance(ops, list) or not ops:
            raise ParseFailure("SubmitJob: a job must be a non-empty list of opcodes")
        result = []
        for op in ops:
            if not isinstance(op, dict):
                raise ParseFailure("SubmitJob: opcode is not an object: %s" % json.dumps(op)[:200])
            op_id = op.get("OP_ID")
            if not opcodes.exists(op_id):
                raise ParseFailure("SubmitJob: unknown opcode %s" % json.dumps(op_id))
            result.append(opcodes.validate(op))
        return result

    async def new_jobs(self, jobs):
        """Write queued jobs (lists of validated ops) durably; return their ids.

        Ids are handed out before the first await, so concurrent submissions
        never share one; a job is queued only once its file is on disk.
        """
        first = self.serial + 1
        self.serial += len(jobs)
        items = []
        if self.serial > self.serial_reserved:
            self.serial_reserved = self.serial + SERIAL_BLOCK
            items.append((jqueue.serial_file(), b"%d\n" % self.serial_reserved))
        received = jqueue.now_ts()
        new = []
        for offset, ops in enumerate(jobs):
            job = jqueue.new_job(first + offset, ops, received)
            new.append(job)
            items.append((jqueue.job_file(job["id"]), jqueue.dumps(job).encode()))
        await self.writer.write(items)
        for job in new:
            self.jobs[job["id"]] = job
            self.enqueue(job["id"])
        self.schedule()
        return [job["id"] for job in new]

    async def m_SubmitJob(self, args, drained_ok=False):
        (ops,) = _args(args, 1, "SubmitJob")
        ops = self.validate_ops(ops)
        self.check_submit(1, drained_ok)
        (jid,) = await self.new_jobs([ops])
        return jid

    def m_SubmitJobToDrainedQueue(self, args):
        return self.m_SubmitJob(args, drained_ok=True)

    async def m_SubmitManyJobs(self, args):
        (jobs,) = _args(args, 1, "SubmitManyJobs")
        if not isinstance(jobs, list):
            raise ParseFailure("SubmitManyJobs: expected a list of jobs")
        if jqueue.is_drained():
            raise errors.JobQueueDrainError("Job queue is drained, refusing job")
        self.check_submit(len(jobs), False)
        results = []
        accepted = []
        base = self.serial + 1
        for ops in jobs:
            try:
                ops = self.validate_ops(ops)
                jid = base + len(accepted)
                for op in ops:     # relative dependencies (-1 = the previous job here)
                    deps = op.get("depends")
                    if deps:
                        fixed = []
                        for dep_id, statuses in deps:
                            if dep_id < 0:
                                dep_id = jid + dep_id
                                if dep_id < base:
                                    raise errors.OpPrereqError(
                                        "Relative job dependency out of range", errors.ECODE_INVAL)
                            fixed.append([dep_id, statuses])
                        op["depends"] = fixed
                accepted.append(ops)
                results.append(None)
            except (errors.GenericError, ParseFailure) as err:
                results.append(str(err.args[0]) if err.args else str(err))
        ids = iter(await self.new_jobs(accepted)) if accepted else iter(())
        return [[True, next(ids)] if r is None else [False, r] for r in results]

    def job_or_archived(self, jid):
        job = self.job(jid)
        if job is not None:
            return job, False
        job = jqueue.load(jid, archived=True)
        return job, True

    async def m_WaitForJobChange(self, args):
        jid, fields, prev_info, prev_serial, timeout = _args(args, 5, "WaitForJobChange")
        jid = _job_id(jid)
        if not isinstance(fields, list):
            raise ParseFailure("WaitForJobChange: fields must be a list")
        timeout = min(float(timeout), luxi.WFJC_TIMEOUT)
        deadline = time.monotonic() + timeout
        while True:
            job, archived = self.job_or_archived(jid)
            if job is None:
                raise errors.JobLost("Can't load job file")
            (info,) = luxiquery.job_rows(self, [(jid, job, archived)], fields)
            logs = [entry for op in job["ops"] for entry in op["log"]
                    if prev_serial is None or entry[0] > prev_serial]
            if jqueue.status(job) in jqueue.FINALIZED or logs or info != prev_info:
                return [info, logs]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return "nochange"
            fut = self.loop.create_future()
            self.waiters.setdefault(jid, []).append(fut)
            try:
                await asyncio.wait_for(fut, remaining)
            except asyncio.TimeoutError:
                return "nochange"

    def m_CancelJob(self, args):
        if len(args) == 1:
            args = list(args) + [False]
        jid, kill = _args(args, 2, "CancelJob")
        jid = _job_id(jid)
        job = self.job(jid)
        if job is None:
            return [False, "Job %s not found" % jid]
        status = jqueue.status(job)
        proc = self.procs.get(jid)
        if status in jqueue.FINALIZED:
            return [False, "Job %s is no longer waiting in the queue" % jid]
        if proc is None:
            # no process runs it: luxid owns the file
            index = jqueue.next_op_index(job)
            jqueue.finalize_rest(job, index, jqueue.CANCELED, "Job canceled by request")
            jqueue.save(job)
            self.blocked.discard(jid)
            self.job_changed(jid)
            return [True, "Job %s canceled" % jid]
        if kill:
            self.kill(jid, proc)
            return [True, "Job %s will be canceled" % jid]
        marker = jqueue.cancel_marker(jid)
        fileio.atomic_write(marker, "", 0o640, durable=False)
        job = jqueue.load(jid, archived=False) or job
        op = job["ops"][proc.index]
        if op["status"] == jqueue.RUNNING or op["status"] in jqueue.FINALIZED:
            try:
                os.unlink(marker)
            except FileNotFoundError:
                return [True, "Job %s will be canceled" % jid]   # the process took it
            return [False, "Job %s is no longer waiting in the queue" % jid]
        try:
            os.kill(proc.pid, signal.SIGUSR2)
        except ProcessLookupError:
            pass
        return [True, "Job %s will be canceled" % jid]

    def kill(self, jid, proc):
        if proc.killing:
            return
        proc.killing = True
        try:
            os.kill(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return

        def force():
            if self.procs.get(jid) is proc:
                log.warning("job %d: process %d ignored SIGTERM, killing it", jid, proc.pid)
                try:
                    os.kill(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        proc.kill_handle = self.loop.call_later(KILL_TIMEOUT, force)

    def m_ChangeJobPriority(self, args):
        jid, prio = _args(args, 2, "ChangeJobPriority")
        jid = _job_id(jid)
        if not isinstance(prio, int) or not -20 <= prio <= 19:
            raise ParseFailure("ChangeJobPriority: invalid priority %r" % (prio,))
        job = self.job(jid)
        if job is None:
            return [False, "Job %s not found" % jid]
        status = jqueue.status(job)
        if status in jqueue.FINALIZED:
            return [False, "Job %s is finished" % jid]
        if status == jqueue.CANCELING:
            return [False, "Job %s is cancelling" % jid]
        proc = self.procs.get(jid)
        if proc is None:
            changed = False
            for op in job["ops"]:
                if op["status"] in (jqueue.QUEUED, jqueue.WAITING):
                    op["priority"] = prio
                    changed = True
            if not changed:
                return [False, "Job %s had no pending opcodes" % jid]
            jqueue.save(job)
            if jid not in self.blocked:
                self.enqueue(jid)
            self.job_changed(jid)
        else:
            if not any(op["status"] in (jqueue.QUEUED, jqueue.WAITING) for op in job["ops"]):
                return [False, "Job %s had no pending opcodes" % jid]
            fileio.atomic_write(jqueue.prio_message(jid), "%d\n" % prio, 0o640, durable=False)
            try:
                os.kill(proc.pid, signal.SIGUSR1)
            except ProcessLookupError:
                pass
        return [True, "Priorities of pending opcodes for job %s have been changed to %s"
                % (jid, prio)]

    def m_ArchiveJob(self, args):
        (jid,) = _args(args, 1, "ArchiveJob")
        jid = _job_id(jid)
        job = self.job(jid)
        if job is None or jqueue.status(job) not in jqueue.FINALIZED:
            return False
        if jqueue.archive(jid):
            del self.jobs[jid]
            self.replicator.job_changed(jid, archived=True)
            return True
        return False

    def m_AutoArchiveJobs(self, args):
        age, timeout = _args(args, 2, "AutoArchiveJobs")
        now = time.time()
        deadline = time.monotonic() + max(0, float(timeout))
        archived = 0
        ids = sorted(self.jobs)
        for pos, jid in enumerate(ids):
            if time.monotonic() > deadline:
                return [archived, len(ids) - pos]
            job = self.job(jid)
            if jqueue.status(job) not in jqueue.FINALIZED:
                continue
            end = job.get("end_timestamp") or job.get("received_timestamp") or [0, 0]
            if age != -1 and now - end[0] < age:
                continue
            if jqueue.archive(jid):
                del self.jobs[jid]
                self.replicator.job_changed(jid, archived=True)
                archived += 1
        return [archived, 0]

    def m_QueryJobs(self, args):
        ids, fields = _args(args, 2, "QueryJobs")
        if not isinstance(fields, list):
            raise ParseFailure("QueryJobs: fields must be a list")
        if ids is None or ids == []:
            ids = sorted(self.jobs)
        wanted = []
        for jid in ids:
            try:
                jid = _job_id(jid)
            except ParseFailure:
                wanted.append((jid, None, False))
                continue
            job, archived = self.job_or_archived(jid)
            wanted.append((jid, job, archived))
        return luxiquery.job_rows(self, wanted, fields)

    async def m_Query(self, args):
        what, fields, qfilter = _args(args, 3, "Query")
        live = None
        if self.cfg is not None and luxiquery.wants_live(what, fields, qfilter):
            live = await self.live_data()
        return luxiquery.query(self, what, fields, qfilter, live)

    # -- live data from the nodes, for queries ----------------------------------
    async def live_data(self):
        """(node_live, instance_live) of every online node, cached briefly.

        A node that does not answer within NODE_QUERY_TIMEOUT gives no data
        (its cells say so); offline nodes are not asked at all.
        """
        now = time.monotonic()
        if self.live_cache is not None and now - self.live_cache[0] < LIVE_TTL:
            return self.live_cache[1]
        nodes = [uuid for uuid, node in self.cfg.get("nodes", {}).items()
                 if not node.get("offline")]
        storage = self.cfg["cluster"].get("file_storage_dir") or "/"
        answers = await asyncio.gather(*[self.node_live(uuid, storage) for uuid in nodes])
        node_live = {}
        instance_live = {}
        for uuid, (info, instances) in zip(nodes, answers):
            node_live[uuid] = info
            for name, state in (instances or {}).items():
                state = dict(state, node=uuid)
                instance_live[name] = state
        result = (node_live, instance_live)
        self.live_cache = (time.monotonic(), result)
        return result

    async def node_live(self, uuid, storage):
        from qganeti import nodecall
        name = self.cfg["nodes"][uuid]["name"]
        if not nodecall.is_local(name):
            return await self.loop.run_in_executor(None, self.remote_live, uuid, storage)
        info, instances = await asyncio.gather(self.local_action("node-info", [storage]),
                                               self.local_action("instance-list", []))
        return info, instances

    def remote_live(self, uuid, storage):
        """(node info, instances) of another node over SSH; (None, None) if it
        does not answer, and for NODE_RETRY seconds after (no query waits on it)."""
        from qganeti import nodecall
        failed = self.unreachable.get(uuid)
        if failed is not None and time.monotonic() - failed < NODE_RETRY:
            return None, None
        try:
            answer = nodecall.run(self.cfg, uuid, "node-live", [storage],
                                  timeout=NODE_QUERY_TIMEOUT)
        except errors.GenericError as err:
            log.warning("live data from %s: %s", uuid, err)
            self.unreachable[uuid] = time.monotonic()
            self.drop_connection(uuid)
            return None, None
        self.unreachable.pop(uuid, None)
        return answer.get("info"), answer.get("instances")

    def drop_connection(self, uuid):
        """Forget a kept SSH connection to a node that failed (it may hang)."""
        try:
            from qganeti import sshcall
            node = self.cfg["nodes"][uuid]
            sshcall.drop(node["primary_ip"], sshcall.ssh_port(self.cfg, node))
        except (KeyError, ImportError, errors.GenericError):
            pass

    async def local_action(self, action, args):
        program = os.path.join(paths.NODE_DIR, action)
        if not os.path.exists(program):
            return None
        env = {k: os.environ[k] for k in ENV_KEEP if k in os.environ}
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-S", program, *args, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, env=env)
            out, _ = await asyncio.wait_for(proc.communicate(), NODE_QUERY_TIMEOUT)
        except (OSError, asyncio.TimeoutError) as err:
            log.warning("node action %s: %s", action, err)
            try:
                proc.kill()
            except (ProcessLookupError, UnboundLocalError):
                pass
            return None
        if proc.returncode != 0:
            return None
        try:
            from qganeti import fastjson
            return fastjson.loads(out)
        except ValueError:
            return None

    def m_QueryFields(self, args):
        what, fields = _args(args, 2, "QueryFields")
        return luxiquery.query_fields(what, fields)

    def m_QueryClusterInfo(self, args):
        _args(args, 0, "QueryClusterInfo")
        self.require_config()
        return luxiquery.cluster_info(self.cfg)

    def m_QueryConfigValues(self, args):
        (fields,) = _args(args, 1, "QueryConfigValues")
        self.require_config()
        values = {
            "cluster_name": lambda: self.cfg["cluster"]["cluster_name"],
            "master_node": self.master_name,
            "drain_flag": jqueue.is_drained,
            "watcher_pause": watcher_paused_until,
        }
        return [values[f]() if f in values else None for f in fields]

    def m_QueryTags(self, args):
        kind, name = _args(args, 2, "QueryTags")
        self.require_config()
        return luxiquery.tags(self.cfg, kind, name)

    def m_SetDrainFlag(self, args):
        (flag,) = _args(args, 1, "SetDrainFlag")
        jqueue.set_drained(bool(flag))
        return True

    def m_SetWatcherPause(self, args):
        (until,) = _args(args, 1, "SetWatcherPause")
        path = os.path.join(paths.data_dir(), "watcher.pause")
        if until is None:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            return None
        fileio.atomic_write(path, "%d\n" % int(until), 0o644)
        return until

    def m_PickupJob(self, args):
        raise errors.GenericError("Luxi call 'PickupJob' is for internal use only")

    # -- the socket ------------------------------------------------------------
    async def handle_client(self, reader, writer):
        buffer = b""
        try:
            while True:
                chunk = await reader.read(65536)
                if not chunk:
                    break
                buffer += chunk
                while True:
                    pos = buffer.find(luxi.EOM)
                    if pos < 0:
                        break
                    raw, buffer = buffer[:pos], buffer[pos + 1:]
                    reply = await self.dispatch(raw)
                    writer.write(reply)
                    await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def dispatch(self, raw):
        try:
            try:
                request = json.loads(raw)
            except ValueError as err:
                raise ParseFailure("Unable to parse JSON: %s" % err)
            if not isinstance(request, dict) or "method" not in request or "args" not in request:
                raise ParseFailure("Invalid LUXI request: expected an object with method and args")
            method = request["method"]
            args = request["args"]
            if not isinstance(method, str) or method not in luxi.REQ_ALL:
                raise ParseFailure("Unable to parse LUXI request method: Invalid string value"
                                   " for type LuxiReq: %s" % json.dumps(method))
            if not isinstance(args, list):
                raise ParseFailure("Invalid LUXI request: args must be a list")
            handler = getattr(self, "m_" + method, None)
            if handler is None:
                raise errors.GenericError("Luxi call '%s' is not supported" % method)
            result = handler(args)
            if asyncio.iscoroutine(result):
                result = await result
            return luxi.encode_reply(True, result)
        except ParseFailure as err:
            return luxi.encode_reply(False, "Failed to parse request: %s" % err.args[0])
        except errors.GenericError as err:
            return luxi.encode_reply(False, errors.encode(err))
        except Exception as err:   # a bug must not take the daemon down
            log.exception("error handling a request")
            return luxi.encode_reply(False, errors.encode(errors.GenericError(
                "Internal error: %s: %s" % (type(err).__name__, err))))

    # -- main ------------------------------------------------------------------
    async def serve(self, ready=None):
        self.loop = asyncio.get_running_loop()
        apply_settings()
        self.lock_queue()
        fileio.ensure_dir(paths.log_dir(), 0o750)
        self.joblog_fd = os.open(os.path.join(paths.log_dir(), "jobs.log"),
                                 os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
        self.load_config()
        self.check_master()
        self.writer = DurableWriter(self.loop)
        self.watcher = inotify.Watcher()
        self.watcher.add(paths.queue_dir(), inotify.IN_MOVED_TO | inotify.IN_CLOSE_WRITE)
        self.watcher.add(paths.data_dir(), inotify.IN_MOVED_TO | inotify.IN_CLOSE_WRITE)
        self.loop.add_reader(self.watcher.fileno(), self.on_inotify)
        from qganeti import replicate
        self.replicator = replicate.Replicator(log)
        self.replicator.config_changed(self.cfg)
        self.recover()
        sock_path = paths.luxi_socket()
        fileio.ensure_dir(os.path.dirname(sock_path), 0o770)
        try:
            os.unlink(sock_path)
        except FileNotFoundError:
            pass
        old_umask = os.umask(0o117)
        try:
            self.server = await asyncio.start_unix_server(self.handle_client, sock_path,
                                                          limit=1 << 24)
        finally:
            os.umask(old_umask)
        os.chmod(sock_path, 0o660)
        stop = self.stopping = self.loop.create_future()
        for signum in (signal.SIGTERM, signal.SIGINT):
            self.loop.add_signal_handler(signum, lambda: stop.done() or stop.set_result(None))
        self.loop.call_later(LIVENESS_INTERVAL, self.check_adopted)
        self.schedule()
        if ready:
            ready()
        log.info("luxid serving on %s", sock_path)
        await stop
        self.server.close()
        self.replicator.stop()
        try:
            os.unlink(sock_path)
        except FileNotFoundError:
            pass
        log.info("luxid stopped (running jobs go on)")


def _args(args, count, method):
    if len(args) != count:
        raise ParseFailure("%s: expected %d arguments, got %d" % (method, count, len(args)))
    return args


def _job_id(value):
    if isinstance(value, bool):
        raise ParseFailure("Invalid job id %r" % (value,))
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    raise ParseFailure("Invalid job id %s" % json.dumps(value))


def watcher_paused_until():
    text = fileio.read_first_line(os.path.join(paths.data_dir(), "watcher.pause"))
    if not text:
        return None
    try:
        until = float(text)
    except ValueError:
        return None
    return until if until > time.time() else None
