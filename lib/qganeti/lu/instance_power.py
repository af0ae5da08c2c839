"""Starting, stopping, rebooting and moving instances.

OP_INSTANCE_STARTUP, _SHUTDOWN, _REBOOT, _CONSOLE, _MIGRATE, _FAILOVER,
_MOVE and _CHANGE_GROUP, as Ganeti's LUs do them (instance_operation.py,
instance_migration.py).  Migration and failover need a second node and a
mirrored (diskless, sharedfile) instance; move and change-group need the
disk copying and the iallocator that come with later issues, and say so.
"""

from qganeti import errors
from qganeti.lu import instance_util as iu


def _activate_disks(ctx, inst):
    """Ganeti's StartInstanceDisks for file disks: they must exist."""
    cfg = ctx.config()
    for idx, disk in iu.file_disks(cfg, inst):
        try:
            ctx.node_call(inst["primary_node"], "disk-info",
                          [disk["dev_type"], disk["logical_id"][1]])
        except errors.OpExecError as err:
            raise errors.OpExecError("Cannot activate block device: disk/%d: %s" % (idx, err))


class Startup(iu.InstanceHooks):
    """OP_INSTANCE_STARTUP."""
    HPATH = "instance-start"

    @staticmethod
    def expand(op, ctx):
        from qganeti import defaults
        if op["beparams"]:
            op["beparams"] = defaults.check_params("be", op["beparams"])
        return iu.lock_instance(op, ctx, node_res=True)

    @staticmethod
    def check(op, ctx):
        _, inst = iu.recheck(ctx, op)
        cfg = ctx.config()
        pv = iu.priv(ctx)
        if op["hvparams"]:
            iu.check_hvparams(cfg, inst["hypervisor"],
                              dict(inst.get("hvparams") or {}, **op["hvparams"]), inst["os"])
        iu.check_state(ctx, inst, iu.INSTANCE_ONLINE)
        pnode = cfg["nodes"][inst["primary_node"]]
        pv["primary_offline"] = bool(pnode.get("offline"))
        if pv["primary_offline"]:
            if not op["ignore_offline_nodes"]:
                raise errors.OpPrereqError("Can't use offline node %s" % pnode["name"],
                                           errors.ECODE_STATE)
            ctx.log_warning("Ignoring offline primary node")
            return
        pv["running"] = iu.runtime(ctx, inst) is not None
        if not pv["running"]:
            bep = iu.filled_be(cfg, inst)
            bep.update(op["beparams"])
            iu.check_free_memory(ctx, inst["primary_node"],
                                 "starting instance %s" % inst["name"], bep["maxmem"])

    @staticmethod
    def hooks_env(op, ctx):
        env = iu.InstanceHooks.hooks_env(op, ctx)
        env["FORCE"] = op["force"]
        return env

    @staticmethod
    def run(op, ctx):
        pv = iu.priv(ctx)
        uuid, inst = op["instance_uuid"], ctx.config()["instances"][op["instance_uuid"]]
        state = None if op["no_remember"] else "up"
        if pv["primary_offline"]:
            iu.set_admin_state(ctx, uuid, state, source=state and "admin")
            ctx.log_info("Primary node offline, marked instance as started")
            return None
        _activate_disks(ctx, inst)
        iu.set_admin_state(ctx, uuid, state, source=state and "admin",
                           disks_active=True if inst.get("disks") else None)
        if pv["running"]:
            return None
        try:
            iu.start(ctx, inst, op["beparams"], paused=op["startup_paused"])
        except errors.OpExecError as err:
            raise errors.OpExecError("Could not start instance: %s" % err)
        return None


class Shutdown(iu.InstanceHooks):
    """OP_INSTANCE_SHUTDOWN."""
    HPATH = "instance-stop"

    @staticmethod
    def expand(op, ctx):
        return iu.lock_instance(op, ctx)

    @staticmethod
    def check(op, ctx):
        _, inst = iu.recheck(ctx, op)
        cfg = ctx.config()
        if not op["force"]:
            iu.check_state(ctx, inst, iu.INSTANCE_ONLINE)
        else:
            ctx.log_warning("Ignoring offline instance check")
        pnode = cfg["nodes"][inst["primary_node"]]
        iu.priv(ctx)["primary_offline"] = bool(pnode.get("offline"))
        if pnode.get("offline") and not op["ignore_offline_nodes"]:
            raise errors.OpPrereqError("Can't use offline node %s" % pnode["name"],
                                       errors.ECODE_STATE)

    @staticmethod
    def hooks_env(op, ctx):
        env = iu.InstanceHooks.hooks_env(op, ctx)
        env["TIMEOUT"] = op["timeout"]
        return env

    @staticmethod
    def run(op, ctx):
        uuid = op["instance_uuid"]
        inst = ctx.config()["instances"][uuid]
        if not op["no_remember"]:
            iu.set_admin_state(ctx, uuid, "down", source=op.get("admin_state_source") or "admin")
        if iu.priv(ctx)["primary_offline"]:
            ctx.log_info("Primary node offline, marked instance as stopped")
            return None
        try:
            result = iu.shutdown(ctx, inst, op["timeout"])
        except errors.OpExecError as err:
            ctx.log_warning("Could not shutdown instance: %s" % err)
        else:
            if isinstance(result, dict) and result.get("forced") and op["timeout"]:
                ctx.log_warning("Instance %s did not shut down within %s seconds, it was"
                                " destroyed" % (inst["name"], op["timeout"]))
        if inst.get("disks") and inst.get("disks_active"):
            iu.set_admin_state(ctx, uuid, disks_active=False)
        return None


class Reboot(iu.InstanceHooks):
    """OP_INSTANCE_REBOOT."""
    HPATH = "instance-reboot"

    @staticmethod
    def expand(op, ctx):
        return iu.lock_instance(op, ctx, node_res=True)

    @staticmethod
    def check(op, ctx):
        _, inst = iu.recheck(ctx, op)
        cfg = ctx.config()
        iu.check_state(ctx, inst, iu.INSTANCE_ONLINE)
        iu.check_node_online(cfg, inst["primary_node"])

    @staticmethod
    def hooks_env(op, ctx):
        env = iu.InstanceHooks.hooks_env(op, ctx)
        env.update({"IGNORE_SECONDARIES": op["ignore_secondaries"],
                    "REBOOT_TYPE": op["reboot_type"],
                    "SHUTDOWN_TIMEOUT": op["shutdown_timeout"]})
        return env

    @staticmethod
    def run(op, ctx):
        uuid = op["instance_uuid"]
        cfg = ctx.config()
        inst = cfg["instances"][uuid]
        running = iu.runtime(ctx, inst) is not None
        if running and op["reboot_type"] in ("soft", "hard"):
            try:
                ctx.node_call(inst["primary_node"], "instance-reboot",
                              ["--timeout", str(op["shutdown_timeout"]), inst["hypervisor"],
                               inst["name"], op["reboot_type"]])
            except errors.OpExecError as err:
                raise errors.OpExecError("Could not reboot instance: %s" % err)
        else:
            if running:
                try:
                    iu.shutdown(ctx, inst, op["shutdown_timeout"])
                except errors.OpExecError as err:
                    raise errors.OpExecError("Could not shutdown instance for full reboot: %s"
                                             % err)
            else:
                ctx.log_info("Instance %s was already stopped, starting now" % inst["name"])
            _activate_disks(ctx, inst)
            bep = iu.filled_be(cfg, inst)
            if not running:
                iu.check_free_memory(ctx, inst["primary_node"],
                                     "starting instance %s" % inst["name"], bep["maxmem"])
            try:
                iu.start(ctx, inst)
            except errors.OpExecError as err:
                iu.set_admin_state(ctx, uuid, disks_active=False)
                raise errors.OpExecError("Could not start instance for full reboot: %s" % err)
        iu.set_admin_state(ctx, uuid, "up", disks_active=bool(inst.get("disks")) or None)
        return None


class Console:
    """OP_INSTANCE_CONSOLE: how to reach the console (fake: its log)."""

    @staticmethod
    def expand(op, ctx):
        return iu.lock_instance(op, ctx, mode="shared")

    @staticmethod
    def check(op, ctx):
        _, inst = iu.recheck(ctx, op)
        iu.check_node_online(ctx.config(), inst["primary_node"])

    @staticmethod
    def run(op, ctx):
        cfg = ctx.config()
        inst = cfg["instances"][op["instance_uuid"]]
        if iu.runtime(ctx, inst) is None:
            state = {"up": "ERROR_down", "down": "ADMIN_down"}.get(inst["admin_state"],
                                                                   "ADMIN_offline")
            raise errors.OpExecError("Instance %s is not running (state %s)"
                                     % (inst["name"], state))
        from qganeti import defaults
        node = cfg["nodes"][inst["primary_node"]]
        ndparams = defaults.fill_nd(cfg["cluster"], cfg["nodegroups"].get(node["group"], {}),
                                    node)
        return ctx.node_call(inst["primary_node"], "instance-console",
                             [inst["hypervisor"], inst["name"]],
                             input={"hvparams": iu.filled_hv(cfg, inst),
                                    "network_port": inst.get("network_port"),
                                    "host": node["name"], "port": ndparams.get("ssh_port"),
                                    "user": "root"})


# -- moving between nodes ---------------------------------------------------------

MIRRORED = ("drbd", "blockdev", "diskless", "ext", "gluster", "rbd", "sharedfile")


def _target(op, ctx, inst, what):
    """The target node UUID of a migration/failover (the iallocator's if none)."""
    cfg = ctx.config()
    if op.get("target_node") or op.get("target_node_uuid"):
        target = iu.node_uuid(cfg, op.get("target_node"), op.get("target_node_uuid"))
    else:
        name = op.get("iallocator") or cfg["cluster"].get("default_iallocator")
        if not name:
            raise errors.OpPrereqError(
                "No iallocator or node given and no cluster-wide default iallocator found;"
                " please specify either an iallocator or a node, or set a cluster-wide"
                " default iallocator", errors.ECODE_INVAL)
        group = cfg["nodes"][inst["primary_node"]]["group"]
        candidates = [u for u, n in sorted(cfg["nodes"].items())
                      if u != inst["primary_node"] and n.get("group") == group
                      and n.get("vm_capable", True) and not n.get("offline")
                      and not n.get("drained")]
        if not candidates:
            raise errors.OpPrereqError("Can't compute nodes using iallocator '%s': no node to"
                                       " relocate instance %s to" % (name, inst["name"]),
                                       errors.ECODE_NORES)
        target = candidates[0]
    if target == inst["primary_node"]:
        raise errors.OpPrereqError("Cannot %s instance %s to its primary (%s)"
                                   % (what, inst["name"], iu.node_name(cfg, target)),
                                   errors.ECODE_STATE)
    op["target_node_uuid"] = target
    op["target_node"] = cfg["nodes"][target]["name"]
    return target


def _check_mirrored(ctx, inst, failover):
    template = iu.template_of(iu.disks_of(ctx.config(), inst))
    if template not in MIRRORED:
        raise errors.OpPrereqError("Instance's disk layout '%s' does not allow %s"
                                   % (template, "failovers" if failover else "migrations"),
                                   errors.ECODE_STATE)


def _relocate(ctx, inst, target):
    """Record TARGET as the primary node (and of its node-bound disks)."""
    cfg = ctx.config()
    uuid = inst["uuid"]
    changes = [{"op": "replace", "path": "/instances/%s/primary_node" % uuid, "value": target}]
    for disk in iu.disks_of(cfg, inst):
        if disk.get("nodes"):
            changes.append({"op": "replace", "path": "/disks/%s/nodes" % disk["uuid"],
                            "value": [target]})
    ctx.commit(changes)


class _Relocation(iu.InstanceHooks):
    FAILOVER = False

    @classmethod
    def expand(cls, op, ctx):
        locks = iu.lock_instance(op, ctx, nodes=True, node_res=True)
        _, inst = iu.find(ctx, op)
        _check_mirrored(ctx, inst, cls.FAILOVER)
        target = _target(op, ctx, inst, "fail over" if cls.FAILOVER else "migrate")
        return locks + [("node/" + target, "exclusive"), ("node-res/" + target, "exclusive")]

    @classmethod
    def check(cls, op, ctx):
        _, inst = iu.recheck(ctx, op)
        cfg = ctx.config()
        target = op["target_node_uuid"]
        if target not in cfg["nodes"]:
            raise errors.OpPrereqError("Node '%s' not known" % op["target_node"],
                                       errors.ECODE_NOENT)
        iu.check_node_online(cfg, target)
        if inst["admin_state"] == "up":
            iu.check_free_memory(ctx, target, "%s instance %s" % (
                "failing over" if cls.FAILOVER else "migrating", inst["name"]),
                iu.filled_be(cfg, inst)["maxmem"])

    @staticmethod
    def hooks_env(op, ctx):
        cfg = ctx.config()
        inst = cfg["instances"][op["instance_uuid"]]
        env = iu.hook_env(cfg, inst)
        env.update({"OLD_PRIMARY": iu.node_name(cfg, inst["primary_node"]),
                    "NEW_PRIMARY": op.get("target_node"),
                    "OLD_SECONDARY": "", "NEW_SECONDARY": ""})
        return env

    @staticmethod
    def hooks_nodes(op, ctx):
        cfg = ctx.config()
        inst = cfg["instances"][op["instance_uuid"]]
        nodes = list(dict.fromkeys([cfg["cluster"]["master_node"], inst["primary_node"],
                                    op["target_node_uuid"]]))
        return nodes, nodes


class Migrate(_Relocation):
    """OP_INSTANCE_MIGRATE: the fake hypervisor's migration always succeeds."""
    HPATH = "instance-migrate"

    @staticmethod
    def hooks_env(op, ctx):
        env = _Relocation.hooks_env(op, ctx)
        env.update({"MIGRATE_LIVE": op.get("mode") != "non-live" and op.get("live") is not False,
                    "MIGRATE_CLEANUP": op["cleanup"]})
        return env

    @staticmethod
    def run(op, ctx):
        cfg = ctx.config()
        inst = cfg["instances"][op["instance_uuid"]]
        target = op["target_node_uuid"]
        running = iu.runtime(ctx, inst) is not None
        if not running:
            if not op["allow_failover"]:
                raise errors.OpExecError("Instance %s is not running, cannot migrate"
                                         % inst["name"])
            ctx.log_info("Instance not running, failing over instead")
            _relocate(ctx, inst, target)
            return None
        ctx.feedback("* checking target node %s" % op["target_node"])
        ctx.node_call(target, "instance-accept", [inst["hypervisor"], inst["name"]])
        ctx.feedback("* migrating instance to %s" % op["target_node"])
        bep = iu.filled_be(cfg, inst)
        ctx.node_call(target, "instance-start", [inst["hypervisor"], inst["name"],
                                                 str(bep["maxmem"]), str(bep["vcpus"])])
        iu.shutdown(ctx, inst)
        _relocate(ctx, inst, target)
        ctx.feedback("* done")
        return None


class Failover(_Relocation):
    """OP_INSTANCE_FAILOVER: stop on the primary, start on the target."""
    HPATH = "instance-failover"
    FAILOVER = True

    @staticmethod
    def hooks_env(op, ctx):
        env = _Relocation.hooks_env(op, ctx)
        env.update({"IGNORE_CONSISTENCY": op["ignore_consistency"],
                    "SHUTDOWN_TIMEOUT": op["shutdown_timeout"]})
        return env

    @staticmethod
    def run(op, ctx):
        cfg = ctx.config()
        inst = cfg["instances"][op["instance_uuid"]]
        ctx.feedback("* shutting down instance on source node")
        try:
            iu.shutdown(ctx, inst, op["shutdown_timeout"])
        except errors.OpExecError as err:
            if not op["ignore_consistency"]:
                raise errors.OpExecError("Could not shutdown instance %s on node %s: %s"
                                         % (inst["name"],
                                            iu.node_name(cfg, inst["primary_node"]), err))
            ctx.log_warning("Could not shutdown instance %s: %s" % (inst["name"], err))
        _relocate(ctx, inst, op["target_node_uuid"])
        if inst["admin_state"] == "up":
            inst = ctx.config(reload=True)["instances"][op["instance_uuid"]]
            ctx.feedback("* starting the instance on the target node %s" % op["target_node"])
            try:
                iu.start(ctx, inst)
            except errors.OpExecError as err:
                raise errors.OpExecError("Could not start instance %s on node %s: %s"
                                         % (inst["name"], op["target_node"], err))
        return None


class Move(iu.InstanceHooks):
    """OP_INSTANCE_MOVE: copy a file/plain instance's disks to another node."""
    HPATH = "instance-move"

    @staticmethod
    def expand(op, ctx):
        locks = iu.lock_instance(op, ctx, nodes=True, node_res=True)
        cfg = ctx.config()
        target = iu.node_uuid(cfg, op["target_node"], op.get("target_node_uuid"))
        op["target_node_uuid"] = target
        op["target_node"] = cfg["nodes"][target]["name"]
        return locks + [("node/" + target, "exclusive"), ("node-res/" + target, "exclusive")]

    @staticmethod
    def check(op, ctx):
        _, inst = iu.recheck(ctx, op)
        cfg = ctx.config()
        template = iu.template_of(iu.disks_of(cfg, inst))
        if template not in ("file", "plain"):
            raise errors.OpPrereqError("Disk template %s not suitable for copying" % template,
                                       errors.ECODE_STATE)
        if op["target_node_uuid"] == inst["primary_node"]:
            raise errors.OpPrereqError("Instance %s is already on the node %s"
                                       % (inst["name"], op["target_node"]), errors.ECODE_STATE)
        iu.check_node_online(cfg, op["target_node_uuid"])

    @staticmethod
    def run(op, ctx):
        raise errors.OpExecError("Copying disks between nodes is not supported by qganeti"
                                 " yet (it comes with the multi-node transport)")


class ChangeGroup:
    """OP_INSTANCE_CHANGE_GROUP: needs the iallocator (change-group request)."""

    @staticmethod
    def expand(op, ctx):
        return iu.lock_instance(op, ctx, mode="shared")

    @staticmethod
    def check(op, ctx):
        from qganeti import config
        _, inst = iu.recheck(ctx, op)
        cfg = ctx.config()
        inst_groups = set(cfg["nodes"][n]["group"] for n in iu.instance_nodes(cfg, inst))
        if op.get("target_groups"):
            targets = [config.group_uuid(cfg, g) for g in op["target_groups"]]
            used = inst_groups & set(targets)
            if used:
                raise errors.OpPrereqError("Can't use group(s) '%s' as targets, they are used"
                                           " by the instance '%s'"
                                           % (", ".join(sorted(used)), inst["name"]),
                                           errors.ECODE_INVAL)
        else:
            targets = [g for g in cfg["nodegroups"] if g not in inst_groups]
        if not targets:
            raise errors.OpPrereqError("There are no possible target groups",
                                       errors.ECODE_INVAL)

    @staticmethod
    def run(op, ctx):
        name = op.get("iallocator") or ctx.config()["cluster"].get("default_iallocator")
        raise errors.OpPrereqError("Can't compute solution for changing group of instance"
                                   " '%s' using iallocator '%s': the iallocator protocol is not"
                                   " available yet" % (op["instance_name"], name),
                                   errors.ECODE_NORES)
