"""Preparing a node to join (the SSH part of `gnt-node add`, on the master).

As in Ganeti, this runs in the gnt-node process, with the operator's own
credentials, before OP_NODE_ADD is submitted: it makes the cluster's SSH
key pair and certificate if the cluster has none yet (a one-node cluster
needs neither), records the master's and the new node's host keys in the
cluster's known_hosts (a key already recorded must match, unless the
operator asks for no key check), logs in to the node with the cluster's
key or the operator's ssh-agent, and runs node/node-join there, which
installs the key pair, known_hosts and certificate.  The private key
travels on the SSH channel's stdin, never on a command line.
"""

from qganeti import errors


def gather_host_key(name, address, port, accept):
    """Open and close an SSH connection to check (and record) NAME's host key."""
    from qganeti import sshcall
    transport = sshcall.connect(name, address, port, accept_new=accept, use_agent=True)
    transport.close()


def ensure_cluster_credentials(cfg):
    from qganeti import sshkeys, tlscert
    cluster = cfg["cluster"]
    sshkeys.generate(cluster.get("ssh_key_type") or "rsa", cluster.get("ssh_key_bits") or 2048)
    tlscert.ensure()


def prepare(cfg, name, ssh_key_check=True, force_join=False, feedback=None):
    """Make node NAME ready for OP_NODE_ADD; (address, port) it was reached at."""
    from qganeti import fastjson, fileio, nodecall, netutils, sshcall, sshkeys, tlscert
    from qganeti.lu import instance_util as iu
    ensure_cluster_credentials(cfg)
    accept = True if ssh_key_check else "replace"
    master = cfg["nodes"][cfg["cluster"]["master_node"]]
    if sshkeys.host_key(master["name"], master["primary_ip"]) is None:
        # other master candidates must be able to reach the master too
        try:
            gather_host_key(master["name"], master["primary_ip"],
                            sshcall.ssh_port(cfg, master), True)
        except errors.GenericError as err:
            if feedback:
                feedback("Warning: could not record the master's own host key: %s" % err)
    name, address = iu.resolve(name)
    if not netutils.is_ipv4(address):
        raise errors.OpPrereqError("Node %s resolves to '%s', not an IPv4 address"
                                   % (name, address), errors.ECODE_INVAL)
    port = sshcall.ssh_port(cfg)
    transport = sshcall.connect(name, address, port, accept_new=accept, use_agent=True)
    try:
        key_name, private, public = sshkeys.read_pair()
        payload = {"cluster_name": cfg["cluster"]["cluster_name"], "key_name": key_name,
                   "private": private, "public": public,
                   "known_hosts": fileio.read_file(sshkeys.known_hosts_file(), ""),
                   "certificate": tlscert.read(), "force": force_join,
                   "file_storage_dir": cfg["cluster"].get("file_storage_dir")}
        code, out, err = sshcall.execute(transport, sshcall.remote_argv("node-join", []),
                                         fastjson.dumps(payload).encode("utf-8"), timeout=60)
    finally:
        transport.close()
    nodecall.outcome(name, "node-join", code, out, err)
    return address, port
