"""Instance moves (Ganeti's IMove) applied to a Cluster.

The node arithmetic is htools.kernels.move_rows; this module commits its
rows and keeps the ordered structures Ganeti keeps as lists (primaries,
secondaries, peer maps, tag counts) in step, operation by operation, so
that displays and later iteration orders match Ganeti's.
"""

from qganeti.htools import kernels
from qganeti.htools import cluster as clmod
from qganeti.htools.consts import (
    IF, I_FORTH, I_LOC_SCORE, I_MEMORY, I_PNODE, I_SEC_MEM, I_SNODE, MV_FAILOVER,
    MV_FAILOVER_ANY, MV_FAILOVER_AND_REPLACE, MV_REPLACE_AND_FAILOVER, MV_REPLACE_PRIMARY,
    MV_REPLACE_SECONDARY, NF, NO_NODE, OK)

MOVE_NAMES = {MV_FAILOVER: "Failover", MV_FAILOVER_ANY: "FailoverToAny",
              MV_REPLACE_PRIMARY: "ReplacePrimary", MV_REPLACE_SECONDARY: "ReplaceSecondary",
              MV_REPLACE_AND_FAILOVER: "ReplaceAndFailover",
              MV_FAILOVER_AND_REPLACE: "FailoverAndReplace"}


class Scratch:
    """Buffers for kernels.move_rows on list tables."""

    def __init__(self):
        self.rows = [0.0] * (6 * NF)
        self.nodes = [-1, -1, -1]


def move_rows(cl, i, move, tdx, force, scratch):
    """The rows the move would produce: (rc, iloc_new, [(node, row), ...])."""
    iloc_new = kernels.new_location_score(cl.inf, i, move, tdx, cl.loc, cl.words)
    rc = kernels.move_rows(cl.nf, cl.inf, i, move, tdx, iloc_new, force, cl.peers,
                           cl.nnodes, cl.ptag, cl.ntags, cl.etag_ptr, cl.etag_ids, cl.loc,
                           cl.dsrd, cl.words, cl.mig, cl.rmig, scratch.rows, 0, scratch.nodes, 0)
    if rc != OK:
        return rc, iloc_new, []
    out = []
    for k in range(3):
        node = scratch.nodes[k]
        if node >= 0:
            out.append((node, scratch.rows[k * NF:(k + 1) * NF]))
    return rc, iloc_new, out


def new_nodes(cl, i, move, tdx):
    """The (primary, secondary) the instance has after the move, as
    Ganeti's placement records them."""
    p, s = cl.inst_pnode(i), cl.inst_snode(i)
    return {MV_FAILOVER: (s, p), MV_FAILOVER_ANY: (tdx, s), MV_REPLACE_PRIMARY: (tdx, s),
            MV_REPLACE_SECONDARY: (p, tdx), MV_REPLACE_AND_FAILOVER: (tdx, p),
            MV_FAILOVER_AND_REPLACE: (s, tdx)}[move]


def exclusion_counts_after(cl, i, move, tdx):
    """The real-primary exclusion tag counts of the nodes whose count the
    move changes: {node: [count per tag]}."""
    if cl.inf[i * IF + I_FORTH] or cl.etag_ptr[i] == cl.etag_ptr[i + 1]:
        return {}
    old_p = cl.inst_pnode(i)
    new_p = new_nodes(cl, i, move, tdx)[0]
    if new_p == old_p:
        return {}
    ntags = cl.ntags
    out = {}
    for node, sign in ((old_p, -1), (new_p, 1)):
        counts = cl.rtag[node * ntags:(node + 1) * ntags]
        for j in range(cl.etag_ptr[i], cl.etag_ptr[i + 1]):
            tag = cl.etag_ids[j]
            if sign > 0 or counts[tag] > 0:
                counts[tag] += sign
        out[node] = counts
    return out


# -- committing -------------------------------------------------------------

def _delete_first(items, value):
    if value in items:
        items.remove(value)


def _remove_pri(cl, node, i):
    if not cl.inf[i * IF + I_FORTH]:
        _delete_first(cl.plist[node], i)
        _tags(cl, node, i, cl.rtag, -1)
    _tags(cl, node, i, cl.ptag, -1)


def _add_pri(cl, node, i):
    if not cl.inf[i * IF + I_FORTH]:
        cl.plist[node].insert(0, i)
        _tags(cl, node, i, cl.rtag, 1)
    _tags(cl, node, i, cl.ptag, 1)


def _tags(cl, node, i, table, sign):
    base = node * cl.ntags
    for j in range(cl.etag_ptr[i], cl.etag_ptr[i + 1]):
        k = base + cl.etag_ids[j]
        if sign > 0 or table[k] > 0:
            table[k] += sign


def _remove_sec(cl, node, i, pdx):
    if cl.inf[i * IF + I_FORTH]:
        return
    _delete_first(cl.slist[node], i)
    old = cl.peers[node * cl.nnodes + pdx]
    new = old - cl.inf[i * IF + I_MEMORY] if cl.inf[i * IF + I_SEC_MEM] else old
    if new > 0:
        cl.peers[node * cl.nnodes + pdx] = new
        cl.peerlist[node] = clmod.peermap_set(cl.peerlist[node], pdx, int(new))
    else:
        cl.peers[node * cl.nnodes + pdx] = 0.0
        cl.peerlist[node] = clmod.peermap_remove(cl.peerlist[node], pdx)


def _add_sec(cl, node, i, pdx):
    if cl.inf[i * IF + I_FORTH]:
        return
    cl.slist[node].insert(0, i)
    mem = cl.inf[i * IF + I_MEMORY] if cl.inf[i * IF + I_SEC_MEM] else 0.0
    new = cl.peers[node * cl.nnodes + pdx] + mem
    cl.peers[node * cl.nnodes + pdx] = new
    cl.peerlist[node] = clmod.peermap_set(cl.peerlist[node], pdx, int(new))


def commit(cl, i, move, tdx, rows, iloc_new):
    """Make a computed move real: node rows, lists, peers, the instance."""
    p, s = cl.inst_pnode(i), cl.inst_snode(i)
    for node, row in rows:
        cl.nf[node * NF:(node + 1) * NF] = row
    if move == MV_FAILOVER:
        _remove_pri(cl, p, i)
        _add_sec(cl, p, i, s)
        _remove_sec(cl, s, i, p)
        _add_pri(cl, s, i)
    elif move == MV_FAILOVER_ANY:
        _add_pri(cl, tdx, i)
        _remove_pri(cl, p, i)
    elif move == MV_REPLACE_PRIMARY:
        _remove_pri(cl, p, i)
        _remove_sec(cl, s, i, p)
        _add_pri(cl, s, i)
        _remove_pri(cl, s, i)
        _add_pri(cl, tdx, i)
        _add_sec(cl, s, i, tdx)
    elif move == MV_REPLACE_SECONDARY:
        _remove_pri(cl, p, i)
        _remove_sec(cl, s, i, p)
        _add_sec(cl, tdx, i, p)
        _add_pri(cl, p, i)
    elif move == MV_REPLACE_AND_FAILOVER:
        _remove_pri(cl, p, i)
        _remove_sec(cl, s, i, p)
        _add_pri(cl, tdx, i)
        _add_sec(cl, p, i, tdx)
    else:
        _remove_pri(cl, p, i)
        _remove_sec(cl, s, i, p)
        _add_pri(cl, s, i)
        _add_sec(cl, tdx, i, s)
    new_p, new_s = new_nodes(cl, i, move, tdx)
    cl.inf[i * IF + I_PNODE] = float(new_p)
    cl.inf[i * IF + I_SNODE] = float(new_s)
    cl.inf[i * IF + I_LOC_SCORE] = iloc_new
    return new_p, new_s


def apply(cl, i, move, tdx, force, scratch=None):
    """Cluster.Moves.applyMoveEx, for real: OK and the new (primary,
    secondary), or the failure mode and None."""
    rc, iloc_new, rows = move_rows(cl, i, move, tdx, force, scratch or Scratch())
    if rc != OK:
        return rc, None
    return OK, commit(cl, i, move, tdx, rows, iloc_new)


__all__ = ["apply", "commit", "move_rows", "new_nodes", "NO_NODE", "MOVE_NAMES"]


class Journal:
    """Undo log for trial moves: what a node or instance looked like
    before the first change, put back by restore()."""

    def __init__(self, cl):
        self.cl = cl
        self.nodes = {}
        self.insts = {}

    def node(self, n):
        if n in self.nodes or n < 0:
            return
        cl = self.cl
        nn, nt = cl.nnodes, cl.ntags
        self.nodes[n] = (cl.nf[n * NF:(n + 1) * NF], cl.peers[n * nn:(n + 1) * nn],
                         cl.ptag[n * nt:(n + 1) * nt], cl.rtag[n * nt:(n + 1) * nt],
                         list(cl.plist[n]), list(cl.slist[n]), list(cl.peerlist[n]))

    def inst(self, i):
        if i not in self.insts:
            self.insts[i] = self.cl.inf[i * IF:(i + 1) * IF]

    def restore(self):
        cl = self.cl
        nn, nt = cl.nnodes, cl.ntags
        for n, (row, peers, ptag, rtag, plist, slist, peerlist) in self.nodes.items():
            cl.nf[n * NF:(n + 1) * NF] = row
            cl.peers[n * nn:(n + 1) * nn] = peers
            cl.ptag[n * nt:(n + 1) * nt] = ptag
            cl.rtag[n * nt:(n + 1) * nt] = rtag
            cl.plist[n], cl.slist[n], cl.peerlist[n] = plist, slist, peerlist
        for i, row in self.insts.items():
            cl.inf[i * IF:(i + 1) * IF] = row
        self.nodes = {}
        self.insts = {}


def apply_logged(cl, i, move, tdx, force, journal, scratch=None):
    """apply(), recording the old state of everything it touches."""
    for n in cl.inst_nodes(i) + [tdx]:
        journal.node(n)
    journal.inst(i)
    return apply(cl, i, move, tdx, force, scratch)
