"""Opcode declarations: the cluster."""

from qganeti import optypes as t
from qganeti.opcodes import REQUIRED, Param, declare

_ERROR_CODES = Param("error_codes", False, t.Bool, "Error codes")
_DEBUG_SIMULATE = Param("debug_simulate_errors", False, t.Bool, "Whether to simulate errors (useful for debugging)")
_IGNORE_ERRORS = Param("ignore_errors", [], t.ListOf(t.String), "List of error codes that should be treated as warnings")
_VERBOSE = Param("verbose", False, t.Bool, "Verbose mode")

declare("OP_CLUSTER_QUERY", [], doc="Query cluster information.")


declare("OP_CLUSTER_POST_INIT", [], doc="Post cluster initialization (runs the cluster-init hooks).")


declare("OP_CLUSTER_DESTROY", [], doc="Destroy the cluster.")


declare("OP_CLUSTER_VERIFY_CONFIG", [
    _DEBUG_SIMULATE, _ERROR_CODES, _IGNORE_ERRORS, _VERBOSE,
], doc="Verify the cluster config.")


declare("OP_CLUSTER_VERIFY_GROUP", [
    Param("group_name", REQUIRED, t.NonEmptyString, "Group name"),
    _DEBUG_SIMULATE, _ERROR_CODES,
    Param("skip_checks", [], t.ListOf(t.ElemOf(["nplusone_mem"])), "Which checks to skip"),
    _IGNORE_ERRORS, _VERBOSE,
    Param("verify_clutter", False, t.Bool, "Whether to check for clutter in the 'authorized_keys' file."),
], dsc_field="group_name", doc="Run verify on a node group from the cluster.")


declare("OP_CLUSTER_VERIFY", [
    _DEBUG_SIMULATE, _ERROR_CODES,
    Param("skip_checks", [], t.ListOf(t.ElemOf(["nplusone_mem"])), "Which checks to skip"),
    _IGNORE_ERRORS, _VERBOSE,
    Param("group_name", None, t.Maybe(t.NonEmptyString), "Optional group name"),
    Param("verify_clutter", False, t.Bool, "Whether to check for clutter in the 'authorized_keys' file."),
], doc="Submit all jobs necessary to verify the cluster.")


declare("OP_CLUSTER_SET_PARAMS", [
    Param("force", False, t.Bool, "Whether to force the operation"),
    Param("hv_state", None, t.Maybe(t.Dict), "Set hypervisor states"),
    Param("disk_state", None, t.Maybe(t.Dict), "Set disk states"),
    Param("vg_name", None, t.Maybe(t.String), "Volume group name"),
    Param("enabled_hypervisors", None, t.Maybe(t.ListOf(t.ElemOf(t.HYPERVISORS))),
          "List of enabled hypervisors"),
    Param("hvparams", None, t.Maybe(t.DictOf(t.Dict)), "Cluster-wide hypervisor parameters, hypervisor-dependent"),
    Param("beparams", None, t.Maybe(t.Dict), "Cluster-wide backend parameter defaults"),
    Param("os_hvp", None, t.Maybe(t.DictOf(t.DictOf(t.Dict))), "Cluster-wide per-OS hypervisor parameter defaults"),
    Param("osparams", None, t.Maybe(t.DictOf(t.Dict)), "Cluster-wide OS parameter defaults"),
    Param("osparams_private_cluster", None, t.Maybe(t.DictOf(t.Dict)), "Cluster-wide private OS parameter defaults"),
    Param("diskparams", None, t.Maybe(t.DictOf(t.Dict)), "Disk templates' parameter defaults"),
    Param("candidate_pool_size", None, t.Maybe(t.PositiveInt), "Master candidate pool size"),
    Param("max_running_jobs", None, t.Maybe(t.PositiveInt), "Maximal number of jobs to run simultaneously"),
    Param("max_tracked_jobs", None, t.Maybe(t.PositiveInt), "Maximal number of jobs tracked in the job queue"),
    Param("uid_pool", None, t.Maybe(t.List), "Set UID pool, must be list of lists describing UID ranges"),
    Param("add_uids", None, t.Maybe(t.List), "Extend UID pool, must be list of lists describing UID ranges"),
    Param("remove_uids", None, t.Maybe(t.List), "Shrink UID pool, must be list of lists describing UID ranges"),
    Param("maintain_node_health", None, t.Maybe(t.Bool), "Whether to automatically maintain node health"),
    Param("prealloc_wipe_disks", None, t.Maybe(t.Bool), "Whether to wipe disks before allocating them to instances"),
    Param("nicparams", None, t.Maybe(t.Dict), "Cluster-wide NIC parameter defaults"),
    Param("ndparams", None, t.Maybe(t.Dict), "Cluster-wide node parameter defaults"),
    Param("ipolicy", None, t.Maybe(t.Dict), "Cluster-wide ipolicy specs"),
    Param("drbd_helper", None, t.Maybe(t.String), "DRBD helper program"),
    Param("default_iallocator", None, t.Maybe(t.String), "Default iallocator for cluster"),
    Param("default_iallocator_params", None, t.Maybe(t.Dict), "Default iallocator parameters for cluster"),
    Param("mac_prefix", None, t.Maybe(t.NonEmptyString), "Network specific mac prefix (that overrides the cluster one)"),
    Param("master_netdev", None, t.Maybe(t.String), "Master network device"),
    Param("master_netmask", None, t.Maybe(t.NonNegativeInt), "Netmask of the master IP"),
    Param("reserved_lvs", None, t.Maybe(t.ListOf(t.NonEmptyString)), "List of reserved LVs"),
    Param("hidden_os", None, t.Maybe(t.ListOf(t.Pair(t.ElemOf(["add", "remove"]), t.NonEmptyString))),
          "Modify list of hidden operating systems: each modification must have two items, the operation and the OS name; the operation can be add or remove"),
    Param("blacklisted_os", None, t.Maybe(t.ListOf(t.Pair(t.ElemOf(["add", "remove"]), t.NonEmptyString))),
          "Modify list of blacklisted operating systems: each modification must have two items, the operation and the OS name; the operation can be add or remove"),
    Param("use_external_mip_script", None, t.Maybe(t.Bool), "Whether to use an external master IP address setup script"),
    Param("enabled_disk_templates", None, t.Maybe(t.ListOf(t.ElemOf(t.DISK_TEMPLATES))),
          "List of enabled disk templates"),
    Param("modify_etc_hosts", None, t.Maybe(t.Bool), "Whether the cluster can modify and keep in sync the /etc/hosts files"),
    Param("file_storage_dir", None, t.Maybe(t.String), "Default file storage directory"),
    Param("shared_file_storage_dir", None, t.Maybe(t.String), "Default shared file storage directory"),
    Param("gluster_storage_dir", None, t.Maybe(t.String), "Default Gluster storage directory"),
    Param("install_image", None, t.Maybe(t.String), "The OS image to use to install instances"),
    Param("instance_communication_network", None, t.Maybe(t.String), "Instance communication network name"),
    Param("zeroing_image", None, t.Maybe(t.String), "The OS image to use to zero instance disks"),
    Param("compression_tools", None, t.Maybe(t.ListOf(t.NonEmptyString)), "List of enabled compression tools"),
    Param("enabled_user_shutdown", None, t.Maybe(t.Bool), "Whether user shutdown is enabled cluster wide"),
    Param("enabled_data_collectors", None, t.Maybe(t.DictOf(t.Bool)), "Set the active data collectors"),
    Param("data_collector_interval", None, t.Maybe(t.DictOf(t.Int)), "Sets the interval in that data collectors are run"),
], doc="Change the parameters of the cluster.")


declare("OP_CLUSTER_REDIST_CONF", [], doc="Force a full push of the cluster configuration.")
