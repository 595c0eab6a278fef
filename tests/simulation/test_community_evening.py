"""The community evening: a ``[community]`` plan merged into a scenario's events with its ground truth, the simulated
phones, doors and visitors answering the engine's commands, the figures read from the hosts' counters, and the shipped
scenario (100 communities x 20 doors x 10 cameras) run in virtual time by ``redband simulate``."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest

from engine.errors import ConfigError
from simulation.community_notices import NOTICE_FIGURES, REFUSALS
from simulation.community_phones import CommunityDevices
from simulation.community_run import CommunitySide
from simulation.scenario import load_scenario
from simulation.scenario_community import FIGURES, community_figures, desk_figures, is_community_figure
from simulation.shipped import shipped
from tests.shared_ray import ray_env  # noqa: F401 - the session's Ray for the program to join

ROOT = Path(__file__).resolve().parents[2]

SMALL = """
name = "community"
duration_s = 4000
[city]
generate = {{ precincts = 1, communities = 3, schools = 0, kiosk_halls = 0, volunteers = 0, \
doors_per_community = 10, cameras_per_community = 3, residents_per_door = 2, seed = 4 }}
[community]
visits = 60
period_s = 3600
seed = 3
[community.answers]
unverified_tries = 1
[community.passes]
issued = 12
expired = 2
used_up = 2
wrong_door = 2
not_yet = 1
unknown = 2
[community.doors]
held_open = 1
held_short = 1
forced = 1
[community.throws]
episodes = 3
again = 1
other_facade = 1
{extra}
"""


def small(tmp_path, extra=""):
    path = tmp_path / "community.toml"
    path.write_text(SMALL.format(extra=extra))
    return load_scenario(path)


def test_the_plan_is_time_ordered_on_the_grid_with_each_devices_seqs_in_order_and_a_consistent_truth(tmp_path):
    s = small(tmp_path)
    plan, truth = s.community, s.community.truth
    assert [e.at_s for e in s.events] == sorted(e.at_s for e in s.events)
    assert all(e.at_s % 10 == 0 and e.message.ts == round(e.at_s * 1000) for e in s.events)
    seqs: dict[str, list[int]] = {}
    for e in s.events:
        seqs.setdefault(e.device_id, []).append(e.message.seq)
    assert all(v == list(range(1, len(v) + 1)) for v in seqs.values())
    kinds = Counter(e.message.event_kind.value for e in s.events)
    assert kinds["door.visitor"] == 60 and kinds["door.forced"] == 1 and kinds["door.opened"] == 4
    assert truth["calls"] + truth["calls.no_residents"] == 60
    assert truth["calls.opened"] + truth["calls.denied"] + truth["calls.missed"] == truth["calls"]
    # expired, wrong_door and not_yet never open; a used_up pass opens once before its second visitor is refused
    assert truth["passes.issued"] == 12 and truth["codes.opened"] == 12 - 2 - 2 - 1
    assert truth["throw_incidents"] == 3 + 1 + 1 and kinds["camera.throw"] == 5 + truth["throws_joined"]
    assert truth["doors_opened"] == truth["calls.opened"] + truth["codes.opened"]
    # the doors kept for alarms see no visitor, and a door serves one visitor at a time
    kept = {d.id for d in plan.kept}
    visits = [(v.door, v.at_s) for v in plan.visits.values()] + [
        (pv.door, pv.at_s) for p in plan.passes.values() for pv in p.visits]
    assert not kept & {door for door, _ in visits}
    by_door: dict[str, list[float]] = {}
    for door, at_s in visits:
        by_door.setdefault(door, []).append(at_s)
    assert all(b - a >= 150 for times in by_door.values() for a, b in zip(sorted(times), sorted(times)[1:]))
    # one unit's unverified resident tries to open and to issue a pass
    tried = [v for v in plan.visits.values() if v.unverified]
    assert len(tried) == 1 and tried[0].decisions and truth["answers.refused.unverified"] == 1
    assert not s.city.residents[tried[0].unverified.removesuffix("-phone")].verified


@pytest.mark.parametrize("extra, key, reason", [
    ("[[expect_figures]]\nname = 'x'\nfigure = 'calls.opened'", "expect_figures[0].equals", "exactly one"),
    ("[[expect_figures]]\nname = 'x'\nfigure = 'calls.ringing'\nequals = 1", "expect_figures[0].figure",
     "unknown figure"),
])
def test_a_wrong_community_figure_names_its_key(tmp_path, extra, key, reason):
    with pytest.raises(ConfigError) as err:
        small(tmp_path, extra)
    assert key in str(err.value) and reason in str(err.value)


@pytest.mark.parametrize("old, new, key", [
    ("[community.answers]\n", "[community.answers]\ndelay_s = [3, 55]\n", "community.answers.delay_s"),
    ("episodes = 3\n", "episodes = 3\ngap_s = [60, 700]\n", "community.throws.gap_s"),
    ("held_open = 1\n", "held_open = 1\nheld_open_s = 100\n", "community.doors.held_open_s"),
    ("issued = 12\n", "issued = 6\n", "community.passes.issued"),
    ("other_facade = 1\n", "other_facade = 1\n[community.notices]\nwhole = 1\ntargets = 11\n",
     "community.notices.targets"),
])
def test_a_wrong_community_table_names_its_key(tmp_path, old, new, key):
    path = tmp_path / "bad.toml"
    path.write_text(SMALL.format(extra="").replace(old, new))
    with pytest.raises(ConfigError) as err:
        load_scenario(path)
    assert key in str(err.value)


def cmd(device, command, **args):
    return SimpleNamespace(device_id=device, command=command, args=args)


def test_phones_answer_in_order_withdraw_when_told_doors_open_and_close_and_visitors_type_codes(tmp_path):
    s = small(tmp_path)
    plan = s.community
    devices = CommunityDevices(plan)
    visit = next(v for v in plan.visits.values() if v.unverified)
    snapshot = next(k for k, v in plan.visits.items() if v is visit)
    rung = [cmd(d.phone, "visitor_call", call="D#call@1", snapshot=snapshot, door=visit.door) for d in visit.decisions]
    replies = devices.commands(rung, visit.at_s)
    assert replies[0].device_id == visit.unverified and replies[0].data == {"call": "D#call@1", "answer": "open"}
    answering = sorted((d for d in visit.decisions if d.answer), key=lambda d: d.delay_s)
    assert [r.device_id for r in replies[1:]] == [d.phone for d in answering]
    assert all(r.at_s % 10 == 0 and visit.at_s < r.at_s < visit.at_s + 60 for r in replies)
    if answering:  # another phone answered first: this one's answer still to come is withdrawn
        devices.commands([cmd(answering[0].phone, "visitor_call.answered", call="D#call@1", by="x")], visit.at_s)
        assert replies[1].cancelled == (replies[1].at_s > visit.at_s)
    opened = devices.commands([cmd(visit.door, "open_door", by="r1", call="D#call@1")], 100.0)
    assert [(r.at_s, r.kind.value, r.data["open"]) for r in opened] == [(110.0, "door.opened", True),
                                                                       (120.0, "door.opened", False)]
    (phone, request), pass_plan = next(iter(plan.passes.items()))
    typed = devices.commands([cmd(phone, "visitor_pass.issued", request=request, code="123456")], 0.0)
    assert [(r.at_s, r.device_id, r.data) for r in typed] == [(v.at_s, v.door, {"code": "123456"})
                                                               for v in pass_plan.visits]
    assert devices.commands([cmd(phone, "visitor_pass.issued", request=request, code="123456")], 0.0) == []
    devices.commands([cmd(visit.door, "door.code.refused", code="1", reason="expired")], 0.0)
    assert devices.tally["code_refused.expired"] == 1 and devices.tally["opened_by_call"] == 1


def test_the_run_hands_the_engines_commands_to_the_devices_once_a_step_after_the_delivery(tmp_path):
    s = small(tmp_path)
    visit = next(v for v in s.community.visits.values() if any(d.answer for d in v.decisions))
    snapshot = next(k for k, v in s.community.visits.items() if v is visit)

    class Engine:
        taken = 0

        def take_device_commands(self):
            self.taken += 1
            return [cmd(d.phone, "visitor_call", call="C#1", snapshot=snapshot) for d in visit.decisions]

    engine, pushed = Engine(), []
    side = CommunitySide.of(s, engine, push=lambda at_s, item: pushed.append((at_s, item)))
    side.turn(visit.at_s)  # after the engine's clock moved: the events due now are not in yet
    assert engine.taken == 0 and pushed == []
    side.turn(visit.at_s)  # after they were delivered
    assert engine.taken == 1 and pushed and all(item.kind.value == "visitor.answer" for _, item in pushed)
    assert side.observed() == s.community.truth and CommunitySide.of(s, None, push=print) is None


def test_desk_figures_per_site_grid_and_in_all_are_named_and_read_from_the_rows():
    assert is_community_figure("desk.throws") and is_community_figure("grid.P1-north-east-grid.missed_calls")
    assert is_community_figure("site.C0001.visitor_calls") and not is_community_figure("site.C0001.calls")
    assert not is_community_figure("community.C0001.registered")  # a patrol figure per community
    row = SimpleNamespace(id="C1", visitor_calls=3, missed_calls=1, doors_held_open=0, doors_forced=1, throws=2)
    grid = SimpleNamespace(**{**vars(row), "id": "P1-north-east-grid"})
    seen = desk_figures([row, SimpleNamespace(**{**vars(row), "id": "C2"})], [grid])
    assert seen["desk.visitor_calls"] == 6 and seen["site.C2.throws"] == 2
    assert seen["grid.P1-north-east-grid.doors_forced"] == 1
    assert seen["desk.notices"] == 0 and is_community_figure("site.C0001.notices")  # rows without a notice board
    seen = desk_figures([SimpleNamespace(**{**vars(row), "notices": 2})], [])
    assert seen["desk.notices"] == seen["site.C1.notices"] == 2


def test_figures_come_from_the_hosts_community_counters_and_the_incidents_raised():
    stats = [SimpleNamespace(community={"calls": 3, "opened": 2, "code_opened": 1, "refused_unverified": 1}),
             SimpleNamespace(community={"calls": 2, "missed": 1, "code_expired": 4, "throws_joined": 2})]
    rows = [SimpleNamespace(kind="door.held_open", event="raised"), SimpleNamespace(kind="door.held_open",
                                                                                    event="notified"),
            SimpleNamespace(kind="door.forced", event="raised")]
    seen = community_figures(stats, rows)
    assert set(seen) == set(FIGURES)
    assert (seen["calls"], seen["calls.opened"], seen["calls.missed"], seen["doors_opened"]) == (5, 2, 1, 3)
    assert seen["answers.refused.unverified"] == 1 and seen["codes.refused.expired"] == 4
    assert (seen["held_open_incidents"], seen["forced_incidents"], seen["throws_joined"]) == (1, 1, 2)


@pytest.mark.ray
def test_community_evening_calls_passes_doors_and_thrown_objects_add_up_to_the_plan(ray_env):
    path = shipped("scenarios/community_evening.toml")
    city = tomllib.loads(path.read_text())["city"]["generate"]  # the plan's truth comes back in the run's details
    assert (city["communities"], city["doors_per_community"], city["cameras_per_community"]) == (100, 20, 10)
    done = subprocess.run([sys.executable, "-m", "redband", "simulate", str(path), "--json"], capture_output=True,
                          text=True, timeout=300, cwd=ROOT, env=ray_env)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert done.returncode == 0 and result["passed"], [e for e in result["expectations"] if not e["passed"]]
    seen, truth = {}, {}
    for e in result["expectations"]:
        if m := re.fullmatch(r"(\S+) = ([\d.]+); expected (ground truth )?([\d.]+)", e["detail"]):
            seen[m[1]], truth[m[1]] = float(m[2]), float(m[4])
    assert set(FIGURES) <= set(seen) and seen == truth
    assert truth["desk.visitor_calls"] == truth["calls"] and truth["desk.missed_calls"] == truth["calls.missed"]
    assert truth["desk.throws"] == truth["throw_incidents"] + truth["throws_joined"]
    assert truth["calls"] > 5000 and min(truth[f"calls.{o}"] for o in ("opened", "denied", "missed")) > 100
    assert truth["calls.no_residents"] > 0 and truth["answers.refused.answered"] > 0
    assert (truth["throw_incidents"], truth["held_open_incidents"], truth["forced_incidents"]) == (16, 6, 4)
    assert truth["throws_joined"] > 0 and truth["answers.refused.unverified"] == 5
    # every refusal in the run is one the plan meant: unverified (answer, pass), a second answer in the winner's step
    reasons = Counter(re.sub(r"answered already by .*", "answered already", r.partition(": ")[2])
                      for r in result["refusals"] if "data.notice" not in r)
    astray = [r for r in result["refusals"] if "data.notice" in r]  # the one faulty door screen's receipt
    assert len(astray) == 1 and re.fullmatch(r"C\d+-door\d+ seq \d+: data.notice: notice 'n-buildings-1' is not "
                                             r"for building '\d+'", astray[0]), astray
    assert reasons == {"data.call: unverified resident: may not answer or open": 5,
                       "data.request: only a verified resident's phone may issue passes": 5,
                       "data.call: answered already": truth["answers.refused.answered"],
                       "data.call: no visitor call of this id is ringing (never rung, or ended)":
                           truth["answers.refused.unknown_call"]}
    assert result["lost"] == 0 and result["events_sent"] > 60_000
    # one thrown-object incident per camera facade and episode; the repeats joined it
    throws = {row["incident"] for row in result["timeline"] if row["kind"] == "camera.throw"}
    assert len(throws) == 16
    assert result["metrics"]["checker"]["lost"] == result["metrics"]["checker"]["duplicated"] == 0
    notes = "\n".join(result["notes"])
    assert "community figures" in notes and f"opened {truth['calls.opened']:,.0f}" in notes
    assert ("property desk: 10 passes issued (IssueVisitorPass), 10 of their codes told to the resident's phone; "
            "refused: none") in notes
    # the desk's rows per grid (CommunityFiguresQuery of every host) add up to every call of the evening
    grids = [line.split() for line in result["notes"] if re.match(r"  P\d-(north|south)-", line)]
    assert len(grids) == 24 and sum(int(g[1]) for g in grids) == 100
    assert sum(int(g[2].replace(",", "")) for g in grids) == truth["calls"]
    # notices: posted through the desk, refused by name, each shown at exactly the door screens it targets
    assert set(NOTICE_FIGURES) - {f"notices.refused.{r}" for r in REFUSALS} <= set(seen)
    assert (truth["notices.posted"], truth["notices.active"], truth["notices.expired"], truth["notices.withdrawn"],
            truth["notices.as_planned"]) == (10, 8, 1, 1, 10) and truth["notices.receipts"] == 4 * 20 + 6 * 3
    assert ("notices: posted 10, active 8, scheduled 0, expired 1, withdrawn 1, receipts 98; refused: "
            "window_past 1, unknown_building 1; receipts refused 1") in notes
    assert "notices at the desk (NoticeList): listed 10, as_planned 10, shown_outside 0" in notes
    assert truth["desk.notices"] == truth["notices.active"] and truth["site.C0067.notices"] == 2
    assert re.search(r"notice desk refusals: n-unknown-building-1: unknown_building \(buildings: no building "
                     r"'C\d+-no-such-building' in C\d+\); n-window-past-1: window_past \(valid_until_s: ", notes)
    assert "unexpected" not in notes and "boards_cleared 2" in notes
    assert "notices_shown 98, notices_shown_astray 1" in notes
