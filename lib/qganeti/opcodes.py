"""Opcodes: one declaration per OP_ID.

The declaration (name, parameters with their defaults and types, summary
field) drives the validation of a submitted opcode (LUXI, RAPI, the gnt-*
commands) and the argv of the op program that runs it (DESIGN.md section 2):
`OP_TEST_DELAY` runs as `libexec/qganeti/op/test-delay --duration 5`.

Opcodes travel as flat dicts with "OP_ID", as in Ganeti.
"""

from qganeti import errors
from qganeti import optypes as t

REQUIRED = t.REQUIRED

# A parameter's text on argv longer than this stays in the job file only
# (one argv element over 128 KiB is refused by the kernel; ps stays readable).
ARGV_VALUE_LIMIT = 4096


class Param:
    __slots__ = ("name", "default", "type", "doc", "secret")

    def __init__(self, name, default, ptype, doc="", secret=False):
        self.name = name
        self.default = default
        self.type = ptype
        self.doc = doc
        self.secret = secret

    @property
    def required(self):
        return self.default is REQUIRED

    @property
    def option(self):
        return "--" + self.name.replace("_", "-")


class OpDef:
    """What one OP_ID takes."""

    def __init__(self, op_id, params, dsc_field=None, doc=""):
        self.op_id = op_id
        self.params = params
        self.by_name = {p.name: p for p in COMMON_PARAMS + params}
        self.dsc_field = dsc_field
        self.doc = doc

    @property
    def program(self):
        """The op program's name: OP_INSTANCE_STARTUP -> instance-startup."""
        return self.op_id[3:].lower().replace("_", "-")

    @property
    def snake_name(self):
        return self.op_id[3:].lower()


# Parameters every opcode takes (Ganeti's COMMON_OPCODE_PARAMS).
COMMON_PARAMS = [
    Param("dry_run", None, t.Maybe(t.Bool), "Run checks only, don't execute"),
    Param("debug_level", None, t.Maybe(t.NonNegativeInt), "Debug level"),
    Param("priority", 0, t.Priority, "Opcode priority"),
    Param("depends", None, t.Maybe(t.JobDependencies), "Job dependencies"),
    Param("comment", None, t.Maybe(t.String), "Comment describing the purpose of the opcode"),
    Param("reason", [], t.ReasonTrail, "Reason trail"),
]
COMMON_NAMES = frozenset(p.name for p in COMMON_PARAMS)

OPCODES = {}


def declare(op_id, params, dsc_field=None, doc=""):
    OPCODES[op_id] = OpDef(op_id, params, dsc_field, doc)


def get(op_id):
    try:
        return OPCODES[op_id]
    except (KeyError, TypeError):
        raise errors.OpPrereqError("Unknown opcode '%s'" % (op_id,), errors.ECODE_INVAL)


def by_program(program):
    for opdef in OPCODES.values():
        if opdef.program == program:
            return opdef
    raise KeyError(program)


def _fails(op_id, name):
    return errors.OpPrereqError("Parameter '%s.%s' fails validation" % (op_id, name),
                                errors.ECODE_INVAL)


def validate(op):
    """Check a submitted opcode dict and fill in defaults (a new dict).

    Unknown parameter names are refused, as Ganeti's strict opcode parsing
    does; wrong types give Ganeti's "Parameter 'OP_X.y' fails validation".
    """
    if not isinstance(op, dict):
        raise errors.OpPrereqError("Opcode must be a dictionary, not %s" % type(op).__name__,
                                   errors.ECODE_INVAL)
    opdef = get(op.get("OP_ID"))
    unknown = sorted(k for k in op if k != "OP_ID" and k not in opdef.by_name)
    if unknown:
        raise errors.OpPrereqError("Unknown parameter(s) for %s: %s" %
                                   (opdef.op_id, ", ".join(unknown)), errors.ECODE_INVAL)
    result = {"OP_ID": opdef.op_id}
    for param in COMMON_PARAMS + opdef.params:
        if param.name in op:
            value = op[param.name]
        elif param.required:
            raise _fails(opdef.op_id, param.name)
        else:
            value = t.copy_default(param.default)
        ok, value = param.type.coerce(value)
        if not ok:
            raise _fails(opdef.op_id, param.name)
        result[param.name] = value
    return result


def summary(op):
    """Ganeti's opcode summary: TEST_DELAY(0.5), INSTANCE_STARTUP(web1)."""
    op_id = op.get("OP_ID", "OP_UNKNOWN")
    text = op_id[3:]
    opdef = OPCODES.get(op_id)
    field = opdef.dsc_field if opdef else None
    if field:
        value = op.get(field)
        if isinstance(value, (list, tuple)):
            value = ",".join(str(i) for i in value)
        text = "%s(%s)" % (text, t.py_str(value))
    return text


def to_argv(op, limit=ARGV_VALUE_LIMIT):
    """The op program's argv for OP (after validate): non-default parameters.

    Common parameters (reason, depends, priority, comment) stay in the job
    file; secret ones never leave it (they reach the program on stdin).
    """
    opdef = get(op["OP_ID"])
    argv = []
    if op.get("dry_run"):
        argv.append("--dry-run")
    if op.get("debug_level"):
        argv += ["--debug-level", str(op["debug_level"])]
    for param in opdef.params:
        value = op.get(param.name, param.default)
        if param.secret or value == param.default or value is None:
            continue
        if param.type.is_bool:
            argv.append(param.option if value else "--no-" + param.option[2:])
            continue
        text = param.type.to_text(value)
        if len(text) <= limit:
            argv += [param.option, text]
    return argv


def from_argv(opdef, argv):
    """Parse an op program's parameter argv into a dict (validated types).

    Raises errors.ParameterError for an unknown option or a bad value; the
    caller turns that into a usage message.
    """
    op = {}
    by_option = {}
    for param in COMMON_PARAMS + opdef.params:
        by_option[param.option] = param
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        param = by_option.get(arg)
        if param is not None and param.type.is_bool:
            op[param.name] = True
            continue
        if param is None and arg.startswith("--no-"):
            param = by_option.get("--" + arg[5:])
            if param is not None and param.type.is_bool:
                op[param.name] = False
                continue
            param = None
        if param is None:
            raise errors.ParameterError(arg)
        if i >= len(argv):
            raise errors.ParameterError("%s needs a value" % arg)
        text = argv[i]
        i += 1
        ok, value = param.type.from_text(text)
        if not ok:
            raise errors.ParameterError("%s: bad value %r" % (arg, text))
        op[param.name] = value
    return op


# -- declarations ---------------------------------------------------------

_TAG_KIND = Param("kind", REQUIRED, t.ElemOf(["cluster", "instance", "node", "nodegroup", "network"]),
                  "Tag kind")
_TAG_NAME = Param("name", None, t.Maybe(t.String), "Name of object to retrieve tags from")
_TAGS = Param("tags", REQUIRED, t.ListOf(t.String), "List of tag names")
_ERROR_CODES = Param("error_codes", False, t.Bool, "Error codes")
_DEBUG_SIMULATE = Param("debug_simulate_errors", False, t.Bool, "Whether to simulate errors (useful for debugging)")
_IGNORE_ERRORS = Param("ignore_errors", [], t.ListOf(t.String), "List of error codes that should be treated as warnings")
_VERBOSE = Param("verbose", False, t.Bool, "Verbose mode")

declare("OP_TEST_DELAY", [
    Param("duration", REQUIRED, t.Float, "Duration parameter for 'OpTestDelay'"),
    Param("on_master", True, t.Bool, "on_master field for 'OpTestDelay'"),
    Param("on_nodes", [], t.ListOf(t.NonEmptyString), "on_nodes field for 'OpTestDelay'"),
    Param("on_node_uuids", None, t.Maybe(t.ListOf(t.NonEmptyString)), "on_node_uuids field for 'OpTestDelay'"),
    Param("repeat", 0, t.NonNegativeInt, "Repeat parameter for OpTestDelay"),
    Param("interruptible", False, t.Bool, "Allows socket-based interruption of a running OpTestDelay"),
    Param("no_locks", True, t.Bool, "Don't take locks during the delay"),
], dsc_field="duration", doc="Sleeps for a configured amount of time (testing and debugging).")

declare("OP_TAGS_GET", [
    _TAG_KIND, _TAG_NAME,
    Param("use_locking", False, t.Bool, "Whether to use synchronization"),
], dsc_field="name", doc="Returns the tags of the given object.")

declare("OP_TAGS_SEARCH", [
    Param("pattern", REQUIRED, t.NonEmptyString, "Search pattern (regular expression)"),
], dsc_field="pattern", doc="Searches the tags in the cluster for a given pattern.")

declare("OP_TAGS_SET", [_TAG_KIND, _TAGS, _TAG_NAME],
        doc="Add a list of tags on a given object.")

declare("OP_TAGS_DEL", [_TAG_KIND, _TAGS, _TAG_NAME],
        doc="Remove a list of tags from a given object.")

declare("OP_CLUSTER_QUERY", [], doc="Query cluster information.")

declare("OP_CLUSTER_POST_INIT", [], doc="Post cluster initialization (runs the cluster-init hooks).")

declare("OP_CLUSTER_DESTROY", [], doc="Destroy the cluster.")

declare("OP_CLUSTER_VERIFY_CONFIG", [
    _DEBUG_SIMULATE, _ERROR_CODES, _IGNORE_ERRORS, _VERBOSE,
], doc="Verify the cluster config.")

declare("OP_CLUSTER_VERIFY", [
    _DEBUG_SIMULATE, _ERROR_CODES,
    Param("skip_checks", [], t.ListOf(t.ElemOf(["nplusone_mem"])), "Which checks to skip"),
    _IGNORE_ERRORS, _VERBOSE,
    Param("group_name", None, t.Maybe(t.NonEmptyString), "Optional group name"),
    Param("verify_clutter", False, t.Bool, "Whether to check for clutter in the 'authorized_keys' file."),
], doc="Submit all jobs necessary to verify the cluster.")

declare("OP_CLUSTER_SET_PARAMS", [
    Param("force", False, t.Bool, "Whether to force the operation"),
    Param("hv_state", None, t.Maybe(t.Dict), "Set hypervisor states"),
    Param("disk_state", None, t.Maybe(t.Dict), "Set disk states"),
    Param("vg_name", None, t.Maybe(t.String), "Volume group name"),
    Param("enabled_hypervisors", None, t.Maybe(t.ListOf(t.ElemOf(t.HYPERVISORS))),
          "List of enabled hypervisors"),
    Param("hvparams", None, t.Maybe(t.DictOf(t.Dict)), "Cluster-wide hypervisor parameters, hypervisor-dependent"),
    Param("beparams", None, t.Maybe(t.Dict), "Cluster-wide backend parameter defaults"),
    Param("os_hvp", None, t.Maybe(t.DictOf(t.DictOf(t.Dict))), "Cluster-wide per-OS hypervisor parameter defaults"),
    Param("osparams", None, t.Maybe(t.DictOf(t.Dict)), "Cluster-wide OS parameter defaults"),
    Param("osparams_private_cluster", None, t.Maybe(t.DictOf(t.Dict)), "Cluster-wide private OS parameter defaults"),
    Param("diskparams", None, t.Maybe(t.DictOf(t.Dict)), "Disk templates' parameter defaults"),
    Param("candidate_pool_size", None, t.Maybe(t.PositiveInt), "Master candidate pool size"),
    Param("max_running_jobs", None, t.Maybe(t.PositiveInt), "Maximal number of jobs to run simultaneously"),
    Param("max_tracked_jobs", None, t.Maybe(t.PositiveInt), "Maximal number of jobs tracked in the job queue"),
    Param("uid_pool", None, t.Maybe(t.List), "Set UID pool, must be list of lists describing UID ranges"),
    Param("add_uids", None, t.Maybe(t.List), "Extend UID pool, must be list of lists describing UID ranges"),
    Param("remove_uids", None, t.Maybe(t.List), "Shrink UID pool, must be list of lists describing UID ranges"),
    Param("maintain_node_health", None, t.Maybe(t.Bool), "Whether to automatically maintain node health"),
    Param("prealloc_wipe_disks", None, t.Maybe(t.Bool), "Whether to wipe disks before allocating them to instances"),
    Param("nicparams", None, t.Maybe(t.Dict), "Cluster-wide NIC parameter defaults"),
    Param("ndparams", None, t.Maybe(t.Dict), "Cluster-wide node parameter defaults"),
    Param("ipolicy", None, t.Maybe(t.Dict), "Cluster-wide ipolicy specs"),
    Param("drbd_helper", None, t.Maybe(t.String), "DRBD helper program"),
    Param("default_iallocator", None, t.Maybe(t.String), "Default iallocator for cluster"),
    Param("default_iallocator_params", None, t.Maybe(t.Dict), "Default iallocator parameters for cluster"),
    Param("mac_prefix", None, t.Maybe(t.NonEmptyString), "Network specific mac prefix (that overrides the cluster one)"),
    Param("master_netdev", None, t.Maybe(t.String), "Master network device"),
    Param("master_netmask", None, t.Maybe(t.NonNegativeInt), "Netmask of the master IP"),
    Param("reserved_lvs", None, t.Maybe(t.ListOf(t.NonEmptyString)), "List of reserved LVs"),
    Param("hidden_os", None, t.Maybe(t.ListOf(t.Pair(t.ElemOf(["add", "remove"]), t.NonEmptyString))),
          "Modify list of hidden operating systems: each modification must have two items, the operation and the OS name; the operation can be add or remove"),
    Param("blacklisted_os", None, t.Maybe(t.ListOf(t.Pair(t.ElemOf(["add", "remove"]), t.NonEmptyString))),
          "Modify list of blacklisted operating systems: each modification must have two items, the operation and the OS name; the operation can be add or remove"),
    Param("use_external_mip_script", None, t.Maybe(t.Bool), "Whether to use an external master IP address setup script"),
    Param("enabled_disk_templates", None, t.Maybe(t.ListOf(t.ElemOf(t.DISK_TEMPLATES))),
          "List of enabled disk templates"),
    Param("modify_etc_hosts", None, t.Maybe(t.Bool), "Whether the cluster can modify and keep in sync the /etc/hosts files"),
    Param("file_storage_dir", None, t.Maybe(t.String), "Default file storage directory"),
    Param("shared_file_storage_dir", None, t.Maybe(t.String), "Default shared file storage directory"),
    Param("gluster_storage_dir", None, t.Maybe(t.String), "Default Gluster storage directory"),
    Param("install_image", None, t.Maybe(t.String), "The OS image to use to install instances"),
    Param("instance_communication_network", None, t.Maybe(t.String), "Instance communication network name"),
    Param("zeroing_image", None, t.Maybe(t.String), "The OS image to use to zero instance disks"),
    Param("compression_tools", None, t.Maybe(t.ListOf(t.NonEmptyString)), "List of enabled compression tools"),
    Param("enabled_user_shutdown", None, t.Maybe(t.Bool), "Whether user shutdown is enabled cluster wide"),
    Param("enabled_data_collectors", None, t.Maybe(t.DictOf(t.Bool)), "Set the active data collectors"),
    Param("data_collector_interval", None, t.Maybe(t.DictOf(t.Int)), "Sets the interval in that data collectors are run"),
], doc="Change the parameters of the cluster.")
