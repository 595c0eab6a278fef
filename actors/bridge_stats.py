"""The bridge's figures: one ``LaneStats`` per lane, counted where things happen, and the report built from them."""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass

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


def as_dict(stats: LaneStats) -> dict:
    return {name: getattr(stats, name) for name in LaneStats.__slots__}


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
