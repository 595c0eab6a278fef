"""``/metrics``: the engine's figures in Prometheus's text format, served over HTTP by the process that runs
``redband run`` (``--metrics HOST:PORT``).

A scrape asks the namespace's directory what the engine is made of, then every host (``HostActor.metrics``: its
counters and its step and journal-commit histograms), every bridge process (``statistics``: its lanes' counters,
NAKs by reason, the alarm lane's ack latency) and the console gateway (``where``: its consoles), all at once under
one deadline. One that does not answer in time is reported as such (``redband_host_up 0``), never waited for longer.
What one scrape gathered is kept ``CACHE_S``, so several scrapers (or a dashboard refreshing) cost the engine one
round of calls a second.

The names and labels are in ``actors/metrics_families.py``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import ray
from prometheus_client import CollectorRegistry

from actors.directory import DIRECTORY_NAME
from actors.gateway_actor import GATEWAY_NAME
from actors.host_actor import host_actor_name
from actors.metrics_families import Scrape, families
from actors.metrics_http import REQUEST_DEADLINE_S, start_server

SCRAPE_TIMEOUT_S = 2.0
"""How long a scrape waits for the hosts and bridges; Prometheus's own default scrape timeout is 10 s."""
CACHE_S = 1.0


def gather(namespace: str, *, timeout_s: float = SCRAPE_TIMEOUT_S) -> Scrape:
    """Every host's and bridge process's figures; ``LookupError`` when no engine runs in ``namespace``."""
    started = time.monotonic()
    try:
        directory = ray.get_actor(DIRECTORY_NAME, namespace=namespace)
    except ValueError:
        raise LookupError(f"no redband engine runs in namespace {namespace!r}") from None
    engine, starts = ray.get([directory.engine.remote(), directory.starts.remote()], timeout=timeout_s)
    if engine is None:
        raise LookupError(f"no redband engine runs in namespace {namespace!r}")
    calls = {host_actor_name(h): "metrics" for h in engine["hosts"]}
    calls.update({name: "statistics" for name in starts if name.startswith("bridge:")})
    if GATEWAY_NAME in starts:  # the console gateway actor (redband run with operators): its consoles connected
        calls[GATEWAY_NAME] = "where"
    refs = {}
    for name, method in calls.items():
        try:
            refs[name] = getattr(ray.get_actor(name, namespace=namespace), method).remote()
        except ValueError:  # not started (yet), or gone for good
            pass
    left_s = max(0.0, timeout_s - (time.monotonic() - started))
    ready, _ = ray.wait(list(refs.values()), num_returns=len(refs), timeout=left_s) if refs else ([], [])
    done = set(ready)
    answers: dict[str, object] = {}
    for name, ref in refs.items():
        if ref in done:
            try:
                answers[name] = ray.get(ref, timeout=0)
            except Exception:  # noqa: BLE001 - died or restarting: reported as not answering
                pass
    hosts = {h: answers.get(host_actor_name(h)) for h in engine["hosts"]}
    bridges = {name: answers.get(name) or None for name in calls if name.startswith("bridge:")}
    numbers = {name: entries[-1].get("number", len(entries)) for name, entries in starts.items() if entries}
    console = {GATEWAY_NAME: answers.get(GATEWAY_NAME)} if GATEWAY_NAME in calls else {}
    return Scrape(hosts, bridges, numbers, time.monotonic() - started, console)


class EngineCollector:
    """A prometheus_client collector over :func:`gather`, at most one gathering per ``cache_s``."""

    def __init__(self, namespace: str, *, timeout_s: float = SCRAPE_TIMEOUT_S, cache_s: float = CACHE_S,
                 gather_fn: Callable[..., Scrape] = gather) -> None:
        self.namespace, self.timeout_s, self.cache_s = namespace, timeout_s, cache_s
        self._gather = gather_fn
        self._lock = threading.Lock()  # scrapes arrive on the HTTP server's threads
        self._last: tuple[float, Scrape] | None = None

    def scrape(self) -> Scrape:
        with self._lock:
            now = time.monotonic()
            if self._last is None or now - self._last[0] >= self.cache_s:
                try:
                    scrape = self._gather(self.namespace, timeout_s=self.timeout_s)
                except (LookupError, ray.exceptions.RayError):
                    scrape = Scrape({}, {}, {}, time.monotonic() - now)  # no engine (yet): no hosts to show
                self._last = (time.monotonic(), scrape)
            return self._last[1]

    def collect(self):
        return families(self.scrape())


class MetricsServer:
    """``/metrics`` on ``host:port`` (port 0: a free one, see :attr:`port`), on threads of this process, as many as
    ``actors/metrics_http.py`` allows (slow or idle clients hold none of them for long)."""

    def __init__(self, namespace: str, *, host: str = "127.0.0.1", port: int = 9464,
                 request_deadline_s: float = REQUEST_DEADLINE_S, **collector) -> None:
        self.request_deadline_s = request_deadline_s
        self.registry = CollectorRegistry(auto_describe=False)
        self.collector = EngineCollector(namespace, **collector)
        self.registry.register(self.collector)
        self.host, self.port = host, port
        self._server = None

    def start(self) -> MetricsServer:
        """Raises ``OSError`` when the address cannot be bound (the port is taken)."""
        self._server = start_server(self.host, self.port, self.registry, deadline_s=self.request_deadline_s)
        self.port = self._server.server_port
        return self

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/metrics"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
