"""spawn.run: a child with stdin fed and stdout/stderr captured, no subprocess."""

import sys
import time

import pytest

from qganeti import spawn

PY = sys.executable


def test_input_output_and_exit_code():
    code, out, err = spawn.run([PY, "-c", "import sys; d = sys.stdin.read();"
                                " sys.stdout.write(d.upper()); sys.stderr.write('e');"
                                " sys.exit(3)"], b"hello")
    assert (code, out, err) == (3, b"HELLO", b"e")


def test_large_output_on_both_streams_does_not_deadlock():
    script = ("import sys; d = sys.stdin.buffer.read();"
              " sys.stderr.buffer.write(b'x' * 300000); sys.stdout.buffer.write(d)")
    data = bytes(range(256)) * 2000
    code, out, err = spawn.run([PY, "-c", script], data, timeout=30)
    assert code == 0 and out == data and err == b"x" * 300000


def test_a_child_that_reads_nothing_still_ends():
    code, out, _ = spawn.run(["/bin/true"], b"y" * 1000000, timeout=30)
    assert code == 0 and out == b""


def test_killed_by_a_signal_gives_minus_the_signal():
    code, _, _ = spawn.run(["/bin/sh", "-c", "kill -9 $$"])
    assert code == -9


def test_timeout_kills_the_child():
    start = time.monotonic()
    with pytest.raises(spawn.Timeout):
        spawn.run(["/bin/sleep", "30"], timeout=0.3)
    assert time.monotonic() - start < 10


def test_a_program_that_does_not_exist_is_an_oserror():
    with pytest.raises(OSError):
        spawn.run(["/nonexistent/program"])


def test_environment_is_exactly_what_is_given():
    _, out, _ = spawn.run(["/usr/bin/env"], env={"A": "1"})
    assert out == b"A=1\n"
