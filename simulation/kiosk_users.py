"""A run's kiosk users (``simulation.run_base``): the phones of the plan's bookings read the engine's answers
(``kiosk.booked`` with the code, ``kiosk.book.refused``) and the users type their code at the kiosk when the plan says
(the plan's code messages carry a placeholder the run fills in just before sending); at the end the hall's figures
are read from the engine: the hosts' ``KioskFigures`` added up, the hall's ``KioskHealth``, and the timeline.

Device commands are taken from the engine only right after a batch that carried bookings (one call to every host; in
a kiosk hall scenario nothing else needs them). The users' turn comes in virtual time (``VirtualRun``, what
``redband simulate`` does by default); in real time or over MQTT the codes stay placeholders, refused as unknown.
"""

from __future__ import annotations

import logging

import msgspec

from actors.engine_desk import ask_every_host
from engine.errors import RedbandError
from protocols.kinds import EventKind
from protocols.kiosk import KioskFigures, KioskHealth, KioskQueue, merge
from simulation.kiosk_plan import KioskPlan
from simulation.scenario_kiosk import MAPS, report_lines, seen_figures, truth_figures

log = logging.getLogger(__name__)


class KioskSide:
    def __init__(self, plan: KioskPlan, engine) -> None:
        self.plan, self.engine = plan, engine
        self.typings = {(t.kiosk, t.seq): t.booking for t in plan.typings}
        self.booking_of = {(r.phone, r.service, r.slot): i for i, r in enumerate(plan.requests)}
        self.codes: dict[int, str] = {}
        """Booking request index → the code the engine gave it."""
        self.refused: dict[int, str] = {}
        self.unanswered = 0
        self._asked = False

    @classmethod
    def of(cls, scenario, engine) -> KioskSide | None:
        plan = getattr(scenario, "kiosk_plan", None)
        return cls(plan, engine) if plan is not None and engine is not None else None

    def filled(self, device_id: str, message):
        """The message to send now: a typed code's placeholder replaced by its booking's code (a booking sent
        means answers to read after the batch)."""
        if message.event_kind is EventKind.KIOSK_BOOK:
            self._asked = True
        if message.event_kind is not EventKind.KIOSK_CODE:
            return message
        booking = self.typings.get((device_id, message.seq))
        if booking is None:
            return message
        code = self.codes.get(booking)
        if code is None:
            self.unanswered += 1
            return message
        return msgspec.structs.replace(message, data=msgspec.structs.replace(message.data, code=code))

    def turn(self) -> None:
        """After a step that carried bookings: the phones read their answers."""
        if not self._asked or self.engine is None:
            return
        self._asked = False
        for command in self.engine.take_device_commands():
            args = command.args
            if command.command not in ("kiosk.booked", "kiosk.book.refused"):
                continue
            index = self.booking_of.get((command.device_id, args.get("service"), args.get("slot")))
            if index is None:
                continue
            if command.command == "kiosk.booked":
                self.codes[index] = args["code"]
            else:
                self.refused[index] = args.get("reason", "")

    def figures(self, result, expectations=()) -> dict[str, float]:
        """The hall's figures at the end; their text goes into the report's notes."""
        try:
            answer = merge(ask_every_host(self.engine, KioskFigures()).values())
            health = next((h for h in ask_every_host(self.engine, KioskHealth(self.plan.hall)).values()
                           if h.kiosks), None)
            queue = list(ask_every_host(self.engine, KioskQueue(self.plan.hall)).values())
        except RedbandError as exc:  # a host that does not answer: its figures are missing
            log.warning("kiosk figures: %s", exc)
            answer = health = queue = None
        figures = seen_figures(answer, health, result.timeline, queue=queue, stats=self.engine.statistics())
        if answer is not None:  # a reason or key the engine never counted is 0
            for ex in expectations:
                if ex.figure.startswith("kiosk.") and ex.figure.split(".")[1] in MAPS:
                    figures.setdefault(ex.figure, 0.0)
        result.notes += report_lines(figures)
        if self.unanswered:
            result.notes.append(f"kiosk: {self.unanswered} codes typed before their booking was answered")
        return figures

    def truth(self, expectations) -> dict[str, float]:
        return truth_figures(self.plan, expectations)
