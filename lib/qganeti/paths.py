"""Where things live.

Two trees matter: the *state root* ($QGANETI_ROOT, default "/"), under which
every file a cluster node keeps lives (DESIGN.md section 3), and the *code
tree* (a checkout or an installed PREFIX), found relative to this file.
Everything here is a cheap string computation: no I/O at import.
"""

import os

# lib/qganeti/paths.py -> the tree that holds bin/, libexec/, lib/, etc/
TREE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN_DIR = os.path.join(TREE, "bin")
LIBEXEC_DIR = os.path.join(TREE, "libexec", "qganeti")
OP_DIR = os.path.join(LIBEXEC_DIR, "op")
NODE_DIR = os.path.join(LIBEXEC_DIR, "node")
DAEMON_DIR = os.path.join(LIBEXEC_DIR, "daemons")
IALLOCATOR_DIR = os.path.join(LIBEXEC_DIR, "iallocators")
TREE_ETC_DIR = os.path.join(TREE, "etc")
TREE_OS_DIR = os.path.join(TREE, "os")


def root():
    """The state root of this node, always ending in '/'."""
    value = os.environ.get("QGANETI_ROOT") or "/"
    return value if value.endswith("/") else value + "/"


def under_root(path):
    """Map an absolute path such as /var/lib/qganeti to the state root."""
    return root() + path.lstrip("/")


def data_dir():
    return under_root("var/lib/qganeti")


def run_dir():
    return under_root("var/run/qganeti")


def log_dir():
    return under_root("var/log/qganeti")


def conf_dir():
    return under_root("etc/qganeti")


def cache_dir():
    return under_root("var/cache/qganeti")


def config_file():
    return os.path.join(data_dir(), "config.data")


def locks_file():
    return os.path.join(data_dir(), "locks.data")


def queue_dir():
    return os.path.join(data_dir(), "queue")


def archive_dir():
    return os.path.join(queue_dir(), "archive")


def livelock_dir():
    return os.path.join(run_dir(), "livelocks")


def socket_dir():
    return os.path.join(run_dir(), "socket")


def luxi_socket():
    return os.path.join(socket_dir(), "ganeti-query")


def ssconf_file(key):
    return os.path.join(data_dir(), "ssconf_" + key)


def settings_file():
    return os.path.join(conf_dir(), "qganeti.yaml")


def hostname():
    """This node's own name: $QGANETI_HOSTNAME, else the kernel's hostname."""
    name = os.environ.get("QGANETI_HOSTNAME")
    if name:
        return name
    import socket
    return socket.gethostname()


def python():
    """The interpreter that runs our programs (the virtualenv's own)."""
    import sys
    return sys.executable
