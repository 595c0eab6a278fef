"""The HTTP server of ``/metrics``: prometheus_client's WSGI app, on a server that bounds what clients can hold.

prometheus_client's own ``start_http_server`` starts a thread per connection, with no limit and no timeout: a client
that opens connections and sends nothing (or one byte now and then: slowloris) holds a thread each, for ever, in
the process that runs ``redband run``. Here:

- at most ``MAX_CONNECTIONS`` connections are served at once, and ``PER_CLIENT`` from one address (a scraper on
  another address still gets in while one address holds its share); one over either limit is closed at once;
- a request must have arrived whole within ``REQUEST_DEADLINE_S`` of its connection (a total, not a per-read
  timeout: a client dripping a byte a second is cut off as one sending nothing), and the answer is written under
  what is left of it.
"""

from __future__ import annotations

import io
import socket
import threading
import time
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import make_wsgi_app

MAX_CONNECTIONS = 32
PER_CLIENT = 8
REQUEST_DEADLINE_S = 10.0


class _DeadlineReader(io.RawIOBase):
    """A socket read under one deadline: every read waits at most what is left of it."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock, self.deadline = sock, deadline

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the request did not arrive in time")
        self.sock.settimeout(left)
        return self.sock.recv_into(b)


class _Handler(WSGIRequestHandler):
    deadline_s = REQUEST_DEADLINE_S

    def setup(self) -> None:
        super().setup()
        self.rfile = io.BufferedReader(_DeadlineReader(self.connection, time.monotonic() + self.deadline_s))

    def handle(self) -> None:
        try:
            super().handle()
        except (TimeoutError, ConnectionError):
            pass  # too slow, or gone: the connection is closed, nothing else to do

    def log_message(self, format, *args) -> None:  # noqa: A002 - the base class's signature
        """Nothing logged per request."""


class BoundedWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    request_queue_size = 128  # (socketserver's 5: a burst of connections waited in SYN retries, seconds each)
    max_connections = MAX_CONNECTIONS
    per_client = PER_CLIENT

    def server_activate(self) -> None:
        super().server_activate()
        self._lock = threading.Lock()
        self._open: dict[str, int] = {}
        self.refused = 0
        """Connections closed at once for being over a limit."""

    def process_request(self, request, client_address) -> None:
        address = client_address[0]
        with self._lock:
            full = sum(self._open.values()) >= self.max_connections or self._open.get(address, 0) >= self.per_client
            if full:
                self.refused += 1
            else:
                self._open[address] = self._open.get(address, 0) + 1
        if full:
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._release(address)
            raise

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._release(client_address[0])

    def connections(self) -> int:
        with self._lock:
            return sum(self._open.values())

    def _release(self, address: str) -> None:
        with self._lock:
            if self._open.get(address, 0) <= 1:
                self._open.pop(address, None)
            else:
                self._open[address] -= 1


def start_server(host: str, port: int, registry, *, deadline_s: float = REQUEST_DEADLINE_S,
                 max_connections: int = MAX_CONNECTIONS, per_client: int = PER_CLIENT) -> BoundedWSGIServer:
    """Serve ``registry`` on ``host:port`` from a thread of this process; ``OSError`` if the address is taken."""
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0][0]
    server_class = type("MetricsHTTPServer", (BoundedWSGIServer,), {
        "address_family": family, "max_connections": max_connections, "per_client": per_client})
    handler = type("MetricsHandler", (_Handler,), {"deadline_s": deadline_s})
    server = make_server(host, port, make_wsgi_app(registry), server_class, handler_class=handler)
    threading.Thread(target=server.serve_forever, name="metrics-http", daemon=True).start()
    return server
