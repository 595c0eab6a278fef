"""Points rules from TOML (engine.points_rules): the shipped defaults, a file over them, bad files refused by key."""

from __future__ import annotations

from importlib import resources

import pytest

from engine.errors import ConfigError
from engine.points_rules import (DEFAULT_POINTS_FILE, PointsRules, default_points_rules, load_points_rule_set,
                                 load_points_rules, points_rules_from_text)
from protocols.points import PointsReason


def test_the_shipped_rules_are_package_data_with_the_issue_s_values():
    assert resources.files("engine").joinpath(DEFAULT_POINTS_FILE).is_file()
    assert default_points_rules() == PointsRules(patrol_hour=10, tip_accepted=20, emergency_handled=50, sos_false=-10)
    assert load_points_rule_set(None) == default_points_rules()


def test_a_file_replaces_the_keys_it_names_and_keeps_the_rest(tmp_path):
    path = tmp_path / "points.toml"
    path.write_text("# a street office pays more for tips\ntip_accepted = 30\nsos_false = 0\n", encoding="utf-8")
    rules = load_points_rule_set(path)
    assert rules == PointsRules(patrol_hour=10, tip_accepted=30, emergency_handled=50, sos_false=0)


@pytest.mark.parametrize("valid_s, points", [(5400.0, 15), (3600.0, 10), (1200.0, 3), (359.0, 0), (0.0, 0),
                                             (5399.9999999, 15), (31_737_420.0, 88_159)])
def test_a_patrol_earns_whole_points_pro_rata_with_the_fraction_dropped(valid_s, points):
    assert PointsRules(patrol_hour=10).points_for(PointsReason.PATROL, valid_s=valid_s) == points


def test_the_event_rules_are_per_event():
    rules = PointsRules(tip_accepted=20, emergency_handled=50, sos_false=-10)
    assert rules.points_for(PointsReason.TIP_ACCEPTED) == 20
    assert rules.points_for(PointsReason.EMERGENCY_HANDLED) == 50
    assert rules.points_for(PointsReason.SOS_FALSE) == -10
    with pytest.raises(ValueError, match="redemption is not earned by a rule"):
        rules.points_for(PointsReason.REDEMPTION)


@pytest.mark.parametrize("text, line, key, reason", [
    ("patrol_hour = 1.5\n", 1, "patrol_hour", "expected int, got float"),
    ("patrol_hour = 10\ntip_accepted = -5\n", 2, "tip_accepted", "expected int >= 0"),
    ("patrol_hour = 10\n\nsos_false = 10\n", 3, "sos_false", "expected int <= 0"),
    ("emergency_handled = \"fifty\"\n", 1, "emergency_handled", "expected int, got str"),
    ("tip_accepted = 20\npatrol_hours = 10\n", 2, "patrol_hours", "unknown field"),
    ("patrol_hour = 100001\n", 1, "patrol_hour", "expected int <= 100000"),
])
def test_a_bad_rules_file_is_refused_naming_the_file_line_and_key(tmp_path, text, line, key, reason):
    path = tmp_path / "points.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_points_rules(path)
    assert (caught.value.file, caught.value.line, caught.value.field, caught.value.reason) == (str(path), line, key,
                                                                                              reason)
    assert str(caught.value) == f"{path}:{line}: {key}: {reason}"


def test_a_file_that_is_not_toml_or_not_there_is_refused_naming_it(tmp_path):
    with pytest.raises(ConfigError, match=r"^p\.toml:2: invalid TOML"):
        points_rules_from_text("patrol_hour = 10\ntip_accepted =\n", file="p.toml")
    with pytest.raises(ConfigError, match=r"missing\.toml: cannot read"):
        load_points_rules(tmp_path / "missing.toml")
