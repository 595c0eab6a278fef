"""Through the real gateway: the command center hands an incident it holds back down and the station may then end
it; and a flood of forged tokens is audited as its first rows, not as a row each."""

from __future__ import annotations

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from engine.audit_limit import RefusalLimiter
from protocols.console import Auth, AuditQuery, AuditRows, Command, Result, decode_server, encode
from protocols.kinds import IncidentState, Level, TimelineEvent
from protocols.records import Action
from tests.console.test_gateway import changed, panic, session

pytestmark = pytest.mark.ray


def result(client, n: int) -> Result:
    return client.until(lambda m: isinstance(m, Result) and m.id == n, what=f"result {n}")


def test_the_command_center_hands_back_and_the_station_ends_it(console):
    p1, cc = session(console, "p1"), session(console, "cc")
    incident = panic(console, "P1")
    cc.until(changed(incident), what="the panic")
    cc.send(Command(1, Action.ACKNOWLEDGE, incident))
    assert result(cc, 1).ok
    p1.send(Command(2, Action.CANCEL, incident, disposition="we have it"))
    refused = result(p1, 2)
    assert (refused.ok, refused.code) == (False, "NotAuthorized") and "held at command_center" in refused.error
    cc.send(Command(3, Action.HAND_BACK, incident, to_level=Level.POLICE_STATION))
    no_reason = result(cc, 3)
    assert not no_reason.ok and "needs a reason" in no_reason.error
    p1.send(Command(4, Action.HAND_BACK, incident, to_level=Level.GUARD_ROOM, note="mine to give"))
    assert result(p1, 4).code == "NotAuthorized"
    cc.send(Command(5, Action.HAND_BACK, incident, to_level=Level.POLICE_STATION, note="station units on scene"))
    assert result(cc, 5).ok
    handed = p1.until(lambda m: changed(incident)(m) and any(e.event == TimelineEvent.HANDED_BACK
                                                             for e in m.incident.timeline), what="handed back").incident
    line = next(e for e in handed.timeline if e.event == TimelineEvent.HANDED_BACK)
    assert (line.level, line.target, line.actor, line.note) == (Level.POLICE_STATION, "P1-station", "cc",
                                                                "station units on scene")
    assert handed.level == Level.POLICE_STATION and Level.GUARD_ROOM not in handed.may_end
    assert Level.POLICE_STATION in handed.may_end
    p1.send(Command(6, Action.CANCEL, incident, disposition="handled by the station"))
    assert result(p1, 6).ok
    assert cc.until(changed(incident, state=IncidentState.CANCELLED), what="cancelled").incident.disposition == \
        "handled by the station"


def test_a_flood_of_forged_tokens_writes_the_first_rows_only(console):
    # an allowance of 20 in a window that cannot end during the test (the shipped one: 100 a minute)
    console.gateway.refusals = RefusalLimiter(per_window=20, window_s=1e9)
    for n in range(40):
        with connect(console.ws, open_timeout=10) as ws:
            ws.send(encode(Auth(f"forged{n}.c2lnbmF0dXJl")))
            try:
                decode_server(ws.recv(timeout=10))
                ws.recv(timeout=10)
            except ConnectionClosed:
                pass
    cc = session(console, "cc")
    cc.send(AuditQuery(limit=500, action="auth", outcome="refused"))
    rows = cc.until(lambda m: isinstance(m, AuditRows), what="the audit rows").rows
    assert len(rows) == 20
    assert all("bad token signature" in r.reason or "malformed" in r.reason for r in rows)
