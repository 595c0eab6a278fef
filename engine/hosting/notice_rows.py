"""What a host's notice board keeps in the journal's snapshots (``JournalBatch.snapshots``): one key per notice, its
latest body (msgpack) replacing the one before, None deleting it; written with the step that changed it.

    notice/<site>/<notice>     NoticeRow (``engine/notices.py``): posted, started, expired or withdrawn, its receipts
                               (kept until ``MAX_KEPT_PER_SITE`` newer ones push it out)
    notice_figures             the counters: posted, started, expired, withdrawn, receipts, refused_<reason>
"""

from __future__ import annotations

from typing import Final

import msgspec

from engine.notices import NoticeRow

NOTICE: Final = "notice/"
FIGURES: Final = "notice_figures"

encode = msgspec.msgpack.Encoder().encode
_row = msgspec.msgpack.Decoder(NoticeRow)
_figures = msgspec.msgpack.Decoder(dict[str, int])


def key(site: str, notice: str) -> str:
    return f"{NOTICE}{site}/{notice}"


def notices(snapshots: dict[str, bytes]) -> list[NoticeRow]:
    return [_row.decode(body) for k, body in snapshots.items() if k.startswith(NOTICE)]


def figures(snapshots: dict[str, bytes]) -> dict[str, int]:
    body = snapshots.get(FIGURES)
    return dict(_figures.decode(body)) if body is not None else {}
