"""The console's site views (``protocols/console_sites.py``): a community and a kiosk hall as their operators see
them, and the notice composer's post and withdraw, put to the desk of the host that holds the site
(``actors/engine_desk.py``) off the gateway's loop.

What the hosts answer (``CommunityState``, ``NoticeQuery``, ``KioskFigures``, ``KioskQueue``) is joined here with the
city map (doors, cameras, kiosks and their labels) and with the gateway's own view of the open incidents (a device
offline, a door forced or held open, a kiosk's maintenance tickets and SOS). A part the engine does not answer
(``UnknownRequest``: an engine without notices) is left out, not an error.

Scope: a site the operator does not see (``Jurisdiction.sees_site``), an unknown one or one of another kind is refused
with a named error; a notice command so refused is audited like one the engine refuses.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

import ray

from actors.engine_desk import ask_host, post_notice, site_notices, withdraw_notice
from actors.gateway_fanout import ConsoleSession, Fanout
from actors.gateway_http import Audit
from engine.errors import RedbandError
from engine.hosting.desk import UnknownRequest
from engine.kiosk.catalogue import default_catalogue
from engine.topology import City
from protocols.community_desk import CallView, CommunityState
from protocols.community_figures import CommunityFiguresQuery
from protocols.console import Error
from protocols.console_sites import (SITES_REQUESTS, CallRow, CameraRow, CommunityQuery, CommunityView, DoorRow,
                                     KioskHallQuery, KioskHallView, KioskRow, NoticeResult, PostNoticeCommand,
                                     QueueRowView)
from protocols.kinds import DeviceKind, IncidentKind, SiteKind
from protocols.kiosk import KioskFigures, KioskHealth, KioskQueue
from protocols.notices import NoticeQuery, PostNotice, WithdrawNotice

__all__ = ["SITES_REQUESTS", "GatewaySites"]

log = logging.getLogger(__name__)

OFFLINE = (IncidentKind.DEVICE_OFFLINE, IncidentKind.SITE_OFFLINE)
QUEUE_AHEAD_S = 86_400.0
"""The hall's queue shows the booked slots starting within this long (today's)."""
SITE_FIGURES = ("alarms", "visitor_calls", "missed_calls", "open_tickets", "doors_held_open", "doors_forced", "throws")
_RAY_DOWN = (ray.exceptions.ActorUnavailableError, ray.exceptions.ActorDiedError, ray.exceptions.GetTimeoutError)


class Refused(Exception):
    def __init__(self, field: str, reason: str, code: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field, self.reason, self.code = field, reason, code


def call_row(c: CallView) -> CallRow:
    return CallRow(c.call, c.door, c.unit, c.started_s, c.answer, c.by, c.latency_ms, c.outcome, c.ended_s)


class GatewaySites:
    def __init__(self, engine, city: City, fanout: Fanout, audit: Audit, clock: Callable[[], float] = time.time,
                 catalogue=None) -> None:
        self.engine, self.city, self.fanout, self.audit, self.clock = engine, city, fanout, audit, clock
        self.catalogue = catalogue or default_catalogue()
        self._devices_of_site: dict[str, list] = {}
        for device in sorted(city.devices.values(), key=lambda d: d.id):
            if device.site_id:
                self._devices_of_site.setdefault(device.site_id, []).append(device)

    async def handle(self, console: ConsoleSession, message):
        if isinstance(message, CommunityQuery | KioskHallQuery):
            what, kind = ("community", SiteKind.COMMUNITY) if isinstance(message, CommunityQuery) else (
                "kiosk_hall", SiteKind.KIOSK_HALL)
            site_id = message.site if isinstance(message, CommunityQuery) else message.hall
            field = f"{what}.{'site' if what == 'community' else 'hall'}"
            try:
                site = self.site(console, site_id, kind, field)
                view = self._community if what == "community" else self._kiosk_hall
                return await asyncio.to_thread(view, site)
            except Refused as refused:
                return Error(str(refused))
            except RedbandError as exc:
                return Error(f"{what}: {exc}")
            except _RAY_DOWN as exc:
                log.info("console gateway: %s %s: %s", what, site_id, type(exc).__name__)
                return Error(f"{what}: unavailable: the site's host did not answer; try again")
        return await self.notice(console, message)

    # -- scope --------------------------------------------------------------------------------------------------

    def site(self, console: ConsoleSession, site_id: str, kind: SiteKind, field: str):
        """The site if the operator sees it and it is of ``kind``; else :class:`Refused` naming ``field``."""
        site = self.city.sites.get(site_id)
        if site is None:
            raise Refused(field, f"unknown site {site_id!r}", "unknown_site")
        if not console.jurisdiction.sees_site(site.id, site.precinct_id):
            raise Refused(field, f"{site_id!r} is not in your jurisdiction", "out_of_jurisdiction")
        if site.kind is not kind:
            raise Refused(field, f"{site_id!r} is a {site.kind.value}, not a {kind.value}", "wrong_kind")
        return site

    def _open_incidents(self, site_id: str) -> dict[str, list]:
        """Device id → the open incidents of the site's devices (the site's own outage under the site id)."""
        out: dict[str, list] = {}
        for record in self.fanout.incidents.values():
            if record.site_id == site_id and record.is_open:
                key = site_id if record.kind is IncidentKind.SITE_OFFLINE else record.device_id
                out.setdefault(key, []).append(record)
        return out

    def _host(self, site_id: str) -> str:
        return self.engine.placement.host_of_site[site_id]

    # -- a community --------------------------------------------------------------------------------------------

    def _community(self, site) -> CommunityView:
        host = self._host(site.id)
        state = ask_host(self.engine, host, CommunityState(site.id, recent=20))
        try:
            notices = site_notices(self.engine, NoticeQuery(site.id, limit=50)).notices
        except UnknownRequest:
            notices = None
        try:
            rows = ask_host(self.engine, host, CommunityFiguresQuery(site=site.id)).rows
        except UnknownRequest:
            rows = []
        incidents = self._open_incidents(site.id)
        site_down = site.id in incidents
        opened = {d.door: d.since_s for d in state.doors_open}
        doors, cameras = [], []
        for device in self._devices_of_site.get(site.id, ()):
            records = incidents.get(device.id, [])
            offline = site_down or any(r.kind in OFFLINE for r in records)
            alarms = sorted({r.kind.value for r in records if r.kind not in OFFLINE})
            if device.kind is DeviceKind.DOOR:
                doors.append(DoorRow(device.id, device.label, device.unit, device.id in opened, opened.get(device.id),
                                     offline, alarms))
            elif device.kind is DeviceKind.CAMERA:
                cameras.append(CameraRow(device.id, device.label, offline, alarms))
        figures = {**state.counts, "calls_open": len(state.calls_open), "doors_open": len(opened),
                   "offline": sum(1 for d in doors if d.offline) + sum(1 for c in cameras if c.offline),
                   "open_incidents": sum(len(v) for v in incidents.values()),
                   "notices_in_force": sum(1 for n in notices or () if n.state.value == "active")}
        for row in rows:  # the engine's counters of the site (engine/hosting/site_figures.py)
            if row.id == site.id:
                figures.update({name: getattr(row, name) for name in SITE_FIGURES})
        return CommunityView(site.id, site.name, site.address, site.zone, site.precinct_id, self.clock(), doors,
                             cameras, [call_row(c) for c in state.calls_open],
                             [call_row(c) for c in state.calls_recent], figures, notices,
                             sorted({d.building for d in doors if d.building}))

    # -- a kiosk hall -------------------------------------------------------------------------------------------

    def _kiosk_hall(self, site) -> KioskHallView:
        host, now_s = self._host(site.id), self.clock()
        day = datetime.fromtimestamp(now_s, UTC).strftime("%Y-%m-%d")
        figures = ask_host(self.engine, host, KioskFigures(site.id, day))
        queue = ask_host(self.engine, host, KioskQueue(site.id, limit=200))
        health = ask_host(self.engine, host, KioskHealth(site.id))
        kiosks = [KioskRow(k.kiosk, k.label, k.online, k.last_seen_s, k.paper, k.card, list(k.low), list(k.tickets),
                           list(k.sos)) for k in health.kiosks]
        services, categories = self.catalogue.services, self.catalogue.categories
        rows = []
        for r in queue.rows:
            if r.slot >= now_s + QUEUE_AHEAD_S:
                continue
            service = services.get(r.service)
            rows.append(QueueRowView(r.slot, r.service, service.name if service else r.service,
                                     service.category if service else "", r.booked, r.taken, r.capacity))
        return KioskHallView(site.id, site.name, site.address, site.zone, day, now_s, kiosks, rows,
                             queue.more + len(queue.rows) - len(rows), figures.served,
                             dict(figures.served_by_category), {c.id: c.name for c in categories.values()},
                             figures.sessions, round(figures.average_session_s, 1), figures.bookings,
                             figures.no_shows, figures.open_tickets, figures.exam_pass_rate)

    # -- the notice composer ------------------------------------------------------------------------------------

    async def notice(self, console: ConsoleSession, m) -> NoticeResult:
        j, operator = console.jurisdiction, console.claims.operator
        action = m.__struct_config__.tag
        try:
            site = self.site(console, m.site, SiteKind.COMMUNITY, "site")
            if isinstance(m, PostNoticeCommand):
                ask, request = post_notice, PostNotice(m.notice, operator, site.id, m.text, m.valid_until_s,
                                                       m.valid_from_s, m.title, m.level, tuple(m.buildings),
                                                       tuple(m.units))
            else:
                ask, request = withdraw_notice, WithdrawNotice(site.id, m.notice, operator, m.reason)
            view = await asyncio.to_thread(ask, self.engine, request)
            result = NoticeResult(m.id, action, True, notice=view)
        except Refused as refused:
            result = NoticeResult(m.id, action, False, refused.field, refused.reason, refused.code)
        except UnknownRequest:
            result = NoticeResult(m.id, action, False, "", "this engine keeps no notices", "unavailable")
        except RedbandError as exc:
            field, _, why = str(exc).partition(": ")
            if not why or " " in field:  # a message that names no field
                field, why = "", str(exc)
            code = getattr(exc, "reason", None)
            result = NoticeResult(m.id, action, False, field, why, str(getattr(code, "value", code or "refused")))
        except _RAY_DOWN as exc:
            log.warning("console gateway: %s by %s: %s", action, operator, type(exc).__name__)
            result = NoticeResult(m.id, action, False, "", "unavailable: the site's host did not answer; the notice "
                                  "may or may not be done, send it again", "unavailable")
        outcome = "ok" if result.ok else ("unavailable" if result.code == "unavailable" else "refused")
        await self.audit(operator, j.role.value, j.scope, action, f"{m.site}/{m.notice}", outcome,
                         f"{result.field}: {result.reason}" if not result.ok else (m.reason if action == "withdraw_notice" else
                                                              m.text[:80]))
        return result

