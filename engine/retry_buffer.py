"""The bridge's retry buffer: alarms and reports no host took, kept (bounded) for another try, with its backoff.

Pure: no I/O, no clock. The bridge lane asks :attr:`RetryBuffer.delay_s` how long to wait before the next offer,
takes the oldest messages with :meth:`RetryBuffer.take`, and says how the offer went (:meth:`RetryBuffer.offered`).
Messages are keyed by (device, boot, seq, digest): a device's re-sends of one alarm while its host is away are one
entry, not one per re-send, and a different alarm that reuses a seq (another kind, another ``ts``) is another.
Telemetry is never kept: the next heartbeat supersedes it.
"""

from __future__ import annotations

import itertools
from enum import Enum

from protocols.batch import Ingest
from protocols.device import message_digest


class Keep(Enum):
    """What :meth:`RetryBuffer.keep` did with a message."""

    KEPT = "kept"
    ALREADY_KEPT = "already kept"
    """A re-send of a message the buffer holds: nothing changes."""
    TELEMETRY = "telemetry"
    """Not an alarm or a report (``EventKind.must_be_taken`` false): dropped."""
    FULL = "full"
    """The buffer holds ``max_items`` already: dropped (the device's own retry is left)."""

    @property
    def dropped(self) -> bool:
        return self in (Keep.TELEMETRY, Keep.FULL)


RetryKey = tuple[str, int, int, int]


def retry_key(item: Ingest) -> RetryKey:
    """(device, boot, seq, digest): what makes two sends one message."""
    return item.device_id, item.message.boot, item.message.seq, message_digest(item.message)


class RetryBuffer:
    """Kept messages, oldest first, each with the encoding (JSON or not) its device's answer must use."""

    def __init__(self, *, max_items: int, first_s: float, cap_s: float) -> None:
        self.max_items = max_items
        self.first_s = first_s
        self.cap_s = cap_s
        self.delay_s = first_s
        """How long to wait before the next offer: ``first_s``, doubled after each offer not taken, up to ``cap_s``."""
        self._kept: dict[RetryKey, tuple[Ingest, bool]] = {}

    def __len__(self) -> int:
        return len(self._kept)

    def keep(self, item: Ingest, as_json: bool) -> Keep:
        if not item.message.event_kind.must_be_taken:
            return Keep.TELEMETRY
        key = retry_key(item)
        if key in self._kept:
            return Keep.ALREADY_KEPT
        if len(self._kept) >= self.max_items:
            return Keep.FULL
        self._kept[key] = (item, as_json)
        return Keep.KEPT

    def take(self, max_items: int) -> list[tuple[Ingest, bool]]:
        """The oldest ``max_items`` messages, out of the buffer (what is not taken again is kept again)."""
        keys = list(itertools.islice(self._kept, max_items))
        return [self._kept.pop(key) for key in keys]

    def offered(self, *, taken: bool) -> None:
        """An offer went out: back to ``first_s`` if the hosts took all of it, else twice the wait (capped)."""
        self.delay_s = self.first_s if taken else min(self.cap_s, self.delay_s * 2)

    def idle(self) -> None:
        """Nothing was offered (nothing kept, or no connection): the next offer waits ``first_s``."""
        self.delay_s = self.first_s
