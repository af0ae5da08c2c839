"""The hypervisors a node can drive, by Ganeti name (only fake, for now)."""

from qganeti import errors


def get(name):
    """The module implementing hypervisor NAME on this node."""
    if name == "fake":
        from qganeti import hv_fake
        return hv_fake
    raise errors.HypervisorError("Hypervisor '%s' is not supported on this node" % (name,))
