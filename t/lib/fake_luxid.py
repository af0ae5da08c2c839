#!/usr/bin/env python3
"""A stand-in LUXI master for htools tests: it answers the queries of
the htools' LUXI reader from a text-backend file and records the jobs
it is sent instead of running them.

    fake_luxid.py SOCKET DATAFILE JOBLOG [--fail N] [--delay S]

Each submitted job is appended to JOBLOG as one JSON line; job N (1 is
the first) ends in "error" with --fail N, all others (also jobs it never
saw, as if archived) in "success".
With --delay the jobs stay "running" that many seconds.  Both Ganeti's
htools (Haskell) and ours can talk to it, so the jobs they submit for
the same plan can be compared.
"""
import json
import os
import socket
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "lib"))

from qganeti.htools import consts as C  # noqa: E402
from qganeti.htools import text  # noqa: E402


NODE_FIELDS = ["name", "mtotal", "mnode", "mfree", "dtotal", "dfree", "ctotal", "cnos",
               "offline", "drained", "vm_capable", "ndp/spindle_count", "group.uuid", "tags",
               "ndp/exclusive_storage", "sptotal", "spfree", "ndp/cpu_speed"]
INSTANCE_FIELDS = ["name", "disk_usage", "be/memory", "be/vcpus", "status", "pnode", "snodes",
                   "tags", "oper_ram", "be/auto_balance", "disk_template", "be/spindle_use",
                   "disk.sizes", "disk.spindles", "forthcoming"]
GROUP_FIELDS = ["uuid", "name", "alloc_policy", "ipolicy", "tags", "networks"]


def ispec(spec):
    keys = ("memory-size", "cpu-count", "disk-size", "disk-count", "nic-count",
            "spindle-use")
    return dict(zip(keys, spec))


def ipolicy(pol):
    return {"minmax": [{"min": ispec(lo), "max": ispec(hi)} for lo, hi in pol.minmax],
            "std": ispec(pol.std),
            "disk-templates": [C.DISK_TEMPLATES[t] for t in pol.templates],
            "vcpu-ratio": pol.vcpu_ratio, "spindle-ratio": pol.spindle_ratio}


class Data:
    def __init__(self, path):
        cl = text.load(path)
        self.groups = [dict(zip(GROUP_FIELDS, [g.uuid, g.name, C.ALLOC_POLICIES[g.policy],
                                               ipolicy(g.ipolicy), g.tags, g.networks]))
                       for g in cl.groups]
        self.nodes = []
        master = None
        for n in cl.noderecs:
            if n.master:
                master = n.name
            self.nodes.append(dict(zip(NODE_FIELDS, [n.name, n.t_mem, n.n_mem, n.f_mem, n.t_dsk, n.f_dsk, n.t_cpu,
                               n.n_cpu, n.offline, False, True, n.t_spn,
                               cl.groups[n.group].uuid, n.tags, n.excl, n.t_spn, n.f_spn,
                               n.cpu_speed])))
        self.instances = []
        for r in cl.instrecs:
            snodes = [cl.noderecs[r.snode].name] if r.snode >= 0 else []
            self.instances.append(dict(zip(INSTANCE_FIELDS, [r.name, r.dsk, r.mem, r.vcpus, C.STATUSES[r.runst],
                                   cl.noderecs[r.pnode].name, snodes, r.tags, r.mem,
                                   r.auto_balance, C.DISK_TEMPLATES[r.dt], r.spindle_use,
                                   [size for size, _ in r.disks] or [r.dsk],
                                   [sp for _, sp in r.disks] or [None], r.forthcoming])))
        if master is None and cl.noderecs:
            master = cl.noderecs[0].name
        self.info = {"tags": cl.ctags, "ipolicy": ipolicy(cl.cpol), "master": master,
                     "name": "cluster.example.com", "default_hypervisor": os.environ.get("FAKE_HYPERVISOR", "xen-pvm"),
                     "enabled_hypervisors": ["xen-pvm"]}


def rows(items, fields):
    return {"fields": [{"name": f, "title": f, "kind": "other", "doc": f} for f in fields],
            "data": [[[0, item[f]] if f in item else [2, None] for f in fields]
                     for item in items]}


class Server:
    def __init__(self, data, joblog, fail, delay):
        self.data = data
        self.joblog = joblog
        self.fail = fail
        self.delay = delay
        self.jobs = {}
        self.lock = threading.Lock()

    def answer(self, method, args):
        d = self.data
        if method == "Query":
            what, fields = args[0], args[1]
            table = {"node": d.nodes, "instance": d.instances, "group": d.groups}[what]
            return rows(table, fields)
        if method == "QueryClusterInfo":
            return d.info
        if method == "SubmitManyJobs":
            out = []
            with self.lock:
                for ops in args[0]:
                    jid = len(self.jobs) + 1
                    self.jobs[jid] = time.time()
                    with open(self.joblog, "a") as handle:
                        handle.write(json.dumps(ops, sort_keys=True) + "\n")
                    out.append([True, jid])
            return out
        if method == "QueryJobs":
            out = []
            for jid in args[0]:
                jid = int(jid)
                if jid not in self.jobs:    # older jobs: archived, successful
                    out.append(["error" if jid == self.fail else "success"])
                elif time.time() - self.jobs[jid] < self.delay:
                    out.append(["running"])
                else:
                    out.append(["error" if jid == self.fail else "success"])
            return out
        raise KeyError(method)

    def serve(self, conn):
        buf = b""
        with conn:
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                buf += chunk
                while b"\x03" in buf:
                    msg, buf = buf.split(b"\x03", 1)
                    req = json.loads(msg)
                    try:
                        reply = {"success": True,
                                 "result": self.answer(req["method"], req["args"])}
                    except Exception as exc:  # report any failure to the client
                        reply = {"success": False,
                                 "result": ["OpPrereqError", [str(exc), "wrong_input"]]}
                    conn.sendall(json.dumps(reply).encode() + b"\x03")


def main(argv):
    path, datafile, joblog = argv[:3]
    fail = int(argv[argv.index("--fail") + 1]) if "--fail" in argv else 0
    delay = float(argv[argv.index("--delay") + 1]) if "--delay" in argv else 0.0
    server = Server(Data(datafile), joblog, fail, delay)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    sock.listen(8)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    while True:
        conn, _ = sock.accept()
        threading.Thread(target=server.serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main(sys.argv[1:])
