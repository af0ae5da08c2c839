"""Numbers and text exactly as Ganeti's Haskell htools read and print them.

GHC formats a Double from its shortest decimal digits (then rounds half
to even on that digit string), its `show` switches to exponent notation
outside [0.1, 10^7), and `read` has its own lexer (parentheses, a
separate minus sign, hex and octal integers, Int wrapping to 64 bits).
Scores are printed with %.8f, so these details decide whether our output
is byte-identical.
"""

import re
from decimal import ROUND_HALF_EVEN, Context, Decimal

INF = float("inf")
_WIDE = Context(prec=2000)


class ParseError(Exception):
    """A value that Ganeti's `tryRead` would reject (message as Ganeti's)."""


# -- printing ------------------------------------------------------------

def _digits(x):
    """floatToDigits 10 x for x > 0: (shortest digits, exponent e) with
    x = 0.d1d2... * 10^e."""
    sign, digits, exp = Decimal(repr(x)).as_tuple()
    digits = list(digits)
    e = len(digits) + exp
    while len(digits) > 1 and digits[-1] == 0:
        digits.pop()
    return digits, e


def _special(x):
    if x != x:
        return "NaN"
    if x == INF:
        return "Infinity"
    if x == -INF:
        return "-Infinity"
    return None


def fixed(x, prec):
    """printf "%.<prec>f" (GHC: round half-even on the shortest digits)."""
    x = float(x)
    special = _special(x)
    if special:
        return special
    quantum = Decimal(1).scaleb(-prec)
    return format(Decimal(repr(x)).quantize(quantum, rounding=ROUND_HALF_EVEN, context=_WIDE),
                  "f")


def ffmt(x, prec, width=0):
    """printf "%<width>.<prec>f"."""
    return fixed(x, prec).rjust(width)


def fixed_shortest(x):
    """printf "%f" with no precision: all shortest digits, fixed notation."""
    x = float(x)
    special = _special(x)
    if special:
        return special
    if x < 0 or (x == 0 and repr(x).startswith("-")):
        return "-" + fixed_shortest(-x)
    if x == 0:
        return "0.0"
    digits, e = _digits(x)
    text = "".join(map(str, digits))
    if e <= 0:
        return "0." + "0" * (-e) + text
    if e >= len(text):
        return text + "0" * (e - len(text)) + ".0"
    return text[:e] + "." + text[e:]


def show_double(x, in_record=False):
    """Haskell `show` of a Double (e.g. 4.0, 0.5, 1.0e-2, 1.0e7)."""
    x = float(x)
    special = _special(x)
    if special:
        return special
    if x < 0 or (x == 0 and repr(x).startswith("-")):
        text = "-" + show_double(-x)
        return "(%s)" % text if in_record else text
    if x == 0:
        return "0.0"
    digits, e = _digits(x)
    if e < 0 or e > 7:
        rest = "".join(map(str, digits[1:])) or "0"
        return "%d.%se%d" % (digits[0], rest, e - 1)
    return fixed_shortest(x)


def _round_digits(digits, count):
    """GHC's roundTo: keep `count` digits, half to even; (carry, digits)."""
    value = Decimal("0." + "".join(map(str, digits)))
    rounded = value.quantize(Decimal(1).scaleb(-count), rounding=ROUND_HALF_EVEN)
    if rounded >= 1:
        return 1, [1] + [0] * count
    text = format(rounded, "f")[2:]
    return 0, [int(c) for c in text.ljust(count, "0")]


def gfmt(x, prec=6):
    """printf "%.<prec>g" as GHC does it (not C's %g)."""
    x = float(x)
    special = _special(x)
    if special:
        return special
    if x < 0:
        return "-" + gfmt(-x, prec)
    if x == 0:
        return fixed(0.0, prec)
    digits, e = _digits(x)
    if 0 <= e <= 7:
        return fixed(x, prec)
    count = max(prec, 1) + 1
    carry, rounded = _round_digits(digits, count)
    if carry:
        rounded = rounded[:-1]
    return "%d.%se%d" % (rounded[0], "".join(map(str, rounded[1:])), e - 1 + carry)


_SHOW_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r",
                 "\a": "\\a", "\b": "\\b", "\f": "\\f", "\v": "\\v"}


def show_string(text):
    """Haskell `show` of a String."""
    out = []
    pending_numeric = False
    for char in text:
        if pending_numeric and char.isdigit():
            out.append("\\&")
        pending_numeric = False
        if char in _SHOW_ESCAPES:
            out.append(_SHOW_ESCAPES[char])
        elif " " <= char <= "~":
            out.append(char)
        else:
            out.append("\\%d" % ord(char))
            pending_numeric = True
    return '"%s"' % "".join(out)


def show_string_list(items):
    return "[%s]" % ",".join(show_string(s) for s in items)


def print_table(prefix, header, rows, isnum):
    """Ganeti's printTable: columns padded to their widest cell (numbers
    right-aligned), cells joined by one space, each line prefixed."""
    table = [header] + rows
    widths = [max(len(row[col]) for row in table) for col in range(len(header))]
    lines = []
    for row in table:
        cells = []
        for col, cell in enumerate(row):
            fill = widths[col] - len(cell)
            if fill > 0:
                cell = " " * fill + cell if isnum[col] else cell + " " * fill
            cells.append(cell)
        lines.append(prefix + " " + " ".join(cells) + "\n")
    return "".join(lines)


# -- reading (GHC's `reads` for Int and Double) ---------------------------

_NUMBER = re.compile(r"0[xX][0-9a-fA-F]+|0[oO][0-7]+|[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_']*")
_SYMBOL = re.compile(r"[!#$%&*+./<=>?@\\^|~:-]+")
_WORD = 1 << 64


def _skip_space(text, pos):
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos


def _lex_value(text, pos, integral):
    match = _NUMBER.match(text, pos)
    if match:
        lexeme = match.group(0)
        if lexeme[:2] in ("0x", "0X"):
            value = int(lexeme[2:], 16)
        elif lexeme[:2] in ("0o", "0O"):
            value = int(lexeme[2:], 8)
        elif integral:
            if match.group(1) or match.group(2):
                return None
            value = int(lexeme)
        else:
            value = Decimal(lexeme)
        if not integral:
            try:
                value = float(value)
            except OverflowError:
                value = INF
        return value, match.end()
    if not integral:
        match = _IDENT.match(text, pos)
        if match and match.group(0) in ("NaN", "Infinity"):
            return float(match.group(0)), match.end()
    return None


def reads(text, integral):
    """First result of Haskell `reads`: (value, rest) or None."""
    pos = _skip_space(text, 0)
    depth = 0
    while pos < len(text) and text[pos] == "(":
        depth += 1
        pos = _skip_space(text, pos + 1)
    negative = False
    symbol = _SYMBOL.match(text, pos)
    if symbol:
        if symbol.group(0) != "-":
            return None
        negative = True
        pos = _skip_space(text, symbol.end())
    lexed = _lex_value(text, pos, integral)
    if lexed is None:
        return None
    value, pos = lexed
    if negative:
        value = -value
    for _ in range(depth):
        pos = _skip_space(text, pos)
        if pos >= len(text) or text[pos] != ")":
            return None
        pos += 1
    if integral:
        value %= _WORD
        if value >= _WORD // 2:
            value -= _WORD
    return value, text[pos:]


def try_read(name, text, integral):
    """Ganeti's tryRead: the value, or ParseError with Ganeti's message."""
    result = reads(text, integral)
    if result is None:
        raise ParseError("%s: cannot parse string '%s'" % (name, text))
    value, rest = result
    if rest:
        raise ParseError("%s: leftover characters when parsing '%s': '%s'"
                         % (name, text, rest))
    return value


def read_int(name, text):
    return try_read(name, text, True)


def read_double(name, text):
    return try_read(name, text, False)
