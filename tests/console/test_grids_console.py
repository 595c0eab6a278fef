"""Grid workers, figures per community and grid, and a remote door open, through the console gateway (real
WebSockets, an engine on Ray): a grid worker sees and acts on its grid only; community_figures is scoped by the
operator's jurisdiction; open_door is refused by name (reason, not a door, out of jurisdiction, unknown) and the
accepted one is audited by the door's host with the operator, role, scope and reason."""

from __future__ import annotations

import pytest

from engine.grids import grid_of, grids
from engine.operators import Role, load_operators
from protocols.batch import Ingest
from protocols.console import AuditQuery, AuditRows, Command, Error, IncidentChanged, Result
from protocols.console_community import CommunityFigures, CommunityFiguresRequest, OpenDoor
from protocols.console_points import PointsQuery
from protocols.device import make_message
from protocols.records import Action
from redband.files import add_operator
from tests.console.conftest import PASSWORD
from tests.console.test_gateway import session

pytestmark = pytest.mark.ray


def _raise(console, device: str, kind: str, seq: int) -> str:
    result = console.engine.ingest([Ingest(device, make_message(kind, seq=seq, ts=seq))])
    return result.acks[0].incident_id


def _result(client, request_id: int) -> Result:
    return client.until(lambda m: isinstance(m, Result) and m.id == request_id, what=f"result {request_id}")


def _answer(client, kind):
    client.received.clear()
    return client.until(lambda m: isinstance(m, (kind, Error)), what=kind.__name__)


def test_a_grid_worker_sees_figures_and_opens_doors_of_its_grid_only(console):
    city = console.city
    door = next(d for d in sorted(city.devices.values(), key=lambda d: d.id) if d.kind.value == "door")
    camera = next(d.id for d in city.devices.values() if d.site_id == door.site_id and d.kind.value == "camera")
    grid = grid_of(city.sites[door.site_id])
    mine = grids(city)[grid].site_ids
    outside = next(d for d in sorted(city.devices.values(), key=lambda d: d.id)
                   if d.kind.value in ("door", "panic_box") and d.site_id not in mine)
    add_operator(console.users, name="gw", role=Role.GRID_WORKER, scope=grid, password=PASSWORD, city=city)
    console.gateway.operators.update(load_operators(console.users, city=city))  # read at each login
    gw = session(console, "gw")
    welcome = next(m for m in gw.received if type(m).__name__ == "Welcome")
    assert welcome.role == "grid_worker" and welcome.scope == grid
    assert {s.id for s in welcome.map.sites} == mine and {s.grid for s in welcome.map.sites} == {grid}

    # incidents: the grid's reach the grid worker, another grid's never do
    away = _raise(console, outside.id, "door.forced" if outside.kind.value == "door" else "school.panic", 1)
    inside = _raise(console, door.id, "door.forced", 1)
    gw.until(lambda m: isinstance(m, IncidentChanged) and m.incident.id == inside, what="its grid's incident")
    assert not any(isinstance(m, IncidentChanged) and m.incident.id == away for m in gw.received)
    gw.send(Command(1, Action.CLOSE, inside))
    assert _result(gw, 1).code == "NotAuthorized"
    gw.send(Command(2, Action.ACKNOWLEDGE, inside, note="on my way"))
    assert _result(gw, 2).ok  # for the guard room of the door's site
    gw.send(Command(3, Action.ACKNOWLEDGE, away))
    assert _result(gw, 3).code == "OutOfJurisdiction"
    gw.send(PointsQuery("shops"))
    assert _answer(gw, CommunityFigures).reason == "points: the command center's and the stations' only"

    # figures: its grid's communities and the grid's row; another grid or site refused by name
    gw.send(CommunityFiguresRequest())
    figures = _answer(gw, CommunityFigures)
    assert isinstance(figures, CommunityFigures), figures
    assert {r.id for r in figures.communities} == mine and [g.id for g in figures.grids] == [grid]
    row = next(r for r in figures.communities if r.id == door.site_id)
    assert row.alarms == 1 and row.doors_forced == 1 and row.alarms_by_group == {"doors": 1}
    assert figures.grids[0].alarms == sum(r.alarms for r in figures.communities)
    gw.send(CommunityFiguresRequest(site=outside.site_id))
    assert _answer(gw, CommunityFigures).reason == (
        f"community_figures.site: site {outside.site_id!r} is not in your jurisdiction")
    gw.send(CommunityFiguresRequest(grid="no-such-grid"))
    assert _answer(gw, CommunityFigures).reason == "community_figures.grid: no grid 'no-such-grid'"
    cc = session(console, "cc")
    cc.send(CommunityFiguresRequest())
    every = _answer(cc, CommunityFigures)
    assert {r.id for r in every.communities} == set(city.sites) and len(every.grids) == len(grids(city))
    assert next(r for r in every.communities if r.id == outside.site_id).alarms == 1

    # remote open: refusals named, the accepted one audited by the door's host
    for request_id, (device, reason, code) in enumerate((
            (door.id, "", "BadReason"), (door.id, "   ", "BadReason"), (door.id, "x" * 201, "BadReason"),
            (camera, "courier", "NotADoor"), ("no-such-door", "courier", "UnknownDevice"),
            (outside.id if outside.kind.value == "door" else outside.id, "courier",
             "OutOfJurisdiction" if outside.kind.value == "door" else "NotADoor")), start=10):
        gw.send(OpenDoor(request_id, device, reason))
        result = _result(gw, request_id)
        assert (result.ok, result.code) == (False, code), result
        assert result.error.split(":")[0] in ("reason", "door")
    gw.send(OpenDoor(20, door.id, "  parcel courier, resident called  "))
    assert _result(gw, 20).ok
    cc.send(AuditQuery(limit=100))
    rows = cc.until(lambda m: isinstance(m, AuditRows), what="the audit rows").rows
    opened = [r for r in rows if r.action == "device.command" and r.target == door.id]
    assert [(r.actor, r.role, r.scope, r.reason) for r in opened] == [
        ("gw", "grid_worker", grid, "open_door: parcel courier, resident called")]
    refused = [r.reason for r in rows if r.action == "open_door" and r.outcome == "refused" and r.actor == "gw"]
    assert "reason: required (why the door is opened, for the audit)" in refused
    assert f"door: {camera!r} is a camera, not a door" in refused
