"""Cluster-wide opcodes: query, post-init, destroy, verify, set params."""

import os

from qganeti import config, defaults, errors, hypervisor, jobrun, paths


def _master(cfg):
    return cfg["cluster"]["master_node"]


def _master_hooks(op, ctx):
    master = _master(ctx.config())
    return [master], [master]


class Query:
    @staticmethod
    def run(op, ctx):
        from qganeti import luxiquery
        return luxiquery.cluster_info(ctx.config(reload=True))


class PostInit:
    """Exists to run the cluster-init hooks (post phase only, as Ganeti)."""
    HPATH = "cluster-init"
    HTYPE = "CLUSTER"

    @staticmethod
    def hooks_env(op, ctx):
        return {"OP_TARGET": ctx.config()["cluster"]["cluster_name"]}

    @staticmethod
    def hooks_nodes(op, ctx):
        return [], [_master(ctx.config())]

    @staticmethod
    def run(op, ctx):
        return True


class Destroy:
    REQ_BGL = True

    @staticmethod
    def expand(op, ctx):
        return []

    @staticmethod
    def check(op, ctx):
        cfg = ctx.config(reload=True)
        master = _master(cfg)
        nodes = list(cfg["nodes"])
        if len(nodes) != 1 or nodes[0] != master:
            raise errors.OpPrereqError("There are still %d node(s) in this cluster." %
                                       (len(nodes) - 1), errors.ECODE_INVAL)
        if cfg["instances"]:
            raise errors.OpPrereqError("There are still %d instance(s) in this cluster." %
                                       len(cfg["instances"]), errors.ECODE_INVAL)

    @staticmethod
    def run(op, ctx):
        cfg = ctx.config()
        return cfg["nodes"][_master(cfg)]["name"]


def _verify_error(op, ctx, code, obj_type, obj_name, message, warning=False):
    """Ganeti's _ErrorIf line: ERROR/WARNING, optionally with the error code."""
    level = "WARNING" if warning or code in op.get("ignore_errors", []) else "ERROR"
    if op.get("error_codes"):
        line = "%s:%s:%s:%s:%s" % (level, code, obj_type, obj_name or "", message)
    else:
        line = "%s: %s%s: %s" % (level, obj_type, " " + obj_name if obj_name else "", message)
    ctx.feedback("  - " + line)
    return level == "ERROR"


class VerifyConfig:
    @staticmethod
    def expand(op, ctx):
        return [("nodegroup/[lockset]", "shared"), ("node/[lockset]", "shared")]

    @staticmethod
    def run(op, ctx):
        cfg = ctx.config(reload=True)
        bad = False
        ctx.feedback("* Verifying cluster config")
        for message in config.problems(cfg):
            bad |= _verify_error(op, ctx, "ECLUSTERCFG", "cluster", None, message)
        ctx.feedback("* Verifying cluster certificate files")
        for name in ("server.pem",):
            path = os.path.join(paths.data_dir(), name)
            if os.path.exists(path) and not os.access(path, os.R_OK):
                bad |= _verify_error(op, ctx, "ECLUSTERCERT", "cluster", None,
                                     "Can't read certificate file %s" % path)
        ctx.feedback("* Verifying hypervisor parameters")
        cluster = cfg["cluster"]
        for hv in cluster.get("enabled_hypervisors", []):
            try:
                params = defaults.check_params("hv", cluster.get("hvparams", {}).get(hv, {}),
                                               hypervisor=hv)
                hypervisor.check_syntax(hv, defaults.fill_dict(defaults.HVC_DEFAULTS[hv],
                                                               params))
            except errors.GenericError as err:
                bad |= _verify_error(op, ctx, "ECLUSTERCFG", "cluster", None,
                                     "cluster has invalid hypervisor parameters for %s: %s"
                                     % (hv, err))
        ctx.feedback("* Verifying all nodes belong to an existing group")
        groups = cfg.get("nodegroups", {})
        dangling = sorted(n["name"] for n in cfg["nodes"].values() if n.get("group") not in groups)
        if dangling:
            bad |= _verify_error(op, ctx, "ECLUSTERDANGLINGNODES", "cluster", None,
                                 "the following nodes (and their instances) belong to a non"
                                 " existing group: %s" % ", ".join(dangling))
        nodes = cfg["nodes"]
        orphans = sorted(i["name"] for i in cfg.get("instances", {}).values()
                         if i.get("primary_node") not in nodes)
        if orphans:
            bad |= _verify_error(op, ctx, "ECLUSTERDANGLINGINST", "cluster", None,
                                 "the following instances have a non-existing primary-node:"
                                 " %s" % ", ".join(orphans))
        return not bad


class Verify:
    """Submits the config check and one check per node group (as Ganeti)."""

    @staticmethod
    def run(op, ctx):
        from qganeti import opcodes
        cfg = ctx.config(reload=True)
        common = {k: op[k] for k in ("debug_simulate_errors", "error_codes", "ignore_errors",
                                     "verbose")}
        jobs = []
        if op.get("group_name") is None:
            jobs.append([dict(common, OP_ID="OP_CLUSTER_VERIFY_CONFIG")])
        if opcodes.exists("OP_CLUSTER_VERIFY_GROUP"):
            groups = cfg.get("nodegroups", {})
            names = [op["group_name"]] if op.get("group_name") else \
                sorted(g["name"] for g in groups.values())
            for name in names:
                config.group_uuid(cfg, name)
                jobs.append([dict(common, OP_ID="OP_CLUSTER_VERIFY_GROUP", group_name=name,
                                  skip_checks=op["skip_checks"])])
        return jobrun.JobsResult(jobs)


# -- OP_CLUSTER_SET_PARAMS -------------------------------------------------

_SIMPLE = ("candidate_pool_size", "max_running_jobs", "max_tracked_jobs", "maintain_node_health",
           "prealloc_wipe_disks", "master_netdev", "master_netmask", "use_external_mip_script",
           "default_iallocator", "mac_prefix", "file_storage_dir", "shared_file_storage_dir",
           "gluster_storage_dir", "install_image", "zeroing_image", "enabled_user_shutdown",
           "modify_etc_hosts", "instance_communication_network", "compression_tools",
           "reserved_lvs", "default_iallocator_params", "uid_pool")
_RENAMED = {"vg_name": "volume_group_name", "drbd_helper": "drbd_usermode_helper",
            "hv_state": "hv_state_static", "disk_state": "disk_state_static"}


def _updated(old, changes, kind, **kwargs):
    """OLD with CHANGES applied; a value of None or "default" drops the key."""
    new = dict(old)
    for key, value in changes.items():
        if value is None or value == "default":
            new.pop(key, None)
        else:
            new[key] = value
    try:
        return defaults.check_params(kind, new, **kwargs)
    except errors.TypeEnforcementError as err:
        raise errors.OpPrereqError(str(err), errors.ECODE_INVAL)


def _modify_os_list(current, mods, what):
    result = list(current)
    for action, name in mods:
        if action == "add":
            if name not in result:
                result.append(name)
        elif name in result:
            result.remove(name)
    return result


def _templates_in_use(cfg):
    used = set()
    for disk in cfg.get("disks", {}).values():
        used.add(disk.get("dev_type"))
    for inst in cfg.get("instances", {}).values():
        if not inst.get("disks"):
            used.add("diskless")
    return used


class SetParams:
    HPATH = "cluster-modify"
    HTYPE = "CLUSTER"

    @staticmethod
    def expand(op, ctx):
        return [("instance/[lockset]", "shared"), ("nodegroup/[lockset]", "shared"),
                ("node/[lockset]", "shared")]

    @staticmethod
    def hooks_env(op, ctx):
        return {"OP_TARGET": ctx.config()["cluster"]["cluster_name"],
                "NEW_VG_NAME": op.get("vg_name") or ""}

    hooks_nodes = staticmethod(_master_hooks)

    @staticmethod
    def check(op, ctx):
        SetParams.compute(ctx.config(reload=True), op)

    @staticmethod
    def compute(cfg, op):
        """The new cluster object (a copy), or OpPrereqError."""
        import copy
        cluster = copy.deepcopy(cfg["cluster"])
        for key in _SIMPLE:
            if op.get(key) is not None:
                cluster[key] = op[key]
        for key, target in _RENAMED.items():
            if op.get(key) is not None:
                cluster[target] = op[key] or None if key == "vg_name" else op[key]
        if op.get("mac_prefix") is not None:
            import re
            if not re.match("^[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}$", op["mac_prefix"]):
                raise errors.OpPrereqError("Invalid MAC address prefix '%s'" % op["mac_prefix"],
                                           errors.ECODE_INVAL)
        if op.get("beparams"):
            cluster["beparams"]["default"] = _updated(cluster["beparams"].get("default", {}),
                                                      op["beparams"], "be")
        if op.get("nicparams"):
            new = _updated(cluster["nicparams"].get("default", {}), op["nicparams"], "nic")
            if new.get("mode") not in defaults.NIC_VALID_MODES:
                raise errors.OpPrereqError("Invalid NIC mode '%s'" % new.get("mode"),
                                           errors.ECODE_INVAL)
            if new.get("mode") == defaults.NIC_MODE_BRIDGED and not new.get("link"):
                raise errors.OpPrereqError("Missing bridged NIC link", errors.ECODE_INVAL)
            cluster["nicparams"]["default"] = new
        if op.get("ndparams"):
            cluster["ndparams"] = _updated(cluster.get("ndparams", {}), op["ndparams"], "nd")
        for hv, params in (op.get("hvparams") or {}).items():
            if hv not in defaults.HYPER_TYPES:
                raise errors.OpPrereqError("Invalid hypervisor '%s'" % hv, errors.ECODE_INVAL)
            cluster["hvparams"][hv] = _updated(cluster["hvparams"].get(hv, {}), params, "hv",
                                               hypervisor=hv)
            hypervisor.check_syntax(hv, defaults.fill_dict(defaults.HVC_DEFAULTS[hv],
                                                           cluster["hvparams"][hv]))
        for os_name, per_hv in (op.get("os_hvp") or {}).items():
            entry = cluster.setdefault("os_hvp", {}).setdefault(os_name, {})
            for hv, params in per_hv.items():
                entry[hv] = _updated(entry.get(hv, {}), params, "hv", hypervisor=hv)
        for key in ("osparams", "osparams_private_cluster"):
            for os_name, params in (op.get(key) or {}).items():
                current = dict(cluster.setdefault(key, {}).get(os_name, {}))
                for pkey, value in params.items():
                    if value is None or value == "default":
                        current.pop(pkey, None)
                    else:
                        current[pkey] = value
                if current:
                    cluster[key][os_name] = current
                else:
                    cluster[key].pop(os_name, None)
        for template, params in (op.get("diskparams") or {}).items():
            if template not in defaults.DISK_TEMPLATES:
                raise errors.OpPrereqError("Disk templates unknown: %s" % template,
                                           errors.ECODE_INVAL)
            cluster["diskparams"][template] = _updated(cluster["diskparams"].get(template, {}),
                                                       params, "disk", template=template)
        if op.get("ipolicy"):
            new = dict(cluster["ipolicy"])
            for key, value in op["ipolicy"].items():
                if value is None or value == "default":
                    new[key] = defaults.IPOLICY_DEFAULTS[key]
                else:
                    new[key] = value
            cluster["ipolicy"] = defaults.fill_ipolicy(defaults.IPOLICY_DEFAULTS, new)
        if op.get("enabled_hypervisors") is not None:
            hvs = op["enabled_hypervisors"]
            if not hvs:
                raise errors.OpPrereqError("Enabled hypervisors list must contain at least one"
                                           " member", errors.ECODE_INVAL)
            used = sorted({i.get("hypervisor") for i in cfg["instances"].values()} - set(hvs))
            if used:
                raise errors.OpPrereqError("Cannot disable hypervisor(s) %s: instances use"
                                           " them" % ", ".join(used), errors.ECODE_STATE)
            cluster["enabled_hypervisors"] = hvs
        if op.get("enabled_disk_templates") is not None:
            dts = op["enabled_disk_templates"]
            if not dts:
                raise errors.OpPrereqError("Enabled disk templates list must contain at least"
                                           " one member", errors.ECODE_INVAL)
            for template in sorted(_templates_in_use(cfg) - set(dts)):
                raise errors.OpPrereqError(
                    "Cannot disable disk template '%s', because there is at least one instance"
                    " using it." % template, errors.ECODE_STATE)
            cluster["enabled_disk_templates"] = dts
        if op.get("hidden_os"):
            cluster["hidden_os"] = _modify_os_list(cluster.get("hidden_os", []),
                                                   op["hidden_os"], "hidden")
        if op.get("blacklisted_os"):
            cluster["blacklisted_os"] = _modify_os_list(cluster.get("blacklisted_os", []),
                                                        op["blacklisted_os"], "blacklisted")
        for ranges, add in ((op.get("add_uids"), True), (op.get("remove_uids"), False)):
            for item in ranges or []:
                pool = cluster.setdefault("uid_pool", [])
                if add and item not in pool:
                    pool.append(item)
                elif not add and item in pool:
                    pool.remove(item)
        collectors = cluster.setdefault("data_collectors", {})
        for name, active in (op.get("enabled_data_collectors") or {}).items():
            if name not in collectors:
                raise errors.OpPrereqError("Unknown data collector '%s'" % name,
                                           errors.ECODE_INVAL)
            collectors[name]["active"] = active
        for name, interval in (op.get("data_collector_interval") or {}).items():
            if name not in collectors:
                raise errors.OpPrereqError("Unknown data collector '%s'" % name,
                                           errors.ECODE_INVAL)
            collectors[name]["interval"] = interval
        return cluster

    @staticmethod
    def run(op, ctx):
        def change(cfg):
            cfg["cluster"] = SetParams.compute(cfg, op)
        ctx.update(change)
        return None
