"""Node group opcodes: add, assign nodes, set params, remove, rename, evacuate,
verify disks (Ganeti's lib/cmdlib/group.py, on config.data).

Also the checks the node, group and network opcodes share: object names
(check_name), static hypervisor and disk state (merge_hv_state,
merge_disk_state), disk parameters (updated_diskparams).
"""

import re

from qganeti import config, defaults, errors

NAME_MAX = 128
_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]*$")
STORAGE_TYPES = ("lvm-pv", "lvm-vg", "file", "sharedfile", "gluster", "diskless",
                 "blockdev", "rados", "ext")


def check_name(kind, name):
    """Refuse names RAPI could not address or a shell would mangle.

    Ganeti only wants them non-empty; qganeti keeps group and network names
    to letters, digits and `_ . + -` (not first: `. + -`), 128 at most, so
    that `../x`, `a b`, `x;y` or `--force` never become object names.
    """
    if not isinstance(name, str) or not _NAME_RE.match(name) or len(name) > NAME_MAX:
        reason = ("longer than %d characters" % NAME_MAX
                  if isinstance(name, str) and _NAME_RE.match(name) else
                  "use letters, digits, '_', '.', '+' and '-', not starting with '.', '+'"
                  " or '-'")
        raise errors.OpPrereqError("Invalid %s name '%s': %s" % (kind, name, reason),
                                   errors.ECODE_INVAL)


def master_uuid(cfg):
    return cfg["cluster"]["master_node"]


def master_hooks(op, ctx):
    master = master_uuid(ctx.config())
    return [master], [master]


def group_members(cfg, group_uuid):
    return [uuid for uuid, node in cfg["nodes"].items() if node.get("group") == group_uuid]


def instance_nodes(cfg, inst):
    """Primary node first, then the other nodes of its disks (DRBD peers)."""
    nodes = [inst.get("primary_node")]
    for disk_uuid in inst.get("disks") or ():
        disk = cfg["disks"].get(disk_uuid) or {}
        found = list(disk.get("nodes") or ())
        if disk.get("dev_type") == "drbd":
            found += list((disk.get("logical_id") or [])[:2])
        for node in found:
            if node not in nodes:
                nodes.append(node)
    return nodes


def group_instances(cfg, group_uuid, primary_only=False):
    """Instance dicts with (their primary, or any) node in the group."""
    members = set(group_members(cfg, group_uuid))
    out = []
    for inst in cfg["instances"].values():
        nodes = [inst.get("primary_node")] if primary_only else instance_nodes(cfg, inst)
        if members.intersection(nodes):
            out.append(inst)
    return out


def instance_locks(instances, mode="shared"):
    return [("instance/" + inst["name"], mode) for inst in instances]


def merge_hv_state(new, old):
    """Ganeti's MergeAndVerifyHvState."""
    out = dict(old or {})
    for hv, values in (new or {}).items():
        if hv not in defaults.HYPER_TYPES:
            raise errors.OpPrereqError("Invalid hypervisor specified: %s" % hv,
                                       errors.ECODE_INVAL)
        merged = dict(out.get(hv, {}))
        merged.update(values or {})
        out[hv] = defaults.check_params("hvstate", merged)
    return out


def merge_disk_state(new, old):
    """Ganeti's MergeAndVerifyDiskState: {storage type: {name: {...}}}."""
    out = dict(old or {})
    for st, names in (new or {}).items():
        if st not in STORAGE_TYPES:
            raise errors.OpPrereqError("Invalid storage type specified: %s" % st,
                                       errors.ECODE_INVAL)
        per = dict(out.get(st, {}))
        for name, values in (names or {}).items():
            merged = dict(per.get(name, {}))
            merged.update(values or {})
            per[name] = defaults.check_params("diskstate", merged)
        out[st] = per
    return out


def updated_params(old, update):
    """Ganeti's GetUpdatedParams: "default" removes a key."""
    out = dict(old)
    for key, value in update.items():
        if value == "default":
            out.pop(key, None)
        else:
            out[key] = value
    return out


def _unknown_options(diskparams):
    bad = []
    for template, values in diskparams.items():
        if template not in defaults.DISK_DT_DEFAULTS:
            bad.append(template)
            continue
        bad += ["%s/%s" % (template, key) for key in values
                if key not in defaults.DISK_DT_DEFAULTS[template]]
    return bad


def updated_diskparams(old, new):
    """A group's disk parameters changed by NEW, types forced and keys checked."""
    out = dict(old or {})
    for template, values in (new or {}).items():
        merged = updated_params(out.get(template, {}), values or {})
        try:
            out[template] = defaults.check_params("disk", merged)
        except errors.TypeEnforcementError as err:
            if "Unknown parameter" not in str(err):
                raise
            out[template] = merged
    bad = _unknown_options(out)
    if bad:
        raise errors.OpPrereqError("While verify diskparams options: Provided option keys"
                                   " not supported: %s" % ", ".join(bad), errors.ECODE_INVAL)
    return out


def _ipolicy_for(cfg, own, new, group_policy=True):
    from qganeti import ipolicy
    updated = ipolicy.updated_ipolicy(own, new, group_policy=group_policy)
    full = defaults.fill_ipolicy(cfg["cluster"].get("ipolicy", {}), updated)
    ipolicy.check_vs_disk_templates(full, cfg["cluster"].get("enabled_disk_templates", []))
    return updated


def find_group(cfg, name):
    """UUID of the group NAME (or UUID), or None (Ganeti's LookupNodeGroup)."""
    if name in cfg["nodegroups"]:
        return name
    for uuid, group in cfg["nodegroups"].items():
        if group.get("name") == name:
            return uuid
    return None


def lookup_group(cfg, name):
    uuid = find_group(cfg, name)
    if uuid is None:
        raise errors.OpPrereqError("Node group '%s' not found" % name, errors.ECODE_NOENT)
    return uuid


class Add:
    HPATH = "group-add"
    HTYPE = "GROUP"

    @staticmethod
    def expand(op, ctx):
        check_name("group", op["group_name"])
        ctx.group_uuid = config.new_uuid()
        return [("nodegroup/" + ctx.group_uuid, "exclusive")]

    @staticmethod
    def check(op, ctx):
        cfg = ctx.config(reload=True)
        existing = find_group(cfg, op["group_name"])
        if existing is not None:
            raise errors.OpPrereqError("Desired group name '%s' already exists as a node"
                                       " group (UUID: %s)" % (op["group_name"], existing),
                                       errors.ECODE_EXISTS)
        group = {"name": op["group_name"], "members": [],
                 "ndparams": defaults.check_params("nd", op["ndparams"] or {}),
                 "alloc_policy": op["alloc_policy"] or "preferred",
                 "ipolicy": _ipolicy_for(cfg, {}, op["ipolicy"] or {}),
                 "diskparams": updated_diskparams({}, op["diskparams"]),
                 "networks": {}}
        if op["hv_state"]:
            group["hv_state_static"] = merge_hv_state(op["hv_state"], None)
        if op["disk_state"]:
            group["disk_state_static"] = merge_disk_state(op["disk_state"], None)
        ctx.new_group = group

    @staticmethod
    def hooks_env(op, ctx):
        return {"GROUP_NAME": op["group_name"]}

    hooks_nodes = staticmethod(master_hooks)

    @staticmethod
    def run(op, ctx):
        ctx.commit([{"op": "add", "path": "/nodegroups/" + ctx.group_uuid,
                     "value": ctx.new_group}])
        cfg = ctx.config(reload=True)
        network = cfg["cluster"].get("instance_communication_network")
        if network and any(n.get("name") == network for n in cfg["networks"].values()):
            from qganeti import jobrun
            return jobrun.JobsResult([[{
                "OP_ID": "OP_NETWORK_CONNECT", "group_name": ctx.group_uuid,
                "network_name": network, "network_mode": "routed",
                "network_link": "gnt.com", "conflicts_check": True}]])
        return None


class AssignNodes:
    """No hooks, as in Ganeti."""

    @staticmethod
    def expand(op, ctx):
        cfg = ctx.config()
        ctx.group_uuid = lookup_group(cfg, op["group_name"])
        uuids = [config.node_uuid(cfg, name) for name in op["nodes"]]
        op["node_uuids"] = uuids
        groups = {ctx.group_uuid} | {cfg["nodes"][u]["group"] for u in uuids}
        ctx.locked_groups = groups
        return ([("nodegroup/" + g, "exclusive") for g in groups]
                + [("node/" + u, "exclusive") for u in uuids])

    @staticmethod
    def check(op, ctx):
        cfg = ctx.config(reload=True)
        uuids = op["node_uuids"]
        current = {ctx.group_uuid} | {cfg["nodes"][u]["group"] for u in uuids}
        if current != ctx.locked_groups:
            raise errors.OpExecError("Nodes changed groups since locks were acquired,"
                                     " current groups are '%s', used to be '%s'"
                                     % (", ".join(sorted(current)),
                                        ", ".join(sorted(ctx.locked_groups))))
        changes = dict((u, ctx.group_uuid) for u in uuids
                       if cfg["nodes"][u]["group"] != ctx.group_uuid)
        new_splits, previous = _split_instances(cfg, changes)
        if new_splits:
            names = ", ".join(config_nice_sort(new_splits))
            if not op["force"]:
                raise errors.OpExecError("The following instances get split by this change"
                                         " and --force was not given: %s" % names)
            ctx.log_warning("This operation will split the following instances: %s", names)
            if previous:
                ctx.log_warning("In addition, these already-split instances continue to be"
                                " split across groups: %s", ", ".join(config_nice_sort(previous)))

    @staticmethod
    def run(op, ctx):
        cfg = ctx.config()
        changes = []
        for uuid in op["node_uuids"]:
            old = cfg["nodes"][uuid]["group"]
            if old != ctx.group_uuid:
                path = "/nodes/%s/group" % uuid
                changes += [{"op": "test", "path": path, "value": old},
                            {"op": "replace", "path": path, "value": ctx.group_uuid}]
        if changes:
            ctx.commit(changes)
        return None


def config_nice_sort(names):
    from qganeti import query
    return query.nice_sort(names)


def _split_instances(cfg, changes):
    """Ganeti's CheckAssignmentForSplitInstances for DRBD instances: (new, still) names."""
    all_split, previously = set(), set()
    for inst in cfg["instances"].values():
        disks = [cfg["disks"].get(d) or {} for d in inst.get("disks") or ()]
        if not any(d.get("dev_type") == "drbd" for d in disks):
            continue
        nodes = instance_nodes(cfg, inst)
        before = {cfg["nodes"].get(n, {}).get("group") for n in nodes}
        after = {changes.get(n, cfg["nodes"].get(n, {}).get("group")) for n in nodes}
        if len(before) > 1:
            previously.add(inst["name"])
        if len(after) > 1:
            all_split.add(inst["name"])
    return sorted(all_split - previously), sorted(previously & all_split)


class SetParams:
    HPATH = "group-modify"
    HTYPE = "GROUP"

    @staticmethod
    def expand(op, ctx):
        if all(op[k] is None for k in ("ndparams", "diskparams", "alloc_policy", "hv_state",
                                       "disk_state", "ipolicy")):
            raise errors.OpPrereqError("Please pass at least one modification",
                                       errors.ECODE_INVAL)
        cfg = ctx.config()
        ctx.group_uuid = lookup_group(cfg, op["group_name"])
        return (instance_locks(group_instances(cfg, ctx.group_uuid))
                + [("nodegroup/" + ctx.group_uuid, "exclusive")])

    @staticmethod
    def check(op, ctx):
        cfg = ctx.config(reload=True)
        group = cfg["nodegroups"].get(ctx.group_uuid)
        if group is None:
            raise errors.OpExecError("Could not retrieve group '%s' (UUID: %s)"
                                     % (op["group_name"], ctx.group_uuid))
        new = dict(group)
        result = []
        if op["ndparams"]:
            new["ndparams"] = defaults.check_params(
                "nd", updated_params(group.get("ndparams") or {}, op["ndparams"]))
            result.append(["ndparams", str(new["ndparams"])])
        if op["diskparams"]:
            new["diskparams"] = updated_diskparams(group.get("diskparams"), op["diskparams"])
            result.append(["diskparams", str(new["diskparams"])])
        if op["alloc_policy"]:
            new["alloc_policy"] = op["alloc_policy"]
        if op["hv_state"]:
            new["hv_state_static"] = merge_hv_state(op["hv_state"],
                                                    group.get("hv_state_static"))
        if op["disk_state"]:
            new["disk_state_static"] = merge_disk_state(op["disk_state"],
                                                        group.get("disk_state_static"))
        if op["ipolicy"]:
            new["ipolicy"] = _ipolicy_for(cfg, group.get("ipolicy") or {}, op["ipolicy"])
        ctx.new_group, ctx.result = new, result

    @staticmethod
    def hooks_env(op, ctx):
        return {"GROUP_NAME": op["group_name"], "NEW_ALLOC_POLICY": op["alloc_policy"]}

    hooks_nodes = staticmethod(master_hooks)

    @staticmethod
    def run(op, ctx):
        ctx.commit([{"op": "replace", "path": "/nodegroups/" + ctx.group_uuid,
                     "value": ctx.new_group}])
        return ctx.result


class Remove:
    HPATH = "group-remove"
    HTYPE = "GROUP"

    @staticmethod
    def expand(op, ctx):
        ctx.group_uuid = lookup_group(ctx.config(), op["group_name"])
        return [("nodegroup/" + ctx.group_uuid, "exclusive")]

    @staticmethod
    def check(op, ctx):
        cfg = ctx.config(reload=True)
        members = [cfg["nodes"][u]["name"] for u in group_members(cfg, ctx.group_uuid)]
        if members:
            raise errors.OpPrereqError("Group '%s' not empty, has the following nodes: %s"
                                       % (op["group_name"],
                                          ", ".join(config_nice_sort(members))),
                                       errors.ECODE_STATE)
        if len(cfg["nodegroups"]) == 1:
            raise errors.OpPrereqError("Group '%s' is the only group, cannot be removed"
                                       % op["group_name"], errors.ECODE_STATE)

    @staticmethod
    def hooks_env(op, ctx):
        return {"GROUP_NAME": op["group_name"]}

    hooks_nodes = staticmethod(master_hooks)

    @staticmethod
    def run(op, ctx):
        try:
            ctx.commit([{"op": "remove", "path": "/nodegroups/" + ctx.group_uuid}])
        except errors.OpPrereqError as err:
            if err.args[1:] == (errors.ECODE_NOENT,):
                raise errors.OpExecError("Group '%s' with UUID %s disappeared"
                                         % (op["group_name"], ctx.group_uuid))
            raise


class Rename:
    HPATH = "group-rename"
    HTYPE = "GROUP"

    @staticmethod
    def expand(op, ctx):
        ctx.group_uuid = lookup_group(ctx.config(), op["group_name"])
        check_name("group", op["new_name"])
        return [("nodegroup/" + ctx.group_uuid, "exclusive")]

    @staticmethod
    def check(op, ctx):
        cfg = ctx.config(reload=True)
        clash = find_group(cfg, op["new_name"])
        if clash is not None:
            raise errors.OpPrereqError("Desired new name '%s' clashes with existing node"
                                       " group (UUID: %s)" % (op["new_name"], clash),
                                       errors.ECODE_EXISTS)

    @staticmethod
    def hooks_env(op, ctx):
        return {"OLD_NAME": op["group_name"], "NEW_NAME": op["new_name"]}

    @staticmethod
    def hooks_nodes(op, ctx):
        cfg = ctx.config()
        master = master_uuid(cfg)
        nodes = [master] + [u for u in group_members(cfg, ctx.group_uuid) if u != master]
        return nodes, nodes

    @staticmethod
    def run(op, ctx):
        path = "/nodegroups/%s/name" % ctx.group_uuid
        ctx.commit([{"op": "replace", "path": path, "value": op["new_name"]}])
        return op["new_name"]


class Evacuate:
    HPATH = "group-evacuate"
    HTYPE = "GROUP"

    @staticmethod
    def expand(op, ctx):
        cfg = ctx.config()
        ctx.group_uuid = lookup_group(cfg, op["group_name"])
        ctx.targets = [lookup_group(cfg, g) for g in op["target_groups"] or []]
        if ctx.group_uuid in ctx.targets:
            raise errors.OpPrereqError("Group to be evacuated (%s) can not be used as a target"
                                       " group (targets are %s)"
                                       % (ctx.group_uuid, ", ".join(ctx.targets)),
                                       errors.ECODE_INVAL)
        if not op["iallocator"]:
            op["iallocator"] = cfg["cluster"].get("default_iallocator") or None
        if not op["iallocator"]:
            raise errors.OpPrereqError("No iallocator was specified, neither in the opcode"
                                       " nor as a cluster-wide default", errors.ECODE_INVAL)
        groups = [ctx.group_uuid] + ctx.targets if ctx.targets else list(cfg["nodegroups"])
        nodes = [u for g in groups for u in group_members(cfg, g)]
        return (instance_locks(group_instances(cfg, ctx.group_uuid))
                + [("nodegroup/" + g, "shared") for g in set(groups)]
                + [("node/" + u, "shared") for u in set(nodes)])

    @staticmethod
    def check(op, ctx):
        cfg = ctx.config(reload=True)
        if not ctx.targets:
            ctx.targets = [g for g in cfg["nodegroups"] if g != ctx.group_uuid]
            if not ctx.targets:
                raise errors.OpPrereqError("There are no possible target groups",
                                           errors.ECODE_INVAL)
        ctx.instances = sorted(i["name"] for i in group_instances(cfg, ctx.group_uuid))

    @staticmethod
    def hooks_env(op, ctx):
        return {"GROUP_NAME": op["group_name"], "TARGET_GROUPS": " ".join(ctx.targets)}

    @staticmethod
    def hooks_nodes(op, ctx):
        cfg = ctx.config()
        nodes = [master_uuid(cfg)] + group_members(cfg, ctx.group_uuid)
        return nodes, nodes

    @staticmethod
    def run(op, ctx):
        from qganeti import iallocator, jobrun
        jobs = []
        if ctx.instances:
            answer = iallocator.change_group(ctx, ctx.config(), op["iallocator"],
                                             ctx.instances, ctx.targets,
                                             "Can't compute group evacuation")
            jobs = iallocator.evacuation_jobs(ctx, answer, op["early_release"], False)
        ctx.log_info("Iallocator returned %s job(s) for evacuating node group %s", len(jobs),
                     op["group_name"])
        if op["force_failover"]:
            ctx.log_info("Will insist on failovers")
            jobs = [[_to_failover(sub) for sub in job] for job in jobs]
        if op["sequential"]:
            ctx.log_info("Jobs will be submitted to run sequentially")
            for job in jobs[1:]:
                for sub in job:
                    sub["depends"] = [[-1, ["error", "success"]]]
        return jobrun.JobsResult(jobs)


def _to_failover(sub):
    """Ganeti's _MigrateToFailover."""
    if sub["OP_ID"] != "OP_INSTANCE_MIGRATE":
        return sub
    out = {"OP_ID": "OP_INSTANCE_FAILOVER", "instance_name": sub["instance_name"],
           "cleanup": sub.get("cleanup", False), "ignore_ipolicy": sub.get("ignore_ipolicy",
                                                                         False)}
    for key in ("target_node", "iallocator"):
        if sub.get(key) is not None:
            out[key] = sub[key]
    return out


class VerifyDisks:
    """Ganeti's LUGroupVerifyDisks: only LVM-based disks can be reported on.

    Result: [node errors {node: message}, instances with offline disks,
    missing volumes {instance: [[node, volume], ...]}].
    """

    @staticmethod
    def expand(op, ctx):
        cfg = ctx.config()
        ctx.group_uuid = lookup_group(cfg, op["group_name"])
        insts = group_instances(cfg, ctx.group_uuid)
        return (instance_locks(insts) + [("nodegroup/" + ctx.group_uuid, "shared")]
                + [("node/" + u, "shared") for u in group_members(cfg, ctx.group_uuid)])

    @staticmethod
    def run(op, ctx):
        cfg = ctx.config(reload=True)
        lvm = [i["name"] for i in group_instances(cfg, ctx.group_uuid)
               if any((cfg["disks"].get(d) or {}).get("dev_type") in ("plain", "drbd")
                      for d in i.get("disks") or ())]
        if lvm:
            ctx.log_warning("Volumes of instances %s cannot be checked: LVM storage is not"
                            " available on this node", ", ".join(sorted(lvm)))
        return [{}, [], {}]
