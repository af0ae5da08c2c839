"""Placing instances: hail's allocate, relocate, node-evacuate,
change-group, multi-allocate and allocate-secondary (Ganeti 3.0.2's
Cluster, AllocationSolution, Evacuate, GlobalN1 and Dedicated modules).

Candidates are scored the way Ganeti scores them (pairs with its
incremental statistics, single nodes and evacuations with a full
recomputation), ties go to the candidate Ganeti prefers, and the
global N+1 capacity check is Ganeti's.
"""

import bisect
import collections
import copy
import math
import struct
import time

from qganeti.htools import kernels, metrics, moves
from qganeti.htools import consts as C
from qganeti.htools.cluster import add_instance
from qganeti.htools.consts import (
    FAIL_NAMES, IF, I_DT, I_FORTH, I_LOCAL, I_LOC_SCORE, I_MEMORY, I_MIRROR, I_PNODE,
    I_SEC_MEM, I_SNODE, MIRROR_EXTERNAL, MIRROR_INTERNAL, MIRROR_NONE, NF, NO_NODE, OK,
    OFFLINE)
from qganeti.htools.hsfmt import fixed


class AllocError(Exception):
    """A Ganeti `fail`: the request fails with this text."""


class Options:
    def __init__(self, ignore_soft_errors=False, capacity=True, restrict_to=None,
                 accept_existing=False):
        self.ignore_soft_errors = ignore_soft_errors
        self.capacity = capacity
        self.restrict_to = restrict_to
        self.accept_existing = accept_existing
        self.ignore_groups = ()       # groups left out of capacity checks


class Alloc:
    """One way of placing an instance: its nodes, their new rows, score."""

    def __init__(self, nodes, rows, score, iloc):
        self.nodes = nodes
        self.rows = rows
        self.score = score
        self.iloc = iloc


class Solution:
    """AllocationSolution: failures, successes, the best one, log lines.
    Ganeti keeps the failures as a list; what is read of it is how many
    of each code (and how many in all), so they are a Counter: a DRBD
    request on 80 nodes fails thousands of pairs."""

    def __init__(self, failures=None, allocs=0, best=None, log=None):
        self.failures = failures if failures is not None else collections.Counter()
        self.allocs = allocs
        self.best = best
        self.log = log or []


def _better(a, b):
    """bestAllocElement: b unless a is strictly better."""
    if b is None:
        return a
    if a is None:
        return b
    return a if a.score < b.score else b


def sum_allocs(a, b):
    return Solution(b.failures + a.failures, a.allocs + b.allocs, _better(a.best, b.best),
                    b.log + a.log)


def collapse(failures):
    """The (code, count) of every failure code, in order."""
    return [(code, failures[code]) for code in range(1, len(FAIL_NAMES) + 1)]


def describe(sol, fmt):
    reasons = ", ".join("%s: %d" % (FAIL_NAMES[code - 1], count)
                        for code, count in collapse(sol.failures) if count > 0)
    if sol.best is None:
        return "No valid allocation solutions, failure reasons: " + (
            reasons if sol.failures else "unknown reasons")
    return "score: %s, successes %d, failures %d (%s) for node(s) %s" % (
        fmt(sol.best.score), sol.allocs, sol.failures.total(), reasons,
        "/".join(sol.best.node_names))


def annotate(sol, fmt=lambda score: fixed(score, 8)):
    sol.log = [describe(sol, fmt)] + sol.log
    return sol


def collection_to_solution(fails, oks, is_good, make=None, order=None):
    """AllocationSolution.collectionToSolution: successes by score (ties:
    the later candidate first); those failing is_good before the first
    good one count as FailN1.  With `make`, oks are (score, key) and
    make(score, key) builds the Alloc when it is needed; order(oks), when
    given, yields them in that order (_by_exact_score)."""
    if make is None:
        ordered = sorted(reversed(oks), key=lambda a: a.score)
    else:
        pairs = order(oks) if order else sorted(reversed(oks), key=lambda ok: ok[0])
        ordered = (make(score, key) for score, key in pairs)
    dropped = 0
    best = None
    for alloc in ordered:
        if is_good(alloc):
            best = alloc
            break
        dropped += 1
    failures = collections.Counter(fails)
    if dropped:
        failures[C.FAIL_N1] += dropped
    return Solution(failures, len(oks) - dropped, best)


# -- policies -----------------------------------------------------------------

def _compare_spec(which, rec, spec, excl):
    """Instance.instCompareISpec: which = -1 (must not be below) or 1
    (must not be above)."""
    def cmp(a, b):
        return (a > b) - (a < b)
    mem, cpu, dsize, dcount, _, su = spec
    if cmp(rec.mem, mem) == which:
        return C.FAIL_MEM
    if any(cmp(size, dsize) == which for size, _ in rec.disks):
        return C.FAIL_DISK
    if cmp(rec.vcpus, cpu) == which:
        return C.FAIL_CPU
    if excl:
        total = rec.total_spindles()
        if total is None or cmp(total, su) == which:
            return C.FAIL_SPINDLES
    elif cmp(rec.spindle_use, su) == which:
        return C.FAIL_SPINDLES
    if rec.dt != C.DT_DISKLESS and cmp(len(rec.disks), dcount) == which:
        return C.FAIL_DISKCOUNT
    return OK


def policy_check(cl, rec, node):
    """Instance.instMatchesPolicy against the node's group policy
    (_policy_of remembers the answers)."""
    pol = cl.groups[cl.node_group(node)].ipolicy
    excl = bool(cl.nf[node * NF + C.EXCL])
    result = OK
    if pol.minmax:
        result = C.FAIL_INTERNAL
        for lo, hi in reversed(pol.minmax):
            if result == OK:
                break
            result = _compare_spec(-1, rec, lo, excl) or _compare_spec(1, rec, hi, excl)
    if result != OK:
        return result
    if rec.dt not in pol.templates:
        return C.FAIL_DISK
    return OK


# -- allocating on nodes ------------------------------------------------------

def _node_map_after_add(cl, n, i):
    counts = cl.rtag[n * cl.ntags:(n + 1) * cl.ntags]
    if not cl.inf[i * IF + I_FORTH]:
        for j in range(cl.etag_ptr[i], cl.etag_ptr[i + 1]):
            counts[cl.etag_ids[j]] += 1
    return counts


def allocate_on_pair(cl, stats, i, p, s, force, cache=None, values=None):
    """Cluster.allocateOnPair.  The primary's half (policy, new row and
    statistics) is the same for every secondary with the same location
    score: `cache` (a dict) keeps it between calls for one instance.
    values: the nodes' node_vals as `stats` has them, where known."""
    iloc = float(len(cl.node_loc[p] & cl.node_loc[s]))
    key = (p, iloc)
    half = cache.get(key) if cache is not None else None
    if half is None:
        half = _primary_half(cl, stats, i, p, iloc, force, values)
        if cache is not None:
            cache[key] = half
    if not isinstance(half, tuple):
        return half
    prow, pstats = half
    srow = [0.0] * NF
    rc = kernels.add_sec(cl.nf, s * NF, s, cl.inf, i, p, cl.peers, cl.nnodes, False, False,
                         srow, 0)
    if rc != OK:
        return rc
    smap = metrics.instance_map(cl, s)
    new = metrics.update_stats(pstats, cl, cl.nf[s * NF:(s + 1) * NF], smap, srow, smap,
                               not cl.nf[s * NF + OFFLINE], values and values.get(s))
    return Alloc([p, s], [(p, prow), (s, srow)], metrics.score_of_stats(new), iloc)


class Kernels:
    """The allocation kernels (kernels.score_pairs, score_primaries,
    exact_cv, place_singles, move_singles) as try_alloc, best_single and
    can_evacuate call them: plain Python at
    first, compiled once the plain ones have spent SWITCH_AFTER CPU
    seconds (a cluster big enough to repay numba's start-up), or
    AOT_SWITCH_AFTER when the kernels built ahead of time are there (they
    cost only numpy's import).  Both give the same bits, so the switch does
    not change a result."""

    SWITCH_AFTER = 1.0
    AOT_SWITCH_AFTER = 0.05

    def __init__(self):
        self.spent = 0.0
        self.kern = None
        self.np = None
        self.packers = {}
        self.mirrors = ()
        self.pair_lists = {}

    def _compiled(self):
        """The compiled kernels, when it is time for them (asked at the
        start of a request, so one request uses one kind)."""
        if self.kern is not None:
            return self.kern
        from qganeti.htools import jit
        switch = self.AOT_SWITCH_AFTER if jit.aot_built() else self.SWITCH_AFTER
        if self.spent > switch:
            import numpy as np
            self.np = np
            self.kern = jit.compiled_kernels()
            self.kinds = np.array(C.KINDS, dtype=np.int64)
            self.weights = np.array(C.WEIGHTS, dtype=np.float64)
            self.scratch = [np.zeros(C.NCOMP) for _ in range(4)]
            self.nvals = np.zeros(C.NCOMP)
            self.onode = np.zeros(2, dtype=np.int64)
            self.no_ints = np.zeros(1, dtype=np.int64)
            self.no_peers = np.zeros(1)
            self.pair_ints = {}
        return self.kern

    def _floats(self, values):
        """A float64 array of the list values (writable, as the kernels
        take it): struct packs a list of floats a few times faster than
        np.array converts it, and the table is converted on every call."""
        packer = self.packers.get(len(values))
        if packer is None:
            packer = self.packers[len(values)] = struct.Struct("=%dd" % len(values))
        buf = bytearray(packer.size)
        packer.pack_into(buf, 0, *values)
        return self.np.frombuffer(buf, dtype=self.np.float64)

    def _tables(self, cl):
        """_floats of the cluster's nf and peers, kept from the last call:
        most calls find them as it left them (the tries of one request,
        the shrinking trials of tiered allocation) or with a node or two
        changed (one placement).  List equality stops at the first float
        that changed and is ten times cheaper than a conversion.  It
        compares values: a float that went from 0.0 to -0.0 (or back)
        counts as unchanged, and its mirror keeps the old sign.  A node's
        peer row changes with its own row (moves), and the check after
        the changed rows are copied makes sure of it."""
        nf, peers, nn = cl.nf, cl.peers, cl.nnodes
        seen = self.mirrors
        if seen and seen[0] is nf and seen[1] is peers:
            nf_copy, peers_copy, nf_array, peers_array = seen[2:]
            if nf_copy != nf:
                for n in range(nn):
                    a, b = n * NF, (n + 1) * NF
                    if nf[a:b] != nf_copy[a:b]:
                        nf_copy[a:b] = nf_array[a:b] = nf[a:b]
                        a, b = n * nn, (n + 1) * nn
                        peers_copy[a:b] = peers_array[a:b] = peers[a:b]
            if peers_copy == peers:
                return nf_array, peers_array
        self.mirrors = (nf, peers, list(nf), list(peers), self._floats(nf), self._floats(peers))
        return self.mirrors[4:]

    def _pair_lists(self, prims):
        """(primaries, sec_ptr, secs) of prims as lists and as arrays.  A run
        asks again and again with the same secondaries lists (hspace's
        alloc_nodes), so the arrays are kept, keyed by those lists'
        identities; the value holds prims, so no key's list is freed and
        its id reused while the key is there."""
        key = tuple([(p, id(secondaries)) for p, secondaries in prims])
        got = self.pair_lists.get(key)
        if got is None or got[4] is None and self.np is not None:
            primaries = [p for p, _ in prims]
            sec_ptr, secs = [0], []
            for _, secondaries in prims:
                secs.extend(secondaries)
                sec_ptr.append(len(secs))
            arrays = None
            if self.np is not None:
                i8 = self.np.int64
                arrays = (self.np.array(primaries, dtype=i8), self.np.array(sec_ptr, dtype=i8),
                          self.np.array(secs, dtype=i8))
            got = remember(self.pair_lists, key, (prims, primaries, sec_ptr, secs, arrays),
                           PAIR_LISTS_LIMIT)
        return got[1:]

    def _ints(self, values):
        """An int64 array of values (never empty: numba wants a type), for
        tables the kernels index; never for a list they iterate over (see
        _each)."""
        if not values:
            return self.no_ints
        if len(values) == 2:    # etag_ptr of one instance
            key = tuple(values)
            if key not in self.pair_ints:
                self.pair_ints[key] = self.np.array(values, dtype=self.np.int64)
            return self.pair_ints[key]
        return self.np.array(values, dtype=self.np.int64)

    def _each(self, values):
        """An int64 array of values, empty when they are: a list the kernels
        go through (_ints would make an empty one a list of node 0)."""
        return self.np.array(values, dtype=self.np.int64)

    def pairs(self, cl, nodes, i, mapval, prims, force):
        """kernels.score_pairs of instance i on the cluster as it is, in
        the group of nodes (mapval: its location/exclusion value), for
        prims, [(primary, [secondary])] without locations and passing
        the policy: a PairScores."""
        kern = self._compiled()
        ncomp, count = C.NCOMP, len(prims)
        primaries, sec_ptr, secs, arrays = self._pair_lists(prims)
        fcount = [0] * (len(FAIL_NAMES) + 1)
        if kern is None:
            start = time.process_time()
            prows, prcs = [0.0] * (count * NF), [0] * count
            rcs, scores = [0] * len(secs), [0.0] * len(secs)
            best = kernels.score_pairs(
                cl.nf, nodes, cl.inf, i, primaries, sec_ptr, secs, cl.peers, cl.nnodes,
                cl.ptag, cl.ntags, cl.etag_ptr, cl.etag_ids, cl.loc, cl.dsrd, cl.words, force,
                C.KINDS, C.WEIGHTS, *([0.0] * ncomp for _ in range(4)), mapval,
                [0.0] * (cl.nnodes * ncomp), prows, *([0.0] * ncomp for _ in range(5)),
                [0.0] * NF, [0.0] * ncomp, prcs, rcs, scores, fcount, [0] * cl.nnodes,
                [0.0] * (cl.nnodes * ncomp))
            self.spent += time.process_time() - start
            return PairScores(prims, sec_ptr, prcs, rcs, scores, prows, fcount, best)
        np = self.np
        i8 = np.int64
        first, last = cl.etag_ptr[i], cl.etag_ptr[i + 1]
        words = cl.words
        prows = np.empty(count * NF)
        prcs, fcount_ = np.zeros(count, dtype=i8), np.zeros(len(fcount), dtype=i8)
        rcs, scores = np.zeros(len(secs), dtype=i8), np.zeros(len(secs))
        ints = self._ints
        # instance i's rows alone, as instance 0
        nf, peers = self._tables(cl)
        best = kern.score_pairs(
            nf, ints(nodes), np.array(cl.inf[i * IF:(i + 1) * IF]), 0,
            *arrays, peers, cl.nnodes, ints(cl.ptag),
            cl.ntags, ints([0, last - first]), ints(cl.etag_ids[first:last]), ints(cl.loc),
            ints(cl.dsrd[i * words:(i + 1) * words]), words, force, self.kinds, self.weights,
            *self.scratch, mapval, np.empty(cl.nnodes * ncomp), prows,
            *(np.zeros(ncomp) for _ in range(5)), np.zeros(NF), self.nvals, prcs, rcs,
            scores, fcount_, np.empty(cl.nnodes, dtype=i8), np.empty(cl.nnodes * ncomp))
        return PairScores(prims, sec_ptr, prcs.tolist(), rcs, scores, prows, fcount_.tolist(),
                          best)

    def primaries(self, cl, nodes, targets, i, iloc, force=True, exact=False):
        """kernels.score_primaries for instance i on a group without
        locations: (rcs, scores, row(k), exact(k)), row(k) the new row
        of targets[k] and exact(k) the group's full score with it (the
        scores are those already with exact)."""
        kern = self._compiled()
        ncomp, count = C.NCOMP, len(targets)
        if kern is None:
            start = time.process_time()
            vals = [0.0] * (cl.nnodes * ncomp)
            stats = [[0.0] * ncomp for _ in range(4)]
            prows = [0.0] * (count * NF)
            rcs, scores = [0] * count, [0.0] * count
            kernels.score_primaries(cl.nf, nodes, targets, cl.inf, i, iloc, cl.ptag, cl.ntags,
                                    cl.etag_ptr, cl.etag_ids, cl.loc, cl.dsrd, cl.words,
                                    force, exact, C.KINDS, C.WEIGHTS, vals, *stats, prows,
                                    [0.0] * ncomp, [0, 0], rcs, scores)
            self.spent += time.process_time() - start

            def exact_score(k):
                return kernels.exact_cv(cl.nf, nodes, vals, C.KINDS, C.WEIGHTS,
                                        [targets[k], -1], prows[k * NF:(k + 1) * NF], 1,
                                        [0.0] * ncomp, 0.0)
            return rcs, scores, lambda k: prows[k * NF:(k + 1) * NF], exact_score
        np = self.np
        i8 = np.int64
        words = cl.words
        first, last = cl.etag_ptr[i], cl.etag_ptr[i + 1]
        # a copy of its own, not _tables' (changed in place by its next
        # call): exact_score is called later, between capacity checks that
        # try placements on the cluster
        nf, nodes = self._floats(cl.nf), np.array(nodes, dtype=i8)
        vals = np.empty(cl.nnodes * ncomp)
        prows = np.empty(count * NF)
        rcs, scores = np.empty(count, dtype=i8), np.empty(count)
        # instance i's rows alone, as instance 0; what is empty is the same each time
        ints = self._ints
        kern.score_primaries(nf, nodes, np.array(targets, dtype=i8),
                             np.array(cl.inf[i * IF:(i + 1) * IF]), 0, iloc,
                             ints(cl.ptag), cl.ntags, ints([0, last - first]),
                             ints(cl.etag_ids[first:last]), ints(cl.loc),
                             ints(cl.dsrd[i * words:(i + 1) * words]), words, force, exact,
                             self.kinds, self.weights, vals, *self.scratch, prows,
                             self.nvals, self.onode, rcs, scores)

        def exact_score(k):
            return float(kern.exact_cv(nf, nodes, vals, self.kinds, self.weights,
                                       np.array([targets[k], -1], dtype=i8),
                                       prows[k * NF:(k + 1) * NF], 1, np.zeros(ncomp), 0.0))
        return rcs.tolist(), scores.tolist(), lambda k: prows[k * NF:(k + 1) * NF].tolist(), \
            exact_score

    def place_all(self, cl, nodes, targets, insts):
        """kernels.place_singles of insts (without exclusion tags, passing
        their policies) on a copy of the table: True when each finds a
        target, False when one does not, None when it cannot tell."""
        kern = self._compiled()
        count, ncomp, words = len(insts), C.NCOMP, cl.words
        inf, dsrd = _stacked(cl, insts)
        ilocs = [cl.inf[i * IF + I_LOC_SCORE] for i in insts]
        args = [inf, count, ilocs, cl.ptag, cl.ntags, [0] * (count + 1), cl.etag_ids, cl.loc,
                dsrd, words]
        if kern is None:
            start = time.process_time()
            rc = kernels.place_singles(
                list(cl.nf), nodes, targets, *args, C.KINDS, C.WEIGHTS,
                [0.0] * (cl.nnodes * ncomp), *([0.0] * ncomp for _ in range(4)),
                [0.0] * (len(targets) * NF), [0.0] * ncomp, [0, 0], [0] * len(targets),
                [0.0] * len(targets))
            self.spent += time.process_time() - start
        else:
            np = self.np
            ints = self._ints
            rc = kern.place_singles(
                self._floats(cl.nf), ints(nodes), self._each(targets), np.array(inf), count,
                np.array(ilocs), ints(cl.ptag), cl.ntags, ints(args[5]), ints(cl.etag_ids),
                ints(cl.loc), ints(dsrd), words, self.kinds, self.weights,
                np.empty(cl.nnodes * ncomp), *self.scratch, np.empty(len(targets) * NF),
                self.nvals, self.onode, np.empty(len(targets), dtype=np.int64),
                np.empty(len(targets)))
        return {1: True, 0: False}.get(rc)

    def move_all(self, cl, nodes, targets, insts):
        """kernels.move_singles of insts (without exclusion tags) on a copy
        of the table: (True, table as they leave it) when each finds a
        target, (False, None) when one does not, (None, None) when it
        cannot tell."""
        kern = self._compiled()
        count, ncomp, words = len(insts), C.NCOMP, cl.words
        inf, dsrd = _stacked(cl, insts)
        if kern is None:
            start = time.process_time()
            table = list(cl.nf)
            rc = kernels.move_singles(
                table, nodes, targets, inf, count, cl.peers, cl.nnodes, cl.ptag, cl.ntags,
                [0] * (count + 1), cl.etag_ids, cl.loc, dsrd, words, cl.mig, cl.rmig,
                C.KINDS, C.WEIGHTS, [0.0] * (cl.nnodes * ncomp), [0.0] * (6 * NF),
                [-1, -1, -1], [0.0] * (2 * ncomp), *([0.0] * ncomp for _ in range(4)),
                [0.0] * len(targets))
            self.spent += time.process_time() - start
        else:
            np = self.np
            ints = self._ints
            table = self._floats(cl.nf)
            # failovers to any node (all move_singles makes) read no DRBD
            # peers: a 6,400-float copy per call spared on 80 nodes
            rc = kern.move_singles(
                table, ints(nodes), self._each(targets), np.array(inf), count, self.no_peers,
                cl.nnodes, ints(cl.ptag), cl.ntags, np.zeros(count + 1, dtype=np.int64),
                ints(cl.etag_ids), ints(cl.loc), ints(dsrd), words, ints(cl.mig),
                ints(cl.rmig), self.kinds, self.weights, np.empty(cl.nnodes * ncomp),
                np.zeros(6 * NF), np.full(3, -1, dtype=np.int64), np.empty(2 * ncomp),
                *self.scratch, np.empty(len(targets)))
            table = table.tolist()
        verdict = {1: True, 0: False}.get(rc)
        return verdict, table if verdict else None


class PairScores:
    """Kernels.pairs' answers: for the k-th primary, prcs[k] (add_pri's
    answer), row(k) its new row, and for its secondaries from
    sec_ptr[k] on, results() (add_sec's answers and the scores);
    fcount[code] counts the failures; best the flat index of the pair
    try_alloc takes without capacity checks (-1 none, -2 not known)."""

    def __init__(self, prims, sec_ptr, prcs, rcs, scores, prows, fcount, best):
        self.prims, self.sec_ptr, self.prcs = prims, sec_ptr, prcs
        self.rcs, self.scores, self.prows = rcs, scores, prows
        self.fcount, self.best = fcount, best

    def results(self):
        """(rcs, scores) as lists (without capacity checks only the best
        is read: the compiled kernels' arrays are converted when asked)."""
        if not isinstance(self.rcs, list):
            self.rcs, self.scores = self.rcs.tolist(), self.scores.tolist()
        return self.rcs, self.scores

    def passing(self):
        """The flat indices of the pairs that pass."""
        if isinstance(self.rcs, list):
            return [j for j, rc in enumerate(self.rcs) if rc == OK]
        return KERNELS.np.flatnonzero(self.rcs == OK).tolist()

    def row(self, k):
        row = self.prows[k * NF:(k + 1) * NF]
        return row if isinstance(row, list) else row.tolist()

    def pair(self, j):
        """(k, primary, secondary) of flat index j."""
        k = bisect.bisect_right(self.sec_ptr, j) - 1
        p, secondaries = self.prims[k]
        return k, p, secondaries[j - self.sec_ptr[k]]


def _stacked(cl, insts):
    """The instance rows and desired-location words of insts, one after
    another (instance k of the kernels is insts[k])."""
    inf, dsrd = [], []
    for i in insts:
        inf.extend(cl.inf[i * IF:(i + 1) * IF])
        dsrd.extend(cl.dsrd[i * cl.words:(i + 1) * cl.words])
    return inf, dsrd


KERNELS = Kernels()


def _primary_half(cl, stats, i, p, iloc, force, values=None):
    rc = _policy_of(cl, i, p)
    if rc != OK:
        return rc
    prow = [0.0] * NF
    rc = kernels.add_pri(cl.nf, p * NF, p, cl.inf, i, iloc, cl.ptag, cl.ntags, cl.etag_ptr,
                         cl.etag_ids, 0, cl.loc, cl.dsrd, cl.words, force, prow, 0)
    if rc != OK:
        return rc
    pmap_old = metrics.instance_map(cl, p)
    pmap_new = metrics.instance_map(cl, p, _node_map_after_add(cl, p, i))
    return prow, metrics.update_stats(stats, cl, cl.nf[p * NF:(p + 1) * NF], pmap_old, prow,
                                      pmap_new, not cl.nf[p * NF + OFFLINE],
                                      values and values.get(p))


def _singles(cl, nodes, i, targets, force, is_good):
    """collection_to_solution over allocate_on_single on each of targets
    (a group without locations), by the kernels."""
    iloc = cl.inf[i * IF + I_LOC_SCORE]
    checked = [_policy_of(cl, i, p) for p in targets]
    passed = [p for p, rc in zip(targets, checked) if rc == OK]
    rcs, scores, row, exact = KERNELS.primaries(cl, nodes, passed, i, iloc, force)
    fails, oks = [], []
    k = 0
    for rc in checked:
        if rc == OK:
            rc = rcs[k]
            if rc == OK:
                oks.append((scores[k], k))
            k += 1
        if rc != OK:
            fails.append(rc)

    def make(score, k):
        return Alloc([passed[k]], [(passed[k], row(k))], score, iloc)
    return collection_to_solution(fails, oks, is_good, make,
                                  lambda oks: _by_exact_score(oks, exact))


def _located_singles(cl, nodes, i, targets, force, is_good):
    """collection_to_solution over allocate_on_single on each of targets,
    in a group with locations: the scores estimated from the group's
    statistics (as best_single's) order the candidates, and only those
    is_good is asked about, with their close rivals, are scored in full
    (_by_exact_score)."""
    iloc = cl.inf[i * IF + I_LOC_SCORE]
    values = {n: metrics.node_vals(cl, n) for n in nodes}
    stats = metrics.stats_of_values(cl, nodes, values)
    fails, oks, rows = [], [], []
    for p, rc, prow, estimate in _located_estimates(cl, stats, values, i, targets, force):
        if rc != OK:
            fails.append(rc)
            continue
        oks.append((estimate, len(rows)))
        rows.append((p, prow))

    def exact(k):
        p, prow = rows[k]
        return _score_with_row(cl, nodes, values, i, p, prow)

    def make(score, k):
        p, prow = rows[k]
        return Alloc([p], [(p, prow)], score, iloc)
    return collection_to_solution(fails, oks, is_good, make,
                                  lambda oks: _by_exact_score(oks, exact))


def _located_estimates(cl, stats, values, i, targets, force):
    """(p, rc, prow, estimate) for each of targets, in a group with
    locations: the policy's answer, then add_pri's; where both are OK,
    p's new row and the group's score estimated with instance i on p."""
    iloc = cl.inf[i * IF + I_LOC_SCORE]
    for p in targets:
        rc = _policy_of(cl, i, p)
        prow = estimate = None
        if rc == OK:
            prow = [0.0] * NF
            rc = kernels.add_pri(cl.nf, p * NF, p, cl.inf, i, iloc, cl.ptag, cl.ntags,
                                 cl.etag_ptr, cl.etag_ids, 0, cl.loc, cl.dsrd, cl.words, force,
                                 prow, 0)
        if rc == OK:
            estimate = _estimate_single(cl, stats, values, i, p, prow)
        yield p, rc, prow, estimate


def _estimate_single(cl, stats, values, i, p, prow):
    """The group's score once instance i is on p (its new row prow), from
    the group's statistics (Ganeti's incremental update)."""
    new = metrics.update_stats(stats, cl, cl.nf[p * NF:(p + 1) * NF],
                               metrics.instance_map(cl, p), prow,
                               metrics.instance_map(cl, p, _node_map_after_add(cl, p, i)),
                               not cl.nf[p * NF + OFFLINE], values.get(p))
    return metrics.score_of_stats(new)


def _score_with_row(cl, nodes, values, i, p, prow):
    """metrics.comp_cv of the group with instance i on p (its new row
    prow), from the nodes' values with p's swapped in."""
    return _score_with_rows(cl, nodes, values, [(p, prow)], {p: _node_map_after_add(cl, p, i)})


def _score_with_rows(cl, nodes, values, rows, rtags):
    """metrics.comp_cv(cl, nodes, dict(rows), rtags) from the nodes'
    values (node_vals), with those of the nodes in rows swapped in."""
    kept = {}
    for node, row in rows:
        if node in values:
            kept[node] = values[node]
            values[node] = metrics.node_vals(cl, node, {node: row})
    try:
        return metrics.score_of_stats(metrics.stats_of_values(cl, nodes, values, rtags))
    finally:
        values.update(kept)


CLOSE = kernels.CLOSE      # estimates closer than this are scored in full


def _by_exact_score(oks, exact):
    """oks [(estimate, k)], k ascending, as collection_to_solution orders
    their exact scores exact(k): [(score, k)] by score, ties the later k
    first.  Only the ones asked for are scored: in order of estimate, a
    run of estimates each within CLOSE of the one before at a time,
    sorted by exact score within it (estimates further apart are in the
    exact scores' order).  Without finite estimates, all are scored."""
    if not all(math.isfinite(estimate) for estimate, _ in oks):
        yield from sorted(reversed([(exact(k), k) for _, k in oks]), key=lambda ok: ok[0])
        return
    ordered = sorted(oks, key=lambda ok: (ok[0], -ok[1]))
    start = 0
    while start < len(ordered):
        end = start + 1
        while end < len(ordered) and ordered[end][0] - ordered[end - 1][0] <= \
                CLOSE * max(1.0, abs(ordered[end][0])):
            end += 1
        yield from sorted([(exact(k), k) for _, k in ordered[start:end]],
                          key=lambda ok: (ok[0], -ok[1]))
        start = end


def allocate_on_single(cl, nodes, i, p, force):
    rec = cl.instrecs[i]
    rc = policy_check(cl, rec, p)
    if rc != OK:
        return rc
    iloc = cl.inf[i * IF + I_LOC_SCORE]
    prow = [0.0] * NF
    rc = kernels.add_pri(cl.nf, p * NF, p, cl.inf, i, iloc, cl.ptag, cl.ntags, cl.etag_ptr,
                         cl.etag_ids, 0, cl.loc, cl.dsrd, cl.words, force, prow, 0)
    if rc != OK:
        return rc
    score = metrics.comp_cv(cl, nodes, {p: prow}, {p: _node_map_after_add(cl, p, i)})
    return Alloc([p], [(p, prow)], score, iloc)


def _close(estimates):
    """Of estimates [(score, p, x)], the (p, x) within a hair of the best
    (all of them when a score is infinite or NaN: no shortcut then)."""
    if all(math.isfinite(score) for score, _, _ in estimates):
        low = min((score for score, _, _ in estimates), default=0.0)
        tol = CLOSE * max(1.0, abs(low))
        return [(p, x) for score, p, x in estimates if score <= low + tol]
    return [(p, x) for _, p, x in estimates]


def best_single(cl, nodes, targets, i, values=None):
    """The allocation collection_to_solution picks among
    allocate_on_single(cl, nodes, i, p, True) for p in targets (the
    lowest score; on a tie the later target), without scoring every
    target from scratch: Ganeti's incremental statistics estimate each
    score (to ~1e-12), and only those within a hair of the best
    estimate get the full recomputation that decides.  The nodes' values
    (metrics.node_vals) are computed once, or kept by the caller that
    places one instance after another (values); a target's full score
    swaps in its own."""
    iloc = cl.inf[i * IF + I_LOC_SCORE]
    if not any(cl.node_loc[n] for n in nodes):
        # no location/exclusion component: the kernels do it all
        targets = [p for p in targets if _policy_of(cl, i, p) == OK]
        rcs, scores, row, exact = KERNELS.primaries(cl, nodes, targets, i, iloc)
        estimates = [(scores[k], p, k) for k, p in enumerate(targets) if rcs[k] == OK]
        close = _close(estimates)
        return collection_to_solution([], [Alloc([p], [(p, row(k))], exact(k), iloc)
                                           for p, k in close], lambda a: True).best
    if values is None:
        values = {n: metrics.node_vals(cl, n) for n in nodes}
    stats = metrics.stats_of_values(cl, nodes, values)
    estimates = [(estimate, p, prow) for p, rc, prow, estimate
                 in _located_estimates(cl, stats, values, i, targets, True) if rc == OK]
    if not estimates:
        return None
    oks = [Alloc([p], [(p, prow)], _score_with_row(cl, nodes, values, i, p, prow), iloc)
           for p, prow in _close(estimates)]
    return collection_to_solution([], oks, lambda a: True).best


def place(cl, i, alloc, journal=None):
    """Make an allocation real: the instance lands on alloc.nodes."""
    p = alloc.nodes[0]
    s = alloc.nodes[1] if len(alloc.nodes) > 1 else NO_NODE
    if journal is not None:
        for n in alloc.nodes:
            journal.node(n)
        journal.inst(i)
    for n, row in alloc.rows:
        cl.nf[n * NF:(n + 1) * NF] = row
    moves._add_pri(cl, p, i)
    if s != NO_NODE:
        moves._add_sec(cl, s, i, p)
    cl.inf[i * IF + I_PNODE] = float(p)
    cl.inf[i * IF + I_SNODE] = float(s)
    cl.inf[i * IF + I_LOC_SCORE] = alloc.iloc
    if journal is None and cl.instrecs[i].pnode == NO_NODE:
        rec = cl.instrecs[i] = copy.copy(cl.instrecs[i])
        rec.pnode, rec.snode = p, s


def try_alloc(cl, nodes, i, alloc_nodes, opts):
    """Cluster.tryAlloc on the given nodes (a group): Solution."""
    kind, targets = alloc_nodes
    force = opts.ignore_soft_errors

    fast = None
    if opts.capacity:
        from qganeti.htools.globaln1 import FastN1
        fast = FastN1(cl, evacuees(cl, nodes, opts))

    def trial(tried):
        return _evacuable_with(cl, i, alloc_, tried, opts)

    def is_good(alloc):
        nonlocal alloc_
        if not opts.capacity:
            return True
        alloc_ = alloc
        if not fast.usable:
            return trial(evacuees(cl, nodes, opts))
        return fast.good(i, alloc, trial)
    alloc_ = None
    if kind == 2:
        if not targets:
            raise AllocError("Not enough online nodes")
        # a primary without locations has one half for all its secondaries:
        # the kernels score all such pairs in one go
        policy, batch = _policy_batch(cl, i, targets)
        values, stats, mapval = {}, [], 0.0
        if any(cl.node_loc[n] for n in nodes):
            values = {n: metrics.node_vals(cl, n) for n in nodes}
            stats = metrics.stats_of_values(cl, nodes, values)
            mapval = metrics.stat_value(metrics.MAP_COMPS[0], stats[metrics.MAP_COMPS[0]])
        scored = KERNELS.pairs(cl, nodes, i, mapval, batch, force) if batch else None
        if not opts.capacity and len(policy) == len(targets) and \
                (scored is None or scored.best != -2):
            total = _best_pair(cl, i, targets, policy, scored)
        else:
            total = _pair_solutions(cl, i, targets, policy, scored, stats, values, force,
                                    is_good)
    else:
        if not targets:
            raise AllocError("No online nodes")
        if not any(cl.node_loc[n] for n in nodes):
            total = _singles(cl, nodes, i, targets, force, is_good)
        else:
            total = _located_singles(cl, nodes, i, targets, force, is_good)
    if total.best is not None:
        total.best.node_names = [cl.noderecs[n].name for n in total.best.nodes]
    return annotate(total)


def _pair_solutions(cl, i, targets, policy, scored, stats, values, force, is_good):
    """try_alloc's Solution over pairs, primary by primary: from the
    kernels' scores (scored) where the primary has no location, else by
    allocate_on_pair."""
    total = Solution()
    cache = {}
    k = -1
    rcs, scores = scored.results() if scored else ([], [])
    for p, secondaries in targets:
        fails, oks = [], []
        if p in policy:
            rc = policy[p]
            if rc == OK:
                k += 1
                rc = scored.prcs[k]
            if rc != OK:
                fails = [rc] * len(secondaries)
                total = sum_allocs(total, collection_to_solution(fails, oks, is_good))
                continue
            for j, s in enumerate(secondaries, scored.sec_ptr[k]):
                rc = rcs[j]
                if rc == OK:
                    oks.append((scores[j], s))
                else:
                    fails.append(rc)

            def make(score, s, p=p, prow=scored.row(k)):
                return _pair_alloc(cl, i, p, s, prow, score)
            total = sum_allocs(total, collection_to_solution(fails, oks, is_good, make))
            continue
        for s in secondaries:
            result = allocate_on_pair(cl, stats, i, p, s, force, cache, values)
            (oks if isinstance(result, Alloc) else fails).append(result)
        total = sum_allocs(total, collection_to_solution(fails, oks, is_good))
    return total


def _pair_alloc(cl, i, p, s, prow, score):
    srow = [0.0] * NF
    kernels.add_sec(cl.nf, s * NF, s, cl.inf, i, p, cl.peers, cl.nnodes, False, False, srow, 0)
    return Alloc([p, s], [(p, prow), (s, srow)], score, 0.0)


def _best_pair(cl, i, targets, policy, scored):
    """try_alloc's Solution without capacity checks, primaries without
    locations: the last pair of the lowest score (collection_to_solution
    gives each primary's, sum_allocs the last of equals)."""
    failures = collections.Counter()
    for p, secondaries in targets:
        if policy[p] != OK:
            failures[policy[p]] += len(secondaries)
    if scored is None:
        return Solution(failures)
    for code, count in enumerate(scored.fcount):
        if count:
            failures[code] += count
    best = None
    if scored.best >= 0:
        k, p, s = scored.pair(scored.best)
        best = _pair_alloc(cl, i, p, s, scored.row(k), float(scored.scores[scored.best]))
    return Solution(failures, len(scored.rcs) - sum(scored.fcount), best)


def _policy_batch(cl, i, targets):
    """The policy's answer for each primary without locations, and the
    (primary, secondaries) of those it passes: what the kernels score in
    one call (Kernels.pairs)."""
    policy = {p: _policy_of(cl, i, p) for p, _ in targets if not cl.node_loc[p]}
    return policy, [(p, ss) for p, ss in targets if policy.get(p) == OK]


def _pairs_passing(cl, nodes, i, targets, force):
    """alloc_exists' pairs on primaries without locations, by the kernels:
    (failure codes, the flat indices of the pairs passing, make(j) the
    Alloc of one)."""
    policy, batch = _policy_batch(cl, i, targets)
    codes = {rc for rc in policy.values() if rc != OK}
    if not batch:
        return codes, [], None
    scored = KERNELS.pairs(cl, nodes, i, 0.0, batch, force)
    codes.update(code for code, count in enumerate(scored.fcount) if count)

    def make(j):
        k, p, s = scored.pair(j)
        return _pair_alloc(cl, i, p, s, scored.row(k), 0.0)
    return codes, scored.passing(), make


def _pairs_one_by_one(cl, i, targets, force):
    """alloc_exists' pairs where primaries have locations: (failure codes,
    the Allocs of the pairs passing)."""
    codes, oks = set(), []
    for p, secondaries in targets:
        rc = _policy_of(cl, i, p)
        if rc != OK:
            codes.add(rc)
            continue
        prows = {}          # add_pri depends on the secondary only by location
        for s in secondaries:
            iloc = float(len(cl.node_loc[p] & cl.node_loc[s]))
            if iloc not in prows:
                prow = [0.0] * NF
                prc = kernels.add_pri(cl.nf, p * NF, p, cl.inf, i, iloc, cl.ptag,
                                      cl.ntags, cl.etag_ptr, cl.etag_ids, 0, cl.loc,
                                      cl.dsrd, cl.words, force, prow, 0)
                prows[iloc] = (prc, prow)
            rc, prow = prows[iloc]
            if rc != OK and not cl.node_loc[p]:
                codes.add(rc)       # the same for every secondary
                break
            if rc == OK:
                srow = [0.0] * NF
                rc = kernels.add_sec(cl.nf, s * NF, s, cl.inf, i, p, cl.peers, cl.nnodes,
                                     False, False, srow, 0)
                if rc == OK:
                    oks.append(Alloc([p, s], [(p, prow), (s, srow)], 0.0, iloc))
                    continue
            codes.add(rc)
    return codes, oks


def alloc_exists(cl, nodes, i, alloc_nodes, opts):
    """What try_alloc's Solution says about fitting, without scoring:
    (its failure codes as a set, whether it has a best placement).  A
    placement is found exactly when some candidate passes the checks and
    the capacity check; the FailN1 code is there when no candidate passes
    the capacity check but some passed the others."""
    kind, targets = alloc_nodes
    force = opts.ignore_soft_errors
    codes, oks, make = set(), [], None
    if kind == 2:
        if not targets:
            raise AllocError("Not enough online nodes")
        if any(cl.node_loc[p] for p, _ in targets):
            codes, oks = _pairs_one_by_one(cl, i, targets, force)
        else:
            codes, oks, make = _pairs_passing(cl, nodes, i, targets, force)
    else:
        if not targets:
            raise AllocError("No online nodes")
        for p in targets:
            rc = _policy_of(cl, i, p)
            if rc == OK:
                prow = [0.0] * NF
                rc = kernels.add_pri(cl.nf, p * NF, p, cl.inf, i,
                                     cl.inf[i * IF + I_LOC_SCORE], cl.ptag, cl.ntags,
                                     cl.etag_ptr, cl.etag_ids, 0, cl.loc, cl.dsrd, cl.words,
                                     force, prow, 0)
                if rc == OK:
                    oks.append(Alloc([p], [(p, prow)], 0.0, cl.inf[i * IF + I_LOC_SCORE]))
                    continue
            codes.add(rc)
    if not oks:
        return codes, False
    if not opts.capacity:
        return codes, True
    from qganeti.htools.globaln1 import FastN1
    fast = FastN1(cl, evacuees(cl, nodes, opts))

    def good(alloc):
        def trial(tried):
            return _evacuable_with(cl, i, alloc, tried, opts)
        if not fast.usable:
            return trial(evacuees(cl, nodes, opts))
        return fast.good(i, alloc, trial)
    if any(good(make(a) if make else a) for a in oks):
        return codes, True
    codes.add(C.FAIL_N1)
    return codes, False


def gen_alloc_nodes(cl, nodes, count, opts, drop_unallocable=False):
    """Cluster.genAllocNodes: (1, [node]) or (2, [(primary, [secondary])])."""
    online = [n for n in nodes if not cl.nf[n * NF + OFFLINE]]
    if drop_unallocable:
        online = [n for n in online if cl.groups[cl.node_group(n)].allocable]
    if opts.restrict_to is not None:
        online = [n for n in online if cl.noderecs[n].name in opts.restrict_to]
    if count == 1:
        return 1, online
    if count == 2:
        pairs = [(p, [s for s in online if s != p and cl.node_group(s) == cl.node_group(p)])
                 for p in online]
        return 2, [(p, ss) for p, ss in pairs if ss]
    raise AllocError("Unsupported number of nodes, only one or two  supported")


def split_cluster(cl):
    """ClusterUtils.splitCluster: [(group, nodes, instances)] for groups
    that have nodes."""
    out = []
    for gdx in sorted(set(cl.node_group(n) for n in range(cl.nnodes))):
        nodes = [n for n in range(cl.nnodes) if cl.node_group(n) == gdx]
        members = set(nodes)
        insts = [k for k in range(cl.ninsts) if cl.inst_pnode(k) in members]
        out.append((gdx, nodes, insts))
    return out


def has_networks(cl, gdx, i):
    return all(net is None or net in cl.groups[gdx].networks
               for net in cl.instrecs[i].nics)


def group_description(cl, gdx, result):
    grp = cl.groups[gdx]
    if isinstance(result, Solution):
        return ["Group %s (%s): %s" % (grp.name, C.ALLOC_POLICIES[grp.policy], line)
                for line in result.log]
    return ["Group %s: error %s" % (grp.name, result)]


def find_allocation(cl, gdx, i, count, opts):
    """Cluster.findAllocation: (Solution, description lines)."""
    nodes = [n for n in range(cl.nnodes) if cl.node_group(n) == gdx]
    if not has_networks(cl, gdx, i):
        raise AllocError("The group %s is not connected to a network required by instance "
                         "%s" % (cl.groups[gdx].name, cl.instrecs[i].name))
    sol = try_alloc(cl, nodes, i, gen_alloc_nodes(cl, nodes, count, opts), opts)
    return sol, group_description(cl, gdx, sol)


def find_best_group(cl, i, count, opts, allowed=None):
    """Cluster.findBestAllocGroup: (group, Solution, messages)."""
    groups = split_cluster(cl)
    if allowed is not None:
        groups = [g for g in groups if g[0] in allowed]
    msgs, valid = [], []
    for group in groups:
        if has_networks(cl, group[0], i):
            valid.append(group)
        else:
            msgs.append("group %s is not connected to a network required by instance %s"
                        % (cl.groups[group[0]].name, cl.instrecs[i].name))
    results = []
    for gdx, nodes, _ in valid:
        try:
            # scored (and capacity-checked) over the whole cluster, as Ganeti does
            result = try_alloc(cl, list(range(cl.nnodes)), i,
                               gen_alloc_nodes(cl, nodes, count, opts), opts)
        except AllocError as exc:
            result = str(exc)
        results.append((gdx, result))
        msgs.extend(group_description(cl, gdx, result))
    good = [(gdx, sol) for gdx, sol in reversed(results)
            if isinstance(sol, Solution) and sol.best is not None
            and cl.groups[gdx].allocable]
    good.sort(key=lambda gs: (cl.groups[gs[0]].policy, gs[1].best.score))
    if not good:
        if not groups:
            raise AllocError("no groups for evacuation: allowed groups was %s, all groups: "
                             "[%s]" % ("Nothing" if allowed is None else "Just [%s]"
                                       % ",".join(map(str, allowed)),
                                       ",".join(show_group(cl, g) for g, _, _ in
                                                split_cluster(cl))))
        raise AllocError(", ".join(msgs))
    return good[0][0], good[0][1], msgs


def show_group(cl, gdx):
    """Haskell `show` of a Group record."""
    from qganeti.htools.hbal import show_ipolicy
    from qganeti.htools.hsfmt import show_string, show_string_list
    grp = cl.groups[gdx]
    policy = ["AllocPreferred", "AllocLastResort", "AllocUnallocable"][grp.policy]
    return ("Group {name = %s, uuid = %s, idx = %d, allocPolicy = %s, networks = %s, "
            "iPolicy = %s, allTags = %s}" % (show_string(grp.name), show_string(grp.uuid),
                                             gdx, policy, show_string_list(grp.networks),
                                             show_ipolicy(grp.ipolicy),
                                             show_string_list(grp.tags)))


def try_mg_alloc(cl, i, count, opts):
    gdx, sol, msgs = find_best_group(cl, i, count, opts)
    sol.log = ["Selected group: " + cl.groups[gdx].name] + msgs
    return sol


def try_group_alloc(cl, group_name, i, count, opts):
    gdx = _group_by_name(cl, group_name)
    sol, msgs = find_allocation(cl, gdx, i, count, opts)
    sol.log = msgs
    return sol


def _group_by_name(cl, name):
    matches = [g for g, grp in enumerate(cl.groups) if name in (grp.name, grp.uuid)]
    if len(matches) != 1:
        raise AllocError("Wrong number of elems found with name " + name)
    return matches[0]


# -- global N+1 capacity (GlobalN1) ------------------------------------------

def can_evacuate(cl, n, opts, sums=None):
    """GlobalN1.canEvacuateNode: fail over the node's DRBD primaries, move
    its other movable primaries away, re-create the rest elsewhere.
    sums: the cluster's EvacSums, when the caller evacuates several."""
    verdict = _evacuation_by_sums(cl, n, sums or EvacSums(cl))
    if verdict is not None:
        return verdict
    plist = list(cl.plist[n])
    drbd = [i for i in plist if cl.inf[i * IF + I_DT] == C.DT_DRBD]
    others = [i for i in plist if cl.inf[i * IF + I_DT] != C.DT_DRBD]
    journal = moves.Journal(cl)
    scratch = moves.Scratch()
    try:
        for i in drbd:
            # hard moves: soft errors are ignored
            rc, _ = moves.apply_logged(cl, i, C.MV_FAILOVER, -1, True, journal, scratch)
            if rc != OK:
                return False
        grp = cl.node_group(n)
        escape = [k for k in range(cl.nnodes) if k != n and cl.node_group(k) == grp]
        shared = [i for i in others if int(cl.inf[i * IF + I_DT]) in C.EVAC_MOVABLE]
        fixed_ = [i for i in others if int(cl.inf[i * IF + I_DT]) not in C.EVAC_MOVABLE]
        group_nodes = [k for k in range(cl.nnodes) if cl.node_group(k) == grp]
        no_locations = not any(cl.node_loc[k] for k in group_nodes)
        if shared and no_locations and all(cl.etag_ptr[i] == cl.etag_ptr[i + 1]
                                           for i in shared):
            # the kernels move them as evac_one_node does, on a copy
            verdict, table = KERNELS.move_all(cl, group_nodes, escape, shared)
            if verdict is False:
                return False
            if verdict:
                for k in group_nodes:
                    journal.node(k)
                    cl.nf[k * NF:(k + 1) * NF] = table[k * NF:(k + 1) * NF]
                shared = []
        evac_opts = Options(ignore_soft_errors=True)
        values = {k: metrics.node_vals(cl, k) for k in group_nodes}
        for i in shared:
            try:
                evac_one_node(cl, i, grp, escape, evac_opts, journal, values)
            except AllocError:
                return False
        fixed_.sort(key=lambda i: -cl.inf[i * IF + I_MEMORY])
        policy_nodes = _policy_nodes(cl, escape)
        verdict = surely_placed(cl, fixed_, escape, policy_nodes)
        if verdict is not None:
            return verdict
        # without locations, exclusion tags or a policy in the way the
        # kernels place them all, as the loop below does
        if no_locations and all(
                cl.etag_ptr[i] == cl.etag_ptr[i + 1] and _passes_policies(cl, i, policy_nodes)
                for i in fixed_):
            verdict = KERNELS.place_all(cl, group_nodes, escape, fixed_)
            if verdict is not None:
                return verdict
        for i in fixed_:
            best = best_single(cl, group_nodes, escape, i, values)
            if best is None:
                return False
            sol = Solution(best=best)
            for node, row in sol.best.rows:
                journal.node(node)
                cl.nf[node * NF:(node + 1) * NF] = row
                if node in values:
                    values[node] = metrics.node_vals(cl, node)
                moves._tags(cl, node, i, cl.ptag, 1)
                if not cl.inf[i * IF + I_FORTH]:
                    moves._tags(cl, node, i, cl.rtag, 1)
        return True
    finally:
        journal.restore()


class EvacSums:
    """What _evacuation_by_sums reads of one cluster state, once for the
    evacuation of each of its nodes in turn."""

    def __init__(self, cl):
        nf = cl.nf
        self.group = [int(grp) for grp in nf[C.GROUP::NF]]
        members = {}
        for k, grp in enumerate(self.group):
            members.setdefault(grp, []).append(k)
        self.excl = {grp: any(nf[k * NF + C.EXCL] for k in nodes)
                     for grp, nodes in members.items()}
        self.left = [_memory_left(nf, k, 0.0) for k in range(cl.nnodes)]
        self.ascending = {grp: sorted(self.left[k] for k in nodes)
                          for grp, nodes in members.items()}
        self.room = {grp: sum(_room(self.left[k]) for k in nodes)
                     for grp, nodes in members.items()}
        # a node's own policy answer is one too many: stricter, never wrong
        self.policy_nodes = {grp: _policy_nodes(cl, nodes) for grp, nodes in members.items()}
        self.snode = cl.inf[I_SNODE::IF]        # each instance's secondary


def _room(left):
    """A node's memory left (_memory_left) with its margin given back: no
    less than the node has."""
    return max(left + 2e-3, 0.0)


def _memory_left(nf, p, load):
    """The memory node p has left (add_pri's sum) with load MiB more,
    less a margin for rounding."""
    return float(int(nf[p * NF + C.T_MEM])) - nf[p * NF + C.N_MEM] \
        - (nf[p * NF + C.I_MEM] + load) - max(nf[p * NF + C.X_MEM], 0.0) - 1e-3


def _evacuation_by_sums(cl, n, sums):
    """can_evacuate(n) by sums rather than trials, where they tell: its
    DRBD failovers are globaln1's sums, and the rest, without local
    disks, must all be moved or re-created elsewhere (_fit_verdict with
    the memory the failovers bring).  sums: EvacSums of the cluster.
    None: the sums do not tell."""
    from qganeti.htools import globaln1
    grp = sums.group[n]
    if sums.excl[grp]:
        return None
    profile = _primaries_profile(cl, n, sums.policy_nodes[grp], sums.snode)
    if profile is None:
        return None
    load, needs, most, needed = profile
    if load and not globaln1.failovers_fit(cl, n, load):
        return False
    room = sums.room[grp] - _room(sums.left[n])
    changed = []            # (memory left before the failovers, after) of receivers
    for p, mem in load.items():
        if sums.group[p] == grp:
            now = _memory_left(cl.nf, p, mem)
            changed.append((sums.left[p], now))
            room += _room(now) - _room(sums.left[p])
    if most is None:
        return True         # nothing that must fit
    # _fit_verdict cannot stop early when even the largest need fits on
    # more targets than there are needs: then only the room decides
    asc = sums.ascending[grp]
    above = len(asc) - bisect.bisect_right(asc, most) - (sums.left[n] > most)
    for before, after in changed:
        above += (after > most) - (before > most)
    if above >= len(needs):
        return not (needed > 0.0 and needed >= room)
    left = list(asc)
    left.remove(sums.left[n])
    for before, after in changed:
        left.remove(before)
        bisect.insort(left, after)
    return _fit_verdict(needs, left, room)


def _primaries_profile(cl, n, policy_nodes, snode):
    """Node n's primaries as _evacuation_by_sums reads them: (load, needs,
    most, needed), load the globaln1.drbd_load of its DRBD ones and needs
    the memory and forthcoming flag of the others in the order
    can_evacuate places them (the ones it moves away as they are listed,
    then the ones it re-creates by memory, descending), most the largest
    memory of a need not forthcoming (None without one) and needed their
    sum as _fit_verdict adds it up; None when sums cannot tell (one has
    local disks, misses its secondary, a policy or a migration tag on the
    way).  snode: each instance's secondary (EvacSums.snode).  Remembered
    while the node has the same primary records (copied, never changed,
    once placed) with the same secondaries."""
    from qganeti.htools import globaln1
    inf, recs = cl.inf, cl.instrecs
    plist = cl.plist[n]
    key = (n, tuple(plist), tuple(map(snode.__getitem__, plist)),
           tuple(map(recs.__getitem__, plist)))
    memo = cl.__dict__.setdefault("_profile_memo", {})
    if key in memo:
        return memo[key]
    drbd = [i for i in plist if inf[i * IF + I_DT] == C.DT_DRBD]
    shared = [i for i in plist if int(inf[i * IF + I_DT]) in C.EVAC_MOVABLE]
    fixed_ = sorted((i for i in plist if inf[i * IF + I_DT] != C.DT_DRBD
                     and int(inf[i * IF + I_DT]) not in C.EVAC_MOVABLE),
                    key=lambda i: -inf[i * IF + I_MEMORY])
    load = globaln1.drbd_load(cl, drbd)
    # moving one away checks the node's migration tags against the target's
    tagged = shared and any(cl.mig[n * cl.words:(n + 1) * cl.words])
    if load is None or tagged or any(inf[i * IF + I_LOCAL] for i in shared + fixed_) or \
            not all(_passes_policies(cl, i, policy_nodes) for i in fixed_):
        memo[key] = None
        return None
    needs = [(inf[i * IF + C.I_MEMORY] if inf[i * IF + C.I_USES_MEM] else 0.0,
              bool(inf[i * IF + I_FORTH])) for i in shared + fixed_]
    most, needed = None, 0.0
    for mem, forthcoming in needs:
        if not forthcoming:
            most = mem if most is None else max(most, mem)
            needed += mem
    memo[key] = load, needs, most, needed
    return memo[key]


def surely_placed(cl, insts, targets, policy_nodes):
    """Will best_single find a target for each of insts in turn (by
    memory, descending), placing each where it scores best?  _fit_verdict
    for instances without local disks, else _surely_placed_local.
    policy_nodes: _policy_nodes of targets."""
    if any(cl.inf[i * IF + I_LOCAL] for i in insts):
        return _surely_placed_local(cl, insts, targets)
    if not all(_passes_policies(cl, i, policy_nodes) for i in insts):
        return None
    inf = cl.inf
    avail = sorted(_memory_left(cl.nf, p, 0.0) for p in targets)
    return _fit_verdict([(inf[i * IF + C.I_MEMORY] if inf[i * IF + C.I_USES_MEM] else 0.0,
                          bool(inf[i * IF + I_FORTH])) for i in insts],
                        avail, sum(_room(left) for left in avail))


def _fit_verdict(needs, avail, room):
    """Moving or re-creating instances without local disks one after
    another by force (each on one target, where it scores best), on
    targets passing their policies: needs [(memory, forthcoming)]
    in that order, avail the targets' _memory_left, ascending, room the
    sum of their _room.  The ones placed before instance k can make it
    stop fitting only on the targets they land on, one target each, and
    only by taking at least the memory it would leave there: True (sure)
    when they cannot spoil every target it fits on now; False (surely
    not) when one fits nowhere, or all need more memory than there is;
    None when not sure (the caller places them one by one)."""
    before = 0.0            # memory of the instances placed before this one
    needed = 0.0            # memory of those that must fit, forthcoming ones fit anywhere
    for k, (mem, forthcoming) in enumerate(needs):
        if not forthcoming:
            first = bisect.bisect_right(avail, mem)
            fit = len(avail) - first
            if not avail or avail[-1] + 2e-3 <= mem:
                return False        # it fits nowhere, even before the others
            if fit <= k and sum(avail[first:]) - fit * mem <= before:
                return None
            needed += mem
        before += mem
    if needed > 0.0 and needed >= room:
        return False
    return True


def _policy_nodes(cl, targets):
    """One of targets for each policy answer they can give (the group's
    policy and exclusive storage make it)."""
    return list({(cl.node_group(p), cl.nf[p * NF + C.EXCL]): p for p in targets}.values())


def _passes_policies(cl, i, nodes):
    """Does instance i pass the policy on each of nodes (_policy_nodes)?"""
    return all(_policy_of(cl, i, p) == OK for p in nodes)


def _policy_of(cl, i, p):
    """policy_check of instance i on node p, remembered per instance
    record (records are copied, not changed, once placed; the memo keeps
    each alive, so its id stays its own)."""
    rec = cl.instrecs[i]
    key = (id(rec), cl.node_group(p), cl.nf[p * NF + C.EXCL])
    memo = cl.__dict__.setdefault("_policy_memo", {})
    hit = memo.get(key)
    if hit is None or hit[0] is not rec:
        # hspace asks of a new record each time it tries a size
        hit = remember(memo, key, (rec, policy_check(cl, rec, p)), POLICY_MEMO_LIMIT)
    return hit[1]


POLICY_MEMO_LIMIT = 100000
PAIR_LISTS_LIMIT = 1000


def remember(memo, key, value, limit):
    """memo[key] = value, in a memo that starts again once it holds limit
    answers: a cache, bounded where a run asks ever new questions."""
    if len(memo) >= limit:
        memo.clear()
    memo[key] = value
    return value


def _surely_placed_local(cl, insts, targets):
    """surely_placed for instances with local disks, which can run out
    too: instance k is sure to fit when it fits on more than k targets."""
    row = [0.0] * NF
    for k, i in enumerate(insts):
        if cl.inf[i * IF + I_FORTH]:
            continue
        iloc = cl.inf[i * IF + I_LOC_SCORE]
        fits = 0
        for p in targets:
            if _policy_of(cl, i, p) == OK and kernels.add_pri(
                    cl.nf, p * NF, p, cl.inf, i, iloc, cl.ptag, cl.ntags, cl.etag_ptr,
                    cl.etag_ids, 0, cl.loc, cl.dsrd, cl.words, True, row, 0) == OK:
                fits += 1
                if fits > k:
                    break
        if fits <= k:
            return None
    return True


def evacuees(cl, nodes, opts):
    """The nodes GlobalN1.redundant evacuates: all, or the online ones
    when existing violations are accepted."""
    return [n for n in nodes if not (opts.accept_existing and cl.nf[n * NF + OFFLINE])
            and cl.node_group(n) not in opts.ignore_groups]


def redundant(cl, nodes, opts):
    """GlobalN1.redundant: every node can be evacuated (by trial; the
    allocation itself uses globaln1.FastN1)."""
    return all_evacuable(cl, evacuees(cl, nodes, opts), opts)


def _evacuable_with(cl, i, alloc, nodes, opts):
    """all_evacuable(nodes) with instance i placed as alloc (undone after)."""
    journal = moves.Journal(cl)
    place(cl, i, alloc, journal)
    try:
        return all_evacuable(cl, nodes, opts)
    finally:
        journal.restore()


RECENT_FAILURES = 8


def all_evacuable(cl, nodes, opts):
    """Can each of nodes be evacuated (can_evacuate)?  The nodes that
    failed lately are tried first: the candidates for one instance, and
    the next instances, mostly fail on the same few nodes, and each True
    costs a whole evacuation.  The order does not change the answer."""
    sums = EvacSums(cl)
    recent = cl.__dict__.setdefault("_evac_failures", [])
    wanted = set(nodes)
    first = [n for n in recent if n in wanted]
    for n in first + [n for n in nodes if n not in first]:
        if not can_evacuate(cl, n, opts, sums):
            if n in recent:
                recent.remove(n)
            recent.insert(0, n)
            del recent[RECENT_FAILURES:]
            return False
    return True


# -- evacuation ---------------------------------------------------------------

def group_score(cl, gdx):
    return metrics.comp_cv(cl, [n for n in range(cl.nnodes) if cl.node_group(n) == gdx])


def _estimate(cl, stats, members, i, move, ndx, rows):
    """The group score after a move, from incremental statistics."""
    counts = moves.exclusion_counts_after(cl, i, move, ndx)
    for node, row in rows:
        if node not in members:
            continue
        old_map = metrics.instance_map(cl, node)
        new_map = metrics.instance_map(cl, node, counts[node]) if node in counts else old_map
        stats = metrics.update_stats(stats, cl, cl.nf[node * NF:(node + 1) * NF], old_map, row,
                                     new_map, not cl.nf[node * NF + OFFLINE])
    if not stats:
        return 0.0
    # update_stats keeps a pair whose count fell to 0, as Ganeti's
    # incremental statistics do; the full score (evacOneNodeInner's) has
    # no such pair, and each would lower the estimate by one
    stats = list(stats)
    for c in metrics.MAP_COMPS:
        stats[c] = {pair: count for pair, count in stats[c].items() if count}
    return metrics.score_of_stats(stats)


def evac_one_node(cl, i, gdx, avail, opts, journal=None, values=None):
    """Evacuate.evacOneNodeOnly: the best new secondary (DRBD) or primary
    (shared storage); applies it and returns the move and target.
    values: the group's node_vals, kept by a caller that evacuates one
    instance after another (they follow the move applied)."""
    mirror = int(cl.inf[i * IF + I_MIRROR])
    if mirror == MIRROR_NONE:
        raise AllocError("Can't relocate/evacuate non-mirrored instances")
    move = C.MV_REPLACE_SECONDARY if mirror == MIRROR_INTERNAL else C.MV_FAILOVER_ANY
    best = None
    failures = ""
    scratch = moves.Scratch()
    # estimates first (Ganeti's incremental statistics); only the targets
    # within a hair of the best estimate are scored in full below
    group = [n for n in range(cl.nnodes) if cl.node_group(n) == gdx]
    if values is None:
        values = {n: metrics.node_vals(cl, n) for n in group}
    stats = metrics.stats_of_values(cl, group, values)
    members = set(group)
    found = []
    for ndx in avail:
        rc, iloc, rows = moves.move_rows(cl, i, move, ndx, opts.ignore_soft_errors, scratch)
        if rc != OK:
            if not found:
                failures += " Node %s failed: %s;" % (cl.noderecs[ndx].name,
                                                     FAIL_NAMES[rc - 1])
            continue
        found.append((_estimate(cl, stats, members, i, move, ndx, rows), ndx, rows, iloc))
    # the statistics follow online nodes only (as Ganeti's do): what a
    # move onto an offline node costs shows in its full score alone, so
    # those are all scored in full
    online = [entry for entry in found if not cl.nf[entry[1] * NF + OFFLINE]]
    if online and all(math.isfinite(est) for est, _, _, _ in online):
        low = min(est for est, _, _, _ in online)
        tol = CLOSE * max(1.0, abs(low))
        found = [entry for entry in found
                 if entry[0] <= low + tol or cl.nf[entry[1] * NF + OFFLINE]]
    for _, ndx, rows, iloc in found:
        # group_score once the move is made: only the rows and exclusion
        # counts of the nodes it changes differ
        score = _score_with_rows(cl, group, values, rows,
                                 moves.exclusion_counts_after(cl, i, move, ndx))
        if best is None or not best[0] < score:
            best = (score, ndx, rows, iloc)
    if best is None:
        raise AllocError("Can't find any good node: " + failures)
    _, ndx, rows, iloc = best
    if journal is not None:
        for n in cl.inst_nodes(i) + [ndx]:
            journal.node(n)
        journal.inst(i)
    moves.commit(cl, i, move, ndx, rows, iloc)
    for node, _ in rows:
        if node in values:
            values[node] = metrics.node_vals(cl, node)
    return [(move, ndx)]


def _apply_or_fail(cl, i, move, tdx, opts, what):
    rc, _ = moves.apply(cl, i, move, tdx, opts.ignore_soft_errors)
    if rc != OK:
        raise AllocError("%s: %s" % (what, FAIL_NAMES[rc - 1]) if what
                         else FAIL_NAMES[rc - 1])


def evac_drbd_all(cl, i, gdx, pairs, opts):
    """The ChangeAll evacuation of a DRBD instance: for every (primary,
    secondary) pair, r:p f r:s (after a failover off an offline primary);
    keeps the best group score."""
    best = None
    error = "no nodes available"
    for t_pdx, t_sdx in pairs:
        journal = moves.Journal(cl)
        steps = []
        try:
            for n in cl.inst_nodes(i) + [t_pdx, t_sdx]:
                journal.node(n)
            journal.inst(i)
            if cl.nf[cl.inst_pnode(i) * NF + OFFLINE]:
                for n in cl.inst_nodes(i):
                    journal.node(n)
                _apply_or_fail(cl, i, C.MV_FAILOVER, -1, opts, "Failing over to the secondary")
                steps.append((C.MV_FAILOVER, -1))
            for move, tdx, what in ((C.MV_REPLACE_SECONDARY, t_pdx,
                                     "Changing secondary to new primary"),
                                    (C.MV_FAILOVER, -1, "Failing over to new primary"),
                                    (C.MV_REPLACE_SECONDARY, t_sdx,
                                     "Changing secondary to final secondary")):
                for n in cl.inst_nodes(i) + [tdx]:
                    journal.node(n)
                _apply_or_fail(cl, i, move, tdx, opts, what)
                steps.append((move, tdx))
            score = group_score(cl, gdx)
            if best is None or not best[0] < score:
                best = (score, (t_pdx, t_sdx), steps)
        except AllocError as exc:
            if best is None:
                error = "Allocation failed: %s" % exc
        finally:
            journal.restore()
    if best is None:
        raise AllocError("Can't find any good nodes for relocation: " + error)
    for move, tdx in best[2]:
        _apply_or_fail(cl, i, move, tdx, opts, "")
    return best[2]


def node_evac_instance(cl, i, mode, gdx, avail, opts):
    """Evacuate.nodeEvacInstance: apply the evacuation, return the moves."""
    dt = int(cl.inf[i * IF + I_DT])
    if dt == C.DT_PLAIN:
        raise AllocError("Instances of type plain cannot be relocated")
    if dt == C.DT_FILE:
        raise AllocError("Instances of type file cannot be relocated")
    if dt != C.DT_DRBD:
        if mode == "secondary-only":
            raise AllocError("Instances with disk template '%s' can't execute change "
                             "secondary" % C.DISK_TEMPLATES[dt])
        return evac_one_node(cl, i, gdx, avail, opts)
    if mode == "primary-only":
        _apply_or_fail(cl, i, C.MV_FAILOVER, -1, opts, "")
        return [(C.MV_FAILOVER, -1)]
    if mode == "secondary-only":
        return evac_one_node(cl, i, gdx, avail, opts)
    pairs = [(p, s) for p in avail for s in avail if p != s]
    return evac_drbd_all(cl, i, gdx, pairs, opts)


def nodes_to_evacuate(cl, idxs, mode):
    out = set()
    for i in idxs:
        p, s = cl.inst_pnode(i), cl.inst_snode(i)
        drbd = cl.inf[i * IF + I_DT] == C.DT_DRBD
        if mode in ("primary-only", "all"):
            out.add(p)
        if mode in ("secondary-only", "all") and drbd:
            out.add(s)
    out.discard(NO_NODE)
    return out


def try_node_evac(cl, idxs, mode, opts):
    """Evacuate.tryNodeEvac: (moved, failed, jobs)."""
    excluded = nodes_to_evacuate(cl, idxs, mode) | set(
        n for n in range(cl.nnodes) if cl.nf[n * NF + OFFLINE])
    groups = {gdx: nodes for gdx, nodes, _ in split_cluster(cl)}
    initial = [(cl.inst_pnode(i), i) for i in idxs]
    moved, failed, jobs = [], [], []
    for pdx, i in initial:
        gdx = cl.node_group(pdx)
        avail = [n for n in groups[gdx] if n not in excluded and n != pdx]
        _evac_record(cl, i, moved, failed, jobs,
                     lambda: node_evac_instance(cl, i, mode, gdx, avail, opts))
    return moved, failed, jobs


def _evac_record(cl, i, moved, failed, jobs, action):
    try:
        steps = action()
    except AllocError as exc:
        failed.append((i, str(exc)))
        return
    gdx = cl.node_group(cl.inst_pnode(i))
    moved.append((i, gdx, cl.inst_nodes(i)))
    jobs.append([op for move, tdx in steps for op in opcodes(cl, i, move, tdx)])


def try_change_group(cl, idxs, gdxs, opts):
    """Cluster.tryChangeGroup: move instances to the best other group."""
    evac_groups = []
    for i in idxs:
        g = cl.node_group(cl.inst_pnode(i))
        if g not in evac_groups:
            evac_groups.append(g)
    targets = [g for g in (gdxs or list(range(len(cl.groups)))) if g not in evac_groups]
    offline = set(n for n in range(cl.nnodes) if cl.nf[n * NF + OFFLINE])
    groups = {gdx: nodes for gdx, nodes, _ in split_cluster(cl)}
    moved, failed, jobs = [], [], []
    for i in idxs:
        def action(i=i):
            count = 2 if cl.inf[i * IF + I_DT] == C.DT_DRBD else 1
            gdx, _, _ = find_best_group(cl, i, count, opts, targets)
            if gdx not in groups:
                raise AllocError("Can't find group with index %d" % gdx)
            avail = [n for n in groups[gdx] if n not in offline]
            return node_evac_instance(cl, i, "all", gdx, avail, Options())
        _evac_record(cl, i, moved, failed, jobs, action)
    return moved, failed, jobs


def opcodes(cl, i, move, tdx):
    """ClusterUtils.iMoveToJob: the opcodes (JSON) that perform a move."""
    name = cl.instrecs[i].name
    forth = bool(cl.inf[i * IF + I_FORTH])

    def failover(target=None):
        if forth:
            op = {"OP_ID": "OP_INSTANCE_FAILOVER", "instance_name": name,
                  "shutdown_timeout": 120, "ignore_consistency": False}
            if target is not None:
                op["target_node"] = cl.noderecs[target].name
            op.update({"ignore_ipolicy": False, "cleanup": False})
            return op
        op = {"OP_ID": "OP_INSTANCE_MIGRATE", "instance_name": name}
        if target is not None:
            op["target_node"] = cl.noderecs[target].name
        op.update({"allow_runtime_changes": False, "ignore_ipolicy": False, "cleanup": False,
                   "allow_failover": True, "ignore_hvversions": True})
        return op

    def replace(node):
        return {"OP_ID": "OP_INSTANCE_REPLACE_DISKS", "instance_name": name,
                "early_release": False, "ignore_ipolicy": False,
                "mode": "replace_new_secondary", "disks": [],
                "remote_node": cl.noderecs[node].name}
    if move == C.MV_FAILOVER:
        return [failover()]
    if move == C.MV_FAILOVER_ANY:
        return [failover(tdx)]
    if move == C.MV_REPLACE_PRIMARY:
        return [failover(), replace(tdx), failover()]
    if move == C.MV_REPLACE_SECONDARY:
        return [replace(tdx)]
    if move == C.MV_REPLACE_AND_FAILOVER:
        return [replace(tdx), failover()]
    return [failover(), replace(tdx)]


# -- dedicated clusters (exclusive storage): lost-allocations metric ---------

def is_dedicated(cl, group_name):
    """Dedicated.isDedicated: every node of the relevant groups has
    exclusive storage."""
    groups = set(g for g, grp in enumerate(cl.groups)
                 if (grp.name == group_name if group_name is not None else grp.allocable))
    return all(cl.nf[n * NF + C.EXCL] or cl.node_group(n) not in groups
               for n in range(cl.nnodes))


def _test_instances(cl, node):
    """Instances of each minimal spec of the node's policy, largest disk
    first (Dedicated.testInstances)."""
    from qganeti.htools.cluster import InstRec
    pol = cl.groups[cl.node_group(node)].ipolicy
    specs = sorted((lo for lo, _ in pol.minmax), key=lambda spec: -spec[2])
    rows = []
    for mem, cpu, dsk, _, _, su in specs:
        rec = InstRec("minimalspecinstance", mem, dsk, [], cpu, C.ST_RUNNING, [], False,
                      NO_NODE, NO_NODE, C.DT_PLAIN, su)
        rec.excl, rec.dsrd = [], set()
        rows.append(cl._inst_row(rec))
    return rows


def _allocation_vector(cl, tests, row):
    """How many more of each test instance fit on a node (row)."""
    counts = []
    empty = [0]
    for test in tests:
        count = 0
        cur = list(row)
        nxt = [0.0] * NF
        while True:
            rc = kernels.add_pri(cur, 0, 0, test, 0, 0.0, [0], 1, empty + [0], empty, 0,
                                 [0], [0], 1, False, nxt, 0)
            if rc != OK:
                break
            count += 1
            cur, nxt = nxt, cur
        counts.append(count)
    return counts


class Metric:
    """The lost-allocations metric: (lost allocations, free disk), compared
    as Ganeti compares the tuple, shown as Haskell shows it."""

    def __init__(self, lost, disk):
        self.key = (tuple(lost), disk)

    def __lt__(self, other):
        return self.key < other.key

    def __str__(self):
        return "([%s],%d)" % (",".join(str(x) for x in self.key[0]), self.key[1])


def _lost_metric(cl, tests, i, n, row_after):
    before = _allocation_vector(cl, tests, cl.nf[n * NF:(n + 1) * NF])
    after = _allocation_vector(cl, tests, row_after)
    return [b - a for b, a in zip(before, after)], int(row_after[C.F_DSK])


def dedicated_on_single(cl, i, p, opts):
    rec = cl.instrecs[i]
    rc = policy_check(cl, rec, p)
    if rc != OK:
        return rc
    prow = [0.0] * NF
    iloc = cl.inf[i * IF + I_LOC_SCORE]
    rc = kernels.add_pri(cl.nf, p * NF, p, cl.inf, i, iloc, cl.ptag, cl.ntags, cl.etag_ptr,
                         cl.etag_ids, 0, cl.loc, cl.dsrd, cl.words, opts.ignore_soft_errors,
                         prow, 0)
    if rc != OK:
        return rc
    lost, disk = _lost_metric(cl, _test_instances(cl, p), i, p, prow)
    return Alloc([p], [(p, prow)], Metric(lost, disk), iloc)


def dedicated_on_pair(cl, i, p, s, opts):
    rec = cl.instrecs[i]
    rc = policy_check(cl, rec, p)
    if rc != OK:
        return rc
    tests = _test_instances(cl, p)
    prow = [0.0] * NF
    srow = [0.0] * NF
    iloc = cl.inf[i * IF + I_LOC_SCORE]
    rc = kernels.add_pri(cl.nf, p * NF, p, cl.inf, i, iloc, cl.ptag, cl.ntags, cl.etag_ptr,
                         cl.etag_ids, 0, cl.loc, cl.dsrd, cl.words, opts.ignore_soft_errors,
                         prow, 0)
    if rc != OK:
        return rc
    lost_p, dsk_p = _lost_metric(cl, tests, i, p, prow)
    rc = kernels.add_sec(cl.nf, s * NF, s, cl.inf, i, p, cl.peers, cl.nnodes, False, False,
                         srow, 0)
    if rc != OK:
        return rc
    lost_s, dsk_s = _lost_metric(cl, tests, i, s, srow)
    return Alloc([p, s], [(p, prow), (s, srow)],
                 Metric([a + b for a, b in zip(lost_p, lost_s)], dsk_p + dsk_s), iloc)


def dedicated_find_allocation(cl, gdx, i, count, opts):
    nodes = [n for n in range(cl.nnodes) if cl.node_group(n) == gdx]
    if not has_networks(cl, gdx, i):
        raise AllocError("The group %s is not connected to a network required by instance "
                         "%s" % (cl.groups[gdx].name, cl.instrecs[i].name))
    kind, targets = gen_alloc_nodes(cl, nodes, count, opts)
    if kind == 2:
        if not targets:
            raise AllocError("Not enough online nodes")
        total = Solution()
        for p, secondaries in targets:
            sol = Solution()
            for s in secondaries:
                sol = _concat(sol, dedicated_on_pair(cl, i, p, s, opts))
            total = sum_allocs(total, sol)
    else:
        if not targets:
            raise AllocError("No online nodes")
        total = Solution()
        for p in targets:
            total = _concat(total, dedicated_on_single(cl, i, p, opts))
    if total.best is not None:
        total.best.node_names = [cl.noderecs[n].name for n in total.best.nodes]
    annotate(total, str)
    return total, group_description(cl, gdx, total)


def _concat(sol, result):
    """AllocationSolution.concatAllocs."""
    if not isinstance(result, Alloc):
        return Solution(sol.failures + collections.Counter([result]), sol.allocs, sol.best,
                        sol.log)
    return Solution(sol.failures, sol.allocs + 1, _better(sol.best, result), sol.log)


def dedicated_mg_allocation(cl, i, count, opts):
    sols, msgs = [], []
    for gdx, _, _ in split_cluster(cl):
        try:
            result, _ = dedicated_find_allocation(cl, gdx, i, count, opts)
        except AllocError as exc:
            result = str(exc)
        sols.append((gdx, result))
        msgs.extend(group_description(cl, gdx, result))
    good = [(gdx, sol) for gdx, sol in reversed(sols)
            if isinstance(sol, Solution) and sol.best is not None
            and cl.groups[gdx].allocable]
    good.sort(key=lambda gs: (cl.groups[gs[0]].policy, gs[1].best.score.key))
    if not good:
        raise AllocError(", ".join(msgs))
    gdx, sol = good[0]
    sol.log = ["Selected group: " + cl.groups[gdx].name] + msgs
    return sol


__all__ = ["AllocError", "Options", "try_mg_alloc", "try_group_alloc", "try_node_evac",
           "try_change_group", "add_instance", "place", "MIRROR_EXTERNAL", "I_LOCAL",
           "I_SEC_MEM", "I_MEMORY"]
