"""The alarm lane's share-group probe: is every member of the group a running bridge?

Every ``probe_interval_s`` the alarm lane publishes an alarm for its own pseudo-device (``redband-probe-b0``);
whichever bridge lane takes it answers on ``rb/v1/bridge/b0/probe``. A probe that nobody answers in
``probe_timeout_s`` was taken by a member of the group that is not a running bridge — a device that joined the
group, or a bridge session left behind — and the lane says so (``probes_lost``, a warning).

:class:`ProbeLedger` is the bookkeeping alone (pure, the time comes in); :class:`ShareGroupProbe` publishes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Final

import orjson

from actors.bridge_connection import pause
from actors.bridge_options import BridgeOptions
from actors.bridge_publisher import Publisher
from actors.bridge_stats import LaneStats
from protocols.topics import PREFIX, Channel, device_topic, probe_answer_topic, probe_device_id

log = logging.getLogger("actors.mqtt_bridge")  # one logger for the whole bridge

PROBE_TOPIC_PREFIX: Final = f"{PREFIX}/dev/{probe_device_id('')}"


class ProbeLedger:
    """The probes sent and not yet answered, by number."""

    def __init__(self, *, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._out: dict[int, float] = {}  # probe number → sent at

    def __len__(self) -> int:
        return len(self._out)

    def sent(self, number: int, *, at_s: float) -> None:
        self._out[number] = at_s

    def answered(self, number) -> bool:
        """Whether ``number`` is one of ours still waiting (it no longer is)."""
        return self._out.pop(number, None) is not None

    def lost(self, *, now_s: float) -> list[int]:
        """The probes not answered within ``timeout_s`` of ``now_s``, forgotten (each is reported once)."""
        late = [n for n, sent in self._out.items() if now_s - sent > self.timeout_s]
        for n in late:
            del self._out[n]
        return late

    def clear(self) -> None:
        """An outage is not a thief: the probes out while the connection was away are not counted lost."""
        self._out.clear()


class ShareGroupProbe:
    def __init__(self, options: BridgeOptions, *, group: str | None, stats: LaneStats, publisher: Publisher,
                 stopping: asyncio.Event, clock: Callable[[], float] = time.monotonic) -> None:
        self.options = options
        self.group = group
        self.stats = stats
        self.publisher = publisher
        self.stopping = stopping
        self.clock = clock
        self.topic = device_topic(probe_device_id(options.bridge_id), Channel.ALARM)
        self.answer_topic = probe_answer_topic(options.bridge_id)
        self.ledger = ProbeLedger(timeout_s=options.probe_timeout_s)

    def is_probe(self, topic: str) -> bool:
        """A probe (anyone's) or an answer to ours: not a device's alarm."""
        return topic.startswith(PROBE_TOPIC_PREFIX) or topic == self.answer_topic

    async def run(self) -> None:
        """Send a probe every ``probe_interval_s`` while connected; count the ones nobody answered in time."""
        o = self.options
        number = 0
        while not self.stopping.is_set():
            await pause(self.stopping, o.probe_interval_s)
            if self.stopping.is_set():  # not a publish on a connection that is closing
                return
            client = self.publisher.clients.get(Channel.ALARM)
            if client is None:
                self.ledger.clear()
                continue
            for n in self.ledger.lost(now_s=self.clock()):
                self.stats.probes_lost += 1
                log.warning("bridge %s: share group probe %d was never answered: a member of the group %r that "
                            "is not a running redband bridge took it (a device that joined the group, or a "
                            "bridge session left behind); alarms are being dealt to it too",
                            o.bridge_id, n, self.group)
            number += 1
            payload = orjson.dumps({"probe": number, "bridge": o.bridge_id})
            if await self.publisher.publish(client, self.topic, payload, qos=1):  # QoS 1, as alarms travel
                self.ledger.sent(number, at_s=self.clock())
                self.stats.probes_sent += 1

    def seen(self, topic: str, payload: bytes) -> None:
        """A probe: answer another bridge's (or our own) on its answer topic; count the answers to our own."""
        if topic == self.answer_topic:
            try:
                number = orjson.loads(payload)["probe"]
            except Exception:  # noqa: BLE001 - only bridges may publish here; a bad one is simply not an answer
                return
            if self.ledger.answered(number):
                self.stats.probes_answered += 1
            return
        try:
            bridge_id = orjson.loads(payload)["bridge"]
            answer_topic = probe_answer_topic(bridge_id)
        except Exception:  # noqa: BLE001 - not a probe of ours: nothing to answer
            return
        client = self.publisher.clients.get(Channel.ALARM)
        if client is not None:
            self.publisher.spawn(self.publisher.publish(client, answer_topic, payload, qos=1), what="probe answer")
