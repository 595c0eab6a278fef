"""What a host's notice board keeps in the journal's snapshots (``JournalBatch.snapshots``): one key per notice, its
latest body (msgpack) replacing the one before, None deleting it; written with the step that changed it.

    notice/<site>/<notice>     NoticeRow (``engine/notices.py``): posted, started, expired or withdrawn, its receipts
                               (kept until ``MAX_KEPT_PER_SITE`` newer ones push it out)
    notice_figures             the counters: posted, started, expired, withdrawn, receipts, refused_<reason>
"""

from __future__ import annotations

from typing import Final

from engine.hosting.snapshot_rows import counters, encode, under
from engine.notices import NoticeRow

__all__ = ["FIGURES", "NOTICE", "encode", "figures", "key", "notices"]

NOTICE: Final = "notice/"
FIGURES: Final = "notice_figures"


def key(site: str, notice: str) -> str:
    return f"{NOTICE}{site}/{notice}"


def notices(snapshots: dict[str, bytes]) -> list[NoticeRow]:
    return under(snapshots, NOTICE, NoticeRow)


def figures(snapshots: dict[str, bytes]) -> dict[str, int]:
    return counters(snapshots, FIGURES)
