import os

import pytest

from qganeti import errors, storage


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("QGANETI_ROOT", str(tmp_path))
    data = tmp_path / "var/lib/qganeti"
    data.mkdir(parents=True)
    (data / "ssconf_file_storage_dir").write_text("/srv/qganeti/file-storage\n")
    (data / "ssconf_shared_file_storage_dir").write_text(str(tmp_path / "shared") + "\n")
    return tmp_path


def test_paths_are_ganetis_and_file_ones_live_under_the_root(root):
    logical = storage.logical_path("/srv/qganeti/file-storage", "web1", "u-1", 0, "file")
    assert logical == "/srv/qganeti/file-storage/web1/u-1.file.disk0"
    assert storage.local("file", logical) == str(root) + logical
    shared = storage.logical_path(str(root / "shared"), "web1", "u-1", 2, "sharedfile")
    assert storage.local("sharedfile", shared) == shared


@pytest.mark.parametrize("path", [
    "/srv/qganeti/file-storage/../etc/passwd",
    "/srv/qganeti/file-storage/x",
    "/etc/web1/disk",
    "/srv/qganeti/file-storage/web1/../../x/y",
    "/srv/qganeti/file-storage/.hidden/disk",
    "relative/path",
])
def test_paths_outside_the_storage_dir_are_refused(root, path):
    with pytest.raises(errors.StorageError):
        storage.check_path("file", path)


def test_create_is_sparse_exclusive_and_grows(root):
    path = str(root / "d" / "disk0")
    storage.create(path, 1024)
    assert storage.size_mib(path) == 1024
    assert storage.allocated_mib(path) == 0
    with pytest.raises(errors.StorageError, match="already exists"):
        storage.create(path, 10)
    storage.grow(path, 2048)
    assert storage.size_mib(path) == 2048
    with pytest.raises(errors.StorageError, match="shrink"):
        storage.grow(path, 1024)
    storage.remove(path)
    storage.remove(path)        # gone already: fine
    assert not os.path.exists(path)


@pytest.mark.parametrize("size", [0, -4, "12"])
def test_bad_sizes_are_refused(root, size):
    with pytest.raises(errors.StorageError):
        storage.create(str(root / "disk"), size)
    assert not os.path.exists(root / "disk")


def test_snapshot_keeps_content_and_holes_and_rollback_restores(root):
    path = str(root / "inst" / "disk0")
    storage.create(path, 64)
    with open(path, "r+b") as handle:
        handle.seek(10 * storage.MIB)
        handle.write(b"before" * 1000)
    method = storage.snapshot(path, "s1")
    assert method in ("reflink", "copy")
    snap = storage.snapshot_path(path, "s1")
    assert os.path.getsize(snap) == 64 * storage.MIB
    assert storage.allocated_mib(snap) < 8      # a sparse copy, not 64 MiB
    with open(path, "r+b") as handle:
        handle.seek(10 * storage.MIB)
        handle.write(b"after!" * 1000)
    storage.grow(path, 128)
    storage.rollback(path, "s1")
    assert os.path.getsize(path) == 64 * storage.MIB
    with open(path, "rb") as handle:
        handle.seek(10 * storage.MIB)
        assert handle.read(6) == b"before"
    assert storage.list_snapshots(path) == ["s1"]
    with pytest.raises(errors.StorageError, match="already exists"):
        storage.snapshot(path, "s1")
    storage.remove_snapshot(path, "s1")
    assert storage.list_snapshots(path) == []
    storage.remove(path)
    storage.remove_dir(os.path.dirname(path))
    assert not os.path.exists(os.path.dirname(path))


@pytest.mark.parametrize("name", ["", "../x", "a/b", ".hidden", "x" * 65, "a b"])
def test_bad_snapshot_names_are_refused(root, name):
    with pytest.raises(errors.StorageError):
        storage.snapshot_path("/x/disk0", name)


def test_rename_dir_refuses_to_overwrite(root):
    (root / "a").mkdir()
    (root / "b").mkdir()
    with pytest.raises(errors.StorageError, match="exists"):
        storage.rename_dir(str(root / "a"), str(root / "b"))
    storage.rename_dir(str(root / "a"), str(root / "c"))
    assert (root / "c").is_dir()
