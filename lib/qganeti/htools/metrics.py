"""The cluster score, computed exactly as Ganeti 3.0.2 computes it.

Same operations in the same order (left folds over nodes in index order,
a two-pass variance, the weighted sum in component order), so scores are
bit-identical to Ganeti's and print identically with %.8f.  The fast
incremental estimates used to search for moves live in htools.kernels;
every score that is printed or decides a step comes from here.
"""

import math

from qganeti.htools import hsfmt, kernels
from qganeti.htools.consts import (
    COMPONENTS, KINDS, MAP, NCOMP, NF, OFFLINE, STD, SUM, SUM_OFFLINE, WEIGHTS)


def node_vals(cl, n, rows=None):
    buf = [0.0] * NCOMP
    if rows and n in rows:
        kernels.node_values(rows[n], 0, buf, 0)
    else:
        kernels.node_values(cl.nf, n * NF, buf, 0)
    return buf


def instance_map(cl, n, rtag=None):
    """Node.instanceMap: (location tag, exclusion tag) -> primaries.
    rtag: this node's exclusion tag counts, if not the table's."""
    result = {}
    locs = cl.node_loc[n]
    if not locs:
        return result
    ntags = cl.ntags
    for tag_id, tag in enumerate(cl.tag_names):
        count = rtag[tag_id] if rtag is not None else cl.rtag[n * ntags + tag_id]
        if count:
            for location in locs:
                result[(location, tag)] = count
    return result


def cluster_stats(cl, nodes, rows=None, rtags=None):
    """Metrics.compClusterStatistics over the given nodes: per component
    (count, sum, variance), a sum, or the merged pair multiset.  rows and
    rtags override some nodes' table rows and exclusion tag counts."""
    return stats_of_values(cl, nodes, {n: node_vals(cl, n, rows) for n in nodes}, rtags)


def stats_of_values(cl, nodes, values, rtags=None):
    """cluster_stats from each node's component values (node_vals), for
    callers that score many variants of one cluster."""
    if not nodes:
        return []       # Ganeti has no statistics (and a score of 0) then
    online = [n for n in nodes if not cl.nf[n * NF + OFFLINE]]
    offline = [n for n in nodes if cl.nf[n * NF + OFFLINE]]
    onvals = [values[n] for n in online]
    offvals = [values[n] for n in offline]
    stats = []
    for c, kind in enumerate(KINDS):
        if kind == STD:
            total = 0.0
            for vals in onvals:
                total += vals[c]
            count = float(len(onvals))
            mean = kernels.fdiv(total, count)
            nvar = 0.0
            for vals in onvals:
                d = vals[c] - mean
                nvar += d * d
            stats.append((count, total, kernels.fdiv(nvar, count)))
        elif kind == MAP:
            merged = {}
            for n in online:
                rtag = rtags.get(n) if rtags else None
                for key, count in instance_map(cl, n, rtag).items():
                    merged[key] = merged.get(key, 0) + count
            stats.append(merged)
        else:
            total = 0.0
            for vals in (offvals if kind == SUM_OFFLINE else onvals):
                total += vals[c]
            stats.append(total)
    return stats


def stat_value(c, stat):
    kind = KINDS[c]
    if kind == STD:
        var = stat[2]
        return math.sqrt(var) if var == var else var
    if kind == MAP:
        return float(sum(stat.values()) - len(stat))
    return stat


def score_of_stats(stats):
    """compCVfromStats: the weighted sum, in component order."""
    total = 0.0
    for c, stat in enumerate(stats):
        # stat_value, inline: allocation scores a million of these
        kind = KINDS[c]
        if kind == STD:
            var = stat[2]
            value = math.sqrt(var) if var == var else var
        elif kind == MAP:
            value = float(sum(stat.values()) - len(stat))
        else:
            value = stat
        total += value * WEIGHTS[c]
    return total


def comp_cv(cl, nodes, rows=None, rtags=None):
    return score_of_stats(cluster_stats(cl, nodes, rows, rtags))


_STD_COMPS = [c for c, kind in enumerate(KINDS) if kind == STD]
_SUM_COMPS = [c for c, kind in enumerate(KINDS) if kind == SUM]
MAP_COMPS = [c for c, kind in enumerate(KINDS) if kind == MAP]


def update_stats(stats, cl, old_row, old_map, new_row, new_map, online, old_vals=None):
    """Metrics.updateClusterStatistics: replace one node's contribution
    (only when that node is online; offline components stay).  old_vals:
    old_row's node_vals, where the caller has them."""
    if not online or not stats:
        return stats
    if old_vals is None:
        old_vals = [0.0] * NCOMP
        kernels.node_values(old_row, 0, old_vals, 0)
    new_vals = [0.0] * NCOMP
    kernels.node_values(new_row, 0, new_vals, 0)
    out = list(stats)
    for c in _STD_COMPS:
        x, x2 = old_vals[c], new_vals[c]
        count, total, var = stats[c]
        # an unchanged value leaves the statistic exactly as it is
        if x == x2 and count > 0 and math.isfinite(total):
            continue
        total2, var2 = kernels.std_update(count, total, var, x, x2)
        out[c] = (count, total2, var2)
    for c in _SUM_COMPS:
        out[c] = stats[c] + new_vals[c] - old_vals[c]
    for c in MAP_COMPS:
        if old_map is new_map:
            continue
        merged = dict(stats[c])
        for key, count in old_map.items():
            merged[key] = merged.get(key, 0) - count
        for key, count in new_map.items():
            merged[key] = merged.get(key, 0) + count
        out[c] = merged
    return out


def optimal_score(cl, nodes):
    """Metrics.optimalCVScore: the N+1 reservation floor of the score."""
    if len(nodes) <= 1:
        return 0.0
    mems = [cl.nf[n * NF] for n in nodes]
    total = 0.0
    for mem in mems:
        total += mem
    one_less = total - max(mems)
    if not one_less > 0:
        return 0.0
    drbd = 0
    for n in nodes:
        drbd += sum(value for _, value in cl.peerlist[n])
    drbd = float(drbd)
    return 0.25 * (drbd / one_less - drbd / total)


def stats_table(prefix, stats):
    """Metrics.printStats: the Field / Value / Weight table."""
    rows = [[name, hsfmt.fixed(stat_value(c, stats[c]), 8), "x" + hsfmt.fixed(weight, 2)]
            for c, (name, weight, _) in enumerate(COMPONENTS[:len(stats)])]
    return hsfmt.print_table(prefix, ["Field", "Value", "Weight"], rows,
                             [False, True, True])
