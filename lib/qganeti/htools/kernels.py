"""Node operations and score arithmetic over flat tables.

One source for two speeds: every function here uses only integer
indexing and arithmetic on flat sequences, so it runs as plain Python on
lists (small problems: no numpy, no numba) and, unchanged, compiled by
numba on numpy arrays (htools.jit rebinds these names to jitted versions).

Node fields are read from `src[soff + FIELD]` and written to
`dst[doff + FIELD]`; an operation copies the row first, so chains of
operations (remove, then add on the same node) run on scratch rows.  The
semantics are those of Ganeti 3.0.2's Node.addPriEx / addSecExEx /
removePri / removeSec, check order included: the first failing check
names the failure.
"""

import math

from qganeti.htools.consts import (
    C_LOCEXCL, CONFLICTS, CPU_SPEED, EXCL, FAIL_CPU, FAIL_DISK, FAIL_MEM, FAIL_MIG,
    FAIL_N1_FLAG, FAIL_SPINDLES, FAIL_TAGS, F_DSK, F_DSK_FORTH, F_MEM_FORTH, F_SPN,
    F_SPN_FORTH, HI_SPN, INST_SPN, INST_SPN_FORTH, IF, I_DSK, I_DT, I_FORTH,
    I_LOCAL, I_MEMORY, I_ONLINE, I_PNODE, I_SEC_MEM, I_SPINDLE_USE, I_TOT_SPN,
    I_USES_MEM, I_UTIL_C, I_UTIL_D, I_UTIL_M, I_UTIL_N, I_VCPUS, I_MEM, LOADF_C,
    LOADF_D, LOADF_M, LOADF_N, LOAD_C, LOAD_D, LOAD_M, LOAD_N, LOC_SCORE, LO_DSK,
    NF, N_MEM, OFFLINE, OK, P_CNT, P_CPU, P_CPU_FORTH, P_DSK, P_DSK_FORTH, P_MEM,
    P_MEM_FORTH, P_REM, R_MEM, S_CNT, T_CPU, T_DSK, T_MEM, T_SPN, U_CPU,
    U_CPU_FORTH, VCPU_RATIO, X_MEM, DT_DRBD, I_SNODE, I_LOC_SCORE, I_MIRROR,
    MIRROR_INTERNAL, MIRROR_EXTERNAL, MV_FAILOVER, MV_FAILOVER_ANY, MV_REPLACE_PRIMARY,
    MV_REPLACE_SECONDARY, MV_REPLACE_AND_FAILOVER, MV_FAILOVER_AND_REPLACE)

NAN = float("nan")
INF = float("inf")
NO_ANSWER = -1          # score_pairs: a shared secondary half not worked out yet
# candidates whose estimated score is this close (relative) to the best
# estimate are scored in full: Ganeti's incremental statistics estimate a
# score to ~1e-13, 3e-9 at worst seen (a spread near zero)
CLOSE = 1e-6


def fdiv(a, b):
    """IEEE division (Haskell Doubles): x/0 is +-Infinity, 0/0 is NaN."""
    if b == 0.0:
        if a == 0.0 or a != a:
            return NAN
        if (a > 0.0) == (math.copysign(1.0, b) > 0.0):
            return INF
        return -INF
    return a / b


def copy_row(src, soff, dst, doff):
    for k in range(NF):
        dst[doff + k] = src[soff + k]


def _copy_row_views(src, soff, dst, doff):
    """copy_row for numpy arrays only (slices of lists are copies): an
    index that cannot be negative spares numba's wraparound checks, and
    the copy runs several times faster compiled (htools.jit uses it)."""
    d = dst[doff:doff + NF]
    s = src[soff:soff + NF]
    for k in range(NF):
        d[k] = s[k]


# compiled, these take the place of the first (htools.jit)
COMPILED_ONLY = {"copy_row": "_copy_row_views"}
# the functions Python calls on the compiled module (htools.build_kernels
# compiles these ahead of time)
ENTRY_POINTS = ("base_values", "drift_bounds", "exact_cv", "move_cv", "move_singles",
                "place_singles", "plan_modes", "scan_moves", "score_pairs",
                "score_primaries", "select_again", "select_full")
# compiled, these are inlined where they are called: a call passes each
# array as seven words, and scan_chunk's inner loop calls them with a
# dozen arrays per target
COMPILED_INLINE = ("approx_var", "_record", "_top_insert", "_wanted")


def unallocated_mem(src, soff):
    """Node.unallocatedMem: recorded free memory minus positive missing."""
    xmem = src[soff + X_MEM]
    if xmem < 0.0:
        xmem = 0.0
    return float(int(src[soff + T_MEM])) - src[soff + N_MEM] - src[soff + I_MEM] - xmem


def compute_pdsk(free, total):
    if total == 0.0:
        return 1.0
    return fdiv(free, total)


def new_pdsk(src, soff, free_sp, free_dsk):
    if src[soff + EXCL] != 0.0:
        return compute_pdsk(free_sp, src[soff + T_SPN])
    return compute_pdsk(free_dsk, src[soff + T_DSK])


def popcount_and(a, aoff, b, boff, words):
    """|set a & set b| for bitmask rows of `words` 63-bit words."""
    count = 0
    for w in range(words):
        x = a[aoff + w] & b[boff + w]
        while x:
            x &= x - 1
            count += 1
    return count


def popcount(a, aoff, words):
    count = 0
    for w in range(words):
        x = a[aoff + w]
        while x:
            x &= x - 1
            count += 1
    return count


def dsrd_missing(loc, n, dsrd, i, words):
    """Desired-location tags of instance i that node n lacks."""
    return popcount(dsrd, i * words, words) - popcount_and(dsrd, i * words, loc, n * words, words)


def check_migration(mig, src_node, rmig, dst_node, words):
    """Node.checkMigration: the source's migration tags must all be
    receivable by the target."""
    for w in range(words):
        if mig[src_node * words + w] & ~rmig[dst_node * words + w]:
            return FAIL_MIG
    return OK


def _tag_conflict_delta_add(ptag, n, ntags, etag_ptr, etag_ids, i, tagadj):
    delta = 0.0
    for j in range(etag_ptr[i], etag_ptr[i + 1]):
        tag = etag_ids[j]
        seen = 0
        for k in range(etag_ptr[i], j):
            if etag_ids[k] == tag:
                seen += 1
        if ptag[n * ntags + tag] + tagadj + seen > 0:
            delta += 1.0
    return delta


def _tag_conflict_delta_remove(ptag, n, ntags, etag_ptr, etag_ids, i, tagadj):
    delta = 0.0
    for j in range(etag_ptr[i], etag_ptr[i + 1]):
        tag = etag_ids[j]
        seen = 0
        for k in range(etag_ptr[i], j):
            if etag_ids[k] == tag:
                seen += 1
        if ptag[n * ntags + tag] + tagadj - seen >= 2:
            delta -= 1.0
    return delta


def tags_reject(ptag, n, ntags, etag_ptr, etag_ids, i, tagadj):
    """Node.rejectAddTags: an exclusion tag of the instance already there."""
    for j in range(etag_ptr[i], etag_ptr[i + 1]):
        if ptag[n * ntags + etag_ids[j]] + tagadj > 0:
            return True
    return False


def _spindle_use(src, soff, inf, ioff, field, adding):
    """calcSpindleUse(Forth): exclusive storage nodes count none."""
    if src[soff + EXCL] != 0.0:
        return 0.0
    value = src[soff + field]
    if inf[ioff + I_LOCAL] != 0.0:
        if adding:
            value += inf[ioff + I_SPINDLE_USE]
        else:
            value -= inf[ioff + I_SPINDLE_USE]
    return value


def _free_spindles(src, soff, inf, ioff, field, adding):
    """calcNewFreeSpindles(Forth): unknown instance spindles fail an add."""
    if src[soff + EXCL] == 0.0:
        return 0.0
    total = inf[ioff + I_TOT_SPN]
    if total < 0.0:
        if adding:
            return -1.0
        return src[soff + field]
    if adding:
        return src[soff + field] - total
    return src[soff + field] + total


def add_pri(src, soff, n, inf, i, iloc, ptag, ntags, etag_ptr, etag_ids, tagadj,
            loc, dsrd, words, force, dst, doff):
    """Node.addPriEx force: instance i (location score iloc) becomes a
    primary of node n (row at src[soff:]).  Writes the new row to dst and
    returns OK, or the failure mode (dst is then undefined)."""
    ioff = i * IF
    strict = not force
    mem = inf[ioff + I_MEMORY]
    dsk = inf[ioff + I_DSK]
    uses_disk = inf[ioff + I_LOCAL] != 0.0
    online = inf[ioff + I_ONLINE] != 0.0
    l_cpu = src[soff + VCPU_RATIO]
    t_mem = src[soff + T_MEM]
    t_cpu = src[soff + T_CPU]

    new_mem_forth = src[soff + F_MEM_FORTH] - mem
    new_dsk_forth = src[soff + F_DSK_FORTH]
    if uses_disk:
        new_dsk_forth -= dsk
    new_free_sp_forth = _free_spindles(src, soff, inf, ioff, F_SPN_FORTH, True)
    new_inst_sp_forth = _spindle_use(src, soff, inf, ioff, INST_SPN_FORTH, True)
    new_ucpu_forth = src[soff + U_CPU_FORTH]
    if online:
        new_ucpu_forth += inf[ioff + I_VCPUS]
    new_pcpu_forth = fdiv(new_ucpu_forth, t_cpu)

    forth_fail = OK
    if new_mem_forth <= 0.0:
        forth_fail = FAIL_MEM
    elif uses_disk and new_dsk_forth <= 0.0:
        forth_fail = FAIL_DISK
    elif uses_disk and new_dsk_forth < src[soff + LO_DSK]:
        forth_fail = FAIL_DISK
    elif uses_disk and src[soff + EXCL] != 0.0 and new_free_sp_forth < 0.0:
        forth_fail = FAIL_SPINDLES
    elif uses_disk and new_inst_sp_forth > src[soff + HI_SPN]:
        forth_fail = FAIL_DISK
    elif l_cpu >= 0.0 and l_cpu < new_pcpu_forth:
        forth_fail = FAIL_CPU

    if inf[ioff + I_FORTH] == 0.0:
        new_i_mem = src[soff + I_MEM]
        if inf[ioff + I_USES_MEM] != 0.0:
            new_i_mem += mem
        xmem = src[soff + X_MEM]
        if xmem < 0.0:
            xmem = 0.0
        new_free_mem = float(int(t_mem)) - src[soff + N_MEM] - new_i_mem - xmem
        new_failn1 = new_free_mem <= src[soff + R_MEM]
        new_dsk = src[soff + F_DSK]
        if uses_disk:
            new_dsk -= dsk
        new_free_sp = _free_spindles(src, soff, inf, ioff, F_SPN, True)
        new_inst_sp = _spindle_use(src, soff, inf, ioff, INST_SPN, True)
        new_ucpu = src[soff + U_CPU]
        if online:
            new_ucpu += inf[ioff + I_VCPUS]
        new_pcpu = fdiv(new_ucpu, t_cpu)
        if new_free_mem <= 0.0:
            return FAIL_MEM
        if uses_disk and new_dsk <= 0.0:
            return FAIL_DISK
        if strict and uses_disk and new_dsk < src[soff + LO_DSK]:
            return FAIL_DISK
        if uses_disk and src[soff + EXCL] != 0.0 and new_free_sp < 0.0:
            return FAIL_SPINDLES
        if strict and uses_disk and new_inst_sp > src[soff + HI_SPN]:
            return FAIL_DISK
        if strict and new_failn1 and src[soff + FAIL_N1_FLAG] == 0.0:
            return FAIL_MEM
        if strict and l_cpu >= 0.0 and l_cpu < new_pcpu:
            return FAIL_CPU
        if strict and tags_reject(ptag, n, ntags, etag_ptr, etag_ids, i, tagadj):
            return FAIL_TAGS
        if strict and forth_fail != OK:
            return forth_fail
        copy_row(src, soff, dst, doff)
        dst[doff + P_CNT] = src[soff + P_CNT] + 1.0
        dst[doff + I_MEM] = new_i_mem
        dst[doff + F_DSK] = new_dsk
        dst[doff + FAIL_N1_FLAG] = 1.0 if new_failn1 else 0.0
        dst[doff + P_MEM] = fdiv(new_free_mem, t_mem)
        dst[doff + P_DSK] = new_pdsk(src, soff, new_free_sp, new_dsk)
        dst[doff + U_CPU] = new_ucpu
        dst[doff + P_CPU] = new_pcpu
        dst[doff + LOAD_C] = src[soff + LOAD_C] + inf[ioff + I_UTIL_C]
        dst[doff + LOAD_M] = src[soff + LOAD_M] + inf[ioff + I_UTIL_M]
        dst[doff + LOAD_D] = src[soff + LOAD_D] + inf[ioff + I_UTIL_D]
        dst[doff + LOAD_N] = src[soff + LOAD_N] + inf[ioff + I_UTIL_N]
        dst[doff + INST_SPN] = new_inst_sp
        dst[doff + F_SPN] = new_free_sp
        dst[doff + LOC_SCORE] = (src[soff + LOC_SCORE] + iloc
                                 + dsrd_missing(loc, n, dsrd, i, words))
    else:
        if strict and forth_fail != OK:
            return forth_fail
        copy_row(src, soff, dst, doff)
    # the fields that real and forthcoming instances both update
    dst[doff + CONFLICTS] = src[soff + CONFLICTS] + _tag_conflict_delta_add(
        ptag, n, ntags, etag_ptr, etag_ids, i, tagadj)
    dst[doff + F_MEM_FORTH] = new_mem_forth
    dst[doff + F_DSK_FORTH] = new_dsk_forth
    dst[doff + P_MEM_FORTH] = fdiv(new_mem_forth, t_mem)
    dst[doff + P_DSK_FORTH] = new_pdsk(src, soff, new_free_sp_forth, new_dsk_forth)
    dst[doff + U_CPU_FORTH] = new_ucpu_forth
    dst[doff + P_CPU_FORTH] = new_pcpu_forth
    dst[doff + LOADF_C] = src[soff + LOADF_C] + inf[ioff + I_UTIL_C]
    dst[doff + LOADF_M] = src[soff + LOADF_M] + inf[ioff + I_UTIL_M]
    dst[doff + LOADF_D] = src[soff + LOADF_D] + inf[ioff + I_UTIL_D]
    dst[doff + LOADF_N] = src[soff + LOADF_N] + inf[ioff + I_UTIL_N]
    dst[doff + INST_SPN_FORTH] = new_inst_sp_forth
    dst[doff + F_SPN_FORTH] = new_free_sp_forth
    return OK


def add_sec(src, soff, n, inf, i, pdx, peers, nnodes, ignore_disks, force, dst, doff):
    """Node.addSecExEx ignore_disks force: instance i (primary pdx) gets
    node n as secondary.  The peer map entry itself is left to the caller
    (`peers[n][pdx] += mem` when i uses secondary memory)."""
    ioff = i * IF
    strict = not force
    dsk = inf[ioff + I_DSK]
    has_secondary = inf[ioff + I_DT] == DT_DRBD
    sec_mem = inf[ioff + I_MEMORY] if inf[ioff + I_SEC_MEM] != 0.0 else 0.0
    new_peem = peers[n * nnodes + pdx] + sec_mem
    old_mem_forth = src[soff + F_MEM_FORTH]
    new_dsk_forth = src[soff + F_DSK_FORTH] - dsk
    new_free_sp_forth = _free_spindles(src, soff, inf, ioff, F_SPN_FORTH, True)
    new_inst_sp_forth = _spindle_use(src, soff, inf, ioff, INST_SPN_FORTH, True)

    forth_fail = OK
    if not has_secondary:
        forth_fail = FAIL_DISK
    elif new_dsk_forth <= 0.0:
        forth_fail = FAIL_DISK
    elif new_dsk_forth < src[soff + LO_DSK]:
        forth_fail = FAIL_DISK
    elif src[soff + EXCL] != 0.0 and new_free_sp_forth < 0.0:
        forth_fail = FAIL_SPINDLES
    elif new_inst_sp_forth > src[soff + HI_SPN]:
        forth_fail = FAIL_DISK
    elif sec_mem >= old_mem_forth:
        forth_fail = FAIL_MEM

    if inf[ioff + I_FORTH] == 0.0:
        old_mem = unallocated_mem(src, soff)
        new_dsk = src[soff + F_DSK] - dsk
        new_free_sp = _free_spindles(src, soff, inf, ioff, F_SPN, True)
        new_inst_sp = _spindle_use(src, soff, inf, ioff, INST_SPN, True)
        new_rmem = src[soff + R_MEM]
        if new_peem > new_rmem:
            new_rmem = new_peem
        new_failn1 = old_mem <= new_rmem
        if not has_secondary:
            return FAIL_DISK
        if not ignore_disks and new_dsk <= 0.0:
            return FAIL_DISK
        if strict and new_dsk < src[soff + LO_DSK]:
            return FAIL_DISK
        if src[soff + EXCL] != 0.0 and new_free_sp < 0.0:
            return FAIL_SPINDLES
        if strict and new_inst_sp > src[soff + HI_SPN]:
            return FAIL_DISK
        if strict and sec_mem >= old_mem:
            return FAIL_MEM
        if strict and new_failn1 and src[soff + FAIL_N1_FLAG] == 0.0:
            return FAIL_MEM
        if strict and forth_fail != OK:
            return forth_fail
        copy_row(src, soff, dst, doff)
        dst[doff + S_CNT] = src[soff + S_CNT] + 1.0
        dst[doff + F_DSK] = new_dsk
        dst[doff + FAIL_N1_FLAG] = 1.0 if new_failn1 else 0.0
        dst[doff + R_MEM] = new_rmem
        dst[doff + P_DSK] = new_pdsk(src, soff, new_free_sp, new_dsk)
        dst[doff + P_REM] = fdiv(new_rmem, src[soff + T_MEM])
        dst[doff + LOAD_D] = src[soff + LOAD_D] + inf[ioff + I_UTIL_D]
        dst[doff + INST_SPN] = new_inst_sp
        dst[doff + F_SPN] = new_free_sp
    else:
        if strict and forth_fail != OK:
            return forth_fail
        copy_row(src, soff, dst, doff)
    dst[doff + F_DSK_FORTH] = new_dsk_forth
    dst[doff + P_DSK_FORTH] = new_pdsk(src, soff, new_free_sp_forth, new_dsk_forth)
    dst[doff + LOADF_D] = src[soff + LOADF_D] + inf[ioff + I_UTIL_D]
    dst[doff + INST_SPN_FORTH] = new_inst_sp_forth
    dst[doff + F_SPN_FORTH] = new_free_sp_forth
    return OK


def remove_pri(src, soff, n, inf, i, iloc, ptag, ntags, etag_ptr, etag_ids, tagadj,
               loc, dsrd, words, dst, doff):
    """Node.removePri: instance i (location score iloc) stops being a
    primary of node n.  Never fails."""
    ioff = i * IF
    mem = inf[ioff + I_MEMORY]
    dsk = inf[ioff + I_DSK]
    uses_disk = inf[ioff + I_LOCAL] != 0.0
    online = inf[ioff + I_ONLINE] != 0.0
    t_mem = src[soff + T_MEM]
    t_cpu = src[soff + T_CPU]
    copy_row(src, soff, dst, doff)
    if inf[ioff + I_FORTH] == 0.0:
        new_i_mem = src[soff + I_MEM]
        if inf[ioff + I_USES_MEM] != 0.0:
            new_i_mem -= mem
        xmem = src[soff + X_MEM]
        if xmem < 0.0:
            xmem = 0.0
        new_free_mem = float(int(t_mem)) - src[soff + N_MEM] - new_i_mem - xmem
        new_dsk = src[soff + F_DSK]
        if uses_disk:
            new_dsk += dsk
        new_free_sp = _free_spindles(src, soff, inf, ioff, F_SPN, False)
        new_ucpu = src[soff + U_CPU]
        if online:
            new_ucpu -= inf[ioff + I_VCPUS]
        dst[doff + P_CNT] = src[soff + P_CNT] - 1.0
        dst[doff + I_MEM] = new_i_mem
        dst[doff + F_DSK] = new_dsk
        dst[doff + FAIL_N1_FLAG] = 1.0 if new_free_mem <= src[soff + R_MEM] else 0.0
        dst[doff + P_MEM] = fdiv(new_free_mem, t_mem)
        dst[doff + P_DSK] = new_pdsk(src, soff, new_free_sp, new_dsk)
        dst[doff + U_CPU] = new_ucpu
        dst[doff + P_CPU] = fdiv(new_ucpu, t_cpu)
        dst[doff + LOAD_C] = src[soff + LOAD_C] - inf[ioff + I_UTIL_C]
        dst[doff + LOAD_M] = src[soff + LOAD_M] - inf[ioff + I_UTIL_M]
        dst[doff + LOAD_D] = src[soff + LOAD_D] - inf[ioff + I_UTIL_D]
        dst[doff + LOAD_N] = src[soff + LOAD_N] - inf[ioff + I_UTIL_N]
        dst[doff + INST_SPN] = _spindle_use(src, soff, inf, ioff, INST_SPN, False)
        dst[doff + F_SPN] = new_free_sp
        dst[doff + LOC_SCORE] = (src[soff + LOC_SCORE] - iloc
                                 - dsrd_missing(loc, n, dsrd, i, words))
    new_mem_forth = src[soff + F_MEM_FORTH] + mem
    new_dsk_forth = src[soff + F_DSK_FORTH]
    if uses_disk:
        new_dsk_forth += dsk
    new_free_sp_forth = _free_spindles(src, soff, inf, ioff, F_SPN_FORTH, False)
    new_ucpu_forth = src[soff + U_CPU_FORTH]
    if online:
        new_ucpu_forth -= inf[ioff + I_VCPUS]
    dst[doff + CONFLICTS] = src[soff + CONFLICTS] + _tag_conflict_delta_remove(
        ptag, n, ntags, etag_ptr, etag_ids, i, tagadj)
    dst[doff + F_MEM_FORTH] = new_mem_forth
    dst[doff + F_DSK_FORTH] = new_dsk_forth
    dst[doff + P_MEM_FORTH] = fdiv(new_mem_forth, t_mem)
    dst[doff + P_DSK_FORTH] = new_pdsk(src, soff, new_free_sp_forth, new_dsk_forth)
    dst[doff + U_CPU_FORTH] = new_ucpu_forth
    dst[doff + P_CPU_FORTH] = fdiv(new_ucpu_forth, t_cpu)
    dst[doff + LOADF_C] = src[soff + LOADF_C] - inf[ioff + I_UTIL_C]
    dst[doff + LOADF_M] = src[soff + LOADF_M] - inf[ioff + I_UTIL_M]
    dst[doff + LOADF_D] = src[soff + LOADF_D] - inf[ioff + I_UTIL_D]
    dst[doff + LOADF_N] = src[soff + LOADF_N] - inf[ioff + I_UTIL_N]
    dst[doff + INST_SPN_FORTH] = _spindle_use(src, soff, inf, ioff, INST_SPN_FORTH, False)
    dst[doff + F_SPN_FORTH] = new_free_sp_forth
    return OK


def peer_max_without(peers, n, nnodes, pdx, new_value):
    """Largest peer entry of node n once entry pdx becomes new_value."""
    best = 0.0
    if new_value > 0.0:
        best = new_value
    base = n * nnodes
    for k in range(nnodes):
        if k != pdx and peers[base + k] > best:
            best = peers[base + k]
    return best


def remove_sec(src, soff, n, inf, i, pdx, peers, nnodes, dst, doff):
    """Node.removeSec: node n stops being the secondary of instance i,
    whose primary is pdx.  Never fails.  The caller updates the peer map
    entry (it becomes `peers[n][pdx] - mem`, dropped when not positive)."""
    ioff = i * IF
    dsk = inf[ioff + I_DSK]
    uses_disk = inf[ioff + I_LOCAL] != 0.0
    copy_row(src, soff, dst, doff)
    if inf[ioff + I_FORTH] == 0.0:
        new_dsk = src[soff + F_DSK]
        if uses_disk:
            new_dsk += dsk
        new_free_sp = _free_spindles(src, soff, inf, ioff, F_SPN, False)
        old_peem = peers[n * nnodes + pdx]
        new_peem = old_peem
        if inf[ioff + I_SEC_MEM] != 0.0:
            new_peem = old_peem - inf[ioff + I_MEMORY]
        old_rmem = src[soff + R_MEM]
        new_rmem = old_rmem
        if not old_peem < old_rmem:
            new_rmem = peer_max_without(peers, n, nnodes, pdx, new_peem)
        dst[doff + S_CNT] = src[soff + S_CNT] - 1.0
        dst[doff + F_DSK] = new_dsk
        dst[doff + FAIL_N1_FLAG] = 1.0 if unallocated_mem(src, soff) <= new_rmem else 0.0
        dst[doff + R_MEM] = new_rmem
        dst[doff + P_DSK] = new_pdsk(src, soff, new_free_sp, new_dsk)
        dst[doff + P_REM] = fdiv(new_rmem, src[soff + T_MEM])
        dst[doff + LOAD_D] = src[soff + LOAD_D] - inf[ioff + I_UTIL_D]
        dst[doff + INST_SPN] = _spindle_use(src, soff, inf, ioff, INST_SPN, False)
        dst[doff + F_SPN] = new_free_sp
    new_dsk_forth = src[soff + F_DSK_FORTH]
    if uses_disk:
        new_dsk_forth += dsk
    new_free_sp_forth = _free_spindles(src, soff, inf, ioff, F_SPN_FORTH, False)
    dst[doff + F_DSK_FORTH] = new_dsk_forth
    dst[doff + P_DSK_FORTH] = new_pdsk(src, soff, new_free_sp_forth, new_dsk_forth)
    dst[doff + LOADF_D] = src[soff + LOADF_D] - inf[ioff + I_UTIL_D]
    dst[doff + INST_SPN_FORTH] = _spindle_use(src, soff, inf, ioff, INST_SPN_FORTH, False)
    dst[doff + F_SPN_FORTH] = new_free_sp_forth
    return OK


def node_values(src, soff, dst, doff):
    """The node's contribution to each of the 20 score components (the
    location/exclusion multiset, component 18, is handled globally)."""
    pcnt = src[soff + P_CNT]
    scnt = src[soff + S_CNT]
    dst[doff + 0] = src[soff + P_MEM]
    dst[doff + 1] = src[soff + P_DSK]
    dst[doff + 2] = pcnt + scnt if src[soff + FAIL_N1_FLAG] != 0.0 else 0.0
    dst[doff + 3] = src[soff + P_REM]
    dst[doff + 4] = pcnt + scnt
    dst[doff + 5] = pcnt
    dst[doff + 6] = fdiv(src[soff + P_CPU], src[soff + CPU_SPEED])
    dst[doff + 7] = src[soff + LOAD_C]
    dst[doff + 8] = src[soff + LOAD_M]
    dst[doff + 9] = src[soff + LOAD_D]
    dst[doff + 10] = src[soff + LOAD_N]
    dst[doff + 11] = src[soff + CONFLICTS]
    dst[doff + 12] = fdiv(src[soff + INST_SPN], src[soff + HI_SPN])
    dst[doff + 13] = src[soff + P_MEM_FORTH]
    dst[doff + 14] = src[soff + P_DSK_FORTH]
    dst[doff + 15] = fdiv(src[soff + P_CPU_FORTH], src[soff + CPU_SPEED])
    dst[doff + 16] = fdiv(src[soff + INST_SPN_FORTH], src[soff + HI_SPN])
    dst[doff + 17] = src[soff + LOC_SCORE]
    dst[doff + C_LOCEXCL] = 0.0
    dst[doff + 19] = src[soff + P_REM]


def exact_cv(nf, nodes, vals, kinds, weights, onodes, orows, nover, ovals, mapval):
    """metrics.comp_cv, the same operations in the same order (so the
    same bits), from the node values vals[n*NCOMP:] (base_values) with
    the first nover nodes of onodes taking the rows at orows[k*NF:];
    mapval is the location/exclusion component's value."""
    ncomp = len(kinds)
    if len(nodes) == 0:
        return 0.0
    for k in range(nover):
        node_values(orows, k * NF, ovals, k * ncomp)
    score = 0.0
    for c in range(ncomp):
        kind = kinds[c]
        if kind == 3:
            score += mapval * weights[c]
            continue
        total = 0.0
        count = 0
        for j in range(len(nodes)):
            n = nodes[j]
            offline = nf[n * NF + OFFLINE] != 0.0
            if offline != (kind == 2):
                continue
            value = vals[n * ncomp + c]
            for k in range(nover):
                if onodes[k] == n:
                    value = ovals[k * ncomp + c]
            total += value
            count += 1
        if kind != 0:
            score += total * weights[c]
            continue
        mean = fdiv(total, float(count))
        nvar = 0.0
        for j in range(len(nodes)):
            n = nodes[j]
            if nf[n * NF + OFFLINE] != 0.0:
                continue
            value = vals[n * ncomp + c]
            for k in range(nover):
                if onodes[k] == n:
                    value = ovals[k * ncomp + c]
            d = value - mean
            nvar += d * d
        var = fdiv(nvar, float(count))
        if var == var:
            var = math.sqrt(var)
        score += var * weights[c]
    return score


def move_cv(nf, inf, i, move, tdx, force, peers, nnodes, ptag, ntags, etag_ptr, etag_ids,
            loc, dsrd, words, mig, rmig, scratch, onodes, nodes, vals, kinds, weights, ovals):
    """move_rows, then exact_cv of its rows, in one call: the exact score
    after a move (no location/exclusion component).  onodes[3] receives
    move_rows' result; the score means something only when it is OK."""
    iloc_new = new_location_score(inf, i, move, tdx, loc, words)
    rc = move_rows(nf, inf, i, move, tdx, iloc_new, force, peers, nnodes, ptag, ntags,
                   etag_ptr, etag_ids, loc, dsrd, words, mig, rmig, scratch, 0, onodes, 0)
    onodes[3] = rc
    if rc != OK:
        return 0.0
    # unused slots hold -1, which matches no node
    return exact_cv(nf, nodes, vals, kinds, weights, onodes, scratch, 3, ovals, 0.0)


def score_replacing(kinds, weights, cnt, tot, var, sums, mapval, old, ooff, new, noff,
                    online):
    """metrics.update_stats then score_of_stats, in the same operations
    (so the same bits): the score of statistics cnt/tot/var (spread
    components) and sums (sums) once a node's values old[ooff:] become
    new[noff:] (only when it is online).  mapval: the value of the
    location/exclusion component, which stays as it is.  A spread
    component's sums slot holds its deviation (std_devs)."""
    total = 0.0
    for c in range(len(kinds)):
        kind = kinds[c]
        if kind == 0:
            x = old[ooff + c]
            x2 = new[noff + c]
            # update_stats leaves an unchanged value's statistic alone
            if online and not (x == x2 and cnt[c] > 0 and math.isfinite(tot[c])):
                _, v = std_update(cnt[c], tot[c], var[c], x, x2)
                value = math.sqrt(v) if v == v else v
            else:
                value = sums[c]
        elif kind == 1 and online:
            value = sums[c] + new[noff + c] - old[ooff + c]
        elif kind == 3:
            value = mapval
        else:
            value = sums[c]
        total += value * weights[c]
    return total


def std_devs(kinds, var, sums):
    """Each spread component's deviation, as score_of_stats takes it from
    the variance, into its sums slot (unused by spread components):
    score_replacing reads it for each of many candidates."""
    for c in range(len(kinds)):
        if kinds[c] == 0:
            v = var[c]
            sums[c] = math.sqrt(v) if v == v else v


def score_pairs(nf, nodes, inf, i, prims, sec_ptr, secs, peers, nnodes, ptag, ntags,
                etag_ptr, etag_ids, loc, dsrd, words, force, kinds, weights, cnt, tot, var,
                sums, mapval, vals, prows, pcnt, ptot, pvar, psums, pvals, srow, nvals, prcs,
                rcs, scores, fcount, shared_rcs, shared_vals):
    """Cluster.allocateOnPair of instance i in the group of nodes (its
    statistics: base_stats into cnt/tot/var/sums) on each primary of prims
    (without locations, passing the policy) with each of its secondaries
    secs[sec_ptr[k]:sec_ptr[k + 1]]: prcs[k] is add_pri's answer and
    prows[k * NF:] the primary's new row; rcs[j] the j-th pair's answer
    (its primary's, else add_sec's) and, when OK, scores[j] its score.  The primary's half
    moves the statistics cnt/tot/var/sums as metrics.update_stats does
    (its location/exclusion value, mapval, stays).  fcount[code] counts the
    failures (a failing primary fails with each of its secondaries).
    Returns the flat index of the best pair, the last one of the lowest
    score (try_alloc's choice without capacity checks), -1 without one,
    -2 when a score is not a number (sorting cannot be mirrored).
    A secondary's half depends on the primary only through the peer
    memory it reserves: where that stays within the node's reserve
    (R_MEM), add_sec's answer and the node's values are the same for every
    primary, worked out once into shared_rcs[s] (NO_ANSWER until then) and
    shared_vals[s * ncomp:] (room for every node)."""
    ncomp = len(kinds)
    base_stats(nf, nodes, kinds, vals, cnt, tot, var, sums)
    for n in range(len(shared_rcs)):
        shared_rcs[n] = NO_ANSWER
    ioff = i * IF
    sec_mem = inf[ioff + I_MEMORY] if inf[ioff + I_SEC_MEM] != 0.0 else 0.0
    forth = inf[ioff + I_FORTH] != 0.0
    best = -1
    low = INF
    for k in range(len(prims)):
        p = prims[k]
        first, last = sec_ptr[k], sec_ptr[k + 1]
        rc = add_pri(nf, p * NF, p, inf, i, 0.0, ptag, ntags, etag_ptr, etag_ids, 0, loc,
                     dsrd, words, force, prows, k * NF)
        prcs[k] = rc
        if rc != OK:
            fcount[rc] += last - first
            for j in range(first, last):
                rcs[j] = rc
            continue
        for c in range(ncomp):
            pcnt[c] = cnt[c]
            ptot[c] = tot[c]
            pvar[c] = var[c]
            psums[c] = sums[c]
        if nf[p * NF + OFFLINE] == 0.0:
            node_values(prows, k * NF, pvals, 0)
            for c in range(ncomp):
                x = vals[p * ncomp + c]
                x2 = pvals[c]
                if kinds[c] == 0:
                    if not (x == x2 and pcnt[c] > 0 and math.isfinite(ptot[c])):
                        ptot[c], pvar[c] = std_update(pcnt[c], ptot[c], pvar[c], x, x2)
                elif kinds[c] == 1:
                    psums[c] = sums[c] + x2 - x
        std_devs(kinds, pvar, psums)
        for j in range(first, last):
            s = secs[j]
            if forth or peers[s * nnodes + p] + sec_mem <= nf[s * NF + R_MEM]:
                if shared_rcs[s] == NO_ANSWER:
                    shared_rcs[s] = add_sec(nf, s * NF, s, inf, i, p, peers, nnodes, False,
                                            False, srow, 0)
                    if shared_rcs[s] == OK:
                        node_values(srow, 0, shared_vals, s * ncomp)
                rc = shared_rcs[s]
                new, noff = shared_vals, s * ncomp
            else:
                rc = add_sec(nf, s * NF, s, inf, i, p, peers, nnodes, False, False, srow, 0)
                if rc == OK:
                    node_values(srow, 0, nvals, 0)
                new, noff = nvals, 0
            rcs[j] = rc
            if rc != OK:
                fcount[rc] += 1
                continue
            score = score_replacing(kinds, weights, pcnt, ptot, pvar, psums, mapval, vals,
                                    s * ncomp, new, noff, nf[s * NF + OFFLINE] == 0.0)
            scores[j] = score
            if score != score:
                best = -2
            elif best != -2 and score <= low:
                low = score
                best = j
    return best


def base_stats(nf, nodes, kinds, vals, cnt, tot, var, sums):
    """metrics.stats_of_values over nodes into cnt/tot/var (spread
    components) and sums (sums over online or offline nodes), the same
    folds in the same order; vals[n * ncomp:] gets each node's values."""
    ncomp = len(kinds)
    for j in range(len(nodes)):
        node_values(nf, nodes[j] * NF, vals, nodes[j] * ncomp)
    for c in range(ncomp):
        kind = kinds[c]
        if kind == 3:
            continue
        total = 0.0
        count = 0
        for j in range(len(nodes)):
            n = nodes[j]
            if (nf[n * NF + OFFLINE] != 0.0) == (kind == 2):
                total += vals[n * ncomp + c]
                count += 1
        if kind != 0:
            sums[c] = total
            continue
        mean = fdiv(total, float(count))
        nvar = 0.0
        for j in range(len(nodes)):
            n = nodes[j]
            if nf[n * NF + OFFLINE] == 0.0:
                d = vals[n * ncomp + c] - mean
                nvar += d * d
        cnt[c] = float(count)
        tot[c] = total
        var[c] = fdiv(nvar, float(count))


def score_primaries(nf, nodes, targets, inf, i, iloc, ptag, ntags, etag_ptr, etag_ids, loc,
                    dsrd, words, force, exact, kinds, weights, vals, cnt, tot, var, sums,
                    prows, nvals, onode, rcs, scores):
    """Instance i (location score iloc) added to each node of targets, in
    a group without locations (the location/exclusion component is 0):
    rcs[k] is add_pri's answer and, when OK, prows[k * NF:] the new row
    and scores[k] the group's score with it: estimated from the group's
    statistics (base_stats over nodes) as best_single does, or, with
    exact, metrics.comp_cv's (exact_cv; onode: room for 2 nodes)."""
    ncomp = len(kinds)
    base_stats(nf, nodes, kinds, vals, cnt, tot, var, sums)
    std_devs(kinds, var, sums)
    for k in range(len(targets)):
        p = targets[k]
        rc = add_pri(nf, p * NF, p, inf, i, iloc, ptag, ntags, etag_ptr, etag_ids, 0, loc,
                     dsrd, words, force, prows, k * NF)
        rcs[k] = rc
        if rc != OK:
            continue
        if exact:
            onode[0] = p
            onode[1] = -1
            scores[k] = exact_cv(nf, nodes, vals, kinds, weights, onode,
                                 prows[k * NF:(k + 1) * NF], 1, nvals, 0.0)
            continue
        node_values(prows, k * NF, nvals, 0)
        scores[k] = score_replacing(kinds, weights, cnt, tot, var, sums, 0.0, vals,
                                    p * ncomp, nvals, 0, nf[p * NF + OFFLINE] == 0.0)


def place_singles(nf, nodes, targets, inf, count, ilocs, ptag, ntags, etag_ptr, etag_ids,
                  loc, dsrd, words, kinds, weights, vals, cnt, tot, var, sums, prows, nvals,
                  onode, rcs, scores):
    """The last step of alloc.can_evacuate in a group without locations:
    instances 0..count-1 (rows inf[k * IF:], location scores ilocs)
    re-created one after another by force, each where best_single puts
    it (the best estimate's close ones scored in full, ties to the later
    target), on nf, which changes.  1 when each found a target, 0 when
    one did not, -1 when a score is not finite (for the plain code)."""
    for k in range(count):
        score_primaries(nf, nodes, targets, inf, k, ilocs[k], ptag, ntags, etag_ptr, etag_ids,
                        loc, dsrd, words, True, False, kinds, weights, vals, cnt, tot, var,
                        sums, prows, nvals, onode, rcs, scores)
        low = INF
        found = False
        for t in range(len(targets)):
            if rcs[t] == OK:
                if not math.isfinite(scores[t]):
                    return -1
                found = True
                if scores[t] < low:
                    low = scores[t]
        if not found:
            return 0
        tol = CLOSE * max(1.0, abs(low))
        best = -1
        best_score = 0.0
        for t in range(len(targets)):
            if rcs[t] == OK and scores[t] <= low + tol:
                onode[0] = targets[t]
                onode[1] = -1
                score = exact_cv(nf, nodes, vals, kinds, weights, onode,
                                 prows[t * NF:(t + 1) * NF], 1, nvals, 0.0)
                if not math.isfinite(score):
                    return -1
                if best < 0 or score <= best_score:
                    best = t
                    best_score = score
        copy_row(prows, best * NF, nf, targets[best] * NF)
    return 1


def move_singles(nf, nodes, targets, inf, count, peers, nnodes, ptag, ntags, etag_ptr,
                 etag_ids, loc, dsrd, words, mig, rmig, kinds, weights, vals, scratch,
                 nodes_out, ovals, cnt, tot, var, sums, estimates):
    """The moves of alloc.can_evacuate in a group without locations:
    instances 0..count-1 (rows inf[k * IF:]) failed over by force, one
    after another, each to the target where the group scores best (ties
    to the later target), as alloc.evac_one_node does; nf changes.  Each
    target's score is estimated from the group's statistics (cnt/tot/var/
    sums, estimates: one per target) and those within CLOSE
    of the best estimate are scored in full, which decides.  1 when each
    found a target, 0 when one did not, -1 when a score is not finite
    (for the plain code)."""
    ncomp = len(kinds)
    for k in range(count):
        base_stats(nf, nodes, kinds, vals, cnt, tot, var, sums)
        low = INF
        found = False
        for t in range(len(targets)):
            rc = move_rows(nf, inf, k, MV_FAILOVER_ANY, targets[t], 0.0, True, peers, nnodes,
                           ptag, ntags, etag_ptr, etag_ids, loc, dsrd, words, mig, rmig,
                           scratch, 0, nodes_out, 0)
            if rc != OK:
                estimates[t] = INF      # no target: never close
                continue
            estimate = score_moved(nf, kinds, weights, cnt, tot, var, sums, vals, nodes_out,
                                   scratch, ovals)
            if not math.isfinite(estimate):
                return -1
            estimates[t] = estimate
            found = True
            if estimate < low:
                low = estimate
        if not found:
            return 0
        tol = CLOSE * max(1.0, abs(low))
        best = -1
        best_score = 0.0
        for t in range(len(targets)):
            if not estimates[t] <= low + tol:
                continue
            move_rows(nf, inf, k, MV_FAILOVER_ANY, targets[t], 0.0, True, peers, nnodes,
                      ptag, ntags, etag_ptr, etag_ids, loc, dsrd, words, mig, rmig,
                      scratch, 0, nodes_out, 0)
            score = exact_cv(nf, nodes, vals, kinds, weights, nodes_out, scratch, 2, ovals,
                             0.0)
            if not math.isfinite(score):
                return -1
            if best < 0 or not best_score < score:
                best = t
                best_score = score
        move_rows(nf, inf, k, MV_FAILOVER_ANY, targets[best], 0.0, True, peers, nnodes, ptag,
                  ntags, etag_ptr, etag_ids, loc, dsrd, words, mig, rmig, scratch, 0,
                  nodes_out, 0)
        for j in range(2):
            copy_row(scratch, j * NF, nf, nodes_out[j] * NF)
    return 1


def score_moved(nf, kinds, weights, cnt, tot, var, sums, vals, nodes_out, rows, nvals):
    """The group's score estimated from its statistics cnt/tot/var/sums
    (base_stats, node values vals) once the two nodes nodes_out[0:2] (-1:
    none) take the rows at rows[k * NF:]: Ganeti's incremental update
    (std_update) for each, on a spread component only while online, on
    a sum the one the node counts in; the location component is 0."""
    ncomp = len(kinds)
    for j in range(2):
        if nodes_out[j] >= 0:
            node_values(rows, j * NF, nvals, j * ncomp)
    total = 0.0
    for c in range(ncomp):
        kind = kinds[c]
        if kind == 3:
            continue
        s = tot[c]
        v = var[c]
        value = sums[c]
        for j in range(2):
            n = nodes_out[j]
            if n < 0:
                continue
            x = vals[n * ncomp + c]
            x2 = nvals[j * ncomp + c]
            offline = nf[n * NF + OFFLINE] != 0.0
            if kind == 0:
                if not offline and x != x2:
                    s, v = std_update(cnt[c], s, v, x, x2)
            elif offline == (kind == 2):
                value += x2 - x
        if kind == 0:
            value = math.sqrt(v) if v == v else v
        total += value * weights[c]
    return total


def std_update(n, s, var, x, x2):
    """Ganeti's StdDevStat update (it keeps the variance, not the sum of
    squares): replace value x by x2.  Returns (s', var')."""
    ds = x2 - x
    dss = x2 * x2 - x * x
    dnnvar = (n * dss - 2.0 * s * ds) - ds * ds
    s2 = s + ds
    var2 = var + fdiv(dnnvar, n * n)
    if not var2 >= 0.0:
        var2 = 0.0
    return s2, var2


def move_rows(nf, inf, i, move, tdx, iloc_new, force, peers, nnodes, ptag, ntags,
              etag_ptr, etag_ids, loc, dsrd, words, mig, rmig, scratch, soff, nodes_out, noff):
    """Cluster.Moves.applyMoveEx on node rows: apply `move` (target tdx,
    new instance location score iloc_new) to instance i without touching
    the tables.  The changed rows land in scratch[k*NF:], k = 0..2, for
    nodes_out[k] (-1 when unused).  Returns OK or the failure mode."""
    ioff = i * IF
    p = int(inf[ioff + I_PNODE])
    s = int(inf[ioff + I_SNODE])
    iloc = inf[ioff + I_LOC_SCORE]
    poff = p * NF
    p_off = nf[poff + OFFLINE] != 0.0
    force_p = p_off or force
    nodes_out[noff] = -1
    nodes_out[noff + 1] = -1
    nodes_out[noff + 2] = -1
    # scratch rows: 0..2 results, 3..5 intermediates
    r0, r1, r2 = soff, soff + NF, soff + 2 * NF
    r3, r4, r5 = soff + 3 * NF, soff + 4 * NF, soff + 5 * NF
    if move == MV_FAILOVER_ANY:
        rc = check_migration(mig, p, rmig, tdx, words)
        if rc != OK:
            return rc
        rc = add_pri(nf, tdx * NF, tdx, inf, i, iloc, ptag, ntags, etag_ptr, etag_ids, 0,
                     loc, dsrd, words, force_p, scratch, r0)
        if rc != OK:
            return rc
        remove_pri(nf, poff, p, inf, i, iloc, ptag, ntags, etag_ptr, etag_ids, 0, loc,
                   dsrd, words, scratch, r1)
        nodes_out[noff + 0] = tdx
        nodes_out[noff + 1] = p
        return OK
    soff = s * NF
    s_off = nf[soff + OFFLINE] != 0.0
    # int_p and int_s: the instance removed from both of its nodes
    remove_pri(nf, poff, p, inf, i, iloc, ptag, ntags, etag_ptr, etag_ids, 0, loc, dsrd,
               words, scratch, r3)
    remove_sec(nf, soff, s, inf, i, p, peers, nnodes, scratch, r4)
    if move == MV_FAILOVER:
        rc = check_migration(mig, p, rmig, s, words)
        if rc != OK:
            return rc
        rc = add_pri(scratch, r4, s, inf, i, iloc, ptag, ntags, etag_ptr, etag_ids, 0, loc,
                     dsrd, words, force_p, scratch, r0)
        if rc != OK:
            return rc
        rc = add_sec(scratch, r3, p, inf, i, s, peers, nnodes, p_off, force_p, scratch, r1)
        if rc != OK:
            return rc
        nodes_out[noff + 0] = s
        nodes_out[noff + 1] = p
        return OK
    toff = tdx * NF
    if move == MV_REPLACE_SECONDARY:
        rc = add_sec(nf, toff, tdx, inf, i, p, peers, nnodes, False, s_off or force,
                     scratch, r0)
        if rc != OK:
            return rc
        rc = add_pri(scratch, r3, p, inf, i, iloc_new, ptag, ntags, etag_ptr, etag_ids, -1,
                     loc, dsrd, words, True, scratch, r1)
        if rc != OK:
            return rc
        copy_row(scratch, r4, scratch, r2)
        nodes_out[noff + 0] = tdx
        nodes_out[noff + 1] = p
        nodes_out[noff + 2] = s
        return OK
    if move == MV_REPLACE_AND_FAILOVER:
        rc = check_migration(mig, p, rmig, tdx, words)
        if rc != OK:
            return rc
        rc = add_pri(nf, toff, tdx, inf, i, iloc_new, ptag, ntags, etag_ptr, etag_ids, 0,
                     loc, dsrd, words, force, scratch, r0)
        if rc != OK:
            return rc
        rc = add_sec(scratch, r3, p, inf, i, tdx, peers, nnodes, False, s_off or force,
                     scratch, r1)
        if rc != OK:
            return rc
        copy_row(scratch, r4, scratch, r2)
        nodes_out[noff + 0] = tdx
        nodes_out[noff + 1] = p
        nodes_out[noff + 2] = s
        return OK
    if move == MV_REPLACE_PRIMARY:
        rc = check_migration(mig, p, rmig, s, words)
        if rc != OK:
            return rc
        rc = check_migration(mig, s, rmig, tdx, words)
        if rc != OK:
            return rc
        rc = add_pri(scratch, r4, s, inf, i, iloc_new, ptag, ntags, etag_ptr, etag_ids, 0,
                     loc, dsrd, words, force_p, scratch, r5)
        if rc != OK:
            return rc
        remove_pri(scratch, r5, s, inf, i, iloc_new, ptag, ntags, etag_ptr, etag_ids, 1, loc,
                   dsrd, words, scratch, r2)
        rc = add_pri(nf, toff, tdx, inf, i, iloc_new, ptag, ntags, etag_ptr, etag_ids, 0,
                     loc, dsrd, words, force_p, scratch, r0)
        if rc != OK:
            return rc
        rc = add_sec(scratch, r2, s, inf, i, tdx, peers, nnodes, False, force_p, scratch, r5)
        if rc != OK:
            return rc
        copy_row(scratch, r5, scratch, r2)
        copy_row(scratch, r3, scratch, r1)
        nodes_out[noff + 0] = tdx
        nodes_out[noff + 1] = p
        nodes_out[noff + 2] = s
        return OK
    # MV_FAILOVER_AND_REPLACE
    rc = check_migration(mig, p, rmig, s, words)
    if rc != OK:
        return rc
    rc = add_pri(scratch, r4, s, inf, i, iloc_new, ptag, ntags, etag_ptr, etag_ids, 0, loc,
                 dsrd, words, force_p, scratch, r1)
    if rc != OK:
        return rc
    rc = add_sec(nf, toff, tdx, inf, i, s, peers, nnodes, False, force_p, scratch, r0)
    if rc != OK:
        return rc
    copy_row(scratch, r3, scratch, r2)
    nodes_out[noff + 0] = tdx
    nodes_out[noff + 1] = s
    nodes_out[noff + 2] = p
    return OK


def new_location_score(inf, i, move, tdx, loc, words):
    """The instance's location score after the move (setInstanceLocationScore
    with the node pair Ganeti passes for that move); the failovers, with or
    without a target (tdx -1), keep its score."""
    ioff = i * IF
    p = int(inf[ioff + I_PNODE])
    s = int(inf[ioff + I_SNODE])
    if move == MV_REPLACE_SECONDARY or move == MV_REPLACE_AND_FAILOVER:
        return float(popcount_and(loc, p * words, loc, tdx * words, words))
    if move == MV_REPLACE_PRIMARY or move == MV_FAILOVER_AND_REPLACE:
        return float(popcount_and(loc, s * words, loc, tdx * words, words))
    return inf[ioff + I_LOC_SCORE]


def locexcl_delta(inf, i, old_p, new_p, nf, etag_ptr, etag_ids, loc, words, gcount,
                  ntags, gtmp, goff):
    """Change of the location/exclusion score when instance i's primary
    moves from old_p to new_p (online nodes only count).  gcount[l*ntags+e]
    holds the cluster-wide pair counts; gtmp is scratch of the same size."""
    if etag_ptr[i + 1] == etag_ptr[i] or old_p == new_p:
        return 0.0
    nloc = len(gcount) // ntags
    for k in range(len(gcount)):
        gtmp[goff + k] = gcount[k]
    delta = 0.0
    if nf[old_p * NF + OFFLINE] == 0.0:
        for j in range(etag_ptr[i], etag_ptr[i + 1]):
            e = etag_ids[j]
            for bit in range(nloc):
                if loc[old_p * words + bit // 63] & (1 << (bit % 63)):
                    if gtmp[goff + bit * ntags + e] >= 2:
                        delta -= 1.0
                    gtmp[goff + bit * ntags + e] -= 1
    if nf[new_p * NF + OFFLINE] == 0.0:
        for j in range(etag_ptr[i], etag_ptr[i + 1]):
            e = etag_ids[j]
            for bit in range(nloc):
                if loc[new_p * words + bit // 63] & (1 << (bit % 63)):
                    if gtmp[goff + bit * ntags + e] >= 1:
                        delta += 1.0
                    gtmp[goff + bit * ntags + e] += 1
    return delta


def approx_score(nf, vals, nodes, noff, nvals, voffs, mean, c1, c2, cnt, sums, kinds,
                 weights, locexcl):
    """Score after the nodes in `nodes` (-1 = unused) take the values at
    nvals[voffs[noff+k]:], from centred sums of the current values.  Close to
    Ganeti's full recomputation (to ~1e-13), not bit-identical."""
    ncomp = len(weights)
    total = 0.0
    for c in range(ncomp):
        kind = kinds[c]
        if kind == 0:
            d1 = 0.0
            d2 = 0.0
            for k in range(3):
                n = nodes[noff + k]
                if n >= 0 and nf[n * NF + OFFLINE] == 0.0:
                    old = vals[n * ncomp + c] - mean[c]
                    new = nvals[voffs[noff + k] + c] - mean[c]
                    d1 += new - old
                    d2 += new * new - old * old
            m = cnt[c]
            a = (c1[c] + d1) / m
            var = (c2[c] + d2) / m - a * a
            if not var >= 0.0:
                var = 0.0
            value = math.sqrt(var)
        elif kind == 3:
            value = sums[c] + locexcl
        else:
            value = sums[c]
            want_offline = kind == 2
            for k in range(3):
                n = nodes[noff + k]
                if n >= 0 and (nf[n * NF + OFFLINE] != 0.0) == want_offline:
                    value += nvals[voffs[noff + k] + c] - vals[n * ncomp + c]
        total += value * weights[c]
    return total


# scratch rows of one chunk of scan_moves (each NF floats) and their values
(R_INT_P, R_INT_S, R_TMP_S, R_FR_S, R_RS_P, R_SEC_P, R_SEC_S, R_PRI_F, R_PRI_FP, R_RF_P,
 R_RP_S, R_RF_P0, R_RP_S0, R_MOVE) = range(14)
SCAN_ROWS = 20          # R_MOVE uses 6 (move_rows)
# the four move kinds of a target whose other nodes' sums scan_chunk
# prepares once per instance (approx_base), and the four arrays of sums
B_RS, B_FR, B_RF, B_RP = range(4)
B_ARRAYS = 4


def approx_base(nf, vals, n1, o1, n2, o2, nvals, mean, c1, c2, cnt, sums, kinds, weights,
                bases, boff, stride):
    """approx_score's sums for the nodes that do not depend on the target
    (n1 and n2 taking the values at nvals[o1:] and nvals[o2:]; -1 =
    unused): bases[boff+c] the centred sum, [boff+stride+c] the centred
    sum of squares, [boff+2*stride+c] the sum (kinds 1 and 2), and
    [boff+3*stride+c] the weighted component if nothing else changes."""
    ncomp = len(weights)
    for c in range(ncomp):
        kind = kinds[c]
        d1 = 0.0
        d2 = 0.0
        value = sums[c]
        for k in range(2):
            n = n1
            o = o1
            if k == 1:
                n = n2
                o = o2
            if n < 0:
                continue
            off = nf[n * NF + OFFLINE] != 0.0
            if kind == 0 and not off:
                old = vals[n * ncomp + c] - mean[c]
                new = nvals[o + c] - mean[c]
                d1 += new - old
                d2 += new * new - old * old
            elif (kind == 1 and not off) or (kind == 2 and off):
                value += nvals[o + c] - vals[n * ncomp + c]
        b1 = c1[c] + d1
        b2 = c2[c] + d2
        bases[boff + c] = b1
        bases[boff + stride + c] = b2
        bases[boff + 2 * stride + c] = value
        if kind == 0:
            m = cnt[c]
            a = b1 / m
            var = b2 / m - a * a
            if not var >= 0.0:
                var = 0.0
            bases[boff + 3 * stride + c] = math.sqrt(var) * weights[c]
        elif kind == 3:
            bases[boff + 3 * stride + c] = 0.0
        else:
            bases[boff + 3 * stride + c] = value * weights[c]


def approx_var(nf, vals, n1, o1, n2, o2, nvals, mean, cnt, sums, kinds, weights, bases,
               boff, stride, locexcl):
    """approx_score from approx_base's sums and the values of the nodes
    that depend on the target (n1, and n2 unless -1)."""
    ncomp = len(weights)
    total = 0.0
    off1 = nf[n1 * NF + OFFLINE] != 0.0
    off2 = True
    if n2 >= 0:
        off2 = nf[n2 * NF + OFFLINE] != 0.0
    for c in range(ncomp):
        kind = kinds[c]
        if kind == 3:
            total += (sums[c] + locexcl) * weights[c]
            continue
        x1 = vals[n1 * ncomp + c]
        y1 = nvals[o1 + c]
        x2 = 0.0
        y2 = 0.0
        if n2 >= 0:
            x2 = vals[n2 * ncomp + c]
            y2 = nvals[o2 + c]
        if x1 == y1 and x2 == y2:
            total += bases[boff + 3 * stride + c]
            continue
        if kind == 0:
            d1 = bases[boff + c]
            d2 = bases[boff + stride + c]
            if not off1:
                old = x1 - mean[c]
                new = y1 - mean[c]
                d1 += new - old
                d2 += new * new - old * old
            if not off2:
                old = x2 - mean[c]
                new = y2 - mean[c]
                d1 += new - old
                d2 += new * new - old * old
            m = cnt[c]
            a = d1 / m
            var = d2 / m - a * a
            if not var >= 0.0:
                var = 0.0
            total += math.sqrt(var) * weights[c]
        else:
            value = bases[boff + 2 * stride + c]
            want_offline = kind == 2
            if off1 == want_offline:
                value += y1 - x1
            if n2 >= 0 and off2 == want_offline:
                value += y2 - x2
            total += value * weights[c]
    return total


def _record(score, best, slot, tol, count, cap, buf_i, buf_m, buf_t, buf_s, boff, ci, move,
            tpos, tbest):
    """Keep the best estimate and the candidates within tol of it (the
    candidate's position: instance ci, target tpos, move); tbest[slot]
    gets the best estimate of the current target."""
    if score < tbest[slot]:
        tbest[slot] = score
    over = 0
    if score < best[slot] - tol:
        count = 0
    if score < best[slot]:
        best[slot] = score
    if score <= best[slot] + tol:
        if count < cap:
            buf_i[boff + count] = ci
            buf_m[boff + count] = move
            buf_t[boff + count] = tpos
            buf_s[boff + count] = score
            count += 1
        else:
            over = 1
    return count, over


def _wanted(mode, t, tdx, tmask, ksnap, kbase, K):
    """Whether scan_chunk looks at target position t (node tdx) in mode."""
    if mode == 2:
        return True
    if mode == 1:
        return tmask[t] != 0
    if tmask[t] != 0:
        return False        # mode 3: the first pass has looked at it
    for k in range(K):
        if ksnap[kbase + k] == tdx:
            return True
    return False


def _top_insert(topt, tops, rest, i, K, tdx, raw):
    """Instance i's moves to node tdx now estimate at best raw: keep it
    among the K best targets, or let rest[i] (the bound for all targets
    not kept) account for it."""
    base = i * K
    for k in range(K):
        if topt[base + k] == tdx:
            tops[base + k] = raw
            return
    worst = 0
    for k in range(1, K):
        if tops[base + k] > tops[base + worst]:
            worst = k
    if raw < tops[base + worst]:
        if topt[base + worst] >= 0 and tops[base + worst] < rest[i]:
            rest[i] = tops[base + worst]
        topt[base + worst] = tdx
        tops[base + worst] = raw
    elif raw < rest[i]:
        rest[i] = raw


def plan_modes(inf, cands, touched, known, prune, modes):
    """Step 1 of a search: mode 2 (everything) for the instances never
    scanned or whose nodes changed (touched[node] set), else 1 (only
    moves to the changed nodes; the rest is bounded by what is known)."""
    for ci in range(len(cands)):
        i = cands[ci]
        off = i * IF
        mode = 1
        if not prune or known[i] == 0 or touched[int(inf[off + I_PNODE])] != 0:
            mode = 2
        elif inf[off + I_DT] == DT_DRBD and touched[int(inf[off + I_SNODE])] != 0:
            mode = 2
        modes[ci] = mode


def instance_bound(K, topt, tops, rest, fo, off, i):
    """Lower bound of every estimate of instance i's moves to unchanged
    nodes."""
    low = fo[i]
    if rest[i] < low:
        low = rest[i]
    for k in range(K):
        if tops[i * K + k] < low:
            low = tops[i * K + k]
    return low + off[i]


def select_again(cands, modes, K, topt, tops, rest, fo, off, limit, out):
    """After the first pass: mode 3 for the mode-1 instances whose bound
    does not exclude a move within limit, 0 for the others.  Returns how
    many."""
    count = 0
    for ci in range(len(cands)):
        out[ci] = 0
        if modes[ci] == 1 and instance_bound(K, topt, tops, rest, fo, off,
                                             cands[ci]) <= limit:
            out[ci] = 3
            count += 1
    return count


def select_full(cands, modes, rest, off, limit, out):
    """After the second pass: mode 2 for the mode-3 instances whose other
    targets could still hold a move within limit.  Returns how many."""
    count = 0
    for ci in range(len(cands)):
        out[ci] = 0
        i = cands[ci]
        if modes[ci] == 3 and rest[i] + off[i] <= limit:
            out[ci] = 2
            count += 1
    return count


def base_values(nf, nodes, vals, kinds, mean, c1, c2, cnt, sums, devmax, var, total):
    """Each node's score components (vals[n*NCOMP:]) and, per component,
    what the estimates start from: the mean over online nodes, the
    centred sums c1 and c2, the largest deviation, the variance and the
    total (STD kinds), or the sum (online for kind 1, offline for 2).
    Returns the number of online nodes."""
    ncomp = len(kinds)
    online = 0
    for c in range(ncomp):
        total[c] = 0.0
        sums[c] = 0.0
        mean[c] = 0.0
        c1[c] = 0.0
        c2[c] = 0.0
        devmax[c] = 0.0
        var[c] = 0.0
    for j in range(len(nodes)):
        n = nodes[j]
        node_values(nf, n * NF, vals, n * ncomp)
        offline = nf[n * NF + OFFLINE] != 0.0
        if not offline:
            online += 1
        for c in range(ncomp):
            kind = kinds[c]
            if (kind == 0 or kind == 1) and not offline:
                total[c] += vals[n * ncomp + c]
            elif kind == 2 and offline:
                total[c] += vals[n * ncomp + c]
    count = float(online)
    if online == 0:
        count = 1.0
    for c in range(ncomp):
        cnt[c] = count
        if kinds[c] == 0:
            if online > 0:
                mean[c] = total[c] / count
        elif kinds[c] != 3:
            sums[c] = total[c]
    for j in range(len(nodes)):
        n = nodes[j]
        if nf[n * NF + OFFLINE] != 0.0:
            continue
        for c in range(ncomp):
            if kinds[c] == 0:
                d = vals[n * ncomp + c] - mean[c]
                c1[c] += d
                c2[c] += d * d
                if abs(d) > devmax[c]:
                    devmax[c] = abs(d)
    for c in range(ncomp):
        if kinds[c] == 0:
            var[c] = c2[c] / count
    return online


def scan_chunk(chunk, nchunks, nf, inf, cands, targets, vals, mean, c1, c2, cnt, sums,
               kinds, weights, peers, nnodes, ptag, ntags, etag_ptr, etag_ids, loc, dsrd,
               words, mig, rmig, gcount, flags, tol, out_best, buf_i, buf_m, buf_t, buf_s,
               out_count, out_over, scratch, svals, gtmp, nodes, voffs, best, modes, tmask,
               K, topt, tops, rest, fo, off, known, ksnap, tbest, tlist, tnode, bases):
    """Cluster.checkMove over one contiguous slice of the candidate
    instances (Ganeti's order: each instance's Failover, then every target
    node with the moves possibleMoves allows).  Work that does not depend
    on the target is done once per instance.  Keeps, per chunk, the best
    estimate and the candidates within tol of it, in order.  modes[ci]:
    0 skips the instance, 1 looks only at targets with tmask set (the rest
    is known not to win), 2 looks at everything, 3 at the failover and the
    targets of the instance's K best-known ones, tmask unset.

    What each instance's moves could score is remembered (see
    _top_insert): fo[i] for its failover, the K targets with the best
    estimates in topt/tops[i*K:] (per target, the best of its moves), and
    rest[i] for every other target, all less off[i], the drift the
    cluster's statistics may have caused since (the instance's own
    nodes are unchanged in modes 1 and 3)."""
    force = flags[0] != 0
    disk_moves = flags[1] != 0
    inst_moves = flags[2] != 0
    rest_mig = flags[3] != 0
    has_loc = flags[4] != 0
    ncomp = len(weights)
    cap = len(buf_s) // nchunks
    boff = chunk * cap
    roff = chunk * SCAN_ROWS * NF
    voff0 = chunk * SCAN_ROWS * ncomp
    ooff = chunk * 3
    goff = chunk * len(gcount)
    best[chunk] = out_best[0]
    count = 0
    over = 0
    per = (len(cands) + nchunks - 1) // nchunks
    start = chunk * per
    stop = min(len(cands), start + per)
    kbase = chunk * K
    for ci in range(start, stop):
        mode = modes[ci]
        if mode == 0:
            continue
        i = cands[ci]
        if mode == 2:
            for k in range(K):
                topt[i * K + k] = -1
                tops[i * K + k] = INF
            rest[i] = INF
            fo[i] = INF
            off[i] = 0.0
            known[i] = 1
        elif mode == 3:
            for k in range(K):
                ksnap[kbase + k] = topt[i * K + k]
        offv = off[i]
        ioff = i * IF
        p = int(inf[ioff + I_PNODE])
        s = int(inf[ioff + I_SNODE])
        mirror = int(inf[ioff + I_MIRROR])
        forthcoming = inf[ioff + I_FORTH] != 0.0
        iloc = inf[ioff + I_LOC_SCORE]
        p_off = nf[p * NF + OFFLINE] != 0.0
        force_p = p_off or force
        use_sec = False
        if s >= 0 and tnode[s] != 0:
            use_sec = inst_moves
        # mode 1 looks only at the targets in tlist (those with tmask set)
        ntarg = len(targets)
        if mode == 1:
            ntarg = len(tlist)
        # Failover (and the shared-storage FailoverToAny) go the long way
        tbest[chunk] = INF
        if mirror == MIRROR_INTERNAL and use_sec and mode != 1:
            rc = move_rows(nf, inf, i, MV_FAILOVER, -1, iloc, force, peers, nnodes, ptag,
                           ntags, etag_ptr, etag_ids, loc, dsrd, words, mig, rmig,
                           scratch, roff + R_MOVE * NF, nodes, ooff)
            if rc == OK:
                for k in range(3):
                    node_values(scratch, roff + (R_MOVE + k) * NF, svals,
                                voff0 + (R_MOVE + k) * ncomp)
                    voffs[ooff + k] = voff0 + (R_MOVE + k) * ncomp
                lex = 0.0
                if not forthcoming:
                    lex = locexcl_delta(inf, i, p, s, nf, etag_ptr, etag_ids, loc, words,
                                        gcount, ntags, gtmp, goff)
                score = approx_score(nf, vals, nodes, ooff, svals, voffs, mean, c1, c2, cnt, sums, kinds,
                                     weights, lex)
                count, o = _record(score, best, chunk, tol, count, cap, buf_i, buf_m, buf_t,
                                   buf_s, boff, ci, MV_FAILOVER, -1, tbest)
                over |= o
            fo[i] = tbest[chunk] - offv
        if mirror == MIRROR_EXTERNAL:
            if not inst_moves:
                continue
            # FailoverToAny (move_rows' first case): the primary's row without
            # the instance, and the sums it leaves, are the same for every target
            r_int_p = roff + R_INT_P * NF
            remove_pri(nf, p * NF, p, inf, i, iloc, ptag, ntags, etag_ptr, etag_ids, 0, loc,
                       dsrd, words, scratch, r_int_p)
            node_values(scratch, r_int_p, svals, voff0 + R_INT_P * ncomp)
            stride = 4 * ncomp
            bb = chunk * B_ARRAYS * stride
            approx_base(nf, vals, p, voff0 + R_INT_P * ncomp, -1, 0, svals, mean, c1, c2, cnt,
                        sums, kinds, weights, bases, bb + B_RF * ncomp, stride)
            for tt in range(ntarg):
                t = tt
                if mode == 1:
                    t = tlist[tt]
                tdx = targets[t]
                if tdx == p or tdx == s or not _wanted(mode, t, tdx, tmask, ksnap, kbase, K):
                    continue
                tbest[chunk] = INF
                rc = check_migration(mig, p, rmig, tdx, words)
                if rc == OK:
                    rc = add_pri(nf, tdx * NF, tdx, inf, i, iloc, ptag, ntags, etag_ptr,
                                 etag_ids, 0, loc, dsrd, words, force_p, scratch,
                                 roff + R_PRI_F * NF)
                if rc != OK:
                    _top_insert(topt, tops, rest, i, K, tdx, INF)
                    continue
                node_values(scratch, roff + R_PRI_F * NF, svals, voff0 + R_PRI_F * ncomp)
                lex = 0.0
                if not forthcoming:
                    lex = locexcl_delta(inf, i, p, tdx, nf, etag_ptr, etag_ids, loc, words,
                                        gcount, ntags, gtmp, goff)
                score = approx_var(nf, vals, tdx, voff0 + R_PRI_F * ncomp, -1, 0, svals, mean,
                                   cnt, sums, kinds, weights, bases, bb + B_RF * ncomp, stride,
                                   lex)
                count, o = _record(score, best, chunk, tol, count, cap, buf_i, buf_m, buf_t,
                                   buf_s, boff, ci, MV_FAILOVER_ANY, t, tbest)
                over |= o
                _top_insert(topt, tops, rest, i, K, tdx, tbest[chunk] - offv)
            continue
        if mirror != MIRROR_INTERNAL or not disk_moves:
            continue
        primary_drained = p_off
        s_off = nf[s * NF + OFFLINE] != 0.0
        force_s = s_off or force
        # which of r:t, r:t f, f r:t f, f r:t apply (possibleMoves)
        do_rf = inst_moves and not (rest_mig and not primary_drained)
        do_rp = do_rf and use_sec and not rest_mig
        do_fr = do_rf and use_sec
        # target-independent rows: the instance taken off both of its nodes
        r_int_p = roff + R_INT_P * NF
        r_int_s = roff + R_INT_S * NF
        remove_pri(nf, p * NF, p, inf, i, iloc, ptag, ntags, etag_ptr, etag_ids, 0, loc,
                   dsrd, words, scratch, r_int_p)
        remove_sec(nf, s * NF, s, inf, i, p, peers, nnodes, scratch, r_int_s)
        node_values(scratch, r_int_p, svals, voff0 + R_INT_P * ncomp)
        node_values(scratch, r_int_s, svals, voff0 + R_INT_S * ncomp)
        # r:t keeps the primary, re-added (forced) with the new location score
        rs_p_ok = add_pri(scratch, r_int_p, p, inf, i, 0.0, ptag, ntags, etag_ptr, etag_ids,
                          -1, loc, dsrd, words, True, scratch, roff + R_RS_P * NF) == OK
        if rs_p_ok and not has_loc:
            node_values(scratch, roff + R_RS_P * NF, svals, voff0 + R_RS_P * ncomp)
        # f r:t f: the secondary hosts the instance for a moment
        mig_ps = check_migration(mig, p, rmig, s, words) == OK
        rp_ok = False
        if do_rp and mig_ps:
            if add_pri(scratch, r_int_s, s, inf, i, 0.0, ptag, ntags, etag_ptr, etag_ids, 0,
                       loc, dsrd, words, force_p, scratch, roff + R_FR_S * NF) == OK:
                remove_pri(scratch, roff + R_FR_S * NF, s, inf, i, 0.0, ptag, ntags, etag_ptr,
                           etag_ids, 1, loc, dsrd, words, scratch, roff + R_TMP_S * NF)
                rp_ok = True
        # f r:t: the secondary becomes the primary
        fr_ok = False
        if do_fr and mig_ps:
            fr_ok = add_pri(scratch, r_int_s, s, inf, i, 0.0, ptag, ntags, etag_ptr,
                            etag_ids, 0, loc, dsrd, words, force_p, scratch,
                            roff + R_FR_S * NF) == OK
            if fr_ok and not has_loc:
                node_values(scratch, roff + R_FR_S * NF, svals, voff0 + R_FR_S * ncomp)
        lex_rf = 0.0
        # without location tags, a target's moves change the target and at
        # most one other node: the other nodes' sums are prepared once
        fast = not has_loc
        stride = 4 * ncomp
        bb = chunk * B_ARRAYS * stride
        lex_fr = 0.0
        rf0 = 0     # r:t f's primary row for targets it shares nothing with:
        rp0 = 0     # 0 not made yet, 1 made, 2 failed (so for f r:t f's)
        if fast:
            if rs_p_ok:
                approx_base(nf, vals, p, voff0 + R_RS_P * ncomp, s, voff0 + R_INT_S * ncomp,
                            svals, mean, c1, c2, cnt, sums, kinds, weights, bases,
                            bb + B_RS * ncomp, stride)
            if fr_ok:
                approx_base(nf, vals, s, voff0 + R_FR_S * ncomp, p, voff0 + R_INT_P * ncomp,
                            svals, mean, c1, c2, cnt, sums, kinds, weights, bases,
                            bb + B_FR * ncomp, stride)
                if not forthcoming:
                    lex_fr = locexcl_delta(inf, i, p, s, nf, etag_ptr, etag_ids, loc, words,
                                           gcount, ntags, gtmp, goff)
            if do_rf:
                approx_base(nf, vals, s, voff0 + R_INT_S * ncomp, -1, 0, svals, mean, c1, c2,
                            cnt, sums, kinds, weights, bases, bb + B_RF * ncomp, stride)
            if rp_ok:
                approx_base(nf, vals, p, voff0 + R_INT_P * ncomp, -1, 0, svals, mean, c1, c2,
                            cnt, sums, kinds, weights, bases, bb + B_RP * ncomp, stride)
        for tt in range(ntarg):
            t = tt
            if mode == 1:
                t = tlist[tt]
            tdx = targets[t]
            if tdx == p or tdx == s or not _wanted(mode, t, tdx, tmask, ksnap, kbase, K):
                continue
            tbest[chunk] = INF
            toff = tdx * NF
            if fast:
                # r:t (ReplaceSecondary): the target becomes the secondary
                sec_rc = add_sec(nf, toff, tdx, inf, i, p, peers, nnodes, False, force_s, scratch,
                                 roff + R_SEC_P * NF)
                sec_vals = False
                if sec_rc == OK and rs_p_ok:
                    node_values(scratch, roff + R_SEC_P * NF, svals, voff0 + R_SEC_P * ncomp)
                    sec_vals = True
                    score = approx_var(nf, vals, tdx, voff0 + R_SEC_P * ncomp, -1, 0, svals, mean, cnt,
                                       sums, kinds, weights, bases, bb + B_RS * ncomp, stride, 0.0)
                    count, o = _record(score, best, chunk, tol, count, cap, buf_i, buf_m, buf_t, buf_s,
                                       boff, ci, MV_REPLACE_SECONDARY, t, tbest)
                    over |= o
                if do_rf:
                    lex_rf = 0.0
                    if not forthcoming:
                        lex_rf = locexcl_delta(inf, i, p, tdx, nf, etag_ptr, etag_ids, loc, words,
                                               gcount, ntags, gtmp, goff)
                    # r:t f (ReplaceAndFailover): primary t (soft checks unless forced)
                    pri_state = 0       # 0 not made, 1 made (values at R_PRI_F), 2 failed
                    if check_migration(mig, p, rmig, tdx, words) == OK:
                        pri_state = 2
                        if add_pri(nf, toff, tdx, inf, i, 0.0, ptag, ntags, etag_ptr, etag_ids, 0, loc,
                                   dsrd, words, force, scratch, roff + R_PRI_F * NF) == OK:
                            pri_state = 1
                            node_values(scratch, roff + R_PRI_F * NF, svals, voff0 + R_PRI_F * ncomp)
                            pvoff = voff0 + R_RF_P * ncomp
                            if peers[p * nnodes + tdx] == 0.0:
                                # add_sec reads the pair's peer entry only: 0 for most
                                if rf0 == 0:
                                    rf0 = 2
                                    if add_sec(scratch, r_int_p, p, inf, i, tdx, peers, nnodes, False,
                                               force_s, scratch, roff + R_RF_P0 * NF) == OK:
                                        node_values(scratch, roff + R_RF_P0 * NF, svals,
                                                    voff0 + R_RF_P0 * ncomp)
                                        rf0 = 1
                                ok = rf0 == 1
                                pvoff = voff0 + R_RF_P0 * ncomp
                            else:
                                ok = add_sec(scratch, r_int_p, p, inf, i, tdx, peers, nnodes, False,
                                             force_s, scratch, roff + R_RF_P * NF) == OK
                                if ok:
                                    node_values(scratch, roff + R_RF_P * NF, svals, pvoff)
                            if ok:
                                score = approx_var(nf, vals, tdx, voff0 + R_PRI_F * ncomp, p, pvoff, svals,
                                                   mean, cnt, sums, kinds, weights, bases,
                                                   bb + B_RF * ncomp, stride, lex_rf)
                                count, o = _record(score, best, chunk, tol, count, cap, buf_i, buf_m,
                                                   buf_t, buf_s, boff, ci, MV_REPLACE_AND_FAILOVER, t,
                                                   tbest)
                                over |= o
                    # f r:t f (ReplacePrimary)
                    if rp_ok and check_migration(mig, s, rmig, tdx, words) == OK:
                        row = R_PRI_F
                        if pri_state == 0 or force_p != force:
                            row = R_PRI_FP
                            pri_state = 2
                            if add_pri(nf, toff, tdx, inf, i, 0.0, ptag, ntags, etag_ptr, etag_ids, 0,
                                       loc, dsrd, words, force_p, scratch, roff + R_PRI_FP * NF) == OK:
                                pri_state = 1
                                node_values(scratch, roff + R_PRI_FP * NF, svals,
                                            voff0 + R_PRI_FP * ncomp)
                        if pri_state == 1:
                            svoff = voff0 + R_RP_S * ncomp
                            if peers[s * nnodes + tdx] == 0.0:
                                if rp0 == 0:
                                    rp0 = 2
                                    if add_sec(scratch, roff + R_TMP_S * NF, s, inf, i, tdx, peers,
                                               nnodes, False, force_p, scratch, roff + R_RP_S0 * NF) == OK:
                                        node_values(scratch, roff + R_RP_S0 * NF, svals,
                                                    voff0 + R_RP_S0 * ncomp)
                                        rp0 = 1
                                ok = rp0 == 1
                                svoff = voff0 + R_RP_S0 * ncomp
                            else:
                                ok = add_sec(scratch, roff + R_TMP_S * NF, s, inf, i, tdx, peers, nnodes,
                                             False, force_p, scratch, roff + R_RP_S * NF) == OK
                                if ok:
                                    node_values(scratch, roff + R_RP_S * NF, svals, svoff)
                            if ok:
                                score = approx_var(nf, vals, tdx, voff0 + row * ncomp, s, svoff, svals,
                                                   mean, cnt, sums, kinds, weights, bases,
                                                   bb + B_RP * ncomp, stride, lex_rf)
                                count, o = _record(score, best, chunk, tol, count, cap, buf_i, buf_m,
                                                   buf_t, buf_s, boff, ci, MV_REPLACE_PRIMARY, t, tbest)
                                over |= o
                    # f r:t (FailoverAndReplace): the target becomes the secondary of s
                    if fr_ok:
                        row = R_SEC_P
                        rc = sec_rc
                        if force_s != force_p or peers[tdx * nnodes + p] != peers[tdx * nnodes + s]:
                            row = R_SEC_S
                            rc = add_sec(nf, toff, tdx, inf, i, s, peers, nnodes, False, force_p, scratch,
                                         roff + R_SEC_S * NF)
                            if rc == OK:
                                node_values(scratch, roff + R_SEC_S * NF, svals, voff0 + R_SEC_S * ncomp)
                        elif rc == OK and not sec_vals:
                            node_values(scratch, roff + R_SEC_P * NF, svals, voff0 + R_SEC_P * ncomp)
                        if rc == OK:
                            score = approx_var(nf, vals, tdx, voff0 + row * ncomp, -1, 0, svals, mean, cnt,
                                               sums, kinds, weights, bases, bb + B_FR * ncomp, stride,
                                               lex_fr)
                            count, o = _record(score, best, chunk, tol, count, cap, buf_i, buf_m, buf_t,
                                               buf_s, boff, ci, MV_FAILOVER_AND_REPLACE, t, tbest)
                            over |= o
                _top_insert(topt, tops, rest, i, K, tdx, tbest[chunk] - offv)
                continue
            # r:t (ReplaceSecondary)
            if add_sec(nf, toff, tdx, inf, i, p, peers, nnodes, False, force_s, scratch,
                       roff + R_SEC_P * NF) == OK and rs_p_ok:
                if has_loc:
                    add_pri(scratch, r_int_p, p, inf, i,
                            float(popcount_and(loc, p * words, loc, tdx * words, words)),
                            ptag, ntags, etag_ptr, etag_ids, -1, loc, dsrd, words, True,
                            scratch, roff + R_RS_P * NF)
                    node_values(scratch, roff + R_RS_P * NF, svals, voff0 + R_RS_P * ncomp)
                node_values(scratch, roff + R_SEC_P * NF, svals, voff0 + R_SEC_P * ncomp)
                nodes[ooff] = tdx
                voffs[ooff] = voff0 + R_SEC_P * ncomp
                nodes[ooff + 1] = p
                voffs[ooff + 1] = voff0 + R_RS_P * ncomp
                nodes[ooff + 2] = s
                voffs[ooff + 2] = voff0 + R_INT_S * ncomp
                score = approx_score(nf, vals, nodes, ooff, svals, voffs, mean, c1, c2, cnt, sums, kinds,
                                     weights, 0.0)
                count, o = _record(score, best, chunk, tol, count, cap, buf_i, buf_m, buf_t,
                                   buf_s, boff, ci, MV_REPLACE_SECONDARY, t, tbest)
                over |= o
            if not do_rf:
                _top_insert(topt, tops, rest, i, K, tdx, tbest[chunk] - offv)
                continue
            iloc_t = 0.0
            if has_loc:
                iloc_t = float(popcount_and(loc, p * words, loc, tdx * words, words))
            if not forthcoming:
                lex_rf = locexcl_delta(inf, i, p, tdx, nf, etag_ptr, etag_ids, loc, words,
                                       gcount, ntags, gtmp, goff)
            # r:t f (ReplaceAndFailover): primary t (soft checks unless forced)
            if check_migration(mig, p, rmig, tdx, words) == OK:
                if add_pri(nf, toff, tdx, inf, i, iloc_t, ptag, ntags, etag_ptr, etag_ids, 0,
                           loc, dsrd, words, force, scratch, roff + R_PRI_F * NF) == OK and \
                        add_sec(scratch, r_int_p, p, inf, i, tdx, peers, nnodes, False,
                                force_s, scratch, roff + R_RF_P * NF) == OK:
                    node_values(scratch, roff + R_PRI_F * NF, svals, voff0 + R_PRI_F * ncomp)
                    node_values(scratch, roff + R_RF_P * NF, svals, voff0 + R_RF_P * ncomp)
                    nodes[ooff] = tdx
                    voffs[ooff] = voff0 + R_PRI_F * ncomp
                    nodes[ooff + 1] = p
                    voffs[ooff + 1] = voff0 + R_RF_P * ncomp
                    nodes[ooff + 2] = s
                    voffs[ooff + 2] = voff0 + R_INT_S * ncomp
                    score = approx_score(nf, vals, nodes, ooff, svals, voffs, mean, c1, c2, cnt, sums,
                                         kinds, weights, lex_rf)
                    count, o = _record(score, best, chunk, tol, count, cap, buf_i, buf_m, buf_t,
                                       buf_s, boff, ci, MV_REPLACE_AND_FAILOVER, t, tbest)
                    over |= o
            # f r:t f (ReplacePrimary)
            if rp_ok and check_migration(mig, s, rmig, tdx, words) == OK:
                iloc_rp = 0.0
                if has_loc:
                    iloc_rp = float(popcount_and(loc, s * words, loc, tdx * words, words))
                if add_pri(nf, toff, tdx, inf, i, iloc_rp, ptag, ntags, etag_ptr, etag_ids,
                           0, loc, dsrd, words, force_p, scratch,
                           roff + R_PRI_FP * NF) == OK and \
                        add_sec(scratch, roff + R_TMP_S * NF, s, inf, i, tdx, peers, nnodes,
                                False, force_p, scratch, roff + R_RP_S * NF) == OK:
                    node_values(scratch, roff + R_PRI_FP * NF, svals,
                                voff0 + R_PRI_FP * ncomp)
                    node_values(scratch, roff + R_RP_S * NF, svals, voff0 + R_RP_S * ncomp)
                    nodes[ooff] = tdx
                    voffs[ooff] = voff0 + R_PRI_FP * ncomp
                    nodes[ooff + 1] = p
                    voffs[ooff + 1] = voff0 + R_INT_P * ncomp
                    nodes[ooff + 2] = s
                    voffs[ooff + 2] = voff0 + R_RP_S * ncomp
                    score = approx_score(nf, vals, nodes, ooff, svals, voffs, mean, c1, c2, cnt, sums,
                                         kinds, weights, lex_rf)
                    count, o = _record(score, best, chunk, tol, count, cap, buf_i, buf_m, buf_t,
                                       buf_s, boff, ci, MV_REPLACE_PRIMARY, t, tbest)
                    over |= o
            # f r:t (FailoverAndReplace)
            if fr_ok and add_sec(nf, toff, tdx, inf, i, s, peers, nnodes, False, force_p,
                                 scratch, roff + R_SEC_S * NF) == OK:
                if has_loc:
                    add_pri(scratch, r_int_s, s, inf, i,
                            float(popcount_and(loc, s * words, loc, tdx * words, words)),
                            ptag, ntags, etag_ptr, etag_ids, 0, loc, dsrd, words, force_p,
                            scratch, roff + R_FR_S * NF)
                    node_values(scratch, roff + R_FR_S * NF, svals, voff0 + R_FR_S * ncomp)
                node_values(scratch, roff + R_SEC_S * NF, svals, voff0 + R_SEC_S * ncomp)
                nodes[ooff] = tdx
                voffs[ooff] = voff0 + R_SEC_S * ncomp
                nodes[ooff + 1] = s
                voffs[ooff + 1] = voff0 + R_FR_S * ncomp
                nodes[ooff + 2] = p
                voffs[ooff + 2] = voff0 + R_INT_P * ncomp
                lex = 0.0
                if not forthcoming:
                    lex = locexcl_delta(inf, i, p, s, nf, etag_ptr, etag_ids, loc, words,
                                        gcount, ntags, gtmp, goff)
                score = approx_score(nf, vals, nodes, ooff, svals, voffs, mean, c1, c2, cnt, sums, kinds,
                                     weights, lex)
                count, o = _record(score, best, chunk, tol, count, cap, buf_i, buf_m, buf_t,
                                   buf_s, boff, ci, MV_FAILOVER_AND_REPLACE, t, tbest)
                over |= o
            _top_insert(topt, tops, rest, i, K, tdx, tbest[chunk] - offv)
    out_count[chunk] = count
    out_over[chunk] = over


def scan_moves(nchunks, nf, inf, cands, targets, vals, mean, c1, c2, cnt, sums, kinds,
               weights, peers, nnodes, ptag, ntags, etag_ptr, etag_ids, loc, dsrd, words, mig,
               rmig, gcount, flags, tol, out_best, buf_i, buf_m, buf_t, buf_s, out_count,
               out_over, scratch, svals, gtmp, nodes, voffs, best, modes, tmask, K, topt,
               tops, rest, fo, off, known, ksnap, tbest, tlist, tnode, bases):
    """scan_chunk over all chunks (in parallel once compiled)."""
    for chunk in prange(nchunks):
        scan_chunk(chunk, nchunks, nf, inf, cands, targets, vals, mean, c1, c2, cnt, sums,
                   kinds, weights, peers, nnodes, ptag, ntags, etag_ptr, etag_ids, loc,
                   dsrd, words, mig, rmig, gcount, flags, tol, out_best, buf_i, buf_m, buf_t,
                   buf_s, out_count, out_over, scratch, svals, gtmp, nodes, voffs, best, modes,
                   tmask, K, topt, tops, rest, fo, off, known, ksnap, tbest, tlist, tnode,
                   bases)


def drift_bounds(inf, cands, modes, off, pvar, psum, cvar, csum, pdev, n, scales,
                 shift, kinds, weights, tol):
    """Lower bounds, for the instances in mode 1, of how much any of their
    moves (which involve none of the nodes that changed) can have gained
    since the last step: the cluster statistics moved (from pvar/psum to
    cvar/csum per component), so every score moved, by an amount bounded
    from the instance's size.  Adds it to off[i]."""
    s_mem = scales[0]
    s_dsk = scales[1]
    s_spn = scales[2]
    s_cpu = scales[3]
    s_hispn = scales[4]
    s_prem = scales[5]
    for ci in range(len(cands)):
        if modes[ci] != 1:
            continue
        ioff = cands[ci] * IF
        mem = inf[ioff + I_MEMORY]
        spn = inf[ioff + I_TOT_SPN]
        if spn < 1.0:
            spn = 1.0
        dsk = inf[ioff + I_DSK] * s_dsk
        if spn * s_spn > dsk:
            dsk = spn * s_spn
        drift = shift
        for c in range(len(kinds)):
            if kinds[c] != 0:
                continue
            if c == 0 or c == 13:
                delta = mem * s_mem
            elif c == 1 or c == 14:
                delta = dsk
            elif c == 3:
                delta = s_prem + mem * s_mem
            elif c == 6 or c == 15:
                delta = inf[ioff + I_VCPUS] * s_cpu
            elif c == 7:
                delta = abs(inf[ioff + I_UTIL_C])
            elif c == 8:
                delta = abs(inf[ioff + I_UTIL_M])
            elif c == 9:
                delta = abs(inf[ioff + I_UTIL_D])
            elif c == 10:
                delta = abs(inf[ioff + I_UTIL_N])
            else:
                delta = inf[ioff + I_SPINDLE_USE] * s_hispn
            x = (cvar[c] - pvar[c]) - 6.0 * abs(csum[c] - psum[c]) * delta / (n * n)
            if x < 0.0:
                v = pvar[c] - 3.0 * delta * (2.0 * pdev[c] + delta) / n \
                    - (3.0 * delta / n) * (3.0 * delta / n)
                if v < -x:
                    v = -x
                drift += weights[c] * (math.sqrt(v + x) - math.sqrt(v))
        off[cands[ci]] += drift - tol


prange = range      # numba.prange in the compiled copy (htools.jit)
