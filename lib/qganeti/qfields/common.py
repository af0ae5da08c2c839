"""Fields every config object table has, and the parameter field builders."""

from qganeti.query import (NODATA, QFT_BOOL, QFT_NUMBER, QFT_NUMBER_FLOAT, QFT_OTHER,
                           QFT_TEXT, QFT_TIMESTAMP, QFT_UNIT, Field)


def _float_key(key):
    # a Double on luxid's side: JSON-encoded as an integer when it is one
    def getter(obj, ctx):
        value = obj.get(key)
        if value is None:
            return NODATA
        value = float(value)
        return int(value) if value.is_integer() else value
    return getter


def common_fields(entity, forthcoming=False):
    """ctime, mtime, serial_no, uuid, tags (and forthcoming) of ENTITY."""
    fields = [
        Field("ctime", "CTime", QFT_TIMESTAMP, "Creation timestamp", _float_key("ctime")),
        Field("mtime", "MTime", QFT_TIMESTAMP, "Modification timestamp", _float_key("mtime")),
        Field("serial_no", "SerialNo", QFT_NUMBER,
              "%s object serial number, incremented on each modification" % entity,
              lambda obj, ctx: obj.get("serial_no", 0)),
        Field("uuid", "UUID", QFT_TEXT, "%s UUID" % entity, lambda obj, ctx: obj.get("uuid")),
    ]
    if forthcoming:
        fields.append(Field("forthcoming", "Forthcoming", QFT_BOOL,
                            "whether the %s is forthcoming" % entity,
                            lambda obj, ctx: bool(obj.get("forthcoming", False))))
    fields.append(Field("tags", "Tags", QFT_OTHER, "Tags",
                        lambda obj, ctx: sorted(obj.get("tags") or [])))
    return fields


#: parameter kinds (Ganeti's VType -> query field kind)
_KIND = {"bool": QFT_BOOL, "int": QFT_NUMBER, "size": QFT_UNIT, "float": QFT_NUMBER_FLOAT,
         "string": QFT_OTHER}

#: node parameters: name -> (type, title)
ND_PARAMS = {
    "exclusive_storage": ("bool", "ExclusiveStorage"),
    "oob_program": ("string", "OutOfBandProgram"),
    "ovs": ("bool", "OpenvSwitch"),
    "ovs_link": ("string", "OpenvSwitchLink"),
    "ovs_name": ("string", "OpenvSwitchName"),
    "spindle_count": ("int", "SpindleCount"),
    "ssh_port": ("int", None),
    "cpu_speed": ("float", None),
}

#: backend parameters: name -> (type, title)
BE_PARAMS = {
    "always_failover": ("bool", None),
    "auto_balance": ("bool", "Auto_balance"),
    "maxmem": ("size", "ConfigMaxMem"),
    "minmem": ("size", "ConfigMinMem"),
    "spindle_use": ("int", None),
    "vcpus": ("int", "ConfigVCPUs"),
}

_HV_BOOL = ("acpi spice_playback_compression spice_use_tls spice_use_vdagent use_chroot"
            " user_shutdown pae serial_console use_bootloader use_guest_agent use_localtime"
            " vhost_net viridian vnc_tls vnc_x509_verify vnet_hdr").split()
_HV_INT = ("cpu_cap cpu_cores cpu_sockets cpu_threads cpu_weight kvm_pci_reservations"
           " spice_ip_version num_ttys startup_timeout migration_bandwidth"
           " migration_downtime migration_port serial_speed virtio_net_queues").split()
_HV_STRING = ("blockdev_prefix bootloader_args bootloader_path boot_order cdrom_image_path"
              " cpu_mask cpu_type device_model disk_cache disk_discard disk_type initrd_path"
              " init_script kernel_args kernel_path keymap cdrom2_image_path cdrom_disk_type"
              " kvm_extra kvm_flag floppy_image_path machine_version migration_caps kvm_path"
              " disk_aio scsi_controller_type spice_bind spice_jpeg_wan_compression"
              " spice_image_compression spice_password_file spice_streaming_video"
              " spice_tls_ciphers spice_zlib_glz_wan_compression devices drop_capabilities"
              " extra_cgroups extra_config mem_path migration_mode nic_type pci_pass"
              " reboot_behavior root_path security_domain security_model soundhw usb_devices"
              " usb_mouse vga vif_script vif_type vnc_bind_address vnc_password_file"
              " vnc_x509_path xen_cmd cpuid").split()
_HV_TITLES = {
    "acpi": "ACPI", "boot_order": "Boot_order", "cdrom_image_path": "CDROM_image_path",
    "cpu_type": "cpu_type", "disk_type": "Disk_type", "initrd_path": "Initrd_path",
    "kernel_path": "Kernel_path", "nic_type": "NIC_type", "pae": "PAE",
    "pci_pass": "pci_pass", "vnc_bind_address": "VNC_bind_address",
}

#: every hypervisor parameter of Ganeti 3.0: name -> (type, title)
HV_PARAMS = {}
for _names, _kind in ((_HV_BOOL, "bool"), (_HV_INT, "int"), (_HV_STRING, "string")):
    for _name in _names:
        HV_PARAMS[_name] = (_kind, _HV_TITLES.get(_name))
del _names, _kind, _name

#: hypervisor parameters that are cluster-wide, without instance fields
HV_GLOBALS = ("migration_bandwidth", "migration_mode", "migration_port", "xen_cmd")


def param_field(prefix, group_word, name, spec, getter):
    """A `prefix/name` parameter field (Ganeti's buildParamField)."""
    kind, title = spec
    return Field("%s/%s" % (prefix, name), title or "%s/%s" % (prefix, name), _KIND[kind],
                 'The "%s" %s parameter' % (name, group_word), getter)


def nd_param_fields(ndparams_of):
    """ndp/<param> fields; ndparams_of(obj, ctx) -> filled dict or None."""
    fields = []
    for name, spec in ND_PARAMS.items():
        def getter(obj, ctx, name=name):
            params = ndparams_of(obj, ctx)
            if params is None:
                return NODATA
            value = params.get(name)
            return NODATA if value is None else value
        fields.append(param_field("ndp", "node", name, spec, getter))
    return fields
