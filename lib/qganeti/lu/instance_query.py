"""OP_INSTANCE_QUERY_DATA: an instance's configuration and runtime state.

The result is Ganeti's: {name: {name, config_state, run_state, pnode,
pnode_group_uuid, pnode_group_name, snodes, snodes_group_uuids,
snodes_group_names, os, nics, disk_template, disks, hypervisor,
network_port, hv_instance, hv_actual, be_instance, be_actual, os_instance,
os_actual, serial_no, mtime, ctime, uuid}}, plus (beyond Ganeti) the
instance's snapshots.  gnt-instance info prints it.
"""

from qganeti import errors
from qganeti.lu import instance_util as iu


def _wanted(op, ctx):
    from qganeti import config
    cfg = ctx.config()
    if not op["instances"]:
        return sorted(cfg["instances"], key=lambda u: cfg["instances"][u]["name"])
    return [config.instance_uuid(cfg, name) for name in op["instances"]]


class QueryData:

    @staticmethod
    def expand(op, ctx):
        uuids = _wanted(op, ctx)
        iu.priv(ctx)["uuids"] = uuids
        if not op["use_locking"]:
            return []
        if not op["static"]:
            ctx.log_warning("Non-static data requested, locks need to be acquired")
        cfg = ctx.config()
        return [("instance/" + cfg["instances"][u]["name"], "shared") for u in uuids]

    @staticmethod
    def run(op, ctx):
        cfg = ctx.config(reload=True)
        result = {}
        for uuid in iu.priv(ctx)["uuids"]:
            inst = cfg["instances"].get(uuid)
            if inst is None:
                continue
            result[inst["name"]] = _data(op, ctx, cfg, inst)
        return result


def _disk_status(op, ctx, node, disk):
    """Ganeti's blockdev status tuple, or None (static, inactive, missing)."""
    if op["static"] or disk["dev_type"] not in iu.FILE_TEMPLATES:
        return None
    cfg = ctx.config()
    if cfg["nodes"].get(node, {}).get("offline"):
        return None
    try:
        info = ctx.node_call(node, "disk-info", [disk["dev_type"], disk["logical_id"][1]])
    except errors.OpExecError:
        return None
    return [info["path"], None, None, None, None, False, 1]


def _disk(op, ctx, inst, disk):
    pstatus = _disk_status(op, ctx, inst["primary_node"], disk)
    return {"iv_name": disk.get("iv_name"), "dev_type": disk["dev_type"],
            "logical_id": disk.get("logical_id"), "physical_id": None,
            "pstatus": pstatus, "sstatus": None, "children": [], "mode": disk.get("mode"),
            "size": disk.get("size"), "spindles": disk.get("spindles"),
            "name": disk.get("name"), "uuid": disk["uuid"]}


def _data(op, ctx, cfg, inst):
    pnode = cfg["nodes"].get(inst["primary_node"], {})
    group = cfg["nodegroups"].get(pnode.get("group"), {})
    snodes = iu.secondary_nodes(cfg, inst)
    run_state = None
    info = None
    if not op["static"] and not pnode.get("offline"):
        try:
            info = iu.runtime(ctx, inst)
        except errors.OpPrereqError:
            info = None
        run_state = "up" if info else "down"
    osp = iu.filled_os(cfg, inst["os"], inst.get("osparams"))
    out = {
        "name": inst["name"], "config_state": inst["admin_state"], "run_state": run_state,
        "pnode": pnode.get("name"), "pnode_group_uuid": pnode.get("group"),
        "pnode_group_name": group.get("name"),
        "snodes": [iu.node_name(cfg, n) for n in snodes],
        "snodes_group_uuids": [cfg["nodes"][n]["group"] for n in snodes],
        "snodes_group_names": [cfg["nodegroups"][cfg["nodes"][n]["group"]]["name"]
                               for n in snodes],
        "os": inst["os"],
        "nics": [list(t) for t in iu.nic_tuples(cfg, inst.get("nics") or [])],
        "disk_template": iu.template_of(iu.disks_of(cfg, inst)),
        "disks": [_disk(op, ctx, inst, d) for d in iu.disks_of(cfg, inst)],
        "hypervisor": inst["hypervisor"], "network_port": inst.get("network_port"),
        "hv_instance": dict(inst.get("hvparams") or {}),
        "hv_actual": iu.filled_hv(cfg, inst, skip_globals=True),
        "be_instance": dict(inst.get("beparams") or {}),
        "be_actual": iu.filled_be(cfg, inst),
        "os_instance": dict(inst.get("osparams") or {}), "os_actual": osp,
        "serial_no": inst.get("serial_no"), "mtime": inst.get("mtime"),
        "ctime": inst.get("ctime"), "uuid": inst["uuid"],
        "snapshots": list(inst.get("snapshots") or []),
    }
    if info and info.get("accel"):
        # beyond Ganeti: how a kvm instance really runs (KVM, or TCG and why)
        out["accelerator"] = info["accel"] + (" (%s)" % info["accel_note"]
                                              if info.get("accel_note") else "")
    return out
