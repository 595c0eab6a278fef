"""The one codec of the rows a host's parts keep in the journal's snapshots (``JournalBatch.snapshots``): one key per
thing, its latest body (msgpack) replacing the one before, None deleting it; written with the step that changed it.
The keys and what each holds: ``kiosk_rows.py``, ``patrol_rows.py``, ``community_rows.py``, ``notice_rows.py``.

Rows are read back by their exact key (``one``, ``counters``) or by their key's prefix (``under``, ``by_name``); the
keys of other parts are left alone. One default msgpack encoder for all, so the bytes on disk are the same whichever
part wrote them.
"""

from __future__ import annotations

from functools import cache
from typing import Any, TypeVar

import msgspec

T = TypeVar("T")

encode = msgspec.msgpack.Encoder().encode


@cache
def _decoder(row_type: Any) -> msgspec.msgpack.Decoder:
    return msgspec.msgpack.Decoder(row_type)


def under(snapshots: dict[str, bytes], prefix: str, row_type: type[T]) -> list[T]:
    """The rows whose key starts with ``prefix``, in the snapshots' order."""
    decode = _decoder(row_type).decode
    return [decode(body) for key, body in snapshots.items() if key.startswith(prefix)]


def by_name(snapshots: dict[str, bytes], prefix: str, row_type: type[T]) -> dict[str, T]:
    """The rows whose key starts with ``prefix``, by the rest of their key."""
    decode = _decoder(row_type).decode
    return {key[len(prefix):]: decode(body) for key, body in snapshots.items() if key.startswith(prefix)}


def one(snapshots: dict[str, bytes], key: str, row_type: type[T]) -> T | None:
    """The row of ``key`` (None: none kept)."""
    body = snapshots.get(key)
    return None if body is None else _decoder(row_type).decode(body)


def counters(snapshots: dict[str, bytes], key: str) -> dict[str, int]:
    """The counters kept under ``key`` (empty: none kept)."""
    return one(snapshots, key, dict[str, int]) or {}
