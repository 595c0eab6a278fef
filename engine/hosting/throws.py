"""Thrown objects: a ``camera.throw`` alarm raises an incident that shows where the object came from (building,
facade, estimated floor or floor band, trajectory, in its first timeline note), and a repeat from the same camera and
facade within ``JOIN_S`` (10 min) of the last joins that incident while it is open (counted on it as a repeat; the
clip references are kept, the newest ``MAX_CLIPS``), instead of raising another. A report after that, or after the
incident ended, raises a new one. Each camera facade's open incident is snapshotted
(``engine/hosting/community_rows.py``), so joining survives a restart; one older than ``JOIN_S`` is dropped at the
camera's next throw.
"""

from __future__ import annotations

from typing import Final

from engine.entities import DeviceEntity
from engine.hosting import community_rows as rows
from engine.hosting.staging import JournalStaging
from engine.incident import repeat
from protocols.device import DeviceMessage
from protocols.kinds import IncidentKind

JOIN_S: Final = 600.0
MAX_CLIPS: Final = 20


def where(data, device_label: str) -> str:
    """Building, facade, floor (or band) and trajectory, as a line of the incident's timeline."""
    parts = [f"building {data.building or device_label or '?'}", f"facade {data.facade or '?'}"]
    if data.floor_low is not None and data.floor_high is not None:
        parts.append(f"floors {min(data.floor_low, data.floor_high)}-{max(data.floor_low, data.floor_high)}")
    elif data.floor:
        parts.append(f"floor {data.floor}")
    else:
        parts.append("floor ?")
    if data.trajectory:
        parts.append(f"trajectory {data.trajectory}")
    if data.clip:
        parts.append(f"clip {data.clip}")
    return ", ".join(parts)[:300]


class Throws:
    def __init__(self, *, staging: JournalStaging, figures: rows.Figures, join_s: float = JOIN_S) -> None:
        self.staging = staging
        self.figures = figures
        self.join_s = join_s
        self.store = None
        self.open: dict[tuple[str, str], rows.ThrowRow] = {}
        """(camera, facade) → its incident repeats may join."""

    def attach(self, store) -> None:
        self.store = store

    def load(self, snapshots: dict[str, bytes]) -> None:
        self.open = {(t.camera, t.facade): t for t in rows.throws(snapshots)}

    def raise_or_join(self, entity: DeviceEntity, message: DeviceMessage, now_s: float, note: str) -> str:
        """The incident of a ``camera.throw`` alarm: the facade's open one, or a new one."""
        device, data = entity.device, message.data
        key = (device.id, data.facade)
        self._prune(device.id, now_s)
        row = self.open.get(key)
        record = self.store.owned(row.incident) if row is not None else None
        if row is not None and record is not None and record.is_active and now_s - row.last_s <= self.join_s:
            self.store.store(repeat(record, seq=message.seq), record, [], now_s)
            row.last_s, row.repeats = now_s, row.repeats + 1
            if data.clip:
                row.clips = (row.clips + [data.clip])[-MAX_CLIPS:]
            self._keep(row)
            self.figures.add("throws_joined")
            return row.incident
        note = "; ".join(n for n in (where(data, device.label), note) if n)
        incident_id = self.store.raise_or_repeat(device, IncidentKind.CAMERA_THROW, now_s, seq=message.seq, note=note,
                                                 fresh=True)
        self._keep(rows.ThrowRow(device.id, data.facade, incident_id, now_s, now_s, 0,
                                 [data.clip] if data.clip else []))
        self.figures.add("throws")
        return incident_id

    def _keep(self, row: rows.ThrowRow) -> None:
        self.open[(row.camera, row.facade)] = row
        self.staging.snapshot(f"{rows.THROW}{row.camera}/{row.facade}", rows.encode(row))

    def _prune(self, camera: str, now_s: float) -> None:
        for key, row in list(self.open.items()):
            if row.camera == camera and now_s - row.last_s > self.join_s:
                del self.open[key]
                self.staging.snapshot(f"{rows.THROW}{row.camera}/{row.facade}", None)
