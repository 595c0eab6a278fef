"""Sequence and kind checks of one device message, and the notes it carries: may the device send this kind; is
it a duplicate, late, or the start of a new run of seqs (events: a 64-seq window per boot; alarms and reports:
duplicate only if boot, seq and digest match a remembered one); is its clock outside the DC-09 window.

The rules themselves are the device entity's (:class:`engine.entities.DeviceEntity`); this module picks which
apply to a message and says what it raises.
"""

from __future__ import annotations

from typing import Final

from engine.entities import DeviceEntity, SeqVerdict
from protocols import EventKind
from protocols.batch import Ingest
from protocols.device import DeviceMessage, message_digest
from protocols.kinds import AckStatus, IncidentKind

REPORTS: Final = {EventKind.KIOSK_FAULT: IncidentKind.KIOSK_FAULT, EventKind.PATROL_CLUE: IncidentKind.PATROL_CLUE}
"""Events that report something (a tip, a fault): deduplicated like alarms (boot, seq, digest; journaled), so a
report re-sent after a restart is a duplicate, never a second incident."""
CLOCK_BEHIND_S: Final = 40.0
CLOCK_AHEAD_S: Final = 20.0
"""SIA DC-09's window around the receiver's clock: a message stamped earlier than 40 s before it arrived, or later
than 20 s after, is flagged (counted, and noted on its incident). Never refused: an alarm held back by an outage
is still an alarm."""


def check(entity: DeviceEntity, message: DeviceMessage) -> tuple[SeqVerdict, IncidentKind | None, int]:
    """The verdict on ``message``; for an alarm or a report, also the incident kind it raises and its digest
    (``None, 0`` for an event). The entity's windows and alarm memory are updated as the verdict says, except
    that an accepted alarm is remembered only by the caller, once it has its incident."""
    kind = message.event_kind
    verdict = entity.check_kind(kind)
    if verdict.status is AckStatus.NAK:
        return verdict, None, 0
    reported = REPORTS.get(kind)
    if kind.is_alarm or reported is not None:
        digest = message_digest(message)
        verdict = entity.check_alarm(message.seq, boot=message.boot, digest=digest)
        return verdict, reported or IncidentKind(kind.value), digest
    return entity.check_event_seq(message.seq, message.boot), None, 0


def clock_skew(item: Ingest) -> str:
    """A note when the device's ``ts`` is outside the DC-09 window of the time the bridge received it, else ""."""
    if not item.received_ms:
        return ""
    skew_s = (item.message.ts - item.received_ms) / 1000.0
    if -CLOCK_BEHIND_S <= skew_s <= CLOCK_AHEAD_S:
        return ""
    if skew_s < 0:
        return f"sent {-skew_s:.0f} s before it arrived (held back, or the device clock is behind)"
    return f"stamped {skew_s:.0f} s after it arrived (the device clock is ahead)"


def alarm_note(message: DeviceMessage) -> str:
    """What the alarm says about itself (zone, snapshot, code or text), for its incident's timeline."""
    data = message.data
    for name in ("zone", "snapshot", "code", "text"):
        value = getattr(data, name, "")
        if value:
            return f"{name}={value}"[:200]
    return ""
