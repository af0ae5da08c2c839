"""hspace: how many more instances fit (Ganeti 3.0.2's Program/Hspace.hs
with Cluster.iterateAlloc and tieredAlloc).

Tiered allocation starts from the policy's largest spec and shrinks it
on the resource that failed most; standard allocation repeats the
standard spec.  Both start from the loaded state.  Output (human and
--machine-readable HTS_* keys), streams and exit codes are Ganeti's.
"""

import sys

from qganeti.htools import alloc, hsfmt, metrics, options, output
from qganeti.htools import consts as C
from qganeti.htools.cluster import InstRec, add_instance, trunc
from qganeti.htools.consts import NF, NO_NODE
from qganeti.htools.hbal import Fatal, err, load_cluster, out, set_node_status

OPTIONS = ["print_nodes", "data", "disk_template", "spindle_use", "simulate", "rapi", "luxi",
           "ialloc", "verbose", "quiet", "independent_groups", "accept_existing", "offline",
           "no_capacity", "machine_readable", "max_cpu", "max_length", "min_disk",
           "std_spec", "tiered_spec", "save", "static_kvm"]

UNIT_MEM, UNIT_DSK, UNIT_CPU, UNIT_SPN = 64, 256, 1, 1
STATS = ["SCORE", "INST_CNT", "MEM_FREE", "MEM_AVAIL", "MEM_RESVD", "MEM_INST",
         "MEM_OVERHEAD", "MEM_EFF", "DSK_FREE", "DSK_AVAIL", "DSK_RESVD", "DSK_INST",
         "DSK_EFF", "SPN_FREE", "SPN_INST", "SPN_EFF", "CPU_INST", "CPU_EFF",
         "MNODE_MEM_AVAIL", "MNODE_DSK_AVAIL"]


# -- cluster statistics (Cluster.totalResources) ----------------------------------

class CStats:
    pass


def total_resources(cl):
    cs = CStats()
    for name in ("fmem", "fdsk", "fspn", "amem", "adsk", "acpu", "mmem", "mdsk", "imem",
                 "idsk", "ispn", "icpu", "vcpu", "xmem", "nmem", "ninst"):
        setattr(cs, name, 0)
    cs.tmem = cs.tdsk = cs.tspn = cs.tcpu = cs.ncpu = 0.0
    nf = cl.nf
    for n in range(cl.nnodes):
        row = nf[n * NF:(n + 1) * NF]
        xmem = int(row[C.X_MEM])
        # free is what is unallocated: memory found missing counts, memory
        # found beyond the instances' (xmem < 0) does not
        fmem = int(trunc(row[C.T_MEM]) - row[C.N_MEM] - max(0, xmem) - row[C.I_MEM])
        amem = max(0, fmem - int(row[C.R_MEM]))
        adsk = max(0, int(row[C.F_DSK] - row[C.LO_DSK]))
        ucpu = int(row[C.U_CPU])
        cs.fmem += fmem
        cs.fdsk += int(row[C.F_DSK])
        cs.fspn += int(row[C.F_SPN])
        cs.amem += amem
        cs.adsk += adsk
        cs.acpu += max(0, int(row[C.HI_CPU]) - ucpu)
        cs.mmem = max(cs.mmem, amem)
        cs.mdsk = max(cs.mdsk, adsk)
        cs.imem += int(row[C.I_MEM])
        cs.idsk += int(trunc(row[C.T_DSK]) - row[C.F_DSK])
        cs.ispn += int(row[C.T_SPN] - row[C.F_SPN])
        cs.icpu += ucpu
        cs.tmem += row[C.T_MEM]
        cs.tdsk += row[C.T_DSK]
        cs.tspn += row[C.T_SPN]
        cs.tcpu += row[C.T_CPU]
        cs.vcpu += int(row[C.HI_CPU])
        cs.ncpu += ucpu / row[C.VCPU_RATIO] if row[C.VCPU_RATIO] else float("inf")
        cs.xmem += xmem
        cs.nmem += int(row[C.N_MEM])
        cs.ninst += len(cl.plist[n])
    cs.score = metrics.comp_cv(cl, list(range(cl.nnodes)))
    return cs


def _eff(used, total):
    return used / total if total else (float("nan") if used == 0 else float("inf"))


def stat_values(cs):
    fixed = lambda x: hsfmt.fixed(x, 8)  # noqa: E731
    return [fixed(cs.score), "%d" % cs.ninst, "%d" % cs.fmem, "%d" % cs.amem,
            "%d" % (cs.fmem - cs.amem), "%d" % cs.imem, "%d" % (cs.xmem + cs.nmem),
            fixed(_eff(cs.imem, cs.tmem)), "%d" % cs.fdsk, "%d" % cs.adsk,
            "%d" % (cs.fdsk - cs.adsk), "%d" % cs.idsk, fixed(_eff(cs.idsk, cs.tdsk)),
            "%d" % cs.fspn, "%d" % cs.ispn, fixed(_eff(cs.ispn, cs.tspn)), "%d" % cs.icpu,
            fixed(_eff(cs.icpu, cs.vcpu)), "%d" % cs.mmem, "%d" % cs.mdsk]


# -- output helpers -------------------------------------------------------------

def quoted(value):
    """Common.printKeys: values that are not all alphanumeric or '.' are
    single-quoted."""
    if all(c.isalnum() or c == "." for c in value):
        return value
    return "'" + value + "'"


def keys(pairs):
    for key, value in pairs:
        out("HTS_%s=%s" % (key, quoted(value)))


def resources(pairs):
    return ", ".join("%s %s" % (name, value) for name, value in pairs)


def spec_pairs(spec, with_spn):
    mem, dsk, cpu, spn = spec
    pairs = [("MEM", "%d" % mem), ("DSK", "%d" % dsk), ("CPU", "%d" % cpu)]
    return pairs + [("SPN", "%d" % spn)] if with_spn else pairs


def cluster_pairs(cs, with_spn):
    pairs = [("MEM", hsfmt.fixed(cs.tmem, 0)), ("DSK", hsfmt.fixed(cs.tdsk, 0)),
             ("CPU", hsfmt.fixed(cs.tcpu, 0)), ("VCPU", "%d" % cs.vcpu)]
    return pairs + [("SPN", hsfmt.fixed(cs.tspn, 0))] if with_spn else pairs


def have_excl(cl):
    return any(cl.nf[n * NF + C.EXCL] for n in range(cl.nnodes))


# -- instances ------------------------------------------------------------------

class Spec:
    """An instance to place: RSpec plus the template and spindle use."""

    def __init__(self, mem, dsk, cpu, spn, dt, su, disks=None):
        self.mem, self.dsk, self.cpu, self.spn = mem, dsk, cpu, spn
        self.dt, self.su = dt, su
        self.disks = disks if disks is not None else [(dsk, spn)]

    def key(self):
        return (self.mem, self.dsk, self.cpu, tuple(self.disks), self.dt, self.su)

    def rspec(self):
        """Instance.specOf."""
        spn = self.disks[0][1] if len(self.disks) == 1 and self.disks[0][1] is not None \
            else 0
        return (self.mem, self.dsk, self.cpu, spn)

    def shrink(self, mode):
        """Instance.shrinkByType: None when it cannot shrink further."""
        if mode == C.FAIL_MEM:
            value = self.mem - UNIT_MEM
            return None if value < UNIT_MEM else \
                Spec(value, self.dsk, self.cpu, self.spn, self.dt, self.su, self.disks)
        if mode == C.FAIL_DISK:
            disks = [(size - UNIT_DSK, spn) for size, spn in self.disks]
            if any(size < UNIT_DSK for size, _ in disks):
                return None
            return Spec(self.mem, self.dsk - len(self.disks) * UNIT_DSK, self.cpu, self.spn,
                        self.dt, self.su, disks)
        if mode == C.FAIL_CPU:
            value = self.cpu - UNIT_CPU
            return None if value < UNIT_CPU else \
                Spec(self.mem, self.dsk, value, self.spn, self.dt, self.su, self.disks)
        if mode == C.FAIL_SPINDLES:
            if len(self.disks) != 1 or self.disks[0][1] is None:
                return None
            value = self.disks[0][1] - UNIT_SPN
            return None if value < UNIT_SPN else \
                Spec(self.mem, self.dsk, self.cpu, self.spn, self.dt, self.su,
                     [(self.disks[0][0], value)])
        return None


def iterate_ok(spec, mode):
    """Ganeti's iterateOk with shrinkByType: the spec, then each shrink
    (lazily: a 2 TiB disk shrinks in thousands of steps, and the caller
    mostly stops after a few)."""
    while spec is not None:
        yield spec
        spec = spec.shrink(mode)


class Allocator:
    """The cluster being filled: places instances named new-N."""

    def __init__(self, cl, alloc_nodes, aopts):
        self.cl = cl
        self.alloc_nodes = alloc_nodes
        self.aopts = aopts
        self.placed = []          # (instance index, Spec) in allocation order
        self.all_nodes = list(range(cl.nnodes))
        # Tiered allocation asks again and again about the same specs on
        # the same cluster state: the answers are kept until the state
        # changes (an instance placed, a snapshot restored).
        self.version = 0
        self.memo = {}
        self.redundant_memo = None

    # the answers are a cache: where nothing fits, tiered allocation walks
    # thousands of levels, each trying hundreds of sizes (gigabytes of
    # answers); past this many the memo starts again
    MEMO_LIMIT = 250000

    def remember(self, key, value):
        alloc.remember(self.memo, key, value, self.MEMO_LIMIT)

    def _add(self, spec, name):
        rec = InstRec(name, spec.mem, spec.dsk, list(spec.disks), spec.cpu, C.ST_RUNNING, [],
                      True, NO_NODE, NO_NODE, spec.dt, spec.su)
        rec.excl, rec.dsrd = [], set()      # no tags
        return add_instance(self.cl, rec)

    def _drop_last(self, marks):
        cl = self.cl
        cl.instrecs.pop()
        cl.inst_aliases.pop()
        cl.inst_excl.pop()
        cl.inst_dsrd.pop()
        cl.etag_ptr.pop()
        del cl.etag_ids[marks[0]:]
        del cl.dsrd[marks[1]:]
        del cl.inf[marks[2]:]

    def _marks(self):
        return len(self.cl.etag_ids), len(self.cl.dsrd), len(self.cl.inf)

    def _changed(self):
        self.version += 1
        self.memo = {}
        self.redundant_memo = None

    def try_alloc(self, spec, capacity, keep):
        """Cluster.tryAlloc for one new instance: the Solution; with keep,
        the best placement is made real."""
        key = (spec.key(), capacity)
        sol = self.memo.get(key)
        if sol is not None and (sol.best is None or not keep):
            return sol
        marks = self._marks()
        i = self._add(spec, "new-%d" % len(self.placed))
        opts = alloc.Options(self.aopts.ignore_soft_errors, capacity, None,
                             self.aopts.accept_existing)
        opts.ignore_groups = self.aopts.ignore_groups
        try:
            sol = alloc.try_alloc(self.cl, self.all_nodes, i, self.alloc_nodes, opts)
        except alloc.AllocError:
            self._drop_last(marks)
            raise
        if keep and sol.best is not None:
            alloc.place(self.cl, i, sol.best)
            self.placed.append((i, spec))
            self._changed()
        else:
            self._drop_last(marks)
            self.remember(key, sol)
        return sol

    def redundant(self):
        """GlobalN1.redundant of the current state."""
        if self.redundant_memo is None:
            self.redundant_memo = alloc.redundant(self.cl, self.all_nodes, self.aopts)
        return self.redundant_memo

    def small_steps(self, spec, capacity, limit):
        """iterateAllocSmallStep: place copies until one fails; the
        collapsed failures of the last attempt."""
        if spec.dt == C.DT_DRBD:
            capacity = False
        while True:
            sol = self.try_alloc(spec, capacity, limit != 0)
            if sol.best is None or limit == 0:
                return alloc.collapse(sol.failures)
            if limit is not None:
                limit -= 1

    def snapshot(self):
        return copy_cluster(self.cl), list(self.placed)

    def restore(self, snap):
        if len(self.placed) == len(snap[1]):
            # nothing placed since the snapshot: the state, and what is
            # known of it, are the same (a tiered run on a cluster that is
            # not redundant restores at each of thousands of levels)
            return
        self.cl, self.placed = copy_cluster(snap[0]), list(snap[1])
        self._changed()

    def iterate(self, spec, limit, huge=True):
        """iterateAlloc': batches checked for global N+1 redundancy at the
        end instead of at every step."""
        if not self.aopts.capacity:
            return self.small_steps(spec, False, limit)
        step = guess_bigstep(self.cl, spec) if huge else 10
        if limit is None:
            batch, rest = step, None
        else:
            batch, rest = min(step, limit), max(0, limit - step)
        before = len(self.placed)
        first = self.try_alloc(spec, False, False)
        if first.best is None and self.redundant():
            # nothing to place and nothing to undo: no snapshot needed
            return alloc.collapse(first.failures)
        snap = self.snapshot()
        errs = self.small_steps(spec, False, batch)
        if self.redundant():
            if rest == 0 or len(self.placed) == before:
                return errs
            return self.iterate(spec, rest, huge)
        self.restore(snap)
        if huge:
            return self.iterate(spec, limit, False)
        return self.small_steps(spec, True, limit)

    def fits(self, spec):
        """alloc.alloc_exists for the spec on the current state (what
        sufficesShrinking asks of tryAlloc)."""
        key = (spec.key(), "fits")
        answer = self.memo.get(key)
        if answer is None:
            sol = self.memo.get((spec.key(), self.aopts.capacity))
            if sol is not None:
                answer = set(sol.failures), sol.best is not None
            else:
                marks = self._marks()
                i = self._add(spec, "new-%d" % len(self.placed))
                opts = alloc.Options(self.aopts.ignore_soft_errors, self.aopts.capacity, None,
                                     self.aopts.accept_existing)
                opts.ignore_groups = self.aopts.ignore_groups
                try:
                    answer = alloc.alloc_exists(self.cl, self.all_nodes, i, self.alloc_nodes,
                                                opts)
                except alloc.AllocError:
                    answer = set(), False
                finally:
                    self._drop_last(marks)
            self.remember(key, answer)
        return answer


def copy_cluster(cl):
    """Cluster.copy, also of the instance lists new instances extend."""
    new = cl.copy()
    for name in ("inst_aliases", "inst_excl", "inst_dsrd", "etag_ids", "etag_ptr", "dsrd"):
        setattr(new, name, list(getattr(cl, name)))
    return new


def guess_bigstep(cl, spec):
    """guessBigstepSize (Ganeti 3.0.2): the nodes' available memory
    (Node.availMem: unallocated memory less the memory reserved for
    failovers, at least 0) over instance memory, less one instance per
    node; at least 20."""
    nf = cl.nf
    total = 0
    for n in range(cl.nnodes):
        off = n * NF
        unallocated = int(trunc(nf[off + C.T_MEM]) - nf[off + C.N_MEM] - nf[off + C.I_MEM]
                          - max(0.0, nf[off + C.X_MEM]))
        total += max(0, unallocated - int(nf[off + C.R_MEM]))
    guess = total // spec.mem - cl.nnodes
    return max(20, guess)


def suffices_shrinking(allocator, spec, mode):
    """Cluster.sufficesShrinking: shrink one resource while the allocation
    fails on it; the first spec that fits, if any.  Each level of tiered
    allocation asks this on the same state from a spec one unit smaller,
    walking the same chain again; every spec walked keeps the answer."""
    memo = allocator.memo
    walked = []
    answer = None
    for candidate in iterate_ok(spec, mode):
        key = (candidate.key(), mode, "shrinking")
        if key in memo:
            answer = memo[key]
            break
        walked.append(key)
        codes, fits = allocator.fits(candidate)
        if fits:
            answer = candidate
            break
        if mode not in codes:
            break
    for key in walked:
        allocator.remember(key, answer)
    return answer


def tiered(allocator, spec, limit):
    """Cluster.tieredAlloc as Ganeti 3.0.2 runs it: place copies of the
    spec; then shrink it one unit on the failure mode that blocked most
    placements (on a tie, the later mode in FailMode order) and go on;
    if nothing more got placed that way, shrink the spec on each failure
    mode in turn (most frequent first, ties the same way) until it fits
    (sufficesShrinking) and go on from there.  Each shrink is a level of
    Ganeti's recursion; here the levels are a stack.  The collapsed
    failures of the last round are returned."""
    stack = []     # (spec, errs, limit for deeper levels, placed count) per level
    while True:
        errs = allocator.iterate(spec, limit)
        count = len(allocator.placed)
        if limit is not None and limit <= count:
            result = errs
        else:
            deeper = None if limit is None else limit - count
            modes = [code for code, _ in sorted(errs, key=lambda e: e[1])]
            smaller = spec.shrink(modes[-1]) if modes else None
            if smaller is not None:
                stack.append((spec, errs, deeper, count))
                spec, limit = smaller, deeper
                continue
            result, spec, limit = _fallback(allocator, spec, errs, deeper)
            if spec is not None:
                continue
        # unwind: a level whose deeper levels placed nothing tries its fallback
        while stack:
            pspec, perrs, plimit, pcount = stack.pop()
            if len(allocator.placed) > pcount:
                continue
            result, spec, limit = _fallback(allocator, pspec, perrs, plimit)
            if spec is not None:
                break
        else:
            return result


def _fallback(allocator, spec, errs, limit):
    """tieredAlloc's bigSteps: (errs, None, None) when no single resource's
    shrinking lets the spec fit, else (None, next spec, its limit)."""
    for code, _ in reversed(sorted(errs, key=lambda e: e[1])):
        smaller = suffices_shrinking(allocator, spec, code)
        if smaller is not None:
            return None, smaller, limit
    return errs, None, None


def sort_reasons(errs):
    return sorted(errs, key=lambda e: -e[1])


# -- main ------------------------------------------------------------------------

def print_stats(phase, cs):
    keys([("%s_%s" % (phase, name), value) for name, value in zip(STATS, stat_values(cs))])


def print_cluster_scores(ini_cv, fin_cv):
    out("  - initial cluster score: %s" % hsfmt.fixed(ini_cv, 8))
    out("  -   final cluster score: %s" % hsfmt.fixed(fin_cv, 8))


def print_eff(cs, with_spn):
    rows = [("memory", _eff(cs.imem, cs.tmem)), ("disk", _eff(cs.idsk, cs.tdsk)),
            ("vcpu", _eff(cs.icpu, cs.vcpu))]
    if with_spn:
        rows.append(("spindles", _eff(cs.ispn, cs.tspn)))
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        out("  - %*s usage efficiency: %s%%" % (width, name, hsfmt.ffmt(value * 100, 2, 5)))


def print_fr_scores(ini_cv, cl, reasons):
    out("  - most likely failure reason: %s" % C.FAIL_NAMES[reasons[0][0] - 1])
    cs = total_resources(cl)
    print_cluster_scores(ini_cv, cs.score)
    print_eff(cs, have_excl(cl))


def print_ispec(machine, prefix, descr, spec, dt, with_spn):
    if machine:
        keys([(prefix + "_" + k, v) for k, v in spec_pairs(spec, True)])
        keys([(prefix + "_RQN", "%d" % (2 if dt == C.DT_DRBD else 1))])
        keys([(prefix + "_DISK_TEMPLATE", C.DISK_TEMPLATES[dt])])
    else:
        out("%s instance spec is:\n  %s, using disk template '%s'."
            % (descr, resources(spec_pairs(spec, with_spn)), C.DISK_TEMPLATES[dt]))


def print_allocation_map(cl, verbose, descr, placed):
    if verbose <= 1:
        return
    excl = have_excl(cl)
    rows = []
    for i, _ in placed:
        rec = cl.instrecs[i]
        snode = cl.inst_snode(i)
        spindles = ""
        if excl:
            total = rec.total_spindles()
            spindles = "?" if total is None else "%d" % total
        rows.append([rec.name, cl.noderecs[cl.inst_pnode(i)].name,
                     cl.noderecs[snode].name if snode != NO_NODE else "", "%d" % rec.mem,
                     "%d" % rec.dsk, "%d" % rec.vcpus, spindles])
    err(descr + " map")
    if rows:
        isnum = [False, False, False, True, True, True, True]
        widths = [max(len(r[c]) for r in rows) for c in range(7)]
        for row in rows:
            cells = [(" " * (widths[c] - len(v)) + v) if isnum[c] else
                     (v + " " * (widths[c] - len(v))) for c, v in enumerate(row)]
            err(" " + " ".join(cells))


def run_allocation(state, opts, stopped, run, spec, dt, kind):
    """Runs one allocation mode (or reports the stop), then prints its spec,
    map, node list and saves the state: (reasons, cluster, count, specs)."""
    cl, machine = state["cl"], opts.machine_readable
    if stopped:
        reasons, final, placed = [(C.FAIL_N1, 1)], cl, []
    else:
        allocator = Allocator(copy_cluster(cl), state["alloc_nodes"], state["aopts"])
        try:
            reasons = run(allocator)
        except alloc.AllocError as exc:
            raise Fatal("failure during allocation: %s" % exc)
        final, placed = allocator.cl, allocator.placed
    name = "Tiered" if kind == "tiered" else "Standard"
    descr = name + " allocation"
    print_ispec(machine, "TSPEC_INI" if kind == "tiered" else "SPEC",
                "Tiered (initial size)" if kind == "tiered" else "Standard (fixed-size)",
                spec, dt, have_excl(final))
    print_allocation_map(final, opts.verbose, descr, placed)
    if opts.print_nodes is not None:
        err("")
        err(descr + " status:")
        err(output.node_table(final, opts.print_nodes, list(range(final.nnodes))))
    if opts.save:
        from qganeti.htools import text
        target = "%s.%s" % (opts.save, kind)
        saved = copy_cluster(final)
        saved.groups = state["groups"]
        with open(target, "w", encoding="utf-8", errors="surrogateescape") as handle:
            handle.write(text.serialize(saved))
        err("The cluster state after %s has been written to file '%s'"
            % (descr.lower(), target))
    spec_map = []
    for _, pspec in placed:
        rspec = pspec.rspec()
        if spec_map and spec_map[-1][0] == rspec:
            spec_map[-1][1] += 1
        else:
            spec_map.append([rspec, 1])
    return sort_reasons(reasons), final, len(placed), spec_map


def main(opts, args):
    try:
        if args:
            raise Fatal("This program doesn't take any arguments.")
        return _main(opts)
    except Fatal as exc:
        err("Error: %s" % exc)
        return 1


def _main(opts):
    verbose, machine = opts.verbose, opts.machine_readable
    opts.simulate = list(reversed(opts.simulate))   # Ganeti prepends each --simulate
    cl = load_cluster("hspace", opts)
    groups = [_copy_group(g) for g in cl.groups]
    set_node_status(cl, opts)
    if not cl.cpol.templates:
        raise Fatal("null list of disk templates received from cluster")
    dt = opts.disk_template if opts.disk_template is not None else cl.cpol.templates[0]
    su = opts.spindle_use if opts.spindle_use is not None else cl.cpol.std[5]
    count = 2 if dt == C.DT_DRBD else 1
    num_instances = cl.ninsts
    if cl.suffix and verbose > 1:
        err("Note: Stripping common suffix of '%s' from names" % cl.suffix)
    all_nodes = list(range(cl.nnodes))
    if opts.print_nodes is not None:
        err("")
        err("Initial cluster status:")
        err(output.node_table(cl, opts.print_nodes, all_nodes))
    ini_cs = total_resources(cl)
    if verbose > 2:
        err("Initial coefficients: overall %s" % hsfmt.fixed(ini_cs.score, 8))
        sys.stderr.write(metrics.stats_table("  ", metrics.cluster_stats(cl, all_nodes)))
    excl = have_excl(cl)
    if machine:
        keys([("CLUSTER_" + k, v) for k, v in cluster_pairs(ini_cs, True)])
        keys([("CLUSTER_NODES", "%d" % cl.nnodes)])
        print_stats("INI", ini_cs)
    else:
        out("The cluster has %d nodes and the following resources:\n  %s."
            % (cl.nnodes, resources(cluster_pairs(ini_cs, excl))))
        out("There are %s initial instances on the cluster."
            % (ini_cs.ninst if ini_cs.ninst > 0 else "no"))
    bad_nodes = [n for n in all_nodes if not cl.nf[n * NF + C.OFFLINE]
                 and cl.nf[n * NF + C.FAIL_N1_FLAG]]
    aopts = alloc.Options(False, opts.capacity, None, opts.accept_existing)
    bad_groups = [g for g in range(len(cl.groups)) if not alloc.redundant(
        cl, [n for n in all_nodes if cl.node_group(n) == g], aopts)]
    if verbose > 3 and bad_nodes:
        err("Bad nodes: " + hsfmt.show_string_list([cl.noderecs[n].name for n in bad_nodes]))
    if verbose > 3 and bad_groups:
        err("Bad groups: " + hsfmt.show_string_list([cl.groups[g].name for g in bad_groups]))
    unallocable = C.ALLOC_POLICIES.index("unallocable")
    if not opts.accept_existing:
        for n in bad_nodes:
            cl.groups[cl.node_group(n)].policy = unallocable
    if opts.independent_groups:
        for g in bad_groups:
            cl.groups[g].policy = unallocable
        aopts.ignore_groups = tuple(bad_groups)
    remaining = any(g.allocable for g in cl.groups)
    stopped = not (opts.accept_existing or (opts.independent_groups and remaining)
                   or not bad_nodes)
    limit = None if opts.max_length == -1 else opts.max_length
    try:
        alloc_nodes = alloc.gen_alloc_nodes(cl, all_nodes, count, aopts, True)
    except alloc.AllocError as exc:
        raise Fatal("failure during allocation: %s" % exc)
    if verbose > 3:
        err("Allocatable nodes: " + show_alloc_nodes(alloc_nodes))
    state = {"cl": cl, "alloc_nodes": alloc_nodes, "aopts": aopts, "groups": groups}
    ini_cv = ini_cs.score
    pol = cl.cpol
    if opts.tiered_spec is not None:
        tspecs = [opts.tiered_spec]
    else:
        tspecs = [(hi[0], hi[2], hi[1], hi[5]) for _, hi in pol.minmax]
    if not tspecs:
        raise Fatal("Empty list of specs received from the cluster")

    def run_tiered(allocator):
        result = None
        for mem, dsk, cpu, spn in tspecs:
            if limit is not None and limit <= len(allocator.placed):
                break
            rest = None if limit is None else limit - len(allocator.placed)
            result = tiered(allocator, Spec(mem, dsk, cpu, spn, dt, su), rest)
        return result if result is not None else []
    treasons, trl_cl, _, spec_map = run_allocation(
        state, opts, stopped, run_tiered, tspecs[0], dt, "tiered")
    trl_cs = total_resources(trl_cl)
    if machine:
        print_stats("TRL", trl_cs)
        keys([("TSPEC", " ".join("%d,%d,%d,%d=%d" % (s + (c,)) for s, c in spec_map))])
        print_allocation_stats(ini_cs, trl_cs)
    else:
        out("Tiered allocation results:")
        if not spec_map:
            out("  - no instances allocated")
        for rspec, cnt in spec_map:
            out("  - %3d instances of spec %s" % (cnt, resources(spec_pairs(rspec, excl))))
        print_fr_scores(ini_cv, trl_cl, _nonempty(treasons))
    std = opts.std_spec if opts.std_spec is not None else \
        (pol.std[0], pol.std[2], pol.std[1], pol.std[5])
    sspec = Spec(std[0], std[1], std[2], std[3], dt, su)

    def run_standard(allocator):
        return allocator.iterate(sspec, limit)
    sreasons, fin_cl, allocs, _ = run_allocation(state, opts, stopped, run_standard, std, dt,
                                                 "standard")
    if machine:
        fin_cs = total_resources(fin_cl)
        if num_instances + allocs != fin_cs.ninst:
            raise Fatal("internal inconsistency, allocated (%d) != counted (%d)\n"
                        % (num_instances + allocs, fin_cs.ninst))
        reasons = _nonempty(sreasons)
        print_stats("FIN", fin_cs)
        keys([("ALLOC_USAGE", hsfmt.fixed(num_instances / (num_instances + allocs)
                                          if num_instances + allocs else float("nan"), 8)),
              ("ALLOC_INSTANCES", "%d" % allocs),
              ("ALLOC_FAIL_REASON", C.FAIL_NAMES[reasons[0][0] - 1].upper())])
        keys([("ALLOC_%s_CNT" % C.FAIL_NAMES[code - 1].upper(), "%d" % cnt)
              for code, cnt in sreasons])
        keys([("OK", "1")])
    else:
        out("Normal (fixed-size) allocation results:")
        out("  - %3d instances allocated" % allocs)
        print_fr_scores(ini_cv, fin_cl, _nonempty(sreasons))
    return 0


def _nonempty(reasons):
    if not reasons:
        raise Fatal("Internal error, no failure reasons?!")
    return reasons


def _copy_group(group):
    import copy
    return copy.copy(group)


def show_alloc_nodes(alloc_nodes):
    kind, targets = alloc_nodes
    if kind == 1:
        return "Left [%s]" % ",".join("%d" % n for n in targets)
    return "Right [%s]" % ",".join("(%d,[%s])" % (p, ",".join("%d" % s for s in ss))
                                   for p, ss in targets)


def print_allocation_stats(ini, fin):
    """Cluster.computeAllocationDelta as KM_USED, KM_POOL, KM_UNAV."""
    show = hsfmt.show_double
    used = (ini.icpu, ini.ncpu, ini.imem, ini.idsk, ini.ispn)
    pool = (fin.icpu - ini.icpu, fin.ncpu - ini.ncpu, fin.imem - ini.imem,
            fin.idsk - ini.idsk, fin.ispn - ini.ispn)
    unav = (fin.vcpu - fin.icpu, fin.tcpu - fin.ncpu, int(trunc(fin.tmem)) - fin.imem,
            int(trunc(fin.tdsk)) - fin.idsk, int(trunc(fin.tspn)) - fin.ispn)
    for name, values in (("USED", used), ("POOL", pool), ("UNAV", unav)):
        keys([("KM_%s_CPU" % name, "%d" % values[0]), ("KM_%s_NPU" % name, show(values[1])),
              ("KM_%s_MEM" % name, "%d" % values[2]), ("KM_%s_DSK" % name, "%d" % values[3]),
              ("KM_%s_SPN" % name, "%d" % values[4])])


def run(argv):
    return options.run(main, "hspace", argv, OPTIONS)
