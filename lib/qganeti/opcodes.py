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

# The declarations live in lib/qganeti/opdecl/<area>.py, imported when an
# opcode of that area is first asked for: an op program loads only its own.
_AREAS = (("OP_CLUSTER_", "cluster"), ("OP_TAGS_", "tags"), ("OP_TEST_", "test"),
          ("OP_INSTANCE_", "instance"), ("OP_NODE_", "node"), ("OP_REPAIR_NODE_", "node"),
          ("OP_OOB_", "node"), ("OP_RESTRICTED_", "node"), ("OP_GROUP_", "group"),
          ("OP_NETWORK_", "network"), ("OP_BACKUP_", "backup"), ("OP_OS_", "os"),
          ("OP_EXT_STORAGE_", "os"), ("OP_QUERY", "query"))
_loaded = set()


def declare(op_id, params, dsc_field=None, doc=""):
    OPCODES[op_id] = OpDef(op_id, params, dsc_field, doc)


def _load_area(area):
    if area not in _loaded:
        _loaded.add(area)
        try:
            __import__("qganeti.opdecl." + area)
        except ModuleNotFoundError as err:
            if err.name != "qganeti.opdecl." + area:
                raise


def get(op_id):
    if op_id not in OPCODES and isinstance(op_id, str):
        for prefix, area in _AREAS:
            if op_id.startswith(prefix):
                _load_area(area)
                break
    try:
        return OPCODES[op_id]
    except (KeyError, TypeError):
        raise errors.OpPrereqError("Unknown opcode '%s'" % (op_id,), errors.ECODE_INVAL)


def exists(op_id):
    try:
        get(op_id)
    except errors.OpPrereqError:
        return False
    return True


def load_all():
    """Every declared opcode (imports every area)."""
    for _, area in _AREAS:
        _load_area(area)
    return OPCODES


def by_program(program):
    for opdef in load_all().values():
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
