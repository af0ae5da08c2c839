"""Ganeti 3.0.2's parameter defaults, type checks and fill semantics."""

import json
import os

import pytest

from qganeti import defaults, errors

SAMPLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data",
                      "ganeti-samples", "state", "config.data.pretty.json")


def sample_cluster():
    with open(SAMPLE) as handle:
        return json.load(handle)["cluster"]


def test_tables_equal_what_a_real_cluster_wrote():
    cluster = sample_cluster()
    assert cluster["hvparams"] == defaults.HVC_DEFAULTS
    assert cluster["beparams"]["default"] == defaults.BEC_DEFAULTS
    assert cluster["ndparams"] == defaults.NDC_DEFAULTS
    assert cluster["diskparams"] == defaults.DISK_DT_DEFAULTS
    for key in ("minmax", "std", "spindle-ratio", "vcpu-ratio"):
        assert cluster["ipolicy"][key] == defaults.IPOLICY_DEFAULTS[key]
    assert sorted(cluster["data_collectors"]) == \
        sorted(defaults.DATA_COLLECTOR_NAMES)
    assert cluster["hv_state_static"]["fake"] == defaults.HVST_DEFAULTS


def test_every_hypervisor_parameter_has_a_type():
    for params in defaults.HVC_DEFAULTS.values():
        for key in params:
            assert key in defaults.HVS_PARAMETER_TYPES


def test_check_params_converts_like_force_dict_type():
    assert defaults.check_params("be", {"vcpus": "4", "auto_balance": "false",
                                        "maxmem": "2G", "minmem": 1000}) == \
        {"vcpus": 4, "auto_balance": False, "maxmem": 2048, "minmem": 1000}
    assert defaults.check_params("nd", {"cpu_speed": "1.5",
                                        "ovs_link": None}) == \
        {"cpu_speed": 1.5, "ovs_link": None}
    assert defaults.check_params("hv", {"root_path": None},
                                 hypervisor="kvm") == {"root_path": None}
    assert defaults.check_params("nic", {"vlan": False}) == {"vlan": ""}


def test_legacy_memory_becomes_minmem_and_maxmem():
    assert defaults.check_params("be", {"memory": 512}) == \
        {"maxmem": 512, "minmem": 512}


@pytest.mark.parametrize("kind,params,extra,message", [
    ("be", {"vcpu": 1}, {}, "Unknown parameter 'vcpu'"),
    ("be", {"vcpus": "x"}, {}, "'vcpus' (value x) is not a valid integer"),
    ("be", {"auto_balance": "maybe"}, {},
     "'auto_balance' (value maybe) is not a valid boolean"),
    ("be", {"maxmem": "12q"}, {},
     "'maxmem' (value 12q) is not a valid size. error: Unknown unit: q"),
    ("nd", {"cpu_speed": "fast"}, {},
     "'cpu_speed' (value fast) is not a valid float"),
    ("nic", {"link": 3}, {}, "'link' (value 3) is not a valid string"),
    ("hv", {"kernel_path": "/k"}, {"hypervisor": "fake"},
     "Unknown parameter 'kernel_path'"),
    ("disk", {"stripes": "two"}, {"template": "plain"},
     "'stripes' (value two) is not a valid integer"),
])
def test_check_params_errors_use_ganetis_wording(kind, params, extra,
                                                 message):
    with pytest.raises(errors.TypeEnforcementError) as info:
        defaults.check_params(kind, params, **extra)
    assert str(info.value) == message


def test_parse_unit_rounds_up_to_four_mib():
    assert defaults.parse_unit("1") == 4
    assert defaults.parse_unit("0.5g") == 512
    assert defaults.parse_unit("1.001G") == 1028
    assert defaults.parse_unit("1T") == 1048576
    with pytest.raises(errors.UnitParseError):
        defaults.parse_unit("G")


def test_fill_dict_overlays_and_skips():
    base = {"a": 1, "b": {"c": 2}}
    out = defaults.fill_dict(base, {"a": 3}, skip_keys=["b"])
    assert out == {"a": 3}
    out = defaults.fill_dict(base, {})
    out["b"]["c"] = 9
    assert base["b"]["c"] == 2  # defaults are copied, not shared


def test_fill_hv_layers_cluster_os_and_instance():
    cluster = sample_cluster()
    cluster["os_hvp"] = {"debian": {"kvm": {"kernel_args": "quiet"}}}
    inst = {"hypervisor": "kvm", "os": "debian",
            "hvparams": {"acpi": False}}
    filled = defaults.fill_hv(cluster, inst)
    assert filled["acpi"] is False and filled["kernel_args"] == "quiet"
    assert filled["migration_port"] == 8102
    assert "migration_port" not in defaults.fill_hv(cluster, inst,
                                                    skip_globals=True)


def test_fill_be_nic_nd_and_ipolicy():
    cluster = sample_cluster()
    assert defaults.fill_be(cluster, {"beparams": {"vcpus": 2}})["vcpus"] == 2
    assert defaults.fill_be(cluster, {"beparams": {}})["maxmem"] == 128
    assert defaults.simple_fill_nic(cluster, {"mode": "routed"}) == \
        {"mode": "routed", "link": "gbr0", "vlan": ""}
    group = {"ndparams": {"ssh_port": 2222}}
    node = {"ndparams": {"spindle_count": 4}}
    nd = defaults.fill_nd(cluster, group, node)
    assert nd["ssh_port"] == 2222 and nd["spindle_count"] == 4
    assert nd["ovs_name"] == "switch1"
    policy = defaults.simple_fill_ipolicy(cluster, {"std": {"cpu-count": 2},
                                                    "vcpu-ratio": 8})
    assert policy["std"]["cpu-count"] == 2
    assert policy["std"]["memory-size"] == 128
    assert policy["vcpu-ratio"] == 8 and policy["minmax"] == \
        cluster["ipolicy"]["minmax"]
    dp = defaults.simple_fill_dp(cluster, {"plain": {"stripes": 2}})
    assert dp["plain"] == {"stripes": 2} and dp["drbd"]["protocol"] == "C"
    assert sorted(dp) == sorted(defaults.DISK_TEMPLATES)


def test_params_that_are_global_are_refused_below_cluster_level():
    with pytest.raises(errors.OpPrereqError) as info:
        defaults.check_not_global({"migration_port": 1, "acpi": True},
                                  defaults.HVC_GLOBALS, "hypervisor",
                                  "instance")
    assert info.value.args[0] == (
        "The following hypervisor parameters are global and cannot be"
        " customized at instance level, please modify them at cluster level:"
        " migration_port")
