"""Device intake: one device message through its host. Checked (:mod:`engine.hosting.sequence`); if accepted,
the device was seen (supervision); an alarm or report raises or repeats its incident and is remembered for
dedup (journaled with the step); any other event goes to the route of its kind, if it has one.

Routes are how a kind of entity joins the host without touching this module: doors, visitor calls and patrols
each give a handler for the events they own (the table is in :meth:`engine.host.HostCore._assemble`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from engine.entities import ACCEPT, DeviceEntity, SeqVerdict
from engine.hosting.config import HostConfig
from engine.hosting.incidents import UNINDEXED, IncidentStore
from engine.hosting.phone_limits import PhoneLimits
from engine.hosting.roster import Roster
from engine.hosting.sequence import REPORTS, alarm_note, check, clock_skew
from engine.hosting.staging import JournalStaging
from engine.hosting.stats import Counters
from engine.hosting.supervision import Supervision
from engine.journal import AlarmSeq
from engine.tips import tip_of, volunteer_of
from protocols import EventKind
from protocols.batch import Ingest
from protocols.device import DeviceMessage
from protocols.kinds import AckStatus, IncidentKind

EventHandler = Callable[[DeviceEntity, DeviceMessage, float], SeqVerdict | None]
"""Handles an accepted event; may refuse it (a NAK naming the field) by returning the verdict, before changing
anything."""


@dataclass(frozen=True, slots=True)
class Route:
    handle: EventHandler
    newest_only: bool = False
    """The event carries a state (a door, a position): one that arrives after a newer one of its device is old
    news and is not handled (still acked)."""
    raises: Callable[[DeviceEntity, DeviceMessage, float, str], str] | None = None
    """An alarm kind whose incidents its domain raises or joins by its own rule (thrown objects join by facade):
    given the alarm and its note, the incident id. Without it the store raises or repeats."""


class Intake:
    def __init__(self, config: HostConfig, *, roster: Roster, supervision: Supervision, store: IncidentStore,
                 staging: JournalStaging, counters: Counters, routes: dict[EventKind, Route]) -> None:
        self.alarm_memory = config.alarm_memory
        self.roster = roster
        self.supervision = supervision
        self.store = store
        self.staging = staging
        self.counters = counters
        self.routes = routes
        self.limits = PhoneLimits()
        """Tips and points requests one device may send a minute (``engine/hosting/phone_limits.py``)."""

    def handle(self, item: Ingest, now_s: float) -> tuple[SeqVerdict, bool]:
        """The verdict on one message, and whether its ack must be listed (refusals, alarms: the device waits for
        it); accepted events are acked in bulk."""
        entity = self.roster.device(item.device_id)
        if entity is None:
            return SeqVerdict(AckStatus.NAK, f"device_id: unknown device {item.device_id!r}"), True
        message = item.message
        limited = self.limits.refusal(entity.device.id, message.event_kind, now_s)
        if limited is not None and message.event_kind not in REPORTS:  # before its seq is taken: it may come again
            self.counters.rate_limited += 1
            return limited, True
        verdict, incident_kind, digest = check(entity, message)
        if verdict.status is not AckStatus.ACK:
            return verdict, True  # a report sent again is still answered with its incident
        if limited is not None:
            self.counters.rate_limited += 1
            return limited, True
        self.limits.taken(entity.device.id, message.event_kind, now_s)
        self.counters.seq_rearmed += verdict.rearmed
        entity.speaks_json = item.json
        self.supervision.seen(entity, now_s)
        skew = clock_skew(item)
        if skew:
            self.counters.clock_skewed += 1
        if incident_kind is not None:
            note = "; ".join(n for n in (alarm_note(message), skew) if n)
            tip, place = None, (None, None)
            if incident_kind is IncidentKind.PATROL_CLUE:
                tip = tip_of(message, volunteer_of(self.roster.city, entity.device.id))
                place = (message.data.lat, message.data.lon)
            own = self.routes.get(message.event_kind)
            if own is not None and own.raises is not None:
                incident_id = own.raises(entity, message, now_s, note)
            else:
                incident_id = self.store.raise_or_repeat(entity.device, incident_kind, now_s, seq=message.seq,
                                                         note=note, fresh=incident_kind in UNINDEXED, tip=tip,
                                                         place=place)
            entity.remember_alarm(message.seq, incident_id, boot=message.boot, digest=digest,
                                  memory_size=self.alarm_memory)
            self.staging.stage_alarm(AlarmSeq(entity.device.id, message.seq, incident_id, message.boot, digest))
            return SeqVerdict(AckStatus.ACK, incident_id=incident_id), True
        route = self.routes.get(message.event_kind)
        if route is not None and not (verdict.late and route.newest_only):
            refused = route.handle(entity, message, now_s)
            if refused is not None:
                return refused, True
        return ACCEPT, False
