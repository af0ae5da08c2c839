"""Upgrading a Ganeti 2.x config.data to 3.0 (and 3.0 back to 2.16).

Ganeti's cfgupgrade semantics: not a chain of per-version steps but one pass
of idempotent steps that each tolerate already upgraded data, so any
configuration from 2.0 to 2.16 becomes a 3.0 one.  Then the defaults that
Ganeti fills in when it loads a configuration (its objects' UpgradeConfig)
are filled in, so that the result is what Ganeti 3.0 would write back, and
passes config.load().
"""

import copy
import time

from qganeti import config, defaults as d

TARGET = (3, 0)
LAST_V2_MINOR = 16
DOWNGRADE = (2, 16)
DEV_TYPE_OLD_NEW = {"lvm": "plain", "drbd8": "drbd"}


class Error(Exception):
    """The upgrade cannot be done (Ganeti's cfgupgrade.Error)."""


def split_version(version):
    """(major, minor, revision) of a config version such as 2160000."""
    return version // 1000000, (version // 10000) % 100, version % 10000


def build_version(major, minor, revision=0):
    return major * 1000000 + minor * 10000 + revision


# ------------------------------------------------------------ cfgupgrade

def _upgrade_ipolicy(ipolicy, default_ipolicy, isgroup):
    minmax = {}
    for key in ("min", "max"):
        if key in ipolicy:
            if ipolicy[key]:
                minmax[key] = ipolicy[key]
            del ipolicy[key]
    if minmax:
        ipolicy["minmax"] = [minmax]
    if isgroup and "std" in ipolicy:
        del ipolicy["std"]
    if "minmax" in ipolicy:
        for key, spec in ipolicy["minmax"][0].items():
            for par, val in default_ipolicy["minmax"][0][key].items():
                spec.setdefault(par, val)


def _upgrade_cluster(cfg):
    cluster = cfg.get("cluster")
    if cluster is None:
        raise Error("Cannot find cluster")
    ipolicy = cluster.setdefault("ipolicy", None)
    if ipolicy:
        _upgrade_ipolicy(ipolicy, d.IPOLICY_DEFAULTS, False)
    if not cluster.get("default_iallocator_params"):
        cluster["default_iallocator_params"] = {}
    cluster.setdefault("candidate_certs", {})
    cluster.setdefault("instance_communication_network", "")
    cluster.setdefault("install_image", "")
    cluster.setdefault("zeroing_image", "")
    cluster.setdefault("compression_tools", list(d.COMPRESSION_TOOLS))
    cluster.setdefault("enabled_user_shutdown", False)
    collectors = cluster.setdefault("data_collectors", {})
    for name in d.DATA_COLLECTOR_NAMES:
        collectors.setdefault(name, dict(d.DATA_COLLECTOR_DEFAULTS))
    # the pre-2.16 values, not today's defaults
    cluster.setdefault("ssh_key_type", "dsa")
    cluster.setdefault("ssh_key_bits", 1024)


def _upgrade_groups(cfg):
    cl_ipolicy = cfg["cluster"].get("ipolicy")
    for group in cfg["nodegroups"].values():
        if not group.get("networks"):
            group["networks"] = {}
        ipolicy = group.get("ipolicy")
        if ipolicy:
            if cl_ipolicy is None:
                raise Error("A group defines an instance policy but there is"
                            " no instance policy at cluster level")
            _upgrade_ipolicy(ipolicy, cl_ipolicy, True)


def _change_dev_type(disk, mapping):
    if disk.get("dev_type") in mapping:
        disk["dev_type"] = mapping[disk["dev_type"]]
    for child in disk.get("children") or []:
        _change_dev_type(child, mapping)


def _remove_physical_id(disk):
    for child in disk.get("children") or []:
        _remove_physical_id(child)
    disk.pop("physical_id", None)


def _assign_uuid(disk):
    disk.setdefault("uuid", config.new_uuid())
    for child in disk.get("children") or []:
        _assign_uuid(child)


def _upgrade_instances(cfg, log):
    network2uuid = dict((net["name"], net["uuid"])
                        for net in cfg["networks"].values())
    if "instances" not in cfg:
        raise Error("Can't find the 'instances' key in the configuration!")
    for name, inst in cfg["instances"].items():
        for nic in inst.get("nics") or []:
            net = nic.get("network")
            if net and net in network2uuid:
                log("NIC with network name %s found. Substituting with uuid"
                    " %s." % (net, network2uuid[net]))
                nic["network"] = network2uuid[net]
        if "disks" not in inst:
            raise Error("Instance '%s' doesn't have a disks entry?!" % name)
        if not all(isinstance(disk, str) for disk in inst["disks"]):
            for idx, disk in enumerate(inst["disks"]):
                _remove_physical_id(disk)
                expected = "disk/%s" % idx
                if disk.get("iv_name", "") != expected:
                    log("Updating iv_name for instance %s/disk %s from '%s'"
                        " to '%s'" % (name, idx, disk.get("iv_name", ""),
                                      expected))
                    disk["iv_name"] = expected
                if "dev_type" in disk:
                    _change_dev_type(disk, DEV_TYPE_OLD_NEW)
                _assign_uuid(disk)
        inst.setdefault("admin_state_source", d.ADMIN_SOURCE)


def _upgrade_top_level_disks(cfg):
    if "disks" in cfg:
        return
    cfg["disks"] = {}
    for inst in cfg["instances"].values():
        uuids = []
        for disk in inst["disks"]:
            disk["serial_no"] = 1
            disk["ctime"] = disk["mtime"] = inst.get("ctime", 0)
            cfg["disks"][disk["uuid"]] = disk
            uuids.append(disk["uuid"])
        inst["disks"] = uuids


def _new_index(by_old, old_key, field, log):
    if old_key not in by_old:
        log("Can't find node '%s' in configuration, assuming that it's already"
            " up-to-date" % old_key)
        return old_key
    return by_old[old_key][field]


def _change_node_indices(cfg, old_field, new_field, log):
    by_old = dict((node[old_field], node) for node in cfg["nodes"].values())
    cfg["nodes"] = dict((node[new_field], node)
                        for node in cfg["nodes"].values())
    cluster = cfg["cluster"]
    cluster["master_node"] = _new_index(by_old, cluster["master_node"],
                                        new_field, log)
    for inst in cfg["instances"].values():
        inst["primary_node"] = _new_index(by_old, inst["primary_node"],
                                          new_field, log)

    def disk_nodes(disk):
        if disk["dev_type"] in ("drbd8", "drbd"):
            for idx in (0, 1):
                disk["logical_id"][idx] = _new_index(
                    by_old, disk["logical_id"][idx], new_field, log)
        for child in disk.get("children") or []:
            disk_nodes(child)

    for disk in cfg["disks"].values():
        disk_nodes(disk)


def _all_disk_nodes(disk):
    nodes = set()
    if disk["dev_type"] == "drbd":
        nodes = set(disk["logical_id"][:2])
    for child in disk.get("children") or []:
        nodes |= _all_disk_nodes(child)
    return nodes


def _set_nodes(disk, nodes):
    disk["nodes"] = nodes
    for child in disk.get("children") or []:
        _set_nodes(child, nodes)


def _upgrade_disk_nodes(cfg):
    disks = cfg["disks"]
    for inst in cfg["instances"].values():
        all_nodes = set([inst["primary_node"]])
        for uuid in inst["disks"]:
            all_nodes |= _all_disk_nodes(disks[uuid])
        all_nodes = sorted(all_nodes)
        for uuid in inst["disks"]:
            disk = disks[uuid]
            if "nodes" in disk:
                continue
            if disk["dev_type"] == "drbd":
                _set_nodes(disk, list(all_nodes))
            elif disk["dev_type"] in ("plain", "file"):
                disk["nodes"] = list(all_nodes)
            else:
                disk["nodes"] = []


def upgrade(cfg, log=lambda msg: None, now=None):
    """Upgrade CFG (a 2.0 ... 2.16 config.data, in place) to 3.0; returns it.

    Raises Error listing every step that failed.
    """
    failures = []
    cfg["version"] = build_version(*TARGET)

    def step(description, func):
        safety = copy.deepcopy(cfg)
        try:
            func()
        except Exception as err:  # noqa: BLE001 - Ganeti's OrFail: report all
            cfg.clear()
            cfg.update(safety)
            failures.append("%s failed:\n%s" % (description, err))

    step("Setting networks", lambda: cfg.__setitem__(
        "networks", cfg.get("networks") or {}))
    step("Upgrading cluster", lambda: _upgrade_cluster(cfg))
    step("Upgrading groups", lambda: _upgrade_groups(cfg))
    step("Upgrading instance with spindles",
         lambda: _upgrade_instances(cfg, log))
    step("Set top level disks", lambda: _upgrade_top_level_disks(cfg))
    step("Changing node indices",
         lambda: _change_node_indices(cfg, "name", "uuid", log))
    step("Changing instance indices", lambda: cfg.__setitem__(
        "instances", dict((inst["uuid"], inst)
                          for inst in cfg["instances"].values())))
    step("Adding filters", lambda: cfg.__setitem__(
        "filters", cfg.get("filters") or {}))
    step("Upgrading disk nodes", lambda: _upgrade_disk_nodes(cfg))
    step("Removing disk template", lambda: [
        inst.pop("disk_template", None) for inst in cfg["instances"].values()])
    if failures:
        raise Error("Upgrade failed:\n%s" % "\n".join(failures))
    fill_defaults(cfg, now)
    return cfg


def downgrade(cfg):
    """Downgrade a 3.0 config.data (in place) to 2.16; returns it."""
    major, minor, revision = split_version(cfg["version"])
    if (major, minor) not in (TARGET, DOWNGRADE):
        raise Error("Downgrade supported only from the latest version (%s.%s),"
                    " found %s (%s.%s.%s) instead"
                    % (TARGET[0], TARGET[1], cfg["version"], major, minor,
                       revision))
    cfg["version"] = build_version(*DOWNGRADE)
    cluster = cfg.get("cluster")
    if cluster is None:
        raise Error("Downgrade failed:\nRemoving SSH parameters failed:\n"
                    "Can't find the cluster entry in the configuration")
    key_type = cluster.pop("ssh_key_type", None)
    cluster.pop("ssh_key_bits", None)
    if key_type is not None and key_type != "dsa":
        raise Error("Downgrade failed:\nRemoving SSH parameters failed:\n"
                    "The current Ganeti setup is using non-DSA SSH keys, and"
                    " versions below 2.16 do not support these. To downgrade,"
                    " please perform a gnt-cluster renew-crypto using the "
                    " --new-ssh-keys and --ssh-key-type=dsa options, generating"
                    " DSA keys that older versions can also use.")
    return cfg


# ------------------------------------------- the defaults Ganeti fills in

def _upgrade_grouped(target, default):
    if target is None:
        return {d.PP_DEFAULT: copy.deepcopy(default)}
    for group in target:
        target[group] = d.fill_dict(default, target[group])
    return target


def _restrict_dts(ipolicy, enabled):
    dts = ipolicy.get(d.IPOLICY_DTS)
    if dts is not None and not set(dts) <= set(enabled):
        ipolicy[d.IPOLICY_DTS] = sorted(set(dts) & set(enabled))


def _fill_cluster(cluster):
    hvparams = cluster.get("hvparams")
    if hvparams is None:
        cluster["hvparams"] = copy.deepcopy(d.HVC_DEFAULTS)
    else:
        for hv_name in d.HYPER_TYPES:
            hvparams[hv_name] = d.fill_dict(d.HVC_DEFAULTS[hv_name],
                                            hvparams.get(hv_name, {}))
    for key in ("os_hvp", "osparams", "osparams_private_cluster"):
        if cluster.get(key) is None:
            cluster[key] = {}
    ndparams = cluster.get("ndparams") or {}
    if "oob_program" in ndparams and ndparams["oob_program"] is None:
        del ndparams["oob_program"]
    cluster["ndparams"] = d.fill_dict(d.NDC_DEFAULTS, ndparams)
    cluster["beparams"] = _upgrade_grouped(cluster.get("beparams"),
                                           d.BEC_DEFAULTS)
    for group in cluster["beparams"].values():
        d.upgrade_beparams(group)
    migrate_bridge = not cluster.get("nicparams")
    cluster["nicparams"] = _upgrade_grouped(cluster.get("nicparams"),
                                            d.NICC_DEFAULTS)
    if migrate_bridge and cluster.get("default_bridge"):
        cluster["nicparams"][d.PP_DEFAULT]["link"] = cluster["default_bridge"]
    cluster.pop("default_bridge", None)
    default_hv = cluster.pop("default_hypervisor", None)
    if default_hv is not None:
        cluster["enabled_hypervisors"] = [default_hv] + [
            hv for hv in cluster.get("enabled_hypervisors", [])
            if hv != default_hv]
    for key, value in (("modify_etc_hosts", True), ("modify_ssh_setup", True),
                       ("maintain_node_health", False), ("uid_pool", []),
                       ("default_iallocator", ""),
                       ("default_iallocator_params", {}),
                       ("reserved_lvs", []), ("hidden_os", []),
                       ("blacklisted_os", []), ("primary_ip_family", 2),
                       ("prealloc_wipe_disks", False),
                       ("shared_file_storage_dir", ""),
                       ("gluster_storage_dir", ""),
                       ("use_external_mip_script", False),
                       ("hv_state_static", {}), ("disk_state_static", {}),
                       ("candidate_certs", {}),
                       ("max_running_jobs", d.JOB_QUEUE_MAX_RUNNING),
                       ("max_tracked_jobs", d.JOB_QUEUE_MAX_TRACKED),
                       ("instance_communication_network", ""),
                       ("install_image", ""), ("zeroing_image", ""),
                       ("compression_tools", list(d.COMPRESSION_TOOLS)),
                       ("enabled_user_shutdown", False),
                       ("ssh_key_type", d.SSH_KEY_TYPE),
                       ("ssh_key_bits", d.SSH_KEY_BITS),
                       ("tcpudp_port_pool", []), ("tags", [])):
        if cluster.get(key) is None:
            cluster[key] = copy.deepcopy(value)
    if cluster.get("master_netmask") is None:
        cluster["master_netmask"] = 32 if cluster["primary_ip_family"] == 2 \
            else 128
    if cluster.get("diskparams"):
        cluster["diskparams"] = d.fill_diskparams(d.DISK_DT_DEFAULTS,
                                                  cluster["diskparams"])
    else:
        cluster["diskparams"] = copy.deepcopy(d.DISK_DT_DEFAULTS)
    if cluster.get("ipolicy") is None:
        cluster["ipolicy"] = d.fill_ipolicy(d.IPOLICY_DEFAULTS, {})
    else:
        wrong = set(cluster["ipolicy"]) - set(d.IPOLICY_ALL_KEYS)
        if wrong:
            raise Error("Cluster instance policy contains spurious keys: %s"
                        % ", ".join(sorted(wrong)))
        cluster["ipolicy"] = d.fill_ipolicy(d.IPOLICY_DEFAULTS,
                                            cluster["ipolicy"])


def _enabled_disk_templates(cfg):
    cluster = cfg["cluster"]
    if not cluster.get("enabled_disk_templates"):
        found = set(disk["dev_type"] for disk in cfg["disks"].values())
        if any(not inst.get("disks") for inst in cfg["instances"].values()):
            found.add(d.DT_DISKLESS)
        if cluster.get("volume_group_name"):
            found.update((d.DT_DRBD8, d.DT_PLAIN))
        enabled = [dt for dt in d.DISK_TEMPLATE_PREFERENCE if dt in found]
        enabled.extend(sorted(found - set(enabled)))
        cluster["enabled_disk_templates"] = enabled
    _restrict_dts(cluster["ipolicy"], cluster["enabled_disk_templates"])


def _fill_disk(disk, now):
    for child in disk.get("children") or []:
        _fill_disk(child, now)
    if not isinstance(disk.get("params"), dict):
        disk["params"] = {}
    disk.setdefault("serial_no", 1)
    disk.setdefault("mtime", now)
    disk.setdefault("ctime", now)
    if disk.get("dev_type") in DEV_TYPE_OLD_NEW:
        disk["dev_type"] = DEV_TYPE_OLD_NEW[disk["dev_type"]]


def fill_defaults(cfg, now=None):
    """Fill what Ganeti 3.0 fills on load (UpgradeConfig); CFG in place."""
    now = now or time.time()
    cluster = cfg["cluster"]
    _fill_cluster(cluster)
    for node in cfg["nodes"].values():
        for key, value in (("master_capable", True), ("vm_capable", True),
                           ("ndparams", {}), ("powered", True), ("tags", [])):
            if node.get(key) is None:
                node[key] = value
        for key in d.NDC_GLOBALS:
            node["ndparams"].pop(key, None)
    for inst in cfg["instances"].values():
        if "admin_state" not in inst:
            inst["admin_state"] = d.ADMINST_UP if inst.get("admin_up") \
                else d.ADMINST_DOWN
        inst.pop("admin_up", None)
        inst.setdefault("admin_state_source", d.ADMIN_SOURCE)
        for key in ("disks", "nics", "tags"):
            if inst.get(key) is None:
                inst[key] = []
        for key in ("hvparams", "osparams", "osparams_private", "beparams"):
            if inst.get(key) is None:
                inst[key] = {}
        for key in d.HVC_GLOBALS:
            inst["hvparams"].pop(key, None)
        d.upgrade_beparams(inst["beparams"])
        if inst.get("disks_active") is None:
            inst["disks_active"] = inst["admin_state"] == d.ADMINST_UP
    _enabled_disk_templates(cfg)
    for group in cfg["nodegroups"].values():
        for key, value in (("ndparams", {}), ("serial_no", 1),
                           ("alloc_policy", "preferred"), ("mtime", now),
                           ("diskparams", {}), ("ipolicy", {}),
                           ("networks", {}), ("tags", [])):
            if group.get(key) is None:
                group[key] = value
        group.setdefault("ctime", 0)
        group["members"] = []
        for net, params in group["networks"].items():
            group["networks"][net] = d.fill_dict(d.NICC_DEFAULTS, params)
        _restrict_dts(group["ipolicy"], cluster["enabled_disk_templates"])
    if cluster.get("drbd_usermode_helper") is None and \
            d.DT_DRBD8 in cluster["enabled_disk_templates"]:
        cluster["drbd_usermode_helper"] = d.DEFAULT_DRBD_HELPER
    for net in cfg["networks"].values():
        for key in ("family", "size", "network_type"):
            net.pop(key, None)
        net.setdefault("tags", [])
        net.setdefault("serial_no", 1)
    for disk in cfg["disks"].values():
        _fill_disk(disk, now)
    cfg.setdefault("filters", {})
    # every object has a UUID (ConfigWriter._UpgradeConfig)
    for container in ("instances", "nodes", "nodegroups", "networks", "disks"):
        for key, obj in cfg[container].items():
            obj.setdefault("uuid", key)
    for inst in cfg["instances"].values():
        for nic in inst["nics"]:
            nic.setdefault("uuid", config.new_uuid())
            nic.setdefault("nicparams", {})
    cluster.setdefault("uuid", config.new_uuid())
    if not cfg["nodegroups"]:
        uuid = config.new_uuid()
        cfg["nodegroups"][uuid] = {
            "name": "default", "members": [], "ndparams": {},
            "alloc_policy": "preferred", "ipolicy": {}, "diskparams": {},
            "networks": {}, "ctime": 0, "mtime": now, "uuid": uuid,
            "serial_no": 1, "tags": []}
    default_group = sorted(cfg["nodegroups"])[0] \
        if len(cfg["nodegroups"]) == 1 else None
    for node in cfg["nodes"].values():
        if not node.get("group") and default_group:
            node["group"] = default_group
    for key in ("ctime", "mtime"):
        cfg.setdefault(key, now)
    return cfg
