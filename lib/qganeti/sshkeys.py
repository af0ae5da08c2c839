"""The cluster's SSH keys: its key pair, known_hosts and authorized_keys.

Everything lives under $ROOT/var/lib/qganeti/ssh/ (never in ~/.ssh):

    id_rsa, id_rsa.pub     the cluster's key pair (or id_ecdsa...), made at
                           `gnt-cluster init`, copied to every node at node add
                           so that any master candidate can reach every node
    known_hosts            the host key of every node, gathered at node add;
                           a call to a node whose key is missing or different
                           is refused
    authorized_keys        keys allowed to log in to this node; a node's sshd
                           reads it (AuthorizedKeysFile, see gnt-node(8))

known_hosts lines are OpenSSH's: "name,address keytype base64".  Nothing
here imports paramiko: the key pair is made with `cryptography`, and keys
are compared as (type, base64) strings.
"""

import base64
import hashlib
import os

from qganeti import errors, fileio, paths

KEY_TYPES = {"rsa": "id_rsa", "ecdsa": "id_ecdsa", "ed25519": "id_ed25519"}


def ssh_dir():
    return os.path.join(paths.data_dir(), "ssh")


def known_hosts_file():
    return os.path.join(ssh_dir(), "known_hosts")


def authorized_keys_file():
    return os.path.join(ssh_dir(), "authorized_keys")


def private_key_file():
    """The cluster key pair's private file on this node (whichever type), or None."""
    for name in KEY_TYPES.values():
        path = os.path.join(ssh_dir(), name)
        if os.path.exists(path):
            return path
    return None


def generate(key_type="rsa", bits=2048):
    """Make the cluster key pair unless there is one; its private file's path."""
    existing = private_key_file()
    if existing:
        return existing
    if key_type not in KEY_TYPES:
        raise errors.OpPrereqError("Unsupported SSH key type '%s' (use one of %s)"
                                   % (key_type, ", ".join(sorted(KEY_TYPES))),
                                   errors.ECODE_INVAL)
    from cryptography.hazmat.primitives import serialization
    if key_type == "rsa":
        from cryptography.hazmat.primitives.asymmetric import rsa
        key = rsa.generate_private_key(public_exponent=65537, key_size=max(bits, 2048))
    elif key_type == "ecdsa":
        from cryptography.hazmat.primitives.asymmetric import ec
        curve = {256: ec.SECP256R1, 384: ec.SECP384R1, 521: ec.SECP521R1}.get(bits,
                                                                            ec.SECP256R1)
        key = ec.generate_private_key(curve())
    else:
        from cryptography.hazmat.primitives.asymmetric import ed25519
        key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.OpenSSH,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                           serialization.PublicFormat.OpenSSH)
    install_pair(KEY_TYPES[key_type], private.decode("ascii"),
                 public.decode("ascii") + " qganeti-cluster\n")
    return os.path.join(ssh_dir(), KEY_TYPES[key_type])


def install_pair(name, private, public):
    """Write the cluster key pair NAME (id_rsa ...) on this node, and authorize it."""
    if name not in KEY_TYPES.values():
        raise errors.OpPrereqError("Invalid key file name '%s'" % name, errors.ECODE_INVAL)
    fileio.ensure_dir(ssh_dir(), 0o700)
    fileio.atomic_write(os.path.join(ssh_dir(), name), private, mode=0o600)
    fileio.atomic_write(os.path.join(ssh_dir(), name + ".pub"), public, mode=0o644)
    authorize(public)


def read_pair():
    """(file name, private text, public text) of this node's cluster key pair."""
    path = private_key_file()
    if path is None:
        raise errors.OpPrereqError("This node has no cluster SSH key (%s)" % ssh_dir(),
                                   errors.ECODE_ENVIRON)
    with open(path) as handle:
        private = handle.read()
    with open(path + ".pub") as handle:
        public = handle.read()
    return os.path.basename(path), private, public


def _key_fields(line):
    """(type, base64) of an OpenSSH public key line, or None."""
    fields = line.split()
    for i, field in enumerate(fields[:-1]):
        if field.startswith(("ssh-", "ecdsa-", "sk-")):
            return field, fields[i + 1]
    return None


def authorize(public_line):
    """Let the key PUBLIC_LINE log in to this node (once)."""
    wanted = _key_fields(public_line)
    if wanted is None:
        raise errors.OpPrereqError("Not an SSH public key", errors.ECODE_INVAL)
    path = authorized_keys_file()
    text = fileio.read_file(path, "")
    if any(_key_fields(line) == wanted for line in text.splitlines()):
        return False
    if text and not text.endswith("\n"):
        text += "\n"
    fileio.ensure_dir(ssh_dir(), 0o700)
    fileio.atomic_write(path, text + public_line.strip() + "\n", mode=0o600)
    return True


def unauthorize(public_line):
    """Remove the key PUBLIC_LINE from this node's authorized_keys."""
    wanted = _key_fields(public_line)
    path = authorized_keys_file()
    text = fileio.read_file(path)
    if text is None or wanted is None:
        return False
    kept = [line for line in text.splitlines() if _key_fields(line) != wanted]
    fileio.atomic_write(path, "".join(line + "\n" for line in kept), mode=0o600)
    return True


# -- known_hosts ---------------------------------------------------------------

def read_known_hosts(path=None):
    """[(names, keytype, base64)] of a known_hosts file ([] if absent)."""
    text = fileio.read_file(path or known_hosts_file(), "")
    out = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 3 or line.startswith("#") or fields[0].startswith("@"):
            continue
        out.append((fields[0].split(","), fields[1], fields[2]))
    return out


def host_key(name, address=None, path=None):
    """(keytype, base64) recorded for NAME (or its ADDRESS); None if unknown."""
    for names, keytype, blob in read_known_hosts(path):
        if name in names or (address and address in names):
            return keytype, blob
    return None


def fingerprint(blob):
    """OpenSSH's SHA256 fingerprint of a base64 key blob."""
    digest = hashlib.sha256(base64.b64decode(blob)).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def record_host_key(name, address, keytype, blob):
    """Remember NAME's host key (replacing what was there for NAME)."""
    entries = [e for e in read_known_hosts() if name not in e[0]
               and (not address or address not in e[0])]
    names = [name] + ([address] if address and address != name else [])
    entries.append((names, keytype, blob))
    write_known_hosts(entries)


def forget_host(name):
    entries = read_known_hosts()
    kept = [e for e in entries if name not in e[0]]
    if len(kept) != len(entries):
        write_known_hosts(kept)


def known_hosts_text(entries):
    return "".join("%s %s %s\n" % (",".join(names), keytype, blob)
                   for names, keytype, blob in entries)


def write_known_hosts(entries):
    fileio.ensure_dir(ssh_dir(), 0o700)
    fileio.atomic_write(known_hosts_file(), known_hosts_text(entries), mode=0o644)
