import pytest

from engine.owners import OwnerIndex
from protocols.kinds import IncidentKind, IncidentState, Level
from protocols.records import IncidentRecord


def _record(incident_id: str, host_id: str) -> IncidentRecord:
    return IncidentRecord(id=incident_id, kind=IncidentKind.DOOR_FORCED, device_id="d", site_id="s",
                          precinct_id="P1", host_id=host_id, priority=1, state=IncidentState.RAISED,
                          level=Level.GUARD_ROOM, raised_s=0.0)


def test_an_owner_is_remembered_from_the_record_not_parsed_from_the_id():
    owners = OwnerIndex(10)
    owners.learn(_record("P9-door#1", "h1"))  # the id names another precinct's device: the record says h1
    assert owners.owner("P9-door#1") == "h1"
    assert owners.owner("P9-door#2") is None


def test_the_index_is_bounded_and_drops_the_least_recently_used():
    owners = OwnerIndex(2)
    owners.remember("a", "h1")
    owners.remember("b", "h2")
    assert owners.owner("a") == "h1"  # a is now the most recently used
    owners.remember("c", "h1")
    assert len(owners) == 2 and owners.owner("b") is None and owners.owner("a") == "h1"


def test_a_capacity_below_one_is_refused():
    with pytest.raises(ValueError, match="capacity"):
        OwnerIndex(0)
