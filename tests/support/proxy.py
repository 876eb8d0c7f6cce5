"""A loopback TCP proxy whose connections a test can cut at will.

Clients connect to ``proxy.address``; every accepted connection is piped to
the target. ``cut()`` closes every live connection at once, which is how a
test breaks a gRPC stream mid-flight (the client sees UNAVAILABLE and must
resume). ``retarget()`` points new connections at another replica.
"""

from __future__ import annotations

import socket
import threading


class TcpProxy:
    """Threaded byte pipe on 127.0.0.1 with a kill switch."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(128)
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._live: set[socket.socket] = set()
        self._closed = False
        self.cuts = 0
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def address(self) -> str:
        """host:port for clients."""
        return f"127.0.0.1:{self.port}"

    def retarget(self, port: int) -> None:
        """Send new connections to another port."""
        self.target_port = port

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._live.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
            with self._lock:
                self._live.discard(src)
                self._live.discard(dst)

    def cut(self) -> int:
        """Close every live connection; returns how many sockets were cut."""
        with self._lock:
            live = list(self._live)
            self._live.clear()
        for s in live:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        if live:
            self.cuts += 1
        return len(live)

    def close(self) -> None:
        """Stop accepting and cut everything."""
        self._closed = True
        self._listener.close()
        self.cut()
