"""luxid's answers from its view: cluster info, tags, Query over jobs, locks and the config."""

import platform

from qganeti import errors, fastjson

SOFTWARE_VERSION = "3.0.2"
PROTOCOL_VERSION = 3000000
CONFIG_VERSION = 3000000
OS_API_VERSION = 20
EXPORT_VERSION = 0


def cluster_info(cfg):
    """LUXI QueryClusterInfo / RAPI /2/info, with Ganeti's keys."""
    cluster = cfg["cluster"]
    master = cfg["nodes"].get(cluster["master_node"], {}).get("name")
    hypervisors = cluster.get("enabled_hypervisors", [])
    return {
        "software_version": SOFTWARE_VERSION,
        "protocol_version": PROTOCOL_VERSION,
        "config_version": CONFIG_VERSION,
        "os_api_version": OS_API_VERSION,
        "export_version": EXPORT_VERSION,
        "vcs_version": "qganeti",
        "architecture": ["64bits" if platform.architecture()[0] == "64bit" else "32bits",
                         platform.machine()],
        "name": cluster["cluster_name"],
        "master": master,
        "default_hypervisor": hypervisors[0] if hypervisors else None,
        "enabled_hypervisors": hypervisors,
        "hvparams": cluster.get("hvparams", {}),
        "os_hvp": cluster.get("os_hvp", {}),
        "beparams": cluster.get("beparams", {}),
        "osparams": cluster.get("osparams", {}),
        "ipolicy": cluster.get("ipolicy", {}),
        "nicparams": cluster.get("nicparams", {}),
        "ndparams": cluster.get("ndparams", {}),
        "diskparams": cluster.get("diskparams", {}),
        "candidate_pool_size": cluster.get("candidate_pool_size"),
        "max_running_jobs": cluster.get("max_running_jobs"),
        "max_tracked_jobs": cluster.get("max_tracked_jobs"),
        "mac_prefix": cluster.get("mac_prefix"),
        "master_netdev": cluster.get("master_netdev"),
        "master_netmask": cluster.get("master_netmask"),
        "use_external_mip_script": cluster.get("use_external_mip_script"),
        "volume_group_name": cluster.get("volume_group_name"),
        "drbd_usermode_helper": cluster.get("drbd_usermode_helper"),
        "file_storage_dir": cluster.get("file_storage_dir"),
        "shared_file_storage_dir": cluster.get("shared_file_storage_dir"),
        "gluster_storage_dir": cluster.get("gluster_storage_dir"),
        "maintain_node_health": cluster.get("maintain_node_health"),
        "ctime": cluster.get("ctime"),
        "mtime": cluster.get("mtime"),
        "uuid": cluster.get("uuid"),
        "tags": cluster.get("tags", []),
        "uid_pool": cluster.get("uid_pool", []),
        "default_iallocator": cluster.get("default_iallocator"),
        "default_iallocator_params": cluster.get("default_iallocator_params", {}),
        "reserved_lvs": cluster.get("reserved_lvs", []),
        "primary_ip_version": 6 if cluster.get("primary_ip_family") == 10 else 4,
        "prealloc_wipe_disks": cluster.get("prealloc_wipe_disks"),
        "hidden_os": cluster.get("hidden_os", []),
        "blacklisted_os": cluster.get("blacklisted_os", []),
        "enabled_disk_templates": cluster.get("enabled_disk_templates", []),
        "install_image": cluster.get("install_image", ""),
        "instance_communication_network": cluster.get("instance_communication_network", ""),
        "zeroing_image": cluster.get("zeroing_image", ""),
        "compression_tools": cluster.get("compression_tools", []),
        "enabled_user_shutdown": cluster.get("enabled_user_shutdown"),
        "modify_ssh_setup": cluster.get("modify_ssh_setup"),
        "ssh_key_type": cluster.get("ssh_key_type"),
        "ssh_key_bits": cluster.get("ssh_key_bits"),
        "data_collectors": cluster.get("data_collectors", {}),
    }


_TAG_KINDS = {"node": "nodes", "instance": "instances", "nodegroup": "nodegroups",
              "network": "networks"}


def find_by_name(cfg, kind, name):
    """The object of KIND (node, instance, nodegroup, network) called NAME."""
    for obj in cfg.get(_TAG_KINDS[kind], {}).values():
        if obj.get("name") == name:
            return obj
    return None


def tags(cfg, kind, name):
    if kind == "cluster":
        return list(cfg["cluster"].get("tags", []))
    if kind not in _TAG_KINDS:
        raise errors.OpPrereqError("Invalid tag kind '%s'" % kind, errors.ECODE_INVAL)
    obj = find_by_name(cfg, kind, name)
    if obj is None:
        raise errors.OpPrereqError("%s '%s' not known" % (kind.capitalize(), name),
                                   errors.ECODE_NOENT)
    return list(obj.get("tags", []))


_RESOURCES = ("export", "filter", "group", "instance", "job", "lock", "network", "node")


def _table(what):
    from qganeti import query as q
    tables = {"job": "JOB_FIELDS", "lock": "LOCK_FIELDS", "instance": "INSTANCE_FIELDS",
              "node": "NODE_FIELDS", "group": "GROUP_FIELDS", "network": "NETWORK_FIELDS"}
    if what not in tables:
        return None
    return getattr(q, tables[what])


def _check_resource(what, fields):
    from qganeti import luxid as luxid_mod
    if not isinstance(what, str) or what not in _RESOURCES:
        raise luxid_mod.ParseFailure(
            "Cannot convert value '%s', error: Can't parse value '%s' as neither"
            "QueryTypeLuxi nor QueryTypeOp" % (_show(what, fields), what))
    if fields is not None and (not isinstance(fields, list)
                               or not all(isinstance(f, str) for f in fields)):
        raise luxid_mod.ParseFailure("Invalid field list %s" % fastjson.dumps(fields))


def _show(what, fields):
    return fastjson.dumps([what, fields, None])


def job_context(luxid, include_archived):
    from qganeti import jqueue, query as q
    jobs = [luxid.job(jid) for jid in sorted(luxid.jobs)]
    archived = []
    if include_archived:
        for jid in jqueue.archived_job_ids():
            job = jqueue.load(jid, archived=True)
            if job is not None:
                archived.append(job)
    return jobs + archived, q.JobContext(job["id"] for job in archived)


def _mentions(qfilter, name):
    if isinstance(qfilter, list):
        return any(_mentions(item, name) for item in qfilter)
    return qfilter == name


CONFIG_RESOURCES = {"instance": "instances", "node": "nodes", "group": "nodegroups",
                    "network": "networks"}


def wants_live(what, fields, qfilter):
    """Whether a config query needs live data from the nodes."""
    from qganeti import query as q
    table = _table(what)
    if what not in CONFIG_RESOURCES or table is None:
        return False
    try:
        return q.needs_live(table, fields or [], qfilter)
    except (q.FilterError, errors.GenericError):
        return False


def query(luxid, what, fields, qfilter, live=None):
    """LUXI Query over luxid's view: jobs, locks, and the config snapshot.

    LIVE: (node_live, instance_live) gathered from the nodes, for config
    resources whose fields or filter need it.
    """
    from qganeti import query as q
    _check_resource(what, fields)
    table = _table(what)
    if table is None:
        return {"fields": [q.unknown_field(f).definition() for f in fields], "data": []}
    try:
        decoded = q.decode_filter(qfilter)
    except q.FilterError as err:
        from qganeti import luxid as luxid_mod
        raise luxid_mod.ParseFailure("Cannot convert value '%s', error: %s" % (
            fastjson.dumps([what, fields, qfilter]), err.args[0]))
    if what == "job":
        items, ctx = job_context(luxid, "archived" in fields or _mentions(qfilter, "archived"))
    elif what == "lock":
        from qganeti import locks
        items, ctx = locks.monitor(), None
    else:
        from qganeti import qfields
        luxid.require_config()
        cfg = luxid.cfg
        items = list(cfg.get(CONFIG_RESOURCES[what], {}).values())
        if live is None:
            ctx = qfields.ConfigContext(cfg, live=False)
        else:
            ctx = qfields.ConfigContext(cfg, node_live=live[0], instance_live=live[1])
    del decoded
    return q.query(table, items, fields, qfilter, ctx)


def query_fields(what, fields):
    from qganeti import query as q
    _check_resource(what, fields)
    table = _table(what)
    if table is None:
        return {"fields": [q.unknown_field(f).definition() for f in fields or []]}
    return q.query_fields(table, fields)


def job_rows(luxid, ids, fields, archived_ids=()):
    """QueryJobs: one row of values per id (None for an unknown job)."""
    from qganeti import errors as e, query as q
    unknown = [f for f in fields if f not in q.JOB_FIELDS]
    if unknown:
        raise e.OpPrereqError("Unknown output fields selected: %s" % ", ".join(unknown),
                              e.ECODE_INVAL)
    getters = [q.JOB_FIELDS.get(f).getter for f in fields]
    rows = []
    for jid, job, archived in ids:
        if job is None:
            rows.append(None)
            continue
        ctx = q.JobContext([jid] if archived else [])
        values = [getter(job, ctx) for getter in getters]
        rows.append([None if q.is_abnormal(v) else v for v in values])
    return rows
