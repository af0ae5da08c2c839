"""hail: the iallocator plugin (Ganeti 3.0.2's Program/Hail.hs).

`hail FILE` (or `-` for stdin) reads an iallocator request and prints
Ganeti's reply document on stdout; bad input gives Ganeti's message on
stderr and exit code 1.
"""

import sys

from qganeti.htools import alloc, ialloc, options, output
import copy

from qganeti.htools.cluster import LoadError, add_instance
from qganeti.htools.consts import NO_NODE

OPTIONS = ["print_nodes", "save", "data", "simulate", "verbose", "ignore_dynu",
           "ignore_soft", "no_capacity", "restrict", "mond", "mond_xen", "static_kvm"]


class Fatal(Exception):
    pass


def err(text):
    sys.stderr.write(text + "\n")


def _read(path):
    if path == "-":
        return sys.stdin.buffer.read().decode("utf-8", "surrogateescape")
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as handle:
            return handle.read()
    except OSError as exc:
        from qganeti.htools.text import _io_reason
        err("hail: %s: openFile: %s" % (path, _io_reason(exc)))
        raise SystemExit(1)


def process(cl, req, opts):
    """IAlloc.processRequest: (success, info, result, cluster after); on
    failure the cluster is the one given."""
    work = cl.copy()
    try:
        success, info, result = _process(work, req, opts)
    except alloc.AllocError as exc:
        return False, str(exc), [], cl
    if not hasattr(work, "inst_order"):
        work.inst_order = [i for i in range(work.ninsts)
                           if work.instrecs[i].pnode != NO_NODE]
    return success, info, result, work


def _process(cl, req, opts):
    aopts = alloc.Options(opts.ignore_soft_errors, opts.capacity, opts.restrict_to)
    if True:
        if req.kind == "allocate":
            if aopts.restrict_to is None:
                aopts.restrict_to = req.restrict
            i = add_instance(cl, req.inst)
            if alloc.is_dedicated(cl, req.group):
                if req.group is None:
                    sol = alloc.dedicated_mg_allocation(cl, i, req.count, aopts)
                else:
                    gdx = alloc._group_by_name(cl, req.group)
                    sol, msgs = alloc.dedicated_find_allocation(cl, gdx, i, req.count, aopts)
                    sol.log = msgs
            elif req.group is None:
                sol = alloc.try_mg_alloc(cl, i, req.count, aopts)
            else:
                sol = alloc.try_group_alloc(cl, req.group, i, req.count, aopts)
            info = ", ".join(sol.log)
            if sol.best is None:
                raise alloc.AllocError(info)
            alloc.place(cl, i, sol.best)
            # Ganeti files the new instance under index -1: it comes first
            cl.inst_order = [i] + list(range(i))
            return True, info, [cl.noderecs[n].name for n in sol.best.nodes]
        if req.kind == "multi-allocate":
            return multi_allocate(cl, req, aopts)
        if req.kind == "relocate":
            return relocate(cl, req, aopts)
        if req.kind == "node-evacuate":
            return _evac_reply(cl, *alloc.try_node_evac(cl, req.idxs, req.mode, aopts))
        if req.kind == "change-group":
            return _evac_reply(cl, *alloc.try_change_group(cl, req.idxs, req.gdxs, aopts))
        return allocate_secondary(cl, req, aopts)


def multi_allocate(cl, req, aopts):
    dedicated = alloc.is_dedicated(cl, _single_group(req))
    done, failed = [], []
    for rec, count, group in req.allocs:
        i = add_instance(cl, rec)
        if dedicated:
            if group is None:
                try:
                    sol = alloc.dedicated_mg_allocation(cl, i, count, aopts)
                except alloc.AllocError as exc:
                    raise alloc.AllocError(str(exc))
            else:
                sol, _ = alloc.dedicated_find_allocation(
                    cl, alloc._group_by_name(cl, group), i, count, aopts)
        elif group is None:
            sol = alloc.try_mg_alloc(cl, i, count, aopts)
        else:
            sol = alloc.try_group_alloc(cl, group, i, count, aopts)
        if sol.best is None:
            failed.append([rec.name, ", ".join(sol.log)])
        else:
            alloc.place(cl, i, sol.best)
            done.append([rec.name, [cl.noderecs[n].name for n in sol.best.nodes]])
    info = "%d instances failed to allocate and %d were allocated successfully" % (
        len(failed), len(done))
    return True, info, [done, failed]


def _single_group(req):
    groups = []
    for _, _, group in req.allocs:
        if group is not None and group not in groups:
            groups.append(group)
    return groups[0] if len(groups) == 1 else None


def relocate(cl, req, aopts):
    """IAlloc.processRelocate: a new secondary (DRBD) or primary."""
    from qganeti.htools.consts import IF, I_MIRROR, MIRROR_INTERNAL, MIRROR_NONE
    i = req.idx
    if req.count != 1:
        raise alloc.AllocError("Exchange %d nodes mode is not implemented" % req.count)
    mirror = int(cl.inf[i * IF + I_MIRROR])
    porig, sorig = cl.inst_pnode(i), cl.inst_snode(i)
    if mirror == MIRROR_NONE:
        raise alloc.AllocError("Can't relocate non-mirrored instances")
    if mirror == MIRROR_INTERNAL:
        expected, what, mode = sorig, "secondary", "secondary-only"
    else:
        expected, what, mode = porig, "primary", "primary-only"
    if req.exndx != [expected]:
        raise alloc.AllocError("Unsupported request: excluded nodes not equal to instance's "
                               "%s(%d versus [%s])" % (what, expected,
                                                       ",".join(map(str, req.exndx))))
    moved, failed, _ = alloc.try_node_evac(cl, [i], mode, aopts)
    if failed:
        raise alloc.AllocError(failed[0][1])
    if mirror == MIRROR_INTERNAL:
        return True, "success", [cl.noderecs[cl.inst_snode(i)].name]
    return True, "success", [cl.noderecs[cl.inst_pnode(i)].name]


def allocate_secondary(cl, req, aopts):
    """AllocateSecondary.tryAllocateSecondary: a DRBD secondary for a
    plain instance."""
    from qganeti.htools import consts as C, kernels
    i = req.idx
    if cl.inst_snode(i) >= 0:
        raise alloc.AllocError("Instance already has a secondary")
    p = cl.inst_pnode(i)
    row = [0.0] * C.NF
    kernels.remove_pri(cl.nf, p * C.NF, p, cl.inf, i, cl.inf[i * C.IF + C.I_LOC_SCORE],
                       cl.ptag, cl.ntags, cl.etag_ptr, cl.etag_ids, 0, cl.loc, cl.dsrd,
                       cl.words, row, 0)
    cl.nf[p * C.NF:(p + 1) * C.NF] = row
    from qganeti.htools import moves
    moves._remove_pri(cl, p, i)
    rec = copy.copy(cl.instrecs[i])
    rec.dt = C.DT_DRBD
    cl.instrecs[i] = rec
    cl.inf[i * C.IF:(i + 1) * C.IF] = cl._inst_row(rec)
    cl.inf[i * C.IF + C.I_PNODE] = float(p)
    cl.inf[i * C.IF + C.I_SNODE] = -1.0
    gdx = cl.node_group(p)
    secondaries = [n for n in range(cl.nnodes) if cl.node_group(n) == gdx and n != p]
    sol = alloc.try_alloc(cl, list(range(cl.nnodes)), i, (2, [(p, secondaries)]), aopts)
    info = ", ".join(sol.log)
    if sol.best is None:
        raise alloc.AllocError(info)
    alloc.place(cl, i, sol.best)
    return True, info, cl.noderecs[sol.best.nodes[1]].name


def _evac_reply(cl, moved, failed, jobs):
    info = "%d instances failed to move and %d were moved successfully" % (
        len(failed), len(moved))
    result = [[[cl.instrecs[i].name, cl.groups[g].name, [cl.noderecs[n].name for n in nodes]]
               for i, g, nodes in moved],
              [[cl.instrecs[i].name, msg] for i, msg in failed], jobs]
    return True, info, result


def main(opts, args):
    try:
        if not args:
            raise Fatal("This program needs an input file.")
        if len(args) > 1:
            raise Fatal("Only one argument is accepted (the input file)")
        text = _read(args[0])
        try:
            cl, req = ialloc.parse(text, opts.static_kvm_mem)
        except LoadError as exc:
            raise Fatal(str(exc))
        if cl.warnings:
            err("Warning: cluster has inconsistent data:")
            err("".join("  - %s\n" % msg for msg in cl.warnings))
        if opts.data_file is not None or opts.simulate:
            cl = _replace_data(cl, req, opts)
        if opts.mond:
            raise Fatal("monitoring daemon data (--mond) is not available yet in qganeti")
        if opts.verbose > 1:
            err("Received request: %s" % req.kind)
        if opts.print_nodes is not None:
            err("")
            err("Initial cluster status:")
            err(output.node_table(cl, opts.print_nodes, range(cl.nnodes)))
        if opts.save:
            _save(cl, opts.save, "pre-ialloc", "before iallocator run")
        success, info, result, cl = process(cl, req, opts)
        prefix = "Request successful: " if success else "Request failed: "
        sys.stdout.write(ialloc.response(success, prefix + info, result) + "\n")
        if opts.print_nodes is not None:
            err("")
            err("Final cluster status:")
            err(output.node_table(cl, opts.print_nodes, range(cl.nnodes)))
        if opts.save:
            _save(cl, opts.save, "post-ialloc", "after iallocator run")
        return 0
    except Fatal as exc:
        sys.stdout.flush()
        err("Error: %s" % exc)
        return 1


def _replace_data(cl, req, opts):
    from qganeti.htools import hbal
    try:
        new = hbal.load_cluster("hail", opts)
    except hbal.Fatal as exc:
        raise Fatal(str(exc))
    ialloc._resolve_names(req, new)
    return new


def _save(cl, path, ext, msg):
    from qganeti.htools import text
    target = path + "." + ext
    text.write_file("hail", target, text.serialize(cl, insts=getattr(cl, "inst_order", None)))
    err("The cluster state %s has been written to file '%s'" % (msg, target))


def run(argv):
    return options.run(main, "hail", argv, OPTIONS, ["file 1 1"])
