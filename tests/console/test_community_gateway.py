"""The console's site views through the gateway (actors/gateway_sites.py): a community and a kiosk hall answered
for the operators who see them, refused by name for the others; a visitor call shows open, then among the recent
with its outcome; a notice command outside the operator's jurisdiction, or one the engine refuses, is refused naming
the field and audited."""

from __future__ import annotations

import pytest

from protocols.console import Error
from protocols.console_sites import (CommunityQuery, CommunityView, KioskHallQuery, KioskHallView, NoticeResult,
                                     PostNoticeCommand)
from tests.console.sites_helpers import COMMUNITY, HALL, OTHER_COMMUNITY, Devices, sites_console  # noqa: F401
from tests.console.test_gateway import session
from tests.console.test_points_console import ask

pytestmark = [pytest.mark.ray]

REFUSALS = [  # (operator, request, the error's reason)
    ("p2", CommunityQuery(COMMUNITY), f"community.site: {COMMUNITY!r} is not in your jurisdiction"),
    ("p1", CommunityQuery(OTHER_COMMUNITY), f"community.site: {OTHER_COMMUNITY!r} is not in your jurisdiction"),
    ("cguard", CommunityQuery(OTHER_COMMUNITY), f"community.site: {OTHER_COMMUNITY!r} is not in your jurisdiction"),
    ("cguard", KioskHallQuery(HALL), f"kiosk_hall.hall: {HALL!r} is not in your jurisdiction"),
    ("gw", KioskHallQuery(HALL), f"kiosk_hall.hall: {HALL!r} is not in your jurisdiction"),  # another grid
    ("gw", CommunityQuery(OTHER_COMMUNITY), f"community.site: {OTHER_COMMUNITY!r} is not in your jurisdiction"),
    ("p2", KioskHallQuery(HALL), f"kiosk_hall.hall: {HALL!r} is not in your jurisdiction"),
    ("cc", CommunityQuery("C9999"), "community.site: unknown site 'C9999'"),
    ("cc", CommunityQuery(HALL), f"community.site: {HALL!r} is a kiosk_hall, not a community"),
    ("cc", KioskHallQuery(COMMUNITY), f"kiosk_hall.hall: {COMMUNITY!r} is a community, not a kiosk_hall"),
]


def test_each_operator_sees_the_sites_of_its_jurisdiction_and_is_refused_the_others_by_name(sites_console):  # noqa: F811
    clients = {name: session(sites_console, name) for name in ("cc", "p1", "p2", "cguard", "gw")}
    for name in ("cc", "p1", "cguard", "gw"):
        view = ask(clients[name], CommunityQuery(COMMUNITY), CommunityView, f"{name}: the community")
        assert [(d.door, d.label, d.building) for d in view.doors] == [
            ("C0001-door1", "Building 1 door", "1"), ("C0001-door2", "Building 2 door", "2")]
        assert [c.camera for c in view.cameras] == ["C0001-cam1"] and view.zone == "P1 north-east grid"
        assert view.buildings == ["1", "2"]
    for name in ("cc", "p1"):
        hall = ask(clients[name], KioskHallQuery(HALL), KioskHallView, f"{name}: the hall")
        assert [k.kiosk for k in hall.kiosks] == ["K0001-kiosk1", "K0001-kiosk2", "K0001-kiosk3"]
        assert set(hall.categories) == {"household", "vehicles", "exit_entry"}
    assert ask(clients["p2"], CommunityQuery(OTHER_COMMUNITY), CommunityView, "p2: its community").site == "C0002"
    for name, request, reason in REFUSALS:
        assert ask(clients[name], request, Error, f"{name}: refused").reason == reason


def test_a_visitor_call_shows_ringing_then_among_the_recent_with_its_outcome(sites_console):  # noqa: F811
    devices, p1 = Devices(sites_console), session(sites_console, "p1")
    before = ask(p1, CommunityQuery(COMMUNITY), CommunityView, "the community").figures.get("denied", 0)
    devices.send("C0001-door2", "door.visitor", {"unit": "2", "snapshot": "snap/door2.jpg"})
    view = ask(p1, CommunityQuery(COMMUNITY), CommunityView, "the call ringing")
    [call] = [c for c in view.calls_open if c.door == "C0001-door2"]
    assert (call.unit, call.answer, call.outcome) == ("2", "", "")
    devices.send("C0001-u2-r2-phone", "visitor.answer", {"call": call.call, "answer": "deny"})
    view = ask(p1, CommunityQuery(COMMUNITY), CommunityView, "the call ended")
    assert call.call not in [c.call for c in view.calls_open]
    [ended] = [c for c in view.calls_recent if c.call == call.call]
    assert (ended.outcome, ended.by, ended.answer) == ("denied", "C0001-u2-r2", "deny")
    assert ended.latency_ms is not None and view.figures["denied"] == before + 1
    devices.send("C0001-door1", "door.opened", {"open": True})
    view = ask(p1, CommunityQuery(COMMUNITY), CommunityView, "the door open")
    assert [(d.door, d.open) for d in view.doors] == [("C0001-door1", True), ("C0001-door2", False)]
    devices.send("C0001-door1", "door.opened", {"open": False})


def test_a_notice_outside_the_jurisdiction_or_with_a_past_window_is_refused_by_name_and_audited(sites_console):  # noqa: F811
    p2 = session(sites_console, "p2")
    refused = ask(p2, PostNoticeCommand(5, COMMUNITY, "n-out", "water off at noon", valid_until_s=2e9), NoticeResult,
                  "the refusal")
    assert (refused.ok, refused.field, refused.code) == (False, "site", "out_of_jurisdiction")
    assert refused.reason == f"{COMMUNITY!r} is not in your jurisdiction"
    past = ask(session(sites_console, "cc"), PostNoticeCommand(6, COMMUNITY, "n-past", "drill", valid_until_s=1e9),
               NoticeResult, "the engine's refusal")
    assert (past.ok, past.field, past.code) == (False, "valid_until_s", "window_past")
    rows = sites_console.engine.audit_rows(100)
    assert any(r.actor == "p2" and r.action == "post_notice" and r.outcome == "refused" and r.target == "C0001/n-out"
               and r.reason == f"site: {COMMUNITY!r} is not in your jurisdiction" for r in rows)
    assert any(r.actor == "cc" and r.action == "post_notice" and r.outcome == "refused" and r.target == "C0001/n-past"
               and r.reason.startswith("valid_until_s: ") for r in rows)
