"""A host's volunteer figures per team, street and community (engine/hosting/patrol_figures.py), asked at its desk:
registered from the city, patrols and valid hours from the patrols' totals, emergencies and points from the points
book, tips under review from the incidents; the hosts' answers merged (protocols/patrol_figures.py)."""

from __future__ import annotations

import pytest

from engine.hosting.patrol_figures import community_of, street_of
from protocols.kinds import DeviceKind
from protocols.patrol_figures import GroupRow, PatrolFiguresAnswer, PatrolFiguresBy, merge
from tests.engine.helpers import Pair

LAT, LON = 31.9, 117.3
M_LAT = 1 / 111_195.0


def _patrol(pair: Pair, phone: str, start_s: float, minutes: int) -> None:
    pair.now_s = start_s
    pair.send(phone, "patrol.start", {})
    for k in range(1, minutes * 6 + 1):
        pair.now_s = start_s + 10.0 * k
        pair.send(phone, "patrol.position", {"lat": LAT + 12.0 * k * M_LAT, "lon": LON, "accuracy_m": 5.0})
    pair.send(phone, "patrol.stop", {})


@pytest.mark.parametrize("group_by", ["team", "street", "community"])
def test_figures_count_registered_patrols_hours_points_and_tips_per_group(group_by):
    pair = Pair()
    city = pair.host.city
    phones = sorted(d.id for d in city.devices.values() if d.kind is DeviceKind.VOLUNTEER_PHONE)
    _patrol(pair, phones[0], 0.0, 30)
    pair.now_s = 1900.0
    pair.send(phones[0], "patrol.clue", {"text": "Broken light", "lat": LAT, "lon": LON, "category": "hazard"})
    answer = pair.host.ask(PatrolFiguresBy(group_by), now_s=pair.now_s)
    assert sum(r.registered for r in answer.rows) == len(city.volunteers) == 4
    volunteer = next(v for v in city.volunteers.values() if v.phone_id == phones[0])
    group = {"team": volunteer.team_id, "street": street_of(city, volunteer),
             "community": community_of(city, volunteer)}[group_by]
    row = next(r for r in answer.rows if r.group == group)
    assert row.patrols == 1 and abs(row.valid_hours - 0.5) < 0.01
    assert row.points == 4 and answer.points_by_reason == {"patrol": 4}  # 0.49 h at 10 points an hour
    assert row.tips == 1 and sum(r.tips for r in answer.rows) == 1
    assert sum(r.patrols for r in answer.rows) == 1 and group


def test_an_unknown_grouping_is_refused_naming_the_field():
    import msgspec
    with pytest.raises(msgspec.ValidationError, match="group_by"):
        msgspec.convert({"group_by": "city"}, PatrolFiguresBy)


def test_answers_of_hosts_are_summed_per_group():
    a = PatrolFiguresAnswer("team", [GroupRow("T1", 2, 1, 3600.0, 1, 0, 60), GroupRow("T2", 1)], {"patrol": 10})
    b = PatrolFiguresAnswer("team", [GroupRow("T1", 3, 2, 1800.0, 0, 2, 5)], {"patrol": 5, "emergency_handled": 50})
    merged = merge([a, b])
    assert merged.rows[0] == GroupRow("T1", 5, 3, 5400.0, 1, 2, 65) and merged.rows[1].group == "T2"
    assert merged.points_by_reason == {"patrol": 15, "emergency_handled": 50}
    assert merge([]) is None
