"""Cluster data from a live cluster or a description: LUXI (-L), RAPI
(-m, also file://DIR of saved RAPI answers) and simulated clusters
(--simulate), as Ganeti 3.0.2's Backend/Luxi.hs, Rapi.hs and Simu.hs
read them.  Every loader returns an unfinished Cluster (the caller runs
Cluster.finish) or raises LoadError with Ganeti's message.
"""

import json
import os
import re

from qganeti.htools import consts as C
from qganeti.htools.cluster import Cluster, Group, InstRec, LoadError, NodeRec, \
    default_ipolicy
from qganeti.htools.consts import NO_NODE
from qganeti.htools.ialloc import parse_ipolicy, read_json

RAPI_PORT = 5080
FILE_PREFIX = "file://"
NODE_FIELDS = ["name", "mtotal", "mnode", "mfree", "dtotal", "dfree", "ctotal", "cnos",
               "offline", "drained", "vm_capable", "ndp/spindle_count", "group.uuid", "tags",
               "ndp/exclusive_storage", "sptotal", "spfree", "ndp/cpu_speed"]
INST_FIELDS = ["name", "disk_usage", "be/memory", "be/vcpus", "status", "pnode", "snodes",
               "tags", "oper_ram", "be/auto_balance", "disk_template", "be/spindle_use",
               "disk.sizes", "disk.spindles", "forthcoming"]
GROUP_FIELDS = ["uuid", "name", "alloc_policy", "ipolicy", "tags"]


class ConnectError(LoadError):
    """The LUXI socket could not be reached (Ganeti raises an I/O error)."""


class _Missing(Exception):
    """A live value a node did not report (offline or not vm_capable)."""


def _convert(value, kind, what):
    try:
        return read_json(value, kind)
    except LoadError as exc:
        raise LoadError("%s: %s" % (what, exc))


def _enum(value, names, typename, what):
    if value not in names:
        raise LoadError("%s: Invalid string value for type %s: %s"
                        % (what, typename, json.dumps(value)))
    return names.index(value)


def _build(groups, nodes, instances, ctags, cpol, master):
    """Loader's assignIndices + setMaster: records to a Cluster."""
    names = [n.name for n in nodes]
    if master not in names:
        raise LoadError("Node " + master + " not found in the node list")
    nodes[names.index(master)].master = True
    return Cluster(groups, nodes, instances, list(ctags), cpol)


def _lookup(by_name, name, owner, kind):
    if name not in by_name:
        raise LoadError("Unknown %s '%s' for %s" % (kind, name, owner))
    return by_name[name]


def _make_node(name, get, offline, drained, vm_capable, excl, spindles, guuid,
               group_by_uuid, tags, cpu_speed, hypervisor=None):
    """Node.create from a backend's values; `get(key, kind, default)`
    reads a live value (absent for offline and non-vm_capable nodes)."""
    live = not offline and vm_capable
    gdx = _lookup(group_by_uuid, guuid, name, "group")

    def lv(key, kind, default, optional=False):
        if not live:
            return default
        try:
            return get(key, kind)
        except _Missing:
            if optional:
                return default
            raise LoadError("Node '%s', error while reading attribute '%s': missing value"
                            % (name, key))
    t_spn = lv("sptotal", "int", 0) if excl else spindles
    f_spn = lv("spfree", "int", 0, True)
    t_mem = lv("mtotal", "double", 0.0)
    n_mem = lv("mnode", "int", 0)
    f_mem = lv("mfree", "int", 0)
    t_dsk = lv("dtotal", "double", 0.0, True)
    f_dsk = lv("dfree", "int", 0, True)
    t_cpu = lv("ctotal", "double", 0.0)
    n_cpu = lv("cnos", "int", 0)
    return NodeRec(name, t_mem, n_mem, f_mem, t_dsk, f_dsk, t_cpu, n_cpu,
                   not live or drained, t_spn, f_spn, gdx, excl, tags=tags,
                   cpu_speed=cpu_speed, hypervisor=hypervisor)


def _make_instance(name, disk, mem, vcpus, status, pnode, snodes, tags, auto_balance, dt,
                   su, sizes, spindles, forthcoming, node_by_name, what):
    runst = _enum(status, C.STATUSES, "InstanceStatus", what("status"))
    dtc = _enum(dt, C.DISK_TEMPLATES, "DiskTemplate", what("disk_template"))
    p = _lookup(node_by_name, pnode, name, "node")
    s = _lookup(node_by_name, snodes[0], name, "node") if snodes else NO_NODE
    spindles = list(spindles) + [None] * (len(sizes) - len(spindles))
    return InstRec(name, mem, disk, list(zip(sizes, spindles)), vcpus, runst, tags,
                   auto_balance, p, s, dtc, su, (), forthcoming)


# -- LUXI -------------------------------------------------------------------------

def _rows(result, fields):
    """A Query result's data as rows of (status, value) pairs."""
    if not isinstance(result, dict) or not isinstance(result.get("data"), list):
        raise LoadError("Cannot parse query result, not a JSON record with data")
    rows = []
    for row in result["data"]:
        if not isinstance(row, list) or len(row) != len(fields):
            raise LoadError("Invalid query result: " + json.dumps(row))
        rows.append([tuple(cell) if isinstance(cell, list) and len(cell) == 2
                     else (None, None) for cell in row])
    return rows


def _luxi_value(cell, kind, what):
    status, value = cell
    if status != 0:
        raise _Missing(what)
    return _convert(value, kind, what)


def parse_luxi(groups, nodes, instances, info):
    """Luxi.parseData on the four query answers."""
    grecs = []
    for row in _rows(groups, GROUP_FIELDS):
        name = _luxi_strict(row[1], "string", "Parsing new group")
        what = "Group '%s', error while reading attribute '%%s'" % name
        uuid = _luxi_strict(row[0], "string", what % "uuid")
        policy = _enum(_luxi_strict(row[2], "string", what % "alloc_policy"),
                       C.ALLOC_POLICIES, "AllocPolicy", what % "alloc_policy")
        ipol = parse_ipolicy(_luxi_strict(row[3], "object", what % "ipolicy"),
                             what % "ipolicy")
        tags = _luxi_strict(row[4], "strings", what % "tags")
        grecs.append(Group(name, uuid, policy, tags, [], ipol))
    group_by_uuid = {g.uuid: k for k, g in enumerate(grecs)}
    nrecs = []
    for row in _rows(nodes, NODE_FIELDS):
        name = _luxi_strict(row[0], "string", "Parsing new node")
        what = "Node '%s', error while reading attribute '%%s'" % name
        cells = dict(zip(NODE_FIELDS, row))

        def get(key, kind, cells=cells, what=what):
            return _luxi_value(cells[key], kind, what % key)
        excl = _luxi_strict(cells["ndp/exclusive_storage"], "bool",
                            what % "exclusive_storage")
        spindles = 0 if excl else _luxi_strict(cells["ndp/spindle_count"], "int",
                                               what % "spindles")
        nrecs.append(_make_node(
            name, get, _luxi_strict(cells["offline"], "bool", what % "offline"),
            _luxi_strict(cells["drained"], "bool", what % "drained"),
            _luxi_strict(cells["vm_capable"], "bool", what % "vm_capable"), excl, spindles,
            _luxi_strict(cells["group.uuid"], "string", what % "group.uuid"), group_by_uuid,
            _luxi_strict(cells["tags"], "strings", what % "tags"),
            _luxi_strict(cells["ndp/cpu_speed"], "double", what % "cpu_speed")))
    # Ganeti 3.0.2 gives every node the cluster's default hypervisor (what
    # --static-kvm-node-memory looks at)
    default_hv = info.get("default_hypervisor") if isinstance(info, dict) else None
    for node in nrecs:
        node.hypervisor = default_hv
    node_by_name = {n.name: k for k, n in enumerate(nrecs)}
    irecs = []
    for row in _rows(instances, INST_FIELDS):
        name = _luxi_strict(row[0], "string", "Parsing new instance")
        what = "Instance '%s', error while reading attribute '%%s'" % name
        cells = dict(zip(INST_FIELDS, row))

        def get(key, kind, attr=None, cells=cells, what=what):
            return _luxi_strict(cells[key], kind, what % (attr or key))
        oram = cells["oper_ram"]
        if oram[0] == 0 and isinstance(oram[1], (int, float)) \
                and not isinstance(oram[1], bool):
            mem = get("oper_ram", "int")
        else:
            mem = get("be/memory", "int")
        spindles = cells["disk.spindles"]
        spindles = [v if isinstance(v, int) and not isinstance(v, bool) else None
                    for v in (spindles[1] if spindles[0] == 0 and
                              isinstance(spindles[1], list) else [])]
        irecs.append(_make_instance(
            name, get("disk_usage", "int"), mem, get("be/vcpus", "int"),
            get("status", "string"), get("pnode", "string"), get("snodes", "strings"),
            get("tags", "strings"), get("be/auto_balance", "bool", "auto_balance"),
            get("disk_template", "string"), get("be/spindle_use", "int"),
            [_convert(v, "int", what % "disk.sizes")
             for v in get("disk.sizes", "list")], spindles,
            get("forthcoming", "bool"), node_by_name, lambda k, w=what: w % k))
    if not isinstance(info, dict):
        raise LoadError("Cannot parse cluster info, not a JSON record")
    ctags, cpol, master = _cluster_info(info, "Parsing cluster info")
    return _build(grecs, nrecs, irecs, ctags, cpol, master)


def _luxi_strict(cell, kind, what):
    try:
        return _luxi_value(cell, kind, what)
    except _Missing:
        raise LoadError("%s: missing value" % what)


def _cluster_info(info, desc):
    from qganeti.htools.ialloc import from_obj
    ctags = from_obj(info, "tags", "strings", desc)
    cpol = parse_ipolicy(from_obj(info, "ipolicy", "object", desc), desc)
    master = from_obj(info, "master", "string", desc)
    return ctags, cpol, master


def load_luxi(address):
    """Query nodes, instances, cluster info and groups over LUXI."""
    from qganeti import errors, luxi
    client = luxi.Client(address)
    try:
        nodes = client.call("Query", ["node", NODE_FIELDS, None])
        instances = client.call("Query", ["instance", INST_FIELDS, None])
        info = client.call("QueryClusterInfo", [])
        groups = client.call("Query", ["group", GROUP_FIELDS, None])
    except errors.NoMasterError:
        raise ConnectError("Network.Socket.connect: <socket: 3>: does not exist "
                        "(No such file or directory)")
    except (errors.GenericError, OSError) as exc:
        raise LoadError(str(exc) or type(exc).__name__)
    finally:
        client.close()
    return parse_luxi(groups, nodes, instances, info)


# -- RAPI -------------------------------------------------------------------------

def _rapi_list(body, what):
    try:
        value = json.loads(body)
    except ValueError:
        raise LoadError("%s: Invalid JSON" % what)
    if not isinstance(value, list):
        raise LoadError("%s: Unable to read list" % what)
    return [_convert(v, "object", what) for v in value]


def parse_rapi(group_body, node_body, inst_body, info_body):
    """Rapi.parseData on the four bodies (groups, nodes, instances, info)."""
    from qganeti.htools.ialloc import from_obj
    grecs = []
    for obj in _rapi_list(group_body, "Parsing group data"):
        name = from_obj(obj, "name", "string", "Parsing new group")
        desc = "Group '%s'" % name
        uuid = from_obj(obj, "uuid", "string", desc)
        policy = _enum(from_obj(obj, "alloc_policy", "string", desc), C.ALLOC_POLICIES,
                       "AllocPolicy", desc)
        ipol = parse_ipolicy(from_obj(obj, "ipolicy", "object", desc), desc)
        grecs.append(Group(name, uuid, policy, from_obj(obj, "tags", "strings", desc), [],
                           ipol))
    group_by_uuid = {g.uuid: k for k, g in enumerate(grecs)}
    info = _rapi_info(info_body)
    ctags, cpol, master = _cluster_info(info, "Parsing cluster data")
    hypervisor = from_obj(info, "default_hypervisor", "string", "Parsing cluster data")
    nrecs = []
    for obj in _rapi_list(node_body, "Parsing node data"):
        name = from_obj(obj, "name", "string", "Parsing new node")
        desc = "Node '%s', error while parsing data" % name

        def get(key, kind, obj=obj, desc=desc):
            if key not in obj:
                raise _Missing(key)
            return from_obj(obj, key, kind, desc)
        ndparams = from_obj(obj, "ndparams", "object", desc)
        excl = from_obj(ndparams, "exclusive_storage", "bool", desc)
        spindles = 0 if excl else from_obj(ndparams, "spindle_count", "int", desc)
        vm_capable = from_obj(obj, "vm_capable", "bool", desc, maybe=True)
        guuid = from_obj(obj, "group.uuid", "string", desc, maybe=True)
        nrecs.append(_make_node(
            name, get, from_obj(obj, "offline", "bool", desc),
            from_obj(obj, "drained", "bool", desc),
            True if vm_capable is None else vm_capable, excl, spindles,
            guuid if guuid is not None else "00000000-0000-0000-0000-000000000000",
            group_by_uuid, from_obj(obj, "tags", "strings", desc), 1.0, hypervisor))
    node_by_name = {n.name: k for k, n in enumerate(nrecs)}
    irecs = []
    for obj in _rapi_list(inst_body, "Parsing instance data"):
        name = from_obj(obj, "name", "string", "Parsing new instance")
        desc = "Instance '%s', error while parsing data" % name
        beparams = from_obj(obj, "beparams", "object", desc)
        oram = obj.get("oper_ram")
        if isinstance(oram, (int, float)) and not isinstance(oram, bool):
            mem = from_obj(obj, "oper_ram", "int", desc)
        elif "memory" in beparams:
            mem = from_obj(beparams, "memory", "int", desc)
        else:
            mem = from_obj(beparams, "maxmem", "int", desc)
        spindles = [v if isinstance(v, int) and not isinstance(v, bool) else None
                    for v in from_obj(obj, "disk.spindles", "list", desc)]
        irecs.append(_make_instance(
            name, from_obj(obj, "disk_usage", "int", desc), mem,
            from_obj(beparams, "vcpus", "int", desc), from_obj(obj, "status", "string", desc),
            from_obj(obj, "pnode", "string", desc), from_obj(obj, "snodes", "strings", desc),
            from_obj(obj, "tags", "strings", desc),
            from_obj(beparams, "auto_balance", "bool", desc),
            from_obj(obj, "disk_template", "string", desc),
            from_obj(beparams, "spindle_use", "int", desc),
            [_convert(v, "int", desc) for v in from_obj(obj, "disk.sizes", "list", desc)],
            spindles, bool(obj.get("forthcoming", False)), node_by_name,
            lambda k, d=desc: d))
    return _build(grecs, nrecs, irecs, ctags, cpol, master)


def _rapi_info(body):
    try:
        value = json.loads(body)
    except ValueError:
        raise LoadError("Parsing cluster info: Invalid JSON")
    if not isinstance(value, dict):
        raise LoadError("Parsing cluster info: Unable to read JSObject")
    return value


def _read_file(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError as exc:
        from qganeti.htools.text import _io_reason
        raise LoadError("%s: openFile: %s" % (path, _io_reason(exc)))


def _get_url(url):
    """One GET as Ganeti's curl options (no certificate checks, 15 s to
    connect, 60 s in all); failures named as curl names them."""
    import socket
    import ssl
    import urllib.error
    import urllib.request
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    target = url if "://" in url else "http://" + url
    try:
        with urllib.request.urlopen(target, timeout=60, context=context) as reply:
            return reply.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        # curl without FAILONERROR returns the body of an error page
        return exc.read().decode("utf-8", "replace")
    except (urllib.error.URLError, socket.timeout, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        code = "CurlCouldntConnect"
        if isinstance(reason, socket.gaierror):
            code = "CurlCouldntResolveHost"
        elif isinstance(reason, (socket.timeout, TimeoutError)):
            code = "CurlOperationTimeout"
        elif isinstance(reason, ssl.SSLError):
            code = "CurlSSLConnectError"
        raise LoadError("Curl error for '%s', error %s" % (url, code))


def read_rapi(master):
    """Rapi.readData: the four bodies from a host or a file:// directory."""
    if master.startswith(FILE_PREFIX):
        path = master[len(FILE_PREFIX):]
        return tuple(_read_file(os.path.join(path, name)) for name in
                     ("groups.json", "nodes.json", "instances.json", "info.json"))
    url = master if ":" in master else "https://%s:%d" % (master, RAPI_PORT)
    return tuple(_get_url(url + resource) for resource in
                 ("/2/groups?bulk=1", "/2/nodes?bulk=1", "/2/instances?bulk=1", "/2/info"))


def load_rapi(master):
    return parse_rapi(*read_rapi(master))


# -- simulated clusters -----------------------------------------------------------

def parse_unit(text):
    """Ganeti's parseUnit: an integer with an optional unit, in MiB
    (m/g/t binary, M/G/T and MB/GB/TB decimal), truncated."""
    from fractions import Fraction
    match = re.match(r"\s*(-?\d+)(.*)$", text, re.S)
    if not match:
        raise LoadError("Can't parse string '%s'" % text)
    value, unit = int(match.group(1)), match.group(2).lstrip(" ")
    upper = unit.upper()
    si = Fraction(1000, 1024) ** 2
    if unit == "" or unit == "m" or upper == "MIB":
        scale = 1
    elif unit == "g" or upper == "GIB":
        scale = 1024
    elif unit == "t" or upper == "TIB":
        scale = 1024 ** 2
    elif unit == "M" or upper == "MB":
        scale = si
    elif unit == "G" or upper == "GB":
        scale = si * 1000
    elif unit == "T" or upper == "TB":
        scale = si * 1000 ** 2
    else:
        raise LoadError("Unknown unit '%s'" % unit)
    return int(value * scale)


def _read_int(what, text):
    from qganeti.htools import hsfmt
    try:
        return hsfmt.read_int(what, text)
    except hsfmt.ParseError as exc:
        raise LoadError(str(exc))


def _simu_group(index, spec):
    from qganeti.htools.cluster import sep_split
    fields = sep_split(",", spec)
    if len(fields) == 5:
        fields.append("1")
    if len(fields) == 6:
        fields.append("False")
    if len(fields) != 7:
        raise LoadError("Invalid cluster specification, expected 6 comma-separated sections "
                        "(allocation policy, node count, disk size, memory size, number of "
                        "CPUs, spindles) but got %d: '%s'" % (len(fields), spec))
    apol, count, disk, mem, cpu, spindles, excl = fields
    abbrev = {"p": "preferred", "a": "last_resort", "u": "unallocable"}
    if apol in C.ALLOC_POLICIES:
        policy = C.ALLOC_POLICIES.index(apol)
    elif apol in abbrev:
        policy = C.ALLOC_POLICIES.index(abbrev[apol])
    else:
        raise LoadError("Cannot parse AllocPolicy abbreviation '%s'" % apol)
    count = _read_int("node count", count)
    try:
        disk = parse_unit(disk)
    except LoadError as exc:
        raise LoadError("disk size: %s" % exc)
    try:
        mem = parse_unit(mem)
    except LoadError as exc:
        raise LoadError("memory size: %s" % exc)
    cpu = _read_int("cpu count", cpu)
    spindles = _read_int("spindles", spindles)
    if excl not in ("True", "False"):
        raise LoadError("exclusive storage: cannot parse string '%s'" % excl)
    group = Group("group-%02d" % index, "fake-uuid-%02d" % index, policy, [], [],
                  default_ipolicy())
    nodes = [NodeRec("node-%02d-%03d" % (index, k), float(mem), 0, mem, float(disk), disk,
                     float(cpu), 1, False, spindles, 0, index - 1, excl == "True",
                     master=(index == 1 and k == 1))
             for k in range(1, count + 1)]
    return group, nodes


def load_simulate(specs):
    """Simu.parseData: one group per spec, empty of instances."""
    groups, nodes = [], []
    for index, spec in enumerate(specs, 1):
        group, members = _simu_group(index, spec)
        groups.append(group)
        nodes.extend(members)
    return Cluster(groups, nodes, [], [], default_ipolicy())
