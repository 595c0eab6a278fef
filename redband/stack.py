"""A whole redband of our own for one run: Mosquitto on a free loopback port (provisioned for the city), the
engine with its MQTT bridge and on-disk journals, and the console gateway with a command-center operator.

``redband demo`` and ``redband simulate --stack`` use it. Owning the broker is what lets a scenario kill it
and start it again (``broker_kill``); owning the console is what lets the run measure publish → console.
"""

from __future__ import annotations

import queue
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from actors.broker import Mosquitto, free_port
from redband.files import add_operator, write_broker_files
from engine.mqtt_provision import BRIDGE_USER, SIMULATOR_USER, broker_files, read_credentials
from engine.operators import Role, load_operators
from engine.policy import PolicySet
from engine.topology import City
from protocols.endpoint import ConsoleEndpoint, MqttEndpoint

WATCHER = "sim-watch"
"""The command-center operator the simulator's own console watch logs in as."""
MAX_CHANGES = 1_000_000


@dataclass(frozen=True)
class ProvisionedBroker:
    port: int
    bridge: MqttEndpoint
    simulator: MqttEndpoint
    conf: Path


def provision_broker(city: City, out: Path) -> ProvisionedBroker:
    """Broker files for ``city`` in ``out`` (passwords already issued there are kept) on a free port."""
    previous = out / "credentials.csv"
    existing = read_credentials(previous.read_text(encoding="utf-8")) if previous.exists() else {}
    port = free_port()
    files = broker_files(city, out, port=port, simulator=True, existing=existing)
    write_broker_files(files, out)
    password = {c.username: c.password for c in files.credentials}
    return ProvisionedBroker(port, MqttEndpoint("127.0.0.1", port, BRIDGE_USER, password[BRIDGE_USER]),
                             MqttEndpoint("127.0.0.1", port, SIMULATOR_USER, password[SIMULATOR_USER]),
                             out / "mosquitto.conf")


class Stack:
    """Started by ``start()`` (or ``with``), stopped in reverse order by ``stop()``. The gateway owns the
    engine's change stream; ``take_changes()`` hands the driver every change it saw (bounded)."""

    def __init__(self, city: City, policies: PolicySet, out: Path, *, console_port: int | None = None,
                 precinct_hosts: int | None = None, engine_options: dict | None = None) -> None:
        self.city, self.policies, self.out = city, policies, out
        self.console_port = console_port or free_port()
        self.precinct_hosts = precinct_hosts  # None: one per CPU core (``default_precinct_hosts``)
        self.engine_options = engine_options or {}
        """Overrides of :class:`actors.engine_options.EngineOptions` (tests: a short heartbeat interval)."""
        self.options = None
        """The engine's options once started (what the simulated devices keep to: ``heartbeat_interval_s``...)."""
        self.users = out / "users.toml"
        self.broker: Mosquitto | None = None
        self.engine = None
        self.gateway = None
        self.provisioned: ProvisionedBroker | None = None
        self.watcher: ConsoleEndpoint | None = None
        self._changes: queue.Queue = queue.Queue(maxsize=MAX_CHANGES)
        self.changes_dropped = 0

    def start(self) -> "Stack":
        from actors.console_gateway import ConsoleGateway
        from actors.runtime import Engine, EngineOptions, default_precinct_hosts

        self.out.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(self.out / "journal", ignore_errors=True)  # a run's journal is its own: devices start afresh
        self.provisioned = provision_broker(self.city, self.out / "broker")
        password = secrets.token_urlsafe(12)
        add_operator(self.users, name=WATCHER, role=Role.COMMAND_CENTER, scope="", password=password, city=self.city)
        self.watcher = ConsoleEndpoint("127.0.0.1", self.console_port, WATCHER, password)
        try:
            self.broker = Mosquitto(self.provisioned.conf, port=self.provisioned.port).start()
            self.options = EngineOptions(**{
                "realtime": True, "mqtt": self.provisioned.bridge, "journal_dir": str(self.out / "journal"),
                "precinct_hosts": self.precinct_hosts or default_precinct_hosts(self.city), **self.engine_options})
            self.engine = Engine(self.city, self.policies, self.options).start()
            self.gateway = ConsoleGateway(self.engine, load_operators(self.users, city=self.city),
                                          port=self.console_port, on_change=self._on_change).start()
        except BaseException:
            self.stop()
            raise
        return self

    @property
    def simulator(self) -> MqttEndpoint:
        assert self.provisioned is not None
        return self.provisioned.simulator

    def _on_change(self, change) -> None:
        try:
            self._changes.put_nowait(change)
        except queue.Full:
            self.changes_dropped += 1

    def take_changes(self) -> list:
        out = []
        while True:
            try:
                out.append(self._changes.get_nowait())
            except queue.Empty:
                return out

    def stop(self) -> None:
        if self.gateway is not None:
            self.gateway.stop()
            self.gateway = None
        if self.engine is not None:
            self.engine.stop()
            self.engine = None
        if self.broker is not None:
            self.broker.stop()
            self.broker = None

    def __enter__(self) -> "Stack":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
