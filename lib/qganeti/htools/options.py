"""Command line parsing the way Ganeti's htools do it (GHC's GetOpt).

Options and arguments may be interleaved; long options may be shortened
to any unambiguous prefix; optional arguments must be attached (-C[FILE],
-p[FIELDS], -L[SOCKET], --mond[=CHOICE]); short options bundle (-vvv).
Usage errors print Ganeti's "Command line error: ..." and the usage on
stderr and exit 2; bad option values print "Error while parsing command
line arguments:" and exit 1.
"""

import sys

from qganeti import __version__
from qganeti.htools import hsfmt
from qganeti.htools import consts as C

NOARG, REQARG, OPTARG = range(3)
# -L without a socket ("" in Values.luxi) means our luxid's socket
GANETI_LUXI = "/var/run/ganeti/socket/ganeti-query"


class Opt:
    def __init__(self, shorts, longs, kind, argname, help, completion, action):
        self.shorts = shorts
        self.longs = longs
        self.kind = kind
        self.argname = argname
        self.help = help
        self.completion = completion
        self.action = action     # action(values, arg) -> None; raises OptionError


class OptionError(Exception):
    """A bad option value; the message is Ganeti's."""


class Exit(Exception):
    def __init__(self, code, text="", stream=None):
        super().__init__(text)
        self.code = code
        self.text = text
        self.stream = stream


def version_text(prog):
    return "%s (qganeti) version %s (Ganeti 3.0.2 compatible)\n" % (prog, __version__)


def _fmt_short(opt, char):
    if opt.kind == NOARG:
        return "-" + char
    if opt.kind == REQARG:
        return "-%s %s" % (char, opt.argname)
    return "-%s[%s]" % (char, opt.argname)


def _fmt_long(opt, name):
    if opt.kind == NOARG:
        return "--" + name
    if opt.kind == REQARG:
        return "--%s=%s" % (name, opt.argname)
    return "--%s[=%s]" % (name, opt.argname)


def usage_info(header, opts):
    """GetOpt's usageInfo."""
    rows = []
    for opt in opts:
        shorts = ", ".join(_fmt_short(opt, c) for c in opt.shorts)
        longs = ", ".join(_fmt_long(opt, n) for n in opt.longs)
        lines = opt.help.split("\n") or [""]
        rows.append((shorts, longs, lines[0]))
        rows.extend(("", "", line) for line in lines[1:])
    swidth = max((len(r[0]) for r in rows), default=0)
    lwidth = max((len(r[1]) for r in rows), default=0)
    table = ["  %s  %s  %s" % (s.ljust(swidth), lo.ljust(lwidth), d) for s, lo, d in rows]
    return "".join(line + "\n" for line in [header] + table)


def usage_help(prog, opts):
    return usage_info(version_text(prog).rstrip("\n") + "\nUsage: %s [OPTION...]" % prog,
                      opts)


def completion_info(opts, arguments):
    lines = []
    for opt in opts:
        names = ["-" + c for c in opt.shorts] + ["--" + n for n in opt.longs]
        lines.append("%s %s" % (",".join(names), opt.completion))
    lines.extend(arguments)
    return "".join(line + "\n" for line in lines)


def getopt(argv, opts):
    """GetOpt Permute: ([(opt, arg)], non-options, [error texts])."""
    found, args, errors = [], [], []
    pos = 0
    while pos < len(argv):
        word = argv[pos]
        pos += 1
        if word == "--":
            args.extend(argv[pos:])
            break
        if word.startswith("--"):
            name, eq, value = word[2:].partition("=")
            exact = [o for o in opts if name in o.longs]
            matches = exact or [o for o in opts if any(n.startswith(name) for n in o.longs)]
            if not matches:
                errors.append("unrecognized option `%s'\n" % word)
            elif len(matches) > 1:
                errors.append(usage_info("option `--%s' is ambiguous; could be one of:"
                                         % name, matches))
            else:
                opt = matches[0]
                if opt.kind == NOARG:
                    if eq:
                        errors.append("option `--%s' doesn't allow an argument\n" % name)
                    else:
                        found.append((opt, None))
                elif opt.kind == REQARG:
                    if eq:
                        found.append((opt, value))
                    elif pos < len(argv):
                        found.append((opt, argv[pos]))
                        pos += 1
                    else:
                        errors.append("option `--%s' requires an argument %s\n"
                                      % (name, opt.argname))
                else:
                    found.append((opt, value if eq else None))
        elif word.startswith("-") and word != "-":
            rest = word[1:]
            while rest:
                char, rest = rest[0], rest[1:]
                matches = [o for o in opts if char in o.shorts]
                if not matches:
                    errors.append("unrecognized option `-%s'\n" % char)
                    continue
                opt = matches[0]
                if opt.kind == NOARG:
                    found.append((opt, None))
                    continue
                if opt.kind == OPTARG:
                    found.append((opt, rest or None))
                elif rest:
                    found.append((opt, rest))
                elif pos < len(argv):
                    found.append((opt, argv[pos]))
                    pos += 1
                else:
                    errors.append("option `-%s' requires an argument %s\n"
                                  % (char, opt.argname))
                rest = ""
        else:
            args.append(word)
    return found, args, errors


def parse(prog, argv, opts, values, arguments=()):
    """Ganeti's parseOpts: apply the options to `values` and return the
    non-option arguments; raises Exit for help, version, usage errors."""
    found, args, errors = getopt(argv, opts)
    if errors:
        raise Exit(2, "Command line error: " + "".join(errors) + "\n"
                   + usage_help(prog, opts), sys.stderr)
    for opt, arg in found:
        try:
            opt.action(values, arg)
        except OptionError as exc:
            raise Exit(1, "Error while parsing command line arguments:\n%s\n" % exc,
                       sys.stderr)
    if getattr(values, "show_help", False):
        raise Exit(0, usage_help(prog, opts), sys.stdout)
    if getattr(values, "show_version", False):
        raise Exit(0, version_text(prog), sys.stdout)
    if getattr(values, "show_completion", False):
        raise Exit(0, completion_info(opts, arguments), sys.stdout)
    return args


# -- value conversions (with Ganeti's messages) ------------------------------

def read_int(what, text):
    try:
        return hsfmt.read_int(what, text)
    except hsfmt.ParseError as exc:
        raise OptionError(str(exc))


def read_double(what, text):
    try:
        return hsfmt.read_double(what, text)
    except hsfmt.ParseError as exc:
        raise OptionError(str(exc))


def yes_no(default, text):
    if text is None:
        return default
    if text == "yes":
        return True
    if text == "no":
        return False
    raise OptionError("Invalid choice '%s', pass one of 'yes' or 'no'" % text)


def setter(field, convert=None):
    def action(values, arg):
        setattr(values, field, convert(arg) if convert else arg)
    return action


def flag(field, value=True):
    def action(values, arg):
        setattr(values, field, value)
    return action


def counter(field, step):
    def action(values, arg):
        setattr(values, field, getattr(values, field) + step)
    return action


def appender(field):
    def action(values, arg):
        getattr(values, field).append(arg)
    return action


def split_list(text):
    return text.split(",") if text else []


def print_nodes(values, arg):
    text = arg or ""
    prefix = []
    if text.startswith("+"):
        prefix, text = ["+"], text[1:]
    values.print_nodes = prefix + split_list(text)


def priority(values, arg):
    if arg not in ("low", "normal", "high"):
        raise OptionError("Unknown priority '%s'" % arg)
    values.priority = arg


def max_cpu(values, arg):
    value = read_double("parsing max-cpu", arg)
    if value <= 0:
        raise OptionError("Invalid value of the max-cpu ratio, expected >0")
    values.max_cpu = value


def disk_template(values, arg):
    if arg not in C.DISK_TEMPLATES:
        raise OptionError("Invalid string value for type DiskTemplate: %s"
                          % hsfmt.show_string(arg))
    values.disk_template = C.DISK_TEMPLATES.index(arg)


def spindle_use(values, arg):
    value = read_int("parsing spindle-use", arg)
    if value < 0:
        raise OptionError("Invalid value of the spindle-use (expected >= 0)")
    values.spindle_use = value


def ispec_string(descr, text):
    """CLI.parseISpecString: disk,ram,cpu[,spindles] as (mem, dsk, cpu, spn)."""
    from qganeti.htools.backends import parse_unit
    from qganeti.htools.cluster import LoadError, sep_split
    fields = sep_split(",", text)
    if len(fields) < 3 or len(fields) > 4:
        raise OptionError("Invalid %s specification: '%s', expected disk,ram,cpu"
                          % (descr, text))
    try:
        dsk = parse_unit(fields[0])
    except LoadError as exc:
        raise OptionError("%s specs disk: %s" % (descr, exc))
    try:
        ram = parse_unit(fields[1])
    except LoadError as exc:
        raise OptionError("%s specs memory: %s" % (descr, exc))
    cpu = read_int(descr + " specs cpus", fields[2])
    spn = read_int(descr + " specs spindles", fields[3]) if len(fields) == 4 else 1
    return (ram, dsk, cpu, spn)


def _opt(shorts, longs, kind, argname, help, completion, action):
    return Opt(shorts, longs, kind, argname, help, completion, action)


# The options both programs share, in Ganeti's wording.
O = {
    "print_nodes": _opt("p", ["print-nodes"], OPTARG, "FIELDS", "print the final node list",
                        "none", print_nodes),
    "print_insts": _opt("", ["print-instances"], NOARG, "", "print the final instance map",
                        "none", flag("print_insts")),
    "print_cmds": _opt("C", ["print-commands"], OPTARG, "FILE",
                       "print the ganeti command list for reaching the solution, if an "
                       "argument is passed then write the commands to a file named as such",
                       "none", setter("print_cmds", lambda a: a if a is not None else "-")),
    "data": _opt("t", ["text-data"], REQARG, "FILE", "the cluster data FILE", "file",
                 setter("data_file")),
    "evac": _opt("E", ["evac-mode"], NOARG, "",
                 "enable evacuation mode, where the algorithm only moves instances away "
                 "from offline and drained nodes", "none", flag("evac_mode")),
    "restricted": _opt("", ["restricted-migration"], NOARG, "",
                       "disallow replace-primary moves (aka frf-moves); in evacuation mode, "
                       "this will ensure that the only migrations are off the drained nodes",
                       "none", flag("restricted_migration")),
    "rapi": _opt("m", ["master"], REQARG, "ADDRESS", "collect data via RAPI at the given "
                 "ADDRESS", "host", setter("master")),
    "luxi": _opt("L", ["luxi"], OPTARG, "SOCKET",
                 "collect data via Luxi, optionally using the given SOCKET path "
                 "[$QGANETI_ROOT/var/run/qganeti/socket/ganeti-query]", "file",
                 setter("luxi", lambda a: a or "")),
    "ialloc": _opt("I", ["ialloc-src"], REQARG, "FILE",
                   "Specify an iallocator spec as the cluster data source", "file",
                   setter("ialloc_src")),
    "exec": _opt("X", ["exec"], NOARG, "", "execute the suggested moves via Luxi (only "
                 "available when using it for data gathering)", "none", flag("exec_jobs")),
    "first_job_group": _opt("", ["first-job-group"], NOARG, "",
                            "only execute the first group of jobs", "none",
                            flag("first_job_group")),
    "reason": _opt("", ["reason"], REQARG, "REASON", "The reason to pass to the submitted "
                   "jobs", "none", setter("reason")),
    "group": _opt("G", ["group"], REQARG, "ID", "the target node group (name or UUID)",
                  "onegroup", setter("group")),
    "max_length": _opt("l", ["max-length"], REQARG, "N",
                       "cap the solution at this many balancing or allocation rounds (useful "
                       "for very unbalanced clusters or empty clusters)", "integer",
                       setter("max_length", lambda a: read_int("max solution length", a))),
    "verbose": _opt("v", ["verbose"], NOARG, "", "increase the verbosity level", "none",
                    counter("verbose", 1)),
    "quiet": _opt("q", ["quiet"], NOARG, "", "decrease the verbosity level", "none",
                  counter("verbose", -1)),
    "offline": _opt("O", ["offline"], REQARG, "NODE", "set node as offline", "onenode",
                    appender("offline")),
    "static_kvm": _opt("", ["static-kvm-node-memory"], REQARG, "N",
                       "use static node memory [in MB] on KVM instead of value reported by "
                       "hypervisor. Use 0 to take value reported from hypervisor.", "integer",
                       setter("static_kvm_mem", lambda a: read_int("static node memory", a))),
    "min_score": _opt("e", ["min-score"], REQARG, "EPSILON",
                      "mininum excess to the N+1 limit to aim for", "float",
                      setter("min_score", lambda a: read_double("min score", a))),
    "max_cpu": _opt("", ["max-cpu"], REQARG, "RATIO",
                    "maximum virtual-to-physical cpu ratio for nodes (from 0 upwards) "
                    "[default read from cluster]", "float", max_cpu),
    "min_disk": _opt("", ["min-disk"], REQARG, "RATIO",
                     "minimum free disk space for nodes (between 0 and 1) [0]", "float",
                     setter("min_disk", lambda a: read_double("min free disk space", a))),
    "min_gain": _opt("g", ["min-gain"], REQARG, "DELTA",
                     "minimum gain to aim for in a balancing step before giving up", "float",
                     setter("min_gain", lambda a: read_double("min gain", a))),
    "min_gain_limit": _opt("", ["min-gain-limit"], REQARG, "SCORE",
                           "minimum cluster score for which we start checking the min-gain",
                           "float",
                           setter("min_gain_limit", lambda a: read_double("min gain limit",
                                                                          a))),
    "no_disk_moves": _opt("", ["no-disk-moves"], NOARG, "",
                          "disallow disk moves from the list of allowed instance changes, "
                          "thus allowing only the 'cheap' failover/migrate operations", "none",
                          flag("disk_moves", False)),
    "select": _opt("", ["select-instances"], REQARG, "INSTS",
                   "only select given instances for any moves", "manyinstances",
                   setter("select_instances", split_list)),
    "no_inst_moves": _opt("", ["no-instance-moves"], NOARG, "",
                          "disallow instance (primary node) moves from the list of allowed, "
                          "instance changes, thus allowing only slower, but sometimes safer, "
                          "drbd secondary changes", "none", flag("instance_moves", False)),
    "ignore_soft": _opt("", ["ignore-soft-errors"], NOARG, "",
                        "Ignore any soft restrictions in balancing", "none",
                        flag("ignore_soft_errors")),
    "dynu": _opt("U", ["dynu-file"], REQARG, "FILE",
                 "Import dynamic utilisation data from the given FILE", "file",
                 setter("dynu_file")),
    "ignore_dynu": _opt("", ["ignore-dynu"], NOARG, "",
                        "Ignore any dynamic utilisation information", "none",
                        flag("ignore_dynu")),
    "mond": _opt("", ["mond"], OPTARG, "CHOICE", "pass either 'yes' or 'no' to query all "
                 "monDs", "choices=yes,no", setter("mond", lambda a: yes_no(True, a))),
    "mond_data": _opt("", ["mond-data"], REQARG, "FILE",
                      "Import data provided by MonDs from the given FILE", "file",
                      setter("mond_data")),
    "mond_exit": _opt("", ["exit-on-missing-mond-data"], NOARG, "",
                      "abort if the data available from the monitoring daemons is "
                      "incomplete", "none", flag("mond_exit_missing")),
    "mond_xen": _opt("", ["mond-xen"], NOARG, "",
                     "also consider xen-specific collectors in MonD queries", "none",
                     flag("mond_xen")),
    "ex_tags": _opt("", ["exclusion-tags"], REQARG, "TAG,...",
                    "Enable instance exclusion based on given tag prefix", "string",
                    setter("exclusion_tags", split_list)),
    "exclude": _opt("", ["exclude-instances"], REQARG, "INSTS",
                    "exclude given instances from any moves", "manyinstances",
                    setter("exclude_instances", split_list)),
    "save": _opt("S", ["save"], REQARG, "FILE",
                 "Save cluster state at the end of the processing to FILE", "none",
                 setter("save")),
    "priority": _opt("", ["priority"], REQARG, "PRIO", "set the priority of submitted jobs",
                     "choices=low,normal,high", priority),
    "simulate": _opt("", ["simulate"], REQARG, "SPEC",
                     "simulate an empty cluster, given as 'alloc_policy,num_nodes,disk,ram,"
                     "cpu'", "string", appender("simulate")),
    "no_capacity": _opt("", ["no-capacity-checks"], NOARG, "",
                        "disable capacity checks (like global N+1 redundancy)", "none",
                        flag("capacity", False)),
    "restrict": _opt("", ["restrict-allocation-to"], REQARG, "NODE,...",
                     "Restrict allocations to the given set of nodes", "manynodes",
                     setter("restrict_to", split_list)),
    "disk_template": _opt("", ["disk-template"], REQARG, "TEMPLATE",
                          "select the desired disk template",
                          "choices=" + ",".join(C.DISK_TEMPLATES), disk_template),
    "spindle_use": _opt("", ["spindle-use"], REQARG, "SPINDLES",
                        "select how many virtual spindle instances use [default read from "
                        "cluster]", "float", spindle_use),
    "independent_groups": _opt("", ["independent-groups"], NOARG, "",
                               "Consider groups independently", "none",
                               flag("independent_groups")),
    "accept_existing": _opt("", ["accept-existing-errors"], NOARG, "",
                            "Accept existing N+1 violations; just don't add new ones", "none",
                            flag("accept_existing")),
    "machine_readable": _opt("", ["machine-readable"], OPTARG, "CHOICE",
                             "enable machine readable output (pass either 'yes' or 'no' to "
                             "explicitly control the flag, or without an argument defaults to "
                             "yes)", "choices=yes,no",
                             setter("machine_readable", lambda a: yes_no(True, a))),
    "std_spec": _opt("", ["standard-alloc"], REQARG, "STDSPEC",
                     "enable standard specs allocation, given as 'disk,ram,cpu'", "string",
                     setter("std_spec", lambda a: ispec_string("standard", a))),
    "tiered_spec": _opt("", ["tiered-alloc"], REQARG, "TSPEC",
                        "enable tiered specs allocation, given as 'disk,ram,cpu'", "string",
                        setter("tiered_spec", lambda a: ispec_string("tiered", a))),
    "no_simulation": _opt("", ["no-simulation"], NOARG, "",
                          "do not perform rebalancing simulation", "none",
                          flag("no_simulation")),
    "output_dir": _opt("d", ["output-dir"], REQARG, "PATH",
                       "directory in which to write output files", "dir",
                       setter("output_dir")),
    "no_headers": _opt("", ["no-headers"], NOARG, "", "do not show a header line", "none",
                       flag("no_headers")),
    "version": _opt("V", ["version"], NOARG, "", "show the version of the program", "none",
                    flag("show_version")),
    "help": _opt("h", ["help"], NOARG, "", "show help", "none", flag("show_help")),
    "completion": _opt("", ["help-completion"], NOARG, "", "show completion info", "none",
                       flag("show_completion")),
}

GENERIC = ["version", "help", "completion"]


class Values:
    """Ganeti's CLI.defaultOptions."""

    def __init__(self):
        self.data_file = None
        self.disk_moves = True
        self.instance_moves = True
        self.dynu_file = None
        self.ignore_dynu = False
        self.ignore_soft_errors = False
        self.mond = False
        self.mond_data = None
        self.mond_exit_missing = False
        self.mond_xen = False
        self.evac_mode = False
        self.restricted_migration = False
        self.exclude_instances = []
        self.exclusion_tags = None
        self.exec_jobs = False
        self.first_job_group = False
        self.group = None
        self.ialloc_src = None
        self.select_instances = []
        self.luxi = None
        self.master = ""
        self.max_length = -1
        self.max_cpu = None
        self.min_disk = 0.0
        self.min_gain = 1e-2
        self.min_gain_limit = 1e-1
        self.min_score = 1e-9
        self.offline = []
        self.print_nodes = None
        self.print_insts = False
        self.print_cmds = None
        self.save = None
        self.verbose = 1
        self.priority = None
        self.reason = None
        self.static_kvm_mem = 4096
        self.simulate = []
        self.capacity = True
        self.restrict_to = None
        self.disk_template = None
        self.spindle_use = None
        self.independent_groups = False
        self.accept_existing = False
        self.machine_readable = False
        self.std_spec = None
        self.tiered_spec = None
        self.no_simulation = False
        self.output_dir = "."
        self.no_headers = False
        self.show_help = False
        self.show_version = False
        self.show_completion = False


def run(main, prog, argv, names, arguments=(), defaults=None, errors=()):
    """Parse argv with the options (names from O, or a program's own Opt
    objects), then call main(values, args); turns Exit into output and an
    exit code.  defaults: values of a program's own options.  errors:
    (exception class, prefix) pairs that end the program as Ganeti's
    exitErr does: the output so far, then "Error: <prefix><message>" on
    stderr, exit code 1."""
    opts = [O[name] if isinstance(name, str) else name for name in names + GENERIC]
    values = Values()
    for key, value in (defaults or {}).items():
        setattr(values, key, value)
    try:
        args = parse(prog, argv, opts, values, arguments)
        try:
            return main(values, args)
        except tuple(kind for kind, _ in errors) as exc:
            prefix = next(pre for kind, pre in errors if isinstance(exc, kind))
            sys.stdout.flush()
            sys.stderr.write("Error: %s%s\n" % (prefix, exc))
            return 1
    except BrokenPipeError:
        # the reader went away (| head): stop quietly, as a killed writer
        import os
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exit as done:
        if done.text:
            sys.stdout.flush()
            (done.stream or sys.stderr).write(done.text)
        return done.code
