"""Nothing lost, nothing twice: a broker that dies, devices that go silent, bridges that share the load."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

import pytest

from protocols.kinds import ALARM_KIND_OF, DeviceKind, EventKind, IncidentKind, IncidentState
from simulation.checker import check_alarms
from simulation.mqtt_device import MqttDevice
from tests.mqtt.conftest import HEARTBEAT_S, MISSES, start_engine
from tests.mqtt.helpers import Inbox, pub, wait_until

pytestmark = [pytest.mark.ray, pytest.mark.mqtt]

ALARM_OF = {kind: ALARM_KIND_OF[kind] for kind in (DeviceKind.PANIC_BOX, DeviceKind.DOOR, DeviceKind.CAMERA,
                                                     DeviceKind.KIOSK)}


def alarm_devices(broker, per_kind: int) -> list[tuple[str, EventKind]]:
    out = []
    for kind, alarm in ALARM_OF.items():
        ids = sorted(d.id for d in broker.city.devices.values() if d.kind == kind)[:per_kind]
        out += [(device_id, alarm) for device_id in ids]
    return out


def check_exactly_once(engine, sent: dict[str, list[int]]) -> tuple[int, int]:
    """(lost, duplicated) over every alarm sent, by the simulator's checker, against the engine's incidents."""
    verdict = check_alarms([(d, seq) for d, seqs in sent.items() for seq in seqs], engine.open_incidents())
    assert verdict.unexpected == 0, verdict.details
    return verdict.lost, verdict.duplicated


async def _connected(devices: list[MqttDevice], tasks: list[asyncio.Task], timeout_s: float = 20.0) -> None:
    await asyncio.wait_for(asyncio.gather(*(d.connected.wait() for d in devices)), timeout=timeout_s)


def test_broker_killed_and_restarted_while_devices_publish_qos1_alarms_loses_and_doubles_nothing(broker, engine):
    targets = alarm_devices(broker, per_kind=3)
    rounds = 4
    sent: dict[str, list[int]] = {}

    async def scenario() -> None:
        devices = [MqttDevice(broker.endpoint(d), json=i % 2 == 0, keepalive_s=5, retry_s=0.5)
                   for i, (d, _) in enumerate(targets)]
        tasks = [asyncio.create_task(d.run()) for d in devices]
        try:
            await _connected(devices, tasks)
            for r in range(rounds):
                alarms = []
                for device, (device_id, kind) in zip(devices, targets):
                    seq = device.next_seq()
                    sent.setdefault(device_id, []).append(seq)
                    alarms.append(device.alarm(kind, seq=seq, timeout_s=90))
                pending = asyncio.gather(*alarms)
                if r == 1:  # the broker dies with these alarms in flight, and comes back
                    broker.process.kill()
                    await asyncio.sleep(1.0)  # the outage itself, not a synchronisation
                    broker.process.start()
                acks = await pending
                assert all(a.ok for a in acks), acks
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(scenario())
    assert check_exactly_once(engine, sent) == (0, 0)
    assert sum(len(s) for s in sent.values()) == len(targets) * rounds
    assert engine.lane_statistics("alarm")["connects"] >= 2  # the bridge did reconnect


def _offline_of(engine, device_id: str) -> list:
    return [r for r in engine.open_incidents() if r.kind is IncidentKind.DEVICE_OFFLINE and r.device_id == device_id]


def _device_process(broker, device_id: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "simulation.mqtt_device", "--url", broker.endpoint(device_id).url(),
                             "--heartbeat", str(HEARTBEAT_S), "--keepalive", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()  # blocks until the device says it is online (or exits)
    assert "online" in line, line
    return proc


def _accepted(engine) -> int:
    return sum(s.accepted for s in engine.statistics())


@pytest.mark.parametrize("how", ["heartbeats stop", "process frozen (SIGSTOP)", "last will (process killed)"])
def test_a_silent_device_is_reported_offline_exactly_once_in_time_and_online_again(broker, engine, how):
    device_id = broker.device("camera", 2)
    limit_s = HEARTBEAT_S * MISSES + HEARTBEAT_S
    before = _accepted(engine)
    loop_device = proc = None

    async def in_process() -> None:
        nonlocal loop_device
        loop_device = MqttDevice(broker.endpoint(device_id), heartbeat_s=HEARTBEAT_S, keepalive_s=5)
        task = asyncio.create_task(loop_device.run())
        await asyncio.wait_for(loop_device.connected.wait(), 20)
        await asyncio.to_thread(wait_until, lambda: _accepted(engine) >= before + 2, timeout_s=20,
                                what="heartbeats reaching the engine")
        loop_device.heartbeats_on = False
        stopped = time.time()
        offline = await asyncio.to_thread(wait_until, lambda: _offline_of(engine, device_id), timeout_s=limit_s + 5,
                                          what="the offline incident")
        await asyncio.to_thread(wait_until, lambda: time.time() > stopped + limit_s + 1, timeout_s=limit_s + 5,
                                what="every supervision path to have had its chance")
        assert len(_offline_of(engine, device_id)) == 1
        assert offline[0].raised_s - stopped <= limit_s
        loop_device.heartbeats_on = True
        await asyncio.to_thread(wait_until, lambda: not _offline_of(engine, device_id), timeout_s=10,
                                what="the device back online")
        record = engine.incident(offline[0].id)
        assert record.state is IncidentState.CANCELLED and record.disposition == "device back online"
        task.cancel()

    if how == "heartbeats stop":
        asyncio.run(in_process())
        return
    proc = _device_process(broker, device_id)
    try:
        wait_until(lambda: _accepted(engine) >= before + 2, timeout_s=20, what="heartbeats reaching the engine")
        stopped = time.time()
        proc.send_signal(signal.SIGSTOP if "SIGSTOP" in how else signal.SIGKILL)
        offline = wait_until(lambda: _offline_of(engine, device_id), timeout_s=limit_s + 5,
                             what="the offline incident")
        assert offline[0].raised_s - stopped <= limit_s
        if "last will" in how:
            assert "last will" in offline[0].timeline[0].note
        wait_until(lambda: time.time() > stopped + limit_s + 2, timeout_s=limit_s + 5,
                   what="the heartbeat deadline and the broker's keepalive (3 s) to pass")
        assert len(_offline_of(engine, device_id)) == 1
        if "SIGSTOP" in how:
            proc.send_signal(signal.SIGCONT)
        else:
            proc = _device_process(broker, device_id)
        wait_until(lambda: not _offline_of(engine, device_id), timeout_s=15, what="the device back online")
        assert engine.incident(offline[0].id).disposition == "device back online"
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGCONT)
            proc.kill()
        proc.wait(timeout=10)


def test_two_bridges_on_the_shared_subscription_handle_every_event_exactly_once(ray_session, broker, tmp_path):
    engine = start_engine(broker, tmp_path)
    engine.start_bridges(broker.bridge, count=1, first_index=1, backoff_cap_s=1.0)
    targets = alarm_devices(broker, per_kind=2)
    alarms_each, heartbeats_each = 5, 40
    sent: dict[str, list[int]] = {}

    async def scenario() -> None:
        devices = [MqttDevice(broker.endpoint(d), retry_s=10.0) for d, _ in targets]
        tasks = [asyncio.create_task(d.run()) for d in devices]
        try:
            await _connected(devices, tasks)
            for device, (device_id, kind) in zip(devices, targets):
                for _ in range(heartbeats_each):
                    await device.publish(EventKind.HEARTBEAT, qos=1)
            for _ in range(alarms_each):
                alarms = []
                for device, (device_id, kind) in zip(devices, targets):
                    seq = device.next_seq()
                    sent.setdefault(device_id, []).append(seq)
                    alarms.append(device.alarm(kind, seq=seq, timeout_s=60))
                assert all(a.ok and not a.duplicate for a in await asyncio.gather(*alarms))
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    try:
        asyncio.run(scenario())
        total = len(targets) * (alarms_each + heartbeats_each)
        wait_until(lambda: _accepted(engine) >= total, timeout_s=20,
                   what=lambda: f"every event accepted: {_accepted(engine)} of {total}; {engine.bridge_statistics()}")
        assert check_exactly_once(engine, sent) == (0, 0)
        assert _accepted(engine) == total
        assert sum(s.duplicates for s in engine.statistics()) == 0
        received: dict[str, int] = {}
        for process in engine.bridge_statistics():
            got = sum(lane["received"] for lane in process["lanes"].values())
            received[process["bridge_id"]] = received.get(process["bridge_id"], 0) + got
        assert sorted(received) == ["b0", "b1"] and sum(received.values()) >= total
        assert all(n > 0 for n in received.values()), received  # both bridges took a share
    finally:
        engine.stop()


def test_a_restart_with_fewer_bridges_leaves_no_alarm_in_a_departed_bridges_session(ray_session, broker, tmp_path):
    """Mosquitto deals a shared subscription's messages to offline sessions too: the sessions of bridges
    that are not coming back are ended at start, or they would sit on half the alarms."""
    start_engine(broker, tmp_path / "before", bridges=2).stop()  # b0 and b1 leave persistent sessions
    engine = start_engine(broker, tmp_path / "after", bridges=1)
    try:
        acks = Inbox(broker, "redband-sim", "rb/v1/dev/+/ack")
        boxes = alarm_devices(broker, per_kind=3)[:10]
        for device_id, kind in boxes:  # each published once, no device retries
            assert pub(broker, "redband-sim", f"rb/v1/dev/{device_id}/alarm",
                       {"seq": 1, "ts": 1, "kind": kind.value}).returncode == 0
        answers = acks.read_json(len(boxes), timeout_s=30)
        assert len(answers) == len(boxes) and all(a["ok"] for a in answers), answers
    finally:
        engine.stop()


def test_a_bridge_process_that_dies_comes_back_with_the_alarms_published_meanwhile(broker, engine):
    box = broker.device("panic_box")
    acks = Inbox(broker, box, f"rb/v1/dev/{box}/ack")
    (alarm_process,) = [b for b in engine.bridge_statistics() if "alarm" in b["lanes"]]
    os.kill(alarm_process["pid"], signal.SIGKILL)
    assert pub(broker, box, f"rb/v1/dev/{box}/alarm", {"seq": 41, "ts": 1, "kind": "school.panic"}).returncode == 0
    assert acks.read_json(1, timeout_s=60) == [{"ok": True, "seq": 41, "incident": f"{box}#41"}]
    (restarted,) = [b for b in engine.bridge_statistics() if "alarm" in b["lanes"]]
    assert restarted["pid"] != alarm_process["pid"]
