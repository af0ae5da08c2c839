"""What the gnt-* commands share, worded as Ganeti's CLI.

A command program declares a table

    commands = {"name": (function, (min_args, max_args), [options],
                         "usage of the arguments", "what it does")}

and calls main(commands, aliases). The function gets (opts, args) and
returns the exit code. Jobs are submitted over LUXI and followed as
Ganeti's client does (log messages on stdout with their time, "Job N is
waiting in queue" on stderr, the opcode's error as the command's failure).
"""

import optparse
import os
import sys
import time

from qganeti import errors, fileio, jqueue, luxi, paths

EXIT_SUCCESS = 0
EXIT_FAILURE = 1
EXIT_NOTCLUSTER = 5
EXIT_NOTMASTER = 11
EXIT_NODESETUP_ERROR = 12
EXIT_CONFIRMATION = 13
EXIT_UNKNOWN_FIELD = 14

ARGS_NONE = (0, 0)
ARGS_ONE = (1, 1)
ARGS_ANY = (0, None)
ARGS_AT_LEAST_ONE = (1, None)

_PRIORITIES = {"low": jqueue.PRIO_LOW, "normal": jqueue.PRIO_DEFAULT, "high": jqueue.PRIO_HIGH}


class JobSubmitted(Exception):
    """--submit: the job is queued; print its id and stop."""


def out(text="", *args):
    sys.stdout.write((text % args if args else text) + "\n")


def err(text="", *args):
    sys.stderr.write((text % args if args else text) + "\n")


# -- options (Ganeti's names, flags and defaults) -------------------------

def _check_unit(option, opt, value):
    from qganeti import listing
    try:
        return listing.parse_unit(value)
    except errors.GenericError as exc:
        raise optparse.OptionValueError("option %s: %s" % (opt, exc))


def _check_keyval(option, opt, value):
    from qganeti import listing
    try:
        return listing.parse_keyval(value, opt)
    except errors.GenericError as exc:
        raise optparse.OptionValueError("option %s: %s" % (opt, exc))


def _check_ident_keyval(option, opt, value):
    from qganeti import listing
    try:
        return listing.parse_ident_keyval(value, opt)
    except errors.GenericError as exc:
        raise optparse.OptionValueError("option %s: %s" % (opt, exc))


def _check_bool(option, opt, value):
    value = value.lower()
    if value in ("yes", "true", "on", "1"):
        return True
    if value in ("no", "false", "off", "0"):
        return False
    raise optparse.OptionValueError("option %s: invalid yes/no value '%s'" % (opt, value))


def _check_list(option, opt, value):
    return [item for item in value.split(",") if item] if value else []


class Option(optparse.Option):
    TYPES = optparse.Option.TYPES + ("unit", "keyval", "identkeyval", "bool", "list")
    TYPE_CHECKER = dict(optparse.Option.TYPE_CHECKER, unit=_check_unit, keyval=_check_keyval,
                        identkeyval=_check_ident_keyval, bool=_check_bool, list=_check_list)


option = Option

DEBUG_OPT = option("-d", "--debug", default=0, action="count", help="Turn debugging on")
REASON_OPT = option("--reason", default=None, help="The reason for executing the command")
SUBMIT_OPT = option("--submit", dest="submit_only", default=False, action="store_true",
                    help="Submit the job and return the job ID, but don't wait for the job to"
                    " finish")
PRINT_JOBID_OPT = option("--print-jobid", dest="print_jobid", default=False,
                         action="store_true", help="Additionally print the job as first line"
                         " on stdout (for scripting).")
SUBMIT_OPTS = [SUBMIT_OPT, PRINT_JOBID_OPT]
DRY_RUN_OPT = option("--dry-run", default=False, action="store_true",
                     help="Do not execute the operation, just run the check steps and verify"
                     " if it could be executed")
PRIORITY_OPT = option("--priority", default=None, dest="priority",
                      choices=list(_PRIORITIES), help="Priority for opcode processing")
FORCE_OPT = option("-f", "--force", dest="force", action="store_true", default=False,
                   help="Force the operation")
YES_DOIT_OPT = option("--yes-do-it", "--ya-rly", dest="yes_do_it", default=False,
                      action="store_true", help="Really do it (be careful)")
NOHDR_OPT = option("--no-headers", default=False, action="store_true", dest="no_headers",
                   help="Don't display column headers")
SEP_OPT = option("--separator", default=None, action="store", dest="separator",
                 help="Separator between output fields (defaults to one space)")
USEUNITS_OPT = option("--units", default=None, dest="units", choices=("h", "m", "g", "t"),
                      help="Specify units for output (one of h/m/g/t)")
FIELDS_OPT = option("-o", "--output", dest="output", action="store", type="string",
                    metavar="FIELDS", help="Comma separated list of output fields")
VERBOSE_OPT = option("-v", "--verbose", default=False, action="store_true",
                     help="Increase the verbosity of the operation")
FILTER_OPT = option("-F", "--filter", dest="force_filter", default=False, action="store_true",
                    help="Whether command argument should be treated as filter")
INTERVAL_OPT = option("--interval", dest="interval", type="int", default=None,
                      help="Time in seconds between repetitions of the command")
TAG_SRC_OPT = option("--from", dest="tags_source", default=None,
                     help="File with tag names")

COMMON_OPTS = [DEBUG_OPT, REASON_OPT]


# -- LUXI -----------------------------------------------------------------

def get_client():
    """A LUXI client, or Ganeti's errors when there is no master here."""
    try:
        client = luxi.Client()
        client._connect()
        return client
    except errors.NoMasterError:
        master = fileio.read_first_line(paths.ssconf_file("master_node"))
        if not master:
            raise errors.OpPrereqError("Cluster not initialized or this machine is not part"
                                       " of a cluster", errors.ECODE_INVAL)
        if master != paths.hostname():
            raise errors.OpPrereqError("This is not the master node, please connect to node"
                                       " '%s' and rerun the command" % master,
                                       errors.ECODE_INVAL)
        raise


# -- jobs -------------------------------------------------------------------

def set_generic_opcode_opts(ops, opts):
    if opts is None:
        return
    for op in ops:
        if getattr(opts, "dry_run", False):
            op["dry_run"] = True
        if getattr(opts, "debug", 0):
            op["debug_level"] = opts.debug
        prio = getattr(opts, "priority", None)
        if prio is not None:
            op["priority"] = _PRIORITIES[prio]
        op["reason"] = list(op.get("reason") or []) + list(getattr(opts, "reason_trail", []))


def format_log_message(log_type, message):
    if log_type == jqueue.ELOG_MESSAGE:
        return str(message)
    return str(message)


class Reporter:
    """Ganeti's StdioJobPollReportCb: log lines on stdout, waiting notices on stderr."""

    def __init__(self):
        self.notified_queued = False
        self.notified_waitlock = False

    def log_message(self, job_id, serial, timestamp, log_type, message):
        out("%s %s", time.ctime(timestamp[0] + timestamp[1] / 1e6),
            format_log_message(log_type, message))

    def not_changed(self, job_id, status):
        if status == jqueue.QUEUED and not self.notified_queued:
            err("Job %s is waiting in queue", job_id)
            self.notified_queued = True
        elif status == jqueue.WAITING and not self.notified_waitlock:
            err("Job %s is trying to acquire all necessary locks", job_id)
            self.notified_waitlock = True


def _maybe_raise(result):
    exc = errors.decode(result)
    if exc is not None:
        raise exc


def poll_job(job_id, client=None, reporter=None):
    """Follow a job to its end; its opcodes' results, or its error raised."""
    client = client or get_client()
    reporter = reporter or Reporter()
    prev_info = None
    prev_serial = None
    status = None
    while True:
        result = client.WaitForJobChange(job_id, ["status"], prev_info, prev_serial)
        if not result:
            raise errors.JobLost("Job with id %s lost" % job_id)
        if result == "nochange":
            reporter.not_changed(job_id, status)
            continue
        info, entries = result
        (status,) = info
        if entries:
            for serial, timestamp, log_type, message in entries:
                reporter.log_message(job_id, serial, timestamp, log_type, message)
                prev_serial = serial if prev_serial is None else max(prev_serial, serial)
        elif status in jqueue.FINALIZED or status == jqueue.CANCELING:
            break
        prev_info = info
    rows = client.QueryJobs([job_id], ["status", "opstatus", "opresult"])
    if not rows or rows[0] is None:
        raise errors.JobLost("Job with id %s lost" % job_id)
    status, opstatus, results = rows[0]
    if status == jqueue.SUCCESS:
        return results
    if status in (jqueue.CANCELING, jqueue.CANCELED):
        raise errors.OpExecError("Job was canceled")
    has_ok = False
    for idx, (st, msg) in enumerate(zip(opstatus, results)):
        if st == jqueue.SUCCESS:
            has_ok = True
        elif st == jqueue.ERROR:
            _maybe_raise(msg)
            if has_ok:
                raise errors.OpExecError("partial failure (opcode %d): %s" % (idx, msg))
            raise errors.OpExecError(str(msg))
    raise errors.OpExecError(str(results))


def send_job(ops, client=None):
    client = client or get_client()
    return client.SubmitJob(ops)


def submit_opcodes(ops, opts=None, client=None, reporter=None):
    """Submit one job of OPS, wait for it; the list of results."""
    client = client or get_client()
    set_generic_opcode_opts(ops, opts)
    job_id = send_job(ops, client)
    if opts is not None and getattr(opts, "print_jobid", False):
        out("%d", job_id)
    return poll_job(job_id, client, reporter)


def submit_opcode(op, opts=None, client=None):
    return submit_opcodes([op], opts, client)[0]


def submit_or_send(op, opts, client=None):
    """Ganeti's SubmitOrSend: with --submit print the job id, else wait."""
    if getattr(opts, "submit_only", False):
        client = client or get_client()
        set_generic_opcode_opts([op], opts)
        raise JobSubmitted(send_job([op], client))
    return submit_opcode(op, opts, client)


def op(op_id, **params):
    """An opcode dict (parameters left at None are left out)."""
    result = {"OP_ID": op_id}
    result.update((k, v) for k, v in params.items() if v is not None)
    return result


# -- confirmation -----------------------------------------------------------

def ask_user(text, choices=None):
    """Ganeti's AskUser: y/n on the terminal; False without one."""
    if choices is None:
        choices = [("y", True, "Perform the operation"), ("n", False, "Do not perform the operation")]
    try:
        tty = open("/dev/tty", "a+")
    except OSError:
        return choices[-1][1]
    with tty:
        keys = "/".join(c[0] for c in choices) + "/?"
        while True:
            tty.write("%s (%s) " % (text, keys))
            tty.flush()
            line = tty.readline(2).strip().lower()
            for key, value, _ in choices:
                if line == key:
                    return value
            if line == "?":
                for key, _, desc in choices:
                    tty.write(" %s - %s\n" % (key, desc))


# -- command dispatch ---------------------------------------------------------

def _show_usage(binary, commands):
    out("Usage: %s {command} [options...] [argument...]", binary)
    out("%s <command> --help to see details, or man %s", binary, binary)
    out("")
    out("Commands:")
    width = min(60, max(len(c) for c in commands) + 1)
    for name in sorted(commands):
        text = " %s" % name
        out("%-*s - %s", width, text, commands[name][4])


def _check_args(cmd, spec, args):
    low, high = spec
    if low == high and len(args) != low:
        err("Error: Command %s expects %d argument(s)", cmd, low)
        return False
    if low is not None and len(args) < low:
        err("Error: Command %s expects at least %d argument(s)", cmd, low)
        return False
    if high is not None and len(args) > high:
        err("Error: Command %s expects at most %d argument(s)", cmd, high)
        return False
    return True


def _log_command(argv):
    try:
        fileio.ensure_dir(paths.log_dir(), 0o750)
        with open(os.path.join(paths.log_dir(), "commands.log"), "a") as handle:
            handle.write("%s pid=%d uid=%d: %s\n" % (time.strftime("%Y-%m-%d %H:%M:%S"),
                                                     os.getpid(), os.getuid(), argv))
    except OSError:
        pass   # logging must never stop a command


def main(commands, aliases=None, argv=None):
    argv = list(sys.argv if argv is None else argv)
    binary = os.path.basename(argv[0])
    aliases = aliases or {}
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        _show_usage(binary, commands)
        sys.exit(EXIT_SUCCESS if len(argv) >= 2 else EXIT_FAILURE)
    if argv[1] == "--version":
        from qganeti import luxiquery
        out("%s (qganeti %s) %s", binary, "qganeti", luxiquery.SOFTWARE_VERSION)
        sys.exit(EXIT_SUCCESS)
    cmd = aliases.get(argv[1], argv[1])
    if cmd not in commands:
        err("Unknown command '%s'", argv[1])
        _show_usage(binary, commands)
        sys.exit(EXIT_FAILURE)
    func, argspec, options, usage, description = commands[cmd]
    parser = optparse.OptionParser(prog="%s %s" % (binary, cmd), option_class=Option,
                                   usage="%%prog %s" % usage, description=description,
                                   option_list=list(options) + COMMON_OPTS,
                                   add_help_option=True)
    parser.set_defaults(reason=None)
    opts, args = parser.parse_args(argv[2:])
    if not _check_args(cmd, argspec, args):
        sys.exit(EXIT_FAILURE)
    now = time.time_ns()
    opts.reason_trail = []
    if getattr(opts, "reason", None):
        opts.reason_trail.append(["gnt:user", opts.reason, now])
    opts.reason_trail.append(["gnt:client:%s" % binary, cmd, now])
    _log_command(argv)
    try:
        code = func(opts, args)
    except JobSubmitted as job:
        out("JobID: %s", job.args[0])
        code = EXIT_SUCCESS
    except errors.GenericError as exc:
        code, text = errors.format_error(exc)
        err(text)
        if getattr(opts, "debug", 0):
            import traceback
            traceback.print_exc()
    except KeyboardInterrupt:
        err("Aborted. Note that if the operation created any jobs, they might have been"
            " submitted and will continue to run in the background.")
        code = EXIT_FAILURE
    except BrokenPipeError:
        # the reader went away (`| head`): stop quietly, as shell tools do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        code = EXIT_FAILURE
    sys.exit(code or 0)


# -- list helpers -------------------------------------------------------------

def generic_list(resource, fields, names, unit, separator, header, *, verbose=False,
                 force_filter=False, column_format=None, qfilter=None, numeric=False):
    """Ganeti's GenericList: query RESOURCE and print the table; the exit code."""
    from qganeti import listing, qlang
    name_filter = qlang.make_filter(names, force_filter=force_filter, numeric=numeric)
    if qfilter and name_filter:
        qfilter = ["&", name_filter, qfilter]
    elif name_filter:
        qfilter = name_filter
    result = get_client().Query(resource, fields, qfilter)
    warning = listing.unknown_fields_warning(result)
    if warning:
        err(warning)
    for line in listing.format_query(result, headers=header, separator=separator, units=unit,
                                     verbose=verbose, column_format=column_format):
        out(line)
    status = listing.query_status(result)
    if status == listing.QR_UNKNOWN:
        return EXIT_UNKNOWN_FIELD
    return EXIT_SUCCESS


def generic_list_fields(resource, fields, separator, header):
    from qganeti import listing
    result = get_client().QueryFields(resource, fields or None)
    warning = listing.unknown_fields_warning(result)
    if warning:
        err(warning)
    for line in listing.format_fields(result["fields"], headers=header, separator=separator):
        out(line)
    return EXIT_UNKNOWN_FIELD if listing.unknown_fields(result) else EXIT_SUCCESS


def parse_fields(selected, default):
    from qganeti import listing
    return listing.parse_fields(selected, default)


# -- Ganeti's generic (YAML-like) info output ---------------------------------

def _serialize_info(buf, data, level, afterkey, align):
    indent = "  "
    if isinstance(data, dict) or (isinstance(data, list) and data and isinstance(data[0], tuple)):
        items = sorted(data.items()) if isinstance(data, dict) else data
        if not items:
            buf.append("\n")
            return
        if afterkey:
            buf.append("\n")
        for pos, (key, value) in enumerate(items):
            if afterkey or pos:
                buf.append(indent * level)
            label = "%s: " % key
            if align and key in align:
                label = label.ljust(align[key])
            buf.append(label)
            _serialize_info(buf, value, level + 1, True, align)
    elif isinstance(data, list):
        if not data:
            buf.append("\n")
            return
        if afterkey:
            buf.append("\n")
        for pos, item in enumerate(data):
            if afterkey or pos:
                buf.append(indent * level)
            buf.append("- ")
            _serialize_info(buf, item, level + 1, False, align)
    else:
        buf.append(str(data))
        buf.append("\n")


def format_generic_info(data, align=None):
    """Ganeti's PrintGenericInfo text: dicts (sorted), lists of (key, value)
    pairs (in order) and lists, indented by two spaces a level."""
    buf = []
    _serialize_info(buf, data, 0, False, align)
    return "".join(buf).rstrip("\n")


def print_generic_info(data, align=None):
    out(format_generic_info(data, align))
