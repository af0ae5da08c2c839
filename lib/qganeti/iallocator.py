"""The cluster side of the iallocator protocol (Ganeti's masterd/iallocator).

A request (protocol version 2) is built from config.data and what the
nodes report now (node-info, instance-list), written to a temporary file
and handed to libexec/qganeti/iallocators/<name> (qganeti runs only its
own allocators); the reply is checked as Ganeti checks it and its
failures become Ganeti's errors.
"""

import json
import os
import subprocess
import tempfile

from qganeti import errors, paths

VERSION = 2
DRBD_META_SIZE = 128
# templates whose instances need a second node
MIRRORED_INTERNAL = ("drbd",)


def disk_space_total(template, sizes):
    """Ganeti's ComputeDiskSize: MiB an instance needs on its nodes."""
    if template in ("diskless", "blockdev"):
        return 0
    if template == "drbd":
        return sum(size + DRBD_META_SIZE for size in sizes)
    return sum(sizes)


def _template(cfg, inst):
    from qganeti.lu import instance_util as iu
    return inst.get("disk_template") or iu.template_of(iu.disks_of(cfg, inst))


def _live(ctx, cfg, uuids):
    """node-info and instance-list of the nodes that answer."""
    from qganeti import nodecall
    storage = [cfg["cluster"].get("file_storage_dir") or ""]
    info = nodecall.run_many(cfg, uuids, "node-info", storage)
    hvs = cfg["cluster"].get("enabled_hypervisors") or ["fake"]
    running = nodecall.run_many(cfg, uuids, "instance-list", hvs)
    return info, running


def _nic(cfg, nic):
    from qganeti import defaults
    params = defaults.simple_fill_nic(cfg["cluster"], nic.get("nicparams") or {})
    out = {"mac": nic.get("mac"), "ip": nic.get("ip"), "mode": params.get("mode"),
           "link": params.get("link")}
    if nic.get("network"):
        out["network"] = nic["network"]
    if params.get("mode") == "bridged":
        out["bridge"] = params.get("link")
    return out


def cluster_data(ctx, cfg):
    """The request document without its `request`."""
    from qganeti import defaults
    from qganeti.lu import instance_util as iu
    cluster = cfg["cluster"]
    groups = {}
    for uuid, grp in cfg["nodegroups"].items():
        groups[uuid] = {"name": grp["name"], "alloc_policy": grp.get("alloc_policy",
                                                                      "preferred"),
                        "networks": sorted(grp.get("networks") or {}),
                        "ipolicy": defaults.simple_fill_ipolicy(cluster,
                                                                grp.get("ipolicy") or {}),
                        "tags": list(grp.get("tags") or [])}
    live_nodes = [uuid for uuid, node in cfg["nodes"].items()
                  if not node.get("offline") and not node.get("drained")
                  and node.get("vm_capable", True)]
    info, running = _live(ctx, cfg, live_nodes) if live_nodes else ({}, {})
    primaries = {}
    for inst in cfg["instances"].values():
        primaries.setdefault(inst["primary_node"], []).append(inst)
    nodes = {}
    for uuid, node in cfg["nodes"].items():
        grp = cfg["nodegroups"].get(node["group"], {})
        data = {"tags": list(node.get("tags") or []), "primary_ip": node.get("primary_ip"),
                "secondary_ip": node.get("secondary_ip"), "offline": bool(node.get("offline")),
                "drained": bool(node.get("drained")),
                "master_candidate": bool(node.get("master_candidate")),
                "group": node["group"], "master_capable": node.get("master_capable", True),
                "vm_capable": node.get("vm_capable", True),
                "ndparams": defaults.fill_nd(cluster, grp, node)}
        node_info = info.get(uuid)
        if uuid in live_nodes and isinstance(node_info, dict):
            listed = running.get(uuid)
            listed = listed if isinstance(listed, dict) else {}
            free = node_info.get("mfree", 0)
            pri_mem = pri_up_mem = 0
            for inst in primaries.get(uuid, []):
                maxmem = iu.filled_be(cfg, inst).get("maxmem", 0)
                pri_mem += maxmem
                used = (listed.get(inst["name"]) or {}).get("memory", 0)
                free -= max(0, maxmem - used)
                if inst.get("admin_state") == "up":
                    pri_up_mem += maxmem
            data.update({"total_memory": node_info.get("mtotal", 0),
                         "reserved_memory": node_info.get("mnode", 0),
                         "free_memory": max(free, 0),
                         "total_disk": node_info.get("dtotal", 0),
                         "free_disk": node_info.get("dfree", 0),
                         "total_spindles": node_info.get("sptotal", 0),
                         "free_spindles": node_info.get("spfree", 0),
                         "total_cpus": node_info.get("ctotal", 0),
                         "reserved_cpus": node_info.get("cnos", 0),
                         "i_pri_memory": pri_mem, "i_pri_up_memory": pri_up_mem})
        nodes[node["name"]] = data
    instances = {}
    for inst in cfg["instances"].values():
        be = iu.filled_be(cfg, inst)
        disks = iu.disks_of(cfg, inst)
        template = _template(cfg, inst)
        instances[inst["name"]] = {
            "tags": list(inst.get("tags") or []),
            "admin_state": inst.get("admin_state", "down"),
            "admin_state_source": inst.get("admin_state_source", "admin"),
            "vcpus": be.get("vcpus", 1), "memory": be.get("maxmem", 0),
            "spindle_use": be.get("spindle_use", 1), "os": inst.get("os"),
            "nodes": [iu.node_name(cfg, u) for u in iu.instance_nodes(cfg, inst)],
            "nics": [_nic(cfg, nic) for nic in inst.get("nics") or []],
            "disks": [{"size": d["size"], "mode": d.get("mode", "rw"),
                       "spindles": d.get("spindles")} for d in disks],
            "disk_template": template, "disks_active": bool(inst.get("disks_active")),
            "hypervisor": inst.get("hypervisor"),
            "disk_space_total": disk_space_total(template, [d["size"] for d in disks])}
    return {"version": VERSION, "cluster_name": cluster.get("cluster_name"),
            "cluster_tags": list(cluster.get("tags") or []),
            "enabled_hypervisors": list(cluster.get("enabled_hypervisors") or []),
            "ipolicy": cluster.get("ipolicy") or {}, "nodegroups": groups, "nodes": nodes,
            "instances": instances}


def find(name):
    """The allocator program of that name (qganeti's own only)."""
    script = os.path.join(paths.IALLOCATOR_DIR, name)
    if os.path.basename(name) != name or not os.path.isfile(script):
        raise errors.OpExecError("Failure while running the iallocator script: iallocator"
                                 " module '%s' not found in the search path" % name)
    return script


def run(name, document, params=None):
    """Run the allocator on the document; its reply (dict) as Ganeti's
    IAllocator validates it.  Raises OpExecError."""
    script = find(name)
    args = []
    for key, value in sorted((params or {}).items()):
        args.append("--%s" % key if value is None else "--%s=%s" % (key, value))
    with tempfile.NamedTemporaryFile("w", prefix="ganeti-iallocator.", suffix=".json",
                                     dir=paths.run_dir() if os.path.isdir(paths.run_dir())
                                     else None) as handle:
        json.dump(document, handle)
        handle.flush()
        proc = subprocess.run([script, handle.name] + args, capture_output=True)
    if proc.returncode != 0:
        output = (proc.stdout + proc.stderr).decode("utf-8", "replace").strip()
        raise errors.OpExecError("Failure while running the iallocator script: external"
                                 " script failed: %s" % output)
    try:
        reply = json.loads(proc.stdout.decode("utf-8"))
    except ValueError as err:
        raise errors.OpExecError("Can't parse iallocator results: %s" % err)
    if not isinstance(reply, dict):
        raise errors.OpExecError("Can't parse iallocator results: not a dict")
    if "nodes" in reply and "result" not in reply:
        reply["result"] = reply.pop("nodes")
    for key in ("success", "info", "result"):
        if key not in reply:
            raise errors.OpExecError("Can't parse iallocator results: missing key '%s'" % key)
    return reply


def _alloc_request(cfg, op, template, disks, group_uuid=None):
    """Ganeti's IAReqInstanceAlloc: the request for one new instance."""
    from qganeti import defaults
    bep = {key: value for key, value in (op.get("beparams") or {}).items()
           if value != "auto"}
    be = defaults.simple_fill_be(cfg["cluster"], bep)
    sizes = [d["size"] for d in disks]
    request = {"name": op["instance_name"], "disk_template": template,
               "tags": list(op.get("tags") or []), "os": op.get("os_type"),
               "vcpus": be.get("vcpus", 1), "memory": be.get("maxmem", 0),
               "spindle_use": be.get("spindle_use", 1),
               "disks": [{"size": d["size"], "mode": d.get("mode", "rw"),
                          "spindles": d.get("spindles")} for d in disks],
               "disk_space_total": disk_space_total(template, sizes),
               "nics": [{"mac": nic.get("mac", "auto"), "ip": nic.get("ip"),
                         "mode": nic.get("mode"), "link": nic.get("link")}
                        for nic in op.get("nics") or []],
               "required_nodes": 2 if template in MIRRORED_INTERNAL else 1,
               "hypervisor": op.get("hypervisor")}
    if group_uuid is not None:
        request["group_name"] = cfg["nodegroups"][group_uuid]["name"]
    return request


def _eligible(cfg, group_uuid=None):
    return [uuid for uuid, node in sorted(cfg["nodes"].items())
            if node.get("vm_capable", True) and not node.get("offline")
            and not node.get("drained")
            and (group_uuid is None or node["group"] == group_uuid)]


def _ask(ctx, cfg, name, request, params=None):
    """Run allocator NAME on REQUEST over the cluster's data; its reply."""
    find(name)
    document = cluster_data(ctx, cfg)
    document["request"] = request
    merged = dict(cfg["cluster"].get("default_iallocator_params") or {})
    merged.update(params or {})
    return run(name, document, merged)


def _node_uuids(cfg, name, names):
    by_name = {node["name"]: uuid for uuid, node in cfg["nodes"].items()}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise errors.OpPrereqError("iallocator '%s' chose unknown node(s) %s"
                                   % (name, ", ".join(unknown)), errors.ECODE_FAULT)
    return [by_name[n] for n in names]


def _is_names(value):
    return isinstance(value, list) and all(isinstance(n, str) and n for n in value)


def allocate(ctx, cfg, name, op, template, disks, group_uuid=None):
    """Nodes (uuids) for a new instance, as the allocator chooses them."""
    request = _alloc_request(cfg, op, template, disks, group_uuid)
    request["type"] = "allocate"
    required = request["required_nodes"]
    eligible = _eligible(cfg, group_uuid)
    if not eligible:
        raise errors.OpPrereqError("Can't compute nodes using iallocator '%s': no suitable"
                                   " node" % name, errors.ECODE_NORES)
    find(name)
    if len(eligible) == 1 and required == 1:
        # nothing to choose; the allocator's global N+1 check could never pass
        return eligible
    reply = _ask(ctx, cfg, name, request)
    result = reply["result"]
    if reply["success"] and not (_is_names(result) and result):
        raise errors.OpExecError("iallocator returned invalid result, expected a non-empty"
                                 " list of node names, got %s" % (result,))
    if not reply["success"]:
        raise errors.OpPrereqError("Can't compute nodes using iallocator '%s': %s"
                                   % (name, reply["info"]), errors.ECODE_NORES)
    if len(result) != required:
        raise errors.OpPrereqError("iallocator '%s' returned invalid number of nodes (%s),"
                                   " required %s" % (name, len(result), required),
                                   errors.ECODE_FAULT)
    return _node_uuids(cfg, name, result)


def multi_allocate(ctx, cfg, name, items):
    """Ganeti's IAReqMultiInstanceAlloc.  ITEMS are (create opcode, template,
    disks); the answer is ([(instance name, [node uuids])], [failed names])."""
    requests = [_alloc_request(cfg, op, template, disks,
                               _group(cfg, op.get("group_name")))
                for op, template, disks in items]
    eligible = _eligible(cfg)
    if not eligible:
        raise errors.OpPrereqError("Can't compute nodes using iallocator '%s': no suitable"
                                   " node" % name, errors.ECODE_NORES)
    find(name)
    if len(eligible) == 1 and all(r["required_nodes"] == 1 for r in requests):
        # as allocate(): one node, nothing to choose; the creations check room
        return [(r["name"], eligible) for r in requests], []
    reply = _ask(ctx, cfg, name, {"type": "multi-allocate", "instances": requests})
    if not reply["success"]:
        raise errors.OpPrereqError("Can't compute nodes using iallocator '%s': %s"
                                   % (name, reply["info"]), errors.ECODE_NORES)
    result = reply["result"]
    try:
        done, failed = result
        done = [(iname, list(nodes)) for iname, nodes in done]
        # Ganeti's hail lists failed instances by name; ours adds the reason
        failed = [f[0] if isinstance(f, list) else f for f in failed]
        if not all(_is_names(nodes) and nodes for _, nodes in done) or not _is_names(failed):
            raise ValueError
    except (TypeError, ValueError):
        raise errors.OpExecError("iallocator returned invalid result, expected"
                                 " [[[name, [nodes]]...], [names]], got %s" % (result,))
    wanted = set(r["name"] for r in requests)
    missing = wanted - set(n for n, _ in done) - set(failed)
    if missing:
        raise errors.OpExecError("Iallocator did return incomplete result: %s"
                                 % ", ".join(sorted(missing)))
    return [(iname, _node_uuids(cfg, name, nodes)) for iname, nodes in done], failed


def _group(cfg, group_name):
    if not group_name:
        return None
    from qganeti import config
    return config.group_uuid(cfg, group_name)


def relocate(ctx, cfg, name, inst):
    """Ganeti's IAReqRelocate for an externally mirrored instance: the node
    (uuid) it should move to from its primary."""
    from qganeti.lu import instance_util as iu
    disks = iu.disks_of(cfg, inst)
    template = _template(cfg, inst)
    if template in MIRRORED_INTERNAL:
        raise errors.OpPrereqError("Instance has not exactly one secondary node",
                                   errors.ECODE_STATE)
    primary = cfg["nodes"][inst["primary_node"]]["name"]
    request = {"type": "relocate", "name": inst["name"], "required_nodes": 1,
               "disk_space_total": disk_space_total(template, [d["size"] for d in disks]),
               "relocate_from": [primary]}
    reply = _ask(ctx, cfg, name, request)
    if not reply["success"]:
        raise errors.OpPrereqError("Can't compute nodes using iallocator '%s': %s"
                                   % (name, reply["info"]), errors.ECODE_NORES)
    result = reply["result"]
    if not (_is_names(result) and len(result) == 1):
        raise errors.OpExecError("iallocator returned invalid result, expected a list of"
                                 " one node name, got %s" % (result,))
    target = _node_uuids(cfg, name, result)[0]
    # Ganeti's IAReqRelocate.ValidateResult: the instance stays in its group
    if cfg["nodes"][target]["group"] != cfg["nodes"][inst["primary_node"]]["group"]:
        groups = [cfg["nodegroups"][cfg["nodes"][u]["group"]]["name"]
                  for u in (target, inst["primary_node"])]
        raise errors.OpExecError("Groups of nodes returned by iallocator (%s) differ from"
                                 " original groups (%s)" % (groups[0], groups[1]))
    return target


EVAC_OPS = ("OP_INSTANCE_FAILOVER", "OP_INSTANCE_MIGRATE", "OP_INSTANCE_REPLACE_DISKS")


def _evacuation(ctx, cfg, name, request, params, what):
    reply = _ask(ctx, cfg, name, request, params)
    if not reply["success"]:
        raise errors.OpPrereqError("%s using iallocator '%s': %s"
                                   % (what, name, reply["info"]), errors.ECODE_NORES)
    result = reply["result"]
    try:
        moved, failed, jobs = result
        moved = [(iname, group, list(nodes)) for iname, group, nodes in moved]
        failed = [(iname, reason) for iname, reason in failed]
        if not all(isinstance(op, dict) and op.get("OP_ID") in EVAC_OPS
                   for job in jobs for op in job):
            raise ValueError
    except (TypeError, ValueError):
        raise errors.OpExecError("iallocator returned invalid result, expected"
                                 " [moved, failed, jobs], got %s" % (result,))
    return moved, failed, jobs


def node_evacuate(ctx, cfg, name, instances, mode, ignore_soft_errors=False):
    """Ganeti's IAReqNodeEvac: (moved, failed, jobs)."""
    params = {"ignore-soft-errors": None} if ignore_soft_errors else {}
    return _evacuation(ctx, cfg, name, {"type": "node-evacuate", "instances": instances,
                                        "evac_mode": mode}, params,
                       "Can't compute node evacuation")


def change_group(ctx, cfg, name, instances, target_groups, what):
    """Ganeti's IAReqGroupChange: (moved, failed, jobs)."""
    return _evacuation(ctx, cfg, name, {"type": "change-group", "instances": instances,
                                        "target_groups": list(target_groups)}, None, what)


def evacuation_jobs(ctx, answer, early_release, use_nodes):
    """Ganeti's LoadNodeEvacResult: the jobs to submit; any instance the
    allocator could not place fails the whole operation."""
    moved, failed, jobs = answer
    if failed:
        reason = ", ".join("%s (%s)" % (iname, why) for iname, why in failed)
        ctx.log_warning("Unable to evacuate instances %s" % reason)
        raise errors.OpExecError("Unable to evacuate instances %s" % reason)
    if moved:
        ctx.log_info("Instances to be moved: %s" % ", ".join(
            "%s (to %s)" % (iname, ", ".join(nodes) if use_nodes else group)
            for iname, group, nodes in moved))
    out = []
    for job in jobs:
        ops = []
        for op in job:
            op = dict(op)
            if op["OP_ID"] == "OP_INSTANCE_REPLACE_DISKS":
                op["early_release"] = early_release
            ops.append(op)
        out.append(ops)
    return out
