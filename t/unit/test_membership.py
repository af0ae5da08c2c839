import json
import os

import pytest

from qganeti import errors, jqueue, membership, paths, sshkeys, tlscert


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("QGANETI_ROOT", str(tmp_path))
    return tmp_path


def config(serial, master="node1"):
    return json.dumps({"serial_no": serial, "cluster": {"master": master}})


def test_highest_serial_wins_unless_forced(root):
    assert membership.receive({"config": config(5)}) == {"config": "written", "serial": 5}
    assert membership.receive({"config": config(4)}) == {"config": "kept", "serial": 5}
    assert membership.receive({"config": config(5)})["config"] == "kept"
    assert json.load(open(paths.config_file()))["serial_no"] == 5
    assert membership.receive({"config": config(3), "force": True})["config"] == "written"
    assert membership.local_serial() == 3
    with pytest.raises(errors.OpPrereqError):
        membership.receive({"config": "not json"})


def test_ssconf_known_hosts_and_jobs(root):
    out = membership.receive({"ssconf": {"cluster_name": "c.example.com\n"},
                              "known_hosts": "n1 ssh-ed25519 AAAA\n",
                              "jobs": {"7": '{"id": 7}', "8": '{"id": 8}'},
                              "queue_serial": 64})
    assert out["ssconf"] == ["cluster_name"] and out["jobs"] == 2
    assert open(paths.ssconf_file("cluster_name")).read() == "c.example.com\n"
    assert sshkeys.host_key("n1") == ("ssh-ed25519", "AAAA")
    assert jqueue.load(7) == {"id": 7} and jqueue.read_serial() == 64
    membership.receive({"jobs": {"8": None}, "archived": {"7": '{"id": 7, "a": 1}'},
                        "queue_serial": 10})
    assert not os.path.exists(jqueue.job_file(7)) and not os.path.exists(jqueue.job_file(8))
    assert jqueue.load(7, archived=True) == {"id": 7, "a": 1}
    assert jqueue.read_serial() == 64           # the serial never goes back
    with pytest.raises(errors.OpPrereqError):
        membership.receive({"jobs": {"../x": "{}"}})
    with pytest.raises(ValueError):
        membership.receive({"ssconf": {"../../etc/passwd": "x"}})


def test_join_installs_keys_and_refuses_another_cluster(root, tmp_path_factory, monkeypatch):
    master = tmp_path_factory.mktemp("master")
    monkeypatch.setenv("QGANETI_ROOT", str(master))
    sshkeys.generate("ed25519")
    tlscert.ensure()
    name, private, public = sshkeys.read_pair()
    payload = {"cluster_name": "c.example.com", "key_name": name, "private": private,
               "public": public, "known_hosts": "m ssh-ed25519 AAAA\n",
               "certificate": tlscert.read(), "file_storage_dir": "/srv/fs"}
    monkeypatch.setenv("QGANETI_ROOT", str(root))
    assert membership.join(payload) == {"joined": "c.example.com"}
    assert sshkeys.read_pair() == (name, private, public)
    assert public.split()[1] in open(sshkeys.authorized_keys_file()).read()
    assert tlscert.read() == payload["certificate"]
    assert (root / "srv/fs").is_dir()
    membership.receive({"ssconf": {"cluster_name": "other.example.com\n"}})
    with pytest.raises(errors.OpPrereqError, match="belongs to cluster other.example.com"):
        membership.join(payload)
    assert membership.join(dict(payload, force=True))


def test_leave_forgets_the_cluster_but_keeps_other_logins(root):
    sshkeys.generate("ed25519")
    sshkeys.authorize("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOtPH+NWTUmlFcG8VTbreos6zBO9vuWoQ0P1skn692fr op")
    tlscert.ensure()
    membership.receive({"config": config(2), "ssconf": {"cluster_name": "c\n"},
                        "jobs": {"1": "{}"}})
    assert membership.leave() == {"left": "c"}
    left = sorted(os.listdir(paths.data_dir()))
    assert left == ["ssh"]
    assert os.listdir(sshkeys.ssh_dir()) == ["authorized_keys"]
    assert open(sshkeys.authorized_keys_file()).read().count("ssh-") == 1
