"""Names and addresses.

Node and cluster names are looked up in $QGANETI_ROOT/etc/hosts first (so a
virtual cluster in a directory needs no DNS), then, only when the state
root is the machine's own (/), through the system resolver.
"""

import os

from qganeti import paths


def _hosts_lookup(path, name):
    try:
        with open(path) as handle:
            lines = handle.readlines()
    except OSError:
        return None
    wanted = name.lower()
    for line in lines:
        fields = line.split("#", 1)[0].split()
        if len(fields) >= 2 and wanted in (f.lower() for f in fields[1:]):
            return fields[0]
    return None


def resolve(name):
    """NAME's IPv4 address, or None if it does not resolve."""
    if is_ipv4(name):
        return name
    address = _hosts_lookup(paths.under_root("etc/hosts"), name)
    if address or paths.root() != "/":
        return address
    import socket
    try:
        infos = socket.getaddrinfo(name, None, socket.AF_INET, socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return None
    return infos[0][4][0] if infos else None


def is_ipv4(text):
    parts = text.split(".")
    if len(parts) != 4:
        return False
    for part in parts:
        if not part.isdigit() or int(part) > 255 or (len(part) > 1 and part[0] == "0"):
            return False
    return True


def is_valid_hostname(name):
    """A DNS-style name: labels of letters, digits and dashes, dot-separated."""
    if not name or len(name) > 255 or name.startswith("-"):
        return False
    for label in name.rstrip(".").split("."):
        if not label or len(label) > 63 or label.startswith("-") or label.endswith("-"):
            return False
        if not all(c.isalnum() and c.isascii() or c == "-" for c in label):
            return False
    return True


def host_file_entries():
    """(address, [names]) of $QGANETI_ROOT/etc/hosts."""
    path = paths.under_root("etc/hosts")
    entries = []
    if not os.path.exists(path):
        return entries
    with open(path) as handle:
        for line in handle:
            fields = line.split("#", 1)[0].split()
            if len(fields) >= 2:
                entries.append((fields[0], fields[1:]))
    return entries
