"""The hypervisors a node can drive, by Ganeti name (fake and kvm)."""

from qganeti import errors


def get(name):
    """The module implementing hypervisor NAME on this node."""
    if name == "fake":
        from qganeti import hv_fake
        return hv_fake
    if name == "kvm":
        from qganeti import hv_kvm
        return hv_kvm
    raise errors.HypervisorError("Hypervisor '%s' is not supported on this node" % (name,))


def check_syntax(name, hvparams):
    """Ganeti's CheckParameterSyntax of hypervisor NAME over filled HVPARAMS."""
    if name == "kvm":
        from qganeti import kvm_params
        kvm_params.check_syntax(hvparams)


def validate(name, hvparams):
    """Ganeti's ValidateParameters of hypervisor NAME: what this node must
    have for HVPARAMS (files, directories, users).  HypervisorError if not."""
    if name == "kvm":
        from qganeti import kvm_params
        kvm_params.validate(hvparams)
    elif name != "fake":
        get(name)
