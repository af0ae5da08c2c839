"""Tags on the cluster, nodes, instances, node groups and networks (OP_TAGS_*)."""

from qganeti import config, errors

MAX_TAG_LEN = 128
MAX_TAGS_PER_OBJ = 4096
_TAG_PUNCT = frozenset("_.+*/:@-")   # and letters and digits: Ganeti's [\w.+*/:@-]

# kind -> (config container, lookup, lock level, search path word)
_KINDS = {
    "instance": ("instances", config.instance_uuid, "instance", "instances"),
    "node": ("nodes", config.node_uuid, "node", "nodes"),
    "nodegroup": ("nodegroups", config.group_uuid, "nodegroup", "nodegroup"),
    "network": ("networks", config.network_uuid, "network", "network"),
}


def validate_tag(tag):
    """Ganeti's TaggableObject.ValidateTag."""
    if not isinstance(tag, str):
        raise errors.TagError("Invalid tag type (not a string)")
    if len(tag) > MAX_TAG_LEN:
        raise errors.TagError("Tag too long (>%d characters)" % MAX_TAG_LEN)
    if not tag:
        raise errors.TagError("Tags cannot be empty")
    if not all(char.isalnum() or char in _TAG_PUNCT for char in tag):
        raise errors.TagError("Tag contains invalid characters")


def target(cfg, kind, name):
    """(config path of the object, the object, its lock name or None)."""
    if kind == "cluster":
        return "/cluster", cfg["cluster"], None
    container, lookup, level, _ = _KINDS[kind]
    if not name:
        raise errors.OpPrereqError("Missing name for tag kind '%s'" % kind, errors.ECODE_INVAL)
    uuid = lookup(cfg, name)
    obj = cfg[container][uuid]
    lock = "%s/%s" % (level, obj["name"] if level == "instance" else uuid)
    return "/%s/%s" % (container, uuid), obj, lock


def _expand_target(op, ctx, mode):
    _, _, lock = target(ctx.config(), op["kind"], op.get("name"))
    return [(lock, mode)] if lock else []


class Get:
    @staticmethod
    def expand(op, ctx):
        return _expand_target(op, ctx, "shared") if op.get("use_locking") else []

    @staticmethod
    def run(op, ctx):
        _, obj, _ = target(ctx.config(reload=True), op["kind"], op.get("name"))
        return sorted(obj.get("tags", []))


class Search:
    @staticmethod
    def check(op, ctx):
        import re
        try:
            re.compile(op["pattern"])
        except re.error as err:
            raise errors.OpPrereqError("Invalid search pattern '%s': %s" % (op["pattern"], err),
                                       errors.ECODE_INVAL)

    @staticmethod
    def run(op, ctx):
        import re
        cfg = ctx.config(reload=True)
        pattern = re.compile(op["pattern"])
        found = [["/cluster", tag] for tag in cfg["cluster"].get("tags", [])
                 if pattern.search(tag)]
        for container, _, _, word in _KINDS.values():
            for obj in cfg.get(container, {}).values():
                path = "/%s/%s" % (word, obj["name"])
                found.extend([path, tag] for tag in obj.get("tags", []) if pattern.search(tag))
        return found


class Set:
    @staticmethod
    def expand(op, ctx):
        for tag in op["tags"]:
            validate_tag(tag)
        return _expand_target(op, ctx, "exclusive")

    @staticmethod
    def check(op, ctx):
        _, obj, _ = target(ctx.config(reload=True), op["kind"], op.get("name"))
        if len(set(obj.get("tags", [])) | set(op["tags"])) > MAX_TAGS_PER_OBJ:
            raise errors.TagError("Too many tags")

    @staticmethod
    def run(op, ctx):
        path, _, _ = target(ctx.config(), op["kind"], op.get("name"))
        ctx.commit([{"op": "append", "path": path + "/tags", "value": tag}
                    for tag in op["tags"]])


class Del:
    @staticmethod
    def expand(op, ctx):
        for tag in op["tags"]:
            validate_tag(tag)
        return _expand_target(op, ctx, "exclusive")

    @staticmethod
    def check(op, ctx):
        _, obj, _ = target(ctx.config(reload=True), op["kind"], op.get("name"))
        missing = sorted(set(op["tags"]) - set(obj.get("tags", [])))
        if missing:
            raise errors.OpPrereqError("Tag(s) %s not found" %
                                       ", ".join("'%s'" % t for t in missing),
                                       errors.ECODE_NOENT)

    @staticmethod
    def run(op, ctx):
        path, _, _ = target(ctx.config(), op["kind"], op.get("name"))
        ctx.commit([{"op": "discard", "path": path + "/tags", "value": tag}
                    for tag in op["tags"]])
