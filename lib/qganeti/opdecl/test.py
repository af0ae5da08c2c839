"""Opcode declarations: testing and debugging."""

from qganeti import optypes as t
from qganeti.opcodes import REQUIRED, Param, declare


declare("OP_TEST_DELAY", [
    Param("duration", REQUIRED, t.Float, "Duration parameter for 'OpTestDelay'"),
    Param("on_master", True, t.Bool, "on_master field for 'OpTestDelay'"),
    Param("on_nodes", [], t.ListOf(t.NonEmptyString), "on_nodes field for 'OpTestDelay'"),
    Param("on_node_uuids", None, t.Maybe(t.ListOf(t.NonEmptyString)), "on_node_uuids field for 'OpTestDelay'"),
    Param("repeat", 0, t.NonNegativeInt, "Repeat parameter for OpTestDelay"),
    Param("interruptible", False, t.Bool, "Allows socket-based interruption of a running OpTestDelay"),
    Param("no_locks", True, t.Bool, "Don't take locks during the delay"),
], dsc_field="duration", doc="Sleeps for a configured amount of time (testing and debugging).")
