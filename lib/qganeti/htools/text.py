"""The htools text backend: `-t FILE` reading and `-S FILE` writing.

Sections separated by empty lines: groups, nodes, instances, cluster
tags, instance policies.  Fields are split on '|' and validated in
Ganeti's order, so the first problem reported is the one Ganeti reports,
with Ganeti's wording.
"""

from qganeti.htools import consts as C
from qganeti.htools import hsfmt
from qganeti.htools.cluster import (
    Cluster, Group, InstRec, IPolicy, LoadError, NodeRec, default_ipolicy, sep_split)
from qganeti.htools.consts import NF, NO_NODE


def _raw_show(fields):
    return "'%s'" % hsfmt.show_string_list(fields)


def _read(name, text, integral):
    try:
        return hsfmt.try_read(name, text, integral)
    except hsfmt.ParseError as exc:
        raise LoadError(str(exc))


def _enum(value, names, typename):
    if value not in names:
        raise LoadError("Invalid string value for type %s: %s"
                        % (typename, hsfmt.show_string(value)))
    return names.index(value)


def parse_group(fields, ipolicy):
    if len(fields) < 4:
        raise LoadError("Invalid/incomplete group data: " + _raw_show(fields))
    name, uuid, policy, tags = fields[:4]
    nets = fields[4] if len(fields) > 4 else ""
    policy = _enum(policy, C.ALLOC_POLICIES, "AllocPolicy")
    return Group(name, uuid, policy, sep_split(",", tags), sep_split(",", nets), ipolicy)


def parse_node(fields, group_by_uuid):
    if len(fields) < 9:
        raise LoadError("Invalid/incomplete node data: " + _raw_show(fields))
    fields = fields + ["1", "", "N", "0", "1", "1.0"][max(0, len(fields) - 9):]
    name, tm, nm, fm, td, fd, tc, flag, guuid = fields[:9]
    spindles, tags, excl, free_sp, n_cpu, cpu_speed = fields[9:15]
    if guuid not in group_by_uuid:
        raise LoadError("Unknown group '%s' for node %s" % (guuid, name))
    gdx = group_by_uuid[guuid]
    if "?" in (tm, nm, fm, td, fd, tc):
        return NodeRec(name, 0.0, 0, 0, 0.0, 0, 0.0, 0, True, 0, 0, gdx, False)
    vals = [_read(name, v, integral) for v, integral in
            ((tm, False), (nm, True), (fm, True), (td, False), (fd, True), (tc, False))]
    v_ncpu = _read(name, n_cpu, True)
    v_spindles = _read(name, spindles, True)
    v_speed = _read(name, cpu_speed, False)
    v_free = _read(name, free_sp, True)
    if excl not in ("Y", "N"):
        raise LoadError("Invalid exclusive_storage value for node '%s': %s" % (name, excl))
    return NodeRec(name, vals[0], vals[1], vals[2], vals[3], vals[4], vals[5], v_ncpu,
                   flag == "Y", v_spindles, v_free, gdx, excl == "Y", master=flag == "M",
                   tags=sep_split(",", tags), cpu_speed=v_speed)


def parse_instance(fields, node_by_name):
    if len(fields) < 10:
        raise LoadError("Invalid/incomplete instance data: " + _raw_show(fields))
    fields = fields + ["1", "-", "N"][max(0, len(fields) - 10):]
    name, mem, dsk, vcpus, status, auto_bal, pnode, snode, dt, tags = fields[:10]
    su, spindles, forth = fields[10:13]

    def lookup(node):
        if node not in node_by_name:
            raise LoadError("Unknown node '%s' for instance %s" % (node, name))
        return node_by_name[node]
    pidx = lookup(pnode)
    sidx = lookup(snode) if snode else NO_NODE
    vmem = _read(name, mem, True)
    vdsk = _read(name, dsk, True)
    vvcpus = _read(name, vcpus, True)
    vstatus = _enum(status, C.STATUSES, "InstanceStatus")
    if auto_bal not in ("Y", "N"):
        raise LoadError("Invalid auto_balance value '%s' for instance %s" % (auto_bal, name))
    if dt not in C.DISK_TEMPLATES:
        raise LoadError("Instance %s: Invalid string value for type DiskTemplate: %s"
                        % (name, hsfmt.show_string(dt)))
    vsu = _read(name, su, True)
    vspindles = None if spindles == "-" else _read(name, spindles, True)
    if forth not in ("Y", "N"):
        raise LoadError("Invalid forthcoming value '%s' for instance %s" % (forth, name))
    if sidx == pidx:
        raise LoadError("Instance %s has same primary and secondary node - %s"
                        % (name, pnode))
    return InstRec(name, vmem, vdsk, [(vdsk, vspindles)], vvcpus, vstatus,
                   sep_split(",", tags), auto_bal == "Y", pidx, sidx, C.DT_CODE[dt], vsu,
                   forthcoming=forth == "Y")


def parse_ispec(owner, text):
    fields = sep_split(",", text)
    if len(fields) != 6:
        raise LoadError("Invalid ispec data for %s: %s"
                        % (owner, hsfmt.show_string_list(fields)))
    names = ("memsize", "cpucount", "disksize", "diskcount", "niccount", "spindleuse")
    return tuple(_read("%s/%s" % (owner, label), value, True)
                 for label, value in zip(names, fields))


def parse_ipolicy(fields):
    if len(fields) < 6:
        raise LoadError("Invalid ipolicy data: " + _raw_show(fields))
    owner, std, minmax, dts, vcpu, spindle = fields[:6]
    vstd = parse_ispec(owner + "/stdspec", std)
    specs = sep_split(";", minmax)
    if len(specs) % 2:
        raise LoadError("Odd number of min/max specs for " + owner)
    pairs = []
    for k in range(0, len(specs), 2):
        pairs.append((parse_ispec(owner + "/minspec", specs[k]),
                      parse_ispec(owner + "/maxspec", specs[k + 1])))
    templates = [_enum(dt, C.DISK_TEMPLATES, "DiskTemplate") for dt in sep_split(",", dts)]
    vvcpu = _read(owner + "/vcpu_ratio", vcpu, False)
    vspindle = _read(owner + "/spindle_ratio", spindle, False)
    return owner, IPolicy(pairs, vstd, templates, vvcpu, vspindle)


def split_sections(text):
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    sections, current = [], []
    if not lines:
        return sections
    for line in lines:
        if line == "":
            sections.append(current)
            current = []
        else:
            current.append(line)
    sections.append(current)
    return sections


def parse(text):
    """Build a Cluster (not yet finished) from text-backend data."""
    sections = split_sections(text)
    if len(sections) < 4:
        raise LoadError("Invalid format of the input file: %d sections instead of 4 or more"
                        % len(sections))
    glines, nlines, ilines, ctags = sections[:4]
    pollines = sections[4] if len(sections) > 4 else []
    groups = [parse_group(line.split("|"), default_ipolicy()) for line in glines]
    group_by_uuid = {g.uuid: k for k, g in enumerate(groups)}
    nodes = [parse_node(line.split("|"), group_by_uuid) for line in nlines]
    node_by_name = {n.name: k for k, n in enumerate(nodes)}
    instances = [parse_instance(line.split("|"), node_by_name) for line in ilines]
    cpol = default_ipolicy()
    for line in pollines:
        owner, ipol = parse_ipolicy(line.split("|"))
        if owner == "":
            cpol = ipol
            continue
        matches = [g for g in groups if owner in (g.name, g.uuid)]
        if len(matches) != 1:
            raise LoadError("Wrong number of elems found with name " + owner)
        matches[0].ipolicy = ipol
    return Cluster(groups, nodes, instances, list(ctags), cpol)


def load(path):
    """Read a text-backend file; LoadError carries Ganeti's message."""
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as handle:
            text = handle.read()
    except OSError as exc:
        raise LoadError("%s: openFile: %s" % (path, _io_reason(exc)))
    return parse(text)


def _io_reason(exc):
    import errno
    reasons = {errno.ENOENT: "does not exist (No such file or directory)",
               errno.EACCES: "permission denied (Permission denied)",
               errno.EISDIR: "inappropriate type (is a directory)"}
    return reasons.get(exc.errno, "failed (%s)" % exc.strerror)


# -- writing ----------------------------------------------------------------

def write_file(prog, path, data):
    """Ganeti's writeFile: a file that cannot be written is reported the
    way openFile reports it, and the program exits 1."""
    import sys
    try:
        with open(path, "w", encoding="utf-8", errors="surrogateescape") as handle:
            handle.write(data)
    except OSError as exc:
        sys.stdout.flush()
        sys.stderr.write("%s: %s: openFile: %s\n" % (prog, path, _io_reason(exc)))
        raise SystemExit(1)


def _ispec(spec):
    return ",".join(str(int(v)) for v in spec)


def serialize_ipolicy(owner, pol):
    minmax = ";".join("%s;%s" % (_ispec(lo), _ispec(hi)) for lo, hi in pol.minmax)
    return "|".join([owner, _ispec(pol.std), minmax,
                     ",".join(C.DISK_TEMPLATES[t] for t in pol.templates),
                     hsfmt.show_double(pol.vcpu_ratio), hsfmt.show_double(pol.spindle_ratio)])


def serialize(cl, nodes=None, insts=None):
    """Text-backend data of the cluster in its current state (of only the
    given nodes and instances, as hbal saves a balanced group)."""
    nodes = range(cl.nnodes) if nodes is None else nodes
    insts = range(cl.ninsts) if insts is None else insts
    nf, inf = cl.nf, cl.inf
    glines = ["%s|%s|%s|%s|%s" % (g.name, g.uuid, C.ALLOC_POLICIES[g.policy],
                                  ",".join(g.tags), ",".join(g.networks))
              for g in cl.groups]
    nlines = []
    for n in nodes:
        node = cl.noderecs[n]
        off = n * NF
        if nf[off + C.OFFLINE]:
            flag = "Y"
        elif nf[off + C.MASTER]:
            flag = "M"
        else:
            flag = "N"
        nlines.append("|".join([
            node.name, hsfmt.fixed(nf[off + C.T_MEM], 0), "%d" % nf[off + C.N_MEM],
            "%d" % nf[off + C.F_MEM], hsfmt.fixed(nf[off + C.T_DSK], 0),
            "%d" % nf[off + C.F_DSK], hsfmt.fixed(nf[off + C.T_CPU], 0), flag,
            cl.groups[node.group].uuid, "%d" % nf[off + C.T_SPN], ",".join(node.tags),
            "Y" if nf[off + C.EXCL] else "N", "%d" % nf[off + C.F_SPN],
            "%d" % nf[off + C.N_CPU], hsfmt.fixed_shortest(nf[off + C.CPU_SPEED])]))
    ilines = []
    for i in insts:
        rec = cl.instrecs[i]
        ioff = i * C.IF
        snode = int(inf[ioff + C.I_SNODE])
        spindles = rec.total_spindles()
        ilines.append("|".join([
            rec.name, "%d" % rec.mem, "%d" % rec.dsk, "%d" % rec.vcpus,
            C.STATUSES[rec.runst], "Y" if rec.auto_balance else "N",
            cl.noderecs[int(inf[ioff + C.I_PNODE])].name,
            cl.noderecs[snode].name if snode != NO_NODE else "",
            C.DISK_TEMPLATES[rec.dt], ",".join(rec.tags), "%d" % rec.spindle_use,
            "-" if spindles is None else "%d" % spindles,
            "Y" if rec.forthcoming else "N"]))
    plines = [serialize_ipolicy("", cl.cpol)] + [serialize_ipolicy(g.name, g.ipolicy)
                                                 for g in cl.groups]

    def block(lines):
        return "".join(line + "\n" for line in lines)
    return "\n".join([block(glines), block(nlines), block(ilines), block(cl.ctags),
                      block(plines)])
