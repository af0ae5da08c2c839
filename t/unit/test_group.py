"""Node group opcodes (qganeti.lu.group) and instance policies (ipolicy, cli_ipolicy)."""

import optparse

import pytest

from qganeti import cli_ipolicy, errors, ipolicy
from qganeti.lu import group

from objects_cluster import cfg, group_by_name, make_cluster, master_uuid, prereq, run_op


@pytest.fixture(autouse=True)
def cluster(tmp_path, monkeypatch):
    return make_cluster(tmp_path, monkeypatch)


def test_added_group_keeps_converted_parameters():
    run_op(group.Add, "OP_GROUP_ADD", group_name="g1", alloc_policy="last_resort",
           ndparams={"spindle_count": "3", "exclusive_storage": "true"},
           ipolicy={"vcpu-ratio": "2.5"}, diskparams={"file": {}})
    g1 = group_by_name("g1")
    assert g1["alloc_policy"] == "last_resort"
    assert g1["ndparams"] == {"spindle_count": 3, "exclusive_storage": True}
    assert g1["ipolicy"] == {"vcpu-ratio": 2.5}
    assert g1["networks"] == {} and g1["members"] == []
    assert g1["serial_no"] == 1 and g1["uuid"] in cfg()["nodegroups"]


def test_a_group_without_options_prefers_allocation():
    run_op(group.Add, "OP_GROUP_ADD", group_name="g1")
    assert group_by_name("g1")["alloc_policy"] == "preferred"


def test_duplicate_group_names_are_refused():
    run_op(group.Add, "OP_GROUP_ADD", group_name="g1")
    uuid = group_by_name("g1")["uuid"]
    assert prereq(group.Add, "OP_GROUP_ADD", group_name="g1") == (
        "Desired group name 'g1' already exists as a node group (UUID: %s)" % uuid,
        errors.ECODE_EXISTS)


@pytest.mark.parametrize("name", ["a b", "../x", "x;y", "--force", ".hidden", "x" * 129,
                                  "g/1"])
def test_odd_group_names_are_refused_before_anything_changes(name):
    before = cfg()["serial_no"]
    message, code = prereq(group.Add, "OP_GROUP_ADD", group_name=name)
    assert message.startswith("Invalid group name '%s': " % name)
    assert code == errors.ECODE_INVAL
    assert cfg()["serial_no"] == before


def test_unknown_node_parameters_are_refused():
    with pytest.raises(errors.TypeEnforcementError, match="Unknown parameter 'colour'"):
        run_op(group.Add, "OP_GROUP_ADD", group_name="g1", ndparams={"colour": "red"})


def test_disk_parameters_of_another_template_are_refused():
    message, code = prereq(group.Add, "OP_GROUP_ADD", group_name="g1",
                           diskparams={"drbd": {"stripes": "2"}})
    assert message == ("While verify diskparams options: Provided option keys not"
                       " supported: drbd/stripes")


def test_a_policy_allowing_disabled_templates_is_refused():
    message, _ = prereq(group.Add, "OP_GROUP_ADD", group_name="g1",
                        ipolicy={"disk-templates": ["plain"]})
    assert message == ("The following disk template are allowed by the ipolicy, but not"
                       " enabled on the cluster: plain")


def test_modify_changes_and_resets_parameters():
    run_op(group.Add, "OP_GROUP_ADD", group_name="g1", ndparams={"spindle_count": "3"})
    result = run_op(group.SetParams, "OP_GROUP_SET_PARAMS", group_name="g1",
                    ndparams={"spindle_count": "default", "ssh_port": "2222"},
                    alloc_policy="unallocable").result
    assert result == [["ndparams", "{'ssh_port': 2222}"]]
    g1 = group_by_name("g1")
    assert g1["ndparams"] == {"ssh_port": 2222} and g1["alloc_policy"] == "unallocable"
    assert g1["serial_no"] == 2


def test_modify_needs_a_modification():
    assert prereq(group.SetParams, "OP_GROUP_SET_PARAMS", group_name="default") == (
        "Please pass at least one modification", errors.ECODE_INVAL)


def test_group_policy_values_are_removed_by_default():
    run_op(group.Add, "OP_GROUP_ADD", group_name="g1",
           ipolicy={"vcpu-ratio": 3, "spindle-ratio": 8})
    run_op(group.SetParams, "OP_GROUP_SET_PARAMS", group_name="g1",
           ipolicy={"vcpu-ratio": "default"})
    assert group_by_name("g1")["ipolicy"] == {"spindle-ratio": 8.0}


def test_unknown_groups_are_not_found():
    assert prereq(group.Remove, "OP_GROUP_REMOVE", group_name="nope") == (
        "Node group 'nope' not found", errors.ECODE_NOENT)


def test_only_empty_groups_other_than_the_last_can_go():
    assert prereq(group.Remove, "OP_GROUP_REMOVE", group_name="default") == (
        "Group 'default' not empty, has the following nodes: node1.example.com",
        errors.ECODE_STATE)
    run_op(group.Add, "OP_GROUP_ADD", group_name="g1")
    run_op(group.AssignNodes, "OP_GROUP_ASSIGN_NODES", group_name="g1", nodes=["node1"])
    run_op(group.Remove, "OP_GROUP_REMOVE", group_name="default")
    assert prereq(group.Remove, "OP_GROUP_REMOVE", group_name="g1")[0] == (
        "Group 'g1' not empty, has the following nodes: node1.example.com")
    assert [g["name"] for g in cfg()["nodegroups"].values()] == ["g1"]


def test_assigning_nodes_moves_them():
    run_op(group.Add, "OP_GROUP_ADD", group_name="g1")
    run_op(group.AssignNodes, "OP_GROUP_ASSIGN_NODES", group_name="g1",
           nodes=["node1.example.com"])
    assert cfg()["nodes"][master_uuid()]["group"] == group_by_name("g1")["uuid"]
    assert prereq(group.AssignNodes, "OP_GROUP_ASSIGN_NODES", group_name="g1",
                  nodes=["node9"]) == ("Node 'node9' not known", errors.ECODE_NOENT)


def test_rename_returns_the_new_name_and_refuses_clashes():
    run_op(group.Add, "OP_GROUP_ADD", group_name="g1")
    assert run_op(group.Rename, "OP_GROUP_RENAME", group_name="g1",
                  new_name="g2").result == "g2"
    uuid = group_by_name("default")["uuid"]
    assert prereq(group.Rename, "OP_GROUP_RENAME", group_name="g2",
                  new_name="default") == (
        "Desired new name 'default' clashes with existing node group (UUID: %s)" % uuid,
        errors.ECODE_EXISTS)
    assert prereq(group.Rename, "OP_GROUP_RENAME", group_name="g2",
                  new_name="x y")[1] == errors.ECODE_INVAL


def test_evacuating_needs_another_group_and_an_empty_group_gives_no_jobs():
    assert prereq(group.Evacuate, "OP_GROUP_EVACUATE", group_name="default") == (
        "There are no possible target groups", errors.ECODE_INVAL)
    run_op(group.Add, "OP_GROUP_ADD", group_name="g1")
    run = run_op(group.Evacuate, "OP_GROUP_EVACUATE", group_name="g1")
    assert run.result.jobs == []
    assert run.log == ["Iallocator returned 0 job(s) for evacuating node group g1"]


def test_verify_disks_has_nothing_to_report_without_lvm():
    assert run_op(group.VerifyDisks, "OP_GROUP_VERIFY_DISKS",
                  group_name="default").result == [{}, [], {}]


# -- instance policies

def test_updated_policy_checks_ganetis_rules():
    full = {"minmax": [{"min": {"memory-size": "128", "cpu-count": 1, "disk-count": 1,
                                "disk-size": 1024, "nic-count": 1, "spindle-use": 1},
                        "max": {"memory-size": 256, "cpu-count": 8, "disk-count": 16,
                                "disk-size": 4096, "nic-count": 8, "spindle-use": 12}}]}
    assert ipolicy.updated_ipolicy({}, full, group_policy=True)["minmax"][0]["min"][
        "memory-size"] == 128
    bad = {"minmax": [{"min": dict(full["minmax"][0]["max"]),
                       "max": dict(full["minmax"][0]["min"])}]}
    with pytest.raises(errors.OpPrereqError, match="Invalid instance policy: Invalid"
                       " specification of min/max values for memory-size: 256/128"):
        ipolicy.updated_ipolicy({}, bad, group_policy=True)
    with pytest.raises(errors.OpPrereqError, match="Invalid key in new ipolicy: speed"):
        ipolicy.updated_ipolicy({}, {"speed": 1}, group_policy=True)
    with pytest.raises(errors.OpPrereqError, match="std cannot appear in group instance"):
        ipolicy.updated_ipolicy({}, {"std": {"cpu-count": 1}}, group_policy=True)
    with pytest.raises(errors.OpPrereqError, match="Can't unset ipolicy attribute"
                       " 'vcpu-ratio'"):
        ipolicy.updated_ipolicy({"vcpu-ratio": 4}, {"vcpu-ratio": "default"})


def _parse(args, opts=cli_ipolicy.CLUSTER_OPTS):
    parser = optparse.OptionParser(option_list=list(opts))
    return parser.parse_args(args)[0]


def test_bounds_specs_option_builds_minmax_pairs():
    opts = _parse(["--ipolicy-bounds-specs",
                   "min:memory-size=128,cpu-count=1,disk-count=1,disk-size=1G,nic-count=1,"
                   "spindle-use=1/max:memory-size=4G,cpu-count=4,disk-count=4,"
                   "disk-size=100G,nic-count=4,spindle-use=4",
                   "--ipolicy-vcpu-ratio", "2", "--ipolicy-disk-templates", "file,diskless"])
    policy = cli_ipolicy.from_opts(opts, group=True)
    assert policy["minmax"][0]["max"]["memory-size"] == 4096
    assert policy["minmax"][0]["min"]["disk-size"] == 1024
    assert policy["vcpu-ratio"] == 2.0
    assert policy["disk-templates"] == ["file", "diskless"]


def test_incomplete_bounds_specs_are_refused():
    opts = _parse(["--ipolicy-bounds-specs", "min:memory-size=128/max:memory-size=256"])
    with pytest.raises(errors.OpPrereqError, match="Missing parameters in ipolicy spec"
                       " min: cpu-count"):
        cli_ipolicy.from_opts(opts, group=True)


def test_split_specs_fill_the_cluster_policy():
    opts = _parse(["--specs-mem-size", "min=256,max=2G,std=512", "--specs-cpu-count",
                   "max=4"])
    policy = cli_ipolicy.from_opts(opts, fill_all=True)
    assert policy["minmax"][0]["min"]["memory-size"] == 256
    assert policy["minmax"][0]["max"]["memory-size"] == 2048
    assert policy["minmax"][0]["max"]["cpu-count"] == 4
    assert policy["minmax"][0]["max"]["disk-count"] == 16
    assert policy["std"]["memory-size"] == 512
    assert policy["vcpu-ratio"] == 4


def test_bad_ratio_is_an_option_error():
    with pytest.raises(SystemExit):
        _parse(["--ipolicy-vcpu-ratio", "lots"])


def test_policy_info_marks_defaults_as_ganeti_prints_them():
    effective = {"minmax": [{"min": {"cpu-count": 1}, "max": {"cpu-count": 8}}],
                 "disk-templates": ["file", "diskless"], "vcpu-ratio": 4,
                 "spindle-ratio": 32}
    info = cli_ipolicy.format_policy_info({"vcpu-ratio": 2.0}, effective, False)
    assert info == [
        ("bounds specs", [[("min/0", {"cpu-count": "default (1)"}),
                           ("max/0", {"cpu-count": "default (8)"})]]),
        ("allowed disk templates", "default (file, diskless)"),
        ("vcpu-ratio", "2.0"), ("spindle-ratio", "default (32)")]


def test_show_ispecs_command_text():
    policy = {"minmax": [{"min": {"cpu-count": 1, "memory-size": 128},
                          "max": {"cpu-count": 8, "memory-size": 512}}]}
    assert cli_ipolicy.ipolicy_command(policy, True) == (
        " --ipolicy-bounds-specs min:cpu-count=1,memory-size=128/max:cpu-count=8,"
        "memory-size=512")
