"""Tap devices for kvm NICs (Ganeti's _OpenTap and kvm-ifup, in Python).

A tap is opened here and its descriptor handed to qemu: the device lives as
long as qemu holds it, so a stopped or crashed instance leaves no tap
behind.  Bridged NICs join the bridge named by their link; routed NICs get
a host route to their IP (in routing table LINK when one is given).  Only
`ip` is run, with argv lists: names never reach a shell.
"""

import fcntl
import os
import struct
import subprocess

from qganeti import errors

TUNSETIFF = 0x400454ca
TUNGETFEATURES = 0x800454cf
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
IFF_VNET_HDR = 0x4000


def open_tap(vnet_hdr=True):
    """(name, fd) of a new tap device (the kernel picks the name)."""
    try:
        fd = os.open("/dev/net/tun", os.O_RDWR)
    except OSError as err:
        raise errors.HypervisorError("Failed to open /dev/net/tun: %s" % err.strerror)
    flags = IFF_TAP | IFF_NO_PI
    if vnet_hdr:
        try:
            features = struct.unpack("I", fcntl.ioctl(fd, TUNGETFEATURES, b"\0" * 4))[0]
            if features & IFF_VNET_HDR:
                flags |= IFF_VNET_HDR
        except OSError:
            pass
    try:
        reply = fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sh", b"", flags))
    except OSError as err:
        os.close(fd)
        raise errors.HypervisorError("Failed to allocate a new TAP device: %s" % err)
    return reply[:16].rstrip(b"\0").decode("ascii"), fd


def _ip(*args):
    proc = subprocess.run(["ip"] + list(args), capture_output=True, text=True)
    if proc.returncode != 0:
        raise errors.HypervisorError("ip %s: %s" % (" ".join(args),
                                                    proc.stderr.strip() or proc.returncode))


def configure(tap, nic):
    """Connect TAP as NIC says (mode, link, ip); Ganeti's kvm-ifup."""
    mode = nic.get("mode") or "bridged"
    link = nic.get("link") or ""
    try:
        if mode == "bridged":
            if not os.path.isdir("/sys/class/net/%s/bridge" % link if link else "/nonexistent"):
                raise errors.HypervisorError("bridge '%s' does not exist" % link)
            _ip("link", "set", "dev", tap, "master", link)
            _ip("link", "set", "dev", tap, "up")
        elif mode == "routed":
            _ip("link", "set", "dev", tap, "up")
            if nic.get("ip"):
                table = ["table", link] if link else []
                _ip("route", "replace", nic["ip"] + "/32", *table, "proto", "static",
                    "dev", tap)
        else:
            raise errors.HypervisorError("NIC mode '%s' is not supported by qganeti's kvm"
                                         " hypervisor" % mode)
    except errors.HypervisorError as err:
        raise errors.HypervisorError("Failed to configure interface %s: %s" % (tap, err))
