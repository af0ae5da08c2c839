"""Changing an instance: OP_INSTANCE_SET_PARAMS, _RENAME and _REINSTALL.

As Ganeti's LUInstanceSetParams (instance_set_params.py), LUInstanceRename
and LUInstanceReinstall: the result of a modification is the list of
[parameter, new value] changes Ganeti reports (be/maxmem, disk/1,
nic.mac/0 ...).  Disks and NICs are hotplugged (--hotplug) where the
hypervisor can (kvm).  Disk template conversion and disk attach/detach are
refused with a clear message.
"""

import os

from qganeti import config, errors
from qganeti.lu import instance_util as iu


def _updated(old, update, use_none=False):
    """Ganeti's GetUpdatedParams: "default" (or None) drops a key."""
    out = dict(old or {})
    for key, value in update.items():
        if value == iu.VALUE_DEFAULT or (use_none and value is None):
            out.pop(key, None)
        else:
            out[key] = value
    return out


def _upgrade_mods(kind, mods):
    """Ganeti's _UpgradeDiskNicMods: old [action|index, params] to new form."""
    if not mods or len(mods[0]) == 3:
        return [list(m) for m in mods]
    out = []
    addremove = 0
    for key, params in mods:
        if key in ("add", "attach", "remove", "detach"):
            out.append([key, -1, params])
            addremove += 1
            if addremove > 1:
                raise errors.OpPrereqError("Only one %s add/attach/remove/detach operation is"
                                           " supported at a time" % kind, errors.ECODE_INVAL)
        else:
            out.append(["modify", key, params])
    return out


def _index(identifier, kind, container, adding=False):
    """Ganeti's GetIndexFromIdentifier / GetItemFromContainer (index only)."""
    try:
        idx = int(identifier)
    except (TypeError, ValueError):
        if adding:
            raise errors.OpPrereqError("Only positive integer or -1 is accepted",
                                       errors.ECODE_INVAL)
        for pos, item in enumerate(container):
            if item.get("uuid") == identifier or item.get("name") == identifier:
                return pos
        raise errors.OpPrereqError("Cannot find %s with identifier %s" % (kind, identifier),
                                   errors.ECODE_NOENT)
    if idx == -1:
        return len(container) if adding else len(container) - 1
    if idx < 0:
        raise errors.OpPrereqError("Not accepting negative indices other than -1",
                                   errors.ECODE_INVAL)
    if idx > len(container) or (not adding and idx >= len(container)):
        raise errors.OpPrereqError("Got %s index %s, but there are only %s"
                                   % (kind, idx, len(container)), errors.ECODE_INVAL)
    return idx


class SetParams(iu.InstanceHooks):
    """OP_INSTANCE_SET_PARAMS."""
    HPATH = "instance-modify"

    @staticmethod
    def expand(op, ctx):
        if not (op["nics"] or op["disks"] or op.get("disk_template") or op["hvparams"]
                or op["beparams"] or op.get("os_name") or op["osparams"]
                or op.get("offline") is not None or op.get("runtime_mem") or op.get("pnode")
                or op.get("osparams_private") or op.get("instance_communication") is not None):
            raise errors.OpPrereqError("No changes submitted", errors.ECODE_INVAL)
        from qganeti import defaults
        if op["hvparams"]:
            defaults.check_not_global(op["hvparams"], defaults.HVC_GLOBALS, "hypervisor",
                                      "instance")
        op["disks"] = _upgrade_mods("disk", op["disks"])
        op["nics"] = _upgrade_mods("NIC", op["nics"])
        if op.get("disk_template"):
            if op["disks"]:
                raise errors.OpPrereqError("Disk template conversion and other disk changes"
                                           " not supported at the same time",
                                           errors.ECODE_INVAL)
            raise errors.OpPrereqError("Disk template conversion is not supported by qganeti"
                                       " yet", errors.ECODE_INVAL)
        if op.get("instance_communication"):
            raise errors.OpPrereqError("Instance communication is not supported by qganeti"
                                       " yet", errors.ECODE_INVAL)
        for action, _, params in op["nics"] + op["disks"]:
            if action in ("remove", "detach") and params:
                raise errors.OpPrereqError("No settings should be passed when removing or"
                                           " detaching a device", errors.ECODE_INVAL)
            if action in ("attach", "detach"):
                raise errors.OpPrereqError("Attaching and detaching disks is not supported by"
                                           " qganeti yet", errors.ECODE_INVAL)
        locks = iu.lock_instance(op, ctx, nodes=True, node_res=True)
        if op.get("pnode"):
            cfg = ctx.config()
            pnode = iu.node_uuid(cfg, op["pnode"], op.get("pnode_uuid"))
            op["pnode_uuid"] = pnode
            locks += [("node/" + pnode, "exclusive"), ("node-res/" + pnode, "exclusive")]
        return locks

    @staticmethod
    def check(op, ctx):
        from qganeti import defaults
        uuid, inst = iu.recheck(ctx, op)
        cfg = ctx.config()
        cluster = cfg["cluster"]
        pv = iu.priv(ctx)
        pv["warn"] = []
        pv["hotplug"] = False
        if op["hotplug"] or op["hotplug_if_possible"]:
            try:
                ctx.node_call(inst["primary_node"], "instance-hotplug",
                              [inst["hypervisor"], inst["name"], "supported", "disk"])
                pv["hotplug"] = True
            except errors.OpExecError as err:
                reason = err.args[0] if err.args else err
                if op["hotplug"]:
                    raise errors.OpPrereqError("Hotplug is not possible: %s" % reason,
                                               errors.ECODE_STATE)
                pv["warn"].append("%s; modification will take place without hotplugging"
                                  % reason)
        if op.get("pnode_uuid") and op["pnode_uuid"] != inst["primary_node"]:
            if not op["force"] and iu.runtime(ctx, inst) is not None:
                raise errors.OpPrereqError("Instance is still running on %s"
                                           % iu.node_name(cfg, inst["primary_node"]),
                                           errors.ECODE_STATE)
            if any(d.get("nodes") for d in iu.disks_of(cfg, inst)):
                raise errors.OpPrereqError("Cannot change the primary node of instance %s: its"
                                           " disks are bound to node %s"
                                           % (inst["name"],
                                              iu.node_name(cfg, inst["primary_node"])),
                                           errors.ECODE_STATE)
        # disks
        disks = [dict(d) for d in iu.disks_of(cfg, inst)]
        template = iu.template_of(disks)
        new_disks = list(disks)
        added_sizes = []
        for action, ident, params in op["disks"]:
            params = dict(params)
            if action == "add":
                if template == "diskless":
                    raise errors.OpPrereqError("Must specify disk type on diskless instance",
                                               errors.ECODE_INVAL)
                params = iu.force_dict(params, iu.IDISK_TYPES)
                mode = params.setdefault("mode", "rw")
                if mode not in ("rw", "ro"):
                    raise errors.OpPrereqError("Invalid disk access mode '%s'" % mode,
                                               errors.ECODE_INVAL)
                if params.get("size") is None:
                    raise errors.OpPrereqError("Required disk parameter 'size' missing",
                                               errors.ECODE_INVAL)
                if params["size"] <= 0:
                    raise errors.OpPrereqError("Invalid disk size '%s'" % params["size"],
                                               errors.ECODE_INVAL)
                if not op["wait_for_sync"] and not inst.get("disks_active"):
                    raise errors.OpPrereqError("Can't add a disk to an instance with"
                                               " deactivated disks and --no-wait-for-sync"
                                               " given", errors.ECODE_INVAL)
                idx = _index(ident, "disk", new_disks, adding=True)
                new_disks.insert(idx, {"name": params.get("name"), "size": params["size"]})
                added_sizes.append(params["size"])
            elif action == "modify":
                if "size" in params:
                    raise errors.OpPrereqError("Disk size change not possible, use grow-disk",
                                               errors.ECODE_INVAL)
                params = iu.force_dict(params, {"mode": "string", "name": "maybe-string"})
                if params.get("mode") not in (None, "rw", "ro"):
                    raise errors.OpPrereqError("Invalid disk access mode '%s'"
                                               % params["mode"], errors.ECODE_INVAL)
                idx = _index(ident, "disk", new_disks)
                if "name" in params:
                    new_disks[idx] = dict(new_disks[idx], name=params["name"])
            elif action == "remove":
                idx = _index(ident, "disk", new_disks)
                if not pv["hotplug"]:
                    iu.check_state(ctx, inst, iu.INSTANCE_NOT_RUNNING,
                                   "can't remove volume from a running instance without"
                                   " using hotplug")
                del new_disks[idx]
        from qganeti.lu.instance import _check_device_names
        _check_device_names("disk", [d.get("name") for d in new_disks if d.get("name")
                                     and str(d["name"]).lower() != iu.VALUE_NONE])
        if len(new_disks) > iu.MAX_DISKS:
            raise errors.OpPrereqError("Instance has too many disks (%d), cannot add more"
                                       % iu.MAX_DISKS, errors.ECODE_STATE)
        if added_sizes and template in iu.FILE_TEMPLATES:
            iu.check_free_disk(ctx, inst["primary_node"], template, sum(added_sizes))
        if op.get("offline") is not None:
            if op["offline"]:
                msg = "can't change to offline without being down first"
            else:
                msg = "can't change to online (down) without being offline first"
            iu.check_state(ctx, inst, iu.INSTANCE_NOT_RUNNING, msg)
        # hypervisor parameters
        if op["hvparams"]:
            hv_inst = _updated(inst.get("hvparams"), op["hvparams"])
            hv_inst, hv_full = iu.check_hvparams(cfg, inst["hypervisor"], hv_inst, inst["os"])
            iu.validate_hvparams(ctx, iu.instance_nodes(cfg, inst), inst["hypervisor"], hv_full)
            pv["hv_inst"] = hv_inst
        # backend parameters
        be_old = iu.filled_be(cfg, inst)
        be_new = be_old
        if op["beparams"]:
            update = {}
            for key, value in op["beparams"].items():
                if isinstance(value, str) and value.lower() == iu.VALUE_DEFAULT:
                    value = iu.VALUE_DEFAULT
                update[key] = value
            defaults.check_params("be", {k: v for k, v in update.items()
                                         if v != iu.VALUE_DEFAULT})
            be_inst = _updated(inst.get("beparams"), update, use_none=True)
            defaults.upgrade_beparams(be_inst)
            be_inst = defaults.check_params("be", be_inst)
            be_new = defaults.simple_fill_be(cluster, be_inst)
            if be_new["minmem"] > be_new["maxmem"]:
                raise errors.OpPrereqError("Minimum memory (%s) is greater than maximum memory"
                                           " (%s)" % (be_new["minmem"], be_new["maxmem"]),
                                           errors.ECODE_INVAL)
            pv["be_inst"] = be_inst
        # OS and its parameters
        if op.get("os_name") and op["os_name"] != inst["os"]:
            from qganeti.lu.instance import _check_os
            _check_os(ctx, inst["primary_node"], op["os_name"],
                      iu.filled_os(cfg, op["os_name"], inst.get("osparams"),
                                   inst.get("osparams_private")), None, op["force_variant"])
        instance_os = op.get("os_name") or inst["os"]
        if op["osparams"] or op.get("osparams_private"):
            public = op["osparams"] or {}
            private = op.get("osparams_private") or {}
            dupes = sorted(set(public) & set(private))
            if dupes:
                raise errors.OpPrereqError("OS parameters repeated multiple times: %s"
                                           % ", ".join(dupes), errors.ECODE_INVAL)
            pv["os_inst"] = _updated(inst.get("osparams"), public)
            pv["os_private"] = _updated(inst.get("osparams_private"), private)
            from qganeti.lu.instance import _check_os
            _check_os(ctx, inst["primary_node"], instance_os,
                      iu.filled_os(cfg, instance_os, pv["os_inst"], pv["os_private"]), None,
                      op["force_variant"])
        # memory
        if ("maxmem" in (pv.get("be_inst") or {}) and not op["force"]
                and be_new["maxmem"] > be_old["maxmem"]):
            info = iu.runtime(ctx, inst)
            current = int(info["memory"]) if info else 0
            free = iu.node_info(ctx, inst["primary_node"]).get("mfree")
            if isinstance(free, int):
                missing = be_new["maxmem"] - current - free
                if missing > 0:
                    raise errors.OpPrereqError("This change will prevent the instance from"
                                               " starting, due to %d MB of memory missing on"
                                               " its primary node" % missing,
                                               errors.ECODE_NORES)
        if op.get("runtime_mem"):
            info = iu.runtime(ctx, inst)
            if not info:
                raise errors.OpPrereqError("Instance %s is not running" % inst["name"],
                                           errors.ECODE_STATE)
            if not op["force"] and not (be_new["minmem"] <= op["runtime_mem"]
                                        <= be_new["maxmem"]):
                raise errors.OpPrereqError("Instance %s must have memory between %d and %d MB"
                                           " of memory unless --force is given"
                                           % (inst["name"], be_new["minmem"],
                                              be_new["maxmem"]), errors.ECODE_INVAL)
            delta = op["runtime_mem"] - info["memory"]
            if delta > 0:
                iu.check_free_memory(ctx, inst["primary_node"],
                                     "ballooning memory for instance %s" % inst["name"], delta)
        # NICs
        pv["nics"] = _prepare_nics(op, ctx, cfg, inst)
        if len(pv["nics"][0]) > iu.MAX_NICS:
            raise errors.OpPrereqError("Instance has too many network interfaces (%d), cannot"
                                       " add more" % iu.MAX_NICS, errors.ECODE_STATE)
        # instance policy
        if not op["ignore_ipolicy"]:
            sizes = [d["size"] for d in new_disks]
            group = cfg["nodes"][inst["primary_node"]]["group"]
            templates = [template] * len(sizes)
            bad = []
            for mem in (be_new["maxmem"], be_new["minmem"]):
                for err in iu.ipolicy_violations(cfg, group, mem, be_new["vcpus"], sizes,
                                                 len(pv["nics"][0]), be_new.get("spindle_use"),
                                                 templates):
                    if err not in bad:
                        bad.append(err)
            if bad:
                raise errors.OpPrereqError("Instance allocation to group %s (%s) violates"
                                           " policy: %s" % (group, cfg["nodegroups"][group]
                                                            ["name"], ", ".join(bad)),
                                           errors.ECODE_INVAL)
        del uuid

    @staticmethod
    def run(op, ctx):
        pv = iu.priv(ctx)
        cfg = ctx.config()
        uuid = op["instance_uuid"]
        inst = cfg["instances"][uuid]
        result = []
        for warn in pv.get("warn", []):
            ctx.feedback("WARNING: %s" % warn)
        changes = []
        ipath = "/instances/" + uuid
        if op.get("pnode_uuid") and op["pnode_uuid"] != inst["primary_node"]:
            changes.append({"op": "replace", "path": ipath + "/primary_node",
                            "value": op["pnode_uuid"]})
        if op.get("runtime_mem"):
            try:
                ctx.node_call(inst["primary_node"], "instance-balloon",
                              [inst["hypervisor"], inst["name"], str(op["runtime_mem"])])
            except errors.OpExecError as err:
                raise errors.OpExecError("Cannot modify instance runtime memory: %s" % err)
            result.append(["runtime_memory", op["runtime_mem"]])
        disk_uuids = list(inst.get("disks") or [])
        disk_changes = []
        if op["disks"]:
            disk_uuids, disk_changes = _apply_disk_mods(op, ctx, cfg, inst, result)
            changes += disk_changes
            changes.append({"op": "replace", "path": ipath + "/disks", "value": disk_uuids})
        new_nics, nic_result = pv["nics"]
        if op["nics"]:
            changes.append({"op": "replace", "path": ipath + "/nics", "value": new_nics})
            changes += pv.get("nic_ip_changes", [])
            result.extend(nic_result)
            if pv["hotplug"]:
                _hotplug_nics(ctx, cfg, inst, new_nics, result)
        if op["hvparams"]:
            changes.append({"op": "replace", "path": ipath + "/hvparams",
                            "value": pv["hv_inst"]})
            result.extend(["hv/%s" % k, v] for k, v in op["hvparams"].items())
        if op["beparams"]:
            changes.append({"op": "replace", "path": ipath + "/beparams",
                            "value": pv["be_inst"]})
            result.extend(["be/%s" % k, v] for k, v in op["beparams"].items())
        if op.get("os_name"):
            changes.append({"op": "replace", "path": ipath + "/os", "value": op["os_name"]})
        if op["osparams"]:
            changes.append({"op": "replace", "path": ipath + "/osparams",
                            "value": pv["os_inst"]})
            result.extend(["os/%s" % k, v] for k, v in op["osparams"].items())
        if op.get("osparams_private"):
            changes.append({"op": "replace", "path": ipath + "/osparams_private",
                            "value": pv["os_private"]})
            result.extend(["os_private/%s" % k, "<redacted>"]
                          for k in op["osparams_private"])
        if op.get("offline") is not None:
            state = "offline" if op["offline"] else "down"
            changes.append({"op": "replace", "path": ipath + "/admin_state", "value": state})
            result.append(["admin_state", state])
        if changes:
            ctx.commit(changes)
        for disk in pv.get("removed_disks", []):
            iu.remove_disks(ctx, inst, [disk])
        return result


def _apply_disk_mods(op, ctx, cfg, inst, result):
    """Disks added (created on the node, undo registered), modified, removed."""
    disks = iu.disks_of(cfg, inst)
    order = [d["uuid"] for d in disks]
    by_uuid = {d["uuid"]: dict(d) for d in disks}
    template = iu.template_of(disks)
    changes = []
    removed = []
    for action, ident, params in op["disks"]:
        if action == "add":
            idx = _index(ident, "disk", order, adding=True)
            disk_uuid = config.new_uuid()
            base = os.path.dirname(disks[0]["logical_id"][1]) if disks else None
            if base is None:
                raise errors.OpPrereqError("Must specify disk type on diskless instance",
                                           errors.ECODE_INVAL)
            path = os.path.join(base, "%s.%s.disk%d" % (disk_uuid, template, idx))
            size = iu.force_dict(params, iu.IDISK_TYPES)["size"]
            disk = {"logical_id": [disks[0]["logical_id"][0], path], "dev_type": template,
                    "children": [], "nodes": list(disks[0].get("nodes") or []),
                    "iv_name": "disk/%d" % idx, "size": size,
                    "mode": params.get("mode", "rw"), "params": {}, "uuid": disk_uuid}
            name = params.get("name")
            if name and name.lower() != iu.VALUE_NONE:
                disk["name"] = name
            ctx.undo(_remove_quietly, ctx, inst["primary_node"], disk)
            try:
                ctx.node_call(inst["primary_node"], "disk-create",
                              [template, path, str(size)])
            except errors.OpExecError as err:
                raise errors.OpExecError("Can't create block device %s on node %s: %s"
                                         % (disk["iv_name"],
                                            iu.node_name(cfg, inst["primary_node"]), err))
            order.insert(idx, disk_uuid)
            by_uuid[disk_uuid] = disk
            changes.append({"op": "add", "path": "/disks/" + disk_uuid, "value": disk})
            result.append(["disk/%d" % idx, "add:size=%s,mode=%s" % (size, disk["mode"])])
            if iu.priv(ctx)["hotplug"]:
                result.append(["disk/%d" % idx, _hotplug(ctx, inst, "add", "disk",
                                                         iu.disk_payload(disk, idx), idx)])
        elif action == "modify":
            idx = _index(ident, "disk", [by_uuid[u] for u in order])
            disk = by_uuid[order[idx]]
            if "mode" in params:
                changes.append({"op": "replace", "path": "/disks/%s/mode" % disk["uuid"],
                                "value": params["mode"]})
                result.append(["disk.mode/%d" % idx, params["mode"]])
            if "name" in params:
                name = params["name"]
                if name is not None and name.lower() == iu.VALUE_NONE:
                    name = None
                changes.append({"op": "replace" if "name" in disk else "add",
                                "path": "/disks/%s/name" % disk["uuid"], "value": name})
                result.append(["disk.name/%d" % idx, name])
        elif action == "remove":
            idx = _index(ident, "disk", [by_uuid[u] for u in order])
            disk = by_uuid[order.pop(idx)]
            removed.append(disk)
            changes.append({"op": "remove", "path": "/disks/" + disk["uuid"]})
            result.append(["disk/%d" % idx, "remove"])
            if iu.priv(ctx)["hotplug"]:
                result.append(["disk/%d" % idx, _hotplug(ctx, inst, "remove", "disk",
                                                         iu.disk_payload(disk, idx), idx)])
    for pos, disk_uuid in enumerate(order):
        disk = by_uuid[disk_uuid]
        want = "disk/%d" % pos
        if disk.get("iv_name") == want:
            continue
        added = [c for c in changes if c["op"] == "add" and c["path"] == "/disks/" + disk_uuid]
        if added:
            added[0]["value"]["iv_name"] = want
        else:
            changes.append({"op": "replace", "path": "/disks/%s/iv_name" % disk_uuid,
                            "value": want})
    iu.priv(ctx)["removed_disks"] = removed
    return order, changes


def _hotplug(ctx, inst, action, kind, device, idx):
    """Ganeti's _HotplugDevice: "hotplug:done", or "hotplug:failed" and a warning."""
    ctx.log_info("Trying to hotplug device...")
    try:
        ctx.node_call(inst["primary_node"], "instance-hotplug",
                      [inst["hypervisor"], inst["name"], action, kind],
                      input={"device": device, "index": idx})
    except errors.OpExecError as err:
        ctx.log_warning("Could not hotplug device: %s" % (err.args[0] if err.args else err))
        ctx.log_info("Continuing execution..")
        return "hotplug:failed"
    ctx.log_info("Hotplug done.")
    return "hotplug:done"


def _hotplug_nics(ctx, cfg, inst, new_nics, result):
    """Hot-remove the NICs that went, hot-add the new ones (by UUID)."""
    old = inst.get("nics") or []
    kept = set(n.get("uuid") for n in new_nics)
    for idx, nic in enumerate(old):
        if nic.get("uuid") not in kept:
            device = iu.nics_payload(cfg, {"nics": [nic]})[0]
            result.append(["nic/%d" % idx, _hotplug(ctx, inst, "remove", "nic", device, idx)])
    before = set(n.get("uuid") for n in old)
    for idx, nic in enumerate(new_nics):
        if nic.get("uuid") not in before:
            device = iu.nics_payload(cfg, {"nics": [nic]})[0]
            result.append(["nic.%d" % idx, _hotplug(ctx, inst, "add", "nic", device, idx)])


def _remove_quietly(ctx, node, disk):
    try:
        ctx.node_call(node, "disk-remove", [disk["dev_type"], disk["logical_id"][1]])
    except errors.GenericError:
        pass


def _prepare_nics(op, ctx, cfg, inst):
    """The NIC list after the modifications, and Ganeti's change description.

    Network IPs are reserved and released in one Reservations of the
    config read here; its change ops test the old pools, so a concurrent
    change of the same network makes the commit fail rather than hand an
    address out twice.
    """
    from qganeti import network
    from qganeti.lu import instance as create
    nics = [dict(n) for n in inst.get("nics") or []]
    result = []
    res = network.Reservations(cfg)
    pnode = inst["primary_node"]
    taken = set()
    for action, ident, params in op["nics"]:
        params = iu.force_dict(dict(params), iu.INIC_TYPES)
        for key in ("name", "network", "ip"):
            if isinstance(params.get(key), str) and params[key].lower() == iu.VALUE_NONE:
                params[key] = None
        if params.get("network") and ("link" in params or "mode" in params):
            raise errors.OpPrereqError("If network is given mode or link should not",
                                       errors.ECODE_INVAL)
        if action == "add":
            idx = _index(ident, "NIC", nics, adding=True)
            sub = {"nics": [params], "name_check": False}
            new, _ = create.compute_nics(sub, cfg, None, taken)
            nic = new[0]
            if nic.get("network"):
                nic["nicparams"] = _netparams(cfg, nic["network"], pnode)
            _change_ip(op, ctx, cfg, res, nic, pnode, (None, None),
                       (nic.get("ip"), nic.get("network")))
            filled = iu.filled_nic(cfg, nic)
            nics.insert(idx, nic)
            net_name = params.get("network")
            result.append(["nic.%d" % idx, "add:mac=%s,ip=%s,mode=%s,link=%s,network=%s"
                           % (nic["mac"], nic.get("ip"), filled["mode"], filled["link"],
                              net_name)])
        elif action == "modify":
            idx = _index(ident, "NIC", nics)
            nic = nics[idx]
            if "mac" in params:
                mac = params["mac"]
                if mac == iu.VALUE_AUTO:
                    raise errors.OpPrereqError("'auto' is not a valid MAC address when"
                                               " modifying an existing NIC",
                                               errors.ECODE_INVAL)
                if mac == iu.VALUE_GENERATE:
                    mac = iu.new_mac(cfg, taken=taken)
                else:
                    mac = iu.normalize_mac(mac)
                    if iu.mac_in_use(cfg, mac, inst["uuid"]) or mac in taken:
                        raise errors.OpPrereqError("MAC address '%s' already in use in"
                                                   " cluster" % mac, errors.ECODE_NOTUNIQUE)
                taken.add(mac)
                nic["mac"] = mac
                result.append(["nic.mac/%d" % idx, mac])
            old_ip, old_net = nic.get("ip"), nic.get("network")
            new_net = old_net
            if "network" in params:
                new_net = config.network_uuid(cfg, params["network"]) \
                    if params["network"] else None
            new_ip = params.get("ip", old_ip)
            if new_ip is not None and new_ip.lower() != iu.NIC_IP_POOL:
                from qganeti import netutils
                if not netutils.is_ipv4(new_ip):
                    raise errors.OpPrereqError("Invalid IP address '%s'" % new_ip,
                                               errors.ECODE_INVAL)
            if (new_ip, new_net) != (old_ip, old_net):
                _change_ip(op, ctx, cfg, res, nic, pnode, (old_ip, old_net),
                           (new_ip, new_net))
            elif old_net and ("link" in params or "mode" in params):
                raise errors.OpPrereqError("Not allowed to change link or mode of a NIC that"
                                           " is connected to a network", errors.ECODE_INVAL)
            if "ip" in params:
                result.append(["nic.ip/%d" % idx, nic.get("ip")])
            if "name" in params:
                if params["name"] is None:
                    nic.pop("name", None)
                else:
                    nic["name"] = params["name"]
                result.append(["nic.name/%d" % idx, params["name"]])
            if new_net != old_net:
                if new_net:
                    nic["network"] = new_net
                    nic["nicparams"] = _netparams(cfg, new_net, pnode)
                else:
                    nic.pop("network", None)
                result.append(["nic.network/%d" % idx, params["network"]])
            nicparams = {k: params[k] for k in ("mode", "link", "vlan") if k in params}
            if nicparams:
                newp = dict(nic.get("nicparams") or {})
                newp.update(nicparams)
                filled = iu.filled_nic(cfg, {"nicparams": newp})
                if filled["mode"] not in ("bridged", "routed", "openvswitch"):
                    raise errors.OpPrereqError("Invalid NIC mode '%s'" % filled["mode"],
                                               errors.ECODE_INVAL)
                if filled["mode"] == "routed" and not nic.get("ip") and not nic.get("network"):
                    raise errors.OpPrereqError("Cannot set the NIC IP address to None on a"
                                               " routed NIC", errors.ECODE_INVAL)
                nic["nicparams"] = newp
                for key, value in sorted(newp.items()):
                    result.append(["nic.%s/%d" % (key, idx), value])
        elif action == "remove":
            idx = _index(ident, "NIC", nics)
            gone = nics.pop(idx)
            if gone.get("network") and gone.get("ip"):
                res.release(gone["network"], gone["ip"])
            result.append(["nic/%d" % idx, "remove"])
    from qganeti.lu.instance import _check_device_names
    _check_device_names("NIC", [n.get("name") for n in nics if n.get("name")])
    iu.priv(ctx)["nic_ip_changes"] = res.changes()
    return nics, result


def _netparams(cfg, net_uuid, pnode):
    group = cfg["nodegroups"][cfg["nodes"][pnode]["group"]]
    params = group.get("networks", {}).get(net_uuid)
    if params is None:
        raise errors.OpPrereqError("No netparams found for network %s. Probably not"
                                   " connected to node's %s nodegroup"
                                   % (cfg["networks"][net_uuid]["name"],
                                      cfg["nodes"][pnode]["name"]), errors.ECODE_INVAL)
    return dict(params)


def _change_ip(op, ctx, cfg, res, nic, pnode, old, new):
    """Ganeti's (ip, network) change of a NIC from OLD to NEW: the new IP
    reserved (ip=pool: a free one of the new network), the old one released."""
    (old_ip, old_net), (new_ip, new_net) = old, new
    if new_ip:
        net_name = cfg["networks"][new_net]["name"] if new_net else None
        if new_ip.lower() == iu.NIC_IP_POOL:
            if not new_net:
                raise errors.OpPrereqError("ip=pool, but no network found",
                                           errors.ECODE_INVAL)
            from qganeti import network
            try:
                new_ip = res.pool(new_net).reserve_free()
            except network.AddressPoolError:
                raise errors.OpPrereqError("Unable to get a free IP from the address pool",
                                           errors.ECODE_STATE)
            ctx.log_info("Chose IP %s from network %s" % (new_ip, net_name))
        elif new_net:
            try:
                res.reserve(new_net, new_ip, check=op["conflicts_check"])
            except errors.OpPrereqError:
                raise errors.OpPrereqError("IP %s not available in network %s"
                                           % (new_ip, net_name), errors.ECODE_NOTUNIQUE)
            ctx.log_info("Reserving IP %s in network %s" % (new_ip, net_name))
        elif op["conflicts_check"]:
            from qganeti.lu.instance import _check_ip_conflict
            _check_ip_conflict(cfg, new_ip, pnode)
    if old_ip and old_net:
        res.release(old_net, old_ip)
    if new_ip:
        nic["ip"] = new_ip
    else:
        nic.pop("ip", None)


class Rename(iu.InstanceHooks):
    """OP_INSTANCE_RENAME: result is the new name."""
    HPATH = "instance-rename"

    @staticmethod
    def expand(op, ctx):
        if op["ip_check"] and not op["name_check"]:
            raise errors.OpPrereqError("IP address check requires a name check",
                                       errors.ECODE_INVAL)
        new = iu.normalize_name(op["new_name"])
        if op["name_check"]:
            new, address = iu.check_hostname(ctx, new)
            iu.priv(ctx)["check_ip"] = address
        op["new_name"] = new
        locks = iu.lock_instance(op, ctx, nodes=True)
        if new != op["instance_name"]:
            locks.append(("instance/" + new, "exclusive"))
        return locks

    @staticmethod
    def check(op, ctx):
        _, inst = iu.recheck(ctx, op)
        cfg = ctx.config()
        iu.check_node_online(cfg, inst["primary_node"])
        iu.check_state(ctx, inst, iu.INSTANCE_NOT_RUNNING, "cannot rename")
        address = iu.priv(ctx).get("check_ip")
        if op["ip_check"] and address and iu.tcp_ping(address):
            raise errors.OpPrereqError("IP %s of instance %s already in use"
                                       % (address, op["new_name"]), errors.ECODE_NOTUNIQUE)
        if op["new_name"] != inst["name"] and any(
                i["name"] == op["new_name"] for i in cfg["instances"].values()):
            raise errors.OpPrereqError("Instance '%s' is already in the cluster"
                                       % op["new_name"], errors.ECODE_EXISTS)

    @staticmethod
    def hooks_env(op, ctx):
        env = iu.InstanceHooks.hooks_env(op, ctx)
        env["INSTANCE_NEW_NAME"] = op["new_name"]
        return env

    @staticmethod
    def run(op, ctx):
        cfg = ctx.config()
        uuid = op["instance_uuid"]
        inst = cfg["instances"][uuid]
        old, new = inst["name"], op["new_name"]
        if old == new:
            return new
        node = inst["primary_node"]
        changes = [{"op": "replace", "path": "/instances/%s/name" % uuid, "value": new}]
        undo = [{"op": "replace", "path": "/instances/%s/name" % uuid, "value": old}]
        moves = []
        for _, disk in iu.file_disks(cfg, inst):
            path = disk["logical_id"][1]
            directory = os.path.dirname(path)
            if os.path.basename(directory) != old:
                continue
            new_dir = os.path.join(os.path.dirname(directory), new)
            if (disk["dev_type"], directory, new_dir) not in moves:
                moves.append((disk["dev_type"], directory, new_dir))
            new_path = os.path.join(new_dir, os.path.basename(path))
            changes.append({"op": "replace", "path": "/disks/%s/logical_id" % disk["uuid"],
                            "value": [disk["logical_id"][0], new_path]})
            undo.append({"op": "replace", "path": "/disks/%s/logical_id" % disk["uuid"],
                         "value": list(disk["logical_id"])})
        for template, old_dir, new_dir in moves:
            ctx.undo(_rename_dir_quietly, ctx, node, template, new_dir, old_dir)
            try:
                ctx.node_call(node, "storage-dir-rename", [template, old_dir, new_dir])
            except errors.OpExecError as err:
                raise errors.OpExecError("Could not rename on node %s directory '%s' to '%s':"
                                         " %s" % (iu.node_name(cfg, node), old_dir, new_dir,
                                                  err))
        ctx.undo(_commit_quietly, ctx, undo)
        ctx.commit(changes)
        ctx.forget_undo()
        try:
            ctx.node_call(node, "console-rename", [inst["hypervisor"], old, new])
        except errors.GenericError:
            pass
        inst = ctx.config(reload=True)["instances"][uuid]
        if inst.get("disks") and inst.get("os"):
            payload = iu.os_payload(ctx.config(), inst)
            try:
                ctx.node_call(node, "os-rename", [old], input=payload)
            except errors.OpExecError as err:
                ctx.log_warning("Could not run OS rename script for instance %s on node %s"
                                " (but the instance has been renamed in Ganeti): %s"
                                % (new, iu.node_name(cfg, node), err))
        return new


def _rename_dir_quietly(ctx, node, template, src, dst):
    try:
        ctx.node_call(node, "storage-dir-rename", [template, src, dst])
    except errors.GenericError:
        pass


def _commit_quietly(ctx, changes):
    try:
        ctx.commit(changes)
    except errors.GenericError:
        pass


class Reinstall(iu.InstanceHooks):
    """OP_INSTANCE_REINSTALL."""
    HPATH = "instance-reinstall"

    @staticmethod
    def expand(op, ctx):
        return iu.lock_instance(op, ctx, nodes=True)

    @staticmethod
    def check(op, ctx):
        _, inst = iu.recheck(ctx, op)
        cfg = ctx.config()
        iu.check_node_online(cfg, inst["primary_node"],
                             "Instance primary node offline, cannot reinstall")
        if not inst.get("disks"):
            raise errors.OpPrereqError("Instance '%s' has no disks" % inst["name"],
                                       errors.ECODE_INVAL)
        iu.check_state(ctx, inst, iu.INSTANCE_DOWN, "cannot reinstall")
        instance_os = op.get("os_type") or inst["os"]
        params = _updated(inst.get("osparams"), op.get("osparams") or {})
        private = _updated(inst.get("osparams_private"), op.get("osparams_private") or {})
        full = iu.filled_os(cfg, instance_os, params, private)
        from qganeti.lu.instance import _check_os
        _check_os(ctx, inst["primary_node"], instance_os, full, op.get("osparams_secret"),
                  op["force_variant"])
        iu.priv(ctx)["os_full"] = full

    @staticmethod
    def run(op, ctx):
        uuid = op["instance_uuid"]
        inst = ctx.config()["instances"][uuid]
        if op.get("os_type") and op["os_type"] != inst["os"]:
            ctx.feedback("Changing OS scripts to '%s'..." % op["os_type"])
            ctx.commit([{"op": "replace", "path": "/instances/%s/os" % uuid,
                         "value": op["os_type"]}])
            inst = ctx.config(reload=True)["instances"][uuid]
        ctx.feedback("Running the instance OS create scripts...")
        payload = iu.os_payload(ctx.config(), inst, secret=op.get("osparams_secret"),
                                osparams=iu.priv(ctx)["os_full"])
        try:
            ctx.node_call(inst["primary_node"], "os-create", ["--reinstall"], input=payload,
                          timeout=3600)
        except errors.OpExecError as err:
            raise errors.OpExecError("Could not install OS for instance %s on node %s: %s"
                                     % (inst["name"], iu.node_name(ctx.config(),
                                                                   inst["primary_node"]), err))
        return None
