"""Messages that kill a bridge lane: counted on disk, so that the lane's next process knows them.

A lane that meets an error it does not understand ends its process (Ray starts it again); before it goes, it
writes the fingerprint of the message it was handling here. A message that has killed a lane
:data:`KILLS_TO_DEAD_LETTER` times is not handled again when it comes back (a device retries what was never
acked): it is dead-lettered — refused to its device with the reason, and reported for the command center's
journal — instead of killing the lane for ever.

The file is small (one entry per poison message, at most :data:`MAX_ENTRIES`), written whole with a rename,
so a crash while writing leaves the previous version.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

log = logging.getLogger(__name__)

KILLS_TO_DEAD_LETTER: Final = 2
MAX_ENTRIES: Final = 1000


def fingerprint(topic: str, payload: bytes) -> str:
    return hashlib.blake2b(topic.encode("utf-8", "surrogatepass") + b"\0" + payload, digest_size=16).hexdigest()


def default_state_dir() -> Path:
    """Where a bridge keeps its ledger when the engine has no journal directory: this node's temp dir."""
    return Path(tempfile.gettempdir()) / "redband-bridge"


@dataclass(slots=True)
class Entry:
    kills: int
    topic: str
    reason: str
    first_s: float


class DeadLetters:
    """The ledger of one lane of one bridge (``bridge-b0-alarm.json``)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.entries: dict[str, Entry] = {}
        if path is not None and path.exists():
            try:
                raw = json.loads(path.read_text(encoding="utf-8"))
                self.entries = {fp: Entry(**entry) for fp, entry in raw.items()}
            except (OSError, ValueError, TypeError) as exc:  # a torn or foreign file: start a new ledger, say so
                log.error("dead-letter ledger %s unreadable (%s); starting a new one", path, exc)

    def __bool__(self) -> bool:
        return bool(self.entries)

    def is_dead(self, fp: str) -> Entry | None:
        entry = self.entries.get(fp)
        return entry if entry is not None and entry.kills >= KILLS_TO_DEAD_LETTER else None

    def record_kill(self, fp: str, topic: str, reason: str) -> None:
        """Called by a lane on its way down; must not raise (the lane's own error is the one to report)."""
        entry = self.entries.get(fp)
        if entry is None:
            entry = self.entries[fp] = Entry(0, topic[:200], reason[:500], time.time())
        entry.kills += 1
        while len(self.entries) > MAX_ENTRIES:
            del self.entries[min(self.entries, key=lambda k: self.entries[k].first_s)]
        self._save()

    def _save(self) -> None:
        if self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            with open(tmp, "w", encoding="utf-8") as out:
                json.dump({fp: vars_of(e) for fp, e in self.entries.items()}, out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            log.error("dead-letter ledger %s not written: %s", self.path, exc)


def vars_of(entry: Entry) -> dict:
    return {"kills": entry.kills, "topic": entry.topic, "reason": entry.reason, "first_s": entry.first_s}
