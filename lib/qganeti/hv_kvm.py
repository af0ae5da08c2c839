"""The kvm hypervisor: real qemu-system-x86_64 processes on this node.

Files, as Ganeti's hv_kvm lays them out, under
$ROOT/var/run/qganeti/kvm-hypervisor/:

    pid/<name>             qemu's pid file (-pidfile)
    ctrl/<name>.qmp        the QMP monitor socket
    ctrl/<name>.serial     the serial console socket
    conf/<name>.runtime    the runtime file of a running instance: Ganeti's
                           [argv, nics, hvparams, disks] plus a fifth element,
                           {memory, vcpus, accel, accel_note, data}, data being
                           the instance description it was started from
    nic/<name>/<index>     the tap device of each NIC
    chroot/<name>          the empty directory qemu runs in (use_chroot)

and $ROOT/var/log/qganeti/kvm/<name>.log (qemu's messages, the OS scripts'
output) and <name>.serial.log (everything the guest printed on its serial
console).  qemu runs with its control directory as working directory, so
the sockets have short relative names whatever the root is.

The instance description ("data") that start() and accept() take is what
lu/instance_util.hv_payload() builds: {name, uuid, hvparams (filled),
beparams, disks: [{uuid, path, template, mode, ...}], nics: [{uuid, mac, ip,
mode, link, ...}], network_port}.

Stopping presses the ACPI power button through QMP and kills qemu when the
guest has not powered off within the timeout; a reboot is a stop and a
start from the runtime file (Ganeti's).  Disks and NICs are hotplugged
through QMP (blockdev-add / device_add; a NIC's tap descriptor is passed
with getfd), and the runtime file follows.  security_model=user runs qemu
as security_domain (-runas), use_chroot in an empty chroot/<name>.

Acceleration: kvm_flag "enabled" needs a usable /dev/kvm, "disabled" means
TCG, and "" (the default) uses KVM when /dev/kvm can be opened and falls
back to TCG otherwise; what was chosen, and why, is in instance_info().

Migration (the node actions instance-accept ... instance-migrate-abort call
these with a JSON dict and print what they return):

    accept(name, {"instance": data, "target": ADDR, "port": N})
        target: start qemu waiting for the incoming migration on ADDR:N
        (port: the hvparam migration_port when missing) -> {"address", "port"}
    migrate(name, {"target": ADDR, "port": N, "live": bool,
                   "bandwidth": MiB/s, "downtime": ms})
        source: set the limits (hvparams migration_bandwidth/_downtime when
        missing) and start sending -> migration_status()
    migration_status(name, {}) -> {"status": qemu's (active, completed,
        failed, cancelled ...), "transferred_ram", "total_ram",
        "remaining_ram" (bytes), "total_time", "downtime", "setup_time" (ms)}
    finalize_target(name, {"success": bool})
        success: wait until the guest runs here (resumed if it came paused,
        as a non-live migration sends it), record it; failure: kill
    finalize_source(name, {"success": bool})
        success: stop the emptied source qemu; failure: resume the guest
    abort_migration(name, {}) -> cancel a migration in progress, resume the
        guest on the source -> migration_status()
"""

import os
import time

from qganeti import errors, fastjson, paths

ROOT_DIR_NAME = "kvm-hypervisor"
DEFAULT_SHUTDOWN_TIMEOUT = 120
VNC_BASE_PORT = 5900
SOCAT = "socat"
SOCAT_CONSOLE_OPTIONS = "raw,echo=0,escape=0x1d"
_BOOT_DEVICES = {"disk": "c", "cdrom": "d", "network": "n", "floppy": "a"}
_NIC_MODELS = {"paravirtual": "virtio-net-pci", "i8259er": "i82559er"}
_DISK_DEVICES = {"paravirtual": "virtio-blk-pci", "ide": "ide-hd", "scsi": "scsi-hd",
                 "scsi-hd": "scsi-hd", "scsi-cd": "scsi-cd"}
MIB = 1024 * 1024
SIGKILL = 9     # the signal module costs an enum import to every node action


# -- where things are --------------------------------------------------------------

def _check_name(name):
    if (not isinstance(name, str) or not name or "/" in name or name in (".", "..")
            or "\0" in name or name.startswith("-")):
        raise errors.HypervisorError("Invalid instance name '%s'" % (name,))
    return name


def root_dir():
    return os.path.join(paths.run_dir(), ROOT_DIR_NAME)


def ctrl_dir():
    return os.path.join(root_dir(), "ctrl")


def pid_file(name):
    return os.path.join(root_dir(), "pid", _check_name(name))


def qmp_socket(name):
    return os.path.join(ctrl_dir(), _check_name(name) + ".qmp")


def serial_socket(name):
    return os.path.join(ctrl_dir(), _check_name(name) + ".serial")


def runtime_file(name):
    return os.path.join(root_dir(), "conf", _check_name(name) + ".runtime")


def nic_dir(name):
    return os.path.join(root_dir(), "nic", _check_name(name))


def chroot_dir(name):
    """The empty directory qemu chroots into (use_chroot)."""
    return os.path.join(root_dir(), "chroot", _check_name(name))


def log_dir():
    return os.path.join(paths.log_dir(), "kvm")


def log_file(name):
    return os.path.join(log_dir(), _check_name(name) + ".log")


def serial_log(name):
    return os.path.join(log_dir(), _check_name(name) + ".serial.log")


def _make_dirs():
    for sub in ("pid", "ctrl", "conf", "nic"):
        os.makedirs(os.path.join(root_dir(), sub), 0o750, exist_ok=True)
    os.makedirs(log_dir(), 0o750, exist_ok=True)


# -- the qemu process ----------------------------------------------------------------

def _pid(name):
    """The pid of NAME's qemu if it is alive (and really ours), else None."""
    try:
        with open(pid_file(name)) as handle:
            pid = int(handle.read().strip())
    except (OSError, ValueError):
        return None
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            argv = handle.read().split(b"\0")
    except OSError:
        return None
    # a recycled pid, or a zombie (empty command line), is not the instance
    wanted = os.fsencode(pid_file(name))
    for i, arg in enumerate(argv[:-1]):
        if arg == b"-pidfile" and argv[i + 1] == wanted:
            return pid
    return None


def is_running(name):
    return _pid(name) is not None


def _wait_gone(name, timeout):
    deadline = time.monotonic() + timeout
    while _pid(name) is not None:
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def _kill(name):
    pid = _pid(name)
    if pid is None:
        return
    try:
        os.kill(pid, SIGKILL)
    except ProcessLookupError:
        return
    if not _wait_gone(name, 30):
        raise errors.HypervisorError("Failed to stop instance %s: qemu (pid %d) survived"
                                     " SIGKILL" % (name, pid))


def load_runtime(name):
    """The runtime file of NAME as a dict (None when there is none)."""
    try:
        with open(runtime_file(name)) as handle:
            argv, nics, hvparams, disks, extra = fastjson.loads(handle.read())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        raise errors.HypervisorError("Broken runtime file of %s: %s" % (name, err))
    return dict(extra, argv=argv, nics=nics, hvparams=hvparams, disks=disks)


def _save_runtime(name, rt):
    from qganeti import fileio
    extra = {k: v for k, v in rt.items() if k not in ("argv", "nics", "hvparams", "disks")}
    doc = [rt["argv"], rt["nics"], rt["hvparams"], rt["disks"], extra]
    fileio.atomic_write(runtime_file(name), fastjson.dumps(doc, sort_keys=True),
                        mode=0o640, durable=False)


def cleanup(name):
    """Remove the state files of NAME (its qemu must be gone)."""
    for path in (pid_file(name), qmp_socket(name), serial_socket(name), runtime_file(name)):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
    directory = nic_dir(name)
    try:
        for entry in os.listdir(directory):
            os.unlink(os.path.join(directory, entry))
        os.rmdir(directory)
    except FileNotFoundError:
        pass
    _remove_chroot(name)


def _remove_chroot(name):
    """Remove NAME's chroot; one that is not empty any more is kept aside in
    chroot-quarantine/ for a look (as Ganeti does: it should stay empty)."""
    directory = chroot_dir(name)
    try:
        os.rmdir(directory)
    except FileNotFoundError:
        pass
    except OSError:
        quarantine = os.path.join(root_dir(), "chroot-quarantine")
        os.makedirs(quarantine, 0o750, exist_ok=True)
        os.rename(directory, os.path.join(quarantine, "%s-%d" % (name, int(time.time()))))


def _log(name, message):
    from qganeti import fileio
    fileio.append_log_line(log_file(name), message)


def console_log(name, message):
    """Keep a line (the OS scripts' output) in NAME's kvm log."""
    _log(name, message)


# -- acceleration --------------------------------------------------------------------

def kvm_usable():
    """(True, "") if /dev/kvm can be used, else (False, why not)."""
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError as err:
        return False, "/dev/kvm: %s" % (err.strerror or err)
    os.close(fd)
    return True, ""


def choose_accel(hvparams):
    """(accel, note): "kvm" or "tcg" as kvm_flag asks, and why."""
    flag = hvparams.get("kvm_flag") or ""
    if flag == "disabled":
        return "tcg", "kvm_flag is disabled"
    usable, why = kvm_usable()
    if usable:
        return "kvm", ""
    if flag == "enabled":
        raise errors.HypervisorError("KVM acceleration is required (kvm_flag=enabled) but not"
                                     " usable on this node: %s" % why)
    return "tcg", "automatic fallback to TCG: %s" % why


# -- the command line ------------------------------------------------------------------

def _short_id(uuid, index):
    """A device id as Ganeti builds it (the first three parts of the UUID)."""
    if uuid:
        return "-".join(uuid.split("-")[:3])
    return "idx%d" % index


def disk_ids(disk, index):
    short = _short_id(disk.get("uuid"), index)
    return "disk-" + short, "drive-" + short


def nic_ids(nic, index):
    short = _short_id(nic.get("uuid"), index)
    return "nic-" + short, "netdev-" + short


def disk_path(disk):
    from qganeti import storage
    path = disk.get("path")
    if not path:
        raise errors.HypervisorError("Disk %s has no path (template %s is not supported by"
                                     " the kvm hypervisor here)"
                                     % (disk.get("index"), disk.get("template")))
    local = storage.local(disk.get("template"), path)
    if not os.path.exists(local):
        raise errors.HypervisorError("Cannot find disk %s: %s does not exist"
                                     % (disk.get("index"), local))
    return local


def blockdev_spec(disk, index, hvparams):
    """The QMP blockdev-add arguments of DISK (also used on the command line)."""
    _, drive = disk_ids(disk, index)
    cache = hvparams.get("disk_cache") or "default"
    spec = {"driver": "raw", "node-name": drive,
            "read-only": disk.get("mode") == "ro",
            "cache": {"direct": cache == "none", "no-flush": False},
            "file": {"driver": "file", "filename": disk_path(disk),
                     "aio": hvparams.get("disk_aio") or "threads"}}
    if hvparams.get("disk_discard") == "unmap":
        spec["discard"] = "unmap"
    if spec["file"]["aio"] == "native" and cache != "none":
        raise errors.HypervisorError("disk_aio 'native' needs disk_cache 'none'")
    return spec


def disk_device(disk, index, hvparams):
    """The QMP device_add arguments of DISK."""
    device, drive = disk_ids(disk, index)
    kind = hvparams.get("disk_type") or "paravirtual"
    if kind not in _DISK_DEVICES:
        raise errors.HypervisorError("Disk type '%s' cannot be used with file disks or"
                                     " hotplug" % kind)
    spec = {"driver": _DISK_DEVICES[kind], "drive": drive, "id": device}
    if hvparams.get("disk_cache") == "writethrough":
        spec["write-cache"] = "off"
    if kind.startswith("scsi"):
        spec["bus"] = "scsi0.0"
    return spec


def nic_device(nic, index, hvparams):
    """The QMP device_add arguments of NIC."""
    device, netdev = nic_ids(nic, index)
    kind = hvparams.get("nic_type") or "paravirtual"
    return {"driver": _NIC_MODELS.get(kind, kind), "netdev": netdev, "mac": nic["mac"],
            "id": device}


def _flat(spec, prefix=""):
    """QMP arguments as a -device / -blockdev option string."""
    parts = []
    for key, value in spec.items():
        if isinstance(value, dict):
            parts.append(_flat(value, prefix + key + "."))
            continue
        if isinstance(value, bool):
            value = "on" if value else "off"
        parts.append("%s%s=%s" % (prefix, key, value))
    return ",".join(parts)


def _smp(vcpus, hvp):
    out = str(vcpus)
    for key in ("cores", "threads", "sockets"):
        if hvp.get("cpu_" + key):
            out += ",%s=%d" % (key, hvp["cpu_" + key])
    return out


def build_argv(name, memory, vcpus, data, accel, tap_fds, incoming=None):
    """qemu's command line for NAME (TAP_FDS: one open tap per NIC)."""
    import shlex
    hvp = data["hvparams"]
    machine = "%s,accel=%s" % (hvp.get("machine_version") or "pc", accel)
    if not hvp.get("acpi"):
        machine += ",acpi=off"
    argv = [hvp.get("kvm_path") or "/usr/bin/kvm", "-name", name, "-m", str(memory),
            "-smp", _smp(vcpus, hvp), "-pidfile", pid_file(name), "-daemonize",
            "-machine", machine, "-nodefaults", "-no-user-config",
            "-qmp", "unix:%s.qmp,server=on,wait=off" % name,
            "-device", "virtio-balloon-pci,id=balloon"]
    if data.get("uuid"):
        argv += ["-uuid", data["uuid"]]
    if incoming:
        argv += ["-incoming", "tcp:%s:%d" % incoming]
    else:
        argv.append("-S")   # NICs are connected before the guest runs
    if hvp.get("reboot_behavior") == "exit":
        argv.append("-no-reboot")
    if hvp.get("cpu_type"):
        argv += ["-cpu", hvp["cpu_type"]]
    if hvp.get("mem_path"):
        argv += ["-mem-path", hvp["mem_path"], "-mem-prealloc"]
    if hvp.get("serial_console"):
        argv += ["-chardev", "socket,id=serial0,path=%s.serial,server=on,wait=off,"
                 "logfile=%s,logappend=on" % (name, serial_log(name).replace(",", ",,")),
                 "-serial", "chardev:serial0"]
    address = hvp.get("vnc_bind_address")
    if address:
        if address.startswith("/"):
            vnc = "unix:" + address
        else:
            port = data.get("network_port") or 0
            if port <= VNC_BASE_PORT:
                raise errors.HypervisorError("No VNC display for instance %s: its network"
                                             " port %s is not above %d"
                                             % (name, port, VNC_BASE_PORT))
            vnc = "%s:%d" % (address, port - VNC_BASE_PORT)
        if hvp.get("vnc_password_file"):
            vnc += ",password=on"
        argv += ["-vnc", vnc, "-vga", hvp.get("vga") or "std"]
        if hvp.get("keymap"):
            argv += ["-k", hvp["keymap"]]
    else:
        argv += ["-display", "none"]
        if hvp.get("vga"):
            argv += ["-vga", hvp["vga"]]
    if hvp.get("usb_mouse") or hvp.get("usb_devices"):
        argv += ["-usb"]
        if hvp.get("usb_mouse"):
            argv += ["-device", "usb-" + hvp["usb_mouse"]]
        for dev in (hvp.get("usb_devices") or "").split(","):
            if dev.strip():
                argv += ["-device", {"keyboard": "usb-kbd"}.get(dev.strip(),
                                                               "usb-" + dev.strip())]
    if hvp.get("kernel_path"):
        argv += ["-kernel", hvp["kernel_path"]]
        if hvp.get("initrd_path"):
            argv += ["-initrd", hvp["initrd_path"]]
        append = ["root=%s" % hvp["root_path"]] if hvp.get("root_path") else []
        if hvp.get("kernel_args"):
            append.append(hvp["kernel_args"])
        if hvp.get("serial_console"):
            append.append("console=ttyS0,%s" % hvp.get("serial_speed"))
        argv += ["-append", " ".join(append)]
    argv += ["-boot", "order=" + _BOOT_DEVICES.get(hvp.get("boot_order"), "c")]
    for key, index in (("cdrom_image_path", 2), ("cdrom2_image_path", 3)):
        if hvp.get(key):
            argv += ["-drive", "file=%s,media=cdrom,readonly=on,if=ide,index=%d"
                     % (hvp[key].replace(",", ",,"), index)]
    disks = data.get("disks") or []
    if any((hvp.get("disk_type") or "").startswith("scsi") for _ in disks[:1]):
        controller = hvp.get("scsi_controller_type") or "lsi"
        argv += ["-device", "%s,id=scsi0" % controller]
    for index, disk in enumerate(disks):
        if hvp.get("disk_type") in ("sd", "mtd", "pflash"):
            argv += ["-drive", "file=%s,format=raw,if=%s%s" % (
                disk_path(disk).replace(",", ",,"), hvp["disk_type"],
                ",readonly=on" if disk.get("mode") == "ro" else "")]
            continue
        argv += ["-blockdev", fastjson.dumps(blockdev_spec(disk, index, hvp)),
                 "-device", _flat(disk_device(disk, index, hvp))]
    for index, (nic, fd) in enumerate(zip(data.get("nics") or [], tap_fds)):
        _, netdev = nic_ids(nic, index)
        option = "tap,id=%s,fd=%d" % (netdev, fd)
        if hvp.get("vhost_net"):
            option += ",vhost=on"
        argv += ["-netdev", option, "-device", _flat(nic_device(nic, index, hvp))]
    if hvp.get("security_model") == "user":
        argv += ["-runas", hvp["security_domain"]]
    if hvp.get("use_chroot"):
        argv += ["-chroot", chroot_dir(name)]
    if hvp.get("kvm_extra"):
        argv += shlex.split(hvp["kvm_extra"])
    return argv


# -- start, stop, reboot ---------------------------------------------------------------

def _open_taps(nics, hvparams):
    from qganeti import kvm_net
    taps = []
    try:
        for _ in nics:
            taps.append(kvm_net.open_tap(hvparams.get("vnet_hdr", True)))
    except BaseException:
        for _, fd in taps:
            os.close(fd)
        raise
    return taps


def _connect_nics(name, nics, taps):
    from qganeti import kvm_net
    os.makedirs(nic_dir(name), 0o750, exist_ok=True)
    for index, (nic, (tap, _)) in enumerate(zip(nics, taps)):
        kvm_net.configure(tap, nic)
        with open(os.path.join(nic_dir(name), str(index)), "w") as handle:
            handle.write(tap + "\n")


def _run_qemu(name, argv, fds):
    import subprocess
    try:
        proc = subprocess.run(argv, cwd=ctrl_dir(), pass_fds=fds, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    except FileNotFoundError:
        raise errors.HypervisorError("Failed to start instance %s: %s not found"
                                     % (name, argv[0]))
    except subprocess.TimeoutExpired:
        raise errors.HypervisorError("Failed to start instance %s: qemu did not start"
                                     " within 120 seconds" % name)
    output = proc.stdout.decode("utf-8", "replace").strip()
    if output:
        _log(name, "qemu: " + output.replace("\n", "\n    "))
    if proc.returncode != 0:
        lines = [line.strip() for line in output.splitlines() if line.strip()]
        raise errors.HypervisorError("Failed to start instance %s: qemu exited with code %d:"
                                     " %s" % (name, proc.returncode,
                                              "; ".join(lines[-5:]) or "no message"))


def start(name, memory, vcpus, paused=False, data=None, incoming=None):
    """Start NAME from its description DATA (see the module docstring)."""
    from qganeti import kvm_params
    _check_name(name)
    if not isinstance(data, dict) or not isinstance(data.get("hvparams"), dict):
        raise errors.HypervisorError("Failed to start instance %s: no instance description"
                                     " (hvparams, disks, nics) was given" % name)
    if is_running(name):
        raise errors.HypervisorError("Failed to start instance %s: already running" % name)
    hvp = data["hvparams"]
    kvm_params.validate(hvp)
    accel, note = choose_accel(hvp)
    _make_dirs()
    cleanup(name)
    if hvp.get("use_chroot"):
        os.makedirs(chroot_dir(name), 0o755)
    nics = data.get("nics") or []
    taps = _open_taps(nics, hvp)
    try:
        argv = build_argv(name, memory, vcpus, data, accel, [fd for _, fd in taps], incoming)
        _log(name, "starting: " + " ".join(argv))
        _run_qemu(name, argv, [fd for _, fd in taps])
    except BaseException:
        cleanup(name)
        raise
    finally:
        for _, fd in taps:
            os.close(fd)
    try:
        _connect_nics(name, nics, taps)
        rt = {"argv": argv, "hvparams": hvp, "disks": data.get("disks") or [],
              "nics": [dict(nic, tap=tap) for nic, (tap, _) in zip(nics, taps)],
              "memory": memory, "vcpus": vcpus, "accel": accel, "accel_note": note,
              "data": data}
        _save_runtime(name, rt)
        if hvp.get("vnc_password_file"):
            with open(hvp["vnc_password_file"]) as handle:
                password = handle.readline().strip()
            _qmp(name, "change-vnc-password", {"password": password})
        if not paused and not incoming:
            _qmp(name, "cont")
    except BaseException:
        _kill(name)
        cleanup(name)
        raise


def _qmp(name, command, arguments=None, timeout=10.0):
    from qganeti import qmp
    return qmp.execute(qmp_socket(name), command, arguments, timeout)


def stop(name, timeout=None, force=False):
    """Stop NAME: ACPI power button, then SIGKILL after TIMEOUT seconds.

    {"stopped": True, "forced": whether qemu had to be killed}.
    """
    if not is_running(name):
        cleanup(name)
        raise errors.HypervisorError("Failed to stop instance %s: not running" % name)
    rt = load_runtime(name) or {}
    acpi = (rt.get("hvparams") or {}).get("acpi", True)
    timeout = DEFAULT_SHUTDOWN_TIMEOUT if timeout is None else timeout
    forced = False
    if not force and acpi:
        try:
            _qmp(name, "system_powerdown")
        except errors.HypervisorError as err:
            _log(name, "powerdown failed: %s" % err)
        if not _wait_gone(name, timeout):
            _log(name, "did not power off within %s seconds: killed" % timeout)
            forced = True
    else:
        forced = True
    _kill(name)
    cleanup(name)
    _log(name, "stopped%s" % (" (killed)" if forced else ""))
    return {"stopped": True, "forced": forced}


def reboot(name, hard=False, timeout=None):
    """Ganeti's kvm reboot: stop (soft: ACPI first) and start from the runtime."""
    rt = load_runtime(name)
    if rt is None or not is_running(name):
        raise errors.HypervisorError("Failed to reboot instance %s: not running" % name)
    stop(name, timeout=timeout, force=hard)
    start(name, rt["memory"], rt["vcpus"], data=rt["data"])


def pause(name):
    _qmp(name, "stop")


def resume(name):
    _qmp(name, "cont")


def balloon(name, memory):
    """Change the memory of a running instance (virtio balloon)."""
    rt = load_runtime(name)
    if rt is None or not is_running(name):
        raise errors.HypervisorError("Failed to balloon memory for %s: not running" % name)
    _qmp(name, "balloon", {"value": memory * MIB})
    rt["memory"] = memory
    _save_runtime(name, rt)


# -- what runs -------------------------------------------------------------------------

def instance_info(name):
    """{state, memory, vcpus, paused, status, accel, accel_note} or None."""
    if not is_running(name):
        return None
    rt = load_runtime(name) or {}
    info = {"state": "running", "memory": rt.get("memory", 0), "vcpus": rt.get("vcpus", 1),
            "paused": False, "status": "unknown", "accel": rt.get("accel"),
            "accel_note": rt.get("accel_note", "")}
    from qganeti import qmp
    try:
        with qmp.Connection(qmp_socket(name), timeout=5.0) as conn:
            status = conn.execute("query-status")
            info["status"] = status.get("status")
            info["paused"] = not status.get("running")
            info["vcpus"] = len(conn.execute("query-cpus-fast") or []) or info["vcpus"]
            try:
                info["memory"] = conn.execute("query-balloon")["actual"] // MIB
            except errors.HypervisorError:
                pass
    except errors.HypervisorError:
        pass
    return info


def list_instances():
    """{name: {state, memory, vcpus}} of the qemu instances alive here."""
    directory = os.path.join(root_dir(), "conf")
    try:
        entries = os.listdir(directory)
    except FileNotFoundError:
        return {}
    out = {}
    for entry in entries:
        if not entry.endswith(".runtime") or entry.startswith("."):
            continue
        name = entry[:-len(".runtime")]
        if not is_running(name):
            continue
        try:
            rt = load_runtime(name)
        except errors.HypervisorError:
            rt = None
        if rt:
            out[name] = {"state": "running", "memory": rt["memory"], "vcpus": rt["vcpus"]}
    return out


def verify():
    """None if instances can run here, else what is wrong (Ganeti's Verify)."""
    import shutil
    problems = []
    for binary in ("/usr/bin/kvm", "qemu-system-x86_64"):
        if not shutil.which(binary):
            problems.append("The KVM binary ('%s') does not exist" % binary)
    if not shutil.which(SOCAT):
        problems.append("The socat binary ('%s') does not exist" % SOCAT)
    return "; ".join(problems) or None


def node_memory():
    """Ganeti's GetLinuxNodeInfo figures (qemu's memory is the host's own)."""
    from qganeti import hv_fake
    info = hv_fake.read_meminfo()
    total = info.get("MemTotal", 0) // 1024
    free = (info.get("MemFree", 0) + info.get("Buffers", 0) + info.get("Cached", 0)) // 1024
    used = sum(i["memory"] for i in list_instances().values())
    return {"memory_total": total, "memory_dom0": total - free, "memory_free": free,
            "memory_instances": used}


# -- console ---------------------------------------------------------------------------

def console(name, data):
    """Ganeti's GetInstanceConsole, as seen from this node (DATA: hvparams,
    network_port, host, port, user)."""
    hvp = (data or {}).get("hvparams") or {}
    if hvp.get("serial_console", True):
        return {"instance": name, "kind": "ssh", "host": data.get("host") or paths.hostname(),
                "port": data.get("port"), "user": data.get("user") or "root",
                "command": [SOCAT, "STDIO,%s" % SOCAT_CONSOLE_OPTIONS,
                            "UNIX-CONNECT:%s" % serial_socket(name)]}
    address = hvp.get("vnc_bind_address")
    port = data.get("network_port") or 0
    if address and port > VNC_BASE_PORT:
        return {"instance": name, "kind": "vnc", "host": address, "port": port,
                "display": port - VNC_BASE_PORT}
    return {"instance": name, "kind": "msg",
            "message": "No serial shell for instance %s" % name}


def read_console(name, max_bytes=65536):
    """The end of what NAME printed on its serial console ("" if nothing)."""
    from qganeti import fileio
    return fileio.read_tail(serial_log(name), max_bytes)


def rename_console(old, new):
    for path in (log_file, serial_log):
        try:
            os.rename(path(old), path(new))
        except FileNotFoundError:
            pass


def remove_console(name):
    for path in (log_file(name), serial_log(name)):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


# -- live migration (see the module docstring) ------------------------------------------

_MIGRATION_ACTIVE = ("setup", "active", "pre-switchover", "device", "cancelling",
                     "wait-unplug", "postcopy-active")


def accept(name, data):
    """Target side: qemu waiting for NAME's state on ADDR:PORT."""
    inst = (data or {}).get("instance")
    if not isinstance(inst, dict) or not isinstance(inst.get("hvparams"), dict):
        raise errors.HypervisorError("Can't accept instance %s: no instance description"
                                     % name)
    if is_running(name):
        raise errors.HypervisorError("Can't accept instance, already running")
    address = data.get("target") or "0.0.0.0"
    port = int(data.get("port") or inst["hvparams"].get("migration_port") or 8102)
    bep = inst.get("beparams") or {}
    memory = int(data.get("memory") or bep.get("maxmem") or 128)
    vcpus = int(data.get("vcpus") or bep.get("vcpus") or 1)
    start(name, memory, vcpus, data=inst, incoming=(address, port))
    return {"address": address, "port": port}


def migration_status(name, data=None):
    """What qemu says about the migration of NAME (query-migrate)."""
    reply = _qmp(name, "query-migrate") or {}
    ram = reply.get("ram") or {}
    return {"status": reply.get("status", "none"),
            "transferred_ram": ram.get("transferred", 0), "total_ram": ram.get("total", 0),
            "remaining_ram": ram.get("remaining", 0), "total_time": reply.get("total-time"),
            "downtime": reply.get("downtime"), "setup_time": reply.get("setup-time"),
            "expected_downtime": reply.get("expected-downtime")}


def migrate(name, data):
    """Source side: start sending NAME to TARGET:PORT; the first status."""
    from qganeti import qmp
    rt = load_runtime(name)
    if rt is None or not is_running(name):
        raise errors.HypervisorError("Instance %s is not running, cannot migrate" % name)
    data = data or {}
    hvp = rt["hvparams"]
    if not data.get("target"):
        raise errors.HypervisorError("Cannot migrate instance %s: no target address" % name)
    port = int(data.get("port") or hvp.get("migration_port") or 8102)
    bandwidth = int(data.get("bandwidth", hvp.get("migration_bandwidth", 32)))
    downtime = int(data.get("downtime", hvp.get("migration_downtime", 30)))
    with qmp.Connection(qmp_socket(name)) as conn:
        conn.execute("migrate-set-parameters", {"max-bandwidth": bandwidth * MIB,
                                                "downtime-limit": downtime})
        if not data.get("live", True):
            conn.execute("stop")
        conn.execute("migrate", {"uri": "tcp:%s:%d" % (data["target"], port)})
    _log(name, "migrating to %s:%d (%d MiB/s, %d ms)" % (data["target"], port, bandwidth,
                                                        downtime))
    return migration_status(name)


def _wait_status(name, wanted, timeout):
    deadline = time.monotonic() + timeout
    while True:
        status = (_qmp(name, "query-status") or {}).get("status")
        if status in wanted or time.monotonic() >= deadline:
            return status
        time.sleep(0.1)


def finalize_target(name, data):
    """Target side: keep the guest (success) or drop what accept() started."""
    if (data or {}).get("success"):
        status = _wait_status(name, ("running", "paused"), 60)
        if status not in ("running", "paused"):
            raise errors.HypervisorError("Instance %s did not resume after the migration"
                                         " (qemu status %s)" % (name, status))
        if status == "paused":
            # a non-live migration stopped the guest before sending it; it
            # arrives stopped, and runs again here
            _qmp(name, "cont")
        _log(name, "migrated here")
        return instance_info(name)
    if is_running(name):
        _kill(name)
    cleanup(name)
    _log(name, "incoming migration dropped")
    return {"stopped": True}


def finalize_source(name, data):
    """Source side: the guest left (success: stop qemu) or stays (resume it)."""
    if (data or {}).get("success"):
        _kill(name)
        cleanup(name)
        _log(name, "migrated away")
        return {"stopped": True}
    if is_running(name) and _wait_status(name, ("running",), 0) != "running":
        _qmp(name, "cont")
    _log(name, "migration failed: running here again")
    return instance_info(name)


def abort_migration(name, data=None):
    """Cancel NAME's outgoing migration; the guest runs on here."""
    _qmp(name, "migrate_cancel")
    deadline = time.monotonic() + 30
    status = migration_status(name)
    while status["status"] in _MIGRATION_ACTIVE and time.monotonic() < deadline:
        time.sleep(0.1)
        status = migration_status(name)
    if _wait_status(name, ("running",), 0) != "running":
        _qmp(name, "cont")
    _log(name, "migration cancelled (%s)" % status["status"])
    return status


# -- hotplug ---------------------------------------------------------------------------

HOTPLUG_TIMEOUT = 30


def hotplug_supported(name):
    """Ganeti's HotplugSupported: the instance must run here."""
    if not is_running(name):
        raise errors.HotplugError("Instance %s is not running" % name)


def _unplug(conn, name, device):
    """device_del DEVICE and wait until the guest let it go."""
    conn.execute("device_del", {"id": device})
    if conn.wait_event("DEVICE_DELETED", {"device": device}, HOTPLUG_TIMEOUT) is None:
        raise errors.HotplugError("Instance %s did not release device %s within %d seconds"
                                  % (name, device, HOTPLUG_TIMEOUT))


def hotplug(name, action, kind, data):
    """Add or remove disk or NIC DATA ({"device": payload, "index": N}) of
    running instance NAME through QMP; the runtime file follows."""
    from qganeti import qmp
    hotplug_supported(name)
    rt = load_runtime(name)
    device, index = data.get("device") or {}, int(data.get("index") or 0)
    hvp = rt["hvparams"]
    key = "disks" if kind == "disk" else "nics"
    with qmp.Connection(qmp_socket(name)) as conn:
        if kind == "disk" and action == "add":
            conn.execute("blockdev-add", blockdev_spec(device, index, hvp))
            conn.execute("device_add", disk_device(device, index, hvp))
        elif kind == "disk" and action == "remove":
            dev_id, drive = disk_ids(device, index)
            _unplug(conn, name, dev_id)
            conn.execute("blockdev-del", {"node-name": drive})
        elif kind == "nic" and action == "add":
            from qganeti import kvm_net
            tap, fd = kvm_net.open_tap(hvp.get("vnet_hdr", True))
            dev_id, netdev = nic_ids(device, index)
            try:
                conn.execute("getfd", {"fdname": netdev}, fds=[fd])
            finally:
                os.close(fd)
            conn.execute("netdev_add", {"type": "tap", "id": netdev, "fd": netdev})
            kvm_net.configure(tap, device)
            conn.execute("device_add", nic_device(device, index, hvp))
            device = dict(device, tap=tap)
        elif kind == "nic" and action == "remove":
            dev_id, netdev = nic_ids(device, index)
            _unplug(conn, name, dev_id)
            conn.execute("netdev_del", {"id": netdev})
        else:
            raise errors.HotplugError("Hotplug action %s of a %s is not supported"
                                      % (action, kind))
    uuid = device.get("uuid")
    for holder in (rt, rt["data"]):
        items = [d for d in holder.get(key) or [] if d.get("uuid") != uuid]
        if action == "add":
            items.insert(min(index, len(items)), device)
        holder[key] = items
    _save_runtime(name, rt)
    _log(name, "hotplug: %s %s %s" % (action, kind, uuid))
    return True
