"""Records that are journaled, cross between hosts and reach consoles: incidents, timelines, commands.

They are plain data (frozen msgspec Structs); the rules that change them live in ``engine/``.
"""

from __future__ import annotations

from enum import StrEnum

from msgspec import Struct

from protocols.kinds import IncidentKind, IncidentState, Level, TimelineEvent


class TimelineEntry(Struct, frozen=True, array_like=True):
    """One step in an incident's life: when, what, at which level, to or by whom."""

    t_s: float
    event: TimelineEvent
    level: Level | None = None
    target: str = ""
    actor: str = ""
    note: str = ""


class TipVerdict(StrEnum):
    """How the station ended a tip's review."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"
    PROMOTED = "promoted"
    """Accepted and made a dispatchable incident (priority raised; units may be offered)."""


class Tip(Struct, frozen=True):
    """What a volunteer's tip (``patrol.clue``) says, and the station's verdict on it once reviewed (``verdict``
    None: still under review). The place is the incident's ``lat``/``lon``; ``photo`` is a reference to the photo
    uploaded beside it, never the photo."""

    category: str = ""
    text: str = ""
    photo: str = ""
    reporter: str = ""
    """The volunteer whose phone sent it (their id; empty when the phone has no volunteer)."""
    verdict: TipVerdict | None = None
    reason: str = ""


class IncidentRecord(Struct, frozen=True):
    """The whole state of one incident. ``version`` grows by one per change, so a reader can drop stale copies.

    ``notified`` lists every responder entity ever notified; ``holders`` those of the current escalation
    step (the ones a reminder goes to). ``deadline_s`` is the one pending deadline of an unacknowledged
    incident (escalation or reminder), None once acknowledged.
    """

    id: str
    kind: IncidentKind
    device_id: str
    site_id: str
    precinct_id: str
    host_id: str
    priority: int
    state: IncidentState
    raised_s: float
    level: Level
    step: int = 0
    deadline_s: float | None = None
    repeats: int = 0
    seq: int = 0
    silent: bool = False
    acked_by: str = ""
    acked_level: Level | None = None
    unit: str = ""
    disposition: str = ""
    lat: float = 0.0
    lon: float = 0.0
    version: int = 1
    notified: tuple[str, ...] = ()
    holders: tuple[str, ...] = ()
    timeline: tuple[TimelineEntry, ...] = ()
    tip: Tip | None = None
    """``patrol.clue`` only: the tip and its review."""

    @property
    def is_active(self) -> bool:
        return self.state.is_active

    @property
    def is_open(self) -> bool:
        return not self.state.is_terminal


class Action(StrEnum):
    """What an operator (or a scenario's responder) can do to an incident."""

    ACKNOWLEDGE = "acknowledge"
    DISPATCH = "dispatch"
    ON_SCENE = "on_scene"
    RESOLVE = "resolve"
    CLOSE = "close"
    CANCEL = "cancel"
    FALSE_ALARM = "false_alarm"
    HAND_BACK = "hand_back"
    """The command center gives an incident it holds back to a lower level that was notified (``to_level``),
    with a reason (``note``): that level may then end it."""
    ACCEPT = "accept"
    """A tip under review: accepted (``note``: optional); it ends, and its volunteer earns the rule's points."""
    REJECT = "reject"
    """A tip under review: rejected, with the reason in ``note``; it ends."""
    PROMOTE = "promote"
    """A tip under review: accepted and made a dispatchable incident of ``priority`` 1–3 (default 2); a P1 is offered
    to the nearest available unit at once."""


TIP_ACTIONS: frozenset[Action] = frozenset({Action.ACCEPT, Action.REJECT, Action.PROMOTE})
"""The review of a tip (``patrol.clue`` under review only: any other incident refuses them)."""


ENDING_ACTIONS: frozenset[Action] = frozenset({Action.CLOSE, Action.CANCEL, Action.FALSE_ALARM, Action.ACCEPT,
                                              Action.REJECT})
"""The actions that end an incident: once it is held at a level, a lower one may not take them."""

ACTIONS_BY_STATE: dict[IncidentState, tuple[Action, ...]] = {
    IncidentState.RAISED: (Action.ACKNOWLEDGE, Action.CANCEL, Action.FALSE_ALARM, Action.HAND_BACK, Action.ACCEPT,
                           Action.REJECT, Action.PROMOTE),
    IncidentState.ACKNOWLEDGED: (Action.DISPATCH, Action.RESOLVE, Action.CANCEL, Action.FALSE_ALARM,
                                 Action.HAND_BACK, Action.ACCEPT, Action.REJECT, Action.PROMOTE),
    IncidentState.DISPATCHED: (Action.ON_SCENE, Action.RESOLVE, Action.CANCEL, Action.FALSE_ALARM, Action.HAND_BACK),
    IncidentState.ON_SCENE: (Action.RESOLVE, Action.CANCEL, Action.FALSE_ALARM, Action.HAND_BACK),
    IncidentState.RESOLVED: (Action.CLOSE,),
    IncidentState.CLOSED: (),
    IncidentState.CANCELLED: (),
    IncidentState.FALSE_ALARM: (),
}
"""What the lifecycle (``engine/incident.py``) allows in each state, whoever asks; consoles enable their buttons from
it (the engine's answer still decides: authority and jurisdiction narrow it per incident and operator). The
:data:`TIP_ACTIONS` apply to a tip under review only."""


ACTION_LABELS: dict[Action, str] = {
    Action.ACKNOWLEDGE: "Acknowledge",
    Action.DISPATCH: "Dispatch",
    Action.ON_SCENE: "On scene",
    Action.RESOLVE: "Resolve",
    Action.CLOSE: "Close",
    Action.CANCEL: "Cancel",
    Action.FALSE_ALARM: "False alarm",
    Action.HAND_BACK: "Hand back",
    Action.ACCEPT: "Accept tip",
    Action.REJECT: "Reject tip",
    Action.PROMOTE: "Promote tip",
}


class OperatorCommand(Struct, frozen=True):
    """A responder acting on an incident, from the level and entity (``target``) it acts for."""

    action: Action
    incident_id: str
    operator: str
    level: Level
    target: str
    unit: str = ""
    disposition: str = ""
    note: str = ""
    to_level: Level | None = None
    """``hand_back`` only: the lower level the incident goes back to."""
    priority: int | None = None
    """``promote`` only: the priority the tip becomes (1–3; None: 2)."""


class DeliveryNote(Struct, frozen=True):
    """What the console gateway saw of a notification: a console of ``target`` showed the incident
    (``delivered``), an operator there opened it (``seen``), or no console of ``target`` confirmed it in time
    (``not_delivered``, which the policy may escalate at once). Journaled as a timeline line, once per target."""

    incident_id: str
    target: str
    event: TimelineEvent
    operator: str = ""
    note: str = ""


class IncidentUpdate(Struct, frozen=True, tag="update"):
    """A changed incident, sent by its owner host to the hosts that hold a copy (the command center's)."""

    incident: IncidentRecord


HostMessage = IncidentUpdate
