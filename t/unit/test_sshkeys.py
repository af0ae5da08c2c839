import os
import subprocess

import pytest

from qganeti import errors, sshkeys


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("QGANETI_ROOT", str(tmp_path))
    return tmp_path


@pytest.mark.parametrize("kind", ["rsa", "ecdsa", "ed25519"])
def test_generate_makes_a_key_pair_openssh_reads_and_authorizes_it(root, kind):
    path = sshkeys.generate(kind, 2048 if kind == "rsa" else 256)
    assert path == str(root / "var/lib/qganeti/ssh" / sshkeys.KEY_TYPES[kind])
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    derived = subprocess.run(["ssh-keygen", "-y", "-f", path], capture_output=True,
                             text=True, check=True).stdout.split()[:2]
    _, _, public = sshkeys.read_pair()
    assert public.split()[:2] == derived
    assert public.split()[1] in open(sshkeys.authorized_keys_file()).read()
    assert sshkeys.generate("rsa") == path          # one pair: the existing one stays


def test_authorize_once_and_unauthorize(root):
    line = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOtPH+NWTUmlFcG8VTbreos6zBO9vuWoQ0P1skn692fr x"
    assert sshkeys.authorize(line) is True
    assert sshkeys.authorize(line.replace(" x", " other comment")) is False
    assert open(sshkeys.authorized_keys_file()).read().count("AAAAC3") == 1
    assert sshkeys.unauthorize(line) is True
    assert "AAAAC3" not in open(sshkeys.authorized_keys_file()).read()
    with pytest.raises(errors.OpPrereqError):
        sshkeys.authorize("not a key")


def test_known_hosts_record_replace_forget(root):
    assert sshkeys.host_key("n1", "10.0.0.1") is None
    sshkeys.record_host_key("n1", "10.0.0.1", "ssh-ed25519", "AAAA1")
    sshkeys.record_host_key("n2", "10.0.0.2", "ssh-rsa", "AAAA2")
    assert sshkeys.host_key("n1") == ("ssh-ed25519", "AAAA1")
    assert sshkeys.host_key("other-name", "10.0.0.2") == ("ssh-rsa", "AAAA2")
    sshkeys.record_host_key("n1", "10.0.0.1", "ssh-ed25519", "AAAA3")
    assert sshkeys.host_key("n1") == ("ssh-ed25519", "AAAA3")
    text = open(sshkeys.known_hosts_file()).read()
    assert text.count("n1,10.0.0.1 ") == 1 and "n2,10.0.0.2 ssh-rsa AAAA2\n" in text
    sshkeys.forget_host("n1")
    assert sshkeys.host_key("n1") is None and sshkeys.host_key("n2") is not None


def test_fingerprint_is_openssh_s(tmp_path):
    key = tmp_path / "k"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    blob = (tmp_path / "k.pub").read_text().split()[1]
    expected = subprocess.run(["ssh-keygen", "-l", "-f", str(key) + ".pub"],
                              capture_output=True, text=True, check=True).stdout.split()[1]
    assert sshkeys.fingerprint(blob) == expected
