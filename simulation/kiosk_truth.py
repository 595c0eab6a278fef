"""The ground truth of a kiosk hall's plan (``simulation.kiosk_plan``): what the engine must count of its sessions,
and the engine's booking rules replayed on the times it sees the messages (a slot's capacity, a code taken from
``early_s`` before its slot to its end, once; a slot's bookings forgotten when it ends)."""

from __future__ import annotations

from collections import Counter

from engine.kiosk.figures import day_of


def count(plan, sessions: list[dict]) -> None:
    f, pass_mark = Counter(), plan.catalogue.policy.pass_mark
    for s in sessions:
        data, seen = s["data"], plan.at(s["end"])
        f["kiosk.sessions"] += 1
        f["kiosk.session_s"] += data["duration_s"]
        f[f"kiosk.outcome.{data['outcome']}"] += 1
        f["kiosk.face_failed"] += data["face_check"] == "failed"
        if data["outcome"] == "done":
            f["kiosk.served"] += 1
            f[f"kiosk.served_by_day.{day_of(seen)}"] += 1
            f[f"kiosk.served_by_service.{data['service']}"] += 1
            f[f"kiosk.served_by_category.{s['service'].category}"] += 1
        if "score" in data:
            f["kiosk.exam_passed" if data["score"] >= pass_mark else "kiosk.exam_failed"] += 1
    _count_bookings(plan, f)
    f["kiosk.average_session_s"] = f["kiosk.session_s"] / max(1, f["kiosk.sessions"])
    f["kiosk.tickets_raised"], f["kiosk.sos"] = plan.truth.tickets, plan.truth.sos
    f["kiosk.open_tickets"] = plan.truth.tickets - plan.truth.figures.get("kiosk.tickets_withdrawn", 0.0)
    plan.truth.figures = {**plan.truth.figures, **{k: float(v) for k, v in f.items()}}

def _count_bookings(plan, f: Counter) -> None:
    """The engine's booking rules replayed on the times it sees: capacity, codes' windows, one use."""
    policy = plan.catalogue.policy
    moments = [(plan.at(r.at_s), r.at_s, 0, i) for i, r in enumerate(plan.requests)]
    moments += [(at, own, 1, (kiosk, ref)) for at, kiosk, own, ref in plan._typed]
    per_slot: Counter = Counter()
    booked: dict[int, bool] = {}  # request index → used
    for at, _, what, ref in sorted(moments, key=lambda m: m[:3]):
        if what == 0:
            r = plan.requests[ref]
            service = plan.catalogue.services[r.service]
            if per_slot[(r.service, r.slot)] >= plan.catalogue.capacity(service):
                f["kiosk.book_refused.overbooked"] += 1
                continue
            per_slot[(r.service, r.slot)] += 1
            booked[ref] = False
            f["kiosk.bookings"] += 1
            continue
        _, index = ref
        if isinstance(index, str):
            f["kiosk.code_refused.unknown"] += 1
            continue
        r = plan.requests[index]
        if at >= r.slot + policy.slot_s:
            f["kiosk.code_refused.unknown"] += 1
        elif booked[index]:
            f["kiosk.code_refused.used"] += 1
        elif at < r.slot - policy.early_s:
            f["kiosk.code_refused.too_early"] += 1
        else:
            booked[index] = True
            f["kiosk.codes_taken"] += 1
    f["kiosk.no_shows"] = sum(1 for used in booked.values() if not used)
