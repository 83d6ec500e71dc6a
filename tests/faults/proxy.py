"""A loopback TCP proxy whose faults a test (or bench/verify.py) switches at will, in front of a database,
Redis or an HTTP simulator.

    proxy = FaultProxy(5432)          # listens on 127.0.0.1:<proxy.port>, forwards to 127.0.0.1:5432
    proxy.set_mode("hang")            # ... the platform under test now talks to a peer that never answers
    proxy.set_mode("pass")

Modes:
    pass            forward both ways.
    refuse          nothing listens: a connect is refused (ECONNREFUSED); open connections are cut.
    hang            accept, then forward nothing either way (a listener that never answers; a stalled
                    network); open connections freeze too. Leaving the mode lets buffered bytes through.
    hang_midstream  open connections freeze; a new one forwards `midstream_bytes` bytes from the server
                    (the handshake) and then freezes.
    slow            each chunk waits `delay` seconds before it is forwarded.
    cut             every open connection is closed at once, and each new one right after accept.
"""

from __future__ import annotations

import select
import socket
import threading
import time

MODES = ("pass", "refuse", "hang", "hang_midstream", "slow", "cut")


class _Link:
    """One client connection and its upstream."""

    def __init__(self, proxy: FaultProxy, client: socket.socket) -> None:
        self.proxy = proxy
        self.client = client
        self.upstream: socket.socket | None = None
        self.closed = False
        self.from_server = 0  # bytes forwarded server -> client
        self.frozen_midstream = proxy.mode == "hang_midstream"  # new in hang_midstream: after the handshake
        self.new_in_midstream = self.frozen_midstream

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for sock in (self.client, self.upstream):
            if sock is not None:
                try:
                    sock.close()
                except OSError:
                    pass

    def may_forward(self, to_client: bool, size: int) -> bool:
        mode = self.proxy.mode
        if mode == "hang":
            return False
        if mode == "hang_midstream":
            if not self.new_in_midstream:
                return False
            return to_client and self.from_server + size <= self.proxy.midstream_bytes or \
                (not to_client and self.from_server < self.proxy.midstream_bytes)
        self.new_in_midstream = False
        return True

    def run(self) -> None:
        try:
            while self.proxy.mode == "hang" and not self.closed and self.proxy.running:
                time.sleep(0.02)  # accepted, never answered: the upstream is not even contacted
            if self.closed or not self.proxy.running:
                return
            self.upstream = socket.create_connection(("127.0.0.1", self.proxy.target_port), timeout=5)
            self.upstream.settimeout(None)
        except OSError:
            self.close()
            return
        pending = {self.client: b"", self.upstream: b""}  # bytes read from a socket, not yet forwarded
        peer = {self.client: self.upstream, self.upstream: self.client}
        while not self.closed and self.proxy.running:
            if self.proxy.mode in ("cut", "refuse"):
                break
            try:
                readable, _, _ = select.select([s for s in pending if len(pending[s]) < 1 << 20], [], [], 0.02)
            except (OSError, ValueError):
                break
            eof = False
            for sock in readable:
                try:
                    data = sock.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    eof = True
                    break
                pending[sock] += data
            for sock, data in pending.items():
                if not data:
                    continue
                to_client = sock is self.upstream
                if not self.may_forward(to_client, len(data)):
                    continue
                if self.proxy.mode == "slow":
                    time.sleep(self.proxy.delay)
                try:
                    peer[sock].sendall(data)
                except OSError:
                    eof = True
                    break
                if to_client:
                    self.from_server += len(data)
                pending[sock] = b""
            if eof:
                break
        self.close()


class FaultProxy:
    def __init__(self, target_port: int, *, delay: float = 0.5, midstream_bytes: int = 0) -> None:
        self.target_port = target_port
        self.delay = delay
        self.midstream_bytes = midstream_bytes
        self.mode = "pass"
        self.running = True
        self._links: list[_Link] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self.port = 0
        self._listen()
        self._thread = threading.Thread(target=self._accept_loop, name="fault-proxy", daemon=True)
        self._thread.start()

    def __repr__(self) -> str:
        return f"FaultProxy(:{self.port} -> :{self.target_port}, {self.mode})"

    def _listen(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(256)
        sock.settimeout(0.05)
        self.port = sock.getsockname()[1]
        self._listener = sock

    def _accept_loop(self) -> None:
        while self.running:
            listener = self._listener
            if listener is None:
                time.sleep(0.02)
                continue
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                time.sleep(0.02)
                continue
            client.settimeout(None)
            if self.mode == "cut":
                client.close()
                continue
            link = _Link(self, client)
            with self._lock:
                self._links = [x for x in self._links if not x.closed] + [link]
            threading.Thread(target=link.run, name="fault-proxy-link", daemon=True).start()

    def set_mode(self, mode: str, *, delay: float | None = None, midstream_bytes: int | None = None) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}")
        if delay is not None:
            self.delay = delay
        if midstream_bytes is not None:
            self.midstream_bytes = midstream_bytes
        previous, self.mode = self.mode, mode
        if mode == "refuse" and self._listener is not None:
            listener, self._listener = self._listener, None
            listener.close()
        if previous == "refuse" and mode != "refuse":
            self._listen()
        if mode in ("cut", "refuse"):
            with self._lock:
                links, self._links = self._links, []
            for link in links:
                link.close()

    def close(self) -> None:
        self.running = False
        if self._listener is not None:
            self._listener.close()
        with self._lock:
            for link in self._links:
                link.close()
