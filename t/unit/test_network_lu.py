"""Network opcodes (qganeti.lu.network) on a cluster's config."""

import pytest

from qganeti import errors, network
from qganeti.lu import network as lunet

from objects_cluster import (add_instance, cfg, group_by_name, make_cluster, prereq,
                             run_op)


@pytest.fixture(autouse=True)
def cluster(tmp_path, monkeypatch):
    return make_cluster(tmp_path, monkeypatch)


def _net(name="net1"):
    return next(n for n in cfg()["networks"].values() if n["name"] == name)


def _pool(name="net1"):
    return network.AddressPool(_net(name))


def test_add_reserves_gateway_node_and_master_addresses():
    run = run_op(lunet.Add, "OP_NETWORK_ADD", network_name="net1", network="192.0.2.0/24",
                 gateway="192.0.2.1", add_reserved_ips=["192.0.2.100"], tags=["blue"],
                 mac_prefix="AA:BB:CC")
    pool = _pool()
    assert pool.external() == ["192.0.2.0", "192.0.2.1", "192.0.2.10", "192.0.2.100",
                               "192.0.2.254", "192.0.2.255"]
    net = _net()
    assert (net["mac_prefix"], net["tags"], net["gateway"]) == ("aa:bb:cc", ["blue"],
                                                                 "192.0.2.1")
    assert "network6" not in net
    assert "Reserved IP address of node 'node1.example.com' (192.0.2.10)" in run.log
    assert "Reserved cluster master IP address (192.0.2.254)" in run.log
    # primary and secondary address are the same: Ganeti warns about the second
    assert any(line.startswith("WARNING: Cannot reserve IP address '192.0.2.10'")
               for line in run.log)


def test_add_without_conflicts_check_leaves_node_addresses_free():
    run_op(lunet.Add, "OP_NETWORK_ADD", network_name="net1", network="192.0.2.0/24",
           conflicts_check=False)
    assert _pool().external() == ["192.0.2.0", "192.0.2.255"]


def test_add_refuses_duplicates_odd_names_and_bad_pools():
    run_op(lunet.Add, "OP_NETWORK_ADD", network_name="net1", network="10.0.0.0/24")
    message, code = prereq(lunet.Add, "OP_NETWORK_ADD", network_name="net1",
                           network="10.1.0.0/24")
    assert message.startswith("Desired network name 'net1' already exists as a network")
    assert code == errors.ECODE_EXISTS
    assert prereq(lunet.Add, "OP_NETWORK_ADD", network_name="a;b",
                  network="10.1.0.0/24")[1] == errors.ECODE_INVAL
    with pytest.raises(errors.OpExecError, match="Cannot create IP address pool for network"
                       " 'big': A big network with 131072 host"):
        run_op(lunet.Add, "OP_NETWORK_ADD", network_name="big", network="10.0.0.0/15")
    with pytest.raises(errors.OpExecError, match="10.2.0.0/24 does not contain 10.3.0.1"):
        run_op(lunet.Add, "OP_NETWORK_ADD", network_name="gw", network="10.2.0.0/24",
               gateway="10.3.0.1")
    with pytest.raises(errors.TagError):
        run_op(lunet.Add, "OP_NETWORK_ADD", network_name="t", network="10.4.0.0/24",
               tags=["no spaces"])
    assert [n["name"] for n in cfg()["networks"].values()] == ["net1"]


def test_modify_moves_the_gateway_and_changes_reservations():
    run_op(lunet.Add, "OP_NETWORK_ADD", network_name="net1", network="10.0.0.0/28",
           gateway="10.0.0.1", add_reserved_ips=["10.0.0.5"])
    run_op(lunet.SetParams, "OP_NETWORK_SET_PARAMS", network_name="net1", gateway="10.0.0.2")
    assert _pool().external() == ["10.0.0.0", "10.0.0.2", "10.0.0.5", "10.0.0.15"]
    run = run_op(lunet.SetParams, "OP_NETWORK_SET_PARAMS", network_name="net1",
                 add_reserved_ips=["10.0.0.5", "10.0.0.6"],
                 remove_reserved_ips=["10.0.0.2", "10.0.0.5", "10.0.0.9"],
                 mac_prefix="none")
    assert _pool().external() == ["10.0.0.0", "10.0.0.2", "10.0.0.6", "10.0.0.15"]
    assert run.log == [
        "WARNING: Cannot reserve IP address 10.0.0.5: IP 10.0.0.5 is already externally"
        " reserved",
        "WARNING: Cannot unreserve Gateway's IP",
        "WARNING: Cannot release IP address 10.0.0.9: IP 10.0.0.9 is not externally"
        " reserved"]
    assert "mac_prefix" not in _net()


def test_modify_refuses_gateway_with_reservations_and_used_gateways():
    run_op(lunet.Add, "OP_NETWORK_ADD", network_name="net1", network="10.0.0.0/28")
    assert prereq(lunet.SetParams, "OP_NETWORK_SET_PARAMS", network_name="net1",
                  gateway="10.0.0.1", add_reserved_ips=["10.0.0.3"]) == (
        "Cannot modify gateway and reserved ips at once", errors.ECODE_INVAL)
    net = _net()
    pool = network.AddressPool(net)
    pool.reserve("10.0.0.4")
    from qganeti import config
    config.commit([{"op": "replace", "path": "/networks/%s/reservations" % net["uuid"],
                    "value": pool.bit_strings()[0]}])
    assert prereq(lunet.SetParams, "OP_NETWORK_SET_PARAMS", network_name="net1",
                  gateway="10.0.0.4") == ("Gateway IP address '10.0.0.4' is already reserved",
                                          errors.ECODE_STATE)


def test_connect_and_disconnect_a_group():
    run_op(lunet.Add, "OP_NETWORK_ADD", network_name="net1", network="10.0.0.0/24")
    run_op(lunet.Connect, "OP_NETWORK_CONNECT", network_name="net1", group_name="default",
           network_mode="routed", network_link="rt1", network_vlan="100")
    net_uuid = _net()["uuid"]
    assert group_by_name("default")["networks"] == {
        net_uuid: {"mode": "routed", "link": "rt1", "vlan": "100"}}
    again = run_op(lunet.Connect, "OP_NETWORK_CONNECT", network_name="net1",
                   group_name="default", network_mode="bridged", network_link="br0")
    assert again.log == ["WARNING: Network 'net1' is already mapped to group 'default'"]
    message, code = prereq(lunet.Remove, "OP_NETWORK_REMOVE", network_name="net1")
    assert (message, code) == ("Network still connected", errors.ECODE_STATE)
    run_op(lunet.Disconnect, "OP_NETWORK_DISCONNECT", network_name="net1",
           group_name="default")
    assert group_by_name("default")["networks"] == {}
    gone = run_op(lunet.Disconnect, "OP_NETWORK_DISCONNECT", network_name="net1",
                  group_name="default")
    assert gone.log == ["WARNING: Network 'net1' is not mapped to group 'default'"]
    run_op(lunet.Remove, "OP_NETWORK_REMOVE", network_name="net1")
    assert cfg()["networks"] == {}


def test_connecting_over_addresses_instances_use_is_refused():
    run_op(lunet.Add, "OP_NETWORK_ADD", network_name="net1", network="10.0.0.0/24")
    add_instance("inst1.example.com", nics=[{"ip": "10.0.0.7"}])
    run = None
    with pytest.raises(errors.OpPrereqError) as err:
        run = run_op(lunet.Connect, "OP_NETWORK_CONNECT", network_name="net1",
                     group_name="default", network_mode="bridged", network_link="br0")
    assert err.value.args == ("Conflicting IP addresses found;  remove/modify the"
                              " corresponding network interfaces", errors.ECODE_STATE)
    assert run is None
    run_op(lunet.Connect, "OP_NETWORK_CONNECT", network_name="net1", group_name="default",
           network_mode="bridged", network_link="br0", conflicts_check=False)
    assert group_by_name("default")["networks"]


def test_disconnecting_a_network_instances_use_is_refused():
    run_op(lunet.Add, "OP_NETWORK_ADD", network_name="net1", network="10.0.0.0/24")
    run_op(lunet.Connect, "OP_NETWORK_CONNECT", network_name="net1", group_name="default",
           network_mode="bridged", network_link="br0")
    add_instance("inst1.example.com", nics=[{"ip": "10.0.0.7", "network": _net()["uuid"]}])
    assert prereq(lunet.Disconnect, "OP_NETWORK_DISCONNECT", network_name="net1",
                  group_name="default")[1] == errors.ECODE_STATE


def test_unknown_networks_and_groups_are_not_found():
    assert prereq(lunet.Remove, "OP_NETWORK_REMOVE", network_name="nope") == (
        "Network 'nope' not found", errors.ECODE_NOENT)
    run_op(lunet.Add, "OP_NETWORK_ADD", network_name="net1", network="10.0.0.0/24")
    assert prereq(lunet.Connect, "OP_NETWORK_CONNECT", network_name="net1",
                  group_name="nope", network_mode="routed", network_link="x") == (
        "Node group 'nope' not found", errors.ECODE_NOENT)


def test_hook_environment_names_only_what_is_set():
    assert lunet.hook_env("n", "10.0.0.0/24", None, None, None, "aa:00:00", ["a", "b"]) == {
        "NETWORK_NAME": "n", "NETWORK_SUBNET": "10.0.0.0/24",
        "NETWORK_MAC_PREFIX": "aa:00:00", "NETWORK_TAGS": "a b"}
