"""A remote door open (engine/remote_open.py): who may open which door, the reason's checks, and the host's audit row
with the operator, role, scope and reason; the door is told open_door {by, reason}."""

from __future__ import annotations

import pytest

from engine.errors import UnknownDevice
from engine.grids import grid_of
from engine.operators import Jurisdiction, Role
from engine.remote_open import remote_open_refusal
from tests.engine.helpers import Pair

DOOR, CAMERA = "C0001-door1", "C0001-cam1"


@pytest.fixture(scope="module")
def pair() -> Pair:
    return Pair()


def _code(pair: Pair, j: Jurisdiction, door: str = DOOR, reason: str = "courier") -> str | None:
    refusal = remote_open_refusal(pair.city, j, door, reason)
    return refusal[0].value if refusal is not None else None


def test_the_reason_is_required_not_blank_and_at_most_200_characters(pair):
    cc = Jurisdiction(Role.COMMAND_CENTER, "")
    assert remote_open_refusal(pair.city, cc, DOOR, "") == ("BadReason",
                                                            "reason: required (why the door is opened, for the audit)")
    assert _code(pair, cc, reason=" \t\n") == "BadReason"
    assert remote_open_refusal(pair.city, cc, DOOR, "x" * 201)[1] == "reason: too long (201 characters, at most 200)"
    assert _code(pair, cc, reason="  " + "x" * 200 + "  ") is None  # counted without the blanks around it
    assert _code(pair, cc, reason="") == "BadReason"  # before the door: nothing is said about an unknown one


def test_only_a_door_known_to_the_city_and_in_the_operators_jurisdiction(pair):
    city = pair.city
    site = city.sites[city.devices[DOOR].site_id]
    other_site = next(s for s in city.sites.values() if s.kind.value == "community" and s.id != site.id)
    other_door = next(d.id for d in city.devices.values() if d.site_id == other_site.id and d.kind.value == "door")
    cc = Jurisdiction(Role.COMMAND_CENTER, "")
    assert remote_open_refusal(city, cc, "ghost", "courier") == ("UnknownDevice", "door: no device 'ghost'")
    assert remote_open_refusal(city, cc, CAMERA, "courier") == ("NotADoor", f"door: {CAMERA!r} is a camera, not a door")
    guard = Jurisdiction(Role.GUARD_ROOM, site.id)
    assert _code(pair, guard) is None
    assert remote_open_refusal(city, guard, other_door, "courier") == (
        "OutOfJurisdiction", f"door: {other_door!r} is not in your jurisdiction")
    assert _code(pair, Jurisdiction(Role.STATION, site.precinct_id)) is None
    assert _code(pair, Jurisdiction(Role.STATION, "P9")) == "OutOfJurisdiction"
    worker = Jurisdiction.of(city, Role.GRID_WORKER, grid_of(site))
    assert _code(pair, worker) is None
    assert _code(pair, worker, other_door) == (None if grid_of(other_site) == grid_of(site) else "OutOfJurisdiction")
    assert _code(pair, Jurisdiction.of(city, Role.GRID_WORKER, "no-grid")) == "OutOfJurisdiction"
    assert _code(pair, cc, other_door) is None


def test_the_host_audits_the_operator_role_scope_and_reason_and_tells_the_door():
    pair = Pair()
    pair.host.command_device(DOOR, "open_door", {"by": "gate-guard", "reason": "courier"}, actor="gate-guard",
                             now_s=5.0, role="guard_room", scope="C0001", reason="courier")
    sent = [(c.device_id, c.command, c.args) for c in pair.host.take_device_commands()]
    assert sent == [(DOOR, "open_door", {"by": "gate-guard", "reason": "courier"})]
    rows = [r for r in pair.journal.audit_rows() if r.action == "device.command"]
    assert [(r.t_s, r.actor, r.role, r.scope, r.target, r.outcome, r.reason) for r in rows] == [
        (5.0, "gate-guard", "guard_room", "C0001", DOOR, "ok", "open_door: courier")]
    with pytest.raises(UnknownDevice):
        pair.host.command_device("ghost", "open_door", {}, actor="gate-guard", now_s=6.0, role="guard_room",
                                 scope="C0001", reason="courier")


def test_an_operator_opening_doors_in_a_loop_is_refused_past_twenty_a_minute_by_name(pair):
    """A stolen guard-room session or a stuck script: each open is a host call, an audit row and a door command."""
    import asyncio
    from types import SimpleNamespace

    from actors.gateway_doors import GatewayDoors
    from protocols.console_community import OpenDoor

    now, opened, audited = [100.0], [], []

    async def audit(*row):
        audited.append(row)

    engine = SimpleNamespace(command_device=lambda door, *args, **kw: opened.append(door))
    doors = GatewayDoors(engine, pair.city, audit, clock=lambda: now[0])
    guard = SimpleNamespace(claims=SimpleNamespace(operator="gate-guard"),
                            jurisdiction=Jurisdiction(Role.GUARD_ROOM, pair.city.devices[DOOR].site_id))
    async def opens(n: int, operator=guard) -> list:
        return [await doors.open_door(operator, OpenDoor(i, DOOR, "courier")) for i in range(n)]

    results = asyncio.run(opens(21))
    assert all(r.ok for r in results[:20]) and len(opened) == 20
    assert (results[20].ok, results[20].code) == (False, "TooMany")
    assert results[20].error == "door: at most 20 remote opens in 60 s by one operator; try again in 60 s"
    assert audited[-1][4:6] == (DOOR, "refused") and len(opened) == 20  # audited (bounded), never asked of the host
    cc = SimpleNamespace(claims=SimpleNamespace(operator="cc"), jurisdiction=Jurisdiction(Role.COMMAND_CENTER, ""))
    assert asyncio.run(opens(1, cc))[0].ok  # per operator
    now[0] += 60.0
    assert asyncio.run(opens(1))[0].ok
