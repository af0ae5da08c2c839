"""Node opcodes (qganeti.lu.node) and the storage-list node action."""

import json
import os
import subprocess

import pytest

from qganeti import errors, paths
from qganeti.lu import node

from objects_cluster import cfg, make_cluster, master_uuid, prereq, run_op


@pytest.fixture(autouse=True)
def cluster(tmp_path, monkeypatch):
    return make_cluster(tmp_path, monkeypatch)


def _master():
    return cfg()["nodes"][master_uuid()]


@pytest.mark.parametrize("flag", ["drained", "offline", "master_candidate"])
def test_the_masters_role_changes_only_by_failover(flag):
    assert prereq(node.SetParams, "OP_NODE_SET_PARAMS", node_name="node1",
                  **{flag: flag != "master_candidate"}) == (
        "The master role can be changed only via master-failover", errors.ECODE_INVAL)


def test_set_params_needs_one_modification_and_one_state():
    assert prereq(node.SetParams, "OP_NODE_SET_PARAMS", node_name="node1") == (
        "Please pass at least one modification", errors.ECODE_INVAL)
    assert prereq(node.SetParams, "OP_NODE_SET_PARAMS", node_name="node1", drained=True,
                  offline=True) == ("Can't set the node into more than one state at the"
                                    " same time", errors.ECODE_INVAL)


def test_node_parameters_are_changed_converted_and_reset():
    run_op(node.SetParams, "OP_NODE_SET_PARAMS", node_name="node1",
           ndparams={"spindle_count": "2", "ssh_port": "2200"})
    assert _master()["ndparams"] == {"spindle_count": 2, "ssh_port": 2200}
    run_op(node.SetParams, "OP_NODE_SET_PARAMS", node_name="node1.example.com",
           ndparams={"ssh_port": "default"})
    assert _master()["ndparams"] == {"spindle_count": 2}


def test_cluster_wide_node_parameters_are_refused_at_node_level():
    message, code = prereq(node.SetParams, "OP_NODE_SET_PARAMS", node_name="node1",
                           ndparams={"exclusive_storage": "true"})
    assert message == ("The following node parameters are global and cannot be customized"
                       " at node level, please modify them at cluster or group level:"
                       " exclusive_storage")


def test_capabilities_are_reported_as_changes():
    result = run_op(node.SetParams, "OP_NODE_SET_PARAMS", node_name="node1",
                    vm_capable=False).result
    assert result == [["vm_capable", "False"]]
    assert _master()["vm_capable"] is False


def test_powered_needs_an_out_of_band_program():
    assert prereq(node.SetParams, "OP_NODE_SET_PARAMS", node_name="node1", powered=False,
                  vm_capable=True)[0] == (
        "Unable to change powered state for node node1.example.com as it does not"
        " support out-of-band handling")
    run_op(node.SetParams, "OP_NODE_SET_PARAMS", node_name="node1",
           ndparams={"oob_program": "/bin/true"})
    run_op(node.SetParams, "OP_NODE_SET_PARAMS", node_name="node1", powered=False,
           vm_capable=True)
    assert _master()["powered"] is False


def test_a_secondary_ip_must_be_an_address():
    assert prereq(node.SetParams, "OP_NODE_SET_PARAMS", node_name="node1",
                  secondary_ip="not-an-ip") == (
        "Secondary IP (not-an-ip) needs to be a valid IPv4 address", errors.ECODE_INVAL)
    assert prereq(node.SetParams, "OP_NODE_SET_PARAMS", node_name="node1",
                  secondary_ip="198.51.100.1")[0].startswith(
        "Changing the secondary ip on a single-homed cluster requires the --force option")
    run_op(node.SetParams, "OP_NODE_SET_PARAMS", node_name="node1",
           secondary_ip="198.51.100.1", force=True)
    assert _master()["secondary_ip"] == "198.51.100.1"


def test_unknown_nodes_are_not_known():
    assert prereq(node.SetParams, "OP_NODE_SET_PARAMS", node_name="node7",
                  vm_capable=True) == ("Node 'node7' not known", errors.ECODE_NOENT)


def test_file_storage_is_listed_from_the_node():
    storage = os.path.join(paths.root(), "srv/qganeti/file-storage")
    os.makedirs(os.path.join(storage, "inst1"))
    with open(os.path.join(storage, "inst1", "x.file.disk0"), "wb") as handle:
        handle.write(b"\0" * (3 * 1024 * 1024))
    rows = run_op(node.QueryStorage, "OP_NODE_QUERY_STORAGE", storage_type="file",
                  output_fields=["node", "type", "name", "used", "allocatable"]).result
    assert rows == [["node1.example.com", "file", "/srv/qganeti/file-storage", 3, True]]


def test_the_default_storage_type_comes_from_the_first_disk_template():
    rows = run_op(node.QueryStorage, "OP_NODE_QUERY_STORAGE",
                  output_fields=["type", "name"]).result
    assert rows == [["file", "/srv/qganeti/file-storage"]]


def test_storage_types_must_be_enabled_and_fields_known():
    assert prereq(node.QueryStorage, "OP_NODE_QUERY_STORAGE", storage_type="lvm-vg",
                  output_fields=["name"]) == (
        "No disk template of storage type 'lvm-vg' is enabled in this cluster. Enabled"
        " disk templates are: file,diskless", None)
    assert prereq(node.QueryStorage, "OP_NODE_QUERY_STORAGE",
                  output_fields=["name", "colour"]) == (
        "Unknown output fields selected: colour", errors.ECODE_INVAL)


def test_lvm_storage_gives_a_warning_and_no_rows(tmp_path, monkeypatch):
    from qganeti import config
    config.commit([{"op": "replace", "path": "/cluster/enabled_disk_templates",
                    "value": ["plain", "file"]}])
    run = run_op(node.QueryStorage, "OP_NODE_QUERY_STORAGE", storage_type="lvm-vg",
                 output_fields=["name"])
    assert run.result == []
    assert run.log == ["WARNING: Can't get storage data from node node1.example.com:"
                       " storage-list: fatal: unable to list lvm-vg storage: LVM is not"
                       " available on this node"]
    with pytest.raises(errors.OpExecError, match="Failed to modify storage unit '/dev/sdb'"
                       " on node1.example.com: storage-modify: fatal"):
        run_op(node.ModifyStorage, "OP_NODE_MODIFY_STORAGE", node_name="node1",
               storage_type="lvm-pv", name="/dev/sdb", changes={"allocatable": False})


def test_only_lvm_units_can_be_modified_or_repaired():
    assert prereq(node.ModifyStorage, "OP_NODE_MODIFY_STORAGE", node_name="node1",
                  storage_type="file", name="x", changes={}) == (
        "Storage units of type 'file' can not be modified", errors.ECODE_INVAL)
    assert prereq(node.ModifyStorage, "OP_NODE_MODIFY_STORAGE", node_name="node1",
                  storage_type="lvm-pv", name="x", changes={"size": 1})[0] == (
        "The following fields can not be modified for storage units of type 'lvm-pv':"
        " ['size']")
    assert prereq(node.RepairStorage, "OP_REPAIR_NODE_STORAGE", node_name="node1",
                  storage_type="file", name="x") == (
        "Storage units of type 'file' can not be repaired", errors.ECODE_INVAL)


def test_the_master_cannot_be_removed():
    assert prereq(node.Remove, "OP_NODE_REMOVE", node_name="node1") == (
        "Node is the master node, failover to another node is required", errors.ECODE_INVAL)


def _storage_list(*args):
    program = os.path.join(paths.NODE_DIR, "storage-list")
    proc = subprocess.run([program] + list(args), capture_output=True, text=True)
    return proc.returncode, proc.stdout, proc.stderr


def test_storage_list_action_reports_fields_in_order(tmp_path):
    code, out, _ = _storage_list("sharedfile", "free,name,allocatable", str(tmp_path))
    free, name, allocatable = json.loads(out)[0]
    assert code == 0 and name == str(tmp_path) and allocatable is True and free > 0
    code, out, _ = _storage_list("--name", "/elsewhere", "sharedfile", "name", str(tmp_path))
    assert (code, json.loads(out)) == (0, [])


@pytest.mark.parametrize("args, code, message", [
    (["lvm-pv", "name"], 100, "storage-list: fatal: unable to list lvm-pv storage: LVM is"
     " not available on this node"),
    (["file", "name,colour", "/x"], 100, "storage-list: usage: unknown storage field(s):"
     " colour"),
    (["file", "name"], 100, "storage-list: usage: storage type file needs its absolute"
     " directory"),
    (["file", "name", "/no/such/dir"], 111, "storage-list: fatal: unable to read file"
     " storage /no/such/dir: No such file or directory"),
])
def test_storage_list_action_errors(args, code, message):
    assert _storage_list(*args)[0] == code
    assert _storage_list(*args)[2].strip() == message
