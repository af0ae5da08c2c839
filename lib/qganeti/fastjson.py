"""JSON for short-lived processes, without `re`.

The standard json package imports re (and, through it, enum): about 8 ms
of every op process's start-up here, more than the rest of our own code.
The C scanner and encoder in _json do the real work in either case; this
module calls them directly. Output is the same as json.dumps with
separators=(",", ":"); input is parsed as json.loads does.
"""

try:
    import _json
except ImportError:   # pragma: no cover - CPython always has it
    _json = None


class _Context:
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    memo = None

    @staticmethod
    def parse_constant(name):
        return {"NaN": float("nan"), "Infinity": float("inf"),
                "-Infinity": float("-inf")}[name]


_WS = " \t\n\r"


def _default(obj):
    raise TypeError("Object of type %s is not JSON serializable" % type(obj).__name__)


if _json is not None:
    _scan = _json.make_scanner(_Context())

    def _encoder(sort_keys):
        return _json.make_encoder(None, _default, _json.encode_basestring_ascii, None,
                                  ":", ",", sort_keys, False, True)

    _encode = _encoder(False)
    _encode_sorted = _encoder(True)


def loads(text):
    if _json is None:  # pragma: no cover
        import json
        return json.loads(text)
    if isinstance(text, (bytes, bytearray)):
        text = text.decode("utf-8")
    end = len(text)
    idx = 0
    while idx < end and text[idx] in _WS:
        idx += 1
    try:
        obj, idx = _scan(text, idx)
    except StopIteration as err:
        raise ValueError("Expecting value: char %d" % err.value) from None
    while idx < end and text[idx] in _WS:
        idx += 1
    if idx != end:
        raise ValueError("Extra data: char %d" % idx)
    return obj


def dumps(obj, sort_keys=False):
    if _json is None:  # pragma: no cover
        import json
        return json.dumps(obj, separators=(",", ":"), sort_keys=sort_keys)
    return "".join((_encode_sorted if sort_keys else _encode)(obj, 0))
