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
[+ 32-byte HMAC-SHA256 without TLS: over sequence number, type, length and
payload, or for a data frame its extent hash instead of the payload].
Holes (SEEK_HOLE, and all-zero blocks) are not sent: the target is
created at the full size and stays sparse there.  The checksum: each
extent's hash is SHA-256 over (offset, length, bytes), the sender's over
what it read and the receiver's over what it writes; the transfer's is
SHA-256 over the extent hashes in order and the size.  The two must agree.
Each end hashes the data once, in a thread beside the one on the socket,
with buffers reused from a small pool.  The receiver writes into a
temporary file beside the target and renames it into place only once the
transfer is complete and verified: a failed or tampered transfer leaves
the target as it was.
"""

import hashlib
import hmac
import json
import os
import queue
import socket
import struct
import threading
import time

from qganeti import errors

CHUNK = 1 << 20
DEPTH = 6                      # buffers in flight per side
MAGIC = b"QGVC1"
COMPRESS_LEVELS = {"none": None, "gzip": 6, "gzip-fast": 1, "gzip-slow": 9}
_HEAD = struct.Struct(">cI")
_DATA = struct.Struct(">QI")
_SEQ = struct.Struct(">Q")
_ZERO = bytes(CHUNK)
ACCEPT_TIMEOUT = 120.0
IO_TIMEOUT = 120.0
MAX_FRAME = CHUNK + 65536


class CopyError(errors.OpExecError):
    """The transfer failed (connection, authentication, checksum, I/O)."""


def _mac(key, seq, kind, length, body):
    mac = hmac.new(key, _SEQ.pack(seq), hashlib.sha256)
    mac.update(_HEAD.pack(kind, length))
    mac.update(body)
    return mac.digest()


def extent_hash(offset, data):
    digest = hashlib.sha256(_DATA.pack(offset, len(data)))
    digest.update(data)
    return digest.digest()


class _Channel:
    """Frames over a socket; HMAC on each frame when MAC_KEY is set."""

    def __init__(self, sock, mac_key=None):
        self.sock = sock
        self.mac_key = mac_key
        self.sent = 0
        self.received = 0

    def send(self, kind, payload):
        self.sock.sendall(_HEAD.pack(kind, len(payload)))
        self.sock.sendall(payload)
        if self.mac_key is not None:
            self.sock.sendall(_mac(self.mac_key, self.sent, kind, len(payload), payload))
        self.sent += 1

    def send_data(self, offset, length, payload, ehash):
        self.sock.sendall(_HEAD.pack(b"D", _DATA.size + len(payload)) +
                          _DATA.pack(offset, length))
        self.sock.sendall(payload)
        if self.mac_key is not None:
            self.sock.sendall(_mac(self.mac_key, self.sent, b"D",
                                   _DATA.size + len(payload), ehash))
        self.sent += 1

    def fill(self, view):
        got = 0
        count = len(view)
        while got < count:
            n = self.sock.recv_into(view[got:], count - got)
            if not n:
                raise CopyError("connection closed by the peer")
            got += n

    def exactly(self, count):
        buf = bytearray(count)
        self.fill(memoryview(buf))
        return buf

    def recv_head(self):
        kind, length = _HEAD.unpack(self.exactly(_HEAD.size))
        if length > MAX_FRAME:
            raise CopyError("stream corrupted: frame of %d bytes" % length)
        return kind, length

    def recv_mac(self):
        return bytes(self.exactly(32)) if self.mac_key is not None else None

    def recv(self):
        """A control frame: (kind, payload), its HMAC checked."""
        kind, length = self.recv_head()
        payload = self.exactly(length)
        mac = self.recv_mac()
        self.check(self.received, kind, length, payload, mac)
        self.received += 1
        return kind, payload

    def check(self, seq, kind, length, body, mac):
        if self.mac_key is not None and not hmac.compare_digest(
                mac, _mac(self.mac_key, seq, kind, length, body)):
            raise CopyError("stream corrupted: frame %d failed authentication" % seq)

    def send_json(self, kind, value):
        self.send(kind, json.dumps(value).encode("utf-8"))


def _json(payload, what):
    try:
        return json.loads(bytes(payload).decode("utf-8"))
    except (UnicodeError, ValueError):
        raise CopyError("stream corrupted: bad %s frame" % what)


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


class _Pool:
    """Buffers of CHUNK+ bytes, reused (no page faults for every megabyte)."""

    def __init__(self, count, size=MAX_FRAME):
        self.free = queue.Queue()
        for _ in range(count):
            self.free.put(bytearray(size))

    def get(self):
        return self.free.get()

    def put(self, buf):
        self.free.put(buf)


class _Thread:
    """Runs FN in a thread; its exception is raised again by join()."""

    def __init__(self, fn):
        self.error = None
        self.thread = threading.Thread(target=self._run, args=(fn,), daemon=True)
        self.thread.start()

    def _run(self, fn):
        try:
            fn()
        except Exception as err:   # noqa: BLE001 - raised in the caller's thread
            self.error = err

    def join(self):
        self.thread.join()
        if self.error is not None:
            raise self.error


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


class _Writer:
    """The receiver's second thread: checks, decompresses, hashes and writes
    the data frames the socket thread hands it."""

    def __init__(self, fd, size, level, mac_key, pool, progress):
        self.fd, self.size, self.level, self.key = fd, size, level, mac_key
        self.pool = pool
        self.progress = progress
        self.items = queue.Queue(DEPTH)
        self.digest = hashlib.sha256()
        self.written = 0
        self.failed = None
        self.thread = _Thread(self._run)

    def put(self, item):
        if self.failed is not None:
            raise self.failed
        self.items.put(item)

    def _run(self):
        while True:
            item = self.items.get()
            if item is None:
                return
            seq, length, buf, mac = item
            try:
                if self.failed is None:
                    self._write(seq, length, buf, mac)
            except Exception as err:   # noqa: BLE001 - reported to the socket thread
                self.failed = err
            finally:
                self.pool.put(buf)

    def _write(self, seq, length, buf, mac):
        view = memoryview(buf)[:length]
        offset, raw_length = _DATA.unpack_from(view)
        data = view[_DATA.size:]
        if self.level != "none":
            import zlib
            try:
                data = memoryview(zlib.decompress(data))
            except zlib.error:
                raise CopyError("stream corrupted: bad compressed data")
        if len(data) != raw_length or offset + raw_length > self.size:
            raise CopyError("stream corrupted: extent %d+%d" % (offset, raw_length))
        ehash = extent_hash(offset, data)
        if self.key is not None and not hmac.compare_digest(
                mac, _mac(self.key, seq, b"D", length, ehash)):
            raise CopyError("stream corrupted: frame %d failed authentication" % seq)
        done = 0
        while done < raw_length:
            done += os.pwrite(self.fd, data[done:], offset + done)
        self.digest.update(ehash)
        self.written += raw_length
        if self.progress:
            self.progress.update(offset + raw_length)

    def finish(self):
        self.items.put(None)
        self.thread.join()
        if self.failed is not None:
            raise self.failed
        return self.digest


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
    tmp = fd = None
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
        pool = _Pool(DEPTH + 2)
        writer = _Writer(fd, size, level, chan.mac_key, pool, progress)
        start = time.monotonic()
        try:
            while True:
                kind, length = chan.recv_head()
                if kind != b"D":
                    payload = chan.exactly(length)
                    chan.check(chan.received, kind, length, payload, chan.recv_mac())
                    chan.received += 1
                    if kind != b"E":
                        raise CopyError("stream corrupted: unexpected frame %r" % kind)
                    end = _json(payload, "end")
                    break
                if length < _DATA.size:
                    raise CopyError("stream corrupted: short data frame")
                buf = pool.get()
                try:
                    chan.fill(memoryview(buf)[:length])
                    mac = chan.recv_mac()
                except BaseException:
                    pool.put(buf)
                    raise
                writer.put((chan.received, length, buf, mac))
                chan.received += 1
        finally:
            digest = writer.finish()
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
        return {"bytes": size, "received": writer.written, "sha256": mine,
                "seconds": round(seconds, 3), "peer": peer[0]}
    except (OSError, ValueError, struct.error) as err:
        raise CopyError(_describe(err))
    finally:
        if fd is not None:
            os.close(fd)
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

class _Reader:
    """The sender's second thread: reads, skips zeros, hashes and compresses
    ahead of the socket thread; yields (offset, length, payload, extent hash,
    buffer to give back) and holes as payload None."""

    def __init__(self, fd, size, level, name):
        self.fd, self.size, self.level, self.name = fd, size, level, name
        self.pool = _Pool(DEPTH + 2, CHUNK)
        self.items = queue.Queue(DEPTH)
        self.digest = hashlib.sha256()
        self.stop = False
        self.thread = _Thread(self._run)

    def _run(self):
        zlib = None
        if self.level is not None:
            import zlib
        try:
            for begin, end in data_extents(self.fd, self.size):
                offset = begin
                while offset < end and not self.stop:
                    length = min(CHUNK, end - offset)
                    buf = self.pool.get()
                    view = memoryview(buf)[:length]
                    got = os.preadv(self.fd, [view], offset)
                    if got != length:
                        raise CopyError("%s changed size while being read" % self.name)
                    if view == _ZERO[:length]:     # an all-zero block is a hole too
                        self.pool.put(buf)
                        self.items.put((offset, length, None, None, None))
                    else:
                        ehash = extent_hash(offset, view)
                        self.digest.update(ehash)
                        payload = zlib.compress(view, self.level) if zlib else view
                        self.items.put((offset, length, payload, ehash, buf))
                    offset += length
        except Exception as err:   # noqa: BLE001 - raised in the socket thread
            self.items.put(err)
        self.items.put(None)

    def __iter__(self):
        while True:
            item = self.items.get()
            if item is None:
                return
            if isinstance(item, Exception):
                raise item
            yield item

    def close(self):
        self.stop = True
        while self.thread.thread.is_alive():
            try:
                item = self.items.get(timeout=0.1)
            except queue.Empty:
                continue
            if isinstance(item, tuple) and item[4] is not None:
                self.pool.put(item[4])


def send(host, port, src, key=None, tls=True, compress="none", progress=None,
         timeout=IO_TIMEOUT):
    """Stream SRC to a receiver at HOST:PORT; its summary dict."""
    if compress not in COMPRESS_LEVELS:
        raise CopyError("unknown compression '%s'" % compress)
    fd = os.open(src, os.O_RDONLY)
    try:
        size = os.lseek(fd, 0, os.SEEK_END)
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as err:
        os.close(fd)
        raise CopyError(_describe(err))
    _tune(sock)
    reader = None
    try:
        if tls:
            from qganeti import tlscert
            sock = tlscert.context(server=False).wrap_socket(sock)
        chan = _Channel(sock, None if tls else key)
        hello = chan.exactly(len(MAGIC) + 32)
        if bytes(hello[:len(MAGIC)]) != MAGIC:
            raise CopyError("the peer is not a volume-copy receiver")
        nonce = bytes(hello[len(MAGIC):])
        auth = hmac.new(key, nonce, hashlib.sha256).hexdigest() if key is not None else ""
        chan.send_json(b"H", {"size": size, "compress": compress, "auth": auth})
        sent = 0
        start = time.monotonic()
        reader = _Reader(fd, size, COMPRESS_LEVELS[compress], src)
        for offset, length, payload, ehash, buf in reader:
            if payload is not None:
                chan.send_data(offset, length, payload, ehash)
                reader.pool.put(buf)
                sent += length
            if progress:
                progress.update(offset + length)
        reader.thread.join()
        digest = reader.digest
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
        raise CopyError(_describe(err))
    finally:
        if reader is not None:
            reader.close()
        os.close(fd)
        try:
            sock.close()
        except OSError:
            pass
