"""An instance's disks: activate, deactivate, grow, recreate, replace, snapshots.

OP_INSTANCE_ACTIVATE_DISKS, _DEACTIVATE_DISKS, _GROW_DISK, _RECREATE_DISKS,
_REPLACE_DISKS as Ganeti's LUs (instance_storage.py), and, beyond Ganeti,
OP_INSTANCE_SNAPSHOT, _ROLLBACK and _REMOVE_SNAPSHOT for file and
sharedfile disks: a snapshot of a running instance is taken with the
instance paused, of a stopped one as it is; rolling back needs it stopped.
A snapshot is recorded in the instance's config ("snapshots": name, time,
whether it was taken online, the size of each disk) and lives on the node
next to the disks (storage.py).
"""

import time

from qganeti import errors
from qganeti.lu import instance_util as iu


def _fmt(mib):
    from qganeti import listing
    return listing.format_unit(mib, "h")


def _disk_at(cfg, inst, index):
    """Ganeti's Instance.FindDisk by index."""
    disks = iu.disks_of(cfg, inst)
    try:
        idx = int(index)
        if idx < 0:
            raise IndexError
        return idx, disks[idx]
    except (ValueError, IndexError):
        raise errors.OpPrereqError("Invalid disk index: %s (instance has disks 0..%d)"
                                   % (index, len(disks) - 1), errors.ECODE_INVAL)


class ActivateDisks:
    """OP_INSTANCE_ACTIVATE_DISKS: [node, iv_name, path] of each disk."""

    @staticmethod
    def expand(op, ctx):
        return iu.lock_instance(op, ctx, nodes=True)

    @staticmethod
    def check(op, ctx):
        _, inst = iu.recheck(ctx, op)
        iu.check_node_online(ctx.config(), inst["primary_node"])

    @staticmethod
    def run(op, ctx):
        cfg = ctx.config()
        inst = cfg["instances"][op["instance_uuid"]]
        pname = iu.node_name(cfg, inst["primary_node"])
        result = []
        for idx, disk in enumerate(iu.disks_of(cfg, inst)):
            if disk["dev_type"] not in iu.FILE_TEMPLATES:
                continue
            try:
                info = ctx.node_call(inst["primary_node"], "disk-info",
                                     [disk["dev_type"], disk["logical_id"][1]])
            except errors.OpExecError as err:
                ctx.log_warning("Could not prepare block device %s on node %s (is_primary=True,"
                                " pass=1): %s" % (disk["iv_name"], pname, err))
                raise errors.OpExecError("Cannot activate block devices")
            if not op["ignore_size"] and info["size"] != disk["size"]:
                ctx.log_warning("Disk %d has size %s on node %s, the configuration says %s"
                                % (idx, _fmt(info["size"]), pname, _fmt(disk["size"])))
            result.append([pname, disk["iv_name"], info["path"]])
        if inst.get("disks") and not inst.get("disks_active"):
            iu.set_admin_state(ctx, op["instance_uuid"], disks_active=True)
        return result


class DeactivateDisks:
    """OP_INSTANCE_DEACTIVATE_DISKS."""

    @staticmethod
    def expand(op, ctx):
        return iu.lock_instance(op, ctx, nodes=True)

    @staticmethod
    def check(op, ctx):
        iu.recheck(ctx, op)

    @staticmethod
    def run(op, ctx):
        inst = ctx.config()["instances"][op["instance_uuid"]]
        if not op["force"]:
            iu.check_state(ctx, inst, iu.INSTANCE_DOWN, "cannot shutdown disks")
        elif iu.runtime(ctx, inst) is not None:
            ctx.log_warning("Instance %s is running, deactivating its disks anyway"
                            % inst["name"])
        if inst.get("disks_active"):
            iu.set_admin_state(ctx, op["instance_uuid"], disks_active=False)
        return None


class GrowDisk(iu.InstanceHooks):
    """OP_INSTANCE_GROW_DISK."""
    HPATH = "disk-grow"

    @staticmethod
    def expand(op, ctx):
        return iu.lock_instance(op, ctx, nodes=True, node_res=True)

    @staticmethod
    def check(op, ctx):
        _, inst = iu.recheck(ctx, op)
        cfg = ctx.config()
        iu.check_node_online(cfg, inst["primary_node"])
        template = iu.template_of(iu.disks_of(cfg, inst))
        if template in ("diskless", "blockdev"):
            raise errors.OpPrereqError("Instance's disk layout does not support growing",
                                       errors.ECODE_INVAL)
        _, disk = _disk_at(cfg, inst, op["disk"])
        if op["absolute"]:
            target = op["amount"]
            delta = target - disk["size"]
            if delta < 0:
                raise errors.OpPrereqError("Requested size (%s) is smaller than current disk"
                                           " size (%s)" % (_fmt(target), _fmt(disk["size"])),
                                           errors.ECODE_STATE)
        else:
            delta = op["amount"]
            target = disk["size"] + delta
        pv = iu.priv(ctx)
        pv["disk"], pv["delta"], pv["target"] = disk, delta, target
        iu.check_free_disk(ctx, inst["primary_node"], disk["dev_type"], delta)
        if not op["ignore_ipolicy"]:
            bep = iu.filled_be(cfg, inst)
            sizes = [target if d["uuid"] == disk["uuid"] else d["size"]
                     for d in iu.disks_of(cfg, inst)]
            group = cfg["nodes"][inst["primary_node"]]["group"]
            bad = iu.ipolicy_violations(cfg, group, bep["maxmem"], bep["vcpus"], sizes,
                                        len(inst["nics"]), bep.get("spindle_use"),
                                        [template] * len(sizes))
            if bad:
                raise errors.OpPrereqError("Instance does not meet the instance policy of its"
                                           " node group (%s): %s" % (group, ", ".join(bad)),
                                           errors.ECODE_INVAL)

    @staticmethod
    def hooks_env(op, ctx):
        env = iu.InstanceHooks.hooks_env(op, ctx)
        env.update({"DISK": op["disk"], "AMOUNT": op["amount"], "ABSOLUTE": op["absolute"]})
        return env

    @staticmethod
    def run(op, ctx):
        pv = iu.priv(ctx)
        disk, delta, target = pv["disk"], pv["delta"], pv["target"]
        inst = ctx.config()["instances"][op["instance_uuid"]]
        ctx.feedback("Growing disk %s of instance '%s' by %s to %s"
                     % (op["disk"], inst["name"], _fmt(delta), _fmt(target)))
        if delta == 0:
            return None
        try:
            ctx.node_call(inst["primary_node"], "disk-grow",
                          [disk["dev_type"], disk["logical_id"][1], str(target)])
        except errors.OpExecError as err:
            raise errors.OpExecError("Grow request failed to node %s: %s"
                                     % (iu.node_name(ctx.config(), inst["primary_node"]), err))
        ctx.commit([{"op": "replace", "path": "/disks/%s/size" % disk["uuid"],
                     "value": target}])
        return None


class RecreateDisks(iu.InstanceHooks):
    """OP_INSTANCE_RECREATE_DISKS: create missing disks again (empty)."""
    HPATH = "instance-recreate-disks"

    @staticmethod
    def expand(op, ctx):
        return iu.lock_instance(op, ctx, nodes=True, node_res=True)

    @staticmethod
    def check(op, ctx):
        _, inst = iu.recheck(ctx, op)
        cfg = ctx.config()
        if op["nodes"] or op.get("node_uuids") or op.get("iallocator"):
            nodes = [iu.node_uuid(cfg, n) for n in op["nodes"]]
            if op.get("iallocator") or nodes != [inst["primary_node"]]:
                raise errors.OpPrereqError("Relocating the disks of instance %s is not"
                                           " supported by qganeti yet" % inst["name"],
                                           errors.ECODE_INVAL)
        iu.check_node_online(cfg, inst["primary_node"])
        iu.check_state(ctx, inst, iu.INSTANCE_NOT_RUNNING, "cannot recreate disks")
        disks = iu.disks_of(cfg, inst)
        chosen = {}
        for item in op["disks"] or list(range(len(disks))):
            idx, params = (item[0], item[1]) if isinstance(item, list) else (item, {})
            if idx >= len(disks):
                raise errors.OpPrereqError("Invalid disk index '%s'" % idx, errors.ECODE_INVAL)
            unknown = set(params) - set(["size", "mode", "spindles"])
            if unknown:
                raise errors.OpPrereqError("Parameters for disk %s try to change unmodifyable"
                                           " parameter(s): %s" % (idx, ", ".join(sorted(
                                               unknown))), errors.ECODE_INVAL)
            chosen[idx] = iu.force_dict(params, iu.IDISK_TYPES)
        if any(d["dev_type"] not in iu.FILE_TEMPLATES for d in disks):
            raise errors.OpPrereqError("Recreating disks of template %s is not supported"
                                       % iu.template_of(disks), errors.ECODE_INVAL)
        iu.priv(ctx)["chosen"] = chosen

    @staticmethod
    def run(op, ctx):
        cfg = ctx.config()
        inst = cfg["instances"][op["instance_uuid"]]
        disks = iu.disks_of(cfg, inst)
        changes = []
        for idx, params in sorted(iu.priv(ctx)["chosen"].items()):
            disk = disks[idx]
            size = params.get("size", disk["size"])
            if not isinstance(size, int) or size <= 0:
                raise errors.OpPrereqError("Invalid disk size '%s' (disk %d)" % (size, idx),
                                           errors.ECODE_INVAL)
            try:
                ctx.node_call(inst["primary_node"], "disk-create",
                              [disk["dev_type"], disk["logical_id"][1], str(size)])
            except errors.OpExecError as err:
                raise errors.OpExecError("Can't create block device %s on node %s: %s"
                                         % (disk["iv_name"],
                                            iu.node_name(cfg, inst["primary_node"]), err))
            ctx.undo(_remove_quietly, ctx, inst["primary_node"], disk)
            for key in ("size", "mode", "spindles"):
                if key in params and params[key] != disk.get(key):
                    changes.append({"op": "replace" if key in disk else "add",
                                    "path": "/disks/%s/%s" % (disk["uuid"], key),
                                    "value": params[key]})
        if changes:
            ctx.commit(changes)
        return None


def _remove_quietly(ctx, node, disk):
    try:
        ctx.node_call(node, "disk-remove", [disk["dev_type"], disk["logical_id"][1]])
    except errors.GenericError:
        pass


class ReplaceDisks:
    """OP_INSTANCE_REPLACE_DISKS: DRBD only."""

    @staticmethod
    def expand(op, ctx):
        return iu.lock_instance(op, ctx)

    @staticmethod
    def check(op, ctx):
        _, inst = iu.recheck(ctx, op)
        if iu.template_of(iu.disks_of(ctx.config(), inst)) != "drbd":
            raise errors.OpPrereqError("Can only run replace disks for DRBD8-based instances",
                                       errors.ECODE_INVAL)

    @staticmethod
    def run(op, ctx):
        raise errors.OpExecError("DRBD is not supported by qganeti yet")


# -- snapshots (beyond Ganeti) -----------------------------------------------------

def _snapshots(inst):
    return list(inst.get("snapshots") or [])


def _find_snapshot(inst, name):
    for snap in _snapshots(inst):
        if snap["name"] == name:
            return snap
    raise errors.OpPrereqError("Snapshot '%s' of instance '%s' not known"
                               % (name, inst["name"]), errors.ECODE_NOENT)


def _snapshot_disks(cfg, inst):
    disks = iu.disks_of(cfg, inst)
    if not disks:
        raise errors.OpPrereqError("Instance '%s' has no disks" % inst["name"],
                                   errors.ECODE_STATE)
    bad = sorted(set(d["dev_type"] for d in disks) - set(iu.FILE_TEMPLATES))
    if bad:
        raise errors.OpPrereqError("Snapshots need file or sharedfile disks; instance '%s'"
                                   " has %s disks" % (inst["name"], ", ".join(bad)),
                                   errors.ECODE_STATE)
    return disks


def _check_snapshot_name(name):
    from qganeti import storage
    try:
        storage.check_snapshot_name(name)
    except errors.StorageError as err:
        raise errors.OpPrereqError(str(err.args[0]), errors.ECODE_INVAL)


class _SnapshotLU(iu.InstanceHooks):
    @staticmethod
    def expand(op, ctx):
        _check_snapshot_name(op["snapshot_name"])
        return iu.lock_instance(op, ctx, nodes=True, node_res=True)

    @staticmethod
    def hooks_env(op, ctx):
        env = iu.InstanceHooks.hooks_env(op, ctx)
        env["SNAPSHOT_NAME"] = op["snapshot_name"]
        return env


class Snapshot(_SnapshotLU):
    """OP_INSTANCE_SNAPSHOT."""
    HPATH = "instance-snapshot"

    @staticmethod
    def check(op, ctx):
        _, inst = iu.recheck(ctx, op)
        cfg = ctx.config()
        iu.check_node_online(cfg, inst["primary_node"])
        disks = _snapshot_disks(cfg, inst)
        if any(s["name"] == op["snapshot_name"] for s in _snapshots(inst)):
            raise errors.OpPrereqError("Snapshot '%s' of instance '%s' already exists"
                                       % (op["snapshot_name"], inst["name"]),
                                       errors.ECODE_EXISTS)
        iu.check_free_disk(ctx, inst["primary_node"], disks[0]["dev_type"],
                           sum(d["size"] for d in disks))

    @staticmethod
    def run(op, ctx):
        cfg = ctx.config()
        inst = cfg["instances"][op["instance_uuid"]]
        node = inst["primary_node"]
        name = op["snapshot_name"]
        info = iu.runtime(ctx, inst)
        online = info is not None
        paused_here = online and not info.get("paused")
        if paused_here:
            ctx.feedback("* pausing instance %s" % inst["name"])
            ctx.undo(_resume_quietly, ctx, inst)
            ctx.node_call(node, "instance-pause", [inst["hypervisor"], inst["name"]])
        methods = set()
        sizes = {}
        for idx, disk in enumerate(iu.disks_of(cfg, inst)):
            ctx.feedback("* snapshotting disk/%d" % idx)
            ctx.undo(_remove_snapshot_quietly, ctx, node, disk, name)
            try:
                result = ctx.node_call(node, "disk-snapshot",
                                       [disk["dev_type"], disk["logical_id"][1], name],
                                       timeout=3600)
            except errors.OpExecError as err:
                # a failed disk-snapshot leaves nothing (it copies to a temporary
                # name), and what is in its way is not ours to remove
                ctx.drop_last_undo()
                raise errors.OpExecError("Could not snapshot disk/%d of instance %s: %s"
                                         % (idx, inst["name"], err))
            methods.add(result["method"])
            sizes[disk["uuid"]] = disk["size"]
        if paused_here:
            ctx.feedback("* resuming instance %s" % inst["name"])
            ctx.node_call(node, "instance-resume", [inst["hypervisor"], inst["name"]])
        snap = {"name": name, "ctime": time.time(), "online": online, "disks": sizes,
                "method": "reflink" if methods == {"reflink"} else "copy"}
        path = "/instances/%s/snapshots" % op["instance_uuid"]
        if "snapshots" in inst:
            ctx.commit([{"op": "append", "path": path, "value": snap}])
        else:
            ctx.commit([{"op": "add", "path": path, "value": [snap]}])
        ctx.feedback("Snapshot '%s' of instance %s taken %s (%s)"
                     % (name, inst["name"], "online, paused" if online else "offline",
                        snap["method"]))
        return snap["name"]


def _resume_quietly(ctx, inst):
    try:
        ctx.node_call(inst["primary_node"], "instance-resume",
                      [inst["hypervisor"], inst["name"]])
    except errors.GenericError:
        pass


def _remove_snapshot_quietly(ctx, node, disk, name):
    try:
        ctx.node_call(node, "disk-snapshot-remove",
                      [disk["dev_type"], disk["logical_id"][1], name])
    except errors.GenericError:
        pass


class Rollback(_SnapshotLU):
    """OP_INSTANCE_ROLLBACK (the instance must be stopped)."""
    HPATH = "instance-rollback"

    @staticmethod
    def check(op, ctx):
        _, inst = iu.recheck(ctx, op)
        cfg = ctx.config()
        iu.check_node_online(cfg, inst["primary_node"])
        snap = _find_snapshot(inst, op["snapshot_name"])
        iu.check_state(ctx, inst, iu.INSTANCE_NOT_RUNNING, "cannot roll back its disks")
        for idx, disk in enumerate(_snapshot_disks(cfg, inst)):
            if disk["uuid"] not in snap["disks"]:
                raise errors.OpPrereqError("Disk %d of instance '%s' was added after snapshot"
                                           " '%s', cannot roll back"
                                           % (idx, inst["name"], snap["name"]),
                                           errors.ECODE_STATE)

    @staticmethod
    def run(op, ctx):
        cfg = ctx.config()
        inst = cfg["instances"][op["instance_uuid"]]
        snap = _find_snapshot(inst, op["snapshot_name"])
        changes = []
        for idx, disk in enumerate(iu.disks_of(cfg, inst)):
            ctx.feedback("* rolling disk/%d back to snapshot '%s'" % (idx, snap["name"]))
            try:
                ctx.node_call(inst["primary_node"], "disk-rollback",
                              [disk["dev_type"], disk["logical_id"][1], snap["name"]],
                              timeout=3600)
            except errors.OpExecError as err:
                raise errors.OpExecError("Could not roll back disk/%d of instance %s: %s"
                                         % (idx, inst["name"], err))
            size = snap["disks"][disk["uuid"]]
            if size != disk["size"]:
                changes.append({"op": "replace", "path": "/disks/%s/size" % disk["uuid"],
                                "value": size})
        if changes:
            ctx.commit(changes)
        return None


class RemoveSnapshot(_SnapshotLU):
    """OP_INSTANCE_REMOVE_SNAPSHOT."""
    HPATH = "instance-remove-snapshot"

    @staticmethod
    def check(op, ctx):
        _, inst = iu.recheck(ctx, op)
        iu.check_node_online(ctx.config(), inst["primary_node"])
        _find_snapshot(inst, op["snapshot_name"])

    @staticmethod
    def run(op, ctx):
        cfg = ctx.config()
        inst = cfg["instances"][op["instance_uuid"]]
        snap = _find_snapshot(inst, op["snapshot_name"])
        for disk in iu.disks_of(cfg, inst):
            if disk["dev_type"] in iu.FILE_TEMPLATES:
                ctx.node_call(inst["primary_node"], "disk-snapshot-remove",
                              [disk["dev_type"], disk["logical_id"][1], snap["name"]])
        ctx.commit([{"op": "discard", "path": "/instances/%s/snapshots" % op["instance_uuid"],
                     "value": snap}])
        return None
