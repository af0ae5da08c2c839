"""Ganeti's hooks: pre and post scripts around an operation, on its nodes.

Scripts live in $ROOT/etc/qganeti/hooks/<hooks path>-<pre|post>.d/ on each
node; the node action hooks-run runs them run-parts style with a cleared
environment (PATH and the GANETI_* variables) and stdin from /dev/null.
A failing pre hook aborts the operation (errors.HooksAbort); post hook
failures are reported in the job's log.
"""

import os

from qganeti import paths

HOOKS_VERSION = 2
HKR_SKIP, HKR_FAIL, HKR_SUCCESS = 0, 1, 2
SCRIPT_TIMEOUT = 300.0
SAFE_PATH = "/sbin:/bin:/usr/sbin:/usr/bin"
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


def hooks_dir(hpath, phase):
    return os.path.join(paths.conf_dir(), "hooks", "%s-%s.d" % (hpath, phase))


def env_value(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (list, tuple)):
        return " ".join(env_value(v) for v in value)
    return str(value)


def build_env(cfg, hpath, phase, op_id, htype, lu_env, post_env=None):
    """The environment of one phase's scripts (GANETI_* names, text values)."""
    cluster = cfg["cluster"]
    master = cfg["nodes"].get(cluster["master_node"], {}).get("name", "")
    env = {
        "GANETI_HOOKS_VERSION": str(HOOKS_VERSION),
        "GANETI_HOOKS_PHASE": phase,
        "GANETI_HOOKS_PATH": hpath,
        "GANETI_OP_CODE": op_id,
        "GANETI_DATA_DIR": paths.data_dir().rstrip("/"),
        "GANETI_CLUSTER": cluster["cluster_name"],
        "GANETI_MASTER": master,
    }
    if htype:
        env["GANETI_OBJECT_TYPE"] = htype
    for key, value in (lu_env or {}).items():
        env["GANETI_" + key] = env_value(value)
    for key, value in (post_env or {}).items():
        env["GANETI_POST_" + key] = env_value(value)
    return env


def run_local(hpath, phase, env):
    """Run this node's scripts for HPATH/PHASE; [[script, status, output]...]."""
    directory = hooks_dir(hpath, phase)
    try:
        names = sorted(os.listdir(directory))
    except (FileNotFoundError, NotADirectoryError):
        return []
    clean = {"PATH": SAFE_PATH}
    clean.update((k, v) for k, v in env.items() if k.startswith("GANETI_"))
    results = []
    import subprocess   # here: the op programs that import this module run no script
    for name in names:
        path = os.path.join(directory, name)
        if not name or not _NAME_CHARS.issuperset(name) or not os.path.isfile(path) or not os.access(path, os.X_OK):
            results.append([name, HKR_SKIP, ""])
            continue
        try:
            proc = subprocess.run([path], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, env=clean, cwd="/",
                                  timeout=SCRIPT_TIMEOUT)
            output = proc.stdout.decode("utf-8", "replace").strip()
            status = HKR_SUCCESS if proc.returncode == 0 else HKR_FAIL
        except subprocess.TimeoutExpired:
            status, output = HKR_FAIL, "Script timed out after %d seconds" % SCRIPT_TIMEOUT
        except OSError as err:
            status, output = HKR_FAIL, "Cannot execute script: %s" % err
        results.append([name, status, output])
    return results


def _to_run(cfg, hpath, phase, node_uuids):
    """The nodes that may have scripts for the phase: this node only if it has
    the phase's directory (asking it would be an exec for nothing); offline
    nodes are not contacted (as Ganeti's RPC runner does)."""
    from qganeti import nodecall
    return [uuid for uuid in dict.fromkeys(node_uuids or ())
            if not (nodecall.is_local(cfg["nodes"].get(uuid, {}).get("name", uuid))
                    and not os.path.isdir(hooks_dir(hpath, phase)))
            and not cfg["nodes"].get(uuid, {}).get("offline")]


def has_work(cfg, hpath, phase, node_uuids):
    """Whether running the phase on NODE_UUIDS can run any script at all."""
    return bool(_to_run(cfg, hpath, phase, node_uuids))


def run_phase(cfg, hpath, phase, env, node_uuids, log):
    """Run a phase on NODE_UUIDS; the failed scripts as (node, script, output).

    Nodes that cannot be reached only get a warning in the log: they do not
    veto an operation (as in Ganeti).
    """
    from qganeti import nodecall
    failures = []
    wanted = _to_run(cfg, hpath, phase, node_uuids)
    if not wanted:
        return failures
    results = nodecall.run_many(cfg, wanted, "hooks-run", [hpath, phase], env)
    for uuid, result in results.items():
        name = cfg["nodes"].get(uuid, {}).get("name", uuid)
        if isinstance(result, Exception):
            log("Communication failure to node %s: %s" % (name, result))
            continue
        for script, status, output in result or []:
            if status == HKR_FAIL:
                failures.append((name, script, output))
    return failures
