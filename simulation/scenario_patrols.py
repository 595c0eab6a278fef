"""A scenario's volunteer patrols and the figures it expects of them: the ``[patrols]`` table turned into scripted
events and the plan's ground truth, and ``[[expect_figures]]`` checked against the hosts' summed statistics.

    [patrols]                     # simulation.patrol_plan.PatrolPlan over the city's volunteer phones
    count = 433
    period_s = 14400
    seed = 1
    duration_s = [600, 1800]      # each patrol's length, drawn in [lo, hi]
    deliver_every_s = 10          # optional: messages reach the engine in batches (each keeps its own stamp)
    emergencies = 10              # optional: P1 alarms near volunteers on patrol (simulation.patrol_emergencies)
    [patrols.offers]              # how the phones answer task offers (simulation.patrol_plan.OfferPolicy)
    accept_p = 0.6
    decline_p = 0.25
    [patrols.tip_review]          # optional: the station reviews every tip (simulation.patrol_phones.TipReview)
    accept = ["hazard", "suspicious"]
    [[expect_figures]]
    name = "every patrol ended"
    figure = "patrols_ended"      # one of FIGURES, or <team|street|community>.<group>.<field> (GROUP_FIELDS)
    truth = true                  # against the plan's ground truth (or: equals = 433)
    tolerance = 0.0               # absolute, and/or tolerance_pct of the expected value
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Annotated

from msgspec import Meta, Struct

from engine.hosting.patrol_figures import group_of
from engine.patrol.gps_filter import DiscardReason
from engine.policy import load_policy_set
from engine.points_rules import load_points_rule_set
from engine.topology import City
from protocols.patrol_figures import FIELDS as GROUP_FIELDS
from protocols.patrol_figures import GROUPINGS
from protocols.points import PointsReason
from simulation.patrol_emergencies import Emergency, emergency_messages, plan_emergencies
from simulation.patrol_phones import TipReview
from simulation.patrol_plan import PatrolPlan
from simulation.patrol_walk import BAD_KINDS, FILTER_REASON, Sent
from simulation.report import ExpectationResult

POINTS = tuple(r.value for r in PointsReason if r is not PointsReason.REDEMPTION)
FIGURES = ("patrols_ended", "patrol_valid_hours", "fixes_kept", "fixes_discarded",
           *(f"fixes_discarded.{r.value}" for r in DiscardReason),
           "registered", "emergencies", "offers_sent", "offers_declined", "offers_expired", "tasks_done",
           "tips_raised", "tips_accepted", "tips_rejected", "points", *(f"points.{r}" for r in POINTS))
"""``registered``: volunteers of the hosts' registries; ``offers_*``/``tasks_done``: the hosts' dispatch effects;
``emergencies``: emergencies handled (the volunteers' ``emergency_handled`` credits); ``tips_*``: tips raised,
accepted and rejected on the run's timeline; ``points``: points credited, ``points.<reason>`` per reason. Ground
truth for the offers and tips reviewed is what the phones and the operator did in the run."""


class OffersTable(Struct, forbid_unknown_fields=True, frozen=True):
    seed: int = 1
    accept_p: Annotated[float, Meta(ge=0, le=1)] = 0.7
    decline_p: Annotated[float, Meta(ge=0, le=1)] = 0.2
    delay_s: tuple[Annotated[float, Meta(ge=0)], Annotated[float, Meta(ge=0)]] = (3.0, 25.0)


class PatrolsTable(Struct, forbid_unknown_fields=True):
    count: Annotated[int, Meta(ge=1)]
    period_s: Annotated[float, Meta(gt=0)]
    seed: int = 1
    start_s: Annotated[float, Meta(ge=0)] = 0.0
    duration_s: tuple[Annotated[float, Meta(gt=0)], Annotated[float, Meta(gt=0)]] = (2700.0, 10800.0)
    deliver_every_s: Annotated[float, Meta(ge=0, le=30)] = 0.0
    """0: each message at its own time; else on the next multiple (the engine's clock window is −40 s)."""
    emergencies: Annotated[int, Meta(ge=0, le=100)] = 0
    emergency_near_m: Annotated[float, Meta(gt=0)] = 1500.0
    """How near a patrolling volunteer's home an emergency's alarm device must be (the engine offers within 5 km)."""
    offers: OffersTable = OffersTable()
    tip_review: TipReview | None = None


class ExpectFigure(Struct, forbid_unknown_fields=True):
    name: str
    figure: str
    equals: float | None = None
    truth: bool = False
    tolerance: Annotated[float, Meta(ge=0)] = 0.0
    tolerance_pct: Annotated[float, Meta(ge=0)] = 0.0


@dataclass(frozen=True, slots=True)
class PatrolTruth:
    """What the plan's patrols meant the engine to count, in the names of the figures."""

    patrols: int
    valid_s: float
    good_fixes: int
    bad_by_reason: dict[str, int] = field(default_factory=dict)
    points: dict[str, int] = field(default_factory=dict)
    """Points the plan means the volunteers to earn, per reason (its tips as the review would judge them)."""
    registered: int = 0
    emergencies: int = 0
    tips: int = 0
    more: dict[str, float] = field(default_factory=dict)
    """``<grouping>.<group>.<field>`` for registered, patrols and valid_hours; tips the review would accept, reject."""

    def figures(self) -> dict[str, float]:
        out = {"patrols_ended": float(self.patrols), "patrol_valid_hours": self.valid_s / 3600.0,
               "fixes_kept": float(self.good_fixes), "fixes_discarded": float(sum(self.bad_by_reason.values())),
               "registered": float(self.registered), "emergencies": float(self.emergencies),
               "tasks_done": float(self.emergencies), "tips_raised": float(self.tips),
               "points": float(sum(self.points.values()))}
        out.update({f"fixes_discarded.{r.value}": float(self.bad_by_reason.get(r.value, 0)) for r in DiscardReason})
        out.update({f"points.{r}": float(self.points.get(r, 0)) for r in POINTS})
        out.update(self.more)
        return out


def patrol_events(table: PatrolsTable, city: City, policies=None
                  ) -> tuple[list[tuple[float, str, object]], PatrolTruth, list[Emergency]]:
    """Every message of the plan (and of its emergencies' alarm devices) as (delivery time, device id, message), the
    plan's ground truth, and the emergencies. Raises ``ValueError`` naming the field at fault."""
    lo, hi = table.duration_s
    if lo > hi:
        raise ValueError("duration_s: give [lo, hi] with lo <= hi")
    try:
        plan = PatrolPlan.from_city(city, count=table.count, start_s=table.start_s, period_s=table.period_s,
                                    seed=table.seed, duration_s=(lo, hi))
        sent = list(plan.messages())
    except ValueError as exc:
        raise ValueError(f"count: {exc}") from None
    try:
        emergencies = plan_emergencies(city, [(w.started_s, w.duration_s, phone) for w, phone in plan.walkers()],
                                       count=table.emergencies, start_s=table.start_s, period_s=table.period_s,
                                       near_m=table.emergency_near_m)
    except ValueError as exc:
        raise ValueError(f"emergencies: {exc}") from None
    if emergencies:
        policies = policies or load_policy_set(None)
        end_s = table.start_s + table.period_s
        sent += [s for e in emergencies for s in _as_sent(emergency_messages(
            e, city, policies, end_s=end_s, step_s=table.deliver_every_s))]
    step = table.deliver_every_s
    out = [(math.ceil(s.at_s / step - 1e-9) * step if step else s.at_s, s.device_id, s.message) for s in sent]
    truths = plan.truths.values()
    bad = {FILTER_REASON[k]: sum(t.bad[k] for t in truths) for k in BAD_KINDS}
    return out, _truth(table, city, truths, bad, len(emergencies)), emergencies


def _as_sent(messages) -> list[Sent]:
    return [Sent(at_s, device_id, message) for at_s, device_id, message in messages]


def _truth(table: PatrolsTable, city: City, truths, bad: dict[str, int], emergencies: int) -> PatrolTruth:
    rules = load_points_rule_set(None)
    points = {PointsReason.PATROL.value: sum(rules.points_for(PointsReason.PATROL, valid_s=t.valid_s) for t in truths),
              PointsReason.EMERGENCY_HANDLED.value: emergencies * rules.points_for(PointsReason.EMERGENCY_HANDLED)}
    tips = sum(t.tips for t in truths)
    if table.tip_review is not None:
        accepted = sum(n for t in truths for c, n in t.tip_categories.items() if c in table.tip_review.accept)
        points[PointsReason.TIP_ACCEPTED.value] = accepted * rules.points_for(PointsReason.TIP_ACCEPTED)
    groups: dict[str, float] = {}
    if table.tip_review is not None:
        groups.update(tips_accepted=float(accepted), tips_rejected=float(tips - accepted))
    for by in GROUPINGS:
        of = {v.id: group_of(city, v, by) for v in city.volunteers.values()}
        for volunteer, group in of.items():
            groups[f"{by}.{group}.registered"] = groups.get(f"{by}.{group}.registered", 0.0) + 1
        for t in truths:
            group = of.get(t.volunteer, "")
            groups[f"{by}.{group}.patrols"] = groups.get(f"{by}.{group}.patrols", 0.0) + 1
            groups[f"{by}.{group}.valid_hours"] = groups.get(f"{by}.{group}.valid_hours", 0.0) + t.valid_s / 3600.0
    return PatrolTruth(len(truths), sum(t.valid_s for t in truths), sum(t.good_fixes for t in truths), bad,
                       points, len(city.volunteers), emergencies, tips, groups)


def check_figure_spec(ex: ExpectFigure, truth: PatrolTruth | None) -> tuple[str, str] | None:
    """(key, reason) of what is wrong with one ``[[expect_figures]]`` entry, or None."""
    if ex.figure not in FIGURES and not _group_figure(ex.figure):
        return "figure", (f"unknown figure {ex.figure!r}; one of {', '.join(FIGURES)}, or "
                          f"<{'|'.join(GROUPINGS)}>.<group>.<{'|'.join(GROUP_FIELDS)}>")
    if ex.truth == (ex.equals is not None):
        return "equals", "give exactly one of equals or truth = true"
    if ex.truth and truth is None:
        return "truth", "truth = true needs a [patrols] table"
    return None


def _group_figure(figure: str) -> bool:
    by, _, rest = figure.partition(".")
    return by in GROUPINGS and rest.rpartition(".")[2] in GROUP_FIELDS and "." in rest


def group_figures(answers: dict) -> dict[str, float]:
    """``<grouping>.<group>.<field>`` and the totals (``registered``, ``emergencies``, ``points``...) of the hosts'
    merged ``PatrolFiguresAnswer`` per grouping."""
    out: dict[str, float] = {}
    for by, answer in answers.items():
        for row in answer.rows:
            out.update({f"{by}.{row.group}.{f}": row.value(f) for f in GROUP_FIELDS})
        out["registered"] = float(sum(row.registered for row in answer.rows))
        out["emergencies"] = float(sum(row.emergencies for row in answer.rows))
        out["points"] = float(sum(answer.points_by_reason.values()))
        out.update({f"points.{r}": float(answer.points_by_reason.get(r, 0)) for r in POINTS})
    return out


def timeline_figures(timeline) -> dict[str, float]:
    """Tips raised, accepted and rejected: rows of the run's timeline (the engine's changes)."""
    def count(event: str) -> float:
        return float(sum(1 for row in timeline if row.kind == "patrol.clue" and row.event == event))
    return {"tips_raised": count("raised"), "tips_accepted": count("tip_accepted"),
            "tips_rejected": count("tip_rejected")}


def summed_figures(stats: list) -> dict[str, float]:
    """The figures summed over every host's ``HostStats``."""
    out = {"patrols_ended": float(sum(s.patrols_ended for s in stats)),
           "patrol_valid_hours": sum(s.patrol_valid_s for s in stats) / 3600.0,
           "fixes_kept": float(sum(s.fixes_kept for s in stats)),
           "fixes_discarded": float(sum(s.fixes_discarded for s in stats))}
    for r in DiscardReason:
        out[f"fixes_discarded.{r.value}"] = float(sum(s.fixes_discarded_by_reason.get(r.value, 0) for s in stats))
    effects = {"offers_sent": "OfferSent", "offers_declined": "OfferDeclined", "offers_expired": "OfferExpired",
               "tasks_done": "TaskDone"}
    for figure, effect in effects.items():
        out[figure] = float(sum(s.dispatch_effects.get(effect, 0) for s in stats))
    return out


def check_figures(expectations, seen: dict[str, float] | None, truth: PatrolTruth | None,
                  observed: dict[str, float] | None = None) -> list[ExpectationResult]:
    """Each figure expectation against the figures seen at the end of the run (None: none could be read).
    ``observed``: ground truth only the run knows (what the phones and the operator did)."""
    results = []
    wanted = {**(truth.figures() if truth is not None else {}), **(observed or {})}
    for ex in expectations:
        want = wanted.get(ex.figure, 0.0) if ex.truth else float(ex.equals)
        allowed = ex.tolerance + abs(want) * ex.tolerance_pct / 100.0
        source = "ground truth " if ex.truth else ""
        if seen is None:
            results.append(ExpectationResult(ex.name, False, f"{ex.figure}: no statistics from the engine"))
            continue
        got = seen.get(ex.figure)
        if got is None:
            results.append(ExpectationResult(ex.name, False, f"{ex.figure}: not among the engine's figures"))
            continue
        passed = abs(got - want) <= allowed + 1e-9
        detail = f"{ex.figure} = {got:g}; expected {source}{want:g}" + (f" ± {allowed:g}" if allowed else "")
        results.append(ExpectationResult(ex.name, passed, detail))
    return results
