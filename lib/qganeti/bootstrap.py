"""Creating and destroying a cluster on this node (gnt-cluster init/destroy).

Both run in the gnt-cluster process itself, as in Ganeti: there is no
master daemon yet to run them as jobs (init), or none left (destroy).
"""

import os
import shutil
import subprocess

from qganeti import config, errors, fileio, jqueue, netutils, paths


def _daemon_util(*args):
    return subprocess.run([os.path.join(paths.LIBEXEC_DIR, "daemon-util")] + list(args))


def make_dirs():
    for path, mode in ((paths.data_dir(), 0o755), (paths.run_dir(), 0o775),
                       (paths.socket_dir(), 0o770), (paths.livelock_dir(), 0o750),
                       (paths.log_dir(), 0o750), (paths.conf_dir(), 0o755),
                       (paths.cache_dir(), 0o755), (paths.under_root("srv/qganeti/os"), 0o755)):
        fileio.ensure_dir(path, mode)
    jqueue.init_dirs()


def init_cluster(cluster_name, **options):
    """Write the config of a new one-node cluster and start its master daemon.

    OPTIONS are config.new_cluster's; when the state root is not the
    machine's own, names need not resolve (the node's address then
    defaults to 127.0.0.1) and no master IP is ever configured.
    """
    if config.exists():
        raise errors.OpPrereqError("Cluster is already initialised", errors.ECODE_STATE)
    if not netutils.is_valid_hostname(cluster_name):
        raise errors.OpPrereqError("Invalid cluster name '%s'" % cluster_name,
                                   errors.ECODE_INVAL)
    hostname = paths.hostname()
    if not netutils.is_valid_hostname(hostname):
        raise errors.OpPrereqError("Invalid node name '%s'" % hostname, errors.ECODE_INVAL)
    virtual = paths.root() != "/"
    node_ip = netutils.resolve(hostname)
    if node_ip is None:
        if not virtual:
            raise errors.ResolverError(hostname)
        node_ip = "127.0.0.1"
    master_ip = options.pop("master_ip", None) or netutils.resolve(cluster_name)
    if master_ip is None:
        if not virtual:
            raise errors.ResolverError(cluster_name)
        master_ip = node_ip
    options = {k: v for k, v in options.items() if v is not None}
    from qganeti import settings
    for key, value in settings.load()["cluster-init"].items():
        options.setdefault(key, value)
    cfg = config.new_cluster(cluster_name, hostname, master_ip, primary_ip=node_ip, **options)
    make_dirs()
    fileio.ensure_dir(paths.under_root(cfg["cluster"]["file_storage_dir"]), 0o750)
    if "sharedfile" in cfg["cluster"]["enabled_disk_templates"]:
        # (objects branch) as Ganeti's init: the shared directory is used as given
        shared = cfg["cluster"]["shared_file_storage_dir"]
        try:
            fileio.ensure_dir(shared, 0o750)
        except OSError as err:
            raise errors.OpPrereqError("Cannot create file storage directory '%s': %s"
                                       % (shared, err.strerror), errors.ECODE_ENVIRON)
    config.create(cfg)
    result = _daemon_util("start", "luxid")
    if result.returncode != 0:
        raise errors.OpExecError("Could not start the master daemon (luxid); see %s" %
                                 os.path.join(paths.log_dir(), "luxi-daemon.log"))
    return cfg


def finalize_destroy():
    """Stop the daemons and remove the cluster's state (logs stay)."""
    _daemon_util("stop-all")
    _kill_job_processes()
    for path in (paths.data_dir(), paths.run_dir(), paths.cache_dir()):
        shutil.rmtree(path, ignore_errors=True)


def _kill_job_processes():
    """Job processes outlive luxid by design; a destroyed cluster keeps none."""
    import signal
    directory = paths.livelock_dir()
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return
    for name in names:
        path = os.path.join(directory, name)
        try:
            with open(path) as handle:
                pid = int(handle.read().strip() or 0)
        except (OSError, ValueError):
            continue
        if pid and _holds(path):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _holds(path):
    from qganeti import livelock
    return livelock.is_alive(path)
