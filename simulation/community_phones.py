"""The community's simulated devices answering what the engine sends them (``protocols/community.py``), by the plan
(``simulation.community_plan``). Pure: the run hands in the device commands taken from the engine at a time and
schedules the :class:`~simulation.device_reply.Reply` items that come back.

- ``visitor_call`` {call, snapshot} to the verified residents' phones of a unit: the plan's visit (by its snapshot)
  says how each phone answers; its ``visitor.answer`` is due ``delay_s`` after the ring (on the grid), in order of the
  draws, after the unverified resident's ``open`` of a unit that tries one (refused by the engine).
- ``visitor_call.answered`` / ``visitor_call.missed``: the phone stops ringing (its answer not yet sent is withdrawn).
- ``open_door`` {by, call | pass}: the door reports ``door.opened`` {open: true, by} at the next grid step and
  ``{open: false}`` ``close_after_s`` later.
- ``visitor_pass.issued`` {request, code}: the resident passes the code on; the plan's visitors type it at their doors
  (``door.code``) at their times.
- ``door.code.refused`` {reason} and ``visitor_call.ended`` are tallied.
- ``notice.board`` (a site's board, ``device_id`` the site): its door screens report ``notice.shown``
  (``simulation.community_notices.DoorScreens``).
"""

from __future__ import annotations

import math
from collections import Counter

from protocols import EventKind
from protocols.community import (CALL_ANSWERED, CALL_ENDED, CALL_MISSED, CODE_REFUSED, OPEN_DOOR, PASS_ISSUED,
                                 VISITOR_CALL)
from protocols.notices import NOTICE_BOARD
from simulation.community_notices import DoorScreens
from simulation.community_plan import CommunityPlan
from simulation.device_reply import Reply


class CommunityDevices:
    def __init__(self, plan: CommunityPlan, *, close_after_s: float = 10.0) -> None:
        self.plan, self.step, self.close_after_s = plan, plan.step, close_after_s
        self.tally: Counter[str] = Counter()
        """What the devices saw and did: rings, answers sent and withdrawn, doors opened, codes typed, refusals."""
        self.screens = DoorScreens(plan.notices, self.tally)
        self._pending: dict[tuple[str, str], Reply] = {}
        """(phone, call) → its answer not yet sent."""
        self._told: set[tuple[str, str]] = set()
        self.codes: dict[tuple[str, str], str] = {}
        """(phone, request) → the code the engine told the phone."""
        """(phone, request) of the passes whose code went out to the visitors."""

    def on_grid(self, t: float) -> float:
        return math.ceil(t / self.step - 1e-9) * self.step

    def commands(self, commands, t: float) -> list[Reply]:
        """What the devices do about the commands the engine sent them by ``t`` (others' are left alone)."""
        out: list[Reply] = []
        rings: dict[str, list] = {}
        for command in commands:
            kind, args, device = command.command, command.args, command.device_id
            if kind == VISITOR_CALL:
                rings.setdefault(args["call"], []).append(command)
            elif kind in (CALL_ANSWERED, CALL_MISSED):
                self.tally["told_answered" if kind == CALL_ANSWERED else "told_missed"] += 1
                pending = self._pending.pop((device, args["call"]), None)
                if pending is not None and pending.at_s > t:
                    pending.cancelled = True
                    self.tally["answers_withdrawn"] += 1
            elif kind == OPEN_DOOR:
                out += self._open(device, args, t)
            elif kind == PASS_ISSUED:
                out += self._pass(device, args, t)
            elif kind == CODE_REFUSED:
                self.tally[f"code_refused.{args['reason']}"] += 1
            elif kind == CALL_ENDED:
                self.tally[f"panel_told.{args['outcome']}"] += 1
            elif kind == NOTICE_BOARD:
                out += self.screens.board(getattr(command, "site", "") or device, args["board"], t)
        for call, commands_ in rings.items():
            out += self._ring(call, commands_, t)
        return out

    def _ring(self, call: str, commands, t: float) -> list[Reply]:
        visit = self.plan.visits.get(commands[0].args.get("snapshot", ""))
        rung = {c.device_id for c in commands}
        self.tally["rings"] += len(rung)
        if visit is None:
            self.tally["rings_unplanned"] += 1
            return []
        out = []
        if visit.unverified:  # it learnt of the call beside a verified resident's phone, and tries first
            out.append(Reply(self.on_grid(t + 1.0), visit.unverified, EventKind.VISITOR_ANSWER,
                             {"call": call, "answer": "open"}))
            self.tally["answers_unverified"] += 1
        for d in sorted(visit.decisions, key=lambda d: d.delay_s):
            if d.phone not in rung:
                self.tally["verified_not_rung"] += 1
                continue
            if d.answer is None:
                continue
            reply = Reply(self.on_grid(t + d.delay_s), d.phone, EventKind.VISITOR_ANSWER,
                          {"call": call, "answer": d.answer})
            self._pending[(d.phone, call)] = reply
            self.tally["answers_planned"] += 1
            out.append(reply)
        self.tally["not_rung"] += len(rung - {d.phone for d in visit.decisions})
        return out

    def _open(self, door: str, args: dict, t: float) -> list[Reply]:
        self.tally["doors_opened"] += 1
        self.tally["opened_by_pass" if "pass" in args else "opened_by_call"] += 1
        opened_s = self.on_grid(t + 1.0)
        return [Reply(opened_s, door, EventKind.DOOR_OPENED, {"open": True, "by": str(args.get("by", ""))[:128]}),
                Reply(self.on_grid(opened_s + self.close_after_s), door, EventKind.DOOR_OPENED, {"open": False})]

    def _pass(self, phone: str, args: dict, t: float) -> list[Reply]:
        plan = self.plan.passes.get((phone, args["request"]))
        self.tally["passes_issued"] += 1
        self.codes[(phone, args["request"])] = args["code"]
        if plan is None or (phone, plan.request) in self._told:
            return []
        self._told.add((phone, plan.request))
        out = []
        for visit in plan.visits:
            if visit.at_s <= t:
                self.tally["codes_too_late_to_type"] += 1
                continue
            out.append(Reply(visit.at_s, visit.door, EventKind.DOOR_CODE, {"code": args["code"]}))
            self.tally["codes_typed"] += 1
        return out
