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

from qganeti.htools import kernels, metrics, moves
from qganeti.htools.consts import (
    DT_DRBD, I_AUTO_BAL, I_DT, I_MOVABLE, I_PNODE, I_SNODE, IF, KINDS, MAP, MV_FAILOVER,
    MV_FAILOVER_ANY, MV_FAILOVER_AND_REPLACE, MV_REPLACE_AND_FAILOVER, MV_REPLACE_PRIMARY,
    MV_REPLACE_SECONDARY, NCOMP, NF, OFFLINE, OK, STD, SUM, SUM_OFFLINE, WEIGHTS)

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

    def __init__(self, cl, nodes, insts, opts, accelerate=None):
        self.cl = cl
        self.nodes = list(nodes)
        self.insts = list(insts)
        self.opts = opts
        self.score = metrics.comp_cv(cl, self.nodes)
        self.placements = []
        self.scratch = moves.Scratch()
        size = len(self.insts) * max(1, len(self.nodes))
        self.prev = None        # statistics of the previous step
        self.lbound = {}        # instance -> lower bound of its moves' scores
        self.touched = set()    # nodes the last move changed
        self.rescanned = 0
        self.jit = None
        self.adaptive = accelerate is None
        self.spent = 0.0        # CPU seconds of plain-Python searching
        if accelerate is None:
            accelerate = size > COMPILE_THRESHOLD
        if accelerate:
            from qganeti.htools import jit
            self.jit = jit.Compiled(cl)

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

    def _base(self):
        """Per-node values, the centred sums the estimates start from, and
        the exact statistics."""
        cl = self.cl
        vals = [0.0] * (cl.nnodes * NCOMP)
        online = []
        for n in self.nodes:
            kernels.node_values(cl.nf, n * NF, vals, n * NCOMP)
            if not cl.nf[n * NF + OFFLINE]:
                online.append(n)
        mean = [0.0] * NCOMP
        c1 = [0.0] * NCOMP
        c2 = [0.0] * NCOMP
        cnt = [float(len(online)) or 1.0] * NCOMP
        sums = [0.0] * NCOMP
        devmax = [0.0] * NCOMP
        stats = metrics.cluster_stats(cl, self.nodes)
        for c, kind in enumerate(KINDS):
            if kind == STD:
                mean[c] = stats[c][1] / cnt[c] if online else 0.0
                for n in online:
                    d = vals[n * NCOMP + c] - mean[c]
                    c1[c] += d
                    c2[c] += d * d
                    if abs(d) > devmax[c]:
                        devmax[c] = abs(d)
            elif kind == MAP:
                sums[c] = metrics.stat_value(c, stats[c])
            else:
                sums[c] = stats[c]
        gcount = [0] * (max(1, len(cl.loc_bit)) * cl.ntags)
        for n in online:
            for location in cl.node_loc[n]:
                bit = cl.loc_bit[location]
                for tag in range(cl.ntags):
                    gcount[bit * cl.ntags + tag] += cl.rtag[n * cl.ntags + tag]
        return vals, mean, c1, c2, cnt, sums, gcount, stats, devmax, online

    def _scales(self, online):
        """Per component, the node factor by which an instance's size can
        change a node's value (reciprocal sizes of the smallest nodes)."""
        cl = self.cl

        def most(field, mult=None):
            out = 0.0
            for n in online:
                den = cl.nf[n * NF + field] * (cl.nf[n * NF + mult] if mult else 1.0)
                if den > 0:
                    out = max(out, 1.0 / den)
            return out
        from qganeti.htools import consts as K
        return [most(K.T_MEM), most(K.T_DSK), most(K.T_SPN), most(K.T_CPU, K.CPU_SPEED),
                most(K.HI_SPN), max([cl.nf[n * NF + K.P_REM] for n in online] or [0.0])]

    def search(self):
        """The best move of this step: (instance, move, target, exact
        score), or None when no candidate beats the current score."""
        if self.jit is not None or not self.adaptive:
            return self._search()
        start = time.process_time()
        try:
            return self._search()
        finally:
            self.spent += time.process_time() - start
            if self.spent > SWITCH_AFTER:
                from qganeti.htools import jit
                self.jit = jit.Compiled(self.cl)

    def _search(self):
        cl = self.cl
        cands = self.candidates()
        targets = [n for n in self.nodes if not cl.nf[n * NF + OFFLINE]]
        if not cands:
            return None
        vals, mean, c1, c2, cnt, sums, gcount, stats, devmax, online = self._base()
        opts = self.opts
        flags = [int(opts.ignore_soft_errors), int(opts.disk_moves),
                 int(opts.instance_moves), int(opts.restricted_migration),
                 int(any(cl.loc))]
        tol = TIE_TOLERANCE * max(1.0, abs(self.score)) if math.isfinite(self.score) \
            else TIE_TOLERANCE
        # instances whose nodes did not change since they were scanned need
        # only their moves to the changed nodes looked at, unless the bound
        # on their other moves says they could still win
        prune = self.prev is not None and not (cl.etag_ids and any(cl.loc)) and \
            online and math.isfinite(self.score)
        modes = []
        lbound = []
        inf, touched, known = cl.inf, self.touched, self.lbound
        for i in cands:
            # cl.inst_nodes(i) & touched, spelt out: this runs for every
            # candidate at every step
            off = i * IF
            moved = int(inf[off + I_PNODE]) in touched or (
                inf[off + I_DT] == DT_DRBD and int(inf[off + I_SNODE]) in touched)
            if prune and i in known and not moved:
                modes.append(1)
                lbound.append(known[i])
            else:
                modes.append(2)
                lbound.append(0.0)
        if prune:
            pstats, pdev, count = self.prev
            shift = 0.0
            for c, kind in enumerate(KINDS):
                if kind in (SUM, SUM_OFFLINE):
                    shift += WEIGHTS[c] * (stats[c] - pstats[c])
            std = [c for c, kind in enumerate(KINDS) if kind == STD]

            def per_comp(st, k):
                return [st[c][k] if c in std else 0.0 for c in range(NCOMP)]
            drift = self.jit.kern.drift_bounds if self.jit else kernels.drift_bounds
            arr, iarr = self._array, self._iarray
            lbound = arr(lbound)
            drift(self.jit.inf if self.jit else cl.inf, iarr(cands), iarr(modes), lbound,
                  arr(per_comp(pstats, 2)), arr(per_comp(pstats, 1)), arr(per_comp(stats, 2)),
                  arr(per_comp(stats, 1)), arr(pdev), count, arr(self._scales(online)), shift,
                  iarr(KINDS), arr(WEIGHTS), tol)
            for ci, i in enumerate(cands):
                if modes[ci] == 1:
                    self.lbound[i] = float(lbound[ci])
        tmask = [1 if n in self.touched else 0 for n in targets]
        args = (cands, targets, vals, mean, c1, c2, cnt, sums, KINDS, WEIGHTS, flags, tol,
                gcount)
        best_est, entries, inst_best = self._scan(args, modes, tmask, float("inf"))
        again = []
        for ci, i in enumerate(cands):
            if modes[ci] == 2:
                self.lbound[i] = inst_best[ci]
            else:
                self.lbound[i] = min(self.lbound[i], inst_best[ci])
                if self.lbound[i] <= best_est + tol:
                    again.append(ci)
        if again:
            modes = [0] * len(cands)
            for ci in again:
                modes[ci] = 2
            best2, more, inst_best = self._scan(args, modes, tmask, best_est)
            best_est = min(best_est, best2)
            entries += more
            for ci in again:
                self.lbound[cands[ci]] = inst_best[ci]
        self.prev = (stats, devmax, float(len(online)) or 1.0)
        self.rescanned = len(again)
        rank = {MV_FAILOVER: 0, MV_FAILOVER_ANY: 0, MV_REPLACE_SECONDARY: 0,
                MV_REPLACE_AND_FAILOVER: 1, MV_REPLACE_PRIMARY: 2, MV_FAILOVER_AND_REPLACE: 3}
        order = sorted(set((ci, tpos, rank[move], move, est) for ci, move, tpos, est in entries
                           if est <= best_est + tol))
        chosen = None
        for ci, tpos, _, move, _ in order:
            i = cands[ci]
            tdx = targets[tpos] if tpos >= 0 else -1
            exact = self.exact_score(i, move, tdx)
            if exact is None:
                continue
            if chosen is None or exact < chosen[3]:
                chosen = (i, move, tdx, exact)
        if chosen is None or not chosen[3] < self.score:
            return None
        return chosen

    def _array(self, values):
        return self.jit.np.array(values, dtype=self.jit.np.float64) if self.jit else values

    def _iarray(self, values):
        return self.jit.np.array(values, dtype=self.jit.np.int64) if self.jit else values

    def _scan(self, args, modes, tmask, start):
        buffer = BUFFER
        while True:
            if self.jit:
                result = self.jit.scan(self.cl, *args, buffer, modes, tmask, start)
            else:
                result = _scan_python(self.cl, *args, buffer, modes, tmask, start)
            overflow, best_est, entries, inst_best = result
            if not overflow:
                return best_est, entries, inst_best
            buffer *= 16    # that many equally good moves: look at them all

    def exact_score(self, i, move, tdx):
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


def _scan_python(cl, cands, targets, vals, mean, c1, c2, cnt, sums, kinds, weights, flags,
                 tol, gcount, buffer, modes, tmask, start):
    from qganeti.htools.kernels import SCAN_ROWS
    buf_i = [0] * buffer
    buf_m = [0] * buffer
    buf_t = [0] * buffer
    buf_s = [0.0] * buffer
    count = [0]
    over = [0]
    chunk_best = [0.0]
    inst_best = [0.0] * len(cands)
    kernels.scan_moves(
        1, cl.nf, cl.inf, cands, targets, vals, mean, c1, c2, cnt, sums, kinds, weights,
        cl.peers, cl.nnodes, cl.ptag, cl.ntags, cl.etag_ptr, cl.etag_ids, cl.loc, cl.dsrd,
        cl.words, cl.mig, cl.rmig, gcount, flags, tol, [start], buf_i, buf_m, buf_t, buf_s,
        count, over, [0.0] * (SCAN_ROWS * NF), [0.0] * (SCAN_ROWS * NCOMP),
        [0] * len(gcount), [-1, -1, -1], [0, 0, 0], chunk_best, modes, tmask, inst_best)
    entries = [(buf_i[k], buf_m[k], buf_t[k], buf_s[k]) for k in range(count[0])]
    return over[0], chunk_best[0], entries, inst_best
