"""The logic of each opcode (Ganeti's logical units), one module per opcode.

Each module offers expand(op, ctx) -> locks, check(op, ctx) and
run(op, ctx) -> result; libexec/qganeti/op/<name> hands it to jobrun.main.
"""
