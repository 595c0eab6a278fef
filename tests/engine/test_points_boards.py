"""Leaderboards (engine.points_boards): volunteers, teams and streets by points earned, ties sharing a rank."""

from __future__ import annotations

from engine.city_file import city_from_dict, city_to_dict
from engine.points import PointsBook
from engine.points_boards import leaderboard, street_board, team_board, volunteer_board
from engine.points_rules import PointsRules
from protocols.points import ItemCategory, LeaderboardRow, PointsReason

HOUR_S = 3600.0


def city():
    teams = [{"id": "T1", "precinct": "P1", "name": "Heping East", "street": "Heping"},
             {"id": "T2", "precinct": "P1", "name": "Heping West", "street": "Heping"},
             {"id": "T3", "precinct": "P2", "name": "Lakeside"}]
    members = {"T1": ["ann", "bo"], "T2": ["cy"], "T3": ["di", "ed"]}
    devices = [{"id": f"{v}-phone", "kind": "volunteer_phone", "team": t} for t, vs in members.items() for v in vs]
    volunteers = [{"id": v, "team": t, "phone": f"{v}-phone", "name": v.title()} for t, vs in members.items()
                  for v in vs]
    return city_from_dict({"city": {"id": "c"}, "command_center": {"id": "CC"},
                           "precincts": [{"id": "P1", "station": "S1", "name": "Heping station"},
                                         {"id": "P2", "station": "S2", "name": "Lakeside station"}],
                           "teams": teams, "devices": devices, "volunteers": volunteers})


def book_with(points: dict[str, float]) -> PointsBook:
    """Each volunteer patrols the hours given (10 points an hour)."""
    book = PointsBook(PointsRules(patrol_hour=10))
    for volunteer, hours in points.items():
        book.credit_patrol(volunteer, f"patrol-{volunteer}", valid_s=hours * HOUR_S, t_s=100.0)
    return book


def ranks(rows: list[LeaderboardRow]) -> list[tuple[int, str, int]]:
    return [(row.rank, row.key, row.points) for row in rows]


def test_a_team_s_street_is_kept_in_the_city_file_and_is_optional():
    town = city()
    assert (town.teams["T1"].street, town.teams["T3"].street) == ("Heping", "")
    assert city_from_dict(city_to_dict(town)).teams == town.teams


def test_volunteers_rank_by_points_and_equal_points_share_a_rank_listed_by_id():
    board = volunteer_board(book_with({"ann": 2, "bo": 3, "cy": 3, "di": 1}).entries(), city())
    assert ranks(board) == [(1, "bo", 30), (1, "cy", 30), (3, "ann", 20), (4, "di", 10), (5, "ed", 0)]
    assert (board[0].name, board[0].patrol_hours, board[0].volunteers) == ("Bo", 3.0, 1)


def test_a_team_s_own_board_ranks_its_members_only():
    board = volunteer_board(book_with({"ann": 2, "bo": 3, "cy": 9}).entries(), city(), team_id="T1")
    assert ranks(board) == [(1, "bo", 30), (2, "ann", 20)]


def test_teams_rank_by_what_their_members_earned():
    board = team_board(book_with({"ann": 2, "bo": 3, "cy": 1, "di": 4, "ed": 1}).entries(), city())
    assert ranks(board) == [(1, "T1", 50), (1, "T3", 50), (3, "T2", 10)]
    assert [(row.name, row.volunteers, row.patrol_hours) for row in board] == [
        ("Heping East", 2, 5.0), ("Lakeside", 2, 5.0), ("Heping West", 1, 1.0)]


def test_streets_gather_their_teams_and_a_team_without_a_street_counts_under_its_precinct():
    board = street_board(book_with({"ann": 2, "cy": 1, "di": 4}).entries(), city())
    assert ranks(board) == [(1, "P2", 40), (2, "Heping", 30)]
    assert [(row.name, row.volunteers) for row in board] == [("Lakeside station", 2), ("Heping", 3)]


def test_spending_does_not_lower_a_rank_but_a_penalty_does():
    book = book_with({"ann": 3, "bo": 3, "cy": 3})
    book.rules = PointsRules(sos_false=-5)
    book.put_item("mug", name="Mug", category=ItemCategory.GOODS, price=25, t_s=0.0)
    book.restock("mug", 1, t_s=0.0)
    assert book.redeem("req-1", "ann", "mug", t_s=200.0).outcome.accepted
    book.credit("bo", PointsReason.SOS_FALSE, "sos-1", t_s=200.0)
    board = volunteer_board(book.entries(), city(), team_id=None)
    assert ranks(board)[:3] == [(1, "ann", 30), (1, "cy", 30), (3, "bo", 25)]


def test_a_window_counts_only_its_entries_and_a_limit_keeps_the_top_with_their_ranks():
    book = book_with({"ann": 1, "bo": 1})
    book.credit("bo", PointsReason.TIP_ACCEPTED, "tip-1", t_s=500.0)
    book.credit("ann", PointsReason.TIP_ACCEPTED, "tip-2", t_s=1000.0)
    groups = {"ann": "ann", "bo": "bo", "cy": "cy"}
    assert ranks(leaderboard(book.entries(), groups, since_s=200.0, until_s=1000.0)) == [
        (1, "bo", 20), (2, "ann", 0), (2, "cy", 0)]
    assert ranks(leaderboard(book.entries(), groups, limit=2)) == [(1, "ann", 30), (1, "bo", 30)]
