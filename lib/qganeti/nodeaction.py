"""What every node action (libexec/qganeti/node/<verb>) shares.

A node action is one verb run on the node it concerns: it takes its
parameters on argv (and, for structured or secret input, one JSON value on
stdin), prints its result as JSON on stdout, talks on stderr, and exits

    0    done
    1    no (e.g. the instance is not running, for a check)
    100  usage or permanent error (retrying will not help)
    111  temporary or system failure

Messages have one shape: `PROG: fatal: unable to VERB OBJECT: reason`
(the last line of stderr is what the caller reports).  A program is

    from qganeti import nodeaction
    def act(args, opts, data): ... return result
    nodeaction.main("start", "instance {1}", act, "HYPERVISOR NAME MEMORY VCPUS",
                    nargs=4, flags=("--paused",))

OBJ is formatted with the positional arguments ("instance {1}").
"""

import os
import sys

EXIT_OK = 0
EXIT_NO = 1
EXIT_PERMANENT = 100
EXIT_TEMPORARY = 111


class Usage(Exception):
    """Bad argv: print the usage line and exit 100."""


class No(Exception):
    """A negative answer (exit 1) with its reason."""


def _dump(value):
    from qganeti import fastjson
    return fastjson.dumps(value, sort_keys=True)


def int_arg(text, what):
    try:
        value = int(text)
    except ValueError:
        raise Usage("%s must be an integer, not '%s'" % (what, text))
    return value


def main(verb, obj, fn, usage, nargs=0, flags=(), options=(), stdin=False, argv=None):
    """Run FN(args, opts, data) as the node action PROG; never returns.

    NARGS: exact count or (min, max); FLAGS: boolean --options; OPTIONS:
    --options with a value; STDIN: read one JSON value from stdin as DATA.
    """
    prog = os.path.basename(sys.argv[0])
    argv = list(sys.argv[1:] if argv is None else argv)
    usage_line = "Usage: %s %s" % (prog, " ".join(
        ["[%s]" % f for f in flags] + ["[%s VALUE]" % o for o in options] + [usage]).strip())
    if "--help" in argv or "-h" in argv:
        sys.stdout.write(usage_line + "\n")
        sys.exit(EXIT_OK)
    opts = {f: False for f in flags}
    opts.update({o: None for o in options})
    args = []
    i = 0
    try:
        while i < len(argv):
            arg = argv[i]
            i += 1
            if arg == "--":
                args.extend(argv[i:])
                break
            if arg in flags:
                opts[arg] = True
            elif arg in options:
                if i >= len(argv):
                    raise Usage("%s needs a value" % arg)
                opts[arg] = argv[i]
                i += 1
            elif arg.startswith("--"):
                raise Usage("unknown option %s" % arg)
            else:
                args.append(arg)
        low, high = (nargs, nargs) if isinstance(nargs, int) else nargs
        if len(args) < low or (high is not None and len(args) > high):
            raise Usage("wrong number of arguments")
        data = None
        if stdin:
            from qganeti import fastjson
            text = sys.stdin.read()
            try:
                data = fastjson.loads(text) if text.strip() else None
            except ValueError as err:
                raise Usage("stdin is not JSON: %s" % err)
        result = fn(args, opts, data)
    except Usage as err:
        sys.stderr.write("%s: usage: %s\n%s\n" % (prog, err.args[0], usage_line))
        sys.exit(EXIT_PERMANENT)
    except No as err:
        sys.stderr.write("%s: %s\n" % (prog, err.args[0]))
        sys.exit(EXIT_NO)
    except Exception as err:   # noqa: BLE001 - every failure becomes one line
        from qganeti import errors
        if isinstance(err, errors.GenericError):
            code = EXIT_PERMANENT
            reason = str(err.args[0]) if err.args else type(err).__name__
        elif isinstance(err, OSError):
            code = EXIT_TEMPORARY
            reason = err.strerror or str(err)
            if err.filename:
                reason = "%s: %s" % (err.filename, reason)
        else:
            code = EXIT_TEMPORARY
            reason = "%s: %s" % (type(err).__name__, err)
        try:
            what = obj.format(*args)
        except (IndexError, KeyError):
            what = obj.split(" ")[0]
        sys.stderr.write("%s: fatal: unable to %s %s: %s\n" % (prog, verb, what, reason))
        sys.exit(code)
    sys.stdout.write(_dump(result) + "\n")
    sys.stdout.flush()
    sys.exit(EXIT_OK)


def hypervisor_step(verb, function, doc_input):
    """main() for an action `HYPERVISOR NAME < {json}` that is one hypervisor
    function fn(name, data) -> JSON value (the migration steps)."""
    def act(args, opts, data):
        from qganeti import hypervisor
        if data is not None and not isinstance(data, dict):
            raise Usage("stdin must be a JSON object")
        return getattr(hypervisor.get(args[0]), function)(args[1], data or {})
    main(verb, "instance {1}", act, "HYPERVISOR NAME < %s" % doc_input, nargs=2, stdin=True)
