"""Wire formats of redband: device messages, MQTT topics, Ray batches. Bytes in, typed messages out.

Nothing here opens a socket, runs an event loop or touches Ray. Bad input raises
:class:`ProtocolError`, whose message names the field and the reason.
"""

from protocols.errors import ProtocolError
from protocols.kinds import DeviceKind, EventKind, IncidentState, Level, TimelineEvent, SiteKind

__all__ = [
    "DeviceKind",
    "EventKind",
    "IncidentState",
    "Level",
    "ProtocolError",
    "SiteKind",
    "TimelineEvent",
]
