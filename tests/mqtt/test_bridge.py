"""A device integrator's first hour: publish with mosquitto_pub, read the answer with mosquitto_sub."""

from __future__ import annotations

import msgspec
import pytest

from engine.errors import UnknownDevice
from protocols.kinds import IncidentKind
from protocols.replies import Notice, decode_command, decode_notice
from tests.mqtt.helpers import Inbox, pub, wait_until

pytestmark = [pytest.mark.ray, pytest.mark.mqtt]


def panic(seq: int, **data) -> dict:
    return {"seq": seq, "ts": 1_700_000_000_000, "kind": "school.panic", "data": data}


def test_json_panic_from_mosquitto_pub_raises_the_incident_and_is_acked_with_its_seq(broker, engine):
    box = broker.device("panic_box")
    acks = Inbox(broker, box, f"rb/v1/dev/{box}/ack")
    assert acks.subscribed, acks.error
    done = pub(broker, box, f"rb/v1/dev/{box}/alarm", panic(7, zone="gate"))
    assert done.returncode == 0, done.stderr
    assert acks.read_json(1) == [{"ok": True, "seq": 7, "incident": f"{box}#7"}]
    record = engine.incident(f"{box}#7")
    assert record is not None and record.kind is IncidentKind.SCHOOL_PANIC
    site = broker.city.sites[broker.city.devices[box].site_id]
    assert set(record.notified) == {site.guard_room_id, broker.city.precincts[site.precinct_id].station_id}
    # the same message again (the device missed our ack): acked again, never raised twice
    pub(broker, box, f"rb/v1/dev/{box}/alarm", panic(7, zone="gate"))
    assert acks.read_json(1) == [{"ok": True, "seq": 7, "incident": f"{box}#7", "duplicate": True}]
    assert [r.id for r in engine.open_incidents() if r.kind is IncidentKind.SCHOOL_PANIC] == [f"{box}#7"]
    assert engine.incident(f"{box}#7").repeats == 0


def test_bad_messages_get_a_nak_naming_the_reason_and_the_engine_keeps_serving(broker, engine):
    box = broker.device("panic_box")
    acks = Inbox(broker, box, f"rb/v1/dev/{box}/ack")
    topic = f"rb/v1/dev/{box}/alarm"
    pub(broker, box, topic, '{"seq": 3, "ts": 1, "kind": "school.pan')
    pub(broker, box, topic, panic(4, zone=12))
    pub(broker, box, topic, {"seq": 5, "ts": 1, "kind": "heartbeat"})
    pub(broker, box, topic, {"seq": 6, "ts": 1, "kind": "door.forced"})
    naks = acks.read_json(4)
    assert naks[0]["ok"] is False and naks[0]["reason"].startswith("payload: malformed JSON") and "seq" not in naks[0]
    assert naks[1] == {"ok": False, "seq": 4, "reason": "data.zone: expected str, got int"}
    assert naks[2] == {"ok": False, "seq": 5, "reason": "kind: heartbeat must be published on the evt topic, not alarm"}
    assert naks[3]["ok"] is False and naks[3]["seq"] == 6 and "door.forced" in naks[3]["reason"]
    # an unknown device (only the simulator user may even try): refused before any host sees it
    ghost_acks = Inbox(broker, "redband-sim", "rb/v1/dev/ghost-1/ack")
    pub(broker, "redband-sim", "rb/v1/dev/ghost-1/alarm", panic(1))
    assert ghost_acks.read_json(1) == [{"ok": False, "seq": 1, "reason": "device_id: unknown device 'ghost-1'"}]
    # and a good alarm right after is handled
    pub(broker, box, topic, panic(9))
    assert acks.read_json(1) == [{"ok": True, "seq": 9, "incident": f"{box}#9"}]
    assert engine.incident(f"{box}#3") is None and engine.incident(f"{box}#4") is None


def test_a_device_cannot_publish_for_another_and_anonymous_clients_are_refused(broker, engine):
    a, b = broker.device("panic_box", 0), broker.device("panic_box", 1)
    forged = pub(broker, a, f"rb/v1/dev/{b}/alarm", panic(1))
    assert b"not authori" in forged.stderr.lower()  # MQTT v5 reports the refused publish
    anonymous = pub(broker, None, f"rb/v1/dev/{b}/alarm", panic(2))
    assert anonymous.returncode != 0 and b"not authori" in anonymous.stderr.lower()
    wrong_password = pub(broker, (b, "not-the-password"), f"rb/v1/dev/{b}/alarm", panic(3))
    assert wrong_password.returncode != 0
    # a device may not read another device's acks either
    spy = Inbox(broker, a, f"rb/v1/dev/{b}/ack")
    assert not spy.subscribed or spy.read(1, timeout_s=1) == []
    # b's own alarm, afterwards, is its first: the forged ones never reached the engine
    acks = Inbox(broker, b, f"rb/v1/dev/{b}/ack")
    pub(broker, b, f"rb/v1/dev/{b}/alarm", panic(10))
    assert acks.read_json(1) == [{"ok": True, "seq": 10, "incident": f"{b}#10"}]
    assert engine.incident(f"{b}#1") is None and engine.incident(f"{b}#2") is None
    assert engine.lane_statistics("alarm")["received"] == 1


def test_msgpack_device_gets_msgpack_answers_and_its_siren_command(broker, engine):
    box = broker.device("panic_box", 1)
    acks = Inbox(broker, box, f"rb/v1/dev/{box}/ack")
    commands = Inbox(broker, box, f"rb/v1/dev/{box}/cmd")
    payload = msgspec.msgpack.encode({"seq": 21, "ts": 5, "kind": "school.panic", "data": {"zone": "hall"}})
    pub(broker, box, f"rb/v1/dev/{box}/alarm", payload)
    (raw,) = wait_until(lambda: acks.read(1), timeout_s=20, what="the msgpack ack")
    assert msgspec.msgpack.decode(raw) == {"ok": True, "seq": 21, "incident": f"{box}#21"}
    (command,) = commands.read(1)
    siren = decode_command(command)
    assert (siren.cmd, siren.args) == ("siren", {"on": True, "incident": f"{box}#21"})


def test_notices_are_retained_per_site_and_readable_only_by_that_sites_devices(broker, engine):
    door = broker.device("door")
    site = broker.city.devices[door].site_id
    engine.post_notice(site, Notice(text="Water off 9-12 tomorrow", ts=1, title="Maintenance"))
    wait_until(lambda: engine.bridge_statistics()[0]["notices_sent"] == 1, timeout_s=10, what="the notice")
    # a door screen that connects afterwards still gets it (retained)
    late_screen = Inbox(broker, door, f"rb/v1/site/{site}/notice")
    (payload,) = late_screen.read(1)
    assert decode_notice(payload).text == "Water off 9-12 tomorrow"
    other_site_door = next(d.id for d in broker.city.devices.values() if d.kind == "door" and d.site_id != site)
    spy = Inbox(broker, other_site_door, f"rb/v1/site/{site}/notice")
    assert not spy.subscribed or spy.read(1, timeout_s=1) == []


def test_an_operator_command_reaches_the_device_in_its_own_encoding(broker, engine):
    door = broker.device("door")
    commands = Inbox(broker, door, f"rb/v1/dev/{door}/cmd")
    acks = Inbox(broker, door, f"rb/v1/dev/{door}/ack")
    pub(broker, door, f"rb/v1/dev/{door}/alarm", {"seq": 3, "ts": 1, "kind": "door.forced"})  # the door speaks JSON
    acks.read_json(1)
    engine.command_device(door, "open_door", {"by": "P1-station-duty"})
    payloads = commands.read(1)
    assert payloads and payloads[0].startswith(b"{")
    command = decode_command(payloads[0])
    assert (command.cmd, command.args) == ("open_door", {"by": "P1-station-duty"})
    with pytest.raises(UnknownDevice):
        engine.command_device("ghost-1", "open_door")


def test_alarms_published_while_the_bridge_is_away_arrive_when_it_returns(broker, engine):
    """The bridge's sessions persist (clean start off, session expiry): the broker keeps the QoS 1 alarms."""
    box = broker.device("panic_box")
    acks = Inbox(broker, box, f"rb/v1/dev/{box}/ack")
    engine.stop_bridges()
    done = pub(broker, box, f"rb/v1/dev/{box}/alarm", panic(31))  # published once, never again
    assert done.returncode == 0
    assert engine.incident(f"{box}#31") is None
    engine.start_bridges(broker.bridge, backoff_cap_s=1.0)
    assert acks.read_json(1) == [{"ok": True, "seq": 31, "incident": f"{box}#31"}]
    assert engine.incident(f"{box}#31") is not None


def test_an_engine_whose_bridge_the_broker_refuses_says_why(ray_session, broker, tmp_path):
    from actors.runtime import Engine, EngineOptions
    from engine.policy import default_policies

    wrong = broker.bridge.as_user("redband-bridge", "not-the-password")
    engine = Engine(broker.city, default_policies(), EngineOptions(precinct_hosts=1, mqtt=wrong,
                                                                   bridge_connect_timeout_s=3.0))
    try:
        with pytest.raises(ConnectionError, match="(?i)not authori[sz]ed"):
            engine.start()
    finally:
        engine.stop()
