"""What a node reports for `gnt-cluster verify` (Ganeti's backend.VerifyNode).

verify(what) takes the master's request (a dict; each key asks for one
check, Ganeti's NV_* names) and returns a dict with the same keys:

    "version": any           -> [protocol version, release]
    "nodesetup": any         -> problems of /sys and /proc (Ganeti's wording;
                                none on a virtual node: state root not /)
    "time": any              -> [seconds, microseconds]
    "hypervisor": [hv...]    -> {hv: None or what is wrong}
    "instancelist": [hv...]  -> names of the instances running here
    "hvinfo": hv             -> {"memory_total", "memory_free", "memory_dom0"} (MiB)
    "bridges": [name...]     -> the ones missing on this node
    "filelist": [path...]    -> {path: sha1 hex} of those that exist (paths
                                relative to the state root, as in config)
    "file-storage-path": dir -> only present, with the reason, when the file
                                storage directory ($ROOT/dir) is unusable
    "shared-file-storage-path": dir   the same for sharedfile (dir as given)
    "disk-files": {template: dir}     -> {template: [disk file paths]}:
                                the disk files below each storage directory
                                (logical paths, snapshots left out), for the
                                missing and orphan disk checks (qganeti's
                                addition: Ganeti checks LVM volumes only)
"""

import os
import re
import time

from qganeti import paths

PROTOCOL_VERSION = 3000000
RELEASE_VERSION = "3.0.2"
_DISK_FILE_RE = re.compile(r"\.(file|sharedfile)\.disk\d+$")
SNAPSHOT_DIR = "snapshots"


def node_setup():
    """Ganeti's checks of the kernel interfaces a real node needs.

    A virtual node (a state root other than /) does not own the machine's
    /sys and /proc, so it has nothing to report.
    """
    if paths.root() != "/":
        return []
    out = []
    if not os.path.isdir("/sys/block") or not os.path.isdir("/sys/class/net"):
        out.append("The sysfs filesytem doesn't seem to be mounted under /sys, missing"
                   " required directories /sys/block and /sys/class/net")
    if not os.path.isdir("/proc/sys") or not os.path.isfile("/proc/sysrq-trigger"):
        out.append("The procfs filesystem doesn't seem to be mounted under /proc, missing"
                   " required directory /proc/sys and the file /proc/sysrq-trigger")
    return out


def fake_state_dir():
    return os.path.join(paths.run_dir(), "fake-hypervisor")


def hypervisor_problem(hv):
    """None if HV can run instances here, else why not."""
    if hv == "kvm":
        from qganeti import hv_kvm
        return hv_kvm.verify()
    if hv != "fake":
        return "hypervisor %s is not available on qganeti nodes" % hv
    directory = fake_state_dir()
    if os.path.exists(directory):
        if not os.path.isdir(directory) or not os.access(directory, os.W_OK | os.X_OK):
            return "The required directory '%s' is not a writable directory" % directory
        return None
    parent = os.path.dirname(directory)
    if not os.access(parent, os.W_OK | os.X_OK):
        return "The required directory '%s' does not exist and cannot be created" % directory
    return None


def running_instances(hypervisors):
    names = []
    if "kvm" in hypervisors:
        from qganeti import hv_kvm
        names.extend(hv_kvm.list_instances())
    if "fake" not in hypervisors:
        return sorted(names)
    try:
        entries = os.listdir(fake_state_dir())
    except (FileNotFoundError, NotADirectoryError):
        return sorted(names)
    return sorted(names + [n for n in entries if not n.startswith(".")
                           and os.path.isfile(os.path.join(fake_state_dir(), n))])


def hv_info():
    from qganeti import nodeinfo
    info = nodeinfo.gather(None)
    return {"memory_total": info.get("mtotal"), "memory_free": info.get("mfree"),
            "memory_dom0": info.get("mnode")}


def missing_bridges(bridges):
    return sorted(b for b in bridges if not os.path.isdir("/sys/class/net/%s/bridge" % b))


def checksums(files):
    import hashlib
    out = {}
    for name in files:
        try:
            with open(paths.under_root(name), "rb") as handle:
                out[name] = hashlib.sha1(handle.read()).hexdigest()
        except OSError:
            continue
    return out


def storage_path_problem(local):
    """Ganeti's check of a file storage directory: exists, is one, is writable."""
    if not os.path.isdir(local):
        return "Path '%s' is not existing or not a directory." % local
    if not os.access(local, os.W_OK | os.X_OK):
        return "Path '%s' is not writable" % local
    return None


def disk_files(directory, local):
    """Disk files below LOCAL, as logical paths below DIRECTORY."""
    out = []
    for top, dirs, files in os.walk(local):
        dirs[:] = sorted(d for d in dirs if d != SNAPSHOT_DIR and not d.startswith("."))
        for name in sorted(files):
            if _DISK_FILE_RE.search(name):
                rel = os.path.relpath(os.path.join(top, name), local)
                out.append(os.path.join(directory, rel))
    return out


def _local(template, directory):
    return paths.under_root(directory) if template == "file" else directory


def verify(what):
    result = {}
    if "version" in what:
        result["version"] = [PROTOCOL_VERSION, RELEASE_VERSION]
    if "nodesetup" in what:
        result["nodesetup"] = node_setup()
    if "time" in what:
        now = time.time()
        result["time"] = [int(now), int((now - int(now)) * 1000000)]
    if "hypervisor" in what:
        result["hypervisor"] = dict((hv, hypervisor_problem(hv)) for hv in what["hypervisor"])
    if "instancelist" in what:
        result["instancelist"] = running_instances(what["instancelist"])
    if "hvinfo" in what:
        result["hvinfo"] = hv_info()
    if "bridges" in what:
        result["bridges"] = missing_bridges(what["bridges"])
    if "filelist" in what:
        result["filelist"] = checksums(what["filelist"])
    for key, template in (("file-storage-path", "file"),
                          ("shared-file-storage-path", "sharedfile")):
        if what.get(key):
            problem = storage_path_problem(_local(template, what[key]))
            if problem:
                result[key] = problem
    if "disk-files" in what:
        result["disk-files"] = dict(
            (template, disk_files(directory, _local(template, directory)))
            for template, directory in what["disk-files"].items())
    return result
