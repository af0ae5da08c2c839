import os
import stat

import pytest

from qganeti import errors, osapi, paths


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("QGANETI_ROOT", str(tmp_path))
    (tmp_path / "srv/qganeti/os").mkdir(parents=True)
    return tmp_path


def make_os(root, name, api="20\n", scripts=("create", "export", "import", "rename", "verify"),
            variants=None, params=None, body="exit 0\n"):
    directory = root / "srv/qganeti/os" / name
    directory.mkdir()
    (directory / "ganeti_api_version").write_text(api)
    for script in scripts:
        path = directory / script
        path.write_text("#!/bin/sh\n" + body)
        path.chmod(0o755)
    if variants is not None:
        (directory / "variants.list").write_text(variants)
    if params is not None:
        (directory / "parameters.list").write_text(params)
    return directory


def test_the_trees_own_definitions_are_found_from_any_root(root):
    noop = osapi.load("noop")
    assert noop["path"] == os.path.join(paths.TREE_OS_DIR, "noop")
    assert noop["api_versions"] == [20]
    image = osapi.load("image")
    assert [p[0] for p in image["parameters"]] == ["image"]


def test_the_roots_directory_comes_first(root):
    make_os(root, "noop", variants="# comment\nsmall\nbig\n", params="size the size\n")
    osdef = osapi.load("noop")
    assert osdef["path"] == str(root / "srv/qganeti/os/noop")
    assert osdef["variants"] == ["small", "big"]
    assert osdef["parameters"] == [["size", "the size"]]
    names = [(row[0], row[1]) for row in osapi.diagnose()]
    assert names.index(("noop", str(root / "srv/qganeti/os/noop"))) < \
        names.index(("noop", os.path.join(paths.TREE_OS_DIR, "noop")))


def test_broken_definitions_say_why(root):
    make_os(root, "noapi", api="5\n")
    make_os(root, "noscript", scripts=("create",))
    directory = make_os(root, "noexec")
    os.chmod(directory / "rename", stat.S_IRUSR)
    with pytest.raises(osapi.OSDefinitionError, match="API version mismatch"):
        osapi.load("noapi")
    with pytest.raises(osapi.OSDefinitionError, match="'export' under path .* is missing"):
        osapi.load("noscript")
    with pytest.raises(osapi.OSDefinitionError, match="not executable"):
        osapi.load("noexec")
    with pytest.raises(osapi.OSDefinitionError, match="not found in search path"):
        osapi.load("nosuch")
    with pytest.raises(osapi.OSDefinitionError, match="Invalid OS name"):
        osapi.load("../etc")
    bad = {row[0]: row for row in osapi.diagnose() if not row[2]}
    assert set(bad) == {"noapi", "noscript", "noexec"}


def test_variants_are_checked_as_ganeti_does(root):
    make_os(root, "deb", variants="buster\nbullseye\n")
    osdef = osapi.load("deb")
    osapi.check_variant(osdef, "deb+buster")
    for name, message in (("deb", "must include a variant"),
                          ("deb+sid", "Unsupported OS variant")):
        with pytest.raises(errors.OpPrereqError, match=message):
            osapi.check_variant(osdef, name)
    with pytest.raises(errors.OpPrereqError, match="doesn't support variants"):
        osapi.check_variant(osapi.load("noop"), "noop+x")


def test_scripts_run_with_a_cleared_environment(root, monkeypatch):
    monkeypatch.setenv("SECRET_OF_THE_CALLER", "leak")
    make_os(root, "envdump", body="env | sort\n")
    osdef = osapi.load("envdump")
    inst = {"name": "web1", "os": "envdump", "uuid": "u1", "hypervisor": "fake",
            "primary_node": "node1", "secondary_nodes": [],
            "disks": [{"path": "/x/disk0", "mode": "rw", "uuid": "d1", "size": 1024,
                       "template": "file", "driver": "loop"}],
            "nics": [{"mac": "aa:00:00:00:00:01", "mode": "bridged", "link": "br0"}],
            "beparams": {"maxmem": 128}, "hvparams": {}, "osparams": {"my-param": "v"}}
    env = osapi.environment(osdef, inst)
    log = str(root / "log")
    code, reason = osapi.run(osdef["scripts"]["create"], env, osdef["path"], logfile=log)
    assert (code, reason) == (0, None)
    lines = open(log).read().splitlines()
    assert "SECRET_OF_THE_CALLER=leak" not in lines
    for expected in ("PATH=/sbin:/bin:/usr/sbin:/usr/bin", "OS_API_VERSION=20",
                     "INSTANCE_NAME=web1", "DISK_COUNT=1", "DISK_0_PATH=/x/disk0",
                     "DISK_0_BACKEND_TYPE=file:loop", "NIC_0_BRIDGE=br0",
                     "OSP_MY_PARAM=v", "INSTANCE_BE_maxmem=128", "HYPERVISOR=fake"):
        assert expected in lines


def test_a_failing_script_reports_its_exit_code(root):
    make_os(root, "fails", body="echo broken >&2\nexit 3\n")
    osdef = osapi.load("fails")
    log = str(root / "log")
    code, reason = osapi.run(osdef["scripts"]["create"], {"PATH": osapi.SAFE_PATH},
                             osdef["path"], logfile=log)
    assert code == 3 and reason == "exited with exit code 3"
    assert osapi.tail(log) == ["broken"]
