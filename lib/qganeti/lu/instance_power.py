"""Starting, stopping and rebooting instances.

OP_INSTANCE_STARTUP, _SHUTDOWN, _REBOOT and _CONSOLE, as Ganeti's LUs do
them (instance_operation.py).  Moving instances between nodes is in
instance_migrate.py.
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
