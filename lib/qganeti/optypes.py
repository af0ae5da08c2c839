"""Parameter types for opcode declarations (Ganeti's `ht` checks).

Each type checks (and where Ganeti does, converts) a JSON value, and knows
how the value is written on an op program's argv and read back.
"""

from qganeti import fastjson

REQUIRED = object()   # a parameter without default must be given

HYPERVISORS = ["xen-pvm", "xen-hvm", "kvm", "fake", "chroot", "lxc"]
DISK_TEMPLATES = ["plain", "drbd", "file", "sharedfile", "blockdev", "rbd", "ext",
                  "gluster", "diskless"]
JOB_FINAL_STATUSES = ("success", "error", "canceled")


def copy_default(value):
    """Defaults are shared declarations: hand out fresh lists and dicts."""
    if isinstance(value, (list, dict)):
        return fastjson.loads(fastjson.dumps(value))
    return value


def py_str(value):
    """str() as Ganeti's Python prints opcode fields (None, True, 0.5)."""
    return str(value)


class Type:
    is_bool = False
    desc = "value"

    def check(self, value):
        return True

    def coerce(self, value):
        """(ok, value converted as Ganeti would)."""
        return self.check(value), value

    def to_text(self, value):
        return fastjson.dumps(value)

    def from_text(self, text):
        try:
            value = fastjson.loads(text)
        except ValueError:
            return False, None
        return self.coerce(value)


class _Any(Type):
    pass


class _Bool(Type):
    is_bool = True
    desc = "boolean"

    def check(self, value):
        return isinstance(value, bool)


class _Int(Type):
    desc = "integer"

    def __init__(self, minimum=None, maximum=None):
        self.minimum = minimum
        self.maximum = maximum

    def check(self, value):
        if not isinstance(value, int) or isinstance(value, bool):
            return False
        if self.minimum is not None and value < self.minimum:
            return False
        return self.maximum is None or value <= self.maximum

    def to_text(self, value):
        return str(value)

    def from_text(self, text):
        try:
            return self.coerce(int(text))
        except ValueError:
            return False, None


class _Float(Type):
    desc = "number"

    def coerce(self, value):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False, value
        return True, float(value)

    def to_text(self, value):
        return str(int(value)) if float(value).is_integer() else repr(value)

    def from_text(self, text):
        try:
            return True, float(text)
        except ValueError:
            return False, None


class _String(Type):
    desc = "string"

    def __init__(self, nonempty=False):
        self.nonempty = nonempty

    def check(self, value):
        return isinstance(value, str) and (bool(value) or not self.nonempty)

    def to_text(self, value):
        return value

    def from_text(self, text):
        return self.coerce(text)


class Maybe(Type):
    def __init__(self, inner):
        self.inner = inner
        self.is_bool = inner.is_bool
        self.desc = "none or " + inner.desc

    def coerce(self, value):
        if value is None:
            return True, None
        return self.inner.coerce(value)

    def to_text(self, value):
        return self.inner.to_text(value)

    def from_text(self, text):
        return self.inner.from_text(text)


class ListOf(Type):
    def __init__(self, inner=None):
        self.inner = inner or _Any()
        self.desc = "list of " + self.inner.desc

    def coerce(self, value):
        if not isinstance(value, list):
            return False, value
        out = []
        for item in value:
            ok, item = self.inner.coerce(item)
            if not ok:
                return False, value
            out.append(item)
        return True, out


class DictOf(Type):
    def __init__(self, inner=None):
        self.inner = inner or _Any()
        self.desc = "dict of " + self.inner.desc

    def coerce(self, value):
        if not isinstance(value, dict):
            return False, value
        out = {}
        for key, item in value.items():
            ok, item = self.inner.coerce(item)
            if not ok:
                return False, value
            out[key] = item
        return True, out


class ElemOf(Type):
    def __init__(self, values):
        self.values = list(values)
        self.desc = "one of " + ", ".join(map(str, self.values))

    def check(self, value):
        return value in self.values and not isinstance(value, bool)

    def to_text(self, value):
        return value if isinstance(value, str) else fastjson.dumps(value)

    def from_text(self, text):
        if text in self.values:
            return True, text
        return Type.from_text(self, text)


class Pair(Type):
    def __init__(self, first, second):
        self.first = first
        self.second = second

    def coerce(self, value):
        if not isinstance(value, list) or len(value) != 2:
            return False, value
        ok1, a = self.first.coerce(value[0])
        ok2, b = self.second.coerce(value[1])
        return ok1 and ok2, [a, b]


class Or(Type):
    def __init__(self, *alternatives):
        self.alternatives = alternatives

    def coerce(self, value):
        for alt in self.alternatives:
            ok, converted = alt.coerce(value)
            if ok:
                return True, converted
        return False, value


class _JobDependencies(Type):
    """[[job_id, [status, ...]], ...]; negative ids are relative (SubmitManyJobs)."""

    def coerce(self, value):
        if not isinstance(value, list):
            return False, value
        for dep in value:
            if not (isinstance(dep, list) and len(dep) == 2):
                return False, value
            jid, statuses = dep
            if isinstance(jid, str) and jid.lstrip("-").isdigit():
                jid = int(jid)
            if not isinstance(jid, int) or isinstance(jid, bool):
                return False, value
            if not isinstance(statuses, list) or any(s not in JOB_FINAL_STATUSES for s in statuses):
                return False, value
        return True, value


class _ReasonTrail(Type):
    """[[source, text, timestamp_ns], ...]."""

    def check(self, value):
        if not isinstance(value, list):
            return False
        for entry in value:
            if not (isinstance(entry, list) and len(entry) == 3 and isinstance(entry[0], str)
                    and isinstance(entry[1], str) and isinstance(entry[2], (int, float))):
                return False
        return True


Any = _Any()
Bool = _Bool()
Int = _Int()
NonNegativeInt = _Int(minimum=0)
PositiveInt = _Int(minimum=1)
Float = _Float()
String = _String()
NonEmptyString = _String(nonempty=True)
List = ListOf()
Dict = DictOf()
Priority = _Int(minimum=-20, maximum=19)
JobDependencies = _JobDependencies()
ReasonTrail = _ReasonTrail()
