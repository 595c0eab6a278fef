"""The patrol figures a host's desk answers (``protocols/desk.py``): its volunteers grouped by team, street or
community — registered, patrols ended, valid hours, emergencies handled, tips raised, points earned — and the
host's points by reason. Answered by ``engine/hosting/patrol_figures.py`` from the engine's own counters; the driver
asks every host (``actors/engine_desk.ask_every_host``) and adds the rows up with :func:`merge`."""

from __future__ import annotations

from typing import Literal

from msgspec import Struct

GroupBy = Literal["team", "street", "community"]
GROUPINGS: tuple[str, ...] = ("team", "street", "community")
FIELDS: tuple[str, ...] = ("registered", "patrols", "valid_hours", "emergencies", "tips", "points")


class PatrolFiguresBy(Struct, frozen=True, forbid_unknown_fields=True):
    """The host's volunteer figures grouped by ``group_by``."""

    group_by: GroupBy = "team"


class GroupRow(Struct, frozen=True):
    group: str
    """The team id, the street's name, or the community's site id ("" when the host has no community site)."""
    registered: int = 0
    """Volunteers registered in the group (the city's)."""
    patrols: int = 0
    """Patrols ended (the host's volunteers' totals)."""
    valid_s: float = 0.0
    emergencies: int = 0
    """Tasks the group's volunteers saw through (their ``emergency_handled`` points entries)."""
    tips: int = 0
    """Tips (``patrol.clue`` incidents) of the group's phones still under review (a reviewed tip has ended)."""
    points: int = 0
    """Points earned (every credit; redemptions not subtracted)."""

    @property
    def valid_hours(self) -> float:
        return self.valid_s / 3600.0

    def value(self, field: str) -> float:
        return self.valid_hours if field == "valid_hours" else float(getattr(self, field))


class PatrolFiguresAnswer(Struct, frozen=True):
    group_by: str
    rows: list[GroupRow]
    """One per group with a registered volunteer, by group name."""
    points_by_reason: dict[str, int]
    """The host's credited points per ``PointsReason`` value (redemptions left out)."""


def merge(answers) -> PatrolFiguresAnswer | None:
    """Every host's answer added up (rows of the same group summed); None for no answer."""
    answers = list(answers)
    if not answers:
        return None
    rows: dict[str, GroupRow] = {}
    points: dict[str, int] = {}
    for answer in answers:
        for row in answer.rows:
            was = rows.get(row.group)
            rows[row.group] = row if was is None else GroupRow(
                row.group, *(getattr(was, f) + getattr(row, f)
                             for f in ("registered", "patrols", "valid_s", "emergencies", "tips", "points")))
        for reason, n in answer.points_by_reason.items():
            points[reason] = points.get(reason, 0) + n
    return PatrolFiguresAnswer(answers[0].group_by, [rows[g] for g in sorted(rows)], points)
