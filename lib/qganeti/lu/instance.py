"""Creating and removing instances (OP_INSTANCE_CREATE, _MULTI_ALLOC, _REMOVE).

Creation follows Ganeti's LUInstanceCreate: arguments checked (names,
disks, NICs, parameters, the instance policy, the OS on the node, memory
and disk space), then disks created on the node, the instance and its
disks added to the config, the OS installed, the instance started.  Every
step that creates something registers its undo first, so a failure (or a
kill) at any later step leaves no disk, no directory and no config entry.
"""

import os

from qganeti import config, errors
from qganeti.lu import instance_util as iu


def _cluster_default_hv(cfg):
    return cfg["cluster"]["enabled_hypervisors"][0]


def _check_disk_args(op, cfg):
    """Ganeti's _CheckDiskArguments; the disk template."""
    names = [d.get("name") for d in op["disks"] if d.get("name")
             and str(d.get("name")).lower() != iu.VALUE_NONE]
    _check_device_names("disk", names)
    template = op.get("disk_template") or cfg["cluster"]["enabled_disk_templates"][0]
    if template not in cfg["cluster"]["enabled_disk_templates"]:
        raise errors.OpPrereqError("Disk template '%s' is not enabled in cluster. Enabled"
                                   " disk templates are: %s"
                                   % (template, ",".join(
                                       cfg["cluster"]["enabled_disk_templates"])),
                                   errors.ECODE_STATE)
    if template == "diskless":
        if op["disks"]:
            raise errors.OpPrereqError("Diskless instance but disk information passed",
                                       errors.ECODE_INVAL)
    else:
        if not op["disks"] and op["mode"] == "create":
            raise errors.OpPrereqError("No disk information specified", errors.ECODE_INVAL)
        if template not in iu.FILE_TEMPLATES:
            raise errors.OpPrereqError("Disk template '%s' is not supported by qganeti yet"
                                       " (file, sharedfile and diskless are)" % template,
                                       errors.ECODE_INVAL)
    if len(op["disks"]) > iu.MAX_DISKS:
        raise errors.OpPrereqError("Instance has too many disks (%d), the limit is %d"
                                   % (len(op["disks"]), iu.MAX_DISKS), errors.ECODE_INVAL)
    disks = []
    for idx, disk in enumerate(op["disks"]):
        disk = iu.force_dict(disk, iu.IDISK_TYPES)
        if "adopt" in disk:
            raise errors.OpPrereqError("Disk adoption is not supported for the '%s' disk"
                                       " template" % template, errors.ECODE_INVAL)
        mode = disk.get("mode", "rw")
        if mode not in ("rw", "ro"):
            raise errors.OpPrereqError("Invalid disk access mode '%s'" % mode,
                                       errors.ECODE_INVAL)
        size = disk.get("size")
        if size is None:
            raise errors.OpPrereqError("Missing disk size", errors.ECODE_INVAL)
        if not isinstance(size, int) or size <= 0:
            raise errors.OpPrereqError("Invalid disk size '%s' (disk %d)" % (size, idx),
                                       errors.ECODE_INVAL)
        name = disk.get("name")
        if name is not None and name.lower() == iu.VALUE_NONE:
            name = None
        out = {"size": size, "mode": mode, "name": name}
        if disk.get("spindles") is not None:
            out["spindles"] = disk["spindles"]
        disks.append(out)
    return template, disks


def _check_device_names(kind, names):
    """Ganeti's ValidateDeviceNames: unique, and not a number."""
    seen = set()
    for name in names:
        if not isinstance(name, str):
            continue
        try:
            int(name)
        except ValueError:
            pass
        else:
            raise errors.OpPrereqError("Invalid name '%s'. Purely numeric %s names are not"
                                       " allowed." % (name, kind), errors.ECODE_INVAL)
        if name in seen:
            raise errors.OpPrereqError("Device name '%s' is used more than once"
                                       % name, errors.ECODE_NOTUNIQUE)
        seen.add(name)


def compute_nics(op, cfg, default_ip, taken_macs):
    """Ganeti's ComputeNics: NIC objects (dicts) and config changes for IPs."""
    cluster_mode = cfg["cluster"]["nicparams"]["default"]["mode"]
    nics = []
    changes = []
    if len(op["nics"]) > iu.MAX_NICS:
        raise errors.OpPrereqError("Instance has too many network interfaces (%d), the limit"
                                   " is %d" % (len(op["nics"]), iu.MAX_NICS),
                                   errors.ECODE_INVAL)
    _check_device_names("NIC", [n.get("name") for n in op["nics"]
                                if n.get("name") and str(n["name"]).lower() != iu.VALUE_NONE])
    for idx, nic in enumerate(op["nics"]):
        nic = iu.force_dict(nic, iu.INIC_TYPES)
        mode_req = nic.get("mode")
        mode = mode_req if mode_req not in (None, iu.VALUE_AUTO) else cluster_mode
        net = nic.get("network")
        link = nic.get("link")
        ip = nic.get("ip")
        vlan = nic.get("vlan")
        if net is None or net.lower() == iu.VALUE_NONE:
            net = None
        elif mode_req is not None or link is not None:
            raise errors.OpPrereqError("If network is given, no mode or link is allowed to be"
                                       " passed", errors.ECODE_INVAL)
        if ip is None or ip.lower() == iu.VALUE_NONE:
            nic_ip = None
        elif ip.lower() == iu.VALUE_AUTO:
            if not op["name_check"]:
                raise errors.OpPrereqError("IP address set to auto but name checks not"
                                           " enabled", errors.ECODE_INVAL)
            nic_ip = default_ip
        elif ip.lower() == iu.NIC_IP_POOL:
            if net is None:
                raise errors.OpPrereqError("if ip=pool, parameter network must be passed too",
                                           errors.ECODE_INVAL)
            nic_ip = iu.NIC_IP_POOL
        else:
            from qganeti import netutils
            if not netutils.is_ipv4(ip):
                raise errors.OpPrereqError("Invalid IP address '%s'" % ip, errors.ECODE_INVAL)
            nic_ip = ip
        if mode == "routed" and not nic_ip and not net:
            raise errors.OpPrereqError("Routed nic mode requires an ip address if not attached"
                                       " to a network", errors.ECODE_INVAL)
        if mode not in ("bridged", "routed", "openvswitch"):
            raise errors.OpPrereqError("Invalid NIC mode '%s'" % mode, errors.ECODE_INVAL)
        mac = nic.get("mac", iu.VALUE_AUTO)
        if mac in (iu.VALUE_AUTO, iu.VALUE_GENERATE):
            prefix = None
            if net is not None:
                netobj = cfg["networks"].get(config.network_uuid(cfg, net), {})
                prefix = netobj.get("mac_prefix")
            mac = iu.new_mac(cfg, prefix, taken_macs)
        else:
            mac = iu.normalize_mac(mac)
            if iu.mac_in_use(cfg, mac) or mac in taken_macs:
                raise errors.OpPrereqError("MAC address %s already in use in cluster" % mac,
                                           errors.ECODE_NOTUNIQUE)
        taken_macs.add(mac)
        nicparams = {}
        if mode_req:
            nicparams["mode"] = mode
        if link:
            nicparams["link"] = link
        if vlan:
            nicparams["vlan"] = vlan
        filled = iu.filled_nic(cfg, {"nicparams": nicparams})
        if filled["mode"] == "bridged" and not filled["link"]:
            raise errors.OpPrereqError("Missing bridged NIC link", errors.ECODE_INVAL)
        obj = {"mac": mac, "nicparams": nicparams, "uuid": config.new_uuid()}
        if nic_ip is not None:
            obj["ip"] = nic_ip
        name = nic.get("name")
        if name is not None and name.lower() != iu.VALUE_NONE:
            obj["name"] = name
        if net is not None:
            obj["network"] = config.network_uuid(cfg, net)
        nics.append(obj)
    return nics, changes


def _network_params(ctx, cfg, nic, idx, pnode_uuid, res, conflicts_check):
    """A NIC on a network (Ganeti's CheckPrereq part): the netparams of the
    node's group, and its IP reserved in RES; ip=pool takes a free address.
    True if the address came from the pool."""
    net_uuid = nic["network"]
    net = cfg["networks"][net_uuid]
    group = cfg["nodegroups"][cfg["nodes"][pnode_uuid]["group"]]
    params = group.get("networks", {}).get(net_uuid)
    if params is None:
        raise errors.OpPrereqError("No netparams found for network %s. Probably not"
                                   " connected to node's %s nodegroup"
                                   % (net["name"], cfg["nodes"][pnode_uuid]["name"]),
                                   errors.ECODE_INVAL)
    ctx.log_info("NIC/%d inherits netparams %s" % (idx, list(params.values())))
    nic["nicparams"] = dict(params)
    ip = nic.get("ip")
    if ip is None:
        return False
    if ip == iu.NIC_IP_POOL:
        nic["ip"] = _free_ip(res, net_uuid, idx)
        ctx.log_info("Chose IP %s from network %s" % (nic["ip"], net["name"]))
        return True
    res.reserve(net_uuid, ip, check=conflicts_check)
    return False


def _free_ip(res, net_uuid, idx):
    from qganeti import network
    try:
        return res.pool(net_uuid).reserve_free()
    except network.AddressPoolError:
        raise errors.OpPrereqError("Unable to get a free IP for NIC %d from the address"
                                   " pool" % idx, errors.ECODE_STATE)


def claim_ips(cfg, nics, from_pool, conflicts_check):
    """Reserve the network IPs of NICS in CFG (inside config.update, so no
    other change comes between). A NIC in FROM_POOL (indexes) whose address
    was taken since it was chosen gets another free one."""
    from qganeti import network
    res = network.Reservations(cfg)
    for idx, nic in enumerate(nics):
        net_uuid, ip = nic.get("network"), nic.get("ip")
        if not net_uuid or not ip:
            continue
        if idx in from_pool and res.pool(net_uuid).is_taken(ip):
            nic["ip"] = _free_ip(res, net_uuid, idx)
        else:
            res.reserve(net_uuid, ip, check=conflicts_check)
    res.store()


def release_ips(cfg, nics):
    """Give the network IPs of NICS back to their pools in CFG (in config.update)."""
    from qganeti import network
    res = network.Reservations(cfg)
    for nic in nics:
        if nic.get("ip") and nic.get("network") in cfg["networks"]:
            res.release(nic["network"], nic["ip"])
    res.store()


def drop_instance(ctx, uuid, disk_uuids):
    """Remove the instance and its disks from the config and free its IPs."""
    def drop(cfg):
        inst = cfg["instances"].pop(uuid, None)
        if inst is None:
            return   # never added (undo of a creation that failed before)
        for disk in disk_uuids:
            cfg["disks"].pop(disk, None)
        release_ips(cfg, inst.get("nics") or [])
        if inst.get("network_port") is not None:
            # as Ganeti: a removed instance's port is reused first
            pool = cfg["cluster"].setdefault("tcpudp_port_pool", [])
            if inst["network_port"] not in pool:
                pool.append(inst["network_port"])
    ctx.update(drop)


def choose_node(ctx, cfg, op, group_uuid=None):
    """The primary node when none is given: the iallocator's choice (-I, or
    the cluster's default allocator, hail)."""
    from qganeti import iallocator
    name = op.get("iallocator") or cfg["cluster"].get("default_iallocator") or "hail"
    template, disks = _check_disk_args(op, cfg)
    nodes = iallocator.allocate(ctx, cfg, name, op, template, disks, group_uuid)
    ctx.log_info("Selected nodes for instance %s via iallocator %s: %s"
                 % (op["instance_name"], name,
                    ", ".join(cfg["nodes"][uuid]["name"] for uuid in nodes)))
    return nodes[0]


class Create(iu.InstanceHooks):
    """OP_INSTANCE_CREATE."""
    HPATH = "instance-add"

    @staticmethod
    def expand(op, ctx):
        pv = iu.priv(ctx)
        if op["forthcoming"] or op["commit"]:
            raise errors.OpPrereqError("Forthcoming instances are not supported by qganeti"
                                       " yet", errors.ECODE_INVAL)
        if op["mode"] != "create":
            raise errors.OpPrereqError("Instance import (mode %s) is not supported by qganeti"
                                       " yet" % op["mode"], errors.ECODE_INVAL)
        if op.get("no_install") and op["start"]:
            ctx.log_info("No-installation mode selected, disabling startup")
            op["start"] = False
        op["instance_name"] = iu.normalize_name(op["instance_name"])
        if op["ip_check"] and not op["name_check"]:
            raise errors.OpPrereqError("Cannot do IP address check without a name check",
                                       errors.ECODE_INVAL)
        pv["check_ip"] = None
        if op["name_check"]:
            name, address = iu.check_hostname(ctx, op["instance_name"])
            op["instance_name"] = name
            pv["check_ip"] = address
        if op.get("os_type") is None:
            raise errors.OpPrereqError("No guest OS or OS image specified", errors.ECODE_INVAL)
        cfg = ctx.config()
        if op["os_type"] in cfg["cluster"].get("blacklisted_os", []):
            raise errors.OpPrereqError("Guest OS '%s' is not allowed for installation"
                                       % op["os_type"], errors.ECODE_STATE)
        if op["opportunistic_locking"] and not op.get("iallocator"):
            raise errors.OpPrereqError("Opportunistic locking is only available in combination"
                                       " with an instance allocator", errors.ECODE_INVAL)
        if op.get("iallocator") and op.get("pnode"):
            raise errors.OpPrereqError("Give either the iallocator or the new node"
                                       " (iallocator or pnode), not both", errors.ECODE_INVAL)
        template, _ = _check_disk_args(op, cfg)
        op["disk_template"] = template
        if template in iu.FILE_TEMPLATES and not op.get("file_driver"):
            op["file_driver"] = iu.DEFAULT_FILE_DRIVER
        if op.get("snode"):
            ctx.log_warning("Secondary node will be ignored on non-mirrored disk template")
            op["snode"] = None
        if _name_taken(cfg, op["instance_name"]):
            raise errors.OpPrereqError("Instance '%s' is already in the cluster"
                                       % op["instance_name"], errors.ECODE_EXISTS)
        group = None
        if op.get("group_name"):
            group = config.group_uuid(cfg, op["group_name"])
        if op.get("pnode") or op.get("pnode_uuid"):
            pnode = iu.node_uuid(cfg, op.get("pnode"), op.get("pnode_uuid"))
        else:
            pnode = choose_node(ctx, cfg, op, group)
        op["pnode_uuid"] = pnode
        op["pnode"] = cfg["nodes"][pnode]["name"]
        group = cfg["nodes"][pnode]["group"]
        # a diskless instance that is not started takes nothing from its node:
        # its creations need not wait for each other (Ganeti always locks the
        # node exclusively)
        mode = "exclusive" if template != "diskless" or op["start"] else "shared"
        return [("instance/" + op["instance_name"], "exclusive"),
                ("nodegroup/" + group, "shared"),
                ("node/" + pnode, mode), ("node-res/" + pnode, mode)]

    @staticmethod
    def check(op, ctx):
        pv = iu.priv(ctx)
        cfg = ctx.config(reload=True)
        if _name_taken(cfg, op["instance_name"]):
            raise errors.OpPrereqError("Instance '%s' is already in the cluster"
                                       % op["instance_name"], errors.ECODE_EXISTS)
        cluster = cfg["cluster"]
        hv = op.get("hypervisor")
        if hv in (None, iu.VALUE_AUTO):
            hv = _cluster_default_hv(cfg)
        if hv not in cluster["enabled_hypervisors"]:
            raise errors.OpPrereqError("Selected hypervisor (%s) not enabled in the cluster"
                                       " (%s)" % (hv, ",".join(cluster["enabled_hypervisors"])),
                                       errors.ECODE_STATE)
        op["hypervisor"] = hv
        from qganeti.lu import tags
        for tag in op["tags"]:
            tags.validate_tag(tag)
        hvparams, hv_full = iu.check_hvparams(cfg, hv, op["hvparams"], op["os_type"])
        op["hvparams"] = hvparams
        pv["hv_full"] = hv_full
        from qganeti import defaults
        bep = dict(op["beparams"])
        for key, value in list(bep.items()):
            if value == iu.VALUE_AUTO:
                bep[key] = cluster["beparams"]["default"].get(key)
        bep = defaults.check_params("be", bep)
        op["beparams"] = bep
        be_full = defaults.simple_fill_be(cluster, bep)
        pv["be_full"] = be_full
        template, disks = _check_disk_args(op, cfg)
        pv["disks"] = disks
        pv["os_full"] = iu.filled_os(cfg, op["os_type"], op["osparams"],
                                      op.get("osparams_private") or {})
        if op["ip_check"] and pv["check_ip"] and iu.tcp_ping(pv["check_ip"]):
            raise errors.OpPrereqError("IP %s of instance %s already in use"
                                       % (pv["check_ip"], op["instance_name"]),
                                       errors.ECODE_NOTUNIQUE)
        nics, _ = compute_nics(op, cfg, pv["check_ip"], set())
        pnode = op["pnode_uuid"]
        node = cfg["nodes"].get(pnode)
        if node is None:
            raise errors.OpPrereqError("Node '%s' not known" % op["pnode"], errors.ECODE_NOENT)
        if node.get("offline"):
            raise errors.OpPrereqError("Cannot use offline primary node '%s'" % node["name"],
                                       errors.ECODE_STATE)
        if node.get("drained"):
            raise errors.OpPrereqError("Cannot use drained primary node '%s'" % node["name"],
                                       errors.ECODE_STATE)
        if not node.get("vm_capable", True):
            raise errors.OpPrereqError("Cannot use non-vm_capable primary node '%s'"
                                       % node["name"], errors.ECODE_STATE)
        reservations = None
        pv["from_pool"] = []
        for idx, nic in enumerate(nics):
            if nic.get("network"):
                if reservations is None:
                    from qganeti import network
                    reservations = network.Reservations(cfg)
                if _network_params(ctx, cfg, nic, idx, pnode, reservations,
                                   op["conflicts_check"]):
                    pv["from_pool"].append(idx)
            elif op["conflicts_check"] and nic.get("ip"):
                _check_ip_conflict(cfg, nic["ip"], pnode)
        pv["nics"] = nics
        violations = iu.ipolicy_violations(
            cfg, node["group"], be_full["maxmem"], be_full["vcpus"],
            [d["size"] for d in disks], len(nics), be_full.get("spindle_use"),
            [template] * len(disks))
        if violations and not op["ignore_ipolicy"]:
            group = cfg["nodegroups"][node["group"]]
            raise errors.OpPrereqError("Instance allocation to group %s (%s) violates policy:"
                                       " %s" % (node["group"], group["name"],
                                                ", ".join(violations)), errors.ECODE_INVAL)
        iu.validate_hvparams(ctx, [pnode], op["hypervisor"], pv["hv_full"])
        _check_os(ctx, pnode, op["os_type"], pv["os_full"], op.get("osparams_secret"),
                  op["force_variant"])
        iu.check_free_disk(ctx, pnode, template, sum(d["size"] for d in disks))
        if op["start"]:
            iu.check_free_memory(ctx, pnode, "creating instance %s" % op["instance_name"],
                                 be_full["maxmem"])

    @staticmethod
    def hooks_env(op, ctx):
        pv = iu.priv(ctx)
        cfg = ctx.config()
        be_full = pv.get("be_full") or {}
        disks = [dict(d, uuid="") for d in pv.get("disks", [])]
        env = {"ADD_MODE": op["mode"]}
        env.update(iu.build_hook_env(
            name=op["instance_name"], primary=op["pnode"], secondaries=[],
            os_type=op["os_type"], status=op["start"], minmem=be_full.get("minmem"),
            maxmem=be_full.get("maxmem"), vcpus=be_full.get("vcpus"),
            nics=iu.nic_tuples(cfg, pv.get("nics", [])), disk_template=op["disk_template"],
            disks=disks, bep=be_full, hvp=pv.get("hv_full", {}),
            hypervisor=op["hypervisor"], tags=op["tags"]))
        return env

    @staticmethod
    def hooks_nodes(op, ctx):
        cfg = ctx.config()
        nodes = list(dict.fromkeys([cfg["cluster"]["master_node"], op["pnode_uuid"]]))
        return nodes, nodes

    @staticmethod
    def run(op, ctx):
        pv = iu.priv(ctx)
        cfg = ctx.config()
        cluster = cfg["cluster"]
        uuid = config.new_uuid()
        pnode = op["pnode_uuid"]
        name = op["instance_name"]
        template = op["disk_template"]
        disks = []
        if template in iu.FILE_TEMPLATES:
            base = cluster["file_storage_dir"] if template == "file" \
                else cluster["shared_file_storage_dir"]
            subdir = op.get("file_storage_dir")
            if subdir:
                if os.path.isabs(subdir) or ".." in subdir.split("/"):
                    raise errors.OpPrereqError("File storage directory '%s' must be a relative"
                                               " path below %s" % (subdir, base),
                                               errors.ECODE_INVAL)
                base = os.path.join(base, subdir)
            for idx, spec in enumerate(pv["disks"]):
                disk_uuid = config.new_uuid()
                path = os.path.join(base, name, "%s.%s.disk%d" % (disk_uuid, template, idx))
                disk = {"logical_id": [op["file_driver"], path], "dev_type": template,
                        "children": [], "nodes": [pnode] if template == "file" else [],
                        "iv_name": "disk/%d" % idx, "size": spec["size"],
                        "mode": spec["mode"], "params": {}, "uuid": disk_uuid}
                if spec.get("name"):
                    disk["name"] = spec["name"]
                if spec.get("spindles") is not None:
                    disk["spindles"] = spec["spindles"]
                disks.append(disk)
        inst = {
            "name": name, "primary_node": pnode, "os": op["os_type"],
            "hypervisor": op["hypervisor"], "hvparams": op["hvparams"],
            "beparams": op["beparams"], "osparams": op["osparams"],
            "osparams_private": op.get("osparams_private") or {},
            "admin_state": "down", "admin_state_source": "admin", "nics": pv["nics"],
            "disks": [d["uuid"] for d in disks], "disks_active": False, "uuid": uuid,
            "tags": list(dict.fromkeys(op["tags"])),
        }
        if disks:
            ctx.feedback("* creating instance disks...")
            for template_, directory in iu.storage_dirs(disks):
                ctx.undo(_remove_dir_quietly, ctx, pnode, template_, directory)
            for disk in disks:
                ctx.undo(_remove_disk_quietly, ctx, pnode, disk)
                try:
                    ctx.node_call(pnode, "disk-create", [template, disk["logical_id"][1],
                                                         str(disk["size"])])
                except errors.OpExecError as err:
                    ctx.log_warning("Device creation failed")
                    raise errors.OpExecError("Can't create block device %s on node %s: %s"
                                             % (disk["iv_name"], op["pnode"], err))
            inst["disks_active"] = True
        ctx.feedback("adding instance %s to cluster config" % name)
        ctx.undo(_remove_from_config, ctx, uuid, [d["uuid"] for d in disks])
        from qganeti import defaults
        needs_port = op["hypervisor"] in defaults.HTS_REQ_PORT
        if needs_port or any(nic.get("network") and nic.get("ip") for nic in inst["nics"]):
            # network IPs and ports are taken where no other change can come between
            def add(cfg):
                claim_ips(cfg, inst["nics"], pv["from_pool"], op["conflicts_check"])
                if needs_port:
                    inst["network_port"] = _allocate_port(cfg)
                cfg["disks"].update((d["uuid"], d) for d in disks)
                cfg["instances"][uuid] = inst
            ctx.update(add)
        else:
            changes = [{"op": "add", "path": "/disks/" + d["uuid"], "value": d}
                       for d in disks]
            changes.append({"op": "add", "path": "/instances/" + uuid, "value": inst})
            ctx.commit(changes)
        # as Ganeti: the node is done with once the disks exist
        ctx.release(["node/" + pnode])
        if not disks and not op["start"]:
            return [op["pnode"]]
        cfg = ctx.config(reload=True)
        inst = cfg["instances"][uuid]
        ctx.release(["node-res/" + pnode])
        if disks and not op.get("no_install"):
            ctx.feedback("* running the instance OS create scripts...")
            payload = iu.os_payload(cfg, inst, secret=op.get("osparams_secret"))
            try:
                ctx.node_call(pnode, "os-create", [], input=payload, timeout=3600)
            except errors.OpExecError as err:
                raise errors.OpExecError("Could not add os for instance %s on node %s: %s"
                                         % (name, op["pnode"], err))
        if op["start"]:
            iu.set_admin_state(ctx, uuid, "up")
            ctx.feedback("* starting instance...")
            ctx.undo(_stop_quietly, ctx, inst)
            try:
                iu.start(ctx, inst)
            except errors.OpExecError as err:
                raise errors.OpExecError("Could not start instance: %s" % err)
        return [op["pnode"]]


def _name_taken(cfg, name):
    return any(inst.get("name") == name for inst in cfg["instances"].values())


def _check_ip_conflict(cfg, ip, node_uuid):
    """Ganeti's CheckForConflictingIp: an IP of a network the node's group uses."""
    import ipaddress
    group = cfg["nodegroups"].get(cfg["nodes"][node_uuid]["group"], {})
    for net_uuid in group.get("networks", {}):
        net = cfg["networks"].get(net_uuid)
        if net and ipaddress.ip_address(ip) in ipaddress.ip_network(net["network"],
                                                                    strict=False):
            raise errors.OpPrereqError("The requested IP address (%s) belongs to network %s,"
                                       " but the target NIC does not." % (ip, net["name"]),
                                       errors.ECODE_STATE)


def _check_os(ctx, node_uuid, os_name, params, secret, force_variant):
    """Ganeti's CheckOSParams (and the variant check) on the node."""
    from qganeti import osapi
    cfg = ctx.config()
    allparams = dict(params or {})
    allparams.update(secret or {})
    try:
        osdef = ctx.node_call(node_uuid, "os-validate", [os_name], input=allparams)
    except errors.OpExecError as err:
        reason = str(err.args[0]).split(" failed: ", 1)[-1]
        prefix = "os-validate: fatal: unable to validate OS %s: " % os_name
        if reason.startswith(prefix):
            reason = reason[len(prefix):]
        raise errors.OpPrereqError("OS Parameters validation failed on node %s: %s"
                                   % (iu.node_name(cfg, node_uuid), reason),
                                   errors.ECODE_INVAL)
    if not force_variant:
        osapi.check_variant(osdef, os_name)
    return osdef


def _remove_disk_quietly(ctx, node, disk):
    try:
        ctx.node_call(node, "disk-remove", [disk["dev_type"], disk["logical_id"][1]])
    except errors.GenericError as err:
        ctx.log_warning("Could not remove disk %s: %s" % (disk["iv_name"], err))


def _remove_dir_quietly(ctx, node, template, directory):
    try:
        ctx.node_call(node, "storage-dir-remove", [template, directory])
    except errors.GenericError as err:
        ctx.log_warning("Could not remove directory '%s': %s" % (directory, err))


def _remove_from_config(ctx, uuid, disk_uuids):
    try:
        drop_instance(ctx, uuid, disk_uuids)
    except errors.GenericError as err:
        ctx.log_warning("Could not remove instance %s from the configuration: %s"
                        % (uuid, err))


def _stop_quietly(ctx, inst):
    try:
        iu.shutdown(ctx, inst)
    except errors.GenericError:
        pass


class MultiAlloc:
    """OP_INSTANCE_MULTI_ALLOC: one creation job per instance, placed by one
    multi-allocate request when no instance names its nodes."""

    @staticmethod
    def check(op, ctx):
        cfg = ctx.config()
        has = []
        for inst in op["instances"]:
            if inst.get("iallocator") is not None:
                raise errors.OpPrereqError("iallocator are not allowed to be set on instance"
                                           " objects", errors.ECODE_INVAL)
            has.append(bool(inst.get("pnode")))
        if any(has) and not all(has):
            raise errors.OpPrereqError("There are instance objects providing pnode/snode while"
                                       " others do not", errors.ECODE_INVAL)
        if not any(has) and op.get("iallocator") is None:
            default = cfg["cluster"].get("default_iallocator")
            if not default:
                raise errors.OpPrereqError(
                    "No iallocator or nodes on the instances given and no cluster-wide"
                    " default iallocator found; please specify either an iallocator or nodes"
                    " on the instances or set a cluster-wide default iallocator",
                    errors.ECODE_INVAL)
            op["iallocator"] = default
        from qganeti import opcodes
        filled = []
        for inst in op["instances"]:
            if inst.get("OP_ID", "OP_INSTANCE_CREATE") != "OP_INSTANCE_CREATE":
                raise errors.OpPrereqError("Instance objects must be OP_INSTANCE_CREATE"
                                           " opcodes", errors.ECODE_INVAL)
            filled.append(opcodes.validate(dict(inst, OP_ID="OP_INSTANCE_CREATE")))
        ctx.allocation = None
        if op.get("iallocator") and not any(has):
            ctx.allocation = _multi_allocate(ctx, cfg, op["iallocator"], filled)

    @staticmethod
    def run(op, ctx):
        from qganeti import jobrun
        if ctx.allocation is None:
            jobs = [[dict(inst, OP_ID="OP_INSTANCE_CREATE")] for inst in op["instances"]]
            return jobrun.JobsResult(jobs, allocatable=[j[0].get("instance_name")
                                                        for j in jobs], failed=[])
        cfg = ctx.config()
        allocatable, failed = ctx.allocation
        by_name = {inst["instance_name"]: inst for inst in op["instances"]}
        jobs = []
        for name, nodes in allocatable:
            sub = dict(by_name[name], OP_ID="OP_INSTANCE_CREATE")
            sub["pnode"] = cfg["nodes"][nodes[0]]["name"]
            if len(nodes) > 1:
                sub["snode"] = cfg["nodes"][nodes[1]]["name"]
            jobs.append([sub])
        return jobrun.JobsResult(jobs, allocatable=[name for name, _ in allocatable],
                                 failed=failed)


def _multi_allocate(ctx, cfg, name, ops):
    """Ganeti's multi-allocate request for the creations OPS (all at once,
    so that each placement counts the ones before it)."""
    from qganeti import iallocator
    items = []
    for sub in ops:
        if not sub.get("instance_name"):
            raise errors.OpPrereqError("Instance objects need an instance name",
                                       errors.ECODE_INVAL)
        template, disks = _check_disk_args(sub, cfg)
        items.append((sub, template, disks))
    names = [sub["instance_name"] for sub in ops]
    if len(set(names)) != len(names):
        raise errors.OpPrereqError("Duplicate instance names in the request",
                                   errors.ECODE_INVAL)
    allocatable, failed = iallocator.multi_allocate(ctx, cfg, name, items)
    for iname, nodes in allocatable:
        ctx.log_info("Selected nodes for instance %s via iallocator %s: %s"
                     % (iname, name, ", ".join(cfg["nodes"][u]["name"] for u in nodes)))
    if failed:
        ctx.log_warning("Instances that could not be allocated: %s" % ", ".join(failed))
    return allocatable, failed


class Remove(iu.InstanceHooks):
    """OP_INSTANCE_REMOVE."""
    HPATH = "instance-remove"

    @staticmethod
    def expand(op, ctx):
        return iu.lock_instance(op, ctx, nodes=True, node_res=True)

    @staticmethod
    def check(op, ctx):
        iu.recheck(ctx, op)

    @staticmethod
    def hooks_env(op, ctx):
        cfg = ctx.config()
        env = iu.hook_env(cfg, cfg["instances"][op["instance_uuid"]])
        env["SHUTDOWN_TIMEOUT"] = op["shutdown_timeout"]
        return env

    @staticmethod
    def hooks_nodes(op, ctx):
        cfg = ctx.config()
        pre, post = iu.hook_nodes(cfg, cfg["instances"][op["instance_uuid"]])
        return [cfg["cluster"]["master_node"]], post

    @staticmethod
    def run(op, ctx):
        cfg = ctx.config()
        uuid = op["instance_uuid"]
        inst = cfg["instances"][uuid]
        pname = iu.node_name(cfg, inst["primary_node"])
        ctx.log_info("Shutting down instance %s on node %s" % (inst["name"], pname))
        try:
            iu.shutdown(ctx, inst, op["shutdown_timeout"])
        except errors.OpExecError as err:
            if op["ignore_failures"]:
                ctx.feedback("Warning: can't shutdown instance: %s" % err)
            else:
                raise errors.OpExecError("Could not shutdown instance %s on node %s: %s"
                                         % (inst["name"], pname, err))
        disks = iu.disks_of(cfg, inst)
        if not iu.remove_disks(ctx, inst, disks, op["ignore_failures"]):
            raise errors.OpExecError("Can't remove instance's disks")
        drop_instance(ctx, uuid, [d["uuid"] for d in disks])
        try:
            ctx.node_call(inst["primary_node"], "console-remove",
                          [inst["hypervisor"], inst["name"]])
        except errors.GenericError:
            pass
        return None


def _allocate_port(cfg):
    """Ganeti's AllocatePort: from the cluster's pool, else the next one up,
    recorded in CFG."""
    from qganeti import defaults
    cluster = cfg["cluster"]
    pool = list(cluster.get("tcpudp_port_pool") or [])
    if pool:
        cluster["tcpudp_port_pool"] = pool[1:]
        return pool[0]
    port = cluster.get("highest_used_port", defaults.FIRST_DRBD_PORT - 1) + 1
    if port >= defaults.LAST_DRBD_PORT:
        raise errors.ConfigurationError("The highest used port is greater than %s. Aborting."
                                        % defaults.LAST_DRBD_PORT)
    cluster["highest_used_port"] = port
    return port
