"""OP_CLUSTER_VERIFY_GROUP: verify one node group (Ganeti's LUClusterVerifyGroup).

The nodes answer node/node-verify (lib/qganeti/nodeverify.py); the checks
and their messages are Ganeti's: node status (version, node setup, time,
hypervisors, file storage paths, bridges, instances running where they
should not), instance status (policy, admin state against what runs,
missing disks, layout), orphan volumes, N+1 memory, notes, and the
cluster-verify post hooks ("* Hooks Results"). Disks are file based here,
so "volumes" are disk files: missing ones are EINSTANCEMISSINGDISK, unknown
ones below the storage directories ENODEORPHANLV, as Ganeti does for LVs.
The result is True when no error (warnings do not count) was found.
"""

import re
import time

from qganeti import errors
from qganeti.lu.group import group_members, instance_nodes, lookup_group

ERROR, WARNING = "ERROR", "WARNING"
NODE_MAX_CLOCK_SKEW = 150
PROTOCOL_VERSION = 3000000
RELEASE_VERSION = "3.0.2"
DTS_MIRRORED = ("drbd", "diskless", "sharedfile", "blockdev", "rbd", "ext", "gluster")
FILE_TEMPLATES = ("file", "sharedfile")
_HOOKS_INDENT_RE = re.compile("^", re.M)

# Ganeti's verify error codes: (object type, code)
ECLUSTERCFG = ("cluster", "ECLUSTERCFG")
ECLUSTERFILECHECK = ("cluster", "ECLUSTERFILECHECK")
EGROUPDIFFERENTPVSIZE = ("group", "EGROUPDIFFERENTPVSIZE")
EINSTANCEBADNODE = ("instance", "EINSTANCEBADNODE")
EINSTANCEDOWN = ("instance", "EINSTANCEDOWN")
EINSTANCELAYOUT = ("instance", "EINSTANCELAYOUT")
EINSTANCEMISSINGDISK = ("instance", "EINSTANCEMISSINGDISK")
EINSTANCEPOLICY = ("instance", "EINSTANCEPOLICY")
EINSTANCESPLITGROUPS = ("instance", "EINSTANCESPLITGROUPS")
EINSTANCEWRONGNODE = ("instance", "EINSTANCEWRONGNODE")
ENODEFILESTORAGEPATHUNUSABLE = ("node", "ENODEFILESTORAGEPATHUNUSABLE")
ENODESHAREDFILESTORAGEPATHUNUSABLE = ("node", "ENODESHAREDFILESTORAGEPATHUNUSABLE")
ENODEHOOKS = ("node", "ENODEHOOKS")
ENODEHV = ("node", "ENODEHV")
ENODEN1 = ("node", "ENODEN1")
ENODENET = ("node", "ENODENET")
ENODEORPHANINSTANCE = ("node", "ENODEORPHANINSTANCE")
ENODEORPHANLV = ("node", "ENODEORPHANLV")
ENODERPC = ("node", "ENODERPC")
ENODESETUP = ("node", "ENODESETUP")
ENODETIME = ("node", "ENODETIME")
ENODEVERSION = ("node", "ENODEVERSION")
EEXTAGS = ("node", "EEXTAGS")


class _Reporter:
    """Ganeti's _VerifyErrors: ERROR/WARNING lines, error codes, ignore_errors."""

    def __init__(self, op, ctx):
        self.op = op
        self.ctx = ctx
        self.bad = False

    def error(self, ecode, item, message, *args, code=ERROR):
        if args:
            message = message % args
        self.error_list(ecode, item, [message], code)

    def error_if(self, cond, ecode, item, message, *args, code=ERROR):
        if cond or self.op["debug_simulate_errors"]:
            self.error(ecode, item, message, *args, code=code)

    def error_list(self, ecode, item, messages, code=ERROR):
        if not messages:
            return
        object_type, error_code = ecode
        if error_code in self.op["ignore_errors"]:
            code = WARNING
        for msg in messages:
            if self.op["error_codes"]:
                line = "  - %s:%s:%s:%s:%s" % (code, error_code, object_type, item or "", msg)
            else:
                line = "  - %s: %s %s: %s" % (code, object_type, item or "", msg)
            self.ctx.feedback(line)
        if code == ERROR:
            self.bad = True


class _NodeImage:
    def __init__(self, uuid, offline=False, vm_capable=True):
        self.uuid = uuid
        self.offline = offline
        self.vm_capable = vm_capable
        self.instances = []     # running (names)
        self.pinst = []         # configured primary (instance uuids)
        self.sinst = []
        self.sbp = {}           # primary node uuid -> [instance uuids]
        self.mfree = 0
        self.rpc_fail = False
        self.hyp_fail = False
        self.disk_fail = False
        self.disk_files = set()
        self.ghost = False


def _filled_be(cfg, inst):
    from qganeti import defaults
    return defaults.fill_be(cfg["cluster"], inst)


def _inst_disks(cfg, inst):
    return [cfg["disks"].get(d) or {} for d in inst.get("disks") or ()]


def _secondaries(cfg, inst):
    return [n for n in instance_nodes(cfg, inst) if n != inst.get("primary_node")]


def _ipolicy_violations(ipolicy, cfg, inst):
    """Ganeti's ComputeIPolicyInstanceViolation, for an instance's specs."""
    be = _filled_be(cfg, inst)
    disks = _inst_disks(cfg, inst)
    templates = sorted(set(d.get("dev_type") for d in disks)) or ["diskless"]
    tests = [("memory-size", "", be.get("maxmem")), ("cpu-count", "", be.get("vcpus")),
             ("nic-count", "", len(inst.get("nics") or [])),
             ("spindle-use", "", be.get("spindle_use"))]
    tests += [("disk-size", str(idx), d.get("size")) for idx, d in enumerate(disks)]
    if "diskless" not in templates:
        tests.append(("disk-count", "", len(disks)))
    allowed = ipolicy.get("disk-templates", [])
    out = ["Disk template %s is not allowed (allowed templates: %s)"
           % (t, ", ".join(allowed)) for t in templates if t not in allowed]
    best = None
    for minmax in ipolicy.get("minmax", []):
        errs = []
        for name, qualifier, value in tests:
            if value is None:
                continue
            high = minmax["max"].get(name, value)
            low = minmax["min"].get(name, value)
            if value > high or low > value:
                fqn = "%s/%s" % (name, qualifier) if qualifier else name
                errs.append("%s value %s is not in range [%s, %s]" % (fqn, value, low, high))
        if best is None or len(errs) < len(best):
            best = errs
    return out + (best or [])


class VerifyGroup:
    @staticmethod
    def expand(op, ctx):
        cfg = ctx.config()
        ctx.group_uuid = lookup_group(cfg, op["group_name"])
        members = set(group_members(cfg, ctx.group_uuid))
        insts = [i for i in cfg["instances"].values() if i.get("primary_node") in members]
        nodes = set(members)
        for inst in insts:
            if any(d.get("dev_type") == "drbd" for d in _inst_disks(cfg, inst)):
                nodes.update(_secondaries(cfg, inst))
        return ([("instance/" + i["name"], "shared") for i in insts]
                + [("nodegroup/" + ctx.group_uuid, "shared")]
                + [("node/" + u, "shared") for u in nodes])

    @staticmethod
    def check(op, ctx):
        cfg = ctx.config(reload=True)
        if ctx.group_uuid not in cfg["nodegroups"]:
            raise errors.OpPrereqError("Node group '%s' not found" % op["group_name"],
                                       errors.ECODE_NOENT)
        ctx.cfg = cfg

    @staticmethod
    def run(op, ctx):
        return _Verifier(op, ctx, ctx.cfg).run()


class _Verifier:
    def __init__(self, op, ctx, cfg):
        self.op = op
        self.ctx = ctx
        self.cfg = cfg
        self.report = _Reporter(op, ctx)
        self.cluster = cfg["cluster"]
        self.group_uuid = ctx.group_uuid
        self.group = cfg["nodegroups"][self.group_uuid]
        self.my_nodes = dict((u, cfg["nodes"][u]) for u in group_members(cfg, self.group_uuid))
        self.my_insts = dict((u, i) for u, i in cfg["instances"].items()
                             if i.get("primary_node") in self.my_nodes)

    def name(self, node_uuid):
        return self.cfg["nodes"].get(node_uuid, {}).get("name", node_uuid)

    def feedback(self, text):
        self.ctx.feedback(text)

    # -- gathering
    def _node_request(self):
        cluster = self.cluster
        enabled = cluster.get("enabled_disk_templates", [])
        hvs = cluster.get("enabled_hypervisors", [])
        what = {"version": None, "nodesetup": None, "time": None, "hypervisor": hvs,
                "instancelist": hvs, "hvinfo": hvs[0] if hvs else None,
                "filelist": ["/var/lib/qganeti/ssconf_%s" % key for key in
                             ("cluster_name", "master_node", "node_list")]}
        if len(self.cfg["nodes"]) > 1:
            # what node add and the replication give every node
            what["filelist"] += ["/var/lib/qganeti/ssh/known_hosts",
                                 "/var/lib/qganeti/server.pem"]
        dirs = {}
        if "file" in enabled:
            what["file-storage-path"] = dirs["file"] = cluster.get("file_storage_dir")
        if "sharedfile" in enabled:
            what["shared-file-storage-path"] = dirs["sharedfile"] = \
                cluster.get("shared_file_storage_dir")
        if dirs:
            what["disk-files"] = dirs
        if any(hv != "fake" for hv in hvs):
            bridges = set()
            from qganeti import defaults
            default = cluster.get("nicparams", {}).get("default", {})
            if default.get("mode") == "bridged":
                bridges.add(default.get("link"))
            for inst in self.my_insts.values():
                for nic in inst.get("nics") or []:
                    full = defaults.simple_fill_nic(cluster, nic.get("nicparams") or {})
                    if full.get("mode") == "bridged":
                        bridges.add(full.get("link"))
            if bridges:
                what["bridges"] = sorted(b for b in bridges if b)
        return what

    def run(self):
        op, cfg = self.op, self.cfg
        self.feedback("* Verifying group '%s'" % self.group["name"])
        if not self.my_nodes:
            self.feedback("* Empty node group, skipping verification")
            return True
        verbose = op["verbose"]
        master = self.cluster["master_node"]
        n_offline = n_drained = i_offline = 0
        i_non_redundant, i_non_a_balanced = [], []
        self.feedback("* Gathering data (%d nodes)" % len(self.my_nodes))
        what = self.what = self._node_request()
        images = dict((u, _NodeImage(u, n.get("offline", False), n.get("vm_capable", True)))
                      for u, n in self.my_nodes.items())
        for uuid, inst in self.my_insts.items():
            if inst.get("admin_state") == "offline":
                i_offline += 1
            for node in instance_nodes(cfg, inst):
                if node not in images:
                    images[node] = _NodeImage(node)
                    images[node].ghost = node not in cfg["nodes"]
            images[inst["primary_node"]].pinst.append(uuid)
            for snode in _secondaries(cfg, inst):
                images[snode].sinst.append(uuid)
                images[snode].sbp.setdefault(inst["primary_node"], []).append(uuid)

        self.feedback("* Gathering information about nodes (%d nodes)" % len(self.my_nodes))
        from qganeti import nodecall
        online = [u for u, n in self.my_nodes.items() if not n.get("offline")]
        start = time.time()
        answers = nodecall.run_many(cfg, online, "node-verify", input=what, timeout=120)
        end = time.time()
        self.feedback("* Gathering disk information (%d nodes)" % len(self.my_nodes))
        self.feedback("* Verifying configuration file consistency")
        self._verify_files(answers, what["filelist"])

        self.feedback("* Verifying node status")
        for uuid in sorted(self.my_nodes, key=self.name):
            node = self.my_nodes[uuid]
            img = images[uuid]
            if node.get("offline"):
                if verbose:
                    self.feedback("* Skipping offline node %s" % node["name"])
                n_offline += 1
                continue
            if uuid == master:
                ntype = "master"
            elif node.get("master_candidate"):
                ntype = "master candidate"
            elif node.get("drained"):
                ntype = "drained"
                n_drained += 1
            else:
                ntype = "regular"
            if verbose:
                self.feedback("* Verifying node %s (%s)" % (node["name"], ntype))
            answer = answers.get(uuid)
            if isinstance(answer, Exception):
                self.report.error(ENODERPC, node["name"], "while contacting node: %s",
                                  answer.args[0] if answer.args else answer)
                img.rpc_fail = True
                continue
            self._verify_node(node, img, answer, start, end)
        self.feedback("* Verifying instance status")
        for uuid in sorted(self.my_insts, key=lambda u: self.my_insts[u]["name"]):
            inst = self.my_insts[uuid]
            if verbose:
                self.feedback("* Verifying instance %s" % inst["name"])
            self._verify_instance(inst, images)
            disks = _inst_disks(cfg, inst)
            if not all(d.get("dev_type") in DTS_MIRRORED for d in disks):
                i_non_redundant.append(inst)
            if not _filled_be(cfg, inst).get("auto_balance", True):
                i_non_a_balanced.append(inst)
        self.feedback("* Verifying orphan volumes")
        self._verify_orphans(images)
        if "nplusone_mem" not in op["skip_checks"]:
            self.feedback("* Verifying N+1 Memory redundancy")
            self._verify_n_plus_one(images)
        self.feedback("* Other Notes")
        if i_non_redundant:
            self.feedback("  - NOTICE: %d non-redundant instance(s) found." % len(i_non_redundant))
        if i_non_a_balanced:
            self.feedback("  - NOTICE: %d non-auto-balanced instance(s) found."
                          % len(i_non_a_balanced))
        if i_offline:
            self.feedback("  - NOTICE: %d offline instance(s) found." % i_offline)
        if n_offline:
            self.feedback("  - NOTICE: %d offline node(s) found." % n_offline)
        if n_drained:
            self.feedback("  - NOTICE: %d drained node(s) found." % n_drained)
        ok = not self.report.bad
        return self._run_hooks() and ok

    # -- checks
    def _verify_files(self, answers, files):
        """Every online node has the files, with the same content."""
        seen = {}
        missing = {}
        for uuid, answer in answers.items():
            if isinstance(answer, Exception) or not isinstance(answer, dict):
                continue
            have = answer.get("filelist") or {}
            for name in files:
                if name in have:
                    seen.setdefault(name, {}).setdefault(have[name], []).append(self.name(uuid))
                else:
                    missing.setdefault(name, []).append(self.name(uuid))
        for name in files:
            self.report.error_if(name in missing, ECLUSTERFILECHECK, None,
                                 "File %s is missing from node(s) %s", name,
                                 ", ".join(sorted(missing.get(name, []))))
            variants = seen.get(name, {})
            if len(variants) > 1:
                text = "; ".join("variant %d on %s" % (idx + 1, ", ".join(sorted(nodes)))
                                 for idx, (_, nodes) in enumerate(sorted(variants.items())))
                self.report.error(ECLUSTERFILECHECK, None,
                                  "File %s found with %s different checksums (%s)",
                                  name, len(variants), text)

    def _verify_node(self, node, img, result, start, end):
        rep = self.report
        name = node["name"]
        if not result or not isinstance(result, dict):
            rep.error(ENODERPC, name, "unable to verify node: no data returned")
            img.rpc_fail = True
            return
        version = result.get("version")
        if not (isinstance(version, list) and len(version) == 2):
            rep.error(ENODERPC, name, "connection to node returned invalid data")
            img.rpc_fail = True
            return
        if version[0] != PROTOCOL_VERSION:
            rep.error(ENODEVERSION, name, "incompatible protocol versions: master %s, node %s",
                      PROTOCOL_VERSION, version[0])
            img.rpc_fail = True
            return
        rep.error_if(version[1] != RELEASE_VERSION, ENODEVERSION, name,
                     "software version mismatch: master %s, node %s", RELEASE_VERSION,
                     version[1], code=WARNING)
        if node.get("vm_capable", True):
            for hv, problem in sorted((result.get("hypervisor") or {}).items()):
                rep.error_if(problem is not None, ENODEHV, name,
                             "hypervisor %s verify failure: '%s'", hv, problem)
        setup = result.get("nodesetup", ["Missing NODESETUP results"])
        rep.error_if(setup, ENODESETUP, name, "node setup error: %s", "; ".join(setup))
        self._verify_time(name, result.get("time"), start, end)
        for key, ecode, template in (
                ("file-storage-path", ENODEFILESTORAGEPATHUNUSABLE, "file"),
                ("shared-file-storage-path", ENODESHAREDFILESTORAGEPATHUNUSABLE, "sharedfile")):
            if template in self.cluster.get("enabled_disk_templates", []):
                rep.error_if(key in result, ecode, name,
                             "The configured %s storage path is unusable: %s"
                             % (template, result.get(key)))
        if not node.get("vm_capable", True):
            return
        missing = result.get("bridges")
        if missing is not None:
            rep.error_if(not isinstance(missing, list), ENODENET, name,
                         "did not return valid bridge information")
            if isinstance(missing, list):
                rep.error_if(missing, ENODENET, name,
                             "missing bridges: %s" % ", ".join(sorted(missing)))
        running = result.get("instancelist")
        if not isinstance(running, list):
            rep.error(ENODEHV, name, "rpc call to node failed (instancelist): %s", running)
            img.hyp_fail = True
        else:
            img.instances = running
        info = result.get("hvinfo")
        if not isinstance(info, dict) or "memory_free" not in info:
            rep.error(ENODEHV, name, "rpc call to node failed (hvinfo)")
        else:
            try:
                img.mfree = int(info["memory_free"])
            except (TypeError, ValueError):
                rep.error(ENODERPC, name, "node returned invalid nodeinfo, check hypervisor")
        files = result.get("disk-files")
        if isinstance(files, dict):
            img.disk_files = set(p for paths in files.values() for p in paths)
        elif "disk-files" in self.what:
            img.disk_fail = True
        names = dict((i["name"], u) for u, i in self.cfg["instances"].items())
        mine = set(self.cfg["instances"][u]["name"] for u in img.pinst)
        for inst_name in sorted(set(img.instances) - mine):
            known = inst_name in names
            rep.error_if(known, EINSTANCEWRONGNODE, inst_name,
                         "instance should not run on node %s", name)
            rep.error_if(not known, ENODEORPHANINSTANCE, name,
                         "node is running unknown instance %s", inst_name)
        self._verify_exclusion_tags(name, img.pinst)

    def _verify_time(self, name, ntime, start, end):
        try:
            merged = float(ntime[0]) + float(ntime[1]) / 1000000
        except (TypeError, ValueError, IndexError):
            self.report.error(ENODETIME, name, "Node returned invalid time")
            return
        if merged < start - NODE_MAX_CLOCK_SKEW:
            diff = "%.01fs" % abs(start - merged)
        elif merged > end + NODE_MAX_CLOCK_SKEW:
            diff = "%.01fs" % abs(merged - end)
        else:
            diff = None
        self.report.error_if(diff is not None, ENODETIME, name,
                             "Node time diverges by at least %s from master node time", diff)

    def _verify_exclusion_tags(self, name, pinst):
        prefixes = [t[len("htools:iextags:"):] for t in self.cluster.get("tags", [])
                    if t.startswith("htools:iextags:")]
        if not prefixes:
            return
        seen, conflicts = set(), set()
        for uuid in pinst:
            tags = set(t for t in self.cfg["instances"][uuid].get("tags") or []
                       if any(t.startswith(p) for p in prefixes))
            conflicts |= tags & seen
            seen |= tags
        self.report.error_if(conflicts, EEXTAGS, name,
                             "Tags where there is more than one instance: %s",
                             sorted(conflicts), code=WARNING)

    def _expected_disk_files(self, inst):
        """{node uuid: [logical paths]} of the instance's file disks."""
        out = {}
        for disk in _inst_disks(self.cfg, inst):
            if disk.get("dev_type") in FILE_TEMPLATES:
                logical = disk.get("logical_id") or []
                if len(logical) == 2:
                    out.setdefault(inst["primary_node"], []).append(logical[1])
        return out

    def _verify_instance(self, inst, images):
        rep, cfg = self.report, self.cfg
        name = inst["name"]
        pnode = inst["primary_node"]
        pimg = images[pnode]
        from qganeti import defaults
        ipolicy = defaults.fill_ipolicy(self.cluster.get("ipolicy", {}),
                                        self.group.get("ipolicy") or {})
        violations = _ipolicy_violations(ipolicy, cfg, inst)
        rep.error_if(violations, EINSTANCEPOLICY, name, ", ".join(violations), code=WARNING)
        for node, volumes in self._expected_disk_files(inst).items():
            img = images.get(node)
            if img is None or img.offline or img.rpc_fail or img.disk_fail:
                continue
            for volume in volumes:
                rep.error_if(volume not in img.disk_files, EINSTANCEMISSINGDISK, name,
                             "volume %s missing on node %s", volume, self.name(node))
        if inst.get("admin_state") == "up":
            rep.error_if(name not in pimg.instances and not pimg.offline
                         and not pimg.rpc_fail and not pimg.hyp_fail, EINSTANCEDOWN, name,
                         "instance not running on its primary node %s", self.name(pnode))
            rep.error_if(pimg.offline, EINSTANCEBADNODE, name,
                         "instance is marked as running and lives on offline node %s",
                         self.name(pnode))
        rep.error_if(pimg.rpc_fail and not pimg.offline, ENODERPC, self.name(pnode),
                     "instance %s, connection to primary node failed", name)
        secondaries = _secondaries(cfg, inst)
        rep.error_if(len(secondaries) > 1, EINSTANCELAYOUT, name,
                     "instance has multiple secondary nodes: %s",
                     ", ".join(self.name(s) for s in secondaries), code=WARNING)
        if any(d.get("dev_type") == "drbd" for d in _inst_disks(cfg, inst)):
            groups = {}
            for node in instance_nodes(cfg, inst):
                groups.setdefault(cfg["nodes"].get(node, {}).get("group"), []).append(node)
            pretty = ["%s (group %s)" % (", ".join(self.name(n) for n in nodes),
                                         cfg["nodegroups"].get(g, {}).get("name", g))
                      for g, nodes in sorted(groups.items(), key=lambda i: pnode in i[1],
                                             reverse=True)]
            rep.error_if(len(groups) > 1, EINSTANCESPLITGROUPS, name,
                         "instance has primary and secondary nodes in different groups: %s",
                         ", ".join(pretty), code=WARNING)
        offline = []
        for snode in secondaries:
            simg = images[snode]
            rep.error_if(simg.rpc_fail and not simg.offline, ENODERPC, self.name(snode),
                         "instance %s, connection to secondary node failed", name)
            if simg.offline:
                offline.append(snode)
        rep.error_if(offline, EINSTANCEBADNODE, name,
                     "instance has offline secondary node(s) %s",
                     ", ".join(self.name(n) for n in offline))
        for node in instance_nodes(cfg, inst):
            rep.error_if(images[node].ghost, EINSTANCEBADNODE, name,
                         "instance lives on ghost node %s", self.name(node))
            rep.error_if(not images[node].vm_capable, EINSTANCEBADNODE, name,
                         "instance lives on non-vm_capable node %s", self.name(node))

    def _verify_orphans(self, images):
        expected = {}
        for inst in self.cfg["instances"].values():
            for node, volumes in self._expected_disk_files(inst).items():
                expected.setdefault(node, set()).update(volumes)
        for uuid, img in sorted(images.items(), key=lambda i: self.name(i[0])):
            if (img.offline or img.rpc_fail or img.disk_fail
                    or self.cfg["nodes"].get(uuid, {}).get("group") != self.group_uuid):
                continue
            shared = set(v for i in self.cfg["instances"].values()
                         for v in self._expected_disk_files(i).get(i["primary_node"], []))
            for volume in sorted(img.disk_files):
                unknown = volume not in expected.get(uuid, set()) and volume not in shared
                self.report.error_if(unknown, ENODEORPHANLV, self.name(uuid),
                                     "volume %s is unknown", volume, code=WARNING)

    def _verify_n_plus_one(self, images):
        for uuid, img in images.items():
            if img.offline or self.cfg["nodes"].get(uuid, {}).get("group") != self.group_uuid:
                continue
            for prinode, insts in img.sbp.items():
                needed = 0
                for inst_uuid in insts:
                    be = _filled_be(self.cfg, self.cfg["instances"][inst_uuid])
                    if be.get("auto_balance", True):
                        needed += be.get("minmem", 0)
                self.report.error_if(img.mfree < needed, ENODEN1, self.name(uuid),
                                     "not enough memory to accomodate instance failovers"
                                     " should node %s fail (%dMiB needed, %dMiB available)",
                                     self.name(prinode), needed, img.mfree)

    # -- hooks
    def _run_hooks(self):
        """The cluster-verify post hooks on the group's nodes; False if one failed."""
        from qganeti import hooks, nodecall
        self.feedback("* Hooks Results")
        env = {"CLUSTER_TAGS": " ".join(self.cluster.get("tags", []))}
        for node in self.my_nodes.values():
            env["NODE_TAGS_%s" % node["name"]] = " ".join(node.get("tags", []))
        full = hooks.build_env(self.cfg, "cluster-verify", "post", self.op["OP_ID"], "CLUSTER",
                               {}, post_env=env)
        # Ganeti gives the post phase both forms: the LU's keys with and without POST_
        full.update(("GANETI_" + k, hooks.env_value(v)) for k, v in env.items())
        online = [u for u, n in self.my_nodes.items() if not n.get("offline")]
        results = nodecall.run_many(self.cfg, online, "hooks-run", ["cluster-verify", "post"],
                                    full)
        ok = True
        for uuid in sorted(results, key=self.name):
            result = results[uuid]
            name = self.name(uuid)
            if isinstance(result, Exception):
                self.report.error(ENODEHOOKS, name,
                                  "Communication failure in hooks execution: %s",
                                  result.args[0] if result.args else result)
                ok = False
                continue
            for script, status, output in result or []:
                failed = status == hooks.HKR_FAIL
                self.report.error_if(failed, ENODEHOOKS, name, "Script %s failed, output:",
                                     script)
                if failed:
                    self.feedback(_HOOKS_INDENT_RE.sub("      ", output))
                    ok = False
        return ok
