"""What every op program does around its opcode's logic.

An op program (libexec/qganeti/op/<name>) hands main() the module of
lib/qganeti/lu/ that holds its opcode's logic, in up to three functions:

    expand(op, ctx) -> [(lock, mode), ...]   argument checks; the locks it needs
    check(op, ctx)                           prerequisites, with the locks held
    run(op, ctx) -> result                   the work

Run by luxid as `op/<name> --job N [--op-index I] --param value ...`, it
claims opcode I of job N (a flock on its live-lock file, so it never runs
twice), records its progress in the job file (status, log, result), takes
its locks, and exits 0 on success. Run by hand without --job it does the
same work in the foreground, logging on stderr.

Signals (from luxid, or a user): SIGUSR2 cancels a job still waiting for
its locks; SIGTERM kills it at any point: the op's undo steps run and the
job ends `canceled`. SIGHUP wakes a lock waiter; SIGUSR1 says the job's
priority changed.
"""

import os
import sys
import time

try:   # the C module: `signal` itself pulls in enum, a few ms per process
    import _signal as signal
except ImportError:  # pragma: no cover
    import signal

from qganeti import errors, jqueue, opcodes

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 100
EXIT_SYSTEM = 111

CANCELED_RESULT = "Job canceled by request"


class JobsResult:
    """What an opcode returns to have more jobs submitted (Ganeti's ResultWithJobs).

    jobrun submits JOBS (lists of opcode dicts) and the opcode's result
    becomes {"jobs": [[true, id] | [false, error], ...], **extra}.
    """

    def __init__(self, jobs, **extra):
        self.jobs = jobs
        self.extra = extra


class JobKilled(BaseException):
    """SIGTERM: stop now, undo what was half done (not an Exception on purpose)."""


class _CancelRequested(BaseException):
    """SIGUSR2 while waiting for locks."""


class Context:
    """What an op program's functions get besides the opcode."""

    def __init__(self, opdef, job_id=None, op_index=0, feedback=None):
        self.opdef = opdef
        self.job_id = job_id
        self.op_index = op_index
        self._feedback = feedback
        self._undo = []
        self._config = None
        self.owner = None
        self.waiting_for_locks = False
        self.cancel_requested = False

    # -- logging
    def feedback(self, message, log_type=jqueue.ELOG_MESSAGE):
        self._feedback(log_type, message)

    def log_info(self, message, *args):
        self.feedback(message % args if args else message)

    def log_warning(self, message, *args):
        self.feedback("WARNING: " + (message % args if args else message))

    # -- undo: steps registered here run, newest first, if the op fails or is killed
    def undo(self, fn, *args):
        self._undo.append((fn, args))

    def run_undo(self):
        while self._undo:
            fn, args = self._undo.pop()
            try:
                fn(*args)
            except Exception as err:  # keep undoing the rest
                sys.stderr.write("undo step %s failed: %s\n" % (getattr(fn, "__name__", fn), err))

    def forget_undo(self):
        self._undo = []

    def drop_last_undo(self):
        """The step the last undo was registered for did not happen after all
        (it failed without creating anything): its undo must not run."""
        self._undo.pop()

    # -- config
    def config(self, reload=False):
        if self._config is None or reload:
            from qganeti import config
            self._config = config.load()
        return self._config

    def commit(self, changes):
        """Apply config CHANGES (see qganeti.config); the cached config is dropped."""
        from qganeti import config
        self._config = None
        return config.commit(changes)

    def update(self, fn):
        from qganeti import config
        self._config = None
        return config.update(fn)

    def node_call(self, node, action, args=(), input=None, timeout=None):
        from qganeti import nodecall
        return nodecall.run(self.config(), node, action, args, input, timeout)

    # -- locks
    def acquire(self, requests, at_least=None):
        if not requests:
            return []
        from qganeti import locks
        self.waiting_for_locks = True
        try:
            if self.cancel_requested:
                raise _CancelRequested()
            return locks.acquire(self.owner, requests, wait=True, at_least=at_least,
                                 priority=self.priority)
        finally:
            self.waiting_for_locks = False

    def release(self, names=None):
        if self.owner is not None:
            from qganeti import locks
            locks.release(self.owner, names)

    priority = jqueue.PRIO_DEFAULT


def _usage(opdef, prog):
    lines = ["Usage: %s [--job ID [--op-index N]] [--dry-run] [PARAMETERS]" % prog, "",
             "%s: %s" % (opdef.op_id, opdef.doc or ""), "", "Parameters:"]
    for param in opdef.params:
        if param.secret:
            continue
        if param.type.is_bool:
            form = "%s | --no-%s" % (param.option, param.option[2:])
        else:
            form = "%s %s" % (param.option, param.type.desc.upper().replace(" ", "_"))
        default = "required" if param.required else "default %s" % (param.default,)
        lines.append("  %-34s %s (%s)" % (form, param.doc, default))
    return "\n".join(lines) + "\n"


def _die(prog, message, code):
    sys.stderr.write("%s: %s\n" % (prog, message))
    sys.exit(code)


def _exit(code):
    """Leave without the interpreter's teardown (~1.5 ms a process): nothing
    is left to flush but stdio, and every state change is already on disk."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _with_bgl(lu, wanted):
    """Every locking opcode also holds the Big Ganeti Lock, as in Ganeti."""
    if getattr(lu, "REQ_BGL", False):
        return [("cluster/BGL", "exclusive")] + list(wanted)
    if wanted:
        return [("cluster/BGL", "shared")] + list(wanted)
    return wanted


def _hooks(lu, op, ctx, phase, pre=None):
    """Run LU's hooks for PHASE.

    The pre phase returns what the post phase needs: the environment and the
    post-phase nodes, both computed before the operation (as Ganeti's
    HooksMaster does), since an operation may remove its own object. The
    post phase adds GANETI_POST_* variables computed afterwards where the
    object still exists.
    """
    hpath = getattr(lu, "HPATH", None)
    if not hpath:
        return None
    from qganeti import hooks
    htype = getattr(lu, "HTYPE", None)
    if phase == "pre":
        cfg = ctx.config()      # as checked, under the operation's locks
        pre_nodes, post_nodes = lu.hooks_nodes(op, ctx)
        if not (hooks.has_work(cfg, hpath, "pre", pre_nodes)
                or hooks.has_work(cfg, hpath, "post", post_nodes)
                or hasattr(lu, "post_hook_nodes")):
            return None         # no script anywhere: no environment to build
        lu_env = lu.hooks_env(op, ctx) if hasattr(lu, "hooks_env") else {}
        env = hooks.build_env(cfg, hpath, "pre", op["OP_ID"], htype, lu_env)
        failures = hooks.run_phase(cfg, hpath, "pre", env, pre_nodes, ctx.log_warning)
        if failures:
            raise errors.HooksAbort(failures)
        return lu_env, post_nodes
    if pre is None:
        return None
    cfg = ctx.config(reload=True)
    pre_env, post_nodes = pre
    if hasattr(lu, "post_hook_nodes"):     # Ganeti's PreparePostHookNodes
        post_nodes = lu.post_hook_nodes(op, cfg, post_nodes)
    try:
        post_env = lu.hooks_env(op, ctx) if hasattr(lu, "hooks_env") else {}
    except (errors.GenericError, KeyError):
        post_env = pre_env       # the object is gone (a removal): what it was
    env = hooks.build_env(cfg, hpath, "post", op["OP_ID"], htype, pre_env, post_env=post_env)
    try:
        failures = hooks.run_phase(cfg, hpath, "post", env, post_nodes, ctx.log_warning)
    except errors.GenericError as err:   # the operation is done; hooks only report
        ctx.log_warning("Post hooks could not run: %s" % err)
        return None
    for node, script, output in failures:
        ctx.log_warning("On %s script %s failed, output: %s" % (node, script,
                                                                 output or "(no output)"))
    return None


def _submit_result(result, op):
    """Submit the jobs of a JobsResult; the opcode's final result."""
    if not isinstance(result, JobsResult):
        return result
    from qganeti import luxi
    jobs = []
    for ops in result.jobs:
        for sub in ops:
            sub.setdefault("priority", op.get("priority", 0))
            sub.setdefault("comment", "Submitted by %s" % op["OP_ID"])
        jobs.append(ops)
    answer = dict(result.extra)
    answer["jobs"] = luxi.Client().SubmitManyJobs(jobs) if jobs else []
    return answer


def main(op_id, lu):
    prog = os.path.basename(sys.argv[0])
    opdef = opcodes.get(op_id)
    argv = sys.argv[1:]
    if "--help" in argv or "-h" in argv:
        sys.stdout.write(_usage(opdef, prog))
        sys.exit(EXIT_OK)
    job_id = None
    op_index = 0
    rest = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("--job", "--op-index") and i + 1 < len(argv):
            try:
                value = int(argv[i + 1])
            except ValueError:
                _die(prog, "usage: %s needs a number" % arg, EXIT_USAGE)
            if arg == "--job":
                job_id = value
            else:
                op_index = value
            i += 2
            continue
        rest.append(arg)
        i += 1
    try:
        params = opcodes.from_argv(opdef, rest)
    except errors.ParameterError as err:
        _die(prog, "usage: unknown option or bad value: %s" % err.args[0], EXIT_USAGE)
    if job_id is None:
        _exit(_run_by_hand(prog, opdef, params, lu))
    _exit(_JobRun(prog, opdef, job_id, op_index, params).execute(lu))


def _install_signals(ctx, on_priority=None):
    def on_term(signum, frame):
        raise JobKilled()

    def on_cancel(signum, frame):
        ctx.cancel_requested = True
        if ctx.waiting_for_locks:
            raise _CancelRequested()

    def on_wakeup(signum, frame):
        pass   # interrupts a lock waiter's sleep; the waiter re-checks

    def on_prio(signum, frame):
        if on_priority is not None:
            on_priority()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGUSR2, on_cancel)
    signal.signal(signal.SIGHUP, on_wakeup)
    signal.signal(signal.SIGUSR1, on_prio)   # default action would kill us
    return on_cancel


def _no_more_interruptions():
    """Once undoing or recording the end has begun, it must not be cut short."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGUSR2, signal.SIG_IGN)


def _run_by_hand(prog, opdef, params, lu):
    expand = getattr(lu, "expand", None)
    check = getattr(lu, "check", None)
    def feedback(log_type, message):
        if log_type != jqueue.ELOG_MESSAGE:
            message = "%s: %s" % (log_type, message)
        sys.stderr.write("%s %s\n" % (time.ctime(), message))

    ctx = Context(opdef, feedback=feedback)
    _install_signals(ctx)
    livelock = None
    try:
        op = opcodes.validate(dict(params, OP_ID=opdef.op_id))
        wanted = _with_bgl(lu, expand(op, ctx) if expand else [])
        if wanted:
            from qganeti import livelock as livelock_mod, locks
            livelock = livelock_mod.LiveLock("%s-%d" % (prog, os.getpid()))
            ctx.owner = locks.Owner("%s-%d" % (prog, os.getpid()), livelock.path)
            ctx.acquire(wanted)
        if check:
            check(op, ctx)
        if op.get("dry_run"):
            return EXIT_OK
        pre = _hooks(lu, op, ctx, "pre")
        result = _submit_result(lu.run(op, ctx), op)
        ctx.forget_undo()
        _hooks(lu, op, ctx, "post", pre)
        if result is not None:
            import json
            sys.stdout.write(json.dumps(result, indent=1, sort_keys=True) + "\n")
        return EXIT_OK
    except (JobKilled, _CancelRequested, KeyboardInterrupt):
        _no_more_interruptions()
        ctx.run_undo()
        sys.stderr.write("%s: canceled\n" % prog)
        return 128 + 15
    except errors.GenericError as err:
        _no_more_interruptions()
        ctx.run_undo()
        sys.stderr.write("%s\n" % errors.format_error(err)[1])
        return EXIT_FAILED
    finally:
        ctx.release()
        if livelock is not None:
            livelock.close()


class _JobRun:
    def __init__(self, prog, opdef, job_id, op_index, params):
        self.prog = prog
        self.opdef = opdef
        self.job_id = job_id
        self.index = op_index
        self.params = params
        self.job = None
        self.claim_fd = None
        self.claim = jqueue.claim_path(job_id, op_index)

    def _claim(self):
        """Hold the opcode's live-lock; False if another process runs it."""
        import fcntl
        try:
            fd = os.open(self.claim, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except FileNotFoundError:
            os.makedirs(os.path.dirname(self.claim), 0o750, exist_ok=True)
            fd = os.open(self.claim, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, b"%d\n" % os.getpid())   # so a restarted luxid can adopt us
        self.claim_fd = fd
        return True

    def _unclaim(self):
        if self.claim_fd is not None:
            try:
                os.unlink(self.claim)
            except FileNotFoundError:
                pass
            os.close(self.claim_fd)
            self.claim_fd = None

    def _save(self, durable=True):
        jqueue.save(self.job, durable=durable)

    def _feedback(self, log_type, message):
        serial = jqueue.last_log_serial(self.job) + 1
        self.job["ops"][self.index]["log"].append([serial, jqueue.now_ts(), log_type, message])
        # log lines are not worth an fsync each; status changes are
        self._save(durable=False)

    def _finish(self, status, result):
        ops = self.job["ops"]
        now = jqueue.now_ts()
        me = ops[self.index]
        me["status"] = status
        me["result"] = result
        me["end_timestamp"] = now
        if status == jqueue.SUCCESS:
            if self.index == len(ops) - 1:
                self.job["end_timestamp"] = now
        elif status == jqueue.CANCELED:
            jqueue.finalize_rest(self.job, self.index + 1, jqueue.CANCELED, CANCELED_RESULT)
        else:
            jqueue.finalize_rest(self.job, self.index + 1, jqueue.ERROR,
                                 ["OpExecError", ["Preceding opcode failed"]])
        self._save()
        self._log(status)

    def _log(self, what):
        """One line per opcode step in jobs.log (luxid sends our stderr there)."""
        sys.stderr.write("%s job %d op %d %s pid %d: %s\n" % (
            time.strftime("%Y-%m-%d %H:%M:%S"), self.job_id, self.index, self.opdef.op_id,
            os.getpid(), what))

    def _consume_cancel_marker(self):
        try:
            os.unlink(jqueue.cancel_marker(self.job_id))
            return True
        except FileNotFoundError:
            return False

    def execute(self, lu):
        if not self._claim():
            sys.stderr.write("%s: job %d opcode %d is run by another process\n" %
                             (self.prog, self.job_id, self.index))
            return EXIT_FAILED
        try:
            return self._execute(lu)
        finally:
            self._unclaim()

    def _execute(self, lu):
        expand = getattr(lu, "expand", None)
        check = getattr(lu, "check", None)
        self.job = jqueue.load(self.job_id, archived=False)
        if self.job is None:
            sys.stderr.write("%s: fatal: unable to load job %d: no such job\n" %
                             (self.prog, self.job_id))
            return EXIT_USAGE
        ops = self.job["ops"]
        if self.index >= len(ops) or ops[self.index]["input"].get("OP_ID") != self.opdef.op_id:
            sys.stderr.write("%s: fatal: job %d has no %s opcode at index %d\n" %
                             (self.prog, self.job_id, self.opdef.op_id, self.index))
            return EXIT_USAGE
        me = ops[self.index]
        if me["status"] != jqueue.QUEUED:
            # already run (or being finished off by luxid): never run twice
            sys.stderr.write("%s: job %d opcode %d is already %s\n" %
                             (self.prog, self.job_id, self.index, me["status"]))
            return EXIT_OK if me["status"] == jqueue.SUCCESS else EXIT_FAILED

        ctx = Context(self.opdef, self.job_id, self.index, self._feedback)
        ctx.priority = me["priority"]

        def on_priority():
            # luxid left the new priority in a message file; it applies to the
            # opcodes not yet running and is written with the next job file update
            from qganeti import fileio
            text = fileio.read_first_line(jqueue.prio_message(self.job_id))
            try:
                prio = int(text)
            except (TypeError, ValueError):
                return
            for op in self.job["ops"]:
                if op["status"] in (jqueue.QUEUED, jqueue.WAITING):
                    op["priority"] = prio
            ctx.priority = prio

        _install_signals(ctx, on_priority)
        now = jqueue.now_ts()
        me["start_timestamp"] = now
        if self.job["start_timestamp"] is None:
            self.job["start_timestamp"] = now
        self.job["process_id"] = os.getpid()
        self.job["livelock"] = self.claim
        try:
            op = dict(me["input"])
            op.update(self.params)
            op = opcodes.validate(op)
            wanted = _with_bgl(lu, expand(op, ctx) if expand else [])
            if wanted:
                me["status"] = jqueue.WAITING
                self._save()
                from qganeti import locks
                ctx.owner = locks.Owner(self.job_id, self.claim)
                ctx.acquire(wanted)
            me["status"] = jqueue.RUNNING
            me["exec_timestamp"] = jqueue.now_ts()
            me["input"] = op
            self._save()
            self._log("running")
            if self._consume_cancel_marker() or ctx.cancel_requested:
                raise _CancelRequested()
            if check:
                check(op, ctx)
            result = None
            if not op.get("dry_run"):
                pre = _hooks(lu, op, ctx, "pre")
                result = _submit_result(lu.run(op, ctx), op)
                _no_more_interruptions()
                ctx.forget_undo()
                _hooks(lu, op, ctx, "post", pre)
            _no_more_interruptions()
            self._finish(jqueue.SUCCESS, result)
            return EXIT_OK
        except (JobKilled, _CancelRequested):
            _no_more_interruptions()
            ctx.run_undo()
            self._finish(jqueue.CANCELED, CANCELED_RESULT)
            return EXIT_FAILED
        except errors.GenericError as err:
            _no_more_interruptions()
            ctx.run_undo()
            self._finish(jqueue.ERROR, errors.encode(err))
            return EXIT_FAILED
        except Exception as err:
            import traceback
            traceback.print_exc()
            _no_more_interruptions()
            ctx.run_undo()
            self._finish(jqueue.ERROR, ["OpExecError", ["%s: %s" % (type(err).__name__, err)]])
            return EXIT_FAILED
        finally:
            ctx.release()
