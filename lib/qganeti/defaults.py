"""Ganeti 3.0.2's parameter defaults and types, and how they are filled in.

The tables are Ganeti's constants (HVC_DEFAULTS, BEC_DEFAULTS, NICC_DEFAULTS,
NDC_DEFAULTS, DISK_DT_DEFAULTS, IPOLICY_DEFAULTS, ...), with the values a
3.0.2 cluster writes into config.data.  Parameter kinds, as check_params()
takes them:

    "hv"         hypervisor parameters (hypervisor= names which hypervisor)
    "be"         backend parameters (memory, vcpus ...)
    "nic"        NIC parameters (mode, link, vlan)
    "nd"         node parameters
    "disk"       disk template parameters (template= names the template)
    "ispec"      one instance spec (min, max or std of an ipolicy)
    "hvstate"    static hypervisor state
    "diskstate"  static disk state

The fill functions are Ganeti's FillDict semantics applied to a cluster (and
node group, node ...) as plain dicts from config.data.
"""

import copy

# value types (constants.VTYPE_*)
VTYPE_STRING = "string"
VTYPE_MAYBE_STRING = "maybe-string"
VTYPE_BOOL = "bool"
VTYPE_SIZE = "size"
VTYPE_INT = "int"
VTYPE_FLOAT = "float"

PP_DEFAULT = "default"

HT_XEN_PVM = "xen-pvm"
HT_KVM = "kvm"
HT_XEN_HVM = "xen-hvm"
HT_FAKE = "fake"
HT_CHROOT = "chroot"
HT_LXC = "lxc"
# in the order `gnt-cluster init` writes them into cluster.hvparams
HYPER_TYPES = (HT_KVM, HT_XEN_PVM, HT_CHROOT, HT_XEN_HVM, HT_LXC, HT_FAKE)
HTS_REQ_PORT = (HT_XEN_HVM, HT_KVM)

DT_DISKLESS = "diskless"
DT_FILE = "file"
DT_SHARED_FILE = "sharedfile"
DT_PLAIN = "plain"
DT_DRBD8 = "drbd"
DT_RBD = "rbd"
DT_BLOCK = "blockdev"
DT_EXT = "ext"
DT_GLUSTER = "gluster"
# constants.DISK_TEMPLATE_PREFERENCE
DISK_TEMPLATE_PREFERENCE = (DT_DRBD8, DT_PLAIN, DT_FILE, DT_SHARED_FILE,
                            DT_BLOCK, DT_RBD, DT_EXT, DT_DISKLESS, DT_GLUSTER)
DISK_TEMPLATES = tuple(sorted(DISK_TEMPLATE_PREFERENCE))
DTS_LVM = (DT_PLAIN, DT_DRBD8)
DTS_FILEBASED = (DT_FILE, DT_SHARED_FILE, DT_GLUSTER)

NIC_MODE_BRIDGED = "bridged"
NIC_MODE_ROUTED = "routed"
NIC_MODE_OVS = "openvswitch"
NIC_VALID_MODES = (NIC_MODE_BRIDGED, NIC_MODE_ROUTED, NIC_MODE_OVS)

ADMINST_UP = "up"
ADMINST_DOWN = "down"
ADMINST_OFFLINE = "offline"
ADMINST_ALL = (ADMINST_UP, ADMINST_DOWN, ADMINST_OFFLINE)
ADMIN_SOURCE = "admin"
USER_SOURCE = "user"
ALLOC_POLICIES = ("preferred", "last_resort", "unallocable")
DISK_MODES = ("rw", "ro")

# defaults of `gnt-cluster init` (Ganeti's build-time and cli defaults)
DEFAULT_BRIDGE = "xen-br0"
DEFAULT_OVS = "switch1"
DEFAULT_MAC_PREFIX = "aa:00:00"
DEFAULT_VG = "xenvg"
DEFAULT_DRBD_HELPER = "/bin/true"
DEFAULT_ENABLED_HYPERVISOR = HT_XEN_PVM
DEFAULT_ENABLED_DISK_TEMPLATES = (DT_DRBD8, DT_PLAIN)
DEFAULT_FILE_STORAGE_DIR = "/srv/ganeti/file-storage"
DEFAULT_SHARED_FILE_STORAGE_DIR = "/srv/ganeti/shared-file-storage"
DEFAULT_GLUSTER_STORAGE_DIR = "/var/run/ganeti/gluster"
DEFAULT_IALLOCATOR = "hail"
MASTER_POOL_SIZE_DEFAULT = 10
JOB_QUEUE_MAX_RUNNING = 20
JOB_QUEUE_MAX_TRACKED = 25
FIRST_DRBD_PORT = 11000
LAST_DRBD_PORT = 14999
COMPRESSION_TOOLS = ["gzip", "gzip-fast", "gzip-slow"]
SSH_KEY_TYPE = "rsa"
SSH_KEY_BITS = 2048
CONFIG_VERSION = 3000000
RELEASE_VERSION = "3.0.2"

# constants.HVC_DEFAULTS, as a 3.0.2 cluster writes them
HVC_DEFAULTS = {
    HT_KVM: {
        "acpi": True,
        "boot_order": "disk",
        "cdrom2_image_path": "",
        "cdrom_disk_type": "",
        "cdrom_image_path": "",
        "cpu_cores": 0,
        "cpu_mask": "all",
        "cpu_sockets": 0,
        "cpu_threads": 0,
        "cpu_type": "",
        "disk_aio": "threads",
        "disk_cache": "default",
        "disk_discard": "default",
        "disk_type": "paravirtual",
        "floppy_image_path": "",
        "initrd_path": "",
        "kernel_args": "ro",
        "kernel_path": "/boot/vmlinuz-3-kvmU",
        "keymap": "",
        "kvm_extra": "",
        "kvm_flag": "",
        "kvm_path": "/usr/bin/kvm",
        "kvm_pci_reservations": 12,
        "machine_version": "",
        "mem_path": "",
        "migration_bandwidth": 32,
        "migration_caps": "",
        "migration_downtime": 30,
        "migration_mode": "live",
        "migration_port": 8102,
        "nic_type": "paravirtual",
        "reboot_behavior": "reboot",
        "root_path": "/dev/vda1",
        "scsi_controller_type": "lsi",
        "security_domain": "",
        "security_model": "none",
        "serial_console": True,
        "serial_speed": 38400,
        "soundhw": "",
        "spice_bind": "",
        "spice_image_compression": "",
        "spice_ip_version": 0,
        "spice_jpeg_wan_compression": "",
        "spice_password_file": "",
        "spice_playback_compression": True,
        "spice_streaming_video": "",
        "spice_tls_ciphers": "HIGH:-DES:-3DES:-EXPORT:-DH",
        "spice_use_tls": False,
        "spice_use_vdagent": True,
        "spice_zlib_glz_wan_compression": "",
        "usb_devices": "",
        "usb_mouse": "",
        "use_chroot": False,
        "use_guest_agent": False,
        "use_localtime": False,
        "user_shutdown": False,
        "vga": "",
        "vhost_net": False,
        "virtio_net_queues": 1,
        "vnc_bind_address": "",
        "vnc_password_file": "",
        "vnc_tls": False,
        "vnc_x509_path": "",
        "vnc_x509_verify": False,
        "vnet_hdr": True,
    },
    HT_XEN_PVM: {
        "blockdev_prefix": "sd",
        "bootloader_args": "",
        "bootloader_path": "",
        "cpu_cap": 0,
        "cpu_mask": "all",
        "cpu_weight": 256,
        "cpuid": "",
        "initrd_path": "",
        "kernel_args": "ro",
        "kernel_path": "/boot/vmlinuz-3-xenU",
        "migration_mode": "live",
        "migration_port": 8002,
        "reboot_behavior": "reboot",
        "root_path": "/dev/xvda1",
        "soundhw": "",
        "use_bootloader": False,
        "vif_script": "",
        "xen_cmd": "xm",
    },
    HT_CHROOT: {
        "init_script": "/ganeti-chroot",
    },
    HT_XEN_HVM: {
        "acpi": True,
        "blockdev_prefix": "hd",
        "boot_order": "cd",
        "cdrom_image_path": "",
        "cpu_cap": 0,
        "cpu_mask": "all",
        "cpu_weight": 256,
        "cpuid": "",
        "device_model": "/usr/lib/xen/bin/qemu-dm",
        "disk_type": "paravirtual",
        "kernel_path": "/usr/lib/xen/boot/hvmloader",
        "migration_mode": "non-live",
        "migration_port": 8002,
        "nic_type": "rtl8139",
        "pae": True,
        "pci_pass": "",
        "reboot_behavior": "reboot",
        "soundhw": "",
        "use_localtime": False,
        "vif_script": "",
        "vif_type": "ioemu",
        "viridian": False,
        "vnc_bind_address": "0.0.0.0",
        "vnc_password_file": "/etc/ganeti/vnc-cluster-password",
        "xen_cmd": "xm",
    },
    HT_LXC: {
        "cpu_mask": "",
        "devices": ("c 1:3 rw,c 1:5 rw,c 1:7 rw,c 1:8 rw,c 1:9 rw,c 1:10 rw,"
                    "c 5:0 rw,c 5:1 rw,c 5:2 rw,c 136:* rw"),
        "drop_capabilities": ("mac_override,sys_boot,sys_module,sys_time,"
                              "sys_admin"),
        "extra_cgroups": "",
        "extra_config": "",
        "num_ttys": 6,
        "startup_timeout": 30,
    },
    HT_FAKE: {
        "migration_mode": "live",
    },
}

# parameters that can only be set cluster-wide (constants.HVC_GLOBALS)
HVC_GLOBALS = ("migration_bandwidth", "migration_mode", "migration_port",
               "xen_cmd")


def _types_of(defaults, special=None):
    """Value types derived from default values (the types Ganeti declares)."""
    out = {}
    for key, value in defaults.items():
        if isinstance(value, bool):
            out[key] = VTYPE_BOOL
        elif isinstance(value, int):
            out[key] = VTYPE_INT
        elif isinstance(value, float):
            out[key] = VTYPE_FLOAT
        else:
            out[key] = VTYPE_STRING
    out.update(special or {})
    return out


# constants.HVS_PARAMETER_TYPES (one table for all hypervisors)
HVS_PARAMETER_TYPES = {}
for _params in HVC_DEFAULTS.values():
    HVS_PARAMETER_TYPES.update(_types_of(_params))
HVS_PARAMETER_TYPES["root_path"] = VTYPE_MAYBE_STRING
del _params

BEC_DEFAULTS = {
    "minmem": 128,
    "maxmem": 128,
    "vcpus": 1,
    "auto_balance": True,
    "always_failover": False,
    "spindle_use": 1,
}
BES_PARAMETER_TYPES = {
    "always_failover": VTYPE_BOOL,
    "auto_balance": VTYPE_BOOL,
    "maxmem": VTYPE_SIZE,
    "minmem": VTYPE_SIZE,
    "spindle_use": VTYPE_INT,
    "vcpus": VTYPE_INT,
}
# "memory" is accepted on input and becomes minmem = maxmem (UpgradeBeParams)
BES_PARAMETER_COMPAT = dict(BES_PARAMETER_TYPES, memory=VTYPE_SIZE)

NICC_DEFAULTS = {
    "mode": NIC_MODE_BRIDGED,
    "link": DEFAULT_BRIDGE,
    "vlan": "",
}
NICS_PARAMETER_TYPES = {
    "mode": VTYPE_STRING,
    "link": VTYPE_STRING,
    "vlan": VTYPE_STRING,
}

NDC_DEFAULTS = {
    "oob_program": "",
    "spindle_count": 1,
    "exclusive_storage": False,
    "ovs": False,
    "ovs_name": DEFAULT_OVS,
    "ovs_link": "",
    "ssh_port": 22,
    "cpu_speed": 1,
}
NDS_PARAMETER_TYPES = {
    "exclusive_storage": VTYPE_BOOL,
    "oob_program": VTYPE_STRING,
    "ovs": VTYPE_BOOL,
    "ovs_link": VTYPE_MAYBE_STRING,
    "ovs_name": VTYPE_MAYBE_STRING,
    "spindle_count": VTYPE_INT,
    "ssh_port": VTYPE_INT,
    "cpu_speed": VTYPE_FLOAT,
}
# node parameters that only the cluster and node groups may set
NDC_GLOBALS = ("exclusive_storage",)

DISK_DT_DEFAULTS = {
    DT_BLOCK: {},
    DT_DISKLESS: {},
    DT_DRBD8: {
        "c-delay-target": 1,
        "c-fill-target": 0,
        "c-max-rate": 61440,
        "c-min-rate": 4096,
        "c-plan-ahead": 20,
        "data-stripes": 1,
        "disk-barriers": "n",
        "disk-custom": "",
        "dynamic-resync": False,
        "meta-barriers": False,
        "meta-stripes": 1,
        "metavg": DEFAULT_VG,
        "net-custom": "",
        "protocol": "C",
        "resync-rate": 61440,
    },
    DT_EXT: {
        "access": "kernelspace",
    },
    DT_FILE: {},
    DT_GLUSTER: {
        "access": "kernelspace",
        "host": "127.0.0.1",
        "port": 24007,
        "volume": "gv0",
    },
    DT_PLAIN: {
        "stripes": 1,
    },
    DT_RBD: {
        "access": "kernelspace",
        "pool": "rbd",
    },
    DT_SHARED_FILE: {},
}
DISK_DT_TYPES = {}
for _params in DISK_DT_DEFAULTS.values():
    DISK_DT_TYPES.update(_types_of(_params))
del _params
DISK_VALID_ACCESS_MODES = ("kernelspace", "userspace")

ISPECS_PARAMETER_TYPES = {
    "memory-size": VTYPE_INT,
    "disk-size": VTYPE_INT,
    "disk-count": VTYPE_INT,
    "cpu-count": VTYPE_INT,
    "nic-count": VTYPE_INT,
    "spindle-use": VTYPE_INT,
}
ISPECS_MINMAX = "minmax"
ISPECS_STD = "std"
IPOLICY_DTS = "disk-templates"
IPOLICY_VCPU_RATIO = "vcpu-ratio"
IPOLICY_SPINDLE_RATIO = "spindle-ratio"
IPOLICY_PARAMETERS = (IPOLICY_VCPU_RATIO, IPOLICY_SPINDLE_RATIO)
IPOLICY_ALL_KEYS = (ISPECS_MINMAX, ISPECS_STD, IPOLICY_DTS) + IPOLICY_PARAMETERS

IPOLICY_DEFAULTS = {
    ISPECS_MINMAX: [
        {
            "min": {
                "memory-size": 128,
                "disk-size": 1024,
                "disk-count": 1,
                "cpu-count": 1,
                "nic-count": 1,
                "spindle-use": 1,
            },
            "max": {
                "memory-size": 32768,
                "disk-size": 1048576,
                "disk-count": 16,
                "cpu-count": 8,
                "nic-count": 8,
                "spindle-use": 12,
            },
        },
    ],
    ISPECS_STD: {
        "memory-size": 128,
        "disk-size": 1024,
        "disk-count": 1,
        "cpu-count": 1,
        "nic-count": 1,
        "spindle-use": 1,
    },
    IPOLICY_SPINDLE_RATIO: 32,
    IPOLICY_VCPU_RATIO: 4,
    IPOLICY_DTS: list(DISK_TEMPLATES),
}

HVST_DEFAULTS = {
    "cpu_node": 1,
    "cpu_total": 1,
    "mem_hv": 0,
    "mem_node": 0,
    "mem_total": 0,
}
HVSTS_PARAMETER_TYPES = _types_of(HVST_DEFAULTS)
DS_DEFAULTS = {"disk_total": 0, "disk_reserved": 0, "disk_overhead": 0}
DSS_PARAMETER_TYPES = _types_of(DS_DEFAULTS)

# mond's data collectors; interval in microseconds (5 s)
DATA_COLLECTOR_NAMES = ("cpu-avg-load", "diskstats", "drbd", "inst-status-xen",
                        "lv", "xen-cpu-avg-load")
DATA_COLLECTOR_DEFAULTS = {"active": True, "interval": 5000000}

_KINDS = {
    "be": BES_PARAMETER_COMPAT,
    "nic": NICS_PARAMETER_TYPES,
    "nd": NDS_PARAMETER_TYPES,
    "ispec": ISPECS_PARAMETER_TYPES,
    "hvstate": HVSTS_PARAMETER_TYPES,
    "diskstate": DSS_PARAMETER_TYPES,
}


def _type_error(msg):
    from qganeti import errors
    return errors.TypeEnforcementError(msg)


def parse_unit(value):
    """A size as Ganeti's ParseUnit reads it: MiB, rounded up to a multiple of 4.

    "512", "512M", "1.5g", "2T" ...; raises errors.UnitParseError.
    """
    import re
    from qganeti import errors
    match = re.match(r"^([.\d]+)\s*([a-zA-Z]+)?$", str(value))
    if not match:
        raise errors.UnitParseError("Invalid format")
    try:
        amount = float(match.group(1))
    except ValueError:
        raise errors.UnitParseError("Invalid format")
    unit = match.group(2) or ""
    lower = unit.lower() or "m"
    if lower in ("m", "mb", "mib"):
        pass
    elif lower in ("g", "gb", "gib"):
        amount *= 1024
    elif lower in ("t", "tb", "tib"):
        amount *= 1024 * 1024
    else:
        raise errors.UnitParseError("Unknown unit: %s" % unit)
    if int(amount) < amount:
        amount += 1
    amount = int(amount)
    if amount % 4:
        amount += 4 - amount % 4
    return amount


def _force(key, value, vtype):
    """VALUE converted to VTYPE as Ganeti's ForceDictType does, or an error."""
    if vtype in (VTYPE_STRING, VTYPE_MAYBE_STRING):
        if value is None and vtype == VTYPE_MAYBE_STRING:
            return value
        if isinstance(value, str):
            return value
        if isinstance(value, bool) and not value:
            return ""
        raise _type_error("'%s' (value %s) is not a valid string" % (key, value))
    if vtype == VTYPE_BOOL:
        if isinstance(value, str) and value:
            if value.lower() == "false":
                return False
            if value.lower() == "true":
                return True
            raise _type_error("'%s' (value %s) is not a valid boolean"
                              % (key, value))
        return bool(value)
    if vtype == VTYPE_SIZE:
        from qganeti import errors
        try:
            return parse_unit(value)
        except errors.UnitParseError as err:
            raise _type_error("'%s' (value %s) is not a valid size. error: %s"
                              % (key, value, err))
    if vtype == VTYPE_INT:
        try:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(value)
        except (ValueError, TypeError, OverflowError):
            raise _type_error("'%s' (value %s) is not a valid integer"
                              % (key, value))
    if vtype == VTYPE_FLOAT:
        try:
            return float(value)
        except (ValueError, TypeError):
            raise _type_error("'%s' (value %s) is not a valid float"
                              % (key, value))
    raise ValueError("non-enforceable type %s" % vtype)


def parameter_types(kind, hypervisor=None, template=None):
    """{name: vtype} of the parameters of KIND (see the module docstring)."""
    if kind == "hv":
        if hypervisor is None:
            return HVS_PARAMETER_TYPES
        if hypervisor not in HVC_DEFAULTS:
            from qganeti import errors
            raise errors.OpPrereqError("Unknown hypervisor '%s'" % hypervisor,
                                       errors.ECODE_INVAL)
        return dict((key, HVS_PARAMETER_TYPES[key])
                    for key in HVC_DEFAULTS[hypervisor])
    if kind == "disk":
        if template is None:
            return DISK_DT_TYPES
        return dict((key, DISK_DT_TYPES[key])
                    for key in DISK_DT_DEFAULTS[template])
    try:
        return _KINDS[kind]
    except KeyError:
        raise ValueError("unknown parameter kind %r" % (kind,))


def check_params(kind, params, hypervisor=None, template=None,
                 allowed_values=()):
    """PARAMS checked and converted like Ganeti's ForceDictType; a new dict.

    Unknown names and values of the wrong type raise
    errors.TypeEnforcementError with Ganeti's wording ("Unknown parameter
    'x'", "'x' (value y) is not a valid integer" ...).  Values in
    ALLOWED_VALUES (e.g. "default") pass unconverted.  For "be", the legacy
    "memory" becomes minmem and maxmem.
    """
    types = parameter_types(kind, hypervisor, template)
    if not isinstance(params, dict):
        raise _type_error("Expected dictionary, got '%s'" % (params,))
    out = {}
    for key, value in params.items():
        if key not in types:
            raise _type_error("Unknown parameter '%s'" % key)
        if value in allowed_values and not isinstance(value, bool):
            out[key] = value
            continue
        out[key] = _force(key, value, types[key])
    if kind == "be" and "memory" in out:
        memory = out.pop("memory")
        out["maxmem"] = memory
        out["minmem"] = memory
    return out


def check_not_global(params, globals_, kind_name, level):
    """Ganeti's CheckParamsNotGlobal: refuse cluster-only parameters at LEVEL."""
    used = [key for key in params if key in globals_]
    if used:
        from qganeti import errors
        raise errors.OpPrereqError(
            "The following %s parameters are global and cannot be customized"
            " at %s level, please modify them at cluster level: %s"
            % (kind_name, level, ", ".join(used)), errors.ECODE_INVAL)


# Filling (objects.FillDict and the objects.Cluster Fill* methods)

def fill_dict(defaults, custom, skip_keys=None):
    """DEFAULTS overlaid with CUSTOM, minus SKIP_KEYS (Ganeti's FillDict)."""
    out = copy.deepcopy(defaults)
    out.update(custom)
    for key in skip_keys or ():
        out.pop(key, None)
    return out


def fill_ipolicy(default_ipolicy, custom_ipolicy):
    """Ganeti's FillIPolicy: missing keys from the default; std merged."""
    out = copy.deepcopy(custom_ipolicy)
    for key, value in default_ipolicy.items():
        if key not in out:
            out[key] = copy.deepcopy(value)
        elif key == ISPECS_STD:
            out[key] = fill_dict(value, out[key])
    return out


def fill_diskparams(default_dparams, custom_dparams, skip_keys=None):
    """Ganeti's FillDiskParams: every template, its defaults overlaid."""
    return dict((dt, fill_dict(default_dparams.get(dt, {}),
                               custom_dparams.get(dt, {}), skip_keys))
                for dt in DISK_TEMPLATES)


def hv_defaults(cluster, hypervisor, os_name=None, skip_keys=None):
    """Cluster-level hvparams of HYPERVISOR, with OS_NAME's os_hvp over them."""
    out = fill_dict({}, cluster.get("hvparams", {}).get(hypervisor, {}),
                    skip_keys)
    if os_name is not None:
        os_hvp = cluster.get("os_hvp", {}).get(os_name, {}).get(hypervisor, {})
        out = fill_dict(out, os_hvp, skip_keys)
    return out


def simple_fill_hv(cluster, hypervisor, os_name, hvparams, skip_globals=False):
    """Ganeti's Cluster.SimpleFillHV."""
    skip = HVC_GLOBALS if skip_globals else None
    return fill_dict(hv_defaults(cluster, hypervisor, os_name, skip),
                     hvparams, skip)


def fill_hv(cluster, instance, skip_globals=False):
    """An instance's full hvparams (Ganeti's Cluster.FillHV)."""
    return simple_fill_hv(cluster, instance["hypervisor"], instance.get("os"),
                          instance.get("hvparams", {}), skip_globals)


def simple_fill_be(cluster, beparams):
    return fill_dict(cluster.get("beparams", {}).get(PP_DEFAULT, {}), beparams)


def fill_be(cluster, instance):
    """An instance's full beparams (Ganeti's Cluster.FillBE)."""
    return simple_fill_be(cluster, instance.get("beparams", {}))


def simple_fill_nic(cluster, nicparams):
    """A NIC's full nicparams (Ganeti's Cluster.SimpleFillNIC)."""
    return fill_dict(cluster.get("nicparams", {}).get(PP_DEFAULT, {}),
                     nicparams)


def simple_fill_nd(cluster, ndparams):
    return fill_dict(cluster.get("ndparams", {}), ndparams)


def fill_nd(cluster, group, node):
    """A node's full ndparams: cluster, then its group, then the node."""
    return simple_fill_nd(cluster, fill_dict(group.get("ndparams", {}),
                                             node.get("ndparams", {})))


def fill_nd_group(cluster, group):
    return simple_fill_nd(cluster, group.get("ndparams", {}))


def simple_fill_ipolicy(cluster, ipolicy):
    return fill_ipolicy(cluster.get("ipolicy", {}), ipolicy)


def simple_fill_dp(cluster, diskparams):
    """A group's full diskparams (Ganeti's Cluster.SimpleFillDP)."""
    return fill_diskparams(cluster.get("diskparams", {}), diskparams)


def simple_fill_os(cluster, os_name, os_params, private=False):
    """OS parameters: cluster's for the OS, its variant's, then OS_PARAMS."""
    table = cluster.get("osparams_private_cluster" if private else "osparams",
                        {})
    base = fill_dict(table.get(os_name.split("+", 1)[0], {}),
                     table.get(os_name, {}))
    return fill_dict(base, os_params)


def upgrade_beparams(beparams):
    """Ganeti's UpgradeBeParams: legacy memory -> minmem/maxmem, in place."""
    if "memory" in beparams:
        memory = beparams.pop("memory")
        beparams["maxmem"] = memory
        beparams["minmem"] = memory
    return beparams
