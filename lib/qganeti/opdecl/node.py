"""Opcode declarations: nodes, their storage, out-of-band and restricted commands."""

from qganeti import optypes as t
from qganeti.opcodes import REQUIRED, Param, declare

STORAGE_TYPES = ["lvm-pv", "lvm-vg", "file", "sharedfile", "gluster", "diskless",
                 "blockdev", "rados", "ext"]
OOB_COMMANDS = ["power-on", "power-off", "power-cycle", "power-status", "health"]
EVAC_MODES = ["primary-only", "secondary-only", "all"]
MIGRATION_MODES = ["live", "non-live"]
OOB_TIMEOUT = 60
OOB_POWER_DELAY = 2.0

_NE = t.NonEmptyString
_NODE_NAME = Param("node_name", REQUIRED, _NE, "A required node name (for single-node LUs)")
_NODE_UUID = Param("node_uuid", None, t.Maybe(_NE), "A node UUID (for single-node LUs)")
_FORCE = Param("force", False, t.Bool, "Whether to force the operation")
_HV_STATE = Param("hv_state", None, t.Maybe(t.Dict), "Set hypervisor states")
_DISK_STATE = Param("disk_state", None, t.Maybe(t.Dict), "Set disk states")
_MASTER_CAPABLE = Param("master_capable", None, t.Maybe(t.Bool),
                        "Whether node can become master or master candidate")
_VM_CAPABLE = Param("vm_capable", None, t.Maybe(t.Bool), "Whether node can host instances")
_SECONDARY_IP = Param("secondary_ip", None, t.Maybe(_NE), "Secondary IP address")
_NDPARAMS = Param("ndparams", None, t.Maybe(t.Dict), "Node parameters")
_OUTPUT_FIELDS = Param("output_fields", REQUIRED, t.ListOf(_NE), "Selected output fields")
_STORAGE_TYPE = Param("storage_type", REQUIRED, t.ElemOf(STORAGE_TYPES), "Storage type")
_STORAGE_NAME = Param("name", None, t.Maybe(_NE), "Storage name")
_IALLOCATOR = Param("iallocator", None, t.Maybe(_NE),
                    "Iallocator for deciding the target node for shared-storage instances")


declare("OP_NODE_ADD", [
    _NODE_NAME, _HV_STATE, _DISK_STATE,
    Param("primary_ip", None, t.Maybe(_NE), "Primary IP address"),
    _SECONDARY_IP,
    Param("readd", False, t.Bool, "Whether node is re-added to cluster"),
    Param("group", None, t.Maybe(_NE), "Initial node group"),
    _MASTER_CAPABLE, _VM_CAPABLE, _NDPARAMS,
    Param("node_setup", False, t.Bool, "Whether to perform a SSH setup on the new node"),
], dsc_field="node_name", doc="Add a node to the cluster.")


declare("OP_NODE_REMOVE", [_NODE_NAME, _NODE_UUID], dsc_field="node_name",
        doc="Remove a node.")


declare("OP_NODE_QUERYVOLS", [
    _OUTPUT_FIELDS,
    Param("nodes", [], t.ListOf(_NE), "Empty list to query all nodes, node names otherwise"),
], doc="Get list of volumes on node.")


declare("OP_NODE_QUERY_STORAGE", [
    _OUTPUT_FIELDS,
    Param("storage_type", None, t.Maybe(t.ElemOf(STORAGE_TYPES)), "Storage type"),
    Param("nodes", [], t.ListOf(_NE), "Empty list to query all, list of names to query"
          " otherwise"),
    _STORAGE_NAME,
], doc="Get information on storage for node(s).")


declare("OP_NODE_MODIFY_STORAGE", [
    _NODE_NAME, _NODE_UUID, _STORAGE_TYPE, _STORAGE_NAME,
    Param("changes", REQUIRED, t.Dict, "Requested storage changes"),
], dsc_field="node_name", doc="Modifies the properies of a storage unit")


declare("OP_REPAIR_NODE_STORAGE", [
    _NODE_NAME, _NODE_UUID, _STORAGE_TYPE, _STORAGE_NAME,
    Param("ignore_consistency", False, t.Bool, "Whether to ignore disk consistency"),
], dsc_field="node_name", doc="Repairs the volume group on a node.")


declare("OP_NODE_SET_PARAMS", [
    _NODE_NAME, _NODE_UUID, _FORCE, _HV_STATE, _DISK_STATE,
    Param("master_candidate", None, t.Maybe(t.Bool),
          "Whether the node should become a master candidate"),
    Param("offline", None, t.Maybe(t.Bool), "Whether to mark the node offline"),
    Param("drained", None, t.Maybe(t.Bool), "Whether to mark the node as drained"),
    Param("auto_promote", False, t.Bool,
          "Whether node(s) should be promoted to master candidate if necessary"),
    _MASTER_CAPABLE, _VM_CAPABLE, _SECONDARY_IP, _NDPARAMS,
    Param("powered", None, t.Maybe(t.Bool), "Whether the node should be marked as powered"),
], dsc_field="node_name", doc="Change the parameters of a node.")


declare("OP_NODE_POWERCYCLE", [_NODE_NAME, _NODE_UUID, _FORCE], dsc_field="node_name",
        doc="Tries to powercycle a node.")


declare("OP_NODE_MIGRATE", [
    _NODE_NAME, _NODE_UUID,
    Param("mode", None, t.Maybe(t.ElemOf(MIGRATION_MODES)), "Migration type (live/non-live)"),
    Param("live", None, t.Maybe(t.Bool), "Obsolete 'live' migration mode (do not use)"),
    Param("target_node", None, t.Maybe(_NE), "Target node for instance migration/failover"),
    Param("target_node_uuid", None, t.Maybe(_NE),
          "Target node UUID for instance migration/failover"),
    Param("allow_runtime_changes", True, t.Bool,
          "Whether to allow runtime changes while migrating"),
    Param("ignore_ipolicy", False, t.Bool, "Whether to ignore ipolicy violations"),
    _IALLOCATOR,
], dsc_field="node_name", doc="Migrate all instances from a node.")


declare("OP_NODE_EVACUATE", [
    Param("early_release", False, t.Bool, "Whether to release locks as soon as possible"),
    _NODE_NAME, _NODE_UUID,
    Param("remote_node", None, t.Maybe(_NE), "New secondary node"),
    Param("remote_node_uuid", None, t.Maybe(_NE), "New secondary node UUID"),
    _IALLOCATOR,
    Param("mode", REQUIRED, t.ElemOf(EVAC_MODES), "Node evacuation mode"),
    Param("ignore_soft_errors", None, t.Maybe(t.Bool), "Ignore soft htools errors"),
], dsc_field="node_name", doc="Evacuate instances off a number of nodes.")


declare("OP_OOB_COMMAND", [
    Param("node_names", [], t.ListOf(_NE), "List of node names to run the OOB command against"),
    Param("node_uuids", None, t.Maybe(t.ListOf(_NE)),
          "List of node UUIDs to run the OOB command against"),
    Param("command", REQUIRED, t.ElemOf(OOB_COMMANDS), "OOB command to run"),
    Param("timeout", OOB_TIMEOUT, t.Int, "Timeout before the OOB helper will be terminated"),
    Param("ignore_status", False, t.Bool, "Ignores the node offline status for power off"),
    Param("power_delay", OOB_POWER_DELAY, t.Float,
          "Time in seconds to wait between powering on nodes"),
], doc="Interact with OOB.")


declare("OP_RESTRICTED_COMMAND", [
    Param("use_locking", False, t.Bool, "Whether to use synchronization"),
    Param("nodes", REQUIRED, t.ListOf(_NE),
          "Nodes on which the command should be run (at least one)"),
    Param("node_uuids", None, t.Maybe(t.ListOf(_NE)),
          "Node UUIDs on which the command should be run (at least one)"),
    Param("command", REQUIRED, _NE, "Restricted command name"),
], doc="Runs a restricted command on node(s).")
