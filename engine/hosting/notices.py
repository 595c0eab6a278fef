"""Notices for door screens as one domain of a host (``engine/hosting/domain.py``): the communities' notice boards.

- Desk (``protocols/notices.py``): ``PostNotice`` (idempotent by the notice id), ``WithdrawNotice``, ``NoticeQuery``.
  Refusals raise ``engine.notices.NoticeRefused`` naming the field, before anything changes; posts and withdrawals
  are audited, refused ones too (``notice.post`` / ``notice.withdraw``, outcome ``refused`` and the message).
- Timers (kind ``notice``, one per open notice): its start (a scheduled notice goes on the board), then its end (it
  expires: off the board, audited ``notice.expire``).
- The board: whenever the notices in force at a site change (a post in force, a start, an expiry, a withdrawal), the
  site's board goes to the host's device-command outbox (``DeviceCommandOutbox.add_board``), which a bridge
  publishes retained on the site's notice topic and confirms, or gets again; an empty board clears the retained
  message (``protocols.notices.encode_board``). A rebuilt host (a start, a refused step) sends every board it holds.
- Receipts: ``notice.shown {notice}`` from a door panel of the site records one receipt per (notice, door); an
  unknown notice, one not for that door's building, or one not started yet is NAKed naming ``data.notice``.

Everything is in the journal's snapshots (``engine/hosting/notice_rows.py``): a restart keeps the notices, their
receipts and their timers (a start or an end that passed while the host was down fires at its first advance).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final

from engine.entities import DeviceEntity, SeqVerdict
from engine.hosting import notice_rows as rows
from engine.hosting.domain import Assembly
from engine.hosting.intake import Route
from engine.hosting.staging import JournalStaging
from engine.journal import Journal
from engine.notices import (MAX_KEPT_PER_SITE, MAX_OPEN_PER_SITE, NoticeRefused, NoticeRow, board, check_board_size,
                            check_post, communities, refuse, same_post, state_of, targets_door, view)
from engine.scheduler import DeadlineScheduler
from engine.topology import City
from protocols import EventKind
from protocols.device import DeviceMessage
from protocols.device_schema import PROSE_PATTERN
from protocols.kinds import AckStatus
from protocols.notices import (NoticeList, NoticeQuery, NoticeRefusal, NoticeState, NoticeView, PostNotice,
                               WithdrawNotice, encode_board)

NOTICE_TIMER: Final = "notice"
"""Deadline key kind: ``(NOTICE_TIMER, "<site>/<notice>")``, a notice's start, then its end."""
_ID = re.compile(r"^[A-Za-z0-9._:@-]{1,64}$")


class NoticeDomain:
    def __init__(self, city: City, *, staging: JournalStaging,
                 send_board: Callable[[str, bytes, float], None]) -> None:
        self.sites = communities(city)
        self.staging = staging
        self._send_board = send_board
        self.rows: dict[str, dict[str, NoticeRow]] = {}
        """site → notice id → the notice."""
        self.counts: dict[str, int] = {}
        self._scheduler: DeadlineScheduler | None = None

    # -- the domain ----------------------------------------------------------------------------------

    def assemble(self, *, scheduler: DeadlineScheduler, store) -> Assembly:
        self._scheduler = scheduler
        return Assembly(routes={EventKind.NOTICE_SHOWN: Route(self.shown)}, timers={NOTICE_TIMER: self},
                        desk=({PostNotice: self.post, WithdrawNotice: self.withdraw, NoticeQuery: self.query},))

    def snapshotted(self) -> tuple:
        return (self,)

    def load(self, snapshots: dict[str, bytes] | Journal) -> None:
        """From the journal's snapshots (a start, or a rebuild after a refused step): the notices, their timers armed
        again and every site's board sent again (the one the broker holds may be older)."""
        if not isinstance(snapshots, dict):
            return
        self.rows = {}
        for row in rows.notices(snapshots):
            self.rows.setdefault(row.site, {})[row.id] = row
        self.counts = rows.figures(snapshots)
        for site, notices in self.rows.items():
            for row in notices.values():
                self._arm(row)
            last_s = max(max(r.posted_s, r.ended_s or 0.0, r.withdrawn_s or 0.0) for r in notices.values())
            self._board(site, last_s)

    def statistics(self) -> dict[str, Any]:
        states = [state_of(r) for notices in self.rows.values() for r in notices.values()]
        return {"notices": {**self.counts, "active": states.count(NoticeState.ACTIVE),
                            "scheduled": states.count(NoticeState.SCHEDULED)}}

    def in_force(self, site: str) -> int:
        """How many notices are on the site's board now (for the site's figures, ``engine/hosting/site_figures.py``)."""
        return sum(1 for r in self.rows.get(site, {}).values() if r.on_board)

    # -- the desk ------------------------------------------------------------------------------------

    def post(self, request: PostNotice, now_s: float) -> NoticeView:
        site = self.sites.get(request.site)
        try:
            if not _ID.match(request.notice):
                raise refuse(NoticeRefusal.TEXT_INVALID, "notice: 1-64 letters, digits or ._:@-")
            known = self.rows.get(request.site, {})
            before = known.get(request.notice)
            if before is not None:  # the same request again (say, after its window ended) is answered as it was
                if site is not None and same_post(before, request, sorted(set(request.buildings)),
                                                  sorted(set(request.units))):
                    return view(before, site)
                raise refuse(NoticeRefusal.ID_TAKEN, f"notice: {request.notice!r} is another notice at {request.site}")
            from_s, buildings, units = check_post(request, site, now_s)
            if sum(1 for r in known.values() if r.open) >= MAX_OPEN_PER_SITE:
                raise refuse(NoticeRefusal.TOO_MANY, f"site: {request.site} has {MAX_OPEN_PER_SITE} notices "
                                                     "scheduled or in force")
            row = NoticeRow(request.notice, request.site, request.operator[:128], request.text, request.title,
                            str(request.level), from_s, request.valid_until_s, buildings, units, now_s,
                            started=from_s <= now_s)
            check_board_size(request.site, list(known.values()), row, now_s)
        except NoticeRefused as refusal:
            self._refused("notice.post", request, refusal, now_s)
            raise
        assert site is not None
        self._make_room(request.site)
        self.rows.setdefault(row.site, {})[row.id] = row
        self._stage(row)
        self._count("posted")
        self.staging.audit(now_s, request.operator, "notice.post", f"{row.site}/{row.id}", "ok", role=request.role,
                           scope=request.scope, reason=_summary(row))
        self._arm(row)
        if row.started:
            self._count("started")
            self._board(row.site, now_s)
        return view(row, site)

    def withdraw(self, request: WithdrawNotice, now_s: float) -> NoticeView:
        try:
            site = self.sites.get(request.site)
            if site is None:
                raise refuse(NoticeRefusal.UNKNOWN_SITE, f"site: no community {request.site!r} on this host")
            row = self.rows.get(request.site, {}).get(request.notice)
            if row is None:
                raise refuse(NoticeRefusal.NOT_FOUND, f"notice: no notice {request.notice!r} at {request.site}")
            if row.withdrawn_s is not None:
                raise refuse(NoticeRefusal.ALREADY_WITHDRAWN, f"notice: {request.notice!r} was withdrawn")
            if row.ended_s is not None:
                raise refuse(NoticeRefusal.ALREADY_EXPIRED, f"notice: {request.notice!r} has expired")
            if not re.match(PROSE_PATTERN, request.reason):  # kept with the notice and in the audit, read as sent
                raise refuse(NoticeRefusal.TEXT_INVALID, "reason: contains a control character, a line separator or "
                                                         "a direction override")
        except NoticeRefused as refusal:
            self._refused("notice.withdraw", request, refusal, now_s)
            raise
        was_on_board = row.on_board
        row.withdrawn_s, row.withdrawn_by, row.withdraw_reason = now_s, request.operator[:128], request.reason[:500]
        self._stage(row)
        self._count("withdrawn")
        self.staging.audit(now_s, request.operator, "notice.withdraw", f"{row.site}/{row.id}", "ok",
                           role=request.role, scope=request.scope, reason=request.reason[:200])
        if self._scheduler is not None:
            self._scheduler.cancel((NOTICE_TIMER, f"{row.site}/{row.id}"))
        if was_on_board:
            self._board(row.site, now_s)
        return view(row, site)

    def query(self, request: NoticeQuery, now_s: float) -> NoticeList:
        site = self.sites.get(request.site)
        if site is None:
            raise refuse(NoticeRefusal.UNKNOWN_SITE, f"site: no community {request.site!r} on this host")
        wanted = set(request.states) if request.states is not None else None
        found = sorted((r for r in self.rows.get(request.site, {}).values()
                        if wanted is None or state_of(r) in wanted), key=lambda r: (-r.posted_s, r.id))
        return NoticeList(request.site, now_s, [view(r, site) for r in found[:request.limit]],
                          more=max(0, len(found) - request.limit))

    # -- receipts ------------------------------------------------------------------------------------

    def shown(self, entity: DeviceEntity, message: DeviceMessage, now_s: float) -> SeqVerdict | None:
        door, notice = entity.device, message.data.notice
        row = self.rows.get(door.site_id or "", {}).get(notice)
        if row is None:
            self._count("receipt_refused")
            return SeqVerdict(AckStatus.NAK, f"data.notice: unknown notice {notice!r} at {door.site_id}")
        if not targets_door(row, door.unit):
            self._count("receipt_refused")
            return SeqVerdict(AckStatus.NAK, f"data.notice: notice {notice!r} is not for building {door.unit!r}")
        if not row.started:
            self._count("receipt_refused")
            return SeqVerdict(AckStatus.NAK, f"data.notice: notice {notice!r} has not started")
        if door.id not in row.shown:
            row.shown.append(door.id)
            self._stage(row)
            self._count("receipts")
        return None

    # -- timers --------------------------------------------------------------------------------------

    def deadline(self, subject: str, due_s: float, at_s: float) -> int:
        """A notice's start or end passed: it goes on the board, or it expires (off the board, audited)."""
        site, _, notice = subject.rpartition("/")
        row = self.rows.get(site, {}).get(notice)
        if row is None or not row.open:
            return 0
        if not row.started:
            row.started = True
            self._count("started")
        else:
            row.ended_s = at_s
            self._count("expired")
            self.staging.audit(at_s, "system", "notice.expire", subject, "expired", role="system",
                               reason=f"valid until {row.valid_until_s:.0f}; shown on {len(row.shown)} doors")
        self._stage(row)
        self._arm(row)
        self._board(site, at_s)
        return 1

    # -- inside --------------------------------------------------------------------------------------

    def _arm(self, row: NoticeRow) -> None:
        if self._scheduler is None or not row.open:
            return
        due_s = row.valid_until_s if row.started else row.valid_from_s
        self._scheduler.schedule((NOTICE_TIMER, f"{row.site}/{row.id}"), due_s)

    def _board(self, site: str, now_s: float) -> None:
        self._send_board(site, encode_board(board(site, list(self.rows.get(site, {}).values()), now_s)), now_s)

    def _make_room(self, site: str) -> None:
        known = self.rows.get(site, {})
        if len(known) < MAX_KEPT_PER_SITE:
            return
        ended = [r for r in known.values() if not r.open]
        if ended:
            oldest = min(ended, key=lambda r: (r.posted_s, r.id))
            del known[oldest.id]
            self.staging.snapshot(rows.key(site, oldest.id), None)

    def _stage(self, row: NoticeRow) -> None:
        self.staging.snapshot(rows.key(row.site, row.id), rows.encode(row))

    def _count(self, name: str) -> None:
        self.counts[name] = self.counts.get(name, 0) + 1
        self.staging.snapshot(rows.FIGURES, rows.encode(self.counts))

    def _refused(self, action: str, request: PostNotice | WithdrawNotice, refusal: NoticeRefused,
                 now_s: float) -> None:
        self._count(f"refused_{refusal.reason.value}")
        self.staging.audit(now_s, request.operator, action, f"{request.site}/{request.notice}", "refused",
                           role=request.role, scope=request.scope, reason=refusal.message[:200])


def _summary(row: NoticeRow) -> str:
    where = ("buildings " + ",".join(row.buildings) + " " if row.buildings else "") + \
            ("units " + ",".join(row.units) if row.units else "")
    return (f"{row.valid_from_s:.0f}-{row.valid_until_s:.0f} {where.strip() or 'whole community'}: "
            f"{row.title + ': ' if row.title else ''}{row.text}")[:200]
