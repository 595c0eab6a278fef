"""The console protocol's messages: what a client may send is validated field by field."""

from __future__ import annotations

import orjson
import pytest

from protocols.console import (Auth, AuditQuery, Changes, Command, IncidentChanged, Login, Logout, Receipt, Resync,
                               Result, Seen, Snapshot, decode_client, decode_server, encode, incident_view)
from protocols.errors import ProtocolError
from protocols.kinds import IncidentKind, IncidentState, Level, TimelineEvent
from protocols.records import Action, IncidentRecord, TimelineEntry

RECORD = IncidentRecord("S1-panic1#7", IncidentKind.SCHOOL_PANIC, "S1-panic1", "S1", "P1", "h0", 1,
                        IncidentState.RAISED, 100.0, Level.POLICE_STATION, deadline_s=130.0,
                        notified=("S1-guard", "P1-station"),
                        timeline=(TimelineEntry(100.0, TimelineEvent.RAISED, Level.GUARD_ROOM, "S1-guard", "S1-panic1"),))


def test_client_messages_decode_into_their_types():
    assert decode_client(b'{"type":"login","username":"a","password":"b"}') == Login("a", "b")
    assert decode_client('{"type":"auth","token":"t"}') == Auth("t")
    assert decode_client(b'{"type":"resync"}') == Resync()
    assert decode_client(b'{"type":"audit"}') == AuditQuery(50)
    assert decode_client(b'{"type":"audit","limit":20,"before":99,"action":"login","outcome":"refused"}') == \
        AuditQuery(20, 99, action="login", outcome="refused")
    assert decode_client(b'{"type":"logout"}') == Logout()
    assert decode_client(b'{"type":"receipt","incidents":[["x#1",3]]}') == Receipt([("x#1", 3)])
    assert decode_client(b'{"type":"seen","incident":"x#1"}') == Seen("x#1")
    hand = decode_client(b'{"type":"command","id":4,"action":"hand_back","incident":"x#1","to_level":"police_station",'
                         b'"note":"theirs"}')
    assert hand == Command(4, Action.HAND_BACK, "x#1", note="theirs", to_level=Level.POLICE_STATION)
    command = decode_client(b'{"type":"command","id":3,"action":"close","incident":"x#1","disposition":"drill"}')
    assert command == Command(3, Action.CLOSE, "x#1", disposition="drill")


@pytest.mark.parametrize("raw, field, reason", [
    (b'{"type":"command","id":1,"action":"zap","incident":"x"}', "action", "invalid enum value 'zap'"),
    (b'{"type":"command","action":"acknowledge","incident":"x"}', "id", "required field missing"),
    (b'{"type":"command","id":"1","action":"acknowledge","incident":"x"}', "id", "expected int, got str"),
    (b'{"type":"login","username":"a"}', "password", "required field missing"),
    (b'{"type":"auth","token":"t","extra":1}', "extra", "unknown field"),
    (b'{"type":"shout"}', "type", "invalid value 'shout'"),
    (b'{"type":"audit","limit":5000}', "limit", "expected int <= 500"),
    (b'{"type":"receipt","incidents":[["x",1,2]]}', "incidents[0]", "expected array of length 2"),
    (b'{"type":"command","id":1,"action":"hand_back","incident":"x","to_level":"mayor"}', "to_level",
     "invalid enum value 'mayor'"),
    (b'{"type":', "", "malformed JSON"),
])
def test_bad_client_messages_name_the_field(raw, field, reason):
    with pytest.raises(ProtocolError) as err:
        decode_client(raw)
    assert err.value.field == field and err.value.reason.startswith(reason), (err.value.field, err.value.reason)


def test_oversized_messages_are_refused():
    with pytest.raises(ProtocolError, match="too large"):
        decode_client(b'{"type":"login","username":"a","password":"' + b"x" * 20_000 + b'"}')


def test_server_messages_are_plain_json_with_the_engines_enum_values():
    view = incident_view(RECORD)
    data = orjson.loads(encode(Snapshot(5, 1.0, [view])))
    incident = data["incidents"][0]
    assert data["type"] == "snapshot" and incident["state"] == "raised" and incident["level"] == "police_station"
    assert incident["timeline"][0] == {"t_s": 100.0, "event": "raised", "level": "guard_room", "target": "S1-guard",
                                       "actor": "S1-panic1", "note": ""}
    frame = b'{"type":"changes","items":[' + encode(IncidentChanged(6, view)) + b"]}"
    assert decode_server(frame) == Changes([IncidentChanged(6, view)])
    assert decode_server(encode(Result(1, False, "no"))) == Result(1, False, "no")
