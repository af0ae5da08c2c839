"""What every daemon does: options, detaching, the pid file, logging.

A daemon started without -f detaches and returns only once it serves (or
has failed with a message), so `daemon-util start luxid` can report both.
"""

import logging
import os
import sys

from qganeti import errors, fileio, paths


def pid_file(name):
    return os.path.join(paths.run_dir(), "%s.pid" % name)


def read_pid(name):
    text = fileio.read_first_line(pid_file(name))
    try:
        return int(text) if text else None
    except ValueError:
        return None


def usage_exit(name, text):
    sys.stdout.write(text)
    sys.exit(0)


def parse_args(name, argv, usage):
    opts = {"foreground": False, "debug": False}
    for arg in argv:
        if arg in ("-h", "--help"):
            usage_exit(name, usage)
        elif arg in ("-f", "--foreground"):
            opts["foreground"] = True
        elif arg in ("-d", "--debug"):
            opts["debug"] = True
        elif arg in ("--no-user-checks", "--syslog"):
            pass   # accepted for Ganeti compatibility; nothing to do here
        elif arg == "--no-voting" and name == "luxid":
            opts["no_voting"] = True
        else:
            sys.stderr.write("%s: usage: unknown option %s (see --help)\n" % (name, arg))
            sys.exit(100)
    return opts


def setup_logging(logbase, debug, foreground):
    fileio.ensure_dir(paths.log_dir(), 0o750)
    handlers = [logging.FileHandler(os.path.join(paths.log_dir(), "%s.log" % logbase))]
    if foreground:
        handlers.append(logging.StreamHandler(sys.stderr))
    logging.basicConfig(level=logging.DEBUG if debug else logging.INFO, handlers=handlers,
                        format="%(asctime)s: " + logbase + " pid=%(process)d %(levelname)s %(message)s")


def run(name, logbase, argv, usage, serve):
    """Run SERVE(ready) (a function that serves until stopped) as daemon NAME.

    serve calls ready() once it accepts requests; then the pid file is
    written and a detaching parent returns 0.
    """
    opts = parse_args(name, argv, usage)
    fileio.ensure_dir(paths.run_dir(), 0o775)
    report_fd = None
    if not opts["foreground"]:
        read_end, report_fd = os.pipe()
        child = os.fork()
        if child:
            os.close(report_fd)
            os.waitpid(child, 0)     # the middle process exits at once
            with os.fdopen(read_end, "rb") as pipe:
                message = pipe.read().decode("utf-8", "replace")
            if message == "ok":
                sys.exit(0)
            sys.stderr.write("%s: fatal: unable to start: %s\n" % (name, message or "died"))
            sys.exit(111)
        os.close(read_end)
        os.setsid()
        if os.fork():
            os._exit(0)
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.close(devnull)
        os.chdir("/")
    setup_logging(logbase, opts["debug"], opts["foreground"])

    def ready():
        fileio.atomic_write(pid_file(name), "%d\n" % os.getpid(), 0o644)
        if report_fd is not None:
            os.write(report_fd, b"ok")
            os.close(report_fd)

    try:
        serve(ready)
    except Exception as err:
        if isinstance(err, errors.GenericError) and err.args:
            logging.getLogger(name).error("fatal error: %s", err.args[0])
            err = err.args[0]
        else:
            logging.getLogger(name).exception("fatal error")
        if report_fd is not None:
            try:
                os.write(report_fd, str(err).encode())
            except OSError:
                pass
        else:
            sys.stderr.write("%s: fatal: %s\n" % (name, err))
        sys.exit(111)
    finally:
        if read_pid(name) == os.getpid():
            os.unlink(pid_file(name))
