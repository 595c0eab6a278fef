"""A run's patrol side (``simulation.run_base``): the volunteer phones answer the engine's ``task.offer`` commands,
the station's operator closes the handled emergencies, offers by hand the ones nobody took and reviews tips
(``simulation.patrol_phones``), and at the end the figures are read from the engine's own counters — the hosts'
statistics, their desks' ``PatrolFiguresBy`` per team, street and community, the run's timeline — with the table
per grouping kept in the run's result for the report.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from actors.engine_desk import ask_every_host, ask_incident_owner
from engine.errors import RedbandError
from protocols.desk import OfferUnit, RecommendUnits
from protocols.patrol_figures import GROUPINGS, PatrolFiguresBy, merge
from simulation.patrol_phones import Operate, PhoneConfig, Phones
from simulation.patrol_plan import OfferPolicy
from simulation.scenario_patrols import group_figures, summed_figures, timeline_figures

log = logging.getLogger(__name__)


class PatrolSide:
    def __init__(self, phones: Phones, engine, push: Callable[[float, object], None]) -> None:
        self.phones, self.engine, self.push = phones, engine, push
        self.by_hand: list[str] = []
        """What the operator did by hand, for the report."""

    @classmethod
    def of(cls, scenario, engine, *, push) -> PatrolSide | None:
        table = scenario.patrols
        if engine is None or table is None or not (scenario.emergencies or table.tip_review):
            return None
        o = table.offers
        policy = OfferPolicy(seed=o.seed, accept_p=o.accept_p, decline_p=o.decline_p, delay_s=o.delay_s)
        phones = Phones(scenario.city, policy, alarms={e.device_id: e.at_s for e in scenario.emergencies},
                        review=table.tip_review, config=PhoneConfig(grid_s=table.deliver_every_s))
        return cls(phones, engine, push)

    def seen(self, record, *, t_s: float) -> None:
        for operate in self.phones.seen(record, t_s):
            self.push(operate.at_s, operate.command)

    def turn(self, t_s: float) -> None:
        """After each step of the engine: while an offer may be out, the phones take their commands and answer."""
        if not self.phones.listening(t_s):
            return
        for incident in self.phones.overdue(t_s):
            self._offer_by_hand(incident, t_s)
        for item in self.phones.commands(self.engine.take_device_commands(), t_s):
            self.push(item.at_s, item.command if isinstance(item, Operate) else item)

    def _offer_by_hand(self, incident: str, t_s: float) -> None:
        try:
            chosen = ask_incident_owner(self.engine, incident, RecommendUnits(incident, 1)).chosen
            if not chosen:
                self.by_hand.append(f"{t_s:.0f} s {incident}: no unit available to offer by hand")
                return
            ask_incident_owner(self.engine, incident, OfferUnit(incident, chosen[0].unit_id))
        except RedbandError as exc:
            self.by_hand.append(f"{t_s:.0f} s {incident}: the offer by hand was refused: {exc}")
            return
        self.phones.offered_by_hand(incident)
        self.by_hand.append(f"{t_s:.0f} s {incident}: offered by hand to {chosen[0].unit_id}")

    def observed(self) -> dict[str, float]:
        return self.phones.tally.figures()

    @staticmethod
    def figures(engine, result) -> dict[str, float]:
        """The figures at the end of a run; the tables per grouping go into ``result.tables``."""
        figures = summed_figures(engine.statistics())
        try:
            answers = {by: merge(ask_every_host(engine, PatrolFiguresBy(by)).values()) for by in GROUPINGS}
        except RedbandError as exc:  # a host that does not answer: the figures it holds are missing
            log.warning("patrol figures: %s", exc)
            answers = {}
        figures.update(group_figures({by: a for by, a in answers.items() if a is not None}))
        figures.update(timeline_figures(result.timeline))
        result.tables = {by: [{"group": r.group, "registered": r.registered, "patrols": r.patrols,
                               "valid_hours": round(r.valid_hours, 2), "emergencies": r.emergencies,
                               "tips_open": r.tips, "points": r.points} for r in a.rows]
                         for by, a in answers.items() if a is not None}
        return figures
