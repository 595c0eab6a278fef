"""Starts the engine on Ray — locally or on ``--ray-address`` — and talks to its hosts.

This module and ``host_actor.py`` hold every ``ray.*`` call. The runtime routes device messages to
the hosts that own the devices (one call per host per batch), routes operator commands to the host
that owns the incident, and in virtual mode moves every host's clock and carries batches between
hosts.

Every actor of an engine is named in the engine's namespace (``host:<id>``, ``bridge:<id>:<lanes>``, and the
``directory``) and restarted by Ray whenever its process dies (``max_restarts=-1``). With ``detached`` (what
``redband run`` uses) the actors outlive the driver: a driver that dies leaves the engine running, and the next
``redband run`` in the same namespace attaches to it instead of starting a second one. Hosts are spread over the
cluster's nodes (``SPREAD``); a host whose node is lost is started again on another.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from actors.bridge_actor import BridgeActor, bridge_actor_name
from actors.directory import DIRECTORY_NAME, Directory
from actors.engine_files import FILE_NAME as ENGINE_FILE
from actors.engine_files import write_engine_files
from actors.host_actor import HostActor, host_actor_name
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
BRIDGE_NUM_CPUS = 0.001
"""A sliver of a CPU per bridge process: Ray puts an actor that asks for no resource at all on a random node, whatever
its scheduling strategy, and the bridges belong on the driver's node (``start_bridges``)."""
OBSERVER_TIMEOUT_S = 2.0
"""How long an observer (changes, figures) waits for one host: a hung host must not freeze every console."""
HOST_RETRY_S = 0.5
"""A host that did not answer an observer (changes, figures) is asked again this much later, not at every poll."""


@dataclass(frozen=True, slots=True)
class EngineOptions:
    precinct_hosts: int | None = None
    max_devices_per_shard: int = 250_000
    journal_dir: str | None = None
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
    bridge_connect_timeout_s: float = 30.0
    """How long ``start`` waits for the bridges' first connection before it gives up with the broker's reason."""
    """Each bridge's alarm lane in a process of its own (the bulk lane's parsing never delays an alarm)."""
    bridge: dict = field(default_factory=dict)
    """Overrides of :class:`actors.mqtt_bridge.BridgeOptions` (batch sizes, backoff cap, ...)."""
    namespace: str | None = None
    """The Ray namespace of the engine's named actors; None: a namespace of its own (tests start many engines)."""
    detached: bool = False
    """The actors outlive this driver (``redband run``): a new driver in the namespace attaches to them."""


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
        self.namespace = options.namespace or f"redband-{uuid.uuid4().hex[:12]}"
        self.hosts: dict[str, ray.actor.ActorHandle] = {}
        self.bridges: list[ray.actor.ActorHandle] = []
        self.directory = None
        self.attached = False
        """True when ``start`` found this engine already running in the namespace (a restarted driver)."""
        self._placement_ref = None
        self._start_from: str | None = None
        """With a journal directory, the file the actors start (and restart) from (``actors/engine_files.py``)."""
        self._started_ray = False
        self._change_polls: dict[str, ray.ObjectRef] = {}  # next_changes: one outstanding long poll per host
        self._down: dict[str, float] = {}  # host → when it stopped answering (logged once per outage)
        self._retry_at: dict[str, float] = {}  # host → when to ask it again (monotonic)

    # -- life --------------------------------------------------------------------------------------

    def start(self, *, start_s: float = 0.0) -> "Engine":
        self._started_ray = ensure_ray(self.options.ray_address)
        self.directory = Directory.options(name=DIRECTORY_NAME, namespace=self.namespace, get_if_exists=True,
                                           lifetime=self._lifetime).remote()
        wanted = {"city": self.city.id, "hosts": list(self.placement.hosts), "journal_dir": self.options.journal_dir,
                  "started_at": time.time()}
        running = ray.get(self.directory.describe.remote(wanted), timeout=START_TIMEOUT_S)
        if running["started_at"] != wanted["started_at"]:
            if (running["city"], running["hosts"]) != (wanted["city"], wanted["hosts"]):
                raise RuntimeError(f"namespace {self.namespace!r} already runs an engine for city {running['city']!r} "
                                   f"with hosts {running['hosts']}; stop it, or use another namespace")
            self.attached = True
            log.warning("attaching to the engine already running in namespace %r (started %s)", self.namespace,
                        time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(running["started_at"])))
        if self.options.journal_dir:  # after the check: a refused run must not change what running actors restart from
            path = Path(self.options.journal_dir) / ENGINE_FILE
            self._start_from = str(path) if self.attached and path.exists() else write_engine_files(
                self.options.journal_dir, self.city, self.policies, self.placement)
        for host_id in self.placement.hosts:
            self.hosts[host_id] = self._host_actor(host_id, start_s)
        ray.get([h.connect.remote() for h in self.hosts.values()], timeout=START_TIMEOUT_S)
        if self.options.mqtt is not None:
            self.start_bridges(self.options.mqtt, count=self.options.bridges, alarm_process=self.options.alarm_process,
                               **self.options.bridge)
        return self

    @property
    def _lifetime(self) -> str | None:
        return "detached" if self.options.detached else None

    def _host_actor(self, host_id: str, start_s: float = 0.0):
        """The host's named actor, started unless it runs already (an engine being attached to)."""
        config = HostConfig(host_id, heartbeat_interval_s=self.options.heartbeat_interval_s,
                            heartbeat_misses=self.options.heartbeat_misses, exact_deadlines=not self.options.realtime)
        node = self.options.host_nodes.get(host_id)
        return HostActor.options(
            name=host_actor_name(host_id), namespace=self.namespace, get_if_exists=True, lifetime=self._lifetime,
            num_cpus=self.options.host_num_cpus, max_concurrency=1000, max_restarts=-1,
            scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=True) if node else "SPREAD",
        ).remote(config, self._start_from or self.placement.city_for_host(self.city, host_id), self.policies,
                 self.options.journal_dir,
                 self.options.realtime, start_s, self.namespace)

    def restart_host(self, host_id: str, *, start_s: float = 0.0) -> None:
        """Kill one host actor's process as a crash would (fault injection); Ray starts it again and it rebuilds
        itself from its journal (which must be on disk, ``journal_dir``). Returns once it answers again."""
        if not self.options.journal_dir:
            raise RuntimeError("restarting a host needs a journal on disk (EngineOptions.journal_dir)")
        handle = self.hosts[host_id]
        ray.kill(handle, no_restart=False)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                where = ray.get(handle.connect.remote(), timeout=CALL_TIMEOUT_S)
            except (ray.exceptions.ActorUnavailableError, ray.exceptions.ActorDiedError, ray.exceptions.GetTimeoutError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)  # the restart is under way; asking again
                continue
            if where["restarted"]:
                break
            time.sleep(0.05)  # the old process still answered: the kill has not landed yet
        if not self.options.realtime:
            ray.get(handle.set_clock.remote(start_s), timeout=CALL_TIMEOUT_S)

    def start_bridges(self, endpoint: MqttEndpoint, *, count: int = 1, first_index: int = 0,
                      alarm_process: bool = True, **overrides) -> list:
        """Start ``count`` bridges on the shared subscription, each its bulk lane in one process and (with
        ``alarm_process``) its alarm lane in another; bridge ``b0`` also carries device commands and notices.
        Waits until every lane is connected."""
        lane_sets = [("evt",), ("alarm",)] if alarm_process else [("alarm", "evt")]
        # a fresh start ends the sessions of bridge ids beyond this run's (an earlier run had more bridges)
        reap = tuple(f"b{i}" for i in range(count, count + MAX_REAPED_BRIDGES)) if first_index == 0 else ()
        started = []
        if self._placement_ref is None:  # (without a journal directory) a restarted bridge's arguments are here
            self._placement_ref = self._start_from or ray.put(self.placement)
        # on the driver's node, softly (a bridge whose node is lost starts on another): a bridge on a lost node would
        # hold every precinct's alarms in its broker session until Ray declares the node dead and starts it again
        near_driver = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=True)
        for index in range(first_index, first_index + count):
            for lanes in lane_sets:
                overrides.setdefault("state_dir", self.options.journal_dir)
                options = BridgeOptions(endpoint, bridge_id=f"b{index}", poll_commands=index == 0, lanes=lanes,
                                        reap_bridge_ids=reap if index == 0 and "evt" in lanes else (), **overrides)
                # a bridge process that dies comes back and resumes its session (its queued alarms with it)
                started.append(BridgeActor.options(
                    name=bridge_actor_name(options.bridge_id, lanes), namespace=self.namespace, get_if_exists=True,
                    lifetime=self._lifetime, num_cpus=BRIDGE_NUM_CPUS, max_restarts=BRIDGE_RESTARTS, max_concurrency=8,
                    scheduling_strategy=near_driver,
                ).remote(options, self._placement_ref, self.namespace))
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
        _stop_all(bridges, "bridge")

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
        """A notice for a site's door screens, retained on its notice topic (needs a bridge). Returns once the broker
        has it; raises if it could not be queued (full) or published in time (the bridge died, the broker is away):
        the caller knows it was not delivered and may post it again."""
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
        """Stop the bridges, then every host (their journals close cleanly), then the directory. Whatever is dead
        already is skipped: stopping never fails on a dead actor."""
        if self.bridges:
            self.stop_bridges()
        hosts, self.hosts = list(self.hosts.values()), {}
        _stop_all(hosts, "host")
        if self.directory is not None:
            _stop_all([self.directory], "directory", method=None)
            self.directory = None

    def kill(self) -> None:
        """Stop every host abruptly, as a crash would: nothing but the journal survives."""
        for handle in [*self.bridges, *self.hosts.values(), *([self.directory] if self.directory else [])]:
            ray.kill(handle, no_restart=True)
        self.bridges, self.hosts, self.directory = [], {}, None

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
        """Incident changes since the last call, from the hosts that own them, in each host's order. A host that does
        not answer (restarting, its node lost) is left out until it does, and logged once per outage."""
        return self._collect_changes({h: self.hosts[h].take_changes.remote() for h in self._answering_hosts()})

    def _answering_hosts(self) -> list[str]:
        now = time.monotonic()
        return [h for h in self.placement.hosts if self._retry_at.get(h, 0.0) <= now]

    def _host_failed(self, host_id: str, exc: Exception) -> None:
        """Once per outage in the log; the host is asked again after ``HOST_RETRY_S``, not at every poll."""
        self._retry_at[host_id] = time.monotonic() + HOST_RETRY_S
        if host_id not in self._down:
            self._down[host_id] = time.time()
            log.warning("host %s is not answering (%s); Ray is restarting it, its precinct waits",
                        host_id, str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__)

    def _host_answered(self, host_id: str) -> None:
        self._retry_at.pop(host_id, None)
        since = self._down.pop(host_id, None)
        if since is not None:
            log.warning("host %s is answering again after %.1f s", host_id, time.time() - since)

    def next_changes(self, wait_s: float) -> list[Change]:
        """Changes as soon as a host has some, or none after ``wait_s``. For one consumer (the console gateway).

        A quiet host holds a long poll (``HostActor.wait_changes``) that returns the moment it makes a change;
        a busy one (it had changes last time) is simply asked for them, all busy hosts in one round trip, as
        the gateway takes a burst in ticks."""
        answering = self._answering_hosts()
        takes = {h: self.hosts[h].take_changes.remote() for h in answering if h not in self._change_polls}
        changes = self._collect_changes(takes)
        polls = list(self._change_polls.values())
        ready, _ = ray.wait(polls, num_returns=len(polls), timeout=0) if polls else ([], [])
        changes += self._collect_polls(set(ready))
        if changes:
            return changes
        for host_id in self._answering_hosts():  # nothing anywhere: every host holds a long poll
            if host_id not in self._change_polls:
                self._change_polls[host_id] = self.hosts[host_id].wait_changes.remote(LONG_POLL_S)
        polls = list(self._change_polls.values())
        if not polls:  # every host is down: wait here, not in a tight loop
            time.sleep(min(wait_s, HOST_RETRY_S))
            return []
        ready, _ = ray.wait(polls, num_returns=1, timeout=wait_s)
        if ready and len(polls) > 1:  # and whatever else is ready by now
            ready, _ = ray.wait(polls, num_returns=len(polls), timeout=GATHER_S)
        return self._collect_polls(set(ready))

    def _collect_changes(self, refs: dict[str, ray.ObjectRef]) -> list[Change]:
        changes = []
        for host_id, ref in refs.items():
            try:
                payload = ray.get(ref, timeout=OBSERVER_TIMEOUT_S)
            except Exception as exc:  # a host that died, hangs or is restarting: asked again a little later
                self._host_failed(host_id, exc)
                continue
            self._host_answered(host_id)
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
        """Every host's counters; a host that does not answer is left out (and logged once per outage)."""
        refs = {h: self.hosts[h].statistics.remote() for h in self._answering_hosts()}
        out = []
        for host_id, ref in refs.items():
            try:
                out.append(ray.get(ref, timeout=OBSERVER_TIMEOUT_S))
            except Exception as exc:  # noqa: BLE001 - restarting or lost
                self._host_failed(host_id, exc)
                continue
            self._host_answered(host_id)
        return out

    def status(self, timeout_s: float = 5.0) -> dict:
        """What ``redband status`` shows: every host (node, pid, starts, journal, devices, open incidents) and every
        bridge process (its lanes), each answering within ``timeout_s`` or shown as not answering."""
        return engine_status(self.namespace, timeout_s=timeout_s)


def engine_status(namespace: str, *, timeout_s: float = 5.0) -> dict:
    """The state of the engine running in ``namespace``, found through its directory and actor names."""
    try:
        directory = ray.get_actor(DIRECTORY_NAME, namespace=namespace)
    except ValueError:
        raise LookupError(f"no redband engine runs in namespace {namespace!r}") from None
    engine = ray.get(directory.engine.remote(), timeout=timeout_s)
    starts = ray.get(directory.starts.remote(), timeout=timeout_s)
    if engine is None:
        raise LookupError(f"no redband engine runs in namespace {namespace!r}")
    hosts = []
    for host_id in engine["hosts"]:
        name = host_actor_name(host_id)
        row = {"host_id": host_id, "starts": len(starts.get(name, []))}
        try:
            handle = ray.get_actor(name, namespace=namespace)
            where, stats = ray.get([handle.where.remote(), handle.statistics.remote()], timeout=timeout_s)
            row.update(where, devices=stats.devices, devices_active=stats.devices_active,
                       incidents_open=stats.incidents_open, deadlines=stats.deadlines, accepted=stats.accepted,
                       journal_failures=stats.journal_failures, answering=True)
        except Exception as exc:  # noqa: BLE001 - a host restarting or lost: shown as such
            row.update(answering=False, error=str(exc).splitlines()[0][:160])
        hosts.append(row)
    bridges = []
    for name in sorted(n for n in starts if n.startswith("bridge:")):
        row = {"name": name, "starts": len(starts[name]), "node_id": starts[name][-1].get("node_id", "")}
        try:
            stats = ray.get(ray.get_actor(name, namespace=namespace).statistics.remote(), timeout=timeout_s)
            row.update(answering=True, pid=stats.get("pid"), lanes={
                lane: {k: v for k, v in s.items() if k in ("connected", "received", "accepted", "refused",
                                                           "dropped", "retrying", "probes_lost", "dead_lettered")}
                for lane, s in stats.get("lanes", {}).items()})
        except Exception as exc:  # noqa: BLE001
            row.update(answering=False, error=str(exc).splitlines()[0][:160])
        bridges.append(row)
    return {"namespace": namespace, "engine": engine, "hosts": hosts, "bridges": bridges}


def _stop_all(handles: list, what: str, *, method: str | None = "stop") -> None:
    """Ask each actor to stop (each on its own: one dead actor does not keep the others running), then end it."""
    refs = []
    for handle in handles:
        try:
            refs.append(getattr(handle, method).remote() if method else None)
        except Exception:  # noqa: BLE001 - an actor handle that cannot even be called
            refs.append(None)
    for handle, ref in zip(handles, refs):
        if ref is not None:
            try:
                ray.get(ref, timeout=CALL_TIMEOUT_S)
            except Exception as exc:  # noqa: BLE001 - dead or hung: it is killed below all the same
                log.warning("%s did not stop cleanly: %s", what, str(exc).splitlines()[0][:200])
        try:
            ray.kill(handle, no_restart=True)
        except Exception:  # noqa: BLE001 - gone already
            pass
