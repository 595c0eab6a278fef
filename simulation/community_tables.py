"""The ``[community]`` table of a scenario (``simulation.community_plan``) and what the plan is made of: each visit
with how the unit's residents will answer, each visitor pass with the visits made with its code.

    [community]
    visits = 6000                 # visitors pressing a unit's number at a door panel
    period_s = 10800              # the evening
    peak_at = 0.6                 # where in it visitors come most
    seed = 1
    deliver_every_s = 10          # messages reach the engine on this grid
    door_gap_s = 150              # one visitor at a door at a time
    [community.answers]           # each verified resident: open, deny, or let it ring
    open_p = 0.6
    deny_p = 0.15
    delay_s = [3, 45]
    unverified_tries = 5          # units whose unverified resident tries to open (and to issue a pass)
    [community.passes]
    issued = 300                  # of which typed too late, twice with one use, at another door, too early:
    expired = 20
    used_up = 20
    wrong_door = 20
    not_yet = 10
    unknown = 20                  # codes nobody issued
    by_desk = 10                  # of those opened, issued by the property desk (IssueVisitorPass)
    [community.doors]
    held_open = 6                 # held open past the policy (held_open_s), and briefly (held_short, no incident)
    forced = 4
    [community.throws]
    episodes = 12                 # 1..n reports of one camera and facade, within gap_s of each other
    repeats = [1, 4]
    gap_s = [60, 300]
    again = 2                     # the same camera and facade again after 10 min: a new incident
    other_facade = 2              # the same camera on another facade at once
    [community.notices]           # the operator's notices to door screens (simulation.community_notices)
    whole = 3                     # to every door of a community, in force to the end
    buildings = 2                 # to chosen buildings (targets of them), units = 2: to chosen units
    scheduled = 1                 # starting later in the evening; expiring = 1: ending within it
    withdrawn = 1                 # withdrawn with a reason
    unknown_building = 1          # refused: a building the community does not have; window_past = 1: ends before now
    strays = 1                    # a door screen outside a notice's targets reports it anyway (receipt refused)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from msgspec import Meta, Struct

Share = Annotated[float, Meta(ge=0, le=1)]
Count = Annotated[int, Meta(ge=0, le=100_000)]
Secs = Annotated[float, Meta(ge=0)]


class AnswersTable(Struct, forbid_unknown_fields=True, frozen=True):
    open_p: Share = 0.6
    deny_p: Share = 0.15
    delay_s: tuple[Secs, Secs] = (3.0, 45.0)
    unverified_tries: Count = 5


class PassesTable(Struct, forbid_unknown_fields=True, frozen=True):
    issued: Count = 300
    expired: Count = 20
    used_up: Count = 20
    wrong_door: Count = 20
    not_yet: Count = 10
    unknown: Count = 20
    by_desk: Count = 0
    """Of the passes opened in their window, how many the property desk issues on the resident's behalf (the desk
    request ``IssueVisitorPass``) instead of the resident's phone."""


class DoorsTable(Struct, forbid_unknown_fields=True, frozen=True):
    held_open: Count = 6
    held_open_s: Secs = 200.0
    held_short: Count = 4
    """Doors held open briefly (``held_short_s``, under the policy): no incident."""
    held_short_s: Secs = 60.0
    forced: Count = 4


class ThrowsTable(Struct, forbid_unknown_fields=True, frozen=True):
    episodes: Count = 12
    repeats: tuple[Annotated[int, Meta(ge=1, le=20)], Annotated[int, Meta(ge=1, le=20)]] = (1, 4)
    gap_s: tuple[Secs, Secs] = (60.0, 300.0)
    again: Count = 2
    other_facade: Count = 2


class NoticesTable(Struct, forbid_unknown_fields=True, frozen=True):
    whole: Count = 0
    buildings: Count = 0
    units: Count = 0
    scheduled: Count = 0
    expiring: Count = 0
    withdrawn: Count = 0
    unknown_building: Count = 0
    window_past: Count = 0
    targets: Annotated[int, Meta(ge=1, le=50)] = 3
    """Buildings (or units) a notice to chosen buildings (units) names."""
    strays: Count = 0
    """Notices to chosen buildings or units that a door screen outside their targets reports anyway (a faulty
    screen): the engine refuses the receipt (``data.notice: ... is not for building``)."""


class CommunityTable(Struct, forbid_unknown_fields=True):
    visits: Annotated[int, Meta(ge=0, le=1_000_000)]
    period_s: Annotated[float, Meta(gt=0)]
    start_s: Secs = 0.0
    peak_at: Share = 0.6
    """Where in the period visitors come most (arrivals drawn from a triangle peaking there)."""
    seed: int = 1
    deliver_every_s: Annotated[float, Meta(gt=0, le=10)] = 10.0
    door_gap_s: Annotated[float, Meta(ge=0)] = 150.0
    answers: AnswersTable = AnswersTable()
    passes: PassesTable = PassesTable()
    doors: DoorsTable = DoorsTable()
    throws: ThrowsTable = ThrowsTable()
    notices: NoticesTable = NoticesTable()


@dataclass(slots=True)
class Decision:
    phone: str
    delay_s: float
    answer: str | None
    """open, deny, or None: lets it ring."""


@dataclass(slots=True)
class Visit:
    door: str
    unit: str
    at_s: float
    decisions: list[Decision]
    unverified: str = ""
    """An unverified resident's phone that tries to open first."""


@dataclass(slots=True)
class PassVisit:
    at_s: float
    door: str
    outcome: str


@dataclass(slots=True)
class PassPlan:
    phone: str
    request: str
    visits: list[PassVisit] = field(default_factory=list)
    desk: dict | None = None
    """Issued by the property desk: the ``IssueVisitorPass`` fields, asked at ``desk_at_s``."""
    desk_at_s: float = 0.0
