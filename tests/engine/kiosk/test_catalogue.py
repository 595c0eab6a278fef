"""The kiosk services' catalogue (engine/kiosk/catalogue.py, engine/kiosk/default_services.toml)."""

from __future__ import annotations

from importlib import resources

import pytest

from engine.errors import ConfigError
from engine.kiosk.catalogue import catalogue_from_text, load_catalogue

SHIPPED = resources.files("engine").joinpath("kiosk/default_services.toml").read_text(encoding="utf-8")
GOOD = """
[policy]
pass_mark = 90

[[categories]]
id = "household"
name = "Household registration"

[[services]]
id = "hh.move_in"
name = "Move in"
category = "household"
face_check = true
typical_s = 600
bookable = true
"""


def test_the_shipped_catalogue_has_32_services_in_3_categories():
    catalogue = load_catalogue()
    assert len(catalogue.services) == 32
    assert [c.name for c in catalogue.categories.values()] == ["Household registration", "Vehicles and drivers",
                                                               "Exit-entry"]
    assert all(services for services in catalogue.by_category().values())
    assert catalogue.policy.pass_mark == 90
    exams = [s for s in catalogue.services.values() if s.exam]
    assert [s.category for s in exams] == ["vehicles"] and exams[0].bookable
    assert any(not s.bookable for s in catalogue.services.values())
    assert any(not s.face_check for s in catalogue.services.values())


def test_a_good_file_loads():
    catalogue = catalogue_from_text(GOOD, file="k.toml")
    assert list(catalogue.services) == ["hh.move_in"] and catalogue.capacity(catalogue.services["hh.move_in"]) == 6


@pytest.mark.parametrize(("edit", "field", "reason", "line"), [
    (('category = "household"\nface', 'category = "nowhere"\nface'), "services[0].category", "unknown category", 12),
    (("typical_s = 600", 'typical_s = "long"'), "services[0].typical_s", "expected int", 14),
    (("bookable = true\n", ""), "services[0].bookable", "required field missing", 9),
    (("bookable = true\n", "bookable = true\ncolour = 1\n"), "services[0].colour", "unknown field", 16),
    (("pass_mark = 90", "pass_mark = 190"), "policy.pass_mark", "<= 100", 3),
])
def test_a_bad_file_is_refused_naming_file_line_and_field(edit, field, reason, line):
    with pytest.raises(ConfigError) as caught:
        catalogue_from_text(GOOD.replace(*edit, 1), file="k.toml")
    error = caught.value
    assert (error.file, error.field) == ("k.toml", field)
    assert reason in error.reason
    assert error.line == line


def test_a_service_listed_twice_is_refused():
    twice = GOOD + GOOD[GOOD.index("[[services]]"):]
    with pytest.raises(ConfigError) as caught:
        catalogue_from_text(twice, file="k.toml")
    assert caught.value.field == "services[1].id" and "listed twice" in caught.value.reason


def test_the_shipped_file_with_a_bad_field_is_refused_by_field():
    bad = SHIPPED.replace("face_check = true", "face_check = 3", 1)
    with pytest.raises(ConfigError) as caught:
        catalogue_from_text(bad, file="default_services.toml")
    assert caught.value.field == "services[0].face_check"
