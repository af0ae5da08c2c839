"""Copying a disk image between nodes over one TCP connection (volume-copy).

The receiver listens on the target node and prints the port; the sender
connects and streams the source.  The connection is TLS with the cluster
certificate on both ends (tlscert), and/or authenticated by a per-transfer
key both ends got on stdin: the receiver sends a nonce, the sender answers
HMAC(key, nonce); without TLS (--no-tls) every frame also carries an HMAC,
so a changed byte is caught either way.  Frames:

    H  header, JSON: {"size", "compress", "auth"}
    D  data: offset (8 bytes), raw length (4), payload (raw or zlib)
    E  end, JSON: {"sha256", "sent"}
    A  the receiver's answer, JSON: {"ok", "sha256", "error"}

each as type (1 byte) + payload length (4 bytes, big-endian) + payload
[+ 32-byte HMAC-SHA256 over sequence number, type, length and payload,
without TLS].  Holes (SEEK_HOLE, and all-zero blocks) are not sent: the
target is created at the full size and stays sparse there.  The checksum
is SHA-256 over (offset, length, bytes) of every extent sent and the
size, computed by the sender from what it read and by the receiver from
what it wrote; they must agree.  The receiver writes into a temporary file
beside the target and renames it into place only once the transfer is
complete and verified: a failed or tampered transfer leaves the target
as it was.
"""

import hashlib
import hmac
import json
import os
import socket
import struct
import time

from qganeti import errors

CHUNK = 1 << 20
MAGIC = b"QGVC1"
COMPRESS_LEVELS = {"none": None, "gzip": 6, "gzip-fast": 1, "gzip-slow": 9}
_HEAD = struct.Struct(">cI")
_DATA = struct.Struct(">QI")
_ZERO = bytes(CHUNK)
ACCEPT_TIMEOUT = 120.0
IO_TIMEOUT = 120.0
MAX_FRAME = CHUNK + 65536


class CopyError(errors.OpExecError):
    """The transfer failed (connection, authentication, checksum, I/O)."""


class _Channel:
    """Frames over a socket; HMAC on each frame when MAC_KEY is set."""

    def __init__(self, sock, mac_key=None):
        self.sock = sock
        self.mac_key = mac_key
        self.sent = 0
        self.received = 0

    def _mac(self, seq, kind, payload):
        mac = hmac.new(self.mac_key, struct.pack(">Q", seq), hashlib.sha256)
        mac.update(_HEAD.pack(kind, len(payload)))
        mac.update(payload)
        return mac.digest()

    def send(self, kind, *parts):
        length = sum(len(p) for p in parts)
        self.sock.sendall(_HEAD.pack(kind, length))
        for part in parts:
            self.sock.sendall(part)
        if self.mac_key is not None:
            self.sock.sendall(self._mac(self.sent, kind, b"".join(parts)))
        self.sent += 1

    def _exactly(self, count):
        view = memoryview(bytearray(count))
        got = 0
        while got < count:
            n = self.sock.recv_into(view[got:], count - got)
            if not n:
                raise CopyError("connection closed by the peer")
            got += n
        return view.obj

    def recv(self):
        kind, length = _HEAD.unpack(self._exactly(_HEAD.size))
        if length > MAX_FRAME:
            raise CopyError("stream corrupted: frame of %d bytes" % length)
        payload = self._exactly(length) if length else bytearray()
        if self.mac_key is not None:
            mac = self._exactly(32)
            if not hmac.compare_digest(bytes(mac), self._mac(self.received, kind, payload)):
                raise CopyError("stream corrupted: frame %d failed authentication"
                                % self.received)
        self.received += 1
        return kind, payload

    def send_json(self, kind, value):
        self.send(kind, json.dumps(value).encode("utf-8"))


def _json(payload, what):
    try:
        return json.loads(bytes(payload).decode("utf-8"))
    except (UnicodeError, ValueError):
        raise CopyError("stream corrupted: bad %s frame" % what)


def _extent_hash(digest, offset, data):
    digest.update(_DATA.pack(offset, len(data)))
    digest.update(data)


def data_extents(fd, size):
    """(start, end) of the data regions of FD (all of it if SEEK_DATA is missing)."""
    import errno
    pos = 0
    while pos < size:
        try:
            start = os.lseek(fd, pos, os.SEEK_DATA)
        except OSError as err:
            if err.errno == errno.ENXIO:     # only a hole remains
                return
            yield pos, size                  # no SEEK_DATA here: all of it is data
            return
        end = os.lseek(fd, start, os.SEEK_HOLE)
        yield start, min(end, size)
        pos = end


class Progress:
    """Progress lines on stderr: at most one a second, and at the end."""

    def __init__(self, prog, total, stream=None):
        import sys
        self.prog = prog
        self.total = total
        self.stream = stream or sys.stderr
        self.start = time.monotonic()
        self.last = self.start
        self.done = 0

    def update(self, done, force=False):
        self.done = done
        now = time.monotonic()
        if not force and now - self.last < 1.0:
            return
        self.last = now
        rate = done / max(now - self.start, 1e-6) / 1e6
        pct = 100.0 * done / self.total if self.total else 100.0
        self.stream.write("%s: progress: %d of %d MiB (%.0f%%), %.0f MB/s\n"
                          % (self.prog, done >> 20, self.total >> 20, pct, rate))
        self.stream.flush()


class _Worker:
    """Runs FN on items in a thread of its own (I/O and hashing beside the socket)."""

    def __init__(self, fn, depth=4):
        import queue
        import threading
        self.fn = fn
        self.queue = queue.Queue(depth)
        self.error = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while True:
            item = self.queue.get()
            if item is None:
                return
            if self.error is None:
                try:
                    self.fn(item)
                except Exception as err:   # noqa: BLE001 - reported by finish()
                    self.error = err

    def put(self, item):
        if self.error is not None:
            raise self.error
        self.queue.put(item)

    def finish(self):
        self.queue.put(None)
        self.thread.join()
        if self.error is not None:
            raise self.error


def _write_extent(fd, digest, item):
    offset, data = item
    view = memoryview(data)
    done = 0
    while done < len(view):
        done += os.pwrite(fd, view[done:], offset + done)
    _extent_hash(digest, offset, data)


class _Reader:
    """Iterates (offset, length, payload or None for a hole) of a source file,
    reading, hashing and compressing in a thread ahead of the sender."""

    def __init__(self, fd, size, digest, level, name):
        import queue
        import threading
        self.queue = queue.Queue(4)
        self.args = (fd, size, digest, level, name)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        fd, size, digest, level, name = self.args
        if level is not None:
            import zlib
        try:
            for begin, end in data_extents(fd, size):
                offset = begin
                while offset < end:
                    length = min(CHUNK, end - offset)
                    data = os.pread(fd, length, offset)
                    if len(data) != length:
                        raise CopyError("%s changed size while being read" % name)
                    payload = None
                    if data != _ZERO[:length]:     # an all-zero block is a hole too
                        _extent_hash(digest, offset, data)
                        payload = zlib.compress(data, level) if level is not None else data
                    self.queue.put((offset, length, payload))
                    offset += length
        except Exception as err:   # noqa: BLE001 - raised in the sender's thread
            self.queue.put(err)
        self.queue.put(None)

    def __iter__(self):
        while True:
            item = self.queue.get()
            if item is None:
                return
            if isinstance(item, Exception):
                raise item
            yield item


# -- receiver ---------------------------------------------------------------------

def listen(bind, port=0):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((bind, port))
    sock.listen(1)
    return sock


def _tune(sock):
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for opt in (socket.SO_SNDBUF, socket.SO_RCVBUF):
        try:
            sock.setsockopt(socket.SOL_SOCKET, opt, 4 << 20)
        except OSError:
            pass


def receive(listener, dest, key=None, tls=True, progress=None, timeout=ACCEPT_TIMEOUT):
    """Take one transfer into DEST; its summary dict.  CopyError on failure."""
    listener.settimeout(timeout)
    try:
        sock, peer = listener.accept()
    except socket.timeout:
        raise CopyError("no sender connected within %d seconds" % timeout)
    finally:
        listener.close()
    _tune(sock)
    sock.settimeout(IO_TIMEOUT)
    tmp = None
    try:
        if tls:
            from qganeti import tlscert
            sock = tlscert.context(server=True).wrap_socket(sock, server_side=True)
        chan = _Channel(sock, None if tls else key)
        nonce = os.urandom(32)
        sock.sendall(MAGIC + nonce)
        kind, payload = chan.recv()
        if kind != b"H":
            raise CopyError("stream corrupted: no header")
        header = _json(payload, "header")
        if key is not None:
            wanted = hmac.new(key, nonce, hashlib.sha256).hexdigest()
            if not hmac.compare_digest(str(header.get("auth", "")), wanted):
                raise CopyError("the sender did not prove the transfer key")
        size = int(header.get("size", -1))
        if size < 0:
            raise CopyError("stream corrupted: bad size")
        level = header.get("compress", "none")
        if level not in COMPRESS_LEVELS:
            raise CopyError("unknown compression '%s'" % level)
        if progress:
            progress.total = size
        tmp, fd = _open_target(dest, size)
        digest = hashlib.sha256()
        writer = _Worker(lambda item: _write_extent(fd, digest, item))
        written = 0
        start = time.monotonic()
        try:
            while True:
                kind, payload = chan.recv()
                if kind == b"D":
                    offset, length = _DATA.unpack_from(payload)
                    data = memoryview(payload)[_DATA.size:]
                    if level != "none":
                        import zlib
                        try:
                            data = zlib.decompress(data)
                        except zlib.error:
                            raise CopyError("stream corrupted: bad compressed data")
                    if len(data) != length or offset + length > size:
                        raise CopyError("stream corrupted: extent %d+%d" % (offset, length))
                    writer.put((offset, data))
                    written += length
                    if progress:
                        progress.update(offset + length)
                elif kind == b"E":
                    end = _json(payload, "end")
                    break
                else:
                    raise CopyError("stream corrupted: unexpected frame %r" % kind)
        finally:
            writer.finish()
        digest.update(struct.pack(">Q", size))
        mine = digest.hexdigest()
        if not hmac.compare_digest(str(end.get("sha256", "")), mine):
            chan.send_json(b"A", {"ok": False, "error": "checksum mismatch"})
            raise CopyError("checksum mismatch: sender %s, received %s"
                            % (end.get("sha256"), mine))
        os.fsync(fd)
        os.close(fd)
        fd = None
        if tmp != dest:
            os.rename(tmp, dest)
            tmp = None
        chan.send_json(b"A", {"ok": True, "sha256": mine})
        seconds = time.monotonic() - start
        if progress:
            progress.update(size, force=True)
        return {"bytes": size, "received": written, "sha256": mine,
                "seconds": round(seconds, 3), "peer": peer[0]}
    except (OSError, ValueError, struct.error) as err:
        if isinstance(err, CopyError):
            raise
        raise CopyError(_describe(err))
    finally:
        if tmp is not None and tmp != dest:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
        try:
            sock.close()
        except OSError:
            pass


def _open_target(dest, size):
    """(path written, fd): a temporary file beside DEST, unless DEST is a device."""
    import stat
    try:
        mode = os.stat(dest).st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        return dest, os.open(dest, os.O_WRONLY)
    head, tail = os.path.split(dest)
    tmp = os.path.join(head, ".%s.volume-copy.%d" % (tail, os.getpid()))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
    os.ftruncate(fd, size)
    return tmp, fd


def _describe(err):
    import ssl
    if isinstance(err, ssl.SSLError):
        return "stream corrupted or not authenticated (TLS: %s)" % (err.reason or err)
    if isinstance(err, socket.timeout):
        return "the peer stopped answering"
    return getattr(err, "strerror", None) or str(err)


# -- sender -------------------------------------------------------------------------

def send(host, port, src, key=None, tls=True, compress="none", progress=None,
         timeout=IO_TIMEOUT):
    """Stream SRC to a receiver at HOST:PORT; its summary dict."""
    if compress not in COMPRESS_LEVELS:
        raise CopyError("unknown compression '%s'" % compress)
    level = COMPRESS_LEVELS[compress]
    fd = os.open(src, os.O_RDONLY)
    try:
        size = os.lseek(fd, 0, os.SEEK_END)
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as err:
        os.close(fd)
        raise CopyError(_describe(err))
    _tune(sock)
    try:
        if tls:
            from qganeti import tlscert
            sock = tlscert.context(server=False).wrap_socket(sock)
        chan = _Channel(sock, None if tls else key)
        hello = chan._exactly(len(MAGIC) + 32)
        if bytes(hello[:len(MAGIC)]) != MAGIC:
            raise CopyError("the peer is not a volume-copy receiver")
        nonce = bytes(hello[len(MAGIC):])
        auth = hmac.new(key, nonce, hashlib.sha256).hexdigest() if key is not None else ""
        chan.send_json(b"H", {"size": size, "compress": compress, "auth": auth})
        digest = hashlib.sha256()
        sent = 0
        start = time.monotonic()
        reader = _Reader(fd, size, digest, level, src)
        for offset, length, payload in reader:
            if payload is not None:
                chan.send(b"D", _DATA.pack(offset, length), payload)
                sent += length
            if progress:
                progress.update(offset + length)
        digest.update(struct.pack(">Q", size))
        mine = digest.hexdigest()
        chan.send_json(b"E", {"sha256": mine, "sent": sent})
        kind, payload = chan.recv()
        answer = _json(payload, "answer") if kind == b"A" else {}
        if not answer.get("ok"):
            raise CopyError("the receiver refused the transfer: %s"
                            % answer.get("error", "no answer"))
        seconds = time.monotonic() - start
        if progress:
            progress.update(size, force=True)
        return {"bytes": size, "sent": sent, "sha256": mine, "seconds": round(seconds, 3),
                "mbps": round(size / max(seconds, 1e-6) / 1e6, 1)}
    except (OSError, ValueError, struct.error) as err:
        if isinstance(err, CopyError):
            raise
        raise CopyError(_describe(err))
    finally:
        os.close(fd)
        try:
            sock.close()
        except OSError:
            pass
