"""A one-node cluster's state in a temporary root, and opcodes run in-process.

For the node, group, network and verify tests: the config store, the node
actions (nodecall runs them as processes) and the opcode logic are the real
ones; only the job around the opcode (luxid, job file, locks) is left out.
"""

import os

from qganeti import config, errors, jobrun, opcodes

MASTER_IP = "192.0.2.254"
NODE_IP = "192.0.2.10"


def make_cluster(tmp_path, monkeypatch, templates=("file", "diskless"), **options):
    """Create config.data (and the storage directory) of a fresh cluster."""
    root = tmp_path / "root"
    root.mkdir()
    monkeypatch.setenv("QGANETI_ROOT", str(root))
    monkeypatch.setenv("QGANETI_HOSTNAME", "node1.example.com")
    cfg = config.new_cluster("cluster.example.com", "node1.example.com", MASTER_IP,
                             primary_ip=NODE_IP, enabled_hypervisors=["fake"],
                             enabled_disk_templates=list(templates),
                             file_storage_dir="/srv/qganeti/file-storage", **options)
    config.create(cfg)
    (root / "srv/qganeti/file-storage").mkdir(parents=True)
    (root / "var/run/qganeti").mkdir(parents=True)
    return root


class Run:
    """The outcome of an opcode: result, the log lines, the context."""

    def __init__(self, result, log, ctx):
        self.result = result
        self.log = log
        self.ctx = ctx


def run_op(lu, op_id, **params):
    """Validate, expand, check and run one opcode on the current config."""
    op = opcodes.validate(dict(params, OP_ID=op_id))
    log = []
    ctx = jobrun.Context(opcodes.get(op_id), feedback=lambda kind, msg: log.append(msg))
    if hasattr(lu, "expand"):
        lu.expand(op, ctx)
    if hasattr(lu, "check"):
        lu.check(op, ctx)
    return Run(lu.run(op, ctx), log, ctx)


def prereq(lu, op_id, **params):
    """The OpPrereqError an opcode raises: (message, error code or None)."""
    try:
        run_op(lu, op_id, **params)
    except errors.OpPrereqError as err:
        return (err.args[0], err.args[1] if len(err.args) > 1 else None)
    raise AssertionError("%s did not fail" % op_id)


def cfg():
    return config.load()


def group_by_name(name):
    return next(g for g in cfg()["nodegroups"].values() if g["name"] == name)


def master_uuid():
    return cfg()["cluster"]["master_node"]


def add_instance(name, admin_state="down", disks=(), nics=(), node=None, template="file"):
    """An instance in config.data: file disks (sizes) below the storage dir."""
    current = cfg()
    node = node or current["cluster"]["master_node"]
    uuid = config.new_uuid()
    changes = []
    disk_uuids = []
    for index, size in enumerate(disks):
        disk_uuid = config.new_uuid()
        path = "%s/%s/%s.%s.disk%d" % (current["cluster"]["file_storage_dir"], name,
                                       disk_uuid, template, index)
        changes.append({"op": "add", "path": "/disks/" + disk_uuid, "value": {
            "dev_type": template, "logical_id": ["loop", path], "children": [],
            "nodes": [node], "iv_name": "disk/%d" % index, "size": size, "mode": "rw",
            "params": {}, "uuid": disk_uuid, "serial_no": 1}})
        disk_uuids.append(disk_uuid)
    nic_list = []
    for index, nic in enumerate(nics):
        nic = dict(nic)
        nic.setdefault("mac", "aa:00:00:00:00:%02x" % index)
        nic.setdefault("nicparams", {})
        nic.setdefault("uuid", config.new_uuid())
        nic_list.append(nic)
    changes.append({"op": "add", "path": "/instances/" + uuid, "value": {
        "name": name, "primary_node": node, "os": "noop", "hypervisor": "fake",
        "hvparams": {}, "beparams": {}, "osparams": {}, "osparams_private": {},
        "admin_state": admin_state, "admin_state_source": "admin", "nics": nic_list,
        "disks": disk_uuids, "disks_active": admin_state == "up"}})
    config.commit(changes)
    return uuid


def disk_paths(instance_uuid):
    current = cfg()
    return [current["disks"][d]["logical_id"][1]
            for d in current["instances"][instance_uuid]["disks"]]
