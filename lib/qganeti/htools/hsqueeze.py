"""hsqueeze: power nodes down when the cluster is underused, up when it is
short (Ganeti 3.0.2's Program/Hsqueeze.hs flow and output).

Every candidate set of nodes is judged by balancing the whole cluster
with the set offlined (or onlined) until no move gains anything; that is
Ganeti's algorithm, and its cost.  Ours balances with hbal's
incremental search (htools.balance), so each trial is cheap.
"""

import os

from qganeti.htools import hbal, jit, options, output
from qganeti.htools import consts as C
from qganeti.htools.consts import IF, NF, OFFLINE, OK
from qganeti.htools.options import NOARG, _opt

STANDBY_PREFIX = "htools:standby:"
STANDBY_AUTO = "htools:standby:auto"

OWN = {
    "min_resources": _opt("", ["minimal-resources"], options.REQARG, "FACTOR",
                          "minimal resources to be present on each in multiples of the "
                          "standard allocation for not onlining standby nodes", "float",
                          options.setter("min_resources",
                                         lambda a: options.read_double("minimal resources",
                                                                       a))),
    "target_resources": _opt("", ["target-resources"], options.REQARG, "FACTOR",
                             "target resources to be left on each node after squeezing in "
                             "multiples of the standard allocation", "float",
                             options.setter("target_resources",
                                            lambda a: options.read_double(
                                                "target resources", a))),
    "no_headers": _opt("", ["no-headers"], NOARG, "", "do not show a header line", "none",
                       options.flag("no_headers")),
}
DEFAULTS = {"min_resources": 2.0, "target_resources": 2.0, "no_headers": False}
OPTIONS = ["luxi", "data", "exec", OWN["min_resources"], OWN["target_resources"], "save",
           "print_cmds", "verbose", OWN["no_headers"], "static_kvm"]

out = hbal.out


def test_instance(cl, factor):
    """F times the cluster's standard spec, rounded down, as an instance
    row (disk 0, template ext, running, not auto-balanced)."""
    from qganeti.htools.cluster import InstRec
    mem, cpu, _, _, _, su = cl.cpol.std
    rec = InstRec("targetInstance", int(factor * mem // 1), 0, [], int(factor * cpu // 1),
                  C.ST_RUNNING, [], False, C.NO_NODE, C.NO_NODE, C.DT_EXT,
                  int(factor * su // 1))
    return cl._inst_row(rec)


def capacity_for(cl, row):
    """Every node (online or not) could take the instance as a primary."""
    from qganeti.htools import kernels
    scratch = [0.0] * NF
    empty = [0]
    for n in range(cl.nnodes):
        rc = kernels.add_pri(cl.nf, n * NF, 0, row, 0, 0.0, [0], 1, empty + [0], empty, 0,
                             [0], [0], 1, False, scratch, 0)
        if rc != OK:
            return False
    return True


def on_online_nodes(cl):
    return all(not cl.nf[cl.inst_pnode(i) * NF + OFFLINE] for i in range(cl.ninsts))


# instances x nodes x trials above which numba repays its start (the kernels
# built ahead of time are used whenever they are there)
COMPILE_THRESHOLD = 50000
# ... and above which numba's parallel scan is worth its start even so (2
# cores: 40 nodes, 331 instances, 36 trials 3.1 s against 4.7 s built ahead;
# 20 nodes, 100 instances, 18 trials 0.8 s against 0.45 s)
PARALLEL_THRESHOLD = 150000
ACCELERATE = [False, False]     # compiled kernels; numba's parallel ones


def balance(cl):
    """Balance the whole cluster until no move gains anything; returns the
    jobs (nodes, commands, instance, move, target) in move order."""
    from qganeti.htools import balance as bmod
    nodes = list(range(cl.nnodes))
    algo = bmod.Options(min_gain=0.0, min_gain_limit=0.0)
    bal = bmod.Balancer(cl, nodes, list(range(cl.ninsts)), algo, *ACCELERATE)
    jobs = []
    while True:
        found = bal.search()
        if found is None:
            break
        i = found[0]
        before = (cl.inst_pnode(i), cl.inst_snode(i))
        placement = bal.step_with(found)
        if placement is None:
            break
        _, npdx, nsdx, move, tdx, _ = placement
        nsec = cl.node_aliases[nsdx] if nsdx != C.NO_NODE else ""
        _, cmds = output.move_commands(move, cl.instrecs[i].name, cl.is_running(i),
                                       cl.node_aliases[npdx], nsec)
        jobs.append((output.involved_nodes(before, placement), cmds, i, move, tdx))
    return jobs


_TRIALS = {}        # the last trial and the last one that passed
_PASSED = [None]


def _trial_key(cl, nodes, offline):
    return (id(cl), frozenset(nodes), offline)


def try_state(cl, nodes, offline):
    """The cluster with the nodes set offline (or online) and balanced.
    The last trial and the last one that passed are kept: the plan is the
    last passing trial, which need not be the last one tried."""
    key = _trial_key(cl, nodes, offline)
    if key in _TRIALS:
        return _TRIALS[key]
    new = cl.copy()
    for n in nodes:
        new.nf[n * NF + OFFLINE] = 1.0 if offline else 0.0
    jobs = balance(new)
    for old in list(_TRIALS):
        if old != _PASSED[0]:
            del _TRIALS[old]
    _TRIALS[key] = (new, jobs)
    return new, jobs


def hopeless(cl, nodes, offline, row):
    """True when no balancing can make the trial pass, judged on totals:
    an instance that is never moved stays on a node going offline, or the
    online nodes together lack the memory or CPUs for every instance plus
    one test instance each.  Such trials are skipped; the answer is the
    same, since their full balancing would fail too."""
    changed = set(nodes)
    off = [bool(cl.nf[n * NF + OFFLINE]) if n not in changed else offline
           for n in range(cl.nnodes)]
    inf = cl.inf
    for i in range(cl.ninsts):
        if off[cl.inst_pnode(i)] and not (inf[i * IF + C.I_MOVABLE]
                                          and inf[i * IF + C.I_AUTO_BAL]):
            return True
    want_mem = row[C.I_MEMORY]
    want_cpu = row[C.I_VCPUS]
    room = 0.0
    cpu_room = 0.0
    cpu_limited = True
    count = 0
    for n in range(cl.nnodes):
        r = cl.nf[n * NF:(n + 1) * NF]
        own = float(int(r[C.T_MEM])) - r[C.N_MEM] - max(0.0, r[C.X_MEM])
        if off[n]:
            continue
        count += 1
        room += own - want_mem - 1.0
        if r[C.VCPU_RATIO] < 0.0 or r[C.T_CPU] <= 0.0:
            cpu_limited = False
        cpu_room += r[C.VCPU_RATIO] * r[C.T_CPU] - r[C.N_CPU] - want_cpu
    used_mem = sum(inf[i * IF + C.I_MEMORY] for i in range(cl.ninsts)
                   if inf[i * IF + C.I_USES_MEM])
    used_cpu = sum(inf[i * IF + C.I_VCPUS] for i in range(cl.ninsts)
                   if inf[i * IF + C.I_ONLINE] and not inf[i * IF + C.I_FORTH])
    if used_mem > room + 0.5:
        return True
    # the per-node CPU test divides; leave a margin for its rounding
    return cpu_limited and used_cpu > cpu_room + 1e-6 * max(1.0, abs(cpu_room)) + count


def suffices(cl, nodes, offline, row):
    if hopeless(cl, nodes, offline, row):
        return False
    new, _ = try_state(cl, nodes, offline)
    if on_online_nodes(new) and capacity_for(new, row):
        _PASSED[0] = _trial_key(cl, nodes, offline)
        return True
    return False


def greedy_offline(cl, row, cands):
    """From the last candidate to the first, keep a node if it can go
    offline together with those kept so far."""
    chosen = []
    for n in reversed(cands):
        if suffices(cl, [n] + chosen, True, row):
            chosen = [n] + chosen
    return chosen


def try_online(cl, row, cands):
    """The shortest prefix of the candidates whose onlining suffices."""
    for k in range(len(cands) + 1):
        if suffices(cl, cands[:k], False, row):
            return cands[:k]
    return None


def offline_candidates(cl):
    cands = []
    for n in range(cl.nnodes):
        row = cl.nf[n * NF:(n + 1) * NF]
        if row[OFFLINE] or row[C.MASTER] or cl.slist[n]:
            continue
        if any(cl.inf[i * IF + C.I_LOCAL] for i in cl.plist[n]):
            continue
        cands.append(n)
    return sorted(cands, key=lambda n: -len(cl.plist[n]))


def online_candidates(cl):
    return [n for n in range(cl.nnodes) if cl.nf[n * NF + OFFLINE]
            and any(t.startswith(STANDBY_PREFIX) for t in cl.noderecs[n].tags)]


def print_commands(opts, cmds):
    """maybeSaveCommands."""
    if opts.print_cmds == "-":
        out("")
        out("Commands to run:")
        for line in cmds.split("\n")[:-1] if cmds.endswith("\n") else cmds.split("\n"):
            if line != "  check":
                out("  " + line)
    elif opts.print_cmds is not None:
        with open(opts.print_cmds, "w", encoding="utf-8") as handle:
            handle.write(output.SH_TEMPLATE + cmds)
        out("The commands have been written to file '%s'" % opts.print_cmds)


def opcodes_tag(cl, n):
    return {"OP_ID": "OP_TAGS_SET", "kind": "node", "name": cl.noderecs[n].name,
            "tags": [STANDBY_AUTO]}


def opcodes_power(cl, nodes, on):
    """Node.genPowerOnOpCodes / genPowerOffOpCodes: the nodes marked
    online (offline), then one out-of-band power command for all."""
    names = [cl.noderecs[n].name for n in nodes]
    ops = [{"OP_ID": "OP_NODE_SET_PARAMS", "node_name": name, "force": False,
            "offline": not on, "auto_promote": False} for name in names]
    ops.append({"OP_ID": "OP_OOB_COMMAND", "node_names": names,
                "command": "power-on" if on else "power-off", "timeout": 60,
                "ignore_status": False, "power_delay": 2})
    return ops


def execute(opts, comment, jobsets):
    from qganeti.htools import execute as ex
    if not opts.exec_jobs:
        return
    if opts.luxi is None:
        raise ex.ExecError("Execution of commands possible only on LUXI")
    reason = "hsqueeze %s called" % ex.VERSION
    annotate = ex.annotator("hsqueeze", reason, "%s %s" % (comment, ex.VERSION),
                            getattr(opts, "priority", None))
    ex.exec_with_cancel(hbal.luxi_address(opts), jobsets, annotate)


def main(opts, args):
    from qganeti.htools import execute as ex
    if args:
        raise hbal.Fatal("This program doesn't take any arguments.")
    cl = hbal.load_cluster("hsqueeze", opts)
    if opts.save:
        hbal.save(cl, opts.save, "original", "before hsqueeze run")
    off_cands = offline_candidates(cl)
    on_cands = online_candidates(cl)
    if opts.verbose > 1:
        out("Offline candidates: " + ",".join(cl.noderecs[n].name for n in off_cands))
        out("Online candidates: " + ",".join(cl.noderecs[n].name for n in on_cands))
    min_row = test_instance(cl, opts.min_resources)
    trials = max(len(off_cands), len(on_cands)) + 1
    work = cl.ninsts * cl.nnodes * trials
    ACCELERATE[:] = [jit.aot_built() or work > COMPILE_THRESHOLD,
                     work > PARALLEL_THRESHOLD or not jit.aot_built()]
    if ACCELERATE[1]:
        # thousands of short parallel scans: OpenMP threads that spin
        # between them starve each other on a busy machine (5x slower)
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    alias = cl.node_aliases
    if not capacity_for(cl, min_row):
        found = try_online(cl, min_row, on_cands)
        nodes = on_cands if found is None else found
        if not opts.no_headers:
            out("'Nodes to online'")
        for n in nodes:
            out(cl.noderecs[n].name)
        if opts.verbose > 1 and found is None:
            out("Onlining all nodes will not yield enough capacity")
        final, jobs = try_state(cl, nodes, False)
        jobsets = output.split_jobs(jobs)
        print_commands(opts, "echo Power Commands\n"
                       + "".join("  gnt-node power -f on %s\n" % alias[n] for n in nodes)
                       + output.format_cmds(jobsets))
        ops = [([opcodes_power(cl, nodes, True)], "Powering on nodes")]
        ops += ex.move_jobsets(cl, jobsets, "Moving instances ")
        execute(opts, "expanding by %d nodes" % len(nodes), ops)
        if opts.save:
            hbal.save(final, opts.save, "squeezed", "after hsqueeze expansion")
        return 0
    target_row = test_instance(cl, opts.target_resources)
    chosen = greedy_offline(cl, target_row, off_cands)
    if not chosen:
        if not opts.no_headers:
            out("'No action'")
        print_commands(opts, "echo Nothing to do")
        if opts.save:
            hbal.save(cl, opts.save, "squeezed", "after hsqueeze doing nothing")
        return 0
    if not opts.no_headers:
        out("'Nodes to offline'")
    for n in chosen:
        out(cl.noderecs[n].name)
    final, jobs = try_state(cl, chosen, True)
    jobsets = output.split_jobs(jobs)
    print_commands(opts, output.format_cmds(jobsets)
                   + "\necho Tagging Commands\n"
                   + "".join("  gnt-node add-tags %s %s\n" % (alias[n], STANDBY_AUTO)
                             for n in chosen)
                   + "\necho Power Commands\n"
                   + "".join("  gnt-node power -f off %s\n" % alias[n] for n in chosen))
    ops = ex.move_jobsets(cl, jobsets, "Moving instances ")
    ops += [([[opcodes_tag(cl, n)]], "Tagging node %s with standby" % cl.noderecs[n].name)
            for n in chosen]
    ops += [([opcodes_power(cl, chosen, False)], "Powering off nodes")]
    execute(opts, "condensing by %d nodes" % len(chosen), ops)
    if opts.save:
        hbal.save(final, opts.save, "squeezed", "after hsqueeze run")
    return 0


def run(argv):
    from qganeti.htools.execute import ExecError
    return options.run(main, "hsqueeze", argv, OPTIONS, defaults=DEFAULTS,
                       errors=[(ExecError, "hsqueeze: "), (hbal.Fatal, "")])
