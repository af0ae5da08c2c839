"""IPv4 address pools of networks (Ganeti's network.AddressPool), and MACs.

A network in config.data keeps its pool as two bit strings of '0'/'1', one
character per address of its IPv4 subnet (network address first):
"reservations" (addresses used by instance NICs) and "ext_reservations"
(addresses reserved outside Ganeti: network, broadcast, gateway, node and
master addresses, and what `gnt-network add/modify --add-reserved-ips`
names). An address is free when neither string has a '1' for it.

For other code (instance creation, NIC changes), the API is:

    pool = AddressPool(net)               net: a config.data network dict
    pool.contains(addr) / is_reserved(addr, external=False)
    pool.reserve(addr, external=False)    AddressPoolError if already taken
    pool.release(addr, external=False)    AddressPoolError if not reserved
    pool.generate_free() -> addr          first free address (not reserved)
    pool.reserve_free() -> addr           ... and reserved
    pool.free_count, pool.reserved_count, pool.map (X/.), pool.external()
    pool.store(net)                       write the bit strings back

    res = Reservations(cfg)               several NICs, one config change
    ip = res.reserve(net_uuid, "pool")    or an explicit address;
    res.release(net_uuid, ip)             errors.OpPrereqError as Ganeti words it
    config.commit(res.changes())          tests the old bit strings, so a
                                          concurrent change makes it fail
                                          (errors.OpPrereqError, wrong_state)
                                          instead of handing out an IP twice
    res.store()                           or, inside config.update(fn) on
                                          Reservations(the config being
                                          changed): write the pools back

    reserve_ip(cfg, net_uuid, address_or_pool) -> (address, change ops)
    release_ip(cfg, net_uuid, address) -> change ops

    mac_prefix(cfg, net_uuid=None) -> "aa:00:00"
    generate_mac(cfg, net_uuid=None, taken=()) -> a MAC unused in CFG
    normalize_mac_prefix(text) -> "aa:00:00" or errors.OpPrereqError

Inside config.update(fn) the same pool works on the config being changed:
AddressPool(cfg["networks"][uuid]), reserve, then pool.store(that dict).
"""

import ipaddress

from qganeti import errors

#: Ganeti's limits: at most a /16 (65536 addresses), at least a /30
IPV4_NETWORK_MIN_SIZE = 30
IPV4_NETWORK_MAX_SIZE = 16
IPV4_NETWORK_MIN_NUM_HOSTS = 2 ** (32 - IPV4_NETWORK_MIN_SIZE)
IPV4_NETWORK_MAX_NUM_HOSTS = 2 ** (32 - IPV4_NETWORK_MAX_SIZE)

#: the NIC "ip" value that asks for a free address of the NIC's network
NIC_IP_POOL = "pool"

_FROM_TEXT = bytes.maketrans(b"01", b"\x00\x01")
_TO_TEXT = bytes.maketrans(b"\x00\x01", b"01")
_TO_MAP = bytes.maketrans(b"\x00\x01", b".X")


class AddressPoolError(errors.GenericError):
    """Ganeti's errors.AddressPoolError (raised and handled inside an LU)."""


def _parse_address(address):
    try:
        return ipaddress.IPv4Address(address)
    except (ipaddress.AddressValueError, ValueError, TypeError):
        raise AddressPoolError("'%s' is not a valid IPv4 address" % (address,))


def parse_network(text):
    """TEXT ('192.0.2.0/24') as an ipaddress.IPv4Network (host bits allowed)."""
    try:
        return ipaddress.IPv4Network(text, strict=False)
    except (ipaddress.AddressValueError, ipaddress.NetmaskValueError, ValueError,
            TypeError):
        raise AddressPoolError("'%s' is not a valid IPv4 network" % (text,))


class AddressPool:
    """The address pool of one network (a config.data network dict)."""

    def __init__(self, net):
        self.network = parse_network(net.get("network"))
        size = self.network.num_addresses
        if size > IPV4_NETWORK_MAX_NUM_HOSTS:
            raise AddressPoolError("A big network with %s host(s) is currently"
                                   " not supported. please specify at most a"
                                   " /%s network" % (size, IPV4_NETWORK_MAX_SIZE))
        if size < IPV4_NETWORK_MIN_NUM_HOSTS:
            raise AddressPoolError("A network with only %s host(s) is too"
                                   " small, please specify at least a /%s"
                                   " network" % (size, IPV4_NETWORK_MIN_SIZE))
        self.base = int(self.network.network_address)
        self.gateway = net.get("gateway")
        self.reservations = self._bits(net.get("reservations"), size)
        self.ext_reservations = self._bits(net.get("ext_reservations"), size)
        own = int.from_bytes(self.reservations, "big")
        ext = int.from_bytes(self.ext_reservations, "big")
        self._all = bytearray((own | ext).to_bytes(size, "big"))   # 1: used or reserved

    @staticmethod
    def _bits(text, size):
        if not text:
            return bytearray(size)
        if len(text) != size or text.strip("01"):
            raise AddressPoolError("Corrupt address pool: %d bits for %d addresses"
                                   % (len(text), size))
        return bytearray(text.encode("ascii").translate(_FROM_TEXT))

    def _mark(self, idx, external, value):
        (self.ext_reservations if external else self.reservations)[idx] = value
        self._all[idx] = self.reservations[idx] | self.ext_reservations[idx]

    @classmethod
    def initialize(cls, net):
        """A new network's pool: network, broadcast and gateway reserved
        externally (Ganeti's InitializeNetwork); NET gets the bit strings."""
        pool = cls(dict(net, reservations=None, ext_reservations=None))
        pool.reserve(str(pool.network.network_address), external=True)
        pool.reserve(str(pool.network.broadcast_address), external=True)
        if net.get("gateway"):
            pool.reserve(net["gateway"], external=True)
        pool.store(net)
        return pool

    # -- addresses
    def contains(self, address):
        if address is None:
            return False
        try:
            return _parse_address(address) in self.network
        except AddressPoolError:
            return False

    def _index(self, address):
        addr = _parse_address(address)
        if addr not in self.network:
            raise AddressPoolError("%s does not contain %s" % (self.network, addr))
        return int(addr) - self.base

    def address(self, index):
        return str(ipaddress.IPv4Address(self.base + index))

    def is_reserved(self, address, external=False):
        bits = self.ext_reservations if external else self.reservations
        return bool(bits[self._index(address)])

    def is_taken(self, address):
        """Reserved by an instance or externally."""
        return bool(self._all[self._index(address)])

    def reserve(self, address, external=False):
        if self.is_reserved(address, external):
            if external:
                raise AddressPoolError("IP %s is already externally reserved" % address)
            raise AddressPoolError("IP %s is already used by an instance" % address)
        self._mark(self._index(address), external, 1)

    def release(self, address, external=False):
        if not self.is_reserved(address, external):
            if external:
                raise AddressPoolError("IP %s is not externally reserved" % address)
            raise AddressPoolError("IP %s is not used by an instance" % address)
        self._mark(self._index(address), external, 0)

    def generate_free(self):
        """The first address neither used nor externally reserved."""
        idx = self._all.find(0)
        if idx < 0:
            raise AddressPoolError("%s is full" % self.network)
        return self.address(idx)

    def reserve_free(self):
        address = self.generate_free()
        self.reserve(address)
        return address

    # -- summaries (the query fields of networks)
    @property
    def reserved_count(self):
        return len(self.reservations) - self.free_count

    @property
    def free_count(self):
        return self._all.count(0)

    def is_full(self):
        return self.free_count == 0

    @property
    def map(self):
        return bytes(self._all).translate(_TO_MAP).decode("ascii")

    def external(self):
        """Externally reserved addresses, in order."""
        out = []
        idx = self.ext_reservations.find(1)
        while idx >= 0:
            out.append(self.address(idx))
            idx = self.ext_reservations.find(1, idx + 1)
        return out

    # -- back to the config
    def bit_strings(self):
        return (bytes(self.reservations).translate(_TO_TEXT).decode("ascii"),
                bytes(self.ext_reservations).translate(_TO_TEXT).decode("ascii"))

    def store(self, net):
        """Write the bit strings into NET (a config.data network dict)."""
        net["reservations"], net["ext_reservations"] = self.bit_strings()


def _network(cfg, net_uuid):
    net = cfg.get("networks", {}).get(net_uuid)
    if net is None:
        raise errors.OpPrereqError("Network '%s' not found" % net_uuid, errors.ECODE_NOENT)
    return net


class Reservations:
    """Address reservations on one config snapshot, committed as one change."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.pools = {}
        self.original = {}

    def pool(self, net_uuid):
        if net_uuid not in self.pools:
            net = _network(self.cfg, net_uuid)
            try:
                self.pools[net_uuid] = AddressPool(net)
            except AddressPoolError as err:
                raise errors.OpPrereqError("Network '%s': %s" % (net.get("name"), err),
                                           errors.ECODE_STATE)
            self.original[net_uuid] = dict((key, net[key]) for key in
                                           ("reservations", "ext_reservations") if key in net)
        return self.pools[net_uuid]

    def reserve(self, net_uuid, address, check=True):
        """Reserve ADDRESS ("pool": the first free one) for an instance NIC.

        With check=False an address already taken may be reserved again (as
        Ganeti's --no-conflicts-check allows). The error messages are those
        of Ganeti's instance creation.
        """
        pool = self.pool(net_uuid)
        name = self.cfg["networks"][net_uuid].get("name")
        if address is not None and address.lower() == NIC_IP_POOL:
            try:
                return pool.reserve_free()
            except AddressPoolError:
                raise errors.OpPrereqError("Unable to get a free IP from the network '%s'"
                                           % name, errors.ECODE_STATE)
        try:
            taken = pool.is_taken(address)
            if taken and check:
                raise AddressPoolError("taken")
            if not pool.is_reserved(address):
                pool.reserve(address)
        except AddressPoolError:
            raise errors.OpPrereqError("IP address %s already in use or does not belong to"
                                       " network %s" % (address, name),
                                       errors.ECODE_NOTUNIQUE)
        return address

    def release(self, net_uuid, address):
        """Give an instance NIC's address back (no error if it was not used)."""
        pool = self.pool(net_uuid)
        try:
            if pool.is_reserved(address):
                pool.release(address)
        except AddressPoolError:
            pass

    def store(self):
        """Write every touched pool back into the config (inside config.update)."""
        for net_uuid, pool in self.pools.items():
            pool.store(self.cfg["networks"][net_uuid])

    def changes(self):
        """config.commit ops: test each touched pool's old bits, replace them."""
        ops = []
        for net_uuid, pool in sorted(self.pools.items()):
            old = self.original[net_uuid]
            for key, new in zip(("reservations", "ext_reservations"), pool.bit_strings()):
                if new == (old.get(key) or "0" * len(new)):
                    continue
                path = "/networks/%s/%s" % (net_uuid, key)
                if key in old:
                    ops.append({"op": "test", "path": path, "value": old[key]})
                ops.append({"op": "replace", "path": path, "value": new})
        return ops


def reserve_ip(cfg, net_uuid, address, check=True):
    """(address, change ops) for one NIC; see Reservations.reserve."""
    res = Reservations(cfg)
    address = res.reserve(net_uuid, address, check)
    return address, res.changes()


def release_ip(cfg, net_uuid, address):
    """Change ops giving ADDRESS back to the network's pool."""
    res = Reservations(cfg)
    res.release(net_uuid, address)
    return res.changes()


# -- MAC addresses

def normalize_mac_prefix(text):
    """Ganeti's NormalizeAndValidateThreeOctetMacPrefix."""
    import re
    if not isinstance(text, str) or not re.match("^([0-9a-f]{2}:){2}[0-9a-f]{2}$", text,
                                                 re.I):
        raise errors.OpPrereqError("Invalid MAC address '%s'" % (text,), errors.ECODE_INVAL)
    return text.lower()


def mac_prefix(cfg, net_uuid=None):
    """The network's MAC prefix if it has one, else the cluster's."""
    if net_uuid:
        prefix = _network(cfg, net_uuid).get("mac_prefix")
        if prefix:
            return prefix
    return cfg["cluster"]["mac_prefix"]


def used_macs(cfg):
    return set(nic.get("mac") for inst in cfg.get("instances", {}).values()
               for nic in inst.get("nics") or () if isinstance(nic, dict))


def generate_mac(cfg, net_uuid=None, taken=()):
    """A random MAC with the right prefix, used by no NIC of CFG nor in TAKEN."""
    import os
    prefix = mac_prefix(cfg, net_uuid)
    used = used_macs(cfg) | set(taken)
    for _ in range(64):
        tail = os.urandom(3)
        mac = "%s:%02x:%02x:%02x" % (prefix, tail[0], tail[1], tail[2])
        if mac not in used:
            return mac
    raise errors.OpExecError("Cannot generate a unique MAC address with prefix %s" % prefix)
