"""Volunteer patrols: where each patrol phone last reported itself."""

from __future__ import annotations

from engine.entities import DeviceEntity
from protocols.device import DeviceMessage


def track_position(entity: DeviceEntity, message: DeviceMessage, now_s: float) -> None:
    """A ``patrol.position`` event: the phone's position is the one it reported."""
    entity.position = (message.data.lat, message.data.lon)
