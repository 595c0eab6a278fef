"""A lane's batches to the hosts and the hosts' answers to the devices; what no host took is kept and offered again.

A batch is split over the hosts that own its devices (the sink's ``ingest_parts``) and each host answers for its own
part, as soon as it answers. The answers go back on each device's ``ack`` topic in the encoding of the message they
answer: an ack for every alarm (only after the host wrote it to its journal) and for every event that touched an
incident; a NAK with the reason for every refusal. Plain telemetry that was accepted is not acked: at 10,000
positions a second the acks would double the broker's load for nothing a device can act on.

What a host did not take (dead, restarting, overloaded, its journal failing) is NAKed to the device
(``unavailable, retry: ...``) and, for alarms and reports (``EventKind.must_be_taken``), kept in the lane's retry
buffer (``engine/retry_buffer.py``) and offered again, with backoff, until a host takes it: the device's own retry is
the second line, not the first.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

import aiomqtt

from actors.bridge_connection import pause
from actors.bridge_options import BridgeOptions, Sink
from actors.bridge_publisher import Publisher
from actors.bridge_stats import LaneStats, count_answers, count_nak
from engine.retry_buffer import Keep, RetryBuffer
from protocols.batch import Ingest, IngestResult, StateChange
from protocols.kinds import AckStatus
from protocols.replies import RETRY_LATER, Ack, encode_ack
from protocols.topics import Channel

log = logging.getLogger("actors.mqtt_bridge")  # one logger for the whole bridge


@dataclass(slots=True)
class Pending:
    """A batch on its way to the hosts: the events and, for each answer, the encoding to use."""

    items: list[Ingest] = field(default_factory=list)
    states: list[StateChange] = field(default_factory=list)
    json_of: dict[tuple[str, int], bool] = field(default_factory=dict)
    urgent_of: dict[str, int] = field(default_factory=dict)
    """Per device, its urgent kinds' messages in this batch (the alarm lane takes ``URGENT_PER_BATCH`` of each)."""


class Delivery:
    """One lane's way to the hosts and back: send a batch, publish the answers, keep and retry what was not taken."""

    def __init__(self, lane: Channel, options: BridgeOptions, *, sink: Sink, stats: LaneStats, publisher: Publisher,
                 stopping: asyncio.Event) -> None:
        self.lane = lane
        self.options = options
        self.sink = sink
        self.stats = stats
        self.publisher = publisher
        self.stopping = stopping
        self.retry = RetryBuffer(max_items=options.retry_max, first_s=options.retry_first_s,
                                 cap_s=options.retry_cap_s)

    async def send(self, client: aiomqtt.Client, pending: Pending, *, retry: bool = False) -> bool:
        """One batch to the hosts, and the answers to the devices; returns whether the hosts took all of it."""
        if pending.states:  # on their own: a host that is down must not hold up the batch's events
            self.publisher.spawn(self.sink.states(pending.states), what=f"{len(pending.states)} device states")
        if not pending.items:
            return True
        split = getattr(self.sink, "ingest_parts", None)
        parts = split(pending.items) if split is not None else [self.sink.ingest(pending.items)]
        taken = True
        for answered in asyncio.as_completed(parts):  # each host's acks as soon as that host answers
            try:
                result = await answered
            except Exception as exc:
                result = IngestResult(0, 0, 0, [], list(pending.items), f"{type(exc).__name__}: {exc}"[:300])
            taken = await self._answer(client, pending, result, retry=retry) and taken
        return taken

    async def _answer(self, client: aiomqtt.Client, pending: Pending, result: IngestResult, *, retry: bool) -> bool:
        stats = self.stats
        stats.accepted += result.accepted
        stats.duplicates += result.duplicates
        stats.refused += result.refused
        count_answers(stats, result.acks)
        await asyncio.gather(*(self.publisher.ack(client, ack, pending.json_of.get((ack.device_id, ack.seq), False))
                               for ack in result.acks))
        stats.acks_sent += len(result.acks)
        if self.lane is Channel.ALARM and result.acks:
            self._measure(pending, result)
        if result.not_taken:
            self._not_taken(result, pending, retry=retry)
        return not result.not_taken

    def _measure(self, pending: Pending, result: IngestResult) -> None:
        """Each acked alarm's time from its arrival at the bridge to its ack published (``/metrics``)."""
        now_ms = time.time() * 1000.0
        received = {(item.device_id, item.message.seq): item.received_ms for item in pending.items}
        histogram = self.stats.ack_latency_s
        for ack in result.acks:
            if ack.status is not AckStatus.NAK and (at_ms := received.get((ack.device_id, ack.seq))) is not None:
                histogram.observe(max(0.0, now_ms - at_ms) / 1000.0)

    def _not_taken(self, result: IngestResult, pending: Pending, *, retry: bool) -> None:
        """What no host took: the alarms and reports are kept for another try, and each device is told (once)."""
        stats = self.stats
        kept = 0
        for item in result.not_taken:
            as_json = pending.json_of.get((item.device_id, item.message.seq), False)
            if not retry:
                stats.not_taken += 1
                count_nak(stats, RETRY_LATER)
                self.publisher.publish_later(self.lane, item.device_id, encode_ack(
                    Ack(ok=False, seq=item.message.seq, reason=f"{RETRY_LATER}: {result.not_taken_reason}"[:300],
                        boot=item.message.boot), json=as_json))
            outcome = self.retry.keep(item, as_json)
            if outcome.dropped:
                stats.dropped += 1
            elif outcome is Keep.KEPT:
                kept += 1
        stats.retrying = len(self.retry)
        if not retry:
            log.warning("bridge %s: %s lane: %d messages not taken (%d kept to try again): %s", self.options.bridge_id,
                        self.lane.value, len(result.not_taken), kept, result.not_taken_reason,
                        extra={"bridge_id": self.options.bridge_id, "lane": self.lane.value})

    async def retry_not_taken(self) -> None:
        """Offer the kept alarms and reports to the hosts again, with backoff while they are still not taken."""
        o = self.options
        batch_max = o.alarm_batch_max if self.lane is Channel.ALARM else o.batch_max
        buffer = self.retry
        while not self.stopping.is_set():
            await pause(self.stopping, buffer.delay_s)  # the retry backoff
            client = self.publisher.clients.get(self.lane)
            if not len(buffer) or client is None:
                buffer.idle()
                continue
            batch = buffer.take(batch_max)
            pending = Pending(items=[item for item, _ in batch],
                              json_of={(item.device_id, item.message.seq): as_json for item, as_json in batch})
            self.stats.retried += len(batch)
            self.stats.retrying = len(buffer)  # what failed again is put back (and counted) by _not_taken
            taken = await self.send(client, pending, retry=True)
            buffer.offered(taken=taken)
