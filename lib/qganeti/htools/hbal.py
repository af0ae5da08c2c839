"""hbal: the cluster balancer (Ganeti 3.0.2's Program/Hbal.hs flow).

Messages, their order and streams, exit codes and output formats are
Ganeti's; only the search itself is different (incremental and compiled,
see htools.balance).
"""

import sys

from qganeti.htools import hsfmt, metrics, options, output
from qganeti.htools.cluster import LoadError, lookup_name, sep_split
from qganeti.htools.consts import NF, OFFLINE, FAIL_N1_FLAG, INST_SPN, HI_SPN, P_CPU, \
    VCPU_RATIO, F_DSK

OPTIONS = ["print_nodes", "print_insts", "print_cmds", "data", "evac", "restricted", "rapi",
           "luxi", "ialloc", "exec", "first_job_group", "reason", "group", "max_length",
           "verbose", "quiet", "offline", "static_kvm", "min_score", "max_cpu", "min_disk",
           "min_gain", "min_gain_limit", "no_disk_moves", "select", "no_inst_moves",
           "ignore_soft", "dynu", "ignore_dynu", "mond", "mond_data", "mond_exit",
           "mond_xen", "ex_tags", "exclude", "save", "priority"]


class Fatal(Exception):
    """Ganeti's exitErr: "Error: <msg>" on stderr, exit 1."""


def out(text=""):
    sys.stdout.write(text + "\n")


def err(text=""):
    sys.stderr.write(text + "\n")


def _read_file(prog, path):
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as handle:
            return handle.read()
    except OSError as exc:
        from qganeti.htools.text import _io_reason
        err("%s: %s: openFile: %s" % (prog, path, _io_reason(exc)))
        raise SystemExit(1)


def parse_utilisation(text):
    """-U lines `name cpu mem dsk net`."""
    result = []
    for line in text.split("\n")[:-1] if text.endswith("\n") else text.split("\n") if text \
            else []:
        fields = sep_split(" ", line)
        if len(fields) != 5:
            raise Fatal("can't parse utilisation data: Cannot parse line " + line)
        name = fields[0]
        try:
            util = tuple(hsfmt.read_double(name, v) for v in fields[1:])
        except hsfmt.ParseError as exc:
            raise Fatal("can't parse utilisation data: %s" % exc)
        result.append((name, util))
    return result


def load_cluster(prog, opts):
    """ExtLoader.loadExternalData: the cluster from the chosen backend,
    merged and checked; load warnings on stderr."""
    chosen = [opts.master != "", opts.luxi is not None, opts.data_file is not None]
    if sum(chosen) > 1:
        raise Fatal("Only one of the rapi, luxi, and data files options should be given.")
    utils = parse_utilisation(_read_file(prog, opts.dynu_file)) if opts.dynu_file else []
    simulate = getattr(opts, "simulate", None)
    try:
        if opts.master:
            from qganeti.htools import backends
            cl = backends.load_rapi(opts.master)
        elif opts.luxi is not None:
            from qganeti.htools import backends
            cl = backends.load_luxi(luxi_address(opts))
        elif simulate:
            from qganeti.htools import backends
            cl = backends.load_simulate(simulate)
        elif opts.data_file is not None:
            from qganeti.htools import text
            cl = text.load(opts.data_file)
        elif opts.ialloc_src is not None:
            from qganeti.htools import ialloc
            cl = ialloc.load_cluster(opts.ialloc_src, opts.static_kvm_mem)
        else:
            raise LoadError("No backend selected! Exiting.")
        if opts.ignore_dynu:
            for rec in cl.instrecs:
                rec.util = (0.0, 0.0, 0.0, 0.0)
            utils = []
        if opts.mond or opts.mond_data:
            raise LoadError("monitoring daemon data (--mond, --mond-data) is not "
                            "available yet in qganeti")
        ex_tags = [t + ":" for t in opts.exclusion_tags] if opts.exclusion_tags else []
        passes = getattr(cl, "passes", 1)
        cl.finish(utils, ex_tags, opts.select_instances, opts.exclude_instances,
                  opts.static_kvm_mem, passes=passes)
    except LoadError as exc:
        if type(exc).__name__ == "RequestError":
            raise Fatal(str(exc))
        raise Fatal("failed to load data, aborting: %s" % exc)
    for number, warnings in enumerate(cl.pass_warnings):
        last = number == len(cl.pass_warnings) - 1
        if warnings and (opts.verbose != 0 or not last):
            show_warnings(warnings)
    return cl


def luxi_address(opts):
    """-L's socket; -L alone means our luxid's socket (under $QGANETI_ROOT)."""
    if not opts.luxi:
        from qganeti import paths
        return paths.luxi_socket()
    return opts.luxi


def show_warnings(warnings):
    err("Warning: cluster has inconsistent data:")
    err("".join("  - %s\n" % msg for msg in warnings))


def set_node_status(cl, opts):
    """CLI.setNodeStatus: -O, --max-cpu, --min-disk."""
    names = [node.name for node in cl.noderecs]
    wrong = []
    for key in opts.offline:
        good, content = lookup_name(names, key)
        if not good:
            wrong.append(content)
            continue
        for n, name in enumerate(names):
            if name == content:
                cl.set_offline(n)
    if wrong:
        raise Fatal("wrong node name(s) set as offline: %s\n" % ",".join(wrong))
    if opts.max_cpu is not None:
        cl.set_max_cpu(opts.max_cpu)
    cl.set_min_disk(opts.min_disk)


def show_ipolicy(pol):
    """Haskell `show` of an IPolicy record."""
    def spec(s):
        return ("ISpec {iSpecMemorySize = %d, iSpecCpuCount = %d, iSpecDiskSize = %d, "
                "iSpecDiskCount = %d, iSpecNicCount = %d, iSpecSpindleUse = %d}" % s)
    from qganeti.htools.consts import DT_HASKELL
    minmax = ",".join("MinMaxISpecs {minMaxISpecsMinSpec = %s, minMaxISpecsMaxSpec = %s}"
                       % (spec(lo), spec(hi)) for lo, hi in pol.minmax)
    return ("IPolicy {iPolicyMinMaxISpecs = [%s], iPolicyStdSpec = %s, "
            "iPolicyDiskTemplates = [%s], iPolicyVcpuRatio = %s, iPolicySpindleRatio = %s}"
            % (minmax, spec(pol.std), ",".join(DT_HASKELL[t] for t in pol.templates),
               hsfmt.show_double(pol.vcpu_ratio, True),
               hsfmt.show_double(pol.spindle_ratio, True)))


def split_instances(cl):
    """Instances whose primary and secondary are in different groups."""
    out = []
    for i in range(cl.ninsts):
        s = cl.inst_snode(i)
        if s >= 0 and cl.node_group(s) != cl.node_group(cl.inst_pnode(i)):
            out.append(i)
    return out


def group_members(cl, gdx):
    nodes = [n for n in range(cl.nnodes) if cl.node_group(n) == gdx]
    members = set(nodes)
    insts = [i for i in range(cl.ninsts) if cl.inst_pnode(i) in members]
    return nodes, insts


def select_group(cl, opts):
    groups = sorted(set(cl.node_group(n) for n in range(cl.nnodes)))
    if len(groups) > 1 and opts.group is None:
        err("Found multiple node groups:")
        for gdx in groups:
            err("  " + cl.groups[gdx].name)
        raise Fatal("Aborting.")
    if opts.group is None:
        if not groups:
            raise Fatal("No groups found by splitCluster?!")
        return cl.groups[groups[0]].name, group_members(cl, groups[0])
    matches = [g for g, grp in enumerate(cl.groups) if opts.group in (grp.name, grp.uuid)]
    if len(matches) != 1:
        err("Node group %s not found. Node group list is:" % opts.group)
        for grp in cl.groups:
            err("  " + grp.name)
        raise Fatal("Aborting.")
    return cl.groups[matches[0]].name, group_members(cl, matches[0])


def check_group(cl, opts, gname, nodes, insts):
    out("Group size %d nodes, %d instances" % (len(nodes), len(insts)))
    out("Selected node group: " + gname)
    bad_nodes = [n for n in nodes if not cl.nf[n * NF + OFFLINE]
                 and cl.nf[n * NF + FAIL_N1_FLAG]]
    bad_insts = sorted(set(i for n in bad_nodes for i in cl.slist[n] + cl.plist[n]))
    if opts.verbose >= 1:
        out("Initial check done: %d bad nodes, %d bad instances."
            % (len(bad_nodes), len(bad_insts)))
    policy_bad = 0
    status = []
    for n in nodes:
        if n in bad_nodes:
            continue
        row = cl.nf[n * NF:(n + 1) * NF]
        health = "Ok ()"
        if row[INST_SPN] > row[HI_SPN]:
            health = "Bad FailDisk"
        elif row[P_CPU] > row[VCPU_RATIO]:
            health = "Bad FailCPU"
        if health != "Ok ()":
            policy_bad += 1
        status.append("(%s,%s)" % (hsfmt.show_string(cl.noderecs[n].name), health))
    if opts.verbose > 4:
        out("Bad nodes: " + hsfmt.show_string_list([cl.noderecs[n].name for n in bad_nodes]))
        out("N+1 happy nodes: " + hsfmt.show_string_list(
            [cl.noderecs[n].name for n in nodes if n not in bad_nodes]))
        out("Node policy status: [%s]" % ",".join(status))
    if bad_nodes:
        out("Cluster is not N+1 happy, continuing but no guarantee that the cluster "
            "will end N+1 happy.")
    if policy_bad:
        out("The cluster contains %d policy-violating nodes." % policy_bad)
        if opts.ignore_soft_errors:
            out("Continuing, ignoring soft errors.")
        else:
            out("Continuing, but the set of moves might be too restricted; consider "
                "using the --ignore-soft-errors option.")


def save(cl, path, ext, msg, nodes=None, insts=None):
    from qganeti.htools import text
    target = path + "." + ext
    text.write_file("hbal", target, text.serialize(cl, nodes, insts))
    err("The cluster state %s has been written to file '%s'" % (msg, target))


def print_nodes(cl, opts, phase, nodes):
    if opts.print_nodes is not None:
        err("")
        err("%s status:" % phase)
        err(output.node_table(cl, opts.print_nodes, nodes))


def print_insts(cl, opts, phase, insts):
    if opts.print_insts:
        err("")
        err("%s instance map:" % phase)
        sys.stderr.write(output.instance_table(cl, insts))


def main(opts, args):
    from qganeti.htools import balance
    try:
        if args:
            raise Fatal("This program doesn't take any arguments.")
        verbose = opts.verbose
        cl = load_cluster("hbal", opts)
        if verbose > 1:
            out("Loaded cluster tags: " + ",".join(cl.ctags))
            out("Loaded cluster ipolicy: " + show_ipolicy(cl.cpol))
        pristine = cl.copy() if opts.save else None
        set_node_status(cl, opts)
        if cl.ninsts == 0:
            out("Cluster is empty, exiting.")
            return 0
        split = split_instances(cl)
        if split and verbose > 1:
            err("Found instances belonging to multiple node groups:")
            for i in split:
                err("  " + cl.instrecs[i].name)
            err("These instances will not be moved.")
        out("Loaded %d nodes, %d instances" % (cl.nnodes, cl.ninsts))
        if cl.suffix and verbose > 1:
            out("Note: Stripping common suffix of '%s' from names" % cl.suffix)
        if opts.save:
            save(pristine, opts.save, "original", "before balancing")
        gname, (nodes, insts) = select_group(cl, opts)
        check_group(cl, opts, gname, nodes, insts)
        print_insts(cl, opts, "Initial", insts)
        print_nodes(cl, opts, "Initial cluster", nodes)
        ini_cv = metrics.comp_cv(cl, nodes)
        opt_cv = metrics.optimal_score(cl, nodes)
        if verbose > 2:
            out("Initial coefficients: overall %s" % hsfmt.fixed(ini_cv, 8))
            sys.stdout.write(metrics.stats_table("  ", metrics.cluster_stats(cl, nodes)))
        else:
            out("Initial score: %s" % hsfmt.fixed(ini_cv, 8))
        if ini_cv - opt_cv < opts.min_score:
            out("Cluster is already well balanced (initial score %s,\n"
                "optimum score due to N+1 reservations %s,\n"
                "minimum score %s).\nNothing to do, exiting"
                % (hsfmt.gfmt(ini_cv), hsfmt.gfmt(opt_cv), hsfmt.gfmt(opts.min_score)))
            return 0
        original = [(sum(cl.unallocated_mem(n) for n in nodes),
                     sum(cl.nf[n * NF + F_DSK] for n in nodes))]
        out("Trying to minimize the CV...")
        imlen = max(len(cl.inst_aliases[i]) for i in insts) if insts else 0
        nmlen = max(len(cl.node_aliases[n]) for n in nodes) if nodes else 0
        algo = balance.Options(opts.ignore_soft_errors, opts.disk_moves, opts.instance_moves,
                               opts.restricted_migration, opts.evac_mode, opts.min_gain,
                               opts.min_gain_limit)
        bal = balance.Balancer(cl, nodes, insts, algo)
        min_score = opt_cv + opts.min_score
        jobs = []
        while ((opts.max_length < 0 or len(bal.placements) < opts.max_length)
               and bal.score > min_score):
            i = None
            before = None
            found = bal.search()
            if found is None:
                break
            i = found[0]
            before = (cl.inst_pnode(i), cl.inst_snode(i))
            placement = bal.step_with(found)
            if placement is None:
                break
            line, cmds = output.solution_line(cl, before, placement, len(bal.placements),
                                              nmlen, imlen)
            jobs.append((output.involved_nodes(before, placement), cmds, i, placement[3],
                         placement[4]))
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
        fin_cv = bal.score
        if not bal.placements:
            out("No solution found")
        elif verbose > 2:
            out("Final coefficients:   overall %s" % hsfmt.fixed(fin_cv, 8))
            sys.stdout.write(metrics.stats_table("  ", metrics.cluster_stats(cl, nodes)))
        else:
            out("Cluster score improved from %s to %s"
                % (hsfmt.fixed(ini_cv, 8), hsfmt.fixed(fin_cv, 8)))
        if verbose >= 1:
            out("Solution length=%d" % len(bal.placements))
        jobsets = output.split_jobs(jobs)
        if opts.first_job_group:
            jobsets = jobsets[:1]
        cmds = output.format_cmds(jobsets)
        if opts.print_cmds == "-":
            out("")
            out("First set of jobs:" if opts.first_job_group
                else "Commands to run to reach the above solution:")
            for line in cmds.split("\n")[:-1]:
                if line != "  check":
                    out("  " + line)
        elif opts.print_cmds is not None:
            from qganeti.htools import text
            text.write_file("hbal", opts.print_cmds, output.SH_TEMPLATE + cmds)
            out("The commands have been written to file '%s'" % opts.print_cmds)
        if opts.save:
            save(cl, opts.save, "balanced", "after balancing", nodes, insts)
        print_insts(cl, opts, "Final", insts)
        print_nodes(cl, opts, "Final cluster", nodes)
        if verbose > 3:
            final = (sum(cl.unallocated_mem(n) for n in nodes),
                     sum(cl.nf[n * NF + F_DSK] for n in nodes))
            out("Original: mem=%d disk=%d" % original[0])
            out("Final:    mem=%d disk=%d" % final)
        if opts.exec_jobs and bal.placements:
            execute_jobs(cl, opts, jobsets)
        return 0
    except Fatal as exc:
        sys.stdout.flush()
        err("Error: %s" % exc)
        return 1


def execute_jobs(cl, opts, jobsets):
    """-X: the job sets through LUXI, one set after another."""
    from qganeti.htools import execute as ex
    if opts.luxi is None:
        raise Fatal("hbal: Execution of commands possible only on LUXI")
    annotate = ex.annotator("hbal", opts.reason or "hbal %s called" % ex.VERSION,
                            "rebalancing via hbal %s" % ex.VERSION, opts.priority)
    try:
        ex.exec_with_cancel(luxi_address(opts), ex.move_jobsets(
            cl, jobsets, "Executing jobset for instances "), annotate)
    except ex.ExecError as exc:
        raise Fatal("hbal: %s" % exc)


def run(argv):
    return options.run(main, "hbal", argv, OPTIONS)
