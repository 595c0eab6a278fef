"""Which host owns which device message: shared by the runtime and the MQTT bridge."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from engine.placement import Placement
from protocols.batch import DeviceAck, Ingest, IngestResult, StateChange
from protocols.kinds import AckStatus


def unknown_device(device_id: str, seq: int) -> DeviceAck:
    return DeviceAck(device_id, seq, AckStatus.NAK, f"device_id: unknown device {device_id!r}")


def split_by_host(placement: Placement, items: Iterable[Ingest]) -> tuple[dict[str, list[Ingest]], list[DeviceAck]]:
    """The messages for each host, and a NAK for each message of a device no host owns."""
    by_host: dict[str, list[Ingest]] = defaultdict(list)
    refused: list[DeviceAck] = []
    for item in items:
        host = placement.host_for_device(item.device_id)
        if host is None:
            refused.append(unknown_device(item.device_id, item.message.seq))
        else:
            by_host[host].append(item)
    return by_host, refused


def states_by_host(placement: Placement, states: Iterable[StateChange]) -> dict[str, list[StateChange]]:
    by_host: dict[str, list[StateChange]] = defaultdict(list)
    for state in states:
        host = placement.host_for_device(state.device_id)
        if host is not None:
            by_host[host].append(state)
    return by_host


def merge_results(results: Iterable[IngestResult], refused: list[DeviceAck]) -> IngestResult:
    results = list(results)
    return IngestResult(
        sum(r.accepted for r in results), sum(r.duplicates for r in results),
        sum(r.refused for r in results) + len(refused), refused + [a for r in results for a in r.acks],
    )
