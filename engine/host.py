"""A host: the pure core of one Ray host actor. It holds the entities placed on it — devices,
guard rooms, stations, maintenance queues, or the command center — and runs them one message at a
time: a device event, an operator command, a deadline, a batch from another host.

Sans-I/O: time comes in as ``now_s``; what must leave (acks, device commands, batches for other hosts,
changes for observers) is collected for the shell to take. The journal is written once per step,
before any ack leaves, so an acked alarm is durable.

A step whose journal write fails is not kept: the host goes back to what its journal holds (as a restarted host
would), keeps what earlier steps left for the shell to take, and raises :class:`JournalUnavailable`, so no ack
leaves for anything the journal does not have. Memory only ever holds what was written.

:class:`HostCore` is a façade over the parts in :mod:`engine.hosting`, one job each; it owns the step (journal
write, rollback) and the two tables where a kind of entity joins the host: the routes of device events and the
owners of timer kinds (see :meth:`HostCore._assemble`).
"""

from __future__ import annotations

import contextlib
import logging
from collections import deque
from typing import NoReturn

from engine.entities import DeviceEntity, Responder
from engine.errors import JournalUnavailable, RedbandError
from engine.hosting.changes import Change, ChangeStream
from engine.hosting.commands import OperatorCommands
from engine.hosting.config import HostConfig
from engine.hosting.community_domain import CommunityDomain
from engine.hosting.deadlines import Deadlines
from engine.hosting.desk import Desk
from engine.hosting.domain import chain, merge
from engine.hosting.doors import HELD_OPEN
from engine.hosting.incidents import INCIDENT, IncidentStore
from engine.hosting.intake import Intake
from engine.hosting.kiosk_domain import KioskDomain
from engine.hosting.notices import NoticeDomain
from engine.hosting.outboxes import DeviceCommandOut, DeviceCommandOutbox, PeerOutbox
from engine.hosting.patrol_domain import PatrolDomain
from engine.hosting.recovery import rebuild, resume_observed
from engine.hosting.roster import Roster
from engine.hosting.sequence import CLOCK_AHEAD_S, CLOCK_BEHIND_S
from engine.hosting.site_figures import SiteFigures
from engine.hosting.staging import JournalStaging, StepOutput
from engine.hosting.stats import Counters, HostStats, host_stats
from engine.hosting.supervision import SUPERVISION, SeenLog, SeenRows, Supervision
from engine.journal import AuditRow, Journal
from engine.policy import PolicySet
from engine.scheduler import DeadlineScheduler
from engine.topology import City
from protocols.batch import DeviceAck, HostBatch, Ingest, IngestResult, StateChange
from protocols.kinds import AckStatus, IncidentKind
from protocols.records import DeliveryNote, HostMessage, IncidentRecord, OperatorCommand

__all__ = ["CLOCK_AHEAD_S", "CLOCK_BEHIND_S", "HELD_OPEN", "INCIDENT", "SUPERVISION", "Change", "DeviceCommandOut",
           "HostConfig", "HostCore", "HostStats"]
log = logging.getLogger(__name__)


class HostCore:
    def __init__(self, config: HostConfig, *, city: City, policies: PolicySet, journal: Journal,
                 now_s: float) -> None:
        self.config = config
        self.host_id = config.host_id
        self.city = city
        self.policies = policies
        self.journal = journal
        self.is_cc = config.host_id == config.cc_host_id
        self.deadline_lateness_s: deque[float] = deque(maxlen=10_000)
        """How late each escalation deadline fired (real time): the newest 10,000, for the benchmarks."""
        self.broken = False
        """The journal could be neither written nor read back: the shell must end this host (a restart recovers)."""
        # what outlives a failed step: counters, the step being staged, what is queued for the shell
        self._counters = Counters()
        self._staging = JournalStaging()
        self._changes = ChangeStream(max_changes=config.max_changes, counters=self._counters)
        self._peers = PeerOutbox(config.host_id, max_outbox=config.max_outbox)
        self._device_commands = DeviceCommandOutbox(config, counters=self._counters, staging=self._staging,
                                                    city=city, speaks_json=self._speaks_json)
        self._outputs: tuple[StepOutput, ...] = (self._changes, self._device_commands, self._peers)
        self._seen_log = SeenLog(flush_s=config.seen_flush_s, now_s=now_s)
        self._patrol = PatrolDomain(city, staging=self._staging, send=self._device_commands.add, is_cc=self.is_cc)
        community = CommunityDomain(city, staging=self._staging, send=self._device_commands.add)
        notices = NoticeDomain(city, staging=self._staging, send_board=self._device_commands.add_board)
        figures = SiteFigures(city, figures=community.figures, notices=notices.in_force)
        self._domains = (self._patrol, community, figures,
                         KioskDomain(city, staging=self._staging, send=self._device_commands.add,
                                     policies=policies, devices=lambda: self._roster.devices), notices)
        """Groups of parts that join the host as one (``engine/hosting/domain.py``)."""
        self._assemble()
        self._rebuild()

    def _assemble(self) -> None:
        """Make anew everything the journal rebuilds: entities, incidents, indexes, timers, and the parts that
        work on them. A kind of entity joins the host here: a route for the events it owns, and itself as the
        owner of its timer kind."""
        config = self.config
        self.scheduler = scheduler = DeadlineScheduler()
        self._roster = roster = Roster(self.city, is_cc=self.is_cc, alarm_memory=config.alarm_memory)
        self._store = store = IncidentStore(
            config, city=self.city, policies=self.policies, journal=self.journal, scheduler=scheduler,
            responders=roster.responders, staging=self._staging, changes=self._changes,
            device_commands=self._device_commands, peers=self._peers)
        self._supervision = supervision = Supervision(
            config, policies=self.policies, scheduler=scheduler, roster=roster, store=store, staging=self._staging,
            seen_log=self._seen_log)
        domains = merge([domain.assemble(scheduler=scheduler, store=store) for domain in self._domains])
        store.observer = chain(domains.observers)
        self._deadlines = Deadlines(
            config, scheduler=scheduler,
            owners={INCIDENT: store, SUPERVISION: supervision, **domains.timers},
            counters=self._counters, lateness_s=self.deadline_lateness_s, measured=frozenset({INCIDENT}))
        self._intake = Intake(config, roster=roster, supervision=supervision, store=store, staging=self._staging,
                              counters=self._counters, routes=domains.routes)
        self._desk = Desk(*domains.desk)
        self._commands = OperatorCommands(host_id=self.host_id, policies=self.policies, roster=roster, store=store,
                                          staging=self._staging, device_commands=self._device_commands,
                                          flush=self._flush)

    def _rebuild(self) -> None:
        rebuild(self.journal, alarm_memory=self.config.alarm_memory, roster=self._roster, store=self._store,
                supervision=self._supervision, parts=tuple(p for d in self._domains for p in d.snapshotted()))
        for domain in self._domains:
            domain.load(self.journal)

    def _speaks_json(self, device_id: str) -> bool:  # the roster is made anew by a rollback: looked up each time
        return self._roster.speaks_json(device_id)

    # -- what the host holds (rebuilt from the journal after a failed step) --------------------------

    @property
    def devices(self) -> dict[str, DeviceEntity]:
        return self._roster.devices

    @property
    def responders(self) -> dict[str, Responder]:
        return self._roster.responders

    @property
    def incidents(self) -> dict[str, IncidentRecord]:
        return self._store.incidents

    @property
    def open_index(self) -> dict[tuple[str, IncidentKind], str]:
        return self._store.open_index

    patrols = property(lambda self: self._patrol.patrols, doc="Patrols under way, volunteers' totals, the units.")
    points = property(lambda self: self._patrol.points, doc="The volunteers' points book (journaled).")
    dispatches = property(lambda self: self._patrol.dispatches, doc="Offers and tasks of units per incident.")

    # -- what waits for the shell -------------------------------------------------------------------

    @property
    def changes(self) -> deque[Change]:
        return self._changes.queue

    @property
    def device_commands(self) -> deque[DeviceCommandOut]:
        return self._device_commands.queue

    @property
    def outbox(self) -> dict[str, list[HostMessage]]:
        return self._peers.messages

    # -- steps --------------------------------------------------------------------------------------

    def ingest(self, items: list[Ingest], *, now_s: float) -> IngestResult:
        """Handle a batch of device messages; the journal is written before the result (the acks) returns."""
        self._peers.check_room()
        acks: list[DeviceAck] = []
        accepted = duplicates = refused = 0
        handle = self._intake.handle
        with self._whole_step():
            for item in items:
                verdict, listed = handle(item, now_s)
                if verdict.status is AckStatus.ACK:
                    accepted += 1
                elif verdict.status is AckStatus.DUPLICATE:
                    duplicates += 1
                else:
                    refused += 1
                if listed or verdict.status is not AckStatus.ACK:
                    acks.append(DeviceAck(item.device_id, item.message.seq, verdict.status, verdict.reason,
                                          verdict.incident_id, item.message.boot))
        self._flush()
        self._counters.accepted += accepted
        self._counters.duplicates += duplicates
        self._counters.refused += refused
        return IngestResult(accepted, duplicates, refused, acks)

    def device_states(self, states: list[StateChange], *, now_s: float) -> int:
        """Connection states from the broker: a Last Will ``offline`` takes a supervised device offline at
        once (no waiting for missed heartbeats); ``online`` counts as a sign of life. Returns how many
        states changed anything; unknown devices are ignored (the bridge refused them already)."""
        with self._whole_step():
            changed = self._supervision.connection_states(states, now_s)
        self._flush()
        return changed

    def deliver(self, batch: HostBatch, *, now_s: float) -> None:
        """Messages from another host: copies of incidents that reached an entity here."""
        with self._whole_step():
            self._store.deliver(batch.messages, now_s)
        self._flush()

    def command(self, command: OperatorCommand, *, now_s: float) -> IncidentRecord:
        """An operator acts on an incident this host owns. Refusals raise and are audited."""
        return self._commands.on_incident(command, now_s)

    def deliveries(self, notes: list[DeliveryNote], *, now_s: float) -> list:
        """A console gateway's word on notifications: delivered, seen, or not delivered (which may escalate), in one
        step; per line the incident after it, None, or its refusal (``OperatorCommands.on_deliveries``)."""
        return self._commands.on_deliveries(notes, now_s)

    def command_device(self, device_id: str, command: str, args: dict, *, actor: str, now_s: float, role: str = "",
                       scope: str = "", reason: str = "") -> None:
        """An operator's command for a device of this host (say, a remote door open): audited, then sent."""
        self._commands.on_device(device_id, command, args, actor=actor, now_s=now_s, role=role, scope=scope,
                                 reason=reason)

    def record_audit(self, rows: list[AuditRow]) -> None:
        """Audit rows from outside the host (the console gateway: logins, refusals), journaled here."""
        self._staging.audit_rows.extend(rows)
        self._flush()

    def next_deadline_s(self) -> float | None:
        return self.scheduler.next_due_s()

    def advance(self, *, now_s: float) -> int:
        """Handle every deadline due at or before ``now_s``; returns how many fired."""
        fired = self._deadlines.run(now_s)
        seen = self._seen_log.due(now_s)
        if seen is not None:
            self._staging.stage_seen(seen)
        self._flush()
        self._device_commands.redeliver(now_s)  # after the flush: a failed step cannot take them back with it
        self._flush()  # the audit rows of commands that failed for good
        return fired

    # -- what the shell takes -----------------------------------------------------------------------

    def take_outbox(self, *, now_s: float) -> dict[str, HostBatch]:
        return self._peers.take(now_s=now_s)

    def requeue(self, host_id: str, messages: list[HostMessage]) -> None:
        """Put back messages that could not be sent, ahead of newer ones (the outbox limit still holds)."""
        self._peers.requeue(host_id, messages)

    def take_changes(self) -> list[Change]:
        return self._changes.take()

    def take_device_commands(self, *, now_s: float | None = None) -> list[DeviceCommandOut]:
        """The queued device commands. With ``now_s`` (a bridge that confirms what it published), each is held until
        :meth:`confirm_device_commands`: one not confirmed in ``command_confirm_s`` (its bridge died before it
        published) is handed out again, and after ``command_attempts`` audited as failed."""
        return self._device_commands.take(now_s=now_s)

    def confirm_device_commands(self, numbers: list[int]) -> None:
        """A bridge published these commands."""
        self._device_commands.confirm(numbers)

    # -- the journal: write-ahead, and rollback of a step it did not take ---------------------------

    @contextlib.contextmanager
    def _whole_step(self):
        """A step that raises half-way is forgotten whole (rebuilt from the journal), never half kept."""
        try:
            yield
        except Exception:
            log.error("host %s: a step failed half-way; going back to the journal", self.host_id)
            self._abandon(self._staging.clear())
            raise

    def _flush(self) -> None:
        batch = self._staging.take()
        if batch is not None:
            try:
                self.journal.write(batch)
            except Exception as exc:
                self._step_failed(batch.seen, exc)
        for output in self._outputs:
            output.keep()

    def _step_failed(self, seen: SeenRows, exc: Exception) -> NoReturn:
        """The journal did not take this step: forget it, and raise :class:`JournalUnavailable`."""
        self._counters.journal_failures += 1
        reason = f"{type(exc).__name__}: {exc}"[:300]
        log.error("host %s: journal write failed (%s); going back to the journal", self.host_id, reason,
                  extra={"host_id": self.host_id})
        self._abandon(seen)
        raise JournalUnavailable(self.host_id, reason) from exc

    def _abandon(self, seen: SeenRows) -> None:
        """Forget a step. What earlier steps left for the shell (changes, commands, batches for other hosts) stays;
        the devices' last-seen times stay (observations, not decisions: ``seen``, the step's unwritten rows, go
        with the next flush); everything else is rebuilt from the journal, as after a restart."""
        last_seen = self._roster.last_seen()
        self._seen_log.put_back(seen)
        for output in self._outputs:
            output.take_back()
        self._staging.clear()
        self._assemble()
        try:
            self._rebuild()
        except Exception as load_exc:
            self.broken = True
            log.critical("host %s: the journal cannot be read back either: %s", self.host_id, load_exc,
                         extra={"host_id": self.host_id})
            return
        resume_observed(self._supervision, last_seen)

    # -- queries ------------------------------------------------------------------------------------

    def incident(self, incident_id: str) -> IncidentRecord | None:
        return self._store.find(incident_id)

    def open_incidents(self) -> list[IncidentRecord]:
        return self._store.open_incidents()

    def statistics(self) -> HostStats:
        return host_stats(self.host_id, self._counters, devices=len(self.city.devices),
                          devices_active=len(self._roster.devices), responders=len(self._roster.responders),
                          incidents_open=self._store.owned_open(), deadlines=len(self.scheduler),
                          journal_writes=getattr(self.journal, "writes", 0), health=self._supervision.health(),
                          **{k: v for domain in self._domains for k, v in domain.statistics().items()})

    def ask(self, request: object, *, now_s: float):
        """A desk request (``protocols/desk.py``), journaled before the answer leaves. A handler refuses (the engine's
        error) before it changes anything; any other failure forgets the step whole."""
        with self._whole_step():
            try:
                answer = self._desk.answer(request, now_s)
            except RedbandError as refusal:
                answer = refusal
        self._flush()
        if isinstance(answer, RedbandError):
            raise answer
        return answer
