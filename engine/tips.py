"""The review of a volunteer's tip (a ``patrol.clue`` incident): accept, reject with a reason, or promote to a
dispatchable incident. Pure: the record in, the reviewed record out; the points and the phone's ``tip.reviewed``
follow from the verdict at the host (``engine/hosting/tips.py``).

    raised / acknowledged ─accept─▶ closed        (verdict accepted, ``note`` optional)
                          ─reject─▶ closed        (verdict rejected, ``note`` the reason: required)
                          ─promote─▶ acknowledged (verdict promoted, priority 1–3, default 2: dispatchable now)

Only a tip still under review takes these actions; any other incident, or a tip already reviewed, refuses them
with the reason.
"""

from __future__ import annotations

from typing import Final

from msgspec.structs import replace

from engine.city_model import City
from engine.errors import InvalidTransition
from protocols.device import DeviceMessage
from protocols.kinds import IncidentKind, IncidentState, TimelineEvent
from protocols.records import Action, IncidentRecord, OperatorCommand, Tip, TimelineEntry, TipVerdict

PROMOTED_PRIORITY: Final = 2
"""What a promoted tip becomes when the operator names no priority."""
PROMOTED_PRIORITIES: Final = (1, 2, 3)
_VERDICT = {Action.ACCEPT: TipVerdict.ACCEPTED, Action.REJECT: TipVerdict.REJECTED,
            Action.PROMOTE: TipVerdict.PROMOTED}
_EVENT = {TipVerdict.ACCEPTED: TimelineEvent.TIP_ACCEPTED, TipVerdict.REJECTED: TimelineEvent.TIP_REJECTED,
          TipVerdict.PROMOTED: TimelineEvent.TIP_PROMOTED}


def tip_of(message: DeviceMessage, reporter: str) -> Tip:
    """The tip a ``patrol.clue`` message carries (its place goes on the incident)."""
    data = message.data
    return Tip(category=data.category, text=data.text, photo=data.photo, reporter=reporter)


def volunteer_of(city: City, phone_id: str) -> str:
    """The volunteer who carries the phone (empty: none). A scan: tips are rare, and the city has one volunteer per
    phone at most."""
    return next((v.id for v in city.volunteers.values() if v.phone_id == phone_id), "")


def under_review(record: IncidentRecord) -> bool:
    """A tip nobody has reviewed yet, still open."""
    return record.kind is IncidentKind.PATROL_CLUE and record.is_active and (
        record.tip is None or record.tip.verdict is None)


def promoted(record: IncidentRecord) -> bool:
    """A tip the station made a dispatchable incident."""
    return record.tip is not None and record.tip.verdict is TipVerdict.PROMOTED


def review(record: IncidentRecord, command: OperatorCommand, *, now_s: float) -> IncidentRecord:
    """The verdict of ``command`` (accept, reject, promote) on a tip under review: the record after it."""
    state, action = record.state, command.action
    if record.kind is not IncidentKind.PATROL_CLUE:
        raise InvalidTransition(record.id, state, action,
                                f"only a tip (patrol.clue) is reviewed; this is a {record.kind.value}")
    if not under_review(record):
        verdict = record.tip.verdict.value if record.tip and record.tip.verdict else record.state.value
        raise InvalidTransition(record.id, state, action, f"the tip was already reviewed: {verdict}")
    reason = command.note.strip()
    if action == Action.REJECT and not reason:
        raise InvalidTransition(record.id, state, action, "note: rejecting a tip needs a reason")
    verdict = _VERDICT[action]
    tip = replace(record.tip or Tip(), verdict=verdict, reason=reason)
    changes: dict = dict(tip=tip, deadline_s=None)
    line = reason
    if verdict is TipVerdict.PROMOTED:
        priority = PROMOTED_PRIORITY if command.priority is None else command.priority
        if priority not in PROMOTED_PRIORITIES:
            raise InvalidTransition(record.id, state, action,
                                    f"priority: a promoted tip is priority 1, 2 or 3, not {priority}")
        changes.update(priority=priority, state=IncidentState.ACKNOWLEDGED)
        if state is IncidentState.RAISED:
            changes.update(acked_by=command.operator, acked_level=command.level)
        line = f"P{priority}" + (f": {reason}" if reason else "")
    else:
        changes.update(state=IncidentState.CLOSED,
                       disposition=f"tip {verdict.value}" + (f": {reason}" if reason else ""))
    entry = TimelineEntry(now_s, _EVENT[verdict], command.level, command.target, command.operator, line)
    return replace(record, **changes, timeline=record.timeline + (entry,), version=record.version + 1)
