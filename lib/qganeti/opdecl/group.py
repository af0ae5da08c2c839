"""Opcode declarations: node groups."""

from qganeti import optypes as t
from qganeti.opcodes import REQUIRED, Param, declare

ALLOC_POLICIES = ["preferred", "last_resort", "unallocable"]

_NE = t.NonEmptyString
_GROUP_NAME = Param("group_name", REQUIRED, _NE, "Group name")
_SETTABLE = [
    Param("alloc_policy", None, t.Maybe(t.ElemOf(ALLOC_POLICIES)), "Instance allocation policy"),
    Param("ndparams", None, t.Maybe(t.Dict), "Default node parameters for group"),
    Param("diskparams", None, t.Maybe(t.DictOf(t.Dict)), "Disk templates' parameter defaults"),
    Param("hv_state", None, t.Maybe(t.Dict), "Set hypervisor states"),
    Param("disk_state", None, t.Maybe(t.Dict), "Set disk states"),
    Param("ipolicy", None, t.Maybe(t.Dict), "Group-wide ipolicy specs"),
]


declare("OP_GROUP_ADD", [_GROUP_NAME] + _SETTABLE, dsc_field="group_name",
        doc="Add a node group to the cluster.")


declare("OP_GROUP_ASSIGN_NODES", [
    _GROUP_NAME,
    Param("force", False, t.Bool, "Whether to force the operation"),
    Param("nodes", REQUIRED, t.ListOf(_NE), "List of nodes to assign"),
    Param("node_uuids", None, t.Maybe(t.ListOf(_NE)), "List of node UUIDs to assign"),
], dsc_field="group_name", doc="Assign nodes to a node group.")


declare("OP_GROUP_SET_PARAMS", [_GROUP_NAME] + _SETTABLE, dsc_field="group_name",
        doc="Change the parameters of a node group.")


declare("OP_GROUP_REMOVE", [_GROUP_NAME], dsc_field="group_name",
        doc="Remove a node group from the cluster.")


declare("OP_GROUP_RENAME", [
    _GROUP_NAME,
    Param("new_name", REQUIRED, _NE, "New group name"),
], doc="Rename a node group in the cluster.")


declare("OP_GROUP_EVACUATE", [
    _GROUP_NAME,
    Param("early_release", False, t.Bool, "Whether to release locks as soon as possible"),
    Param("iallocator", None, t.Maybe(_NE),
          "Iallocator for deciding the target node for shared-storage instances"),
    Param("target_groups", None, t.Maybe(t.ListOf(_NE)),
          "Destination group names or UUIDs (defaults to \"all but current group\")"),
    Param("sequential", False, t.Bool, "Sequential job execution"),
    Param("force_failover", False, t.Bool, "Disallow migration moves and always use failovers"),
], dsc_field="group_name", doc="Evacuate a node group in the cluster.")


declare("OP_GROUP_VERIFY_DISKS", [_GROUP_NAME], dsc_field="group_name",
        doc="Verifies the status of all disks in a node group.")
