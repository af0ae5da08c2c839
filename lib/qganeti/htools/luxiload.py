"""-L: the cluster read through LUXI (Ganeti's Backend/Luxi.hs queries).

A minimal reader used until the full backends module (htools.backends)
is there; hbal.load_cluster prefers that one when it exists.
"""

import errno

from qganeti.htools import consts as C
from qganeti.htools.cluster import Cluster, Group, InstRec, LoadError, NodeRec

NODE_FIELDS = ["name", "mtotal", "mnode", "mfree", "dtotal", "dfree", "ctotal", "cnos",
               "offline", "drained", "vm_capable", "ndp/spindle_count", "group.uuid", "tags",
               "ndp/exclusive_storage", "sptotal", "spfree", "ndp/cpu_speed"]
INSTANCE_FIELDS = ["name", "disk_usage", "be/memory", "be/vcpus", "status", "pnode", "snodes",
                   "tags", "oper_ram", "be/auto_balance", "disk_template", "be/spindle_use",
                   "disk.sizes", "disk.spindles", "forthcoming"]
GROUP_FIELDS = ["uuid", "name", "alloc_policy", "ipolicy", "tags"]


def _rows(result):
    return [[value if status == 0 else None for status, value in row]
            for row in result["data"]]


def _ipolicy(obj, what):
    from qganeti.htools import ialloc
    return ialloc.parse_ipolicy(obj, what)


def _connect_error(exc, address):
    if isinstance(getattr(exc, "__cause__", None), OSError) or "No such file" in str(exc) \
            or type(exc).__name__ == "NoMasterError":
        return ("Network.Socket.connect: <socket: 3>: does not exist (%s)"
                % "No such file or directory")
    return str(exc)


def query(address):
    """The four answers Ganeti's reader asks luxid for."""
    from qganeti import luxi
    client = luxi.Client(address)
    try:
        nodes = client.Query("node", NODE_FIELDS, None)
        insts = client.Query("instance", INSTANCE_FIELDS, None)
        info = client.QueryClusterInfo()
        groups = client.Query("group", GROUP_FIELDS, None)
    except Exception as exc:    # every LUXI failure is a load failure
        raise LoadError(_connect_error(exc, address))
    finally:
        client.close()
    return _rows(groups), _rows(nodes), _rows(insts), info


def load(address):
    groups_q, nodes_q, insts_q, info = query(address)
    groups = []
    for uuid, name, apol, ipol, tags in groups_q:
        if apol not in C.ALLOC_POLICIES:
            raise LoadError("Group '%s', error while reading attribute 'alloc_policy'" % name)
        groups.append(Group(name, uuid, C.ALLOC_POLICIES.index(apol), list(tags or []), [],
                            _ipolicy(ipol, "Group '%s'" % name)))
    gdx = {g.uuid: k for k, g in enumerate(groups)}
    nodes = []
    for (name, mtotal, mnode, mfree, dtotal, dfree, ctotal, cnos, offline, drained,
         vm_capable, spindles, guuid, tags, excl, sptotal, spfree, speed) in nodes_q:
        if guuid not in gdx:
            raise LoadError("Unknown group '%s' for node %s" % (guuid, name))
        live = not offline and vm_capable

        def lv(value, default):
            return value if live and value is not None else default
        t_spn = lv(sptotal, 0) if excl else (spindles or 0)
        nodes.append(NodeRec(name, float(lv(mtotal, 0.0)), int(lv(mnode, 0)),
                             int(lv(mfree, 0)), float(lv(dtotal, 0.0)), int(lv(dfree, 0)),
                             float(lv(ctotal, 0.0)), int(lv(cnos, 0)),
                             not live or bool(drained), int(t_spn), int(lv(spfree, 0)),
                             gdx[guuid], bool(excl), tags=tags or [],
                             cpu_speed=float(speed if speed is not None else 1.0)))
    ndx = {n.name: k for k, n in enumerate(nodes)}
    insts = []
    for (name, disk, mem, vcpus, status, pnode, snodes, tags, oram, auto_bal, dt, su, sizes,
         spindles, forth) in insts_q:
        if pnode not in ndx or (snodes and snodes[0] not in ndx):
            raise LoadError("Unknown node '%s' for instance %s"
                            % (pnode if pnode not in ndx else snodes[0], name))
        if dt not in C.DISK_TEMPLATES or status not in C.STATUSES:
            raise LoadError("Instance '%s', error while reading attribute 'status'" % name)
        memory = oram if isinstance(oram, (int, float)) and not isinstance(oram, bool) else mem
        disks = list(zip(sizes or [], spindles or [None] * len(sizes or [])))
        insts.append(InstRec(name, int(memory), int(disk or 0), disks, int(vcpus),
                             C.STATUSES.index(status), tags or [], bool(auto_bal), ndx[pnode],
                             ndx[snodes[0]] if snodes else C.NO_NODE,
                             C.DISK_TEMPLATES.index(dt), int(su), (), bool(forth)))
    # Ganeti 3.0.2 takes the default hypervisor as every node's (for
    # --static-kvm-node-memory)
    for node in nodes:
        node.hypervisor = info.get("default_hypervisor")
    master = info.get("master")
    if master not in ndx:
        raise LoadError("Invalid master node %s" % master)
    nodes[ndx[master]].master = True
    return Cluster(groups, nodes, insts, list(info.get("tags") or []),
                   _ipolicy(info.get("ipolicy"), "Parsing cluster info"))
