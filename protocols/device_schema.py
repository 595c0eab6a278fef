"""Device message v1, the schema: one msgspec Struct per kind, tagged by ``kind``, with every field's type and bound,
so decoding and validating the whole message, ``data`` included, is a single pass; how a validation error reads
(``data.floor: expected int, got str``). The device contract, for integrators: ``docs/devices.md``.

Unknown fields are ignored, so a newer device can add fields without older engines refusing it.
"""

from __future__ import annotations

from enum import StrEnum

import re
from typing import Annotated, Final, Union

import msgspec
from msgspec import Meta, Struct, field

from protocols.errors import ProtocolError
from protocols.community import VisitorAnswer
from protocols.kinds import EventKind

MAX_SEQ: Final = 2**53 - 1
"""The largest ``seq`` (and ``boot``): every JSON parser reads it exactly, and a device counting one a millisecond
takes 285,000 years to reach it. Anything larger is refused, never allowed to poison the device's window."""
# Texts end up in consoles, logs and journals: no control characters (C0, DEL, C1), no Unicode line or paragraph
# separators, no direction overrides (which make a console show text other than what was sent). Free text may
# hold tabs and line breaks.
_UNSAFE = "\\x7f-\\x9f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069"
_PLAIN_TEXT = f"^[^\\x00-\\x1f{_UNSAFE}]*$"
_PROSE = f"^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f{_UNSAFE}]*$"
PLAIN_TEXT_PATTERN: Final = _PLAIN_TEXT
"""One line of safe text (an operator's reason, a title): the same rule as the devices' short texts."""
PROSE_PATTERN: Final = _PROSE
"""Safe free text (tabs and line breaks allowed): a notice's text, as the devices' long texts."""

Seq = Annotated[int, Meta(ge=0, le=MAX_SEQ)]
EpochMs = Annotated[int, Meta(ge=0, le=2**53)]
Lat = Annotated[float, Meta(ge=-90.0, le=90.0)]
Lon = Annotated[float, Meta(ge=-180.0, le=180.0)]
ShortText = Annotated[str, Meta(max_length=128, pattern=_PLAIN_TEXT)]
LongText = Annotated[str, Meta(max_length=1024, pattern=_PROSE)]
NonNegative = Annotated[float, Meta(ge=0.0, le=1e9)]  # bounded: MessagePack can carry +inf, JSON cannot
Floor = Annotated[int, Meta(ge=-20, le=500)]  # every int bounded: one past int64 cannot be encoded again
Rssi = Annotated[int, Meta(ge=-200, le=50)]


# -- data, one Struct per kind -------------------------------------------------------------------


class PanicData(Struct, frozen=True):
    zone: ShortText = ""
    button: ShortText = ""


class VisitorData(Struct, frozen=True):
    unit: ShortText
    floor: Floor = 0
    snapshot: LongText = ""


class DoorAlarmData(Struct, frozen=True):
    open_s: NonNegative = 0.0


class DoorOpenedData(Struct, frozen=True):
    open: bool = True
    by: ShortText = ""


class CameraData(Struct, frozen=True):
    """``camera.throw`` may say where the object came from: the building and facade, the trajectory, the estimated
    origin floor (``floor``) or a band (``floor_low``..``floor_high``), and a reference to the clip (never the clip)."""

    snapshot: LongText = ""
    floor: Floor = 0
    zone: ShortText = ""
    building: ShortText = ""
    facade: ShortText = ""
    trajectory: ShortText = ""
    floor_low: Floor | None = None
    floor_high: Floor | None = None
    clip: LongText = ""


class VisitorAnswerData(Struct, frozen=True):
    """A resident's answer to the visitor call ``call`` (the id in the ``visitor_call`` command)."""

    call: ShortText
    answer: VisitorAnswer


class VisitorPassData(Struct, frozen=True):
    """A time-limited door code for a visitor: valid from ``valid_from`` (epoch ms; 0: now) to ``valid_until``, for
    ``uses`` openings, at ``door`` (empty: any door of the resident's community)."""

    request: Annotated[str, Meta(min_length=1, max_length=64, pattern=_PLAIN_TEXT)]
    valid_until: EpochMs
    valid_from: EpochMs = 0
    uses: Annotated[int, Meta(ge=1, le=20)] = 1
    door: ShortText = ""


class DoorCodeData(Struct, frozen=True):
    code: Annotated[str, Meta(min_length=1, max_length=16, pattern=r"^[0-9A-Za-z]*$")]


class NoticeShownData(Struct, frozen=True):
    """A door screen shows the notice ``notice`` of its site's board (``protocols/notices.py``)."""

    notice: Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:@-]+$")]


class KioskSessionData(Struct, frozen=True):
    """A session at a kiosk ended: the catalogue's ``service``, how long it took, its ``outcome`` (done, abandoned,
    failed), the face check's result (passed, failed, skipped) and an exam's ``score`` (0-100). The engine refuses an
    unknown service or outcome naming the field (``engine/hosting/kiosk_domain.py``)."""

    service: ShortText
    outcome: ShortText
    score: Annotated[int, Meta(ge=0, le=100)] | None = None
    duration_s: NonNegative = 0.0
    face_check: ShortText = "skipped"


class KioskBookData(Struct, frozen=True):
    """A phone books ``service`` at kiosk hall ``hall`` for the slot starting at ``slot`` (epoch seconds)."""

    service: ShortText
    hall: ShortText
    slot: Annotated[int, Meta(ge=0, le=2**40)]


class KioskCodeData(Struct, frozen=True):
    """A booking code typed at a kiosk."""

    code: Annotated[str, Meta(min_length=1, max_length=16, pattern=r"^[0-9A-Za-z]*$")]


class KioskSuppliesData(Struct, frozen=True):
    """A kiosk's consumables in percent; one left out is not reported."""

    paper: Annotated[float, Meta(ge=0.0, le=100.0)] | None = None
    card: Annotated[float, Meta(ge=0.0, le=100.0)] | None = None


class KioskFaultData(Struct, frozen=True):
    code: ShortText
    detail: LongText = ""


class EmptyData(Struct, frozen=True):
    pass


class PatrolData(Struct, frozen=True):
    volunteer: ShortText = ""
    team: ShortText = ""


class PositionData(Struct, frozen=True):
    lat: Lat
    lon: Lon
    accuracy_m: NonNegative = 0.0


class ClueData(Struct, frozen=True):
    """A tip: what the volunteer saw, where, and a reference to the photo uploaded beside it (not the photo)."""

    text: LongText
    lat: Lat | None = None
    lon: Lon | None = None
    category: ShortText = ""
    photo: LongText = ""


class TaskAnswer(StrEnum):
    ACCEPT = "accept"
    DECLINE = "decline"
    CHECK_IN = "check_in"
    ARRIVED = "arrived"
    DONE = "done"


class TaskData(Struct, frozen=True):
    """The volunteer's answer to the task the engine offered the phone (command ``task.offer``)."""

    incident: ShortText
    answer: TaskAnswer


RequestId = Annotated[str, Meta(min_length=1, max_length=64, pattern=_PLAIN_TEXT)]
ItemId = Annotated[str, Meta(min_length=1, max_length=64, pattern=_PLAIN_TEXT)]
_MONTH = r"^$|^(19[7-9][0-9]|2[0-9]{3})-(0[1-9]|1[0-2])$"
"""Years 1970-2999: a month before the epoch or past 9999 has no UTC bounds a host could compute."""
Month = Annotated[str, Meta(pattern=_MONTH)]


class RedeemData(Struct, frozen=True):
    """Spend points on ``quantity`` of a shop item; ``request`` names the request so a retry is not a second one."""

    request: RequestId
    item: ItemId
    quantity: Annotated[int, Meta(ge=1, le=100)] = 1


class PointsQueryData(Struct, frozen=True):
    """A month's statement (``YYYY-MM``, UTC); empty: the current month."""

    month: Month = ""


class SosData(Struct, frozen=True):
    lat: Lat | None = None
    lon: Lon | None = None


class HeartbeatData(Struct, frozen=True):
    battery: Annotated[float, Meta(ge=0.0, le=100.0)] | None = None
    rssi: Rssi | None = None


# -- envelopes, one per kind ---------------------------------------------------------------------


class DeviceMessage(Struct, frozen=True, tag_field="kind"):
    """Common envelope fields; ``kind`` is the tag of the concrete subclass."""

    seq: Seq
    ts: EpochMs
    boot: Seq = 0
    """Changes at every boot of the device (a boot counter or a random number); 0: the device sends none.
    A new ``boot`` starts the device's sequence numbers afresh (``docs/devices.md``)."""

    @property
    def event_kind(self) -> EventKind:
        return _KIND_OF_CLASS[type(self)]


def _envelope(kind: EventKind, data_type: type[Struct], *, required: bool) -> type[DeviceMessage]:
    """A tagged envelope for one kind; ``data`` may be omitted when every field of it has a default."""
    data_field = ("data", data_type) if required else ("data", data_type, field(default_factory=data_type))
    name = "".join(part.capitalize() for part in re.split(r"[._]", kind.value)) + "Message"
    return msgspec.defstruct(
        name, [data_field], bases=(DeviceMessage,), tag=kind.value, frozen=True, kw_only=True, module=__name__
    )


_DATA_TYPES: Final[dict[EventKind, tuple[type[Struct], bool]]] = {
    EventKind.SCHOOL_PANIC: (PanicData, False),
    EventKind.SCHOOL_DURESS: (PanicData, False),
    EventKind.DOOR_VISITOR: (VisitorData, True),
    EventKind.DOOR_FORCED: (DoorAlarmData, False),
    EventKind.DOOR_HELD_OPEN: (DoorAlarmData, False),
    EventKind.DOOR_OPENED: (DoorOpenedData, False),
    EventKind.CAMERA_THROW: (CameraData, False),
    EventKind.CAMERA_INTRUSION: (CameraData, False),
    EventKind.KIOSK_SESSION: (KioskSessionData, True),
    EventKind.KIOSK_FAULT: (KioskFaultData, True),
    EventKind.KIOSK_SOS: (EmptyData, False),
    EventKind.KIOSK_SUPPLIES: (KioskSuppliesData, False),
    EventKind.KIOSK_CODE: (KioskCodeData, True),
    EventKind.KIOSK_BOOK: (KioskBookData, True),
    EventKind.PATROL_START: (PatrolData, False),
    EventKind.PATROL_POSITION: (PositionData, True),
    EventKind.PATROL_STOP: (PatrolData, False),
    EventKind.PATROL_CLUE: (ClueData, True),
    EventKind.PATROL_SOS: (SosData, False),
    EventKind.PATROL_TASK: (TaskData, True),
    EventKind.POINTS_REDEEM: (RedeemData, True),
    EventKind.POINTS_QUERY: (PointsQueryData, False),
    EventKind.VISITOR_ANSWER: (VisitorAnswerData, True),
    EventKind.VISITOR_PASS: (VisitorPassData, True),
    EventKind.DOOR_CODE: (DoorCodeData, True),
    EventKind.NOTICE_SHOWN: (NoticeShownData, True),
    EventKind.HEARTBEAT: (HeartbeatData, False),
}

MESSAGE_TYPES: Final[dict[EventKind, type[DeviceMessage]]] = {
    kind: _envelope(kind, data_type, required=required) for kind, (data_type, required) in _DATA_TYPES.items()
}
_KIND_OF_CLASS: Final = {cls: kind for kind, cls in MESSAGE_TYPES.items()}

AnyDeviceMessage = Union[tuple(MESSAGE_TYPES.values())]  # type: ignore[valid-type]



def make_message(kind: EventKind | str, *, seq: int, ts: int, data: dict | None = None,
                 boot: int = 0) -> DeviceMessage:
    """Build a typed message from plain values, validating them exactly as the decoder does."""
    try:
        return msgspec.convert({"kind": str(kind), "seq": seq, "ts": ts, "boot": boot, "data": data or {}},
                               AnyDeviceMessage)
    except msgspec.ValidationError as exc:
        raise translate_validation_error(exc) from exc


_AT = re.compile(r"^(?P<msg>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)
_AT_KEY = re.compile(r"^.* - at `key` in `\$(?P<path>[^`]*)`$", re.S)
_EXPECTED = re.compile(r"^Expected `(?P<want>[^`]+)`, got `(?P<got>[^`]+)`$")
_MISSING = re.compile(r"^Object missing required field `(?P<name>[^`]+)`$")
_INVALID_TAG = re.compile(r"^Invalid value (?P<value>.+)$")


def translate_validation_error(exc: msgspec.ValidationError) -> ProtocolError:
    """Turn msgspec's ``Expected `int`, got `str` - at `$.data.floor``` into ours."""
    if m := _AT_KEY.match(str(exc)):  # a map key that is not a string
        path = re.sub(r"\[(\d+)\]", r".\1", m["path"]).lstrip(".")
        return ProtocolError(path or "payload", "map keys must be strings")
    match = _AT.match(str(exc))
    assert match is not None  # the pattern accepts any text
    message, path = match["msg"], (match["path"] or "").lstrip(".")
    path = re.sub(r"\[(\d+)\]", r".\1", path).lstrip(".")
    if m := _EXPECTED.match(message):
        return ProtocolError(path, f"expected {m['want']}, got {m['got']}")
    if m := _MISSING.match(message):
        return ProtocolError(f"{path}.{m['name']}" if path else m["name"], "required field missing")
    if (m := _INVALID_TAG.match(message)) and path == "kind":
        return ProtocolError("kind", f"unknown kind {m['value'][:64]}")
    if "matching regex" in message and _MONTH in message:
        return ProtocolError(path, "expected a month YYYY-MM, or empty for the current month")
    if "matching regex" in message and "^[0-9A-Za-z]*$" in message:  # a code typed at a door or kiosk
        return ProtocolError(path, "expected letters and digits only")
    if "matching regex" in message:
        return ProtocolError(path, "control or direction-override characters are not allowed")
    message = message.replace("`", "")
    return ProtocolError(path, message[:1].lower() + message[1:])
