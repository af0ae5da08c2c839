"""ssconf: the values every node reads, one per file, ssconf_<key>.

The files live in the data directory ($ROOT/var/lib/qganeti) beside
config.data, mode 0444, each replaced atomically (temporary file, fsync,
rename) and only when its content changes.  A file holds one value per line,
every line ended by a newline; an empty list is an empty file.  Keys and
their order are Ganeti 3.0's (WConfd's Ssconf.hs): node lists nice-sorted by
name, instance names nice-sorted, node groups nice-sorted by name,
hvparams_<hv> with the cluster-level parameters sorted by name.
"""

import os

from qganeti import fileio, paths
from qganeti.nicesort import nice_key

MAX_SIZE = 131072
SS_HVPARAMS_PREF = "hvparams_"
KEYS = (
    "cluster_name", "cluster_tags", "file_storage_dir",
    "shared_file_storage_dir", "gluster_storage_dir", "master_candidates",
    "master_candidates_ips", "master_candidates_certs", "master_ip",
    "master_netdev", "master_netmask", "master_node", "node_list",
    "node_primary_ips", "node_secondary_ips", "node_vm_capable",
    "offline_nodes", "online_nodes", "primary_ip_family", "instance_list",
    "release_version", "hypervisor_list", "maintain_node_health", "uid_pool",
    "nodegroups", "networks", "enabled_user_shutdown", "ssh_ports",
)


def _show(value):
    """An hvparam value as Ganeti prints it (True/False, 3 for 3.0, JSON else)."""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (int, float)):
        return repr(value)
    import json
    return json.dumps(value)


def _text(lines):
    return "".join("%s\n" % line for line in lines)


def compute(cfg):
    """{key: file content} of every ssconf file for config CFG."""
    from qganeti import defaults
    cluster = cfg["cluster"]
    nodes = sorted(cfg["nodes"].values(), key=lambda n: nice_key(n["name"]))
    master = cfg["nodes"].get(cluster["master_node"])
    mcs = [cfg["nodes"][uuid] for uuid in sorted(cfg["nodes"])
           if cfg["nodes"][uuid].get("master_candidate")
           or uuid == cluster["master_node"]]
    groups = cfg["nodegroups"]

    def ssh_port(node):
        group = groups.get(node.get("group"))
        if group is None:
            return ""
        return _show(defaults.fill_nd(cluster, group, node).get("ssh_port"))

    values = {
        "cluster_name": [cluster["cluster_name"]],
        "cluster_tags": sorted(cluster.get("tags", [])),
        "file_storage_dir": [cluster["file_storage_dir"]],
        "shared_file_storage_dir": [cluster["shared_file_storage_dir"]],
        "gluster_storage_dir": [cluster["gluster_storage_dir"]],
        "master_candidates": [n["name"] for n in mcs],
        "master_candidates_ips": [n["primary_ip"] for n in mcs],
        "master_candidates_certs": ["%s=%s" % (uuid, digest) for uuid, digest
                                    in sorted(cluster["candidate_certs"]
                                              .items())],
        "master_ip": [cluster["master_ip"]],
        "master_netdev": [cluster["master_netdev"]],
        "master_netmask": [str(cluster["master_netmask"])],
        "master_node": [master["name"] if master else "NO MASTER"],
        "node_list": [n["name"] for n in nodes],
        "node_primary_ips": ["%s %s" % (n["name"], n["primary_ip"])
                             for n in nodes],
        "node_secondary_ips": ["%s %s" % (n["name"], n["secondary_ip"])
                               for n in nodes],
        "node_vm_capable": ["%s=%s" % (n["name"], _show(n["vm_capable"]))
                            for n in nodes],
        "offline_nodes": [n["name"] for n in nodes if n["offline"]],
        "online_nodes": [n["name"] for n in nodes if not n["offline"]],
        "primary_ip_family": [str(cluster["primary_ip_family"])],
        "instance_list": sorted((i["name"] for i in cfg["instances"].values()),
                                key=nice_key),
        "release_version": [defaults.RELEASE_VERSION],
        "hypervisor_list": list(cluster["enabled_hypervisors"]),
        "maintain_node_health": [_show(cluster["maintain_node_health"])],
        "uid_pool": [str(lo) if lo == hi else "%s-%s" % (lo, hi)
                     for lo, hi in cluster["uid_pool"]],
        "nodegroups": ["%s %s" % (uuid, group["name"]) for uuid, group
                       in sorted(groups.items(),
                                 key=lambda item: nice_key(item[1]["name"]))],
        "networks": ["%s %s" % (uuid, cfg["networks"][uuid]["name"])
                     for uuid in sorted(cfg["networks"])],
        "enabled_user_shutdown": [_show(cluster["enabled_user_shutdown"])],
        "ssh_ports": ["%s=%s" % (n["name"], ssh_port(n)) for n in nodes],
    }
    out = dict((key, _text(lines)) for key, lines in values.items())
    for hv_name in sorted(defaults.HVC_DEFAULTS):
        params = cluster["hvparams"].get(hv_name, {})
        out[SS_HVPARAMS_PREF + hv_name] = _text(
            "%s=%s" % (key, _show(params[key])) for key in sorted(params))
    return out


def _read_raw(path):
    try:
        with open(path, "rb") as handle:
            return handle.read(MAX_SIZE).decode("utf-8", "replace")
    except FileNotFoundError:
        return None


def write(cfg, directory=None, old=None):
    """Bring the ssconf files in DIRECTORY up to date with CFG.

    Only files whose content changes are replaced.  OLD, the compute() of the
    config the files were last written from, saves reading them.  Returns the
    keys written.
    """
    return write_values(compute(cfg), directory, old)


def write_values(new, directory=None, old=None):
    """Write the ssconf files NEW ({key: content}) that differ; the keys written."""
    directory = directory or paths.data_dir()
    changed = []
    for key in sorted(new):
        if not key or not all(c.isalnum() or c in "_-" for c in key):
            raise ValueError("invalid ssconf key %r" % (key,))
        path = os.path.join(directory, "ssconf_" + key)
        current = old.get(key) if old is not None else _read_raw(path)
        if current == new[key]:
            continue
        tmp = os.path.join(directory, ".ssconf_%s.tmp.%d" % (key, os.getpid()))
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC,
                     0o444)
        try:
            os.write(fd, new[key].encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, path)
        changed.append(key)
    if changed:
        fileio.fsync_dir(directory)
    return changed


def read(key, default=None, directory=None):
    """The value of ssconf_KEY (lines joined by newlines), or DEFAULT if absent."""
    path = os.path.join(directory, "ssconf_" + key) if directory \
        else paths.ssconf_file(key)
    text = _read_raw(path)
    if text is None:
        return default
    return text.rstrip("\n")


def read_lines(key, directory=None):
    """The lines of ssconf_KEY; [] if the file is empty or absent."""
    text = read(key, "", directory)
    return text.split("\n") if text else []
