"""Visitor calls: a visitor at a community door rings the verified residents of the unit it names (or the door's own
unit), as a ``visitor_call`` command to each resident's phone; the first answer wins.

- ``door.visitor``: a call ``<door>#call@<seq>`` rings the unit's verified residents' phones until ``ring_s`` (60 s).
  A unit with no verified resident rings nobody (counted ``no_residents``). At most ``max_open`` calls open on a host:
  the next door.visitor is refused in its NAK naming the limit (counted ``refused_full``).
- ``visitor.answer`` {call, answer} from a resident's phone: the first answer wins; the other phones are told
  ``visitor_call.answered`` {call, by, answer}. ``open``: the door gets ``open_door`` {by, call} and has
  ``open_confirm_s`` (30 s) to report ``door.opened``, which ends the call ``opened`` (else ``not_opened``).
  ``deny`` ends it ``denied`` (the panel is told ``visitor_call.ended``). Refused in the NAK naming ``data.call``
  (counted ``refused_<reason>``, audited): an unknown or ended call, a phone of another unit or site
  (``other_unit``), an unverified resident of the unit (``unverified``: never rung, never opens), a second answer
  (``answered``).
- No answer in ``ring_s``: ``missed``; the phones are told ``visitor_call.missed``, the panel ``visitor_call.ended``.

Every call that ends is an audit row (actor: the resident who answered, or ``system``; the outcome; the door, unit,
answer, start and latency in its reason). Open calls are snapshotted (``engine/hosting/community_rows.py``), so a
restarted host keeps ringing them with their deadlines.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from engine.entities import DeviceEntity, SeqVerdict
from engine.hosting import community_rows as rows
from engine.hosting.staging import JournalStaging
from engine.incident import DeviceCommand
from engine.scheduler import DeadlineScheduler
from engine.topology import City
from protocols.community import (CALL_ANSWERED, CALL_ENDED, CALL_MISSED, OPEN_DOOR, VISITOR_CALL, CallOutcome,
                                 VisitorAnswer)
from protocols.device import DeviceMessage
from protocols.kinds import AckStatus

VISITOR_CALL_TIMER: Final = "vc"
"""Deadline key kind: ``(VISITOR_CALL_TIMER, call id)``, a call's missed or door-confirmation deadline."""
RING_S: Final = 60.0
OPEN_CONFIRM_S: Final = 30.0
MAX_OPEN_CALLS: Final = 2_000


def _refused(reason: str) -> SeqVerdict:
    return SeqVerdict(AckStatus.NAK, reason)


class VisitorCalls:
    def __init__(self, city: City, *, send: Callable[[DeviceCommand, float], None],
                 staging: JournalStaging | None = None, figures: rows.Figures | None = None, ring_s: float = RING_S,
                 open_confirm_s: float = OPEN_CONFIRM_S, max_open: int = MAX_OPEN_CALLS) -> None:
        self._send = send
        self.staging = staging if staging is not None else JournalStaging()
        self.figures = figures if figures is not None else rows.Figures(self.staging)
        self.ring_s, self.open_confirm_s, self.max_open = ring_s, open_confirm_s, max_open
        self.scheduler: DeadlineScheduler | None = None
        self._resident_of_phone = {r.phone_id: r for r in city.residents.values()}
        self._phones_of_unit: dict[tuple[str, str], list[str]] = {}  # (site, unit) → verified residents' phones
        for resident in city.residents.values():
            if resident.verified:
                self._phones_of_unit.setdefault((resident.site_id, resident.unit), []).append(resident.phone_id)
        self.open: dict[str, rows.CallRow] = {}
        """Call id → the call, ringing or waiting for its door."""
        self._waiting: dict[str, set[str]] = {}
        """Door → its calls answered open, waiting for it to report itself open (a door's event looks here only)."""
        self.on_end: Callable[[rows.CallRow, str, float], None] | None = None
        """Told of each call that ends (the console's community view, ``community_view.py``)."""

    def phones(self, site_id: str, unit: str) -> list[str]:
        return list(self._phones_of_unit.get((site_id, unit), ()))

    def attach(self, scheduler: DeadlineScheduler) -> None:
        self.scheduler = scheduler
        for call in self.open.values():
            scheduler.schedule((VISITOR_CALL_TIMER, call.id), call.due_s)

    def load(self, snapshots: dict[str, bytes]) -> None:
        self.open = {call.id: call for call in rows.calls(snapshots)}
        self._waiting = {}
        for call in self.open.values():
            if call.answer == VisitorAnswer.OPEN:
                self._waiting.setdefault(call.door, set()).add(call.id)
        if self.scheduler is not None:
            self.attach(self.scheduler)

    # -- routes --

    def call(self, entity: DeviceEntity, message: DeviceMessage, now_s: float) -> SeqVerdict | None:
        """A ``door.visitor`` event: ring the unit's verified residents."""
        device = entity.device
        unit = message.data.unit or device.unit
        phones = self.phones(device.site_id or "", unit)
        if not phones:
            self.figures.add("no_residents")
            return None
        call_id = f"{device.id}#call@{f'{message.boot}.' if message.boot else ''}{message.seq}"
        if call_id in self.open:
            return None  # the same call again (re-sent across a restart of the host)
        if len(self.open) >= self.max_open:
            self.figures.add("refused_full")
            return _refused(f"data.unit: {self.max_open} visitor calls open on this host (the limit): call refused")
        call = rows.CallRow(call_id, device.id, device.site_id or "", unit, message.data.snapshot, phones, now_s,
                            now_s + self.ring_s)
        self._keep(call)
        self.figures.add("calls", site=call.site)
        for phone in phones:
            self._send(DeviceCommand(phone, VISITOR_CALL, {
                "call": call_id, "door": device.id, "unit": unit, "snapshot": call.snapshot, "seq": message.seq,
                "until_s": call.due_s}), now_s)
        return None

    def answer(self, entity: DeviceEntity, message: DeviceMessage, now_s: float) -> SeqVerdict | None:
        """A ``visitor.answer`` event from a resident's phone: the first answer wins."""
        phone, data = entity.device.id, message.data
        resident = self._resident_of_phone.get(phone)
        actor = resident.id if resident is not None else phone
        call = self.open.get(data.call)
        reason = None
        if call is None:
            reason, why = "unknown_call", "no visitor call of this id is ringing (never rung, or ended)"
        elif phone not in call.phones:
            if resident is not None and (resident.site_id, resident.unit) == (call.site, call.unit):
                reason, why = "unverified", "unverified resident: may not answer or open"
            else:
                reason, why = "other_unit", f"not a phone of unit {call.unit} of {call.site}: may not answer"
        elif call.answer:
            reason, why = "answered", f"answered already by {call.by}"
        if reason is not None:
            self.figures.add(f"refused_{reason}")
            self.staging.audit(now_s, actor, "visitor_call.answer", data.call, "refused", role="resident",
                               scope=call.site if call else "", reason=f"{reason}: {data.answer.value}")
            return _refused(f"data.call: {why}")
        by = resident.id if resident is not None else phone
        for other in call.phones:
            if other != phone:
                self._send(DeviceCommand(other, CALL_ANSWERED, {"call": call.id, "by": by,
                                                                "answer": data.answer.value}), now_s)
        if data.answer is VisitorAnswer.DENY:
            call.answer, call.by, call.answered_s = data.answer.value, by, now_s
            self._send(DeviceCommand(call.door, CALL_ENDED, {"call": call.id, "outcome": CallOutcome.DENIED.value}),
                       now_s)
            self._end(call, CallOutcome.DENIED, now_s)
            return None
        call.answer, call.by, call.answered_s = data.answer.value, by, now_s
        call.due_s = now_s + self.open_confirm_s
        self._keep(call)
        self._waiting.setdefault(call.door, set()).add(call.id)
        self._send(DeviceCommand(call.door, OPEN_DOOR, {"by": by, "call": call.id}), now_s)
        return None

    def door_opened(self, entity: DeviceEntity, message: DeviceMessage, now_s: float) -> None:
        """A ``door.opened`` event: the calls of this door answered open are done."""
        if not message.data.open:
            return
        for call_id in sorted(self._waiting.get(entity.device.id, ())):
            self._end(self.open[call_id], CallOutcome.OPENED, now_s)

    def deadline(self, call_id: str, due_s: float, at_s: float) -> int:
        """A call rang ``ring_s`` unanswered (missed), or its door did not open in time (not opened)."""
        call = self.open.get(call_id)
        if call is None or call.due_s != due_s:
            return 0
        if call.answer:
            self._end(call, CallOutcome.NOT_OPENED, at_s)
            return 1
        for phone in call.phones:
            self._send(DeviceCommand(phone, CALL_MISSED, {"call": call.id}), at_s)
        self._send(DeviceCommand(call.door, CALL_ENDED, {"call": call.id, "outcome": CallOutcome.MISSED.value}), at_s)
        self._end(call, CallOutcome.MISSED, at_s)
        return 1

    # -- inside --

    def _keep(self, call: rows.CallRow) -> None:
        self.open[call.id] = call
        self.staging.snapshot(rows.CALL + call.id, rows.encode(call))
        if self.scheduler is not None:
            self.scheduler.schedule((VISITOR_CALL_TIMER, call.id), call.due_s)

    def _end(self, call: rows.CallRow, outcome: CallOutcome, now_s: float) -> None:
        self.open.pop(call.id, None)
        waiting = self._waiting.get(call.door)
        if waiting is not None:
            waiting.discard(call.id)
            if not waiting:
                del self._waiting[call.door]
        self.staging.snapshot(rows.CALL + call.id, None)
        if self.scheduler is not None:
            self.scheduler.cancel((VISITOR_CALL_TIMER, call.id))
        self.figures.add(outcome.value, site=call.site)
        if self.on_end is not None:
            self.on_end(call, outcome.value, now_s)
        latency = f"{(call.answered_s - call.started_s) * 1000:.0f}" if call.by else "-"
        self.staging.audit(now_s, call.by or "system", "visitor_call", call.id, outcome.value, role="resident",
                           scope=call.site, reason=f"door={call.door} unit={call.unit} answer={call.answer or '-'} "
                                                   f"started_s={call.started_s:.3f} latency_ms={latency}")
