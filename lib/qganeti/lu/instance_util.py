"""What the instance opcodes share (Ganeti's cmdlib/instance_utils, common).

Instances are config.data objects (dicts); disks are the top-level disk
objects they list by UUID.  Node work goes through ctx.node_call (the node
actions of libexec/qganeti/node/).  Messages and error codes are Ganeti's.
"""

import os

from qganeti import config, errors

INSTANCE_DOWN = ("down",)
INSTANCE_ONLINE = ("down", "up")
INSTANCE_NOT_RUNNING = ("down", "offline")
FILE_TEMPLATES = ("file", "sharedfile")
DEFAULT_FILE_DRIVER = "loop"
MAX_DISKS = 16
MAX_NICS = 8
VALUE_AUTO = "auto"
VALUE_DEFAULT = "default"
VALUE_NONE = "none"
VALUE_GENERATE = "generate"
NIC_IP_POOL = "pool"
# (plain character sets, not re: an op program should not pay for importing re)
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._-")
_HEX = frozenset("0123456789abcdef")
# disk parameters a user may give (Ganeti's IDISK_PARAMS_TYPES)
IDISK_TYPES = {"size": "size", "spindles": "int", "mode": "string", "adopt": "string",
               "vg": "maybe-string", "metavg": "maybe-string", "provider": "string",
               "name": "maybe-string", "access": "string"}
INIC_TYPES = {"mac": "string", "ip": "maybe-string", "mode": "string", "link": "string",
              "network": "maybe-string", "name": "maybe-string", "vlan": "maybe-string",
              "bridge": "maybe-string"}


def priv(ctx):
    """Scratch data of this opcode run (never written to the job file)."""
    data = getattr(ctx, "_instance_priv", None)
    if data is None:
        data = ctx._instance_priv = {}
    return data


# -- names ---------------------------------------------------------------------

def normalize_name(name):
    """Ganeti's Hostname.GetNormalizedName, a little stricter: no label may
    start with '-' (a name must never read as an option on a command line)."""
    if not isinstance(name, str):
        raise errors.OpPrereqError("Invalid hostname '%s'" % (name,), errors.ECODE_INVAL)
    lowered = name.lower()
    labels = lowered.rstrip(".").split(".")
    if (not 1 <= len(lowered) <= 255 or not _NAME_CHARS.issuperset(lowered)
            or ".." in lowered or lowered.startswith(".")
            or any(not label or label.startswith("-") for label in labels)):
        raise errors.OpPrereqError("Invalid hostname '%s'" % lowered, errors.ECODE_INVAL)
    return lowered.rstrip(".")


def resolve(name):
    """(canonical name, IPv4 address) of NAME: $ROOT/etc/hosts first, then,
    on a machine's own root (/), the system resolver; ResolverError if not."""
    from qganeti import netutils, paths
    wanted = name.lower()
    try:
        with open(paths.under_root("etc/hosts")) as handle:
            for line in handle:
                fields = line.split("#", 1)[0].split()
                if len(fields) >= 2 and wanted in (f.lower() for f in fields[1:]):
                    return fields[1].lower(), fields[0]
    except OSError:
        pass
    if paths.root() != "/":
        raise errors.ResolverError(name, 0, "not found in %s" % paths.under_root("etc/hosts"))
    import socket
    try:
        canonical, _, addresses = socket.gethostbyname_ex(name)
    except (socket.gaierror, socket.herror, UnicodeError) as err:
        raise errors.ResolverError(name, err.args[0], err.args[-1])
    del netutils
    return canonical.lower(), addresses[0]


def check_hostname(ctx, name):
    """Ganeti's CheckHostnameSane: (resolved name, its address)."""
    resolved, address = resolve(name)
    if resolved != name:
        ctx.log_info("Resolved given name '%s' to '%s'" % (name, resolved))
    if config.match_name(name, [resolved]) is None:
        raise errors.OpPrereqError("Resolved hostname '%s' does not look the same as given"
                                   " hostname '%s'" % (resolved, name), errors.ECODE_INVAL)
    return resolved, address


def tcp_ping(address, port=1811, timeout=10.0):
    """Ganeti's TcpPing: is something answering (or refusing) at ADDRESS?"""
    import errno
    import socket
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect((address, port))
        return True
    except socket.timeout:
        return False
    except OSError as err:
        return err.errno == errno.ECONNREFUSED
    finally:
        sock.close()


# -- lookups -------------------------------------------------------------------

def find(ctx, op, reload=False):
    """(uuid, instance) of OP's instance; fills op's instance_name/_uuid."""
    cfg = ctx.config(reload=reload)
    uuid = op.get("instance_uuid")
    if not uuid or uuid not in cfg["instances"]:
        uuid = config.instance_uuid(cfg, op["instance_name"])
    elif op.get("instance_name") and cfg["instances"][uuid]["name"] != op["instance_name"]:
        uuid = config.instance_uuid(cfg, op["instance_name"])
    inst = cfg["instances"][uuid]
    op["instance_name"] = inst["name"]
    op["instance_uuid"] = uuid
    return uuid, inst


def recheck(ctx, op):
    """After the locks: the instance again, from a fresh config."""
    cfg = ctx.config(reload=True)
    uuid = op["instance_uuid"]
    inst = cfg["instances"].get(uuid)
    if inst is None or inst["name"] != op["instance_name"]:
        raise errors.OpPrereqError("Instance '%s' not known" % op["instance_name"],
                                   errors.ECODE_NOENT)
    return uuid, inst


def node_uuid(cfg, name, uuid=None):
    if uuid and uuid in cfg["nodes"]:
        return uuid
    return config.node_uuid(cfg, name)


def node_name(cfg, uuid):
    return cfg["nodes"].get(uuid, {}).get("name", uuid)


def disks_of(cfg, inst):
    return [cfg["disks"][uuid] for uuid in inst.get("disks") or [] if uuid in cfg["disks"]]


def template_of(disks):
    """Ganeti's GetDiskTemplate: the disks' common type, diskless, or mixed."""
    kinds = []
    for disk in disks:
        kind = {"drbd8": "drbd", "lvm": "plain"}.get(disk["dev_type"], disk["dev_type"])
        if kind not in kinds:
            kinds.append(kind)
    if not kinds:
        return "diskless"
    return kinds[0] if len(kinds) == 1 else "mixed"


def secondary_nodes(cfg, inst):
    pnode = inst["primary_node"]
    out = []
    for disk in disks_of(cfg, inst):
        nodes = disk.get("nodes") or []
        if disk["dev_type"] == "drbd":
            nodes = list(disk["logical_id"][:2])
        for node in nodes:
            if node != pnode and node not in out:
                out.append(node)
    return out


def instance_nodes(cfg, inst):
    return [inst["primary_node"]] + secondary_nodes(cfg, inst)


def lock_instance(op, ctx, mode="exclusive", nodes=False, node_res=False,
                  node_mode="exclusive"):
    """The locks of an instance opcode: the instance (and its nodes)."""
    _, inst = find(ctx, op)
    locks = [("instance/" + inst["name"], mode)]
    if nodes or node_res:
        cfg = ctx.config()
        for uuid in instance_nodes(cfg, inst):
            if nodes:
                locks.append(("node/" + uuid, node_mode))
            if node_res:
                locks.append(("node-res/" + uuid, node_mode))
    return locks


# -- checks --------------------------------------------------------------------

def check_node_online(cfg, uuid, msg=None):
    node = cfg["nodes"][uuid]
    if node.get("offline"):
        raise errors.OpPrereqError("%s: %s" % (msg or "Can't use offline node", node["name"]),
                                   errors.ECODE_STATE)


def runtime(ctx, inst):
    """What the primary node's hypervisor says about INST (None: not running)."""
    cfg = ctx.config()
    try:
        return ctx.node_call(inst["primary_node"], "instance-info",
                             [inst["hypervisor"], inst["name"]])
    except errors.OpExecError as err:
        raise errors.OpPrereqError("Can't contact node %s for instance information: %s"
                                   % (node_name(cfg, inst["primary_node"]), err),
                                   errors.ECODE_ENVIRON)


def check_state(ctx, inst, req_states, msg=None):
    """Ganeti's CheckInstanceState."""
    if msg is None:
        msg = "can't use instance from outside %s states" % ", ".join(req_states)
    if inst["admin_state"] not in req_states:
        raise errors.OpPrereqError("Instance '%s' is marked to be %s, %s"
                                   % (inst["name"], inst["admin_state"], msg),
                                   errors.ECODE_STATE)
    if "up" not in req_states:
        cfg = ctx.config()
        if cfg["nodes"][inst["primary_node"]].get("offline"):
            ctx.log_warning("Primary node offline, ignoring check that instance is down")
        elif runtime(ctx, inst) is not None:
            raise errors.OpPrereqError("Instance %s is running, %s" % (inst["name"], msg),
                                       errors.ECODE_STATE)


def node_info(ctx, uuid):
    cfg = ctx.config()
    try:
        return ctx.node_call(uuid, "node-info", [cfg["cluster"]["file_storage_dir"]])
    except errors.OpExecError as err:
        raise errors.OpPrereqError("Can't get data from node %s: %s"
                                   % (node_name(cfg, uuid), err), errors.ECODE_ENVIRON)


def check_free_memory(ctx, uuid, reason, requested):
    """Ganeti's CheckNodeFreeMemory; the node's free memory."""
    cfg = ctx.config()
    free = node_info(ctx, uuid).get("mfree")
    name = node_name(cfg, uuid)
    if not isinstance(free, int):
        raise errors.OpPrereqError("Can't compute free memory on node %s, result was '%s'"
                                   % (name, free), errors.ECODE_ENVIRON)
    if requested > free:
        raise errors.OpPrereqError("Not enough memory on node %s for %s: needed %s MiB,"
                                   " available %s MiB" % (name, reason, requested, free),
                                   errors.ECODE_NORES)
    return free


def check_free_disk(ctx, uuid, template, required):
    """Enough space for REQUIRED MiB of TEMPLATE storage on the node
    (Ganeti checks volume groups; sparse files are checked the same way)."""
    if template not in FILE_TEMPLATES or required <= 0:
        return
    cfg = ctx.config()
    name = node_name(cfg, uuid)
    try:
        space = ctx.node_call(uuid, "storage-space", [template])
    except errors.OpExecError as err:
        raise errors.OpPrereqError("Cannot get storage information from node %s: %s"
                                   % (name, err), errors.ECODE_ENVIRON)
    if required > space["free"]:
        raise errors.OpPrereqError("Not enough disk space on target node %s %s storage:"
                                   " required %d MiB, available %d MiB"
                                   % (name, template, required, space["free"]),
                                   errors.ECODE_NORES)


def force_dict(params, types, what="parameter"):
    """Ganeti's ForceDictType over the IDISK/INIC tables."""
    from qganeti import defaults
    out = {}
    for key, value in params.items():
        if key not in types:
            raise errors.TypeEnforcementError("Unknown %s '%s'" % (what, key))
        vtype = types[key]
        if vtype == "size" and isinstance(value, int) and not isinstance(value, bool):
            out[key] = value
            continue
        out[key] = defaults._force(key, value, vtype)
    return out


def ipolicy_violations(cfg, group_uuid, mem, vcpus, disk_sizes, nic_count, spindle_use,
                       templates):
    """Ganeti's ComputeIPolicySpecViolation against the group's policy."""
    from qganeti import defaults
    group = cfg["nodegroups"].get(group_uuid, {})
    ipolicy = defaults.simple_fill_ipolicy(cfg["cluster"], group.get("ipolicy", {}))
    allowed = set(ipolicy.get("disk-templates", []))
    out = []
    tests = [("memory-size", "", mem), ("cpu-count", "", vcpus), ("nic-count", "", nic_count),
             ("spindle-use", "", spindle_use)]
    tests += [("disk-size", str(idx), size) for idx, size in enumerate(disk_sizes)]
    if disk_sizes:
        tests.append(("disk-count", "", len(disk_sizes)))
    elif "diskless" not in allowed:
        out.append("Disk template %s is not allowed (allowed templates %s)"
                   % ("diskless", ", ".join(sorted(allowed))))
    forbidden = set(templates) - allowed
    if forbidden:
        out.append("Disk template %s is not allowed (allowed templates: %s)"
                   % (", ".join(sorted(forbidden)), ", ".join(sorted(allowed))))
    best = None
    for minmax in ipolicy.get("minmax", []):
        errs = []
        for name, qualifier, value in tests:
            if value is None:
                continue
            low = minmax["min"].get(name, value)
            high = minmax["max"].get(name, value)
            if value > high or low > value:
                fqn = "%s/%s" % (name, qualifier) if qualifier else name
                errs.append("%s value %s is not in range [%s, %s]" % (fqn, value, low, high))
        if best is None or len(errs) < len(best):
            best = errs
    return out + (best or [])


# -- parameters ------------------------------------------------------------------

def filled_be(cfg, inst):
    from qganeti import defaults
    return defaults.fill_be(cfg["cluster"], inst)


def filled_hv(cfg, inst, skip_globals=False):
    from qganeti import defaults
    return defaults.fill_hv(cfg["cluster"], inst, skip_globals=skip_globals)


def filled_nic(cfg, nic):
    from qganeti import defaults
    return defaults.simple_fill_nic(cfg["cluster"], nic.get("nicparams") or {})


def filled_os(cfg, os_name, osparams, private=None):
    from qganeti import defaults
    out = defaults.simple_fill_os(cfg["cluster"], os_name or "", osparams or {})
    if private is not None:
        out.update(defaults.simple_fill_os(cfg["cluster"], os_name or "", private,
                                           private=True))
    return out


def check_hvparams(cfg, hypervisor, hvparams, os_name=None):
    """Syntax of instance hvparams (ForceDictType, the hypervisor's own
    list, no cluster-only ones); the filled dict."""
    from qganeti import defaults
    try:
        hvparams = defaults.check_params("hv", hvparams)
    except errors.TypeEnforcementError:
        raise
    filled = defaults.simple_fill_hv(cfg["cluster"], hypervisor, os_name, hvparams)
    known = defaults.HVC_DEFAULTS.get(hypervisor, {})
    for key in filled:
        if key not in known:
            raise errors.HypervisorError("Parameter '%s' is not supported" % key)
    defaults.check_not_global(hvparams, defaults.HVC_GLOBALS, "hypervisor", "instance")
    from qganeti import hypervisor as hv_modules
    hv_modules.check_syntax(hypervisor, filled)
    return hvparams, filled


def validate_hvparams(ctx, node_uuids, hypervisor, filled):
    """Ganeti's CheckHVParams: the nodes check the filled parameters against
    what they have (a missing kernel is refused here, not at start)."""
    if hypervisor == "fake":
        return      # nothing on a node to check; spare every add a process
    cfg = ctx.config()
    for node_uuid in node_uuids:
        node = cfg["nodes"].get(node_uuid) or {}
        if node.get("offline"):
            continue
        try:
            ctx.node_call(node_uuid, "hv-validate", [hypervisor], input=filled)
        except errors.OpExecError as err:
            raise errors.OpPrereqError("Hypervisor parameter validation failed on node %s: %s"
                                       % (node_name(cfg, node_uuid), _validate_reason(err)),
                                       errors.ECODE_INVAL)


def _validate_reason(err):
    """The node's own words, without the node action's prefix."""
    text = str(err.args[0])
    marker = "unable to validate parameters of hypervisor "
    at = text.find(marker)
    if at >= 0:
        rest = text[at + len(marker):]
        return rest.split(": ", 1)[-1]
    return text


def new_mac(cfg, prefix=None, taken=()):
    """Ganeti's GenerateMAC: the cluster's prefix and three random bytes."""
    prefix = prefix or cfg["cluster"].get("mac_prefix", "aa:00:00")
    used = set(taken)
    for inst in cfg["instances"].values():
        for nic in inst.get("nics") or []:
            used.add(nic.get("mac"))
    for _ in range(64):
        raw = os.urandom(3)
        mac = "%s:%02x:%02x:%02x" % (prefix, raw[0], raw[1], raw[2])
        if mac not in used:
            return mac
    raise errors.OpPrereqError("Can't generate unique MAC", errors.ECODE_NORES)


def normalize_mac(mac):
    value = mac.lower()
    parts = value.split(":")
    if len(parts) != 6 or any(len(part) != 2 or not _HEX.issuperset(part)
                              for part in parts):
        raise errors.OpPrereqError("Invalid MAC address '%s'" % mac, errors.ECODE_INVAL)
    return value


def mac_in_use(cfg, mac, except_uuid=None):
    for uuid, inst in cfg["instances"].items():
        if uuid == except_uuid:
            continue
        for nic in inst.get("nics") or []:
            if nic.get("mac") == mac:
                return True
    return False


# -- hooks -----------------------------------------------------------------------

def nic_tuples(cfg, nics):
    out = []
    for nic in nics:
        params = filled_nic(cfg, nic)
        netinfo = None
        if nic.get("network"):
            netinfo = cfg["networks"].get(nic["network"])
        out.append((nic.get("name"), nic.get("uuid"), nic.get("ip"), nic.get("mac"),
                    params.get("mode"), params.get("link"), params.get("vlan"),
                    nic.get("network"), netinfo))
    return out


def build_hook_env(name, primary, secondaries, os_type, status, minmem, maxmem, vcpus,
                   nics, disk_template, disks, bep, hvp, hypervisor, tags):
    """Ganeti's BuildInstanceHookEnv (keys without GANETI_)."""
    env = {
        "OP_TARGET": name, "INSTANCE_NAME": name, "INSTANCE_PRIMARY": primary,
        "INSTANCE_SECONDARIES": " ".join(secondaries), "INSTANCE_OS_TYPE": os_type,
        "INSTANCE_STATUS": status, "INSTANCE_MINMEM": minmem, "INSTANCE_MAXMEM": maxmem,
        "INSTANCE_MEMORY": maxmem, "INSTANCE_VCPUS": vcpus,
        "INSTANCE_DISK_TEMPLATE": disk_template, "INSTANCE_HYPERVISOR": hypervisor,
    }
    for idx, (nname, uuid, ip, mac, mode, link, vlan, net, netinfo) in enumerate(nics):
        if nname:
            env["INSTANCE_NIC%d_NAME" % idx] = nname
        env["INSTANCE_NIC%d_UUID" % idx] = uuid
        env["INSTANCE_NIC%d_IP" % idx] = ip or ""
        env["INSTANCE_NIC%d_MAC" % idx] = mac
        env["INSTANCE_NIC%d_MODE" % idx] = mode
        env["INSTANCE_NIC%d_LINK" % idx] = link
        env["INSTANCE_NIC%d_VLAN" % idx] = vlan
        if netinfo:
            prefix = "INSTANCE_NIC%d_" % idx
            env[prefix + "NETWORK_NAME"] = netinfo.get("name")
            env[prefix + "NETWORK_UUID"] = netinfo.get("uuid")
            for key in ("network", "gateway", "network6", "gateway6", "mac_prefix"):
                if netinfo.get(key):
                    word = {"network": "SUBNET", "network6": "SUBNET6"}.get(key, key.upper())
                    env[prefix + "NETWORK_" + word] = netinfo[key]
            env[prefix + "NETWORK_TAGS"] = " ".join(netinfo.get("tags") or [])
        elif net:
            env["INSTANCE_NIC%d_NETWORK_NAME" % idx] = net
        if mode in ("bridged", "openvswitch"):
            env["INSTANCE_NIC%d_BRIDGE" % idx] = link
    env["INSTANCE_NIC_COUNT"] = len(nics)
    for idx, disk in enumerate(disks):
        if disk.get("name"):
            env["INSTANCE_DISK%d_NAME" % idx] = disk["name"]
        env["INSTANCE_DISK%d_UUID" % idx] = disk.get("uuid", "")
        env["INSTANCE_DISK%d_SIZE" % idx] = disk.get("size", "")
        env["INSTANCE_DISK%d_MODE" % idx] = disk.get("mode", "")
        if disk.get("dev_type") in FILE_TEMPLATES:
            env["INSTANCE_DISK%d_DRIVER" % idx] = disk["logical_id"][0]
            env["INSTANCE_DISK%d_ID" % idx] = disk["logical_id"][1]
        if disk.get("dev_type"):
            env["INSTANCE_DISK%d_DEV_TYPE" % idx] = disk["dev_type"]
    env["INSTANCE_DISK_COUNT"] = len(disks)
    env["INSTANCE_TAGS"] = " ".join(tags or [])
    for source, kind in ((bep, "BE"), (hvp, "HV")):
        for key, value in source.items():
            env["INSTANCE_%s_%s" % (kind, key)] = value
    return env


def hook_env(cfg, inst, override=None):
    """Ganeti's BuildInstanceHookEnvByObject."""
    bep = filled_be(cfg, inst)
    disks = disks_of(cfg, inst)
    args = dict(name=inst["name"], primary=node_name(cfg, inst["primary_node"]),
                secondaries=[node_name(cfg, u) for u in secondary_nodes(cfg, inst)],
                os_type=inst.get("os"), status=inst["admin_state"], minmem=bep["minmem"],
                maxmem=bep["maxmem"], vcpus=bep["vcpus"], nics=nic_tuples(cfg, inst["nics"]),
                disk_template=template_of(disks), disks=disks, bep=bep,
                hvp=filled_hv(cfg, inst), hypervisor=inst["hypervisor"], tags=inst.get("tags"))
    if override:
        args.update(override)
    return build_hook_env(**args)


def hook_nodes(cfg, inst):
    nodes = [cfg["cluster"]["master_node"]] + instance_nodes(cfg, inst)
    nodes = list(dict.fromkeys(nodes))
    return nodes, nodes


class InstanceHooks:
    """Mixin: hooks on the master and the instance's nodes, Ganeti's env."""
    HTYPE = "INSTANCE"

    @staticmethod
    def hooks_env(op, ctx):
        cfg = ctx.config()
        inst = cfg["instances"].get(op.get("instance_uuid"))
        if inst is None:
            return {"OP_TARGET": op.get("instance_name")}
        return hook_env(cfg, inst)

    @staticmethod
    def hooks_nodes(op, ctx):
        cfg = ctx.config()
        inst = cfg["instances"].get(op.get("instance_uuid"))
        if inst is None:
            master = cfg["cluster"]["master_node"]
            return [master], [master]
        return hook_nodes(cfg, inst)


# -- the instance as node actions see it -------------------------------------------

def disk_payload(disk, index):
    out = {"uuid": disk["uuid"], "name": disk.get("name"), "size": disk["size"],
           "mode": disk.get("mode", "rw"), "template": disk["dev_type"], "index": index}
    if disk["dev_type"] in FILE_TEMPLATES:
        out["driver"], out["path"] = disk["logical_id"][0], disk["logical_id"][1]
    return out


def nics_payload(cfg, inst):
    """The instance's NICs as node actions see them (filled nicparams)."""
    nics = []
    for nic in inst.get("nics") or []:
        params = filled_nic(cfg, nic)
        entry = {"mac": nic.get("mac"), "ip": nic.get("ip"), "uuid": nic.get("uuid"),
                 "name": nic.get("name"), "mode": params.get("mode"),
                 "link": params.get("link"), "vlan": params.get("vlan")}
        net = cfg["networks"].get(nic.get("network") or "")
        if net:
            entry["network_info"] = {
                "name": net.get("name"), "uuid": net.get("uuid"),
                "family": 4, "subnet": net.get("network"), "gateway": net.get("gateway"),
                "subnet6": net.get("network6"), "gateway6": net.get("gateway6"),
                "mac_prefix": net.get("mac_prefix"), "tags": " ".join(net.get("tags") or [])}
        nics.append(entry)
    return nics


def hv_payload(cfg, inst):
    """The description the hypervisor starts INST from (node/instance-start's stdin)."""
    return {"name": inst["name"], "uuid": inst["uuid"], "hvparams": filled_hv(cfg, inst),
            "beparams": filled_be(cfg, inst), "network_port": inst.get("network_port"),
            "disks": [disk_payload(d, i) for i, d in enumerate(disks_of(cfg, inst))],
            "nics": nics_payload(cfg, inst)}


def os_payload(cfg, inst, secret=None, osparams=None, os_name=None):
    """The instance description node/os-create and os-rename read on stdin."""
    nics = nics_payload(cfg, inst)
    os_name = os_name or inst.get("os")
    if osparams is None:
        osparams = filled_os(cfg, os_name, inst.get("osparams"),
                             inst.get("osparams_private") or {})
    return {
        "name": inst["name"], "uuid": inst["uuid"], "os": os_name,
        "ctime": inst.get("ctime"), "mtime": inst.get("mtime"),
        "primary_node": node_name(cfg, inst["primary_node"]),
        "secondary_nodes": [node_name(cfg, u) for u in secondary_nodes(cfg, inst)],
        "hypervisor": inst["hypervisor"], "hvparams": filled_hv(cfg, inst),
        "beparams": filled_be(cfg, inst), "osparams": osparams,
        "osparams_secret": secret or {},
        "disks": [disk_payload(d, i) for i, d in enumerate(disks_of(cfg, inst))],
        "nics": nics,
    }


def file_disks(cfg, inst):
    """[(index, disk)] of the instance's file-based disks."""
    return [(i, d) for i, d in enumerate(disks_of(cfg, inst)) if d["dev_type"] in FILE_TEMPLATES]


def storage_dirs(disks):
    """{(template, instance dir)} holding these file-based disks."""
    return sorted(set((d["dev_type"], os.path.dirname(d["logical_id"][1]))
                      for d in disks if d["dev_type"] in FILE_TEMPLATES))


def remove_disks(ctx, inst, disks, ignore_failures=False):
    """Ganeti's RemoveDisks for file-based disks; True if all went."""
    cfg = ctx.config()
    ok = True
    uuid = inst["primary_node"]
    all_disks = disks_of(cfg, inst)
    index = {d["uuid"]: i for i, d in enumerate(all_disks)}
    for disk in disks:
        if disk["dev_type"] not in FILE_TEMPLATES:
            continue
        path = disk["logical_id"][1]
        for snap in inst.get("snapshots") or []:
            try:
                ctx.node_call(uuid, "disk-snapshot-remove",
                              [disk["dev_type"], path, snap["name"]])
            except errors.OpExecError:
                pass
        try:
            ctx.node_call(uuid, "disk-remove", [disk["dev_type"], path])
        except errors.OpExecError as err:
            ctx.log_warning("Could not remove disk %s on node %s, continuing anyway: %s"
                            % (index.get(disk["uuid"]), node_name(cfg, uuid), err))
            ok = False
    remaining = set(d["uuid"] for d in all_disks) - set(d["uuid"] for d in disks)
    keep = set(storage_dirs([d for d in all_disks if d["uuid"] in remaining]))
    for template, directory in storage_dirs(disks):
        if (template, directory) in keep:
            continue
        try:
            ctx.node_call(uuid, "storage-dir-remove", [template, directory])
        except errors.OpExecError as err:
            ctx.log_warning("Could not remove directory '%s' on node %s: %s"
                            % (directory, node_name(cfg, uuid), err))
            ok = False
    return ok or ignore_failures


def shutdown(ctx, inst, timeout=None):
    """Stop INST on its primary node (nothing if it does not run)."""
    args = [inst["hypervisor"], inst["name"]]
    if timeout is not None:
        args = ["--timeout", str(timeout)] + args
    return ctx.node_call(inst["primary_node"], "instance-stop", args)


def start(ctx, inst, beparams=None, paused=False):
    cfg = ctx.config()
    bep = filled_be(cfg, inst)
    if beparams:
        bep.update(beparams)
    args = [inst["hypervisor"], inst["name"], str(bep["maxmem"]), str(bep["vcpus"])]
    if paused:
        args = ["--paused"] + args
    return ctx.node_call(inst["primary_node"], "instance-start", args,
                         input=hv_payload(cfg, inst))


def set_admin_state(ctx, uuid, state=None, disks_active=None, source=None):
    """Record the admin state (and disk activity) of an instance."""
    changes = []
    if state is not None:
        changes.append({"op": "replace", "path": "/instances/%s/admin_state" % uuid,
                        "value": state})
    if source is not None:
        changes.append({"op": "replace", "path": "/instances/%s/admin_state_source" % uuid,
                        "value": source})
    if disks_active is not None:
        changes.append({"op": "replace", "path": "/instances/%s/disks_active" % uuid,
                        "value": disks_active})
    if changes:
        ctx.commit(changes)
