"""Live migration between two virtual nodes of this machine, driven through
hv_kvm's migration functions (as the node actions call them): a guest that
prints a counter on its console keeps counting across the move, without a
reboot.  Two state roots, one machine, qemu's migration over loopback."""

import os
import re
import shutil
import socket
import subprocess
import time

import pytest

REPO = os.path.join(os.path.dirname(__file__), "..", "..")
pytestmark = pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None,
                                reason="qemu-system-x86_64 is not installed")


@pytest.fixture(scope="module")
def guest():
    proc = subprocess.run([os.path.join(REPO, "t", "lib", "kvm-guest"),
                           os.path.join(REPO, "t", "data", "kvm")],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip("no test guest: %s" % proc.stderr.strip())
    kernel, initrd = proc.stdout.split()
    return kernel, initrd


class Node:
    """One virtual node: its own QGANETI_ROOT and name."""

    def __init__(self, root, name):
        self.root, self.name = str(root), name

    def __enter__(self):
        self.saved = {k: os.environ.get(k) for k in ("QGANETI_ROOT", "QGANETI_HOSTNAME")}
        os.environ["QGANETI_ROOT"], os.environ["QGANETI_HOSTNAME"] = self.root, self.name
        return self

    def __exit__(self, *exc):
        for key, value in self.saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ticks(node, name):
    from qganeti import hv_kvm
    with node:
        path = hv_kvm.serial_log(name)
    try:
        with open(path, "rb") as handle:
            text = handle.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return [], ""
    return [int(n) for n in re.findall(r"^tick (\d+)\r?$", text, re.M)], text


def wait_for(predicate, timeout=180, what="condition"):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting for %s" % what
        time.sleep(0.2)


@pytest.fixture
def nodes(tmp_path, guest):
    from qganeti import defaults, hv_kvm
    shared = tmp_path / "shared"
    shared.mkdir()
    disk = shared / "disk0"
    with open(disk, "wb") as handle:
        handle.truncate(32 * 1024 * 1024)
    hvparams = dict(defaults.HVC_DEFAULTS["kvm"], kvm_flag="disabled", kernel_path=guest[0],
                    initrd_path=guest[1], kernel_args="quiet panic=-1 qganeti.ticks")
    data = {"name": "vm1.example.com", "uuid": "0b5ad3e1-2f1c-4f4e-9f21-8d1c0d7a6b01",
            "hvparams": hvparams, "beparams": {"maxmem": 192, "vcpus": 1},
            "disks": [{"uuid": "7c079136-2573-4112-82d0-0d3d2aa90d8f", "index": 0,
                       "template": "sharedfile", "path": str(disk), "mode": "rw"}],
            "nics": []}
    source = Node(tmp_path / "node1", "node1.example.com")
    target = Node(tmp_path / "node2", "node2.example.com")
    yield source, target, data
    for node in (source, target):
        with node:
            if hv_kvm.is_running(data["name"]):
                hv_kvm.stop(data["name"], force=True)


def ticking_and_accepted(source, target, data):
    """A counting guest on SOURCE, TARGET waiting for it; (port, accept's answer)."""
    from qganeti import hv_kvm
    with source:
        hv_kvm.start(data["name"], 192, 1, data=data)
    wait_for(lambda: len(ticks(source, data["name"])[0]) >= 5, what="ticks on the source")
    port = free_port()
    with target:
        return port, hv_kvm.accept(data["name"], {"instance": data, "target": "127.0.0.1",
                                                  "port": port})


def test_live_migration_keeps_the_guest_running(nodes):
    from qganeti import hv_kvm
    source, target, data = nodes
    name = data["name"]
    port, accepted = ticking_and_accepted(source, target, data)
    assert accepted == {"address": "127.0.0.1", "port": port}
    with source:
        status = hv_kvm.migrate(name, {"target": "127.0.0.1", "port": port,
                                       "bandwidth": 1000, "downtime": 100})
        assert status["status"] in ("setup", "active", "completed")
        deadline = time.monotonic() + 120
        while status["status"] not in ("completed", "failed"):
            assert time.monotonic() < deadline
            time.sleep(0.2)
            status = hv_kvm.migration_status(name, {})
    assert status["status"] == "completed", status
    assert status["total_ram"] > 0 and status["downtime"] is not None
    before, _ = ticks(source, name)
    with target:
        info = hv_kvm.finalize_target(name, {"success": True})
    assert info["state"] == "running" and not info["paused"]
    with source:
        assert hv_kvm.finalize_source(name, {"success": True}) == {"stopped": True}
        assert not hv_kvm.is_running(name)
        assert hv_kvm.load_runtime(name) is None
    last = before[-1]
    wait_for(lambda: any(n > last + 3 for n in ticks(target, name)[0]),
             what="ticks on the target")
    after, text = ticks(target, name)
    # the counter goes on where it was (no reboot: no new boot line, no restart at 0)
    assert "QGANETI-GUEST-UP" not in text
    assert after[0] <= last + 2 and after == list(range(after[0], after[-1] + 1))
    with target:
        assert hv_kvm.list_instances()[name]["memory"] == 192


def test_cancelled_migration_leaves_the_guest_on_the_source(nodes):
    from qganeti import hv_kvm
    source, target, data = nodes
    name = data["name"]
    port, _ = ticking_and_accepted(source, target, data)
    with source:
        # 1 MiB/s: 192 MiB cannot be sent before the cancel
        hv_kvm.migrate(name, {"target": "127.0.0.1", "port": port, "bandwidth": 1})
        time.sleep(1)
        status = hv_kvm.abort_migration(name, {})
    assert status["status"] == "cancelled"
    with target:
        assert hv_kvm.finalize_target(name, {"success": False}) == {"stopped": True}
        assert not hv_kvm.is_running(name)
    with source:
        info = hv_kvm.finalize_source(name, {"success": False})
    assert info["state"] == "running" and not info["paused"]
    seen = ticks(source, name)[0][-1]
    wait_for(lambda: ticks(source, name)[0][-1] > seen + 3, what="ticks after the cancel")


def test_accept_refuses_a_running_instance_and_migrate_needs_one(nodes):
    from qganeti import errors, hv_kvm
    source, target, data = nodes
    with source:
        with pytest.raises(errors.HypervisorError, match="not running, cannot migrate"):
            hv_kvm.migrate(data["name"], {"target": "127.0.0.1"})
        with pytest.raises(errors.HypervisorError, match="no instance description"):
            hv_kvm.accept(data["name"], {})
        hv_kvm.start(data["name"], 192, 1, data=data, paused=True)
        with pytest.raises(errors.HypervisorError, match="already running"):
            hv_kvm.accept(data["name"], {"instance": data, "port": free_port()})
