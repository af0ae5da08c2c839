"""The cluster as htools sees it: groups, nodes and instances.

Backends (text file, iallocator request) fill in plain records; `finish`
then does what Ganeti's Loader.mergeData and updateMissing do (aliases,
exclusion/location/migration tags, primaries and secondaries attached to
their nodes, peer maps, memory bookkeeping) and lays the numbers out in
the flat tables of htools.consts that the kernels work on.  Ordered
lists that Ganeti keeps as Haskell lists (a node's primaries, its peer
map) stay Python lists: their order shows in the output.
"""

import math

from qganeti.htools import kernels
from qganeti.htools.consts import (
    ALLOC_POLICIES, DT_DRBD, IF, I_AUTO_BAL, I_DSK, I_DT, I_FORTH, I_LOCAL, I_LOC_SCORE,
    I_MEMORY, I_MIRROR, I_MOVABLE, I_ONLINE, I_PNODE, I_RUNST, I_SEC_MEM, I_SNODE,
    I_SPINDLE_USE, I_TOT_SPN, I_USES_MEM, I_UTIL_C, I_UTIL_D, I_UTIL_M, I_UTIL_N,
    I_VCPUS, LOCAL_STORAGE, MEMORY_STATES, MIRROR, MOVABLE, NF, NO_NODE,
    ST_ADMIN_OFFLINE)
from qganeti.htools import consts as C

EX_TAGS_PREFIX = "htools:iextags:"
LOCATION_PREFIX = "htools:nlocation:"
DESIRED_LOCATION_PREFIX = "htools:desiredlocation:"
MIGRATION_PREFIX = "htools:migration:"
ALLOW_MIGRATION_PREFIX = "htools:allowmigration:"


class LoadError(Exception):
    """Bad cluster data; the message is Ganeti's."""


class IPolicy:
    """An instance policy: ispecs are (mem, cpu, disk size, disk count,
    nic count, spindle use) tuples."""

    def __init__(self, minmax, std, templates, vcpu_ratio, spindle_ratio):
        self.minmax = minmax          # [(min_spec, max_spec), ...]
        self.std = std
        self.templates = templates    # disk template codes
        self.vcpu_ratio = vcpu_ratio
        self.spindle_ratio = spindle_ratio

    def __eq__(self, other):
        return isinstance(other, IPolicy) and vars(self) == vars(other)


def default_ipolicy():
    return IPolicy([((128, 1, 1024, 1, 1, 1), (32768, 8, 1048576, 16, 8, 12))],
                   (128, 1, 1024, 1, 1, 1), list(range(len(C.DISK_TEMPLATES))), 4.0, 32.0)


class Group:
    def __init__(self, name, uuid, policy, tags, networks, ipolicy=None):
        self.name = name
        self.uuid = uuid
        self.policy = policy          # index into ALLOC_POLICIES
        self.tags = tags
        self.networks = networks
        self.ipolicy = ipolicy or default_ipolicy()

    @property
    def allocable(self):
        return ALLOC_POLICIES[self.policy] != "unallocable"


class NodeRec:
    """A node as a backend reads it (Node.create's arguments)."""

    def __init__(self, name, t_mem, n_mem, f_mem, t_dsk, f_dsk, t_cpu, n_cpu, offline,
                 t_spn, f_spn, group, excl, master=False, tags=(), cpu_speed=1.0,
                 hypervisor=None):
        self.name = name
        self.t_mem, self.n_mem, self.f_mem = t_mem, n_mem, f_mem
        self.t_dsk, self.f_dsk, self.t_cpu, self.n_cpu = t_dsk, f_dsk, t_cpu, n_cpu
        self.offline, self.master = offline, master
        self.t_spn, self.f_spn = t_spn, f_spn
        self.group, self.excl = group, excl
        self.tags = list(tags)
        self.cpu_speed = cpu_speed
        self.hypervisor = hypervisor


class InstRec:
    """An instance as a backend reads it (Instance.create's arguments)."""

    def __init__(self, name, mem, dsk, disks, vcpus, runst, tags, auto_balance, pnode,
                 snode, dt, spindle_use, nics=(), forthcoming=False):
        self.name = name
        self.mem, self.dsk, self.disks, self.vcpus = mem, dsk, disks, vcpus
        self.runst, self.tags, self.auto_balance = runst, list(tags), auto_balance
        self.pnode, self.snode, self.dt = pnode, snode, dt
        self.spindle_use = spindle_use
        self.nics = list(nics)        # network uuid (or None) per nic
        self.forthcoming = forthcoming
        self.util = (1.0, 1.0, 1.0, 1.0)
        self.movable = dt in MOVABLE

    def total_spindles(self):
        total = 0
        for _, spindles in self.disks:
            if spindles is None:
                return None
            total += spindles
        return total


def sep_split(sep, text):
    """Ganeti's sepSplit (the empty string splits into no fields)."""
    if not text:
        return []
    return text.split(sep)


def longest_domain(names):
    """The longest suffix starting with '.' that all names share."""
    if not names:
        return ""
    first, rest = names[0], names[1:]
    for pos in range(len(first)):
        suffix = first[pos:]
        if suffix.startswith(".") and all(n.endswith(suffix) for n in rest):
            return suffix
    return ""


def lookup_name(names, key):
    """Ganeti's lookupName: exact match, or the one name that is key
    followed by '.'; returns (good, content)."""
    partial = []
    for name in names:
        if name == key:
            return True, name
        if name.startswith(key + "."):
            partial.append(name)
    if len(partial) == 1:
        return True, partial[0]
    return False, key


def node_tag_set(prefix, ctags, ntags):
    """Tags.getTags: node tags starting with one of the cluster-declared
    prefixes followed by ':'."""
    found = set()
    for ctag in ctags:
        if ctag.startswith(prefix):
            pfx = ctag[len(prefix):] + ":"
            found.update(t for t in ntags if t.startswith(pfx))
    return found


def _split_at_colons(text):
    pos = text.find("::")
    if pos < 0:
        return None
    return text[:pos], text[pos + 2:]


def recv_migration_tags(ctags, ntags):
    """Tags.getRecvMigRestrictions: own migration tags plus those the
    allowmigration cluster tags let the node receive."""
    pairs = []
    for ctag in ctags:
        if ctag.startswith(ALLOW_MIGRATION_PREFIX):
            split = _split_at_colons(ctag[len(ALLOW_MIGRATION_PREFIX):])
            if split and "::" not in split[1]:
                pairs.append(split)
    result = set()
    for tag in node_tag_set(MIGRATION_PREFIX, ctags, ntags):
        result.add(tag)
        result.update(src for src, dst in pairs if dst == tag)
    return result


def _prefixed(prefix, tags):
    return [t[len(prefix):] for t in tags if t.startswith(prefix) and t != prefix]


class Cluster:
    """Groups, nodes and instances, with the flat tables of htools.consts."""

    def __init__(self, groups, nodes, instances, ctags, cpol):
        self.groups = groups
        self.noderecs = nodes
        self.instrecs = instances
        self.ctags = ctags
        self.cpol = cpol
        self.suffix = ""
        self.warnings = []

    # -- sizes and names ---------------------------------------------------
    @property
    def nnodes(self):
        return len(self.noderecs)

    @property
    def ninsts(self):
        return len(self.instrecs)

    def node_get(self, n, field):
        return self.nf[n * NF + field]

    def inst_get(self, i, field):
        return self.inf[i * IF + field]

    def node_alias(self, n):
        return self.node_aliases[n]

    def inst_alias(self, i):
        return self.inst_aliases[i]

    # -- load-time processing (Loader.mergeData, updateMissing) -------------
    def finish(self, utils=(), ex_tags=(), select=(), exclude=(), static_kvm_mem=None,
               extra_instances=(), passes=1):
        """Merge the backend's records into the working tables.  Raises
        LoadError for unknown selected/excluded instance names.
        extra_instances: records of instances to be added later (their
        tags take part in the tag tables).  passes: how many times the
        instances are attached to their nodes (hbal -I merges a request's
        already merged data a second time, as Ganeti does)."""
        recs = self.instrecs
        by_name = {}
        for rec in recs:
            by_name.setdefault(rec.name, rec)
        for name, util in utils:
            rec = by_name.get(name)
            if rec is not None:
                rec.util = util
        inames = [r.name for r in recs]
        lookups = [lookup_name(inames, key) for key in list(select) + list(exclude)]
        unknown = [content for good, content in lookups if not good]
        if unknown:
            from qganeti.htools.hsfmt import show_string_list
            raise LoadError("Unknown instance(s): " + show_string_list(unknown))
        sel_names = set(c for _, c in lookups[:len(select)])
        ex_names = set(c for _, c in lookups[len(select):])
        for rec in recs:
            if rec.name in ex_names or (select and rec.name not in sel_names):
                rec.movable = False
        all_ex = list(ex_tags) + [t for t in _prefixed(EX_TAGS_PREFIX, self.ctags)]
        dsrd_prefixes = _prefixed(DESIRED_LOCATION_PREFIX, self.ctags)
        for rec in list(recs) + list(extra_instances):
            rec.excl = [t for t in rec.tags if any(t.startswith(p) for p in all_ex)]
            rec.dsrd = set(t for t in rec.tags if any(t.startswith(p) for p in dsrd_prefixes))
        self.inst_excl = [r.excl for r in recs]
        self.inst_dsrd = [r.dsrd for r in recs]
        self.extra = list(extra_instances)
        names = [n.name for n in self.noderecs] + inames
        self.suffix = longest_domain(names)
        cut = len(self.suffix)
        self.node_aliases = [n.name[:len(n.name) - cut] for n in self.noderecs]
        self.inst_aliases = [r.name[:len(r.name) - cut] for r in recs]
        self.node_loc = [node_tag_set(LOCATION_PREFIX, self.ctags, n.tags)
                         for n in self.noderecs]
        self.node_mig = [node_tag_set(MIGRATION_PREFIX, self.ctags, n.tags)
                         for n in self.noderecs]
        self.node_rmig = [recv_migration_tags(self.ctags, n.tags) for n in self.noderecs]
        self._build_tables()
        warnings = []
        for _ in range(passes):
            self._attach_instances()
            self._update_missing(static_kvm_mem)
            warnings.append(self.warnings)
        self.pass_warnings = warnings
        for i, rec in enumerate(recs):
            if rec.snode != NO_NODE and (self.noderecs[rec.pnode].group
                                         != self.noderecs[rec.snode].group):
                self.inf[i * IF + I_MOVABLE] = 0.0

    def _build_tables(self):
        nodes, recs = self.noderecs, self.instrecs
        loc_names = sorted(set().union(*self.node_loc, *self.inst_dsrd,
                                       *[r.dsrd for r in self.extra]))
        mig_names = sorted(set().union(*self.node_mig, *self.node_rmig))
        self.loc_bit = {name: k for k, name in enumerate(loc_names)}
        mig_bit = {name: k for k, name in enumerate(mig_names)}
        self.words = max(1, (max(len(loc_names), len(mig_names)) + 62) // 63)
        self.tag_names = sorted(set(t for tags in self.inst_excl for t in tags)
                                | set(t for r in self.extra for t in r.excl))
        tag_id = {name: k for k, name in enumerate(self.tag_names)}
        self.ntags = max(1, len(self.tag_names))
        self.loc = self._masks(self.node_loc, self.loc_bit)
        self.mig = self._masks(self.node_mig, mig_bit)
        self.rmig = self._masks(self.node_rmig, mig_bit)
        self.dsrd = self._masks(self.inst_dsrd, self.loc_bit)
        self.etag_ptr = [0]
        self.etag_ids = []
        for tags in self.inst_excl:
            self.etag_ids.extend(tag_id[t] for t in tags)
            self.etag_ptr.append(len(self.etag_ids))
        nf = []
        for node in nodes:
            nf.extend(self._node_row(node))
        self.nf = nf
        inf = []
        for rec in recs:
            inf.extend(self._inst_row(rec))
        self.inf = inf
        nn = len(nodes)
        self.peers = [0.0] * (nn * nn)
        self.ptag = [0] * (nn * self.ntags)
        self.rtag = [0] * (nn * self.ntags)  # exclusion tags of real primaries
        self.plist = [[] for _ in nodes]
        self.slist = [[] for _ in nodes]
        self.peerlist = [[] for _ in nodes]

    def _masks(self, sets, bits):
        words = self.words
        out = [0] * (len(sets) * words)
        for k, names in enumerate(sets):
            for name in names:
                bit = bits[name]
                out[k * words + bit // 63] |= 1 << (bit % 63)
        return out

    def _node_row(self, node):
        row = [0.0] * NF
        pol = self.groups[node.group].ipolicy
        row[C.T_MEM] = float(node.t_mem)
        row[C.N_MEM] = float(node.n_mem)
        row[C.F_MEM] = row[C.F_MEM_FORTH] = float(node.f_mem)
        row[C.T_DSK] = float(node.t_dsk)
        row[C.F_DSK] = row[C.F_DSK_FORTH] = float(node.f_dsk)
        row[C.T_CPU] = float(node.t_cpu)
        row[C.CPU_SPEED] = float(node.cpu_speed)
        row[C.N_CPU] = row[C.U_CPU] = row[C.U_CPU_FORTH] = float(node.n_cpu)
        row[C.T_SPN] = float(node.t_spn)
        row[C.F_SPN] = row[C.F_SPN_FORTH] = float(node.f_spn)
        row[C.FAIL_N1_FLAG] = 1.0
        row[C.P_MEM_FORTH] = kernels.fdiv(row[C.F_MEM], row[C.T_MEM])
        if node.excl:
            pdsk = kernels.compute_pdsk(row[C.F_SPN], row[C.T_SPN])
        else:
            pdsk = kernels.compute_pdsk(row[C.F_DSK], row[C.T_DSK])
        row[C.P_DSK] = row[C.P_DSK_FORTH] = pdsk
        row[C.P_CPU] = row[C.P_CPU_FORTH] = kernels.fdiv(row[C.N_CPU], row[C.T_CPU])
        row[C.OFFLINE] = 1.0 if node.offline else 0.0
        row[C.EXCL] = 1.0 if node.excl else 0.0
        row[C.MASTER] = 1.0 if node.master else 0.0
        row[C.GROUP] = float(node.group)
        row[C.VCPU_RATIO] = pol.vcpu_ratio
        row[C.SPN_RATIO] = pol.spindle_ratio
        row[C.HI_CPU] = float(math.floor(pol.vcpu_ratio * row[C.T_CPU])) \
            if math.isfinite(pol.vcpu_ratio * row[C.T_CPU]) else 0.0
        row[C.HI_SPN] = pol.spindle_ratio * row[C.T_SPN]
        return row

    def _inst_row(self, rec):
        row = [0.0] * IF
        row[I_MEMORY] = float(rec.mem)
        row[I_DSK] = float(rec.dsk)
        row[I_VCPUS] = float(rec.vcpus)
        row[I_SPINDLE_USE] = float(rec.spindle_use)
        total = rec.total_spindles()
        row[I_TOT_SPN] = -1.0 if total is None else float(total)
        row[I_DT] = float(rec.dt)
        row[I_RUNST] = float(rec.runst)
        row[I_AUTO_BAL] = 1.0 if rec.auto_balance else 0.0
        row[I_MOVABLE] = 1.0 if rec.movable else 0.0
        row[I_FORTH] = 1.0 if rec.forthcoming else 0.0
        row[I_PNODE] = float(rec.pnode)
        row[I_SNODE] = float(rec.snode)
        row[I_UTIL_C], row[I_UTIL_M], row[I_UTIL_D], row[I_UTIL_N] = rec.util
        online = rec.runst != ST_ADMIN_OFFLINE
        row[I_USES_MEM] = 1.0 if (not rec.forthcoming and rec.runst in MEMORY_STATES) else 0.0
        row[I_ONLINE] = 1.0 if online else 0.0
        row[I_LOCAL] = 1.0 if rec.dt in LOCAL_STORAGE else 0.0
        row[I_MIRROR] = float(MIRROR[rec.dt])
        row[I_SEC_MEM] = 1.0 if (online and rec.auto_balance) else 0.0
        if rec.snode != NO_NODE and rec.snode < len(self.node_loc):
            row[I_LOC_SCORE] = float(len(self.node_loc[rec.pnode] & self.node_loc[rec.snode]))
        return row

    def _attach_instances(self):
        """Loader.fixNodes (setPri/setSec for every instance, in order) and
        Node.buildPeers."""
        nf, inf = self.nf, self.inf
        for i, rec in enumerate(self.instrecs):
            self._set_pri(rec.pnode, i)
            if rec.snode != NO_NODE:
                self._set_sec(rec.snode, i)
        nn = self.nnodes
        for n in range(nn):
            # PeerMap.accumArray folds from the right of the secondaries list
            peerlist = []
            for i in reversed(self.slist[n]):
                rec = self.instrecs[i]
                use = rec.mem if inf[i * IF + I_SEC_MEM] else 0
                peerlist = peermap_add_with(peerlist, rec.pnode, use, lambda o, v: o + v)
            self.peerlist[n] = peerlist
            for key, value in peerlist:
                self.peers[n * nn + key] = float(value)
            rmem = float(peerlist[0][1]) if peerlist else 0.0
            off = n * NF
            nf[off + C.R_MEM] = rmem
            nf[off + C.FAIL_N1_FLAG] = 1.0 if nf[off + C.F_MEM] < rmem else 0.0
            nf[off + C.P_REM] = kernels.fdiv(rmem, nf[off + C.T_MEM])

    def _set_pri(self, n, i):
        """Node.setPri: attach at load time (free memory and disk already
        reflect the instance)."""
        nf, inf, off, ioff = self.nf, self.inf, n * NF, i * IF
        rec = self.instrecs[i]
        local = inf[ioff + I_LOCAL] != 0.0
        online = inf[ioff + I_ONLINE] != 0.0
        excl = nf[off + C.EXCL] != 0.0
        su = inf[ioff + I_SPINDLE_USE]
        util = rec.util
        if not rec.forthcoming:
            self.plist[n].insert(0, i)
            nf[off + C.P_CNT] += 1.0
            if online:
                nf[off + C.U_CPU] += inf[ioff + I_VCPUS]
            nf[off + C.P_CPU] = kernels.fdiv(nf[off + C.U_CPU], nf[off + C.T_CPU])
            for k, field in enumerate((C.LOAD_C, C.LOAD_M, C.LOAD_D, C.LOAD_N)):
                nf[off + field] += util[k]
            nf[off + C.INST_SPN] = 0.0 if excl else nf[off + C.INST_SPN] + (su if local else 0.0)
            nf[off + C.LOC_SCORE] += inf[ioff + I_LOC_SCORE] + kernels.dsrd_missing(
                self.loc, n, self.dsrd, i, self.words)
            for j in range(self.etag_ptr[i], self.etag_ptr[i + 1]):
                self.rtag[n * self.ntags + self.etag_ids[j]] += 1
        else:
            if local:
                nf[off + C.F_DSK_FORTH] -= rec.dsk
            nf[off + C.F_SPN_FORTH] = kernels._free_spindles(nf, off, inf, ioff,
                                                             C.F_SPN_FORTH, True)
            nf[off + C.P_DSK_FORTH] = kernels.new_pdsk(nf, off, nf[off + C.F_SPN_FORTH],
                                                       nf[off + C.F_DSK_FORTH])
        # fields real and forthcoming instances both update
        self._add_ptags(n, i)
        if online:
            nf[off + C.U_CPU_FORTH] += inf[ioff + I_VCPUS]
        nf[off + C.P_CPU_FORTH] = kernels.fdiv(nf[off + C.U_CPU_FORTH], nf[off + C.T_CPU])
        for k, field in enumerate((C.LOADF_C, C.LOADF_M, C.LOADF_D, C.LOADF_N)):
            nf[off + field] += util[k]
        if not inf[ioff + I_USES_MEM]:
            nf[off + C.F_MEM_FORTH] -= rec.mem
        nf[off + C.P_MEM_FORTH] = kernels.fdiv(nf[off + C.F_MEM_FORTH], nf[off + C.T_MEM])
        nf[off + C.INST_SPN_FORTH] = kernels._spindle_use(nf, off, inf, ioff,
                                                          C.INST_SPN_FORTH, True)

    def _set_sec(self, n, i):
        """Node.setSec at load time."""
        nf, inf, off, ioff = self.nf, self.inf, n * NF, i * IF
        rec = self.instrecs[i]
        if not rec.forthcoming:
            self.slist[n].insert(0, i)
            nf[off + C.S_CNT] += 1.0
            nf[off + C.LOAD_D] += rec.util[2]
            nf[off + C.INST_SPN] = kernels._spindle_use(nf, off, inf, ioff, C.INST_SPN, True)
        else:
            if inf[ioff + I_LOCAL]:
                nf[off + C.F_DSK_FORTH] -= rec.dsk
            nf[off + C.F_SPN_FORTH] = kernels._free_spindles(nf, off, inf, ioff,
                                                             C.F_SPN_FORTH, True)
            nf[off + C.P_DSK_FORTH] = kernels.new_pdsk(nf, off, nf[off + C.F_SPN_FORTH],
                                                       nf[off + C.F_DSK_FORTH])
        nf[off + C.LOADF_D] += rec.util[2]
        nf[off + C.INST_SPN_FORTH] = kernels._spindle_use(nf, off, inf, ioff,
                                                          C.INST_SPN_FORTH, True)

    def _add_ptags(self, n, i):
        nf = self.nf
        nf[n * NF + C.CONFLICTS] += kernels._tag_conflict_delta_add(
            self.ptag, n, self.ntags, self.etag_ptr, self.etag_ids, i, 0)
        for j in range(self.etag_ptr[i], self.etag_ptr[i + 1]):
            self.ptag[n * self.ntags + self.etag_ids[j]] += 1

    def _del_ptags(self, n, i):
        for j in range(self.etag_ptr[i], self.etag_ptr[i + 1]):
            k = n * self.ntags + self.etag_ids[j]
            if self.ptag[k] > 0:
                self.ptag[k] -= 1

    def _update_missing(self, static_kvm_mem):
        """Memory bookkeeping against what the nodes report (Ganeti's
        updateMissing): instance memory, missing memory, free ratio."""
        nf, inf = self.nf, self.inf
        msgs = []
        for n, node in enumerate(self.noderecs):
            off = n * NF
            if static_kvm_mem and node.hypervisor == "kvm":
                nf[off + C.N_MEM] = float(static_kvm_mem)
            imem = 0.0
            idsk = 0.0
            for i in self.plist[n]:
                if inf[i * IF + I_USES_MEM]:
                    imem += inf[i * IF + I_MEMORY]
                idsk += inf[i * IF + I_DSK]
            for i in self.slist[n]:
                idsk += inf[i * IF + I_DSK]
            tmem = trunc(nf[off + C.T_MEM])
            xmem = tmem - nf[off + C.N_MEM] - imem - nf[off + C.F_MEM]
            nf[off + C.I_MEM] = imem
            nf[off + C.X_MEM] = xmem
            nf[off + C.P_MEM] = kernels.fdiv(kernels.unallocated_mem(nf, off),
                                             nf[off + C.T_MEM])
            xdsk = trunc(nf[off + C.T_DSK]) - nf[off + C.F_DSK] - idsk
            if xmem > 512 or xdsk > 1024:
                msgs.append("node %s is missing %d MB ram and %d GB disk"
                            % (node.name, xmem, xdsk // 1024))
        self.warnings = list(reversed(msgs))

    # -- option-driven changes (CLI.setNodeStatus) --------------------------
    def set_offline(self, n):
        self.nf[n * NF + C.OFFLINE] = 1.0

    def set_max_cpu(self, ratio):
        for n in range(self.nnodes):
            off = n * NF
            self.nf[off + C.VCPU_RATIO] = ratio
            self.nf[off + C.HI_CPU] = float(math.floor(ratio * self.nf[off + C.T_CPU]))

    def set_min_disk(self, ratio):
        for n in range(self.nnodes):
            off = n * NF
            self.nf[off + C.M_DSK] = ratio
            value = ratio * self.nf[off + C.T_DSK]
            self.nf[off + C.LO_DSK] = float(math.floor(value)) if math.isfinite(value) else 0.0

    # -- derived views -------------------------------------------------------
    def node_group(self, n):
        return int(self.nf[n * NF + C.GROUP])

    def is_offline(self, n):
        return self.nf[n * NF + C.OFFLINE] != 0.0

    def inst_pnode(self, i):
        return int(self.inf[i * IF + I_PNODE])

    def inst_snode(self, i):
        return int(self.inf[i * IF + I_SNODE])

    def inst_nodes(self, i):
        """Instance.allNodes."""
        if self.inf[i * IF + I_DT] == DT_DRBD:
            return [self.inst_pnode(i), self.inst_snode(i)]
        return [self.inst_pnode(i)]

    def is_running(self, i):
        return int(self.inf[i * IF + I_RUNST]) in (C.ST_RUNNING, C.ST_ERROR_UP)

    def unallocated_mem(self, n):
        return kernels.unallocated_mem(self.nf, n * NF)

    def avail_mem(self, n):
        return max(0.0, self.unallocated_mem(n) - self.nf[n * NF + C.R_MEM])

    def copy(self):
        """A copy whose tables and lists can change independently."""
        new = Cluster.__new__(Cluster)
        new.__dict__.update(self.__dict__)
        for name in ("nf", "inf", "peers", "ptag", "rtag"):
            setattr(new, name, list(getattr(self, name)))
        for name in ("plist", "slist", "peerlist"):
            setattr(new, name, [list(x) for x in getattr(self, name)])
        new.instrecs = list(self.instrecs)
        return new


def trunc(x):
    """Haskell `truncate` to Int (non-finite values give minBound)."""
    if math.isfinite(x):
        return float(int(x))
    return -9.223372036854776e18


def peermap_add_with(pmap, key, value, merge):
    """PeerMap.addWith on Ganeti's descending-by-value association list."""
    old = None
    for k, v in pmap:
        if k == key:
            old = v
            break
    if old is not None:
        value = merge(old, value)
        pmap = [(k, v) for k, v in pmap if k != key]
    out = list(pmap)
    pos = 0
    while pos < len(out) and value < out[pos][1]:
        pos += 1
    out.insert(pos, (key, value))
    return out


def peermap_set(pmap, key, value):
    return peermap_add_with(pmap, key, value, lambda o, v: v)


def peermap_remove(pmap, key):
    out = []
    removed = False
    for k, v in pmap:
        if k == key and not removed:
            removed = True
            continue
        out.append((k, v))
    return out


def add_instance(cl, rec):
    """Append a new instance (not yet on any node); returns its index.
    Its tags must be in the cluster's tag tables (finish's
    extra_instances)."""
    i = cl.ninsts
    rec.pnode = rec.snode = NO_NODE     # nowhere until placed
    cl.instrecs.append(rec)
    cl.inst_aliases.append(rec.name)
    cl.inst_excl.append(rec.excl)
    cl.inst_dsrd.append(rec.dsrd)
    tag_id = {name: k for k, name in enumerate(cl.tag_names)}
    cl.etag_ids.extend(tag_id[t] for t in rec.excl)
    cl.etag_ptr.append(len(cl.etag_ids))
    cl.dsrd.extend(cl._masks([rec.dsrd], cl.loc_bit))
    row = cl._inst_row(rec)
    row[I_LOC_SCORE] = 0.0
    cl.inf.extend(row)
    cl.inf[i * IF + I_PNODE] = cl.inf[i * IF + I_SNODE] = 0.0  # as Instance.create
    return i
