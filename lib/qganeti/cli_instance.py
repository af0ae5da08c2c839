"""What gnt-instance (and gnt-os) need beyond cli.py, worded as Ganeti's CLI.

JobExecutor (many jobs submitted at once, then followed one by one),
ConfirmOperation, the instance selections of the multi-instance commands
(--all, --node, --primary, --secondary, --tags, --node-tags ...), the
instance creation options, and the parsing of --disk/--net.
"""

import sys

from qganeti import cli, errors
from qganeti.cli import option

# -- selections (Ganeti's _EXPAND_*) --------------------------------------------

EXPAND_CLUSTER = "cluster"
EXPAND_NODES_BOTH = "nodes"
EXPAND_NODES_PRI = "nodes-pri"
EXPAND_NODES_SEC = "nodes-sec"
EXPAND_NODES_BOTH_BY_TAGS = "nodes-by-tags"
EXPAND_NODES_PRI_BY_TAGS = "nodes-pri-by-tags"
EXPAND_NODES_SEC_BY_TAGS = "nodes-sec-by-tags"
EXPAND_INSTANCES = "instances"
EXPAND_INSTANCES_BY_TAGS = "instances-by-tags"
_NODE_TAG_MODES = (EXPAND_NODES_BOTH_BY_TAGS, EXPAND_NODES_PRI_BY_TAGS,
                   EXPAND_NODES_SEC_BY_TAGS)


def _rows(result):
    return [[cell[1] for cell in row] for row in result["data"]]


def _name_filter(names):
    if not names:
        return None
    return ["|"] + [["=", "name", name] for name in names]


def _match(names, found, kind):
    """FOUND's entries for NAMES in order (short names allowed); Ganeti's
    'not known' error for a name that matches nothing."""
    from qganeti import config
    out = []
    for name in names:
        match = config.match_name(name, found)
        if match is None:
            raise errors.OpPrereqError("%s '%s' not known" % (kind, name), errors.ECODE_NOENT)
        out.append(match)
    return out


def expand_names(mode, names, client=None):
    """Ganeti's _ExpandMultiNames: the instance names a selection means."""
    client = client or cli.get_client()
    if mode == EXPAND_CLUSTER:
        if names:
            raise errors.OpPrereqError("Cluster filter mode takes no arguments",
                                       errors.ECODE_INVAL)
        return [row[0] for row in _rows(client.Query("instance", ["name"], None))]
    if mode in _NODE_TAG_MODES or mode in (EXPAND_NODES_BOTH, EXPAND_NODES_PRI,
                                           EXPAND_NODES_SEC):
        fields = ["name", "pinst_list", "sinst_list", "tags"]
        if mode in _NODE_TAG_MODES:
            if not names:
                raise errors.OpPrereqError("No node tags passed", errors.ECODE_INVAL)
            rows = [row for row in _rows(client.Query("node", fields, None))
                    if set(row[3]) & set(names)]
        else:
            if not names:
                raise errors.OpPrereqError("No node names passed", errors.ECODE_INVAL)
            rows = _rows(client.Query("node", fields, _name_filter(names)))
            wanted = _match(names, [row[0] for row in rows], "Node")
            rows = [row for row in rows if row[0] in wanted]
        primary = [name for row in rows for name in row[1]]
        secondary = [name for row in rows for name in row[2]]
        if mode in (EXPAND_NODES_BOTH, EXPAND_NODES_BOTH_BY_TAGS):
            return primary + secondary
        if mode in (EXPAND_NODES_PRI, EXPAND_NODES_PRI_BY_TAGS):
            return primary
        return secondary
    if mode == EXPAND_INSTANCES:
        if not names:
            raise errors.OpPrereqError("No instance names passed", errors.ECODE_INVAL)
        found = [row[0] for row in _rows(client.Query("instance", ["name"],
                                                      _name_filter(names)))]
        return _match(names, found, "Instance")
    if mode == EXPAND_INSTANCES_BY_TAGS:
        if not names:
            raise errors.OpPrereqError("No instance tags passed", errors.ECODE_INVAL)
        rows = _rows(client.Query("instance", ["name", "tags"], None))
        return [row[0] for row in rows if set(row[1]) & set(names)]
    raise errors.OpPrereqError("Unknown mode '%s'" % mode, errors.ECODE_INVAL)


M_FORCE_MULTI = option("--force-multiple", dest="force_multi", action="store_true",
                       default=False, help="Do not ask for confirmation when more than one"
                       " instance is affected")
M_PRI_NODE = option("--primary", dest="multi_mode", const=EXPAND_NODES_PRI,
                    action="store_const", help="Filter by nodes (primary only)")
M_SEC_NODE = option("--secondary", dest="multi_mode", const=EXPAND_NODES_SEC,
                    action="store_const", help="Filter by nodes (secondary only)")
M_NODE = option("--node", dest="multi_mode", const=EXPAND_NODES_BOTH, action="store_const",
                help="Filter by nodes (primary and secondary)")
M_CLUSTER = option("--all", dest="multi_mode", const=EXPAND_CLUSTER, action="store_const",
                   help="Select all instances in the cluster")
M_INSTANCE = option("--instance", dest="multi_mode", const=EXPAND_INSTANCES,
                    action="store_const", help="Filter by instance name [default]")
M_NODE_TAGS = option("--node-tags", dest="multi_mode", const=EXPAND_NODES_BOTH_BY_TAGS,
                     action="store_const", help="Filter by node tag")
M_PRI_NODE_TAGS = option("--pri-node-tags", dest="multi_mode",
                         const=EXPAND_NODES_PRI_BY_TAGS, action="store_const",
                         help="Filter by primary node tag")
M_SEC_NODE_TAGS = option("--sec-node-tags", dest="multi_mode",
                         const=EXPAND_NODES_SEC_BY_TAGS, action="store_const",
                         help="Filter by secondary node tag")
M_INST_TAGS = option("--tags", dest="multi_mode", const=EXPAND_INSTANCES_BY_TAGS,
                     action="store_const", help="Filter by instance tag")
MULTI_OPTS = [M_FORCE_MULTI, M_NODE, M_PRI_NODE, M_SEC_NODE, M_CLUSTER, M_INSTANCE,
              M_NODE_TAGS, M_PRI_NODE_TAGS, M_SEC_NODE_TAGS, M_INST_TAGS]


def confirm_operation(names, list_type, text, extra=""):
    """Ganeti's ConfirmOperation."""
    count = len(names)
    msg = ("The %s will operate on %d %s.\n%sDo you want to continue?"
           % (text, count, list_type, extra))
    affected = ("\nAffected %s:\n" % list_type) + "\n".join("  %s" % n for n in names)
    choices = [("y", True, "Yes, execute the %s" % text),
               ("n", False, "No, abort the %s" % text)]
    if count > 20:
        choices.insert(1, ("v", "v", "View the list of affected %s" % list_type))
        question = msg
    else:
        question = msg + affected
    choice = cli.ask_user(question, choices)
    if choice == "v":
        choices.pop(1)
        choice = cli.ask_user(msg + affected, choices)
    return choice


# -- many jobs -------------------------------------------------------------------

def _if_name(name, fmt):
    return fmt % name if name else ""


class JobExecutor:
    """Ganeti's JobExecutor: queue, submit together, then follow each job."""

    def __init__(self, client=None, verbose=True, opts=None):
        self.client = client or cli.get_client()
        self.verbose = verbose
        self.opts = opts
        self.queue = []
        self.jobs = []

    def queue_job(self, name, *ops):
        cli.set_generic_opcode_opts(list(ops), self.opts)
        self.queue.append((len(self.queue), name, list(ops)))

    def add_job_id(self, name, status, job_id):
        self.jobs.append((len(self.jobs), status, job_id, name))

    def submit_pending(self):
        results = self.client.SubmitManyJobs([ops for (_, _, ops) in self.queue])
        for (status, data), (idx, name, _) in zip(results, self.queue):
            self.jobs.append((idx, status, data, name))

    def get_results(self):
        results = []
        if not self.jobs:
            self.submit_pending()
        ok_jobs = [str(row[2]) for row in self.jobs if row[1]]
        if self.verbose:
            cli.out("Submitted jobs %s", ", ".join(ok_jobs))
        pending = [job for job in self.jobs if job[1]]
        for idx, _, jid, name in [job for job in self.jobs if not job[1]]:
            cli.err("Failed to submit job%s: %s", _if_name(name, " for %s"), jid)
            results.append((idx, False, jid))
        for idx, _, jid, name in pending:
            cli.out("Waiting for job %s%s ...", jid, _if_name(name, " for %s"))
            try:
                result = cli.poll_job(jid, self.client)
                success = True
            except errors.JobLost as err:
                _, result = errors.format_error(err)
                cli.err("Job %s%s has been archived, cannot check its result", jid,
                        _if_name(name, " for %s"))
                success = False
            except errors.GenericError as err:
                _, result = errors.format_error(err)
                success = False
                cli.err("Job %s%s has failed: %s", jid, _if_name(name, " for %s"), result)
            results.append((idx, success, result))
        results.sort(key=lambda r: r[0])
        return [r[1:] for r in results]

    def wait_or_show(self, wait):
        if wait:
            return self.get_results()
        if not self.jobs:
            self.submit_pending()
        for _, status, result, name in self.jobs:
            if status:
                cli.out("%s: %s", result, name)
            else:
                cli.err("Failure for %s: %s", name, result)
        return [row[1:3] for row in self.jobs]


def generic_many_ops(operation, fn):
    """Ganeti's GenericManyOps: one job per selected instance."""
    def realfn(opts, args):
        if opts.multi_mode is None:
            opts.multi_mode = EXPAND_INSTANCES
        client = cli.get_client()
        names = expand_names(opts.multi_mode, args, client)
        if not names:
            if opts.multi_mode == EXPAND_CLUSTER:
                cli.out("Cluster is empty, no instances to shutdown")
                return 0
            raise errors.OpPrereqError("Selection filter does not match any instances",
                                       errors.ECODE_INVAL)
        multi_on = opts.multi_mode != EXPAND_INSTANCES or len(names) > 1
        if not (opts.force_multi or not multi_on
                or confirm_operation(names, "instances", operation)):
            return 1
        jex = JobExecutor(client, verbose=multi_on, opts=opts)
        for name in names:
            jex.queue_job(name, fn(name, opts))
        results = jex.wait_or_show(not opts.submit_only)
        return int(not all(row[0] for row in results))
    return realfn


# -- creation options and parsing ------------------------------------------------

def split_node_option(value):
    """Ganeti's SplitNodeOption: "pnode[:snode]"."""
    if value and ":" in value:
        return value.split(":", 1)
    return value, None


def parse_nics(values):
    """Ganeti's ParseNicOption over --net N:key=value,... options."""
    try:
        count = max(int(idx) + 1 for idx, _ in values)
    except (TypeError, ValueError) as err:
        raise errors.OpPrereqError("Invalid NIC index passed: %s" % err, errors.ECODE_INVAL)
    nics = [{}] * count
    for idx, params in values:
        idx = int(idx)
        if not isinstance(params, dict):
            raise errors.OpPrereqError("Invalid nic/%d value: expected dict, got %s"
                                       % (idx, params), errors.ECODE_INVAL)
        nics[idx] = _stringify(params, "nic", idx)
    return nics


def _stringify(params, kind, idx):
    out = {}
    for key, value in params.items():
        if value is True or value is False or value is None:
            raise errors.OpPrereqError("Invalid %s/%d parameter '%s': a value is needed"
                                       % (kind, idx, key), errors.ECODE_INVAL)
        out[key] = value
    return out


def parse_disks(values, sd_size, template, mode="create"):
    """Ganeti's disk handling of GenericInstanceCreate (--disk / -s)."""
    from qganeti import listing
    if template == "diskless":
        if values or sd_size is not None:
            raise errors.OpPrereqError("Diskless instance but disk information passed",
                                       errors.ECODE_INVAL)
        return []
    if not values and not sd_size and mode == "create":
        raise errors.OpPrereqError("No disk information specified", errors.ECODE_INVAL)
    if values and sd_size is not None:
        raise errors.OpPrereqError("Please use either the '--disk' or '-s' option",
                                   errors.ECODE_INVAL)
    if sd_size is not None:
        values = [("0", {"size": sd_size})]
    try:
        count = max(int(idx) + 1 for idx, _ in values)
    except (TypeError, ValueError) as err:
        raise errors.OpPrereqError("Invalid disk index passed: %s" % err, errors.ECODE_INVAL)
    disks = [{}] * count
    for idx, params in values:
        idx = int(idx)
        if not isinstance(params, dict):
            raise errors.OpPrereqError("Invalid disk/%d value: expected dict, got %s"
                                       % (idx, params), errors.ECODE_INVAL)
        params = dict(params)
        if "size" in params:
            if "adopt" in params:
                raise errors.OpPrereqError("Only one of 'size' and 'adopt' allowed (disk %d)"
                                           % idx, errors.ECODE_INVAL)
            try:
                params["size"] = listing.parse_unit(params["size"])
            except (errors.UnitParseError, TypeError) as err:
                raise errors.OpPrereqError("Invalid disk size for disk %d: %s" % (idx, err),
                                           errors.ECODE_INVAL)
        elif "adopt" in params:
            if "spindles" in params:
                raise errors.OpPrereqError("spindles is not a valid option when adopting a"
                                           " disk", errors.ECODE_INVAL)
            params["size"] = 0
        else:
            raise errors.OpPrereqError("Missing size or adoption source for disk %d" % idx,
                                       errors.ECODE_INVAL)
        if "spindles" in params:
            try:
                params["spindles"] = int(params["spindles"])
            except (TypeError, ValueError) as err:
                raise errors.OpPrereqError("Invalid spindles for disk %d: %s" % (idx, err),
                                           errors.ECODE_INVAL)
        disks[idx] = params
    return disks


def force_types(params, kind, hypervisor=None):
    """Ganeti's client-side ForceDictType of -B/-H values."""
    from qganeti import defaults
    return defaults.check_params(kind, params, hypervisor=hypervisor,
                                 allowed_values=("default",))


BACKEND_OPT = option("-B", "--backend-parameters", dest="beparams", type="keyval",
                     default={}, help="Backend parameters")
HVOPTS_OPT = option("-H", "--hypervisor-parameters", type="keyval", default={},
                    dest="hvparams", help="Hypervisor parameters")
HYPERVISOR_OPT = option("-H", "--hypervisor-parameters", dest="hypervisor",
                        help="Hypervisor and hypervisor options, in the format"
                        " hypervisor:option=value,option=value,...", default=None,
                        type="identkeyval")
DISK_OPT = option("--disk", help="Disk parameters", default=[], dest="disks",
                  action="append", type="identkeyval")
NET_OPT = option("--net", help="NIC parameters", default=[], dest="nics", action="append",
                 type="identkeyval")
DISK_TEMPLATE_OPT = option("-t", "--disk-template", dest="disk_template",
                           help="Custom disk setup (blockdev, diskless, drbd, ext, file,"
                           " gluster, plain, rbd, sharedfile)", default=None, metavar="TEMPL",
                           choices=["blockdev", "diskless", "drbd", "ext", "file", "gluster",
                                    "plain", "rbd", "sharedfile"])
FILESTORE_DIR_OPT = option("--file-storage-dir", dest="file_storage_dir",
                           help="Relative path under default cluster-wide file storage dir to"
                           " store file-based disks", default=None, metavar="<DIR>")
FILESTORE_DRIVER_OPT = option("--file-driver", dest="file_driver",
                              help="Driver to use for image files", default=None,
                              metavar="<DRIVER>", choices=["loop", "blktap", "blktap2"])
IALLOCATOR_OPT = option("-I", "--iallocator", metavar="<NAME>",
                        help="Select nodes for the instance automatically using the <NAME>"
                        " iallocator plugin", default=None, type="string")
NODE_PLACEMENT_OPT = option("-n", "--node", dest="node", help="Target node and optional"
                            " secondary node", metavar="<pnode>[:<snode>]")
NODEGROUP_OPT = option("-g", "--node-group", dest="nodegroup",
                       help="Node group (name or uuid)", metavar="<nodegroup>", default=None,
                       type="string")
NOIPCHECK_OPT = option("--no-ip-check", dest="ip_check", default=True, action="store_false",
                       help="Don't check that the instance's IP is alive")
NONAMECHECK_OPT = option("--no-name-check", dest="name_check", default=True,
                         action="store_false",
                         help="Don't check that the instance's name is resolvable")
NOCONFLICTSCHECK_OPT = option("--no-conflicts-check", dest="conflicts_check", default=True,
                              action="store_false",
                              help="Don't check for conflicting IPs")
NONICS_OPT = option("--no-nics", default=False, action="store_true",
                    help="Do not create any network cards for the instance")
NWSYNC_OPT = option("--no-wait-for-sync", dest="wait_for_sync", default=True,
                    action="store_false", help="Don't wait for sync (DANGEROUS!)")
WFSYNC_OPT = option("--wait-for-sync", dest="wait_for_sync", default=False,
                    action="store_true", help="Wait for disks to sync")
OSPARAMS_OPT = option("-O", "--os-parameters", dest="osparams", type="keyval", default={},
                      help="OS parameters")
OSPARAMS_PRIVATE_OPT = option("--os-parameters-private", dest="osparams_private",
                              type="keyval", default={},
                              help="Private OS parameters (won't be logged)")
OSPARAMS_SECRET_OPT = option("--os-parameters-secret", dest="osparams_secret",
                             type="keyval", default={},
                             help="Secret OS parameters (won't be logged or saved; you must"
                             " supply these for every operation.)")
OS_SIZE_OPT = option("-s", "--os-size", dest="sd_size", help="Enforces a single-disk"
                     " configuration using the given disk size, in MiB unless a suffix is"
                     " used", default=None, type="unit", metavar="<size>")
OPPORTUNISTIC_OPT = option("--opportunistic-locking", dest="opportunistic_locking",
                           action="store_true", default=False,
                           help="Opportunistically acquire locks")
TAG_ADD_OPT = option("--tags", dest="tags", default=None,
                     help="Comma-separated list of instance tags")
NOSTART_OPT = option("--no-start", dest="start", default=True, action="store_false",
                     help="Don't start the instance after creation")
OS_OPT = option("-o", "--os-type", dest="os", help="What OS to run", metavar="<os>")
FORCE_VARIANT_OPT = option("--force-variant", dest="force_variant", action="store_true",
                           default=False, help="Force an unknown variant")
NO_INSTALL_OPT = option("--no-install", dest="no_install", action="store_true",
                        default=False, help="Do not install the OS (will enable no-start)")
IGNORE_IPOLICY_OPT = option("--ignore-ipolicy", dest="ignore_ipolicy", action="store_true",
                            default=False, help="Ignore instance policy violations")
FORTHCOMING_OPT = option("--forthcoming", dest="forthcoming", action="store_true",
                         default=False, help="Only reserve resources, but do not create"
                         " the instance yet")
COMMIT_OPT = option("--commit", dest="commit", action="store_true", default=False,
                    help="The instance is already reserved and should be committed now")
INSTANCE_COMMUNICATION_OPT = option("-c", "--communication", default=False,
                                    dest="instance_communication", type="bool",
                                    help="Enable or disable the communication mechanism for"
                                    " an instance")
HELPER_STARTUP_TIMEOUT_OPT = option("--helper-startup-timeout", dest="helper_startup_timeout",
                                    default=None, type="int",
                                    help="Startup timeout for the helper VM")
HELPER_SHUTDOWN_TIMEOUT_OPT = option("--helper-shutdown-timeout",
                                     dest="helper_shutdown_timeout", default=None, type="int",
                                     help="Shutdown timeout for the helper VM")

COMMON_CREATE_OPTS = [BACKEND_OPT, DISK_OPT, DISK_TEMPLATE_OPT, FILESTORE_DIR_OPT,
                      FILESTORE_DRIVER_OPT, HYPERVISOR_OPT, IALLOCATOR_OPT, NET_OPT,
                      NODE_PLACEMENT_OPT, NODEGROUP_OPT, NOIPCHECK_OPT, NOCONFLICTSCHECK_OPT,
                      NONAMECHECK_OPT, NONICS_OPT, NWSYNC_OPT, OSPARAMS_OPT,
                      OSPARAMS_PRIVATE_OPT, OSPARAMS_SECRET_OPT, OS_SIZE_OPT,
                      OPPORTUNISTIC_OPT] + cli.SUBMIT_OPTS + [TAG_ADD_OPT, cli.DRY_RUN_OPT,
                                                               cli.PRIORITY_OPT]


def tags_from(opts, args):
    """Tags from the arguments and --from FILE ('-': stdin)."""
    tags = list(args)
    if opts.tags_source:
        handle = sys.stdin if opts.tags_source == "-" else open(opts.tags_source)
        with handle:
            tags.extend(line.strip() for line in handle if line.strip())
    if not tags:
        raise errors.OpPrereqError("No tags to add/remove", errors.ECODE_INVAL)
    return tags
