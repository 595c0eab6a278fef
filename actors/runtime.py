"""Starts the engine on Ray — locally or on ``--ray-address`` — and talks to its hosts.

The ``Engine`` is the driver's handle on a running engine: it starts (or attaches to) the host actors, routes
device messages to the hosts that own the devices (one call per host per batch) and operator commands to the host
that owns the incident, and in virtual mode moves every host's clock and carries batches between hosts. Its parts:
``bridge_fleet.py`` (the MQTT bridge processes), ``host_watch.py`` (changes and figures for observers, host
outages), ``engine_status.py`` (``redband status``), ``ray_setup.py`` (Ray itself), ``engine_options.py``.

Every actor of an engine is named in the engine's namespace (``host:<id>``, ``bridge:<id>:<lanes>``, and the
``directory``) and restarted by Ray whenever its process dies (``max_restarts=-1``). With ``detached`` (what
``redband run`` uses) the actors outlive the driver: a driver that dies leaves the engine running, and the next
``redband run`` in the same namespace attaches to it instead of starting a second one. Hosts are spread over the
cluster's nodes (``SPREAD``); a host whose node is lost is started again on another.

Results cross Ray typed: a command returns the ``IncidentRecord`` or raises the engine's own error
(``InvalidTransition``, ``NotAuthorized``, ``UnknownIncident``, ``JournalUnavailable``), unwrapped from Ray's
``RayTaskError`` so that the caller catches the type it knows.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from actors.bridge_fleet import BridgeFleet
from actors.directory import DIRECTORY_NAME, Directory
from actors.engine_deliveries import deliver_by_host
from actors.engine_options import CALL_TIMEOUT_S, LOOKUP_TIMEOUT_S, OWNERS_CACHED, START_TIMEOUT_S, EngineOptions
from actors.engine_status import engine_status
from actors.host_actor import HostActor, host_actor_name
from actors.host_watch import HostWatch
from actors.journal_open import journal_of, start_from
from actors.ray_setup import default_precinct_hosts, ensure_ray, shutdown_ray, stop_all
from actors.routing import merge_results, split_by_host
from engine.audit import AuditFilter, AuditPage, merge_pages
from engine.errors import HostUnavailable, RedbandError, UnknownDevice, UnknownIncident
from engine.host import Change, HostConfig
from engine.journal import AuditRow
from engine.owners import OwnerIndex
from engine.placement import CC_HOST, Placement
from engine.policy import PolicySet
from engine.topology import City
from protocols.batch import Ingest, IngestResult, decode_result, encode_ingest
from protocols.endpoint import MqttEndpoint
from protocols.records import DeliveryNote, IncidentRecord, OperatorCommand
from protocols.replies import Notice

__all__ = ["Engine", "EngineOptions", "default_precinct_hosts", "engine_status", "ensure_ray", "shutdown_ray"]

log = logging.getLogger(__name__)


def typed(call):
    """``ray.get`` that raises the engine's own error (its type, message and fields) instead of Ray's wrapper."""
    try:
        return ray.get(call, timeout=CALL_TIMEOUT_S)
    except ray.exceptions.RayTaskError as exc:
        if isinstance(exc.cause, RedbandError):
            raise exc.cause from None
        raise


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
        self.fleet = BridgeFleet(namespace=self.namespace, lifetime=self._lifetime, state_dir=options.journal_dir)
        self.watch = HostWatch(lambda: self.hosts, tuple(self.placement.hosts))
        self.owners = OwnerIndex(OWNERS_CACHED)
        self.directory = None
        self.attached = False
        """True when ``start`` found this engine already running in the namespace (a restarted driver)."""
        self._placement_ref = None
        self._start_from: str | None = None
        """With a journal directory, the file the actors start (and restart) from (``actors/engine_files.py``)."""
        self._started_ray = False
        self._journal = journal_of(options.journal_dir, options.journal_url)
        """What the hosts open (``actors/journal_open.py``): the PostgreSQL URL, else the journal directory."""

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
        # after the check: a refused run must not change what running actors restart from
        self._start_from = start_from(self._journal, self.attached, self.city, self.policies, self.placement)
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
                 self._journal, self.options.realtime, start_s, self.namespace)

    def restart_host(self, host_id: str, *, start_s: float = 0.0) -> None:
        """Kill one host actor's process as a crash would (fault injection); Ray starts it again and it rebuilds
        itself from its journal (which must outlive it: ``journal_dir`` or ``journal_url``). Returns once it answers
        again."""
        if not self._journal:
            raise RuntimeError("restarting a host needs a journal (EngineOptions.journal_dir or journal_url)")
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
            if where.restarted:
                break
            time.sleep(0.05)  # the old process still answered: the kill has not landed yet
        if not self.options.realtime:
            ray.get(handle.set_clock.remote(start_s), timeout=CALL_TIMEOUT_S)

    def stop(self) -> None:
        """Stop the bridges, then every host (their journals close cleanly), then the directory. Whatever is dead
        already is skipped: stopping never fails on a dead actor."""
        self.fleet.stop()
        hosts, self.hosts = dict(self.hosts), {}
        # the precincts first: a precinct host stopping still sends its last batch to the command center's
        stop_all([h for host_id, h in hosts.items() if host_id != CC_HOST], "host")
        stop_all([h for host_id, h in hosts.items() if host_id == CC_HOST], "host")
        if self.directory is not None:
            stop_all([self.directory], "directory", method=None)
            self.directory = None

    def kill(self) -> None:
        """Stop every host abruptly, as a crash would: nothing but the journal survives."""
        for handle in [*self.fleet.handles, *self.hosts.values(), *([self.directory] if self.directory else [])]:
            ray.kill(handle, no_restart=True)
        self.fleet.handles, self.hosts, self.directory = [], {}, None

    def __enter__(self) -> "Engine":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- bridges -----------------------------------------------------------------------------------

    @property
    def bridges(self) -> list:
        return self.fleet.handles

    def start_bridges(self, endpoint: MqttEndpoint, *, count: int = 1, first_index: int = 0,
                      alarm_process: bool = True, **overrides) -> list:
        """Start ``count`` bridges on the shared subscription (``BridgeFleet.start``); waits until they connect."""
        if self._placement_ref is None:  # (without a journal directory) a restarted bridge's arguments are here
            self._placement_ref = self._start_from or ray.put(self.placement)
        return self.fleet.start(endpoint, self._placement_ref, count=count, first_index=first_index,
                                alarm_process=alarm_process, wait_connected_s=self.options.bridge_connect_timeout_s,
                                **overrides)

    def stop_bridges(self) -> None:
        self.fleet.stop()

    def bridge_statistics(self) -> list[dict]:
        return self.fleet.statistics()

    def lane_statistics(self, lane: str) -> dict:
        return self.fleet.lane_statistics(lane)

    def post_notice(self, site_id: str, notice: Notice) -> None:
        self.fleet.post_notice(site_id, notice)

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

    def command_device(self, device_id: str, cmd: str, args: dict | None = None, *, actor: str = "operator",
                       role: str = "", scope: str = "", reason: str = "") -> None:
        """A command for one device (``open_door``...), audited by the device's host (actor, role, scope, reason) and
        carried by the bridge to ``rb/v1/dev/{id}/cmd`` in the device's encoding; unknown: :class:`UnknownDevice`."""
        host = self.placement.host_for_device(device_id)
        if host is None:
            raise UnknownDevice(device_id)
        typed(self.hosts[host].command_device.remote(device_id, cmd, dict(args or {}), actor, role, scope, reason))

    # -- incidents ---------------------------------------------------------------------------------

    def owner_of(self, incident_id: str) -> str | None:
        """The host that owns the incident: remembered from the records this driver has seen, else asked of every
        host (each answers only for the incidents it owns). None: no host holds it."""
        host = self.owners.owner(incident_id)
        if host is not None:
            return host
        asked = {self.hosts[h].incident.remote(incident_id): h for h in self.hosts}
        pending, silent = list(asked), []
        deadline = time.monotonic() + LOOKUP_TIMEOUT_S
        while pending:  # the first host that owns it answers the question; the others are not waited for
            ready, pending = ray.wait(pending, num_returns=1, timeout=max(0.0, deadline - time.monotonic()))
            if not ready:
                break
            try:
                record = ray.get(ready[0], timeout=CALL_TIMEOUT_S)
            except Exception:  # noqa: BLE001 - restarting or lost: it might be the owner
                silent.append(asked[ready[0]])
                continue
            if record is not None and record.host_id == asked[ready[0]]:
                self.owners.learn(record)
                return record.host_id
        silent += [asked[ref] for ref in pending]
        if silent:
            raise HostUnavailable(tuple(sorted(silent)), f"incident {incident_id!r}")
        return None

    def command(self, command: OperatorCommand) -> IncidentRecord:
        """The incident after an operator's command. A refusal raises the engine's error (``InvalidTransition``,
        ``NotAuthorized``, ``UnknownIncident``, ``JournalUnavailable``) with its message; the host audits both."""
        host = self.owner_of(command.incident_id)
        if host is None:
            raise UnknownIncident(command.incident_id)
        record = typed(self.hosts[host].command.remote(command))
        self.owners.learn(record)
        return record

    def deliveries(self, notes: list[DeliveryNote]) -> list:
        """Journal what the console gateway saw of notifications (delivered, seen, not delivered), one call per owner
        host; per line the incident after it, None (nothing new), or why not (``engine_deliveries``). Not delivered
        may escalate at once (the kind's policy)."""
        return deliver_by_host(notes, self.owner_of, self.hosts, typed)

    def incident(self, incident_id: str) -> IncidentRecord | None:
        host = self.owner_of(incident_id)
        return ray.get(self.hosts[host].incident.remote(incident_id), timeout=CALL_TIMEOUT_S) if host else None

    def open_incidents(self) -> list[IncidentRecord]:
        lists = ray.get([self.hosts[h].open_incidents.remote() for h in self.placement.precinct_hosts],
                        timeout=CALL_TIMEOUT_S)
        records = [r for records in lists for r in records]
        for record in records:
            self.owners.learn(record)
        return records

    def command_center_queue(self) -> list[IncidentRecord]:
        return ray.get(self.hosts[CC_HOST].queue_of.remote(self.city.command_center.id), timeout=CALL_TIMEOUT_S)

    def audit(self, rows: list[AuditRow]) -> None:
        """Rows from outside the hosts (console logins, refusals) go to the command center's journal."""
        ray.get(self.hosts[CC_HOST].record_audit.remote(rows), timeout=CALL_TIMEOUT_S)

    def audit_rows(self, limit: int = 200, **filters) -> list[AuditRow]:
        """The newest ``limit`` audit rows of every host that match ``filters`` (as ``audit_page``'s), newest first."""
        return self.audit_page(limit, **filters).rows

    def audit_page(self, limit: int = 50, **query) -> AuditPage:
        """A page of every host's audit trail, newest first (``engine/audit.py``); ``query``: ``AuditFilter``'s
        ``before`` (the last id of the previous page), actor, action, outcome, since_s, until_s."""
        query = AuditFilter(limit, **query)
        pages = ray.get([h.audit_rows.remote(query) for h in self.hosts.values()], timeout=CALL_TIMEOUT_S)
        return merge_pages(pages, limit)

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
        """Incident changes since the last call, from the hosts that own them (``HostWatch.take_changes``)."""
        return self._learned(self.watch.take_changes())

    def next_changes(self, wait_s: float) -> list[Change]:
        """Changes as soon as a host has some, or none after ``wait_s`` (``HostWatch.next_changes``)."""
        return self._learned(self.watch.next_changes(wait_s))

    def _learned(self, changes: list[Change]) -> list[Change]:
        for change in changes:
            self.owners.learn(change.record)
        return changes

    def statistics(self) -> list:
        """Every host's counters; a host that does not answer is left out (and logged once per outage)."""
        return self.watch.statistics()

    def take_device_commands(self) -> list:
        lists = ray.get([h.take_device_commands.remote() for h in self.hosts.values()], timeout=CALL_TIMEOUT_S)
        return [c for commands in lists for c in commands]

    def deadline_lateness_s(self) -> list[float]:
        """How late each recent escalation deadline fired, over every host (real time only)."""
        lists = ray.get([h.deadline_lateness_s.remote() for h in self.hosts.values()], timeout=CALL_TIMEOUT_S)
        return [x for lateness in lists for x in lateness]

    def status(self, timeout_s: float = 5.0) -> dict:
        """What ``redband status`` shows (``engine_status``)."""
        return engine_status(self.namespace, timeout_s=timeout_s)
