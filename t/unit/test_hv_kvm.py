"""hv_kvm and kvm_params: Ganeti's parameter checks, qemu's command line,
the accelerator choice, and a real qemu driven through QMP (no guest
kernel needed: it stays in its firmware, paused or not)."""

import json
import os
import shutil

import pytest

from qganeti import defaults, errors, hv_kvm, kvm_params

needs_qemu = pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None,
                                reason="qemu-system-x86_64 is not installed")


def hvparams(**changes):
    out = dict(defaults.HVC_DEFAULTS["kvm"], kernel_path="", kvm_flag="disabled")
    out.update(changes)
    return out


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("QGANETI_ROOT", str(tmp_path))
    monkeypatch.setenv("QGANETI_HOSTNAME", "node1.example.com")
    yield tmp_path
    for name in hv_kvm.list_instances():
        hv_kvm.stop(name, force=True)


# -- parameters --------------------------------------------------------------------

def test_ganeti_defaults_pass_the_syntax_check():
    kvm_params.check_syntax(dict(defaults.HVC_DEFAULTS["kvm"]))


@pytest.mark.parametrize("change, message", [
    ({"boot_order": "usb"}, "Parameter 'boot_order' fails syntax check: The value must be"
                            " one of: cdrom, disk, floppy, network (current value: 'usb')"),
    ({"kvm_path": ""}, "Parameter 'kvm_path' is required but is currently not defined"),
    ({"initrd_path": "../initrd"}, "Parameter 'initrd_path' fails syntax check: must be an"
                                   " absolute normalized path"),
    ({"migration_downtime": -1}, "Parameter 'migration_downtime' fails syntax check:"
                                 " cannot be negative"),
    ({"kvm_flag": "maybe"}, "Parameter 'kvm_flag' fails syntax check: The value must be one"
                            " of: enabled, disabled"),
    ({"root_path": ""}, "Need a root partition for the instance, if a kernel is defined"),
    ({"boot_order": "cdrom"}, "Cannot boot from cdrom without an ISO path"),
    ({"security_model": "user"}, "A security domain (user to run kvm as) must be specified"),
    ({"security_domain": "nobody"}, "Cannot have a security domain when the security model"
                                    " is 'none' or 'pool'"),
    ({"spice_bind": "127.0.0.1"}, "Parameter 'spice_bind' is not supported by qganeti's kvm"),
    ({"colour": "blue"}, "Parameter 'colour' is not supported"),
])
def test_syntax_errors_have_ganetis_wording(change, message):
    params = dict(defaults.HVC_DEFAULTS["kvm"])
    params.update(change)
    with pytest.raises(errors.HypervisorError) as err:
        kvm_params.check_syntax(params)
    assert message in str(err.value)


def test_validate_checks_the_nodes_files(tmp_path):
    kernel = tmp_path / "vmlinuz"
    kernel.write_bytes(b"")
    kvm_params.validate(hvparams(kernel_path=str(kernel)))
    with pytest.raises(errors.HypervisorError, match="'kernel_path' fails validation: not"
                                                     " found or not a file"):
        kvm_params.validate(hvparams(kernel_path=str(tmp_path / "missing")))
    with pytest.raises(errors.HypervisorError, match="Unknown security domain user"):
        kvm_params.validate(hvparams(security_model="user", security_domain="no-such-user-x"))
    with pytest.raises(errors.HypervisorError, match="VNC: The vnc_bind_address"):
        kvm_params.validate(hvparams(vnc_bind_address="not an address"))


# -- command line and acceleration ----------------------------------------------------

def test_command_line_follows_the_hvparams(root, tmp_path):
    disk = tmp_path / "disk0"
    disk.write_bytes(b"\0" * 4096)
    data = {"uuid": "7c079136-2573-4112-82d0-0d3d2aa90d8f", "network_port": 11005,
            "hvparams": hvparams(kernel_path="/boot/vmlinuz", kernel_args="ro quiet",
                                 vnc_bind_address="127.0.0.1", cpu_cores=2, disk_cache="none",
                                 reboot_behavior="exit", nic_type="e1000",
                                 kvm_extra="-rtc base=utc"),
            "disks": [{"uuid": "9f5c5bd4-6f60-480b-acdc-9bb1a4b7df79", "template": "sharedfile",
                       "path": str(disk), "mode": "ro", "index": 0}],
            "nics": [{"uuid": "003fc157-66a8-4e6d-8b7e-ec4f69751396",
                      "mac": "aa:00:00:bf:2f:16", "mode": "bridged", "link": "br0"}]}
    argv = hv_kvm.build_argv("web1", 512, 2, data, "tcg", [7])
    line = " ".join(argv)
    assert argv[:7] == ["/usr/bin/kvm", "-name", "web1", "-m", "512", "-smp", "2,cores=2"]
    assert "-machine pc,accel=tcg -nodefaults" in line
    assert "-vnc 127.0.0.1:5105" in line           # display = network port - 5900
    assert "-append root=/dev/vda1 ro quiet console=ttyS0,38400" in line
    assert "-no-reboot" in argv and "-S" in argv
    assert "-netdev tap,id=netdev-003fc157-66a8-4e6d,fd=7" in line
    assert ("driver=e1000,netdev=netdev-003fc157-66a8-4e6d,mac=aa:00:00:bf:2f:16,"
            "id=nic-003fc157-66a8-4e6d") in line
    blockdev = json.loads(argv[argv.index("-blockdev") + 1])
    assert blockdev["read-only"] is True and blockdev["cache"]["direct"] is True
    assert blockdev["file"]["filename"] == str(disk)
    assert argv[-2:] == ["-rtc", "base=utc"]    # kvm_extra, split as a shell would
    with pytest.raises(errors.HypervisorError, match="Cannot find disk 0"):
        hv_kvm.build_argv("web1", 512, 2, dict(data, disks=[dict(data["disks"][0],
                                                                path="/nonexistent")]),
                          "tcg", [7])


def test_accelerator_choice(monkeypatch):
    assert hv_kvm.choose_accel({"kvm_flag": "disabled"}) == ("tcg", "kvm_flag is disabled")
    monkeypatch.setattr(hv_kvm, "kvm_usable", lambda: (False, "/dev/kvm: No such file"))
    assert hv_kvm.choose_accel({"kvm_flag": ""}) == (
        "tcg", "automatic fallback to TCG: /dev/kvm: No such file")
    with pytest.raises(errors.HypervisorError, match="kvm_flag=enabled"):
        hv_kvm.choose_accel({"kvm_flag": "enabled"})
    monkeypatch.setattr(hv_kvm, "kvm_usable", lambda: (True, ""))
    assert hv_kvm.choose_accel({"kvm_flag": ""}) == ("kvm", "")


def test_names_are_checked(root):
    for bad in ("", "../x", "a/b", "-x"):
        with pytest.raises(errors.HypervisorError, match="Invalid instance name"):
            hv_kvm.pid_file(bad)


# -- a real qemu ------------------------------------------------------------------------

@needs_qemu
def test_a_real_qemu_through_qmp(root):
    data = {"uuid": "0b5ad3e1-2f1c-4f4e-9f21-8d1c0d7a6b01", "hvparams": hvparams(),
            "disks": [], "nics": []}
    hv_kvm.start("vm1", 128, 2, data=data, paused=True)
    with pytest.raises(errors.HypervisorError, match="already running"):
        hv_kvm.start("vm1", 128, 2, data=data)
    info = hv_kvm.instance_info("vm1")
    assert info["paused"] and info["status"] == "prelaunch"
    assert (info["vcpus"], info["memory"], info["accel"]) == (2, 128, "tcg")
    hv_kvm.resume("vm1")
    assert hv_kvm.instance_info("vm1")["status"] == "running"
    assert hv_kvm.list_instances() == {"vm1": {"state": "running", "memory": 128, "vcpus": 2}}
    memory = hv_kvm.node_memory()
    assert memory["memory_instances"] == 128
    assert 0 < memory["memory_free"] <= memory["memory_total"]
    runtime = json.load(open(hv_kvm.runtime_file("vm1")))
    assert runtime[0][:3] == ["/usr/bin/kvm", "-name", "vm1"] and len(runtime) == 5
    # no guest answers the power button: killed after the timeout
    assert hv_kvm.stop("vm1", timeout=1) == {"stopped": True, "forced": True}
    assert hv_kvm.instance_info("vm1") is None
    assert not os.listdir(os.path.join(hv_kvm.root_dir(), "conf"))
    with pytest.raises(errors.HypervisorError, match="not running"):
        hv_kvm.stop("vm1")


@needs_qemu
def test_qemu_failing_to_start_reports_its_message(root):
    data = {"hvparams": hvparams(kvm_extra="-no-such-option"), "disks": [], "nics": []}
    with pytest.raises(errors.HypervisorError) as err:
        hv_kvm.start("vm2", 128, 1, data=data)
    assert "qemu exited with code 1" in str(err.value)
    assert "-no-such-option: invalid option" in str(err.value)
    assert hv_kvm.load_runtime("vm2") is None and not hv_kvm.is_running("vm2")
    with pytest.raises(errors.HypervisorError, match="no instance description"):
        hv_kvm.start("vm2", 128, 1)


def test_console_kinds(root):
    ssh = hv_kvm.console("vm1", {"hvparams": hvparams(), "host": "node2", "port": 22})
    assert ssh["kind"] == "ssh" and ssh["host"] == "node2" and ssh["user"] == "root"
    assert ssh["command"] == ["socat", "STDIO,raw,echo=0,escape=0x1d",
                              "UNIX-CONNECT:" + hv_kvm.serial_socket("vm1")]
    vnc = hv_kvm.console("vm1", {"hvparams": hvparams(serial_console=False,
                                                      vnc_bind_address="0.0.0.0"),
                                 "network_port": 11000})
    assert (vnc["kind"], vnc["port"], vnc["display"]) == ("vnc", 11000, 5100)
    msg = hv_kvm.console("vm1", {"hvparams": hvparams(serial_console=False)})
    assert msg == {"instance": "vm1", "kind": "msg",
                   "message": "No serial shell for instance vm1"}


@needs_qemu
def test_security_model_user_and_chroot(root):
    import pwd
    nobody = pwd.getpwnam("nobody")
    data = {"hvparams": hvparams(security_model="user", security_domain="nobody",
                                 use_chroot=True), "disks": [], "nics": []}
    hv_kvm.start("vm3", 128, 1, data=data, paused=True)
    pid = int(open(hv_kvm.pid_file("vm3")).read())
    status = open("/proc/%d/status" % pid).read()
    assert "\nUid:\t%d\t" % nobody.pw_uid in status
    assert os.readlink("/proc/%d/root" % pid) == hv_kvm.chroot_dir("vm3")
    assert hv_kvm.instance_info("vm3")["status"] == "prelaunch"   # QMP still answers
    hv_kvm.stop("vm3", force=True)
    assert not os.path.exists(hv_kvm.chroot_dir("vm3"))


@needs_qemu
def test_vnc_listens_on_the_instance_network_port(root):
    import socket
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    if port <= hv_kvm.VNC_BASE_PORT:
        pytest.skip("no free port above 5900")
    data = {"hvparams": hvparams(vnc_bind_address="127.0.0.1", serial_console=False),
            "network_port": port, "disks": [], "nics": []}
    hv_kvm.start("vm4", 128, 1, data=data, paused=True)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        assert conn.recv(12).startswith(b"RFB 003.")
    hv_kvm.stop("vm4", force=True)
