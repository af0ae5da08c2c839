"""sshcall against real sshds: a one-node virtual cluster (t/lib/vcluster)."""

import os
import subprocess
import time

import pytest

from qganeti import nodecall, sshcall, sshkeys

TREE = os.path.join(os.path.dirname(__file__), "..", "..")
VCLUSTER = os.path.join(TREE, "t", "lib", "vcluster")


@pytest.fixture(scope="module")
def vc(tmp_path_factory):
    directory = tmp_path_factory.mktemp("vc")
    proc = subprocess.run([VCLUSTER, "up", "1", str(directory)], capture_output=True,
                          text=True)
    if proc.returncode == 77:
        pytest.skip("no virtual cluster here: %s" % proc.stderr.strip())
    assert proc.returncode == 0, proc.stderr
    env = dict(line.split("=", 1) for line in
               (directory / "vcluster.env").read_text().splitlines())
    yield directory, int(env["VCLUSTER_SSH_PORT"])
    sshcall.close_all()
    subprocess.run([VCLUSTER, "down", str(directory)], check=True)


@pytest.fixture
def master(vc, tmp_path, monkeypatch):
    """This process as a master whose cluster key node1 accepts."""
    directory, port = vc
    monkeypatch.setenv("QGANETI_ROOT", str(tmp_path))
    monkeypatch.setenv("QGANETI_HOSTNAME", "master.example.com")
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    sshkeys.generate("ed25519")
    _, _, public = sshkeys.read_pair()
    with open(directory / "node1/var/lib/qganeti/ssh/authorized_keys", "a") as handle:
        handle.write(public)
    sshcall.close_all()
    cfg = {"cluster": {"ndparams": {"ssh_port": port}},
           "nodegroups": {"g": {"ndparams": {}}},
           "nodes": {"u1": {"name": "node1.example.com", "primary_ip": "127.0.0.11",
                            "group": "g", "ndparams": {}}}}
    return cfg, port


def test_unknown_host_key_refused_then_gathered(master):
    cfg, port = master
    with pytest.raises(sshcall.HostKeyError, match="is unknown"):
        sshcall.connect("node1.example.com", "127.0.0.11", port)
    sshcall.connect("node1.example.com", "127.0.0.11", port, accept_new=True).close()
    assert sshkeys.host_key("node1.example.com")[0] == "ssh-ed25519"
    assert nodecall.run(cfg, "u1", "version")["name"] == "node1.example.com"


def test_changed_host_key_refused(master):
    cfg, port = master
    sshkeys.record_host_key("node1.example.com", "127.0.0.11", "ssh-ed25519",
                            "AAAAC3NzaC1lZDI1NTE5AAAAIOtPH+NWTUmlFcG8VTbreos6zBO9vuWoQ0P1skn692fr")
    with pytest.raises(sshcall.HostKeyError, match="has changed"):
        nodecall.run(cfg, "u1", "version")
    with pytest.raises(sshcall.HostKeyError, match="has changed"):
        sshcall.connect("node1.example.com", "127.0.0.11", port, accept_new=True)
    sshcall.connect("node1.example.com", "127.0.0.11", port, accept_new="replace").close()
    assert nodecall.run(cfg, "u1", "version")["protocol"] == 3000000


def test_argv_reaches_the_program_untouched_and_stdio_comes_back(master):
    cfg, port = master
    sshcall.connect("node1.example.com", "127.0.0.11", port, accept_new=True).close()
    transport = sshcall.connect("node1.example.com", "127.0.0.11", port)
    odd = ["a b", "x;y", "$(touch /tmp/qganeti-pwned)", "'\"", "--force"]
    code, out, err = sshcall.execute(
        transport, ["/bin/sh", "-c", 'printf "%s|" "$@"; cat; echo oops >&2; exit 7', "sh"] +
        odd, b"stdin data")
    transport.close()
    assert code == 7
    assert out == ("|".join(odd) + "|stdin data").encode()
    assert err == b"oops\n"
    assert not os.path.exists("/tmp/qganeti-pwned")


def test_failures_become_node_call_errors(master):
    cfg, port = master
    sshcall.connect("node1.example.com", "127.0.0.11", port, accept_new=True).close()
    with pytest.raises(nodecall.NodeCallError) as info:
        nodecall.run(cfg, "u1", "instance-start", ["fake", "bad/name", "1", "1"])
    assert "instance-start failed: instance-start: fatal: unable to start instance" in \
        str(info.value.args[0])
    assert info.value.args[3] == 100
    with pytest.raises(nodecall.NodeCallError, match="test-delay timed out after 1"):
        nodecall.run(cfg, "u1", "test-delay", ["5"], timeout=1)
    cfg["cluster"]["ndparams"]["ssh_port"] = 1
    sshcall.close_all()
    started = time.monotonic()
    with pytest.raises(nodecall.NodeCallError, match="cannot connect to 127.0.0.11 port 1"):
        nodecall.run(cfg, "u1", "version")
    assert time.monotonic() - started < 5


def test_many_nodes_at_once_and_a_kept_connection(master):
    cfg, port = master
    sshcall.connect("node1.example.com", "127.0.0.11", port, accept_new=True).close()
    results = nodecall.run_many(cfg, ["u1"], "test-delay", ["0.1"])
    assert results == {"u1": True}
    first = sshcall._pool[("127.0.0.11", port)]
    nodecall.run(cfg, "u1", "version")
    assert sshcall._pool[("127.0.0.11", port)] is first
