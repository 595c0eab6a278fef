"""The console protocol: JSON over a WebSocket, one object per message, tagged by ``type``.

Documented for other clients in ``docs/console-protocol.md``. Encoded with orjson; decoded with msgspec,
so a bad message is refused with the field that is wrong (``command.action: invalid enum value 'x'``).
The enums are the engine's own (``Level``, ``IncidentState``, ``IncidentKind``, ``Action``).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Final, Union

import msgspec
import orjson
from msgspec import Meta, Struct

from protocols.errors import ProtocolError
from protocols.kinds import (DEVICE_KIND_LABELS, ESCALATION_CHAIN, EVENT_KIND_LABELS, INCIDENT_KIND_LABELS,
                             INCIDENT_STATE_LABELS, LEVEL_LABELS, SITE_KIND_LABELS, TIMELINE_EVENT_LABELS,
                             IncidentKind, IncidentState, Level, TimelineEvent)
from protocols.records import Action, IncidentRecord

MAX_CLIENT_MESSAGE_BYTES: Final = 16_384
Text = Annotated[str, Meta(max_length=512)]


# -- client → server ---------------------------------------------------------------------------------


class Login(Struct, tag="login", forbid_unknown_fields=True):
    username: Annotated[str, Meta(max_length=64)]
    password: Annotated[str, Meta(max_length=256)]


class Auth(Struct, tag="auth", forbid_unknown_fields=True):
    token: Annotated[str, Meta(max_length=2048)]


class Command(Struct, tag="command", forbid_unknown_fields=True):
    id: int
    action: Action
    incident: Annotated[str, Meta(max_length=128)]
    unit: Text = ""
    disposition: Text = ""
    note: Text = ""


class Resync(Struct, tag="resync", forbid_unknown_fields=True):
    pass


class AuditQuery(Struct, tag="audit", forbid_unknown_fields=True):
    limit: Annotated[int, Meta(ge=1, le=1000)] = 200


ClientMessage = Union[Login, Auth, Command, Resync, AuditQuery]


# -- server → client ---------------------------------------------------------------------------------


class TimelineView(Struct):
    t_s: float
    event: TimelineEvent
    level: Level | None
    target: str
    actor: str
    note: str


class IncidentView(Struct):
    id: str
    kind: IncidentKind
    device_id: str
    site_id: str
    precinct_id: str
    priority: int
    state: IncidentState
    raised_s: float
    level: Level
    deadline_s: float | None
    repeats: int
    acked_by: str
    acked_level: Level | None
    unit: str
    disposition: str
    lat: float
    lon: float
    version: int
    notified: list[str]
    holders: list[str]
    timeline: list[TimelineView]


class Token(Struct, tag="token"):
    token: str
    expires_s: float
    operator: str
    role: str
    scope: str


class MapPrecinct(Struct):
    id: str
    name: str
    station: str
    bounds: tuple[float, float, float, float] | None


class MapSite(Struct):
    id: str
    kind: str
    name: str
    precinct: str
    lat: float
    lon: float


class MapDevice(Struct):
    id: str
    kind: str
    site: str
    lat: float
    lon: float


class CityMap(Struct):
    precincts: list[MapPrecinct]
    sites: list[MapSite]
    devices: list[MapDevice]


class Labels(Struct):
    """What a console shows for each wire value (from ``protocols.kinds``), so no client keeps a copy."""

    chain: list[Level]
    """The escalation chain, lowest rung first."""
    terminal: list[IncidentState]
    """The states in which an incident has left the queue."""
    levels: dict[str, str]
    states: dict[str, str]
    kinds: dict[str, str]
    """Incident kinds and device event kinds (one value reads the same in both)."""
    devices: dict[str, str]
    sites: dict[str, str]
    timeline: dict[str, str]


def _values(labels: dict) -> dict[str, str]:
    return {member.value: label for member, label in labels.items()}


LABELS: Final = Labels(
    chain=list(ESCALATION_CHAIN),
    terminal=[state for state in IncidentState if state.is_terminal],
    levels=_values(LEVEL_LABELS),
    states=_values(INCIDENT_STATE_LABELS),
    kinds={**_values(EVENT_KIND_LABELS), **_values(INCIDENT_KIND_LABELS)},
    devices=_values(DEVICE_KIND_LABELS),
    sites=_values(SITE_KIND_LABELS),
    timeline=_values(TIMELINE_EVENT_LABELS),
)


class Welcome(Struct, tag="welcome"):
    operator: str
    role: str
    scope: str
    responder: str
    level: Level
    server_s: float
    map: CityMap
    labels: Labels


class Snapshot(Struct, tag="snapshot"):
    seq: int
    server_s: float
    incidents: list[IncidentView]


class IncidentChanged(Struct, tag="incident"):
    seq: int
    incident: IncidentView


class Changes(Struct, tag="changes"):
    """The changes of one gateway tick that this console's operator sees, in ``seq`` order: one frame, not
    one per change (at 1,000 changes/s to 200 consoles, frames are the cost)."""

    items: list[IncidentChanged]


class Result(Struct, tag="result"):
    """The answer to a command: ``ok``, or the refusal's message and its ``code``, the engine's error type
    (``InvalidTransition``, ``NotAuthorized``, ``UnknownIncident``, ``Unavailable``, ``OutOfJurisdiction``)."""

    id: int
    ok: bool
    error: str = ""
    code: str = ""


class EngineFigures(Struct):
    """The whole engine's counters, in the command center's heartbeats only (every host, since it started)."""

    events_taken: int
    """Device events accepted or refused (a resent duplicate not again)."""
    duplicates: int
    events_per_s: float
    """Events taken per second over the last heartbeat period."""
    devices: int
    devices_active: int
    incidents_open: int


class Heartbeat(Struct, tag="heartbeat"):
    server_s: float
    seq: int
    engine: EngineFigures | None = None


class AuditRowView(Struct):
    t_s: float
    actor: str
    action: str
    subject: str
    outcome: str
    where: str
    detail: str


class AuditRows(Struct, tag="audit"):
    rows: list[AuditRowView]


class Error(Struct, tag="error"):
    reason: str


ServerMessage = Union[Token, Welcome, Snapshot, IncidentChanged, Changes, Result, Heartbeat, AuditRows, Error]

_client_type: Final = ClientMessage
_server_type: Final = ServerMessage


def incident_view(record: IncidentRecord) -> IncidentView:
    return IncidentView(
        record.id, record.kind, record.device_id, record.site_id, record.precinct_id, record.priority, record.state,
        record.raised_s, record.level, record.deadline_s, record.repeats, record.acked_by, record.acked_level,
        record.unit, record.disposition, record.lat, record.lon, record.version, list(record.notified),
        list(record.holders),
        [TimelineView(e.t_s, e.event, e.level, e.target, e.actor, e.note) for e in record.timeline],
    )


def encode(message: Struct) -> bytes:
    return orjson.dumps(msgspec.to_builtins(message))


def decode_client(payload: bytes | str) -> Any:
    """One client message, validated; a :class:`ProtocolError` names what is wrong."""
    if len(payload) > MAX_CLIENT_MESSAGE_BYTES:
        raise ProtocolError("", f"message too large: {len(payload)} bytes, limit {MAX_CLIENT_MESSAGE_BYTES}")
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:  # also bad UTF-8, NaN, and nesting deeper than 1,024
        raise ProtocolError("", f"malformed JSON: {exc}") from None
    try:
        return _convert(data, _client_type)
    except ProtocolError:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever else a frame provokes is a refusal, not a dead session
        raise ProtocolError("", f"unreadable message ({type(exc).__name__})") from None


def decode_server(payload: bytes | str) -> Any:
    """For clients written in Python (tests, the fan-out benchmark)."""
    return _convert(orjson.loads(payload), _server_type)


def _convert(data: Any, type_: Any) -> Any:
    try:
        return msgspec.convert(data, type_)
    except msgspec.ValidationError as exc:
        message, _, at = str(exc).partition(" - at `$")
        field = at.rstrip("`").lstrip(".")
        if missing := re.match(r"Object (missing required|contains unknown) field `([^`]+)`", message):
            name = missing.group(2)
            reason = "required field missing" if missing.group(1).startswith("missing") else "unknown field"
            raise ProtocolError(f"{field}.{name}" if field else name, reason) from None
        reason = message.replace("`", "")
        raise ProtocolError(field or "type", reason[:1].lower() + reason[1:]) from None
