"""One disk image from a node to another, with volume-copy (used by move).

The receiver starts on the target node, listening on the node's secondary
IP, and says its port; the sender then streams from the source node to it.
Both get a fresh per-transfer key on stdin (besides the cluster certificate
TLS both present), so a receiver takes data only from the sender of this
transfer.  Progress lines of the sender go to FEEDBACK (the job log).

The receiver keeps what it got when a transfer fails (--resume): a copy
that fails once its receiver listens is tried again, the next attempt
sending only what is missing, and what was kept is discarded after the
last attempt fails.
"""

import secrets

from qganeti import errors

RECEIVER_START_TIMEOUT = 60.0
ATTEMPTS = 3


def copy(cfg, src_node, src_path, dst_node, dst_path, compress="none", feedback=None,
         timeout=24 * 3600.0):
    """Copy SRC_PATH on SRC_NODE to DST_PATH on DST_NODE (uuids); the
    sender's summary, with "kept": the bytes earlier attempts had sent."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return _attempt(cfg, src_node, src_path, dst_node, dst_path, compress, feedback,
                            timeout)
        except _Interrupted as err:
            if attempt == ATTEMPTS:
                _discard(cfg, dst_node, dst_path)
                raise errors.OpExecError(str(err))
            if feedback is not None:
                feedback("* copy of %s interrupted (%s); resuming, attempt %d of %d"
                         % (src_path, err, attempt + 1, ATTEMPTS))


class _Interrupted(errors.OpExecError):
    """The copy failed after its receiver listened: worth resuming."""


def _attempt(cfg, src_node, src_path, dst_node, dst_path, compress, feedback, timeout):
    from qganeti import fastjson, nodecall
    key = {"key": secrets.token_hex(32)}
    address = cfg["nodes"][dst_node]["secondary_ip"]
    receiver = nodecall.spawn(cfg, dst_node, "volume-copy",
                              ["receive", "--resume", "--bind", address, dst_path], key)
    try:
        line = receiver.readline(RECEIVER_START_TIMEOUT)
        try:
            port = int(fastjson.loads(line)["port"])
        except (TypeError, ValueError, KeyError):
            receiver.finish(10)      # raises with the receiver's own message
            raise errors.OpExecError("volume-copy receiver on %s did not start: %r"
                                     % (cfg["nodes"][dst_node]["name"], line))
    except BaseException:
        receiver.kill()
        raise
    try:
        sent = _send(cfg, src_node, address, port, src_path, compress, key, feedback, timeout)
        received = receiver.finish(120)
    except errors.GenericError as err:
        _settle(receiver)
        raise _Interrupted(err.args[0] if err.args else str(err))
    except BaseException:
        receiver.kill()
        raise
    if not received or received.get("sha256") != sent.get("sha256"):
        raise _Interrupted("Checksums differ after copying %s: sent %s, received %s"
                           % (src_path, sent.get("sha256"), (received or {}).get("sha256")))
    sent["kept"] = received.get("kept", 0)
    return sent


def _settle(receiver):
    """Let a failed transfer's receiver exit by itself (it sees the
    connection end), so that the next attempt finds its partial file
    unlocked; kill it if it does not."""
    try:
        receiver.finish(30)
    except errors.GenericError:
        pass
    finally:
        receiver.kill()


def _discard(cfg, node, path):
    from qganeti import nodecall
    try:
        nodecall.spawn(cfg, node, "volume-copy", ["discard", path]).finish(60)
    except errors.GenericError:
        pass        # the node is gone, or a stray transfer still writes into it


def _send(cfg, src_node, address, port, src_path, compress, key, feedback, timeout):
    from qganeti import nodecall
    pending = [b""]

    def on_stderr(chunk):
        pending[0] += chunk
        *lines, pending[0] = pending[0].split(b"\n")
        for line in lines:
            text = line.decode("utf-8", "replace").strip()
            if text and feedback is not None:
                feedback(text)

    sender = nodecall.spawn(cfg, src_node, "volume-copy",
                            ["send", "--compress", compress, address, str(port), src_path], key)
    try:
        return sender.finish(timeout, on_stderr)
    except BaseException:
        sender.kill()
        raise
