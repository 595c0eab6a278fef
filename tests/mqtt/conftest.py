"""A real Mosquitto on a free loopback port, provisioned for a small city, and the engine with its
bridge on it. Mosquitto and its clients are installed by ``make test`` (apt-get) when missing."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.citygen import CitySpec, generate_city
from redband.files import write_broker_files
from engine.mqtt_provision import BRIDGE_USER, SIMULATOR_USER, Credential, broker_files
from engine.topology import City
from protocols.endpoint import MqttEndpoint

SMALL = CitySpec(precincts=2, communities=2, schools=2, kiosk_halls=1, volunteers=4, doors_per_community=2,
                 cameras_per_community=1, residents_per_door=2, seed=5)
HEARTBEAT_S = 1.0
MISSES = 3


@dataclass
class Broker:
    city: City
    dir: Path
    port: int
    credentials: dict[str, Credential]
    process: object

    def endpoint(self, username: str | None = None) -> MqttEndpoint:
        if username is None:
            return MqttEndpoint("127.0.0.1", self.port)
        return MqttEndpoint("127.0.0.1", self.port, username, self.credentials[username].password)

    @property
    def bridge(self) -> MqttEndpoint:
        return self.endpoint(BRIDGE_USER)

    @property
    def simulator(self) -> MqttEndpoint:
        return self.endpoint(SIMULATOR_USER)

    def device(self, kind: str, index: int = 0) -> str:
        ids = sorted(d.id for d in self.city.devices.values() if d.kind == kind)
        return ids[index]


def _require_clients() -> None:
    from actors.broker import mosquitto_binary

    mosquitto_binary()
    for binary in ("mosquitto_pub", "mosquitto_sub"):
        if shutil.which(binary) is None:
            pytest.fail(f"{binary} is not installed: `make test` installs it (apt-get install mosquitto-clients)")


@pytest.fixture
def broker(tmp_path):
    from actors.broker import BrokerError, Mosquitto, free_port

    _require_clients()
    city = generate_city(SMALL)
    for attempt in range(5):  # the free port may be taken by another process before Mosquitto binds it: another
        port = free_port()
        files = broker_files(city, tmp_path / "broker", port=port, simulator=True)
        write_broker_files(files, tmp_path / "broker")
        try:
            process = Mosquitto(tmp_path / "broker" / "mosquitto.conf", port=port).start()
            break
        except BrokerError as exc:
            if "in use" not in str(exc) or attempt == 4:
                raise
    try:
        yield Broker(city, tmp_path / "broker", port, {c.username: c for c in files.credentials}, process)
    finally:
        process.stop()


def start_engine(broker: Broker, tmp_path: Path, *, bridges: int = 1, precinct_hosts: int = 1, policies=None,
                 **bridge):
    from actors.runtime import Engine, EngineOptions
    from engine.policy import load_policy_set

    options = EngineOptions(precinct_hosts=precinct_hosts, journal_dir=str(tmp_path / "journal"), realtime=True,
                            heartbeat_interval_s=HEARTBEAT_S, heartbeat_misses=MISSES, mqtt=broker.bridge,
                            bridges=bridges,
                            bridge={"backoff_cap_s": 1.0, **bridge})
    return Engine(broker.city, load_policy_set(policies), options).start()


@pytest.fixture
def engine(ray_session, broker, tmp_path):
    engine = start_engine(broker, tmp_path)
    try:
        yield engine
    finally:
        engine.stop()
