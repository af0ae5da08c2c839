"""Opcode declarations: networks (IP pools) and their connections to node groups."""

from qganeti import optypes as t
from qganeti.opcodes import REQUIRED, Param, declare

NIC_MODES = ["bridged", "routed", "openvswitch"]


class _IPv4Address(t.Type):
    desc = "IPv4 address"

    def check(self, value):
        from qganeti import netutils
        return isinstance(value, str) and netutils.is_ipv4(value)

    def to_text(self, value):
        return value

    def from_text(self, text):
        return self.coerce(text)


class _IPv4Network(_IPv4Address):
    """a.b.c.d/n, 0 <= n <= 32 (Ganeti's IPv4Network)."""
    desc = "IPv4 network"

    def check(self, value):
        if not isinstance(value, str) or value.count("/") != 1:
            return False
        address, bits = value.split("/")
        return (_IPv4Address.check(self, address) and bits.isdigit()
                and str(int(bits)) == bits and int(bits) <= 32)


class _IPv6(_IPv4Address):
    def __init__(self, network):
        self.network = network
        self.desc = "IPv6 network" if network else "IPv6 address"

    def check(self, value):
        if not isinstance(value, str):
            return False
        import ipaddress
        try:
            if self.network:
                if "/" not in value:
                    return False
                ipaddress.IPv6Network(value, strict=False)
            else:
                ipaddress.IPv6Address(value)
        except ValueError:
            return False
        return True


IPv4Address = _IPv4Address()
IPv4Network = _IPv4Network()
IPv6Address = _IPv6(False)
IPv6Network = _IPv6(True)

_NE = t.NonEmptyString
_NETWORK_NAME = Param("network_name", REQUIRED, _NE, "Network name")
_GROUP_NAME = Param("group_name", REQUIRED, _NE, "Group name")
_GATEWAY = Param("gateway", None, t.Maybe(IPv4Address), "Network gateway (IPv4 address)")
_NETWORK6 = Param("network6", None, t.Maybe(IPv6Network), "Network address (IPv6 subnet)")
_GATEWAY6 = Param("gateway6", None, t.Maybe(IPv6Address), "Network gateway (IPv6 address)")
_MAC_PREFIX = Param("mac_prefix", None, t.Maybe(_NE),
                    "Network specific mac prefix (that overrides the cluster one)")
_CONFLICTS_CHECK = Param("conflicts_check", True, t.Bool,
                         "Whether to check for conflicting IP addresses")


declare("OP_NETWORK_ADD", [
    _NETWORK_NAME,
    Param("network", REQUIRED, IPv4Network, "Network address (IPv4 subnet)"),
    _GATEWAY, _NETWORK6, _GATEWAY6, _MAC_PREFIX,
    Param("add_reserved_ips", None, t.Maybe(t.ListOf(IPv4Address)),
          "Which IP addresses to reserve"),
    _CONFLICTS_CHECK,
    Param("tags", [], t.ListOf(_NE), "Network tags"),
], dsc_field="network_name", doc="Add an IP network to the cluster.")


declare("OP_NETWORK_REMOVE", [
    _NETWORK_NAME,
    Param("force", False, t.Bool, "Whether to force the operation"),
], dsc_field="network_name", doc="Remove an existing network from the cluster.")


declare("OP_NETWORK_SET_PARAMS", [
    _NETWORK_NAME, _GATEWAY, _NETWORK6, _GATEWAY6, _MAC_PREFIX,
    Param("add_reserved_ips", None, t.Maybe(t.ListOf(IPv4Address)),
          "Which external IP addresses to reserve"),
    Param("remove_reserved_ips", None, t.Maybe(t.ListOf(IPv4Address)),
          "Which external IP addresses to release"),
], dsc_field="network_name", doc="Modify Network's parameters except for IPv4 subnet.")


declare("OP_NETWORK_CONNECT", [
    _GROUP_NAME, _NETWORK_NAME,
    Param("network_mode", REQUIRED, t.ElemOf(NIC_MODES), "Network mode when connecting to a"
          " group"),
    Param("network_link", REQUIRED, _NE, "Network link when connecting to a group"),
    Param("network_vlan", "", t.String, "Network vlan when connecting to a group"),
    _CONFLICTS_CHECK,
], dsc_field="network_name", doc="Connect a Network to a specific Nodegroup with the defined"
   " netparams (mode, link).")


declare("OP_NETWORK_DISCONNECT", [_GROUP_NAME, _NETWORK_NAME], dsc_field="network_name",
        doc="Disconnect a Network from a Nodegroup.")
