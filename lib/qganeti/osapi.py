"""Ganeti's OS definition API (versions 10, 15, 20) on a node.

An OS definition is a directory named after the OS, found in the search
path ($QGANETI_ROOT/srv/qganeti/os, then the tree's own os/):

    ganeti_api_version   supported API versions, one a line
    create import export rename verify   the scripts (executables)
    variants.list        optional: one variant a line (API 15+)
    parameters.list      optional: "name description" lines (API 20)

Scripts run with a cleared environment (PATH=/sbin:/bin:/usr/sbin:/usr/bin
and the OS API variables, built by environment()), in the OS directory,
stdin from /dev/null unless given, their output into a log file under
$QGANETI_ROOT/var/log/qganeti/os/.  Messages are Ganeti's.
"""

import os
import time

from qganeti import errors, paths

API_FILE = "ganeti_api_version"
VARIANTS_FILE = "variants.list"
PARAMETERS_FILE = "parameters.list"
API_VERSIONS = (10, 15, 20)
API_V15 = 15
API_V20 = 20
SCRIPTS = ("create", "export", "import", "rename")
VERIFY = "verify"
VARIANT_DELIM = "+"
SAFE_PATH = "/sbin:/bin:/usr/sbin:/usr/bin"
TAIL_LINES = 20


class OSDefinitionError(errors.GenericError):
    """An OS definition is missing or broken (the message says why)."""


def search_path():
    return [paths.under_root("srv/qganeti/os"), paths.TREE_OS_DIR]


def split_name(name):
    """"debian+buster" -> ("debian", "buster"); no variant -> (name, "")."""
    base, _, variant = name.partition(VARIANT_DELIM)
    return base, variant


def _valid_name(name):
    return bool(name) and "/" not in name and name not in (".", "..") and "\0" not in name


def _read_lines(path):
    with open(path) as handle:
        return [line.strip() for line in handle]


def load(name, base_dir=None):
    """The OS definition NAME (without variant) as a dict; OSDefinitionError if unusable.

    Keys: name, path, api_versions, variants, parameters [[name, doc]],
    trusted, scripts {script: path}.
    """
    if not _valid_name(name):
        raise OSDefinitionError("Invalid OS name '%s'" % name)
    if base_dir is None:
        for directory in search_path():
            if os.path.isdir(os.path.join(directory, name)):
                base_dir = directory
                break
        else:
            raise OSDefinitionError("Directory for OS %s not found in search path" % name)
    os_dir = os.path.join(base_dir, name)
    api_file = os.path.join(os_dir, API_FILE)
    try:
        st = os.stat(api_file)
    except OSError as err:
        raise OSDefinitionError("Required file '%s' not found under path %s: %s"
                       % (API_FILE, os_dir, err.strerror))
    if not os.path.isfile(api_file):
        raise OSDefinitionError("'%s' file at %s is not a regular file" % (API_FILE, os_dir))
    del st
    try:
        versions = [int(line) for line in _read_lines(api_file) if line]
    except (OSError, ValueError) as err:
        raise OSDefinitionError("Error while reading the API version file at %s: %s"
                       % (api_file, err))
    if not set(versions) & set(API_VERSIONS):
        raise OSDefinitionError("API version mismatch for path '%s': found %s, want %s."
                       % (os_dir, versions, list(API_VERSIONS)))
    top = max(versions)
    scripts = {}
    wanted = list(SCRIPTS) + ([VERIFY] if top >= API_V20 else [])
    untrusted = os.path.join(os_dir, "create_untrusted")
    trusted = not os.path.exists(untrusted)
    for script in wanted:
        if script == "create" and not trusted:
            script_path = untrusted
        else:
            script_path = os.path.join(os_dir, script)
        try:
            st = os.stat(script_path)
        except OSError as err:
            raise OSDefinitionError("File '%s' under path '%s' is missing (%s)"
                           % (script, os_dir, err.strerror))
        if not (st.st_mode & 0o100):
            raise OSDefinitionError("File '%s' under path '%s' is not executable" % (script, os_dir))
        if not os.path.isfile(script_path):
            raise OSDefinitionError("File '%s' under path '%s' is not a regular file"
                           % (script, os_dir))
        scripts[script] = script_path
    variants = []
    if top >= API_V15:
        path = os.path.join(os_dir, VARIANTS_FILE)
        if os.path.exists(path):
            try:
                variants = [line for line in _read_lines(path)
                            if line and not line.startswith("#")]
            except OSError as err:
                raise OSDefinitionError("Error while reading the OS variants file at %s: %s"
                               % (path, err.strerror))
    parameters = []
    if top >= API_V20:
        path = os.path.join(os_dir, PARAMETERS_FILE)
        if os.path.exists(path):
            try:
                for line in _read_lines(path):
                    if not line or line.startswith("#"):
                        continue
                    pname, _, doc = line.partition(" ")
                    parameters.append([pname.strip(), doc.strip()])
            except OSError as err:
                raise OSDefinitionError("Error while reading the OS parameters file at %s: %s"
                               % (path, err.strerror))
    return {"name": name, "path": os_dir, "api_versions": sorted(versions, reverse=True),
            "variants": variants, "parameters": parameters, "trusted": trusted,
            "scripts": scripts}


def diagnose():
    """Every OS directory in the search path, valid or not, in search order.

    [[name, path, valid, message, variants, parameters, api_versions, trusted]]
    (a name found in an earlier directory hides later ones: those come after).
    """
    out = []
    for directory in search_path():
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            continue
        for name in names:
            if not os.path.isdir(os.path.join(directory, name)) or not _valid_name(name):
                continue
            try:
                osdef = load(name, directory)
            except OSDefinitionError as err:
                out.append([name, os.path.join(directory, name), False, str(err.args[0]),
                            [], [], [], True])
                continue
            out.append([name, osdef["path"], True, "", osdef["variants"],
                        osdef["parameters"], osdef["api_versions"], osdef["trusted"]])
    return out


def check_variant(osdef, name):
    """Ganeti's _CheckOSVariant: NAME's variant against the OS's list."""
    _, variant = split_name(name)
    if not osdef["variants"]:
        if variant:
            raise errors.OpPrereqError("OS '%s' doesn't support variants ('%s' passed)"
                                       % (osdef["name"], variant), errors.ECODE_INVAL)
        return
    if not variant:
        raise errors.OpPrereqError("OS name must include a variant", errors.ECODE_INVAL)
    if variant not in osdef["variants"]:
        raise errors.OpPrereqError("Unsupported OS variant", errors.ECODE_INVAL)


def check_parameters(osdef, names):
    """Ganeti's _CheckOSPList: only parameters the OS declares."""
    known = set(p[0] for p in osdef["parameters"])
    unknown = sorted(set(names) - known)
    if unknown:
        raise OSDefinitionError("The following parameters are not supported by the OS %s: %s"
                       % (osdef["name"], ", ".join(unknown)))


def _api_version(osdef):
    return max(set(osdef["api_versions"]) & set(API_VERSIONS))


def core_env(osdef, os_name, osparams, debug=0):
    """Ganeti's OSCoreEnv: the variables every script gets."""
    api = _api_version(osdef)
    env = {"PATH": SAFE_PATH, "OS_API_VERSION": str(api),
           "OS_NAME": osdef["name"], "DEBUG_LEVEL": str(int(debug or 0))}
    if api >= API_V15:
        _, variant = split_name(os_name)
        if not variant and osdef["variants"]:
            variant = osdef["variants"][0]
        env["OS_VARIANT"] = variant or ""
    if api >= API_V20:
        for key, value in (osparams or {}).items():
            env["OSP_%s" % key.upper().replace("-", "_")] = _str(value)
    return env


def _str(value):
    if isinstance(value, bool):
        return str(value)
    return "" if value is None else str(value)


def environment(osdef, inst, debug=0):
    """Ganeti's OSEnvironment for an instance description INST (a dict).

    INST: name, uuid, os, ctime, mtime, primary_node, secondary_nodes,
    hypervisor, hvparams (filled), beparams (filled), osparams (filled,
    private ones included), disks [{path, uuid, name, size, mode,
    template}], nics [{mac, ip, mode, link, vlan, uuid, name, network...}].
    """
    env = core_env(osdef, inst["os"], inst.get("osparams"), debug)
    env.update({
        "INSTANCE_NAME": inst["name"], "INSTANCE_OS": inst["os"],
        "INSTANCE_UUID": inst.get("uuid", ""),
        "INSTANCE_PRIMARY_NODE": inst.get("primary_node", ""),
        "INSTANCE_SECONDARY_NODES": " ".join(inst.get("secondary_nodes") or []),
        "HYPERVISOR": inst.get("hypervisor", ""),
        "DISK_COUNT": str(len(inst.get("disks") or [])),
        "NIC_COUNT": str(len(inst.get("nics") or [])),
    })
    for key in ("ctime", "mtime"):
        if inst.get(key) is not None:
            env["INSTANCE_%s" % key.upper()] = _str(inst[key])
    hvp = inst.get("hvparams") or {}
    for idx, disk in enumerate(inst.get("disks") or []):
        env["DISK_%d_PATH" % idx] = disk["path"]
        env["DISK_%d_ACCESS" % idx] = disk.get("mode", "rw")
        env["DISK_%d_UUID" % idx] = disk.get("uuid", "")
        if disk.get("name"):
            env["DISK_%d_NAME" % idx] = disk["name"]
        env["DISK_%d_SIZE" % idx] = str(disk.get("size", 0))
        if hvp.get("disk_type"):
            env["DISK_%d_FRONTEND_TYPE" % idx] = hvp["disk_type"]
        if disk.get("template") in ("file", "sharedfile"):
            env["DISK_%d_BACKEND_TYPE" % idx] = "file:%s" % disk.get("driver", "loop")
        else:
            env["DISK_%d_BACKEND_TYPE" % idx] = "block"
    for idx, nic in enumerate(inst.get("nics") or []):
        env["NIC_%d_MAC" % idx] = nic.get("mac", "")
        env["NIC_%d_UUID" % idx] = nic.get("uuid", "")
        if nic.get("name"):
            env["NIC_%d_NAME" % idx] = nic["name"]
        if nic.get("ip"):
            env["NIC_%d_IP" % idx] = nic["ip"]
        env["NIC_%d_MODE" % idx] = nic.get("mode", "")
        env["NIC_%d_LINK" % idx] = nic.get("link", "")
        if nic.get("vlan"):
            env["NIC_%d_VLAN" % idx] = nic["vlan"]
        if nic.get("mode") == "bridged":
            env["NIC_%d_BRIDGE" % idx] = nic.get("link", "")
        if hvp.get("nic_type"):
            env["NIC_%d_FRONTEND_TYPE" % idx] = hvp["nic_type"]
        for key, value in (nic.get("network_info") or {}).items():
            env["NIC_%d_NETWORK_%s" % (idx, key.upper())] = _str(value)
    for key, value in (inst.get("beparams") or {}).items():
        env["INSTANCE_BE_%s" % key] = _str(value)
    for key, value in hvp.items():
        env["INSTANCE_HV_%s" % key] = _str(value)
    return env


def log_name(kind, os_name, instance, component=None):
    """Ganeti's _InstanceLogName, under $ROOT/var/log/qganeti/os/."""
    base = "%s-%s-%s%s-%s.log" % (kind, os_name, instance,
                                  "-%s" % component if component else "",
                                  time.strftime("%Y-%m-%d_%H_%M_%S"))
    return os.path.join(paths.log_dir(), "os", base)


def tail(path, lines=TAIL_LINES):
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 16384))
            data = handle.read().decode("utf-8", "replace")
    except OSError:
        return []
    return data.splitlines()[-lines:]


def run(script_path, env, cwd, logfile=None, stdin=None, timeout=None, args=()):
    """Run an OS script; (exit status, reason text or None).

    Output (stdout and stderr) goes to LOGFILE (or is discarded); the
    environment is exactly ENV; stdin is the file descriptor STDIN or
    /dev/null.  The reason is Ganeti's ("exited with exit code 1", "killed
    by signal 9", "timeout").  posix_spawn, not subprocess: a node action
    should not pay subprocess's import for one child.
    """
    if logfile:
        os.makedirs(os.path.dirname(logfile), 0o750, exist_ok=True)
        out = os.open(logfile, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)
    else:
        out = os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
    actions = [(os.POSIX_SPAWN_DUP2, out, 1), (os.POSIX_SPAWN_DUP2, out, 2)]
    if stdin is None:
        actions.insert(0, (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0))
    else:
        actions.insert(0, (os.POSIX_SPAWN_DUP2, stdin, 0))
    try:
        # posix_spawn has no cwd: the child changes directory through sh
        argv = ["/bin/sh", "-c", 'cd "$1" && shift && exec "$@"', "sh", cwd, script_path]
        pid = os.posix_spawn("/bin/sh", argv + list(args), env, file_actions=actions)
    except OSError as err:
        return -1, "cannot run %s: %s" % (script_path, err.strerror)
    finally:
        os.close(out)
    status = _wait(pid, timeout)
    if status is None:
        return -1, "timeout"
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status), "killed by signal %d" % os.WTERMSIG(status)
    code = os.WEXITSTATUS(status)
    if code == 0:
        return 0, None
    if code == 126 or code == 127:
        return code, "cannot run %s (exit code %d)" % (script_path, code)
    return code, "exited with exit code %d" % code


def _wait(pid, timeout):
    """The child's wait status; None (and the child killed) after TIMEOUT."""
    if timeout is None:
        return os.waitpid(pid, 0)[1]
    deadline = time.monotonic() + timeout
    delay = 0.001
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        if time.monotonic() >= deadline:
            import signal
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return None
        time.sleep(delay)
        delay = min(delay * 2, 0.1)
