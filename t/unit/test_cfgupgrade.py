"""Upgrading the real Ganeti 2.7 ... 2.16 config.data files to 3.0."""

import copy
import json
import os

import pytest

from qganeti import cfgupgrade, config, ssconf

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data")
FIXTURES = os.path.join(DATA, "ganeti", "configs")
NAMES = sorted(os.listdir(FIXTURES))


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return json.load(handle)


@pytest.mark.parametrize("name", NAMES)
def test_every_fixture_upgrades_to_a_config_that_loads(name, tmp_path):
    cfg = cfgupgrade.upgrade(fixture(name))
    assert cfg["version"] == 3000000
    path = tmp_path / "config.data"
    path.write_text(json.dumps(cfg))
    loaded = config.load(str(path))
    assert set(loaded) == {"version", "cluster", "nodes", "nodegroups",
                           "instances", "networks", "disks", "filters",
                           "serial_no", "ctime", "mtime"}
    ssconf.compute(loaded)  # and every node can be told about it


@pytest.mark.parametrize("name", NAMES)
def test_upgrade_keys_by_uuid_and_moves_disks_to_the_top(name):
    old = fixture(name)
    cfg = cfgupgrade.upgrade(copy.deepcopy(old))
    for container in ("nodes", "instances"):
        assert sorted(o["name"] for o in cfg[container].values()) == \
            sorted(o["name"] for o in old[container].values())
        for uuid, obj in cfg[container].items():
            assert obj["uuid"] == uuid
    master = cfg["cluster"]["master_node"]
    assert master in cfg["nodes"]
    for inst in cfg["instances"].values():
        assert inst["primary_node"] in cfg["nodes"]
        assert "disk_template" not in inst
        for idx, disk in enumerate(inst["disks"]):
            assert cfg["disks"][disk]["iv_name"] == "disk/%d" % idx
            assert cfg["disks"][disk]["dev_type"] in ("plain", "drbd", "file",
                                                      "sharedfile", "blockdev",
                                                      "rbd", "ext")


def test_upgrade_is_idempotent_and_keeps_pre_2_16_ssh_keys():
    once = cfgupgrade.upgrade(fixture("cluster_config_2.10.json"))
    twice = cfgupgrade.upgrade(copy.deepcopy(once))
    assert once == twice
    assert once["cluster"]["ssh_key_type"] == "dsa"
    assert once["cluster"]["ssh_key_bits"] == 1024


def test_drbd_disks_get_both_nodes_and_uuid_logical_ids():
    cfg = cfgupgrade.upgrade(fixture("cluster_config_2.7.json"))
    drbd = [disk for disk in cfg["disks"].values()
            if disk["dev_type"] == "drbd"]
    assert drbd
    for disk in drbd:
        assert disk["logical_id"][0] in cfg["nodes"]
        assert disk["logical_id"][1] in cfg["nodes"]
        assert sorted(disk["nodes"]) == sorted(disk["logical_id"][:2])
        assert [c["dev_type"] for c in disk["children"]] == ["plain", "plain"]
        assert "physical_id" not in disk


def test_downgrade_needs_dsa_keys():
    cfg = config.load(os.path.join(DATA, "ganeti-samples", "state",
                                   "config.data.pretty.json"))
    with pytest.raises(cfgupgrade.Error) as info:
        cfgupgrade.downgrade(copy.deepcopy(cfg))
    assert "non-DSA SSH keys" in str(info.value)
    cfg["cluster"]["ssh_key_type"] = "dsa"
    down = cfgupgrade.downgrade(cfg)
    assert down["version"] == 2160000
    assert "ssh_key_type" not in down["cluster"]


def test_downgrade_refuses_old_versions():
    with pytest.raises(cfgupgrade.Error) as info:
        cfgupgrade.downgrade(fixture("cluster_config_2.12.json"))
    assert "Downgrade supported only from the latest version (3.0)" in \
        str(info.value)
