"""The bridge's figures: one ``LaneStats`` per lane, counted where things happen, and the report built from them."""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field

from engine.measures import Histogram, reason_label
from protocols.batch import DeviceAck
from protocols.kinds import AckStatus
from protocols.topics import Channel


@dataclass(slots=True)
class LaneStats:
    received: int = 0
    accepted: int = 0
    duplicates: int = 0
    refused: int = 0
    acks_sent: int = 0
    connects: int = 0
    batches: int = 0
    dropped: int = 0
    connected: bool = False
    last_error: str = ""
    dead_lettered: int = 0
    probes_sent: int = 0
    probes_answered: int = 0
    probes_lost: int = 0
    not_taken: int = 0
    """Messages a host did not take (dead, restarting, overloaded, journal failing): NAKed ``unavailable``."""
    retried: int = 0
    """Kept alarms and reports offered to the hosts again."""
    retrying: int = 0
    """Kept alarms and reports waiting for their host now."""
    backing_off: bool = False
    """The connection was lost (or refused) and the lane waits before it connects again."""
    acked: int = 0
    """Positive answers published (acks and duplicates' acks); NAKs are counted in ``naks``."""
    naks: dict[str, int] = field(default_factory=dict)
    """Messages refused, by the field their reason names (``engine.measures.reason_label``): the host's refusals,
    the bridge's own (undecodable, unknown device, too many urgent messages), ``unavailable``, dead letters."""
    ack_latency_s: Histogram = field(default_factory=Histogram)
    """The alarm lane's: each ack's time from the alarm's arrival at the bridge to the ack published."""


def count_nak(stats: LaneStats, reason: str) -> None:
    label = reason_label(reason)
    stats.naks[label] = stats.naks.get(label, 0) + 1


def count_answers(stats: LaneStats, acks: list[DeviceAck]) -> None:
    """A host's answers about to be published: the NAKs by reason, the rest as acked."""
    naks = 0
    for ack in acks:
        if ack.status is AckStatus.NAK:
            naks += 1
            count_nak(stats, ack.reason)
    stats.acked += len(acks) - naks


def as_dict(stats: LaneStats) -> dict:
    """Plain data (JSON-ready): the histogram as its bounds, counts and sum."""
    out = {name: getattr(stats, name) for name in LaneStats.__slots__}
    out["naks"] = dict(stats.naks)
    histogram = stats.ack_latency_s.snapshot()
    out["ack_latency_s"] = {"bounds": list(histogram.bounds), "counts": list(histogram.counts), "sum": histogram.sum}
    return out


def bridge_statistics(bridge_id: str, stats: dict[Channel, LaneStats], queues: dict[Channel, asyncio.Queue], *,
                      commands_sent: int, notices_sent: int, naks_dropped: int) -> dict:
    """What ``BridgeActor.statistics`` returns: each lane's counts and its incoming queue, and the process's."""
    lanes = {lane.value: as_dict(s) for lane, s in stats.items()}
    for lane, queue in queues.items():
        lanes[lane.value]["queue_overflowed"] = getattr(queue, "overflowed", 0)
        lanes[lane.value]["queued"] = queue.qsize()
    return {
        "bridge_id": bridge_id,
        "pid": os.getpid(),
        "cpu_s": round(time.process_time(), 3),
        "lanes": lanes,
        "commands_sent": commands_sent,
        "notices_sent": notices_sent,
        "naks_dropped": naks_dropped,
    }
