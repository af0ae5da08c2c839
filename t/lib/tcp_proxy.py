"""A TCP proxy for fault tests: it relays one connection to
127.0.0.1:PORT, and on the way from the client

    flip N   flips one bit of byte N (a tampered stream),
    stall N  passes N bytes on, then swallows the rest (a sender that
             goes on writing into a dead link; prints "stalled" then),
    close N  passes N bytes on, then drops both connections,
    trickle N passes everything on, N bytes at a time (a slow link).

    python3 t/lib/tcp_proxy.py PORT MODE N     (prints its own port first)

or from Python, start(port, mode, n) in a thread, which returns the port.
"""

import socket
import sys
import threading
import time

MODES = ("flip", "stall", "close", "trickle")


def _pass_back(server, client):
    """Server to client, unchanged, until either side is gone."""
    try:
        while True:
            data = server.recv(65536)
            if not data:
                break
            client.sendall(data)
        client.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def _serve(listener, port, mode, count, report):
    client, _ = listener.accept()
    server = socket.create_connection(("127.0.0.1", port))
    back = threading.Thread(target=_pass_back, args=(server, client), daemon=True)
    back.start()
    seen = 0
    try:
        while True:
            want = 65536 if mode != "close" else min(65536, count - seen)
            data = client.recv(want) if want > 0 else b""
            if not data:
                break
            if mode == "flip" and seen <= count < seen + len(data):
                data = bytearray(data)
                data[count - seen] ^= 1
            passed = data if mode != "stall" else data[:max(0, count - seen)]
            if len(passed) < len(data) and seen <= count:
                report("stalled")       # once: from here on seen > count
            seen += len(data)
            if passed and mode == "trickle":
                for start in range(0, len(passed), count):
                    server.sendall(passed[start:start + count])
                    time.sleep(0.0005)
            elif passed:
                server.sendall(passed)
    except OSError:
        pass
    if mode in ("flip", "trickle"):
        try:
            server.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        back.join()
        return
    for sock in (server, client):
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()


def start(port, mode, count, report=lambda line: None):
    """A proxy to PORT in a thread; its own port."""
    assert mode in MODES, mode
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    threading.Thread(target=_serve, args=(listener, port, mode, count, report),
                     daemon=True).start()
    return listener.getsockname()[1]


def main():
    port, mode, count = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    print(listener.getsockname()[1], flush=True)
    _serve(listener, port, mode, count, lambda line: print(line, flush=True))


if __name__ == "__main__":
    main()
