"""``/metrics`` against clients that hold connections: idle ones and slowloris drippers are cut off at the request
deadline, connections beyond the limits are closed at once (no thread each), and a scraper on another address is
answered all the while. The real HTTP server of ``MetricsServer``; the figures are a fixed scrape (no Ray needed to
attack the server)."""

from __future__ import annotations

import socket
import threading
import time
import urllib.request

from actors.metrics import MetricsServer
from actors.metrics_families import Scrape
from actors.metrics_http import MAX_CONNECTIONS, PER_CLIENT

DEADLINE_S = 1.0
ATTACKER = "127.0.0.2"  # loopback too, another address than the scraper's 127.0.0.1


def _scrape(namespace: str, timeout_s: float) -> Scrape:
    return Scrape({"h0": None}, {"bridge:b0:alarm": None})


def _until(predicate, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while not (value := predicate()):
        assert time.monotonic() < deadline, f"not within {timeout_s} s: {what}"
        time.sleep(0.02)  # polling sockets and thread counts, bounded by the deadline
    return value


def _closed_by_server(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except ConnectionError:
        return True


def test_idle_and_dripping_clients_are_cut_off_and_bounded_while_a_scraper_is_answered():
    server = MetricsServer("ns", port=0, request_deadline_s=DEADLINE_S, gather_fn=_scrape).start()
    threads_before = threading.active_count()
    attackers: list[socket.socket] = []
    try:
        for _ in range(3 * MAX_CONNECTIONS):  # idle: connected, nothing sent
            sock = socket.socket()
            sock.bind((ATTACKER, 0))
            sock.connect(("127.0.0.1", server.port))
            attackers.append(sock)
        dripper = socket.create_connection(("127.0.0.1", server.port))
        dripper.sendall(b"GET /metrics HTTP/1.1\r\n")
        started = time.monotonic()
        # a scraper is answered while they hold what they can
        with urllib.request.urlopen(server.url, timeout=10) as response:
            assert b'redband_bridge_process_up{bridge="b0",lanes="alarm"} 0.0' in response.read()
        assert threading.active_count() - threads_before <= PER_CLIENT + 2  # their share, the dripper, the scraper
        cut = None
        while cut is None:  # the dripper sends a header line byte by byte, each well within any per-read timeout
            try:
                dripper.sendall(b"X")
            except ConnectionError:
                cut = time.monotonic() - started
                break
            if _closed_by_server(dripper):
                cut = time.monotonic() - started
            dripper.setblocking(True)
            assert time.monotonic() - started < 10 * DEADLINE_S, "the dripper was never cut off"
            time.sleep(0.1)  # the drip's pace (the attack's, not a synchronisation)
        assert cut < DEADLINE_S + 4.0, cut  # (a loaded 2-core machine: the cut itself is at 1 s)
        _until(lambda: all(_closed_by_server(s) for s in attackers), 10 * DEADLINE_S, "every idle connection closed")
        _until(lambda: threading.active_count() <= threads_before, 10 * DEADLINE_S, "their threads gone")
    finally:
        for sock in attackers:
            sock.close()
        server.stop()
