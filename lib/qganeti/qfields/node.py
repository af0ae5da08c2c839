"""QR_NODE (46 fields) and QR_GROUP (25 fields) over config.data objects."""

from qganeti.query import (NODATA, OFFLINE, UNAVAIL, QFT_BOOL, QFT_NUMBER, QFT_OTHER,
                           QFT_TEXT, QFT_UNIT, Field, FieldTable, nice_sort)
from qganeti.qfields.common import common_fields, nd_param_fields

ROLE_DOC = ('Node role; "M" for master, "C" for master candidate, "R" for regular,'
            ' "D" for drained, "O" for offline')

#: live node fields: name, title, kind, doc
LIVE_FIELDS = (
    ("bootid", "BootID", QFT_TEXT, "Random UUID renewed for each system reboot, can be used"
     " for detecting reboots by tracking changes"),
    ("cnodes", "CNodes", QFT_NUMBER, "Number of NUMA domains on node (if exported by"
     " hypervisor)"),
    ("cnos", "CNOs", QFT_NUMBER, "Number of logical processors used by the node OS (dom0"
     " for Xen)"),
    ("csockets", "CSockets", QFT_NUMBER, "Number of physical CPU sockets (if exported by"
     " hypervisor)"),
    ("ctotal", "CTotal", QFT_NUMBER, "Number of logical processors"),
    ("dfree", "DFree", QFT_UNIT, "Available storage space on storage unit"),
    ("dtotal", "DTotal", QFT_UNIT, "Total storage space on storage unit for instance disk"
     " allocation"),
    ("spfree", "SpFree", QFT_NUMBER, "Available spindles in volume group (exclusive storage"
     " only)"),
    ("sptotal", "SpTotal", QFT_NUMBER, "Total spindles in volume group (exclusive storage"
     " only)"),
    ("mfree", "MFree", QFT_UNIT, "Memory available for instance allocations"),
    ("mnode", "MNode", QFT_UNIT, "Amount of memory used by node (dom0 for Xen)"),
    ("mtotal", "MTotal", QFT_UNIT, "Total amount of memory of physical machine"),
)


def node_role(node, ctx):
    """M(aster), C(andidate), D(rained), O(ffline) or R(egular)."""
    if node.get("uuid") == ctx.master_node:
        return "M"
    if node.get("master_candidate"):
        return "C"
    if node.get("drained"):
        return "D"
    if node.get("offline"):
        return "O"
    return "R"


def _live_getter(key):
    def getter(node, ctx):
        if not ctx.live or node.get("group") not in ctx.groups:
            return NODATA       # not asked: live data off, or a broken config
        if node.get("offline"):
            return OFFLINE
        data = ctx.node_live.get(node.get("uuid"))
        if data is None:
            return NODATA
        value = data.get(key)
        return NODATA if value is None else value
    return getter


def _group_name(node, ctx):
    group = ctx.groups.get(node.get("group"))
    return NODATA if group is None else group.get("name")


def _ndparams(node, ctx):
    params = ctx.node_ndparams(node)
    return NODATA if params is None else params


def _powered(node, ctx):
    params = ctx.node_ndparams(node)
    if params is None:
        return NODATA
    if not params.get("oob_program"):
        return UNAVAIL
    return bool(node.get("powered", True))


def _instances(which, count):
    def getter(node, ctx):
        insts = ctx.node_instances(node.get("uuid"))[which]
        if count:
            return len(insts)
        return nice_sort(inst.get("name") for inst in insts if inst.get("name") is not None)
    return getter


def _flag(key):
    return lambda node, ctx: bool(node.get(key, False))


def _node_fields():
    fields = [
        Field("drained", "Drained", QFT_BOOL, "Whether node is drained", _flag("drained")),
        Field("master_candidate", "MasterC", QFT_BOOL, "Whether node is a master candidate",
              _flag("master_candidate")),
        Field("master_capable", "MasterCapable", QFT_BOOL,
              "Whether node can become a master candidate", _flag("master_capable")),
        Field("name", "Node", QFT_TEXT, "Node name", lambda node, ctx: node.get("name"),
              hostname=True),
        Field("offline", "Offline", QFT_BOOL, "Whether node is marked offline",
              _flag("offline")),
        Field("vm_capable", "VMCapable", QFT_BOOL, "Whether node can host instances",
              _flag("vm_capable")),
        Field("pip", "PrimaryIP", QFT_TEXT, "Primary IP address",
              lambda node, ctx: node.get("primary_ip")),
        Field("sip", "SecondaryIP", QFT_TEXT, "Secondary IP address",
              lambda node, ctx: node.get("secondary_ip")),
        Field("master", "IsMaster", QFT_BOOL, "Whether node is master",
              lambda node, ctx: node.get("uuid") == ctx.master_node),
        Field("group", "Group", QFT_TEXT, "Node group", _group_name),
        Field("group.uuid", "GroupUUID", QFT_TEXT, "UUID of node group",
              lambda node, ctx: node.get("group")),
        Field("ndparams", "NodeParameters", QFT_OTHER, "Merged node parameters", _ndparams),
        Field("custom_ndparams", "CustomNodeParameters", QFT_OTHER, "Custom node parameters",
              lambda node, ctx: dict(node.get("ndparams") or {})),
        Field("pinst_cnt", "Pinst", QFT_NUMBER, "Number of instances with this node as primary",
              _instances(0, True)),
        Field("sinst_cnt", "Sinst", QFT_NUMBER,
              "Number of instances with this node as secondary", _instances(1, True)),
        Field("pinst_list", "PriInstances", QFT_OTHER,
              "List of instances with this node as primary", _instances(0, False)),
        Field("sinst_list", "SecInstances", QFT_OTHER,
              "List of instances with this node as secondary", _instances(1, False)),
        Field("role", "Role", QFT_TEXT, ROLE_DOC, node_role),
        Field("powered", "Powered", QFT_BOOL, "Whether node is thought to be powered on",
              _powered),
        Field("hv_state", "HypervisorState", QFT_OTHER, "Hypervisor state",
              lambda node, ctx: UNAVAIL),
        Field("disk_state", "DiskState", QFT_OTHER, "Disk state", lambda node, ctx: UNAVAIL),
    ]
    for name, title, kind, doc in LIVE_FIELDS:
        fields.append(Field(name, title, kind, doc, _live_getter(name), live=True))
    fields += nd_param_fields(lambda node, ctx: ctx.node_ndparams(node))
    fields += common_fields("Node")
    return fields


NODE_FIELDS = FieldTable(_node_fields(), entity="Node", hostnames=True)


def _group_fields():
    fields = [
        Field("alloc_policy", "AllocPolicy", QFT_TEXT, "Allocation policy for group",
              lambda group, ctx: group.get("alloc_policy")),
        Field("custom_diskparams", "CustomDiskParameters", QFT_OTHER, "Custom disk parameters",
              lambda group, ctx: dict(sorted((group.get("diskparams") or {}).items()))),
        Field("custom_ipolicy", "CustomInstancePolicy", QFT_OTHER,
              "Custom instance policy limitations",
              lambda group, ctx: dict(group.get("ipolicy") or {})),
        Field("custom_ndparams", "CustomNDParams", QFT_OTHER, "Custom node parameters",
              lambda group, ctx: dict(group.get("ndparams") or {})),
        Field("diskparams", "DiskParameters", QFT_OTHER, "Disk parameters (merged)",
              lambda group, ctx: ctx.group_diskparams(group)),
        Field("ipolicy", "InstancePolicy", QFT_OTHER, "Instance policy limitations (merged)",
              lambda group, ctx: ctx.group_ipolicy(group)),
        Field("name", "Group", QFT_TEXT, "Group name", lambda group, ctx: group.get("name")),
        Field("ndparams", "NDParams", QFT_OTHER, "Node parameters",
              lambda group, ctx: dict(ctx.group_ndparams(group))),
        Field("node_cnt", "Nodes", QFT_NUMBER, "Number of nodes",
              lambda group, ctx: len(ctx.group_nodes(group.get("uuid")))),
        Field("node_list", "NodeList", QFT_OTHER, "List of nodes",
              lambda group, ctx: [node.get("name") for node in ctx.group_nodes(group.get("uuid"))]),
        Field("pinst_cnt", "Instances", QFT_NUMBER, "Number of primary instances",
              lambda group, ctx: len(ctx.group_instances(group.get("uuid")))),
        Field("pinst_list", "InstanceList", QFT_OTHER, "List of primary instances",
              lambda group, ctx: nice_sort(inst.get("name") for inst in
                                           ctx.group_instances(group.get("uuid"))
                                           if inst.get("name") is not None)),
    ]
    fields += nd_param_fields(lambda group, ctx: ctx.group_ndparams(group))
    fields += common_fields("Group")
    return fields


GROUP_FIELDS = FieldTable(_group_fields(), entity="NodeGroup")
