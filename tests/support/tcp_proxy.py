"""A small threaded TCP proxy for fault tests: put it between a client and the broker, then cut
every live connection at will (``drop_all``) to simulate a network or broker failure.

    proxy = TcpProxy("127.0.0.1", 5672)
    port = proxy.start()          # listens on 127.0.0.1:<port>
    ...
    proxy.drop_all()              # every live connection is cut, both sides see EOF
    proxy.refusing = True         # new connections are cut at once (the broker is "down")
    proxy.stop()
"""

from __future__ import annotations

import contextlib
import socket
import threading


class TcpProxy:
    def __init__(self, target_host: str, target_port: int, listen_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.listen_host = listen_host
        self.port = 0
        self.accepted = 0  # connections accepted so far
        self.dropped = 0  # connections cut by drop_all
        self.refusing = False  # when set, every new connection is closed as soon as accepted
        self.refused = 0
        self._listener: socket.socket | None = None
        self._pairs: set[tuple[socket.socket, socket.socket]] = set()
        self._lock = threading.Lock()
        self._running = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> int:
        """Listen on an ephemeral port and return it."""
        listener = socket.create_server((self.listen_host, 0))
        listener.settimeout(0.1)
        self._listener, self.port = listener, listener.getsockname()[1]
        self._running.set()
        self._thread = threading.Thread(target=self._accept_loop, name="tcp-proxy-accept", daemon=True)
        self._thread.start()
        return self.port

    def drop_all(self) -> int:
        """Cut every live connection (both sides); returns how many were cut."""
        with self._lock:
            pairs, self._pairs = self._pairs, set()
        for pair in pairs:
            for sock in pair:
                _close(sock)
        self.dropped += len(pairs)
        return len(pairs)

    def stop(self) -> None:
        """Stop listening and cut every live connection."""
        self._running.clear()
        if self._thread is not None:
            self._thread.join(2)
        if self._listener is not None:
            self._listener.close()
        self.drop_all()

    @property
    def live(self) -> int:
        with self._lock:
            return len(self._pairs)

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while self._running.is_set():
            try:
                client, _addr = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.refusing:
                self.refused += 1
                _close(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _close(client)
                continue
            client.settimeout(None)
            upstream.settimeout(None)
            pair = (client, upstream)
            with self._lock:
                self._pairs.add(pair)
            self.accepted += 1
            for src, dst in (pair, pair[::-1]):
                threading.Thread(target=self._pump, args=(src, dst, pair), name="tcp-proxy-pump", daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, pair: tuple[socket.socket, socket.socket]) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        with self._lock:
            self._pairs.discard(pair)
        _close(src)
        _close(dst)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
