"""Running an instance's OS scripts on this node (node/os-create, os-rename).

The master sends the instance as JSON (see osapi.environment for the keys;
disks carry their logical path and template, which become this node's
paths here).  Secret OS parameters come in the same JSON ("osparams_secret"),
on stdin, never on argv.
"""

from qganeti import errors, osapi


def _local_disks(disks):
    from qganeti import storage
    out = []
    for disk in disks or []:
        disk = dict(disk)
        template = disk.get("template")
        if template in storage.FILE_TEMPLATES:
            disk["path"] = storage.local(template, storage.check_path(template, disk["path"]))
        out.append(disk)
    return out


def run_script(kind, inst, reinstall=False, old_name=None, debug=None):
    """Run the OS's KIND script ("create", "rename") for INST; its log file."""
    if not isinstance(inst, dict) or not inst.get("name") or not inst.get("os"):
        raise errors.OpExecError("Missing instance description on stdin")
    base, _ = osapi.split_name(inst["os"])
    osdef = osapi.load(base)
    inst = dict(inst)
    inst["disks"] = _local_disks(inst.get("disks"))
    params = dict(inst.get("osparams") or {})
    params.update(inst.get("osparams_secret") or {})
    inst["osparams"] = params
    env = osapi.environment(osdef, inst, debug=int(debug or 0))
    if kind == "create":
        log_kind = "add"
        if reinstall:
            env["INSTANCE_REINSTALL"] = "1"
    elif kind == "rename":
        log_kind = "rename"
        env["OLD_INSTANCE_NAME"] = old_name or ""
    else:
        raise errors.ProgrammerError("Unknown OS script %s" % kind)
    logfile = osapi.log_name(log_kind, base, inst["name"])
    code, reason = osapi.run(osdef["scripts"][kind], env, osdef["path"], logfile=logfile)
    if code:
        import sys
        lines = osapi.tail(logfile)
        for line in lines:
            sys.stderr.write("%s\n" % line)
        shown = "; ".join(line.strip() for line in lines[-3:] if line.strip())
        raise errors.OpExecError("OS %s script failed (%s), last lines in the log file: %s"
                                 % (kind, reason, shown or "(none)"))
    _console(inst, "OS %s script of %s done (log %s)" % (kind, base, logfile))
    return {"log": logfile}


def _console(inst, message):
    try:
        from qganeti import hypervisor
        hypervisor.get(inst.get("hypervisor")).console_log(inst["name"], message)
    except errors.GenericError:
        pass
