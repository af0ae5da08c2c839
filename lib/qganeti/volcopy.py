"""Copying a disk image between nodes over one TCP connection (volume-copy).

The receiver listens on the target node and prints the port; the sender
connects.  The receiver opens with a magic string and a random nonce, over
TLS with the cluster certificate on both ends (tlscert) unless no-TLS;
after it both ends close TLS and go on over the bare connection.  Both
derive a secret from the per-transfer key (empty without one) and the
nonce, which only the two ends know: the nonce went over TLS, or the key
on stdin.  From the secret come one AES-256-GCM key per direction, for
frames, and one-time Poly1305 keys for resume blocks.  Frames:

    H  header, JSON: {"size", "compress"}                      sender
    R  resume list: (offset 8 bytes, tag 16) per block the
       target already holds; an empty R ends the list          receiver
    D  data: offset (8 bytes), raw length (4), bytes (raw or
       zlib)                                                    sender
    S  skip: offset (8), length (4): the target's block is the
       source's, keep it                                        sender
    Z  zero: offset (8), length (4): a hole in the source       sender
    E  end, JSON: {"sha256", "sent"}                            sender
    A  the receiver's answer, JSON: {"ok", "sha256", "error"}   receiver

each as type (1 byte) + plain length (4 bytes, big-endian) + the payload
encrypted + its 16-byte GCM tag; the nonce is the frame's sequence number
in its direction, and type and length are authenticated data.  So a
changed, dropped, replayed or reordered frame fails its tag, and a data
frame's tag checks its bytes end to end: the sender encrypts what it read,
the receiver writes what it decrypted.  The transfer's checksum is SHA-256
over (offset, length, tag) of every D, S and Z frame in order and the
size; the two ends must agree.

Holes (SEEK_HOLE, and all-zero blocks) are not sent: the target is created
at the full size and stays sparse there.  The source is read in aligned
blocks of CHUNK bytes.  A reader thread on the sender (read, compress,
encrypt) and a writer thread on the receiver (decrypt, decompress, write)
work beside the thread on the socket, with buffers reused from a small
pool.  The receiver writes into a temporary file beside the target and
renames it into place only once the transfer is complete and verified: a
failed or tampered transfer leaves the target as it was.  With resume that
file is the partial file, kept when a transfer fails; the next transfer
lists the Poly1305 tags of its blocks, and the sender skips the blocks
whose tags match its own.
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

CHUNK = 1 << 20                # the block read and sent; also the resume block
DEPTH = 6                      # frames in flight per side
MAGIC = b"QGVC2"
COMPRESS_LEVELS = {"none": None, "gzip": 6, "gzip-fast": 1, "gzip-slow": 9}
_HEAD = struct.Struct(">cI")
_DATA = struct.Struct(">QI")
_NONCE = struct.Struct(">IQ")
_ENTRY = struct.Struct(">Q16s")
_ZERO = bytes(CHUNK)
_ZERO_VIEW = memoryview(_ZERO)      # slices of it are not copies
_NOTAG = bytes(16)
TAG = 16
ENTRIES_PER_FRAME = 32768
ACCEPT_TIMEOUT = 120.0
IO_TIMEOUT = 120.0
MAX_FRAME = CHUNK + 65536      # payload, plain
_BUFFER = _HEAD.size + MAX_FRAME + TAG


class CopyError(errors.OpExecError):
    """The transfer failed (connection, authentication, checksum, I/O)."""


class _BadTag(CopyError):
    pass


class _Keys:
    """The keys of one transfer, from the transfer key and the nonce."""

    def __init__(self, key, nonce, side):
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
        from cryptography.hazmat.primitives.poly1305 import Poly1305
        from cryptography.exceptions import InvalidTag
        self.poly = Poly1305
        self.invalid = InvalidTag
        self.secret = hmac.digest(key or b"", b"qganeti volume-copy 2" + nonce, "sha256")
        peer = b"R" if side == b"S" else b"S"
        self.out = AESGCM(hmac.digest(self.secret, b"frames" + side, "sha256"))
        self.inb = AESGCM(hmac.digest(self.secret, b"frames" + peer, "sha256"))

    def seal(self, seq, kind, plain, out):
        """Write frame SEQ (head, ciphertext, tag) into OUT; its length."""
        head = _HEAD.pack(kind, len(plain))
        out[:_HEAD.size] = head
        end = _HEAD.size + len(plain) + TAG
        self.out.encrypt_into(_NONCE.pack(0, seq), plain, head,
                              memoryview(out)[_HEAD.size:end])
        return end

    def open(self, seq, kind, sealed, out):
        """Decrypt frame SEQ's ciphertext and tag SEALED into OUT."""
        try:
            self.inb.decrypt_into(_NONCE.pack(0, seq), sealed,
                                  _HEAD.pack(kind, len(sealed) - TAG), out)
        except self.invalid:
            raise _BadTag("stream corrupted: frame %d failed authentication" % seq)

    def block_tag(self, offset, data):
        key = hmac.digest(self.secret, b"block" + _DATA.pack(offset, len(data)), "sha256")
        return self.poly.generate_tag(key, data)


class _Channel:
    """Frames over a socket."""

    def __init__(self, sock, keys):
        self.sock = sock
        self.keys = keys
        self.sent = 0
        self.received = 0
        self.buf = bytearray(_BUFFER)
        # a bare socket (not during TLS) waits in the kernel for the whole frame
        self.waitall = socket.MSG_WAITALL if keys is not None else 0

    def send(self, kind, payload):
        end = self.keys.seal(self.sent, kind, payload, self.buf)
        self.sock.sendall(memoryview(self.buf)[:end])
        self.sent += 1

    def send_json(self, kind, value):
        self.send(kind, json.dumps(value).encode("utf-8"))

    def fill(self, view):
        got = 0
        count = len(view)
        flags = self.waitall
        while got < count:
            n = self.sock.recv_into(view[got:], count - got, flags)
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

    def recv_body(self, kind, length):
        sealed = self.exactly(length + TAG)
        plain = bytearray(length)
        self.keys.open(self.received, kind, sealed, plain)
        self.received += 1
        return plain

    def recv(self):
        """A control frame: (kind, payload)."""
        kind, length = self.recv_head()
        return kind, self.recv_body(kind, length)


def _json(payload, what):
    try:
        return json.loads(bytes(payload).decode("utf-8"))
    except (UnicodeError, ValueError):
        raise CopyError("stream corrupted: bad %s frame" % what)


def _digest_entry(digest, offset, length, tag):
    digest.update(_DATA.pack(offset, length))
    digest.update(tag)


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


def data_blocks(fd, size):
    """(offset, [(start, end), ...]) of the CHUNK-aligned blocks of FD that
    hold data, with the data regions in each, in order."""
    block, ranges = None, []
    for start, end in data_extents(fd, size):
        while start < end:
            here = start - start % CHUNK
            stop = min(end, here + CHUNK)
            if here != block:
                if ranges:
                    yield block, ranges
                block, ranges = here, []
            ranges.append((start, stop))
            start = stop
    if ranges:
        yield block, ranges


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
    """Frame buffers, reused (no page faults for every megabyte)."""

    def __init__(self, count, size=_BUFFER):
        self.free = queue.Queue()
        for _ in range(count):
            self.free.put(bytearray(size))

    def get(self):
        return self.free.get()

    def put(self, buf):
        self.free.put(buf)


def _zero(view):
    """Whether VIEW (at most CHUNK bytes) is all zeros (memcmp, no copy)."""
    return _ZERO.startswith(view)


def _read_block(fd, view, offset, name):
    got = os.preadv(fd, [view], offset)
    if got != len(view):
        raise CopyError("%s changed size while being read" % name)


def _prepare(tls, server):
    """The TLS context (None without TLS), the crypto modules imported: done
    before the connection, so that a receiver is ready when its sender comes."""
    import importlib
    importlib.import_module("cryptography.hazmat.primitives.ciphers.aead")
    if not tls:
        return None
    from qganeti import tlscert
    return tlscert.context(server=server)


def _handshake(sock, context, server):
    """The socket to go on with: TLS for the opening only (see above)."""
    if context is None:
        return sock
    return context.wrap_socket(sock, server_side=server)


def _bare(sock, tls):
    return sock.unwrap() if tls else sock


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
    """The receiver's second thread: decrypts, decompresses and writes the
    frames the socket thread hands it, in order, and keeps the checksum."""

    def __init__(self, fd, size, level, keys, held, pool, progress):
        self.fd, self.size, self.level, self.keys = fd, size, level, keys
        self.held = held                 # offset -> tag of the blocks kept (resume)
        self.pool = pool
        self.progress = progress
        self.plain = bytearray(MAX_FRAME)
        self.items = queue.Queue(DEPTH)
        self.digest = hashlib.sha256()
        self.written = 0
        self.kept = 0
        self.failed = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def put(self, item):
        if self.failed is not None:
            raise self.failed
        self.items.put(item)

    def _run(self):
        while True:
            item = self.items.get()
            if item is None:
                return
            seq, kind, length, buf = item
            try:
                if self.failed is None:
                    self._frame(seq, kind, length, buf)
            except Exception as err:   # noqa: BLE001 - reported to the socket thread
                self.failed = err
            finally:
                self.pool.put(buf)

    def _frame(self, seq, kind, length, buf):
        sealed = memoryview(buf)[:length + TAG]
        plain = memoryview(self.plain)[:length]
        self.keys.open(seq, kind, sealed, plain)
        tag = bytes(sealed[length:])
        if length < _DATA.size or (kind != b"D" and length != _DATA.size):
            raise CopyError("stream corrupted: bad %r frame" % kind)
        offset, raw_length = _DATA.unpack_from(plain)
        if offset + raw_length > self.size:
            raise CopyError("stream corrupted: extent %d+%d" % (offset, raw_length))
        if kind == b"D":
            data = plain[_DATA.size:]
            if self.level != "none":
                import zlib
                try:
                    data = memoryview(zlib.decompress(data))
                except zlib.error:
                    raise CopyError("stream corrupted: bad compressed data")
            if len(data) != raw_length:
                raise CopyError("stream corrupted: extent %d+%d" % (offset, raw_length))
            done = 0
            while done < raw_length:
                done += os.pwrite(self.fd, data[done:], offset + done)
            self.written += raw_length
        elif kind == b"S":
            tag = self.held.get(offset)
            if tag is None:
                raise CopyError("stream corrupted: skip of a block not held")
            self.kept += raw_length
        else:
            done = 0
            while done < raw_length:
                done += os.pwrite(self.fd, _ZERO_VIEW[:raw_length - done], offset + done)
            tag = _NOTAG
        _digest_entry(self.digest, offset, raw_length, tag)
        if self.progress:
            self.progress.update(offset + raw_length)

    def finish(self):
        self.items.put(None)
        self.thread.join()
        if self.failed is not None:
            raise self.failed
        return self.digest


def partial_file(dest):
    """Where a resumable transfer into DEST keeps what it has got."""
    head, tail = os.path.split(dest)
    return os.path.join(head, ".%s.volume-copy.partial" % tail)


def discard(dest):
    """Remove what resumable transfers into DEST kept; False when there
    was nothing.  CopyError while a transfer into DEST runs."""
    import fcntl
    path = partial_file(dest)
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CopyError("a transfer into %s is running" % dest)
        os.unlink(path)
    finally:
        os.close(fd)
    return True


def receive(listener, dest, key=None, tls=True, progress=None, timeout=ACCEPT_TIMEOUT,
            resume=False):
    """Take one transfer into DEST; its summary dict.  CopyError on failure.

    With RESUME the temporary file is DEST's partial file: the blocks it
    already holds are not sent again, and it is kept if the transfer fails."""
    if not tls and key is None:
        raise CopyError("without TLS a transfer key is needed")
    context = _prepare(tls, server=True)
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
        sock = _handshake(sock, context, server=True)
        nonce = os.urandom(32)
        sock.sendall(MAGIC + nonce)
        sock = _bare(sock, tls)
        chan = _Channel(sock, _Keys(key, nonce, b"R"))
        try:
            kind, payload = chan.recv()
        except _BadTag:
            if key is None:
                raise
            raise CopyError("the sender did not prove the transfer key")
        if kind != b"H":
            raise CopyError("stream corrupted: no header")
        header = _json(payload, "header")
        size = int(header.get("size", -1))
        if size < 0:
            raise CopyError("stream corrupted: bad size")
        level = header.get("compress", "none")
        if level not in COMPRESS_LEVELS:
            raise CopyError("unknown compression '%s'" % level)
        if progress:
            progress.total = size
        tmp, fd, fresh = _open_target(dest, size, resume)
        held = {} if fresh else _held_blocks(fd, size, chan.keys)
        entries = [_ENTRY.pack(offset, tag) for offset, tag in held.items()]
        for i in range(0, len(entries), ENTRIES_PER_FRAME):
            chan.send(b"R", b"".join(entries[i:i + ENTRIES_PER_FRAME]))
        chan.send(b"R", b"")
        pool = _Pool(DEPTH + 2)
        writer = _Writer(fd, size, level, chan.keys, held, pool, progress)
        start = time.monotonic()
        try:
            while True:
                kind, length = chan.recv_head()
                if kind not in (b"D", b"S", b"Z"):
                    payload = chan.recv_body(kind, length)
                    if kind != b"E":
                        raise CopyError("stream corrupted: unexpected frame %r" % kind)
                    end = _json(payload, "end")
                    break
                buf = pool.get()
                try:
                    chan.fill(memoryview(buf)[:length + TAG])
                except BaseException:
                    pool.put(buf)
                    raise
                writer.put((chan.received, kind, length, buf))
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
        return {"bytes": size, "received": writer.written, "kept": writer.kept,
                "sha256": mine, "seconds": round(seconds, 3), "peer": peer[0]}
    except (OSError, ValueError, struct.error) as err:
        raise CopyError(_describe(err))
    finally:
        if fd is not None:
            os.close(fd)
        if tmp is not None and tmp != dest and not resume:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
        try:
            sock.close()
        except OSError:
            pass


def _open_target(dest, size, resume):
    """(path written, fd, fresh): a temporary file beside DEST, unless DEST
    is a device; with RESUME DEST's partial file, fresh unless it was there
    with SIZE bytes."""
    import stat
    try:
        mode = os.stat(dest).st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        return dest, os.open(dest, os.O_RDWR), not resume
    if resume:
        import fcntl
        tmp = partial_file(dest)
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT, 0o640)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise CopyError("another transfer into %s is running" % dest)
        if os.fstat(fd).st_size == size:
            return tmp, fd, False
        os.ftruncate(fd, 0)
    else:
        head, tail = os.path.split(dest)
        tmp = os.path.join(head, ".%s.volume-copy.%d" % (tail, os.getpid()))
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o640)
    os.ftruncate(fd, size)
    return tmp, fd, True


def _held_blocks(fd, size, keys):
    """{offset: tag} of the blocks of a partial target that hold data."""
    held = {}
    buf = bytearray(CHUNK)
    for offset, _ in data_blocks(fd, size):
        view = memoryview(buf)[:min(CHUNK, size - offset)]
        _read_block(fd, view, offset, "the partial target")
        if not _zero(view):
            held[offset] = keys.block_tag(offset, view)
    return held


def _describe(err):
    import ssl
    if isinstance(err, ssl.SSLError):
        return "stream corrupted or not authenticated (TLS: %s)" % (err.reason or err)
    if isinstance(err, socket.timeout):
        return "the peer stopped answering"
    return getattr(err, "strerror", None) or str(err)


# -- sender -------------------------------------------------------------------------

class _Reader:
    """The sender's second thread: reads the source block by block ahead of
    the socket thread, skips zeros and the blocks the target holds,
    compresses and seals the frames (numbered from SEQ).  Yields (offset,
    length, frame length, buffer, kind, tag); a hole has kind None and no
    buffer (for progress only)."""

    def __init__(self, fd, size, level, name, held, keys, seq):
        self.fd, self.size, self.level, self.name = fd, size, level, name
        self.held, self.keys, self.seq = held, keys, seq
        self.pool = _Pool(DEPTH + 2)
        self.items = queue.Queue(DEPTH)
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _blocks(self):
        """(offset, data regions) of the source's data blocks and the held ones."""
        held = sorted(self.held)
        i = 0
        for offset, ranges in data_blocks(self.fd, self.size):
            while i < len(held) and held[i] < offset:
                yield held[i], []
                i += 1
            if i < len(held) and held[i] == offset:
                i += 1
            yield offset, ranges
        for offset in held[i:]:
            yield offset, []

    def _run(self):
        zlib = None
        if self.level is not None:
            import zlib
        plain = bytearray(_DATA.size + CHUNK)
        try:
            for offset, ranges in self._blocks():
                if self.stop:
                    break
                length = min(CHUNK, self.size - offset)
                block = memoryview(plain)[_DATA.size:_DATA.size + length]
                if ranges:
                    _read_block(self.fd, block, offset, self.name)
                if not ranges or _zero(block):       # zeros are a hole too
                    if offset in self.held:
                        self._frame(b"Z", offset, length, _DATA.pack(offset, length))
                    else:
                        self.items.put((offset, length, 0, None, None, None))
                elif offset in self.held and hmac.compare_digest(
                        self.held[offset], self.keys.block_tag(offset, block)):
                    self._frame(b"S", offset, length, _DATA.pack(offset, length),
                                self.held[offset])
                else:
                    if offset in self.held:      # the target's block is all rewritten
                        ranges = [(offset, offset + length)]
                    for start, end in ranges:
                        first, last = start - offset, end - offset
                        data = block[first:last]
                        if _zero(data):
                            continue
                        if zlib:
                            body = _DATA.pack(start, end - start) + zlib.compress(
                                data, self.level)
                        else:        # the header goes just before the data, no copy
                            plain[first:first + _DATA.size] = _DATA.pack(start, end - start)
                            body = memoryview(plain)[first:_DATA.size + last]
                        self._frame(b"D", start, end - start, body)
        except Exception as err:   # noqa: BLE001 - raised in the socket thread
            self.items.put(err)
        self.items.put(None)

    def _frame(self, kind, offset, length, body, tag=None):
        buf = self.pool.get()
        end = self.keys.seal(self.seq, kind, body, buf)
        self.seq += 1
        if tag is None:
            tag = bytes(buf[end - TAG:end]) if kind == b"D" else _NOTAG
        self.items.put((offset, length, end, buf, kind, tag))

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
        while self.thread.is_alive():
            try:
                item = self.items.get(timeout=0.1)
            except queue.Empty:
                continue
            if isinstance(item, tuple) and item[3] is not None:
                self.pool.put(item[3])


def _held_list(chan, size):
    """The receiver's R frames: {offset: tag} of the blocks it holds."""
    held = {}
    while True:
        kind, payload = chan.recv()
        if kind != b"R":
            raise CopyError("stream corrupted: no resume list")
        if not payload:
            return held
        if len(payload) % _ENTRY.size:
            raise CopyError("stream corrupted: bad resume list")
        for offset, tag in _ENTRY.iter_unpack(payload):
            if offset % CHUNK or offset >= size:
                raise CopyError("stream corrupted: bad resume block %d" % offset)
            held[offset] = tag


def send(host, port, src, key=None, tls=True, compress="none", progress=None,
         timeout=IO_TIMEOUT):
    """Stream SRC to a receiver at HOST:PORT; its summary dict."""
    if compress not in COMPRESS_LEVELS:
        raise CopyError("unknown compression '%s'" % compress)
    if not tls and key is None:
        raise CopyError("without TLS a transfer key is needed")
    context = _prepare(tls, server=False)
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
        sock = _handshake(sock, context, server=False)
        hello = bytearray(len(MAGIC) + 32)
        _Channel(sock, None).fill(memoryview(hello))
        if bytes(hello[:len(MAGIC)]) != MAGIC:
            raise CopyError("the peer is not a volume-copy receiver")
        nonce = bytes(hello[len(MAGIC):])
        sock = _bare(sock, tls)
        chan = _Channel(sock, _Keys(key, nonce, b"S"))
        chan.send_json(b"H", {"size": size, "compress": compress})
        held = _held_list(chan, size)
        sent = skipped = 0
        digest = hashlib.sha256()
        start = time.monotonic()
        reader = _Reader(fd, size, COMPRESS_LEVELS[compress], src, held, chan.keys,
                         chan.sent)
        for offset, length, end, buf, kind, tag in reader:
            if buf is not None:
                sock.sendall(memoryview(buf)[:end])
                reader.pool.put(buf)
                chan.sent += 1
                _digest_entry(digest, offset, length, tag)
                sent += length if kind == b"D" else 0
                skipped += length if kind == b"S" else 0
            if progress:
                progress.update(offset + length)
        reader.thread.join()
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
        return {"bytes": size, "sent": sent, "skipped": skipped, "sha256": mine,
                "seconds": round(seconds, 3),
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
