"""One device floods its alarm topic with its own valid credentials (100,000 door.forced, QoS 0, as fast as the
socket takes them); another device's panic raised behind the flood is acked within 10 s and the alarm lane keeps
taking messages (real Mosquitto and engine). Before the lanes' answer connections (actors/bridge_wire_lane.py) the
broker's PUBACKs of the bridge's own acks queued behind the unread flood and the panic was not acked in 10 s."""

from __future__ import annotations

import asyncio
import time

import pytest

from protocols import mqtt_frames as mf
from protocols.kinds import EventKind
from simulation.mqtt_device import MqttDevice

pytestmark = [pytest.mark.ray, pytest.mark.mqtt]
FLOOD = 100_000


async def _flood(port: int, device: str, password: str) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(mf.connect(device, username=device, password=password, keepalive_s=60, clean_start=True,
                            session_expiry_s=0, receive_maximum=100))
    await writer.drain()
    frames = b"".join(mf.publish(f"rb/v1/dev/{device}/alarm",
                                 b'{"seq":%d,"ts":1700000000000,"kind":"door.forced"}' % seq)
                      for seq in range(1, FLOOD + 1))
    writer.write(frames)
    await writer.drain()
    writer.close()


def test_a_flooding_device_does_not_hold_up_another_devices_alarm_ack(broker, engine):
    flooder, victim = broker.device("door", 0), broker.device("panic_box", 0)

    async def scenario() -> float:
        device = MqttDevice(broker.endpoint(victim), json=True, retry_s=2.0)
        runner = asyncio.create_task(device.run())
        try:
            await asyncio.wait_for(device.connected.wait(), 20)
            await _flood(broker.port, flooder, broker.credentials[flooder].password)  # written: the panic is behind it
            start = time.monotonic()
            ack = await device.alarm(EventKind.SCHOOL_PANIC, timeout_s=10)
            took = time.monotonic() - start
            print(f"victim acked in {took:.2f} s: {ack}")
            return took
        finally:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)

    took = asyncio.run(scenario())
    stats = engine.lane_statistics("alarm")
    print({k: stats.get(k) for k in ("received", "naks", "acks_sent", "connects")})
    assert took < 10  # device.alarm raised otherwise
    assert stats["connects"] == 1 and stats["received"] > 10_000, stats  # the lane took the flood, never dropped
