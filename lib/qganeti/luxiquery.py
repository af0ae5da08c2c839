"""luxid's answers that come from the config snapshot (cluster info, tags, Query)."""

import platform

from qganeti import errors

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


def query(luxid, what, fields, qfilter):
    raise errors.OpPrereqError("Query on '%s' is not available yet" % what, errors.ECODE_INVAL)


def query_fields(what, fields):
    raise errors.OpPrereqError("QueryFields on '%s' is not available yet" % what,
                               errors.ECODE_INVAL)
