import hashlib
import os
import sys
import threading

import pytest

from qganeti import tlscert, volcopy

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import tcp_proxy  # noqa: E402


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("QGANETI_ROOT", str(tmp_path / "root"))
    tlscert.ensure()
    return tmp_path


def sparse_source(path, size=32 << 20):
    with open(path, "wb") as handle:
        handle.truncate(size)
        handle.seek(5 << 20)
        handle.write(os.urandom(3 << 20))
        handle.seek(20 << 20)
        handle.write(bytes(2 << 20))      # written zeros: a hole for the copy too
        handle.seek(size - 100)
        handle.write(b"tail" * 25)
    return path


def copy(src, dst, key=b"k" * 32, send_key=None, tls=True, compress="none", resume=False,
         proxy=None):
    """Send SRC into DST; PROXY (mode, n): through tcp_proxy in that mode."""
    listener = volcopy.listen("127.0.0.1")
    port = listener.getsockname()[1]
    if proxy:
        port = tcp_proxy.start(port, *proxy)
    out = {}

    def receive():
        try:
            out["received"] = volcopy.receive(listener, dst, key, tls=tls, timeout=20,
                                              resume=resume)
        except volcopy.CopyError as err:
            out["receive_error"] = err
    thread = threading.Thread(target=receive)
    thread.start()
    try:
        out["sent"] = volcopy.send("127.0.0.1", port, src, send_key or key, tls=tls,
                                   compress=compress)
    except volcopy.CopyError as err:
        out["send_error"] = err
    thread.join()
    return out


def test_data_extents_skip_holes(tmp_path):
    src = sparse_source(str(tmp_path / "src"))
    fd = os.open(src, os.O_RDONLY)
    try:
        extents = list(volcopy.data_extents(fd, os.fstat(fd).st_size))
    finally:
        os.close(fd)
    covered = sum(end - start for start, end in extents)
    assert covered < 16 << 20
    assert extents[0][0] <= 5 << 20 < extents[0][1]


@pytest.mark.parametrize("tls,compress", [(True, "none"), (False, "gzip-fast"),
                                          (True, "gzip")])
def test_copy_is_identical_sparse_and_checksummed(root, tls, compress):
    src = sparse_source(str(root / "src"))
    dst = str(root / "dst")
    out = copy(src, dst, tls=tls, compress=compress)
    assert "sent" in out and "received" in out, out
    with open(src, "rb") as a, open(dst, "rb") as b:
        assert hashlib.sha256(a.read()).digest() == hashlib.sha256(b.read()).digest()
    assert out["sent"]["sent"] < 4 << 20                   # zeros and holes not sent
    assert out["sent"]["sha256"] == out["received"]["sha256"]
    assert os.stat(dst).st_blocks * 512 < 8 << 20          # the copy is sparse too


def test_wrong_key_refused_target_untouched(root):
    src = sparse_source(str(root / "src"))
    dst = root / "dst"
    dst.write_text("old")
    out = copy(src, str(dst), key=b"a" * 32, send_key=b"b" * 32)
    assert "did not prove the transfer key" in str(out["receive_error"])
    assert "send_error" in out
    assert dst.read_text() == "old"
    assert [p.name for p in root.iterdir() if "volume-copy" in p.name] == []


def test_a_stranger_certificate_is_refused(root, tmp_path_factory):
    import subprocess
    import sys
    src = sparse_source(str(root / "src"))
    listener = volcopy.listen("127.0.0.1")
    port = listener.getsockname()[1]
    errors_seen = []

    def receive():
        try:
            volcopy.receive(listener, str(root / "dst"), None, timeout=20)
        except volcopy.CopyError as err:
            errors_seen.append(err)
    thread = threading.Thread(target=receive)
    thread.start()
    other = tmp_path_factory.mktemp("other")     # another cluster, its own certificate
    tree = os.path.join(os.path.dirname(__file__), "..", "..")
    subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]);"
                    " from qganeti import tlscert; tlscert.ensure()",
                    os.path.join(tree, "lib")], env=dict(os.environ, QGANETI_ROOT=str(other)),
                   check=True)
    sender = subprocess.run([os.path.join(tree, "libexec/qganeti/volume-copy"), "send",
                             "127.0.0.1", str(port), src], stdin=subprocess.DEVNULL,
                            capture_output=True, text=True,
                            env=dict(os.environ, QGANETI_ROOT=str(other)))
    thread.join()
    assert sender.returncode == 111
    assert "unable to send" in sender.stderr
    assert errors_seen and "not authenticated" in str(errors_seen[0])
    assert not (root / "dst").exists()


def test_unknown_compression(root):
    with pytest.raises(volcopy.CopyError, match="unknown compression"):
        volcopy.send("127.0.0.1", 1, "/dev/null", None, compress="zstd")


def same(a, b):
    with open(a, "rb") as one, open(b, "rb") as two:
        return one.read() == two.read()


@pytest.mark.parametrize("tls", [True, False])
def test_resume_sends_only_what_the_partial_target_lacks(root, tls):
    mib = 1 << 20
    src = str(root / "src")
    with open(src, "wb") as handle:           # 12 MiB: data, a hole, data
        handle.write(os.urandom(6 * mib))
        handle.seek(9 * mib)
        handle.write(os.urandom(3 * mib))
    dst = str(root / "dst")
    partial = volcopy.partial_file(dst)
    with open(src, "rb") as a, open(partial, "wb") as b:
        b.write(a.read(4 * mib))               # blocks 0-3 already there ...
        b.truncate(12 * mib)
    with open(partial, "r+b") as b:
        b.seek(2 * mib + 5)
        b.write(b"X")                          # ... but block 2 is damaged
        b.seek(7 * mib)
        b.write(b"stale")                      # stale data where the source has a hole
    out = copy(src, dst, tls=tls, resume=True)
    assert "sent" in out and "received" in out, out
    assert same(src, dst)
    assert not os.path.exists(partial)
    assert out["sent"]["skipped"] == 3 * mib       # blocks 0, 1, 3
    assert out["sent"]["sent"] == 6 * mib          # blocks 2, 4, 5, 9, 10, 11
    assert out["received"]["kept"] == 3 * mib
    assert out["sent"]["sha256"] == out["received"]["sha256"]


def test_resume_with_a_partial_of_another_size_starts_again(root):
    src = sparse_source(str(root / "src"))
    dst = str(root / "dst")
    with open(volcopy.partial_file(dst), "wb") as handle:
        handle.write(os.urandom(1 << 20))
    out = copy(src, dst, resume=True)
    assert "received" in out, out
    assert same(src, dst)
    assert out["sent"]["skipped"] == 0


def test_an_interrupted_resumable_transfer_keeps_its_partial_file(root):
    src = str(root / "src")
    with open(src, "wb") as handle:
        handle.write(os.urandom(16 << 20))
    dst = root / "dst"
    out = copy(src, str(dst), resume=True, proxy=("close", 6 << 20))
    assert "send_error" in out, out
    assert "connection closed" in str(out["receive_error"])
    partial = volcopy.partial_file(str(dst))
    assert os.path.exists(partial) and not dst.exists()
    out = copy(src, str(dst), resume=True)
    assert "received" in out, out
    assert same(src, str(dst))
    assert out["sent"]["skipped"] >= 4 << 20
    assert out["sent"]["skipped"] + out["sent"]["sent"] == 16 << 20


def test_two_resumable_transfers_into_one_target_are_refused(root):
    import fcntl
    src = sparse_source(str(root / "src"))
    dst = str(root / "dst")
    with open(volcopy.partial_file(dst), "wb") as busy:
        fcntl.flock(busy, fcntl.LOCK_EX)
        out = copy(src, dst, resume=True)
    assert "another transfer into" in str(out["receive_error"])
    assert not os.path.exists(dst)


def test_discard_removes_what_resumable_transfers_kept(root):
    import fcntl
    dst = str(root / "dst")
    assert volcopy.discard(dst) is False
    with open(volcopy.partial_file(dst), "wb") as partial:
        partial.write(b"x" * 4096)
        fcntl.flock(partial, fcntl.LOCK_EX)
        with pytest.raises(volcopy.CopyError, match="a transfer into .* is running"):
            volcopy.discard(dst)
    assert os.path.exists(volcopy.partial_file(dst))
    assert volcopy.discard(dst) is True
    assert not os.path.exists(volcopy.partial_file(dst))


def test_frames_that_come_in_small_pieces_are_all_taken(root, monkeypatch):
    # a slow link: every frame reaches the receiver in many small pieces
    monkeypatch.setattr(volcopy, "IO_TIMEOUT", 10.0)
    src, dst = root / "src", root / "dst"
    src.write_bytes(os.urandom(300 << 10))
    out = copy(str(src), str(dst), proxy=("trickle", 4096))
    assert "received" in out and "sent" in out, out
    assert out["received"]["sha256"] == out["sent"]["sha256"]
    assert dst.read_bytes() == src.read_bytes()
