"""Node opcodes: set params, storage (query, modify, repair), remove
(Ganeti's lib/cmdlib/node.py, on config.data).

Storage units are read on the node by node/storage-list (and changed by
node/storage-modify, node/storage-repair): file and sharedfile are
directories; LVM (lvm-vg, lvm-pv) is not available on qganeti nodes, so
those report an error the opcodes turn into Ganeti's warnings and failures.
"""

from qganeti import config, defaults, errors
from qganeti.lu.group import instance_nodes, merge_disk_state, merge_hv_state, updated_params

SF_NODE, SF_TYPE, SF_NAME, SF_SIZE, SF_USED, SF_FREE, SF_ALLOCATABLE = (
    "node", "type", "name", "size", "used", "free", "allocatable")
VALID_STORAGE_FIELDS = (SF_NODE, SF_TYPE, SF_NAME, SF_SIZE, SF_USED, SF_FREE, SF_ALLOCATABLE)
MODIFIABLE_STORAGE_FIELDS = {"lvm-pv": (SF_ALLOCATABLE,)}
REPAIRABLE_STORAGE_TYPES = ("lvm-vg",)
STS_REPORT_NODE_STORAGE = ("file", "lvm-vg", "sharedfile", "gluster")
DISK_TEMPLATE_STORAGE_TYPE = {
    "plain": "lvm-vg", "drbd": "lvm-vg", "file": "file", "sharedfile": "sharedfile",
    "gluster": "gluster", "diskless": "diskless", "blockdev": "blockdev", "rbd": "rados",
    "ext": "ext",
}

ROLE_CANDIDATE, ROLE_DRAINED, ROLE_OFFLINE, ROLE_REGULAR = range(4)
_F2R = {(True, False, False): ROLE_CANDIDATE, (False, True, False): ROLE_DRAINED,
        (False, False, True): ROLE_OFFLINE, (False, False, False): ROLE_REGULAR}
_R2F = dict((v, k) for k, v in _F2R.items())
_FLAGS = ("master_candidate", "drained", "offline")


def expand_node(cfg, op):
    """Ganeti's ExpandNodeUuidAndName: fills node_uuid and the full node_name."""
    uuid = op.get("node_uuid")
    if uuid and uuid in cfg["nodes"]:
        op["node_name"] = cfg["nodes"][uuid]["name"]
        return uuid
    uuid = config.node_uuid(cfg, op["node_name"])
    op["node_uuid"], op["node_name"] = uuid, cfg["nodes"][uuid]["name"]
    return uuid


def check_not_global(ndparams):
    """Ganeti's CheckParamsNotGlobal for node parameters set on a node."""
    used = sorted(set(ndparams) & set(defaults.NDC_GLOBALS))
    if used:
        raise errors.OpPrereqError("The following node parameters are global and cannot be"
                                   " customized at node level, please modify them at"
                                   " cluster or group level: %s" % ", ".join(used),
                                   errors.ECODE_INVAL)


def check_storage_type_enabled(cfg, storage_type):
    """Ganeti's CheckStorageTypeEnabled."""
    if storage_type == "lvm-pv":
        return check_storage_type_enabled(cfg, "lvm-vg")
    enabled = cfg["cluster"].get("enabled_disk_templates", [])
    if any(DISK_TEMPLATE_STORAGE_TYPE[t] == storage_type for t in enabled):
        return
    raise errors.OpPrereqError("No disk template of storage type '%s' is enabled in this"
                               " cluster. Enabled disk templates are: %s"
                               % (storage_type, ",".join(enabled)))


def storage_args(cfg, storage_type):
    """The storage directory a storage type lists (Ganeti's _GetStorageTypeArgs)."""
    cluster = cfg["cluster"]
    return {"file": [cluster.get("file_storage_dir")],
            "sharedfile": [cluster.get("shared_file_storage_dir")],
            "gluster": [cluster.get("gluster_storage_dir")]}.get(storage_type, [])


def master_candidate_stats(cfg, exceptions=()):
    """Ganeti's GetMasterCandidateStats: (now, should, max)."""
    mc_now = mc_max = 0
    for uuid, node in cfg["nodes"].items():
        if uuid in exceptions:
            continue
        if not (node.get("offline") or node.get("drained")) and node.get("master_capable"):
            mc_max += 1
        if node.get("master_candidate"):
            mc_now += 1
    return mc_now, min(mc_max, cfg["cluster"].get("candidate_pool_size", 10)), mc_max


def _decide_self_promotion(cfg, exceptions=()):
    mc_now, mc_should, _ = master_candidate_stats(cfg, exceptions)
    return mc_now < min(mc_should + 1, cfg["cluster"].get("candidate_pool_size", 10))


def _oob_program(cfg, node):
    group = cfg["nodegroups"].get(node.get("group"), {})
    return defaults.fill_nd(cfg["cluster"], group, node).get("oob_program")


def _drbd_instances(cfg, node_uuid):
    out = []
    for inst in cfg["instances"].values():
        disks = [cfg["disks"].get(d) or {} for d in inst.get("disks") or ()]
        if any(d.get("dev_type") == "drbd" for d in disks) and \
                node_uuid in instance_nodes(cfg, inst):
            out.append(inst)
    return out


class SetParams:
    """Ganeti's LUNodeSetParams (role flags, capabilities, parameters)."""
    HPATH = "node-modify"
    HTYPE = "NODE"

    @staticmethod
    def expand(op, ctx):
        cfg = ctx.config()
        uuid = expand_node(cfg, op)
        mods = [op[k] for k in ("offline", "master_candidate", "drained", "master_capable",
                                "vm_capable", "secondary_ip", "ndparams", "hv_state",
                                "disk_state")]
        if mods.count(None) == len(mods):
            raise errors.OpPrereqError("Please pass at least one modification",
                                       errors.ECODE_INVAL)
        if mods.count(True) > 1:
            raise errors.OpPrereqError("Can't set the node into more than one state at the"
                                       " same time", errors.ECODE_INVAL)
        ctx.might_demote = (op["master_candidate"] is False or op["offline"] is True
                            or op["drained"] is True or op["master_capable"] is False)
        if op["secondary_ip"]:
            from qganeti import netutils
            if not netutils.is_ipv4(op["secondary_ip"]):
                raise errors.OpPrereqError("Secondary IP (%s) needs to be a valid IPv4"
                                           " address" % op["secondary_ip"], errors.ECODE_INVAL)
        ctx.lock_all = op["auto_promote"] and ctx.might_demote
        if ctx.lock_all:
            locks = [("node/[lockset]", "exclusive"), ("node-res/[lockset]", "exclusive")]
        else:
            locks = [("node/" + uuid, "exclusive"), ("node-res/" + uuid, "exclusive")]
        if op["secondary_ip"] is not None:
            locks += [("instance/" + i["name"], "shared") for i in _drbd_instances(cfg, uuid)]
        return locks

    @staticmethod
    def check(op, ctx):
        cfg = ctx.config(reload=True)
        uuid = op["node_uuid"]
        node = cfg["nodes"].get(uuid)
        if node is None:
            raise errors.OpPrereqError("Node '%s' not known" % op["node_name"],
                                       errors.ECODE_NOENT)
        master = cfg["cluster"]["master_node"]
        if (op["master_candidate"] is not None or op["drained"] is not None
                or op["offline"] is not None or op["master_capable"] is False) \
                and uuid == master:
            raise errors.OpPrereqError("The master role can be changed only via"
                                       " master-failover", errors.ECODE_INVAL)
        if op["master_candidate"] and not node.get("master_capable"):
            raise errors.OpPrereqError("Node %s is not master capable, cannot make it a"
                                       " master candidate" % node["name"], errors.ECODE_STATE)
        if op["vm_capable"] is False:
            hosted = [i for i in cfg["instances"].values() if uuid in instance_nodes(cfg, i)]
            if hosted:
                raise errors.OpPrereqError("Node %s hosts instances, cannot unset the"
                                           " vm_capable flag" % node["name"],
                                           errors.ECODE_STATE)
        if node.get("master_candidate") and ctx.might_demote and not ctx.lock_all:
            mc_remaining, mc_should, _ = master_candidate_stats(cfg, [uuid])
            if mc_remaining < mc_should:
                raise errors.OpPrereqError("Not enough master candidates, please pass auto"
                                           " promote option to allow promotion"
                                           " (--auto-promote or RAPI auto_promote=True)",
                                           errors.ECODE_STATE)
        old_flags = tuple(bool(node.get(f)) for f in _FLAGS)
        if old_flags not in _F2R:
            raise errors.OpPrereqError("Node %s has inconsistent role flags %s"
                                       % (node["name"], old_flags), errors.ECODE_STATE)
        ctx.old_flags, ctx.old_role = old_flags, _F2R[old_flags]
        for attr in _FLAGS:
            if op[attr] is False and not node.get(attr):
                ctx.log_info("Ignoring request to unset flag %s, already unset", attr)
                op[attr] = None
        if _oob_program(cfg, node):
            if op["offline"] is False and not (node.get("powered", True)
                                               or op["powered"] is True):
                raise errors.OpPrereqError("Node %s needs to be turned on before its offline"
                                           " status can be reset" % op["node_name"],
                                           errors.ECODE_STATE)
        elif op["powered"] is not None:
            raise errors.OpPrereqError("Unable to change powered state for node %s as it"
                                       " does not support out-of-band handling"
                                       % op["node_name"], errors.ECODE_STATE)
        if (op["drained"] is False or op["offline"] is False
                or (op["master_capable"] and not node.get("master_capable"))):
            if _decide_self_promotion(cfg, [uuid]):
                op["master_candidate"] = True
                ctx.log_info("Auto-promoting node to master candidate")
        if op["master_capable"] is False and node.get("master_candidate"):
            ctx.log_info("Demoting from master candidate")
            op["master_candidate"] = False
        if op["master_candidate"]:
            new_role = ROLE_CANDIDATE
        elif op["drained"]:
            new_role = ROLE_DRAINED
        elif op["offline"]:
            new_role = ROLE_OFFLINE
        elif False in (op["master_candidate"], op["drained"], op["offline"]):
            new_role = ROLE_REGULAR
        else:
            new_role = ctx.old_role
        ctx.new_role = new_role
        if ctx.old_role == ROLE_OFFLINE and new_role != ROLE_OFFLINE:
            try:
                ctx.node_call(uuid, "node-info", timeout=30)
            except errors.GenericError as err:
                raise errors.OpPrereqError("Node %s is being de-offlined but fails to report"
                                           " its version: %s" % (node["name"], err),
                                           errors.ECODE_STATE)
            ctx.log_warning("Transitioning node from offline to online state without using"
                            " re-add. Please make sure the node is healthy!")
        if op["secondary_ip"]:
            _check_secondary_ip(op, ctx, cfg, node)
        new = dict(node)
        if op["ndparams"]:
            nd = defaults.check_params("nd", updated_params(node.get("ndparams") or {},
                                                            op["ndparams"]))
            check_not_global(op["ndparams"])
            new["ndparams"] = nd
        if op["hv_state"]:
            new["hv_state_static"] = merge_hv_state(op["hv_state"], node.get("hv_state_static"))
        if op["disk_state"]:
            new["disk_state_static"] = merge_disk_state(op["disk_state"],
                                                        node.get("disk_state_static"))
        ctx.new_node = new

    @staticmethod
    def hooks_env(op, ctx):
        return {"OP_TARGET": op["node_name"],
                "MASTER_CANDIDATE": str(op["master_candidate"]),
                "OFFLINE": str(op["offline"]), "DRAINED": str(op["drained"]),
                "MASTER_CAPABLE": str(op["master_capable"]),
                "VM_CAPABLE": str(op["vm_capable"])}

    @staticmethod
    def hooks_nodes(op, ctx):
        nodes = list(dict.fromkeys([ctx.config()["cluster"]["master_node"], op["node_uuid"]]))
        return nodes, nodes

    @staticmethod
    def run(op, ctx):
        node = ctx.new_node
        result = []
        if op["powered"] is not None:
            node["powered"] = op["powered"]
        for attr in ("master_capable", "vm_capable"):
            if op[attr] is not None:
                node[attr] = op[attr]
                result.append([attr, str(op[attr])])
        if ctx.new_role != ctx.old_role:
            new_flags = _R2F[ctx.new_role]
            for old, new, desc in zip(ctx.old_flags, new_flags, _FLAGS):
                if old != new:
                    result.append([desc, str(new)])
            node["master_candidate"], node["drained"], node["offline"] = new_flags
        if op["secondary_ip"]:
            node["secondary_ip"] = op["secondary_ip"]
            result.append(["secondary_ip", op["secondary_ip"]])
        ctx.commit([{"op": "replace", "path": "/nodes/" + op["node_uuid"], "value": node}])
        return result


def _check_secondary_ip(op, ctx, cfg, node):
    master = cfg["nodes"][cfg["cluster"]["master_node"]]
    single = master.get("secondary_ip") == master.get("primary_ip")
    is_master = node["uuid"] == master["uuid"]
    if single and op["secondary_ip"] != node.get("primary_ip"):
        if op["force"] and is_master:
            ctx.log_warning("Transitioning from single-homed to multi-homed cluster; all"
                            " nodes will require a secondary IP address")
        else:
            raise errors.OpPrereqError("Changing the secondary ip on a single-homed cluster"
                                       " requires the --force option to be passed, and the"
                                       " target node to be the master", errors.ECODE_INVAL)
    elif not single and op["secondary_ip"] == node.get("primary_ip"):
        if op["force"] and is_master:
            ctx.log_warning("Transitioning from multi-homed to single-homed cluster;"
                            " secondary IP addresses will have to be removed")
        else:
            raise errors.OpPrereqError("Cannot set the secondary IP to be the same as the"
                                       " primary IP on a multi-homed cluster, unless the"
                                       " --force option is passed, and the target node is"
                                       " the master", errors.ECODE_INVAL)
    affected = _drbd_instances(cfg, node["uuid"])
    if node.get("offline"):
        if affected:
            raise errors.OpPrereqError("Cannot change secondary IP address: offline node has"
                                       " instances (%s) configured to use it"
                                       % ", ".join(i["name"] for i in affected),
                                       errors.ECODE_STATE)
        return
    for inst in affected:
        if inst.get("admin_state") == "up":
            raise errors.OpPrereqError("Instance '%s' is marked to be up, cannot change"
                                       " secondary ip" % inst["name"], errors.ECODE_STATE)


def _check_output_fields(fields, valid):
    bad = [f for f in fields if f not in valid]
    if bad:
        raise errors.OpPrereqError("Unknown output fields selected: %s" % ", ".join(bad),
                                   errors.ECODE_INVAL)


class QueryStorage:
    """Ganeti's LUNodeQueryStorage: rows of OUTPUT_FIELDS per storage unit."""

    @staticmethod
    def expand(op, ctx):
        _check_output_fields(op["output_fields"], VALID_STORAGE_FIELDS)
        cfg = ctx.config()
        if op["nodes"]:
            ctx.node_uuids = [config.node_uuid(cfg, name) for name in op["nodes"]]
            return [("node/" + u, "shared") for u in ctx.node_uuids]
        ctx.node_uuids = None
        return [("node/[lockset]", "shared")]

    @staticmethod
    def check(op, ctx):
        cfg = ctx.config(reload=True)
        if op["storage_type"]:
            check_storage_type_enabled(cfg, op["storage_type"])
            ctx.storage_type = op["storage_type"]
        else:
            enabled = cfg["cluster"].get("enabled_disk_templates") or ["diskless"]
            ctx.storage_type = DISK_TEMPLATE_STORAGE_TYPE[enabled[0]]
            if ctx.storage_type not in STS_REPORT_NODE_STORAGE:
                raise errors.OpPrereqError(
                    "Storage reporting for storage type '%s' is not supported. Please use the"
                    " --storage-type option to specify one of the supported storage types"
                    " (%s) or set the default disk template to one that supports storage"
                    " reporting." % (ctx.storage_type, ", ".join(STS_REPORT_NODE_STORAGE)),
                    errors.ECODE_INVAL)
        if ctx.node_uuids is None:
            ctx.node_uuids = list(cfg["nodes"])

    @staticmethod
    def run(op, ctx):
        from qganeti import nodecall, query
        cfg = ctx.config()
        fields = list(op["output_fields"])
        if SF_NAME not in fields:
            fields.insert(0, SF_NAME)
        fields = [f for f in fields if f not in (SF_NODE, SF_TYPE)]
        index = dict((name, idx) for idx, name in enumerate(fields))
        args = [ctx.storage_type, ",".join(fields)] + storage_args(cfg, ctx.storage_type)
        if op["name"]:
            args = ["--name", op["name"]] + args
        online = [u for u in ctx.node_uuids if not cfg["nodes"][u].get("offline")]
        answers = nodecall.run_many(cfg, online, "storage-list", args)
        names = dict((u, cfg["nodes"][u]["name"]) for u in online)
        result = []
        for uuid in sorted(online, key=lambda u: query.nice_key(names[u])):
            answer = answers.get(uuid)
            if isinstance(answer, Exception):
                ctx.log_warning("Can't get storage data from node %s: %s", names[uuid],
                                _reason(answer))
                continue
            rows = dict((row[index[SF_NAME]], row) for row in answer or [])
            for name in query.nice_sort(rows):
                out = []
                for field in op["output_fields"]:
                    if field == SF_NODE:
                        out.append(names[uuid])
                    elif field == SF_TYPE:
                        out.append(ctx.storage_type)
                    else:
                        out.append(rows[name][index[field]])
                result.append(out)
        return result


def _reason(err):
    """A node action's own message, without nodecall's 'Node x: action failed:'."""
    text = str(err.args[0]) if err.args else str(err)
    return text.split(" failed: ", 1)[1] if " failed: " in text else text


class ModifyStorage:
    @staticmethod
    def expand(op, ctx):
        uuid = expand_node(ctx.config(), op)
        modifiable = MODIFIABLE_STORAGE_FIELDS.get(op["storage_type"])
        if modifiable is None:
            raise errors.OpPrereqError("Storage units of type '%s' can not be modified"
                                       % op["storage_type"], errors.ECODE_INVAL)
        diff = [k for k in op["changes"] if k not in modifiable]
        if diff:
            raise errors.OpPrereqError("The following fields can not be modified for storage"
                                       " units of type '%s': %r" % (op["storage_type"], diff),
                                       errors.ECODE_INVAL)
        return [("node/" + uuid, "exclusive")]

    @staticmethod
    def check(op, ctx):
        check_storage_type_enabled(ctx.config(reload=True), op["storage_type"])

    @staticmethod
    def run(op, ctx):
        from qganeti import fastjson
        args = [op["storage_type"], op["name"] or "", fastjson.dumps(op["changes"])]
        try:
            ctx.node_call(op["node_uuid"], "storage-modify", args)
        except errors.GenericError as err:
            raise errors.OpExecError("Failed to modify storage unit '%s' on %s: %s"
                                     % (op["name"], op["node_name"], _reason(err)))


class RepairStorage:
    @staticmethod
    def expand(op, ctx):
        uuid = expand_node(ctx.config(), op)
        if op["storage_type"] not in REPAIRABLE_STORAGE_TYPES:
            raise errors.OpPrereqError("Storage units of type '%s' can not be repaired"
                                       % op["storage_type"], errors.ECODE_INVAL)
        return [("node/" + uuid, "exclusive")]

    @staticmethod
    def check(op, ctx):
        check_storage_type_enabled(ctx.config(reload=True), op["storage_type"])

    @staticmethod
    def run(op, ctx):
        ctx.feedback("Repairing storage unit '%s' on %s ..." % (op["name"], op["node_name"]))
        try:
            ctx.node_call(op["node_uuid"], "storage-repair", [op["storage_type"],
                                                              op["name"] or ""])
        except errors.GenericError as err:
            raise errors.OpExecError("Failed to repair storage unit '%s' on %s: %s"
                                     % (op["name"], op["node_name"], _reason(err)))


class Remove:
    """Ganeti's LUNodeRemove (needs the Big Ganeti Lock)."""
    HPATH = "node-remove"
    HTYPE = "NODE"
    REQ_BGL = True

    @staticmethod
    def expand(op, ctx):
        return []

    @staticmethod
    def check(op, ctx):
        cfg = ctx.config(reload=True)
        uuid = expand_node(cfg, op)
        if uuid == cfg["cluster"]["master_node"]:
            raise errors.OpPrereqError("Node is the master node, failover to another node is"
                                       " required", errors.ECODE_INVAL)
        for inst in cfg["instances"].values():
            if uuid in instance_nodes(cfg, inst):
                raise errors.OpPrereqError("Instance %s is still running on the node, please"
                                           " remove first" % inst["name"], errors.ECODE_INVAL)

    @staticmethod
    def hooks_env(op, ctx):
        return {"OP_TARGET": op["node_name"], "NODE_NAME": op["node_name"]}

    @staticmethod
    def hooks_nodes(op, ctx):
        nodes = [u for u in ctx.config()["nodes"] if u != op["node_uuid"]]
        return nodes, nodes

    @staticmethod
    def run(op, ctx):
        from qganeti import sshkeys
        from qganeti.lu.node_add import adjust_candidate_pool
        cfg = ctx.config(reload=True)
        uuid = op["node_uuid"]
        node = cfg["nodes"][uuid]
        changes = [{"op": "remove", "path": "/nodes/" + uuid}]
        if node.get("master_candidate"):
            changes += adjust_candidate_pool(ctx, cfg, [uuid])
        if not node.get("offline"):
            # the node forgets the cluster while it can still be reached
            try:
                ctx.node_call(uuid, "node-leave", timeout=60)
            except errors.GenericError as err:
                ctx.log_warning("Errors encountered on the remote node while leaving the"
                                " cluster: %s" % err)
        sshkeys.forget_host(node["name"])   # before the commit that replicates it
        ctx.commit(changes)
