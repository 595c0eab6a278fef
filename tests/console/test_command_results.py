"""A command's result names its refusal by type (``code``), from the gateway's own check or the engine's typed
error, so a console can act on it without parsing the message."""

from __future__ import annotations

import pytest
import ray

from protocols.console import Command, Result
from protocols.records import Action
from tests.console.test_gateway import changed, panic, session

pytestmark = pytest.mark.ray


def _result(client, command_id: int) -> Result:
    return client.until(lambda m: isinstance(m, Result) and m.id == command_id, what=f"result {command_id}")


def test_each_refusal_arrives_with_its_code_and_message(console):
    p1, p2 = session(console, "p1"), session(console, "p2")
    incident = panic(console, "P1")
    p1.until(changed(incident), what="the panic")  # the gateway's view has it
    p2.send(Command(1, Action.ACKNOWLEDGE, incident))
    out = _result(p2, 1)
    assert (out.ok, out.code) == (False, "OutOfJurisdiction") and "not in your jurisdiction" in out.error

    p1.send(Command(2, Action.ON_SCENE, incident))
    out = _result(p1, 2)
    assert (out.ok, out.code) == (False, "InvalidTransition")
    assert out.error == f"incident {incident}: cannot on_scene when raised"

    owner = console.engine.owner_of(incident)
    ray.get(console.engine.hosts[owner].fail_journal_writes.remote(True), timeout=30)
    try:
        p1.send(Command(3, Action.ACKNOWLEDGE, incident))
        out = _result(p1, 3)
        assert (out.ok, out.code) == (False, "JournalUnavailable") and out.error.startswith("unavailable:")
    finally:
        ray.get(console.engine.hosts[owner].fail_journal_writes.remote(False), timeout=30)

    p1.send(Command(4, Action.ACKNOWLEDGE, incident))
    out = _result(p1, 4)
    assert (out.ok, out.code, out.error) == (True, "", "")


def test_an_oversized_message_gets_an_error_frame_and_the_session_goes_on(console):
    from protocols.console import Error, Resync, Snapshot

    p1 = session(console, "p1")
    for size in (20_000, 100_000, 1_000_000):
        p1.received.clear()
        p1.ws.send('{"type":"resync","pad":"' + "x" * size + '"}')
        error = p1.until(lambda m: isinstance(m, Error), what=f"the refusal of {size} bytes")
        assert error.reason.startswith("message too large:") and "limit 16384" in error.reason
    p1.send(Resync())
    assert isinstance(p1.until(lambda m: isinstance(m, Snapshot), what="a snapshot after the refusals"), Snapshot)
