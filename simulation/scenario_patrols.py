"""A scenario's volunteer patrols and the figures it expects of them: the ``[patrols]`` table turned into scripted
events and the plan's ground truth, and ``[[expect_figures]]`` checked against the hosts' summed statistics.

    [patrols]                     # simulation.patrol_plan.PatrolPlan over the city's volunteer phones
    count = 433
    period_s = 14400
    seed = 1
    duration_s = [600, 1800]      # each patrol's length, drawn in [lo, hi]
    deliver_every_s = 10          # optional: messages reach the engine in batches (each keeps its own stamp)
    [[expect_figures]]
    name = "every patrol ended"
    figure = "patrols_ended"      # patrol_valid_hours, fixes_kept, fixes_discarded, fixes_discarded.<reason>
    truth = true                  # against the plan's ground truth (or: equals = 433)
    tolerance = 0.0               # absolute, and/or tolerance_pct of the expected value
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Annotated

from msgspec import Meta, Struct

from engine.patrol.gps_filter import DiscardReason
from engine.topology import City
from simulation.patrol_plan import PatrolPlan
from simulation.patrol_walk import BAD_KINDS, FILTER_REASON
from simulation.report import ExpectationResult

FIGURES = ("patrols_ended", "patrol_valid_hours", "fixes_kept", "fixes_discarded",
           *(f"fixes_discarded.{r.value}" for r in DiscardReason))


class PatrolsTable(Struct, forbid_unknown_fields=True):
    count: Annotated[int, Meta(ge=1)]
    period_s: Annotated[float, Meta(gt=0)]
    seed: int = 1
    start_s: Annotated[float, Meta(ge=0)] = 0.0
    duration_s: tuple[Annotated[float, Meta(gt=0)], Annotated[float, Meta(gt=0)]] = (2700.0, 10800.0)
    deliver_every_s: Annotated[float, Meta(ge=0, le=30)] = 0.0
    """0: each message at its own time; else on the next multiple (the engine's clock window is −40 s)."""


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

    def figures(self) -> dict[str, float]:
        out = {"patrols_ended": float(self.patrols), "patrol_valid_hours": self.valid_s / 3600.0,
               "fixes_kept": float(self.good_fixes), "fixes_discarded": float(sum(self.bad_by_reason.values()))}
        out.update({f"fixes_discarded.{r.value}": float(self.bad_by_reason.get(r.value, 0)) for r in DiscardReason})
        return out


def patrol_events(table: PatrolsTable, city: City) -> tuple[list[tuple[float, str, object]], PatrolTruth]:
    """Every message of the plan as (delivery time, device id, message), and the plan's ground truth. Raises
    ``ValueError`` naming the field at fault."""
    lo, hi = table.duration_s
    if lo > hi:
        raise ValueError("duration_s: give [lo, hi] with lo <= hi")
    try:
        plan = PatrolPlan.from_city(city, count=table.count, start_s=table.start_s, period_s=table.period_s,
                                    seed=table.seed, duration_s=(lo, hi))
        sent = list(plan.messages())
    except ValueError as exc:
        raise ValueError(f"count: {exc}") from None
    step = table.deliver_every_s
    out = [(math.ceil(s.at_s / step - 1e-9) * step if step else s.at_s, s.device_id, s.message) for s in sent]
    truths = plan.truths.values()
    bad = {FILTER_REASON[k]: sum(t.bad[k] for t in truths) for k in BAD_KINDS}
    return out, PatrolTruth(len(plan.truths), sum(t.valid_s for t in truths), sum(t.good_fixes for t in truths), bad)


def check_figure_spec(ex: ExpectFigure, truth: PatrolTruth | None) -> tuple[str, str] | None:
    """(key, reason) of what is wrong with one ``[[expect_figures]]`` entry, or None."""
    if ex.figure not in FIGURES:
        return "figure", f"unknown figure {ex.figure!r}; one of {', '.join(FIGURES)}"
    if ex.truth == (ex.equals is not None):
        return "equals", "give exactly one of equals or truth = true"
    if ex.truth and truth is None:
        return "truth", "truth = true needs a [patrols] table"
    return None


def summed_figures(stats: list) -> dict[str, float]:
    """The figures summed over every host's ``HostStats``."""
    out = {"patrols_ended": float(sum(s.patrols_ended for s in stats)),
           "patrol_valid_hours": sum(s.patrol_valid_s for s in stats) / 3600.0,
           "fixes_kept": float(sum(s.fixes_kept for s in stats)),
           "fixes_discarded": float(sum(s.fixes_discarded for s in stats))}
    for r in DiscardReason:
        out[f"fixes_discarded.{r.value}"] = float(sum(s.fixes_discarded_by_reason.get(r.value, 0) for s in stats))
    return out


def check_figures(expectations, seen: dict[str, float] | None, truth: PatrolTruth | None) -> list[ExpectationResult]:
    """Each figure expectation against the figures seen at the end of the run (None: none could be read)."""
    results = []
    wanted = truth.figures() if truth is not None else {}
    for ex in expectations:
        want = wanted[ex.figure] if ex.truth else float(ex.equals)
        allowed = ex.tolerance + abs(want) * ex.tolerance_pct / 100.0
        source = "ground truth " if ex.truth else ""
        if seen is None:
            results.append(ExpectationResult(ex.name, False, f"{ex.figure}: no statistics from the engine"))
            continue
        got = seen[ex.figure]
        passed = abs(got - want) <= allowed + 1e-9
        detail = f"{ex.figure} = {got:g}; expected {source}{want:g}" + (f" ± {allowed:g}" if allowed else "")
        results.append(ExpectationResult(ex.name, passed, detail))
    return results
