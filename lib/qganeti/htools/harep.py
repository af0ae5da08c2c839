"""harep: repair instances as their autorepair tags allow (Ganeti 3.0.2's
Program/Harep.hs, same tags, jobs and output).

Policy tags (instance, else its node group, else the cluster):
ganeti:watcher:autorepair:<type> enables repairs up to <type>
(fix-storage < migrate < failover < reinstall), ...:suspend:[<time>]
suspends them.  Progress is kept in instance tags:
...:pending:<type>:<uuid>:<time>:<job+job> while the repair's jobs run,
...:result:<type>:<uuid>:<time>:<success|failure|enoperm>:<jobs> after.
"""

import json
import sys
import time
import uuid as uuidmod

from qganeti.htools import hbal, hsfmt, options
from qganeti.htools import consts as C
from qganeti.htools.cluster import sep_split
from qganeti.htools.options import NOARG, REQARG, _opt

PREFIX = "ganeti:watcher:autorepair:"
PENDING = PREFIX + "pending:"
RESULT = PREFIX + "result:"
SUSPENDED = PREFIX + "suspend:"
TYPES = ["fix-storage", "migrate", "failover", "reinstall"]     # in Ganeti's order
TYPE_NAMES = ["ArFixStorage", "ArMigrate", "ArFailover", "ArReinstall"]
RESULTS = ["success", "failure", "enoperm"]                      # in Ganeti's order
UNFINISHED = ("queued", "waiting", "canceling", "running")

OWN = {
    "job_delay": _opt("", ["job-delay"], REQARG, "SECONDS",
                      "insert this much delay before the execution of repair jobs to allow "
                      "the tool to continue processing instances", "float",
                      options.setter("job_delay",
                                     lambda a: options.read_double("job delay", a))),
    "dry_run": _opt("", ["dry-run"], NOARG, "",
                    "do not execute any commands and just report what would be done", "none",
                    options.flag("dry_run")),
}
DEFAULTS = {"job_delay": 10.0, "dry_run": False}
OPTIONS = ["luxi", OWN["job_delay"], "reason", OWN["dry_run"]]

out = hbal.out


class Fatal(Exception):
    pass


def _hs_space(char):
    """Haskell's isSpace."""
    code = ord(char)
    if code == 32 or 9 <= code <= 13 or code == 0xA0:
        return True
    if code <= 0x377:
        return False
    import unicodedata
    return unicodedata.category(char) == "Zs"


_SYMBOL = set("!#$%&*+./<=>?@\\^|-~:")


def read_integer(text):
    """Ganeti's tryRead of an Integer (Haskell's reads, all of the text
    consumed): blanks before a token, a minus sign as its own token, 0x
    and 0o literals and parentheses are read; nothing may follow (not even
    a blank).  None when the text does not parse."""

    def skip(i):
        while i < len(text) and _hs_space(text[i]):
            i += 1
        return i

    def number(i):
        """(value, end) of an unsigned literal at i, else None."""
        for prefixes, digits, base in ((("0x", "0X"), "0123456789abcdefABCDEF", 16),
                                       (("0o", "0O"), "01234567", 8)):
            if text.startswith(prefixes, i):
                j = i + 2
                while j < len(text) and text[j] in digits:
                    j += 1
                if j > i + 2:
                    return int(text[i + 2:j], base), j
        j = i
        while j < len(text) and "0" <= text[j] <= "9":
            j += 1
        if j == i:
            return None
        if j < len(text) and text[j] in ".eE":
            # a fraction or an exponent makes it a non-integer number
            k = j + 1
            if text[j] in "eE" and k < len(text) and text[k] in "+-":
                k += 1
            if k < len(text) and "0" <= text[k] <= "9":
                return None
        return int(text[i:j]), j

    def value(i):
        i = skip(i)
        if text.startswith("(", i):
            found = value(i + 1)
            if found is None:
                return None
            got, j = found
            j = skip(j)
            return (got, j + 1) if text.startswith(")", j) else None
        sign = 1
        if text.startswith("-", i):
            if i + 1 < len(text) and text[i + 1] in _SYMBOL:
                return None
            sign, i = -1, skip(i + 1)
        found = number(i)
        if found is None:
            return None
        return sign * found[0], found[1]

    found = value(0)
    if found is None or found[1] != len(text):
        return None
    return found[0]


def read_job_id(text):
    """makeJobIdS: a non-negative Int (read as Haskell's Int: wrapping
    to 64 bits), else None."""
    got = read_integer(text)
    if got is None:
        return None
    got = (got + 2 ** 63) % 2 ** 64 - 2 ** 63
    return got if got >= 0 else None


def show_clock_time(seconds):
    """old-time's Show for a ClockTime: the local calendar time as
    "%a %b %e %H:%M:%S %Z %Y", the seconds taken as a 64-bit time_t (old-time
    converts them with fromIntegral, which wraps).  A time beyond the C
    library's years ends harep with exit code 1, as Ganeti's dies there
    (with a Haskell error and a meaningless month number)."""
    wrapped = (seconds + 2 ** 63) % 2 ** 64 - 2 ** 63
    try:
        return time.strftime("%a %b %e %H:%M:%S %Z %Y", time.localtime(wrapped))
    except (OverflowError, OSError, ValueError):
        raise options.Exit(1, "harep: toCalendarTime: cannot show the time %d\n" % seconds)


class RepairData:
    """AutoRepairData: one repair task as its tag records it."""

    def __init__(self, rtype, uuid, when, jobs, result, tag=""):
        self.rtype, self.uuid, self.when, self.jobs, self.result = rtype, uuid, when, jobs, \
            result
        self.tag = tag

    def retag(self):
        fields = [TYPES[self.rtype], self.uuid, "%d" % self.when]
        if self.result is None:
            prefix = PENDING
        else:
            prefix, fields = RESULT, fields + [RESULTS[self.result]]
        self.tag = prefix + ":".join(fields + ["+".join(str(j) for j in self.jobs)])
        return self


def parse_tag(tag):
    """parseInitTag: a pending or result tag, or None."""
    for prefix, count in ((PENDING, 4), (RESULT, 5)):
        if not tag.startswith(prefix):
            continue
        parts = sep_split(":", tag[len(prefix):])
        if len(parts) != count or parts[0] not in TYPES:
            continue
        when = read_integer(parts[2])
        jobs = [read_job_id(j) for j in sep_split("+", parts[-1])]
        if when is None or None in jobs:
            continue
        result = None
        if count == 5:
            if parts[3] not in RESULTS:
                continue
            result = RESULTS.index(parts[3])
        return RepairData(TYPES.index(parts[0]), parts[1], when, jobs, result, tag)
    return None


# states: ("healthy", data or None), ("failure", d), ("pending", d), ("needs", d)
STATE_NAMES = {"healthy": "Healthy", "failure": "Failure", "pending": "Pending repair",
               "needs": "Needs repair"}


class Inst:
    def __init__(self, i, name, tags):
        self.i, self.name, self.tags = i, name, tags
        self.state = ("healthy", None)
        self.remove = []

    def drop_current(self):
        """delCurTag: the current state's tag joins those to remove."""
        data = self.state[1]
        return ([data.tag] if data is not None else []) + self.remove


def initial_state(inst):
    """setInitialState: the tasks by uuid, oldest first; the earliest
    failure wins, a second pending task is an error."""
    datas = [d for d in (parse_tag(t) for t in inst.tags) if d is not None]
    datas.sort(key=lambda d: d.uuid)
    groups = []
    for d in datas:
        if groups and groups[-1][0].uuid == d.uuid:
            groups[-1].append(d)
        else:
            groups.append([d])
    groups.sort(key=lambda g: min(d.when for d in g))
    for group in groups:
        new = sorted(group, key=lambda d: (-1 if d.result is None else d.result, d.when))[-1]
        kind = {None: "pending", 0: "healthy", 2: "healthy", 1: "failure"}[new.result]
        cur = inst.state
        if cur[0] == "failure":
            continue
        if cur[0] == "healthy":
            inst.remove = inst.drop_current()
            inst.state = (kind, new)
            continue
        raise Fatal("An unfinished repair was found in instance %s: found tag %s, but older "
                    "pending tag %sexists." % (inst.name, hsfmt.show_string(new.tag),
                                               hsfmt.show_string(cur[1].tag)))


def policy_of(tags, now):
    """getArPolicy: ("enabled", type) | ("suspended", None or time) | None."""
    enabled = [TYPES.index(t[len(PREFIX):]) for t in tags
               if t.startswith(PREFIX) and t[len(PREFIX):] in TYPES]
    suspended = [t[len(SUSPENDED):] for t in tags if t.startswith(SUSPENDED)]
    future = []
    for text in suspended:
        when = read_integer(text)
        if when is not None and when > now:
            future.append(when)
    if "" in suspended:
        return ("suspended", None)
    if future:
        return ("suspended", max(future))
    if enabled:
        return ("enabled", min(enabled))
    return None


def show_policy(pol):
    if pol[0] == "enabled":
        return "ArEnabled " + TYPE_NAMES[pol[1]]
    if pol[0] == "suspended":
        if pol[1] is None:
            return "ArSuspended Forever"
        return "ArSuspended (Until %s)" % show_clock_time(pol[1])
    return "ArNotEnabled"


def policies(cl, now):
    cpol = policy_of(cl.ctags, now) or ("notenabled", None)
    gpols = [policy_of(g.tags, now) or cpol for g in cl.groups]
    return [policy_of(rec.tags, now) or gpols[cl.node_group(rec.pnode)]
            for rec in cl.instrecs]


def broken(cl, i):
    """detectBroken: (repair type, opcodes) or None."""
    rec = cl.instrecs[i]
    name = rec.name
    off_p = cl.is_offline(rec.pnode)
    reinstall = [{"OP_ID": "OP_INSTANCE_RECREATE_DISKS", "instance_name": name, "disks": [],
                  "nodes": [], "iallocator": "hail"},
                 {"OP_ID": "OP_INSTANCE_REINSTALL", "instance_name": name,
                  "force_variant": False}]
    if rec.dt == C.DT_DRBD:
        off_s = cl.is_offline(rec.snode)
        if off_p and off_s:
            return 3, reinstall
        if off_p:
            return 2, [{"OP_ID": "OP_INSTANCE_FAILOVER", "instance_name": name,
                        "shutdown_timeout": 120, "ignore_consistency": False,
                        "ignore_ipolicy": False, "cleanup": False}]
        if off_s:
            return 0, [{"OP_ID": "OP_INSTANCE_REPLACE_DISKS", "instance_name": name,
                        "early_release": False, "ignore_ipolicy": False,
                        "mode": "replace_new_secondary", "disks": [], "iallocator": "hail"}]
        return None
    if rec.dt == C.DT_PLAIN and off_p:
        return 3, reinstall
    return None


def _number(value):
    return int(value) if float(value).is_integer() else value


class Runner:
    """LUXI work: jobs submitted with Ganeti's comment and reason."""

    def __init__(self, address, opts):
        from qganeti import luxi
        from qganeti.htools import execute
        self.client = luxi.Client(address)
        self.dry = opts.dry_run
        reason = opts.reason or "harep %s called" % execute.VERSION
        self.execute = execute
        self.reason = reason
        self.comment = "automated repairs by harep %s" % execute.VERSION

    def annotate(self, op):
        return self.execute.annotator("harep", self.reason, self.comment)(op)

    def submit(self, ops):
        try:
            results = self.client.SubmitManyJobs([[self.annotate(op) for op in ops]])
        except Exception as exc:  # any LUXI failure ends the run
            raise Fatal("Job submission error: %s" % exc)
        ok, value = results[0]
        if not ok:
            raise Fatal("Job submission error: %s" % value)
        return [int(value)]

    def run_and_wait(self, ops):
        """execJobsWaitOk."""
        ids = self.submit(ops)
        try:
            statuses = self.execute.wait_for_jobs(self.client, ids)
        except self.execute.ExecError as exc:
            raise Fatal(str(exc))
        failed = [(j, st) for j, st in statuses if st != "success"]
        if failed:
            raise Fatal("The following jobs failed: " + ", ".join(
                "%d=>%s" % (j, st) for j, st in failed))

    def statuses(self, jobs):
        try:
            rows = self.client.QueryJobs(jobs, ["status"])
        except Exception as exc:
            raise Fatal("could not check job status: %s" % exc)
        return [row[0] if row else None for row in rows]

    def commit(self, inst):
        """commitChange: the state's tag added, old ones removed."""
        data = inst.state[1]
        if data is not None:
            out(">>> Adding the following tag to %s:\n%s" % (inst.name,
                                                            hsfmt.show_string(data.tag)))
            if not self.dry:
                self.run_and_wait([{"OP_ID": "OP_TAGS_SET", "kind": "instance",
                                    "name": inst.name, "tags": [data.tag]}])
        if inst.remove:
            sys.stdout.write(">>> Removing the following tags from %s:\n%s" % (
                inst.name, "".join(hsfmt.show_string(t) + "\n" for t in inst.remove)))
            if not self.dry:
                self.run_and_wait([{"OP_ID": "OP_TAGS_DEL", "kind": "instance",
                                    "name": inst.name, "tags": list(inst.remove)}])
        inst.remove = []

    def process_pending(self, inst):
        kind, data = inst.state
        if kind != "pending":
            return
        statuses = self.statuses(data.jobs)
        if any(st in UNFINISHED for st in statuses):
            return
        done = all(st == "success" for st in statuses)
        new = RepairData(data.rtype, data.uuid, int(time.time()), data.jobs,
                         0 if done else 1).retag()
        new_state = ("healthy" if done else "failure", new)
        out("Moving %s from %s to %s" % (inst.name, hsfmt.show_string(STATE_NAMES[kind]),
                                         hsfmt.show_string(STATE_NAMES[new_state[0]])))
        inst.remove = inst.drop_current()
        inst.state = new_state
        self.commit(inst)

    def repair(self, inst, pol, rtype, ops, delay):
        if pol is None or pol[0] != "enabled":
            out("Not repairing %s because it's in state %s"
                % (inst.name, show_policy(pol or ("notenabled", None))))
            return
        if rtype > pol[1]:
            data = RepairData(rtype, str(uuidmod.uuid4()), int(time.time()), [], 2).retag()
            out("Not performing a repair of type %s on %s because only repairs up to %s are "
                "allowed" % (TYPE_NAMES[rtype], inst.name, TYPE_NAMES[pol[1]]))
            inst.remove = inst.drop_current()
            inst.state = ("needs", data)
            self.commit(inst)
            return
        out("Executing %s repair on %s" % (TYPE_NAMES[rtype], inst.name))
        if delay > 0:
            ops = [{"OP_ID": "OP_TEST_DELAY", "duration": _number(delay), "on_master": True,
                    "on_nodes": [], "repeat": 0, "interruptible": False,
                    "no_locks": False}] + ops
        started = str(uuidmod.uuid4()), int(time.time())
        if self.dry:
            out("jobs: " + json.dumps([ops], separators=(",", ":")))
            jobs = []
        else:
            jobs = self.submit(ops)
        data = RepairData(rtype, started[0], started[1], jobs, None).retag()
        inst.remove = inst.drop_current()
        inst.state = ("pending", data)
        self.commit(inst)


def main(opts, args):
    if args:
        raise hbal.Fatal("this program doesn't take any arguments.")
    if opts.luxi is None:
        opts.luxi = ""
    address = hbal.luxi_address(opts)
    cl = hbal.load_cluster("harep", opts)
    now = int(time.time())
    pols = policies(cl, now)
    insts = [Inst(i, rec.name, rec.tags) for i, rec in enumerate(cl.instrecs)]
    try:
        for inst in insts:
            initial_state(inst)
    except Fatal as exc:
        raise hbal.Fatal("when parsing auto-repair tags: %s" % exc)
    runner = Runner(address, opts)
    try:
        for inst in insts:
            runner.process_pending(inst)
        for inst in insts:
            found = broken(cl, inst.i)
            if found is not None and inst.state[0] == "healthy":
                runner.repair(inst, pols[inst.i], found[0], found[1], opts.job_delay)
    except Fatal as exc:
        raise hbal.Fatal(str(exc))
    finally:
        runner.client.close()
    counts = {}
    for inst in insts:
        name = STATE_NAMES[inst.state[0]]
        counts[name] = counts.get(name, 0) + 1
    out("---------------------")
    out("Instance status count")
    out("---------------------")
    for name in sorted(counts):
        out("%s: %d" % (name, counts[name]))
    return 0


def run(argv):
    return options.run(main, "harep", argv, OPTIONS, defaults=DEFAULTS,
                       errors=[(hbal.Fatal, "")])
