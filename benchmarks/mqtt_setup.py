"""What the MQTT benchmarks set up alike (``mqtt_ingest``, ``positions_ingest``): a city's broker files in a
temporary directory, the engine with its bridges on that broker, and the command-line options of both.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("RAY_AUTH_MODE", "disabled")

from actors.broker import free_port  # noqa: E402
from actors.runtime import Engine, EngineOptions  # noqa: E402
from engine.mqtt_provision import BRIDGE_USER, SIMULATOR_USER, broker_files  # noqa: E402
from engine.policy import default_policies  # noqa: E402
from engine.topology import City  # noqa: E402
from protocols.endpoint import MqttEndpoint  # noqa: E402
from redband.files import write_broker_files  # noqa: E402


@dataclass(frozen=True, slots=True)
class BrokerSetup:
    work: Path
    """The run's temporary directory: ``broker/`` (Mosquitto's files), ``journal/``, the devices file."""
    port: int
    password: dict[str, str]
    """Broker user → password."""

    @property
    def conf(self) -> Path:
        return self.work / "broker" / "mosquitto.conf"

    @property
    def simulator(self) -> MqttEndpoint:
        """The simulator user: it may publish as any device; the broker grants the bridge its share group only."""
        return MqttEndpoint("127.0.0.1", self.port, SIMULATOR_USER, self.password[SIMULATOR_USER])


def broker_setup(city: City) -> BrokerSetup:
    """The city's broker files (ACLs, passwords, the simulator user) in a new temporary directory, on a free port."""
    work = Path(tempfile.mkdtemp(prefix="redband-bench-"))
    port = free_port()
    files = broker_files(city, work / "broker", port=port, simulator=True)
    write_broker_files(files, work / "broker")
    return BrokerSetup(work, port, {c.username: c.password for c in files.credentials})


def start_engine(city: City, setup: BrokerSetup, args: argparse.Namespace) -> Engine:
    """The engine in real time, journaling under the run's directory, with ``args.bridges`` bridges on the broker."""
    return Engine(city, default_policies(), EngineOptions(
        precinct_hosts=args.hosts, realtime=True, journal_dir=str(setup.work / "journal"),
        mqtt=MqttEndpoint("127.0.0.1", setup.port, BRIDGE_USER, setup.password[BRIDGE_USER]), bridges=args.bridges,
        bridge={"max_in_flight_batches": args.inflight, "batch_window_s": args.window_ms / 1000,
                "bulk_receive": getattr(args, "bulk_receive", "wire")})).start()


def add_engine_and_ramp_options(parser: argparse.ArgumentParser, *, step_s: float, max_steps: int,
                                budget_s: float) -> None:
    """The options both programs take: load generators, the engine's shape, and the ramp's plan."""
    parser.add_argument("--publishers", type=int, default=2)
    parser.add_argument("--bridges", type=int, default=1)
    parser.add_argument("--hosts", type=int, default=2)
    parser.add_argument("--inflight", type=int, default=1, help="bulk-lane batches in flight per bridge")
    parser.add_argument("--bulk-receive", choices=("wire", "aiomqtt"), default="wire",
                        help="the bulk lane's receive path (actors/bridge_options.py)")
    parser.add_argument("--window-ms", type=float, default=10.0, help="a batch closes this long after its first event")
    parser.add_argument("--step-s", type=float, default=step_s, help="each ramp step's length")
    parser.add_argument("--warm-s", type=float, default=1.0,
                        help="a step's rate is counted from this long after its start")
    parser.add_argument("--factor", type=float, default=1.25, help="each ramp step offers this much more")
    parser.add_argument("--max-steps", type=int, default=max_steps)
    parser.add_argument("--budget-s", type=float, default=budget_s, help="no ramp step starts after this")


def quick_ramp(args: argparse.Namespace) -> None:
    """A smoke run's ramp plan (``--quick``): one step of 1 s, its rate counted from 0.3 s."""
    args.step_s, args.warm_s, args.factor, args.max_steps, args.budget_s = 1.0, 0.3, 2.0, 1, 8.0
