"""The iallocator protocol, htools side (Ganeti's Backend/IAlloc.hs).

A request document (cluster data plus a `request`) becomes a Cluster and
a Request; replies are Ganeti's compact JSON.  Parse errors carry
Ganeti's wording ("invalid data for node 'x': key 'y': Unable to read
Double", "key 'request' not found, object contains only [...]").
"""

import json

from qganeti.htools import consts as C
from qganeti.htools import hsfmt
from qganeti.htools.cluster import (
    Cluster, Group, InstRec, IPolicy, LoadError, NodeRec, _prefixed, EX_TAGS_PREFIX,
    DESIRED_LOCATION_PREFIX)
from qganeti.htools.consts import NO_NODE

_MISSING = object()


class RequestError(LoadError):
    """A request that cannot be read (reported without hbal's prefix)."""


class Request:
    def __init__(self, kind, **fields):
        self.kind = kind
        self.__dict__.update(fields)


# -- Text.JSON's readJSON, as Ganeti's fromObj reports it ---------------------

def _haskell_round(x):
    return int(round(x))     # Python rounds half to even, as Haskell's round


def read_json(value, kind):
    """Convert a JSON value as Text.JSON would; LoadError(text) if not."""
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise LoadError("Unable to read Int")
        return _haskell_round(value)
    if kind == "double":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise LoadError("Unable to read Double")
        return float(value)
    if kind == "bool":
        if not isinstance(value, bool):
            raise LoadError("Unable to read Bool")
        return value
    if kind == "string":
        if not isinstance(value, str):
            raise LoadError("Unable to read String")
        return value
    if kind == "object":
        if not isinstance(value, dict):
            raise LoadError("Unable to read JSObject")
        return value
    if kind == "list":
        if not isinstance(value, list):
            raise LoadError("Unable to read list")
        return value
    if kind == "strings":
        return [read_json(v, "string") for v in read_json(value, "list")]
    raise ValueError(kind)


def from_obj(obj, key, kind, desc=None, default=_MISSING, maybe=False):
    """Ganeti's fromObj / maybeFromObj / fromObjWithDefault."""
    if key not in obj:
        if maybe:
            return None
        if default is not _MISSING:
            return default
        msg = "key '%s' not found, object contains only %s" % (
            key, hsfmt.show_string_list(list(obj)))
        raise LoadError("%s: %s" % (desc, msg) if desc else msg)
    value = obj[key]
    if maybe and value is None:
        return None
    try:
        return read_json(value, kind)
    except LoadError as exc:
        msg = "key '%s': %s" % (key, exc)
        raise LoadError("%s: %s" % (desc, msg) if desc else msg)


def _enum(value, names, typename, key, desc):
    if value not in names:
        raise LoadError("%s: key '%s': Invalid string value for type %s: %s"
                        % (desc, key, typename, hsfmt.show_string(value)))
    return names.index(value)


# -- cluster data ---------------------------------------------------------

ISPEC_KEYS = ("memory-size", "cpu-count", "disk-size", "disk-count", "nic-count",
              "spindle-use")


def parse_ipolicy(obj, desc):
    def ispec(spec):
        return tuple(from_obj(spec, key, "int", desc) for key in ISPEC_KEYS)
    obj = read_json(obj, "object")
    minmax = [(ispec(from_obj(mm, "min", "object", desc)),
               ispec(from_obj(mm, "max", "object", desc)))
              for mm in [read_json(x, "object") for x in from_obj(obj, "minmax", "list", desc)]]
    templates = [_enum(t, C.DISK_TEMPLATES, "DiskTemplate", "disk-templates", desc)
                 for t in from_obj(obj, "disk-templates", "strings", desc)]
    return IPolicy(minmax, ispec(from_obj(obj, "std", "object", desc)), templates,
                   from_obj(obj, "vcpu-ratio", "double", desc),
                   from_obj(obj, "spindle-ratio", "double", desc))


def parse_group(uuid, obj):
    desc = "invalid data for group '%s'" % uuid
    name = from_obj(obj, "name", "string", desc)
    policy = from_obj(obj, "alloc_policy", "string", desc)
    policy = _enum(policy, C.ALLOC_POLICIES, "AllocPolicy", "alloc_policy", desc)
    nets = from_obj(obj, "networks", "strings", desc)
    ipol = parse_ipolicy(from_obj(obj, "ipolicy", "object", desc), desc)
    tags = from_obj(obj, "tags", "strings", desc)
    return Group(name, uuid, policy, tags, nets, ipol)


def parse_node(name, obj, group_by_uuid):
    desc = "invalid data for node '%s'" % name
    offline = from_obj(obj, "offline", "bool", desc)
    drained = from_obj(obj, "drained", "bool", desc)
    guuid = from_obj(obj, "group", "string", desc)
    vm_capable = from_obj(obj, "vm_capable", "bool", desc, maybe=True)
    if guuid not in group_by_uuid:
        raise LoadError("Unknown group '%s' for node %s" % (guuid, name))
    ndparams = from_obj(obj, "ndparams", "object", desc)
    tags = from_obj(obj, "tags", "strings", desc, default=[])
    excl = from_obj(ndparams, "exclusive_storage", "bool", desc)
    live = not offline and (vm_capable if vm_capable is not None else True)

    def live_value(key, kind, default):
        return from_obj(obj, key, kind, desc) if live else default
    if excl:
        t_spn = live_value("total_spindles", "int", 0)
    else:
        t_spn = from_obj(ndparams, "spindle_count", "int", desc)
    f_spn = live_value("free_spindles", "int", 0)
    t_mem = live_value("total_memory", "double", 0.0)
    n_mem = live_value("reserved_memory", "int", 0)
    f_mem = live_value("free_memory", "int", 0)
    t_dsk = live_value("total_disk", "double", 0.0)
    f_dsk = live_value("free_disk", "int", 0)
    t_cpu = live_value("total_cpus", "double", 0.0)
    n_cpu = live_value("reserved_cpus", "int", 0)
    speed = from_obj(ndparams, "cpu_speed", "double", desc, default=1.0)
    return NodeRec(name, t_mem, n_mem, f_mem, t_dsk, f_dsk, t_cpu, n_cpu,
                   not live or drained, t_spn, f_spn, group_by_uuid[guuid], excl,
                   tags=tags, cpu_speed=speed)


def parse_nic(name, obj):
    for key in ("mac", "ip", "link", "bridge", "network"):
        from_obj(obj, key, "string", maybe=True)
    mode = from_obj(obj, "mode", "string", maybe=True)
    if mode not in (None, "bridged", "routed", "openvswitch", "ext"):
        raise LoadError("invalid NIC mode in instance " + name)
    return from_obj(obj, "network", "string", maybe=True)


def parse_base_instance(name, obj):
    """IAlloc.parseBaseInstance: what cluster instances and requests share."""
    desc = "invalid data for instance '%s'" % name
    dsk = from_obj(obj, "disk_space_total", "int", desc)
    jsdisks = [read_json(d, "object") for d in from_obj(obj, "disks", "list", desc)]
    sizes = [from_obj(d, "size", "int", desc) for d in jsdisks]
    spindles = [from_obj(d, "spindles", "int", desc, maybe=True) for d in jsdisks]
    mem = from_obj(obj, "memory", "int", desc)
    vcpus = from_obj(obj, "vcpus", "int", desc)
    tags = from_obj(obj, "tags", "strings", desc)
    dt = from_obj(obj, "disk_template", "string", desc)
    dt = _enum(dt, C.DISK_TEMPLATES, "DiskTemplate", "disk_template", desc)
    su = from_obj(obj, "spindle_use", "int", desc)
    nics = [parse_nic(name, read_json(n, "object"))
            for n in from_obj(obj, "nics", "list", desc)]
    # both are optional: missing or unreadable means the default (checked
    # before from_obj, whose error text would be built for nothing)
    state = C.ST_RUNNING
    if "admin_state" in obj:
        try:
            admin = from_obj(obj, "admin_state", "string", desc)
            state = {"up": C.ST_RUNNING, "down": C.ST_ADMIN_DOWN,
                     "offline": C.ST_ADMIN_OFFLINE}[admin]
        except (LoadError, KeyError):
            pass
    forthcoming = False
    if "forthcoming" in obj:
        try:
            forthcoming = from_obj(obj, "forthcoming", "bool", desc)
        except LoadError:
            pass
    return InstRec(name, mem, dsk, list(zip(sizes, spindles)), vcpus, state, tags, True, 0,
                   0, dt, su, nics, forthcoming)


def parse_instance(name, obj, node_by_name):
    rec = parse_base_instance(name, obj)
    nodes = from_obj(obj, "nodes", "list")
    if not nodes:
        raise LoadError("empty node list for instance " + name)

    def lookup(node):
        node = read_json(node, "string")
        if node not in node_by_name:
            raise LoadError("Unknown node '%s' for instance %s" % (node, name))
        return node_by_name[node]
    rec.pnode = lookup(nodes[0])
    rec.snode = lookup(nodes[1]) if len(nodes) > 1 else NO_NODE
    return rec


def _find(items, name, names_of):
    matches = [k for k, item in enumerate(items) if name in names_of(item)]
    if len(matches) != 1:
        raise LoadError("Wrong number of elems found with name " + name)
    return matches[0]


# -- Text.JSON's decoder, for its error messages --------------------------------

_SPACE = " \t\r\n"
_NUMBER_START = "-0123456789"


class _JSONError(Exception):
    pass


def _skip(text, pos):
    while pos < len(text) and text[pos] in _SPACE:
        pos += 1
    return pos


def _value(text, pos):
    pos = _skip(text, pos)
    char = text[pos:pos + 1]
    if char == "{":
        return _object(text, pos + 1)
    if char == "[":
        return _array(text, pos + 1)
    if char == '"':
        try:
            value, end = json.decoder.scanstring(text, pos + 1)
        except ValueError:
            raise _JSONError("Malformed JSON: invalid token in this context " + text[pos:])
        return value, end
    for literal, value in (("true", True), ("false", False), ("null", None)):
        if text.startswith(literal, pos):
            return value, pos + len(literal)
    if char and char in _NUMBER_START:
        import re
        match = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?").match(text, pos)
        if match:
            if match.group(0).lstrip("-").startswith("0") and len(match.group(0)) > 1 \
                    and match.group(0).lstrip("-")[1:2].isdigit():
                return 0, pos + (2 if char == "-" else 1)
            return json.loads(match.group(0)), match.end()
    raise _JSONError("Malformed JSON: invalid token in this context " + text[pos:])


def _object(text, pos):
    out = {}
    pos = _skip(text, pos)
    if text[pos:pos + 1] == "}":
        return out, pos + 1
    while True:
        pos = _skip(text, pos)
        if text[pos:pos + 1] != '"':
            raise _JSONError("Malformed JSON: expecting string: " + text[pos:])
        key, pos = _value(text, pos)
        after = _skip(text, pos)
        if text[after:after + 1] != ":":
            raise _JSONError("Malformed JSON labelled field: " + text[pos:])
        value, pos = _value(text, after + 1)
        out.setdefault(key, value)
        pos = _skip(text, pos)
        if text[pos:pos + 1] == ",":
            pos += 1
            continue
        if text[pos:pos + 1] == "}":
            return out, pos + 1
        raise _JSONError("Unable to parse JSON object: unterminated sequence: " + text[pos:])


def _array(text, pos):
    out = []
    pos = _skip(text, pos)
    if text[pos:pos + 1] == "]":
        return out, pos + 1
    while True:
        value, pos = _value(text, pos)
        out.append(value)
        pos = _skip(text, pos)
        if text[pos:pos + 1] == ",":
            pos += 1
            continue
        if text[pos:pos + 1] == "]":
            return out, pos + 1
        raise _JSONError("Unable to parse JSON array: unterminated array: " + text[pos:])


def decode(text):
    """A JSON document as Text.JSON's decodeStrict reads it (object or
    array at the top); LoadError with its messages otherwise."""
    start = _skip(text, 0)
    if text[start:start + 1] not in ("{", "["):
        raise LoadError("Parsing input IAllocator message: Invalid JSON: a JSON text a "
                        "serialized object or array at the top level.")
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        value, end = _value(text, start)
    except _JSONError as exc:
        raise LoadError("Parsing input IAllocator message: %s" % exc)
    rest = text[end:].strip(_SPACE)
    if rest:
        raise LoadError("Parsing input IAllocator message: Invalid tokens at end of JSON "
                        "string: " + hsfmt.show_string(rest))
    return value


def parse(text, static_kvm_mem=4096, finish=True):
    """Request document -> (Cluster, Request); LoadError on bad data.
    Without finish, the cluster is left for the caller to merge."""
    doc = decode(text)
    if not isinstance(doc, dict):
        raise LoadError("Parsing input IAllocator message: Unable to read JSObject")
    top = "invalid iallocator message"
    request = from_obj(doc, "request", "object", top)
    groups = [parse_group(uuid, read_json(obj, "object"))
              for uuid, obj in from_obj(doc, "nodegroups", "object", top).items()]
    group_by_uuid = {g.uuid: k for k, g in enumerate(groups)}
    nodes = [parse_node(name, read_json(obj, "object"), group_by_uuid)
             for name, obj in from_obj(doc, "nodes", "object", top).items()]
    node_by_name = {n.name: k for k, n in enumerate(nodes)}
    instances = [parse_instance(name, read_json(obj, "object"), node_by_name)
                 for name, obj in from_obj(doc, "instances", "object", top).items()]
    ctags = from_obj(doc, "cluster_tags", "strings", top)
    hypervisors = from_obj(doc, "enabled_hypervisors", "strings", top)
    if hypervisors:
        for node in nodes:
            node.hypervisor = hypervisors[0]
    cl = Cluster(groups, nodes, instances, ctags, _default_policy())
    req = _parse_request(request, cl)
    if finish:
        cl.finish(static_kvm_mem=static_kvm_mem,
                  extra_instances=getattr(req, "new_instances", []))
        _resolve_names(req, cl)
    return cl, req


def _default_policy():
    from qganeti.htools.cluster import default_ipolicy
    return default_ipolicy()


def _update_tags(rec, ctags):
    """updateExclTags / updateDesiredLocationTags for a requested instance."""
    ex = _prefixed(EX_TAGS_PREFIX, ctags)
    ds = _prefixed(DESIRED_LOCATION_PREFIX, ctags)
    rec.excl = [t for t in rec.tags if any(t.startswith(p) for p in ex)]
    rec.dsrd = set(t for t in rec.tags if any(t.startswith(p) for p in ds))


def _parse_request(req, cl):
    desc = "invalid request dict"
    kind = from_obj(req, "type", "string", desc)
    if kind == "allocate":
        name = from_obj(req, "name", "string", desc)
        group = from_obj(req, "group_name", "string", maybe=True)
        restrict = from_obj(req, "restrict-to-nodes", "strings", maybe=True)
        count = from_obj(req, "required_nodes", "int", desc)
        rec = parse_base_instance(name, req)
        _update_tags(rec, cl.ctags)
        return Request("allocate", inst=rec, count=count, group=group, restrict=restrict,
                       new_instances=[rec])
    if kind == "relocate":
        name = from_obj(req, "name", "string", desc)
        count = from_obj(req, "required_nodes", "int", desc)
        exnodes = from_obj(req, "relocate_from", "strings", desc)
        return Request("relocate", name=name, count=count, exnodes=exnodes)
    if kind == "change-group":
        names = from_obj(req, "instances", "strings", desc)
        targets = from_obj(req, "target_groups", "strings", desc)
        return Request("change-group", names=names, targets=targets)
    if kind == "node-evacuate":
        names = from_obj(req, "instances", "strings", desc)
        mode = from_obj(req, "evac_mode", "string", desc)
        if mode not in ("primary-only", "secondary-only", "all"):
            raise LoadError("%s: key 'evac_mode': Invalid string value for type EvacMode: %s"
                            % (desc, hsfmt.show_string(mode)))
        return Request("node-evacuate", names=names, mode=mode)
    if kind == "multi-allocate":
        items = [read_json(x, "object") for x in from_obj(req, "instances", "list", desc)]
        allocs = []
        for item in items:
            name = from_obj(item, "name", "string", desc)
            group = from_obj(req, "group_name", "string", maybe=True)
            count = from_obj(item, "required_nodes", "int", desc)
            rec = parse_base_instance(name, item)
            _update_tags(rec, cl.ctags)
            allocs.append((rec, count, group))
        return Request("multi-allocate", allocs=allocs,
                       new_instances=[rec for rec, _, _ in allocs])
    if kind == "allocate-secondary":
        return Request("allocate-secondary", name=from_obj(req, "name", "string", desc))
    raise LoadError("Invalid request type '%s'" % kind)


def _resolve_names(req, cl):
    inames = [r.name for r in cl.instrecs]
    if req.kind in ("relocate", "allocate-secondary"):
        if req.name not in inames:
            raise LoadError("Unknown instance '%s'" % req.name)
        req.idx = len(inames) - 1 - inames[::-1].index(req.name)
    if req.kind == "relocate":
        req.exndx = [_find(cl.noderecs, n, lambda r: (r.name, cl.node_aliases[
            cl.noderecs.index(r)])) for n in req.exnodes]
    if req.kind in ("change-group", "node-evacuate"):
        req.idxs = [_find(list(range(cl.ninsts)), n,
                          lambda i: (cl.instrecs[i].name, cl.inst_aliases[i]))
                    for n in req.names]
    if req.kind == "change-group":
        req.gdxs = [_find(cl.groups, g, lambda grp: (grp.name, grp.uuid))
                    for g in req.targets]


def load_cluster(path, static_kvm_mem=4096):
    """hbal -I: the cluster data of a request file."""
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as handle:
            text = handle.read()
    except OSError as exc:
        from qganeti.htools.text import _io_reason
        raise LoadError("%s: openFile: %s" % (path, _io_reason(exc)))
    try:
        cl, _ = parse(text, static_kvm_mem, finish=False)
    except LoadError as exc:
        raise RequestError(str(exc))
    cl.passes = 2       # Ganeti merges a request's data twice
    return cl


# -- replies --------------------------------------------------------------

def response(success, info, result):
    """IAlloc.formatResponse: compact JSON, keys in Ganeti's order."""
    return json.dumps({"success": success, "info": info, "result": result},
                      separators=(",", ":"))
