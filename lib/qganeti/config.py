"""The cluster configuration store: config.data, its schema and its writers.

config.data is Ganeti 3.0's JSON (version 3000000): cluster, nodes,
nodegroups, instances, networks, disks, filters, serial_no, ctime, mtime.
Readers call load() at any time without a lock: the file is only ever
replaced by rename, so a reader sees the previous or the next version.

Writers describe a change as a list of ops (a subset of JSON Patch on JSON
Pointer paths, plus set-style list ops), applied in order and all-or-nothing:

    {"op": "add", "path": "/instances/<uuid>", "value": {...}}  fails if present
    {"op": "remove", "path": "/instances/<uuid>"}               fails if absent
    {"op": "replace", "path": "/cluster/max_running_jobs", "value": 30}
    {"op": "test", "path": "...", "value": ...}                 precondition
    {"op": "append", "path": "/cluster/tags", "value": "a"}     add if absent
    {"op": "discard", "path": "/cluster/tags", "value": "a"}    remove if present

The store keeps the metadata: every object a change touches (the cluster,
or nodes/, instances/, disks/, nodegroups/, networks/<uuid>) gets serial_no+1
and mtime=now, a new object gets ctime/mtime/serial_no (and uuid, tags) when
missing, adding or removing a node, node group or network touches the cluster
(as Ganeti does), and every write bumps the top-level serial_no and mtime.
Replacing a whole object whose new value carries a serial_no different from
the stored one fails ("Configuration object updated since it has been read"),
which is Ganeti's optimistic check.  A change that fails (a test, the schema,
a reference, a duplicate name or MAC) is rejected alone with
errors.OpPrereqError; the other changes of its batch still commit.

Group commit (there is no config daemon; every writer is its own process).
Next to config.data live:

    config.data.lock     flock()ed by the process writing a batch (the leader)
    config.data.queue/   <id>: a waiting writer's change; .<id>.tmp while being
                         written; <id>.done: its outcome
    config.data.batch    the batch being committed: the serial_no it produces
                         and the outcome of each request in it

A writer first tries the lock without waiting; if it gets it, it leads a
batch at once.  Otherwise it writes its change to queue/.<id>.tmp, takes an
flock on that file (held until it returns: it is the proof that the writer
is alive), renames it to queue/<id>, and waits for the lock.  Whoever holds
the lock first finishes what a dead leader left (below), then, if its own
<id>.done exists, takes its outcome and leaves; otherwise it leads: it reads
config.data, takes every queued request whose writer is alive and that has
no .done (requests of dead writers are dropped), applies them in queue order
(each one all-or-nothing), writes config.data.batch, writes config.data
(temporary file, fsync, rename, fsync of the directory), writes each
<id>.done, brings the ssconf files up to date, removes config.data.batch and
releases the lock.  One fsync thus confirms every change in the batch, and a
waiter returns only after its outcome was written, i.e. after the fsync.

Killed at any line (kill -9): the lock is released by the kernel.  If
config.data.batch exists, the next holder compares its serial_no with the
one in config.data: equal means the batch committed (it fsyncs config.data
and the directory again, writes the outcomes still missing and refreshes
ssconf), lower means it did not (the record is dropped and the requests,
still queued and without outcome, are taken by the next batch).  So no
change is lost or applied twice; a change is applied only while its writer
waits for it.  update(fn) runs fn inside a batch in the caller's process.
"""

import errno
import fcntl
import os
import time

from qganeti import errors, fastjson, fileio, paths


def _show(value):
    """VALUE as JSON in a message (std json, imported only for messages)."""
    import json
    return json.dumps(value)


VERSION = 3000000
CONTAINERS = ("nodes", "nodegroups", "instances", "networks", "disks",
              "filters")
_KIND_NAMES = {"nodes": "node", "nodegroups": "node group",
               "instances": "instance", "networks": "network",
               "disks": "disk", "filters": "filter"}
_META = ("serial_no", "ctime", "mtime")
# adding or removing these touches the cluster object (Ganeti bumps its serial)
_CLUSTER_MEMBERSHIP = ("nodes", "nodegroups", "networks")


# ---------------------------------------------------------------- helpers

def new_uuid():
    """A random (version 4) UUID string, as Ganeti's utils.NewUUID gives."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    text = raw.hex()
    return "%s-%s-%s-%s-%s" % (text[:8], text[8:12], text[12:16], text[16:20],
                               text[20:])


def _copy(value):
    """A deep copy of a JSON value (faster than copy.deepcopy)."""
    if isinstance(value, dict):
        return {key: _copy(val) for key, val in value.items()}
    if isinstance(value, list):
        return [_copy(val) for val in value]
    return value


def _same(left, right):
    """JSON equality that keeps true, 1 and 1.0 apart."""
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, dict):
        return (isinstance(right, dict) and left.keys() == right.keys()
                and all(_same(val, right[key]) for key, val in left.items()))
    if isinstance(left, list):
        return (isinstance(right, list) and len(left) == len(right)
                and all(_same(a, b) for a, b in zip(left, right)))
    return left == right


def _dumps(cfg):
    return fastjson.dumps(cfg)


def _files(path):
    path = path or paths.config_file()
    return path, path + ".lock", path + ".queue", path + ".batch"


# ------------------------------------------------------------------ loading

def exists(path=None):
    """Whether a config.data exists (i.e. this node belongs to a cluster)."""
    return os.path.exists(path or paths.config_file())


def parse(text, source="config.data"):
    """The config in TEXT (str or bytes), parsed and checked."""
    try:
        cfg = fastjson.loads(text)
    except ValueError as err:
        raise errors.ConfigurationError("Cannot parse %s: %s" % (source, err))
    check(cfg)
    return cfg


def load(path=None):
    """config.data parsed and schema-checked; errors.ConfigurationError if not."""
    path = path or paths.config_file()
    try:
        with open(path, "rb") as handle:
            text = handle.read()
    except OSError as err:
        raise errors.ConfigurationError("Cannot read configuration file %s: %s"
                                        % (path, err.strerror))
    return _parse_file(text, path)


# The full check costs ~20 ms per 1,000 instances, and every op loads the
# config several times. So PATH.checked holds the digest of the last
# content of PATH known to pass it (written by the writer that produced it,
# or by the first reader that checked it); the same bytes are not checked
# again. Any other content (a hand edit, another tool's write) is. Only
# configs our writers keep (PATH.lock exists) get a PATH.checked.

def _digest(text):
    from _blake2 import blake2b
    return blake2b(text, digest_size=16).hexdigest()


def _parse_file(text, path):
    """TEXT (the bytes of the config file PATH) parsed, and checked unless
    these very bytes were checked before."""
    digest = _digest(text)
    try:
        with open(path + ".checked") as handle:
            known = handle.read(64).strip()
    except OSError:
        known = None
    if known == digest:
        try:
            return fastjson.loads(text)
        except ValueError as err:
            raise errors.ConfigurationError("Cannot parse %s: %s" % (path, err))
    cfg = parse(text, path)
    if os.path.exists(path + ".lock"):   # a config our writers keep, not any file
        _remember_checked(path, digest)
    return cfg


def _remember_checked(path, digest):
    """Best effort: a reader without write access just checks again next time."""
    try:
        fileio.atomic_write(path + ".checked", digest + "\n", mode=0o640, durable=False)
    except OSError:
        pass


# ------------------------------------------------------------------- schema
# key: (type, required).  Types: str int num bool dict list strs ints,
# "str?" for values that may also be null.

_TAGGED = {"serial_no": ("int", True), "ctime": ("num", False),
           "mtime": ("num", False), "uuid": ("str", True),
           "tags": ("strs", False)}

_SCHEMA = {
    "cluster": dict(_TAGGED, **{
        "rsahostkeypub": ("str", True), "dsahostkeypub": ("str?", False),
        "highest_used_port": ("int", True), "tcpudp_port_pool": ("ints", True),
        "mac_prefix": ("str", True), "volume_group_name": ("str?", False),
        "reserved_lvs": ("strs", True), "drbd_usermode_helper": ("str?", False),
        "master_node": ("str", True), "master_ip": ("str", True),
        "master_netdev": ("str", True), "master_netmask": ("int", True),
        "use_external_mip_script": ("bool", True),
        "cluster_name": ("str", True), "file_storage_dir": ("str", True),
        "shared_file_storage_dir": ("str", True),
        "gluster_storage_dir": ("str", True),
        "enabled_hypervisors": ("strs", True), "hvparams": ("dict", True),
        "os_hvp": ("dict", True), "beparams": ("dict", True),
        "osparams": ("dict", True), "osparams_private_cluster": ("dict", True),
        "nicparams": ("dict", True), "ndparams": ("dict", True),
        "diskparams": ("dict", True), "candidate_pool_size": ("int", True),
        "modify_etc_hosts": ("bool", True), "modify_ssh_setup": ("bool", True),
        "maintain_node_health": ("bool", True), "uid_pool": ("list", True),
        "default_iallocator": ("str", True),
        "default_iallocator_params": ("dict", True),
        "hidden_os": ("strs", True), "blacklisted_os": ("strs", True),
        "primary_ip_family": ("int", True),
        "prealloc_wipe_disks": ("bool", True), "ipolicy": ("dict", True),
        "hv_state_static": ("dict", False), "disk_state_static": ("dict", False),
        "enabled_disk_templates": ("strs", True),
        "candidate_certs": ("dict", True), "max_running_jobs": ("int", True),
        "max_tracked_jobs": ("int", True), "install_image": ("str", True),
        "instance_communication_network": ("str", True),
        "zeroing_image": ("str", True), "compression_tools": ("strs", True),
        "enabled_user_shutdown": ("bool", True),
        "data_collectors": ("dict", True), "ssh_key_type": ("str", True),
        "ssh_key_bits": ("int", True),
        # legacy slots Ganeti still declares
        "default_bridge": ("str?", False), "default_hypervisor": ("str?", False),
    }),
    "nodes": dict(_TAGGED, **{
        "name": ("str", True), "primary_ip": ("str", True),
        "secondary_ip": ("str", True), "master_candidate": ("bool", True),
        "offline": ("bool", True), "drained": ("bool", True),
        "group": ("str", True), "master_capable": ("bool", True),
        "vm_capable": ("bool", True), "ndparams": ("dict", True),
        "powered": ("bool", True), "hv_state_static": ("dict", False),
        "disk_state_static": ("dict", False),
    }),
    "nodegroups": dict(_TAGGED, **{
        "name": ("str", True), "members": ("strs", False),
        "ndparams": ("dict", True), "alloc_policy": ("str", True),
        "ipolicy": ("dict", True), "diskparams": ("dict", True),
        "networks": ("dict", True), "hv_state_static": ("dict", False),
        "disk_state_static": ("dict", False),
    }),
    "instances": dict(_TAGGED, **{
        "name": ("str", True), "primary_node": ("str", True),
        "os": ("str", True), "hypervisor": ("str", True),
        "hvparams": ("dict", False), "beparams": ("dict", False),
        "osparams": ("dict", False), "osparams_private": ("dict", False),
        "admin_state": ("str", True), "admin_state_source": ("str", True),
        "nics": ("list", False), "disks": ("strs", False),
        "disks_active": ("bool", True), "network_port": ("int", False),
        "forthcoming": ("bool", False), "disk_template": ("str", False),
        # beyond Ganeti: the instance's disk snapshots (gnt-instance snapshot)
        "snapshots": ("list", False),
    }),
    "networks": dict(_TAGGED, **{
        "name": ("str", True), "mac_prefix": ("str?", False),
        "network": ("str", True), "network6": ("str?", False),
        "gateway": ("str?", False), "gateway6": ("str?", False),
        "reservations": ("str?", False), "ext_reservations": ("str?", False),
    }),
    "disks": {
        "dev_type": ("str", True), "logical_id": ("list", True),
        "children": ("list", False), "nodes": ("strs", False),
        "iv_name": ("str", False), "size": ("int", True),
        "mode": ("str", False), "name": ("str?", False),
        "spindles": ("int", False), "params": ("dict", False),
        "forthcoming": ("bool", False), "uuid": ("str", True),
        "serial_no": ("int", True), "ctime": ("num", False),
        "mtime": ("num", False),
    },
    "filters": {
        "watermark": ("int", True), "priority": ("int", True),
        "predicates": ("list", True), "action": ("any", True),
        "reason_trail": ("list", True), "uuid": ("str", True),
    },
}
_NIC_SCHEMA = {
    "mac": ("str", True), "ip": ("str?", False), "nicparams": ("dict", True),
    "network": ("str?", False), "name": ("str?", False), "uuid": ("str", True),
}
_CHILD_DISK_SCHEMA = dict(_SCHEMA["disks"], uuid=("str", False),
                          serial_no=("int", False))
_TOP_SCHEMA = {
    "version": ("int", True), "cluster": ("dict", True),
    "nodes": ("dict", True), "nodegroups": ("dict", True),
    "instances": ("dict", True), "networks": ("dict", True),
    "disks": ("dict", True), "filters": ("dict", True),
    "serial_no": ("int", True), "ctime": ("num", True), "mtime": ("num", True),
}


def _type_ok(kind, value):
    if kind == "str":
        return isinstance(value, str)
    if kind == "str?":
        return value is None or isinstance(value, str)
    if kind in ("int", "num"):
        if isinstance(value, bool):
            return False
        return isinstance(value, int) or (kind == "num"
                                          and isinstance(value, float))
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "dict":
        return isinstance(value, dict)
    if kind == "list":
        return isinstance(value, list)
    if kind == "strs":
        return isinstance(value, list) and all(isinstance(v, str)
                                               for v in value)
    if kind == "ints":
        return isinstance(value, list) and all(
            isinstance(v, int) and not isinstance(v, bool) for v in value)
    return True  # "any"


_TYPE_WORDS = {"str": "a string", "str?": "a string or null",
               "int": "an integer", "num": "a number", "bool": "a boolean",
               "dict": "an object", "list": "a list",
               "strs": "a list of strings", "ints": "a list of integers",
               "any": "a value"}


def _check_keys(where, obj, schema, out):
    """Type and presence of OBJ's keys; problems appended to OUT."""
    if not isinstance(obj, dict):
        out.append(("%s: not an object" % where, errors.ECODE_INVAL))
        return False
    for key, (kind, required) in schema.items():
        if key not in obj:
            if required:
                out.append(("%s: key '%s' is missing" % (where, key),
                            errors.ECODE_INVAL))
        elif not _type_ok(kind, obj[key]) and not (
                obj[key] is None and not required):
            out.append(("%s: '%s' must be %s, not %s"
                        % (where, key, _TYPE_WORDS[kind],
                           _show(obj[key])[:60]), errors.ECODE_INVAL))
    for key in obj:
        if key not in schema:
            out.append(("%s: unknown key '%s'" % (where, key),
                        errors.ECODE_INVAL))
    return True


def _vtype_ok(vtype, value):
    if vtype == "string":
        return isinstance(value, str)
    if vtype == "maybe-string":
        return value is None or isinstance(value, str)
    if vtype == "bool":
        return isinstance(value, bool)
    if vtype in ("int", "size"):
        return isinstance(value, int) and not isinstance(value, bool)
    if vtype == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return True


def _check_params(where, params, types, out, allow_default=False):
    """Names and value types of a parameter dict (hvparams, beparams ...)."""
    if not isinstance(params, dict):
        out.append(("%s: not an object" % where, errors.ECODE_INVAL))
        return
    for key, value in params.items():
        vtype = types.get(key)
        if vtype is None:
            out.append(("%s: unknown parameter '%s'" % (where, key),
                        errors.ECODE_INVAL))
        elif not _vtype_ok(vtype, value) and not (allow_default
                                                  and value == "default"):
            out.append(("%s: '%s' (value %s) is not a valid %s"
                        % (where, key, _show(value),
                           {"string": "string", "maybe-string": "string",
                            "bool": "boolean", "int": "integer",
                            "size": "size", "float": "float"}[vtype]),
                        errors.ECODE_INVAL))


def _check_nicparams(where, params, out):
    from qganeti import defaults
    _check_params(where, params, defaults.NICS_PARAMETER_TYPES, out)
    mode = params.get("mode") if isinstance(params, dict) else None
    if mode is not None and mode not in defaults.NIC_VALID_MODES:
        out.append(("%s: Invalid NIC mode '%s'" % (where, mode),
                    errors.ECODE_INVAL))


def _check_hvparams(where, hvparams, out, hypervisor=None):
    """{hv: params} (cluster, os_hvp) or the params of HYPERVISOR.

    Parameter names are not checked: like Ganeti, the store keeps parameters
    a hypervisor no longer knows (real 2.13-2.16 clusters carry lxc_* ones);
    the op programs check names when they set them (defaults.check_params).
    """
    from qganeti import defaults
    if hypervisor is not None:
        types = defaults.HVS_PARAMETER_TYPES
        if isinstance(hvparams, dict):
            _check_params(where, dict(
                (key, value) for key, value in hvparams.items()
                if key in types), types, out)
        else:
            out.append(("%s: not an object" % where, errors.ECODE_INVAL))
        return
    for hv_name, params in hvparams.items():
        if hv_name not in defaults.HVC_DEFAULTS:
            out.append(("%s: unknown hypervisor '%s'" % (where, hv_name),
                        errors.ECODE_INVAL))
        else:
            _check_hvparams("%s/%s" % (where, hv_name), params, out, hv_name)


def _check_diskparams(where, diskparams, out):
    from qganeti import defaults
    if not isinstance(diskparams, dict):
        return
    for template, params in diskparams.items():
        if template not in defaults.DISK_DT_DEFAULTS:
            out.append(("%s: unknown disk template '%s'" % (where, template),
                        errors.ECODE_INVAL))
            continue
        _check_params("%s/%s" % (where, template), params, dict(
            (key, defaults.DISK_DT_TYPES[key])
            for key in defaults.DISK_DT_DEFAULTS[template]), out)


def _check_ipolicy(where, ipolicy, out, full):
    from qganeti import defaults
    if not isinstance(ipolicy, dict):
        return
    for key in ipolicy:
        if key not in defaults.IPOLICY_ALL_KEYS:
            out.append(("%s: unknown key '%s'" % (where, key),
                        errors.ECODE_INVAL))
    if full:
        for key in defaults.IPOLICY_ALL_KEYS:
            if key not in ipolicy:
                out.append(("%s: key '%s' is missing" % (where, key),
                            errors.ECODE_INVAL))
    spec_types = defaults.ISPECS_PARAMETER_TYPES
    minmax = ipolicy.get(defaults.ISPECS_MINMAX)
    if minmax is not None:
        if not isinstance(minmax, list) or not minmax:
            out.append(("%s: 'minmax' must be a non-empty list" % where,
                        errors.ECODE_INVAL))
        else:
            for idx, pair in enumerate(minmax):
                if not isinstance(pair, dict) or sorted(pair) != ["max", "min"]:
                    out.append(("%s: minmax/%d must have exactly 'min' and"
                                " 'max'" % (where, idx), errors.ECODE_INVAL))
                    continue
                for side in ("min", "max"):
                    _check_params("%s/minmax/%d/%s" % (where, idx, side),
                                  pair[side], spec_types, out)
    if defaults.ISPECS_STD in ipolicy:
        _check_params("%s/std" % where, ipolicy[defaults.ISPECS_STD],
                      spec_types, out)
    dts = ipolicy.get(defaults.IPOLICY_DTS)
    if dts is not None:
        if not _type_ok("strs", dts):
            out.append(("%s: 'disk-templates' must be a list of strings"
                        % where, errors.ECODE_INVAL))
        else:
            for name in dts:
                if name not in defaults.DISK_DT_DEFAULTS:
                    out.append(("%s: unknown disk template '%s'"
                                % (where, name), errors.ECODE_INVAL))
    for key in defaults.IPOLICY_PARAMETERS:
        if key in ipolicy and not _type_ok("num", ipolicy[key]):
            out.append(("%s: '%s' must be a number" % (where, key),
                        errors.ECODE_INVAL))


def _check_cluster(cluster, cfg, out):
    from qganeti import defaults
    where = "cluster"
    if not _check_keys(where, cluster, _SCHEMA["cluster"], out):
        return
    nodes = cfg.get("nodes") if isinstance(cfg.get("nodes"), dict) else {}
    master = cluster.get("master_node")
    if isinstance(master, str) and master not in nodes:
        out.append(("The configuration denotes node %s as master, but does not"
                    " contain information about this node" % master,
                    errors.ECODE_NOENT))
    for name in cluster.get("enabled_hypervisors") or []:
        if name not in defaults.HVC_DEFAULTS:
            out.append(("cluster: Enabled hypervisors contains invalid"
                        " entries: %s" % name, errors.ECODE_INVAL))
    for name in cluster.get("enabled_disk_templates") or []:
        if name not in defaults.DISK_DT_DEFAULTS:
            out.append(("cluster: Enabled disk templates list contains invalid"
                        " entries: %s" % name, errors.ECODE_INVAL))
    if cluster.get("primary_ip_family") not in (None, 2, 10):
        out.append(("cluster: invalid primary_ip_family %s"
                    % cluster["primary_ip_family"], errors.ECODE_INVAL))
    if isinstance(cluster.get("hvparams"), dict):
        _check_hvparams("cluster/hvparams", cluster["hvparams"], out)
    if isinstance(cluster.get("os_hvp"), dict):
        for os_name, hvp in cluster["os_hvp"].items():
            if isinstance(hvp, dict):
                _check_hvparams("cluster/os_hvp/%s" % os_name, hvp, out)
    for key, types in (("beparams", defaults.BES_PARAMETER_TYPES),
                       ("nicparams", None)):
        groups = cluster.get(key)
        if isinstance(groups, dict):
            for group, params in groups.items():
                if types is None:
                    _check_nicparams("cluster/%s/%s" % (key, group), params,
                                     out)
                else:
                    _check_params("cluster/%s/%s" % (key, group), params,
                                  types, out)
    if isinstance(cluster.get("ndparams"), dict):
        _check_params("cluster/ndparams", cluster["ndparams"],
                      defaults.NDS_PARAMETER_TYPES, out)
    _check_diskparams("cluster/diskparams", cluster.get("diskparams"), out)
    _check_ipolicy("cluster/ipolicy", cluster.get("ipolicy"), out, True)
    collectors = cluster.get("data_collectors")
    if isinstance(collectors, dict):
        for name, conf in collectors.items():
            if not (isinstance(conf, dict) and _type_ok("bool", conf.get(
                    "active")) and _type_ok("num", conf.get("interval"))):
                out.append(("cluster/data_collectors/%s: must be {\"active\":"
                            " bool, \"interval\": microseconds}" % name,
                            errors.ECODE_INVAL))
    certs = cluster.get("candidate_certs")
    if isinstance(certs, dict) and not all(isinstance(v, str)
                                           for v in certs.values()):
        out.append(("cluster/candidate_certs: digests must be strings",
                    errors.ECODE_INVAL))
    pool = cluster.get("uid_pool")
    if isinstance(pool, list):
        for rng in pool:
            if not (isinstance(rng, list) and len(rng) == 2
                    and all(_type_ok("int", v) for v in rng)):
                out.append(("cluster/uid_pool: ranges must be [low, high]",
                            errors.ECODE_INVAL))
                break


def _label(container, uuid, obj):
    name = obj.get("name") if isinstance(obj, dict) else None
    if name:
        return "%s %s (%s)" % (_KIND_NAMES[container], uuid, name)
    return "%s %s" % (_KIND_NAMES[container], uuid)


def _check_disk(where, disk, nodes, out, child=False):
    from qganeti import defaults
    if not _check_keys(where, disk, _CHILD_DISK_SCHEMA if child
                       else _SCHEMA["disks"], out):
        return
    dev_type = disk.get("dev_type")
    if dev_type not in defaults.DISK_DT_DEFAULTS or dev_type == "diskless":
        out.append(("%s: invalid dev_type %s" % (where, _show(dev_type)),
                    errors.ECODE_INVAL))
    if disk.get("mode", "rw") not in defaults.DISK_MODES:
        out.append(("%s: invalid mode %s" % (where, _show(disk["mode"])),
                    errors.ECODE_INVAL))
    lid = disk.get("logical_id")
    if isinstance(lid, list):
        want = 6 if dev_type == "drbd" else 2
        if len(lid) != want:
            out.append(("%s: logical_id of a %s disk must have %d elements"
                        % (where, dev_type, want), errors.ECODE_INVAL))
        elif dev_type == "drbd":
            for node in lid[:2]:
                if node not in nodes:
                    out.append(("%s: logical_id names unknown node '%s'"
                                % (where, node), errors.ECODE_NOENT))
    for node in disk.get("nodes") or []:
        if node not in nodes:
            out.append(("%s: unknown node '%s'" % (where, node),
                        errors.ECODE_NOENT))
    if isinstance(disk.get("params"), dict):
        _check_params(where + "/params", disk["params"],
                      defaults.DISK_DT_TYPES, out)
    for idx, sub in enumerate(disk.get("children") or []):
        _check_disk("%s/children/%d" % (where, idx), sub, nodes, out, True)


def _check_object(cfg, container, uuid, obj, out):
    """Schema and outgoing references of one object; problems into OUT."""
    from qganeti import defaults
    where = _label(container, uuid, obj)
    if container == "disks":
        _check_disk(where, obj, cfg["nodes"], out)
        if not isinstance(obj, dict):
            return
    elif not _check_keys(where, obj, _SCHEMA[container], out):
        return
    if isinstance(obj.get("uuid"), str) and obj["uuid"] != uuid:
        out.append(("%s is indexed by wrong UUID '%s'" % (where, uuid),
                    errors.ECODE_INVAL))
    if container == "nodes":
        group = obj.get("group")
        if isinstance(group, str) and group not in cfg["nodegroups"]:
            out.append(("Node '%s' has invalid group '%s'"
                        % (obj.get("name"), group), errors.ECODE_NOENT))
        if isinstance(obj.get("ndparams"), dict):
            _check_params(where + "/ndparams", obj["ndparams"],
                          defaults.NDS_PARAMETER_TYPES, out)
    elif container == "nodegroups":
        if obj.get("alloc_policy") not in defaults.ALLOC_POLICIES:
            out.append(("%s: invalid alloc_policy %s"
                        % (where, _show(obj.get("alloc_policy"))),
                        errors.ECODE_INVAL))
        if isinstance(obj.get("ndparams"), dict):
            _check_params(where + "/ndparams", obj["ndparams"],
                          defaults.NDS_PARAMETER_TYPES, out)
        _check_diskparams(where + "/diskparams", obj.get("diskparams"), out)
        _check_ipolicy(where + "/ipolicy", obj.get("ipolicy"), out, False)
        for net in (obj.get("networks") or {}):
            if net not in cfg["networks"]:
                out.append(("%s: connected to unknown network '%s'"
                            % (where, net), errors.ECODE_NOENT))
    elif container == "instances":
        _check_instance(cfg, where, obj, out)
    elif container == "networks":
        pass


def _check_instance(cfg, where, inst, out):
    from qganeti import defaults
    name = inst.get("name")
    pnode = inst.get("primary_node")
    if isinstance(pnode, str) and pnode not in cfg["nodes"]:
        out.append(("instance '%s' has invalid primary node '%s'"
                    % (name, pnode), errors.ECODE_NOENT))
    hyp = inst.get("hypervisor")
    if hyp not in defaults.HVC_DEFAULTS:
        out.append(("%s: unknown hypervisor %s" % (where, _show(hyp)),
                    errors.ECODE_INVAL))
    elif isinstance(inst.get("hvparams"), dict):
        _check_hvparams(where + "/hvparams", inst["hvparams"], out, hyp)
    if isinstance(inst.get("beparams"), dict):
        _check_params(where + "/beparams", inst["beparams"],
                      defaults.BES_PARAMETER_TYPES, out)
    if inst.get("admin_state") not in defaults.ADMINST_ALL:
        out.append(("%s: invalid admin_state %s"
                    % (where, _show(inst.get("admin_state"))),
                    errors.ECODE_INVAL))
    if inst.get("admin_state_source") not in (defaults.ADMIN_SOURCE,
                                              defaults.USER_SOURCE):
        out.append(("%s: invalid admin_state_source %s"
                    % (where, _show(inst.get("admin_state_source"))),
                    errors.ECODE_INVAL))
    for idx, nic in enumerate(inst.get("nics") or []):
        nwhere = "%s/nics/%d" % (where, idx)
        if not _check_keys(nwhere, nic, _NIC_SCHEMA, out):
            continue
        if isinstance(nic.get("nicparams"), dict):
            _check_nicparams(nwhere + "/nicparams", nic["nicparams"], out)
        net = nic.get("network")
        if net and net not in cfg["networks"]:
            out.append(("instance '%s' NIC %d has invalid network '%s'"
                        % (name, idx, net), errors.ECODE_NOENT))
    for disk in inst.get("disks") or []:
        if disk not in cfg["disks"]:
            out.append(("Instance '%s' has invalid disk '%s'" % (name, disk),
                        errors.ECODE_NOENT))


class _Index(object):
    """Who uses which name, MAC and disk in a config: built once per check of
    a change (lazily, per kind), so a change adding many objects stays
    linear in the size of the config."""

    def __init__(self, cfg):
        self.cfg = cfg
        self._names = {}
        self._macs = None
        self._disks = None

    def names(self, container):
        if container not in self._names:
            found = {}
            for uuid, obj in self.cfg[container].items():
                if isinstance(obj, dict):
                    found.setdefault(obj.get("name"), []).append(uuid)
            self._names[container] = found
        return self._names[container]

    def _instances(self):
        macs, disks = {}, {}
        for uuid, inst in self.cfg["instances"].items():
            if not isinstance(inst, dict):
                continue
            for nic in inst.get("nics") or []:
                if isinstance(nic, dict):
                    macs.setdefault(nic.get("mac"), []).append(uuid)
            for disk in inst.get("disks") or []:
                disks.setdefault(disk, []).append(uuid)
        self._macs, self._disks = macs, disks

    def mac_users(self, mac):
        if self._macs is None:
            self._instances()
        return self._macs.get(mac, ())

    def disk_users(self, disk):
        if self._disks is None:
            self._instances()
        return self._disks.get(disk, ())


def _unique_problems(cfg, container, uuid, obj, index=None):
    """Another object of the same kind with OBJ's name (or a NIC's MAC)."""
    index = index or _Index(cfg)
    out = []
    name = obj.get("name") if isinstance(obj, dict) else None
    if name and container in ("nodes", "instances", "nodegroups", "networks"):
        for other_uuid in index.names(container).get(name, ()):
            if other_uuid != uuid:
                if container == "instances":
                    msg = "Instance '%s' is already in the cluster" % name
                elif container == "nodes":
                    msg = "Node %s is already in the configuration" % name
                elif container == "nodegroups":
                    msg = ("Desired group name '%s' already exists as a node"
                           " group (UUID: %s)" % (name, other_uuid))
                else:
                    msg = "Network '%s' already defined" % name
                out.append((msg, errors.ECODE_EXISTS))
                break
    if container == "instances" and isinstance(obj, dict):
        macs = set(nic.get("mac") for nic in obj.get("nics") or []
                   if isinstance(nic, dict))
        used = set(mac for mac in macs
                   if any(other != uuid for other in index.mac_users(mac)))
        if used:
            out.append(("Cannot add instance %s; MAC addresses %s already in"
                        " use" % (name, ", ".join(sorted(used))),
                        errors.ECODE_NOTUNIQUE))
        for disk in obj.get("disks") or []:
            for other_uuid in index.disk_users(disk):
                if other_uuid != uuid:
                    out.append(("Disk %s already attached to instance %s"
                                % (disk, cfg["instances"][other_uuid].get("name")),
                                errors.ECODE_EXISTS))
    return out


def _removal_problems(cfg, container, uuid, old):
    """References that would dangle now that CONTAINER/UUID (OLD) is gone."""
    out = []
    name = old.get("name", uuid) if isinstance(old, dict) else uuid
    if container == "nodes":
        if cfg["cluster"].get("master_node") == uuid:
            out.append(("Node %s is the master node, failover to another node"
                        " is required" % name, errors.ECODE_INVAL))
        for inst in cfg["instances"].values():
            if inst.get("primary_node") == uuid:
                out.append(("Instance %s is still running on the node, please"
                            " remove first" % inst.get("name"),
                            errors.ECODE_INVAL))
                break
        for disk_uuid, disk in cfg["disks"].items():
            if uuid in (disk.get("nodes") or ()) or (
                    disk.get("dev_type") == "drbd"
                    and uuid in (disk.get("logical_id") or [])[:2]):
                out.append(("Node %s is still used by disk %s"
                            % (name, disk_uuid), errors.ECODE_INVAL))
                break
    elif container == "nodegroups":
        members = [node.get("name") for node in cfg["nodes"].values()
                   if node.get("group") == uuid]
        if members:
            out.append(("Group '%s' not empty, has the following node(s): %s"
                        % (name, ", ".join(members)), errors.ECODE_STATE))
    elif container == "disks":
        for inst in cfg["instances"].values():
            if uuid in (inst.get("disks") or ()):
                out.append(("Cannot remove disk %s. Disk is attached to"
                            " instance %s" % (uuid, inst.get("name")),
                            errors.ECODE_STATE))
                break
    elif container == "networks":
        for group in cfg["nodegroups"].values():
            if uuid in (group.get("networks") or {}):
                out.append(("Network '%s' is still connected to node group"
                            " '%s'" % (name, group.get("name")),
                            errors.ECODE_STATE))
                break
        for inst in cfg["instances"].values():
            if any(isinstance(nic, dict) and nic.get("network") == uuid
                   for nic in inst.get("nics") or []):
                out.append(("Network '%s' is still used by instance '%s'"
                            % (name, inst.get("name")), errors.ECODE_STATE))
                break
    return out


def problems(cfg):
    """Every schema, reference and uniqueness problem of CFG: [(msg, ecode)]."""
    out = []
    if isinstance(cfg, dict) and "version" in cfg and cfg["version"] != VERSION:
        return [("Cluster configuration version mismatch, got %s instead of %s"
                 % (cfg["version"], VERSION), errors.ECODE_INVAL)]
    if not _check_keys("config", cfg, _TOP_SCHEMA, out) or out:
        return out
    _check_cluster(cfg["cluster"], cfg, out)
    for container in CONTAINERS:
        for uuid, obj in cfg[container].items():
            if container == "filters":
                _check_keys("filter %s" % uuid, obj, _SCHEMA["filters"], out)
            else:
                _check_object(cfg, container, uuid, obj, out)
    for container in ("nodes", "instances", "nodegroups", "networks"):
        seen = set()
        for obj in cfg[container].values():
            name = obj.get("name") if isinstance(obj, dict) else None
            if name in seen:
                out.append(("duplicate %s name '%s'"
                            % (_KIND_NAMES[container], name),
                            errors.ECODE_EXISTS))
            seen.add(name)
    macs = {}
    owner = {}
    for inst in cfg["instances"].values():
        if not isinstance(inst, dict):
            continue
        for idx, nic in enumerate(inst.get("nics") or []):
            mac = nic.get("mac") if isinstance(nic, dict) else None
            if mac in macs:
                out.append(("instance '%s' has NIC %d mac %s duplicate"
                            % (inst.get("name"), idx, mac),
                            errors.ECODE_NOTUNIQUE))
            macs[mac] = True
        for disk in inst.get("disks") or []:
            if disk in owner:
                out.append(("Disk %s already attached to instance %s"
                            % (disk, owner[disk]), errors.ECODE_EXISTS))
            owner[disk] = inst.get("name")
    return out


def check(cfg):
    """Raise errors.ConfigurationError describing what is wrong with CFG."""
    found = problems(cfg)
    if found:
        shown = "; ".join(msg for msg, _ in found[:5])
        if len(found) > 5:
            shown += "; and %d more" % (len(found) - 5)
        if found[0][0].startswith("Cluster configuration version mismatch"):
            raise errors.ConfigVersionMismatch(found[0][0])
        raise errors.ConfigurationError(shown)


# ------------------------------------------------------------ change ops

class _Reject(Exception):
    """A change cannot be applied: (message, ECODE_*)."""


def _pointer(path):
    if not isinstance(path, str) or not path.startswith("/"):
        raise _Reject("Invalid path %r: must start with '/'" % (path,),
                      errors.ECODE_INVAL)
    return [part.replace("~1", "/").replace("~0", "~")
            for part in path[1:].split("/")]


def _walk(cfg, parts, path):
    """The container that holds PARTS[-1] (dict or list)."""
    node = cfg
    for part in parts[:-1]:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise _Reject("Path %s does not exist" % path, errors.ECODE_NOENT)
    if not isinstance(node, (dict, list)):
        raise _Reject("Path %s does not exist" % path, errors.ECODE_NOENT)
    return node


def _index(lst, key, path, allow_end=False):
    if key == "-" and allow_end:
        return len(lst)
    if not key.isdigit() or int(key) > len(lst) or (
            int(key) == len(lst) and not allow_end):
        raise _Reject("Path %s does not exist" % path, errors.ECODE_NOENT)
    return int(key)


def _get(cfg, parts, path):
    parent = _walk(cfg, parts, path)
    key = parts[-1]
    if isinstance(parent, dict):
        if key not in parent:
            raise _Reject("Path %s does not exist" % path, errors.ECODE_NOENT)
        return parent[key]
    return parent[_index(parent, key, path)]


def _target(parts):
    """(container, uuid) of the object a path is inside; None for others."""
    if parts[0] == "cluster":
        return ("cluster", None)
    if parts[0] in CONTAINERS and len(parts) >= 2:
        return (parts[0], parts[1])
    return None


def _apply_op(cfg, op, touched, added, removed):
    if not isinstance(op, dict):
        raise _Reject("Invalid change %r: not an object" % (op,),
                      errors.ECODE_INVAL)
    kind = op.get("op")
    path = op.get("path")
    parts = _pointer(path)
    if kind not in ("add", "remove", "replace", "test", "append", "discard"):
        raise _Reject("Invalid change op %r" % (kind,), errors.ECODE_INVAL)
    if kind != "remove" and "value" not in op:
        raise _Reject("Change op '%s' on %s needs a value" % (kind, path),
                      errors.ECODE_INVAL)
    value = op.get("value")
    if kind == "test":
        try:
            current = _get(cfg, parts, path)
        except _Reject:
            raise _Reject("Configuration changed: %s does not exist" % path,
                          errors.ECODE_STATE)
        if not _same(current, value):
            raise _Reject("Configuration changed: %s is %s, expected %s"
                          % (path, _show(current)[:80],
                             _show(value)[:80]), errors.ECODE_STATE)
        return
    target = _target(parts)
    if target is None:
        raise _Reject("Cannot change %s: only the cluster and objects in %s"
                      " can be changed" % (path, ", ".join(CONTAINERS)),
                      errors.ECODE_INVAL)
    depth = 1 if target[0] == "cluster" else 2
    if len(parts) == depth + 1 and parts[-1] in _META:
        raise _Reject("Cannot change %s: %s is maintained by the configuration"
                      " store" % (path, parts[-1]), errors.ECODE_INVAL)
    whole = len(parts) == depth
    if kind in ("append", "discard"):
        lst = _get(cfg, parts, path)
        if not isinstance(lst, list):
            raise _Reject("Path %s is not a list" % path, errors.ECODE_INVAL)
        if kind == "append":
            if not any(_same(item, value) for item in lst):
                lst.append(_copy(value))
        else:
            lst[:] = [item for item in lst if not _same(item, value)]
        touched.add(target)
        return
    parent = _walk(cfg, parts, path)
    key = parts[-1]
    if kind == "add":
        if isinstance(parent, dict):
            if key in parent:
                if whole:
                    raise _Reject("Cannot add %s: UUID %s already in use"
                                  % (_KIND_NAMES.get(target[0], target[0]),
                                     key), errors.ECODE_EXISTS)
                raise _Reject("Cannot add %s: it already exists" % path,
                              errors.ECODE_EXISTS)
            parent[key] = _copy(value)
        else:
            parent.insert(_index(parent, key, path, allow_end=True),
                          _copy(value))
        if whole:
            added.add(target)
            removed.discard(target)
        else:
            touched.add(target)
    elif kind == "remove":
        if isinstance(parent, dict):
            if key not in parent:
                if whole:
                    raise _Reject("Unknown %s '%s'"
                                  % (_KIND_NAMES.get(target[0], target[0]),
                                     key), errors.ECODE_NOENT)
                raise _Reject("Path %s does not exist" % path,
                              errors.ECODE_NOENT)
            del parent[key]
        else:
            del parent[_index(parent, key, path)]
        if whole:
            if target[0] == "cluster":
                raise _Reject("The cluster object cannot be removed",
                              errors.ECODE_INVAL)
            removed.add(target)
            added.discard(target)
            touched.discard(target)
        else:
            touched.add(target)
    else:  # replace
        if whole and target[0] != "cluster" and key not in parent:
            raise _Reject("Unknown %s '%s'" % (_KIND_NAMES[target[0]], key),
                          errors.ECODE_NOENT)
        if isinstance(parent, dict):
            old = parent.get(key)
            if whole and isinstance(value, dict) and isinstance(old, dict) \
                    and "serial_no" in value and not _same(
                        value["serial_no"], old.get("serial_no")):
                raise _Reject("Configuration object updated since it has been"
                              " read: %s != %s" % (old.get("serial_no"),
                                                   value["serial_no"]),
                              errors.ECODE_STATE)
            new = _copy(value)
            if whole and isinstance(new, dict) and isinstance(old, dict):
                for meta in _META:
                    if meta in old:
                        new[meta] = old[meta]
            parent[key] = new
        else:
            parent[_index(parent, key, path)] = _copy(value)
        if target not in added:
            touched.add(target)


def _lookup(cfg, target):
    if target[0] == "cluster":
        return cfg.get("cluster")
    return cfg.get(target[0], {}).get(target[1])


def _stamp(cfg, touched, added, removed, now):
    """Metadata of touched and added objects (see the module docstring)."""
    for container, _ in list(added) + list(removed):
        if container in _CLUSTER_MEMBERSHIP:
            touched.add(("cluster", None))
    for target in added:
        obj = _lookup(cfg, target)
        if not isinstance(obj, dict) or target[0] == "filters":
            continue
        obj.setdefault("uuid", target[1])
        obj.setdefault("serial_no", 1)
        obj.setdefault("ctime", now)
        obj.setdefault("mtime", now)
        if target[0] != "disks":
            obj.setdefault("tags", [])
    for target in touched:
        if target in added:
            continue
        obj = _lookup(cfg, target)
        if isinstance(obj, dict) and target[0] != "filters":
            obj["serial_no"] = obj.get("serial_no", 0) + 1
            obj["mtime"] = now


def _change_problems(cfg, touched, added, removed, before):
    """Problems of what a change touched; BEFORE(target) gives the old object."""
    out = []
    index = _Index(cfg)
    for target in removed:
        out.extend(_removal_problems(cfg, target[0], target[1],
                                     before(target)))
    for target in list(touched) + list(added):
        obj = _lookup(cfg, target)
        if obj is None:
            continue
        if target[0] == "cluster":
            _check_cluster(obj, cfg, out)
        elif target[0] == "filters":
            _check_keys("filter %s" % target[1], obj, _SCHEMA["filters"], out)
        else:
            _check_object(cfg, target[0], target[1], obj, out)
            if not out:
                out.extend(_unique_problems(cfg, target[0], target[1], obj,
                                            index))
    return out


def _snapshot(cfg, targets, saved):
    for target in targets:
        if target not in saved:
            obj = _lookup(cfg, target)
            saved[target] = None if obj is None else _copy(obj)


def _restore(cfg, saved):
    for target, obj in saved.items():
        if target[0] == "cluster":
            cfg["cluster"] = obj
        elif obj is None:
            cfg[target[0]].pop(target[1], None)
        else:
            cfg[target[0]][target[1]] = obj


def _ssconf_relevant(touched, added, removed, name_of_before, name_of_after):
    """Whether a change may alter an ssconf file: anything but instances
    and disks, an instance added or removed, or an instance renamed."""
    for target in touched | added | removed:
        if target[0] not in ("instances", "disks"):
            return True
        if target[0] == "instances" and (
                target in added or target in removed
                or name_of_before(target) != name_of_after(target)):
            return True
    return False


def _name_in(lookup):
    def name_of(target):
        obj = lookup(target)
        return obj.get("name") if isinstance(obj, dict) else None
    return name_of


def _apply_change(cfg, changes, now):
    """Apply one change (a list of ops) to CFG, all or nothing; returns
    (whether it changed anything, whether ssconf may change).

    Raises errors.OpPrereqError (and leaves CFG as it was) if an op fails or
    the result has a problem in what the change touched.
    """
    if not isinstance(changes, list):
        raise errors.OpPrereqError("A change is a list of ops, not %s"
                                   % type(changes).__name__,
                                   errors.ECODE_INVAL)
    touched, added, removed = set(), set(), set()
    saved = {}
    try:
        for op in changes:
            if isinstance(op, dict):
                parts = _pointer(op.get("path"))
                target = _target(parts)
                if target is not None:
                    _snapshot(cfg, [target, ("cluster", None)], saved)
            _apply_op(cfg, op, touched, added, removed)
        _stamp(cfg, touched, added, removed, now)
        found = _change_problems(cfg, touched, added, removed, saved.get)
        if found:
            raise _Reject(*found[0])
    except _Reject as err:
        _restore(cfg, saved)
        raise errors.OpPrereqError(*err.args)
    except Exception:
        _restore(cfg, saved)
        raise
    return (bool(touched or added or removed),
            _ssconf_relevant(touched, added, removed, _name_in(saved.get),
                             _name_in(lambda target: _lookup(cfg, target))))


def _diff_targets(before, after):
    """(touched, added, removed) between two configs (for update())."""
    touched, added, removed = set(), set(), set()
    if not _same(before.get("cluster"), after.get("cluster")):
        touched.add(("cluster", None))
    for container in CONTAINERS:
        old = before.get(container) or {}
        new = after.get(container) or {}
        for uuid, obj in new.items():
            if uuid not in old:
                added.add((container, uuid))
            elif not _same(old[uuid], obj):
                touched.add((container, uuid))
        for uuid in old:
            if uuid not in new:
                removed.add((container, uuid))
    return touched, added, removed


def _apply_fn(cfg, fn, now):
    """Run FN on a copy of CFG; (changed?, ssconf may change?, fn's value,
    the new config)."""
    work = _copy(cfg)
    value = fn(work)
    if not isinstance(work, dict) or not all(
            isinstance(work.get(key), dict) for key in ("cluster",)
            + CONTAINERS):
        raise errors.OpPrereqError("update: the configuration lost its"
                                   " structure", errors.ECODE_INVAL)
    for key in ("serial_no", "mtime", "ctime", "version"):
        work[key] = cfg[key]
    touched, added, removed = _diff_targets(cfg, work)
    for target in touched:
        old = _lookup(cfg, target)
        new = _lookup(work, target)
        for meta in _META:
            if meta in old:
                new[meta] = old[meta]
    _stamp(work, touched, added, removed, now)
    found = _change_problems(work, touched, added, removed,
                             lambda target: _lookup(cfg, target))
    if found:
        raise errors.OpPrereqError(*found[0])
    relevant = _ssconf_relevant(touched, added, removed,
                                _name_in(lambda target: _lookup(cfg, target)),
                                _name_in(lambda target: _lookup(work, target)))
    return bool(touched or added or removed), relevant, value, work


# --------------------------------------------------------------- commit

_seq = [0]
_STALE_TMP = 60  # seconds after which an unlocked .<id>.tmp request is junk


def _hook(step, foreign):
    """Test hook: SIGKILL this process at STEP of a batch with foreign requests.

    Armed by QGANETI_CONFIG_CRASH_AT=<step> and QGANETI_CONFIG_CRASH_ARM=<file>;
    the process that manages to unlink <file> dies, so it fires once.
    """
    if not foreign or os.environ.get("QGANETI_CONFIG_CRASH_AT") != step:
        return
    arm = os.environ.get("QGANETI_CONFIG_CRASH_ARM")
    try:
        os.unlink(arm)
    except (OSError, TypeError):
        return
    import signal
    os.kill(os.getpid(), signal.SIGKILL)


def _open_lock(lock_path):
    return os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)


def _read_serial(path):
    try:
        with open(path, "rb") as handle:
            return fastjson.loads(handle.read()).get("serial_no")
    except (OSError, ValueError, AttributeError):
        return None


def _fsync_path(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_done(queue, rid, outcome):
    """Record a request's outcome (read by its writer under the lock)."""
    if not os.path.exists(os.path.join(queue, rid)):
        return
    with open(os.path.join(queue, rid + ".done"), "w") as handle:
        handle.write(fastjson.dumps(outcome))


def _recover(path, queue, batch):
    """Finish or drop what a killed leader left (see the module docstring)."""
    try:
        with open(batch) as handle:
            record = fastjson.loads(handle.read())
    except FileNotFoundError:
        return
    except (OSError, ValueError):
        record = None
    data_dir = os.path.dirname(path)
    if record is not None and _read_serial(path) == record.get("serial"):
        _fsync_path(path)
        fileio.fsync_dir(data_dir)
        for rid, outcome in record.get("results", {}).items():
            _write_done(queue, rid, outcome)
        try:
            from qganeti import ssconf
            ssconf.write(load(path), data_dir)
        except errors.GenericError:
            pass
    prefix = "." + os.path.basename(path) + ".tmp."
    for name in os.listdir(data_dir):
        if name.startswith(prefix):
            try:
                os.unlink(os.path.join(data_dir, name))
            except OSError:
                pass
    os.unlink(batch)


def _collect(queue):
    """[(id, changes)] of live requests without an outcome, in queue order."""
    try:
        names = sorted(os.listdir(queue))
    except FileNotFoundError:
        return []
    done = set(name[:-5] for name in names if name.endswith(".done"))
    found = []
    for name in names:
        if name.endswith(".done"):
            continue
        full = os.path.join(queue, name)
        try:
            fd = os.open(full, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                alive = True
            else:
                alive = False
            if not alive and name.startswith("."):
                if os.fstat(fd).st_mtime < time.time() - _STALE_TMP:
                    _unlink(full)
                continue
            if not alive:  # its writer is gone: drop the request
                for stale in (full, full + ".done"):
                    try:
                        os.unlink(stale)
                    except FileNotFoundError:
                        pass
                continue
            if name.startswith(".") or name in done:
                continue
            chunks = []
            while True:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                chunks.append(chunk)
        finally:
            os.close(fd)
        try:
            changes = fastjson.loads(b"".join(chunks))
        except ValueError:
            changes = None
        found.append((name, changes))
    return found


class _Batch(object):
    """One leader's batch: the foreign requests plus this process's own."""

    def __init__(self, path):
        self.path, self.lock, self.queue, self.batch = _files(path)

    def run(self, own_changes=None, own_fn=None, own_id=None):
        """Commit; returns (new serial or None, own outcome) and fn's value."""
        _recover(self.path, self.queue, self.batch)
        with open(self.path, "rb") as handle:
            cfg = _parse_file(handle.read(), self.path)
        requests = _collect(self.queue)
        foreign = [req for req in requests if req[0] != own_id]
        _hook("collected", foreign)
        now = time.time()
        results = {}
        changed = ssconf_relevant = False
        for rid, changes in requests:
            try:
                if changes is None:
                    raise errors.OpPrereqError("Unreadable change request",
                                               errors.ECODE_INVAL)
                one, relevant = _apply_change(cfg, changes, now)
                changed, ssconf_relevant = changed or one, ssconf_relevant or relevant
                results[rid] = None
            except errors.GenericError as err:
                results[rid] = {"error": errors.encode(err)}
        own_error = None
        own_value = None
        if own_changes is not None:
            try:
                one, relevant = _apply_change(cfg, own_changes, now)
                changed, ssconf_relevant = changed or one, ssconf_relevant or relevant
            except errors.GenericError as err:
                own_error = err
        if own_fn is not None:
            try:
                fn_changed, relevant, own_value, new_cfg = _apply_fn(cfg, own_fn, now)
                if fn_changed:
                    cfg = new_cfg
                    changed = True
                    ssconf_relevant = ssconf_relevant or relevant
            except BaseException as err:  # fn's own errors go back to it
                own_error = err
        serial = None
        if changed:
            cfg["serial_no"] += 1
            cfg["mtime"] = now
            serial = cfg["serial_no"]
            for rid in results:
                if results[rid] is None:
                    results[rid] = {"serial": serial}
            self._commit(cfg, results, foreign, ssconf_relevant)
        else:
            for rid in results:
                if rid != own_id:
                    _write_done(self.queue, rid, results[rid])
        own = results.get(own_id) if own_id else None
        if own_id and own is None:
            own_error = errors.OpExecError("Change request %s was lost from the"
                                           " queue" % own_id)
        if own_error is not None:
            own = {"exception": own_error}
        elif own is None:
            own = {"serial": serial if serial is not None
                   else cfg["serial_no"]}
        return own, own_value

    def _commit(self, cfg, results, foreign, ssconf_relevant=True):
        data_dir = os.path.dirname(self.path)
        fileio.atomic_write(self.batch, fastjson.dumps(
            {"serial": cfg["serial_no"], "results": results}), mode=0o600,
            durable=False)
        _hook("batch-written", foreign)
        text = _dumps(cfg).encode("utf-8")
        _write_config(self.path, text, foreign)
        # the base was checked, and every change applied to it was
        _remember_checked(self.path, _digest(text))
        for idx, (rid, outcome) in enumerate(results.items()):
            _write_done(self.queue, rid, outcome)
            if idx == 0:
                _hook("results-partial", foreign)
        _hook("results-written", foreign)
        # ssconf files are compared with what they should hold (and written
        # if they differ) unless the batch cannot have changed any of them
        if ssconf_relevant or not os.path.exists(
                os.path.join(data_dir, "ssconf_cluster_name")):
            try:
                from qganeti import ssconf
                ssconf.write(cfg, data_dir)
            except Exception:  # noqa: BLE001 - recomputed by the next write
                pass
        _hook("ssconf-written", foreign)
        os.unlink(self.batch)


def _write_config(path, text, foreign=()):
    """Replace config.data by TEXT: temporary file, fsync, rename, fsync dir."""
    head, tail = os.path.split(path)
    _seq[0] += 1
    tmp = os.path.join(head, ".%s.tmp.%d.%d" % (tail, os.getpid(), _seq[0]))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC,
                 0o640)
    try:
        view = memoryview(text)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    os.close(fd)
    os.rename(tmp, path)
    _hook("data-renamed", foreign)
    fileio.fsync_dir(head or ".")
    _hook("data-synced", foreign)


def _outcome(own):
    if "exception" in own:
        raise own["exception"]
    if "error" in own:
        err = errors.decode(own["error"])
        raise err if err is not None else errors.OpExecError(own["error"])
    return own["serial"]


def _take_lock(lock_path, wait):
    fd = _open_lock(lock_path)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    return fd


def commit(changes, path=None):
    """Apply CHANGES (a list of ops) durably; returns the new serial_no.

    Batched with concurrent writers of other processes; returns only once the
    change is on disk.  Raises errors.OpPrereqError if the change is rejected
    (it is then not applied at all).
    """
    if not isinstance(changes, list):
        raise errors.OpPrereqError("A change is a list of ops, not %s"
                                   % type(changes).__name__,
                                   errors.ECODE_INVAL)
    batch = _Batch(path)
    if not os.path.exists(batch.path):
        raise errors.ConfigurationError("Cannot read configuration file %s: %s"
                                        % (batch.path, os.strerror(
                                            errno.ENOENT)))
    lock_fd = _take_lock(batch.lock, wait=False)
    if lock_fd is not None:
        try:
            own, _ = batch.run(own_changes=changes)
        finally:
            os.close(lock_fd)
        return _outcome(own)
    rid, req_fd = _enqueue(batch.queue, changes)
    try:
        lock_fd = _take_lock(batch.lock, wait=True)
        try:
            _recover(batch.path, batch.queue, batch.batch)
            done = os.path.join(batch.queue, rid + ".done")
            try:
                with open(done) as handle:
                    own = fastjson.loads(handle.read())
            except FileNotFoundError:
                own, _ = batch.run(own_id=rid)
            _unlink(done)
            _unlink(os.path.join(batch.queue, rid))
        finally:
            os.close(lock_fd)
    finally:
        os.close(req_fd)
    return _outcome(own)


def _unlink(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _enqueue(queue, changes):
    """Write a request file, flock()ed while we wait; (id, fd)."""
    try:
        os.mkdir(queue, 0o700)
    except FileExistsError:
        pass
    _seq[0] += 1
    rid = "%016x.%d.%d" % (time.time_ns(), os.getpid(), _seq[0])
    tmp = os.path.join(queue, "." + rid + ".tmp")
    fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        data = fastjson.dumps(changes).encode("utf-8")
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.rename(tmp, os.path.join(queue, rid))
    except BaseException:
        os.close(fd)
        _unlink(tmp)
        raise
    return rid, fd


def update(fn, path=None):
    """Run FN(cfg) on a private copy inside the critical section; durable.

    FN mutates the config it is given (and may return a value, which update
    returns); the store stamps what it changed, checks it, and commits it
    together with the changes other processes are waiting to commit.  If FN
    raises, or its result has a problem, nothing of FN's is applied and the
    exception (errors.OpPrereqError for problems) propagates.
    """
    batch = _Batch(path)
    if not os.path.exists(batch.path):
        raise errors.ConfigurationError("Cannot read configuration file %s: %s"
                                        % (batch.path, os.strerror(
                                            errno.ENOENT)))
    lock_fd = _take_lock(batch.lock, wait=True)
    try:
        own, value = batch.run(own_fn=fn)
    finally:
        os.close(lock_fd)
    _outcome(own)
    return value


def create(cfg, path=None):
    """Write the first config.data (and the ssconf files); refuses if one exists."""
    path, lock, _, _ = _files(path)
    check(cfg)
    data_dir = os.path.dirname(path)
    fileio.ensure_dir(data_dir)
    lock_fd = _take_lock(lock, wait=True)
    try:
        if os.path.exists(path):
            raise errors.OpPrereqError("Cluster is already initialised",
                                       errors.ECODE_STATE)
        _write_config(path, _dumps(cfg).encode("utf-8"))
        from qganeti import ssconf
        ssconf.write(cfg, data_dir)
    finally:
        os.close(lock_fd)


# ------------------------------------------------------------ new cluster

def new_cluster(cluster_name, master_name, master_ip, **options):
    """A complete Ganeti 3.0 config.data for a one-node cluster.

    Every value is what Ganeti 3.0.2's `gnt-cluster init` writes unless an
    option says otherwise.  Options: primary_ip (the master node's own
    address, required), secondary_ip, enabled_hypervisors,
    enabled_disk_templates, file_storage_dir, shared_file_storage_dir,
    gluster_storage_dir, hvparams, beparams, nicparams, ndparams, diskparams,
    ipolicy, hv_state, disk_state, max_running_jobs, max_tracked_jobs,
    candidate_pool_size, mac_prefix, master_netdev, master_netmask,
    volume_group_name, drbd_helper, default_iallocator,
    default_iallocator_params, uid_pool, modify_etc_hosts, modify_ssh_setup,
    maintain_node_health, prealloc_wipe_disks, use_external_mip_script,
    primary_ip_family, rsahostkeypub, dsahostkeypub, master_cert_digest,
    compression_tools, enabled_user_shutdown, install_image, zeroing_image,
    ssh_key_type, ssh_key_bits, tags, now.
    """
    from qganeti import defaults as d
    opts = dict(options)
    unknown = set(opts) - _NEW_CLUSTER_OPTIONS
    if unknown:
        raise errors.OpPrereqError("Unknown cluster option(s): %s"
                                   % ", ".join(sorted(unknown)),
                                   errors.ECODE_INVAL)
    primary_ip = opts.get("primary_ip")
    if not primary_ip:
        raise errors.OpPrereqError("The master node's primary IP address"
                                   " (primary_ip) must be given",
                                   errors.ECODE_INVAL)
    now = opts.get("now") or time.time()
    hvs = list(opts.get("enabled_hypervisors")
               or [d.DEFAULT_ENABLED_HYPERVISOR])
    bad = [hv for hv in hvs if hv not in d.HVC_DEFAULTS]
    if bad:
        raise errors.OpPrereqError("Enabled hypervisors contains invalid"
                                   " entries: %s" % ", ".join(bad),
                                   errors.ECODE_INVAL)
    dts = list(opts.get("enabled_disk_templates")
               or d.DEFAULT_ENABLED_DISK_TEMPLATES)
    bad = [dt for dt in dts if dt not in d.DISK_DT_DEFAULTS]
    if bad:
        raise errors.OpPrereqError("Enabled disk templates list contains"
                                   " invalid entries: %s" % ", ".join(bad),
                                   errors.ECODE_INVAL)
    mac_prefix = opts.get("mac_prefix", d.DEFAULT_MAC_PREFIX)
    import re
    if not re.match("^[0-9a-z]{2}:[0-9a-z]{2}:[0-9a-z]{2}$", mac_prefix):
        raise errors.OpPrereqError("Invalid mac prefix given '%s'" % mac_prefix,
                                   errors.ECODE_INVAL)
    vg_name = opts.get("volume_group_name")
    if vg_name is None and any(dt in d.DTS_LVM for dt in dts):
        vg_name = d.DEFAULT_VG
    drbd_helper = opts.get("drbd_helper")
    if drbd_helper is None and d.DT_DRBD8 in dts:
        drbd_helper = d.DEFAULT_DRBD_HELPER

    try:
        beparams = d.check_params("be", opts.get("beparams", {}))
        nicparams = d.check_params("nic", opts.get("nicparams", {}))
        ndparams = d.check_params("nd", opts.get("ndparams", {}))
    except errors.TypeEnforcementError as err:
        raise errors.OpPrereqError(str(err), errors.ECODE_INVAL)
    nicparams = d.fill_dict(d.NICC_DEFAULTS, nicparams)
    if nicparams["mode"] not in d.NIC_VALID_MODES:
        raise errors.OpPrereqError("Invalid NIC mode '%s'" % nicparams["mode"],
                                   errors.ECODE_INVAL)
    if nicparams["mode"] == d.NIC_MODE_BRIDGED and not nicparams["link"]:
        raise errors.OpPrereqError("Missing bridged NIC link",
                                   errors.ECODE_INVAL)
    master_netdev = opts.get("master_netdev") or (
        d.DEFAULT_OVS if nicparams["mode"] == d.NIC_MODE_OVS
        else d.DEFAULT_BRIDGE)
    hvparams = {}
    for hv_name in d.HYPER_TYPES:
        try:
            custom = d.check_params("hv", opts.get("hvparams", {}).get(
                hv_name, {}), hypervisor=hv_name)
        except errors.TypeEnforcementError as err:
            raise errors.OpPrereqError("%s: %s" % (hv_name, err),
                                       errors.ECODE_INVAL)
        hvparams[hv_name] = d.fill_dict(d.HVC_DEFAULTS[hv_name], custom)
    diskparams = {}
    for template in sorted(d.DISK_DT_DEFAULTS):
        try:
            custom = d.check_params("disk", opts.get("diskparams", {}).get(
                template, {}), template=template)
        except errors.TypeEnforcementError as err:
            raise errors.OpPrereqError("Invalid parameters for disk template"
                                       " %s: %s" % (template, err),
                                       errors.ECODE_INVAL)
        if template == d.DT_DRBD8 and opts.get("volume_group_name"):
            custom.setdefault("metavg", vg_name)
        diskparams[template] = d.fill_dict(d.DISK_DT_DEFAULTS[template],
                                           custom)
    unknown_dp = set(opts.get("diskparams", {})) - set(d.DISK_DT_DEFAULTS)
    if unknown_dp:
        raise errors.OpPrereqError("Provided option keys not supported: %s"
                                   % ", ".join(sorted(unknown_dp)),
                                   errors.ECODE_INVAL)
    ipolicy = d.fill_ipolicy(d.IPOLICY_DEFAULTS, opts.get("ipolicy", {}))
    ipolicy[d.IPOLICY_DTS] = sorted(set(ipolicy[d.IPOLICY_DTS]) & set(dts))
    hv_state = opts.get("hv_state") or dict(
        (hv, dict(d.HVST_DEFAULTS)) for hv in hvs)
    master_uuid = new_uuid()
    group_uuid = new_uuid()
    family = opts.get("primary_ip_family", 2)
    digest = opts.get("master_cert_digest")

    cluster = {
        "rsahostkeypub": opts.get("rsahostkeypub", ""),
        "dsahostkeypub": opts.get("dsahostkeypub", ""),
        "highest_used_port": d.FIRST_DRBD_PORT - 1,
        "tcpudp_port_pool": [],
        "mac_prefix": mac_prefix,
    }
    if vg_name is not None:
        cluster["volume_group_name"] = vg_name
    cluster["reserved_lvs"] = []
    if drbd_helper is not None:
        cluster["drbd_usermode_helper"] = drbd_helper
    cluster.update({
        "master_node": master_uuid,
        "master_ip": master_ip,
        "master_netdev": master_netdev,
        "master_netmask": opts.get("master_netmask",
                                   32 if family == 2 else 128),
        "use_external_mip_script": opts.get("use_external_mip_script", False),
        "cluster_name": cluster_name,
        "file_storage_dir": opts.get("file_storage_dir",
                                     d.DEFAULT_FILE_STORAGE_DIR),
        "shared_file_storage_dir": opts.get(
            "shared_file_storage_dir", d.DEFAULT_SHARED_FILE_STORAGE_DIR),
        "gluster_storage_dir": opts.get("gluster_storage_dir",
                                        d.DEFAULT_GLUSTER_STORAGE_DIR),
        "enabled_hypervisors": hvs,
        "hvparams": hvparams,
        "os_hvp": {},
        "beparams": {d.PP_DEFAULT: d.fill_dict(d.BEC_DEFAULTS, beparams)},
        "osparams": {},
        "osparams_private_cluster": {},
        "nicparams": {d.PP_DEFAULT: nicparams},
        "ndparams": d.fill_dict(d.NDC_DEFAULTS, ndparams),
        "diskparams": diskparams,
        "candidate_pool_size": opts.get("candidate_pool_size",
                                        d.MASTER_POOL_SIZE_DEFAULT),
        "modify_etc_hosts": opts.get("modify_etc_hosts", True),
        "modify_ssh_setup": opts.get("modify_ssh_setup", True),
        "maintain_node_health": opts.get("maintain_node_health", False),
        "uid_pool": list(opts.get("uid_pool", [])),
        "default_iallocator": opts.get("default_iallocator",
                                       d.DEFAULT_IALLOCATOR),
        "default_iallocator_params": dict(opts.get(
            "default_iallocator_params", {})),
        "hidden_os": [],
        "blacklisted_os": [],
        "primary_ip_family": family,
        "prealloc_wipe_disks": opts.get("prealloc_wipe_disks", False),
        "ipolicy": ipolicy,
        "hv_state_static": hv_state,
        "disk_state_static": dict(opts.get("disk_state", {})),
        "enabled_disk_templates": dts,
        "candidate_certs": {master_uuid: digest} if digest else {},
        "max_running_jobs": opts.get("max_running_jobs",
                                     d.JOB_QUEUE_MAX_RUNNING),
        "max_tracked_jobs": opts.get("max_tracked_jobs",
                                     d.JOB_QUEUE_MAX_TRACKED),
        "install_image": opts.get("install_image", ""),
        "instance_communication_network": "",
        "zeroing_image": opts.get("zeroing_image", ""),
        "compression_tools": list(opts.get("compression_tools",
                                           d.COMPRESSION_TOOLS)),
        "enabled_user_shutdown": opts.get("enabled_user_shutdown", False),
        "data_collectors": dict((name, dict(d.DATA_COLLECTOR_DEFAULTS))
                                for name in d.DATA_COLLECTOR_NAMES),
        "ssh_key_type": opts.get("ssh_key_type", d.SSH_KEY_TYPE),
        "ssh_key_bits": opts.get("ssh_key_bits", d.SSH_KEY_BITS),
        "ctime": now,
        "mtime": now,
        "uuid": new_uuid(),
        "serial_no": 1,
        "tags": list(opts.get("tags", [])),
    })
    node = {
        "name": master_name,
        "primary_ip": primary_ip,
        "secondary_ip": opts.get("secondary_ip") or primary_ip,
        "master_candidate": True,
        "offline": False,
        "drained": False,
        "group": group_uuid,
        "master_capable": True,
        "vm_capable": True,
        "ndparams": {},
        "powered": True,
        "ctime": now,
        "mtime": now,
        "uuid": master_uuid,
        "serial_no": 1,
        "tags": [],
    }
    group = {
        "name": "default",
        "members": [],
        "ndparams": {},
        "alloc_policy": "preferred",
        "ipolicy": {},
        "diskparams": {},
        "networks": {},
        "ctime": 0,
        "mtime": now,
        "uuid": group_uuid,
        "serial_no": 1,
        "tags": [],
    }
    cfg = {
        "version": VERSION,
        "cluster": cluster,
        "nodes": {master_uuid: node},
        "nodegroups": {group_uuid: group},
        "instances": {},
        "networks": {},
        "disks": {},
        "filters": {},
        "ctime": now,
        "mtime": now,
        "serial_no": 1,
    }
    check(cfg)
    return cfg


_NEW_CLUSTER_OPTIONS = frozenset((
    "primary_ip", "secondary_ip", "enabled_hypervisors",
    "enabled_disk_templates", "file_storage_dir", "shared_file_storage_dir",
    "gluster_storage_dir", "hvparams", "beparams", "nicparams", "ndparams",
    "diskparams", "ipolicy", "hv_state", "disk_state", "max_running_jobs",
    "max_tracked_jobs", "candidate_pool_size", "mac_prefix", "master_netdev",
    "master_netmask", "volume_group_name", "drbd_helper", "default_iallocator",
    "default_iallocator_params", "uid_pool", "modify_etc_hosts",
    "modify_ssh_setup", "maintain_node_health", "prealloc_wipe_disks",
    "use_external_mip_script", "primary_ip_family", "rsahostkeypub",
    "dsahostkeypub", "master_cert_digest", "compression_tools",
    "enabled_user_shutdown", "install_image", "zeroing_image", "ssh_key_type",
    "ssh_key_bits", "tags", "now"))


# ---------------------------------------------------------------- lookups

def match_name(key, names):
    """Ganeti's MatchNameComponent (case-insensitive): the one name KEY means.

    KEY matches a name equal to it, or a name that starts with KEY followed by
    a dot ("node1" matches "node1.example.com", "node1.ex" does not); None if
    nothing or more than one name matches.
    """
    if key in names:
        return key
    upper = key.upper()
    exact = []
    prefixed = []
    for name in names:
        up = name.upper()
        if up == upper:
            exact.append(name)
            prefixed.append(name)
        elif up.startswith(upper + "."):
            prefixed.append(name)
    if len(exact) == 1:
        return exact[0]
    if len(prefixed) == 1:
        return prefixed[0]
    return None


def _lookup_name(cfg, container, name, message, accept_uuid):
    objs = cfg.get(container, {})
    if accept_uuid and name in objs:
        return name
    by_name = {}
    for uuid, obj in objs.items():
        by_name[obj.get("name")] = uuid
    if isinstance(name, str):
        found = match_name(name, [n for n in by_name if isinstance(n, str)])
        if found is not None:
            return by_name[found]
    raise errors.OpPrereqError(message % name, errors.ECODE_NOENT)


def node_uuid(cfg, name):
    """UUID of the node NAME (full or unique short name)."""
    return _lookup_name(cfg, "nodes", name, "Node '%s' not known", False)


def instance_uuid(cfg, name):
    """UUID of the instance NAME (full or unique short name)."""
    return _lookup_name(cfg, "instances", name, "Instance '%s' not known",
                        False)


def group_uuid(cfg, name):
    """UUID of the node group NAME (or its UUID, as Ganeti accepts)."""
    return _lookup_name(cfg, "nodegroups", name, "Node group '%s' not found",
                        True)


def network_uuid(cfg, name):
    """UUID of the network NAME (or its UUID, as Ganeti accepts)."""
    return _lookup_name(cfg, "networks", name, "Network '%s' not found", True)
