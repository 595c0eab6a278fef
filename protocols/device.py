"""Device message v1: ``{seq, ts, kind, data, boot?}`` in MessagePack, or JSON when the first byte is ``{``.

The names every layer imports, in one place. The work is split by job:

- ``protocols.device_schema``: one msgspec Struct per kind (the fields, their types and bounds), building a message
  from plain values (:func:`make_message`) and how a validation error reads;
- ``protocols.device_decode``: bytes to a typed message, refusing anything else with a :class:`ProtocolError`
  that names the field or the limit (:func:`decode_device_message`);
- ``protocols.device_encode``: a message to the bytes a device sends, and its digest.

The device contract, for integrators: ``docs/devices.md``.
"""

from __future__ import annotations

from protocols.device_decode import MAX_CONTAINERS, MAX_DEPTH, MAX_PAYLOAD_BYTES, decode_device_message, is_json
from protocols.device_encode import encode_device_message, message_digest
from protocols.device_schema import (_DATA_TYPES, MAX_SEQ, MESSAGE_TYPES, AnyDeviceMessage, CameraData, ClueData,
                                     DeviceMessage, DoorAlarmData, DoorOpenedData, EmptyData, HeartbeatData,
                                     KioskFaultData, KioskSessionData, PanicData, PatrolData, PositionData, SosData,
                                     VisitorData, make_message, translate_validation_error)

__all__ = [
    "MAX_CONTAINERS", "MAX_DEPTH", "MAX_PAYLOAD_BYTES", "MAX_SEQ", "MESSAGE_TYPES", "AnyDeviceMessage", "CameraData",
    "ClueData", "DeviceMessage", "DoorAlarmData", "DoorOpenedData", "EmptyData", "HeartbeatData", "KioskFaultData",
    "KioskSessionData", "PanicData", "PatrolData", "PositionData", "SosData", "VisitorData", "_DATA_TYPES",
    "decode_device_message", "encode_device_message", "is_json", "make_message", "message_digest",
    "translate_validation_error",
]
