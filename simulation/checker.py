"""A Jepsen-style checker for alarms: what the devices sent against what the engine recorded.

Every alarm a device sends must be counted exactly once by the engine: either it raised an incident
(counted as 1) or it was added to the device's open incident of that kind (counted in ``repeats``).
Per device, the engine's count over its alarm incidents is ``sum(1 + repeats)``; the checker compares it
with the number of distinct alarms sent:

- **lost**: alarms sent that the engine never counted;
- **duplicated**: alarms counted more than once (more counts than alarms, or two incidents opened by the
  same alarm);
- **unexpected**: alarm incidents of devices that sent no alarm, or opened by an alarm nobody sent.

Pure: it is fed the sent alarms and the final incident records (or the console's views of them: the same
fields), and is tested against harnesses that
drop or double a message (``tests/simulation/test_checker.py``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from protocols.kinds import ALARM_KINDS, IncidentKind
from protocols.records import IncidentRecord

ALARM_INCIDENTS = frozenset(IncidentKind(k.value) for k in ALARM_KINDS)


@dataclass(frozen=True)
class Verdict:
    sent: int
    counted: int
    lost: int
    duplicated: int
    unexpected: int
    details: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.lost == self.duplicated == self.unexpected == 0

    def to_json(self) -> dict:
        return {"sent": self.sent, "counted": self.counted, "lost": self.lost, "duplicated": self.duplicated,
                "unexpected": self.unexpected, "ok": self.ok, "details": self.details[:50]}


def opener_seq(incident_id: str) -> int | None:
    """The seq of the alarm that opened an alarm incident (its id is ``device#seq``); None for the incidents the
    engine raises itself (a door held open: ``device#held@ms``)."""
    tail = incident_id.rpartition("#")[2]
    return int(tail) if tail.isdigit() else None


def check_alarms(sent: Iterable[tuple[str, int]], incidents: Iterable[IncidentRecord], *,
                 kinds: frozenset[IncidentKind] = ALARM_INCIDENTS) -> Verdict:
    """``sent``: every (device id, seq) alarm published (repeats of one alarm, same seq, count once)."""
    sent_by_device: dict[str, set[int]] = defaultdict(set)
    for device_id, seq in sent:
        sent_by_device[device_id].add(seq)
    counted_by_device: dict[str, int] = defaultdict(int)
    openers: dict[tuple[str, int], list[str]] = defaultdict(list)
    unexpected, details = 0, []
    for record in incidents:
        seq = opener_seq(record.id)
        if record.kind not in kinds or seq is None:
            continue  # not an alarm incident, or one the engine raised itself
        counted_by_device[record.device_id] += 1 + record.repeats
        openers[(record.device_id, seq)].append(record.id)
        if seq not in sent_by_device.get(record.device_id, ()):
            unexpected += 1
            details.append(f"unexpected: {record.id} opened by seq {seq}, which {record.device_id} never sent")
    lost = duplicated = 0
    for device_id in sorted(set(sent_by_device) | set(counted_by_device)):
        want, got = len(sent_by_device.get(device_id, ())), counted_by_device.get(device_id, 0)
        if got < want:
            lost += want - got
            details.append(f"lost: {device_id} sent {want} alarms, the engine counted {got}")
        elif got > want and want:
            duplicated += got - want
            details.append(f"duplicated: {device_id} sent {want} alarms, the engine counted {got}")
    for (device_id, seq), ids in openers.items():
        if len(ids) > 1 and seq in sent_by_device.get(device_id, ()):
            details.append(f"duplicated: alarm {device_id} seq {seq} opened {len(ids)} incidents: {sorted(ids)}")
    total_sent = sum(len(s) for s in sent_by_device.values())
    return Verdict(total_sent, sum(counted_by_device.values()), lost, duplicated, unexpected, details)
