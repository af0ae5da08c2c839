"""gnt-cluster's commands that reach every node: command, copyfile, redist-conf.

As in Ganeti they run in the gnt-cluster process on the master and reach
the nodes over SSH with the cluster's key (checked against the cluster's
known_hosts).  The master itself runs a command locally.
"""

import os

from qganeti import cli, errors, paths

SEPARATOR = "------------------------------------------------"


def online_nodes(cfg, names=(), group=None):
    """Node names (the master last) of the selection, without offline nodes."""
    from qganeti import config
    from qganeti.lu.group import lookup_group
    nodes = cfg["nodes"]
    if names:
        selected = [nodes[config.node_uuid(cfg, name)] for name in names]
    else:
        selected = sorted(nodes.values(), key=lambda n: n["name"])
    if group:
        wanted = lookup_group(cfg, group)
        selected = [n for n in selected if n.get("group") == wanted]
    offline = [n["name"] for n in selected if n.get("offline")]
    if offline:
        cli.err("Note: skipping offline node(s): %s" % ", ".join(offline))
    master = nodes[cfg["cluster"]["master_node"]]["name"]
    out = [n["name"] for n in selected if not n.get("offline") and n["name"] != master]
    if any(n["name"] == master for n in selected):
        out.append(master)
    return out


def run_command(opts, args):
    import subprocess
    from qganeti import config, nodecall, sshcall
    cfg = config.load()
    command = " ".join(args)
    for name in online_nodes(cfg, opts.nodes, opts.nodegroup):
        if nodecall.is_local(name):
            proc = subprocess.run(["/bin/sh", "-c", command], stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            code, output = proc.returncode, proc.stdout.decode("utf-8", "replace")
        else:
            try:
                code, output = sshcall.run_shell(cfg, name, command)
            except errors.GenericError as err:
                code, output = 255, "%s\n" % err.args[0]
        if opts.failure_only and code == 0:
            continue
        cli.out(SEPARATOR)
        if opts.show_machine_names:
            for line in output.splitlines():
                cli.out("%s: %s", name, line)
        else:
            cli.out("node: %s", name)
            cli.out("%s", output.rstrip("\n"))
        cli.out("return code = %s", code)
    return 0


def copy_file(opts, args):
    """Copy a file of the master to the same path on the other nodes.

    A file under the master's state root ($QGANETI_ROOT, when not /) goes to
    the same place under each node's own root (a virtual cluster's nodes
    share one filesystem); any other path is copied as it is.
    """
    import base64
    from qganeti import config, nodecall
    filename = os.path.abspath(args[0])
    if not os.path.exists(filename):
        raise errors.OpPrereqError("No such filename '%s'" % filename, errors.ECODE_INVAL)
    if not os.path.isfile(filename):
        raise errors.OpPrereqError("Not a regular file: '%s'" % filename, errors.ECODE_INVAL)
    cfg = config.load()
    root = paths.root()
    args_ = [filename]
    if root != "/" and filename.startswith(root):
        args_ = ["--in-root", "/" + filename[len(root):]]
    with open(filename, "rb") as handle:
        payload = {"data": base64.b64encode(handle.read()).decode("ascii"),
                   "mode": os.stat(filename).st_mode & 0o7777}
    nodes = [n for n in online_nodes(cfg, opts.nodes, opts.nodegroup)
             if not nodecall.is_local(n)]
    uuids = [config.node_uuid(cfg, n) for n in nodes]
    failed = 0
    for uuid, answer in sorted(nodecall.run_many(cfg, uuids, "file-write", args_,
                                                 payload).items()):
        if isinstance(answer, errors.GenericError):
            cli.err("Copy of file %s to node %s failed: %s", filename,
                    cfg["nodes"][uuid]["name"], answer.args[0])
            failed += 1
    return 1 if failed else 0


def redist_conf(opts, args):
    cli.submit_or_send(cli.op("OP_CLUSTER_REDIST_CONF"), opts)
    return 0
