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
from protocols.console_labels import LABELS, Labels  # noqa: F401 - part of the protocol
from protocols.console_units import UnitChoice, UnitPassed, UnitsAnswer, UnitsQuery  # noqa: F401 - part of it too
from protocols.console_community import COMMUNITY_ANSWERS, COMMUNITY_REQUESTS
from protocols.console_dispatch import DISPATCH_ANSWERS, DISPATCH_REQUESTS
from protocols.console_points import POINTS_ANSWERS, POINTS_REQUESTS
from protocols.console_sites import SITES_ANSWERS, SITES_REQUESTS
from protocols.kinds import IncidentKind, IncidentState, Level, TimelineEvent
from protocols.records import Action, IncidentRecord, Tip

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
    to_level: Level | None = None
    """``hand_back`` only: the lower level the incident goes back to (the reason goes in ``note``)."""
    priority: Annotated[int, Meta(ge=1, le=3)] | None = None
    """``promote`` only: the priority the tip becomes (none: 2). ``accept`` / ``reject`` take ``note``."""


class Logout(Struct, tag="logout", forbid_unknown_fields=True):
    """End this session on the server: its token is revoked (every session opened with it is closed, 4001)."""


class Receipt(Struct, tag="receipt", forbid_unknown_fields=True):
    """The console has shown these incidents (id, version): sent after it applied a snapshot or changes frame.
    The gateway journals the first receipt per notified responder as a ``delivered`` timeline line."""

    incidents: Annotated[list[tuple[Annotated[str, Meta(max_length=128)], int]], Meta(max_length=5000)]


class Seen(Struct, tag="seen", forbid_unknown_fields=True):
    """An operator opened the incident (selected it in the detail panel): a ``seen`` line, once per responder."""

    incident: Annotated[str, Meta(max_length=128)]


class Resync(Struct, tag="resync", forbid_unknown_fields=True):
    pass


Filter = Annotated[str, Meta(max_length=64)]


class AuditQuery(Struct, tag="audit", forbid_unknown_fields=True):
    """A page of the audit trail, newest first (command center only). ``before``: the ``id`` of the last row of
    the previous page (none: from the newest). Filters are exact matches; empty means any."""

    limit: Annotated[int, Meta(ge=1, le=500)] = 50
    before: Annotated[int, Meta(ge=0)] | None = None
    actor: Filter = ""
    action: Filter = ""
    outcome: Filter = ""
    since_s: float | None = None
    until_s: float | None = None


ClientMessage = Union[(Login, Auth, Command, Logout, Receipt, Seen, Resync, AuditQuery, UnitsQuery, *POINTS_REQUESTS,
                      *DISPATCH_REQUESTS, *COMMUNITY_REQUESTS, *SITES_REQUESTS)]


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
    may_end: list[Level]
    """The levels that may close, cancel or false-alarm it now (the authority rule and the kind's policy)."""
    tip: Tip | None = None
    """A volunteer's tip (``patrol.clue``): category, text, photo reference, reporter, and the verdict once
    reviewed (none: under review, the station's queue)."""


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
    address: str = ""
    zone: str = ""
    grid: str = ""
    """The grid id of ``zone`` (``protocols/community_figures.grid_id``): a grid worker's scope, the grid filter."""


class MapDevice(Struct):
    id: str
    kind: str
    site: str
    lat: float
    lon: float
    label: str = ""
    """What people call it ("Main gate door"); empty: the kind's label and the id."""


class CityMap(Struct):
    precincts: list[MapPrecinct]
    sites: list[MapSite]
    devices: list[MapDevice]


class Welcome(Struct, tag="welcome"):
    operator: str
    role: str
    scope: str
    responder: str
    level: Level
    server_s: float
    map: CityMap
    labels: Labels
    ageing: dict[str, tuple[float, float]]
    """Per priority ("1".."5"): after how many seconds an open incident's age turns warm, then old (policies)."""
    expires_s: float
    """When this session's token expires: the session is closed then (4001, "token expired")."""


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
    """Every device of the city (phones too)."""
    devices_active: int
    """Devices heard from since the engine started (any kind): activity, not health."""
    incidents_open: int
    devices_supervised: int = 0
    """Fixed devices (doors, cameras, panic boxes, kiosks) under supervision: heard from at least once, so their
    silence is reported. ``devices_online + devices_offline == devices_supervised``."""
    devices_online: int = 0
    """Supervised devices reporting within their heartbeat allowance."""
    devices_offline: int = 0
    """Supervised devices offline now: each has an open ``device.offline`` incident, or is covered by its site's
    ``site.offline`` (unless an operator ended it). The same state that raises those incidents."""
    sites_offline: int = 0
    """Sites with an open ``site.offline`` incident: every supervised device of the site offline at once."""


class Heartbeat(Struct, tag="heartbeat"):
    server_s: float
    seq: int
    engine: EngineFigures | None = None


class AuditRowView(Struct):
    """One audit row; one meaning per column."""

    id: int
    """Its place in the trail (newer rows have larger ids): the ``before`` of the next page."""
    t_s: float
    actor: str
    """Who: the operator's name, a device id, ``system`` or a bridge; empty when nobody can be named (a forged token,
    a foreign Origin: the client's address is in ``reason``)."""
    role: str
    """The actor's role (command_center, station, guard_room), ``device`` or ``system``; empty when unknown (a
    login under a name that does not exist)."""
    scope: str
    """The actor's jurisdiction (precinct or site id; empty for the command center)."""
    action: str
    target: str
    """What it was done to: an incident, a device, a site, an operator name, ``token <id>``, a socket path."""
    outcome: str
    """ok, refused, unavailable or failed (supervision rows: raised or folded; a dead letter: dead-lettered)."""
    reason: str
    """Why it was refused, or the operator's note; ``(from <address>)`` on what came over a socket."""


class AuditRows(Struct, tag="audit"):
    rows: list[AuditRowView]
    more: bool = False
    """Older rows match the filters: ask again with ``before`` = the last row's ``id``."""


class Error(Struct, tag="error"):
    reason: str


ServerMessage = Union[(Token, Welcome, Snapshot, IncidentChanged, Changes, Result, Heartbeat, AuditRows, Error,
                       UnitsAnswer, *POINTS_ANSWERS, *DISPATCH_ANSWERS, *COMMUNITY_ANSWERS, *SITES_ANSWERS)]

_client_type: Final = ClientMessage
_server_type: Final = ServerMessage


def incident_view(record: IncidentRecord, may_end: tuple[Level, ...] | list[Level] = ()) -> IncidentView:
    return IncidentView(
        record.id, record.kind, record.device_id, record.site_id, record.precinct_id, record.priority, record.state,
        record.raised_s, record.level, record.deadline_s, record.repeats, record.acked_by, record.acked_level,
        record.unit, record.disposition, record.lat, record.lon, record.version, list(record.notified),
        list(record.holders),
        [TimelineView(e.t_s, e.event, e.level, e.target, e.actor, e.note) for e in record.timeline],
        list(may_end), record.tip,
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
