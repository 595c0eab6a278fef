"""The city file's strict shape (engine.city_schema)."""

from __future__ import annotations

import msgspec
import pytest

from engine.city_schema import CityFile

MINIMAL = {"city": {"id": "t"}, "command_center": {"id": "CC"}, "precincts": [{"id": "P1", "station": "S1"}]}


def test_a_minimal_file_takes_the_defaults():
    raw = msgspec.convert(MINIMAL, CityFile)
    assert raw.command_center.name == "Command center" and raw.sites == [] and raw.devices == []


@pytest.mark.parametrize("change, path", [
    ({"city": {"id": "t", "nmae": "typo"}}, "$.city"),
    ({"command_center": {"id": "CC", "lat": 91.0}}, "$.command_center.lat"),
    ({"precincts": [{"id": "", "station": "S1"}]}, "$.precincts[0].id"),
    ({"devices": [{"id": "d", "kind": "toaster"}]}, "$.devices[0].kind"),
    ({"devices": [{"id": "d", "kind": "door", "heartbeat_s": 0}]}, "$.devices[0].heartbeat_s"),
])
def test_a_misspelt_key_or_a_value_out_of_range_is_refused_at_its_path(change, path):
    with pytest.raises(msgspec.ValidationError, match=r"\$\.") as caught:
        msgspec.convert({**MINIMAL, **change}, CityFile)
    assert path in str(caught.value)
