"""The kvm hypervisor's parameters: Ganeti's checks and messages.

check_syntax() is Ganeti's CheckParameterSyntax (cheap, on the master: the
values' form); validate() is its ValidateParameters (on the node: files
exist, the user exists).  Both raise errors.HypervisorError with Ganeti's
wording.  The names and defaults are defaults.HVC_DEFAULTS["kvm"].
"""

import os

from qganeti import errors

BOOT_ORDERS = ("cdrom", "disk", "floppy", "network")
NIC_TYPES = ("e1000", "i82551", "i8259er", "i82557b", "ne2k_isa", "ne2k_pci", "paravirtual",
             "pcnet", "rtl8139")
DISK_TYPES = ("ide", "scsi", "sd", "mtd", "pflash", "paravirtual", "scsi-block",
              "scsi-generic", "scsi-hd", "scsi-cd")
CACHE_TYPES = ("default", "none", "writethrough", "writeback")
AIO_TYPES = ("threads", "native", "io_uring")
DISCARD_TYPES = ("default", "ignore", "unmap")
SECURITY_MODELS = ("none", "user", "pool")
KVM_FLAGS = ("enabled", "disabled")
REBOOT_BEHAVIORS = ("reboot", "exit")
MOUSE_TYPES = ("mouse", "tablet")
MIGRATION_MODES = ("live", "non-live")
SERIAL_SPEEDS = (75, 110, 300, 600, 1200, 1800, 2400, 4800, 9600, 14400, 19200, 28800,
                 38400, 57600, 115200, 230400, 345600, 460800)
SCSI_CONTROLLERS = ("lsi", "virtio-scsi-pci", "megasas", "megasas-gen2")


def _norm_abs(path):
    return isinstance(path, str) and os.path.isabs(path) and os.path.normpath(path) == path


def _in(values):
    return (lambda x: x in values, "The value must be one of: %s" % ", ".join(values))


_FILE = (_norm_abs, "must be an absolute normalized path")
_NONNEG = (lambda x: isinstance(x, int) and x >= 0, "cannot be negative")
_PORT = (lambda x: isinstance(x, int) and 0 < x < 65535, "invalid port number")

# name: (required, (syntax check, message)); file/dir: what validate() checks
SYNTAX = {
    "kvm_path": (True, _FILE), "kernel_path": (False, _FILE), "initrd_path": (False, _FILE),
    "vnc_x509_path": (False, _FILE), "vnc_password_file": (False, _FILE),
    "spice_password_file": (False, _FILE), "floppy_image_path": (False, _FILE),
    "cdrom_image_path": (False, _FILE), "cdrom2_image_path": (False, _FILE),
    "mem_path": (False, _FILE),
    "boot_order": (True, _in(BOOT_ORDERS)), "nic_type": (True, _in(NIC_TYPES)),
    "disk_type": (True, _in(DISK_TYPES)), "cdrom_disk_type": (False, _in(DISK_TYPES)),
    "usb_mouse": (False, _in(MOUSE_TYPES)), "disk_cache": (True, _in(CACHE_TYPES)),
    "disk_aio": (True, _in(AIO_TYPES)), "disk_discard": (True, _in(DISCARD_TYPES)),
    "security_model": (True, _in(SECURITY_MODELS)), "kvm_flag": (False, _in(KVM_FLAGS)),
    "reboot_behavior": (True, _in(REBOOT_BEHAVIORS)),
    "migration_mode": (True, _in(MIGRATION_MODES)),
    "scsi_controller_type": (True, _in(SCSI_CONTROLLERS)),
    "migration_port": (True, _PORT), "migration_bandwidth": (True, _NONNEG),
    "migration_downtime": (True, _NONNEG), "cpu_cores": (False, _NONNEG),
    "cpu_threads": (False, _NONNEG), "cpu_sockets": (False, _NONNEG),
    "kvm_pci_reservations": (False, _NONNEG),
    "virtio_net_queues": (True, (lambda x: isinstance(x, int) and 1 <= x <= 8,
                                 "must be between 1 and 8")),
}
FILES = ("kvm_path", "kernel_path", "initrd_path", "vnc_password_file", "spice_password_file",
         "floppy_image_path", "cdrom_image_path", "cdrom2_image_path")
DIRS = ("vnc_x509_path", "mem_path")
# what qganeti's kvm does not implement: they must keep their default
UNSUPPORTED = ("spice_bind", "use_guest_agent", "user_shutdown", "vnc_tls",
               "vnc_x509_path", "vnc_x509_verify", "soundhw", "floppy_image_path")


def _unspecified(value):
    return value is None or value == ""


def check_syntax(hvparams):
    """Ganeti's KVMHypervisor.CheckParameterSyntax over filled HVPARAMS."""
    from qganeti import defaults
    known = defaults.HVC_DEFAULTS["kvm"]
    for key in hvparams:
        if key not in known:
            raise errors.HypervisorError("Parameter '%s' is not supported" % key)
    for name in known:
        if name not in hvparams:
            raise errors.HypervisorError("Parameter '%s' is missing" % name)
    for name, (required, (check, message)) in sorted(SYNTAX.items()):
        value = hvparams[name]
        if _unspecified(value):
            if required:
                raise errors.HypervisorError("Parameter '%s' is required but is currently"
                                             " not defined" % name)
            continue
        if not check(value):
            raise errors.HypervisorError("Parameter '%s' fails syntax check: %s (current"
                                         " value: '%s')" % (name, message, value))
    for name in UNSUPPORTED:
        if hvparams[name] and hvparams[name] != known[name]:
            raise errors.HypervisorError("Parameter '%s' is not supported by qganeti's kvm"
                                         " hypervisor" % name)
    if hvparams["kernel_path"] and not hvparams["root_path"]:
        raise errors.HypervisorError("Need a root partition for the instance, if a kernel"
                                     " is defined")
    if hvparams["serial_console"] and hvparams["serial_speed"] not in SERIAL_SPEEDS:
        raise errors.HypervisorError("Invalid serial console speed, must be one of: %s"
                                     % ", ".join(str(s) for s in SERIAL_SPEEDS))
    if hvparams["boot_order"] == "cdrom" and not hvparams["cdrom_image_path"]:
        raise errors.HypervisorError("Cannot boot from cdrom without an ISO path")
    model = hvparams["security_model"]
    if model == "user" and not hvparams["security_domain"]:
        raise errors.HypervisorError("A security domain (user to run kvm as) must be"
                                     " specified")
    if model in ("none", "pool") and hvparams["security_domain"]:
        raise errors.HypervisorError("Cannot have a security domain when the security model"
                                     " is 'none' or 'pool'")
    if model == "pool":
        raise errors.HypervisorError("The security model 'pool' is not supported by"
                                     " qganeti's kvm hypervisor")


def validate(hvparams):
    """Ganeti's ValidateParameters: what the node itself must have."""
    for name in FILES:
        value = hvparams.get(name)
        if value and not os.path.isfile(value):
            raise errors.HypervisorError("Parameter '%s' fails validation: not found or not a"
                                         " file (current value: '%s')" % (name, value))
    for name in DIRS:
        value = hvparams.get(name)
        if value and not os.path.isdir(value):
            raise errors.HypervisorError("Parameter '%s' fails validation: not found or not a"
                                         " directory (current value: '%s')" % (name, value))
    if hvparams.get("security_model") == "user":
        import pwd
        try:
            pwd.getpwnam(hvparams["security_domain"])
        except KeyError:
            raise errors.HypervisorError("Unknown security domain user %s"
                                         % hvparams["security_domain"])
    address = hvparams.get("vnc_bind_address")
    if address:
        from qganeti import netutils
        if not (netutils.is_ipv4(address) or _norm_abs(address)):
            raise errors.HypervisorError("VNC: The vnc_bind_address parameter must be either"
                                         " a valid IP address or an absolute path")
