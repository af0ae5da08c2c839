"""config.data: loading, schema checks, new_cluster, change ops, lookups."""

import json
import os

import pytest

from qganeti import config, errors

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data")
SAMPLE = os.path.join(DATA, "ganeti-samples", "state",
                      "config.data.pretty.json")


def sample():
    with open(SAMPLE) as handle:
        return json.load(handle)


def write(tmp_path, cfg, name="config.data"):
    path = tmp_path / name
    path.write_text(cfg if isinstance(cfg, str) else json.dumps(cfg))
    return str(path)


def first(cfg, container):
    uuid = sorted(cfg[container])[0]
    return uuid, cfg[container][uuid]


def error_of(tmp_path, cfg):
    with pytest.raises(errors.ConfigurationError) as info:
        config.load(write(tmp_path, cfg))
    return str(info.value)


# ------------------------------------------------------------------ load

def test_load_accepts_the_real_3_0_2_config():
    cfg = config.load(SAMPLE)
    assert cfg["version"] == 3000000
    assert cfg["cluster"]["cluster_name"] == "cluster.example.com"
    assert len(cfg["instances"]) == 22


def test_load_of_a_missing_file_says_which_file(tmp_path):
    with pytest.raises(errors.ConfigurationError) as info:
        config.load(str(tmp_path / "nope"))
    assert "nope" in str(info.value) and "No such file" in str(info.value)


def test_load_rejects_truncated_json(tmp_path):
    with open(SAMPLE) as handle:
        text = handle.read()
    msg = error_of(tmp_path, text[:len(text) // 2])
    assert msg.startswith("Cannot parse") and "config.data" in msg


def test_load_rejects_missing_key_naming_it(tmp_path):
    cfg = sample()
    del cfg["cluster"]["master_netdev"]
    assert "cluster: key 'master_netdev' is missing" in error_of(tmp_path, cfg)


def test_load_rejects_wrong_type_naming_object_and_key(tmp_path):
    cfg = sample()
    uuid, inst = first(cfg, "instances")
    inst["disks_active"] = "no"
    msg = error_of(tmp_path, cfg)
    assert uuid in msg and inst["name"] in msg
    assert "'disks_active' must be a boolean" in msg


def test_load_rejects_unknown_keys(tmp_path):
    cfg = sample()
    cfg["cluster"]["max_runing_jobs"] = 3
    assert "unknown key 'max_runing_jobs'" in error_of(tmp_path, cfg)


def test_load_rejects_dangling_master_node(tmp_path):
    cfg = sample()
    cfg["cluster"]["master_node"] = "0000"
    assert ("The configuration denotes node 0000 as master, but does not"
            " contain information about this node") in error_of(tmp_path, cfg)


def test_load_rejects_dangling_primary_node_and_disk(tmp_path):
    cfg = sample()
    _, inst = first(cfg, "instances")
    inst["primary_node"] = "gone"
    inst["disks"] = ["nodisk"]
    msg = error_of(tmp_path, cfg)
    assert "instance '%s' has invalid primary node 'gone'" % inst["name"] in msg
    assert "Instance '%s' has invalid disk 'nodisk'" % inst["name"] in msg


def test_load_rejects_node_in_unknown_group(tmp_path):
    cfg = sample()
    _, node = first(cfg, "nodes")
    node["group"] = "nogroup"
    assert "Node 'node1.example.com' has invalid group 'nogroup'" in \
        error_of(tmp_path, cfg)


def test_load_rejects_duplicate_instance_names(tmp_path):
    cfg = sample()
    uuids = sorted(cfg["instances"])
    cfg["instances"][uuids[1]]["name"] = cfg["instances"][uuids[0]]["name"]
    assert "duplicate instance name" in error_of(tmp_path, cfg)


def test_load_rejects_object_under_wrong_uuid(tmp_path):
    cfg = sample()
    uuid, node = first(cfg, "nodes")
    node["uuid"] = "other"
    assert "indexed by wrong UUID" in error_of(tmp_path, cfg)


def test_load_rejects_bad_parameter_names_and_types(tmp_path):
    cfg = sample()
    cfg["cluster"]["hvparams"]["kvm"]["acpi"] = "yes"
    cfg["cluster"]["beparams"]["default"]["vcpus"] = "two"
    cfg["cluster"]["ndparams"]["ssh_prot"] = 22
    msg = error_of(tmp_path, cfg)
    assert "cluster/hvparams/kvm: 'acpi' (value \"yes\") is not a valid" \
        " boolean" in msg
    assert "'vcpus' (value \"two\") is not a valid integer" in msg
    assert "cluster/ndparams: unknown parameter 'ssh_prot'" in msg


def test_load_keeps_hypervisor_parameters_ganeti_no_longer_knows(tmp_path):
    # real 2.13-2.16 clusters carry lxc_* parameters; Ganeti 3.0 keeps them
    cfg = sample()
    cfg["cluster"]["hvparams"]["lxc"]["lxc_tty"] = 6
    assert config.load(write(tmp_path, cfg))["cluster"]["hvparams"]["lxc"][
        "lxc_tty"] == 6


def test_load_rejects_other_versions(tmp_path):
    cfg = sample()
    cfg["version"] = 2160000
    with pytest.raises(errors.ConfigVersionMismatch) as info:
        config.load(write(tmp_path, cfg))
    assert str(info.value) == ("Cluster configuration version mismatch, got"
                               " 2160000 instead of 3000000")


def test_every_real_2_x_fixture_is_refused_as_old(tmp_path):
    folder = os.path.join(DATA, "ganeti", "configs")
    for name in sorted(os.listdir(folder)):
        with pytest.raises(errors.ConfigVersionMismatch):
            config.load(os.path.join(folder, name))


# ------------------------------------------------------------ new_cluster

def sample_like():
    """new_cluster() with the options the sample cluster was made with."""
    return config.new_cluster(
        "cluster.example.com", "node1.example.com", "192.0.2.100",
        primary_ip="192.0.2.10", enabled_hypervisors=["fake"],
        enabled_disk_templates=["file", "diskless"], master_netdev="gnt0",
        nicparams={"link": "gbr0"}, modify_etc_hosts=False,
        master_cert_digest="7B:06:D3")


def key_tree(value):
    """Nested key sets of a JSON value (the shape without the values)."""
    if isinstance(value, dict):
        return dict((key, key_tree(val)) for key, val in value.items())
    if isinstance(value, list):
        return [key_tree(val) for val in value]
    return None


def test_new_cluster_has_the_key_sets_of_the_real_sample():
    real = sample()
    new = sample_like()
    assert key_tree(new["cluster"]).keys() == real["cluster"].keys()
    for key in real["cluster"]:
        if key != "candidate_certs":  # keyed by the (random) master uuid
            assert key_tree(new["cluster"][key]) == \
                key_tree(real["cluster"][key]), key
    assert new.keys() == real.keys()
    (node,) = new["nodes"].values()
    assert node.keys() == first(real, "nodes")[1].keys()
    (group,) = new["nodegroups"].values()
    assert group.keys() == first(real, "nodegroups")[1].keys()


def test_new_cluster_writes_ganetis_default_values():
    real = sample()["cluster"]
    new = sample_like()["cluster"]
    for key in ("hvparams", "beparams", "nicparams", "ndparams", "diskparams",
                "ipolicy", "data_collectors", "hv_state_static",
                "compression_tools", "mac_prefix", "master_netmask",
                "highest_used_port", "candidate_pool_size", "max_running_jobs",
                "max_tracked_jobs", "ssh_key_type", "ssh_key_bits",
                "default_iallocator", "file_storage_dir",
                "shared_file_storage_dir", "gluster_storage_dir",
                "primary_ip_family", "enabled_hypervisors",
                "enabled_disk_templates", "modify_etc_hosts",
                "modify_ssh_setup"):
        assert new[key] == real[key], key
    cfg = sample_like()
    master = cfg["cluster"]["master_node"]
    assert cfg["nodes"][master]["name"] == "node1.example.com"
    assert cfg["nodes"][master]["group"] in cfg["nodegroups"]
    assert cfg["cluster"]["candidate_certs"] == {master: "7B:06:D3"}
    assert cfg["serial_no"] == 1


def test_new_cluster_defaults_follow_gnt_cluster_init():
    cfg = config.new_cluster("c.example.com", "n1.example.com", "192.0.2.1",
                             primary_ip="192.0.2.2")
    cluster = cfg["cluster"]
    assert cluster["enabled_hypervisors"] == ["xen-pvm"]
    assert cluster["enabled_disk_templates"] == ["drbd", "plain"]
    assert cluster["volume_group_name"] == "xenvg"
    assert cluster["drbd_usermode_helper"] == "/bin/true"
    assert cluster["master_netdev"] == "xen-br0"
    assert cluster["nicparams"]["default"]["link"] == "xen-br0"
    assert cluster["ipolicy"]["disk-templates"] == ["drbd", "plain"]


def test_new_cluster_validates_options():
    with pytest.raises(errors.OpPrereqError) as info:
        config.new_cluster("c", "n", "192.0.2.1", primary_ip="192.0.2.2",
                           enabled_hypervisors=["vmware"])
    assert "Enabled hypervisors contains invalid entries" in str(info.value)
    with pytest.raises(errors.OpPrereqError) as info:
        config.new_cluster("c", "n", "192.0.2.1", primary_ip="192.0.2.2",
                           beparams={"vcpus": "many"})
    assert "'vcpus' (value many) is not a valid integer" in str(info.value)
    with pytest.raises(errors.OpPrereqError):
        config.new_cluster("c", "n", "192.0.2.1")  # no primary_ip
    with pytest.raises(errors.OpPrereqError):
        config.new_cluster("c", "n", "192.0.2.1", primary_ip="192.0.2.2",
                           bogus=1)


def test_new_cluster_fills_custom_parameters():
    cfg = config.new_cluster("c", "n", "192.0.2.1", primary_ip="192.0.2.2",
                             hvparams={"kvm": {"acpi": "false"}},
                             beparams={"memory": "1G"},
                             enabled_disk_templates=["plain"],
                             volume_group_name="vg0")
    cluster = cfg["cluster"]
    assert cluster["hvparams"]["kvm"]["acpi"] is False
    assert cluster["hvparams"]["kvm"]["kvm_path"] == "/usr/bin/kvm"
    assert cluster["beparams"]["default"]["maxmem"] == 1024
    assert cluster["beparams"]["default"]["minmem"] == 1024
    assert cluster["diskparams"]["drbd"]["metavg"] == "vg0"


# ---------------------------------------------------------------- lookups

def test_lookups_match_exact_and_unique_short_names():
    cfg = sample()
    node = config.node_uuid(cfg, "node1")
    assert cfg["nodes"][node]["name"] == "node1.example.com"
    assert config.node_uuid(cfg, "NODE1.example") == node
    inst = config.instance_uuid(cfg, "inst1")
    assert cfg["instances"][inst]["name"] == "inst1.example.com"
    group = config.group_uuid(cfg, "default")
    assert config.group_uuid(cfg, group) == group


@pytest.mark.parametrize("func,name,message", [
    (config.node_uuid, "node1.ex", "Node 'node1.ex' not known"),
    (config.instance_uuid, "inst", "Instance 'inst' not known"),
    (config.group_uuid, "nogroup", "Node group 'nogroup' not found"),
    (config.network_uuid, "net1", "Network 'net1' not found"),
])
def test_lookups_fail_with_ganetis_wording(func, name, message):
    with pytest.raises(errors.OpPrereqError) as info:
        func(sample(), name)
    assert info.value.args == (message, errors.ECODE_NOENT)


def test_ambiguous_short_name_is_not_a_match():
    names = ["web1.example.com", "web1.example.org", "web10.example.com"]
    assert config.match_name("web1", names) is None
    assert config.match_name("web10", names) == "web10.example.com"
    assert config.match_name("web1.example.org", names) == "web1.example.org"


# ----------------------------------------------------------- change ops

@pytest.fixture
def store(tmp_path):
    path = str(tmp_path / "config.data")
    config.create(config.load(SAMPLE), path)
    return path


def commit_error(ops, path):
    with pytest.raises(errors.OpPrereqError) as info:
        config.commit(ops, path)
    return info.value.args


def test_create_refuses_an_existing_config(store):
    with pytest.raises(errors.OpPrereqError) as info:
        config.create(config.load(store), store)
    assert info.value.args == ("Cluster is already initialised",
                               errors.ECODE_STATE)


def test_replace_stamps_the_touched_object_and_the_file(store):
    before = config.load(store)
    serial = config.commit([{"op": "replace",
                             "path": "/cluster/max_running_jobs",
                             "value": 30}], store)
    after = config.load(store)
    assert serial == before["serial_no"] + 1 == after["serial_no"]
    assert after["cluster"]["max_running_jobs"] == 30
    assert after["cluster"]["serial_no"] == before["cluster"]["serial_no"] + 1
    assert after["cluster"]["mtime"] > before["cluster"]["mtime"]
    assert after["mtime"] > before["mtime"]
    assert after["instances"] == before["instances"]


def test_add_fills_metadata_and_refuses_existing(store):
    cfg = config.load(store)
    _, inst = first(cfg, "instances")
    new = dict(inst, name="new1.example.com", nics=[])
    for key in ("uuid", "serial_no", "ctime", "mtime", "tags"):
        del new[key]
    uuid = config.new_uuid()
    config.commit([{"op": "add", "path": "/instances/" + uuid,
                    "value": new}], store)
    added = config.load(store)["instances"][uuid]
    assert added["uuid"] == uuid and added["serial_no"] == 1
    assert added["ctime"] == added["mtime"] and added["tags"] == []
    msg, code = commit_error([{"op": "add", "path": "/instances/" + uuid,
                               "value": new}], store)
    assert code == errors.ECODE_EXISTS and uuid in msg


def test_second_instance_with_same_name_is_rejected(store):
    cfg = config.load(store)
    _, inst = first(cfg, "instances")
    dup = dict(inst, uuid=config.new_uuid(), nics=[])
    assert commit_error([{"op": "add", "path": "/instances/" + dup["uuid"],
                          "value": dup}], store) == (
        "Instance '%s' is already in the cluster" % inst["name"],
        errors.ECODE_EXISTS)


def test_duplicate_mac_is_rejected(store):
    cfg = config.load(store)
    uuids = sorted(cfg["instances"])
    mac = cfg["instances"][uuids[0]]["nics"][0]["mac"]
    msg, code = commit_error([{
        "op": "replace", "path": "/instances/%s/nics/0/mac" % uuids[1],
        "value": mac}], store)
    assert code == errors.ECODE_NOTUNIQUE and mac in msg


def test_failed_test_op_rejects_the_whole_change(store):
    msg, code = commit_error([
        {"op": "append", "path": "/cluster/tags", "value": "x"},
        {"op": "test", "path": "/cluster/max_running_jobs", "value": 99}],
        store)
    assert code == errors.ECODE_STATE and "max_running_jobs" in msg
    assert config.load(store)["cluster"]["tags"] == []


def test_test_op_keeps_booleans_and_numbers_apart(store):
    commit_error([{"op": "test", "path": "/cluster/prealloc_wipe_disks",
                   "value": 0}], store)
    config.commit([{"op": "test", "path": "/cluster/prealloc_wipe_disks",
                    "value": False}], store)


def test_remove_of_absent_object_is_noent(store):
    assert commit_error([{"op": "remove", "path": "/nodes/nonode"}], store) \
        == ("Unknown node 'nonode'", errors.ECODE_NOENT)


def test_remove_refuses_dangling_references(store):
    cfg = config.load(store)
    node, _ = first(cfg, "nodes")
    msg, _ = commit_error([{"op": "remove", "path": "/nodes/" + node}], store)
    assert "master node" in msg
    group, _ = first(cfg, "nodegroups")
    msg, code = commit_error([{"op": "remove", "path": "/nodegroups/" + group}],
                             store)
    assert msg.startswith("Group 'default' not empty") and \
        code == errors.ECODE_STATE


def test_metadata_cannot_be_written(store):
    msg, code = commit_error([{"op": "replace", "path": "/cluster/serial_no",
                               "value": 1}], store)
    assert code == errors.ECODE_INVAL and "maintained" in msg
    msg, code = commit_error([{"op": "replace", "path": "/serial_no",
                               "value": 1}], store)
    assert code == errors.ECODE_INVAL


def test_whole_object_replace_checks_its_serial(store):
    cfg = config.load(store)
    uuid, inst = first(cfg, "instances")
    stale = dict(inst, admin_state="up", serial_no=inst["serial_no"] - 1)
    msg, code = commit_error([{"op": "replace", "path": "/instances/" + uuid,
                               "value": stale}], store)
    assert msg == ("Configuration object updated since it has been read:"
                   " %d != %d" % (inst["serial_no"], inst["serial_no"] - 1))
    assert code == errors.ECODE_STATE
    fresh = dict(inst, admin_state="up")
    config.commit([{"op": "replace", "path": "/instances/" + uuid,
                    "value": fresh}], store)
    now = config.load(store)["instances"][uuid]
    assert now["admin_state"] == "up"
    assert now["serial_no"] == inst["serial_no"] + 1
    assert now["ctime"] == inst["ctime"]


def test_append_and_discard_are_set_operations(store):
    for _ in range(2):
        config.commit([{"op": "append", "path": "/cluster/tags",
                        "value": "a"}], store)
    assert config.load(store)["cluster"]["tags"] == ["a"]
    for _ in range(2):
        config.commit([{"op": "discard", "path": "/cluster/tags",
                        "value": "a"}], store)
    assert config.load(store)["cluster"]["tags"] == []


def test_adding_a_node_group_touches_the_cluster(store):
    before = config.load(store)
    uuid = config.new_uuid()
    config.commit([{"op": "add", "path": "/nodegroups/" + uuid, "value": {
        "name": "g2", "members": [], "ndparams": {},
        "alloc_policy": "preferred", "ipolicy": {}, "diskparams": {},
        "networks": {}}}], store)
    after = config.load(store)
    assert after["cluster"]["serial_no"] == before["cluster"]["serial_no"] + 1
    assert config.group_uuid(after, "g2") == uuid
    assert commit_error([{"op": "add", "path": "/nodegroups/" + uuid + "x",
                          "value": dict(after["nodegroups"][uuid],
                                        uuid=uuid + "x")}], store)[1] == \
        errors.ECODE_EXISTS


def test_paths_outside_the_objects_are_refused(store):
    for path in ("/version", "/nodes", "cluster/tags"):
        _, code = commit_error([{"op": "replace", "path": path,
                                 "value": 1}], store)
        assert code == errors.ECODE_INVAL


def test_update_runs_fn_in_the_critical_section(store):
    before = config.load(store)

    def bump(cfg):
        cfg["cluster"]["highest_used_port"] += 1
        return cfg["cluster"]["highest_used_port"]

    port = config.update(bump, store)
    after = config.load(store)
    assert port == before["cluster"]["highest_used_port"] + 1
    assert after["cluster"]["highest_used_port"] == port
    assert after["cluster"]["serial_no"] == before["cluster"]["serial_no"] + 1
    assert after["serial_no"] == before["serial_no"] + 1


def test_update_that_changes_nothing_writes_nothing(store):
    before = os.stat(store).st_ino
    assert config.update(lambda cfg: "seen", store) == "seen"
    assert os.stat(store).st_ino == before


def test_update_with_a_broken_result_is_rejected_entirely(store):
    def rename_node(cfg):
        cfg["cluster"]["tags"].append("x")
        for inst in cfg["instances"].values():
            inst["primary_node"] = "nowhere"

    with pytest.raises(errors.OpPrereqError) as info:
        config.update(rename_node, store)
    assert "invalid primary node 'nowhere'" in info.value.args[0]
    assert config.load(store)["cluster"]["tags"] == []


def test_update_propagates_fn_exceptions(store):
    def fail(cfg):
        cfg["cluster"]["tags"].append("x")
        raise KeyError("boom")

    with pytest.raises(KeyError):
        config.update(fail, store)
    assert config.load(store)["cluster"]["tags"] == []


def test_written_file_is_compact_json_and_not_world_readable(store):
    config.commit([{"op": "append", "path": "/cluster/tags", "value": "a"}],
                  store)
    with open(store) as handle:
        text = handle.read()
    assert "\n" not in text and json.loads(text)["cluster"]["tags"] == ["a"]
    assert os.stat(store).st_mode & 0o777 == 0o640
