"""Opcode declarations: OS definitions and ExtStorage providers."""

from qganeti import optypes as t
from qganeti.opcodes import REQUIRED, Param, declare

declare("OP_OS_DIAGNOSE", [
    Param("output_fields", REQUIRED, t.ListOf(t.NonEmptyString), "Selected output fields"),
    Param("names", [], t.ListOf(t.NonEmptyString), "Which operating systems to diagnose"),
], doc="Compute the list of guest operating systems.")

declare("OP_EXT_STORAGE_DIAGNOSE", [
    Param("output_fields", REQUIRED, t.ListOf(t.NonEmptyString), "Selected output fields"),
    Param("names", [], t.ListOf(t.NonEmptyString), "Which ExtStorage Provider to diagnose"),
], doc="Compute the list of external storage providers.")
