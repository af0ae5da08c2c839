"""hroller: groups of nodes that can be rebooted at the same time
(Ganeti 3.0.2's Program/Hroller.hs and HTools/Graph.hs, same output).

Nodes that share an instance (primary and secondary), or whose instances
share a secondary, must not go down together: the reboot groups are the
colour classes of that conflict graph, coloured greedily three ways and
the smallest colouring kept.  Groups are then split so that their
non-redundant instances (and, with --full-evacuation, their secondaries)
fit elsewhere.  The planning state is a map of node records as Ganeti's
Container is, so that its peculiarities (a replaced secondary's slot
taking a copy of the primary's record) show as they do in Ganeti.
"""

from qganeti.htools import hbal, hsfmt, kernels, options
from qganeti.htools import consts as C
from qganeti.htools.consts import IF, NF, NO_NODE, OK
from qganeti.htools.options import NOARG, REQARG, _opt

OWN = {
    "offline_maint": _opt("", ["offline-maintenance"], NOARG, "",
                          "Schedule offline maintenance, i.e., pretend that all instance are "
                          "offline.", "none", options.flag("offline_maintenance")),
    "no_headers": _opt("", ["no-headers"], NOARG, "", "do not show a header line", "none",
                       options.flag("no_headers")),
    "node_tags": _opt("", ["node-tags"], REQARG, "TAG,...",
                      "Restrict to nodes with the given tags", "string",
                      options.setter("node_tags", options.split_list)),
    "print_moves": _opt("", ["print-moves"], NOARG, "", "print the moves of the instances",
                        "none", options.flag("print_moves")),
    "full_evac": _opt("", ["full-evacuation"], NOARG, "",
                      "fully evacuate the nodes to be rebooted", "none",
                      options.flag("full_evacuation")),
    "skip_nonred": _opt("", ["skip-non-redundant"], NOARG, "",
                        "Skip nodes that host a non-redundant instance", "none",
                        options.flag("skip_non_redundant")),
    "ignore_nonred": _opt("", ["ignore-non-redundant"], NOARG, "",
                          "Pretend that there are no non-redundant instances in the cluster",
                          "none", options.flag("ignore_non_redundant")),
    "force": _opt("f", ["force"], NOARG, "",
                  "force the execution of this program, even if warnings would otherwise "
                  "prevent it", "none", options.flag("force")),
    "one_step": _opt("", ["one-step-only"], NOARG, "", "Only do the first step", "none",
                     options.flag("one_step_only")),
}
DEFAULTS = {"offline_maintenance": False, "no_headers": False, "node_tags": None,
            "print_moves": False, "full_evacuation": False, "skip_non_redundant": False,
            "ignore_non_redundant": False, "force": False, "one_step_only": False}
OPTIONS = ["luxi", "rapi", "data", "ialloc", "offline", OWN["offline_maint"], "verbose",
           "quiet", OWN["no_headers"], OWN["node_tags"], "save", "group", OWN["print_moves"],
           OWN["full_evac"], OWN["skip_nonred"], OWN["ignore_nonred"], OWN["force"],
           OWN["one_step"], "static_kvm"]

out = hbal.out


class Failed(Exception):
    """A planning step that Ganeti's Result monad would turn into Bad."""


# -- the conflict graph and its colourings (HTools/Graph.hs) -----------------

def build_graph(lo, hi, edges):
    """Data.Graph.buildG: adjacency lists over the vertex range, each
    vertex's neighbours in reverse order of its edges."""
    adj = {v: [] for v in range(lo, hi + 1)}
    for v, w in edges:
        adj[v].insert(0, w)
    return adj


def show_graph(adj):
    lo, hi = min(adj), max(adj)
    return "array (%d,%d) [%s]" % (lo, hi, ",".join(
        "(%d,[%s])" % (v, ",".join(str(w) for w in adj[v])) for v in sorted(adj)))


def _colour(adj, cmap, v):
    used = set(cmap[w] for w in adj[v] if w in cmap)
    c = 0
    while c in used:
        c += 1
    return c


def colour_lf(adj):
    """Largest degree first: Ganeti folds from the right over the
    vertices sorted (stably) by ascending degree."""
    order = sorted(adj, key=lambda v: len(adj[v]))
    cmap = {}
    for v in reversed(order):
        cmap[v] = _colour(adj, cmap, v)
    return cmap


def _colour_dynamic(adj, key):
    cmap = {}
    rest = sorted(adj)
    while rest:
        best = None
        for v in rest:
            k = key(adj, cmap, v)
            if best is None or not k < best[1]:    # maximumBy keeps the last maximum
                best = (v, k)
        v = best[0]
        cmap[v] = _colour(adj, cmap, v)
        rest.remove(v)
    return cmap


def colour_dsatur(adj):
    return _colour_dynamic(adj, lambda g, cmap, v: (
        len(set(cmap[w] for w in g[v] if w in cmap)), len(g[v])))


def colour_dcolor(adj):
    return _colour_dynamic(adj, lambda g, cmap, v: (
        sum(1 for w in g[v] if w in cmap), len(g[v])))


def colour_classes(cmap):
    """colorVertMap: the vertices of each colour, colours ascending."""
    classes = {}
    for v in sorted(cmap):
        classes.setdefault(cmap[v], []).append(v)
    return [classes[c] for c in sorted(classes)]


def stats_line(colourings):
    """getStats: the algorithms from the best to the worst."""
    ranked = sorted(colourings, key=lambda item: -len(item[1]))
    text, prev = "", 0
    for name, classes in reversed(ranked):
        stat = "%s: %d (%s)" % (name, len(classes), ",".join(str(len(c)) for c in classes))
        if prev == 0:
            text = stat
        else:
            text += (" TIE " if prev == len(classes) else " LOOSE ") + stat
        prev = len(classes)
    return text


# -- the planning state: node records by index, instance placements ----------

class NodeRec:
    __slots__ = ("idx", "name", "group", "master", "row", "plist", "slist", "peers")

    def copy(self):
        new = NodeRec()
        new.idx, new.name, new.group, new.master = self.idx, self.name, self.group, self.master
        new.row, new.plist, new.slist = list(self.row), list(self.plist), list(self.slist)
        new.peers = list(self.peers)
        return new


class Conf:
    """(Node.List, Instance.List): node records by index and each
    instance's (primary, secondary)."""

    def __init__(self, nodes, places):
        self.nodes = nodes
        self.places = places

    def copy(self):
        return Conf(dict(self.nodes), list(self.places))


def initial_conf(cl):
    nodes = {}
    for n in range(cl.nnodes):
        rec = NodeRec()
        rec.idx, rec.name = n, cl.noderecs[n].name
        rec.group = cl.node_group(n)
        rec.master = bool(cl.nf[n * NF + C.MASTER])
        rec.row = cl.nf[n * NF:(n + 1) * NF]
        rec.plist, rec.slist = list(cl.plist[n]), list(cl.slist[n])
        rec.peers = [cl.peers[n * cl.nnodes + k] for k in range(cl.nnodes)]
        nodes[n] = rec
    return Conf(nodes, [(cl.inst_pnode(i), cl.inst_snode(i)) for i in range(cl.ninsts)])


class Ops:
    """Node.addPriEx / removePri / addSecEx / removeSec on node records."""

    def __init__(self, cl):
        self.cl = cl
        self.nn = cl.nnodes
        # exclusion and location tags do not matter here: neutral tables
        self.tags = ([0] * cl.ntags, cl.ntags, cl.etag_ptr, cl.etag_ids, 0,
                     [0] * cl.words, cl.dsrd, cl.words)

    def add_pri(self, rec, i):
        new = rec.copy()
        rc = kernels.add_pri(rec.row, 0, 0, self.cl.inf, i, 0.0, *self.tags, True, new.row, 0)
        if rc != OK:
            raise Failed()
        new.plist.insert(0, i)
        return new

    def remove_pri(self, rec, i):
        new = rec.copy()
        kernels.remove_pri(rec.row, 0, 0, self.cl.inf, i, 0.0, *self.tags, new.row, 0)
        if i in new.plist:
            new.plist.remove(i)
        return new

    def _sec_mem(self, i):
        inf = self.cl.inf
        return inf[i * IF + C.I_MEMORY] if inf[i * IF + C.I_SEC_MEM] else 0.0

    def add_sec(self, rec, i, pdx):
        new = rec.copy()
        rc = kernels.add_sec(rec.row, 0, 0, self.cl.inf, i, pdx, rec.peers, self.nn, False,
                             True, new.row, 0)
        if rc != OK:
            raise Failed()
        new.peers[pdx] += self._sec_mem(i)
        new.slist.insert(0, i)
        return new

    def remove_sec(self, rec, i, pdx):
        new = rec.copy()
        kernels.remove_sec(rec.row, 0, 0, self.cl.inf, i, pdx, rec.peers, self.nn, new.row, 0)
        value = rec.peers[pdx] - self._sec_mem(i)
        new.peers[pdx] = value if value > 0 else 0.0
        if i in new.slist:
            new.slist.remove(i)
        return new


def move(ops, conf, i, target):
    """Re-create a non-redundant instance on another node (forced)."""
    old = conf.places[i][0]
    new_target = ops.add_pri(conf.nodes[target], i)
    new = conf.copy()
    new.nodes[old] = ops.remove_pri(conf.nodes[old], i)
    new.nodes[target] = new_target
    new.places[i] = (target, conf.places[i][1])
    return new


def _place_each(place, ops, idxs, targets, conf):
    """Each instance to the first target PLACE accepts; Failed if one fits none."""
    for i in idxs:
        for t in targets:
            try:
                conf = place(ops, conf, i, t)
                break
            except Failed:
                continue
        else:
            raise Failed()
    return conf


def locate_instances(ops, idxs, targets, conf):
    return _place_each(move, ops, idxs, targets, conf)


def non_redundant(conf, n):
    return [i for i in conf.nodes[n].plist if conf.places[i][1] == NO_NODE]


def migrate(ops, conf, i):
    p, s = conf.places[i]
    pnode = ops.remove_pri(conf.nodes[p], i)
    snode = ops.remove_sec(conf.nodes[s], i, p)
    snode = ops.add_pri(snode, i)
    pnode = ops.add_sec(pnode, i, s)
    new = conf.copy()
    new.nodes[p], new.nodes[s] = pnode, snode
    new.places[i] = (s, p)
    return new


def replace_secondary(ops, conf, i, target):
    """Ganeti's hroller takes the primary's record as the "old secondary"
    and stores it, secondary removed, in the old secondary's slot; kept
    as is (it shows in --full-evacuation --print-moves)."""
    p, s = conf.places[i]
    if p == target:
        raise Failed()
    new_sec = ops.add_sec(conf.nodes[target], i, p)
    old_sec = ops.remove_sec(conf.nodes[p], i, p)
    new = conf.copy()
    new.nodes[s] = old_sec
    new.nodes[target] = new_sec
    new.places[i] = (p, target)
    return new


def find_secondaries(ops, idxs, targets, conf):
    return _place_each(replace_secondary, ops, idxs, targets, conf)


def greedy_clear(ops, get_insts, relocate, ndxs, targets, conf):
    """greedyClearNodes: keep each node whose instances can be moved to
    the other targets of its group; ([kept], conf)."""
    kept = []
    for n in ndxs:
        others = list(targets)
        if n in others:
            others.remove(n)
        grp = conf.nodes[n].group
        same = [t for t in others if conf.nodes[t].group == grp]
        try:
            conf = relocate(ops, get_insts(conf, n), same, conf)
        except Failed:
            continue
        kept.append(n)
        targets = others
    return kept, conf


def partition(ops, get_insts, relocate, ndxs, targets, conf):
    """partitionNodes: chunks that can each be cleared, from the same
    starting state."""
    parts = []
    while ndxs:
        kept, new = greedy_clear(ops, get_insts, relocate, ndxs, targets, conf)
        if not kept:
            raise Failed()
        parts.append((kept, new))
        rest = list(ndxs)
        for n in kept:
            rest.remove(n)
        ndxs = rest
    return parts


def secondaries(conf, n):
    return list(conf.nodes[n].slist)


def migrate_off(ops, ndxs, conf):
    idxs = [i for n in ndxs for i in conf.nodes[n].plist if conf.places[i][1] != NO_NODE]
    for i in idxs:
        conf = migrate(ops, conf, i)
    return conf


def moves(start, final):
    """Instances that really moved (not just swapped roles)."""
    out = []
    for i, (p, s) in enumerate(start.places):
        np, ns = final.places[i]
        has_sec = s != NO_NODE
        if not (p != np or (has_sec and s != ns)):
            continue
        if np == s and ns == p:
            continue
        out.append((i, final.nodes[np].name, final.nodes[ns].name if has_sec else None))
    return out


# -- the program ---------------------------------------------------------------

def graph_edges(cl, conf, selected, reboot):
    edges = []
    for i, (p, s) in enumerate(conf.places):
        if s != NO_NODE:
            edges += [(p, s), (s, p)]
    if reboot:
        extra = []
        for n in range(cl.nnodes):
            prims = [conf.places[i][0] for i in conf.nodes[n].slist]
            extra += [(a, b) for a in prims for b in prims]
        seen = set(edges)
        for e in extra:
            if e not in seen:
                seen.add(e)
                edges.append(e)
    return [(a, b) for a, b in edges if a in selected and b in selected]


def main(opts, args):
    if args:
        raise hbal.Fatal("This program doesn't take any arguments.")
    verbose = opts.verbose
    cl = hbal.load_cluster("hroller", opts)
    masters = [n.name for n in cl.noderecs if n.master]
    if not masters:
        msg = "No master node found (maybe not supported by backend)."
        if not opts.force:
            raise hbal.Fatal(msg)
        hbal.err("Warning: " + msg)
    elif len(masters) > 1:
        raise hbal.Fatal("Found more than one master node: "
                         + hsfmt.show_string_list(masters))
    pristine = cl.copy() if opts.save else None
    hbal.set_node_status(cl, opts)
    if opts.save:
        hbal.save(pristine, opts.save, "original", "before hroller run")
    group = None
    if opts.group is not None:
        found = [g for g, grp in enumerate(cl.groups) if grp.name == opts.group]
        if not found:
            raise hbal.Fatal("Cannot find target group.")
        group = found[0]
    conf = initial_conf(cl)
    ops = Ops(cl)
    selected = []
    for n in range(cl.nnodes):
        if cl.is_offline(n):
            continue
        if opts.skip_non_redundant and non_redundant(conf, n):
            continue
        if opts.node_tags is not None and not set(cl.noderecs[n].tags) & \
                set(opts.node_tags):
            continue
        if group is not None and cl.node_group(n) != group:
            continue
        selected.append(n)
    if not selected:
        raise hbal.Fatal("Cannot create node graph")
    chosen = set(selected)
    adj = build_graph(min(selected), max(selected),
                      graph_edges(cl, conf, chosen, not opts.offline_maintenance))
    if verbose > 2:
        out("Node Graph: " + show_graph(adj))
    colourings = [(name, colour_classes(fn(adj))) for name, fn in
                  (("LF", colour_lf), ("Dsatur", colour_dsatur), ("Dcolor", colour_dcolor))]
    smallest = min(colourings, key=lambda item: len(item[1]))[1]
    online = [n for n in range(cl.nnodes) if not cl.is_offline(n)]
    if opts.ignore_non_redundant:
        groups = [(grp, conf) for grp in smallest]
    else:
        try:
            groups = [part for grp in smallest
                      for part in partition(ops, non_redundant, locate_instances, grp,
                                            online, conf)]
        except Failed:
            raise hbal.Fatal("Not enough capacity to move non-redundant instances")
    if opts.full_evacuation:
        try:
            groups = [(grp, migrate_off(ops, grp, c)) for grp, c in groups]
        except Failed:
            raise hbal.Fatal("Failed to migrate instances off nodes")
        try:
            groups = [part for grp, c in groups
                      for part in partition(ops, secondaries, find_secondaries, grp,
                                            online, c)]
        except Failed:
            raise hbal.Fatal("Not enough capacity to move secondaries")
    named = [([n for n in grp if n in chosen], c) for grp, c in groups]
    named.sort(key=lambda item: -len(item[0]))
    # the master last: groups without it first, it last in its group
    no_master = [(g, c) for g, c in named if not any(cl.noderecs[n].master for n in g)]
    with_master = [(g, c) for g, c in named if any(cl.noderecs[n].master for n in g)]
    ordered = [([n for n in g if not cl.noderecs[n].master]
                + [n for n in g if cl.noderecs[n].master], c)
               for g, c in no_master + with_master]
    if verbose > 1:
        out(stats_line(colourings))
    shown = ordered[:1] if opts.one_step_only else ordered
    if not opts.no_headers:
        out("'First Reboot Group'" if opts.one_step_only else "'Node Reboot Groups'")
    for nodes, final in shown:
        names = [cl.noderecs[n].name for n in nodes]
        if opts.one_step_only:
            for name in names:
                out(name)
        else:
            out(",".join(names))
        if opts.print_moves:
            for i, pri, sec in moves(conf, final):
                iname = cl.instrecs[i].name
                out("  %s %s %s" % (iname, pri, sec) if sec is not None
                    else "  %s %s" % (iname, pri))
    return 0


def run(argv):
    return options.run(main, "hroller", argv, OPTIONS, defaults=DEFAULTS,
                       errors=[(hbal.Fatal, "")])
