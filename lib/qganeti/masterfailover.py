"""Moving the master role (gnt-cluster master-failover), and the vote behind it.

Run on a master candidate, which holds replicas of config.data and the job
queue.  Unless --no-voting, every other node is asked who it believes the
master is (node/master-vote, its ssconf): the old master must have most
votes, and nodes that do not answer count as one vote for "nobody" (as
Ganeti's GatherMasterVotes), so a candidate cut off from most of the
cluster cannot take over.  Then the old master, if it answers, stops
(node/master-stop: luxid stops, the jobs it runs finish, and it hands over
its config.data and job files); this node takes the master role in its
config (serial_no above every copy it saw, so its config wins everywhere),
pushes config and ssconf to every node, and starts luxid, which runs the
jobs still queued.  luxid itself asks for the same agreement when it
starts, and stops when a config naming another master reaches it: a master
that was partitioned away cannot keep acting once it hears of the new one.
"""

import collections
import os
import subprocess

from qganeti import errors, fileio, paths, ssconf

STOP_TIMEOUT = 300.0
VOTE_TIMEOUT = 15.0


def gather_votes(nodes, cfg=None):
    """[(master or None, votes)], most votes first; and {node: answer}."""
    from qganeti import nodecall
    uuids = list(nodes)
    answers = nodecall.run_many(cfg, uuids, "master-vote", timeout=VOTE_TIMEOUT)
    counts = collections.Counter()
    for answer in answers.values():
        vote = answer.get("master") if isinstance(answer, dict) else None
        counts[vote or None] += 1
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0] is None, item[0] or ""))
    return ranked, answers


def check_agreement(cfg):
    """luxid's start (Ganeti's CheckAgreement): most other nodes must name this node."""
    me = paths.hostname()
    others = [n["name"] for n in cfg["nodes"].values()
              if n["name"] != me and not n.get("offline")]
    if not others:
        return
    ranked, _ = gather_votes(others, cfg)
    top, top_votes = ranked[0]
    all_votes = sum(votes for _, votes in ranked)
    if top != me:
        raise errors.OpPrereqError("It seems we are not the master (top-voted node is %s with"
                                   " %d out of %d votes)" % (top, top_votes, all_votes),
                                   errors.ECODE_STATE)
    if top_votes < all_votes - top_votes:
        raise errors.OpPrereqError("It seems we are not the master (%d votes for, %d votes"
                                   " against)" % (top_votes, all_votes - top_votes),
                                   errors.ECODE_STATE)


def failover(no_voting=False, ignore_offline=False, feedback=None):
    """Make this node the master; (exit code, warnings)."""
    from qganeti import config, nodecall
    say = feedback or (lambda text: None)
    me = paths.hostname()
    old_master = ssconf.read("master_node")
    if old_master is None:
        raise errors.OpPrereqError("Cluster not initialized or this machine is not part of a"
                                   " cluster", errors.ECODE_INVAL)
    candidates = ssconf.read_lines("master_candidates")
    if old_master == me:
        raise errors.OpPrereqError("This commands must be run on the node where you want the"
                                   " new master to be. %s is already the master" % old_master,
                                   errors.ECODE_INVAL)
    if me not in candidates:
        raise errors.OpPrereqError(
            "This node is not among the nodes marked as master candidates. The list of nodes"
            " marked as master candidates is:\n%s\nNote that this list may be outdated;"
            " please check it with gnt-node list if you are in doubt."
            % "\n".join(c for c in candidates if c != old_master), errors.ECODE_STATE)
    if not os.path.exists(paths.config_file()):
        raise errors.OpPrereqError("This node has no copy of the configuration yet; run"
                                   " 'gnt-cluster redist-conf' on the master",
                                   errors.ECODE_STATE)
    cfg = config.load()
    offline = set(ssconf.read_lines("offline_nodes")) if ignore_offline else set()
    others = [n for n in ssconf.read_lines("node_list") if n != me and n not in offline]
    serials = [_serial(cfg)]
    if not no_voting and others:
        ranked, answers = gather_votes(others, cfg)
        voted = ranked[0][0]
        if voted is None:
            raise errors.OpPrereqError("Cluster is inconsistent, most nodes did not respond.",
                                       errors.ECODE_ENVIRON)
        if voted != old_master:
            raise errors.OpPrereqError("I have a wrong configuration, I believe the master is"
                                       " %s but the other nodes voted %s. Please resync the"
                                       " configuration of this node." % (old_master, voted),
                                       errors.ECODE_STATE)
        serials += [a.get("serial", -1) for a in answers.values() if isinstance(a, dict)]
    warnings = []
    say("Stopping the master role on %s" % old_master)
    try:
        handed = nodecall.run(cfg, old_master, "master-stop",
                              ["--timeout", str(int(STOP_TIMEOUT))],
                              timeout=STOP_TIMEOUT + 60)
    except errors.GenericError as err:
        handed = None
        warnings.append("Could not disable the master role on the old master %s, please"
                        " disable manually: %s" % (old_master, err.args[0]))
    if handed:
        from qganeti import membership
        answer = membership.receive(handed)
        serials.append(answer.get("serial", -1))
    _take_role(me, max(serials))
    cfg = config.load()
    say("Distributing the configuration to the nodes")
    from qganeti import replicate
    for uuid, err in sorted(replicate.redistribute(cfg).items()):
        warnings.append("Could not update node %s: %s" % (cfg["nodes"][uuid]["name"], err))
    say("Starting the master daemon on %s" % me)
    argv = [os.path.join(paths.LIBEXEC_DIR, "daemon-util"), "start", "luxid"]
    if no_voting:
        argv.append("--no-voting")
    if subprocess.run(argv).returncode != 0:
        warnings.append("Could not start the master role on the new master %s, please"
                        " check: see %s" % (me, os.path.join(paths.log_dir(),
                                                            "luxi-daemon.log")))
        return 1, warnings
    return 0, warnings


def _serial(cfg):
    return int(cfg.get("serial_no", 0))


def _take_role(me, highest_serial):
    """This node becomes the master in its config.data (and so its ssconf)."""
    from qganeti import config

    def change(cfg):
        uuid = next(u for u, n in cfg["nodes"].items() if n["name"] == me)
        cfg["cluster"]["master_node"] = uuid
        cfg["nodes"][uuid]["master_candidate"] = True
        # the new config must win on every node: above any copy seen
        cfg["serial_no"] = max(cfg["serial_no"], highest_serial)
    config.update(change)


def vote():
    """This node's answer to a vote: its idea of the master, its config serial_no."""
    from qganeti import membership
    return {"master": ssconf.read("master_node"), "serial": membership.local_serial(),
            "name": paths.hostname()}


def stop_role(timeout=STOP_TIMEOUT):
    """On the old master: stop luxid, let running jobs end, hand over config and queue."""
    import time
    from qganeti import livelock, replicate
    daemon_util = os.path.join(paths.LIBEXEC_DIR, "daemon-util")
    subprocess.run([daemon_util, "stop", "luxid"], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    holders = _job_processes(livelock)
    while holders and time.monotonic() < deadline:
        time.sleep(0.2)
        holders = _job_processes(livelock)
    if holders:
        _terminate(holders)
    out = {"config": replicate.config_text()}
    out.update(replicate.job_payload())
    return out


def _job_processes(livelock):
    """{path: pid} of job processes still holding their live-lock here."""
    directory = paths.livelock_dir()
    found = {}
    for name in os.listdir(directory) if os.path.isdir(directory) else ():
        path = os.path.join(directory, name)
        if not name.startswith("job_") or not livelock.is_alive(path):
            continue
        text = fileio.read_first_line(path)
        if text and text.isdigit():
            found[path] = int(text)
    return found


def _terminate(holders):
    """SIGTERM (the job's undo steps run, it ends canceled), then SIGKILL."""
    import signal
    import time
    from qganeti import livelock
    for pid in holders.values():
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(livelock.is_alive(p) for p in holders):
        time.sleep(0.2)
    for path, pid in holders.items():
        if livelock.is_alive(path):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
