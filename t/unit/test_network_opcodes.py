"""Declarations of the node, group, network and verify-group opcodes."""

import pytest

from qganeti import errors, opcodes

# Ganeti 3.0's opcodes of these areas (interfaces reference, section 3.2)
AREA_OPCODES = [
    "OP_NODE_ADD", "OP_NODE_REMOVE", "OP_NODE_SET_PARAMS", "OP_NODE_POWERCYCLE",
    "OP_NODE_MIGRATE", "OP_NODE_EVACUATE", "OP_NODE_QUERYVOLS", "OP_NODE_QUERY_STORAGE",
    "OP_NODE_MODIFY_STORAGE", "OP_REPAIR_NODE_STORAGE", "OP_OOB_COMMAND",
    "OP_RESTRICTED_COMMAND", "OP_GROUP_ADD", "OP_GROUP_ASSIGN_NODES", "OP_GROUP_SET_PARAMS",
    "OP_GROUP_REMOVE", "OP_GROUP_RENAME", "OP_GROUP_EVACUATE", "OP_GROUP_VERIFY_DISKS",
    "OP_NETWORK_ADD", "OP_NETWORK_REMOVE", "OP_NETWORK_SET_PARAMS", "OP_NETWORK_CONNECT",
    "OP_NETWORK_DISCONNECT", "OP_CLUSTER_VERIFY_GROUP",
]


@pytest.mark.parametrize("op_id", AREA_OPCODES)
def test_every_opcode_of_the_area_is_declared(op_id):
    assert opcodes.exists(op_id)


@pytest.mark.parametrize("op, summary", [
    ({"OP_ID": "OP_GROUP_ADD", "group_name": "g1"}, "GROUP_ADD(g1)"),
    ({"OP_ID": "OP_GROUP_RENAME", "group_name": "g1", "new_name": "g2"}, "GROUP_RENAME"),
    ({"OP_ID": "OP_NETWORK_CONNECT", "group_name": "g1", "network_name": "n1",
      "network_mode": "bridged", "network_link": "br0"}, "NETWORK_CONNECT(n1)"),
    ({"OP_ID": "OP_NODE_SET_PARAMS", "node_name": "node1"}, "NODE_SET_PARAMS(node1)"),
    ({"OP_ID": "OP_NODE_QUERY_STORAGE", "output_fields": ["name"]}, "NODE_QUERY_STORAGE"),
    ({"OP_ID": "OP_CLUSTER_VERIFY_GROUP", "group_name": "default"},
     "CLUSTER_VERIFY_GROUP(default)"),
])
def test_summaries_name_the_object_as_ganeti_does(op, summary):
    from qganeti import query
    assert query.op_summary(opcodes.validate(op)) == summary


def test_defaults_are_ganetis():
    op = opcodes.validate({"OP_ID": "OP_NETWORK_ADD", "network_name": "n1",
                           "network": "192.0.2.0/24"})
    assert (op["conflicts_check"], op["tags"], op["gateway"]) == (True, [], None)
    op = opcodes.validate({"OP_ID": "OP_OOB_COMMAND", "command": "health"})
    assert (op["timeout"], op["power_delay"], op["node_names"]) == (60, 2.0, [])
    op = opcodes.validate({"OP_ID": "OP_NETWORK_CONNECT", "group_name": "g",
                           "network_name": "n", "network_mode": "routed",
                           "network_link": "rt1"})
    assert op["network_vlan"] == ""


@pytest.mark.parametrize("op", [
    {"OP_ID": "OP_NETWORK_ADD", "network_name": "n1", "network": "192.0.2.0/33"},
    {"OP_ID": "OP_NETWORK_ADD", "network_name": "n1", "network": "192.0.2.0"},
    {"OP_ID": "OP_NETWORK_ADD", "network_name": "n1", "network": "192.0.2.0/24",
     "gateway": "192.0.2.300"},
    {"OP_ID": "OP_NETWORK_ADD", "network_name": "n1", "network": "192.0.2.0/24",
     "network6": "2001:db8::1"},
    {"OP_ID": "OP_NETWORK_ADD", "network_name": "", "network": "192.0.2.0/24"},
    {"OP_ID": "OP_GROUP_ADD", "group_name": "g1", "alloc_policy": "sometimes"},
    {"OP_ID": "OP_NODE_QUERY_STORAGE", "output_fields": ["name"], "storage_type": "tape"},
    {"OP_ID": "OP_NETWORK_CONNECT", "group_name": "g", "network_name": "n",
     "network_mode": "bridged"},
])
def test_bad_values_fail_validation_with_ganetis_message(op):
    with pytest.raises(errors.OpPrereqError) as err:
        opcodes.validate(op)
    assert err.value.args[1] == errors.ECODE_INVAL
    assert "fails validation" in err.value.args[0]


def test_op_program_argv_round_trips():
    opdef = opcodes.get("OP_GROUP_ADD")
    op = opcodes.validate({"OP_ID": "OP_GROUP_ADD", "group_name": "g1",
                           "ndparams": {"spindle_count": 2},
                           "ipolicy": {"vcpu-ratio": 2.0}})
    argv = opcodes.to_argv(op)
    assert argv[:2] == ["--group-name", "g1"]
    back = opcodes.validate(dict(opcodes.from_argv(opdef, argv), OP_ID="OP_GROUP_ADD"))
    assert back == op
