"""The kiosk hall scenario: a ``[kiosks]`` plan (sessions by the catalogue's mix, bookings and their codes,
consumables, an SOS) merged into a scenario's events with its ground truth, ``kiosk.*`` figure expectations validated,
the run's kiosk users filling in the codes the engine gave, and the shipped scenario run in virtual time."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from engine.errors import ConfigError
from engine.kiosk.catalogue import default_catalogue
from engine.hosting.stats import HostStats
from protocols.kiosk import KioskFiguresAnswer, KioskHealthAnswer, KioskQueueAnswer, KioskState, QueueRow
from simulation.kiosk_plan import MISTYPED
from simulation.kiosk_users import KioskSide
from simulation.report import TimelineRow
from simulation.scenario import load_scenario
from simulation.scenario_kiosk import seen_figures
from simulation.shipped import shipped
from tests.shared_ray import ray_env  # noqa: F401 - the session's Ray for the program to join

ROOT = Path(__file__).resolve().parents[2]

SMALL = """
name = "kiosks"
duration_s = {duration}
[city]
generate = {{ precincts = 1, communities = 0, schools = 0, kiosk_halls = 1, kiosks_per_hall = 3, volunteers = 40, seed = 2 }}
[kiosks]
sessions = 1200
days = 2
seed = 4
mix = {{ household = 0.5, vehicles = 0.5 }}
full_slots = 2
no_shows = 5
twice = 3
mistyped = 2
early = 1
paper_out_kiosk = 2
paper_out_after_s = 3600
sos_at_s = 86400
{extra}
"""


def small(tmp_path, *, extra="", duration=180000):
    path = tmp_path / "kiosks.toml"
    path.write_text(SMALL.format(extra=extra, duration=duration))
    return load_scenario(path)


def test_the_plan_becomes_time_ordered_events_with_seqs_in_order_and_its_ground_truth(tmp_path):
    s = small(tmp_path)
    plan, truth = s.kiosk_plan, s.kiosk_plan.truth.figures
    assert [e.at_s for e in s.events] == sorted(e.at_s for e in s.events) and all(e.at_s % 900 == 0 for e in s.events)
    seqs: dict[str, list[int]] = {}
    for e in s.events:  # each device's seqs rise with the delivery time (the engine never sees one late)
        seqs.setdefault(e.device_id, []).append(e.message.seq)
    assert all(v == sorted(v) and len(set(v)) == len(v) for v in seqs.values())
    kinds = Counter(e.message.event_kind.value for e in s.events)
    assert kinds["kiosk.session"] == truth["kiosk.sessions"] == 1200 and kinds["kiosk.sos"] == 1
    categories = {default_catalogue().services[e.message.data.service].category
                  for e in s.events if e.message.event_kind.value == "kiosk.session"}
    assert categories == {"household", "vehicles"}  # the mix leaves exit-entry out
    assert truth["kiosk.served"] == sum(v for k, v in truth.items() if k.startswith("kiosk.served_by_category."))
    assert truth["kiosk.sessions"] == sum(v for k, v in truth.items() if k.startswith("kiosk.outcome."))
    assert kinds["kiosk.book"] == len(plan.requests) == truth["kiosk.bookings"] + truth["kiosk.book_refused.overbooked"]
    assert truth["kiosk.book_refused.overbooked"] == 4 and truth["kiosk.code_refused.too_early"] == 1
    assert truth["kiosk.no_shows"] == truth["kiosk.bookings"] - truth["kiosk.codes_taken"] > 5
    assert truth["kiosk.code_refused.unknown"] >= 2 and truth["kiosk.tickets_raised"] == 1 == truth["kiosk.sos"]
    codes = [e for e in s.events if e.message.event_kind.value == "kiosk.code"]
    assert len(codes) == len(plan.typings) + 2 and sum(e.message.data.code == MISTYPED for e in codes) == 2
    assert plan.end_s <= 180000 and s.events[-1].at_s <= plan.end_s


def test_consumables_run_down_and_only_the_missed_round_opens_a_ticket(tmp_path):
    s = small(tmp_path)
    low = default_catalogue().policy.low
    reports = [(e.device_id, e.message.data) for e in s.events if e.message.event_kind.value == "kiosk.supplies"]
    paper_low = [(d, r.paper) for d, r in reports if r.paper is not None and r.paper <= low["paper"]]
    assert {d for d, _ in paper_low} == {"K0001-kiosk2"}
    assert not [r for _, r in reports if r.card is not None and r.card <= low["card"]]
    mine = [r.paper for d, r in reports if d == "K0001-kiosk2"]
    first = next(i for i, p in enumerate(mine) if p <= low["paper"])
    assert 100.0 in mine[first:]  # refilled once the technician came: the ticket is withdrawn


@pytest.mark.parametrize("extra, duration, key, reason", [
    ("hall = 'K0099'", 180000, "kiosks.hall", "no kiosk hall"),
    ("deliver_every_s = 700", 180000, "kiosks.deliver_every_s", "must divide"),
    ("", 3600, "duration_s", "last booked slot"),
    ("mix = { pets = 1.0 }", 180000, "kiosks.mix", "unknown categories"),
    ("[[expect_figures]]\nname = 'x'\nfigure = 'kiosk.queues'\nequals = 1", 180000, "expect_figures[0].figure",
     "unknown kiosk figure"),
    ("[[expect_figures]]\nname = 'x'\nfigure = 'kiosk.code_refused.used'", 180000, "expect_figures[0].equals",
     "exactly one"),
])
def test_a_wrong_kiosk_table_or_figure_names_its_key(tmp_path, extra, duration, key, reason):
    if extra.startswith("mix"):
        extra, text = "", SMALL.replace("mix = {{ household = 0.5, vehicles = 0.5 }}", "mix = {{ pets = 1.0 }}")
    else:
        text = SMALL
    path = tmp_path / "bad.toml"
    path.write_text(text.format(extra=extra, duration=duration))
    with pytest.raises(ConfigError) as err:
        load_scenario(path)
    assert key in str(err.value) and reason in str(err.value)


def test_too_many_sessions_for_the_period_are_refused_naming_sessions(tmp_path):
    path = tmp_path / "full.toml"
    path.write_text(SMALL.format(extra="", duration=180000).replace("sessions = 1200", "sessions = 9000"))
    with pytest.raises(ConfigError, match=r"kiosks\.sessions.*do not fit"):
        load_scenario(path)


class _Command:
    def __init__(self, device_id, command, args):
        self.device_id, self.command, self.args = device_id, command, args


class _Engine:
    def __init__(self, commands):
        self.commands = commands

    def take_device_commands(self):
        out, self.commands = self.commands, []
        return out


def test_the_users_type_the_code_the_engine_gave_their_booking(tmp_path):
    s = small(tmp_path)
    plan = s.kiosk_plan
    typing = plan.typings[0]
    request = plan.requests[typing.booking]
    booked = _Command(request.phone, "kiosk.booked", {"code": "55512345", "slot": request.slot,
                                                      "service": request.service, "hall": plan.hall})
    side = KioskSide(plan, _Engine([_Command("other", "siren", {}), booked]))
    placeholder = next(e.message for e in s.events if e.device_id == typing.kiosk and e.message.seq == typing.seq)
    assert placeholder.data.code == "0" and side.filled(typing.kiosk, placeholder).data.code == "0"
    assert side.unanswered == 1
    side.turn()  # no booking went out since: the commands are not read
    assert side.codes == {}
    booking = next(e.message for e in s.events if e.device_id == request.phone and e.message.seq == request.seq)
    assert side.filled(request.phone, booking) is booking
    side.turn()
    assert side.codes == {typing.booking: "55512345"}
    filled = side.filled(typing.kiosk, placeholder)
    assert filled.data.code == "55512345" and filled.seq == placeholder.seq


def test_the_engines_figures_are_read_by_name():
    answer = KioskFiguresAnswer(None, None, served=3, served_by_day={"1970-01-01": 3}, outcomes={"done": 3},
                                sessions=4, session_s=400.0, bookings=2, book_refused={"overbooked": 1},
                                code_refused={"used": 1})
    health = KioskHealthAnswer("K0001", [KioskState("k1", "Kiosk 1", True, 1.0), KioskState("k2", "", False, 1.0)])
    rows = [TimelineRow(1.0, "i1", "kiosk.fault", "raised", "maintenance", "m"),
            TimelineRow(2.0, "i1", "kiosk.fault", "cancelled", "maintenance", "system"),
            TimelineRow(3.0, "i2", "kiosk.sos", "raised", "police_station", "s")]
    queue = [KioskQueueAnswer("K0001", [QueueRow(1800, "ee.passport_first", 2, 1, 6)], more=2),
             KioskQueueAnswer("K0001", [])]
    stats = [HostStats(h, 0, 0, 0, 0, 0, 5, 0, 1, 0, 0, 0, 0) for h in ("h1", "h2")]
    seen = seen_figures(answer, health, rows, queue=queue, stats=stats)
    assert (seen["kiosk.queued_slots"], seen["kiosk.events_accepted"], seen["kiosk.events_refused"]) == (3, 10, 2)
    assert (seen["kiosk.average_session_s"], seen["kiosk.book_refused.overbooked"], seen["kiosk.online"]) == (
        100.0, 1.0, 1.0)
    assert seen["kiosk.served_by_day.1970-01-01"] == 3 and seen["kiosk.outcome.done"] == 3
    assert (seen["kiosk.tickets_raised"], seen["kiosk.tickets_withdrawn"], seen["kiosk.sos"]) == (1.0, 1.0, 1.0)


@pytest.mark.ray
def test_kiosk_hall_a_week_of_9000_sessions_bookings_a_paper_out_ticket_and_an_sos(ray_env):
    s = load_scenario(shipped("scenarios/kiosk_hall.toml"))
    assert len(s.kiosk_plan.kiosks) == 6 and s.kiosk_plan.truth.figures["kiosk.sessions"] == 9000
    done = subprocess.run([sys.executable, "-m", "redband", "simulate", str(shipped("scenarios/kiosk_hall.toml")),
                           "--json"], capture_output=True, text=True, timeout=300, cwd=ROOT,
                          env=ray_env)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert done.returncode == 0 and result["passed"], [e for e in result["expectations"] if not e["passed"]]
    checked = {e["name"]: e["detail"] for e in result["expectations"]}
    truth = s.kiosk_plan.truth.figures
    assert checked["9,000 sessions"] == "kiosk.sessions = 9000; expected 9000"
    assert checked["bookings refused as overbooked (2 per full slot)"] == "kiosk.book_refused.overbooked = 16; expected 16"
    assert checked["no-shows"] == f"kiosk.no_shows = {truth['kiosk.no_shows']:g}; expected ground truth " \
                                  f"{truth['kiosk.no_shows']:g}"
    assert checked["the ticket withdrawn after the refill"] == "kiosk.tickets_withdrawn = 1; expected 1"
    accepted = f"kiosk.events_accepted = {len(s.events)}; expected ground truth {len(s.events)}"
    assert checked["every message of the hall accepted by the host"] == accepted
    assert result["lost"] == 0 and result["events_sent"] == len(s.events) and not result["refusals"]
    # the report shows the hall's figures; every code typed had its booking's code
    assert any(n.startswith("kiosk hall: 9000 sessions") for n in result["notes"])
    assert not any("before their booking was answered" in n for n in result["notes"])
    fault = [r for r in result["timeline"] if r["kind"] == "kiosk.fault"]
    assert [r["event"] for r in fault if r["event"] in ("raised", "cancelled")] == ["raised", "cancelled"]
    sos = [r["event"] for r in result["timeline"] if r["kind"] == "kiosk.sos"]
    assert sos[:2] == ["raised", "notified"] and "closed" in sos


def test_the_html_report_shows_the_kiosk_figures_among_its_notes():
    from simulation.report import RunResult
    from simulation.report_html import _html

    result = RunResult("kiosks")
    result.notes += ["kiosk hall: 9000 sessions, 8455 served, average 351.8 s"]
    page = _html({"scenario": "kiosks", **result.to_json()}, result, [])
    assert "<th>note</th><td>kiosk hall: 9000 sessions, 8455 served" in page
