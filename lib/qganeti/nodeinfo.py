"""What a node has: memory, CPUs, storage (the node-info action's data).

Memory as Ganeti's fake hypervisor reports it: mtotal is the machine's,
mnode what the node's own processes use, and mfree what is free minus the
memory of the fake instances running here (their state files under
$ROOT/var/run/qganeti/fake-hypervisor/).
"""

import os

from qganeti import paths


def _meminfo():
    values = {}
    with open("/proc/meminfo") as handle:
        for line in handle:
            key, _, rest = line.partition(":")
            parts = rest.split()
            if parts:
                values[key] = int(parts[0]) // 1024
    return values


def fake_instances_memory():
    """MiB of memory held by running fake instances on this node."""
    directory = os.path.join(paths.run_dir(), "fake-hypervisor")
    total = 0
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return 0
    for name in names:
        try:
            with open(os.path.join(directory, name)) as handle:
                lines = handle.read().split("\n")
            total += int(lines[1])
        except (OSError, ValueError, IndexError):
            continue
    return total


def _cpus():
    sockets = set()
    count = 0
    with open("/proc/cpuinfo") as handle:
        for line in handle:
            if line.startswith("processor"):
                count += 1
            elif line.startswith("physical id"):
                sockets.add(line.split(":", 1)[1].strip())
    try:
        nodes = len([n for n in os.listdir("/sys/devices/system/node") if n.startswith("node")])
    except OSError:
        nodes = 1
    return count or os.cpu_count() or 1, max(nodes, 1), max(len(sockets), 1)


def _bootid():
    try:
        with open("/proc/sys/kernel/random/boot_id") as handle:
            return handle.read().strip()
    except OSError:
        return ""


def gather(storage_dir=None):
    mem = _meminfo()
    total = mem.get("MemTotal", 0)
    free = mem.get("MemFree", 0) + mem.get("Buffers", 0) + mem.get("Cached", 0)
    used_by_instances = fake_instances_memory()
    ctotal, cnodes, csockets = _cpus()
    info = {
        "mtotal": total,
        "mnode": max(total - free, 0),
        "mfree": max(free - used_by_instances, 0),
        "ctotal": ctotal,
        "cnodes": cnodes,
        "csockets": csockets,
        "cnos": ctotal,
        "bootid": _bootid(),
        "sptotal": 0,
        "spfree": 0,
    }
    if storage_dir:
        path = paths.under_root(storage_dir)
        while not os.path.isdir(path) and path not in ("/", ""):
            path = os.path.dirname(path)
        stat = os.statvfs(path)
        info["dtotal"] = stat.f_blocks * stat.f_frsize // (1024 * 1024)
        info["dfree"] = stat.f_bavail * stat.f_frsize // (1024 * 1024)
    return info
