"""Network opcodes: add, remove, set params, connect to and disconnect from
node groups (Ganeti's lib/cmdlib/network.py, on config.data)."""

from qganeti import config, errors
from qganeti import network as netpool
from qganeti.lu.group import (check_name, group_instances, group_members, instance_locks,
                              lookup_group, master_hooks)


def find_network(cfg, name):
    """UUID of the network NAME (or UUID), or None (Ganeti's LookupNetwork)."""
    if name in cfg["networks"]:
        return name
    for uuid, net in cfg["networks"].items():
        if net.get("name") == name:
            return uuid
    return None


def lookup_network(cfg, name):
    uuid = find_network(cfg, name)
    if uuid is None:
        raise errors.OpPrereqError("Network '%s' not found" % name, errors.ECODE_NOENT)
    return uuid


def hook_env(name, subnet, gateway, network6, gateway6, mac_prefix, tags):
    """Ganeti's _BuildNetworkHookEnv: only the values that are set."""
    env = {}
    for key, value in (("NETWORK_NAME", name), ("NETWORK_SUBNET", subnet),
                       ("NETWORK_GATEWAY", gateway), ("NETWORK_SUBNET6", network6),
                       ("NETWORK_GATEWAY6", gateway6), ("NETWORK_MAC_PREFIX", mac_prefix)):
        if value:
            env[key] = value
    if tags:
        env["NETWORK_TAGS"] = " ".join(tags)
    return env


def _pool(net):
    try:
        return netpool.AddressPool(net)
    except netpool.AddressPoolError as err:
        raise errors.OpPrereqError("Network '%s' has a broken address pool: %s"
                                   % (net.get("name"), err), errors.ECODE_STATE)


class Add:
    HPATH = "network-add"
    HTYPE = "NETWORK"

    @staticmethod
    def expand(op, ctx):
        check_name("network", op["network_name"])
        if op["mac_prefix"]:
            op["mac_prefix"] = netpool.normalize_mac_prefix(op["mac_prefix"])
        ctx.network_uuid = config.new_uuid()
        locks = [("network/" + ctx.network_uuid, "exclusive")]
        if op["conflicts_check"]:
            locks.append(("node/[lockset]", "shared"))
        return locks

    @staticmethod
    def check(op, ctx):
        from qganeti.lu import tags
        cfg = ctx.config(reload=True)
        existing = find_network(cfg, op["network_name"])
        if existing is not None:
            raise errors.OpPrereqError("Desired network name '%s' already exists as a"
                                       " network (UUID: %s)" % (op["network_name"], existing),
                                       errors.ECODE_EXISTS)
        for tag in op["tags"]:
            tags.validate_tag(tag)

    @staticmethod
    def hooks_env(op, ctx):
        return hook_env(op["network_name"], op["network"], op["gateway"], op["network6"],
                        op["gateway6"], op["mac_prefix"], op["tags"])

    hooks_nodes = staticmethod(master_hooks)

    @staticmethod
    def run(op, ctx):
        cfg = ctx.config()
        net = {"name": op["network_name"], "network": op["network"]}
        for key in ("gateway", "network6", "gateway6", "mac_prefix"):
            if op[key] is not None:
                net[key] = op[key]
        try:
            pool = netpool.AddressPool.initialize(net)
        except netpool.AddressPoolError as err:
            raise errors.OpExecError("Cannot create IP address pool for network '%s': %s"
                                     % (op["network_name"], err))
        if op["conflicts_check"]:
            for node in cfg["nodes"].values():
                for ip in (node.get("primary_ip"), node.get("secondary_ip")):
                    if not pool.contains(ip):
                        continue
                    try:
                        pool.reserve(ip, external=True)
                        ctx.log_info("Reserved IP address of node '%s' (%s)", node["name"], ip)
                    except netpool.AddressPoolError as err:
                        ctx.log_warning("Cannot reserve IP address '%s' of node '%s': %s",
                                        ip, node["name"], err)
            master_ip = cfg["cluster"].get("master_ip")
            if pool.contains(master_ip):
                try:
                    pool.reserve(master_ip, external=True)
                    ctx.log_info("Reserved cluster master IP address (%s)", master_ip)
                except netpool.AddressPoolError as err:
                    ctx.log_warning("Cannot reserve cluster master IP address (%s): %s",
                                    master_ip, err)
        for ip in op["add_reserved_ips"] or []:
            try:
                pool.reserve(ip, external=True)
            except netpool.AddressPoolError as err:
                raise errors.OpExecError("Cannot reserve IP address '%s': %s" % (ip, err))
        pool.store(net)
        net["tags"] = list(op["tags"])
        ctx.commit([{"op": "add", "path": "/networks/" + ctx.network_uuid, "value": net}])


class Remove:
    HPATH = "network-remove"
    HTYPE = "NETWORK"

    @staticmethod
    def expand(op, ctx):
        ctx.network_uuid = lookup_network(ctx.config(), op["network_name"])
        return [("nodegroup/[lockset]", "shared"), ("network/" + ctx.network_uuid, "exclusive")]

    @staticmethod
    def check(op, ctx):
        from qganeti import query
        cfg = ctx.config(reload=True)
        groups = [g["name"] for g in cfg["nodegroups"].values()
                  if ctx.network_uuid in (g.get("networks") or {})]
        if groups:
            ctx.log_warning("Network '%s' is connected to the following node groups: %s"
                            % (op["network_name"], ", ".join(query.nice_sort(groups))))
            raise errors.OpPrereqError("Network still connected", errors.ECODE_STATE)

    @staticmethod
    def hooks_env(op, ctx):
        return {"NETWORK_NAME": op["network_name"]}

    hooks_nodes = staticmethod(master_hooks)

    @staticmethod
    def run(op, ctx):
        try:
            ctx.commit([{"op": "remove", "path": "/networks/" + ctx.network_uuid}])
        except errors.OpPrereqError as err:
            if err.args[1:] == (errors.ECODE_NOENT,):
                raise errors.OpExecError("Network '%s' with UUID %s disappeared"
                                         % (op["network_name"], ctx.network_uuid))
            raise


class SetParams:
    HPATH = "network-modify"
    HTYPE = "NETWORK"

    @staticmethod
    def expand(op, ctx):
        if op["gateway"] and (op["add_reserved_ips"] or op["remove_reserved_ips"]):
            raise errors.OpPrereqError("Cannot modify gateway and reserved ips at once",
                                       errors.ECODE_INVAL)
        ctx.network_uuid = lookup_network(ctx.config(), op["network_name"])
        return [("network/" + ctx.network_uuid, "exclusive")]

    @staticmethod
    def check(op, ctx):
        cfg = ctx.config(reload=True)
        net = cfg["networks"][ctx.network_uuid]
        ctx.net = dict(net)
        ctx.pool = _pool(net)
        new = {key: net.get(key) for key in ("gateway", "mac_prefix", "network6", "gateway6")}
        if op["gateway"]:
            if op["gateway"] == "none":
                new["gateway"] = None
            else:
                new["gateway"] = op["gateway"]
                try:
                    used = ctx.pool.is_reserved(op["gateway"])
                except netpool.AddressPoolError as err:
                    raise errors.OpPrereqError(str(err), errors.ECODE_INVAL)
                if used:
                    raise errors.OpPrereqError("Gateway IP address '%s' is already reserved"
                                               % op["gateway"], errors.ECODE_STATE)
        if op["mac_prefix"]:
            new["mac_prefix"] = (None if op["mac_prefix"] == "none" else
                                 netpool.normalize_mac_prefix(op["mac_prefix"]))
        for key in ("gateway6", "network6"):
            if op[key]:
                new[key] = None if op[key] == "none" else op[key]
        ctx.new = new

    @staticmethod
    def hooks_env(op, ctx):
        new = ctx.new
        return hook_env(op["network_name"], ctx.net.get("network"), new["gateway"],
                        new["network6"], new["gateway6"], new["mac_prefix"],
                        ctx.net.get("tags"))

    hooks_nodes = staticmethod(master_hooks)

    @staticmethod
    def run(op, ctx):
        net, new, pool = ctx.net, ctx.new, ctx.pool
        try:
            if op["gateway"]:
                if new["gateway"] == net.get("gateway"):
                    ctx.log_warning("Gateway is already %s", new["gateway"])
                else:
                    if new["gateway"]:
                        pool.reserve(new["gateway"], external=True)
                    if net.get("gateway"):
                        pool.release(net["gateway"], external=True)
                    net["gateway"] = new["gateway"]
        except netpool.AddressPoolError as err:
            raise errors.OpExecError("Cannot change the gateway of network '%s': %s"
                                     % (op["network_name"], err))
        for ip in op["add_reserved_ips"] or []:
            try:
                pool.reserve(ip, external=True)
            except netpool.AddressPoolError as err:
                ctx.log_warning("Cannot reserve IP address %s: %s", ip, err)
        for ip in op["remove_reserved_ips"] or []:
            if ip == net.get("gateway"):
                ctx.log_warning("Cannot unreserve Gateway's IP")
                continue
            try:
                pool.release(ip, external=True)
            except netpool.AddressPoolError as err:
                ctx.log_warning("Cannot release IP address %s: %s", ip, err)
        for key in ("mac_prefix", "network6", "gateway6"):
            if op[key]:
                net[key] = new[key]
        for key in ("gateway", "mac_prefix", "network6", "gateway6"):
            if net.get(key) is None:
                net.pop(key, None)
        pool.store(net)
        ctx.commit([{"op": "replace", "path": "/networks/" + ctx.network_uuid, "value": net}])


def _conflict_check(ctx, check_fn, action, network_name, group_name, instances):
    """Ganeti's _NetworkConflictCheck."""
    conflicts = []
    for inst in instances:
        found = [(idx, nic.get("ip")) for idx, nic in enumerate(inst.get("nics") or [])
                 if check_fn(nic)]
        if found:
            conflicts.append((inst["name"], found))
    if conflicts:
        ctx.log_warning("IP addresses from network '%s', which is about to %s node group"
                        " '%s', are in use: %s"
                        % (network_name, action, group_name,
                           ", ".join("%s: %s" % (name, ", ".join("nic%s/%s" % (idx, ip)
                                                                for idx, ip in details))
                                     for name, details in conflicts)))
        raise errors.OpPrereqError("Conflicting IP addresses found;  remove/modify the"
                                   " corresponding network interfaces", errors.ECODE_STATE)


def _group_hooks(op, ctx):
    nodes = group_members(ctx.config(), ctx.group_uuid)
    return nodes, nodes


class Connect:
    HPATH = "network-connect"
    HTYPE = "NETWORK"

    @staticmethod
    def expand(op, ctx):
        cfg = ctx.config()
        ctx.network_uuid = lookup_network(cfg, op["network_name"])
        ctx.group_uuid = lookup_group(cfg, op["group_name"])
        locks = [("nodegroup/" + ctx.group_uuid, "exclusive")]
        if op["conflicts_check"]:
            locks += instance_locks(group_instances(cfg, ctx.group_uuid))
            locks.append(("network/" + ctx.network_uuid, "shared"))
        return locks

    @staticmethod
    def check(op, ctx):
        cfg = ctx.config(reload=True)
        group = cfg["nodegroups"][ctx.group_uuid]
        ctx.netparams = {"mode": op["network_mode"], "link": op["network_link"],
                         "vlan": op["network_vlan"]}
        ctx.connected = ctx.network_uuid in (group.get("networks") or {})
        if ctx.connected:
            ctx.log_warning("Network '%s' is already mapped to group '%s'"
                            % (op["network_name"], group["name"]))
        elif op["conflicts_check"]:
            pool = _pool(cfg["networks"][ctx.network_uuid])
            _conflict_check(ctx, lambda nic: pool.contains(nic.get("ip")), "connect to",
                            op["network_name"], group["name"],
                            group_instances(cfg, ctx.group_uuid))

    @staticmethod
    def hooks_env(op, ctx):
        return {"GROUP_NAME": op["group_name"], "GROUP_NETWORK_MODE": op["network_mode"],
                "GROUP_NETWORK_LINK": op["network_link"],
                "GROUP_NETWORK_VLAN": op["network_vlan"]}

    hooks_nodes = staticmethod(_group_hooks)

    @staticmethod
    def run(op, ctx):
        if not ctx.connected:
            path = "/nodegroups/%s/networks/%s" % (ctx.group_uuid, ctx.network_uuid)
            ctx.commit([{"op": "add", "path": path, "value": ctx.netparams}])


class Disconnect:
    HPATH = "network-disconnect"
    HTYPE = "NETWORK"

    @staticmethod
    def expand(op, ctx):
        cfg = ctx.config()
        ctx.network_uuid = lookup_network(cfg, op["network_name"])
        ctx.group_uuid = lookup_group(cfg, op["group_name"])
        return (instance_locks(group_instances(cfg, ctx.group_uuid))
                + [("nodegroup/" + ctx.group_uuid, "exclusive")])

    @staticmethod
    def check(op, ctx):
        cfg = ctx.config(reload=True)
        group = cfg["nodegroups"][ctx.group_uuid]
        ctx.netparams = (group.get("networks") or {}).get(ctx.network_uuid)
        ctx.connected = ctx.netparams is not None
        if not ctx.connected:
            ctx.log_warning("Network '%s' is not mapped to group '%s'", op["network_name"],
                            group["name"])
        else:
            _conflict_check(ctx, lambda nic: nic.get("network") == ctx.network_uuid,
                            "disconnect from", op["network_name"], group["name"],
                            group_instances(cfg, ctx.group_uuid))

    @staticmethod
    def hooks_env(op, ctx):
        env = {"GROUP_NAME": op["group_name"]}
        if ctx.connected:
            env.update({"GROUP_NETWORK_MODE": ctx.netparams.get("mode"),
                        "GROUP_NETWORK_LINK": ctx.netparams.get("link"),
                        "GROUP_NETWORK_VLAN": ctx.netparams.get("vlan")})
        return env

    hooks_nodes = staticmethod(_group_hooks)

    @staticmethod
    def run(op, ctx):
        if ctx.connected:
            path = "/nodegroups/%s/networks/%s" % (ctx.group_uuid, ctx.network_uuid)
            ctx.commit([{"op": "remove", "path": path}])
