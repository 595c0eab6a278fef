"""Who is watching: did a notified responder's console show the incident in time?

The console gateway feeds this every incident change it sees, which responders have a live console, and each
console's receipts (an incident shown) and openings (an incident selected). It answers with the delivery lines to
journal (``DeliveryNote``): ``delivered`` on a responder's first receipt after a notification, ``seen`` on its
first opening, and ``not_delivered`` when a notified responder has no live console at all, or none of its consoles
confirmed within ``confirm_s``. The owner host writes the line and, for ``not_delivered``, the kind's policy may
escalate at once (the default for P1): a station with its console closed is never the end of an alarm.

Pure: time comes in as ``now_s``; nothing here does I/O. Bounded: at most ``max_tracked`` pending confirmations and
remembered notes (oldest forgotten first).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from protocols.kinds import ESCALATION_CHAIN, TimelineEvent
from protocols.records import DeliveryNote, IncidentRecord

WATCHED_LEVELS = frozenset(ESCALATION_CHAIN)
"""Levels whose responders work at consoles (the maintenance queue is a ticket list, not watched)."""

Key = tuple[str, str, float]
"""(incident id, responder, time of the notification): one notification to confirm."""


class DeliveryWatch:
    def __init__(self, *, confirm_s: float, max_tracked: int = 100_000) -> None:
        self.confirm_s = confirm_s
        self.max_tracked = max_tracked
        self._pending: OrderedDict[Key, float] = OrderedDict()  # → when it is overdue
        self._noted: OrderedDict[tuple[Key, TimelineEvent], None] = OrderedDict()

    @property
    def pending(self) -> int:
        return len(self._pending)

    def on_change(self, record: IncidentRecord, *, now_s: float, live: Callable[[str], bool]) -> list[DeliveryNote]:
        """A changed incident: start waiting for each new notification's confirmation; a responder with no live
        console is not delivered at once. An ended incident is no longer waited for."""
        if not record.is_open:
            for key in [k for k in self._pending if k[0] == record.id]:
                del self._pending[key]
            return []
        notes = []
        for target, notified_s in _latest_notifications(record).items():
            key = (record.id, target, notified_s)
            if key in self._pending or _answered(record, target, notified_s) or self._was_noted(key):
                continue
            if live(target):
                self._remember(self._pending, key, now_s + self.confirm_s)
            else:
                notes += self._note(key, TimelineEvent.NOT_DELIVERED, "", f"no console of {target} is open")
        return notes

    def on_receipt(self, record: IncidentRecord, *, responder: str, operator: str) -> list[DeliveryNote]:
        """A console of ``responder`` showed the incident."""
        notified_s = _latest_notifications(record).get(responder)
        if notified_s is None or not record.is_open:
            return []
        key = (record.id, responder, notified_s)
        self._pending.pop(key, None)
        if _has(record, TimelineEvent.DELIVERED, responder, notified_s):
            return []
        return self._note(key, TimelineEvent.DELIVERED, operator, "")

    def on_seen(self, record: IncidentRecord, *, responder: str, operator: str) -> list[DeliveryNote]:
        """An operator of ``responder`` opened the incident (which also proves it was shown)."""
        notes = self.on_receipt(record, responder=responder, operator=operator)
        notified_s = _latest_notifications(record).get(responder)
        if notified_s is None or not record.is_open or _has(record, TimelineEvent.SEEN, responder, notified_s):
            return notes
        return notes + self._note((record.id, responder, notified_s), TimelineEvent.SEEN, operator, "")

    def due(self, now_s: float) -> list[DeliveryNote]:
        """Notifications nobody confirmed in time."""
        notes = []
        for key in [k for k, at_s in self._pending.items() if at_s <= now_s]:
            del self._pending[key]
            notes += self._note(key, TimelineEvent.NOT_DELIVERED, "",
                                f"no console of {key[1]} confirmed it within {self.confirm_s:g} s")
        return notes

    def _note(self, key: Key, event: TimelineEvent, operator: str, note: str) -> list[DeliveryNote]:
        if self._was_noted(key, event):
            return []
        self._remember(self._noted, (key, event), None)
        return [DeliveryNote(key[0], key[1], event, operator, note)]

    def _was_noted(self, key: Key, event: TimelineEvent | None = None) -> bool:
        events = (event,) if event else (TimelineEvent.NOT_DELIVERED, TimelineEvent.DELIVERED)
        return any((key, e) in self._noted for e in events)

    def _remember(self, table: OrderedDict, key, value) -> None:
        table[key] = value
        while len(table) > self.max_tracked:
            table.popitem(last=False)


def _latest_notifications(record: IncidentRecord) -> dict[str, float]:
    """Per watched responder, when it was last notified."""
    latest: dict[str, float] = {}
    for entry in record.timeline:
        if entry.event is TimelineEvent.NOTIFIED and entry.level in WATCHED_LEVELS:
            latest[entry.target] = entry.t_s
    return latest


def _has(record: IncidentRecord, event: TimelineEvent, target: str, since_s: float) -> bool:
    return any(e.event is event and e.target == target and e.t_s >= since_s for e in record.timeline)


def _answered(record: IncidentRecord, target: str, since_s: float) -> bool:
    return any(_has(record, event, target, since_s) for event in (TimelineEvent.DELIVERED,
                                                                    TimelineEvent.NOT_DELIVERED))

