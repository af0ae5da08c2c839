import os

import pytest

from qganeti import errors, hv_fake


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("QGANETI_ROOT", str(tmp_path))
    return tmp_path


def test_start_writes_ganetis_state_file(root):
    hv_fake.start("web1", 512, 2)
    path = root / "var/run/qganeti/fake-hypervisor/web1"
    assert path.read_text() == "0\n512\n2\n"
    assert hv_fake.list_instances() == {"web1": {"state": "running", "memory": 512,
                                                 "vcpus": 2}}


def test_start_twice_and_stop_twice_fail_as_ganeti(root):
    hv_fake.start("web1", 128, 1)
    with pytest.raises(errors.HypervisorError, match="already running"):
        hv_fake.start("web1", 128, 1)
    hv_fake.stop("web1")
    with pytest.raises(errors.HypervisorError, match="not running"):
        hv_fake.stop("web1")
    assert hv_fake.list_instances() == {}


def test_memory_of_running_instances_is_not_free(root, tmp_path):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal: 4194304 kB\nMemFree: 2097152 kB\nBuffers: 0 kB\n"
                       "Cached: 1048576 kB\n")
    before = hv_fake.node_memory(str(meminfo))
    assert before == {"memory_total": 4096, "memory_dom0": 1024, "memory_free": 3072,
                      "memory_instances": 0}
    hv_fake.start("a", 1000, 1)
    hv_fake.start("b", 24, 1)
    after = hv_fake.node_memory(str(meminfo))
    assert after["memory_free"] == 3072 - 1024
    assert after["memory_instances"] == 1024


def test_pause_resume_and_console_log(root):
    hv_fake.start("web1", 128, 1, paused=True)
    assert hv_fake.instance_info("web1")["paused"] is True
    hv_fake.resume("web1")
    assert hv_fake.instance_info("web1")["paused"] is False
    hv_fake.reboot("web1")
    log = hv_fake.read_console("web1")
    assert "started" in log and "paused" in log and "resumed" in log and "rebooted" in log
    hv_fake.stop("web1")
    with pytest.raises(errors.HypervisorError):
        hv_fake.pause("web1")


def test_unreadable_names_are_refused(root):
    for bad in ("", "../x", "a/b", "."):
        with pytest.raises(errors.HypervisorError):
            hv_fake.start(bad, 128, 1)
    assert not os.path.exists(root / "var/run/qganeti/x")


def test_console_log_follows_a_rename_and_goes_with_removal(root):
    hv_fake.console_log("old", "hello")
    hv_fake.rename_console("old", "new")
    assert "hello" in hv_fake.read_console("new")
    assert hv_fake.read_console("old") == ""
    hv_fake.remove_console("new")
    assert hv_fake.read_console("new") == ""


# -- migration: the steps of a live migration -----------------------------------------

def test_migration_moves_the_instance_step_by_step(root, monkeypatch):
    hv_fake.start("web1", 128, 2)
    dst = root / "dst"
    monkeypatch.setenv("QGANETI_ROOT", str(dst))
    assert hv_fake.accept("web1", {"memory": 128, "vcpus": 2, "source": "10.0.0.1"}) == {}
    assert not hv_fake.is_running("web1")
    monkeypatch.setenv("QGANETI_ROOT", str(root))
    status = hv_fake.migrate("web1", {"target": "10.0.0.2", "live": True})
    assert status == {"status": "completed", "transferred_ram": 128, "total_ram": 128}
    assert hv_fake.migration_status("web1")["status"] == "completed"
    assert hv_fake.is_paused("web1")          # the guest stops for the last round
    monkeypatch.setenv("QGANETI_ROOT", str(dst))
    hv_fake.finalize_target("web1", {"success": True})
    assert hv_fake.instance_info("web1") == {"state": "running", "memory": 128, "vcpus": 2,
                                             "paused": False}
    assert hv_fake.migration_status("web1") == {"status": "none"}
    monkeypatch.setenv("QGANETI_ROOT", str(root))
    hv_fake.finalize_source("web1", {"success": True})
    assert not hv_fake.is_running("web1") and not hv_fake.is_paused("web1")
    assert hv_fake.migration_status("web1") == {"status": "none"}
    assert "migrated away" in hv_fake.read_console("web1")


def test_migration_undone_leaves_it_running_on_the_source_only(root, monkeypatch):
    hv_fake.start("web1", 64, 1)
    target = root / "target"
    monkeypatch.setenv("QGANETI_ROOT", str(target))
    hv_fake.accept("web1", {"memory": 64, "vcpus": 1})
    monkeypatch.setenv("QGANETI_ROOT", str(root))
    hv_fake.migrate("web1", {"target": "t"})
    hv_fake.abort_migration("web1")
    monkeypatch.setenv("QGANETI_ROOT", str(target))
    hv_fake.finalize_target("web1", {"success": False})
    assert not hv_fake.is_running("web1")
    assert hv_fake.migration_status("web1") == {"status": "none"}
    monkeypatch.setenv("QGANETI_ROOT", str(root))
    hv_fake.finalize_source("web1", {"success": False})
    assert hv_fake.instance_info("web1")["paused"] is False
    assert hv_fake.migration_status("web1") == {"status": "none"}


def test_accept_refuses_a_running_instance_or_too_much_memory(root):
    hv_fake.start("web1", 64, 1)
    with pytest.raises(errors.HypervisorError, match="already running"):
        hv_fake.accept("web1", {"memory": 64})
    with pytest.raises(errors.HypervisorError, match="Not enough memory"):
        hv_fake.accept("big", {"memory": 1 << 40})
    with pytest.raises(errors.HypervisorError, match="not running"):
        hv_fake.migrate("nosuch", {"target": "x"})
    with pytest.raises(errors.HypervisorError, match="not prepared"):
        hv_fake.finalize_target("nosuch", {"success": True})
