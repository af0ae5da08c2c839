"""Instances moving between nodes: migrate, failover, move, change-group
(Ganeti's instance_migration.py and LUInstanceMove).

Migration runs the hypervisor's protocol through node actions (the fake
and kvm hypervisors implement the same functions): the target accepts
(node/instance-accept), the source transfers (node/instance-migrate, while
node/instance-migrate-status is polled for progress), then the source and
the target finalize.  A failure before the transfer completed is rolled
back on both sides (abort, finalize with success false) and the instance
runs on where it was; `--cleanup` settles a migration that was cut short by
looking where the instance runs.  Failover (mirrored disks: sharedfile,
diskless) stops the instance on the source and starts it on the target;
move copies file disks with volume-copy.
"""

import threading
import time

from qganeti import errors
from qganeti.lu import instance_util as iu

MIRRORED = ("drbd", "blockdev", "diskless", "ext", "gluster", "rbd", "sharedfile")
COPYABLE = ("file", "plain")
STATUS_POLL = 1.0
# qemu's states of a migration still under way
MIGRATION_ACTIVE = ("setup", "active", "pre-switchover", "device", "wait-unplug",
                    "postcopy-active")
MIGRATION_TIMEOUT = 3600


def _target(op, ctx, inst, what):
    """The target node UUID of a migration/failover."""
    cfg = ctx.config()
    if op.get("target_node") and op.get("iallocator"):
        raise errors.OpPrereqError("Do not specify both, iallocator and node",
                                   errors.ECODE_INVAL)
    if op.get("target_node") or op.get("target_node_uuid"):
        target = iu.node_uuid(cfg, op.get("target_node"), op.get("target_node_uuid"))
    else:
        name = op.get("iallocator")
        if not name or name == ".":      # Ganeti's shortcut for the default
            name = cfg["cluster"].get("default_iallocator")
        if not name:
            raise errors.OpPrereqError(
                "No iallocator or node given and no cluster-wide default iallocator found;"
                " please specify either an iallocator or a node, or set a cluster-wide"
                " default iallocator", errors.ECODE_INVAL)
        target = iallocator_target(ctx, cfg, name, inst)
    if target == inst["primary_node"]:
        raise errors.OpPrereqError("Cannot %s instance %s to its primary (%s)"
                                   % (what, inst["name"], iu.node_name(cfg, target)),
                                   errors.ECODE_STATE)
    op["target_node_uuid"] = target
    op["target_node"] = cfg["nodes"][target]["name"]
    return target


def iallocator_target(ctx, cfg, name, inst):
    """Placement by iallocator NAME (Ganeti's relocate request).

    As for a new instance, the allocator runs before the node locks are
    taken (Ganeti locks every node first); check() then verifies the chosen
    node under its lock.
    """
    from qganeti import iallocator
    target = iallocator.relocate(ctx, cfg, name, inst)
    ctx.log_info("Selected nodes for instance %s via iallocator %s: %s"
                 % (inst["name"], name, cfg["nodes"][target]["name"]))
    return target


def _check_mirrored(ctx, inst, failover):
    template = iu.template_of(iu.disks_of(ctx.config(), inst))
    if template not in MIRRORED:
        raise errors.OpPrereqError("Instance's disk layout '%s' does not allow %s"
                                   % (template, "failovers" if failover else "migrations"),
                                   errors.ECODE_STATE)


def relocate(ctx, inst, target):
    """Record TARGET as the primary node (and of its node-bound disks)."""
    cfg = ctx.config(reload=True)
    uuid = inst["uuid"]
    changes = [{"op": "replace", "path": "/instances/%s/primary_node" % uuid, "value": target}]
    for disk in iu.disks_of(cfg, cfg["instances"][uuid]):
        if disk.get("nodes"):
            changes.append({"op": "replace", "path": "/disks/%s/nodes" % disk["uuid"],
                            "value": [target]})
    ctx.commit(changes)


def _check_target(ctx, target):
    cfg = ctx.config()
    iu.check_node_online(cfg, target)
    if not cfg["nodes"][target].get("vm_capable", True):
        raise errors.OpPrereqError("Can't use non-vm_capable node %s"
                                   % cfg["nodes"][target]["name"], errors.ECODE_STATE)


class _Relocation(iu.InstanceHooks):
    FAILOVER = False

    @classmethod
    def expand(cls, op, ctx):
        locks = iu.lock_instance(op, ctx, nodes=True, node_res=True)
        _, inst = iu.find(ctx, op)
        _check_mirrored(ctx, inst, cls.FAILOVER)
        if op.get("cleanup") and not cls.FAILOVER:
            if op.get("target_node") or op.get("target_node_uuid"):
                target = _target(op, ctx, inst, "migrate")
                return locks + [("node/" + target, "exclusive"),
                                ("node-res/" + target, "exclusive")]
            return locks + [("node/[lockset]", "shared")]
        target = _target(op, ctx, inst, "fail over" if cls.FAILOVER else "migrate")
        return locks + [("node/" + target, "exclusive"), ("node-res/" + target, "exclusive")]

    @classmethod
    def check(cls, op, ctx):
        _, inst = iu.recheck(ctx, op)
        cfg = ctx.config()
        if op.get("cleanup") and not cls.FAILOVER:
            return
        target = op["target_node_uuid"]
        if target not in cfg["nodes"]:
            raise errors.OpPrereqError("Node '%s' not known" % op["target_node"],
                                       errors.ECODE_NOENT)
        _check_target(ctx, target)
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
                    "NEW_PRIMARY": op.get("target_node") or "",
                    "OLD_SECONDARY": "", "NEW_SECONDARY": ""})
        return env

    @staticmethod
    def hooks_nodes(op, ctx):
        cfg = ctx.config()
        inst = cfg["instances"][op["instance_uuid"]]
        nodes = [cfg["cluster"]["master_node"], inst["primary_node"]]
        if op.get("target_node_uuid"):
            nodes.append(op["target_node_uuid"])
        nodes = list(dict.fromkeys(nodes))
        return nodes, nodes


def migration_data(cfg, inst, source, target, live):
    """What both ends of a migration get besides the instance's name."""
    bep = iu.filled_be(cfg, inst)
    return {"memory": bep["maxmem"], "vcpus": bep["vcpus"], "live": live,
            "source": cfg["nodes"][source]["secondary_ip"],
            "target": cfg["nodes"][target]["secondary_ip"],
            "hvparams": iu.filled_hv(cfg, inst), "beparams": bep,
            "disks": [iu.disk_payload(d, i) for i, d in enumerate(iu.disks_of(cfg, inst))],
            "nics": inst.get("nics", []), "uuid": inst["uuid"],
            # what a real hypervisor starts the receiving side from
            "instance": iu.hv_payload(cfg, inst)}


def _is_live(op, cfg, inst):
    if op.get("live") is not None and op.get("mode") is not None:
        raise errors.OpPrereqError("Only one of the 'live' and 'mode' parameters can be"
                                   " given", errors.ECODE_INVAL)
    if op.get("live") is not None:
        return bool(op["live"])
    mode = op.get("mode") or iu.filled_hv(cfg, inst).get("migration_mode") or "live"
    return mode == "live"


class Migrate(_Relocation):
    """OP_INSTANCE_MIGRATE."""
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
        if op["cleanup"]:
            return _cleanup(op, ctx, inst)
        target = op["target_node_uuid"]
        if iu.runtime(ctx, inst) is None:
            if not op["allow_failover"]:
                raise errors.OpExecError("Instance %s is not running, cannot migrate"
                                         % inst["name"])
            ctx.log_info("Instance not running, failing over instead")
            relocate(ctx, inst, target)
            return None
        _migrate(op, ctx, inst, target)
        return None


def _migrate(op, ctx, inst, target):
    cfg = ctx.config()
    source = inst["primary_node"]
    hv, name = inst["hypervisor"], inst["name"]
    data = migration_data(cfg, inst, source, target, _is_live(op, cfg, inst))
    ctx.feedback("* checking target node %s" % op["target_node"])
    ctx.feedback("* preparing %s to accept the instance" % op["target_node"])
    try:
        accepted = ctx.node_call(target, "instance-accept", [hv, name], input=data) or {}
    except errors.GenericError as err:
        raise errors.OpExecError("Could not pre-migrate instance %s: %s"
                                 % (name, err.args[0] if err.args else err))
    data.update(accepted if isinstance(accepted, dict) else {})

    def rollback(reason):
        ctx.log_warning("Migration failed, aborting")
        for node, action, payload in ((source, "instance-migrate-abort", {}),
                                      (target, "instance-finalize-target", {"success": False}),
                                      (source, "instance-finalize-source", {"success": False})):
            try:
                ctx.node_call(node, action, [hv, name], input=payload, timeout=120)
            except errors.GenericError as err:
                ctx.log_warning("%s on node %s failed: %s"
                                % (action, iu.node_name(cfg, node), err))
        raise errors.OpExecError("Could not migrate instance %s: %s" % (name, reason))

    ctx.undo(_undo_accept, ctx, target, hv, name)
    ctx.feedback("* migrating instance to %s" % op["target_node"])
    outcome = {}

    def transfer():
        try:
            outcome["result"] = ctx.node_call(source, "instance-migrate", [hv, name],
                                              input=data)
        except errors.GenericError as err:
            outcome["error"] = err

    worker = threading.Thread(target=transfer, daemon=True)
    worker.start()
    progress = _Progress(ctx, source, hv, name)
    while worker.is_alive():
        worker.join(STATUS_POLL)
        if worker.is_alive():
            progress.poll()
    if "error" in outcome:
        rollback(outcome["error"])
    status = outcome.get("result") or {}
    # a hypervisor whose migrate only starts the transfer (kvm: QMP migrate)
    # is followed here until qemu says it is over, as Ganeti's master does
    deadline = time.monotonic() + MIGRATION_TIMEOUT
    while status.get("status") in MIGRATION_ACTIVE:
        if time.monotonic() > deadline:
            rollback("migration did not finish within %d s" % MIGRATION_TIMEOUT)
        time.sleep(STATUS_POLL)
        status = progress.poll() or status
    if status.get("status") not in (None, "completed"):
        rollback("migration status %s" % status.get("status"))
    if status.get("downtime") is not None:
        ctx.feedback("* transfer took %s ms, the guest was paused for %s ms"
                     % (status.get("total_time"), status["downtime"]))
    ctx.forget_undo()
    # the memory is on the target: from here on the instance lives there
    relocate(ctx, inst, target)
    for node, action in ((source, "instance-finalize-source"),
                         (target, "instance-finalize-target")):
        try:
            ctx.node_call(node, action, [hv, name], input={"success": True})
        except errors.GenericError as err:
            raise errors.OpExecError("Could not finalize instance migration: %s" % err)
    ctx.feedback("* done")


class _Progress:
    """The source's migration status, reported in the job while it moves."""

    def __init__(self, ctx, source, hv, name):
        self.ctx, self.source, self.hv, self.name = ctx, source, hv, name
        self.last = None

    def poll(self):
        try:
            status = self.ctx.node_call(self.source, "instance-migrate-status",
                                        [self.hv, self.name], timeout=30)
        except errors.GenericError:
            return None
        total = status.get("total_ram") or 0
        if total and status.get("transferred_ram") != self.last:
            self.last = status.get("transferred_ram")
            self.ctx.feedback("* memory transfer progress: %.2f %%"
                              % (100.0 * self.last / total))
        return status


def _undo_accept(ctx, target, hv, name):
    try:
        ctx.node_call(target, "instance-finalize-target", [hv, name], input={"success": False})
    except errors.GenericError:
        pass


def _cleanup(op, ctx, inst):
    """Settle a half-done migration: find where the instance runs (Ganeti's _ExecCleanup)."""
    from qganeti import nodecall
    cfg = ctx.config()
    source = inst["primary_node"]
    group = cfg["nodes"][source]["group"]
    if op.get("target_node_uuid"):
        others = [op["target_node_uuid"]]
    else:
        others = [u for u, n in sorted(cfg["nodes"].items()) if u != source
                  and n.get("group") == group and not n.get("offline")
                  and n.get("vm_capable", True)]
    nodes = [source] + others
    hv, name = inst["hypervisor"], inst["name"]
    answers = nodecall.run_many(cfg, nodes, "instance-info", [hv, name], timeout=60)
    for node, answer in answers.items():
        if isinstance(answer, errors.GenericError):
            raise errors.OpExecError("Can't contact node %s: %s"
                                     % (iu.node_name(cfg, node), answer))
    running = [n for n in nodes if answers[n]]
    if len(running) > 1:
        raise errors.OpExecError("Instance seems to be running on two nodes, or the hypervisor"
                                 " is confused; you will have to ensure manually that it runs"
                                 " only on one and restart this operation")
    if not running:
        raise errors.OpExecError("Instance does not seem to be running at all; in this case"
                                 " it's safer to repair by running 'gnt-instance stop' to"
                                 " ensure disk shutdown, and then restarting it")
    where = running[0]
    if where != source:
        ctx.feedback("* instance running on secondary node (%s), updating config"
                     % iu.node_name(cfg, where))
        relocate(ctx, inst, where)
    else:
        ctx.feedback("* instance confirmed to be running on its primary node (%s)"
                     % iu.node_name(cfg, source))
    # what the cut-short migration left behind: the offer on the others, the
    # paused guest or the source-side record where it runs
    for node in nodes:
        if node == where:
            ctx.node_call(node, "instance-migrate-abort", [hv, name], input={})
            ctx.node_call(node, "instance-finalize-source", [hv, name],
                          input={"success": False})
        else:
            ctx.node_call(node, "instance-finalize-target", [hv, name],
                          input={"success": False})
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
        _shutdown_source(ctx, op, inst, "Could not shutdown instance %s on node %s, proceeding"
                         " anyway; please make sure node %s is down; error details: %s")
        relocate(ctx, inst, op["target_node_uuid"])
        if inst["admin_state"] == "up":
            inst = ctx.config(reload=True)["instances"][op["instance_uuid"]]
            ctx.feedback("* starting the instance on the target node %s" % op["target_node"])
            try:
                iu.start(ctx, inst)
            except errors.OpExecError as err:
                raise errors.OpExecError("Could not start instance %s on node %s: %s"
                                         % (inst["name"], op["target_node"], err))
        return None


def _shutdown_source(ctx, op, inst, warning):
    """Stop INST on its primary; with ignore_consistency (or an offline
    primary) a failure is only WARNING (Ganeti's wording for the LU)."""
    source = ctx.config()["nodes"][inst["primary_node"]]
    try:
        if source.get("offline"):
            raise errors.OpExecError("Node is marked offline")
        iu.shutdown(ctx, inst, op["shutdown_timeout"])
    except errors.OpExecError as err:
        if not (op["ignore_consistency"] or source.get("offline")):
            raise errors.OpExecError("Could not shutdown instance %s on node %s: %s"
                                     % (inst["name"], source["name"], err))
        ctx.log_warning(warning % (inst["name"], source["name"], source["name"], err))


class Move(iu.InstanceHooks):
    """OP_INSTANCE_MOVE: copy a file instance's disks to another node."""
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
        from qganeti import defaults
        _, inst = iu.recheck(ctx, op)
        cfg = ctx.config()
        template = iu.template_of(iu.disks_of(cfg, inst))
        if template not in COPYABLE:
            raise errors.OpPrereqError("Disk template %s not suitable for copying" % template,
                                       errors.ECODE_STATE)
        if op["target_node_uuid"] == inst["primary_node"]:
            raise errors.OpPrereqError("Instance %s is already on the node %s"
                                       % (inst["name"], op["target_node"]), errors.ECODE_STATE)
        if op["compress"] not in ["none"] + list(defaults.COMPRESSION_TOOLS):
            raise errors.OpPrereqError("Compression tool '%s' is not enabled"
                                       % op["compress"], errors.ECODE_INVAL)
        _check_target(ctx, op["target_node_uuid"])
        if inst["admin_state"] == "up":
            iu.check_free_memory(ctx, op["target_node_uuid"], "moving instance %s"
                                 % inst["name"], iu.filled_be(cfg, inst)["maxmem"])

    @staticmethod
    def hooks_env(op, ctx):
        cfg = ctx.config()
        inst = cfg["instances"][op["instance_uuid"]]
        env = iu.hook_env(cfg, inst)
        env.update({"TARGET_NODE": op["target_node"],
                    "SHUTDOWN_TIMEOUT": op["shutdown_timeout"]})
        return env

    @staticmethod
    def hooks_nodes(op, ctx):
        cfg = ctx.config()
        inst = cfg["instances"][op["instance_uuid"]]
        nodes = list(dict.fromkeys([cfg["cluster"]["master_node"], inst["primary_node"],
                                    op["target_node_uuid"]]))
        return nodes, nodes

    @staticmethod
    def run(op, ctx):
        return _move(op, ctx)


def _move(op, ctx):
    from qganeti import transfer
    cfg = ctx.config()
    inst = cfg["instances"][op["instance_uuid"]]
    source, target = inst["primary_node"], op["target_node_uuid"]
    source_name = iu.node_name(cfg, source)
    ctx.feedback("Shutting down instance %s on source node %s" % (inst["name"], source_name))
    _shutdown_source(ctx, op, inst, "Could not shutdown instance %s on node %s. Proceeding"
                     " anyway. Please make sure node %s is down. Error details: %s")
    disks = iu.disks_of(cfg, inst)
    ctx.feedback("* creating disks on the target node %s" % op["target_node"])
    created = []
    for template, directory in iu.storage_dirs(disks):
        ctx.undo(_quietly, ctx, target, "storage-dir-remove", [template, directory])
    try:
        for idx, disk in enumerate(disks):
            path = disk["logical_id"][1]
            ctx.undo(_quietly, ctx, target, "disk-remove", [disk["dev_type"], path])
            dst = ctx.node_call(target, "disk-create", [disk["dev_type"], path,
                                                        str(disk["size"])])
            src = ctx.node_call(source, "disk-info", [disk["dev_type"], path])
            created.append(disk)
            ctx.feedback("Copying data for disk %d" % idx)
            result = transfer.copy(cfg, source, src["path"], target, dst["path"],
                                   op["compress"], ctx.feedback)
            kept = (", %d MiB kept from interrupted attempts" % (result["kept"] >> 20)
                    if result.get("kept") else "")
            ctx.feedback("Disk %d copied: %d MiB, %d MiB of data sent in %.1f s%s (sha256 %s)"
                         % (idx, result["bytes"] >> 20, result["sent"] >> 20,
                            result["seconds"], kept, result["sha256"][:16]))
    except errors.GenericError as err:
        ctx.log_warning("Some disks failed to copy, aborting")
        raise errors.OpExecError("Errors during disk copy: %s" % err)
    ctx.forget_undo()
    relocate(ctx, inst, target)
    inst = ctx.config(reload=True)["instances"][inst["uuid"]]
    ctx.feedback("Removing the disks on the original node")
    for disk in disks:
        try:
            ctx.node_call(source, "disk-remove", [disk["dev_type"], disk["logical_id"][1]])
        except errors.GenericError as err:
            ctx.log_warning("Could not remove disk %s on node %s: %s"
                            % (disk.get("iv_name"), source_name, err))
    for template, directory in iu.storage_dirs(disks):
        _quietly(ctx, source, "storage-dir-remove", [template, directory])
    if inst["admin_state"] == "up":
        ctx.feedback("Starting instance %s on node %s" % (inst["name"], op["target_node"]))
        try:
            iu.start(ctx, inst)
        except errors.OpExecError as err:
            raise errors.OpExecError("Can't start instance %s: %s" % (inst["name"], err))
    return None


def _quietly(ctx, node, action, args):
    try:
        ctx.node_call(node, action, args)
    except errors.GenericError:
        pass


class ChangeGroup:
    """OP_INSTANCE_CHANGE_GROUP: the iallocator's change-group answer,
    submitted as jobs (Ganeti's LUInstanceChangeGroup)."""

    @staticmethod
    def expand(op, ctx):
        cfg = ctx.config()
        if not op.get("iallocator"):
            op["iallocator"] = cfg["cluster"].get("default_iallocator") or None
        if not op["iallocator"]:
            raise errors.OpPrereqError("No iallocator was specified, neither in the opcode"
                                       " nor as a cluster-wide default", errors.ECODE_INVAL)
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
        ctx.target_groups = targets

    @staticmethod
    def run(op, ctx):
        from qganeti import iallocator, jobrun
        cfg = ctx.config()
        answer = iallocator.change_group(
            ctx, cfg, op["iallocator"], [op["instance_name"]], ctx.target_groups,
            "Can't compute solution for changing group of instance '%s'"
            % op["instance_name"])
        jobs = iallocator.evacuation_jobs(ctx, answer, op["early_release"], False)
        ctx.log_info("Iallocator returned %s job(s) for changing group of instance '%s'"
                     % (len(jobs), op["instance_name"]))
        return jobrun.JobsResult(jobs)
