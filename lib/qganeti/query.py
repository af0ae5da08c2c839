"""Query2: field tables, filter evaluation and Query/QueryFields results.

A query names a resource (a FieldTable), the fields wanted and a filter
(ganeti-interfaces.md 11). The answer is Ganeti's:

    {"fields": [{"name", "title", "kind", "doc"}...],
     "data":   [[[status, value], ...], ...]}

with status RS_NORMAL (value valid), RS_UNKNOWN (no such field, value
None), RS_NODATA, RS_UNAVAIL or RS_OFFLINE. A field's getter is called as
getter(item, ctx) and returns the value, or one of the markers NODATA,
UNAVAIL, OFFLINE (or UNKNOWN); `ctx` is whatever the table's getters read
(the config snapshot and live data for config objects, see
qganeti.qfields).

Filters behave as Ganeti 3.0's (luxid): a leaf whose value is not RS_NORMAL
accepts the item; `==` on hostname fields matches leading name components
case-insensitively (`web1` matches `web1.example.com`); comparisons need a
string with a string or a number with a number; `?` needs a boolean; `=~`
is an unanchored regexp search on a string; `=[]` tests membership in a
list; `!=` is `not ==`; timestamps [sec, usec] compare by seconds. Job `id`
comparisons also accept the value as a job id string ("17").

Errors: a malformed filter structure raises FilterError, whose text is
luxid's decoding message (luxid answers it as a plain failure string,
"Failed to parse request: Cannot convert value '<args>', error: <text>",
see pp_value); an unknown field in a filter, or a value of the wrong type
at evaluation, raises errors.ParameterError (sent encoded, as Ganeti does);
a name that is asked for but unknown raises errors.OpPrereqError
(unknown_entity).
"""

from qganeti import errors, jqueue
from qganeti.nicesort import nice_key, nice_sort  # noqa: F401 (query.nice_sort users)

RS_NORMAL = 0
RS_UNKNOWN = 1
RS_NODATA = 2
RS_UNAVAIL = 3
RS_OFFLINE = 4
RS_ALL = (RS_NORMAL, RS_UNKNOWN, RS_NODATA, RS_UNAVAIL, RS_OFFLINE)

QFT_UNKNOWN = "unknown"
QFT_TEXT = "text"
QFT_BOOL = "bool"
QFT_NUMBER = "number"
QFT_NUMBER_FLOAT = "float"
QFT_UNIT = "unit"
QFT_TIMESTAMP = "timestamp"
QFT_OTHER = "other"
QFT_ALL = (QFT_UNKNOWN, QFT_TEXT, QFT_BOOL, QFT_NUMBER, QFT_NUMBER_FLOAT,
           QFT_UNIT, QFT_TIMESTAMP, QFT_OTHER)

#: How a field's value is compared in filters
QFF_NORMAL = "normal"
QFF_HOSTNAME = "hostname"    # == matches leading name components, any case
QFF_TIMESTAMP = "timestamp"  # value [sec, usec], compared by sec
QFF_JOB_ID = "jobid"         # string filter values are read as job ids


class _Abnormal:
    """A getter's answer that is not a value: the cell's result status."""
    __slots__ = ("rs",)

    def __init__(self, rs):
        self.rs = rs

    def __repr__(self):
        return "<%s>" % ("unknown", "nodata", "unavail", "offline")[self.rs - 1]


UNKNOWN = _Abnormal(RS_UNKNOWN)
NODATA = _Abnormal(RS_NODATA)
UNAVAIL = _Abnormal(RS_UNAVAIL)
OFFLINE = _Abnormal(RS_OFFLINE)


def is_abnormal(value):
    """Whether VALUE is one of the markers rather than a value."""
    return value.__class__ is _Abnormal


class FilterError(ValueError):
    """The filter structure cannot be decoded (luxid's request parse error)."""


class Field:
    """One field of a resource.

    getter(item, ctx) -> value or a marker (NODATA, UNAVAIL, OFFLINE).
    hostname=True makes `==` match name components (Ganeti's QffHostname);
    mode may instead be QFF_TIMESTAMP or QFF_JOB_ID. live=True marks fields
    that need live (node) data: luxid can skip collecting it when no
    requested or filtered field is live (needs_live()).
    """
    __slots__ = ("name", "title", "kind", "doc", "getter", "mode", "live")

    def __init__(self, name, title, kind, doc, getter, hostname=False, mode=None,
                 live=False):
        self.name = name
        self.title = title
        self.kind = kind
        self.doc = doc
        self.getter = getter
        self.mode = mode or (QFF_HOSTNAME if hostname else QFF_NORMAL)
        self.live = live

    @property
    def hostname(self):
        return self.mode == QFF_HOSTNAME

    def definition(self):
        return {"name": self.name, "title": self.title, "kind": self.kind, "doc": self.doc}

    def renamed(self, name):
        """The same field under another name (Ganeti's aliases)."""
        return Field(name, self.title, self.kind, self.doc, self.getter, mode=self.mode,
                     live=self.live)

    def __repr__(self):
        return "<Field %s>" % self.name


def _unknown_getter(item, ctx):
    return UNKNOWN


def unknown_field(name):
    """The definition Ganeti returns for a field it does not know."""
    return Field(name, name, QFT_UNKNOWN, "Unknown field '%s'" % name, _unknown_getter)


class Family:
    """Parametrised field names (`hv/<param>`, `disk.size/<N>`...).

    names: the concrete names this family offers in field listings;
    make(name) -> Field or None for a name starting with `prefix`.
    """

    def __init__(self, prefix, names, make):
        self.prefix = prefix
        self.names = list(names)
        self.make = make


def _match_names(candidates, key, fold_case):
    """Ganeti's name lookup: exact, else a unique leading-components match."""
    if key in candidates:
        return [key]
    if fold_case:
        low = key.lower()
        exact = [c for c in candidates if c.lower() == low]
        if len(exact) == 1:
            return exact
        prefix = low + "."
        return [c for c in candidates if c.lower().startswith(prefix)]
    prefix = key + "."
    return [c for c in candidates if c.startswith(prefix)]


def _name_of_dict(item):
    return item.get("name") or ""


class FieldTable:
    """The fields of one resource, and how its items are ordered and looked up.

    fields: Field objects; families: Family objects (parametrised names).
    namefield: the field a plain name list filters on ("name", jobs "id").
    entity: the word of Ganeti's lookup errors ("Instance", "Node",
    "NodeGroup", "Network"); name_of(item) gives an item's name. Items are
    listed in Ganeti's order (nice-sorted names) unless the filter asks for
    names only, then in the order asked (resolve(items, names, ctx)).
    """

    def __init__(self, fields, families=(), *, namefield="name", entity="Item",
                 name_of=_name_of_dict, hostnames=False, resolve=None, order=None):
        self._fields = {}
        for field in fields:
            self._fields[field.name] = field
        self.families = list(families)
        self.namefield = namefield
        self.entity = entity
        self.name_of = name_of
        self.hostnames = hostnames
        if resolve is not None:
            self.resolve = resolve
        if order is not None:
            self.order = order
        self._sorted_names = None

    def get(self, name):
        """The Field called NAME, or None."""
        field = self._fields.get(name)
        if field is None and self.families:
            for family in self.families:
                if name.startswith(family.prefix):
                    field = family.make(name)
                    if field is not None:
                        self._fields[name] = field
                        break
        return field

    def names(self):
        """Every field name, nice-sorted (QueryFields without names)."""
        if self._sorted_names is None:
            allnames = set(self._fields)
            for family in self.families:
                allnames.update(family.names)
            self._sorted_names = nice_sort(allnames)
        return list(self._sorted_names)

    def __contains__(self, name):
        return self.get(name) is not None

    def __len__(self):
        return len(self.names())

    def order(self, items):
        """ITEMS in Ganeti's listing order (nice sort of the names)."""
        name_of = self.name_of
        return sorted(items, key=lambda item: nice_key(name_of(item)))

    def resolve(self, items, names, ctx):
        """The items called NAMES (names or UUIDs, abbreviations allowed)."""
        name_of = self.name_of
        by_uuid = {}
        by_name = {}
        for item in items:
            uuid = item.get("uuid") if isinstance(item, dict) else None
            if uuid is not None:
                by_uuid[uuid] = item
            by_name[name_of(item)] = item
        result = []
        for name in names:
            if not isinstance(name, str):
                continue
            item = by_uuid.get(name)
            if item is None:
                found = _match_names(by_name, name, self.hostnames)
                if len(found) > 1:
                    raise errors.OpPrereqError("%s name %s has multiple matches"
                                               % (self.entity, name), errors.ECODE_NOENT)
                if not found:
                    raise errors.OpPrereqError("%s name %s not found" % (self.entity, name),
                                               errors.ECODE_NOENT)
                item = by_name[found[0]]
            result.append(item)
        return result


# -- rendering values as luxid words them ----------------------------------

def show_double(value):
    """Haskell's `show` of a Double: 6.0, 0.5, 1.0e-3, 1.5e7."""
    value = float(value)
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    if value < 0 or (value == 0 and str(value).startswith("-")):
        return "-" + show_double(-value)
    if value == 0:
        return "0.0"
    text = repr(value)
    mantissa, _, exp = text.partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = (whole + frac).lstrip("0")
    point = len(whole) + (int(exp) if exp else 0)   # value = 0.DIGITS * 10**point
    point -= len(whole + frac) - len((whole + frac).lstrip("0"))
    digits = digits.rstrip("0") or "0"
    if 0.1 <= value < 10 ** 7:
        if point <= 0:
            return "0." + "0" * (-point) + digits
        if len(digits) <= point:
            return digits + "0" * (point - len(digits)) + ".0"
        return digits[:point] + "." + digits[point:]
    return "%s.%se%d" % (digits[0], digits[1:] or "0", point - 1)


def _pp_string(text):
    out = ['"']
    for char in text:
        if char == "\\":
            out.append("\\\\")
        elif char == '"':
            out.append('\\"')
        elif ord(char) < 0x20 or ord(char) >= 0x7f:
            out.append("\\u%04x" % ord(char))
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def pp_value(value):
    """A JSON value as luxid's error messages print it (Text.JSON.Pretty)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else show_double(value)
    if isinstance(value, str):
        return _pp_string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(pp_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join("%s: %s" % (_pp_string(str(k)), pp_value(v))
                               for k, v in value.items()) + "}"
    return _pp_string(str(value))


def _haskell_show_string(text):
    out = ['"']
    for char in text:
        code = ord(char)
        if char == '"':
            out.append('\\"')
        elif char == "\\":
            out.append("\\\\")
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif code < 0x20 or code >= 0x7f:
            out.append("\\%d" % code)
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def _show_filter_value(value):
    if isinstance(value, str):
        return "QuotedString " + _haskell_show_string(value)
    if value < 0:
        return "NumericValue (%d)" % value
    return "NumericValue %d" % value


# -- filters ---------------------------------------------------------------
#
# A decoded filter is a tuple: ("empty",), ("and", [sub]), ("or", [sub]),
# ("not", sub), ("true", field), ("cmp", op, field, value),
# ("regexp", field, (text, compiled)), ("contains", field, value).

_EMPTY = ("empty",)
_COMPARISONS = {"==": "==", "=": "==", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


def _decode_field(args):
    if len(args) != 1:
        raise FilterError("Cannot deserialise field, expected [fieldname] but got "
                          + pp_value(list(args)))
    if not isinstance(args[0], str):
        raise FilterError("Unable to read String")
    return args[0]


def _decode_value(value):
    if isinstance(value, bool) or value is None:
        raise FilterError("Cannot deserialise filter value, expecting string or integer, got "
                          + pp_value(value))
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        from fractions import Fraction
        frac = Fraction(repr(value))
        raise FilterError("Cannot deserialise numeric filter value, expecting integral but"
                          " got a fractional value: %d %% %d" % (frac.numerator, frac.denominator))
    raise FilterError("Cannot deserialise filter value, expecting string or integer, got "
                      + pp_value(value))


def _decode_pair(args):
    if len(args) != 2:
        raise FilterError("Cannot deserialise field/value pair, expected [fieldname, value]"
                          " but got " + pp_value(list(args)))
    if not isinstance(args[0], str):
        raise FilterError("Unable to read String")
    return args[0], args[1]


def decode_filter(qfilter):
    """The decoded (validated) form of the filter structure QFILTER.

    Raises FilterError with luxid's wording for a malformed structure.
    """
    if qfilter is None:
        return _EMPTY
    if not (isinstance(qfilter, (list, tuple)) and qfilter and isinstance(qfilter[0], str)):
        raise FilterError("Cannot deserialise filter: expected array [string, args], got "
                          + pp_value(qfilter))
    op = qfilter[0]
    args = qfilter[1:]
    if op == "&":
        return ("and", [decode_filter(sub) for sub in args])
    if op == "|":
        return ("or", [decode_filter(sub) for sub in args])
    if op == "!":
        if len(args) != 1:
            raise FilterError("Cannot deserialise field, expected [filter] but got "
                              + pp_value(list(args)))
        return ("not", decode_filter(args[0]))
    if op == "?":
        return ("true", _decode_field(args))
    if op in _COMPARISONS:
        field, value = _decode_pair(args)
        return ("cmp", _COMPARISONS[op], field, _decode_value(value))
    if op == "!=":
        field, value = _decode_pair(args)
        return ("not", ("cmp", "==", field, _decode_value(value)))
    if op == "=~":
        field, value = _decode_pair(args)
        if not isinstance(value, str):
            raise FilterError("Unable to read String")
        import re
        try:
            compiled = re.compile(value)
        except re.error as err:
            raise FilterError("Invalid regular expression %s: %s"
                              % (_haskell_show_string(value), err)) from None
        return ("regexp", field, (value, compiled))
    if op == "=[]":
        field, value = _decode_pair(args)
        return ("contains", field, _decode_value(value))
    raise FilterError("Unknown filter operand '%s'" % op)


def filter_fields(decoded):
    """The field names a decoded filter reads, in order, without duplicates."""
    out = []

    def walk(node):
        kind = node[0]
        if kind in ("and", "or"):
            for sub in node[1]:
                walk(sub)
        elif kind == "not":
            walk(node[1])
        elif kind == "true":
            out.append(node[1])
        elif kind == "cmp":
            out.append(node[2])
        elif kind in ("regexp", "contains"):
            out.append(node[1])

    walk(decoded)
    seen = set()
    return [name for name in out if not (name in seen or seen.add(name))]


def requested_names(decoded, namefield):
    """The values of a filter that only ORs `namefield == value`; None otherwise.

    An empty filter gives []. (Ganeti's requestedNames: with names, luxid
    looks the items up instead of scanning them all.)
    """
    kind = decoded[0]
    if kind == "empty":
        return []
    if kind == "or":
        names = []
        for sub in decoded[1]:
            more = requested_names(sub, namefield)
            if more is None:
                return None
            names.extend(more)
        return names
    if kind == "cmp" and decoded[1] == "==" and decoded[2] == namefield:
        return [decoded[3]]
    return None


class _NeedLive(Exception):
    """A live field was reached while filtering without live data."""


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _type_error(actual, expected):
    return errors.ParameterError("Invalid types in comparison, trying to compare %s with '%s'"
                                 % (pp_value(actual), _show_filter_value(expected)))


_COMPARE = {
    "==": lambda a, b: a == b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def parse_job_id(value):
    """A job id from a filter value or argument (Ganeti's makeJobIdS)."""
    if isinstance(value, str):
        text = value.strip()
        if not text.lstrip("-").isdigit() or not text.isascii():
            raise errors.GenericError("parsing job id: cannot parse string '%s'" % value)
        value = int(text)
    if value < 0:
        raise errors.GenericError("Invalid value for job ID ' %d'" % value)
    return value


def _leaf(field, test, static_only):
    getter = field.getter
    mode = field.mode
    if static_only and field.live:
        def check(item, ctx):
            raise _NeedLive()
        return check
    if mode == QFF_TIMESTAMP:
        def check(item, ctx):
            value = getter(item, ctx)
            if value.__class__ is _Abnormal:
                return True
            if not (isinstance(value, (list, tuple)) and len(value) == 2
                    and _is_number(value[0]) and _is_number(value[1])):
                raise errors.ProgrammerError("Internal error: Getter returned non-timestamp"
                                             " for QffTimestamp")
            return test(value[0])
        return check

    def check(item, ctx):
        value = getter(item, ctx)
        if value.__class__ is _Abnormal:
            return True
        return test(value)
    return check


def _compile_cmp(field, op, expected):
    compare = _COMPARE[op]
    if field.mode == QFF_JOB_ID and isinstance(expected, str):
        expected = parse_job_id(expected)
    if op == "==" and field.mode == QFF_HOSTNAME and isinstance(expected, str):
        low = expected.lower()
        prefix = low + "."

        def test(value):
            if isinstance(value, str):
                value = value.lower()
                return value == low or value.startswith(prefix)
            if _is_number(value):
                raise errors.ProgrammerError("QffHostname field returned a numeric value")
            raise _type_error(value, expected)
        return test
    if isinstance(expected, str):
        def test(value):
            if isinstance(value, str):
                return compare(value, expected)
            raise _type_error(value, expected)
        return test

    def test(value):
        if _is_number(value):
            return compare(value, expected)
        raise _type_error(value, expected)
    return test


def _compile_contains(expected):
    wanted = str if isinstance(expected, str) else int

    def test(value):
        if not isinstance(value, (list, tuple)):
            raise errors.GenericError("Cannot convert value '%s', error: Unable to read list"
                                      % pp_value(value))
        for element in value:
            if wanted is str:
                ok = isinstance(element, str)
            else:
                ok = _is_number(element)
            if not ok:
                raise errors.GenericError("Cannot convert value '%s', error: Unable to read %s"
                                          % (pp_value(value),
                                             "String" if wanted is str else "Integer"))
        return expected in value
    return test


def _compile(table, node, static_only):
    kind = node[0]
    if kind == "empty":
        return lambda item, ctx: True
    if kind == "and":
        subs = [_compile(table, sub, static_only) for sub in node[1]]
        if len(subs) == 1:
            return subs[0]
        return lambda item, ctx: all(sub(item, ctx) for sub in subs)
    if kind == "or":
        subs = [_compile(table, sub, static_only) for sub in node[1]]
        if len(subs) == 1:
            return subs[0]
        return lambda item, ctx: any(sub(item, ctx) for sub in subs)
    if kind == "not":
        sub = _compile(table, node[1], static_only)
        return lambda item, ctx: not sub(item, ctx)

    name = node[2] if kind == "cmp" else node[1]
    field = table.get(name)
    if field is None:
        raise errors.ParameterError("Can't find field named '%s'" % name)
    if kind == "true":
        def test(value):
            if value is True or value is False:
                return value
            raise errors.ParameterError("Unexpected value '%s' in boolean context"
                                        % pp_value(value))
    elif kind == "cmp":
        test = _compile_cmp(field, node[1], node[3])
    elif kind == "regexp":
        search = node[2][1].search

        def test(value):
            if isinstance(value, str):
                return search(value) is not None
            raise errors.ParameterError("Invalid field value used in regexp matching,"
                                        " expecting string but got '%s'" % pp_value(value))
    else:
        test = _compile_contains(node[2])
    return _leaf(field, test, static_only)


def _check_fields(table, decoded):
    # Ganeti checks every field of the filter before evaluating anything
    for name in filter_fields(decoded):
        if table.get(name) is None:
            raise errors.ParameterError("Can't find field named '%s'" % name)


def filter_predicate(table, qfilter, static_only=False):
    """A callable(item, ctx) -> bool for the filter structure QFILTER.

    static_only=True evaluates without live data, as luxid's first pass
    does: as soon as a live field is needed the item is accepted, so the
    caller can collect live data only for the items that pass and then
    filter again with the full predicate.
    """
    decoded = qfilter if isinstance(qfilter, tuple) else decode_filter(qfilter)
    _check_fields(table, decoded)
    if decoded is _EMPTY or decoded == _EMPTY:
        return lambda item, ctx: True
    compiled = _compile(table, decoded, static_only)
    if not static_only:
        return compiled

    def predicate(item, ctx):
        try:
            return compiled(item, ctx)
        except _NeedLive:
            return True
    return predicate


def needs_live(table, fields, qfilter=None):
    """Whether answering FIELDS with QFILTER reads any live field."""
    names = list(fields)
    if qfilter is not None:
        decoded = qfilter if isinstance(qfilter, tuple) else decode_filter(qfilter)
        names.extend(filter_fields(decoded))
    for name in names:
        field = table.get(name)
        if field is not None and field.live:
            return True
    return False


def select_items(table, items, decoded, ctx=None):
    """The items a query visits, in Ganeti's order (see FieldTable)."""
    names = requested_names(decoded, table.namefield)
    if names:
        return table.resolve(items, names, ctx)
    return table.order(items)


def query(table, items, fields, qfilter=None, ctx=None):
    """Ganeti's Query: {"fields": [fielddef...], "data": [[[rs, value]...]...]}.

    items: the resource's objects (config dicts, job dicts, lock rows);
    fields: the requested names (unknown ones come back with kind
    "unknown" and RS_UNKNOWN cells); qfilter: a filter structure or None.
    """
    decoded = decode_filter(qfilter)
    predicate = filter_predicate(table, decoded)
    selected = []
    for name in fields:
        field = table.get(name)
        selected.append(field if field is not None else unknown_field(name))
    visited = select_items(table, items, decoded, ctx)
    if decoded != _EMPTY:
        visited = [item for item in visited if predicate(item, ctx)]
    abnormal = _Abnormal
    columns = []
    for field in selected:
        getter = field.getter
        values = [getter(item, ctx) for item in visited]
        if abnormal in set(map(type, values)):
            columns.append([[0, v] if v.__class__ is not abnormal else [v.rs, None]
                            for v in values])
        else:
            columns.append([[0, v] for v in values])
    data = list(map(list, zip(*columns))) if columns else [[] for _ in visited]
    return {"fields": [field.definition() for field in selected], "data": data}


def query_fields(table, names=None):
    """Ganeti's QueryFields: every field nice-sorted, or the NAMES asked for."""
    if not names:
        return {"fields": [table.get(name).definition() for name in table.names()]}
    out = []
    for name in names:
        field = table.get(name)
        out.append((field if field is not None else unknown_field(name)).definition())
    return {"fields": out}


# -- jobs (QR_JOB) ---------------------------------------------------------

OP_PRIO_DEFAULT = jqueue.PRIO_DEFAULT


class JobContext:
    """What the job fields read besides the job file: which jobs are archived."""

    def __init__(self, archived=()):
        self.archived = frozenset(archived)

    def is_archived(self, job):
        return job.get("id") in self.archived


# A job's status and priority follow Ganeti's rules, as the queue computes them.
job_status = jqueue.status
job_priority = jqueue.priority


#: OP_ID -> the parameter shown in brackets by the job summary
_SUMMARY_FIELD = {}
for _ids, _param in (
        (("OP_CLUSTER_VERIFY_GROUP", "OP_GROUP_VERIFY_DISKS", "OP_GROUP_ADD",
          "OP_GROUP_ASSIGN_NODES", "OP_GROUP_SET_PARAMS", "OP_GROUP_REMOVE",
          "OP_GROUP_EVACUATE"), "group_name"),
        (("OP_CLUSTER_RENAME",), "name"),
        (("OP_QUERY", "OP_QUERY_FIELDS"), "what"),
        (("OP_NODE_REMOVE", "OP_NODE_ADD", "OP_NODE_MODIFY_STORAGE",
          "OP_REPAIR_NODE_STORAGE", "OP_NODE_SET_PARAMS", "OP_NODE_POWERCYCLE",
          "OP_NODE_MIGRATE", "OP_NODE_EVACUATE"), "node_name"),
        (("OP_INSTANCE_CREATE", "OP_INSTANCE_REINSTALL", "OP_INSTANCE_REMOVE",
          "OP_INSTANCE_STARTUP", "OP_INSTANCE_SHUTDOWN", "OP_INSTANCE_REBOOT",
          "OP_INSTANCE_REPLACE_DISKS", "OP_INSTANCE_FAILOVER", "OP_INSTANCE_MIGRATE",
          "OP_INSTANCE_MOVE", "OP_INSTANCE_CONSOLE", "OP_INSTANCE_ACTIVATE_DISKS",
          "OP_INSTANCE_DEACTIVATE_DISKS", "OP_INSTANCE_RECREATE_DISKS",
          "OP_INSTANCE_SET_PARAMS", "OP_INSTANCE_GROW_DISK", "OP_INSTANCE_CHANGE_GROUP",
          "OP_BACKUP_PREPARE", "OP_BACKUP_EXPORT", "OP_BACKUP_REMOVE",
          # beyond Ganeti: snapshots
          "OP_INSTANCE_SNAPSHOT", "OP_INSTANCE_ROLLBACK", "OP_INSTANCE_REMOVE_SNAPSHOT"),
         "instance_name"),
        (("OP_TAGS_SEARCH",), "pattern"),
        (("OP_TEST_DELAY",), "duration"),
        (("OP_TEST_ALLOCATOR",), "iallocator"),
        (("OP_TAGS_GET",), "name"),
        (("OP_NETWORK_ADD", "OP_NETWORK_REMOVE", "OP_NETWORK_SET_PARAMS",
          "OP_NETWORK_CONNECT", "OP_NETWORK_DISCONNECT"), "network_name")):
    for _id in _ids:
        _SUMMARY_FIELD[_id] = _param
del _ids, _param, _id


def op_summary(opcode):
    """`OP_ID` without `OP_`, with the opcode's key parameter in brackets
    (`INSTANCE_STARTUP(web1)`, `TEST_DELAY(1.0e-3)`), as luxid makes it."""
    if not isinstance(opcode, dict):
        return "INVALID_OP"
    op_id = opcode.get("OP_ID")
    if not isinstance(op_id, str):
        return "INVALID_OP"
    short = op_id[3:]
    param = _SUMMARY_FIELD.get(op_id)
    if param is None:
        return short
    if op_id == "OP_TAGS_GET":
        value = opcode.get("name") if opcode.get("kind") != "cluster" else None
        return "%s(%s)" % (short, "None" if value in (None, "") else value)
    if op_id == "OP_TEST_ALLOCATOR":
        value = opcode.get("iallocator")
        return "%s(%s)" % (short, "None" if value is None else value)
    if param not in opcode:
        return short
    value = opcode[param]
    if op_id == "OP_TEST_DELAY" and _is_number(value):
        return "%s(%s)" % (short, show_double(value))
    return "%s(%s)" % (short, value)


def _job_getter(fn):
    def getter(job, ctx):
        if job.get("ops") is None:
            return UNAVAIL
        return fn(job)
    return getter


def _ops_getter(fn):
    def getter(job, ctx):
        ops = job.get("ops")
        if ops is None:
            return UNAVAIL
        return [fn(op) for op in ops]
    return getter


def _ts_getter(key):
    def getter(job, ctx):
        if job.get("ops") is None:
            return UNAVAIL
        value = job.get(key)
        if value is None:
            return UNAVAIL
        return list(value)
    return getter


def _job_archived(job, ctx):
    if job.get("ops") is None:
        return UNAVAIL
    return bool(ctx.is_archived(job)) if ctx is not None else False


def _ts_doc(text):
    return text + " (tuple containing seconds and microseconds)"


def _opt_ts(value):
    return list(value) if value is not None else None


def _job_order(items):
    return sorted(items, key=lambda job: job.get("id"))


def _job_resolve(items, names, ctx):
    by_id = {job.get("id"): job for job in items}
    result = []
    seen = set()
    for value in names:
        job_id = parse_job_id(value)
        if job_id in seen:
            continue
        seen.add(job_id)
        result.append(by_id.get(job_id) or {"id": job_id})
    return result


#: QR_JOB over job-file dicts (ganeti-interfaces.md 2.3). A job that could
#: not be loaded is passed as {"id": N}: its other fields are RS_UNAVAIL.
#: Every field but "id" is marked live (it needs the job file): with
#: filter_predicate(..., static_only=True) on {"id": N} items, luxid can
#: select jobs by id before loading their files.
JOB_FIELDS = FieldTable([
    Field("id", "ID", QFT_NUMBER, "Job ID", lambda job, ctx: job.get("id"), mode=QFF_JOB_ID),
    Field("status", "Status", QFT_TEXT, "Job status", _job_getter(job_status), live=True),
    Field("priority", "Priority", QFT_NUMBER, "Current job priority (19 to -20)",
          _job_getter(job_priority), live=True),
    Field("archived", "Archived", QFT_BOOL, "Whether job is archived", _job_archived,
          live=True),
    Field("ops", "OpCodes", QFT_OTHER, "List of all opcodes",
          _ops_getter(lambda op: op.get("input")), live=True),
    Field("opresult", "OpCode_result", QFT_OTHER, "List of opcodes results",
          _ops_getter(lambda op: op.get("result")), live=True),
    Field("opstatus", "OpCode_status", QFT_OTHER, "List of opcodes status",
          _ops_getter(lambda op: op.get("status")), live=True),
    Field("oplog", "OpCode_log", QFT_OTHER, "List of opcode output logs",
          _ops_getter(lambda op: op.get("log") or []), live=True),
    Field("opstart", "OpCode_start", QFT_OTHER,
          "List of opcode start timestamps (before acquiring locks)",
          _ops_getter(lambda op: _opt_ts(op.get("start_timestamp"))), live=True),
    Field("opexec", "OpCode_exec", QFT_OTHER,
          "List of opcode execution start timestamps (after acquiring locks)",
          _ops_getter(lambda op: _opt_ts(op.get("exec_timestamp"))), live=True),
    Field("opend", "OpCode_end", QFT_OTHER, "List of opcode execution end timestamps",
          _ops_getter(lambda op: _opt_ts(op.get("end_timestamp"))), live=True),
    Field("oppriority", "OpCode_prio", QFT_OTHER, "List of opcode priorities",
          _ops_getter(lambda op: op.get("priority", OP_PRIO_DEFAULT)), live=True),
    Field("summary", "Summary", QFT_OTHER, "List of per-opcode summaries",
          _ops_getter(lambda op: op_summary(op.get("input"))), live=True),
    Field("received_ts", "Received", QFT_OTHER, _ts_doc("Timestamp of when job was received"),
          _ts_getter("received_timestamp"), mode=QFF_TIMESTAMP, live=True),
    Field("start_ts", "Start", QFT_OTHER, _ts_doc("Timestamp of job start"),
          _ts_getter("start_timestamp"), mode=QFF_TIMESTAMP, live=True),
    Field("end_ts", "End", QFT_OTHER, _ts_doc("Timestamp of job end"),
          _ts_getter("end_timestamp"), mode=QFF_TIMESTAMP, live=True),
], namefield="id", entity="Job", name_of=lambda job: str(job.get("id")),
    resolve=_job_resolve, order=_job_order)


# -- locks (QR_LOCK) -------------------------------------------------------

def _lock_resolve(items, names, ctx):
    by_name = {row[0]: row for row in items}
    return [by_name.get(name) or [name, None, [], []] for name in names
            if isinstance(name, str)]


#: QR_LOCK over rows [name, mode, owners, pending]: mode "exclusive",
#: "shared" or None when nobody holds the lock; owners a list of owner
#: names; pending a list of [mode, [owner...]].
LOCK_FIELDS = FieldTable([
    Field("name", "Name", QFT_OTHER, "Lock name", lambda row, ctx: row[0]),
    Field("mode", "Mode", QFT_OTHER,
          "Mode in which the lock is currently acquired (exclusive or shared)",
          lambda row, ctx: row[1], live=True),
    Field("owner", "Owner", QFT_OTHER, "Current lock owner(s)",
          lambda row, ctx: list(row[2]), live=True),
    Field("pending", "Pending", QFT_OTHER, "Jobs waiting for the lock",
          lambda row, ctx: [list(p) for p in row[3]], live=True),
], entity="Lock", name_of=lambda row: row[0], resolve=_lock_resolve)


def __getattr__(name):
    # the config object tables live in qganeti.qfields and are built on
    # first use, so that importing this module stays cheap
    if name in ("INSTANCE_FIELDS", "NODE_FIELDS", "GROUP_FIELDS", "NETWORK_FIELDS"):
        from qganeti import qfields
        return getattr(qfields, name)
    raise AttributeError("module %r has no attribute %r" % (__name__, name))
