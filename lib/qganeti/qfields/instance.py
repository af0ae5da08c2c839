"""QR_INSTANCE: Ganeti 3.0's 292 instance fields over config.data instances."""

from qganeti.query import (NODATA, OFFLINE, UNAVAIL, QFT_BOOL, QFT_NUMBER, QFT_OTHER,
                           QFT_TEXT, QFT_UNIT, Field, FieldTable)
from qganeti.qfields import DRBD_META_SIZE
from qganeti.qfields.common import (BE_PARAMS, HV_GLOBALS, HV_PARAMS, common_fields,
                                    param_field)

MAX_DISKS = 16
MAX_NICS = 8

STATUS_DOC = (
    'Instance status; "running" if instance is set to be running and actually is,'
    ' "ADMIN_down" if instance is stopped and is not running, "ERROR_wrongnode" if'
    ' instance running, but not on its designated primary node, "ERROR_up" if instance'
    ' should be stopped, but is actually running, "ERROR_down" if instance should run,'
    ' but doesn\'t, "ERROR_nodedown" if instance\'s primary node is down,'
    ' "ERROR_nodeoffline" if instance\'s primary node is marked offline, "ADMIN_offline"'
    ' if instance is offline and does not use dynamic resources')

_TEMPLATE_OF_DEV = {"drbd8": "drbd", "lvm": "plain"}


def _ordinal(number):
    if 10 < number < 20:
        return "%dth" % number
    return "%d%s" % (number, {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th"))


def _key_or_nodata(key):
    def getter(inst, ctx):
        value = inst.get(key)
        return NODATA if value is None else value
    return getter


# -- nodes and groups ------------------------------------------------------

def _pnode(inst, ctx):
    node = ctx.nodes.get(inst.get("primary_node"))
    return NODATA if node is None else node.get("name")


def _pnode_group(attr):
    def getter(inst, ctx):
        node = ctx.nodes.get(inst.get("primary_node"))
        if node is None:
            return NODATA
        group = ctx.groups.get(node.get("group"))
        return NODATA if group is None else group.get(attr)
    return getter


def _snodes(inst, ctx):
    if inst.get("primary_node") not in ctx.nodes:
        return NODATA
    return [ctx.nodes[uuid].get("name") for uuid in ctx.secondary_nodes(inst)]


def _snodes_group(attr):
    def getter(inst, ctx):
        if inst.get("primary_node") not in ctx.nodes:
            return NODATA
        out = []
        for uuid in ctx.secondary_nodes(inst):
            group = ctx.groups.get(ctx.nodes[uuid].get("group"))
            if group is not None:
                out.append(group.get(attr))
        return out
    return getter


# -- parameters ------------------------------------------------------------

def _beparams(inst, ctx):
    filled = ctx.filled_beparams(inst)
    return NODATA if filled is None else filled


def _be_getter(name):
    def getter(inst, ctx):
        own = inst.get("beparams")
        if own and name in own:
            value = own[name]
        else:
            default = ctx.default_beparams()
            if default is None:
                return NODATA
            value = default.get(name)
        return NODATA if value is None else value
    return getter


def _hv_getter(name):
    def getter(inst, ctx):
        own = inst.get("hvparams")
        if own and name in own:
            return own[name]
        hv = inst.get("hypervisor")
        os_name = inst.get("os")
        key = ("hv", hv, os_name)
        base = ctx._cache.get(key)
        if base is None:
            ctx.filled_hvparams(inst)
            base = ctx._cache[key]
        return base[name] if name in base else UNAVAIL
    return getter


def _custom(key):
    def getter(inst, ctx):
        return dict(inst.get(key) or {})
    return getter


# -- disks -----------------------------------------------------------------

def _disk_template(inst, ctx):
    disks = ctx.instance_disks(inst)
    if disks is None:
        return NODATA
    kinds = []
    for disk in disks:
        dev = disk.get("dev_type")
        if dev is None:
            continue
        dev = _TEMPLATE_OF_DEV.get(dev, dev)
        if dev not in kinds:
            kinds.append(dev)
    if not kinds:
        return "diskless"
    return kinds[0] if len(kinds) == 1 else "mixed"


def _disk_usage(inst, ctx):
    disks = ctx.instance_disks(inst)
    if disks is None:
        return NODATA
    total = 0
    for disk in disks:
        dev = disk.get("dev_type")
        size = disk.get("size") or 0
        if dev in ("drbd", "drbd8"):
            total += size + DRBD_META_SIZE
        elif dev in ("diskless", "blockdev"):
            pass
        else:
            total += size
    return total


def _disk_list(key):
    def getter(inst, ctx):
        disks = ctx.instance_disks(inst)
        if disks is None:
            return NODATA
        return [disk.get(key) for disk in disks]
    return getter


def _disk_index(index, key):
    def getter(inst, ctx):
        disks = ctx.instance_disks(inst)
        if disks is None:
            return NODATA
        if index >= len(disks):
            return UNAVAIL
        value = disks[index].get(key)
        return UNAVAIL if value is None else value
    return getter


# -- NICs ------------------------------------------------------------------

def _nic_list(fn):
    def getter(inst, ctx):
        return [fn(nic, ctx) for nic in inst.get("nics") or ()]
    return getter


def _nic_vlan(params):
    return params.get("vlan") if params.get("mode") == "openvswitch" else None


def _nic_bridge(params):
    return params.get("link") if params.get("mode") == "bridged" else None


def _nic_index(index, fn):
    def getter(inst, ctx):
        nics = inst.get("nics") or ()
        if index >= len(nics):
            return UNAVAIL
        value = fn(nics[index], ctx)
        return UNAVAIL if value is None else value
    return getter


def _nic_network_name(nic, ctx):
    uuid = nic.get("network")
    return ctx.network_name(uuid) if uuid else None


# -- live data -------------------------------------------------------------

_FOUND, _ABSENT, _ERROR = range(3)
_ERR_NODATA = (_ERROR, NODATA)
_ERR_OFFLINE = (_ERROR, OFFLINE)
_ABSENT_RT = (_ABSENT,)


def runtime(inst, ctx):
    """What the hypervisors say about INST: (_FOUND, info, on_primary),
    (_ABSENT,) when no node runs it, or (_ERROR, marker) when its primary
    node could not tell."""
    if not ctx.live:
        return _ERR_NODATA
    pnode = inst.get("primary_node")
    info = ctx.instance_live.get(inst.get("name"))
    if info is not None:
        where = info.get("node")
        return (_FOUND, info, where is None or where == pnode)
    node = ctx.nodes.get(pnode)
    if node is None:
        return _ERR_NODATA
    if node.get("offline"):
        return _ERR_OFFLINE
    if ctx.node_live.get(pnode) is None:
        return _ERR_NODATA
    return _ABSENT_RT


def _user_shutdown_allowed(inst, ctx):
    if not ctx.enabled_user_shutdown:
        return False
    if inst.get("hypervisor") != "kvm":
        return True
    return ctx.filled_hvparams(inst).get("user_shutdown") is True


def instance_status(inst, ctx):
    """Ganeti's instance status (running, ADMIN_down, ERROR_nodedown...)."""
    # runtime() inlined: this getter is on the default listing's hot path
    pnode = inst.get("primary_node")
    node = ctx.nodes.get(pnode)
    if node is not None and node.get("offline"):
        return "ERROR_nodeoffline"
    if not ctx.live:
        return "ERROR_nodedown"
    admin = inst.get("admin_state")
    info = ctx.instance_live.get(inst.get("name"))
    if info is not None:
        where = info.get("node")
        if where is not None and where != pnode:
            return "ERROR_wrongnode"
        if info.get("state", "running") == "shutdown":
            if admin == "up":
                return "USER_down" if _user_shutdown_allowed(inst, ctx) else "ERROR_down"
            return "ADMIN_down"
        return "running" if admin == "up" else "ERROR_up"
    if node is None or ctx.node_live.get(pnode) is None:
        return "ERROR_nodedown"
    if admin == "up":
        return "ERROR_down"
    if admin == "offline":
        return "ADMIN_offline"
    if (admin == "down" and inst.get("admin_state_source") == "user"
            and ctx.enabled_user_shutdown):
        return "USER_down"
    return "ADMIN_down"


def _oper_state(inst, ctx):
    rt = runtime(inst, ctx)
    if rt[0] == _ERROR:
        return NODATA
    return rt[0] == _FOUND


def _live_value(key):
    def getter(inst, ctx):
        rt = runtime(inst, ctx)
        if rt[0] == _FOUND:
            value = rt[1].get(key)
            return NODATA if value is None else value
        if rt[0] == _ABSENT:
            return UNAVAIL
        return rt[1]
    return getter


def _console(inst, ctx):
    rt = runtime(inst, ctx)
    if rt[0] == _ERROR:
        return rt[1]
    value = ctx.instance_console.get(inst.get("name"))
    return NODATA if value is None else value


# -- the table -------------------------------------------------------------

def _fields():
    fields = [
        Field("admin_state", "InstanceState", QFT_TEXT, "Desired state of instance",
              _key_or_nodata("admin_state")),
        Field("admin_state_source", "InstanceStateSource", QFT_TEXT,
              "Who last changed the desired state of the instance",
              _key_or_nodata("admin_state_source")),
        Field("admin_up", "Autostart", QFT_BOOL, "Desired state of instance",
              lambda inst, ctx: NODATA if inst.get("admin_state") is None
              else inst.get("admin_state") == "up"),
        Field("disks_active", "DisksActive", QFT_BOOL, "Desired state of instance disks",
              _key_or_nodata("disks_active")),
        Field("name", "Instance", QFT_TEXT, "Instance name", _key_or_nodata("name"),
              hostname=True),
        Field("hypervisor", "Hypervisor", QFT_TEXT, "Hypervisor name",
              _key_or_nodata("hypervisor")),
        Field("network_port", "Network_port", QFT_OTHER,
              "Instance network port if available (e.g. for VNC console)",
              lambda inst, ctx: UNAVAIL if inst.get("network_port") is None
              else inst["network_port"]),
        Field("os", "OS", QFT_TEXT, "Operating system", _key_or_nodata("os")),
        Field("pnode", "Primary_node", QFT_TEXT, "Primary node", _pnode, hostname=True),
        Field("pnode.group", "PrimaryNodeGroup", QFT_TEXT, "Primary node's group",
              _pnode_group("name")),
        Field("pnode.group.uuid", "PrimaryNodeGroupUUID", QFT_TEXT,
              "Primary node's group UUID", _pnode_group("uuid")),
        Field("snodes", "Secondary_Nodes", QFT_OTHER,
              "Secondary nodes; usually this will just be one node", _snodes),
        Field("snodes.group", "SecondaryNodesGroups", QFT_OTHER,
              "Node groups of secondary nodes", _snodes_group("name")),
        Field("snodes.group.uuid", "SecondaryNodesGroupsUUID", QFT_OTHER,
              "Node group UUIDs of secondary nodes", _snodes_group("uuid")),
        Field("hvparams", "HypervisorParameters", QFT_OTHER, "Hypervisor parameters (merged)",
              lambda inst, ctx: ctx.filled_hvparams(inst)),
        Field("beparams", "BackendParameters", QFT_OTHER, "Backend parameters (merged)",
              _beparams),
        Field("osparams", "OpSysParameters", QFT_OTHER,
              "Operating system parameters (merged)",
              lambda inst, ctx: ctx.filled_osparams(inst)),
        Field("custom_hvparams", "CustomHypervisorParameters", QFT_OTHER,
              "Custom hypervisor parameters",
              lambda inst, ctx: dict(sorted((inst.get("hvparams") or {}).items()))),
        Field("custom_beparams", "CustomBackendParameters", QFT_OTHER,
              "Custom backend parameters", _custom("beparams")),
        Field("custom_osparams", "CustomOpSysParameters", QFT_OTHER,
              "Custom operating system parameters",
              lambda inst, ctx: dict(sorted((inst.get("osparams") or {}).items()))),
        Field("custom_nicparams", "CustomNicParameters", QFT_OTHER,
              "Custom network interface parameters",
              _nic_list(lambda nic, ctx: dict(nic.get("nicparams") or {}))),
    ]
    for name, spec in BE_PARAMS.items():
        fields.append(param_field("be", "backend", name, spec, _be_getter(name)))
    for name, spec in HV_PARAMS.items():
        if name not in HV_GLOBALS:
            fields.append(param_field("hv", "hypervisor", name, spec, _hv_getter(name)))
    fields += [
        Field("disk_usage", "DiskUsage", QFT_UNIT,
              "Total disk space used by instance on each of its nodes; this is not the disk"
              " size visible to the instance, but the usage on the node", _disk_usage),
        Field("disk.count", "Disks", QFT_NUMBER, "Number of disks",
              lambda inst, ctx: len(inst.get("disks") or ())),
        Field("disk.sizes", "Disk_sizes", QFT_OTHER, "List of disk sizes", _disk_list("size")),
        Field("disk.spindles", "Disk_spindles", QFT_OTHER, "List of disk spindles",
              _disk_list("spindles")),
        Field("disk.names", "Disk_names", QFT_OTHER, "List of disk names",
              _disk_list("name")),
        Field("disk.uuids", "Disk_UUIDs", QFT_OTHER, "List of disk UUIDs",
              _disk_list("uuid")),
        Field("disk_template", "Disk_template", QFT_TEXT, "Instance disk template",
              _disk_template),
    ]
    for index in range(MAX_DISKS):
        nth = _ordinal(index + 1)
        fields += [
            Field("disk.size/%d" % index, "Disk/%d" % index, QFT_UNIT,
                  "Disk size of %s disk" % nth, _disk_index(index, "size")),
            Field("disk.spindles/%d" % index, "DiskSpindles/%d" % index, QFT_NUMBER,
                  "Spindles of %s disk" % nth, _disk_index(index, "spindles")),
            Field("disk.name/%d" % index, "DiskName/%d" % index, QFT_TEXT,
                  "Name of %s disk" % nth, _disk_index(index, "name")),
            Field("disk.uuid/%d" % index, "DiskUUID/%d" % index, QFT_TEXT,
                  "UUID of %s disk" % nth, _disk_index(index, "uuid")),
        ]
    agg = "List containing each network interface's "
    fields += [
        Field("nic.count", "NICs", QFT_NUMBER, "Number of network interfaces",
              lambda inst, ctx: len(inst.get("nics") or ())),
        Field("nic.macs", "NIC_MACs", QFT_OTHER, agg + "MAC address",
              _nic_list(lambda nic, ctx: nic.get("mac"))),
        Field("nic.ips", "NIC_IPs", QFT_OTHER, agg + "IP address",
              _nic_list(lambda nic, ctx: nic.get("ip"))),
        Field("nic.names", "NIC_Names", QFT_OTHER, agg + "name",
              _nic_list(lambda nic, ctx: nic.get("name"))),
        Field("nic.uuids", "NIC_UUIDs", QFT_OTHER, agg + "UUID",
              _nic_list(lambda nic, ctx: nic.get("uuid"))),
        Field("nic.modes", "NIC_modes", QFT_OTHER, agg + "mode",
              _nic_list(lambda nic, ctx: ctx.filled_nicparams(nic).get("mode"))),
        Field("nic.vlans", "NIC_VLANs", QFT_OTHER, agg + "VLAN",
              _nic_list(lambda nic, ctx: _nic_vlan(ctx.filled_nicparams(nic)))),
        Field("nic.bridges", "NIC_bridges", QFT_OTHER, agg + "bridge",
              _nic_list(lambda nic, ctx: _nic_bridge(ctx.filled_nicparams(nic)))),
        Field("nic.links", "NIC_links", QFT_OTHER, agg + "link",
              _nic_list(lambda nic, ctx: ctx.filled_nicparams(nic).get("link"))),
        Field("nic.networks", "NIC_networks", QFT_OTHER,
              "List containing each interface's network",
              _nic_list(lambda nic, ctx: nic.get("network"))),
        Field("nic.networks.names", "NIC_networks_names", QFT_OTHER,
              "List containing the name of each interface's network",
              _nic_list(_nic_network_name)),
    ]
    suffix = " of %s network interface"
    for index in range(MAX_NICS):
        nth = _ordinal(index + 1)
        for name, title, doc, fn in (
                ("nic.ip", "NicIP", "IP address", lambda nic, ctx: nic.get("ip")),
                ("nic.uuid", "NicUUID", "UUID address", lambda nic, ctx: nic.get("uuid")),
                ("nic.mac", "NicMAC", "MAC address", lambda nic, ctx: nic.get("mac")),
                ("nic.name", "NicName", "Name address", lambda nic, ctx: nic.get("name")),
                ("nic.network", "NicNetwork", "Network", lambda nic, ctx: nic.get("network")),
                ("nic.mode", "NicMode", "Mode",
                 lambda nic, ctx: ctx.filled_nicparams(nic).get("mode")),
                ("nic.link", "NicLink", "Link",
                 lambda nic, ctx: ctx.filled_nicparams(nic).get("link")),
                ("nic.vlan", "NicVLAN", "VLAN",
                 lambda nic, ctx: _nic_vlan(ctx.filled_nicparams(nic))),
                ("nic.network.name", "NicNetworkName", "Network name", _nic_network_name),
                ("nic.bridge", "NicBridge", "Bridge",
                 lambda nic, ctx: _nic_bridge(ctx.filled_nicparams(nic)))):
            fields.append(Field("%s/%d" % (name, index), "%s/%d" % (title, index), QFT_TEXT,
                                doc + suffix % nth, _nic_index(index, fn)))
    fields += [
        Field("status", "Status", QFT_TEXT, STATUS_DOC, instance_status, live=True),
        Field("oper_state", "Running", QFT_BOOL, "Actual state of instance", _oper_state,
              live=True),
        Field("console", "Console", QFT_OTHER, "Instance console information", _console,
              live=True),
        Field("oper_ram", "Memory", QFT_UNIT, "Actual memory usage as seen by hypervisor",
              _live_value("memory"), live=True),
        Field("oper_vcpus", "VCPUs", QFT_NUMBER, "Actual number of VCPUs as seen by hypervisor",
              _live_value("vcpus"), live=True),
    ]
    # beyond Ganeti: the names of the instance's disk snapshots
    fields.append(Field("snapshots", "Snapshots", QFT_OTHER,
                        "Names of the snapshots of the instance's disks",
                        lambda inst, ctx: [snap.get("name") for snap in
                                           inst.get("snapshots") or ()]))
    fields += common_fields("Instance", forthcoming=True)
    by_name = {field.name: field for field in fields}
    for alias, target in (("vcpus", "be/vcpus"), ("be/memory", "be/maxmem"),
                          ("sda_size", "disk.size/0"), ("sdb_size", "disk.size/1"),
                          ("ip", "nic.ip/0"), ("mac", "nic.mac/0"), ("bridge", "nic.bridge/0"),
                          ("nic_mode", "nic.mode/0"), ("nic_link", "nic.link/0"),
                          ("nic_network", "nic.network/0")):
        fields.append(by_name[target].renamed(alias))
    return fields


INSTANCE_FIELDS = FieldTable(_fields(), entity="Instance", hostnames=True)
