"""Opcode declarations: instances (Ganeti 3.0's OP_INSTANCE_*, and snapshots).

Parameters, defaults and types are Ganeti 3.0.2's (src/Ganeti/OpParams.hs,
with the Python side's defaults); the three snapshot opcodes are ours.
"""

from qganeti import optypes as t
from qganeti.opcodes import REQUIRED, Param, declare

MAX_DISKS = 16
MAX_NICS = 8
DISK_TEMPLATES = t.DISK_TEMPLATES
FILE_DRIVERS = ["loop", "blktap", "blktap2"]
REBOOT_TYPES = ["soft", "hard", "full"]
MIGRATION_MODES = ["live", "non-live"]
CREATE_MODES = ["create", "import", "remote-import"]
REPLACE_MODES = ["replace_on_primary", "replace_on_secondary", "replace_new_secondary",
                 "replace_auto"]
DDM_ACTIONS = ["add", "attach", "modify", "remove", "detach"]
DEFAULT_SHUTDOWN_TIMEOUT = 120


class _DiskIndex(t.Type):
    """An integer in [0, MAX_DISKS) (Ganeti's DiskIndex)."""
    desc = "disk index"

    def check(self, value):
        return (isinstance(value, int) and not isinstance(value, bool)
                and 0 <= value < MAX_DISKS)

    def to_text(self, value):
        return str(value)

    def from_text(self, text):
        try:
            return self.coerce(int(text))
        except ValueError:
            return False, None


class _Mods(t.Type):
    """Disk or NIC modifications: [] or [[action|index, params]...] (old
    style) or [[action, index|name, params]...] (new style)."""
    desc = "list of modifications"

    def coerce(self, value):
        if not isinstance(value, list):
            return False, value
        for mod in value:
            if not isinstance(mod, list) or len(mod) not in (2, 3):
                return False, value
            if not isinstance(mod[-1], dict):
                return False, value
            if len(mod) == 2:
                key = mod[0]
                if isinstance(key, bool) or not (
                        (isinstance(key, int) and key >= 0) or key in DDM_ACTIONS
                        or (isinstance(key, str) and key.isdigit())):
                    return False, value
            else:
                action, ident = mod[0], mod[1]
                if action not in DDM_ACTIONS:
                    return False, value
                if isinstance(ident, bool) or not isinstance(ident, (int, str)):
                    return False, value
        return True, value


class _RecreateDisks(t.Type):
    """[] (all), [index, ...] or [[index, {params}], ...]."""
    desc = "disk indices or [index, params] pairs"

    def coerce(self, value):
        if not isinstance(value, list):
            return False, value
        for item in value:
            if isinstance(item, list):
                if (len(item) != 2 or not DiskIndex.check(item[0])
                        or not isinstance(item[1], dict)):
                    return False, value
            elif not DiskIndex.check(item):
                return False, value
        return True, value


DiskIndex = _DiskIndex()
Mods = _Mods()
RecreateDisks = _RecreateDisks()
_MaybeNE = t.Maybe(t.NonEmptyString)

# Shared parameters (Ganeti's pInstanceName, pInstanceUuid ...)
P_NAME = Param("instance_name", REQUIRED, t.String,
               "A required instance name (for single-instance LUs)")
P_UUID = Param("instance_uuid", None, _MaybeNE, "An instance UUID (for single-instance LUs)")
P_FORCE = Param("force", False, t.Bool, "Whether to force the operation")
P_FORCE_VARIANT = Param("force_variant", False, t.Bool, "Whether to force an unknown OS variant")
P_WAIT_FOR_SYNC = Param("wait_for_sync", True, t.Bool,
                        "Whether to wait for the disk to synchronize")
P_NAME_CHECK = Param("name_check", True, t.Bool, "Whether to check name")
P_IP_CHECK = Param("ip_check", True, t.Bool,
                   "Whether to ensure instance's IP address is inactive")
P_CONFLICTS = Param("conflicts_check", True, t.Bool,
                    "Whether to check for conflicting IP addresses")
P_IGNORE_IPOLICY = Param("ignore_ipolicy", False, t.Bool,
                         "Whether to ignore ipolicy violations")
P_OPPORTUNISTIC = Param("opportunistic_locking", False, t.Bool,
                        "Whether to employ opportunistic locking for nodes, meaning nodes"
                        " already locked by another opcode won't be considered for instance"
                        " allocation (only when an iallocator is used)")
P_BEPARAMS = Param("beparams", {}, t.Dict, "Backend parameters for instance")
P_HVPARAMS = Param("hvparams", {}, t.Dict,
                   "Hypervisor parameters for instance, hypervisor-dependent")
P_OPT_TEMPLATE = Param("disk_template", None, t.Maybe(t.ElemOf(DISK_TEMPLATES)),
                       "Instance disk template")
P_FILE_DRIVER = Param("file_driver", None, t.Maybe(t.ElemOf(FILE_DRIVERS)),
                      "Driver for file-backed disks")
P_FILE_DIR = Param("file_storage_dir", None, _MaybeNE,
                   "Directory for storing file-backed disks")
P_IALLOCATOR = Param("iallocator", None, _MaybeNE,
                     "Iallocator for deciding the target node for shared-storage instances")
P_SHUTDOWN_TIMEOUT = Param("shutdown_timeout", DEFAULT_SHUTDOWN_TIMEOUT, t.NonNegativeInt,
                           "How long to wait for instance to shut down")
P_IGNORE_OFFLINE = Param("ignore_offline_nodes", False, t.Bool,
                         "Whether to ignore offline nodes")
P_NO_REMEMBER = Param("no_remember", False, t.Bool, "Do not remember instance state changes")
P_TARGET_NODE = Param("target_node", None, _MaybeNE,
                      "Target node for instance migration/failover")
P_TARGET_NODE_UUID = Param("target_node_uuid", None, _MaybeNE,
                           "Target node UUID for instance migration/failover")
P_CLEANUP = Param("cleanup", False, t.Bool,
                  "Whether a previously failed migration should be cleaned up")
P_EARLY_RELEASE = Param("early_release", False, t.Bool,
                        "Whether to release locks as soon as possible")
P_REMOTE_NODE = Param("remote_node", None, _MaybeNE, "New secondary node")
P_REMOTE_NODE_UUID = Param("remote_node_uuid", None, _MaybeNE, "New secondary node UUID")
P_IGNORE_CONSISTENCY = Param("ignore_consistency", False, t.Bool,
                             "Whether to ignore disk consistency")
P_OS_TYPE = Param("os_type", None, _MaybeNE, "OS type for instance installation")
P_COMPRESS = Param("compress", "none", t.String,
                   "Compression mode to use for moves during backups/imports")
P_INSTANCE_COMMUNICATION = Param("instance_communication", False, t.Bool,
                                 "Enable or disable the communication mechanism for an"
                                 " instance")
P_SNAPSHOT = Param("snapshot_name", REQUIRED, t.NonEmptyString, "Name of the snapshot")


def _decl(op_id, params, doc, dsc="instance_name"):
    declare(op_id, params, dsc_field=dsc, doc=doc)


_decl("OP_INSTANCE_CREATE", [
    P_NAME, P_FORCE_VARIANT, P_WAIT_FOR_SYNC, P_NAME_CHECK, P_IGNORE_IPOLICY, P_OPPORTUNISTIC,
    P_BEPARAMS,
    Param("disks", REQUIRED, t.ListOf(t.Dict), "List of instance disks"),
    P_OPT_TEMPLATE,
    Param("group_name", None, _MaybeNE, "Optional group name"),
    P_FILE_DRIVER, P_FILE_DIR, P_HVPARAMS,
    Param("hypervisor", None, t.Maybe(t.ElemOf(t.HYPERVISORS)),
          "Selected hypervisor for an instance"),
    P_IALLOCATOR,
    Param("identify_defaults", False, t.Bool, "Reset instance parameters to default if equal"),
    P_IP_CHECK, P_CONFLICTS,
    Param("mode", REQUIRED, t.ElemOf(CREATE_MODES), "Instance creation mode"),
    Param("nics", REQUIRED, t.ListOf(t.Dict), "List of NIC (network interface) definitions"),
    Param("no_install", None, t.Maybe(t.Bool),
          "Do not install the OS (will disable automatic start)"),
    Param("osparams", {}, t.Dict, "OS parameters for instance"),
    Param("osparams_private", None, t.Maybe(t.Dict), "Private OS parameters for instance"),
    Param("osparams_secret", None, t.Maybe(t.Dict), "Secret OS parameters for instance",
          secret=True),
    P_OS_TYPE,
    Param("pnode", None, _MaybeNE, "Primary node for an instance"),
    Param("pnode_uuid", None, _MaybeNE, "Primary node UUID for an instance"),
    Param("snode", None, _MaybeNE, "Secondary node for an instance"),
    Param("snode_uuid", None, _MaybeNE, "Secondary node UUID for an instance"),
    Param("source_handshake", None, t.Maybe(t.List),
          "Signed handshake from source (remote import only)"),
    Param("source_instance_name", None, _MaybeNE, "Source instance name (remote import only)"),
    Param("source_shutdown_timeout", DEFAULT_SHUTDOWN_TIMEOUT, t.NonNegativeInt,
          "How long source instance was given to shut down (remote import only)"),
    Param("source_x509_ca", None, _MaybeNE, "Source X509 CA in PEM format (remote import only)"),
    Param("src_node", None, _MaybeNE, "Source node for import"),
    Param("src_node_uuid", None, _MaybeNE, "Source node UUID for import"),
    Param("src_path", None, _MaybeNE, "Source directory for import"),
    P_COMPRESS,
    Param("start", True, t.Bool, "Whether to start instance after creation"),
    Param("forthcoming", False, t.Bool, "Whether to only reserve resources"),
    Param("commit", False, t.Bool, "Commit the already reserved instance"),
    Param("tags", [], t.ListOf(t.NonEmptyString), "Instance tags"),
    P_INSTANCE_COMMUNICATION,
    Param("helper_startup_timeout", None, t.Maybe(t.Int), "Startup timeout for the helper VM"),
    Param("helper_shutdown_timeout", None, t.Maybe(t.Int),
          "Shutdown timeout for the helper VM"),
], "Create an instance.")

_decl("OP_INSTANCE_MULTI_ALLOC", [
    P_OPPORTUNISTIC, P_IALLOCATOR,
    Param("instances", [], t.ListOf(t.Dict),
          "List of instance create opcodes describing the instances to allocate"),
], "Allocates multiple instances.", dsc=None)

_decl("OP_INSTANCE_REINSTALL", [
    P_NAME, P_UUID, P_FORCE_VARIANT, P_OS_TYPE,
    Param("osparams", None, t.Maybe(t.Dict),
          "Temporary OS parameters (currently only in reinstall, might be added to install as"
          " well)"),
    Param("osparams_private", None, t.Maybe(t.Dict),
          "Private OS parameters for instance reinstalls"),
    Param("osparams_secret", None, t.Maybe(t.Dict),
          "Secret OS parameters for instance reinstalls", secret=True),
], "Reinstall an instance's OS.")

_decl("OP_INSTANCE_REMOVE", [
    P_NAME, P_UUID, P_SHUTDOWN_TIMEOUT,
    Param("ignore_failures", False, t.Bool, "Whether to ignore failures during removal"),
], "Remove an instance.")

_decl("OP_INSTANCE_RENAME", [
    P_NAME, P_UUID,
    Param("new_name", REQUIRED, t.NonEmptyString, "New instance name"),
    P_NAME_CHECK, P_IP_CHECK,
], "Rename an instance.", dsc=None)

_decl("OP_INSTANCE_STARTUP", [
    P_NAME, P_UUID, P_FORCE, P_IGNORE_OFFLINE,
    Param("hvparams", {}, t.Dict, "Temporary hypervisor parameters, hypervisor-dependent"),
    Param("beparams", {}, t.Dict, "Temporary backend parameters"),
    P_NO_REMEMBER,
    Param("startup_paused", False, t.Bool, "Pause instance at startup"),
    P_SHUTDOWN_TIMEOUT,
], "Startup an instance.")

_decl("OP_INSTANCE_SHUTDOWN", [
    P_NAME, P_UUID, P_FORCE, P_IGNORE_OFFLINE,
    Param("timeout", DEFAULT_SHUTDOWN_TIMEOUT, t.NonNegativeInt,
          "How long to wait for instance to shut down"),
    P_NO_REMEMBER,
    Param("admin_state_source", None, t.Maybe(t.ElemOf(["admin", "user"])),
          "Who last changed the instance admin state"),
], "Shutdown an instance.")

_decl("OP_INSTANCE_REBOOT", [
    P_NAME, P_UUID, P_SHUTDOWN_TIMEOUT,
    Param("ignore_secondaries", False, t.Bool,
          "Whether to start the instance even if secondary disks are failing"),
    Param("reboot_type", REQUIRED, t.ElemOf(REBOOT_TYPES), "How to reboot the instance"),
], "Reboot an instance.")

_decl("OP_INSTANCE_REPLACE_DISKS", [
    P_NAME, P_UUID, P_EARLY_RELEASE, P_IGNORE_IPOLICY,
    Param("mode", REQUIRED, t.ElemOf(REPLACE_MODES), "Replacement mode"),
    Param("disks", [], t.ListOf(DiskIndex), "List of disk indices"),
    P_REMOTE_NODE, P_REMOTE_NODE_UUID, P_IALLOCATOR,
], "Replace the disks of an instance.")

_decl("OP_INSTANCE_FAILOVER", [
    P_NAME, P_UUID, P_SHUTDOWN_TIMEOUT, P_IGNORE_CONSISTENCY, P_TARGET_NODE,
    P_TARGET_NODE_UUID, P_IGNORE_IPOLICY, P_CLEANUP, P_IALLOCATOR,
], "Failover an instance.")

_decl("OP_INSTANCE_MIGRATE", [
    P_NAME, P_UUID,
    Param("mode", None, t.Maybe(t.ElemOf(MIGRATION_MODES)), "Migration type (live/non-live)"),
    Param("live", None, t.Maybe(t.Bool), "Obsolete 'live' migration mode (do not use)"),
    P_TARGET_NODE, P_TARGET_NODE_UUID,
    Param("allow_runtime_changes", True, t.Bool,
          "Whether to allow runtime changes while migrating"),
    P_IGNORE_IPOLICY, P_CLEANUP, P_IALLOCATOR,
    Param("allow_failover", False, t.Bool,
          "Whether we can fallback to failover if migration is not possible"),
    Param("ignore_hvversions", False, t.Bool,
          "Whether to ignore incompatible Hypervisor versions"),
], "Migrate an instance.")

_decl("OP_INSTANCE_MOVE", [
    P_NAME, P_UUID, P_SHUTDOWN_TIMEOUT, P_IGNORE_IPOLICY,
    Param("target_node", REQUIRED, t.NonEmptyString, "Target node for instance move"),
    Param("target_node_uuid", None, _MaybeNE, "Target node UUID for instance move"),
    Param("compress", "none", t.String, "Compression mode to use during instance moves"),
    P_IGNORE_CONSISTENCY,
], "Move an instance.")

_decl("OP_INSTANCE_CONSOLE", [P_NAME, P_UUID], "Connect to an instance's console.")

_decl("OP_INSTANCE_ACTIVATE_DISKS", [
    P_NAME, P_UUID,
    Param("ignore_size", False, t.Bool, "Whether to ignore recorded disk size"),
    Param("wait_for_sync", False, t.Bool,
          "Whether to wait for the disk to synchronize (defaults to false)"),
], "Activate an instance's disks.")

_decl("OP_INSTANCE_DEACTIVATE_DISKS", [P_NAME, P_UUID, P_FORCE],
      "Deactivate an instance's disks.")

_decl("OP_INSTANCE_RECREATE_DISKS", [
    P_NAME, P_UUID,
    Param("disks", [], RecreateDisks, "Disk list for recreate disks"),
    Param("nodes", [], t.ListOf(t.NonEmptyString), "New instance nodes, if relocation is"
          " desired"),
    Param("node_uuids", None, t.Maybe(t.ListOf(t.NonEmptyString)),
          "New instance node UUIDs, if relocation is desired"),
    P_IALLOCATOR,
], "Recreate an instance's disks.")

_decl("OP_INSTANCE_QUERY_DATA", [
    Param("use_locking", False, t.Bool, "Whether to use synchronization"),
    Param("instances", [], t.ListOf(t.NonEmptyString), "List of instances"),
    Param("static", False, t.Bool,
          "Whether to only return configuration data without querying nodes"),
], "Compute the run-time status of instances.", dsc=None)

_decl("OP_INSTANCE_SET_PARAMS", [
    P_NAME, P_UUID, P_FORCE, P_FORCE_VARIANT, P_IGNORE_IPOLICY,
    Param("nics", [], Mods, "List of NIC changes"),
    Param("disks", [], Mods, "List of disk changes"),
    P_BEPARAMS,
    Param("runtime_mem", None, t.Maybe(t.PositiveInt), "New runtime memory"),
    P_HVPARAMS, P_OPT_TEMPLATE,
    Param("ext_params", {}, t.Dict, "List of ExtStorage parameters"),
    P_FILE_DRIVER, P_FILE_DIR,
    Param("pnode", None, _MaybeNE, "Primary node for an instance"),
    Param("pnode_uuid", None, _MaybeNE, "Primary node UUID for an instance"),
    Param("remote_node", None, _MaybeNE, "Secondary node (used when changing disk template)"),
    Param("remote_node_uuid", None, _MaybeNE,
          "Secondary node UUID (used when changing disk template)"),
    P_IALLOCATOR,
    Param("os_name", None, _MaybeNE,
          "Change the instance's OS without reinstalling the instance"),
    Param("osparams", {}, t.Dict, "OS parameters for instance"),
    Param("osparams_private", None, t.Maybe(t.Dict), "Private OS parameters for instance"),
    P_WAIT_FOR_SYNC,
    Param("offline", None, t.Maybe(t.Bool), "Whether to mark the instance as offline"),
    P_CONFLICTS,
    Param("hotplug", False, t.Bool, "Whether to hotplug devices"),
    Param("hotplug_if_possible", False, t.Bool, "Whether to hotplug devices if possible"),
    Param("instance_communication", None, t.Maybe(t.Bool),
          "Enable or disable the communication mechanism for an instance"),
], "Change the parameters of an instance.")

_decl("OP_INSTANCE_GROW_DISK", [
    P_NAME, P_UUID, P_WAIT_FOR_SYNC,
    Param("disk", REQUIRED, DiskIndex, "Disk index for e.g. grow disk"),
    Param("amount", REQUIRED, t.NonNegativeInt, "Disk amount to add or grow to"),
    Param("absolute", False, t.Bool,
          "Whether the amount parameter is an absolute target or a relative one"),
    P_IGNORE_IPOLICY,
], "Grow a disk of an instance.")

_decl("OP_INSTANCE_CHANGE_GROUP", [
    P_NAME, P_UUID, P_EARLY_RELEASE, P_IALLOCATOR,
    Param("target_groups", None, t.Maybe(t.ListOf(t.NonEmptyString)),
          "Destination group names or UUIDs (defaults to \"all but current group\")"),
], "Moves an instance to another node group.")

# -- beyond Ganeti: snapshots of file-based disks ------------------------------

_decl("OP_INSTANCE_SNAPSHOT", [P_NAME, P_UUID, P_SNAPSHOT],
      "Snapshot the disks of an instance (paused while it is taken if it runs).")

_decl("OP_INSTANCE_ROLLBACK", [P_NAME, P_UUID, P_SNAPSHOT],
      "Roll the disks of a stopped instance back to a snapshot.")

_decl("OP_INSTANCE_REMOVE_SNAPSHOT", [P_NAME, P_UUID, P_SNAPSHOT],
      "Remove a snapshot of the disks of an instance.")
