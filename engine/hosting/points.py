"""Points at a host: every ended patrol earns its valid hours pro-rata, every emergency a volunteer's task saw through
earns the rule's points (``engine/default_points.toml``), written to the journal with the step that earned them.

The book is made from the journal's points rows at every (re)build, so a step the journal refused leaves no points
behind. Patrols themselves are not journaled yet: a patrol that ended in a refused step is not credited again.
"""

from __future__ import annotations

from engine.city_model import City
from engine.hosting.staging import JournalStaging
from engine.journal import Journal
from engine.patrol.patrol import PatrolSummary
from engine.points import PointsBook, rebuild
from engine.points_rules import PointsRules, load_points_rule_set
from protocols.points import PointsReason, decode_row


class HostPoints:
    def __init__(self, city: City, *, staging: JournalStaging, rules: PointsRules | None = None) -> None:
        self.rules = rules or load_points_rule_set(None)
        self.staging = staging
        self.book = PointsBook(rules)
        self._volunteer_of = {v.phone_id: v.id for v in city.volunteers.values()}

    def load(self, journal: Journal) -> None:
        """The book as the journal has it (a start, or a rebuild after a refused step)."""
        self.book = rebuild((decode_row(raw) for raw in journal.points_rows()), rules=self.rules)

    def patrol_ended(self, summary: PatrolSummary, now_s: float) -> None:
        credited = self.book.credit_patrol(summary.volunteer, summary.patrol_id, valid_s=summary.valid_s, t_s=now_s)
        self.staging.points(credited.rows)

    def task_done(self, unit_id: str, incident_id: str, now_s: float) -> None:
        """A volunteer's phone reported the task done: the emergency handled is credited to its volunteer."""
        volunteer = self._volunteer_of.get(unit_id)
        if volunteer is not None:
            credited = self.book.credit(volunteer, PointsReason.EMERGENCY_HANDLED, incident_id, t_s=now_s)
            self.staging.points(credited.rows)
