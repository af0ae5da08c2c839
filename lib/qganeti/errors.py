"""Ganeti's error classes, as they travel on LUXI and in job results.

On the wire an error is `[ClassName, [arg0, arg1, ...]]`; the names and the
`OpPrereqError` error codes are Ganeti's, so clients written for Ganeti
recognise them.
"""

ECODE_RESOLVER = "resolver_error"
ECODE_NORES = "insufficient_resources"
ECODE_TEMP_NORES = "temp_insufficient_resources"
ECODE_INVAL = "wrong_input"
ECODE_STATE = "wrong_state"
ECODE_NOENT = "unknown_entity"
ECODE_EXISTS = "already_exists"
ECODE_NOTUNIQUE = "resource_not_unique"
ECODE_FAULT = "internal_error"
ECODE_ENVIRON = "environment_error"


class GenericError(Exception):
    """Base of every error that has a Ganeti name."""


class LockError(GenericError):
    pass


class HypervisorError(GenericError):
    pass


class HotplugError(HypervisorError):
    pass


class BlockDeviceError(GenericError):
    pass


class ConfigurationError(GenericError):
    pass


class ConfigVersionMismatch(ConfigurationError):
    pass


class ReservationError(GenericError):
    pass


class RemoteError(GenericError):
    pass


class SignatureError(GenericError):
    pass


class ParameterError(GenericError):
    pass


class ResultValidationError(GenericError):
    pass


class OpPrereqError(GenericError):
    """Args: (message, error code); the code is one of the ECODE_* strings."""


class OpExecError(GenericError):
    pass


class OpResultError(GenericError):
    pass


class OpCodeUnknown(GenericError):
    pass


class JobLost(GenericError):
    pass


class JobCanceled(GenericError):
    pass


class JobFileCorrupted(GenericError):
    pass


class ResolverError(GenericError):
    pass


class HooksFailure(GenericError):
    pass


class HooksAbort(HooksFailure):
    pass


class UnitParseError(GenericError):
    pass


class ParseError(GenericError):
    pass


class TypeEnforcementError(GenericError):
    pass


class X509CertError(GenericError):
    pass


class TagError(GenericError):
    pass


class CommandError(GenericError):
    pass


class StorageError(GenericError):
    pass


class InotifyError(GenericError):
    pass


class QuitGanetiException(Exception):
    pass


class JobQueueError(GenericError):
    pass


class JobQueueDrainError(JobQueueError):
    pass


class JobQueueFull(JobQueueError):
    pass


class ConfdMagicError(GenericError):
    pass


class ConfdClientError(GenericError):
    pass


class UdpDataSizeError(GenericError):
    pass


class NoCtypesError(GenericError):
    pass


class IPAddressError(GenericError):
    pass


class LuxiError(GenericError):
    pass


class QueryFilterParseError(ParseError):
    pass


class RapiTestResult(GenericError):
    pass


class FileStoragePathError(GenericError):
    pass


class ProgrammerError(GenericError):
    pass


class ProtocolError(GenericError):
    """LUXI framing or envelope error."""


class RequestError(ProtocolError):
    pass


class NoMasterError(ProtocolError):
    pass


class TimeoutError(ProtocolError):  # noqa: A001 - Ganeti's own name
    pass


class PermissionError(ProtocolError):  # noqa: A001 - Ganeti's own name
    pass


def encode(err):
    """An exception as Ganeti's wire form [ClassName, [args...]]."""
    if isinstance(err, GenericError):
        cls = type(err)
        if globals().get(cls.__name__) is not cls:
            # defined elsewhere (nodecall's NodeCallError): a client knows
            # only its base here, and gets the message
            cls = next(c for c in cls.__mro__ if globals().get(c.__name__) is c)
            return [cls.__name__, list(err.args[:1])]
        return [cls.__name__, list(err.args)]
    return ["OpExecError", [str(err)]]


def decode(data):
    """The exception that DATA ([ClassName, [args]]) encodes; None if it is not one."""
    if (isinstance(data, (list, tuple)) and len(data) == 2
            and isinstance(data[0], str) and isinstance(data[1], (list, tuple))):
        cls = globals().get(data[0])
        if isinstance(cls, type) and issubclass(cls, GenericError):
            return cls(*data[1])
    return None


def _text(err):
    args = err.args
    return str(args[0]) if len(args) == 1 else str(args)


def format_error(err):
    """(exit code, text) for ERR, worded as Ganeti's CLI words it."""
    msg = _text(err)
    args = err.args
    if isinstance(err, ConfigurationError):
        return 2, "Corrupt configuration file: %s\nAborting." % msg
    if isinstance(err, HooksAbort):
        lines = ["Failure: hooks execution failed:"]
        for node, script, out in (args[0] if args else []):
            if out:
                lines.append("  node: %s, script: %s, output: %s" % (node, script, out))
            else:
                lines.append("  node: %s, script: %s (no output)" % (node, script))
        return 1, "\n".join(lines)
    if isinstance(err, HooksFailure):
        return 1, "Failure: hooks general failure: %s" % msg
    if isinstance(err, ResolverError):
        return 1, "Failure: can't resolve hostname '%s'" % (args[0] if args else "")
    if isinstance(err, OpPrereqError):
        if len(args) == 2:
            return 1, ("Failure: prerequisites not met for this operation:\n"
                       "error type: %s, error details:\n%s" % (args[1], args[0]))
        return 1, "Failure: prerequisites not met for this operation:\n%s" % msg
    if isinstance(err, OpExecError):
        return 1, "Failure: command execution error:\n%s" % msg
    if isinstance(err, TagError):
        return 1, "Failure: invalid tag(s) given:\n%s" % msg
    if isinstance(err, JobQueueDrainError):
        return 1, "Failure: the job queue is marked for drain and doesn't accept new requests"
    if isinstance(err, JobQueueFull):
        return 1, ("Failure: the job queue is full and doesn't accept new job"
                   " submissions until old jobs are archived")
    if isinstance(err, TypeEnforcementError):
        return 1, "Parameter Error: %s" % msg
    if isinstance(err, ParameterError):
        return 1, "Failure: unknown/wrong parameter name '%s'" % msg
    if isinstance(err, NoMasterError):
        return 1, ("Cannot communicate with the master daemon.\nIs the process running"
                   " and listening for connections?")
    if isinstance(err, TimeoutError):
        return 1, ("Timeout while talking to the master daemon. Jobs might have been"
                   " submitted and will continue to run even if the call timed out."
                   " Useful commands in this situation are \"gnt-job list\","
                   " \"gnt-job cancel\" and \"gnt-job watch\". Error:\n" + msg)
    if isinstance(err, PermissionError):
        return 1, ("It seems you don't have permissions to connect to the master"
                   " daemon.\nPlease retry as a different user.")
    if isinstance(err, ProtocolError):
        return 1, "Unhandled protocol error while talking to the master daemon:\n%s" % msg
    if isinstance(err, JobLost):
        return 1, "Error checking job status: %s" % msg
    if isinstance(err, QueryFilterParseError):
        from qganeti import qlang
        lines = ["Error while parsing query filter: %s" % (args[0] if args else "")]
        return 1, "\n".join(lines + qlang.error_details(err))
    if isinstance(err, GenericError):
        return 1, "Unhandled Ganeti error: %s" % msg
    return 1, "Unhandled exception: %s" % msg
