"""How an engine is started (``EngineOptions``) and the deadlines of the calls the driver makes to its actors."""

from __future__ import annotations

from dataclasses import dataclass, field

from protocols.endpoint import MqttEndpoint

CALL_TIMEOUT_S = 60.0
START_TIMEOUT_S = 120.0
LONG_POLL_S = 1.0
"""How long a host holds the console gateway's change poll when nothing changes."""
GATHER_S = 0.002
"""Once one host's poll has answered, how long to wait for the others that are answering too."""
OBSERVER_TIMEOUT_S = 2.0
"""How long an observer (changes, figures) waits for one host: a hung host must not freeze every console."""
HOST_RETRY_S = 0.5
"""A host that did not answer an observer (changes, figures) is asked again this much later, not at every poll."""
LOOKUP_TIMEOUT_S = 5.0
"""How long the driver waits for the hosts' answers when it looks up the owner of an incident it has not seen."""
OWNERS_CACHED = 100_000
"""Incident → host entries the driver remembers (least recently used dropped first); a miss asks every host."""


@dataclass(frozen=True, slots=True)
class EngineOptions:
    precinct_hosts: int | None = None
    max_devices_per_shard: int = 250_000
    journal_dir: str | None = None
    journal_url: str | None = None
    """A PostgreSQL journal (``postgresql://...``, ``actors/journal_postgres.py``) for every host instead of SQLite files
    in ``journal_dir`` (which then holds only the bridges' state)."""
    realtime: bool = True
    ray_address: str | None = None
    heartbeat_interval_s: float = 30.0
    heartbeat_misses: int = 3
    host_num_cpus: float = 0.001
    """Ray CPUs reserved per host actor: a sliver, so a 2-core laptop holds any number of hosts, yet enough for Ray to
    heed the placement (an actor that asks for no resource at all lands on a random node, ``SPREAD`` or not)."""
    host_nodes: dict = field(default_factory=dict)
    """Host id → the Ray node id to start it on, a soft preference (a host whose node is lost starts on another);
    the other hosts are spread. Ray heeds a placement only for an actor that asks for some resource: with this, set
    ``host_num_cpus`` above 0 (the default is)."""
    mqtt: MqttEndpoint | None = None
    """Start MQTT bridges on this broker (as the bridge user)."""
    bridges: int = 1
    alarm_process: bool = True
    """Each bridge's alarm lane in a process of its own (the bulk lane's parsing never delays an alarm)."""
    bridge_connect_timeout_s: float = 30.0
    """How long ``start`` waits for the bridges' first connection before it gives up with the broker's reason."""
    bridge: dict = field(default_factory=dict)
    """Overrides of :class:`actors.mqtt_bridge.BridgeOptions` (batch sizes, backoff cap, ...)."""
    namespace: str | None = None
    """The Ray namespace of the engine's named actors; None: a namespace of its own (tests start many engines)."""
    detached: bool = False
    """The actors outlive this driver (``redband run``): a new driver in the namespace attaches to them."""
