"""A run's community side (``simulation.run_base``): after each step of the engine the community's simulated devices
take the commands it sent them and answer (``simulation.community_phones``), the operator posts and withdraws
notices at the desk (``simulation.community_notices``); at the end the community figures are
read from the engine's own counters (``simulation.scenario_community``) and shown in the run's notes."""

from __future__ import annotations

import logging
from collections.abc import Callable

import msgspec

from actors.engine_desk import ask_device_host, ask_every_host, post_notice, site_notices, withdraw_notice
from engine.community_figures import merge
from engine.errors import RedbandError
from engine.notices import NoticeRefused
from protocols.community import IssueVisitorPass
from protocols.community_figures import CommunityFiguresQuery
from protocols.notices import NoticeQuery, PostNotice
from simulation.community_notices import notice_figures, notice_lines
from simulation.community_phones import CommunityDevices
from simulation.scenario_community import community_figures, desk_figures, grid_lines, summary_lines

log = logging.getLogger(__name__)


class CommunitySide:
    def __init__(self, plan, engine, push: Callable[[float, object], None]) -> None:
        self.plan, self.engine, self.push = plan, engine, push
        self.devices = CommunityDevices(plan)
        self._last_s = -1.0
        self._desk = sorted((p for p in plan.passes.values() if p.desk), key=lambda p: p.desk_at_s)
        """Passes the property desk issues on a resident's behalf, soonest first."""
        self.desk_codes: dict[tuple[str, str], str] = {}
        self.desk_refused: list[str] = []
        self._notices = list(plan.notices.actions)
        """The operator's notices posted and withdrawn at the desk, soonest first."""
        self.notices_refused: list[str] = []
        self._clock_offset_s: float | None = None
        """``notice: reason (message)`` of each refused, or ``notice: unexpected ...`` of one the plan meant to pass."""

    @classmethod
    def of(cls, scenario, engine, *, push) -> CommunitySide | None:
        plan = getattr(scenario, "community", None)
        if engine is None or plan is None:
            return None
        return cls(plan, engine, push)

    def turn(self, t_s: float) -> None:
        """The devices take the commands the engine sent them and schedule their replies: after the events due at
        ``t_s`` reached the engine (the run's second turn at a time). What the engine sent on a deadline alone (a
        missed call's notices, which ask for no answer) waits for the next delivery: one Ray call less a step."""
        if t_s != self._last_s:
            self._last_s = t_s
            return
        while self._desk and self._desk[0].desk_at_s <= t_s:
            self._issue_at_desk(self._desk.pop(0))
        while self._notices and self._notices[0].at_s <= t_s:
            self._notice_at_desk(self._notices.pop(0), t_s)
        for reply in self.devices.commands(self.engine.take_device_commands(), t_s):
            self.push(reply.at_s, reply)

    def _issue_at_desk(self, plan) -> None:
        """The property desk issues a pass on the resident's behalf; the engine tells the phone, as for its own."""
        try:
            issued = ask_device_host(self.engine, plan.phone, IssueVisitorPass(**plan.desk))
        except RedbandError as exc:
            self.desk_refused.append(f"{plan.request}: {exc}")
            return
        self.desk_codes[(plan.phone, plan.request)] = issued.code

    def _notice_at_desk(self, action, t_s: float) -> None:
        """The operator posts or withdraws a notice; the host sends the site's board with the step's commands. The
        plan's windows are on the run's clock; a host whose clock is epoch time (a real-time run) gets them moved."""
        request = action.request
        ask = post_notice if isinstance(request, PostNotice) else withdraw_notice
        try:
            if self._clock_offset_s is None:
                now_s = site_notices(self.engine, NoticeQuery(request.site, limit=1)).now_s
                self._clock_offset_s = now_s - t_s if abs(now_s - t_s) > 1.0 else 0.0
            if self._clock_offset_s and isinstance(request, PostNotice):
                off = self._clock_offset_s
                request = msgspec.structs.replace(request, valid_until_s=request.valid_until_s + off,
                                                  valid_from_s=request.valid_from_s and request.valid_from_s + off)
            ask(self.engine, request)
        except NoticeRefused as exc:
            wrong = "" if exc.reason.value == action.refusal else f" unexpected, planned {action.refusal or 'none'}"
            self.notices_refused.append(f"{request.notice}: {exc.reason.value}{wrong} ({exc.message})")
            return
        except RedbandError as exc:
            self.notices_refused.append(f"{request.notice}: unexpected {exc}")
            return
        if action.refusal:
            self.notices_refused.append(f"{request.notice}: unexpected, not refused {action.refusal}")

    def observed(self) -> dict[str, float]:
        """The ground truth: what the plan meant the engine to count."""
        return dict(self.plan.truth)

    def figures(self, engine, result) -> dict[str, float]:
        """The figures at the end of a run; their summary (and the devices' tally) goes into ``result.notes``."""
        try:
            seen = community_figures(engine.statistics(), result.timeline)
            sites, grids = merge(ask_every_host(engine, CommunityFiguresQuery()).values(), self.plan.city)
        except RedbandError as exc:  # a host that does not answer: no figures
            log.warning("community figures: %s", exc)
            return {}
        seen.update(desk_figures(sites, grids))
        try:
            lists = [site_notices(engine, NoticeQuery(site, limit=500)) for site in self.plan.notices.sites_posted()]
        except RedbandError as exc:
            log.warning("community notices: %s", exc)
            lists = []
        seen.update(notice_figures(engine.statistics(), lists, self.plan.notices))
        result.notes += summary_lines(seen, self.plan.truth) + notice_lines(seen, self.plan.truth, self.notices_refused)
        result.notes += grid_lines(grids)
        told = sum(self.devices.codes.get(key) == code for key, code in self.desk_codes.items())
        refused = "; ".join(self.desk_refused) or "none"
        result.notes.append(f"  property desk: {len(self.desk_codes)} passes issued (IssueVisitorPass), {told} of "
                            f"their codes told to the resident's phone; refused: {refused}")
        tally = self.devices.tally
        result.notes.append("  devices: " + ", ".join(f"{k} {v:,}" for k, v in sorted(tally.items())))
        return seen
