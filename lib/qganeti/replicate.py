"""The master's state on the other nodes: who gets what, and the pushing.

    config.data and the job queue   to the online master candidates
    ssconf files and known_hosts    to every online node

A push is one node/files-receive call (membership.receive on the node)
with the current content of the files, read when the push leaves: a
receiver keeps the config with the highest serial_no, so pushes that
overtake each other do no harm.  redistribute() pushes synchronously (node
add, gnt-cluster redist-conf); the Replicator does it asynchronously for
luxid, after every change it sees (inotify on config.data and the queue):
one worker thread per node coalesces what piled up while it was busy and
retries a node that does not answer, so a slow or dead node delays no one.
"""

import os
import threading
import time

from qganeti import errors, fileio, paths

PUSH_TIMEOUT = 60.0
COALESCE = 0.1
RETRY_MIN = 2.0
RETRY_MAX = 60.0


def _me(cfg):
    return cfg["cluster"]["master_node"]


def candidates(cfg):
    """UUIDs of the online master candidates other than the master."""
    return sorted(u for u, n in cfg["nodes"].items()
                  if n.get("master_candidate") and not n.get("offline") and u != _me(cfg))


def online_others(cfg):
    """UUIDs of every online node other than the master."""
    return sorted(u for u, n in cfg["nodes"].items() if not n.get("offline") and u != _me(cfg))


def shared_files(cfg):
    """What every node gets: {"ssconf": {...}, "known_hosts": text}."""
    from qganeti import ssconf, sshkeys
    return {"ssconf": ssconf.compute(cfg),
            "known_hosts": fileio.read_file(sshkeys.known_hosts_file(), "")}


def config_text():
    return fileio.read_file(paths.config_file())


def job_payload(job_ids=None, archived_ids=()):
    """{"jobs": {id: text or None}, "archived": {...}, "queue_serial": n}."""
    from qganeti import jqueue
    if job_ids is None:
        job_ids = jqueue.live_job_ids()
    jobs = {}
    for jid in job_ids:
        text = fileio.read_file(jqueue.job_file(jid))
        if text is None and os.path.exists(jqueue.archived_file(jid)):
            archived_ids = list(archived_ids) + [jid]
            continue
        jobs[str(jid)] = text
    archived = {}
    for jid in archived_ids:
        text = fileio.read_file(jqueue.archived_file(jid))
        if text is not None:
            archived[str(jid)] = text
    return {"jobs": jobs, "archived": archived, "queue_serial": jqueue.read_serial()}


def push(cfg, uuid, payload, timeout=PUSH_TIMEOUT):
    """One files-receive call; its answer (NodeCallError if the node fails)."""
    from qganeti import nodecall
    return nodecall.run(cfg, uuid, "files-receive", input=payload, timeout=timeout)


def redistribute(cfg, nodes=None, force=False, with_jobs=False):
    """Push config (candidates), ssconf and known_hosts (all) now; {uuid: error}."""
    from qganeti import nodecall
    wanted = set(online_others(cfg) if nodes is None else nodes) - {_me(cfg)}
    mcs = set(candidates(cfg)) & wanted
    common = dict(shared_files(cfg), force=force)
    mc_payload = dict(common, config=config_text())
    if with_jobs:
        mc_payload.update(job_payload())
    failures = {}
    for group, payload in ((sorted(mcs), mc_payload), (sorted(wanted - mcs), common)):
        if not group:
            continue
        answers = nodecall.run_many(cfg, group, "files-receive", input=payload,
                                    timeout=PUSH_TIMEOUT)
        for uuid, answer in answers.items():
            if isinstance(answer, errors.GenericError):
                failures[uuid] = answer
    return failures


class _Worker:
    """Pushes to one node what is pending for it, in its own thread."""

    def __init__(self, owner, uuid):
        self.owner = owner
        self.uuid = uuid
        self.cond = threading.Condition()
        self.config = False
        self.shared = False
        self.jobs = set()
        self.archived = set()
        self.all_jobs = False
        self.stopped = False
        self.failures = 0
        self.stream = None         # the node's files-receive --stream, once started
        self.thread = threading.Thread(target=self.run, name="replicate-%s" % uuid[:8],
                                       daemon=True)
        self.thread.start()

    def want(self, config=False, shared=False, jobs=(), archived=(), all_jobs=False):
        with self.cond:
            self.config |= config
            self.shared |= shared
            self.all_jobs |= all_jobs
            self.jobs.update(jobs)
            self.archived.update(archived)
            self.cond.notify()

    def stop(self):
        with self.cond:
            self.stopped = True
            self.cond.notify()
        if self.stream is not None:
            self.stream.kill()

    def _pending(self):
        return self.config or self.shared or self.jobs or self.archived or self.all_jobs

    def run(self):
        while True:
            with self.cond:
                while not self.stopped and not self._pending():
                    self.cond.wait()
                # let a burst of changes (a job's log lines) go out as one push
                self.cond.wait_for(lambda: self.stopped, timeout=COALESCE)
                if self.stopped:
                    return
                config, shared, all_jobs = self.config, self.shared, self.all_jobs
                jobs, archived = self.jobs, self.archived
                self.config = self.shared = self.all_jobs = False
                self.jobs, self.archived = set(), set()
            try:
                self.owner.push_now(self.uuid, config, shared, None if all_jobs else jobs,
                                    archived, bool(jobs or archived or all_jobs))
                self.failures = 0
            except Exception as err:   # noqa: BLE001 - keep it for the next try
                self.failures += 1
                self.owner.log.warning("replication to node %s failed (%d): %s",
                                       self.uuid, self.failures, err)
                self.want(config, shared, jobs, archived, all_jobs)
                delay = min(RETRY_MAX, RETRY_MIN * 2 ** min(self.failures - 1, 5))
                with self.cond:
                    self.cond.wait_for(lambda: self.stopped, timeout=delay)


class Replicator:
    """luxid's asynchronous replication (see the module's docstring)."""

    def __init__(self, log):
        self.log = log
        self.lock = threading.Lock()
        self.cfg = None
        self.workers = {}          # uuid -> _Worker
        self.mcs = set()
        self.pushes = 0

    def config_changed(self, cfg):
        """A new config.data (or the first): re-plan the workers and push."""
        if cfg is None:
            return
        with self.lock:
            self.cfg = cfg
            others = set(online_others(cfg))
            new_mcs = set(candidates(cfg))
            for uuid in list(self.workers):
                if uuid not in others:
                    self.workers.pop(uuid).stop()
            fresh_mcs = new_mcs - self.mcs
            self.mcs = new_mcs
            for uuid in others:
                worker = self.workers.get(uuid)
                new = worker is None
                if new:
                    worker = self.workers[uuid] = _Worker(self, uuid)
                mc = uuid in new_mcs
                worker.want(config=mc, shared=True, all_jobs=mc and (new or uuid in fresh_mcs))

    def job_changed(self, jid, archived=False):
        with self.lock:
            for uuid in self.mcs:
                worker = self.workers.get(uuid)
                if worker is not None:
                    if archived:
                        worker.want(archived=(jid,))
                    else:
                        worker.want(jobs=(jid,))

    def stop(self):
        with self.lock:
            for worker in self.workers.values():
                worker.stop()
            self.workers = {}

    def push_now(self, uuid, config, shared, jobs, archived, send_jobs):
        with self.lock:
            cfg = self.cfg
        if cfg is None or uuid not in cfg["nodes"]:
            return
        payload = {}
        if shared:
            payload.update(shared_files(cfg))
        if config:
            payload["config"] = config_text()
        if send_jobs:
            payload.update(job_payload(None if jobs is None else sorted(jobs),
                                       sorted(archived)))
        if not payload:
            return
        started = time.monotonic()
        answer = self.stream_push(cfg, uuid, payload)
        self.pushes += 1
        self.log.debug("replicated to %s in %.3fs: %s", uuid, time.monotonic() - started,
                       answer)

    def stream_push(self, cfg, uuid, payload):
        """Push over the node's kept `files-receive --stream` (one per node:
        no process start for every push); started again if it went away."""
        from qganeti import fastjson, nodecall
        worker = self.workers.get(uuid)
        proc = getattr(worker, "stream", None)
        if proc is None or not proc.alive():
            proc = nodecall.spawn(cfg, uuid, "node/files-receive", ["--stream"],
                                  keep_stdin=True)
            if worker is not None:
                worker.stream = proc
        try:
            proc.write(fastjson.dumps(payload).encode("utf-8") + b"\n")
            line = proc.readline(PUSH_TIMEOUT)
        except errors.GenericError:
            proc.kill()
            if worker is not None:
                worker.stream = None
            raise
        if line is None:
            if worker is not None:
                worker.stream = None
            raise errors.OpExecError("node %s: files-receive ended" % uuid)
        answer = fastjson.loads(line)
        if isinstance(answer, dict) and answer.get("error"):
            raise errors.OpExecError("node %s: %s" % (uuid, answer["error"]))
        return answer
