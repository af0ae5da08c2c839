"""IP address pools of networks (qganeti.network)."""

import pytest

from qganeti import config, errors, network


def _net(cidr="192.0.2.0/28", gateway=None, **extra):
    net = {"name": "net1", "network": cidr, "gateway": gateway}
    net.update(extra)
    network.AddressPool.initialize(net)
    return net


def test_a_new_pool_reserves_network_broadcast_and_gateway_externally():
    net = _net(gateway="192.0.2.1")
    assert net["reservations"] == "0" * 16
    assert net["ext_reservations"] == "11" + "0" * 13 + "1"
    pool = network.AddressPool(net)
    assert pool.external() == ["192.0.2.0", "192.0.2.1", "192.0.2.15"]
    assert (pool.free_count, pool.reserved_count) == (13, 3)
    assert pool.map == "XX" + "." * 13 + "X"


@pytest.mark.parametrize("cidr, message", [
    ("10.0.0.0/15", "A big network with 131072 host(s) is currently not supported."
     " please specify at most a /16 network"),
    ("10.0.0.0/31", "A network with only 2 host(s) is too small, please specify at"
     " least a /30 network"),
    ("10.0.0.300/24", "'10.0.0.300/24' is not a valid IPv4 network"),
])
def test_pool_sizes_outside_ganetis_limits_are_refused(cidr, message):
    with pytest.raises(network.AddressPoolError) as err:
        network.AddressPool({"network": cidr})
    assert str(err.value) == message


def test_free_addresses_come_in_order_and_skip_external_reservations():
    pool = network.AddressPool(_net(gateway="192.0.2.1"))
    pool.reserve("192.0.2.3", external=True)
    assert pool.reserve_free() == "192.0.2.2"
    assert pool.reserve_free() == "192.0.2.4"
    assert pool.is_reserved("192.0.2.4")
    assert not pool.is_reserved("192.0.2.3")
    assert pool.is_reserved("192.0.2.3", external=True)


def test_reserve_and_release_give_ganetis_messages():
    pool = network.AddressPool(_net())
    pool.reserve("192.0.2.5")
    with pytest.raises(network.AddressPoolError, match="IP 192.0.2.5 is already used by"
                       " an instance"):
        pool.reserve("192.0.2.5")
    with pytest.raises(network.AddressPoolError, match="IP 192.0.2.0 is already externally"
                       " reserved"):
        pool.reserve("192.0.2.0", external=True)
    with pytest.raises(network.AddressPoolError, match="IP 192.0.2.6 is not used by an"
                       " instance"):
        pool.release("192.0.2.6")
    with pytest.raises(network.AddressPoolError, match="192.0.2.0/28 does not contain"
                       " 198.51.100.1"):
        pool.reserve("198.51.100.1")
    assert not pool.contains("198.51.100.1") and pool.contains("192.0.2.9")
    assert not pool.contains("not-an-ip")


def test_a_full_pool_says_so():
    pool = network.AddressPool(_net("192.0.2.0/30"))
    pool.reserve_free()
    pool.reserve_free()
    with pytest.raises(network.AddressPoolError, match="192.0.2.0/30 is full"):
        pool.generate_free()


def test_bit_strings_round_trip_through_the_network_dict():
    net = _net()
    pool = network.AddressPool(net)
    pool.reserve("192.0.2.7")
    pool.store(net)
    again = network.AddressPool(net)
    assert again.is_reserved("192.0.2.7")
    assert net["reservations"][7] == "1"


def test_corrupt_bit_strings_are_refused():
    with pytest.raises(network.AddressPoolError, match="Corrupt address pool"):
        network.AddressPool({"network": "192.0.2.0/28", "reservations": "0101"})


@pytest.fixture
def cfg_path(tmp_path):
    cfg = config.new_cluster("cluster.example.com", "node1.example.com", "192.0.2.254",
                             primary_ip="192.0.2.10", now=1000.0)
    net = _net(gateway="192.0.2.1")
    net["uuid"] = "11111111-2222-4333-8444-555555555555"
    net.update(mac_prefix="aa:bb:cc", serial_no=1, ctime=1000.0, mtime=1000.0, tags=[])
    cfg["networks"][net["uuid"]] = net
    path = str(tmp_path / "config.data")
    config.create(cfg, path)
    return path


NET = "11111111-2222-4333-8444-555555555555"


def test_reservations_for_several_nics_commit_as_one_change(cfg_path):
    cfg = config.load(cfg_path)
    res = network.Reservations(cfg)
    first = res.reserve(NET, "pool")
    second = res.reserve(NET, "POOL")
    fixed = res.reserve(NET, "192.0.2.9")
    assert (first, second, fixed) == ("192.0.2.2", "192.0.2.3", "192.0.2.9")
    config.commit(res.changes(), cfg_path)
    pool = network.AddressPool(config.load(cfg_path)["networks"][NET])
    assert [pool.is_reserved(a) for a in (first, second, fixed)] == [True] * 3
    assert pool.free_count == 16 - 3 - 3


def test_a_concurrent_reservation_makes_the_stale_change_fail(cfg_path):
    stale = config.load(cfg_path)
    address, changes = network.reserve_ip(config.load(cfg_path), NET, "pool")
    config.commit(changes, cfg_path)
    other, stale_changes = network.reserve_ip(stale, NET, "pool")
    assert other == address          # both saw the same first free address ...
    with pytest.raises(errors.OpPrereqError) as err:
        config.commit(stale_changes, cfg_path)   # ... only one gets it
    assert err.value.args[1] == errors.ECODE_STATE


def test_taken_or_foreign_addresses_are_refused_as_ganeti_does(cfg_path):
    cfg = config.load(cfg_path)
    for address in ("192.0.2.1", "198.51.100.7"):
        with pytest.raises(errors.OpPrereqError) as err:
            network.reserve_ip(cfg, NET, address)
        assert err.value.args == ("IP address %s already in use or does not belong to"
                                  " network net1" % address, errors.ECODE_NOTUNIQUE)
    # without the conflicts check an externally reserved address may be used
    address, changes = network.reserve_ip(cfg, NET, "192.0.2.1", check=False)
    assert address == "192.0.2.1" and changes


def test_released_addresses_return_to_the_pool(cfg_path):
    address, changes = network.reserve_ip(config.load(cfg_path), NET, "pool")
    config.commit(changes, cfg_path)
    config.commit(network.release_ip(config.load(cfg_path), NET, address), cfg_path)
    assert network.reserve_ip(config.load(cfg_path), NET, "pool")[0] == address
    assert network.release_ip(config.load(cfg_path), NET, "192.0.2.12") == []


def test_an_unknown_network_is_unknown_entity(cfg_path):
    with pytest.raises(errors.OpPrereqError) as err:
        network.reserve_ip(config.load(cfg_path), "nope", "pool")
    assert err.value.args[1] == errors.ECODE_NOENT


def test_macs_use_the_network_prefix_else_the_clusters(cfg_path):
    cfg = config.load(cfg_path)
    assert network.generate_mac(cfg, NET).startswith("aa:bb:cc:")
    assert network.generate_mac(cfg).startswith(cfg["cluster"]["mac_prefix"] + ":")
    mac = network.generate_mac(cfg, NET)
    assert len(mac.split(":")) == 6 and all(len(p) == 2 for p in mac.split(":"))


def test_mac_prefixes_are_validated_and_lowered():
    assert network.normalize_mac_prefix("AA:0b:Cc") == "aa:0b:cc"
    for bad in ("aa:bb", "aa:bb:cc:dd", "zz:00:00", "", None):
        with pytest.raises(errors.OpPrereqError, match="Invalid MAC address"):
            network.normalize_mac_prefix(bad)
