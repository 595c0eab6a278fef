"""Tips at a host: what follows a station's verdict on a volunteer's tip (``engine/tips.py`` decides it). An
accepted or promoted tip earns its volunteer the ``tip_accepted`` points (once per tip, journaled with the step
that reviewed it); the phone is told the verdict by the device command ``tip.reviewed``
(``{incident, verdict, reason, points}``).

It observes the incident store (every change of an incident this host owns, after it is stored) and hands every
change on to the next observer (the dispatch of units, which offers a tip promoted to P1).
"""

from __future__ import annotations

from collections.abc import Callable

from engine.hosting.points import HostPoints
from engine.incident import DeviceCommand
from protocols.points import PointsReason
from protocols.records import IncidentRecord, TipVerdict

Observer = Callable[[IncidentRecord, IncidentRecord | None, float], None]
TIP_REVIEWED = "tip.reviewed"
EARNING = frozenset({TipVerdict.ACCEPTED, TipVerdict.PROMOTED})
"""The verdicts that earn the tip's points: a promoted tip was accepted too."""


class TipReviews:
    def __init__(self, points: HostPoints, *, send: Callable[[DeviceCommand, float], None],
                 then: Observer | None = None) -> None:
        self.points = points
        self.send = send
        self.then = then

    def __call__(self, record: IncidentRecord, before: IncidentRecord | None, now_s: float) -> None:
        tip = record.tip
        if (before is not None and before.tip is not None and before.tip.verdict is None and tip is not None
                and tip.verdict is not None):
            earned = 0
            if tip.verdict in EARNING and tip.reporter:
                credited = self.points.book.credit(tip.reporter, PointsReason.TIP_ACCEPTED, record.id, t_s=now_s)
                self.points.staging.points(credited.rows)  # journaled with the step that reviewed the tip
                earned = credited.entry.delta
            self.send(DeviceCommand(record.device_id, TIP_REVIEWED, {
                "incident": record.id, "verdict": tip.verdict.value, "reason": tip.reason, "points": earned}), now_s)
        if self.then is not None:
            self.then(record, before, now_s)
