"""A scenario's community evening (``[community]``, ``simulation.community_tables``) and the figures it expects:
``[[expect_figures]]`` naming one of :data:`FIGURES`, checked against the engine's own counters (the hosts'
statistics, ``community`` section; incidents raised on the run's timeline) and the plan's ground truth.

    [[expect_figures]]
    name = "every call answered open opened its door"
    figure = "calls.opened"
    truth = true                  # or: equals = 1234
"""

from __future__ import annotations

from protocols.community import CallOutcome, CodeRefusal
from simulation.community_notices import NOTICE_FIGURES

CALL_FIGURES = ("calls", *(f"calls.{o.value}" for o in CallOutcome), "calls.no_residents")
ANSWER_REFUSALS = ("unverified", "answered", "unknown_call", "other_unit")
FIGURES = (*CALL_FIGURES, *(f"answers.refused.{r}" for r in ANSWER_REFUSALS), "doors_opened",
           "passes.issued", "passes.refused.unverified", "codes.opened",
           *(f"codes.refused.{r.value}" for r in CodeRefusal), "throw_incidents", "throws_joined",
           "held_open_incidents", "forced_incidents")
"""``calls.*``: visitor calls rung and how they ended; ``answers.refused.*``: phones' answers the engine refused, by
reason; ``doors_opened``: doors opened for a call or a pass; ``passes.*``, ``codes.*``: passes issued (or refused) and
codes typed at panels, opened or refused by reason; ``throw_incidents``: thrown-object incidents (one per camera
facade and episode), ``throws_joined``: reports that joined one; ``held_open_incidents``, ``forced_incidents``: door
incidents raised. The notices' figures: ``simulation.community_notices.NOTICE_FIGURES``."""

_COUNTER_OF = {"calls": "calls", "calls.no_residents": "no_residents",
               **{f"calls.{o.value}": o.value for o in CallOutcome},
               **{f"answers.refused.{r}": f"refused_{r}" for r in ANSWER_REFUSALS},
               "passes.issued": "passes", "passes.refused.unverified": "refused_pass_unverified",
               "codes.opened": "code_opened", **{f"codes.refused.{r.value}": f"code_{r.value}" for r in CodeRefusal},
               "throw_incidents": "throws", "throws_joined": "throws_joined"}
_RAISED = {"held_open_incidents": "door.held_open", "forced_incidents": "door.forced"}
DESK_FIELDS = ("visitor_calls", "missed_calls", "doors_held_open", "doors_forced", "throws", "notices")
"""Fields of the desk's ``CommunityFiguresQuery`` rows (``protocols/community_figures.py``) checked as
``site.<site id>.<field>``, ``grid.<grid id>.<field>`` and, over every site, ``desk.<field>`` (``throws``: reports,
a joined repeat too; ``notices``: in force at the end)."""


def is_community_figure(figure: str) -> bool:
    by, _, rest = figure.partition(".")
    if by == "desk":
        return rest in DESK_FIELDS
    if figure in FIGURES or figure in NOTICE_FIGURES:
        return True
    return by in ("site", "grid") and rest.rpartition(".")[2] in DESK_FIELDS and "." in rest


def _field(row, name: str) -> int:
    """A row's figure; ``notices`` None (no notice board): 0."""
    return getattr(row, name, None) or 0


def desk_figures(sites, grids) -> dict[str, float]:
    """``site.*``, ``grid.*`` and ``desk.*`` of the desk's rows per site and per grid (``engine.community_figures``)."""
    out = {f"desk.{f}": float(sum(_field(r, f) for r in sites)) for f in DESK_FIELDS}
    for by, rows in (("site", sites), ("grid", grids)):
        out.update({f"{by}.{r.id}.{f}": float(_field(r, f)) for r in rows for f in DESK_FIELDS})
    return out


def check_community_figure(ex, plan) -> tuple[str, str] | None:
    """(key, reason) of what is wrong with one community ``[[expect_figures]]`` entry, or None."""
    if ex.truth == (ex.equals is not None):
        return "equals", "give exactly one of equals or truth = true"
    if ex.truth and plan is None:
        return "truth", "truth = true needs a [community] table"
    return None


def community_figures(stats, timeline) -> dict[str, float]:
    """The figures from the hosts' statistics (summed) and the incidents raised on the run's timeline."""
    counts: dict[str, int] = {}
    for s in stats:
        for name, n in (s.community or {}).items():
            counts[name] = counts.get(name, 0) + n
    out = {figure: float(counts.get(name, 0)) for figure, name in _COUNTER_OF.items()}
    out["doors_opened"] = out["calls.opened"] + out["codes.opened"]
    for figure, kind in _RAISED.items():
        out[figure] = float(sum(1 for row in timeline if row.kind == kind and row.event == "raised"))
    return out


def summary_lines(seen: dict[str, float], truth: dict[str, float]) -> list[str]:
    """The community figures for the report: the engine's, with the plan's where they differ."""
    def show(figure: str) -> str:
        got, want = seen.get(figure, 0.0), truth.get(figure, 0.0)
        return f"{figure.rpartition('.')[2]} {got:,.0f}" + ("" if got == want else f" (plan {want:,.0f})")

    refusals = [f for f in FIGURES if f.startswith("codes.refused.")]
    return [
        "community figures (the engine's counters):",
        "  visitor calls: " + ", ".join(show(f) for f in CALL_FIGURES),
        "  answers refused: " + ", ".join(show(f"answers.refused.{r}") for r in ANSWER_REFUSALS),
        "  doors opened: " + show("doors_opened").removeprefix("doors_opened "),
        "  passes: " + ", ".join(show(f) for f in ("passes.issued", "passes.refused.unverified"))
        + "; codes: " + ", ".join(show(f) for f in ("codes.opened", *refusals)),
        "  thrown objects: " + ", ".join(show(f) for f in ("throw_incidents", "throws_joined")),
        "  door incidents: " + ", ".join(show(f) for f in ("held_open_incidents", "forced_incidents")),
        "  at the desk, every community: " + ", ".join(show(f"desk.{f}") for f in DESK_FIELDS),
    ]


def grid_lines(grids) -> list[str]:
    """The desk's rows per grid, for the report."""
    lines = [f"community figures per grid ({len(grids)} grids, the desk's CommunityFiguresQuery):",
             "  " + f"{'grid':<28}" + "".join(f"{c:>16}" for c in ("communities", *DESK_FIELDS))]
    for r in grids:
        lines.append(f"  {r.id[:28]:<28}" + "".join(f"{_field(r, c):>16,}" for c in ("communities", *DESK_FIELDS)))
    return lines
