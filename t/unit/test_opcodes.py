import pytest

from qganeti import errors, opcodes


def test_validate_fills_defaults_and_converts_duration_to_float():
    op = opcodes.validate({"OP_ID": "OP_TEST_DELAY", "duration": 2})
    assert op["duration"] == 2.0 and isinstance(op["duration"], float)
    assert op["on_master"] is True and op["on_nodes"] == [] and op["repeat"] == 0
    assert op["priority"] == 0 and op["reason"] == []


def test_validate_refuses_wrong_types_with_ganetis_message():
    with pytest.raises(errors.OpPrereqError) as exc:
        opcodes.validate({"OP_ID": "OP_TEST_DELAY", "duration": "soon"})
    assert exc.value.args == ("Parameter 'OP_TEST_DELAY.duration' fails validation", "wrong_input")


def test_validate_requires_required_parameters():
    with pytest.raises(errors.OpPrereqError) as exc:
        opcodes.validate({"OP_ID": "OP_TEST_DELAY"})
    assert "OP_TEST_DELAY.duration" in exc.value.args[0]


def test_validate_refuses_unknown_opcode_and_unknown_parameters():
    with pytest.raises(errors.OpPrereqError):
        opcodes.validate({"OP_ID": "OP_NO_SUCH"})
    with pytest.raises(errors.OpPrereqError) as exc:
        opcodes.validate({"OP_ID": "OP_TEST_DELAY", "duration": 1, "bogus": 1})
    assert "bogus" in exc.value.args[0]


def test_argv_shows_non_default_parameters_and_round_trips():
    op = opcodes.validate({"OP_ID": "OP_TEST_DELAY", "duration": 5, "on_nodes": ["n1", "n2"],
                           "no_locks": False, "repeat": 3})
    argv = opcodes.to_argv(op)
    assert argv[:2] == ["--duration", "5"]
    assert "--on-nodes" in argv and '["n1","n2"]' in argv
    assert "--no-no-locks" in argv
    back = opcodes.from_argv(opcodes.get("OP_TEST_DELAY"), argv)
    for key in ("duration", "on_nodes", "no_locks", "repeat"):
        assert back[key] == op[key]


def test_argv_value_never_taken_for_an_option():
    opdef = opcodes.get("OP_TAGS_SEARCH")
    assert opcodes.from_argv(opdef, ["--pattern", "--force"]) == {"pattern": "--force"}


def test_from_argv_refuses_unknown_options():
    with pytest.raises(errors.ParameterError):
        opcodes.from_argv(opcodes.get("OP_TEST_DELAY"), ["--nonsense", "1"])


def test_program_names_follow_the_op_id():
    assert opcodes.get("OP_TEST_DELAY").program == "test-delay"
    assert opcodes.get("OP_CLUSTER_SET_PARAMS").program == "cluster-set-params"
