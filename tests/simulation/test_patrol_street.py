"""The patrol street scenario: a ``[patrols]`` plan merged into a scenario's events with its ground truth,
``[[expect_figures]]`` validated and checked, and the shipped scenario run in virtual time against the engine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.errors import ConfigError
from engine.hosting.stats import HostStats
from simulation.scenario import load_scenario
from simulation.scenario_patrols import ExpectFigure, PatrolTruth, check_figures, summed_figures
from simulation.shipped import shipped

ROOT = Path(__file__).resolve().parents[2]

SMALL = """
name = "patrols"
duration_s = 4000
[city]
generate = {{ precincts = 1, communities = 1, schools = 1, kiosk_halls = 1, volunteers = 6, seed = 3 }}
[patrols]
count = 4
period_s = 3600
seed = 2
duration_s = [600, 900]
deliver_every_s = {every}
{extra}
"""


def small(tmp_path, *, every=0, extra=""):
    path = tmp_path / "patrols.toml"
    path.write_text(SMALL.format(every=every, extra=extra))
    return load_scenario(path)


def test_the_plan_becomes_time_ordered_events_with_its_ground_truth(tmp_path):
    s = small(tmp_path)
    truth = s.patrol_truth
    assert truth.patrols == 4 and truth.valid_s > 0 and truth.good_fixes > 0
    assert [e.at_s for e in s.events] == sorted(e.at_s for e in s.events)
    starts = [e for e in s.events if e.message.event_kind.value == "patrol.start"]
    stops = [e for e in s.events if e.message.event_kind.value == "patrol.stop"]
    assert len(starts) == len(stops) == 4
    assert set(truth.bad_by_reason) == {"too_fast", "inaccurate", "duplicate", "zero", "future"}
    # undelayed: each message is delivered at its own stamp (a future fix is stamped ahead of it)
    assert all(e.message.ts >= int(e.at_s * 1000) - 1 for e in s.events)


def test_batched_delivery_keeps_each_stamp_and_delays_by_less_than_the_step(tmp_path):
    own, batched = small(tmp_path).events, small(tmp_path, every=10).events
    assert [e.message for e in own] == [e.message for e in batched]
    assert all(e.at_s % 10 == 0 for e in batched)
    assert all(0 <= b.at_s - a.at_s < 10 for a, b in zip(own, batched))


@pytest.mark.parametrize("extra, key, reason", [
    ("[[expect_figures]]\nname = 'x'\nfigure = 'patrol_minutes'\nequals = 1", "expect_figures[0].figure",
     "unknown figure"),
    ("[[expect_figures]]\nname = 'x'\nfigure = 'patrols_ended'", "expect_figures[0].equals", "exactly one"),
])
def test_a_wrong_figure_expectation_names_its_key(tmp_path, extra, key, reason):
    with pytest.raises(ConfigError) as err:
        small(tmp_path, extra=extra)
    assert key in str(err.value) and reason in str(err.value)


def test_patrols_need_lo_not_above_hi_and_truth_needs_a_plan(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(SMALL.format(every=0, extra="").replace("[600, 900]", "[900, 600]"))
    with pytest.raises(ConfigError, match=r"patrols\.duration_s"):
        load_scenario(path)
    path.write_text(SMALL.format(every=0, extra="").split("[patrols]")[0]
                    + "[[expect_figures]]\nname = 'x'\nfigure = 'patrols_ended'\ntruth = true\n")
    with pytest.raises(ConfigError, match=r"expect_figures\[0\]\.truth"):
        load_scenario(path)


def stats(host, ended, valid_s, by_reason):
    return HostStats(host, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, patrols_ended=ended, patrol_valid_s=valid_s,
                     fixes_kept=10, fixes_discarded=sum(by_reason.values()), fixes_discarded_by_reason=by_reason)


def test_figures_are_summed_over_hosts_and_checked_within_tolerance():
    seen = summed_figures([stats("h1", 2, 3600.0, {"zero": 1}), stats("h2", 1, 1800.0, {"zero": 2, "future": 1})])
    assert seen["patrols_ended"] == 3 and seen["patrol_valid_hours"] == 1.5
    assert seen["fixes_discarded.zero"] == 3 and seen["fixes_discarded.future"] == 1 and seen["fixes_discarded"] == 4
    truth = PatrolTruth(3, 1.49 * 3600, 20, {"zero": 3, "future": 2})
    results = check_figures([ExpectFigure("ended", "patrols_ended", equals=3),
                             ExpectFigure("hours", "patrol_valid_hours", truth=True, tolerance_pct=1.0),
                             ExpectFigure("hours tight", "patrol_valid_hours", truth=True, tolerance_pct=0.1),
                             ExpectFigure("zero", "fixes_discarded.zero", truth=True),
                             ExpectFigure("future", "fixes_discarded.future", truth=True)], seen, truth)
    assert [r.passed for r in results] == [True, True, False, True, False]
    assert "expected ground truth 2" in results[4].detail
    assert not check_figures([ExpectFigure("ended", "patrols_ended", equals=3)], None, truth)[0].passed


@pytest.mark.ray
def test_patrol_street_counts_433_patrols_their_hours_and_every_bad_fix():
    s = load_scenario(shipped("scenarios/patrol_street.toml"))
    assert len(s.city.volunteers) == 2520 and s.patrol_truth.patrols == 433
    done = subprocess.run([sys.executable, "-m", "redband", "simulate", str(shipped("scenarios/patrol_street.toml")),
                           "--json"], capture_output=True, text=True, timeout=300, cwd=ROOT,
                          env={**os.environ, "RAY_AUTH_MODE": "disabled"})
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert done.returncode == 0 and result["passed"], result["expectations"]
    checked = {e["name"]: e["detail"] for e in result["expectations"]}
    assert checked["every patrol ended"] == "patrols_ended = 433; expected 433"
    assert "fixes_discarded.duplicate" in checked["duplicate fixes discarded"]
    assert result["lost"] == 0 and result["events_sent"] == len(s.events)
