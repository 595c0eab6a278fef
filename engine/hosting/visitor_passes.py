"""Visitor passes: a resident issues a time-limited door code; a door panel sends the code a visitor types.

- ``visitor.pass`` {request, valid_until, valid_from?, uses?, door?} from a verified resident's phone: the engine
  picks a 6-digit code unique among the site's passes and answers ``visitor_pass.issued`` {request, code, door,
  valid_from, valid_until, uses} (times in epoch ms). The same ``request`` again gets the same pass, not a second one.
  Refused in the NAK naming the field: an unverified resident or a phone no resident owns (``data.request``), a
  window that ends before it begins, is over already or is longer than ``MAX_WINDOW_S`` (``data.valid_until``), a
  door not of the resident's community (``data.door``), more than ``per_resident`` passes of the resident or
  ``per_site`` of the site kept (``data.request``, naming the limit).
- ``door.code`` {code} from a door panel: a pass of the door's site with that code whose window holds now, with uses
  left, for this door (or any door) opens it: ``open_door`` {by, pass} to the door, a use taken, audited. Otherwise
  the panel is told ``door.code.refused`` {code, reason}: ``unknown``, ``not_yet``, ``expired``, ``used_up``,
  ``wrong_door`` (counted ``code_<reason>``, audited). A panel that has had 20 codes refused
  in the last hour takes none, right or wrong, until the oldest of them is an hour old: a NAK naming ``data.code``
  (counted ``code_locked_out``; the lockout audited once, as ``door.code`` ``locked_out``;
  ``engine/hosting/phone_limits.WrongCodes``).

The desk request ``IssueVisitorPass`` (``protocols/community.py``) issues a pass the same way on a resident's behalf
(a property desk), audited with the operator as actor; refused with :class:`PassRefused` naming the field.

A pass is kept (snapshotted) until ``KEEP_S`` after its window ends, so a late visitor is told ``expired``, not
``unknown``; then it is dropped when the resident or site issues the next.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Final

from engine.entities import DeviceEntity, SeqVerdict
from engine.errors import RedbandError
from engine.hosting import community_rows as rows
from engine.hosting.phone_limits import WrongCodes
from engine.hosting.staging import JournalStaging
from engine.incident import DeviceCommand
from engine.topology import City
from protocols.community import (CODE_REFUSED, OPEN_DOOR, PASS_ISSUED, CodeRefusal, IssueVisitorPass,
                                 VisitorPassIssued)
from protocols.device import DeviceMessage
from protocols.kinds import AckStatus, DeviceKind

MAX_WINDOW_S: Final = 7 * 86_400.0
KEEP_S: Final = 86_400.0
PER_RESIDENT: Final = 10
PER_SITE: Final = 1_000


class PassRefused(RedbandError):
    """A desk's visitor pass refused: the reason names the field (``valid_until: ...``)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)

    def __reduce__(self):
        return type(self), (self.reason,)


class VisitorPasses:
    def __init__(self, city: City, *, send: Callable[[DeviceCommand, float], None], staging: JournalStaging,
                 figures: rows.Figures, per_resident: int = PER_RESIDENT, per_site: int = PER_SITE,
                 new_code: Callable[[], str] = lambda: f"{secrets.randbelow(1_000_000):06d}") -> None:
        self._send = send
        self.staging = staging
        self.figures = figures
        self.per_resident, self.per_site = per_resident, per_site
        self._new_code = new_code
        self._resident_of_phone = {r.phone_id: r for r in city.residents.values()}
        self._residents = {r.id: r for r in city.residents.values() if r.phone_id in city.devices}
        self._doors = {d.id: d.site_id for d in city.devices.values() if d.kind == DeviceKind.DOOR}
        self.passes: dict[tuple[str, str], rows.PassRow] = {}
        """(site, code) → the pass."""
        self.wrong = WrongCodes()
        """The panels' refused codes, for the lockout."""

    def load(self, snapshots: dict[str, bytes]) -> None:
        self.passes = {(p.site, p.code): p for p in rows.passes(snapshots)}

    def issue(self, entity: DeviceEntity, message: DeviceMessage, now_s: float) -> SeqVerdict | None:
        """A ``visitor.pass`` event from a resident's phone."""
        data = message.data
        resident = self._resident_of_phone.get(entity.device.id)
        outcome = self._issue(resident, data.request, data.valid_from / 1000.0, data.valid_until / 1000.0, data.uses,
                              data.door, now_s, actor="")
        return SeqVerdict(AckStatus.NAK, outcome) if isinstance(outcome, str) else None

    def requests(self) -> dict[type, Callable]:
        """The desk's table: a property desk issues a pass on a resident's behalf."""
        return {IssueVisitorPass: self.desk_issue}

    def desk_issue(self, request: IssueVisitorPass, now_s: float) -> VisitorPassIssued:
        resident = self._residents.get(request.resident)
        if resident is None:
            raise PassRefused(f"resident: unknown resident {request.resident!r} on this host")
        outcome = self._issue(resident, request.request, request.valid_from_s, request.valid_until_s, request.uses,
                              request.door, now_s, actor=request.operator)
        if isinstance(outcome, str):
            raise PassRefused(outcome.removeprefix("data."))
        return VisitorPassIssued(outcome.code, outcome.site, outcome.door, outcome.resident, outcome.valid_from_s,
                                 outcome.valid_until_s, outcome.uses_left)

    def _issue(self, resident, request: str, from_s: float, until_s: float, uses: int, door: str, now_s: float, *,
               actor: str) -> rows.PassRow | str:
        """The pass (made now, or the one the same request made before), or the refusal naming the field."""
        if resident is None or not resident.verified:
            self.figures.add("refused_pass_unverified")
            return "data.request: only a verified resident's phone may issue passes"
        site, phone = resident.site_id, resident.phone_id
        same = next((p for p in self.passes.values() if p.resident == resident.id and p.request == request), None)
        if same is not None:
            self._tell(same, now_s)
            return same
        from_s = from_s or now_s
        if until_s <= max(from_s, now_s):
            return "data.valid_until: the window is over before it begins"
        if until_s - from_s > MAX_WINDOW_S:
            return f"data.valid_until: a window longer than {MAX_WINDOW_S / 86400:.0f} days"
        if door and self._doors.get(door) != site:
            return f"data.door: not a door of {site}"
        self._prune(site, now_s)
        if sum(p.resident == resident.id for p in self.passes.values()) >= self.per_resident:
            self.figures.add("refused_pass_full")
            return f"data.request: {self.per_resident} passes kept for this resident (the limit)"
        if sum(p.site == site for p in self.passes.values()) >= self.per_site:
            self.figures.add("refused_pass_full")
            return f"data.request: {self.per_site} passes kept for {site} (the limit)"
        code = self._new_code()
        while (site, code) in self.passes:
            code = self._new_code()
        row = rows.PassRow(code, site, door, resident.id, phone, request, from_s, until_s, uses, now_s)
        self._keep(row)
        self.figures.add("passes")
        self.staging.audit(now_s, actor or resident.id, "visitor_pass.issue", f"{site}/{code}", "ok",
                           role="operator" if actor else "resident", scope=site,
                           reason=f"for={resident.id} door={door or '*'} from_s={from_s:.0f} until_s={until_s:.0f} "
                                  f"uses={uses}")
        self._tell(row, now_s)
        return row

    def code(self, entity: DeviceEntity, message: DeviceMessage, now_s: float) -> SeqVerdict | None:
        """A ``door.code`` event from a door panel: open, or tell the panel why not."""
        door, code = entity.device.id, message.data.code
        site = entity.device.site_id or ""
        locked = self.wrong.refusal(door, now_s, "door")
        if locked is not None:
            self.figures.add("code_locked_out")
            return SeqVerdict(AckStatus.NAK, locked)
        row = self.passes.get((site, code))
        refusal = None
        if row is None:
            refusal = CodeRefusal.UNKNOWN
        elif row.door and row.door != door:
            refusal = CodeRefusal.WRONG_DOOR
        elif now_s < row.valid_from_s:
            refusal = CodeRefusal.NOT_YET
        elif now_s >= row.valid_until_s:
            refusal = CodeRefusal.EXPIRED
        elif row.uses_left <= 0:
            refusal = CodeRefusal.USED_UP
        target = f"{site}/{code}"
        if refusal is not None:
            self.figures.add(f"code_{refusal.value}")
            self.staging.audit(now_s, door, "door.code", target, "refused", role="door", scope=site,
                               reason=refusal.value)
            self._send(DeviceCommand(door, CODE_REFUSED, {"code": code, "reason": refusal.value}), now_s)
            if self.wrong.refused(door, now_s):
                self.staging.audit(now_s, door, "door.code", site, "locked_out", role="door", scope=site,
                                   reason=f"{self.wrong.per_window} wrong codes within the hour: no code taken for "
                                          f"{self.wrong.locked_for_s(door, now_s)} s")
            return None
        row.uses_left -= 1
        self._keep(row)
        self.figures.add("code_opened")
        self.staging.audit(now_s, row.resident, "door.code", target, "opened", role="resident", scope=site,
                           reason=f"door={door} uses_left={row.uses_left}")
        self._send(DeviceCommand(door, OPEN_DOOR, {"by": row.resident, "pass": code}), now_s)

    # -- inside --

    def _tell(self, row: rows.PassRow, now_s: float) -> None:
        self._send(DeviceCommand(row.phone, PASS_ISSUED, {
            "request": row.request, "code": row.code, "door": row.door, "valid_from": int(row.valid_from_s * 1000),
            "valid_until": int(row.valid_until_s * 1000), "uses": row.uses_left}), now_s)

    def _keep(self, row: rows.PassRow) -> None:
        self.passes[(row.site, row.code)] = row
        self.staging.snapshot(f"{rows.PASS}{row.site}/{row.code}", rows.encode(row))

    def _prune(self, site: str, now_s: float) -> None:
        for key, row in list(self.passes.items()):
            if row.site == site and now_s >= row.valid_until_s + KEEP_S:
                del self.passes[key]
                self.staging.snapshot(f"{rows.PASS}{row.site}/{row.code}", None)
