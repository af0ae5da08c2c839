"""OP_OS_DIAGNOSE: the OS definitions on the cluster's nodes.

Each online vm_capable node runs node/os-diagnose; the rows are Ganeti's
OS query fields: name, valid, hidden, blacklisted, variants, parameters,
api_versions, node_status ({node: [[path, status, message, variants,
parameters, api_versions, trusted]...]}, keyed by node UUID as Ganeti
3.0.2's LU does), os_hvp, osparams, trusted.  As Ganeti's legacy LU, invalid,
hidden and blacklisted OSes are left out unless those fields are asked for.
"""

from qganeti import errors

FIELDS = ("name", "valid", "hidden", "blacklisted", "variants", "parameters",
          "api_versions", "node_status", "os_hvp", "osparams", "trusted")


def _intersect(lists):
    lists = list(lists)
    if not lists:
        return []
    common = set(map(_key, lists[0]))
    for item in lists[1:]:
        common &= set(map(_key, item))
    return [x for x in lists[0] if _key(x) in common]


def _key(value):
    return tuple(value) if isinstance(value, list) else value


def gather(cfg, ctx):
    """{os name: {node uuid: [entries in search order]}} over the online nodes."""
    from qganeti import nodecall
    nodes = [u for u, n in sorted(cfg["nodes"].items())
             if not n.get("offline") and n.get("vm_capable", True)]
    results = nodecall.run_many(cfg, nodes, "os-diagnose")
    found = {}
    for uuid in nodes:
        result = results.get(uuid)
        if isinstance(result, Exception):
            ctx.log_warning("Can't get OS data from node %s: %s"
                            % (cfg["nodes"][uuid]["name"], result))
            continue
        for name, path, status, message, variants, params, api, trusted in result or []:
            found.setdefault(name, {}).setdefault(uuid, []).append(
                [path, status, message, variants, params, api, trusted])
    return nodes, found


class Diagnose:

    @staticmethod
    def check(op, ctx):
        unknown = [f for f in op["output_fields"] if f not in FIELDS]
        if unknown:
            raise errors.OpPrereqError("Unknown output fields selected: %s"
                                       % ", ".join(unknown), errors.ECODE_INVAL)

    @staticmethod
    def run(op, ctx):
        cfg = ctx.config()
        cluster = cfg["cluster"]
        nodes, found = gather(cfg, ctx)
        rows = []
        for name in sorted(found):
            if op["names"] and name not in op["names"]:
                continue
            per_node = found[name]
            firsts = [per_node[u][0] for u in nodes if per_node.get(u)]
            valid = len(firsts) == len(nodes) and all(e[1] for e in firsts)
            info = {
                "name": name, "valid": valid,
                "hidden": name in cluster.get("hidden_os", []),
                "blacklisted": name in cluster.get("blacklisted_os", []),
                "variants": _intersect(e[3] for e in firsts) if valid else [],
                "parameters": _intersect(e[4] for e in firsts) if valid else [],
                "api_versions": _intersect(e[5] for e in firsts) if valid else [],
                "node_status": {u: per_node.get(u, []) for u in nodes},
                "os_hvp": cluster.get("os_hvp", {}).get(name, {}),
                "osparams": cluster.get("osparams", {}).get(name, {}),
                "trusted": all(e[6] for e in firsts) if firsts else True,
            }
            fields = op["output_fields"]
            if "valid" not in fields and not info["valid"]:
                continue
            if "hidden" not in fields and info["hidden"]:
                continue
            if "blacklisted" not in fields and info["blacklisted"]:
                continue
            rows.append([info[f] for f in fields])
        return rows
