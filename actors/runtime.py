"""Starts the engine on Ray — locally or on ``--ray-address`` — and talks to its hosts.

This module and ``host_actor.py`` hold every ``ray.*`` call. The runtime routes device messages to
the hosts that own the devices (one call per host per batch), routes operator commands to the host
that owns the incident, and in virtual mode moves every host's clock and carries batches between
hosts.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import ray

from actors.bridge_actor import BridgeActor
from actors.host_actor import HostActor
from actors.mqtt_bridge import BridgeOptions
from actors.routing import merge_results, split_by_host
from engine.errors import UnknownDevice
from engine.host import Change, HostConfig
from engine.journal import AuditRow
from engine.placement import CC_HOST, Placement
from engine.policy import PolicySet
from engine.topology import City
from protocols.batch import (
    Ingest,
    IngestResult,
    decode_changes,
    decode_result,
    encode_ingest,
)
from protocols.endpoint import MqttEndpoint
from protocols.records import IncidentRecord, OperatorCommand
from protocols.replies import Notice

log = logging.getLogger(__name__)

CALL_TIMEOUT_S = 60.0
LONG_POLL_S = 1.0
"""How long a host holds the console gateway's change poll when nothing changes."""
GATHER_S = 0.002
"""Once one host's poll has answered, how long to wait for the others that are answering too."""
MAX_REAPED_BRIDGES = 8
BRIDGE_RESTARTS = -1
"""A bridge whose lane dies exits and is started again, as often as it takes: a message that kills lanes is
dead-lettered the second time (``actors/dead_letters.py``), so no payload can make this a loop."""
START_TIMEOUT_S = 120.0


@dataclass(frozen=True, slots=True)
class EngineOptions:
    precinct_hosts: int | None = None
    max_devices_per_shard: int = 250_000
    journal_dir: str | None = None
    realtime: bool = True
    ray_address: str | None = None
    heartbeat_interval_s: float = 30.0
    heartbeat_misses: int = 3
    host_num_cpus: float = 0.0
    """Ray CPUs reserved per host actor: 0 lets a 2-core laptop hold any number of hosts."""
    mqtt: MqttEndpoint | None = None
    """Start MQTT bridges on this broker (as the bridge user)."""
    bridges: int = 1
    alarm_process: bool = True
    bridge_connect_timeout_s: float = 30.0
    """How long ``start`` waits for the bridges' first connection before it gives up with the broker's reason."""
    """Each bridge's alarm lane in a process of its own (the bulk lane's parsing never delays an alarm)."""
    bridge: dict = field(default_factory=dict)
    """Overrides of :class:`actors.mqtt_bridge.BridgeOptions` (batch sizes, backoff cap, ...)."""


def ensure_ray(address: str | None = None) -> bool:
    """Start (or join) Ray once per process; returns True if this call started it."""
    if ray.is_initialized():
        return False
    kwargs: dict = dict(include_dashboard=False, logging_level=logging.WARNING, log_to_driver=True,
                        configure_logging=True)
    if address:
        ray.init(address=address, **kwargs)
    else:
        # runtime_env would ship the working dir; our packages are installed in the venv instead
        os.environ.setdefault("RAY_DEDUP_LOGS", "1")
        ray.init(num_cpus=max(2, os.cpu_count() or 2), **kwargs)
    return True


def shutdown_ray() -> None:
    if ray.is_initialized():
        ray.shutdown()


def default_precinct_hosts(city: City, *, cores: int | None = None) -> int:
    """For a program that runs the engine on this machine: one precinct host per CPU core, at most one per
    precinct shard. More host processes than cores only add Ray calls: on 2 cores, the demo city's 6 precinct
    hosts took 7,800 telemetry events/s where 2 took all 10,000 (``docs/benchmarks.md``)."""
    shards = len(Placement.plan(city).precinct_hosts)
    return max(1, min(shards, cores or os.cpu_count() or 1))


def _changes_of(host_id: str, payload: bytes) -> list[Change]:
    """A host's change buffer, decoded; copies of incidents it does not own (a stale replica) left out."""
    return [Change(record, new_from) for record, new_from in decode_changes(payload) if record.host_id == host_id]


class Engine:
    """A running engine: host actors for the precincts and one for the command center."""

    def __init__(self, city: City, policies: PolicySet, options: EngineOptions = EngineOptions()) -> None:
        self.city = city
        self.policies = policies
        self.options = options
        self.placement = Placement.plan(city, precinct_hosts=options.precinct_hosts,
                                        max_devices_per_shard=options.max_devices_per_shard)
        self.hosts: dict[str, ray.actor.ActorHandle] = {}
        self.bridges: list[ray.actor.ActorHandle] = []
        self._placement_ref = None
        self._started_ray = False
        self._change_polls: dict[str, ray.ObjectRef] = {}  # next_changes: one outstanding long poll per host

    # -- life --------------------------------------------------------------------------------------

    def start(self, *, start_s: float = 0.0) -> "Engine":
        self._started_ray = ensure_ray(self.options.ray_address)
        if self.options.journal_dir:
            Path(self.options.journal_dir).mkdir(parents=True, exist_ok=True)
        for host_id in self.placement.hosts:
            self.hosts[host_id] = self._host_actor(host_id, start_s)
        ray.get([h.connect.remote(self.hosts) for h in self.hosts.values()], timeout=START_TIMEOUT_S)
        if self.options.mqtt is not None:
            self.start_bridges(self.options.mqtt, count=self.options.bridges, alarm_process=self.options.alarm_process,
                               **self.options.bridge)
        return self

    def _host_actor(self, host_id: str, start_s: float = 0.0):
        config = HostConfig(host_id, heartbeat_interval_s=self.options.heartbeat_interval_s,
                            heartbeat_misses=self.options.heartbeat_misses, exact_deadlines=not self.options.realtime)
        return HostActor.options(num_cpus=self.options.host_num_cpus, max_concurrency=1000).remote(
            config, self.placement.city_for_host(self.city, host_id), self.policies, self.options.journal_dir,
            self.options.realtime, start_s,
        )

    def restart_host(self, host_id: str, *, start_s: float = 0.0) -> None:
        """Kill one host actor as a crash would and start it again from its journal (fault injection; the
        journal must be on disk, ``journal_dir``). The other hosts and the bridges are told its new handle."""
        if not self.options.journal_dir:
            raise RuntimeError("restarting a host needs a journal on disk (EngineOptions.journal_dir)")
        ray.kill(self.hosts[host_id], no_restart=True)
        self.hosts[host_id] = self._host_actor(host_id, start_s)
        ray.get([h.connect.remote(self.hosts) for h in self.hosts.values()], timeout=START_TIMEOUT_S)
        if self.bridges:
            ray.get([b.set_hosts.remote(self.hosts) for b in self.bridges], timeout=CALL_TIMEOUT_S)

    def start_bridges(self, endpoint: MqttEndpoint, *, count: int = 1, first_index: int = 0,
                      alarm_process: bool = True, **overrides) -> list:
        """Start ``count`` bridges on the shared subscription, each its bulk lane in one process and (with
        ``alarm_process``) its alarm lane in another; bridge ``b0`` also carries device commands and notices.
        Waits until every lane is connected."""
        lane_sets = [("evt",), ("alarm",)] if alarm_process else [("alarm", "evt")]
        # a fresh start ends the sessions of bridge ids beyond this run's (an earlier run had more bridges)
        reap = tuple(f"b{i}" for i in range(count, count + MAX_REAPED_BRIDGES)) if first_index == 0 else ()
        started = []
        if self._placement_ref is None:  # held here: a restarted bridge gets its arguments from the object store
            self._placement_ref = ray.put(self.placement)
        for index in range(first_index, first_index + count):
            for lanes in lane_sets:
                overrides.setdefault("state_dir", self.options.journal_dir)
                options = BridgeOptions(endpoint, bridge_id=f"b{index}", poll_commands=index == 0, lanes=lanes,
                                        reap_bridge_ids=reap if index == 0 and "evt" in lanes else (), **overrides)
                # a bridge process that dies comes back and resumes its session (its queued alarms with it)
                started.append(BridgeActor.options(num_cpus=0, max_restarts=BRIDGE_RESTARTS).remote(
                    options, self._placement_ref, self.hosts))
        wait_s = self.options.bridge_connect_timeout_s
        ready = ray.get([b.wait_connected.remote(wait_s) for b in started], timeout=wait_s + START_TIMEOUT_S)
        self.bridges += started
        if not all(ready):
            stats = ray.get([b.statistics.remote() for b in started], timeout=CALL_TIMEOUT_S)
            reasons = sorted({lane["last_error"] for s in stats for lane in s["lanes"].values() if lane["last_error"]})
            raise ConnectionError(f"MQTT bridge could not connect to {endpoint!r} in {wait_s:.0f} s: "
                                  + ("; ".join(reasons) or "no answer"))
        return started

    def stop_bridges(self) -> None:
        bridges, self.bridges = self.bridges, []
        try:
            ray.get([b.stop.remote() for b in bridges], timeout=CALL_TIMEOUT_S)
        finally:
            for bridge in bridges:
                ray.kill(bridge)

    def bridge_statistics(self) -> list[dict]:
        """One entry per bridge process: its id, CPU seconds and the counters of the lanes it runs. A bridge that
        is being restarted (its lane died) answers ``{"lanes": {}, "unavailable": reason}``."""
        refs = [b.statistics.remote() for b in self.bridges]
        out = []
        for ref in refs:
            try:
                out.append(ray.get(ref, timeout=CALL_TIMEOUT_S))
            except (ray.exceptions.ActorUnavailableError, ray.exceptions.ActorDiedError) as exc:
                out.append({"lanes": {}, "unavailable": str(exc).splitlines()[0][:200]})
        return out

    def lane_statistics(self, lane: str) -> dict:
        """One lane's counters summed over every bridge process."""
        total: dict = {"processes": 0}
        for stats in self.bridge_statistics():
            total["processes"] += lane in stats["lanes"]
            for name, value in stats["lanes"].get(lane, {}).items():
                if isinstance(value, int) and not isinstance(value, bool):
                    total[name] = total.get(name, 0) + value
        return total

    def post_notice(self, site_id: str, notice: Notice) -> None:
        """A notice for a site's door screens, retained on its notice topic (needs a bridge)."""
        if not self.bridges:
            raise RuntimeError("no MQTT bridge is running")
        ray.get(self.bridges[0].post_notice.remote(site_id, notice), timeout=CALL_TIMEOUT_S)  # b0's bulk lane

    def audit(self, rows: list[AuditRow]) -> None:
        """Rows from outside the hosts (console logins, refusals) go to the command center's journal."""
        ray.get(self.hosts[CC_HOST].record_audit.remote(rows), timeout=CALL_TIMEOUT_S)

    def audit_rows(self, limit: int = 200) -> list[AuditRow]:
        """The newest ``limit`` audit rows of every host, newest first."""
        lists = ray.get([h.audit_rows.remote(limit) for h in self.hosts.values()], timeout=CALL_TIMEOUT_S)
        return sorted((r for rows in lists for r in rows), key=lambda r: r.t_s, reverse=True)[:limit]

    def command_device(self, device_id: str, cmd: str, args: dict | None = None, *, actor: str = "operator") -> None:
        """A command for one device (e.g. ``open_door``), audited by the device's host and carried by the
        bridge to ``rb/v1/dev/{id}/cmd`` in the device's own encoding. An unknown device raises
        :class:`UnknownDevice`."""
        host = self.placement.host_for_device(device_id)
        if host is None:
            raise UnknownDevice(device_id)
        ray.get(self.hosts[host].command_device.remote(device_id, cmd, dict(args or {}), actor),
                timeout=CALL_TIMEOUT_S)

    def stop(self) -> None:
        """Stop the bridges, then every host (their journals close cleanly)."""
        if self.bridges:
            self.stop_bridges()
        if self.hosts:
            try:
                ray.get([h.stop.remote() for h in self.hosts.values()], timeout=CALL_TIMEOUT_S)
            finally:
                for handle in self.hosts.values():
                    ray.kill(handle)
                self.hosts = {}

    def kill(self) -> None:
        """Stop every host abruptly, as a crash would: nothing but the journal survives."""
        for bridge in self.bridges:
            ray.kill(bridge, no_restart=True)
        self.bridges = []
        for handle in self.hosts.values():
            ray.kill(handle, no_restart=True)
        self.hosts = {}

    def __enter__(self) -> "Engine":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- devices -----------------------------------------------------------------------------------

    def ingest(self, items: Iterable[Ingest]) -> IngestResult:
        """Route a batch of device messages to their hosts, one call per host; unknown devices are refused here."""
        by_host, refused = split_by_host(self.placement, items)
        refs = [self.hosts[host].ingest.remote(encode_ingest(batch)) for host, batch in by_host.items()]
        return merge_results((decode_result(p) for p in ray.get(refs, timeout=CALL_TIMEOUT_S)), refused)

    def ingest_encoded(self, batches: dict[str, bytes]) -> list[IngestResult]:
        """Pre-encoded batches per host (benchmarks, the bridge): one call each, all in flight at once."""
        refs = [self.hosts[host].ingest.remote(payload) for host, payload in batches.items()]
        return [decode_result(p) for p in ray.get(refs, timeout=CALL_TIMEOUT_S)]

    # -- operators ---------------------------------------------------------------------------------

    def owner_of(self, incident_id: str) -> str | None:
        return self.placement.host_for_device(incident_id.split("#", 1)[0])

    def command(self, command: OperatorCommand) -> dict:
        host = self.owner_of(command.incident_id)
        if host is None:
            return {"ok": False, "error": f"unknown incident {command.incident_id!r}", "error_type": "UnknownIncident",
                    "record": None}
        return ray.get(self.hosts[host].command.remote(command), timeout=CALL_TIMEOUT_S)

    def incident(self, incident_id: str) -> IncidentRecord | None:
        host = self.owner_of(incident_id)
        return ray.get(self.hosts[host].incident.remote(incident_id), timeout=CALL_TIMEOUT_S) if host else None

    def open_incidents(self) -> list[IncidentRecord]:
        lists = ray.get([self.hosts[h].open_incidents.remote() for h in self.placement.precinct_hosts],
                        timeout=CALL_TIMEOUT_S)
        return [r for records in lists for r in records]

    def command_center_queue(self) -> list[IncidentRecord]:
        return ray.get(self.hosts[CC_HOST].queue_of.remote(self.city.command_center.id), timeout=CALL_TIMEOUT_S)

    # -- time --------------------------------------------------------------------------------------

    def advance_to(self, t_s: float) -> None:
        """Virtual mode: every host's clock to ``t_s``, deadlines fired at their own times, batches carried."""
        outboxes = ray.get([h.advance_to.remote(t_s) for h in self.hosts.values()], timeout=CALL_TIMEOUT_S)
        deliveries = [self.hosts[dest].deliver.remote(payload) for out in outboxes for dest, payload in out.items()]
        ray.get(deliveries, timeout=CALL_TIMEOUT_S)

    def next_deadline_s(self) -> float | None:
        dues = ray.get([h.next_deadline_s.remote() for h in self.hosts.values()], timeout=CALL_TIMEOUT_S)
        dues = [d for d in dues if d is not None]
        return min(dues) if dues else None

    # -- observing ---------------------------------------------------------------------------------

    def take_changes(self) -> list[Change]:
        """Incident changes since the last call, from the hosts that own them, in each host's order."""
        payloads = ray.get([self.hosts[h].take_changes.remote() for h in self.placement.hosts], timeout=CALL_TIMEOUT_S)
        return [c for host, payload in zip(self.placement.hosts, payloads) for c in _changes_of(host, payload)]

    def next_changes(self, wait_s: float) -> list[Change]:
        """Changes as soon as a host has some, or none after ``wait_s``. For one consumer (the console gateway).

        A quiet host holds a long poll (``HostActor.wait_changes``) that returns the moment it makes a change;
        a busy one (it had changes last time) is simply asked for them, all busy hosts in one round trip, as
        the gateway takes a burst in ticks."""
        takes = {h: self.hosts[h].take_changes.remote() for h in self.placement.hosts if h not in self._change_polls}
        changes = self._collect_changes(takes)
        polls = list(self._change_polls.values())
        ready, _ = ray.wait(polls, num_returns=len(polls), timeout=0) if polls else ([], [])
        changes += self._collect_polls(set(ready))
        if changes:
            return changes
        for host_id in self.placement.hosts:  # nothing anywhere: every host holds a long poll
            if host_id not in self._change_polls:
                self._change_polls[host_id] = self.hosts[host_id].wait_changes.remote(LONG_POLL_S)
        polls = list(self._change_polls.values())
        ready, _ = ray.wait(polls, num_returns=1, timeout=wait_s)
        if ready and len(polls) > 1:  # and whatever else is ready by now
            ready, _ = ray.wait(polls, num_returns=len(polls), timeout=GATHER_S)
        return self._collect_polls(set(ready))

    def _collect_changes(self, refs: dict[str, ray.ObjectRef]) -> list[Change]:
        changes = []
        for host_id, ref in refs.items():
            try:
                payload = ray.get(ref, timeout=CALL_TIMEOUT_S)
            except Exception:  # a host that died or restarted: the next call goes to the new handle
                log.warning("host %s: taking its changes failed", host_id)
                continue
            changes += _changes_of(host_id, payload)
        return changes

    def _collect_polls(self, ready: set) -> list[Change]:
        done = {h: ref for h, ref in list(self._change_polls.items()) if ref in ready}
        for host_id in done:
            del self._change_polls[host_id]
        return self._collect_changes(done)

    def take_device_commands(self) -> list:
        lists = ray.get([h.take_device_commands.remote() for h in self.hosts.values()], timeout=CALL_TIMEOUT_S)
        return [c for commands in lists for c in commands]

    def deadline_lateness_s(self) -> list[float]:
        """How late each recent escalation deadline fired, over every host (real time only)."""
        lists = ray.get([h.deadline_lateness_s.remote() for h in self.hosts.values()], timeout=CALL_TIMEOUT_S)
        return [x for lateness in lists for x in lateness]

    def statistics(self) -> list:
        return ray.get([h.statistics.remote() for h in self.hosts.values()], timeout=CALL_TIMEOUT_S)
