"""Emptying a node: OP_NODE_MIGRATE and OP_NODE_EVACUATE (Ganeti's LUNodeMigrate,
LUNodeEvacuate), each submitting one job per instance.

Without a target node, evacuate asks the iallocator (node-evacuate
request) and submits the jobs of its answer, as Ganeti does.  Beyond
Ganeti: with an explicit target node (-n), evacuate also moves primary
instances there (Ganeti evacuates only secondaries that way): mirrored ones
(sharedfile, diskless) by migration, falling back to failover when stopped;
file-based ones by move.
"""

from qganeti import errors
from qganeti.lu import instance_util as iu
from qganeti.lu.node import expand_node

MOVED_BY_COPY = ("file", "plain")


def _primaries(cfg, node_uuid):
    return sorted((i for i in cfg["instances"].values() if i["primary_node"] == node_uuid),
                  key=lambda i: i["name"])


def _check_iallocator_or_node(op, cfg, node_field):
    """Ganeti's CheckIAllocatorOrNode."""
    if op.get(node_field) and op.get("iallocator"):
        raise errors.OpPrereqError("Do not specify both, iallocator and node",
                                   errors.ECODE_INVAL)
    if not op.get(node_field) and (not op.get("iallocator") or op["iallocator"] == "."):
        default = cfg["cluster"].get("default_iallocator")
        if not default:
            raise errors.OpPrereqError(
                "No iallocator or node given and no cluster-wide default iallocator found;"
                " please specify either an iallocator or a node, or set a cluster-wide"
                " default iallocator", errors.ECODE_INVAL)
        op["iallocator"] = default


def _target(op, cfg, node_field):
    name = op.get(node_field)
    if not name:
        return None
    uuid = iu.node_uuid(cfg, name, op.get(node_field + "_uuid"))
    if uuid == op["node_uuid"]:
        raise errors.OpPrereqError("Can not use evacuated node as a new secondary node",
                                   errors.ECODE_INVAL)
    return uuid


class Migrate:
    """OP_NODE_MIGRATE: one OP_INSTANCE_MIGRATE job per primary instance."""
    HPATH = "node-migrate"
    HTYPE = "NODE"

    @staticmethod
    def expand(op, ctx):
        cfg = ctx.config()
        uuid = expand_node(cfg, op)
        return [("node/" + uuid, "shared")]

    @staticmethod
    def hooks_env(op, ctx):
        return {"NODE_NAME": op["node_name"],
                "ALLOW_RUNTIME_CHANGES": op["allow_runtime_changes"]}

    @staticmethod
    def hooks_nodes(op, ctx):
        nodes = [ctx.config()["cluster"]["master_node"]]
        return nodes, nodes

    @staticmethod
    def run(op, ctx):
        from qganeti import jobrun
        cfg = ctx.config()
        target = _target(op, cfg, "target_node")
        jobs = []
        for inst in _primaries(cfg, op["node_uuid"]):
            sub = {"OP_ID": "OP_INSTANCE_MIGRATE", "instance_name": inst["name"],
                   "allow_runtime_changes": op["allow_runtime_changes"],
                   "ignore_ipolicy": op["ignore_ipolicy"]}
            for key in ("mode", "live", "iallocator"):
                if op.get(key) is not None:
                    sub[key] = op[key]
            if target:
                sub["target_node"] = cfg["nodes"][target]["name"]
            jobs.append([sub])
        return jobrun.JobsResult(jobs)


class Evacuate:
    """OP_NODE_EVACUATE: relocate the node's instances, one job each."""

    @staticmethod
    def expand(op, ctx):
        cfg = ctx.config()
        uuid = expand_node(cfg, op)
        _check_iallocator_or_node(op, cfg, "remote_node")
        _target(op, cfg, "remote_node")
        return [("node/" + uuid, "shared")]

    @staticmethod
    def run(op, ctx):
        from qganeti import jobrun
        cfg = ctx.config()
        target = _target(op, cfg, "remote_node")
        instances = []
        if op["mode"] in ("primary-only", "all"):
            instances += _primaries(cfg, op["node_uuid"])
        # qganeti's templates have no secondaries (no DRBD): nothing more to do for them
        if not instances:
            return jobrun.JobsResult([])
        if target is None:
            from qganeti import iallocator
            answer = iallocator.node_evacuate(ctx, cfg, op["iallocator"],
                                              [i["name"] for i in instances], op["mode"],
                                              bool(op.get("ignore_soft_errors")))
            return jobrun.JobsResult(iallocator.evacuation_jobs(ctx, answer,
                                                                op["early_release"], True))
        iu.check_node_online(cfg, target)
        target_name = cfg["nodes"][target]["name"]
        jobs = []
        for inst in instances:
            template = iu.template_of(iu.disks_of(cfg, inst))
            if template in MOVED_BY_COPY:
                jobs.append([{"OP_ID": "OP_INSTANCE_MOVE", "instance_name": inst["name"],
                              "target_node": target_name}])
            else:
                jobs.append([{"OP_ID": "OP_INSTANCE_MIGRATE", "instance_name": inst["name"],
                              "target_node": target_name, "allow_failover": True}])
        return jobrun.JobsResult(jobs)
