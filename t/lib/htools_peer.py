#!/usr/bin/env python3
"""Run one of our htools and Debian's Ganeti 3.0.2 peer on the same input
and compare what they print (stdout, stderr, exit code, saved files).

Used by the differential tests (t/unit/test_htools_*.py, t/06*.bats) and
by hand:  t/lib/htools_peer.py hbal -t FILE [options...]
"""
import difflib
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TREE = os.path.normpath(os.path.join(HERE, "..", ".."))
OURS = {"hbal": os.path.join(TREE, "bin", "hbal"),
        "hail": os.path.join(TREE, "libexec", "qganeti", "iallocators", "hail")}
PEERS = {"hbal": "/usr/bin/hbal", "hail": "/usr/lib/ganeti/iallocators/hail"}
for _prog in ("hspace", "hinfo", "hcheck", "hscan", "hsqueeze", "hroller", "harep"):
    OURS[_prog] = os.path.join(TREE, "bin", _prog)
    PEERS[_prog] = "/usr/bin/" + _prog
# the first line of usage texts names the program's origin and version
_VERSION = re.compile(r"^(hbal|hail|hspace|hinfo|hcheck|hscan|hsqueeze|hroller|harep)"
                      r" \((q?ganeti)\) version .*$", re.M)


def peer_available(prog):
    return os.access(PEERS[prog], os.X_OK)


def run(command, cwd, stdin=None, timeout=600):
    proc = subprocess.run(command, cwd=cwd, input=stdin, capture_output=True,
                          timeout=timeout)
    return proc.returncode, proc.stdout.decode(errors="replace"), \
        proc.stderr.decode(errors="replace")


def outcome(prog, argv, which, stdin=None, files=()):
    """Run ours or the peer in a scratch directory; saved files (given
    relative names) are read back.  Returns a dict."""
    exe = OURS[prog] if which == "ours" else PEERS[prog]
    with tempfile.TemporaryDirectory(prefix="htools-%s-" % which) as tmp:
        code, out, err = run([exe] + list(argv), tmp, stdin)
        saved = {}
        for name in files:
            path = os.path.join(tmp, name)
            saved[name] = open(path).read() if os.path.exists(path) else None
    return {"code": code, "stdout": _normal(out), "stderr": _normal(err), "files": saved}


# Deliberate differences: the version line, and -L's default socket, which
# is our luxid's under $QGANETI_ROOT
_SOCKET = "[$QGANETI_ROOT/var/run/qganeti/socket/ganeti-query]"


def _normal(text):
    text = _VERSION.sub("VERSION", text)
    return text.replace(_SOCKET, "[/var/run/ganeti/socket/ganeti-query]")


def compare(prog, argv, stdin=None, files=()):
    """Differences between ours and the peer, as a list of texts."""
    ours = outcome(prog, argv, "ours", stdin, files)
    peer = outcome(prog, argv, "peer", stdin, files)
    diffs = []
    for key in ("code", "stdout", "stderr", "files"):
        if ours[key] != peer[key]:
            if isinstance(ours[key], str):
                text = "".join(difflib.unified_diff(
                    peer[key].splitlines(True), ours[key].splitlines(True), "ganeti",
                    "ours"))
            else:
                text = "--- ganeti\n%s\n+++ ours\n%s" % (peer[key], ours[key])
            diffs.append("%s differs:\n%s" % (key, text))
    return diffs


if __name__ == "__main__":
    problems = compare(sys.argv[1], sys.argv[2:])
    print("\n".join(problems) if problems else "same")
    sys.exit(1 if problems else 0)
