import os

from qganeti import fileio


def test_atomic_write_replaces_content_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "config.data"
    target.write_text("old")
    fileio.atomic_write(str(target), '{"serial_no": 2}', mode=0o600)
    assert target.read_text() == '{"serial_no": 2}'
    assert os.listdir(tmp_path) == ["config.data"]


def test_atomic_write_sets_mode_of_new_file(tmp_path):
    target = tmp_path / "job-1"
    fileio.atomic_write(str(target), b"{}", mode=0o640)
    assert (os.stat(target).st_mode & 0o777) == 0o640


def test_read_first_line_strips_and_defaults(tmp_path):
    control = tmp_path / "max"
    control.write_text("  25 \nignored\n")
    assert fileio.read_first_line(str(control)) == "25"
    assert fileio.read_first_line(str(tmp_path / "missing"), "20") == "20"
