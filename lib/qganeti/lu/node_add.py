"""Adding a node (Ganeti's LUNodeAdd), and the master candidate pool.

By the time OP_NODE_ADD runs, `gnt-node add` has prepared the node (its
host key is in the cluster's known_hosts; it holds the cluster's SSH key,
known_hosts and certificate: node/node-join).  The opcode checks what
Ganeti checks (name, addresses, flags), reaches the node over SSH with the
cluster's key and compares protocol versions (node/version), adds it to
config.data, and installs ssconf (and config.data on a master candidate)
on it at once; luxid's replication keeps it current from then on.
"""

from qganeti import errors
from qganeti.lu import instance_util as iu
from qganeti.lu.group import lookup_group, instance_nodes
from qganeti.lu.node import check_not_global, master_candidate_stats

_NFLAGS = ("master_capable", "vm_capable")


def decide_self_promotion(cfg, exceptions=()):
    """Ganeti's _DecideSelfPromotion: should a new node become a candidate?"""
    mc_now, mc_should, _ = master_candidate_stats(cfg, exceptions)
    return mc_now < min(mc_should + 1, cfg["cluster"].get("candidate_pool_size", 10))


def adjust_candidate_pool(ctx, cfg, exceptions=()):
    """Ganeti's AdjustCandidatePool: promote nodes until the pool is full.

    Returns the config changes (node replacements) and logs who got promoted.
    """
    mc_now, mc_should, _ = master_candidate_stats(cfg, exceptions)
    changes = []
    promoted = []
    for uuid, node in sorted(cfg["nodes"].items(), key=lambda item: item[1]["name"]):
        if mc_now >= mc_should:
            break
        if uuid in exceptions or node.get("master_candidate") or node.get("offline") \
                or node.get("drained") or not node.get("master_capable"):
            continue
        new = dict(node, master_candidate=True)
        changes.append({"op": "replace", "path": "/nodes/" + uuid, "value": new})
        promoted.append(node["name"])
        mc_now += 1
    if promoted:
        ctx.log_info("Promoted nodes to master candidate role: %s", ", ".join(promoted))
    if mc_now > mc_should:
        ctx.log_warning("Note: more nodes are candidates (%d) than desired (%d)",
                        mc_now, mc_should)
    return changes


class Add:
    """OP_NODE_ADD (also --readd)."""
    HPATH = "node-add"
    HTYPE = "NODE"
    REQ_BGL = True

    @staticmethod
    def expand(op, ctx):
        cfg = ctx.config()
        name, address = iu.resolve(iu.normalize_name(op["node_name"]))
        op["node_name"] = name
        op["primary_ip"] = address
        master = cfg["nodes"][cfg["cluster"]["master_node"]]["name"]
        if op["readd"] and name == master:
            raise errors.OpPrereqError("Cannot readd the master node", errors.ECODE_STATE)
        if op["readd"] and op["group"]:
            raise errors.OpPrereqError("Cannot pass a node group when a node is being"
                                       " readded", errors.ECODE_INVAL)
        return []

    @staticmethod
    def check(op, ctx):
        from qganeti import defaults, netutils
        cfg = ctx.config(reload=True)
        name = op["node_name"]
        if op["secondary_ip"] is None:
            op["secondary_ip"] = op["primary_ip"]
        sip = op["secondary_ip"]
        if not netutils.is_ipv4(sip):
            raise errors.OpPrereqError("Secondary IP (%s) needs to be a valid IPv4 address"
                                       % sip, errors.ECODE_INVAL)
        existing = next((u for u, n in cfg["nodes"].items() if n["name"] == name), None)
        if not op["readd"] and existing is not None:
            raise errors.OpPrereqError("Node %s is already in the configuration" % name,
                                       errors.ECODE_EXISTS)
        if op["readd"] and existing is None:
            raise errors.OpPrereqError("Node %s is not in the configuration" % name,
                                       errors.ECODE_NOENT)
        for uuid, node in cfg["nodes"].items():
            if uuid == existing:
                if node["secondary_ip"] != sip:
                    raise errors.OpPrereqError("Readded node doesn't have the same IP address"
                                               " configuration as before", errors.ECODE_INVAL)
                continue
            if {node["primary_ip"], node["secondary_ip"]} & {op["primary_ip"], sip}:
                raise errors.OpPrereqError("New node ip address(es) conflict with existing"
                                           " node %s" % node["name"], errors.ECODE_NOTUNIQUE)
        old = cfg["nodes"][existing] if existing else {}
        for attr in _NFLAGS:
            if op[attr] is None:
                op[attr] = old.get(attr, True) if existing else True
        if op["readd"] and not op["vm_capable"]:
            if any(existing in instance_nodes(cfg, i) for i in cfg["instances"].values()):
                raise errors.OpPrereqError("Node %s being re-added with vm_capable flag set to"
                                           " false, but it already holds instances" % name,
                                           errors.ECODE_STATE)
        master = cfg["nodes"][cfg["cluster"]["master_node"]]
        master_single = master["secondary_ip"] == master["primary_ip"]
        if master_single != (sip == op["primary_ip"]):
            raise errors.OpPrereqError("The master has no secondary ip but the new node has"
                                       " one" if master_single else "The master has a"
                                       " secondary ip but the new node doesn't have one",
                                       errors.ECODE_INVAL)
        exceptions = [existing] if existing else []
        ctx.master_candidate = bool(op["master_capable"]) and \
            decide_self_promotion(cfg, exceptions)
        ctx.group = old.get("group") if existing else lookup_group(
            cfg, op["group"]) if op["group"] else _default_group(cfg)
        if op["ndparams"]:
            defaults.check_params("nd", op["ndparams"])
            check_not_global(op["ndparams"])
        ctx.existing = existing
        _check_version(ctx, name)

    @staticmethod
    def hooks_env(op, ctx):
        return {"OP_TARGET": op["node_name"], "NODE_NAME": op["node_name"],
                "NODE_PIP": op["primary_ip"], "NODE_SIP": op["secondary_ip"],
                "MASTER_CAPABLE": str(op["master_capable"]),
                "VM_CAPABLE": str(op["vm_capable"])}

    @staticmethod
    def hooks_nodes(op, ctx):
        cfg = ctx.config()
        nodes = [u for u, n in cfg["nodes"].items() if n["name"] != op["node_name"]]
        return nodes, nodes

    @staticmethod
    def post_hook_nodes(op, cfg, nodes):
        """The new node runs the post hooks too, once it is in the config."""
        added = [u for u, n in cfg["nodes"].items() if n["name"] == op["node_name"]]
        return list(nodes) + [u for u in added if u not in nodes]

    @staticmethod
    def run(op, ctx):
        from qganeti import config, replicate
        cfg = ctx.config(reload=True)
        if ctx.existing:
            node = dict(cfg["nodes"][ctx.existing], offline=False, drained=False,
                        master_candidate=ctx.master_candidate, powered=True,
                        primary_ip=op["primary_ip"])
            ctx.log_info("Readding a node, the offline/drained flags were reset")
            uuid = ctx.existing
        else:
            uuid = config.new_uuid()
            node = {"name": op["node_name"], "primary_ip": op["primary_ip"],
                    "secondary_ip": op["secondary_ip"],
                    "master_candidate": ctx.master_candidate, "offline": False,
                    "drained": False, "group": ctx.group, "ndparams": {}, "powered": True,
                    "uuid": uuid, "tags": []}
        for attr in _NFLAGS:
            node[attr] = op[attr]
        if node["master_candidate"]:
            ctx.log_info("Node will be a master candidate")
        if op["ndparams"]:
            node["ndparams"] = op["ndparams"]
        if op["hv_state"]:
            node["hv_state_static"] = op["hv_state"]
        if op["disk_state"]:
            node["disk_state_static"] = op["disk_state"]
        kind = "replace" if ctx.existing else "add"
        ctx.commit([{"op": kind, "path": "/nodes/" + uuid, "value": node}])
        cfg = ctx.config(reload=True)
        failures = replicate.redistribute(cfg, nodes=[uuid], with_jobs=True)
        if failures:
            raise errors.OpExecError("Cannot install the cluster's files on node %s: %s"
                                     % (op["node_name"], failures[uuid]))
        # the new node's host key goes to the others with the next replication;
        # do it now so that any candidate can reach it right away
        others = [u for u in replicate.online_others(cfg) if u != uuid]
        for other, err in replicate.redistribute(cfg, nodes=others).items():
            ctx.log_warning("Could not update node %s's files: %s"
                            % (cfg["nodes"][other]["name"], err))
        return None


def _default_group(cfg):
    """The group of the master (Ganeti's LookupNodeGroup(None): the default group)."""
    return cfg["nodes"][cfg["cluster"]["master_node"]]["group"]


def _check_version(ctx, name):
    """Reach the node over SSH with the cluster's key; compare protocol versions."""
    from qganeti import luxiquery
    try:
        answer = ctx.node_call(name, "version", timeout=30)
    except errors.GenericError as err:
        raise errors.OpPrereqError("Can't get version information from node %s: %s"
                                   % (name, err), errors.ECODE_ENVIRON)
    if answer.get("protocol") != luxiquery.PROTOCOL_VERSION:
        raise errors.OpPrereqError("Version mismatch master version %s, node version %s"
                                   % (luxiquery.PROTOCOL_VERSION, answer.get("protocol")),
                                   errors.ECODE_ENVIRON)
    ctx.log_info("Communication to node %s fine, sw version %s match"
                 % (name, answer.get("software")))
