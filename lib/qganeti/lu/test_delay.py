"""OP_TEST_DELAY: sleep on the master and/or nodes, for testing and debugging."""

import os
import time

from qganeti import errors, jqueue


def expand(op, ctx):
    if op["duration"] <= 0:
        raise errors.OpPrereqError("Duration must be greater than zero")
    if not op["on_nodes"] and op["no_locks"]:
        return []     # a plain sleep here: no need to read the config at all
    from qganeti import config
    cfg = ctx.config()
    uuids = [config.node_uuid(cfg, name) for name in op["on_nodes"]]
    master = cfg["cluster"]["master_node"]
    if op["on_master"] and master not in uuids:
        uuids.append(master)
    op["on_node_uuids"] = uuids
    if op["no_locks"]:
        return []
    return [("node/" + uuid, "exclusive") for uuid in sorted(uuids)]


def interruptible_delay(op, ctx):
    """Ganeti's socket-based delay: connecting to the socket ends it early."""
    import socket
    import tempfile
    tmpdir = tempfile.mkdtemp()
    path = os.path.join(tmpdir, "sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
        sock.listen(1)
        ctx.feedback([path], jqueue.ELOG_DELAY_TEST)
        sock.settimeout(op["duration"])
        start = time.time()
        try:
            conn, _ = sock.accept()
        except socket.timeout:
            return False
    finally:
        sock.close()
        os.unlink(path) if os.path.exists(path) else None
        os.rmdir(tmpdir)
    try:
        to_go = max(0, op["duration"] - (time.time() - start))
        ctx.log_info("Received connection, time to go is %d" % to_go)
        conn.settimeout(to_go)
        try:
            conn.recv(1)
        except socket.timeout:
            return False
    finally:
        conn.close()
    ctx.log_info("Interrupted, time spent waiting: %d" % (time.time() - start))
    return True


def delay(op, ctx):
    """Sleep here (on_master), then on the other nodes at once (Ganeti's _TestDelay)."""
    if op["interruptible"]:
        return interruptible_delay(op, ctx)
    if op["on_master"] or not op.get("on_node_uuids"):
        time.sleep(op["duration"])
    remote = [u for u in (op.get("on_node_uuids") or []) if not _is_me(u, ctx)]
    if remote:
        from qganeti import nodecall
        cfg = ctx.config()
        # as Ganeti's test_delay RPC: the node gets the duration and 5 seconds more
        results = nodecall.run_many(cfg, remote, "test-delay", [str(op["duration"])],
                                    timeout=op["duration"] + 5)
        for uuid in remote:
            if isinstance(results[uuid], errors.GenericError):
                raise errors.OpExecError("Failure during rpc call to node %s: %s"
                                         % (cfg["nodes"][uuid]["name"],
                                            results[uuid].args[0]))
    return False


def _is_me(uuid, ctx):
    return uuid == ctx.config()["cluster"]["master_node"]


def run(op, ctx):
    if op["repeat"] == 0:
        delay(op, ctx)
        return None
    top = op["repeat"] - 1
    for i in range(op["repeat"]):
        ctx.log_info("Test delay iteration %d/%d" % (i, top))
        if delay(op, ctx):
            break
    return None
