"""Notices in the community evening (``[community.notices]``, ``simulation.community_tables``): what the operator posts
and withdraws through the desk (``protocols/notices.py``: ``PostNotice``, ``WithdrawNotice``), what each notice's
door screens are, what the engine should count, and the door screens themselves. Pure and deterministic (its own
random stream: the rest of the evening is drawn as without notices).

- The plan: ``whole`` notices to every door of a community (an epidemic notice, from the command center), ``buildings``
  and ``units`` ones to ``targets`` chosen buildings or residents' units (from the community's guard room), all in force
  to past the end; ``scheduled`` ones starting later in the evening, ``expiring`` ones ending within it, ``withdrawn``
  ones taken off with a reason; refused ones: ``unknown_building`` (a building the community does not have) and
  ``window_past`` (a window that ended before now). Posts fall in the first 40 % of the evening, starts, ends and
  withdrawals 20-25 % of it later.
- Door screens (:class:`DoorScreens`): the host sends a site's board through its device-command outbox
  (``protocols.notices.NOTICE_BOARD``, ``args["board"]`` the retained payload, ``b""`` for none in force); each door
  of the site shows the board's notices meant for its building (``protocols.notices.shows_on``) and reports
  ``notice.shown`` {notice} once per notice, at the next grid step; ``strays`` notices are reported by one door
  screen outside their targets too (the engine refuses those receipts).
- Figures (:data:`NOTICE_FIGURES`): the hosts' notice counters (``HostStats.notices``) and the desk's ``NoticeList`` of
  each site with a notice: every notice listed in its planned state, shown at exactly the doors it targets.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass, field

from protocols import EventKind
from protocols.notices import NoticeRefusal, NoticeState, PostNotice, WithdrawNotice, decode_board, shows_on
from simulation.device_reply import Reply

REFUSALS = tuple(r.value for r in NoticeRefusal)
COUNTED = ("posted", "active", "scheduled", "expired", "withdrawn", "receipts")
NOTICE_FIGURES = (*(f"notices.{c}" for c in COUNTED), *(f"notices.refused.{r}" for r in REFUSALS),
                  "notices.receipts_refused", "notices.listed", "notices.as_planned", "notices.shown_outside")
"""``notices.posted`` .. ``notices.receipts`` and ``notices.refused.*``, ``notices.receipts_refused``: the hosts'
counters (``active``, ``scheduled``: at the end); ``notices.listed``: notices in the sites' ``NoticeList`` s;
``notices.as_planned``: those in their planned state shown at exactly the doors they target, none pending;
``notices.shown_outside``: receipts from doors a notice does not target. The truth also holds ``site.<site>.notices``
(in force at the end), the desk's ``CommunityFiguresQuery`` rows (``simulation.scenario_community.DESK_FIELDS``)."""


@dataclass(slots=True)
class NoticeAction:
    at_s: float
    request: PostNotice | WithdrawNotice
    refusal: str = ""
    """The refusal the desk should answer (a ``NoticeRefusal`` value), or "" for none."""


@dataclass(slots=True)
class PlannedNotice:
    site: str
    state: NoticeState
    """Its state at the end of the run."""
    doors: frozenset[str] = field(default_factory=frozenset)
    """The door screens it targets (each reports it once)."""


class NoticePlan:
    """Raises ``ValueError`` naming the key at fault (``notices.targets: ...``)."""

    def __init__(self, table, city, doors, *, start_s: float, period_s: float, step: float, seed: int) -> None:
        self.table, self.step = table, step
        self.rng = random.Random(f"notices-{seed}")
        self.start_s, self.period_s, self.end_s = start_s, period_s, start_s + period_s
        self.doors: dict[str, list[tuple[str, str]]] = {}
        """Site → its doors (door id, building), each a door screen."""
        for d in doors:
            self.doors.setdefault(d.site_id, []).append((d.id, d.unit))
        self.units: dict[str, list[str]] = {}
        for r in sorted(city.residents.values(), key=lambda r: r.id):
            if r.site_id in self.doors and r.unit not in self.units.setdefault(r.site_id, []):
                self.units[r.site_id].append(r.unit)
        self.sites = sorted(self.doors)
        self.actions: list[NoticeAction] = []
        self.notices: dict[str, PlannedNotice] = {}
        """Notice id → what it targets and its state at the end (refused ones are not here)."""
        self.truth: dict[str, float] = dict.fromkeys(NOTICE_FIGURES, 0.0)
        self.strays: dict[str, str] = {}
        """Notice id → a door outside its targets whose screen reports it anyway (``strays``)."""
        if not self.sites and self._posts():
            raise ValueError("notices.whole: notices need communities with door panels")
        if table.targets > min((len({b for _, b in ds}) for ds in self.doors.values()), default=0) and self._posts():
            raise ValueError(f"notices.targets: {table.targets} buildings or units; a community has fewer")
        self._plan()
        self.actions.sort(key=lambda a: a.at_s)
        chosen = [n for n, p in self.notices.items() if p.state is not NoticeState.WITHDRAWN
                  and len(p.doors) < len(self.doors[p.site])]
        if table.strays > len(chosen):
            raise ValueError(f"notices.strays: {table.strays}; only {len(chosen)} notices to chosen buildings or units")
        for notice in chosen[:table.strays]:
            planned = self.notices[notice]
            self.strays[notice] = next(d for d, _ in self.doors[planned.site] if d not in planned.doors)
        self.truth["notices.receipts_refused"] = float(len(self.strays))

    def sites_posted(self) -> list[str]:
        """The sites with a notice posted (their ``NoticeList`` is read at the end)."""
        return sorted({n.site for n in self.notices.values()})

    def _posts(self) -> int:
        t = self.table
        return t.whole + t.buildings + t.units + t.scheduled + t.expiring + t.withdrawn + t.unknown_building \
            + t.window_past

    def on_grid(self, t: float) -> float:
        return math.ceil(t / self.step - 1e-9) * self.step

    def _plan(self) -> None:
        t, late = self.table, self.end_s + 3600.0  # in force past the end of the run
        for kind, n in (("whole", t.whole), ("buildings", t.buildings), ("units", t.units),
                        ("scheduled", t.scheduled), ("expiring", t.expiring), ("withdrawn", t.withdrawn),
                        ("unknown_building", t.unknown_building), ("window_past", t.window_past)):
            for i in range(n):
                site = self.rng.choice(self.sites)
                at_s = self.on_grid(self.start_s + self.period_s * self.rng.uniform(0.05, 0.4))
                later_s = self.on_grid(at_s + self.period_s * 0.2)
                buildings = sorted({b for _, b in self.doors[site]})
                fields: dict = {"valid_until_s": late}
                state, refusal = NoticeState.ACTIVE, ""
                if kind in ("buildings", "expiring"):
                    fields["buildings"] = tuple(self.rng.sample(buildings, t.targets))
                elif kind in ("units", "scheduled"):
                    fields["units"] = tuple(self.rng.sample(self.units.get(site) or buildings, t.targets))
                if kind == "scheduled":
                    fields["valid_from_s"] = later_s
                elif kind == "expiring":
                    fields["valid_until_s"], state = later_s, NoticeState.EXPIRED
                elif kind == "withdrawn":
                    state = NoticeState.WITHDRAWN
                elif kind == "unknown_building":
                    fields["buildings"], refusal = (buildings[0], f"{site}-no-such-building"), kind
                elif kind == "window_past":
                    fields["valid_until_s"], refusal = max(1.0, at_s / 2), kind
                notice = f"n-{kind.replace('_', '-')}-{i + 1}"
                whole = kind in ("whole", "withdrawn")
                operator, role, scope = ("cc-duty", "command_center", "") if whole else \
                    (f"{site}-guard-duty", "guard_room", site)
                text = ("Epidemic notice: masks in lifts and lobbies; testing at the community gate 18:00-21:00"
                        if whole else f"Notice {i + 1}: water off for maintenance in the buildings named")
                self.actions.append(NoticeAction(at_s, PostNotice(
                    notice, operator, site, text, title=kind.replace("_", " "), level="urgent" if whole else "info",
                    role=role, scope=scope, **fields), refusal))
                if refusal:
                    self.truth[f"notices.refused.{refusal}"] += 1
                    continue
                if kind == "withdrawn":
                    self.actions.append(NoticeAction(self.on_grid(later_s + self.period_s * 0.05), WithdrawNotice(
                        site, notice, operator, reason="the testing moved to tomorrow", role=role, scope=scope)))
                wanted = set(fields.get("buildings", ())) | {u.split("-")[0] for u in fields.get("units", ())}
                doors = frozenset(d for d, b in self.doors[site] if not wanted or b in wanted)
                self.notices[notice] = PlannedNotice(site, state, doors)
                self._count(state, len(doors))
                if state is NoticeState.ACTIVE:  # in force at the end: the site's row at the desk counts it
                    self.truth[f"site.{site}.notices"] = self.truth.get(f"site.{site}.notices", 0.0) + 1

    def _count(self, state: NoticeState, doors: int) -> None:
        self.truth["notices.posted"] += 1
        self.truth["notices.listed"] += 1
        self.truth["notices.as_planned"] += 1
        self.truth[f"notices.{state.value}"] += 1
        self.truth["notices.receipts"] += doors


class DoorScreens:
    """The community's door screens: each shows its site's board and reports each notice for its building once."""

    def __init__(self, plan: NoticePlan, tally: Counter) -> None:
        self.plan, self.tally = plan, tally
        self.shown: set[tuple[str, str]] = set()
        """(door, notice) reported."""

    def board(self, site: str, payload: bytes, t: float) -> list[Reply]:
        board = decode_board(payload)
        if board is None:
            self.tally["boards_cleared"] += 1
            return []
        self.tally["boards"] += 1
        at_s, out = self.plan.on_grid(t + 1.0), []
        for door, building in self.plan.doors.get(site, ()):
            for notice in board.notices:
                stray = self.plan.strays.get(notice.id) == door
                if (stray or shows_on(notice, building)) and (door, notice.id) not in self.shown:
                    self.shown.add((door, notice.id))
                    out.append(Reply(at_s, door, EventKind.NOTICE_SHOWN, {"notice": notice.id}))
        astray = sum(1 for r in out if self.plan.strays.get(r.data["notice"]) == r.device_id)
        self.tally["notices_shown"] += len(out) - astray
        self.tally["notices_shown_astray"] += astray
        return out


def notice_figures(stats, lists, plan: NoticePlan) -> dict[str, float]:
    """The figures from the hosts' notice counters (summed) and the sites' ``NoticeList`` s (the desk's)."""
    counts: Counter[str] = Counter()
    for s in stats:
        counts.update(s.notices or {})
    out = {f"notices.{c}": float(counts[c]) for c in COUNTED}
    out.update({f"notices.refused.{r}": float(counts[f"refused_{r}"]) for r in REFUSALS})
    out["notices.receipts_refused"] = float(counts["receipt_refused"])
    views = {v.notice: v for listed in lists for v in listed.notices}
    out["notices.listed"] = float(len(views))
    out["notices.as_planned"] = float(sum(
        1 for notice, want in plan.notices.items() if (v := views.get(notice)) is not None
        and v.state == want.state and set(v.shown) == want.doors and len(v.shown) == len(want.doors) and not v.pending))
    out["notices.shown_outside"] = float(sum(
        len(set(v.shown) - (plan.notices[n].doors if n in plan.notices else frozenset())) for n, v in views.items()))
    return out


def notice_lines(seen: dict[str, float], truth: dict[str, float], refused: list[str]) -> list[str]:
    """The notice figures for the report: the engine's, with the plan's where they differ."""
    def show(figure: str) -> str:
        got, want = seen.get(figure, 0.0), truth.get(figure, 0.0)
        return f"{figure.rpartition('.')[2]} {got:,.0f}" + ("" if got == want else f" (plan {want:,.0f})")

    refusals = [f"notices.refused.{r}" for r in REFUSALS if seen.get(f"notices.refused.{r}") or
                truth.get(f"notices.refused.{r}")]
    return ["  notices: " + ", ".join(show(f"notices.{c}") for c in COUNTED)
            + "; refused: " + (", ".join(show(f) for f in refusals) or "none")
            + "; receipts refused " + show("notices.receipts_refused").rpartition(" ")[2],
            "  notices at the desk (NoticeList): " + ", ".join(show(f"notices.{c}") for c in
                                                               ("listed", "as_planned", "shown_outside")),
            "  notice desk refusals: " + ("; ".join(refused) or "none")]
