"""What hbal and hail print: node and instance tables, solution lines,
job sets and the gnt-instance commands (Ganeti's formats)."""

from qganeti.htools import hsfmt
from qganeti.htools import consts as C
from qganeti.htools.consts import IF, NF, NO_NODE

DEFAULT_FIELDS = ["status", "name", "tmem", "nmem", "imem", "xmem", "fmem", "umem",
                  "rmem", "tdsk", "fdsk", "tcpu", "ucpu", "pcnt", "scnt", "pfmem", "pfdsk",
                  "rcpu", "cload", "mload", "dload", "nload"]

HEADERS = {
    "idx": ("Index", True), "name": ("Name", False), "fqdn": ("Name", False),
    "status": ("F", False), "tmem": ("t_mem", True), "nmem": ("n_mem", True),
    "xmem": ("x_mem", True), "fmem": ("f_mem", True), "umem": ("u_mem", True),
    "amem": ("a_mem", True), "imem": ("i_mem", True), "rmem": ("r_mem", True),
    "tdsk": ("t_dsk", True), "fdsk": ("f_dsk", True), "tcpu": ("pcpu", True),
    "ucpu": ("vcpu", True), "pcnt": ("pcnt", True), "scnt": ("scnt", True),
    "plist": ("primaries", True), "slist": ("secondaries", True),
    "pfmem": ("p_fmem", True), "pfdsk": ("p_fdsk", True), "rcpu": ("r_cpu", True),
    "cload": ("lCpu", True), "mload": ("lMem", True), "dload": ("lDsk", True),
    "nload": ("lNet", True), "ptags": ("PrimaryTags", False), "peermap": ("PeerMap", False),
    "spindle_count": ("NodeSpindles", True), "hi_spindles": ("MaxSpindles", True),
    "inst_spindles": ("InstSpindles", True),
}
UNKNOWN = "<unknown field>"


def _int(x):
    return "%d" % int(x) if x == x and abs(x) != float("inf") else hsfmt.fixed(x, 0)


def _ptags(cl, n):
    counts = {}
    base = n * cl.ntags
    for tag_id, tag in enumerate(cl.tag_names):
        if cl.ptag[base + tag_id] > 0:
            counts[tag] = cl.ptag[base + tag_id]
    return ",".join("%s=%d" % (tag, counts[tag]) for tag in sorted(counts))


def node_field(cl, n, field):
    """Node.showField."""
    row = cl.nf[n * NF:(n + 1) * NF]
    if field == "idx":
        return "%4d" % n
    if field == "name":
        return cl.node_aliases[n]
    if field == "fqdn":
        return cl.noderecs[n].name
    if field == "status":
        if row[C.OFFLINE]:
            return "-"
        return "*" if row[C.FAIL_N1_FLAG] else " "
    if field == "tmem":
        return hsfmt.ffmt(row[C.T_MEM], 0, 5)
    if field in ("nmem", "xmem", "fmem", "imem", "rmem"):
        col = {"nmem": C.N_MEM, "xmem": C.X_MEM, "fmem": C.F_MEM, "imem": C.I_MEM,
               "rmem": C.R_MEM}[field]
        return _int(row[col]).rjust(5)
    if field == "umem":
        return _int(cl.unallocated_mem(n)).rjust(5)
    if field == "amem":
        return _int(cl.avail_mem(n)).rjust(5)
    if field == "tdsk":
        return hsfmt.ffmt(row[C.T_DSK] / 1024, 0, 5)
    if field == "fdsk":
        return ("%d" % (int(row[C.F_DSK]) // 1024)).rjust(5)
    if field == "tcpu":
        return hsfmt.ffmt(row[C.T_CPU], 0, 4)
    if field == "ucpu":
        return _int(row[C.U_CPU]).rjust(4)
    if field == "pcnt":
        return ("%d" % len(cl.plist[n])).rjust(3)
    if field == "scnt":
        return ("%d" % len(cl.slist[n])).rjust(3)
    if field == "plist":
        return "[%s]" % ",".join(str(i) for i in cl.plist[n])
    if field == "slist":
        return "[%s]" % ",".join(str(i) for i in cl.slist[n])
    if field == "pfmem":
        return hsfmt.ffmt(row[C.P_MEM], 4, 6)
    if field == "pfdsk":
        return hsfmt.ffmt(row[C.P_DSK], 4, 6)
    if field == "rcpu":
        return hsfmt.ffmt(row[C.P_CPU], 2, 5)
    if field in ("cload", "mload", "dload", "nload"):
        col = {"cload": C.LOAD_C, "mload": C.LOAD_M, "dload": C.LOAD_D,
               "nload": C.LOAD_N}[field]
        return hsfmt.ffmt(row[col], 3, 5)
    if field == "ptags":
        return _ptags(cl, n)
    if field == "peermap":
        return "[%s]" % ",".join("(%d,%d)" % kv for kv in cl.peerlist[n])
    if field == "spindle_count":
        return "%d" % row[C.T_SPN]
    if field == "hi_spindles":
        return hsfmt.show_double(row[C.HI_SPN])
    if field == "inst_spindles":
        return hsfmt.show_double(row[C.INST_SPN])
    return UNKNOWN


def node_table(cl, fields, nodes):
    """Cluster.printNodes (-p[FIELDS]); fields [] means the defaults,
    ["+", ...] the defaults plus more."""
    if not fields:
        fields = DEFAULT_FIELDS
    elif fields[0] == "+":
        fields = DEFAULT_FIELDS + fields[1:]
    header = [HEADERS.get(f, (UNKNOWN, False))[0] for f in fields]
    isnum = [HEADERS.get(f, (UNKNOWN, False))[1] for f in fields]
    rows = [[node_field(cl, n, f) for f in fields] for n in sorted(nodes)]
    return hsfmt.print_table("", header, rows, isnum)


def instance_table(cl, insts):
    """Cluster.printInsts (--print-instances)."""
    rows = []
    for i in sorted(insts):
        off = i * IF
        snode = int(cl.inf[off + C.I_SNODE])
        rows.append([
            "R" if cl.is_running(i) else " ",
            cl.instrecs[i].name,
            cl.noderecs[int(cl.inf[off + C.I_PNODE])].name,
            cl.noderecs[snode].name if snode != NO_NODE else "",
            "Y" if cl.inf[off + C.I_AUTO_BAL] else "N",
            "%3d" % cl.inf[off + C.I_VCPUS],
            "%5d" % cl.inf[off + C.I_MEMORY],
            "%5d" % (int(cl.inf[off + C.I_DSK]) // 1024),
            hsfmt.ffmt(cl.inf[off + C.I_UTIL_C], 3, 5),
            hsfmt.ffmt(cl.inf[off + C.I_UTIL_M], 3, 5),
            hsfmt.ffmt(cl.inf[off + C.I_UTIL_D], 3, 5),
            hsfmt.ffmt(cl.inf[off + C.I_UTIL_N], 3, 5),
        ])
    header = ["F", "Name", "Pri_node", "Sec_node", "Auto_bal", "vcpu", "mem", "dsk",
              "lCpu", "lMem", "lDsk", "lNet"]
    return hsfmt.print_table("", header, rows, [False] * 5 + [True] * 7)


def move_commands(move, iname, running, npri, nsec):
    """Cluster.computeMoves: the short move code and gnt-instance commands."""
    mig = "%s -f %s" % ("migrate" if running else "failover", iname)

    def rep(node):
        return "replace-disks -n %s %s" % (node, iname)
    if move == C.MV_FAILOVER:
        return "f", [mig]
    if move == C.MV_FAILOVER_ANY:
        return "fa:%s" % npri, ["%s -f -n %s %s" % ("migrate" if running else "failover",
                                                   npri, iname)]
    if move == C.MV_FAILOVER_AND_REPLACE:
        return "f r:%s" % nsec, [mig, rep(nsec)]
    if move == C.MV_REPLACE_SECONDARY:
        return "r:%s" % nsec, [rep(nsec)]
    if move == C.MV_REPLACE_AND_FAILOVER:
        return "r:%s f" % npri, [rep(npri), mig]
    return "f r:%s f" % npri, [mig, rep(npri), mig]


def solution_line(cl, old_nodes, placement, step, nmlen, imlen):
    """Cluster.printSolutionLine: (line, commands).  old_nodes are the
    instance's (primary, secondary) before the move."""
    i, npdx, nsdx, move, _, score = placement
    alias = cl.node_aliases
    inam = cl.inst_aliases[i]
    npri = alias[npdx]
    nsec = alias[nsdx] if nsdx != NO_NODE else ""
    opdx, osdx = old_nodes
    code, cmds = move_commands(move, inam, cl.is_running(i), npri, nsec)
    ostr = alias[opdx] if osdx == NO_NODE else "%s:%s" % (alias[opdx], alias[osdx])
    nstr = npri if nsdx == NO_NODE else "%s:%s" % (npri, nsec)
    pmlen = 2 * nmlen + 1
    line = "  %3d. %s %s => %s %s a=%s" % (step, inam.ljust(imlen), ostr.ljust(pmlen),
                                           nstr.ljust(pmlen), hsfmt.ffmt(score, 8, 12), code)
    return line, cmds


def involved_nodes(old_nodes, placement):
    """Cluster.involvedNodes: old and new nodes of a move, no duplicates."""
    _, npdx, nsdx, _, _, _ = placement
    out = []
    for n in [npdx, nsdx] + list(old_nodes):
        if n >= 0 and n not in out:
            out.append(n)
    return out


def split_jobs(jobs):
    """Cluster.splitJobs: jobs (in move order) into sets that can run in
    parallel, scanning from the last move back."""
    sets = []
    buf = []
    for job in reversed(jobs):
        nodes = job[0]
        if sets and not set(nodes) & set(buf):
            sets[0].insert(0, job)
            buf = nodes + buf
        else:
            sets.insert(0, [job])
            buf = list(nodes)
    return sets


def format_cmds(jobsets):
    """Cluster.formatCmds: the job set script text."""
    lines = []
    for jsn, jobs in enumerate(jobsets, 1):
        for sn, job in enumerate(jobs, 1):
            if sn == 1:
                lines += ["", "echo jobset %d, %d jobs" % (jsn, len(jobs))]
            lines += ["  echo job %d/%d" % (jsn, sn), "  check"]
            lines += ["  gnt-instance " + cmd for cmd in job[1]]
    return "".join(line + "\n" for line in lines)


SH_TEMPLATE = ("#!/bin/sh\n\n"
               "# Auto-generated script for executing cluster rebalancing\n\n"
               "# To stop, touch the file /tmp/stop-htools\n\n"
               "set -e\n\n"
               "check() {\n"
               "  if [ -f /tmp/stop-htools ]; then\n"
               "    echo 'Stop requested, exiting'\n"
               "    exit 0\n"
               "  fi\n"
               "}\n\n")
