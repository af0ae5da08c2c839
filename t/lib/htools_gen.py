#!/usr/bin/env python3
"""Seeded generator of unbalanced clusters in the htools text format.

    htools_gen.py NODES INSTANCES [--template drbd|plain|ext|mixed] [--seed N]
                  [--groups G] [--tags] [--offline K] [--dynu FILE]

Nodes come in a few sizes; instances favour the first third of the nodes
(so the cluster starts unbalanced) and the nodes' free memory and disk
are consistent with what their instances use.  The same arguments always
give the same file.
"""
import argparse
import random
import sys

NODE_SIZES = [(65536, 1024, 4194304, 16), (131072, 2048, 8388608, 32),
              (262144, 4096, 16777216, 64)]
INST_MEM = [512, 1024, 2048, 4096, 8192]
INST_DSK = [10240, 20480, 51200, 102400]
STATUSES = ["running"] * 12 + ["ADMIN_down", "ERROR_up", "USER_down", "ADMIN_offline"]


def generate(nodes, instances, template="drbd", seed=1, groups=1, tags=False, offline=0,
             dynu=None):
    rng = random.Random(seed)
    lines_g = ["group-%02d|fake-uuid-%02d|preferred||" % (g + 1, g + 1)
               for g in range(groups)]
    node = []
    for n in range(nodes):
        tmem, nmem, tdsk, tcpu = NODE_SIZES[rng.randrange(len(NODE_SIZES))]
        node.append({"name": "node-%04d.example.com" % n, "tmem": tmem, "nmem": nmem,
                     "tdsk": tdsk, "tcpu": tcpu, "group": n % groups, "imem": 0,
                     "idsk": 0, "tags": []})
        if tags:
            node[-1]["tags"] = ["rack:r%d" % (n % 4)]
    hot = max(2, nodes // 3)
    insts = []
    for i in range(instances):
        dt = template
        if template == "mixed":
            dt = rng.choice(["drbd", "drbd", "drbd", "plain", "ext"])
        # two thirds of the instances crowd onto the first third of the nodes
        span = hot if rng.random() < 0.67 else nodes
        for _ in range(100):
            p = rng.randrange(span)
            mem, dsk = rng.choice(INST_MEM), rng.choice(INST_DSK)
            status = rng.choice(STATUSES)
            same_group = [k for k in range(nodes)
                          if k != p and node[k]["group"] == node[p]["group"]]
            s = rng.choice(same_group) if dt == "drbd" and same_group else None
            uses_mem = status in ("running", "ERROR_up")
            # leave room: a quarter of the memory, a fifth of the disk
            fits = node[p]["tmem"] - node[p]["nmem"] - node[p]["imem"] - mem > \
                node[p]["tmem"] // 4
            local = dt in ("drbd", "plain")
            fits = fits and (not local or node[p]["tdsk"] - node[p]["idsk"] - dsk
                             > node[p]["tdsk"] // 5)
            if s is not None:
                fits = fits and node[s]["tdsk"] - node[s]["idsk"] - dsk > node[s]["tdsk"] // 5
            if dt == "drbd" and s is None:
                fits = False
            if fits:
                break
        else:
            continue
        if uses_mem:
            node[p]["imem"] += mem
        if local:
            node[p]["idsk"] += dsk
            if s is not None:
                node[s]["idsk"] += dsk
        itags = []
        if tags and rng.random() < 0.2:
            itags = ["service:%s" % rng.choice(["dns", "web", "db"])]
        insts.append("inst-%05d.example.com|%d|%d|%d|%s|%s|%s|%s|%s|%s|1" % (
            i, mem, dsk, rng.choice([1, 1, 2, 4]), status,
            "Y" if rng.random() < 0.95 else "N", node[p]["name"],
            node[s]["name"] if s is not None else "", dt, ",".join(itags)))
    lines_n = []
    for n, nd in enumerate(node):
        flag = "Y" if n >= nodes - offline else ("M" if n == 0 else "N")
        lines_n.append("%s|%d|%d|%d|%d|%d|%d|%s|fake-uuid-%02d|1|%s" % (
            nd["name"], nd["tmem"], nd["nmem"], nd["tmem"] - nd["nmem"] - nd["imem"],
            nd["tdsk"], nd["tdsk"] - nd["idsk"], nd["tcpu"], flag, nd["group"] + 1,
            ",".join(nd["tags"])))
    ctags = ["htools:iextags:service", "htools:nlocation:rack"] if tags else []
    if dynu:
        with open(dynu, "w") as handle:
            for line in insts:
                name = line.split("|")[0]
                handle.write("%s %.3f %.3f %.3f %.3f\n" % (
                    name, rng.random() * 4, rng.random() * 2, rng.random() * 3,
                    rng.random()))
    return "\n".join(["\n".join(lines_g) + "\n", "\n".join(lines_n) + "\n",
                      "\n".join(insts) + "\n", "".join(t + "\n" for t in ctags)])


def squeeze_memory(text, seed, free=(1024, 4096, 8192, 16384, 32768)):
    """Leave the nodes of a generated cluster little free memory (one of
    free, MiB; the node takes the rest), so that failovers and
    re-creations run out of it."""
    rng = random.Random(seed)
    sections = text.split("\n\n")
    lines = []
    for line in sections[1].splitlines():
        f = line.split("|")
        fmem = int(f[3])
        delta = max(0, fmem - rng.choice(free))
        f[2], f[3] = str(int(f[2]) + delta), str(fmem - delta)
        lines.append("|".join(f))
    sections[1] = "\n".join(lines)
    return "\n\n".join(sections)


def squeeze_cluster(nodes, load, seed=1, standby=0, drbd=0):
    """A cluster for hsqueeze: equal nodes whose externally mirrored
    instances (1-4 GiB, 1-2 vcpus, spread at random) fill `load` (0-1) of
    their memory; the last `standby` nodes are powered off, every other
    one tagged as a standby node; `drbd` drbd instances pin nodes."""
    rng = random.Random(seed)
    online = nodes - standby
    tmem, nmem, tdsk, tcpu = 65536, 1024, 4194304, 16
    imem = [0] * nodes
    idsk = [0] * nodes
    insts = []
    budget = int(load * (tmem - nmem) * online)
    k = 0
    misses = 0
    while budget > 0 and misses < 1000:
        mem = rng.choice([1024, 2048, 3072, 4096])
        p = rng.randrange(online)
        if imem[p] + mem > (tmem - nmem) * 0.9:
            misses += 1
            continue
        imem[p] += mem
        budget -= mem
        insts.append("inst-%05d.example.com|%d|10240|%d|running|Y|node-%04d.example.com||ext||1"
                     % (k, mem, rng.choice([1, 2]), p))
        k += 1
    for _ in range(drbd):
        p = rng.randrange(online)
        s = (p + 1) % online
        imem[p] += 1024
        idsk[p] += 10240
        idsk[s] += 10240
        insts.append("inst-%05d.example.com|1024|10240|1|running|Y|node-%04d.example.com|"
                     "node-%04d.example.com|drbd||1" % (k, p, s))
        k += 1
    lines = []
    for n in range(nodes):
        off = n >= online
        tags = "htools:standby:manual" if off and (n - online) % 2 == 0 else ""
        lines.append("node-%04d.example.com|%d|%d|%d|%d|%d|%d|%s|fake-uuid-01|1|%s" % (
            n, tmem, nmem, tmem - nmem - imem[n], tdsk, tdsk - idsk[n], tcpu,
            "Y" if off else ("M" if n == 0 else "N"), tags))
    return "\n".join(["group-01|fake-uuid-01|preferred||\n", "\n".join(lines) + "\n",
                      "\n".join(insts) + "\n", ""])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("nodes", type=int)
    parser.add_argument("instances", type=int)
    parser.add_argument("--template", default="drbd")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--groups", type=int, default=1)
    parser.add_argument("--tags", action="store_true")
    parser.add_argument("--offline", type=int, default=0)
    parser.add_argument("--dynu")
    args = parser.parse_args()
    sys.stdout.write(generate(args.nodes, args.instances, args.template, args.seed,
                              args.groups, args.tags, args.offline, args.dynu))


if __name__ == "__main__":
    main()


def ispec_json(spec):
    keys = ("memory-size", "cpu-count", "disk-size", "disk-count", "nic-count", "spindle-use")
    return dict(zip(keys, spec))


def to_request(text, request, hypervisor="xen-pvm"):
    """An iallocator request document (protocol version 2) for the cluster
    in `text` (htools text format) and the given request dict."""
    import json
    import os
    import sys as _sys
    _sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                     "lib"))
    from qganeti.htools import text as textmod
    from qganeti.htools.consts import DISK_TEMPLATES, STATUSES, ALLOC_POLICIES
    cl = textmod.parse(text)

    def ipolicy(pol):
        return {"minmax": [{"min": ispec_json(lo), "max": ispec_json(hi)}
                           for lo, hi in pol.minmax],
                "std": ispec_json(pol.std), "vcpu-ratio": pol.vcpu_ratio,
                "spindle-ratio": pol.spindle_ratio,
                "disk-templates": [DISK_TEMPLATES[t] for t in pol.templates]}
    groups = {g.uuid: {"name": g.name, "alloc_policy": ALLOC_POLICIES[g.policy],
                       "networks": g.networks, "ipolicy": ipolicy(g.ipolicy), "tags": g.tags}
              for g in cl.groups}
    nodes = {}
    for n in cl.noderecs:
        nodes[n.name] = {
            "offline": bool(n.offline), "drained": False,
            "group": cl.groups[n.group].uuid, "vm_capable": True,
            "ndparams": {"spindle_count": n.t_spn, "exclusive_storage": n.excl},
            "tags": n.tags, "total_memory": n.t_mem, "reserved_memory": n.n_mem,
            "free_memory": n.f_mem, "total_disk": n.t_dsk, "free_disk": n.f_dsk,
            "total_cpus": n.t_cpu, "reserved_cpus": n.n_cpu, "total_spindles": n.t_spn,
            "free_spindles": n.f_spn}
    insts = {}
    admin = {"running": "up", "ERROR_up": "up", "ADMIN_offline": "offline"}
    for r in cl.instrecs:
        nodes_of = [cl.noderecs[r.pnode].name]
        if r.snode >= 0:
            nodes_of.append(cl.noderecs[r.snode].name)
        insts[r.name] = {
            "disk_space_total": r.dsk, "disks": [{"size": size, "mode": "rw"}
                                                 for size, _ in r.disks],
            "memory": r.mem, "vcpus": r.vcpus, "tags": r.tags,
            "disk_template": DISK_TEMPLATES[r.dt], "spindle_use": r.spindle_use,
            "nics": [{"mac": "aa:00:00:00:00:01", "ip": None, "mode": "bridged",
                      "link": "br0", "bridge": "br0"}],
            "admin_state": admin.get(STATUSES[r.runst], "down"), "nodes": nodes_of}
    doc = {"cluster_tags": cl.ctags, "nodegroups": groups, "nodes": nodes,
           "instances": insts, "enabled_hypervisors": [hypervisor], "version": 2,
           "request": request}
    return json.dumps(doc, indent=1)


def new_instance_request(name, mem, disk, vcpus, template, nodes, **extra):
    req = {"type": "allocate", "name": name, "memory": mem, "vcpus": vcpus,
           "disk_template": template, "disks": [{"size": disk, "mode": "rw"}],
           "disk_space_total": disk, "nics": [{"mac": "aa:00:00:00:00:99", "ip": None}],
           "tags": [], "spindle_use": 1, "required_nodes": nodes, "os": "debian"}
    req.update(extra)
    return req
