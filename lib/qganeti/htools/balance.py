"""hbal's search: repeated balancing steps (Cluster.tryBalance).

A step considers every movable instance and every move Ganeti would try,
in Ganeti's order, and keeps the first candidate with the lowest score.
Candidates are screened with incremental statistics (kernels.scan_moves,
compiled by numba on big problems); the few within a hair of the best
are then scored exactly as Ganeti does, so the chosen move, its printed
score and the tie-breaking are Ganeti's.
"""

import math
import time

from qganeti.htools import jit, kernels, metrics, moves
from qganeti.htools.consts import (
    C_LOCEXCL, I_AUTO_BAL, I_MOVABLE, IF, KINDS, MV_FAILOVER, MV_FAILOVER_ANY,
    MV_FAILOVER_AND_REPLACE, MV_REPLACE_AND_FAILOVER, MV_REPLACE_PRIMARY, MV_REPLACE_SECONDARY,
    NCOMP, NF, OFFLINE, OK, SUM, SUM_OFFLINE, WEIGHTS)

# candidates whose estimate is this close (relative) to the best estimate
# are re-scored exactly; estimates are good to ~1e-13
TIE_TOLERANCE = 1e-9
BUFFER = 4096
# instances x targets above which the compiled kernels repay numba's start
# at once; below it the search starts in plain Python and switches once it
# has spent about what numba's start costs (~0.6 s warm), so a small problem
# never imports numba and a long one pays at most twice the better choice
COMPILE_THRESHOLD = 5000
SWITCH_AFTER = 0.5
# the kernels built ahead of time (htools.jit.aot_built) load at once and
# beat plain Python from the smallest cluster; above this many instances x
# targets numba's parallel scan repays its start-up (2 cores: 40 nodes with
# 800 instances 1.05 s against 1.46 s, 20 with 200 0.65 s against 0.45 s)
# once the built kernels have searched for PARALLEL_SWITCH_AFTER CPU seconds
# (80 nodes with 1,600 instances: 2 moves 0.18 s built, 0.53 s with numba;
# the whole solution 6.7 s built, 2.9 s with numba)
PARALLEL_THRESHOLD = 16000
PARALLEL_SWITCH_AFTER = 0.5
# per instance, how many of its best targets are remembered between steps
TOPK = 16
INF = float("inf")


class Options:
    """AlgorithmOptions: what hbal's command line sets for the search."""

    def __init__(self, ignore_soft_errors=False, disk_moves=True, instance_moves=True,
                 restricted_migration=False, evac_mode=False, min_gain=0.01,
                 min_gain_limit=0.1):
        self.ignore_soft_errors = ignore_soft_errors
        self.disk_moves = disk_moves
        self.instance_moves = instance_moves
        self.restricted_migration = restricted_migration
        self.evac_mode = evac_mode
        self.min_gain = min_gain
        self.min_gain_limit = min_gain_limit


class Balancer:
    """Balancing of one node group of a Cluster, step by step."""

    def __init__(self, cl, nodes, insts, opts, accelerate=None, parallel=None):
        self.cl = cl
        self.nodes = list(nodes)
        self.insts = list(insts)
        self.opts = opts
        self.score = metrics.comp_cv(cl, self.nodes)
        self.placements = []
        self.scratch = moves.Scratch()
        size = len(self.insts) * max(1, len(self.nodes))
        self.prev = None        # statistics of the previous step
        self.touched = set()    # nodes the last move changed
        self.arr = Arrays(cl)
        self._static_scales = None
        self._has_map = True
        self.rescanned = 0
        self.jit = None
        self.adaptive = accelerate is None
        self.spent = 0.0        # CPU seconds of searching before the kernels changed
        self.parallel = size > PARALLEL_THRESHOLD if parallel is None else parallel
        if accelerate is None:
            accelerate = size > COMPILE_THRESHOLD or (jit.aot_built() and not self.parallel)
        if accelerate:
            # an adaptive search starts on the built kernels; it may move on
            self.jit = jit.Compiled(cl, self.parallel and not self.adaptive)
            self.arr.to_numpy(self.jit.np)

    def candidates(self):
        cl = self.cl
        bad = set(n for n in self.nodes if cl.nf[n * NF + OFFLINE])
        out = []
        for i in self.insts:
            if self.opts.evac_mode and not any(n in bad for n in cl.inst_nodes(i)):
                continue
            if cl.inf[i * IF + I_MOVABLE] and cl.inf[i * IF + I_AUTO_BAL]:
                out.append(i)
        return out

    def _scales(self, online):
        """Per component, the node factor by which an instance's size can
        change a node's value (reciprocal sizes of the smallest nodes)."""
        cl = self.cl
        if self._static_scales is None:
            def most(field, mult=None):
                out = 0.0
                for n in online:
                    den = cl.nf[n * NF + field] * (cl.nf[n * NF + mult] if mult else 1.0)
                    if den > 0:
                        out = max(out, 1.0 / den)
                return out
            from qganeti.htools import consts as K
            self._static_scales = [most(K.T_MEM), most(K.T_DSK), most(K.T_SPN),
                                   most(K.T_CPU, K.CPU_SPEED), most(K.HI_SPN)]
        from qganeti.htools.consts import P_REM
        return self._static_scales + [max([cl.nf[n * NF + P_REM] for n in online] or [0.0])]

    def search(self):
        """The best move of this step: (instance, move, target, exact
        score), or None when no candidate beats the current score."""
        if self._kernels_settled():
            return self._search()
        start = time.process_time()
        try:
            return self._search()
        finally:
            self.spent += time.process_time() - start
            if self.spent > (SWITCH_AFTER if self.jit is None else PARALLEL_SWITCH_AFTER):
                self.jit = jit.Compiled(self.cl, self.parallel)
                self.arr.to_numpy(self.jit.np)

    def _kernels_settled(self):
        """True once the search runs on the kernels it keeps: chosen by the
        caller, or the last an adaptive search moves to (numba's parallel
        ones for a big problem, else the first compiled ones)."""
        if not self.adaptive:
            return True
        if self.jit is None:
            return False
        return self.jit.parallel or not self.parallel

    def _search(self):
        cl = self.cl
        arr = self.arr
        kern = self.jit.kern if self.jit else kernels
        nf, inf = (self.jit.nf, self.jit.inf) if self.jit else (cl.nf, cl.inf)
        if arr.cands is None or self.opts.evac_mode:
            arr.cands = arr.ints(self.candidates())
        cands = arr.cands
        if not len(cands):
            return None
        if arr.targets is None:
            arr.targets = arr.ints([n for n in self.nodes if not cl.nf[n * NF + OFFLINE]])
            arr.nodes = arr.ints(self.nodes)
            tnode = [0] * max(1, cl.nnodes)
            for n in arr.targets:
                tnode[n] = 1
            arr.tnode = arr.ints(tnode)
        online = kern.base_values(nf, arr.nodes, arr.vals, arr.kinds, arr.mean, arr.c1,
                                  arr.c2, arr.cnt, arr.sums, arr.devmax, arr.var, arr.total)
        has_map = self._has_map = bool(cl.etag_ids) and any(cl.loc)
        if has_map:
            stats = metrics.cluster_stats(cl, self.nodes)
            arr.sums[C_LOCEXCL] = metrics.stat_value(C_LOCEXCL, stats[C_LOCEXCL])
        gcount = [0] * (max(1, len(cl.loc_bit)) * cl.ntags)
        if cl.loc_bit and cl.ntags:
            for n in self.nodes:
                if cl.nf[n * NF + OFFLINE]:
                    continue
                for location in cl.node_loc[n]:
                    bit = cl.loc_bit[location]
                    for tag in range(cl.ntags):
                        gcount[bit * cl.ntags + tag] += cl.rtag[n * cl.ntags + tag]
        opts = self.opts
        flags = [int(opts.ignore_soft_errors), int(opts.disk_moves),
                 int(opts.instance_moves), int(opts.restricted_migration),
                 int(any(cl.loc))]
        tol = TIE_TOLERANCE * max(1.0, abs(self.score)) if math.isfinite(self.score) \
            else TIE_TOLERANCE
        # instances whose nodes did not change since they were scanned need
        # only their moves to the changed nodes looked at, unless what is
        # known of their other moves says they could still win
        prune = self.prev is not None and not has_map and online > 0 and \
            math.isfinite(self.score)
        touched = arr.touched
        for n in self.touched:
            touched[n] = 1
        kern.plan_modes(inf, cands, touched, arr.known, prune, arr.modes)
        tmask = arr.ints([touched[n] for n in arr.targets]) if not self.jit \
            else touched[arr.targets]
        for n in self.touched:
            touched[n] = 0
        if prune:
            pvar, ptotal, psums, pdev, count = self.prev
            shift = 0.0
            for c, kind in enumerate(KINDS):
                if kind in (SUM, SUM_OFFLINE):
                    shift += WEIGHTS[c] * (arr.sums[c] - psums[c])
            on = [n for n in self.nodes if not cl.nf[n * NF + OFFLINE]]
            kern.drift_bounds(inf, cands, arr.modes, arr.off, pvar, ptotal, arr.var,
                              arr.total, pdev, count, arr.floats(self._scales(on)), shift,
                              arr.kinds, arr.weights, tol)
        args = (cands, arr.targets, arr.vals, arr.mean, arr.c1, arr.c2, arr.cnt, arr.sums,
                arr.kinds, arr.weights, arr.ints(flags), tol, arr.ints(gcount))
        best_est, entries = self._scan(args, arr.modes, tmask, INF)
        self.rescanned = 0
        if prune and kern.select_again(cands, arr.modes, TOPK, arr.topt, arr.tops, arr.rest,
                                       arr.fo, arr.off, best_est + tol, arr.modes2):
            # instances that might still win: first their best-known targets
            best2, more = self._scan(args, arr.modes2, tmask, best_est)
            best_est = min(best_est, best2)
            entries += more
            self.rescanned = kern.select_full(cands, arr.modes2, arr.rest, arr.off,
                                              best_est + tol, arr.modes)
            if self.rescanned:
                # and everything of those whose other targets might too
                best2, more = self._scan(args, arr.modes, tmask, best_est)
                best_est = min(best_est, best2)
                entries += more
        self.prev = (arr.copy(arr.var), arr.copy(arr.total), arr.copy(arr.sums),
                     arr.copy(arr.devmax), float(online) or 1.0)
        rank = {MV_FAILOVER: 0, MV_FAILOVER_ANY: 0, MV_REPLACE_SECONDARY: 0,
                MV_REPLACE_AND_FAILOVER: 1, MV_REPLACE_PRIMARY: 2, MV_FAILOVER_AND_REPLACE: 3}
        order = sorted(set((ci, tpos, rank[move], move, est) for ci, move, tpos, est in entries
                           if est <= best_est + tol))
        chosen = None
        targets = arr.targets
        for ci, tpos, _, move, _ in order:
            i = int(cands[ci])
            tdx = int(targets[tpos]) if tpos >= 0 else -1
            exact = self.exact_score(i, move, tdx)
            if exact is None:
                continue
            if chosen is None or exact < chosen[3]:
                chosen = (i, move, tdx, exact)
        if chosen is None or not chosen[3] < self.score:
            return None
        return chosen

    def _scan(self, args, modes, tmask, start):
        buffer = BUFFER
        while True:
            if self.jit:
                result = self.jit.scan(self.cl, self.arr, *args, buffer, modes, tmask, start)
            else:
                result = _scan_python(self.cl, self.arr, *args, buffer, modes, tmask, start)
            overflow, best_est, entries = result
            if not overflow:
                return best_est, entries
            buffer *= 16    # that many equally good moves: look at them all

    def exact_score(self, i, move, tdx):
        """The score after the move, exactly as Ganeti computes it (None
        when the move fails).  Within a search only: compiled, it starts
        from the node values of the step's base_values."""
        if self.jit and not self._has_map:
            return self.jit.move_cv(self.cl, self.arr, i, move, tdx,
                                    self.opts.ignore_soft_errors)
        rc, _, rows = moves.move_rows(self.cl, i, move, tdx, self.opts.ignore_soft_errors,
                                      self.scratch)
        if rc != OK:
            return None
        return metrics.comp_cv(self.cl, self.nodes, dict(rows),
                               moves.exclusion_counts_after(self.cl, i, move, tdx))

    def step(self):
        """One tryBalance: apply and return the placement (instance, new
        primary, new secondary, move, target, score), or None."""
        found = self.search()
        return None if found is None else self.step_with(found)

    def step_with(self, found):
        """Apply a move `search` found, if it gains enough."""
        i, move, tdx, new_score = found
        old = self.score
        opts = self.opts
        if not (new_score < old and (old > opts.min_gain_limit
                                     or old - new_score >= opts.min_gain)):
            return None
        touched = set(self.cl.inst_nodes(i)) | {tdx}
        rc, nodes = moves.apply(self.cl, i, move, tdx, opts.ignore_soft_errors, self.scratch)
        assert rc == OK, "a chosen move failed to apply"
        self.touched = touched | set(nodes)
        self.touched.discard(-1)
        if self.jit:
            self.jit.sync(self.cl, self.touched, i)
        self.score = new_score
        placement = (i, nodes[0], nodes[1], move, tdx, new_score)
        self.placements.append(placement)
        return placement


def _scan_python(cl, arr, cands, targets, vals, mean, c1, c2, cnt, sums, kinds, weights,
                 flags, tol, gcount, buffer, modes, tmask, start):
    from qganeti.htools.kernels import SCAN_ROWS
    buf_i = [0] * buffer
    buf_m = [0] * buffer
    buf_t = [0] * buffer
    buf_s = [0.0] * buffer
    count = [0]
    over = [0]
    chunk_best = [0.0]
    kernels.scan_moves(
        1, cl.nf, cl.inf, cands, targets, vals, mean, c1, c2, cnt, sums, kinds, weights,
        cl.peers, cl.nnodes, cl.ptag, cl.ntags, cl.etag_ptr, cl.etag_ids, cl.loc, cl.dsrd,
        cl.words, cl.mig, cl.rmig, gcount, flags, tol, [start], buf_i, buf_m, buf_t, buf_s,
        count, over, [0.0] * (SCAN_ROWS * NF), [0.0] * (SCAN_ROWS * NCOMP),
        [0] * len(gcount), [-1, -1, -1], [0, 0, 0], chunk_best, modes, tmask, TOPK,
        arr.topt, arr.tops, arr.rest, arr.fo, arr.off, arr.known, [0] * TOPK, [0.0],
        [t for t in range(len(tmask)) if tmask[t]], arr.tnode,
        [0.0] * (kernels.B_ARRAYS * 4 * NCOMP))
    entries = [(buf_i[k], buf_m[k], buf_t[k], buf_s[k]) for k in range(count[0])]
    return over[0], chunk_best[0], entries


class Arrays:
    """What a Balancer's searches keep, as lists (plain Python kernels) or
    numpy arrays (compiled ones): the candidates and targets, per-step
    statistics, per-instance modes and what is known of each instance's
    moves (see kernels.scan_chunk)."""

    def __init__(self, cl):
        ninsts, nnodes = max(1, cl.ninsts), max(1, cl.nnodes)
        self.np = None
        self.cands = self.targets = self.nodes = self.tnode = None
        self.kinds = list(KINDS)
        self.weights = list(WEIGHTS)
        self.vals = [0.0] * (nnodes * NCOMP)
        for name in ("mean", "c1", "c2", "cnt", "sums", "devmax", "var", "total"):
            setattr(self, name, [0.0] * NCOMP)
        self.touched = [0] * nnodes
        self.known = [0] * ninsts
        self.topt = [-1] * (ninsts * TOPK)
        self.tops = [INF] * (ninsts * TOPK)
        self.rest = [INF] * ninsts
        self.fo = [INF] * ninsts
        self.off = [0.0] * ninsts
        self.modes = [0] * ninsts
        self.modes2 = [0] * ninsts

    INTS = ("kinds", "touched", "known", "topt", "modes", "modes2", "cands", "targets",
            "nodes", "tnode")

    def to_numpy(self, np):
        self.np = np
        for name, value in list(vars(self).items()):
            if isinstance(value, list):
                setattr(self, name, np.array(value, dtype=np.int64 if name in self.INTS
                                             else np.float64))

    def ints(self, values):
        return self.np.array(values, dtype=self.np.int64) if self.np else list(values)

    def floats(self, values):
        return self.np.array(values, dtype=self.np.float64) if self.np else list(values)

    def copy(self, values):
        return values.copy() if self.np else list(values)
