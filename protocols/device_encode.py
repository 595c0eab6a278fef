"""Device message v1, encoding: the bytes a device sends (MessagePack, or JSON for hand-written tests), and the
digest of everything a message says (how the engine tells a resent alarm from another that reuses its seq)."""

from __future__ import annotations

import hashlib

import msgspec

from protocols.device_schema import DeviceMessage

_json_encoder = msgspec.json.Encoder()
_msgpack_encoder = msgspec.msgpack.Encoder()


def message_digest(message: DeviceMessage) -> int:
    """A 56-bit digest of everything a message says (kind, seq, ts, boot, data): two sends of one alarm have the
    same digest, a different alarm that reuses a seq (another kind, another ``ts``) has another."""
    digest = hashlib.blake2b(_msgpack_encoder.encode(message), digest_size=7).digest()
    return int.from_bytes(digest, "big")


def encode_device_message(message: DeviceMessage, *, json: bool = False) -> bytes:
    """Encode the way a device would: MessagePack by default, JSON for hand-written tests."""
    return _json_encoder.encode(message) if json else _msgpack_encoder.encode(message)


