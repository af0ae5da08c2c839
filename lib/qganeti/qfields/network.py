"""QR_NETWORK: Ganeti 3.0's 19 network fields over config.data networks."""

from qganeti.query import UNAVAIL, QFT_NUMBER, QFT_OTHER, QFT_TEXT, Field, FieldTable
from qganeti.qfields.common import common_fields


def _all_reservations(net):
    """Address bits in use (instances or external), or None without a pool."""
    own = net.get("reservations")
    ext = net.get("ext_reservations")
    if own is None or ext is None:
        return None
    return [a != "0" or b != "0" for a, b in zip(own, ext)]


def _free_count(net, ctx):
    bits = _all_reservations(net)
    return 0 if bits is None else bits.count(False)


def _reserved_count(net, ctx):
    bits = _all_reservations(net)
    return 0 if bits is None else bits.count(True)


def _map(net, ctx):
    bits = _all_reservations(net)
    return "" if bits is None else "".join("X" if bit else "." for bit in bits)


def _external_reservations(net, ctx):
    ext = net.get("ext_reservations")
    if not ext or not net.get("network"):
        return ""
    import ipaddress
    base = int(ipaddress.ip_network(net["network"], strict=False).network_address)
    return ", ".join(str(ipaddress.IPv4Address(base + index))
                     for index, bit in enumerate(ext) if bit != "0")


def _group_connections(net, ctx):
    uuid = net.get("uuid")
    out = []
    for group_uuid in sorted(ctx.groups):
        group = ctx.groups[group_uuid]
        params = (group.get("networks") or {}).get(uuid)
        if params is None:
            continue
        out.append([group.get("name"), params.get("mode") or "-", params.get("link") or "-",
                    params.get("vlan") or "-"])
    return out


def _instances(net, ctx):
    uuid = net.get("uuid")
    out = []
    for inst_uuid in sorted(ctx.instances):
        inst = ctx.instances[inst_uuid]
        if any(nic.get("network") == uuid for nic in inst.get("nics") or ()):
            if inst.get("name") is not None:
                out.append(inst["name"])
    return out


def _optional(key):
    def getter(net, ctx):
        value = net.get(key)
        return UNAVAIL if value is None else value
    return getter


NETWORK_FIELDS = FieldTable([
    Field("name", "Network", QFT_TEXT, "Name", lambda net, ctx: net.get("name")),
    Field("network", "Subnet", QFT_TEXT, "IPv4 subnet", lambda net, ctx: net.get("network")),
    Field("gateway", "Gateway", QFT_OTHER, "IPv4 gateway", _optional("gateway")),
    Field("network6", "IPv6Subnet", QFT_OTHER, "IPv6 subnet", _optional("network6")),
    Field("gateway6", "IPv6Gateway", QFT_OTHER, "IPv6 gateway", _optional("gateway6")),
    Field("mac_prefix", "MacPrefix", QFT_OTHER, "MAC address prefix", _optional("mac_prefix")),
    Field("free_count", "FreeCount", QFT_NUMBER, "Number of available addresses", _free_count),
    Field("map", "Map", QFT_TEXT, "Actual mapping", _map),
    Field("reserved_count", "ReservedCount", QFT_NUMBER, "Number of reserved addresses",
          _reserved_count),
    Field("group_list", "GroupList", QFT_OTHER,
          "List of nodegroups (group name, NIC mode, NIC link)", _group_connections),
    Field("group_cnt", "NodeGroups", QFT_NUMBER, "Number of nodegroups",
          lambda net, ctx: len(_group_connections(net, ctx))),
    Field("inst_list", "InstanceList", QFT_OTHER, "List of instances", _instances),
    Field("inst_cnt", "Instances", QFT_NUMBER, "Number of instances",
          lambda net, ctx: len(_instances(net, ctx))),
    Field("external_reservations", "ExternalReservations", QFT_TEXT, "External reservations",
          _external_reservations),
] + common_fields("Network"), entity="Network")
