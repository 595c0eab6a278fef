"""A run's community side (``simulation.run_base``): after each step of the engine the community's simulated devices
take the commands it sent them and answer (``simulation.community_phones``); at the end the community figures are
read from the engine's own counters (``simulation.scenario_community``) and shown in the run's notes."""

from __future__ import annotations

import logging
from collections.abc import Callable

from actors.engine_desk import ask_every_host
from engine.community_figures import merge
from engine.errors import RedbandError
from protocols.community_figures import CommunityFiguresQuery
from simulation.community_phones import CommunityDevices
from simulation.scenario_community import community_figures, desk_figures, grid_lines, summary_lines

log = logging.getLogger(__name__)


class CommunitySide:
    def __init__(self, plan, engine, push: Callable[[float, object], None]) -> None:
        self.plan, self.engine, self.push = plan, engine, push
        self.devices = CommunityDevices(plan)
        self._last_s = -1.0

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
        for reply in self.devices.commands(self.engine.take_device_commands(), t_s):
            self.push(reply.at_s, reply)

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
        result.notes += summary_lines(seen, self.plan.truth) + grid_lines(grids)
        tally = self.devices.tally
        result.notes.append("  devices: " + ", ".join(f"{k} {v:,}" for k, v in sorted(tally.items())))
        return seen
