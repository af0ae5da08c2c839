"""The fake hypervisor, with Ganeti's semantics, on this node.

A running instance is one file, $ROOT/var/run/qganeti/fake-hypervisor/<name>,
holding "0\\n<memory>\\n<vcpus>\\n" as Ganeti's hv_fake writes it: starting
creates it (and fails if it exists), stopping removes it.  The memory of
running instances is taken off the node's free memory (node_memory), so the
htools and the allocation checks see real numbers.

Beyond Ganeti: a paused instance (started with --paused, or paused while an
online snapshot is taken) has a marker in fake-hypervisor-paused/, and each
instance has a console log, $ROOT/var/log/qganeti/fake-console/<name>.log,
where start, stop, reboot, pause and resume leave a line (and what the OS
scripts printed, if the caller appends it).  Nothing here runs a command.
"""

import os

from qganeti import errors, paths

STATE_DIR_NAME = "fake-hypervisor"
PAUSED_DIR_NAME = "fake-hypervisor-paused"
CONSOLE_DIR_NAME = "fake-console"

PARAMETERS = ("migration_mode",)


def state_dir():
    return os.path.join(paths.run_dir(), STATE_DIR_NAME)


def paused_dir():
    return os.path.join(paths.run_dir(), PAUSED_DIR_NAME)


def console_dir():
    return os.path.join(paths.log_dir(), CONSOLE_DIR_NAME)


def _check_name(name):
    if not name or "/" in name or name in (".", "..") or "\0" in name:
        raise errors.HypervisorError("Invalid instance name '%s'" % (name,))
    return name


def state_file(name):
    return os.path.join(state_dir(), _check_name(name))


def console_file(name):
    return os.path.join(console_dir(), _check_name(name) + ".log")


def _read_state(path):
    """(memory, vcpus) from a state file; Ganeti's parsing, lenient."""
    with open(path) as handle:
        lines = handle.read().split("\n")

    def number(index, default):
        try:
            return int(lines[index].strip())
        except (IndexError, ValueError):
            return default
    return number(1, 0), number(2, 1)


def list_instances():
    """{name: {"state", "memory", "vcpus"}} of what runs on this node."""
    directory = state_dir()
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return {}
    result = {}
    for name in names:
        if name.startswith("."):
            continue    # a state file being written
        try:
            memory, vcpus = _read_state(os.path.join(directory, name))
        except FileNotFoundError:
            continue    # stopped meanwhile
        except OSError as err:
            raise errors.HypervisorError("Failed to list instances: %s" % err)
        result[name] = {"state": "running", "memory": memory, "vcpus": vcpus}
    return result


def instance_info(name):
    """{"state", "memory", "vcpus", "paused"} of NAME, or None if not running."""
    try:
        memory, vcpus = _read_state(state_file(name))
    except FileNotFoundError:
        return None
    except OSError as err:
        raise errors.HypervisorError("Failed to list instance %s: %s" % (name, err))
    return {"state": "running", "memory": memory, "vcpus": vcpus,
            "paused": is_paused(name)}


def is_running(name):
    return os.path.exists(state_file(name))


def is_paused(name):
    return os.path.exists(os.path.join(paused_dir(), _check_name(name)))


def console_log(name, message):
    """Append a time-stamped line to NAME's console log (never fails)."""
    from qganeti import fileio
    fileio.append_log_line(console_file(name), message)


def read_console(name, max_bytes=65536):
    """The end of NAME's console log ("" when there is none)."""
    from qganeti import fileio
    return fileio.read_tail(console_file(name), max_bytes)


def _mark_up(name, memory, vcpus):
    from qganeti import fileio
    os.makedirs(state_dir(), 0o755, exist_ok=True)
    fileio.atomic_write(state_file(name), "0\n%d\n%d\n" % (memory, vcpus),
                        mode=0o644, durable=False)


def _set_paused(name, paused):
    marker = os.path.join(paused_dir(), _check_name(name))
    if paused:
        os.makedirs(paused_dir(), 0o755, exist_ok=True)
        with open(marker, "w"):
            pass
    else:
        try:
            os.unlink(marker)
        except FileNotFoundError:
            pass


def start(name, memory, vcpus, paused=False, data=None):
    """Start NAME; Ganeti's HypervisorError if it already runs. DATA, the
    instance description real hypervisors start from, is not needed here."""
    if is_running(name):
        raise errors.HypervisorError("Failed to start instance %s: %s"
                                     % (name, "already running"))
    try:
        _set_paused(name, paused)
        _mark_up(name, memory, vcpus)
    except OSError as err:
        raise errors.HypervisorError("Failed to start instance %s: %s" % (name, err))
    console_log(name, "fake: instance %s started (memory %d MiB, %d VCPUs)%s"
                % (name, memory, vcpus, ", paused" if paused else ""))


def stop(name, timeout=None):
    """Stop NAME (at once: TIMEOUT does not matter); HypervisorError if it
    does not run."""
    try:
        os.unlink(state_file(name))
    except FileNotFoundError:
        raise errors.HypervisorError("Failed to stop instance %s: %s"
                                     % (name, "not running"))
    _set_paused(name, False)
    console_log(name, "fake: instance %s stopped" % name)


def reboot(name, hard=False, timeout=None):
    """Ganeti's fake reboot does nothing (soft or HARD) but the instance must run."""
    if not is_running(name):
        raise errors.HypervisorError("Failed to reboot instance %s: not running" % name)
    console_log(name, "fake: instance %s rebooted" % name)


def pause(name):
    if not is_running(name):
        raise errors.HypervisorError("Failed to pause instance %s: not running" % name)
    _set_paused(name, True)
    console_log(name, "fake: instance %s paused" % name)


def resume(name):
    if not is_running(name):
        raise errors.HypervisorError("Failed to resume instance %s: not running" % name)
    _set_paused(name, False)
    console_log(name, "fake: instance %s resumed" % name)


def balloon(name, memory):
    """Change the memory of a running instance (runtime memory)."""
    info = instance_info(name)
    if info is None:
        raise errors.HypervisorError("Failed to balloon memory for %s: %s"
                                     % (name, "not running"))
    _mark_up(name, memory, info["vcpus"])


# -- migration -------------------------------------------------------------
# The steps of a live migration, with the fake's state in files:
# fake-hypervisor-migration/<name> holds {"role": "source"|"target",
# "status", "memory", "vcpus", "peer", "transferred_ram", "total_ram"}.
#   target: accept       -> role target, status "prepared"
#   source: migrate      -> pauses the instance, "transfers" its memory
#                           (status "active", then "completed")
#   target: finalize_target(success) -> runs here / forgets the offer
#   source: finalize_source(success) -> stops here / resumes here
#   source: abort_migration          -> status "aborted", resumed
# A migration cut short leaves these files; `gnt-instance migrate
# --cleanup` finds where the instance runs and clears the rest.

MIGRATION_DIR_NAME = "fake-hypervisor-migration"


def _migration_file(name):
    return os.path.join(paths.run_dir(), MIGRATION_DIR_NAME, _check_name(name))


def _migration(name):
    from qganeti import fastjson
    try:
        with open(_migration_file(name)) as handle:
            return fastjson.loads(handle.read())
    except FileNotFoundError:
        return None
    except ValueError:
        return {"status": "failed"}


def _set_migration(name, state):
    from qganeti import fastjson, fileio
    path = _migration_file(name)
    if state is None:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        return
    os.makedirs(os.path.dirname(path), 0o755, exist_ok=True)
    fileio.atomic_write(path, fastjson.dumps(state), mode=0o644, durable=False)


def accept(name, data=None):
    """Migration target: prepare to receive NAME; refuse if it runs here."""
    data = data or {}
    if is_running(name):
        raise errors.HypervisorError("Can't accept instance, already running")
    memory = int(data.get("memory") or 0)
    free = node_memory()["memory_free"]
    if memory > free:
        raise errors.HypervisorError("Not enough memory to accept instance %s: needed %d MiB,"
                                     " available %d MiB" % (name, memory, free))
    _set_migration(name, {"role": "target", "status": "prepared", "memory": memory,
                          "vcpus": int(data.get("vcpus") or 1), "peer": data.get("source")})
    return {}


def migrate(name, data=None):
    """Migration source: send NAME to data["target"]; blocks until done."""
    data = data or {}
    info = instance_info(name)
    if info is None:
        raise errors.HypervisorError("Instance %s is not running" % name)
    total = info["memory"]
    state = {"role": "source", "status": "active", "memory": total, "vcpus": info["vcpus"],
             "peer": data.get("target"), "live": bool(data.get("live", True)),
             "transferred_ram": 0, "total_ram": total}
    _set_migration(name, state)
    console_log(name, "fake: migrating instance %s to %s (%s)"
                % (name, data.get("target"), "live" if state["live"] else "non-live"))
    _set_paused(name, True)          # the last round of a live migration stops the guest
    state.update(status="completed", transferred_ram=total)
    _set_migration(name, state)
    return {"status": "completed", "transferred_ram": total, "total_ram": total}


def migration_status(name, data=None):
    """{"status", "transferred_ram", "total_ram"} of NAME's migration from here."""
    state = _migration(name)
    if state is None:
        return {"status": "none"}
    return {"status": state.get("status"), "transferred_ram": state.get("transferred_ram", 0),
            "total_ram": state.get("total_ram", 0)}


def finalize_target(name, data=None):
    success = bool((data or {}).get("success"))
    state = _migration(name)
    if success:
        if state is None or state.get("role") != "target":
            raise errors.HypervisorError("Instance %s was not prepared for migration to this"
                                         " node" % name)
        if not is_running(name):
            _set_paused(name, False)
            _mark_up(name, state["memory"], state["vcpus"])
        console_log(name, "fake: instance %s migrated here from %s" % (name, state.get("peer")))
    elif state is not None and state.get("role") == "target" and is_running(name):
        stop(name)                   # it came up here but the migration is undone
    if state is None or state.get("role") == "target":
        _set_migration(name, None)
    return True


def finalize_source(name, data=None):
    success = bool((data or {}).get("success"))
    state = _migration(name)
    if success:
        if is_running(name):
            os.unlink(state_file(name))
            _set_paused(name, False)
        console_log(name, "fake: instance %s migrated away" % name)
    elif is_running(name):
        _set_paused(name, False)
        console_log(name, "fake: migration of instance %s undone, resumed" % name)
    if state is None or state.get("role") == "source":
        _set_migration(name, None)
    return True


def abort_migration(name, data=None):
    """Stop a migration from here (if any); the instance runs on, resumed."""
    state = _migration(name)
    if state is not None and state.get("role") == "source":
        if state.get("status") == "active":
            state["status"] = "aborted"
            _set_migration(name, state)
        if is_running(name):
            _set_paused(name, False)
    return True


def rename_console(old, new):
    """Keep the console log of an instance that was renamed."""
    try:
        os.rename(console_file(old), console_file(new))
    except FileNotFoundError:
        pass


def remove_console(name):
    try:
        os.unlink(console_file(name))
    except FileNotFoundError:
        pass


def used_memory():
    """MiB taken by running fake instances."""
    return sum(info["memory"] for info in list_instances().values())


def read_meminfo(path="/proc/meminfo"):
    """{key: kB} of /proc/meminfo."""
    out = {}
    with open(path) as handle:
        for line in handle:
            key, _, rest = line.partition(":")
            fields = rest.split()
            if fields and fields[0].isdigit():
                out[key.strip()] = int(fields[0])
    return out


def node_memory(meminfo_path="/proc/meminfo"):
    """Ganeti's fake GetNodeInfo memory figures, in MiB.

    memory_total, memory_dom0 (used by the host itself), memory_free (free,
    buffers and cache, minus what running fake instances use) and
    memory_instances (what they use).
    """
    info = read_meminfo(meminfo_path)
    total = info.get("MemTotal", 0) // 1024
    free = (info.get("MemFree", 0) + info.get("Buffers", 0)
            + info.get("Cached", 0)) // 1024
    used = used_memory()
    return {"memory_total": total, "memory_dom0": total - free,
            "memory_free": free - min(free, used), "memory_instances": used}
