"""Ganeti's CLI output for queries, and the small parsers list commands share.

format_query() prints a Query result the way `gnt-* list` does
(cli.FormatQueryResult/FormatTable): titles as headers, columns padded to
their width (numbers and sizes right-aligned, the last text column not
padded) or joined by --separator, sizes in human units without a separator
and in MiB with one, booleans Y/N, timestamps in local time, non-normal
cells as `??` `?` `-` `*` (verbose: `(unknown)` `(nodata)` `(unavail)`
`(offline)`). Values are expected as they come out of JSON (lists, not
tuples). LIST_FORMAT holds the per-command column overrides of Ganeti's
gnt-* tools and DEFAULT_FIELDS their default columns.
"""

from qganeti import errors

RS_NORMAL, RS_UNKNOWN, RS_NODATA, RS_UNAVAIL, RS_OFFLINE = range(5)

#: the overall outcome of a listing (cli.QR_*)
QR_NORMAL, QR_UNKNOWN, QR_INCOMPLETE = range(3)

#: exit code of a list command that was asked for unknown fields
EXIT_UNKNOWN_FIELD = 14

_RS_TEXT = {
    RS_UNKNOWN: ("(unknown)", "??"),
    RS_NODATA: ("(nodata)", "?"),
    RS_UNAVAIL: ("(unavail)", "-"),
    RS_OFFLINE: ("(offline)", "*"),
}

#: list-fields' names of the field kinds
KIND_NAMES = {
    "unknown": "Unknown",
    "text": "Text",
    "bool": "Boolean",
    "number": "Number",
    "float": "Floating-point number",
    "unit": "Storage size",
    "timestamp": "Timestamp",
    "other": "Custom",
}

#: default columns of the list commands
DEFAULT_FIELDS = {
    "instance": ["name", "hypervisor", "os", "pnode", "status", "oper_ram"],
    "node": ["name", "dtotal", "dfree", "mtotal", "mnode", "mfree", "pinst_cnt", "sinst_cnt"],
    "group": ["name", "node_cnt", "pinst_cnt", "alloc_policy", "ndparams"],
    "job": ["id", "status", "summary"],
    "network": ["name", "network", "gateway", "mac_prefix", "group_list", "tags"],
    "lock": ["name", "mode", "owner", "pending"],
    "filter": ["uuid", "watermark", "priority", "predicates", "action", "reason_trail"],
    "export": ["node", "export"],
}


def format_time(value, usecs=None):
    """Local `YYYY-MM-DD HH:MM:SS[.usecs]`, or N/A (utils.FormatTime)."""
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return "N/A"
    import time
    result = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(value))
    if usecs is not None:
        result += ".%06d" % usecs
    return result


def format_timestamp(ts):
    """A [sec, usec] timestamp as local time with microseconds; `?` if not one."""
    if not isinstance(ts, (tuple, list)) or len(ts) != 2:
        return "?"
    return format_time(ts[0], usecs=ts[1])


def format_unit(value, units):
    """MiB VALUE in UNITS: m (MiB), g, t (one decimal), h (M/G/T suffix)."""
    if units not in ("m", "g", "t", "h"):
        raise errors.ProgrammerError("Invalid unit specified '%s'" % str(units))
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise errors.ProgrammerError("Invalid value specified '%s (%s)'" % (value, type(value)))
    if units == "m" or (units == "h" and value < 1024):
        return "%0.0f%s" % (value, "M" if units == "h" else "")
    if units == "g" or (units == "h" and value < 1024 * 1024):
        return "%0.1f%s" % (float(value) / 1024, "G" if units == "h" else "")
    return "%0.1f%s" % (float(value) / 1024 / 1024, "T" if units == "h" else "")


def parse_unit(text):
    """`512`, `1.5G`, `2 t`... in MiB, rounded up to a multiple of 4."""
    import re
    match = re.match(r"^([.\d]+)\s*([a-zA-Z]+)?$", str(text))
    if not match:
        raise errors.UnitParseError("Invalid format")
    try:
        value = float(match.group(1))
    except ValueError:
        raise errors.UnitParseError("Invalid format") from None
    unit = match.group(2)
    lcunit = unit.lower() if unit else "m"
    if lcunit in ("m", "mb", "mib"):
        pass
    elif lcunit in ("g", "gb", "gib"):
        value *= 1024
    elif lcunit in ("t", "tb", "tib"):
        value *= 1024 * 1024
    else:
        raise errors.UnitParseError("Unknown unit: %s" % unit)
    if int(value) < value:
        value += 1
    value = int(value)
    if value % 4:
        value += 4 - value % 4
    return value


def unescape_and_split(text, sep=","):
    r"""Split TEXT at SEP; `\,` is a literal comma, `\\` a backslash."""
    import re
    pieces = text.split(sep)
    out = []
    while pieces:
        first = pieces.pop(0)
        if first.endswith("\\"):
            count = len(first) - len(first.rstrip("\\"))
            if count % 2 == 1 and pieces:
                pieces.insert(0, first + sep + pieces.pop(0))
                continue
        out.append(first)
    return [re.sub(r"\\(.)", r"\1", piece) for piece in out]


def parse_keyval(text, opt="", parse_prefixes=True):
    r"""`k=v,flag,no_flag,-reset` -> {k: "v", flag: True, flag: False, reset: None}.

    Values stay strings; `\,` escapes a comma. Duplicate keys (and, without
    parse_prefixes, keys without a value) raise errors.ParameterError.
    """
    result = {}
    if not text:
        return result
    for elem in unescape_and_split(text, sep=","):
        if "=" in elem:
            key, val = elem.split("=", 1)
        elif parse_prefixes:
            if elem.startswith("no_"):
                key, val = elem[3:], False
            elif elem.startswith("-"):
                key, val = elem[1:], None
            else:
                key, val = elem, True
        else:
            raise errors.ParameterError("Missing value for key '%s' in option %s" % (elem, opt))
        if key in result:
            raise errors.ParameterError("Duplicate key '%s' in option %s" % (key, opt))
        result[key] = val
    return result


def parse_ident_keyval(text, opt="", parse_prefixes=True):
    """`ident:k=v,...` -> (ident, {k: v...}); `no_ident` -> (ident, False) and
    `-ident` -> (ident, None) remove a parameter group (not `-0`: an index)."""
    if ":" in text:
        ident, rest = text.split(":", 1)
    else:
        ident, rest = text, ""
    if parse_prefixes and ident.startswith("no_"):
        if rest:
            raise errors.ParameterError("Cannot pass options when removing parameter groups: %s"
                                        % text)
        return ident[3:], False
    if parse_prefixes and ident.startswith("-") and (len(ident) <= 1 or not ident[1].isdigit()):
        if rest:
            raise errors.ParameterError("Cannot pass options when removing parameter groups: %s"
                                        % text)
        return ident[1:], None
    return ident, parse_keyval(rest, opt, parse_prefixes)


def parse_fields(selected, default):
    """The -o value: None -> DEFAULT, `+a,b` -> DEFAULT + [a, b], else split."""
    if selected is None:
        return list(default)
    if selected.startswith("+"):
        return list(default) + selected[1:].split(",")
    return selected.split(",")


def _format_bool(value):
    return "Y" if value else "N"


def _join_str(value):
    return ",".join(str(item) for item in value)


def _join(value):
    return ",".join(value)


def _format_dict(value):
    if not value:
        return "(empty)"
    return ", ".join("%s=%s" % (key, val) for key, val in value.items())


def _dash_if_empty(fn):
    def wrapper(value):
        if not value:
            return "-"
        return fn(value)
    return wrapper


def _format_pending(value):
    return ", ".join("%s:%s" % (mode, ",".join(str(owner) for owner in owners))
                     for mode, owners in value)


def _format_group_list(value):
    return ", ".join("%s (%s, %s, %s)" % tuple(entry) for entry in value)


def _format_timestamps(value):
    return str([format_timestamp(ts) for ts in value])


#: per-resource column overrides of the gnt-* list commands:
#: {field name: (format function, align right)}
LIST_FORMAT = {
    "instance": dict.fromkeys(["tags", "disk.sizes", "nic.macs", "nic.ips", "nic.modes",
                               "nic.links", "nic.bridges", "nic.networks", "snodes",
                               "snodes.group", "snodes.group.uuid"], (_join_str, False)),
    "node": dict.fromkeys(["pinst_list", "sinst_list", "tags"], (_join, False)),
    "group": {"node_list": (_join, False), "pinst_list": (_join, False),
              "ndparams": (_format_dict, False)},
    "job": dict({"status": (str, False), "summary": (_join, False)},
                **dict.fromkeys(["opstart", "opexec", "opend"], (_format_timestamps, False))),
    "network": {"group_list": (_format_group_list, False), "inst_list": (_join, False),
                "tags": (_join, False)},
    "lock": {"mode": (_dash_if_empty(str), False), "owner": (_dash_if_empty(_join), False),
             "pending": (_dash_if_empty(_format_pending), False)},
}

_KIND_FORMAT = {
    "text": (str, False),
    "bool": (_format_bool, False),
    "number": (str, True),
    "float": (str, True),
    "timestamp": (format_time, False),
    "other": (str, False),
    "unknown": (str, False),
}


def format_table(rows, columns, headers=True, separator=None):
    """Lines of a table; COLUMNS are (title, align_right), ROWS already strings."""
    if headers:
        data = [[title for title, _ in columns]]
        widths = [len(title) for title, _ in columns]
    else:
        data = []
        widths = [0] * len(columns)
    for row in rows:
        if separator is None:
            for idx, value in enumerate(row):
                if len(value) > widths[idx]:
                    widths[idx] = len(value)
        data.append(row)
    if separator is not None:
        return [separator.join(row) for row in data]
    if columns and not columns[-1][1]:
        widths[-1] = 0
    fmt = " ".join("%%%s%ds" % ("" if right else "-", width)
                   for (_, right), width in zip(columns, widths))
    return [fmt % tuple(row) for row in data]


def _formatters(fields, units, column_format):
    out = []
    for fdef in fields:
        override = column_format.get(fdef["name"]) if column_format else None
        if override is not None:
            out.append(override)
        elif fdef["kind"] == "unit":
            out.append(((lambda value: format_unit(value, units)), True))
        else:
            out.append(_KIND_FORMAT.get(fdef["kind"], (str, False)))
    return out


def format_query(result, *, headers=True, separator=None, units=None, verbose=False,
                 column_format=None):
    """The lines `gnt-* list` prints for a Query RESULT.

    units: h, m, g or t (default h, or m when a separator is given);
    column_format: {field name: (function, align_right)} overrides, e.g.
    LIST_FORMAT["instance"].
    """
    if units is None:
        units = "m" if separator else "h"
    fields = result["fields"]
    formatters = _formatters(fields, units, column_format)
    pick = 0 if verbose else 1
    str_columns = []
    for column, (fn, _) in zip(zip(*result["data"]), formatters):
        if fn is str:
            cells = [str(value) if status == RS_NORMAL else _RS_TEXT[status][pick]
                     for status, value in column]
        else:
            cells = [str(fn(value)) if status == RS_NORMAL else _RS_TEXT[status][pick]
                     for status, value in column]
        str_columns.append(cells)
    if not str_columns:
        str_columns = [[] for _ in fields]
    columns = [(fdef["title"], right) for fdef, (_, right) in zip(fields, formatters)]
    return _format_columns(str_columns, columns, headers, separator)


def _format_columns(str_columns, columns, headers, separator):
    if headers:
        str_columns = [[title] + cells for (title, _), cells in zip(columns, str_columns)]
    rows = zip(*str_columns)
    if separator is not None:
        return [separator.join(row) for row in rows]
    widths = [max(map(len, cells)) if cells else 0 for cells in str_columns]
    if columns and not columns[-1][1]:
        widths[-1] = 0
    fmt = " ".join("%%%s%ds" % ("" if right else "-", width)
                   for (_, right), width in zip(columns, widths))
    return [fmt % row for row in rows]


def unknown_fields(result):
    """Names of the requested fields the server did not know (kind unknown)."""
    return [fdef["name"] for fdef in result["fields"] if fdef["kind"] == "unknown"]


def unknown_fields_warning(result):
    """Ganeti's stderr line for unknown fields, or None."""
    names = unknown_fields(result)
    if not names:
        return None
    return "Warning: Queried for unknown fields %s" % ", ".join(names)


def query_status(result):
    """QR_UNKNOWN if a field is unknown, QR_INCOMPLETE if a cell is not
    normal, else QR_NORMAL (cli.FormatQueryResult's status)."""
    seen = set()
    for row in result["data"]:
        for status, _ in row:
            seen.add(status)
    if RS_UNKNOWN in seen or (not result["data"] and unknown_fields(result)):
        return QR_UNKNOWN
    if seen - {RS_NORMAL}:
        return QR_INCOMPLETE
    return QR_NORMAL


def format_fields(fielddefs, *, headers=True, separator=None):
    """The lines of `gnt-* list-fields`: Name, Type, Title, Description."""
    rows = [[fdef["name"], KIND_NAMES.get(fdef["kind"], fdef["kind"]), fdef["title"],
             fdef["doc"]] for fdef in fielddefs]
    columns = [("Name", False), ("Type", False), ("Title", False), ("Description", False)]
    return format_table(rows, columns, headers, separator)
