"""Volunteer phones walking beats (simulation.patrol_walk): deterministic walks at walking speed, injected bad
fixes the engine's GPS filter discards one for one, and valid hours the engine's clock counts close to the
walk's ground truth."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from engine.city_model import City, CommandCenter, Device, Precinct, Volunteer
from engine.patrol.geo import EARTH_RADIUS_M, haversine_m
from engine.patrol.gps_filter import Fix
from engine.patrol.offer_effects import OfferSent, Place
from engine.patrol.patrol import Patrol, PatrolSummary
from protocols import DeviceKind
from protocols.device import decode_device_message, encode_device_message
from simulation.patrol_plan import OfferPolicy, PatrolPlan
from simulation.patrol_walk import BAD_KINDS, FILTER_REASON, BeatWalker, Sent, StreetGrid, WalkConfig

GRID = StreetGrid.around(31.7456, 117.1272)
START_S = 1_767_000_000.0
# stops and silences far more often than the defaults, so one patrol has several of each
BUSY = WalkConfig(long_stop_p=0.08, silence_p=0.06, tips_per_hour=2.0)


def walk(seed: int, *, duration_s: float = 4 * 3600.0, config: WalkConfig = BUSY) -> BeatWalker:
    walker = BeatWalker(GRID, device_id="V1-phone", volunteer="V1", team="T1", started_s=START_S,
                        duration_s=duration_s, seed=seed, config=config)
    walker.sent = walker.run()  # type: ignore[attr-defined]
    return walker


def feed(sent: list[Sent]) -> PatrolSummary:
    """One patrol's messages through the engine's ``Patrol``, each arriving when it was sent."""
    patrol = None
    for item in sent:
        kind, message = item.message.event_kind, item.message
        if kind == "patrol.start":
            patrol = Patrol.start(patrol_id="p", volunteer="V1", started_s=item.at_s)
        elif kind == "patrol.position":
            patrol.fix(Fix.from_position(message.data, ts_ms=message.ts), now_s=item.at_s)
        elif kind == "patrol.stop":
            return patrol.stop(now_s=item.at_s)
    raise AssertionError("no patrol.stop")


def good_fixes(sent: list[Sent]) -> list[Fix]:
    """The fixes sent on the tick (bad ones are sent half an interval after it)."""
    return [Fix.from_position(s.message.data, ts_ms=s.message.ts) for s in sent
            if s.message.event_kind == "patrol.position" and (s.at_s - START_S) % 10.0 == 0.0]


def test_the_same_seed_walks_the_same_patrol_and_another_seed_another():
    assert walk(7).sent == walk(7).sent
    assert walk(7).truth == walk(7).truth
    assert walk(7).sent != walk(8).sent


def test_a_patrol_is_start_then_positions_and_tips_then_stop_with_send_times_increasing():
    sent = walk(1).sent
    kinds = [s.message.event_kind for s in sent]
    assert kinds[0] == "patrol.start" and kinds[-1] == "patrol.stop"
    assert [decode_device_message(encode_device_message(s.message)) for s in sent] == [s.message for s in sent]
    assert set(kinds[1:-1]) == {"patrol.position", "patrol.clue"}
    assert all(a.at_s < b.at_s for a, b in zip(sent, sent[1:]))
    assert [s.message.seq for s in sent] == list(range(1, len(sent) + 1))
    fixes = good_fixes(sent)
    assert all(a.ts_s < b.ts_s for a, b in zip(fixes, fixes[1:]))


def test_without_noise_every_step_between_fixes_is_at_walking_speed():
    walker = walk(2, config=WalkConfig(noise_m=0.0, silence_p=0.04))
    fixes = good_fixes(walker.sent)
    speeds = [haversine_m(a.lat, a.lon, b.lat, b.lon) / (b.ts_s - a.ts_s) for a, b in zip(fixes, fixes[1:])]
    assert max(speeds) <= 1.6 * 1.001  # the grid's flat projection against haversine
    assert sum(s > 0.9 for s in speeds) > len(speeds) / 2  # mostly walking, not standing


@pytest.mark.parametrize("seed", range(5))
def test_with_noise_only_the_injected_jumps_are_faster_than_a_runner(seed):
    walker = walk(seed)
    positions = [s for s in walker.sent if s.message.event_kind == "patrol.position"]
    fixes = good_fixes(walker.sent)
    noisy_max_mps = 1.6 + 8 * walker.config.noise_m / walker.config.fix_interval_s  # 4 sigma each end
    assert all(haversine_m(a.lat, a.lon, b.lat, b.lon) / (b.ts_s - a.ts_s) <= noisy_max_mps
               for a, b in zip(fixes, fixes[1:]))
    fast, last_tick = 0, None
    for item in positions:
        data = item.message.data
        if (item.at_s - START_S) % 10.0 == 0.0:
            last_tick = item
        elif (data.lat, data.lon) != (0.0, 0.0):  # an extra fix half an interval after the tick: a bad one
            before = last_tick.message.data
            fast += haversine_m(before.lat, before.lon, data.lat, data.lon) / (item.at_s - last_tick.at_s) > 15
    assert fast == walker.truth.bad["jump"]


@pytest.mark.parametrize("seed", range(8))
def test_the_filter_discards_exactly_the_injected_bad_fixes(seed):
    walker = walk(seed)
    summary = feed(walker.sent)
    expected = {FILTER_REASON[kind]: n for kind, n in walker.truth.bad.items() if n}
    assert summary.discarded == expected
    assert summary.fixes_kept == walker.truth.good_fixes


def test_every_kind_of_bad_fix_is_injected_at_its_share():
    config = WalkConfig(bad_p={"jump": 0.05, "inaccurate": 0.05, "duplicate": 0.05, "zero": 0.05, "future": 0.05})
    walker = walk(3, duration_s=10 * 3600.0, config=config)
    for kind in BAD_KINDS:
        assert 0.03 * walker.truth.good_fixes < walker.truth.bad[kind] < 0.07 * walker.truth.good_fixes, kind
    assert feed(walker.sent).discarded == {FILTER_REASON[k]: n for k, n in walker.truth.bad.items()}


@pytest.mark.parametrize("seed", range(8))
def test_the_valid_time_the_engine_counts_is_the_ground_truth_within_its_tolerance(seed):
    # Not equal: the engine starts a stop's 10 minutes at the first fix within 30 m of the corner (up to 30 s
    # before the volunteer stands still) and counts nothing for the fixes still within 30 m after leaving; and
    # when that first fix was at the edge of the radius, noise can move the anchor to the corner, which starts
    # the 10 minutes again (the engine then counts up to 10 minutes more for that stop).
    walker = walk(seed)
    truth, summary = walker.truth, feed(walker.sent)
    assert truth.long_stops >= 1 and truth.silences >= 1  # the case worth testing, for every seed here
    tolerance_s = truth.tolerance_s(walker.config)
    assert truth.valid_s - tolerance_s <= summary.valid_s
    assert summary.valid_s <= truth.valid_s + tolerance_s + truth.long_stops * walker.config.pause_after_s
    assert summary.valid_s < (truth.stopped_s - truth.started_s) - 600  # stops and silences did cost time


def test_over_many_patrols_the_engine_counts_the_ground_truth_within_half_a_percent():
    walkers = [walk(seed) for seed in range(20, 40)]
    truth_s = sum(w.truth.valid_s for w in walkers)
    engine_s = sum(feed(w.sent).valid_s for w in walkers)
    assert abs(engine_s - truth_s) <= 0.005 * truth_s


def test_a_plain_walk_with_no_long_stop_is_counted_to_the_second():
    walker = walk(4, config=WalkConfig(long_stop_p=0.0, silence_p=0.05))
    assert walker.truth.long_stops == 0 and walker.truth.silences >= 1
    assert feed(walker.sent).valid_s == pytest.approx(walker.truth.valid_s, abs=1e-6)


def city(phones: int) -> City:
    precinct = Precinct("P1", "P1", "P1-station", 31.7456, 117.1272, (31.6706, 117.0772, 31.8206, 117.1772))
    devices = {f"V{i}-phone": Device(f"V{i}-phone", DeviceKind.VOLUNTEER_PHONE, "P1", None, f"T{i % 3}", "",
                                     31.70 + i * 1e-3, 117.10, None) for i in range(phones)}
    volunteers = {f"V{i}": Volunteer(f"V{i}", f"T{i % 3}", f"V{i}-phone", f"Volunteer {i}") for i in range(phones)}
    return City("c", "c", CommandCenter("cc", "cc", 31.7, 117.1), {"P1": precinct}, devices=devices,
                volunteers=volunteers)


def test_a_plan_yields_every_patrol_in_send_order_and_its_truth():
    plan = PatrolPlan.from_city(city(5), count=12, start_s=START_S, period_s=7 * 86400.0, seed=11,
                                duration_s=(1800.0, 3600.0))
    sent = list(plan.messages())
    assert all(a.at_s <= b.at_s for a, b in zip(sent, sent[1:]))
    assert len(plan.truths) == 12
    by_phone: dict[str, list[Sent]] = {}
    for item in sent:
        by_phone.setdefault(item.device_id, []).append(item)
    starts = Counter(s.device_id for s in sent if s.message.event_kind == "patrol.start")
    assert sum(starts.values()) == 12 and max(starts.values()) == 3  # 3 rounds of 5 phones
    for device_id, items in by_phone.items():
        kinds = [s.message.event_kind for s in items]
        assert all(a.message.seq < b.message.seq for a, b in zip(items, items[1:]))
        # one patrol at a time per phone: starts and stops alternate
        ends = [k for k in kinds if k in ("patrol.start", "patrol.stop")]
        assert ends == ["patrol.start", "patrol.stop"] * starts[device_id]
    first = next(s for s in sent if s.message.event_kind == "patrol.start")
    assert first.message.data.volunteer.startswith("V") and first.message.data.team.startswith("T")
    total_s = sum(t.valid_s for t in plan.truths.values())
    assert 12 * 1800 * 0.5 < total_s < 12 * 3600


def test_offers_are_answered_by_share_and_the_same_way_whatever_the_order():
    policy = OfferPolicy(seed=5, accept_p=0.6, decline_p=0.3)
    offers = [OfferSent(f"V{i}-phone", f"I{i}", Place(31.7, 117.1), 100.0, (), 30.0) for i in range(1000)]
    answers = [policy.answer_offer(offer, 0.0) for offer in offers]
    assert answers == [policy.answer_offer(offer, 5.0) for offer in reversed(offers)][::-1]
    counts = Counter(answer for _, answer in answers)
    assert 540 < counts["accept"] < 660 and 240 < counts["decline"] < 360
    assert counts[None] == 1000 - counts["accept"] - counts["decline"] > 0
    assert all(3.0 <= delay <= 25.0 for delay, answer in answers if answer) and all(
        math.isinf(delay) for delay, answer in answers if answer is None)


def test_a_precinct_grid_covers_its_bounds_in_blocks_of_100_m():
    precinct = Precinct("P1", "P1", "P1-station", 31.7456, 117.1272, (31.6706, 117.0772, 31.8206, 117.1772))
    grid = StreetGrid.for_precinct(precinct)
    assert (grid.cols, grid.rows) == (94, 166)  # 9.47 km by 16.68 km
    lat, lon = grid.latlon(grid.cols * 100.0, grid.rows * 100.0)
    assert 31.8106 < lat <= 31.8206 and 117.1672 < lon <= 117.1772
    assert grid.nearest_corner(*grid.latlon(1234.0, 5678.0)) == (12, 57)
    assert grid.nearest_corner(40.0, 100.0) == (0, grid.rows)  # off the grid: its nearest edge


def test_without_noise_every_fix_lies_on_a_street_of_the_grid():
    walker = walk(6, config=WalkConfig(noise_m=0.0, silence_p=0.04))
    for fix in good_fixes(walker.sent):
        x = math.radians(fix.lon - GRID.lon0) * EARTH_RADIUS_M * math.cos(math.radians(GRID.lat0))
        y = math.radians(fix.lat - GRID.lat0) * EARTH_RADIUS_M
        assert min(abs(x - round(x / 100) * 100), abs(y - round(y / 100) * 100)) < 1e-3
        assert -1e-3 <= x <= GRID.cols * 100 + 1e-3 and -1e-3 <= y <= GRID.rows * 100 + 1e-3


def test_tips_carry_a_category_a_place_and_a_photo_reference():
    walker = walk(1)
    tips = [s.message.data for s in walker.sent if s.message.event_kind == "patrol.clue"]
    assert len(tips) == walker.truth.tips >= 3
    assert all(t.text and t.category and t.photo.startswith("photo://") and t.lat and t.lon for t in tips)
    assert len({t.photo for t in tips}) == len(tips)
