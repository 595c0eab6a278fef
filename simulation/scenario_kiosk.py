"""A scenario's kiosk hall (``[kiosks]``, planned by ``simulation.kiosk_plan``) and the figures it expects of the
engine: ``[[expect_figures]]`` whose ``figure`` starts with ``kiosk.``, checked at the end against the hall's
figures at the hosts' desks (``KioskFigures``, their answers added up), its health (``KioskHealth``) and the run's
timeline, each against an exact value (``equals``) or the plan's ground truth (``truth = true``).

    [kiosks]
    sessions = 9000
    days = 7
    deliver_every_s = 900
    mix = { household = 0.45, vehicles = 0.35, exit_entry = 0.2 }
    [[expect_figures]]
    name = "sessions of the week"
    figure = "kiosk.sessions"
    truth = true

Figures: ``kiosk.<name>`` for each of NAMES, ``kiosk.<map>.<key>`` for each of MAPS (``kiosk.served_by_day.
1970-01-02``, ``kiosk.book_refused.overbooked``, ``kiosk.code_refused.used``, ``kiosk.outcome.abandoned``), and from
the timeline, the health, the hall's queue and the hosts' statistics: ``kiosk.tickets_raised``,
``kiosk.tickets_withdrawn``, ``kiosk.sos``, ``kiosk.online``, ``kiosk.queued_slots``, ``kiosk.events_accepted``...
"""

from __future__ import annotations

from engine.kiosk.catalogue import default_catalogue
from engine.topology import City
from protocols import DeviceKind
from protocols.kinds import SiteKind
from simulation.kiosk_plan import KioskPlan
from simulation.kiosk_table import KiosksTable

NAMES = ("sessions", "served", "session_s", "average_session_s", "face_failed", "exam_passed", "exam_failed",
         "bookings", "codes_taken", "no_shows", "open_tickets", "tickets_raised", "tickets_withdrawn", "sos",
         "online", "queued_slots", "events_accepted", "events_refused", "commands_dropped")
"""``queued_slots``: booked slots not ended at the end (``KioskQueue``); ``events_*``, ``commands_dropped``: the
hosts' statistics (``HostStats.accepted``, ``refused``, ``device_commands_dropped``)."""
MAPS = ("served_by_day", "served_by_service", "served_by_category", "outcome", "book_refused", "code_refused")
BOOKING_PHONES = (DeviceKind.VOLUNTEER_PHONE, DeviceKind.RESIDENT_PHONE)


def is_kiosk_figure(figure: str) -> bool:
    return figure.startswith("kiosk.")


def check_kiosk_figure(ex, table: KiosksTable | None) -> tuple[str, str] | None:
    """(key, reason) of what is wrong with one ``kiosk.`` figure expectation, or None."""
    name = ex.figure[len("kiosk."):]
    head, _, key = name.partition(".")
    if not (name in NAMES or (head in MAPS and key)):
        return "figure", (f"unknown kiosk figure {ex.figure!r}; kiosk.<{'|'.join(NAMES)}> or "
                          f"kiosk.<{'|'.join(MAPS)}>.<key>")
    if ex.truth == (ex.equals is not None):
        return "equals", "give exactly one of equals or truth = true"
    if ex.truth and table is None:
        return "truth", "truth = true needs a [kiosks] table"
    return None


def kiosk_plan(table: KiosksTable, city: City) -> KioskPlan:
    """The plan over ``city``'s hall; ``ValueError`` names the table's field at fault (``field: reason``)."""
    halls = [s.id for s in city.sites.values() if s.kind is SiteKind.KIOSK_HALL]
    kiosks_of = {h: sorted(d.id for d in city.devices.values() if d.site_id == h and d.kind is DeviceKind.KIOSK)
                 for h in halls}
    hall = table.hall if table.hall is not None else next((h for h in halls if kiosks_of[h]), None)
    if hall is None or hall not in kiosks_of:
        raise ValueError(f"hall: no kiosk hall {table.hall!r} in the city" if table.hall else
                         "hall: the city has no kiosk hall")
    phones = sorted(d.id for d in city.devices.values() if d.kind in BOOKING_PHONES)
    if not phones:
        raise ValueError("sessions: the city has no phone to book with")
    return KioskPlan(table, kiosks=kiosks_of[hall], hall=hall, phones=phones, catalogue=default_catalogue()).build()


def seen_figures(answer, health, timeline, *, queue=None, stats=()) -> dict[str, float]:
    """The engine's figures: the hosts' ``KioskFiguresAnswer`` added up (None: none), the hall's
    ``KioskHealthAnswer`` (None: not asked), the run's timeline rows, the hall's ``KioskQueueAnswer`` of every host
    (None: not asked) and the hosts' ``HostStats``."""
    out: dict[str, float] = {}
    if queue is not None:
        out["kiosk.queued_slots"] = float(sum(len(q.rows) + q.more for q in queue))
    if stats:
        out["kiosk.events_accepted"] = float(sum(s.accepted for s in stats))
        out["kiosk.events_refused"] = float(sum(s.refused for s in stats))
        out["kiosk.commands_dropped"] = float(sum(s.device_commands_dropped for s in stats))
    if answer is not None:
        for name in NAMES:
            if hasattr(answer, name):
                out[f"kiosk.{name}"] = float(getattr(answer, name))
        out["kiosk.average_session_s"] = answer.average_session_s
        for name in MAPS:
            values = getattr(answer, "outcomes" if name == "outcome" else name)
            out.update({f"kiosk.{name}.{k}": float(v) for k, v in values.items()})
    if health is not None:
        out["kiosk.online"] = float(health.online)
    rows = [r for r in timeline if r.kind in ("kiosk.fault", "kiosk.sos")]
    out["kiosk.tickets_raised"] = float(sum(1 for r in rows if r.kind == "kiosk.fault" and r.event == "raised"))
    out["kiosk.tickets_withdrawn"] = float(sum(1 for r in rows if r.kind == "kiosk.fault" and r.event == "cancelled"))
    out["kiosk.sos"] = float(sum(1 for r in rows if r.kind == "kiosk.sos" and r.event == "raised"))
    return out


def truth_figures(plan: KioskPlan | None, expectations) -> dict[str, float]:
    """The plan's ground truth; a map's key the plan never counted is 0 (every kiosk online at the end)."""
    if plan is None:
        return {}
    wanted = {**plan.truth.figures, "kiosk.online": float(len(plan.kiosks)), "kiosk.queued_slots": 0.0,
              "kiosk.events_accepted": float(len(plan.events)), "kiosk.events_refused": 0.0,
              "kiosk.commands_dropped": 0.0}
    for ex in expectations:
        if is_kiosk_figure(ex.figure):
            wanted.setdefault(ex.figure, 0.0)
    return wanted


def report_lines(figures: dict[str, float]) -> list[str]:
    """The kiosk hall's figures for the run's report."""
    f = figures.get
    if f("kiosk.sessions") is None:
        return []
    lines = [f"kiosk hall: {f('kiosk.sessions', 0):.0f} sessions, {f('kiosk.served', 0):.0f} served, average "
             f"{f('kiosk.average_session_s', 0):.1f} s; face checks failed {f('kiosk.face_failed', 0):.0f}; theory "
             f"exam passed {f('kiosk.exam_passed', 0):.0f}, failed {f('kiosk.exam_failed', 0):.0f}",
             f"kiosk bookings: {f('kiosk.bookings', 0):.0f} made, codes taken {f('kiosk.codes_taken', 0):.0f}, "
             f"no-shows {f('kiosk.no_shows', 0):.0f}; refused: " + _joined(figures, "book_refused")
             + "; codes refused: " + _joined(figures, "code_refused"),
             f"kiosk tickets: raised {f('kiosk.tickets_raised', 0):.0f}, withdrawn "
             f"{f('kiosk.tickets_withdrawn', 0):.0f}, open {f('kiosk.open_tickets', 0):.0f}; SOS "
             f"{f('kiosk.sos', 0):.0f}; kiosks online {f('kiosk.online', 0):.0f}",
             "kiosk served per day: " + _joined(figures, "served_by_day"),
             "kiosk served per category: " + _joined(figures, "served_by_category")]
    return lines


def _joined(figures: dict[str, float], name: str) -> str:
    prefix = f"kiosk.{name}."
    parts = [f"{k[len(prefix):]} {v:.0f}" for k, v in sorted(figures.items()) if k.startswith(prefix)]
    return ", ".join(parts) or "none"
