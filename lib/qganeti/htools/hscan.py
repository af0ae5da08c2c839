"""hscan: save live clusters in the text format (Ganeti 3.0.2's
Program/Hscan.hs).  Each argument is a RAPI address (or file://DIR of
saved RAPI answers); without one the local cluster is read over LUXI
and named LOCAL.  A summary line per cluster goes to stdout, the data
to DIR/NAME.data."""

import copy
import os
import sys

from qganeti.htools import hsfmt, metrics, options, output
from qganeti.htools.cluster import LoadError
from qganeti.htools.consts import NF, T_MEM, T_DSK, F_MEM, F_DSK
from qganeti.htools.hinfo import bad_items

OPTIONS = ["print_nodes", "output_dir", "luxi", "verbose", "no_headers", "static_kvm"]
LOCAL = "LOCAL"


def summary(cl):
    nodes = list(range(cl.nnodes))
    bad, bad_insts = bad_items(cl, nodes)
    rows = [cl.nf[n * NF:(n + 1) * NF] for n in nodes]
    t_mem = sum(r[T_MEM] for r in rows)
    t_dsk = sum(r[T_DSK] for r in rows)
    f_mem = int(sum(r[F_MEM] for r in rows))
    f_dsk = int(sum(r[F_DSK] for r in rows))
    return "%5d %5d %5d %5d %s %6d %s %6d %s" % (
        cl.nnodes, cl.ninsts, len(bad), len(bad_insts), hsfmt.ffmt(t_mem, 0, 6), f_mem,
        hsfmt.ffmt(t_dsk / 1024, 0, 6), f_dsk // 1024,
        hsfmt.fixed(metrics.comp_cv(cl, nodes), 8))


def write_data(width, name, opts, load):
    """One cluster: its summary line and its file; False if it failed."""
    from qganeti.htools import text
    from qganeti.htools.backends import ConnectError
    try:
        try:
            raw = load()
        except ConnectError as exc:
            sys.stdout.flush()
            sys.stderr.write("hscan: %s\n" % exc)
            raise SystemExit(1)
        saved = copy.deepcopy(raw)
        raw.finish([], [], [], [], opts.static_kvm_mem)
        saved.finish([], [], [], [], 0)       # the file keeps what was read
    except LoadError as exc:
        sys.stdout.write("\nError for %s: failed to load data. Details:\n%s\n" % (name, exc))
        return False
    sys.stdout.write("%-*s " % (width, name))
    sys.stdout.write(summary(raw) + "\n")
    sys.stdout.flush()
    if opts.print_nodes is not None:
        sys.stdout.write(output.node_table(raw, opts.print_nodes, list(range(raw.nnodes))))
    target = os.path.join(opts.output_dir, name.replace("/", "_")) + ".data"
    try:
        with open(target, "w", encoding="utf-8", errors="surrogateescape") as handle:
            handle.write(text.serialize(saved))
    except OSError as exc:
        from qganeti.htools.text import _io_reason
        sys.stdout.flush()
        sys.stderr.write("hscan: %s: openFile: %s\n" % (target, _io_reason(exc)))
        raise SystemExit(1)
    return True


def main(opts, clusters):
    from qganeti.htools import backends
    width = max(len(c) for c in clusters) if clusters else len(LOCAL)
    if not opts.no_headers:
        sys.stdout.write("%-*s %5s %5s %5s %5s %6s %6s %6s %6s %10s\n" % (
            width, "Name", "Nodes", "Inst", "BNode", "BInst", "t_mem", "f_mem", "t_disk",
            "f_disk", "Score"))
    if not clusters:
        if not write_data(width, LOCAL, opts, lambda: backends.load_luxi(opts.luxi or "")):
            return 2
    results = [write_data(width, name, opts, lambda name=name: backends.load_rapi(name))
               for name in clusters]
    return 0 if all(results) else 2


def run(argv):
    return options.run(main, "hscan", argv, OPTIONS, ["host 0 none"])
