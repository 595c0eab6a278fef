"""Batches that cross into and between Ray actors: many events in one bytes payload.

A Ray call costs about a millisecond, so nothing crosses one message at a time. Every batch is a
MessagePack array of array-like Structs, decoded and validated in one pass.
"""

from __future__ import annotations

from typing import Final

import msgspec
from msgspec import Struct

from protocols.device import AnyDeviceMessage, DeviceMessage, translate_validation_error
from protocols.errors import ProtocolError
from protocols.kinds import AckStatus
from protocols.records import HostMessage, IncidentRecord


class Ingest(Struct, frozen=True, array_like=True):
    """One decoded device message on its way to the host that owns the device."""

    device_id: str
    message: AnyDeviceMessage  # type: ignore[valid-type]
    received_ms: int = 0
    json: bool = False
    """The device spoke JSON: its acks and commands go back in JSON."""


class DeviceAck(Struct, frozen=True, array_like=True):
    """The engine's answer to one device message; ``reason`` says why for a NAK."""

    device_id: str
    seq: int
    status: AckStatus
    reason: str = ""
    incident_id: str = ""
    boot: int = 0
    """The ``boot`` of the message answered: the same seq may come again from a later boot."""


class IngestResult(Struct, frozen=True):
    """What a host did with one batch. Plain accepted events are only counted; alarms, duplicates and
    refusals are listed one by one so each can be answered on the device's ack topic."""

    accepted: int
    duplicates: int
    refused: int
    acks: list[DeviceAck]
    not_taken: list[Ingest] = []
    """Messages no host answered for (their host was dead, restarting, overloaded or could not write its journal):
    nothing of them was kept. Filled by the caller that splits a batch over hosts, never by a host."""
    not_taken_reason: str = ""

    @property
    def accounted(self) -> int:
        return self.accepted + self.duplicates + self.refused


class StateChange(Struct, frozen=True, array_like=True):
    """A device's connection state from its ``state`` topic: ``online`` on connect, ``offline`` as its Last Will."""

    device_id: str
    online: bool


class HostBatch(Struct, frozen=True, array_like=True):
    """Messages from one host to another, with the sender's clock at sending."""

    sender: str
    sent_s: float
    messages: list[HostMessage]  # type: ignore[valid-type]


_encoder: Final = msgspec.msgpack.Encoder()
_ingest_decoder: Final = msgspec.msgpack.Decoder(list[Ingest])
_result_decoder: Final = msgspec.msgpack.Decoder(IngestResult)
_host_decoder: Final = msgspec.msgpack.Decoder(HostBatch)
_states_decoder: Final = msgspec.msgpack.Decoder(list[StateChange])


def encode_ingest(items: list[Ingest]) -> bytes:
    return _encoder.encode(items)


def ingest_item(device_id: str, message: DeviceMessage, *, received_ms: int = 0) -> Ingest:
    return Ingest(device_id, message, received_ms)


def decode_ingest(payload: bytes) -> list[Ingest]:
    return _decode(_ingest_decoder, payload, "ingest batch")


def encode_result(result: IngestResult) -> bytes:
    return _encoder.encode(result)


def decode_result(payload: bytes) -> IngestResult:
    return _decode(_result_decoder, payload, "ingest result")


def encode_states(states: list[StateChange]) -> bytes:
    return _encoder.encode(states)


def decode_states(payload: bytes) -> list[StateChange]:
    return _decode(_states_decoder, payload, "state batch")


def encode_host_batch(batch: HostBatch) -> bytes:
    return _encoder.encode(batch)


def decode_host_batch(payload: bytes) -> HostBatch:
    return _decode(_host_decoder, payload, "host batch")


_changes_decoder: Final = msgspec.msgpack.Decoder(list[tuple[IncidentRecord, int]])


def encode_changes(changes: list[tuple[IncidentRecord, int]]) -> bytes:
    """Changed incidents for observers: each record with the index of its first new timeline entry."""
    return _encoder.encode(changes)


def decode_changes(payload: bytes) -> list[tuple[IncidentRecord, int]]:
    return _decode(_changes_decoder, payload, "changes")


def _decode(decoder: msgspec.msgpack.Decoder, payload: bytes, what: str):
    try:
        return decoder.decode(payload)
    except msgspec.ValidationError as exc:
        err = translate_validation_error(exc)
        raise ProtocolError(err.field, f"{what}: {err.reason}") from exc
    except msgspec.DecodeError as exc:
        raise ProtocolError("", f"{what}: malformed MessagePack: {exc}") from exc
    except RecursionError:
        raise ProtocolError("", f"{what}: nested too deep") from None
    except Exception as exc:  # noqa: BLE001 - bad UTF-8 and the like: a refusal, never a crash of the caller
        raise ProtocolError("", f"{what}: unreadable ({type(exc).__name__})") from None
