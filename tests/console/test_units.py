"""The dispatch recommendation through the real gateway: the nearest volunteer on patrol for an incident, with its
distance, and why the others were not chosen; an incident outside the operator's jurisdiction is refused."""

from __future__ import annotations

import time

import pytest

from protocols.batch import Ingest
from protocols.console import Error, IncidentChanged, UnitsAnswer, UnitsQuery
from protocols.device import make_message
from tests.console.test_gateway import panic, session

pytestmark = pytest.mark.ray

M_LAT = 1 / 111_195.0


def on_patrol_near(console, device_id: str, precinct: str) -> str:
    """A volunteer phone of ``precinct`` starts a patrol 100 m north of the device."""
    phone = sorted(d.id for d in console.city.devices.values()
                   if d.kind == "volunteer_phone" and d.precinct_id == precinct)[0]
    near = console.city.devices[device_id]
    now_ms = int(time.time() * 1000)
    console.engine.ingest([
        Ingest(phone, make_message("patrol.start", seq=1, ts=now_ms)),
        Ingest(phone, make_message("patrol.position", seq=2, ts=now_ms,
                                   data={"lat": near.lat + 100 * M_LAT, "lon": near.lon, "accuracy_m": 5.0}))])
    return phone


def test_the_station_gets_the_nearest_volunteer_on_patrol_and_the_reasons_for_the_others(console):
    box = console.device_in("P1")
    phone = on_patrol_near(console, box, "P1")
    p1, p2 = session(console, "p1"), session(console, "p2")
    incident = panic(console, "P1")
    p1.until(lambda m: isinstance(m, IncidentChanged) and m.incident.id == incident, what="the panic")
    p1.send(UnitsQuery(incident))
    answer = p1.until(lambda m: isinstance(m, UnitsAnswer), what="the recommendation")
    # the P1 panic was offered to that phone at once, so it shows as offered, not chosen again
    assert [u.unit for u in answer.chosen] == [] and answer.counts.get("busy", 0) >= 1
    offered = next(u for u in answer.passed if u.unit == phone)
    assert (offered.state, offered.reason) == ("offered", "busy") and 90 <= offered.distance_m <= 110
    p2.send(UnitsQuery(incident))
    assert "not in your jurisdiction" in p2.until(lambda m: isinstance(m, Error), what="the refusal").reason
