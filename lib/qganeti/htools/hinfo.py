"""hinfo: what the htools see in a cluster (Ganeti 3.0.2's
Program/Hinfo.hs): tags, counts, split instances, N+1 state per group,
the score and its components."""

import sys

from qganeti.htools import hsfmt, metrics, options, output
from qganeti.htools.consts import NF, OFFLINE, FAIL_N1_FLAG
from qganeti.htools.hbal import Fatal, err, load_cluster, out, set_node_status, \
    show_ipolicy, split_instances

OPTIONS = ["print_nodes", "print_insts", "data", "rapi", "luxi", "ialloc", "verbose", "quiet",
           "offline", "ignore_dynu", "mond", "mond_data", "static_kvm"]


def plural(count, one, many):
    return one if count == 1 else many


def bad_items(cl, nodes):
    """Cluster.computeBadItems: N+1-failing online nodes and the
    instances they hold."""
    bad = [n for n in nodes if not cl.nf[n * NF + OFFLINE] and cl.nf[n * NF + FAIL_N1_FLAG]]
    insts = set(i for n in bad for i in cl.slist[n] + cl.plist[n])
    return bad, insts


def group_rows(cl):
    from qganeti.htools.alloc import split_cluster
    rows = []
    happy = True
    for gdx, nodes, insts in split_cluster(cl):
        bad, bad_insts = bad_items(cl, nodes)
        happy = happy and not bad
        rows.append([cl.groups[gdx].name, "%d" % len(nodes), "%d" % len(insts),
                     "%d" % len(bad), "%d" % len(bad_insts), str(not bad),
                     hsfmt.fixed(metrics.comp_cv(cl, nodes), 8)])
    return rows, happy


def main(opts, args):
    try:
        if args:
            raise Fatal("This program doesn't take any arguments.")
        verbose = opts.verbose
        cl = load_cluster("hinfo", opts)
        out("Loaded cluster tags: " + ",".join(cl.ctags))
        if verbose > 2:
            out("Loaded cluster ipolicy: " + show_ipolicy(cl.cpol))
        set_node_status(cl, opts)
        if cl.ninsts == 0 and verbose > 1:
            out("Cluster is empty.")
        out("Loaded %d %s, %d %s, %d %s" % (
            cl.nnodes, plural(cl.nnodes, "node", "nodes"),
            cl.ninsts, plural(cl.ninsts, "instance", "instances"),
            len(cl.groups), plural(len(cl.groups), "node group", "node groups")))
        if cl.suffix and verbose > 2:
            out("Note: Stripping common suffix of '%s' from names" % cl.suffix)
        split = split_instances(cl)
        if not split:
            if verbose > 1:
                out("No split instances found")
        else:
            out("Found instances belonging to multiple node groups:")
            sys.stdout.flush()
            for i in split:
                err("  " + cl.instrecs[i].name)
        rows, happy = group_rows(cl)
        if verbose > 1:
            sys.stdout.write("Node group information:\n" + hsfmt.print_table(
                "  ", ["Group", "Nodes", "Instances", "Bad_Nodes", "Bad_Instances", "N+1",
                       "Score"], rows, [False, True, True, True, True, False, True]))
        out("Cluster is N+1 %s" % ("happy" if happy else "unhappy"))
        all_nodes = list(range(cl.nnodes))
        if opts.print_insts:
            err("")
            err("Instances instance map:")
            sys.stderr.write(output.instance_table(cl, list(range(cl.ninsts))))
        if opts.print_nodes is not None:
            err("")
            err("Cluster status:")
            err(output.node_table(cl, opts.print_nodes, all_nodes))
        sys.stdout.write("Cluster coefficients:\n" + metrics.stats_table(
            "  ", metrics.cluster_stats(cl, all_nodes)))
        out("Cluster score: %s" % hsfmt.fixed(metrics.comp_cv(cl, all_nodes), 8))
        return 0
    except Fatal as exc:
        sys.stdout.flush()
        err("Error: %s" % exc)
        return 1


def run(argv):
    return options.run(main, "hinfo", argv, OPTIONS)
