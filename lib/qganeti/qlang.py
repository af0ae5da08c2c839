"""Ganeti's query filter language: text syntax -> filter structure.

A filter is a list `[op, operand...]` (ganeti-interfaces.md 11.3); the text
syntax (`gnt-* list -F`, and one list argument that looks like a filter) is
parsed here into that structure, as Ganeti's pyparsing grammar does:

    condition   field == value, field != value, < <= > >= (and legacy =)
                value in field, value not in field
                field =~ m/regexp/flags, field !~ ...   (delimiters / # ^ |,
                                                          flags i and s)
                field =* "glob", field !* "glob"
                field                                  (boolean test)
    value       integer (optional sign) or a single/double quoted string
    combinators not > and > or, parentheses; and/or chains are flat lists

Two properties of Ganeti's parser are kept on purpose because filters must
mean the same thing here as there: quoted values are taken verbatim between
the quotes (backslashes stay), while inside a regular expression a
backslash followed by any character stands for that character (so `\\/` is a
slash and `\\d` is `d`); and the flags of a regular expression may follow it
after blanks, so `name =~ /x/ and y` is refused as carrying unknown flags
("adn"), as Ganeti refuses it.

Nothing is compiled at import time; `re` is only imported when a regular
expression or a glob pattern is met.
"""

from qganeti import errors

OP_OR = "|"
OP_AND = "&"
OP_NOT = "!"
OP_TRUE = "?"
OP_EQUAL = "=="
OP_EQUAL_LEGACY = "="
OP_NOT_EQUAL = "!="
OP_LT = "<"
OP_LE = "<="
OP_GT = ">"
OP_GE = ">="
OP_REGEXP = "=~"
OP_CONTAINS = "=[]"

#: An argument with any of these is parsed as a filter (qlang.MakeFilter)
FILTER_DETECTION_CHARS = frozenset("!\"'()/<=>\\~" + " \t\n\r\x0b\x0c")
#: An argument with any of these is a glob pattern on the name
GLOB_DETECTION_CHARS = frozenset("*?")

_REGEXP_DELIMS = "/#^|"
_REGEXP_FLAGS = frozenset("si")
_WHITESPACE = " \t\n\r"
_ALPHAS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_DIGITS = frozenset("0123456789")
_FIELD_CHARS = _ALPHAS | _DIGITS | frozenset("_/.")
_KEYWORD_CHARS = _ALPHAS | _DIGITS | frozenset("_$")
# longest first, as pyparsing's oneOf orders them
_BINARY_OPS = (("==", OP_EQUAL), ("!=", OP_NOT_EQUAL), ("<=", OP_LE),
               (">=", OP_GE), ("=", OP_EQUAL), ("<", OP_LT), (">", OP_GT))


def make_simple_filter(namefield, values):
    """`["|", ["==", namefield, v]...]` for VALUES; None when there are none."""
    if values:
        return [OP_OR] + [[OP_EQUAL, namefield, v] for v in values]
    return None


def dns_name_glob_pattern(pattern):
    """The regular expression for a DNS-name glob (`*`, `?` stay within a label).

    Anchored on the left; further `.domain` parts may follow, so `web*`
    matches `web1.example.com` but not `webserver-x.y` in `a.webserver`.
    """
    import re

    def part(match):
        text = match.group(0)
        if text == "*":
            return "[^.]*"
        if text == "?":
            return "[^.]"
        return re.escape(text)

    return r"^%s(\..*)?$" % re.sub(r"\*|\?|[^*?]*", part, pattern)


class _Fail(Exception):
    """A grammar alternative did not match at `loc` (backtrack)."""

    def __init__(self, loc, msg):
        Exception.__init__(self, msg)
        self.loc = loc
        self.msg = msg


class _Fatal(_Fail):
    """A match that is known to be wrong: no backtracking (ParseFatalException)."""


def _location(text, loc):
    """(line text, line number, column), all as pyparsing counts them."""
    lineno = text.count("\n", 0, loc) + 1
    start = text.rfind("\n", 0, loc) + 1
    end = text.find("\n", loc)
    line = text[start:] if end < 0 else text[start:end]
    return line, lineno, loc - start + 1


class _Parser:
    def __init__(self, text):
        self.text = text
        self.end = len(text)

    # -- lexical helpers -------------------------------------------------
    def skip(self, pos):
        text, end = self.text, self.end
        while pos < end and text[pos] in _WHITESPACE:
            pos += 1
        return pos

    def literal(self, pos, lit):
        pos = self.skip(pos)
        if self.text.startswith(lit, pos):
            return pos + len(lit)
        raise _Fail(pos, "Expected \"%s\"" % lit)

    def keyword(self, pos, word):
        pos = self.skip(pos)
        text = self.text
        if (text.startswith(word, pos)
                and (pos + len(word) >= self.end or text[pos + len(word)] not in _KEYWORD_CHARS)
                and (pos == 0 or text[pos - 1] not in _KEYWORD_CHARS)):
            return pos + len(word)
        raise _Fail(pos, "Expected \"%s\"" % word)

    def field(self, pos):
        pos = self.skip(pos)
        text, end = self.text, self.end
        if pos >= end or text[pos] not in _ALPHAS:
            raise _Fail(pos, "Expected field name")
        stop = pos + 1
        while stop < end and text[stop] in _FIELD_CHARS:
            stop += 1
        return stop, text[pos:stop]

    def number(self, pos):
        pos = self.skip(pos)
        text, end = self.text, self.end
        stop = pos
        if stop < end and text[stop] in "+-":
            stop += 1
        digits = stop
        while stop < end and text[stop] in _DIGITS:
            stop += 1
        if stop == digits:
            raise _Fail(pos, "Expected number")
        return stop, int(text[pos:stop])

    def quoted(self, pos):
        """pyparsing's quotedString with removeQuotes: the text between the quotes."""
        pos = self.skip(pos)
        text, end = self.text, self.end
        if pos >= end or text[pos] not in "\"'":
            raise _Fail(pos, "Expected quoted string")
        quote = text[pos]
        i = pos + 1
        while i < end:
            c = text[i]
            if c == quote:
                if i + 1 < end and text[i + 1] == quote:  # doubled quote
                    i += 2
                    continue
                return i + 1, text[pos + 1:i]
            if c in "\n\r":
                break
            if c == "\\":
                if i + 1 >= end:
                    break
                i += 2
                continue
            i += 1
        raise _Fail(pos, "Expected quoted string")

    def value(self, pos):
        try:
            return self.number(pos)
        except _Fail:
            return self.quoted(pos)

    def regexp(self, pos):
        """[m] DELIM text DELIM [flags] -> the regular expression, as Ganeti builds it."""
        pos = self.skip(pos)
        start = pos
        text, end = self.text, self.end
        if text.startswith("m", pos):
            pos = self.skip(pos + 1)
        if pos >= end or text[pos] not in _REGEXP_DELIMS:
            raise _Fail(pos, "Expected regular expression")
        delim = text[pos]
        i = pos + 1
        while True:
            if i >= end or text[i] in "\n\r":
                raise _Fail(pos, "Expected regular expression")
            c = text[i]
            if c == "\\":
                if i + 1 >= end or text[i + 1] in "\n\r":
                    raise _Fail(pos, "Expected regular expression")
                i += 2
                continue
            if c == delim:
                break
            i += 1
        stop = i + 1
        body = text[pos + 1:i]
        if "\\" in body:
            # pyparsing's QuotedString(escChar="\\"): whitespace escapes
            # first, then a backslash before any character is dropped
            for esc, char in (("\\t", "\t"), ("\\n", "\n"), ("\\f", "\f"), ("\\r", "\r")):
                body = body.replace(esc, char)
            import re
            body = re.sub(r"\\(.)", r"\1", body)
        fpos = self.skip(stop)
        fstop = fpos
        while fstop < end and text[fstop] in _ALPHAS:
            fstop += 1
        flags = ""
        if fstop > fpos:
            flags, stop = text[fpos:fstop], fstop
        unknown = frozenset(flags) - _REGEXP_FLAGS
        if unknown:
            raise _Fatal(start, "Unknown regular expression flags: '%s'"
                         % "".join(sorted(unknown)))
        if flags:
            body = "(?%s)%s" % ("".join(sorted(frozenset(flags))), body)
        import re
        try:
            re.compile(body)
        except re.error as err:
            raise _Fatal(start, "Invalid regular expression (%s)" % err)
        return stop, body

    # -- grammar ---------------------------------------------------------
    def condition(self, pos):
        best = None
        failure = None
        for alternative in (self._binary, self._bool, self._in, self._not_in,
                            self._regexp, self._not_regexp, self._glob, self._not_glob):
            try:
                stop, result = alternative(pos)
            except _Fatal:
                raise
            except _Fail as err:
                if failure is None or err.loc > failure.loc:
                    failure = err
                continue
            if best is None or stop > best[0]:
                best = (stop, result)
        if best is None:
            raise failure
        return best

    def _binary(self, pos):
        pos, name = self.field(pos)
        pos = self.skip(pos)
        for lit, op in _BINARY_OPS:
            if self.text.startswith(lit, pos):
                pos, val = self.value(pos + len(lit))
                return pos, [op, name, val]
        raise _Fail(pos, "Expected comparison operator")

    def _bool(self, pos):
        pos, name = self.field(pos)
        return pos, [OP_TRUE, name]

    def _in(self, pos):
        pos, val = self.value(pos)
        pos = self.literal(pos, "in")
        pos, name = self.field(pos)
        return pos, [OP_CONTAINS, name, val]

    def _not_in(self, pos):
        pos, val = self.value(pos)
        pos = self.literal(pos, "not")
        pos = self.literal(pos, "in")
        pos, name = self.field(pos)
        return pos, [OP_NOT, [OP_CONTAINS, name, val]]

    def _regexp(self, pos):
        pos, name = self.field(pos)
        pos = self.literal(pos, "=~")
        pos, rx = self.regexp(pos)
        return pos, [OP_REGEXP, name, rx]

    def _not_regexp(self, pos):
        pos, name = self.field(pos)
        pos = self.literal(pos, "!~")
        pos, rx = self.regexp(pos)
        return pos, [OP_NOT, [OP_REGEXP, name, rx]]

    def _glob(self, pos):
        pos, name = self.field(pos)
        pos = self.literal(pos, "=*")
        pos, pattern = self.quoted(pos)
        return pos, [OP_REGEXP, name, dns_name_glob_pattern(pattern)]

    def _not_glob(self, pos):
        pos, name = self.field(pos)
        pos = self.literal(pos, "!*")
        pos, pattern = self.quoted(pos)
        return pos, [OP_NOT, [OP_REGEXP, name, dns_name_glob_pattern(pattern)]]

    def atom(self, pos):
        try:
            return self.condition(pos)
        except _Fatal:
            raise
        except _Fail as err:
            try:
                inner = self.literal(pos, "(")
            except _Fail:
                raise err
            inner, result = self.expr(inner)
            return self.literal(inner, ")"), result

    def negation(self, pos):
        try:
            inner = self.keyword(pos, "not")
            stop, result = self.negation(inner)
            return stop, [OP_NOT, result]
        except _Fatal:
            raise
        except _Fail:
            return self.atom(pos)

    def _chain(self, pos, word, op, operand):
        pos, first = operand(pos)
        items = [first]
        while True:
            try:
                after = self.keyword(pos, word)
                stop, item = operand(after)
            except _Fatal:
                raise
            except _Fail:
                break
            items.append(item)
            pos = stop
        if len(items) == 1:
            return pos, first
        return pos, [op] + items

    def conjunction(self, pos):
        return self._chain(pos, "and", OP_AND, self.negation)

    def expr(self, pos):
        return self._chain(pos, "or", OP_OR, self.conjunction)

    def parse(self):
        pos, result = self.expr(0)
        pos = self.skip(pos)
        if pos != self.end:
            raise _Fail(pos, "Expected end of text")
        return result


def parse_filter(text):
    """The filter structure for the filter TEXT.

    Raises errors.QueryFilterParseError(message, (line, column, reason)),
    worded as Ganeti words it; error_details() gives the lines Ganeti's CLI
    prints under the message.
    """
    try:
        return _Parser(text).parse()
    except _Fail as err:
        line, lineno, column = _location(text, err.loc)
        reason = "%s (at char %d), (line:%d, col:%d)" % (err.msg, err.loc, lineno, column)
        raise errors.QueryFilterParseError(
            "Failed to parse query filter '%s': %s" % (text, reason),
            (line, column, reason)) from None


def error_details(err):
    """The three lines Ganeti prints below a filter parse error: the line, a
    caret under the failing column, the parser's reason."""
    try:
        line, column, reason = err.args[1]
    except (IndexError, TypeError, ValueError):
        return []
    return [line, " " * (column - 1) + "^", reason]


def _name_part(namefield, text, numeric):
    if numeric:
        try:
            number = int(text)
        except (TypeError, ValueError) as err:
            raise errors.OpPrereqError("Invalid job ID passed: %s" % err,
                                       errors.ECODE_INVAL) from None
        return [OP_EQUAL, namefield, number]
    if frozenset(text) & GLOB_DETECTION_CHARS:
        return [OP_REGEXP, namefield, dns_name_glob_pattern(text)]
    return [OP_EQUAL, namefield, text]


def make_filter(args, force_filter=False, numeric=False, namefield=None):
    """The filter for the arguments of a list command, by Ganeti's CLI rule.

    With force_filter, or a single argument containing any of
    FILTER_DETECTION_CHARS, that argument is parsed as a filter; otherwise
    every argument is a name ORed on NAMEFIELD ("name"; "id" and numeric
    for jobs), a name with `*` or `?` becoming a glob regexp. No arguments:
    None.
    """
    if namefield is None:
        namefield = "id" if numeric else "name"
    if force_filter or (args and len(args) == 1 and frozenset(args[0]) & FILTER_DETECTION_CHARS):
        if not args or len(args) != 1:
            raise errors.OpPrereqError("Exactly one argument must be given as a filter",
                                       errors.ECODE_INVAL)
        return parse_filter(args[0])
    if args:
        return [OP_OR] + [_name_part(namefield, arg, numeric) for arg in args]
    return None
