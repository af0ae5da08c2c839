"""What the gnt-node, gnt-group and gnt-network commands share.

    cli_objects.tag_commands(kind, usage_name, noun)   list-tags, add-tags,
                        remove-tags for objects of a tag kind (Ganeti's
                        ListTags, AddTags, RemoveTags)
    cli_objects.query_objects(resource, fields, names, kind_name)
                        Ganeti's old-style QueryNodes/QueryGroups/QueryNetworks
                        done with Query: rows of plain values, in the order
                        of NAMES (all objects, nice-sorted, when none), an
                        unknown name an error as luxid words it
    cli_objects.env_defaults(argv, commands)   GNT_<TOOL>_<COMMAND> default options
    cli_objects.wait_for_jobs(result, opts)    the jobs an opcode submitted, waited for
"""

import os
import sys

from qganeti import cli, errors


# -- tags

def _extend(opts, args):
    if opts.tags_source is None:
        return args
    handle = sys.stdin if opts.tags_source == "-" else open(opts.tags_source)
    with handle:
        return args + [line.strip() for line in handle]


def _list_tags(kind):
    def list_tags(opts, args):
        for tag in sorted(cli.get_client().QueryTags(kind, args[0])):
            cli.out(tag)
        return 0
    return list_tags


def _change_tags(kind, op_id, what):
    def change_tags(opts, args):
        tags = _extend(opts, args[1:])
        if not tags:
            raise errors.OpPrereqError("No tags to be %s" % what, errors.ECODE_INVAL)
        cli.submit_or_send(cli.op(op_id, kind=kind, name=args[0], tags=tags), opts)
        return 0
    return change_tags


def tag_commands(kind, usage_name, noun):
    """The three tag commands for objects of KIND, as a command table."""
    opts = [cli.TAG_SRC_OPT, cli.PRIORITY_OPT] + cli.SUBMIT_OPTS
    return {
        "list-tags": (_list_tags(kind), cli.ARGS_ONE, [], usage_name,
                      "List the tags of the given %s" % noun),
        "add-tags": (_change_tags(kind, "OP_TAGS_SET", "added"), cli.ARGS_AT_LEAST_ONE, opts,
                     "%s <tag>..." % usage_name, "Add tags to the given %s" % noun),
        "remove-tags": (_change_tags(kind, "OP_TAGS_DEL", "removed"), cli.ARGS_AT_LEAST_ONE,
                        opts, "%s <tag>..." % usage_name, "Remove tags from the given %s" % noun),
    }


# -- queries

def query_objects(resource, fields, names, kind_name, client=None):
    """Rows of values of FIELDS for the objects NAMES (all when empty).

    A name matches an object's name (for nodes also its unique short
    name), or its UUID; an unknown one raises errors.OpPrereqError
    "<kind_name> name <name> not found", as Ganeti's luxid does.
    """
    from qganeti import config
    client = client or cli.get_client()
    result = client.Query(resource, list(fields) + ["name", "uuid"], None)
    rows = [[value for _, value in row] for row in result["data"]]
    if not names:
        return [row[:len(fields)] for row in rows]
    by_name = dict((row[-2], row) for row in rows)
    by_uuid = dict((row[-1], row) for row in rows)
    out = []
    for name in names:
        row = by_uuid.get(name)
        if row is None:
            if resource == "node":
                found = config.match_name(name, list(by_name))
            else:
                found = name if name in by_name else None
            if found is None:
                raise errors.OpPrereqError("%s name %s not found" % (kind_name, name),
                                           errors.ECODE_NOENT)
            row = by_name[found]
        out.append(row[:len(fields)])
    return out


# -- small things

def env_defaults(argv, commands):
    """Ganeti's env_override: options from GNT_<TOOL>_<COMMAND> go first."""
    if len(argv) < 2 or argv[1] not in commands:
        return argv
    name = ("%s_%s" % (os.path.basename(argv[0]), argv[1])).replace("-", "_").upper()
    extra = os.environ.get(name)
    if not extra:
        return argv
    import shlex
    return argv[:2] + shlex.split(extra) + argv[2:]


def wait_for_jobs(result, opts):
    """Ganeti's GetResult: wait for the jobs in RESULT["jobs"]; the exit code."""
    if not isinstance(result, dict) or "jobs" not in result:
        return 0
    bad = []
    client = cli.get_client()
    for ok, value in result["jobs"]:
        if not ok:
            bad.append(value)
            continue
        try:
            cli.poll_job(value, client)
        except errors.GenericError as err:
            bad.append(str(err))
    for job in bad:
        cli.out("Job failed, result is '%s'.", job)
    if bad:
        cli.out("%s job(s) failed.", len(bad))
        return 1
    return 0


def generate_table(headers, fields, separator, data, numfields=(), unitfields=(),
                   units=None):
    """Ganeti's GenerateTable: lines of a table of DATA (rows of FIELDS).

    HEADERS maps fields to titles (None: no header line); UNITFIELDS are
    sizes in MiB shown in UNITS (h without a separator, m with one);
    NUMFIELDS are right-aligned; the last column is not padded.
    """
    from qganeti import listing
    if units is None:
        units = "m" if separator else "h"
    rows = []
    for row in data:
        out = []
        for field, value in zip(fields, row):
            if field in unitfields:
                try:
                    value = listing.format_unit(int(value), units)
                except (TypeError, ValueError):
                    pass
            out.append(str(value))
        rows.append(out)
    if separator is not None:
        lines = [separator.join(headers[f] for f in fields)] if headers else []
        return lines + [separator.join(row) for row in rows]
    widths = [max([len(r[i]) for r in rows] + [len(headers[f]) if headers else 0])
              for i, f in enumerate(fields)]

    def line(values, last_padded):
        parts = []
        for i, (field, value) in enumerate(zip(fields, values)):
            width = widths[i]
            if field in numfields:
                parts.append(value.rjust(width))
            elif i == len(fields) - 1 and not last_padded:
                parts.append(value)
            else:
                parts.append(value.ljust(width))
        return " ".join(parts)

    lines = [line([headers[f] for f in fields], True)] if headers else []
    return lines + [line(row, False) for row in rows]
