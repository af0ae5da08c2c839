"""Opcode declarations, one module per area (see qganeti.opcodes)."""
