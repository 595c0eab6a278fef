"""Patrol positions (engine.hosting.patrol)."""

from __future__ import annotations

from engine.entities import DeviceEntity
from engine.hosting.patrol import track_position
from protocols.device import make_message
from tests.engine.host_parts import HOST_CITY


def test_a_patrol_phone_is_where_it_last_said_it_was():
    phone = DeviceEntity(next(d for d in HOST_CITY.devices.values() if d.kind == "volunteer_phone"))
    assert phone.position is None
    track_position(phone, make_message("patrol.position", seq=1, ts=0, data={"lat": 31.8, "lon": 117.2}), 0.0)
    track_position(phone, make_message("patrol.position", seq=2, ts=0, data={"lat": 31.9, "lon": 117.3}), 1.0)
    assert phone.position == (31.9, 117.3)
