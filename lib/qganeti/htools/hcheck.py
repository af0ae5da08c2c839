"""hcheck: cluster health per node group, before and after a simulated
rebalance (Ganeti 3.0.2's Program/Hcheck.hs).  Exit 1 when the cluster
needs rebalancing (unless --no-simulation)."""

import sys

from qganeti.htools import alloc, hsfmt, metrics, options
from qganeti.htools.consts import NF, OFFLINE, CONFLICTS
from qganeti.htools.hbal import Fatal, err, load_cluster, out, set_node_status
from qganeti.htools.hinfo import bad_items

OPTIONS = ["data", "no_disk_moves", "dynu", "ignore_dynu", "evac", "exclude", "ex_tags",
           "ialloc", "no_inst_moves", "luxi", "machine_readable", "max_cpu", "max_length",
           "min_disk", "min_gain", "min_gain_limit", "min_score", "ignore_soft",
           "no_simulation", "offline", "quiet", "rapi", "select", "no_capacity", "verbose"]

COMMON = [("N1_FAIL", "Nodes not N+1 happy"),
          ("CONFLICT_TAGS", "Nodes with conflicting instances"),
          ("OFFLINE_PRI", "Instances having the primary node offline"),
          ("OFFLINE_SEC", "Instances having a secondary node offline"),
          ("GN1_FAIL", "Nodes not directly evacuateable")]


def common(capacity):
    return COMMON if capacity else COMMON[:4]


def group_stats(cl, nodes, capacity):
    offline = [n for n in nodes if cl.nf[n * NF + OFFLINE]]
    stats = [len(bad_items(cl, nodes)[0]),
             sum(1 for n in nodes if cl.nf[n * NF + CONFLICTS] > 0),
             sum(len(cl.plist[n]) for n in offline),
             len(offline)]                  # Ganeti counts the lists, not their entries
    if capacity:
        opts = alloc.Options()
        stats.append(sum(1 for n in nodes if not alloc.can_evacuate(cl, n, opts)))
    return stats, metrics.comp_cv(cl, nodes)


def quoted(value):
    from qganeti.htools.hspace import quoted as q
    return q(value)


def print_stats(opts, level, phase, names, values):
    if opts.machine_readable:
        prefix = "INIT" if phase == 0 else "FINAL"
        for (key, _), value in zip(names, values):
            out("HCHECK_%s_%s_%s=%s" % (prefix, level[0], key, quoted(value))
                if level[0] == "CLUSTER" else
                "HCHECK_%s_GROUP_%s_%s=%s" % (prefix, level[1], key, quoted(value)))
    elif opts.verbose >= 1:
        out("")
        when = "initially" if phase == 0 else "after rebalancing"
        if level[0] == "CLUSTER":
            out("Cluster statistics %s" % when)
        else:
            out("Statistics for group %s %s" % (level[1], when))
        for (_, descr), value in zip(names, values):
            out("    %s: %s" % (descr, value))


def report(cl, opts, groups, phase, need):
    capacity = opts.capacity
    totals = None
    for gdx, nodes, _ in groups:
        stats, score = group_stats(cl, nodes, capacity)
        totals = stats if totals is None else [a + b for a, b in zip(totals, stats)]
        label = str(gdx) if opts.machine_readable else cl.groups[gdx].name
        print_stats(opts, ("GROUP", label), phase, common(capacity) + [("SCORE", "Group score")],
                    ["%d" % v for v in stats] + [hsfmt.fixed(score, 8)])
    # without groups Ganeti's totals are an empty list: only the flag is
    # printed, under the first key
    totals = totals or []
    flag = ("1" if need else "0") if opts.machine_readable else str(need)
    print_stats(opts, ("CLUSTER",), phase,
                common(capacity) + [("NEED_REBALANCE", "Cluster is not healthy")],
                ["%d" % v for v in totals] + [flag])
    return need


def rebalance(cl, opts, nodes, insts):
    """Hbal.iterateDepth on one group, quietly."""
    from qganeti.htools import balance
    ini = metrics.comp_cv(cl, nodes)
    min_cv = opts.min_score + metrics.optimal_score(cl, nodes)
    if ini < min_cv or not insts:
        return
    algo = balance.Options(opts.ignore_soft_errors, opts.disk_moves, opts.instance_moves,
                           False, opts.evac_mode, opts.min_gain, opts.min_gain_limit)
    bal = balance.Balancer(cl, nodes, insts, algo)
    while (opts.max_length < 0 or len(bal.placements) < opts.max_length) \
            and bal.score > min_cv:
        found = bal.search()
        if found is None or bal.step_with(found) is None:
            break


def main(opts, args):
    try:
        if args:
            raise Fatal("This program doesn't take any arguments.")
        cl = load_cluster("hcheck", opts)
        set_node_status(cl, opts)
        groups = alloc.split_cluster(cl)
        if opts.machine_readable:
            for gdx, grp in enumerate(cl.groups):
                out("HCHECK_GROUP_UUID_%d=%s" % (gdx, quoted(grp.uuid)))
        need = any(sum(group_stats(cl, nodes, opts.capacity)[0]) for _, nodes, _ in groups)
        if opts.verbose >= 1 and not opts.machine_readable:
            out("Running in no-simulation mode." if opts.no_simulation else
                "Cluster needs rebalancing." if need else
                "No need to rebalance cluster, no problems found.")
        report(cl, opts, groups, 0, need)
        simulate = not opts.no_simulation and need
        if simulate:
            for _, nodes, insts in groups:
                rebalance(cl, opts, nodes, insts)
        if simulate or opts.machine_readable:
            report(cl, opts, alloc.split_cluster(cl), 1, need)
        if opts.machine_readable:
            out("HCHECK_OK=1")
        return 0 if opts.no_simulation or not need else 1
    except Fatal as exc:
        sys.stdout.flush()
        err("Error: %s" % exc)
        return 1


def run(argv):
    return options.run(main, "hcheck", argv, OPTIONS)
