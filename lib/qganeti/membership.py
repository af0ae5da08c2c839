"""A node's side of cluster membership: join, leave, and receiving replicas.

These run on the node concerned (node/node-join, node/node-leave,
node/files-receive), under its own state root.

join: the node takes the cluster's SSH key pair (and authorizes it), the
  cluster's known_hosts and certificate; a node that belongs to another
  cluster refuses unless forced.
leave: the node forgets the cluster: config, ssconf, job queue,
  certificate, the cluster's keys (and their authorization).
receive: the master's replicas: config.data (highest serial_no wins: an
  older or equal one is ignored unless forced), ssconf files (only those
  that differ are replaced), known_hosts, and job files (live, archived,
  or removed) with the queue's serial.  Each file is replaced atomically
  and fsync'd; the answer says what this node now has.
"""

import os

from qganeti import errors, fileio, paths


def _cluster_name():
    return fileio.read_first_line(paths.ssconf_file("cluster_name"))


def local_serial():
    """serial_no of this node's config.data, or -1 when it has none."""
    text = fileio.read_file(paths.config_file())
    if text is None:
        return -1
    from qganeti import fastjson
    try:
        return int(fastjson.loads(text).get("serial_no", -1))
    except (ValueError, AttributeError):
        return -1


def _make_dirs():
    from qganeti import bootstrap
    bootstrap.make_dirs()


def join(data):
    """Install what node add sends; {"joined": cluster name}."""
    from qganeti import sshkeys, tlscert
    cluster = data.get("cluster_name")
    if not cluster:
        raise errors.OpPrereqError("No cluster name given", errors.ECODE_INVAL)
    current = _cluster_name()
    if current and current != cluster and not data.get("force"):
        raise errors.OpPrereqError("this node belongs to cluster %s (use --force-join to take"
                                   " it over)" % current, errors.ECODE_STATE)
    _make_dirs()
    sshkeys.install_pair(data["key_name"], data["private"], data["public"])
    if data.get("known_hosts") is not None:
        fileio.ensure_dir(sshkeys.ssh_dir(), 0o700)
        fileio.atomic_write(sshkeys.known_hosts_file(), data["known_hosts"], mode=0o644)
    if data.get("certificate"):
        tlscert.install(data["certificate"])
    storage = data.get("file_storage_dir")
    if storage and storage.startswith("/") and ".." not in storage.split("/"):
        fileio.ensure_dir(paths.under_root(storage), 0o750)
    return {"joined": cluster}


def leave(data=None):
    """Forget the cluster; {"left": cluster name or None}."""
    import shutil
    from qganeti import sshkeys, tlscert
    cluster = _cluster_name()
    public = None
    try:
        _, _, public = sshkeys.read_pair()
    except errors.GenericError:
        pass
    if public:
        sshkeys.unauthorize(public)
    for name in os.listdir(sshkeys.ssh_dir()) if os.path.isdir(sshkeys.ssh_dir()) else ():
        if name != "authorized_keys":
            _unlink(os.path.join(sshkeys.ssh_dir(), name))
    data_dir = paths.data_dir()
    for name in os.listdir(data_dir) if os.path.isdir(data_dir) else ():
        if name.startswith("ssconf_") or name.startswith("config.data") \
                or name == "locks.data":
            _unlink(os.path.join(data_dir, name))
    _unlink(tlscert.cert_file())
    shutil.rmtree(paths.queue_dir(), ignore_errors=True)
    return {"left": cluster}


def _unlink(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except IsADirectoryError:
        pass


def receive(data):
    """Take the replicas in DATA; {"serial": this node's config serial_no, ...}."""
    from qganeti import fastjson, ssconf
    out = {}
    force = bool(data.get("force"))
    if data.get("config") is not None:
        text = data["config"]
        try:
            incoming = int(fastjson.loads(text)["serial_no"])
        except (ValueError, KeyError, TypeError):
            raise errors.OpPrereqError("The configuration sent is not valid",
                                       errors.ECODE_INVAL)
        local = local_serial()
        if incoming > local or (force and incoming != local):
            _make_dirs()
            fileio.atomic_write(paths.config_file(), text, mode=0o640)
            out["config"] = "written"
            local = incoming
        else:
            out["config"] = "kept"
        out["serial"] = local
    if data.get("ssconf"):
        fileio.ensure_dir(paths.data_dir(), 0o755)
        out["ssconf"] = ssconf.write_values(data["ssconf"])
    if data.get("known_hosts") is not None:
        from qganeti import sshkeys
        fileio.ensure_dir(sshkeys.ssh_dir(), 0o700)
        if fileio.read_file(sshkeys.known_hosts_file()) != data["known_hosts"]:
            fileio.atomic_write(sshkeys.known_hosts_file(), data["known_hosts"], mode=0o644)
    if data.get("jobs") or data.get("archived") or data.get("queue_serial") is not None:
        out["jobs"] = _receive_jobs(data)
    if "serial" not in out:
        out["serial"] = local_serial()
    return out


def _job_id(key):
    text = str(key)
    if not text.isdigit():
        raise errors.OpPrereqError("Invalid job id %r" % (key,), errors.ECODE_INVAL)
    return int(text)


def _receive_jobs(data):
    """Write the job files sent: {id: text} live ({id: null} removes), archived."""
    from qganeti import jqueue
    jqueue.init_dirs()
    written = 0
    dirs = set()
    for key, text in (data.get("jobs") or {}).items():
        jid = _job_id(key)
        path = jqueue.job_file(jid)
        if text is None:
            _unlink(path)
        else:
            fileio.atomic_write(path, text, jqueue.FILE_MODE, durable=False, fsync_file=True)
            written += 1
        dirs.add(os.path.dirname(path))
    for key, text in (data.get("archived") or {}).items():
        jid = _job_id(key)
        target = jqueue.archived_file(jid)
        fileio.ensure_dir(os.path.dirname(target), 0o750)
        fileio.atomic_write(target, text, jqueue.FILE_MODE, durable=False, fsync_file=True)
        _unlink(jqueue.job_file(jid))
        dirs.update((os.path.dirname(target), paths.queue_dir()))
        written += 1
    serial = data.get("queue_serial")
    if serial is not None and int(serial) > jqueue.read_serial():
        fileio.atomic_write(jqueue.serial_file(), "%d\n" % int(serial), jqueue.FILE_MODE,
                            durable=False, fsync_file=True)
        dirs.add(paths.queue_dir())
    for directory in dirs:
        fileio.fsync_dir(directory)
    return written
