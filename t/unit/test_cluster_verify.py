"""Group verification (qganeti.lu.cluster_verify) and what nodes report (nodeverify)."""

import os

import pytest

from qganeti import nodeverify, paths
from qganeti.lu import cluster_verify, group

from objects_cluster import add_instance, disk_paths, make_cluster, run_op


@pytest.fixture(autouse=True)
def cluster(tmp_path, monkeypatch):
    return make_cluster(tmp_path, monkeypatch)


def verify(**params):
    params.setdefault("group_name", "default")
    return run_op(cluster_verify.VerifyGroup, "OP_CLUSTER_VERIFY_GROUP", **params)


def problems(run):
    """The ERROR/WARNING/NOTICE lines."""
    return [line for line in run.log if line.startswith("  - ")]


def _touch(logical):
    local = paths.under_root(logical)
    os.makedirs(os.path.dirname(local), exist_ok=True)
    open(local, "w").close()


def _start(name):
    directory = os.path.join(paths.run_dir(), "fake-hypervisor")
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, name), "w") as handle:
        handle.write("0\n128\n1\n")


def test_a_healthy_group_reports_ganetis_sections_in_order():
    uuid = add_instance("inst1.example.com", admin_state="up", disks=[1024], nics=[{}])
    for path in disk_paths(uuid):
        _touch(path)
    _start("inst1.example.com")
    run = verify()
    sections = [line for line in run.log if line.startswith("* ")]
    assert sections == [
        "* Verifying group 'default'", "* Gathering data (1 nodes)",
        "* Gathering information about nodes (1 nodes)",
        "* Gathering disk information (1 nodes)",
        "* Verifying configuration file consistency", "* Verifying node status",
        "* Verifying instance status", "* Verifying orphan volumes",
        "* Verifying N+1 Memory redundancy", "* Other Notes", "* Hooks Results"]
    assert [line for line in run.log if line.startswith("  - ")] == [
        "  - NOTICE: 1 non-redundant instance(s) found."]
    assert run.result is True


def test_instance_marked_up_but_not_running_is_an_error():
    add_instance("inst1.example.com", admin_state="up")
    run = verify()
    assert ("  - ERROR: instance inst1.example.com: instance not running on its primary"
            " node node1.example.com") in run.log
    assert run.result is False


def test_instances_running_where_they_should_not_are_reported():
    add_instance("down.example.com", admin_state="down", nics=[{}])
    _start("stray.example.com")
    run = verify()
    assert ("  - ERROR: node node1.example.com: node is running unknown instance"
            " stray.example.com") in run.log
    assert not any("down.example.com" in line for line in problems(run))


def test_missing_and_orphan_disk_files():
    uuid = add_instance("inst1.example.com", disks=[1024, 2048], nics=[{}])
    first, second = disk_paths(uuid)
    _touch(first)
    orphan = "/srv/qganeti/file-storage/old.example.com/0000.file.disk0"
    _touch(orphan)
    _touch("/srv/qganeti/file-storage/inst1.example.com/snapshots/s1/x.file.disk0")
    run = verify()
    assert problems(run) == [
        "  - ERROR: instance inst1.example.com: volume %s missing on node"
        " node1.example.com" % second,
        "  - WARNING: node node1.example.com: volume %s is unknown" % orphan,
        "  - NOTICE: 1 non-redundant instance(s) found."]


def test_error_codes_and_ignored_errors():
    add_instance("inst1.example.com", admin_state="up")
    run = verify(error_codes=True, ignore_errors=["EINSTANCEDOWN"])
    assert ("  - WARNING:EINSTANCEDOWN:instance:inst1.example.com:instance not running on"
            " its primary node node1.example.com") in run.log


def test_an_unusable_file_storage_directory_is_reported():
    os.rmdir(paths.under_root("/srv/qganeti/file-storage"))
    run = verify()
    local = paths.under_root("/srv/qganeti/file-storage")
    assert problems(run) == [
        "  - ERROR: node node1.example.com: The configured file storage path is unusable:"
        " Path '%s' is not existing or not a directory." % local]


def test_policy_violations_are_warnings():
    uuid = add_instance("big.example.com", disks=[4 * 1024 * 1024, 512])
    for path in disk_paths(uuid):
        _touch(path)
    run = verify()
    assert ("  - WARNING: instance big.example.com: nic-count value 0 is not in range [1, 8],"
            " disk-size/0 value 4194304 is not in range [1024, 1048576], disk-size/1 value"
            " 512 is not in range [1024, 1048576]") in run.log


def test_simulated_errors_fail_every_check():
    run = verify(debug_simulate_errors=True)
    assert run.result is False
    assert len([line for line in run.log if "ERROR" in line]) > 5


def test_an_empty_group_is_skipped():
    run_op(group.Add, "OP_GROUP_ADD", group_name="g1")
    run = verify(group_name="g1")
    assert run.log == ["* Verifying group 'g1'", "* Empty node group, skipping verification"]
    assert run.result is True


def test_failing_post_hooks_are_reported_with_their_output():
    hooks = paths.under_root("/etc/qganeti/hooks/cluster-verify-post.d")
    os.makedirs(hooks)
    script = os.path.join(hooks, "10-fail")
    with open(script, "w") as handle:
        handle.write("#!/bin/sh\necho first\necho \"tags=$GANETI_CLUSTER_TAGS.\"\nexit 3\n")
    os.chmod(script, 0o755)
    run = verify()
    index = run.log.index("* Hooks Results")
    assert run.log[index + 1:] == [
        "  - ERROR: node node1.example.com: Script 10-fail failed, output:",
        "      first\n      tags=."]
    assert run.result is False


def test_node_verify_lists_disk_files_without_snapshots(tmp_path):
    base = tmp_path / "store"
    (base / "a" / "snapshots" / "s").mkdir(parents=True)
    (base / "a" / "u.sharedfile.disk0").write_text("")
    (base / "a" / "notes.txt").write_text("")
    (base / "a" / "snapshots" / "s" / "u.sharedfile.disk0").write_text("")
    result = nodeverify.verify({"disk-files": {"sharedfile": str(base)},
                                "shared-file-storage-path": str(base / "missing")})
    assert result["disk-files"] == {"sharedfile": [str(base / "a" / "u.sharedfile.disk0")]}
    assert result["shared-file-storage-path"] == (
        "Path '%s' is not existing or not a directory." % (base / "missing"))


def test_a_real_node_checks_sys_and_proc_a_virtual_one_does_not(monkeypatch):
    assert nodeverify.verify({"nodesetup": None}) == {"nodesetup": []}
    monkeypatch.setenv("QGANETI_ROOT", "/")
    expected = []
    if not os.path.isdir("/proc/sys") or not os.path.isfile("/proc/sysrq-trigger"):
        expected.append("The procfs filesystem doesn't seem to be mounted under /proc,"
                        " missing required directory /proc/sys and the file"
                        " /proc/sysrq-trigger")
    assert [m for m in nodeverify.verify({"nodesetup": None})["nodesetup"]
            if "procfs" in m] == expected


def test_node_verify_answers_only_what_was_asked():
    result = nodeverify.verify({"version": None, "time": None, "bridges": ["qgnobr0"]})
    assert sorted(result) == ["bridges", "time", "version"]
    assert result["version"] == [3000000, "3.0.2"]
    assert result["bridges"] == ["qgnobr0"]
