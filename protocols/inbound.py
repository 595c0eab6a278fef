"""One MQTT message from a device, classified: an event for the engine, a state change, or a refusal.

Pure: the bridge hands in the topic and the payload and gets back what to do, with the reason for a
refusal worded for the device's NAK. The ``seq`` of a message that fails validation is still read
when it can be, so the NAK echoes it.

:func:`classify` is total: it returns a verdict for any bytes and raises nothing (a payload that could
raise would stop the bridge lane that reads it, and with it every device's alarms).
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from protocols.batch import StateChange
from protocols.device import MAX_SEQ, DeviceMessage, decode_device_message, is_json
from protocols.errors import ProtocolError
from protocols.replies import parse_state
from protocols.topics import Channel, DeviceState, check_kind_on_channel, parse_device_topic


@dataclass(frozen=True, slots=True)
class EventIn:
    device_id: str
    message: DeviceMessage
    json: bool
    channel: Channel


@dataclass(frozen=True, slots=True)
class StateIn:
    change: StateChange


@dataclass(frozen=True, slots=True)
class Refused:
    """``device_id`` is empty when the topic itself was not a device topic: nobody to answer."""

    device_id: str
    seq: int | None
    reason: str
    json: bool


Inbound = EventIn | StateIn | Refused


class _SeqOnly(msgspec.Struct):
    seq: int


_seq_json = msgspec.json.Decoder(_SeqOnly)
_seq_msgpack = msgspec.msgpack.Decoder(_SeqOnly)


def classify(topic: str, payload: bytes, *, known_device=None) -> Inbound:
    """``known_device(id) -> bool`` lets the bridge refuse unknown devices before any engine call."""
    as_json = answers_in_json(payload)
    try:
        return _classify(topic, payload, as_json, known_device)
    except Exception as exc:  # noqa: BLE001 - the one boundary: a verdict for any bytes, never an exception
        device_id = _device_of(topic)
        return Refused(device_id, None, f"payload: unreadable ({type(exc).__name__})", as_json)


def answers_in_json(payload: bytes) -> bool:
    """Answer in JSON what looks like an attempt at JSON, even a refused one (white space or a BOM first)."""
    return is_json(payload) or payload.lstrip(b" \t\r\n\xef\xbb\xbf")[:1] in (b"{", b"[", b'"')


def _device_of(topic: str) -> str:
    try:
        return parse_device_topic(topic).device_id
    except Exception:  # noqa: BLE001 - not a device topic: nobody to answer
        return ""


def _classify(topic: str, payload: bytes, as_json: bool, known_device) -> Inbound:
    try:
        where = parse_device_topic(topic)
    except ProtocolError as exc:
        return Refused("", None, str(exc), as_json)
    device_id = where.device_id
    if known_device is not None and not known_device(device_id):
        return Refused(device_id, _seq_of(payload), f"device_id: unknown device {device_id!r}", as_json)
    if where.channel is Channel.STATE:
        try:
            return StateIn(StateChange(device_id, parse_state(payload) is DeviceState.ONLINE))
        except ProtocolError as exc:
            return Refused(device_id, None, str(exc), as_json)
    if where.channel not in (Channel.ALARM, Channel.EVT):
        return Refused(device_id, None, f"topic: devices do not publish on {where.channel.value}", as_json)
    try:
        message = decode_device_message(payload)
        check_kind_on_channel(message.event_kind, where.channel)
    except ProtocolError as exc:
        return Refused(device_id, _seq_of(payload), str(exc), as_json)
    return EventIn(device_id, message, as_json, where.channel)


def _seq_of(payload: bytes) -> int | None:
    """The ``seq`` to echo in a NAK, when one can be read and is in range; None otherwise."""
    try:
        seq = (_seq_json if is_json(payload) else _seq_msgpack).decode(payload).seq
    except Exception:  # noqa: BLE001 - deep nesting, bad UTF-8, anything: then there is no seq to echo
        return None
    return seq if 0 <= seq <= MAX_SEQ else None
