"""Hostile payloads and hostile devices against a real Mosquitto and a real engine: no payload stops a lane,
no device with its own valid credentials steals or blocks another device's alarm, and a message that kills a
lane twice is dead-lettered instead of killing it for ever."""

from __future__ import annotations

import asyncio
import json

import aiomqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from engine.mqtt_provision import BRIDGE_USER
from protocols.kinds import EventKind, IncidentKind
from protocols.topics import bridge_client_id, bridge_share_group
from simulation.mqtt_device import MqttDevice
from tests.mqtt.conftest import start_engine
from tests.mqtt.helpers import Inbox, pub, wait_until

pytestmark = [pytest.mark.ray, pytest.mark.mqtt]

DEEP_JSON = b'{"seq":1,"ts":1,"kind":"school.panic","x":' + b"[" * 1000 + b"]" * 1000 + b"}"
DEEP_MSGPACK = b"\x84\xa3seq\x01\xa2ts\x01\xa4kind\xacschool.panic\xa1x" + b"\x91" * 1000 + b"\x90"


def bad_utf8_zone(seq: int, kind: str = "school.panic") -> bytes:
    return b'{"seq":%d,"ts":1,"kind":"%s","data":{"zone":"gate \xff\xfe"}}' % (seq, kind.encode())


def panic(seq: int) -> dict:
    return {"seq": seq, "ts": 1_700_000_000_000, "kind": "school.panic", "data": {"zone": "hall"}}


def _lane(engine, lane: str) -> dict:
    return engine.lane_statistics(lane)


def test_deep_nesting_and_bad_utf8_on_both_lanes_get_naks_and_the_next_alarm_is_raised(broker, engine):
    box, other = broker.device("panic_box", 0), broker.device("panic_box", 1)
    acks = Inbox(broker, box, f"rb/v1/dev/{box}/ack")
    before = {lane: _lane(engine, lane)["received"] for lane in ("alarm", "evt")}
    for channel in ("alarm", "evt"):
        for payload in (DEEP_JSON, DEEP_MSGPACK, bad_utf8_zone(3)):
            assert pub(broker, box, f"rb/v1/dev/{box}/{channel}", payload).returncode == 0
    naks = acks.read_acks(6, timeout_s=30)
    reasons = sorted(n.reason for n in naks)
    assert len(naks) == 6 and all(n.ok is False for n in naks), naks
    assert reasons.count("payload: nested too deep (limit 16 levels)") == 4, reasons
    assert reasons.count("data.zone: invalid UTF-8 (byte 0xff)") == 2, reasons
    # the lanes go on: another device's alarm right after is acked and raised
    other_acks = Inbox(broker, other, f"rb/v1/dev/{other}/ack")
    pub(broker, other, f"rb/v1/dev/{other}/alarm", panic(8))
    assert other_acks.read_json(1) == [{"ok": True, "seq": 8, "incident": f"{other}#8"}]
    assert engine.incident(f"{other}#8").kind is IncidentKind.SCHOOL_PANIC
    alarm, evt = _lane(engine, "alarm"), _lane(engine, "evt")
    assert alarm["received"] - before["alarm"] >= 4 and evt["received"] - before["evt"] >= 3
    assert alarm["connects"] == 1 and evt["connects"] == 1  # nobody had to start again


def test_bad_messages_waiting_in_the_bridge_session_at_start_are_refused_and_the_good_one_raised(
        ray_session, broker, tmp_path):
    engine = start_engine(broker, tmp_path)
    try:
        box, other = broker.device("panic_box", 0), broker.device("door", 0)
        acks, other_acks = Inbox(broker, box, f"rb/v1/dev/{box}/ack"), Inbox(broker, other, f"rb/v1/dev/{other}/ack")
        engine.stop_bridges()  # the bridge is away; its persistent sessions keep what arrives
        for payload in (DEEP_JSON, bad_utf8_zone(4)):
            pub(broker, box, f"rb/v1/dev/{box}/alarm", payload)
        pub(broker, box, f"rb/v1/dev/{box}/evt", DEEP_MSGPACK)
        pub(broker, other, f"rb/v1/dev/{other}/alarm", {"seq": 5, "ts": 1, "kind": "door.forced"})
        engine.start_bridges(broker.bridge, count=1, backoff_cap_s=1.0)
        assert [n.ok for n in acks.read_acks(3, timeout_s=30)] == [False, False, False]
        assert other_acks.read_json(1, timeout_s=30) == [{"ok": True, "seq": 5, "incident": f"{other}#5"}]
        assert engine.incident(f"{other}#5").kind is IncidentKind.DOOR_FORCED
    finally:
        engine.stop()


async def _subscribe_codes(client: aiomqtt.Client, topic: str) -> list[int]:
    granted = await client.subscribe(topic, qos=1, timeout=10)
    return [getattr(code, "value", code) for code in granted]


def test_a_device_with_its_own_credentials_steals_and_blocks_no_alarm(broker, engine):
    thief = broker.device("camera", 0)
    password = broker.credentials[thief].password
    group = bridge_share_group(broker.credentials[BRIDGE_USER].password)
    victims = [broker.device("panic_box", i) for i in range(2)] + [broker.device("door", i) for i in range(2)]

    async def scenario() -> list:
        persistent = Properties(PacketTypes.CONNECT)
        persistent.SessionExpiryInterval = 3600
        # 1. a persistent v5 session that tries to join the bridge's group (and the old, guessable one), then leaves
        async with aiomqtt.Client("127.0.0.1", broker.port, username=thief, password=password, identifier=thief,
                                  protocol=aiomqtt.ProtocolVersion.V5, clean_start=False,
                                  properties=persistent) as client:
            for topic in (f"$share/{group}/rb/v1/dev/+/alarm", "$share/redband/rb/v1/dev/+/alarm",
                          f"$share/{group}/rb/v1/dev/+/evt"):
                assert (await _subscribe_codes(client, topic))[0] >= 0x80, topic
        # 2. the bridge's own client id, with the device's credentials: refused at CONNECT
        for lane in ("alarm", "evt"):
            with pytest.raises(aiomqtt.MqttError):
                async with aiomqtt.Client("127.0.0.1", broker.port, username=thief, password=password,
                                          identifier=bridge_client_id(broker.credentials[BRIDGE_USER].password,
                                                                      "b0", lane),
                                          protocol=aiomqtt.ProtocolVersion.V5, timeout=10):
                    pass
        # 3. live: it stays connected with `#` and the group asked for, while others raise 20 alarms
        async with aiomqtt.Client("127.0.0.1", broker.port, username=thief, password=password, identifier=thief,
                                  protocol=aiomqtt.ProtocolVersion.V5) as client:
            for topic in ("#", f"$share/{group}/rb/v1/dev/+/alarm", "rb/v1/dev/+/ack"):
                assert (await _subscribe_codes(client, topic))[0] >= 0x80, topic
            devices = [MqttDevice(broker.endpoint(d), json=True, retry_s=30.0) for d in victims]
            tasks = [asyncio.create_task(d.run()) for d in devices]
            try:
                await asyncio.wait_for(asyncio.gather(*(d.connected.wait() for d in devices)), timeout=20)
                kinds = [EventKind.SCHOOL_PANIC, EventKind.SCHOOL_DURESS, EventKind.DOOR_FORCED, EventKind.DOOR_HELD_OPEN]
                # retry_s=30: no second chance within the test, so an alarm dealt to a thief would time out
                return await asyncio.gather(*(device.alarm(kinds[i % 4], timeout_s=25)
                                              for i, device in enumerate(devices) for _ in range(5)))
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    acks = asyncio.run(scenario())
    assert len(acks) == 20 and all(a.ok and not a.duplicate for a in acks), acks
    for ack in acks:
        assert engine.incident(ack.incident) is not None
    alarm = _lane(engine, "alarm")
    assert alarm["connects"] == 1 and alarm["probes_lost"] == 0, alarm


def test_a_message_that_kills_a_lane_twice_is_dead_lettered_and_the_lane_serves_on(ray_session, broker, tmp_path):
    engine = start_engine(broker, tmp_path, fault_marker=b"KILL-THE-LANE")
    try:
        box, other = broker.device("panic_box", 0), broker.device("door", 0)
        acks, other_acks = Inbox(broker, box, f"rb/v1/dev/{box}/ack"), Inbox(broker, other, f"rb/v1/dev/{other}/ack")
        poison = {"seq": 9, "ts": 1, "kind": "school.panic", "data": {"zone": "KILL-THE-LANE"}}

        def alarm_pid() -> int | None:
            """The alarm bridge's process, None while it is being restarted."""
            stats = [b for b in engine.bridge_statistics() if "alarm" in b.get("lanes", {})]
            return stats[0]["pid"] if stats else None

        pids = [alarm_pid()]
        for _ in range(2):  # the device retries its alarm; each time the lane dies and its process is restarted
            pub(broker, box, f"rb/v1/dev/{box}/alarm", poison)
            wait_until(lambda: alarm_pid() not in (*pids, None), timeout_s=90, what="the alarm bridge restarted")
            pids.append(alarm_pid())
            wait_until(lambda: _lane(engine, "alarm").get("connects", 0) >= 1, timeout_s=60, what="the lane reconnected")
        pub(broker, box, f"rb/v1/dev/{box}/alarm", poison)  # the third time it is dead-lettered
        (nak,) = acks.read_json(1, timeout_s=30)
        assert nak["ok"] is False and nak["reason"].startswith("payload: dead-lettered, it stopped the alarm lane twice")
        pub(broker, other, f"rb/v1/dev/{other}/alarm", {"seq": 3, "ts": 1, "kind": "door.forced"})
        assert other_acks.read_json(1, timeout_s=30) == [{"ok": True, "seq": 3, "incident": f"{other}#3"}]
        assert alarm_pid() == pids[-1] and _lane(engine, "alarm")["dead_lettered"] == 1
        rows = wait_until(lambda: [r for r in engine.audit_rows(100) if r.action == "message.dead_letter"],
                          timeout_s=20, what="the dead letter in the command center's audit")
        assert rows[0].target == box and rows[0].outcome == "dead-lettered"
        head = json.dumps(poison)[:6].encode().hex()  # the payload's first bytes, for whoever investigates
        assert "fault injected" in rows[0].reason and f"payload {head}" in rows[0].reason
    finally:
        engine.stop()


def test_the_bridge_notices_a_foreign_member_of_its_share_group(tmp_path):
    """On a broker that lets anyone in (no plugin): the probe finds the thief the broker did not stop."""
    from actors.broker import Mosquitto, free_port
    from actors.mqtt_bridge import BridgeOptions, MqttBridge, run_until_stopped
    from protocols.endpoint import MqttEndpoint

    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")

    class Sink:
        async def ingest(self, items):
            raise AssertionError("no device events in this test")

        async def states(self, states):
            pass

        async def take_device_commands(self, wait_s=0.0):
            await asyncio.sleep(wait_s)
            return []

        async def dead_letter(self, row):
            pass

    async def scenario(bridge: MqttBridge) -> None:
        runner = asyncio.create_task(run_until_stopped(bridge))
        stats = bridge.stats[next(iter(bridge.stats))]
        try:
            await _until(lambda: stats.probes_answered >= 2, 20)
            assert stats.probes_lost == 0
            async with aiomqtt.Client("127.0.0.1", port, identifier="thief", protocol=aiomqtt.ProtocolVersion.V5) as c:
                await c.subscribe(f"$share/{bridge._group}/rb/v1/dev/+/alarm", qos=1)
                await _until(lambda: stats.probes_lost >= 1, 30)
        finally:
            bridge.stop()
            await asyncio.wait_for(runner, 20)

    with Mosquitto(conf, port=port):
        options = BridgeOptions(MqttEndpoint("127.0.0.1", port), lanes=("alarm",), probe_interval_s=0.3,
                                probe_timeout_s=2.0, state_dir=str(tmp_path / "state"), poll_commands=False)
        asyncio.run(scenario(MqttBridge(options, Sink())))


async def _until(predicate, timeout_s: float) -> None:
    async with asyncio.timeout(timeout_s):
        while not predicate():
            await asyncio.sleep(0.05)  # polling a counter the bridge's tasks move; bounded by the timeout


# -- device reality: outages, retries, reboots ----------------------------------------------------------


def test_broker_down_5_s_while_devices_raise_10_alarms_a_second_each_raises_every_alarm_exactly_once(broker, engine):
    from tests.mqtt.test_resilience import check_exactly_once

    targets = [(broker.device("panic_box", 0), EventKind.SCHOOL_PANIC), (broker.device("door", 0), EventKind.DOOR_FORCED),
               (broker.device("camera", 0), EventKind.CAMERA_INTRUSION)]
    sent: dict[str, list[int]] = {}

    async def scenario() -> list:
        devices = [MqttDevice(broker.endpoint(d), json=i % 2 == 0, keepalive_s=5, retry_s=0.5)
                   for i, (d, _) in enumerate(targets)]
        runners = [asyncio.create_task(d.run()) for d in devices]
        alarms: list[asyncio.Task] = []
        try:
            await asyncio.wait_for(asyncio.gather(*(d.connected.wait() for d in devices)), timeout=20)
            loop = asyncio.get_running_loop()
            start = loop.time()
            for tick in range(60):  # 6 s at 10 alarms/s per device, each retried until acked
                if tick == 5:
                    broker.process.kill()
                if tick == 55:
                    broker.process.start()  # down from 0.5 s to 5.5 s
                for device, (device_id, kind) in zip(devices, targets):
                    seq = device.next_seq()
                    sent.setdefault(device_id, []).append(seq)
                    alarms.append(asyncio.create_task(device.alarm(kind, seq=seq, timeout_s=120)))
                await asyncio.sleep(max(0.0, start + (tick + 1) * 0.1 - loop.time()))  # the send rate itself
            return await asyncio.gather(*alarms)
        finally:
            for task in runners + alarms:
                task.cancel()
            await asyncio.gather(*runners, *alarms, return_exceptions=True)

    acks = asyncio.run(scenario())
    assert len(acks) == 180
    refused = [a for a in acks if not a.ok]
    assert refused == [], refused[:5]
    assert check_exactly_once(engine, sent) == (0, 0)


def test_a_rebooted_device_raises_again_and_a_reused_seq_with_another_kind_is_a_new_incident(broker, engine):
    from protocols.records import Action, OperatorCommand
    from protocols.kinds import Level

    door, box = broker.device("door", 0), broker.device("panic_box", 0)
    door_acks, box_acks = Inbox(broker, door, f"rb/v1/dev/{door}/ack"), Inbox(broker, box, f"rb/v1/dev/{box}/ack")
    pub(broker, door, f"rb/v1/dev/{door}/alarm", {"seq": 1, "ts": 1_764_000_000_000, "kind": "door.forced"})
    (first,) = door_acks.read_json(1)
    cc = broker.city.command_center.id
    for action in (Action.ACKNOWLEDGE, Action.RESOLVE):
        record = engine.command(OperatorCommand(action, first["incident"], "chief", Level.COMMAND_CENTER, cc))
        assert record.id == first["incident"]
    # the door reboots: its seq starts again at 1, with a later clock
    pub(broker, door, f"rb/v1/dev/{door}/alarm", {"seq": 1, "ts": 1_764_000_090_000, "kind": "door.forced"})
    (again,) = door_acks.read_json(1)
    assert again["ok"] and not again.get("duplicate") and again["incident"] != first["incident"]
    assert engine.incident(again["incident"]).kind is IncidentKind.DOOR_FORCED
    # the same seq, another kind: a new incident, not a duplicate of the panic
    pub(broker, box, f"rb/v1/dev/{box}/alarm", {"seq": 10, "ts": 1_764_000_000_000, "kind": "school.panic"})
    pub(broker, box, f"rb/v1/dev/{box}/alarm", {"seq": 10, "ts": 1_764_000_000_000, "kind": "school.duress"})
    panic_ack, duress_ack = box_acks.read_json(2)
    assert panic_ack["ok"] and duress_ack["ok"] and not duress_ack.get("duplicate")
    assert engine.incident(duress_ack["incident"]).kind is IncidentKind.SCHOOL_DURESS
    assert engine.incident(panic_ack["incident"]).kind is IncidentKind.SCHOOL_PANIC


def test_retained_alarms_and_a_stale_retained_online_are_not_taken_at_any_connect(tmp_path):
    """A device may retain what it publishes; the broker hands retained messages to a shared subscription at every
    SUBSCRIBE (Mosquitto 2.0.11), so at every bridge reconnect. None of them is news."""
    from actors.broker import Mosquitto, free_port
    from actors.mqtt_bridge import BridgeOptions, MqttBridge, run_until_stopped
    from protocols.endpoint import MqttEndpoint

    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    taken: list = []

    class Sink:
        async def ingest(self, items):
            from protocols.batch import IngestResult
            taken.extend(i.message.event_kind.value for i in items)
            return IngestResult(len(items), 0, 0, [])

        async def states(self, states):
            taken.extend("online" if s.online else "offline" for s in states)

        async def take_device_commands(self, wait_s=0.0):
            await asyncio.sleep(wait_s)
            return []

        async def dead_letter(self, row):
            pass

    async def publish(topic: str, payload: bytes, *, retain: bool) -> None:
        async with aiomqtt.Client("127.0.0.1", port, identifier="dev", protocol=aiomqtt.ProtocolVersion.V5) as dev:
            await dev.publish(topic, payload, qos=1, retain=retain)

    async def one_run(bridge: MqttBridge, live: list[tuple[str, bytes]], expect: list[str]) -> None:
        runner = asyncio.create_task(run_until_stopped(bridge))
        try:
            await _until(lambda: bridge.connected, 20)
            for topic, payload in live:
                await publish(topic, payload, retain=False)
            await _until(lambda: len(taken) >= len(expect), 20)
            await asyncio.sleep(0.5)  # anything retained would have come with the subscription by now
        finally:
            bridge.stop()
            await asyncio.wait_for(runner, 20)

    async def scenario() -> None:
        await publish("rb/v1/dev/S1/alarm", b'{"seq":1,"ts":1,"kind":"school.panic"}', retain=True)
        await publish("rb/v1/dev/S1/state", b"online", retain=True)
        await publish("rb/v1/dev/S2/state", b"offline", retain=True)
        options = BridgeOptions(MqttEndpoint("127.0.0.1", port), share_group="g", probe_interval_s=0,
                                state_dir=str(tmp_path / "state"), poll_commands=False)
        await one_run(MqttBridge(options, Sink()), [("rb/v1/dev/S3/state", b"online")], ["offline", "online"])
        assert sorted(taken) == ["offline", "online"]  # S2's Will (the subscription was new) and S3's live online
        taken.clear()
        await one_run(MqttBridge(options, Sink()), [("rb/v1/dev/S1/alarm", b'{"seq":2,"ts":1,"kind":"school.panic"}')],
                      ["school.panic"])
        assert taken == ["school.panic"]  # the live alarm only; nothing retained came again at the reconnect

    with Mosquitto(conf, port=port):
        asyncio.run(scenario())
