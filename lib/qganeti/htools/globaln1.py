"""The global N+1 check of allocation (GlobalN1.redundant) without
trying every evacuation for every candidate.

hail checks, for each candidate placement in score order, that every
node of the cluster could still be evacuated afterwards.  Done by trial
(alloc.can_evacuate) that costs a failover per primary per node per
candidate: minutes on an 80-node cluster where Ganeti's compiled code
takes a second.  For a node whose primaries are all DRBD the trial is a
sequence of forced failovers, and with soft errors ignored a failover
only fails when its receiving node runs out of memory (the memory of
all the node's instances it receives, added up) or has no free disk,
when the evacuated node has no free disk, or on migration tags.  Those
sums are computed once per request; a candidate placement changes at
most two nodes, so checking it is a handful of comparisons.  Nodes with
other primaries (their evacuation chooses nodes by score) are still
tried one by one, exactly as before.
"""

from qganeti.htools import kernels
from qganeti.htools.consts import (
    DT_DRBD, EXCL, F_DSK, IF, I_DT, I_FORTH, I_MEM, I_MEMORY, I_SNODE,
    I_USES_MEM, N_MEM, NF, OFFLINE, OK, T_MEM, X_MEM)


def _mem_fits(row, load):
    """add_pri's memory check after failovers bringing `load` MiB:
    unallocated memory must stay positive (computed as Ganeti does)."""
    xmem = row[X_MEM]
    if xmem < 0.0:
        xmem = 0.0
    return float(int(row[T_MEM])) - row[N_MEM] - (row[I_MEM] + load) - xmem > 0.0


def drbd_load(cl, insts):
    """{secondary: memory it receives} when the DRBD instances insts all
    fail over, or None when one cannot be summed up so (no secondary,
    unknown memory)."""
    inf = cl.inf
    load = {}
    for i in insts:
        s = int(inf[i * IF + I_SNODE])
        if s < 0 or inf[i * IF + I_MEMORY] < 0:
            return None
        mem = inf[i * IF + I_MEMORY] if inf[i * IF + I_USES_MEM] else 0.0
        load[s] = load.get(s, 0.0) + mem
    return load


def failovers_fit(cl, n, load, rows=None):
    """Can the DRBD primaries of n all fail over to their secondaries
    (load: drbd_load of them; rows: {node: row} replacing the table's)?"""
    def row_of(k):
        if rows and k in rows:
            return rows[k]
        return cl.nf[k * NF:(k + 1) * NF]
    row = row_of(n)
    if not row[OFFLINE] and not row[F_DSK] > 0.0:
        return False
    for s, mem in load.items():
        srow = row_of(s)
        if not _mem_fits(srow, mem) or not srow[F_DSK] > 0.0:
            return False
        if kernels.check_migration(cl.mig, n, cl.rmig, s, cl.words) != OK:
            return False
    return True


class FastN1:
    """GlobalN1.redundant for candidate placements on one cluster state."""

    def __init__(self, cl, evacuees):
        self.cl = cl
        self.usable = not any(cl.nf[n * NF + EXCL] for n in range(cl.nnodes))
        self.slow = []          # evacuees tried by trial
        self.load = {}          # fast evacuee -> {receiver: memory it receives}
        self.into = {}          # receiver -> largest load over fast evacuees
        self.evacuees = set(evacuees)
        self.base_ok = True
        if not self.usable:
            return
        inf = cl.inf
        for n in evacuees:
            plist = cl.plist[n]
            if any(inf[i * IF + I_DT] != DT_DRBD or inf[i * IF + I_SNODE] < 0
                   or inf[i * IF + I_MEMORY] < 0 for i in plist):
                self.slow.append(n)
                continue
            if not plist:
                continue
            load = self.load[n] = drbd_load(cl, plist)
            for s, mem in load.items():
                if s not in self.into or mem > self.into[s]:
                    self.into[s] = mem
            if not self._node_ok(n, load, None):
                # placements only take resources away: no candidate passes
                self.base_ok = False

    def _node_ok(self, n, load, rows):
        return failovers_fit(self.cl, n, load, rows)

    def good(self, i, alloc, trial):
        """Is the cluster redundant once instance i is placed as `alloc`?
        trial(nodes) runs the exact evacuation of those nodes with the
        placement made."""
        if not self.base_ok:
            return False
        cl = self.cl
        rows = dict(alloc.rows)
        p = alloc.nodes[0]
        s = alloc.nodes[1] if len(alloc.nodes) > 1 else -1
        if cl.inf[i * IF + I_MEMORY] < 0:
            return trial(sorted(self.evacuees))
        drbd = cl.inf[i * IF + I_DT] == DT_DRBD and s >= 0
        forth = cl.inf[i * IF + I_FORTH] != 0.0
        # receivers whose memory or disk the placement takes
        for x in (p, s):
            if x >= 0 and x in self.into:
                if not _mem_fits(rows[x], self.into[x]) or not rows[x][F_DSK] > 0.0:
                    return False
        slow = list(self.slow)
        if p in self.evacuees and not forth:
            if p in self.slow:
                pass
            elif drbd:
                load = dict(self.load.get(p, {}))
                mem = cl.inf[i * IF + I_MEMORY] if cl.inf[i * IF + I_USES_MEM] else 0.0
                load[s] = load.get(s, 0.0) + mem
                if not self._node_ok(p, load, rows):
                    return False
            else:
                slow.append(p)
        elif p in self.load and not self._node_ok(p, self.load[p], rows):
            return False
        if s in self.load and not self._node_ok(s, self.load[s], rows):
            return False
        return trial(slow) if slow else True
