"""Query fields of the config objects: instances, nodes, groups, networks.

The tables (INSTANCE_FIELDS, NODE_FIELDS, GROUP_FIELDS, NETWORK_FIELDS)
hold Ganeti 3.0's fields with their names, titles, kinds and docs; their
items are the object dicts of a Ganeti 3.0 config.data (for example
`list(config["instances"].values())`) and their getters read a
ConfigContext:

    ctx = ConfigContext(config,
                        node_live={node_uuid: {...} or None},
                        instance_live={instance_name: {...}},
                        instance_console={instance_name: {...}},
                        live=True)
    query.query(INSTANCE_FIELDS, list(config["instances"].values()),
                ["name", "status", "oper_ram"], qfilter, ctx)

Live data, as luxid gathers it from the nodes:

node_live      one entry per node that was asked. A dict means the node
               answered; None (or no entry) means it gave no data (cells
               RS_NODATA). A node marked offline in the config is never
               asked: its live cells are RS_OFFLINE whatever is here.
               Keys, all optional (a missing key is RS_NODATA):
                 mtotal, mnode, mfree   memory in MiB (total, used by the
                                        node/dom0, free for instances)
                 dtotal, dfree          default storage unit, MiB
                 sptotal, spfree        spindles (exclusive storage)
                 ctotal, cnodes, csockets, cnos   CPUs: logical, NUMA nodes,
                                        sockets, used by the node OS
                 bootid                 random id renewed at each boot
               For instance queries the entry only has to say whether the
               node answered ({} is enough).
instance_live  the instances the hypervisors report, by name:
                 {"node": uuid of the node it runs on,
                  "state": "running" | "shutdown" (stopped from inside),
                  "memory": MiB, "vcpus": n}
               An instance absent from here is not running anywhere.
instance_console  console information by instance name (the "console"
               field); absent -> RS_NODATA.
live           False when live data was not collected at all: every live
               cell is then RS_NODATA (and status says ERROR_nodedown, as
               Ganeti says when its RPCs fail).

Derived values follow Ganeti's config rules: the disk template and the
secondary nodes come from the instance's disks (DRBD disks name both
nodes), backend/hypervisor/NIC/node parameters are filled from the
cluster defaults (hypervisor ones also from the cluster's per-OS
overrides), node parameters from cluster, then group, then node.
"""

#: canonical key orders of Ganeti's filled parameter objects
ND_ORDER = ("oob_program", "spindle_count", "exclusive_storage", "ovs", "ovs_name",
            "ovs_link", "ssh_port", "cpu_speed")
BE_ORDER = ("minmem", "maxmem", "vcpus", "auto_balance", "always_failover", "spindle_use")
NIC_ORDER = ("mode", "link", "vlan")
ISPEC_ORDER = ("memory-size", "cpu-count", "disk-count", "disk-size", "nic-count",
               "spindle-use")

DRBD_META_SIZE = 128


def ordered(params, order):
    """PARAMS with the keys of ORDER first, in that order, then the others."""
    out = {}
    for key in order:
        if key in params:
            out[key] = params[key]
    for key, value in params.items():
        if key not in out:
            out[key] = value
    return out


class ConfigContext:
    """A config.data snapshot plus live data, with the lookups the getters need.

    See the module documentation for the live data. Everything derived from
    the config is computed on first use and kept, so a context is meant to
    answer queries on one snapshot (build a new one for a new config).
    """

    def __init__(self, config, node_live=None, instance_live=None, instance_console=None,
                 live=True):
        self.config = config
        self.cluster = config.get("cluster") or {}
        self.nodes = config.get("nodes") or {}
        self.groups = config.get("nodegroups") or {}
        self.instances = config.get("instances") or {}
        self.disks = config.get("disks") or {}
        self.networks = config.get("networks") or {}
        self.node_live = node_live if node_live is not None else {}
        self.instance_live = instance_live if instance_live is not None else {}
        self.instance_console = instance_console if instance_console is not None else {}
        self.live = live
        self._cache = {}
        self.master_node = self.cluster.get("master_node")
        self.enabled_user_shutdown = bool(self.cluster.get("enabled_user_shutdown"))

    # -- instances ---------------------------------------------------------
    def instance_disks(self, inst):
        """The instance's disk objects, or None if one of them is missing."""
        out = []
        disks = self.disks
        for uuid in inst.get("disks") or ():
            disk = uuid if isinstance(uuid, dict) else disks.get(uuid)
            if disk is None:
                return None
            out.append(disk)
        return out

    def instance_disk_nodes(self, inst):
        """UUIDs of the nodes named by the instance's DRBD disks, in order."""
        disks = self.instance_disks(inst)
        out = []
        if not disks:
            return out

        def walk(disk):
            if disk.get("dev_type") in ("drbd", "drbd8"):
                lid = disk.get("logical_id") or ()
                for uuid in lid[:2]:
                    if uuid in self.nodes and uuid not in out:
                        out.append(uuid)
            for child in disk.get("children") or ():
                walk(child)

        for disk in disks:
            walk(disk)
        return out

    def secondary_nodes(self, inst):
        """The instance's secondary node UUIDs (from its DRBD disks)."""
        pnode = inst.get("primary_node")
        return [uuid for uuid in self.instance_disk_nodes(inst) if uuid != pnode]

    def node_instances(self, node_uuid):
        """(primary instances, secondary instances) of a node, in UUID order."""
        table = self._cache.get("node_instances")
        if table is None:
            table = {}
            for uuid in sorted(self.instances):
                inst = self.instances[uuid]
                table.setdefault(inst.get("primary_node"), ([], []))[0].append(inst)
                for snode in set(self.secondary_nodes(inst)):
                    table.setdefault(snode, ([], []))[1].append(inst)
            self._cache["node_instances"] = table
        return table.get(node_uuid, ([], []))

    def group_nodes(self, group_uuid):
        """The group's nodes, in node UUID order."""
        table = self._cache.get("group_nodes")
        if table is None:
            table = {}
            for uuid in sorted(self.nodes):
                node = self.nodes[uuid]
                table.setdefault(node.get("group"), []).append(node)
            self._cache["group_nodes"] = table
        return table.get(group_uuid, [])

    def group_instances(self, group_uuid):
        """Primary instances of the group's nodes (node by node)."""
        out = []
        for node in self.group_nodes(group_uuid):
            out.extend(self.node_instances(node.get("uuid"))[0])
        return out

    # -- parameters --------------------------------------------------------
    def default_beparams(self):
        """The cluster's backend defaults, or None if the config has none."""
        return (self.cluster.get("beparams") or {}).get("default")

    def filled_beparams(self, inst):
        default = self.default_beparams()
        if default is None:
            return None
        filled = dict(default)
        filled.update(inst.get("beparams") or {})
        return ordered(filled, BE_ORDER)

    def default_nicparams(self):
        return (self.cluster.get("nicparams") or {}).get("default") or {}

    def filled_nicparams(self, nic):
        filled = dict(self.default_nicparams())
        filled.update(nic.get("nicparams") or {})
        return ordered(filled, NIC_ORDER)

    def filled_hvparams(self, inst, skip=("migration_bandwidth", "migration_mode",
                                          "migration_port", "xen_cmd")):
        """Cluster defaults for the hypervisor, the cluster's per-OS values,
        then the instance's own; Ganeti's global parameters left out."""
        hv = inst.get("hypervisor")
        os_name = inst.get("os")
        key = ("hv", hv, os_name)
        base = self._cache.get(key)
        if base is None:
            base = dict((self.cluster.get("hvparams") or {}).get(hv) or {})
            base.update(((self.cluster.get("os_hvp") or {}).get(os_name) or {}).get(hv) or {})
            self._cache[key] = base
        own = inst.get("hvparams")
        filled = dict(base)
        if own:
            filled.update(own)
        for name in skip:
            filled.pop(name, None)
        return dict(sorted(filled.items()))

    def filled_osparams(self, inst):
        os_name = (inst.get("os") or "").split("+", 1)[0]
        cluster = (self.cluster.get("osparams") or {}).get(os_name)
        own = inst.get("osparams") or {}
        if cluster is None:
            return dict(sorted(own.items()))
        filled = dict(cluster)
        filled.update(own)
        return dict(sorted(filled.items()))

    def group_ndparams(self, group):
        key = ("nd", group.get("uuid"))
        filled = self._cache.get(key)
        if filled is None:
            filled = dict(self.cluster.get("ndparams") or {})
            filled.update(group.get("ndparams") or {})
            filled = ordered(filled, ND_ORDER)
            self._cache[key] = filled
        return filled

    def node_ndparams(self, node):
        """Filled node parameters, or None if the node's group is missing."""
        group = self.groups.get(node.get("group"))
        if group is None:
            return None
        filled = dict(self.group_ndparams(group))
        filled.update(node.get("ndparams") or {})
        return ordered(filled, ND_ORDER)

    def group_diskparams(self, group):
        filled = dict(self.cluster.get("diskparams") or {})
        filled.update(group.get("diskparams") or {})
        return dict(sorted(filled.items()))

    def group_ipolicy(self, group):
        cluster = self.cluster.get("ipolicy") or {}
        own = group.get("ipolicy") or {}
        std = dict(cluster.get("std") or {})
        std.update(own.get("std") or {})
        filled = {
            "minmax": own["minmax"] if "minmax" in own else cluster.get("minmax"),
            "std": ordered(std, ISPEC_ORDER),
            "disk-templates": own.get("disk-templates", cluster.get("disk-templates")),
            "vcpu-ratio": own.get("vcpu-ratio", cluster.get("vcpu-ratio")),
            "spindle-ratio": own.get("spindle-ratio", cluster.get("spindle-ratio")),
        }
        return filled

    def network_name(self, uuid):
        net = self.networks.get(uuid)
        return net.get("name") if net is not None else None


def __getattr__(name):
    if name == "INSTANCE_FIELDS":
        from qganeti.qfields import instance
        return instance.INSTANCE_FIELDS
    if name in ("NODE_FIELDS", "GROUP_FIELDS"):
        from qganeti.qfields import node
        return getattr(node, name)
    if name == "NETWORK_FIELDS":
        from qganeti.qfields import network
        return network.NETWORK_FIELDS
    raise AttributeError("module %r has no attribute %r" % (__name__, name))
