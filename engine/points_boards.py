"""Leaderboards from the points ledger: volunteers, teams and streets ranked by the points they earned.

Points earned are every entry but spending (a penalty subtracts; a redemption does not), within an optional time
window ``[since_s, until_s)``. Equal points share a rank (1, 2, 2, 4) and are listed by key. Every group the city
knows is on its board, with zero points if it earned none. A team's street is ``Team.street``; a team without one
is counted under its precinct (a precinct's police station covers one street office).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from engine.city_model import City
from protocols.points import LeaderboardRow, LedgerEntry, PointsReason


def leaderboard(entries: Iterable[LedgerEntry], group_of: Mapping[str, str], *,
                names: Mapping[str, str] | None = None, since_s: float | None = None, until_s: float | None = None,
                limit: int | None = None) -> list[LeaderboardRow]:
    """Groups ranked by the points their volunteers earned. ``group_of`` maps each volunteer to its group (a
    volunteer to itself for a board of volunteers); entries of volunteers it does not name are left out."""
    points: dict[str, int] = {}
    patrol_s: dict[str, float] = {}
    members: dict[str, int] = {}
    for group in group_of.values():
        points.setdefault(group, 0)
        patrol_s.setdefault(group, 0.0)
        members[group] = members.get(group, 0) + 1
    for entry in entries:
        group = group_of.get(entry.volunteer_id)
        if group is None or not entry.reason.is_earning:
            continue
        if (since_s is not None and entry.t_s < since_s) or (until_s is not None and entry.t_s >= until_s):
            continue
        points[group] += entry.delta
        if entry.reason is PointsReason.PATROL:
            patrol_s[group] += entry.valid_s
    order = sorted(points, key=lambda g: (-points[g], g))
    rows: list[LeaderboardRow] = []
    for place, group in enumerate(order[:limit] if limit is not None else order, 1):
        rank = rows[-1].rank if rows and rows[-1].points == points[group] else place
        rows.append(LeaderboardRow(rank, group, (names or {}).get(group, group), points[group],
                                   round(patrol_s[group] / 3600.0, 2), members[group]))
    return rows


def volunteer_board(entries: Iterable[LedgerEntry], city: City, *, team_id: str | None = None,
                    **window) -> list[LeaderboardRow]:
    """Volunteers ranked (those of ``team_id`` only, when given)."""
    volunteers = {v.id: v.id for v in city.volunteers.values() if team_id is None or v.team_id == team_id}
    names = {v.id: v.name or v.id for v in city.volunteers.values()}
    return leaderboard(entries, volunteers, names=names, **window)


def team_board(entries: Iterable[LedgerEntry], city: City, **window) -> list[LeaderboardRow]:
    """Teams ranked by what their members earned."""
    group_of = {v.id: v.team_id for v in city.volunteers.values()}
    names = {t.id: t.name or t.id for t in city.teams.values()}
    return leaderboard(entries, group_of, names=names, **window)


def street_board(entries: Iterable[LedgerEntry], city: City, **window) -> list[LeaderboardRow]:
    """Streets ranked by what the members of their teams earned."""
    street = {t.id: street_of(city, t.id) for t in city.teams.values()}
    group_of = {v.id: street[v.team_id] for v in city.volunteers.values()}
    names = {p.id: p.name or p.id for p in city.precincts.values() if p.id in street.values()}
    return leaderboard(entries, group_of, names=names, **window)


def street_of(city: City, team_id: str) -> str:
    """The street a team counts under: its own, else its precinct's id."""
    team = city.teams[team_id]
    return team.street or team.precinct_id
