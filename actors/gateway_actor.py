"""The console gateway as a Ray actor of its own (``redband run``): named ``console-gateway`` in the engine's
namespace, detached when the engine is, and restarted by Ray whenever its process dies (``max_restarts=-1``),
serving the console on the same address again.

What it starts from is read at every start from the engine's directory, or from PostgreSQL when the engine's journal
is there (``actors/gateway_state.py``, :func:`gateway_from_state`): the token secret and the operators, so a token
issued before a restart still opens a session after it, and the revoked tokens, so a logged-out token stays out. The engine is reached through the hosts' names (:func:`attached_engine`), not
through the driver: the gateway keeps serving while no driver runs. A console whose socket dies with the process
reconnects by itself (``web_console/app.js``) and gets a fresh snapshot: nothing twice, nothing missed.

The gateway owns the engine's change stream; the driver logs the incident timeline from :meth:`take_changes`
(bounded: a driver that is away for long misses the oldest lines, never the console).

The in-process gateway (``ConsoleGateway(...).start()``) stays what tests, the demo and ``simulate --stack`` use.
"""

from __future__ import annotations

import collections
import logging
import os
import time
import warnings
from pathlib import Path

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from actors.console_gateway import ConsoleGateway
from actors.directory import announce_start
from actors.engine_files import FILE_NAME as ENGINE_FILE
from actors.engine_files import read_engine_files
from actors.engine_options import START_TIMEOUT_S, EngineOptions
from actors.gateway_state import open_console_state
from actors.host_actor import host_actor_name
from actors.journal_pg_schema import is_url
from actors.ray_setup import stop_all
from engine.operators import TokenSigner, operators_from_text

log = logging.getLogger(__name__)

GATEWAY_NAME = "console-gateway"
MAX_CHANGES = 10_000
"""Changes held for the driver's log between two ``take_changes`` (the oldest dropped past it)."""
NUM_CPUS = 0.001
"""A sliver of a CPU, so that Ray heeds the placement (as ``EngineOptions.host_num_cpus``)."""


def engine_source(engine) -> str:
    """What ``engine``'s actors start from: its file beside the journals, or the PostgreSQL journal's URL."""
    return engine._start_from or str(Path(engine.options.journal_dir) / ENGINE_FILE)  # noqa: SLF001 - set by start


def attached_engine(namespace: str, engine_from: str, journal_dir: str):
    """An ``Engine`` handle on the hosts running in ``namespace`` (found by name), built from the engine's files
    (``engine_source``): what the console gateway calls, without starting or owning anything."""
    from actors.runtime import Engine

    city, policies, placement = read_engine_files(engine_from)
    engine = Engine(city, policies, EngineOptions(precinct_hosts=len(placement.precinct_hosts), namespace=namespace,
                                                  journal_dir=journal_dir))
    engine.placement = placement
    engine.hosts = {h: ray.get_actor(host_actor_name(h), namespace=namespace) for h in placement.hosts}
    engine.watch.host_ids = tuple(placement.hosts)
    return engine


def gateway_from_state(engine, engine_from: str, journal_dir: str, **options) -> ConsoleGateway:
    """A console gateway (not started) for ``engine`` with the secret, operators and revocations its driver kept:
    in PostgreSQL when ``engine_from`` is the journal's URL, else in ``journal_dir``. ``options``: the gateway's."""
    state = open_console_state(engine_from if is_url(engine_from) else journal_dir, now_s=time.time())
    gateway = ConsoleGateway(engine, operators_from_text(state.users, file=state.label, city=engine.city),
                             signer=TokenSigner(state.secret), **options)
    gateway.sessions.revocations = state.revocations
    return gateway


@ray.remote
class GatewayActor:
    def __init__(self, namespace: str, engine_from: str, journal_dir: str, host: str, port: int,
                 origins: list[str] | None, trusted_proxies: list[str] | None = None) -> None:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        engine = attached_engine(namespace, engine_from, journal_dir)
        self._changes: collections.deque = collections.deque(maxlen=MAX_CHANGES)
        self._dropped = 0
        self.gateway = gateway_from_state(engine, engine_from, journal_dir, host=host, port=port,
                                          allowed_origins=origins, trusted_proxies=trusted_proxies or (),
                                          on_change=self._on_change)
        self.gateway.start()
        context = ray.get_runtime_context()
        with warnings.catch_warnings():  # Ray warns about its own use of a deprecated call inside this property
            warnings.simplefilter("ignore")
            restarted = bool(context.was_current_actor_reconstructed)
        self._where = {"url": self.gateway.url, "pid": os.getpid(), "node_id": context.get_node_id(),
                       "restarted": restarted, "operators": len(self.gateway.operators)}
        if restarted:
            log.warning("console gateway: restarted on node %s, serving %s again", self._where["node_id"][:12],
                        self.gateway.url)
        announce_start(namespace, GATEWAY_NAME, {"node_id": self._where["node_id"], "pid": self._where["pid"]})

    def _on_change(self, change) -> None:  # on the gateway's thread; deque appends are atomic
        if len(self._changes) == MAX_CHANGES:
            self._dropped += 1
        self._changes.append(change)

    def where(self) -> dict:
        """The console's URL, this process's pid and node, and whether Ray restarted it."""
        return dict(self._where, consoles=len(self.gateway.consoles), dropped=self._dropped)

    def take_changes(self) -> list:
        out = []
        while self._changes:
            out.append(self._changes.popleft())
        return out

    def stop(self) -> None:
        self.gateway.stop()


class GatewayProcess:
    """The driver's handle on the gateway actor: where it serves, the changes it saw, stopping it."""

    def __init__(self, handle, where: dict) -> None:
        self.handle, self.where = handle, where

    @property
    def url(self) -> str:
        return self.where["url"]

    def take_changes(self, timeout_s: float = 5.0) -> list:
        return ray.get(self.handle.take_changes.remote(), timeout=timeout_s)

    def stop(self) -> None:
        stop_all([self.handle], "console gateway")


def start_gateway_actor(engine, *, host: str, port: int, origins: list[str] | None = None,
                        trusted_proxies: list[str] | None = None, detached: bool = True,
                        timeout_s: float = START_TIMEOUT_S) -> GatewayProcess:
    """The gateway actor of ``engine`` (started, its console state written by ``write_console_state``), started
    unless it runs already (a driver attaching to a running engine), on this driver's node by preference (where the
    console's address is). A gateway that cannot start (the port taken) raises ``RuntimeError`` with the reason."""
    namespace, journal_dir = engine.namespace, engine.options.journal_dir
    node = ray.get_runtime_context().get_node_id()
    handle = GatewayActor.options(
        name=GATEWAY_NAME, namespace=namespace, get_if_exists=True, lifetime="detached" if detached else None,
        max_restarts=-1, num_cpus=NUM_CPUS, max_concurrency=4,
        scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=True),
    ).remote(namespace, engine_source(engine), journal_dir, host, port, origins, trusted_proxies)
    try:
        return GatewayProcess(handle, ray.get(handle.where.remote(), timeout=timeout_s))
    except ray.exceptions.RayActorError as exc:
        stop_all([handle], "console gateway")
        lines = [line for line in str(exc).strip().splitlines() if line.strip()]
        raise RuntimeError(lines[-1] if lines else "the actor died") from None
