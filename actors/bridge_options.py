"""The bridge's options and its two seams: the sink it hands devices' messages to, and the dead-letter row.

Plain data and a ``Protocol``: no I/O. ``actors/bridge_sink.py`` is the sink the engine uses (Ray); tests pass their
own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from protocols.batch import Ingest, IngestResult, StateChange
from protocols.endpoint import MqttEndpoint


class Sink(Protocol):
    """Where the bridge sends what devices said, and where it finds what to say to them."""

    async def ingest(self, items: list[Ingest]) -> IngestResult: ...

    async def states(self, states: list[StateChange]) -> None: ...

    async def take_device_commands(self, wait_s: float = 0.0) -> list:
        """Pending device commands; with ``wait_s``, wait up to that long for the first."""
        ...

    async def dead_letter(self, row: "DeadLetter") -> None:
        """Journal a dead-lettered message where the command center sees it."""
        ...

    async def confirm_device_commands(self, commands: list) -> None:
        """These commands were published (their hosts stop holding them for redelivery)."""
        ...


@dataclass(frozen=True, slots=True)
class DeadLetter:
    at_s: float
    bridge_id: str
    lane: str
    topic: str
    device_id: str
    reason: str
    payload_head: str
    """The first bytes of the payload, hex, for whoever investigates."""


@dataclass(frozen=True, slots=True)
class BridgeOptions:
    endpoint: MqttEndpoint
    bridge_id: str = "b0"
    share_group: str | None = None
    """None: the group derived from the bridge's password (what ``redband mqtt-config`` grants it); "": no shared
    subscription at all (one bridge on a broker of its own)."""
    batch_max: int = 2000
    batch_window_s: float = 0.01
    """Bulk lane: a small batch waits this long for company. At 30,000 events/s, 10 ms against 2 ms made the batches
    ~4 times larger and cost the bridge 15 µs of CPU per event instead of 21 (``docs/benchmarks.md``)."""
    alarm_batch_max: int = 256
    alarm_batch_window_s: float = 0.0
    """An alarm batch takes what is already queued and goes: no waiting for company."""
    max_in_flight_batches: int = 1
    """Bulk lane: one batch in flight, so batches grow with the load instead of Ray calls multiplying
    (measured: 9,800 events/s at 1 against 9,200 at 4, with less CPU; docs/benchmarks.md)."""
    alarm_in_flight_batches: int = 4
    bulk_receive: str = "wire"
    """The bulk lane's receive path: "wire", the bridge's own (``actors/bridge_wire.py``, a few µs of CPU per
    message), or "aiomqtt" (about 35 µs). ``docs/benchmarks.md`` has both."""
    alarm_receive: str = "wire"
    """The alarm lane's receive path, as ``bulk_receive``. On aiomqtt the alarm lane's process spent most of an alarm
    storm (5,000 doors forced in 1 s, ``simulation/scenarios/alarm_storm.toml``) in paho's per-message objects and
    its publishes' futures, and took about 1,500 alarms/s; QoS 1 is read and PUBACKed the same way on both."""
    max_queued_messages: int = 50_000
    session_expiry_s: int = 3600
    keepalive_s: int = 30
    connect_timeout_s: float = 10.0
    backoff_cap_s: float = 2.0
    """The bridge is a few connections to the engine's own broker, not a fleet of devices: no herd to spread,
    and every second it stays away after the broker is back is a second of alarms not raised. At 30 s, a 5 s
    broker outage kept the bulk lane away 4.6 s after the broker returned (``broker_restart.toml``)."""
    command_poll_s: float = 0.05
    """How often to look again for the commands' connection (the alarm lane's, else the bulk's) while it is down
    (commands wait with their hosts)."""
    command_wait_s: float = 0.5
    """How long one device-command long poll waits for the first command before looking at the connection."""
    poll_commands: bool = True
    ack_qos: int = 1
    lanes: tuple[str, ...] = ("alarm", "evt")
    """Which lanes this bridge process runs: the engine gives the alarm lane a process of its own, so an
    alarm never waits for the bulk lane's parsing (one event loop, one GIL)."""
    state_dir: str | None = None
    """Where each lane keeps its dead-letter ledger (the engine gives its journal directory); None: this node's
    temporary directory."""
    probe_interval_s: float = 2.0
    """How often the alarm lane probes its share group (0: never)."""
    probe_timeout_s: float = 5.0
    """A probe not answered in this time was taken by a foreign member of the group."""
    fault_marker: bytes = b""
    """Fault injection (tests, drills): a message whose payload holds these bytes raises inside the lane, as a bug
    would. Empty: off."""
    retry_max: int = 10_000
    """Alarms and reports a lane keeps for another try when their host did not take them; beyond, dropped (counted,
    the device's own retry is left)."""
    retry_first_s: float = 0.2
    retry_cap_s: float = 5.0
    bulk_nice: int = 10
    """The bulk lane's thread runs this much nicer (a bulk-only process): when the cores are short, the alarm lane,
    the hosts and the broker get them first and the telemetry waits (in the broker's queue, then shed as QoS 0)."""
    reap_bridge_ids: tuple[str, ...] = ()
    """Bridge ids of an earlier, larger run whose persistent sessions must go before this one starts:
    Mosquitto hands a shared subscription's messages round-robin to offline sessions too, so a bridge that
    will not return would hold a share of the alarms until its session expired."""
    notice_timeout_s: float = 10.0
    """How long ``post_notice`` waits for the broker to have a notice before telling the caller it was not
    published (tests shorten it)."""
