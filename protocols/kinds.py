"""Every enum that reaches the wire, the journal or a console, defined once.

The engine and the console import these; nobody keeps a copy in sync by hand.
"""

from __future__ import annotations

from enum import StrEnum


class EventKind(StrEnum):
    """What a device message (or an engine-synthesised event) is about."""

    SCHOOL_PANIC = "school.panic"
    SCHOOL_DURESS = "school.duress"
    DOOR_VISITOR = "door.visitor"
    DOOR_FORCED = "door.forced"
    DOOR_HELD_OPEN = "door.held_open"
    DOOR_OPENED = "door.opened"
    CAMERA_THROW = "camera.throw"
    CAMERA_INTRUSION = "camera.intrusion"
    KIOSK_SESSION = "kiosk.session"
    KIOSK_FAULT = "kiosk.fault"
    KIOSK_SOS = "kiosk.sos"
    KIOSK_SUPPLIES = "kiosk.supplies"
    """A kiosk's consumables (paper, card stock) in percent: low ones open a maintenance ticket."""
    KIOSK_CODE = "kiosk.code"
    """A booking code typed at a kiosk (answered by the command ``kiosk.code.ok`` or ``kiosk.code.refused``)."""
    KIOSK_BOOK = "kiosk.book"
    """A phone books a kiosk hall's slot for a service (answered by ``kiosk.booked`` or ``kiosk.book.refused``)."""
    PATROL_START = "patrol.start"
    PATROL_POSITION = "patrol.position"
    PATROL_STOP = "patrol.stop"
    PATROL_CLUE = "patrol.clue"
    PATROL_SOS = "patrol.sos"
    PATROL_TASK = "patrol.task"
    """A volunteer's answer to a task offered to the phone: accept, decline, check in, arrived, done."""
    POINTS_REDEEM = "points.redeem"
    """A volunteer spends points in the shop of the phone's host (answered by the command ``points.redeemed``)."""
    POINTS_QUERY = "points.query"
    """A volunteer asks for a month's statement (answered by the command ``points.statement``)."""
    VISITOR_ANSWER = "visitor.answer"
    """A resident's answer to a visitor call rung on the phone: open or deny (the first answer wins)."""
    VISITOR_PASS = "visitor.pass"
    """A resident issues a time-limited door code for a visitor (answered by the command ``visitor_pass.issued``)."""
    DOOR_CODE = "door.code"
    """A code typed at a door panel: the door opens, or the panel is told ``door.code.refused`` with the reason."""
    NOTICE_SHOWN = "notice.shown"
    """A door screen shows a notice of its site's board (``protocols/notices.py``): the notice's delivery receipt."""
    HEARTBEAT = "heartbeat"

    @property
    def is_alarm(self) -> bool:
        """Alarm kinds travel the alarm topic and lane; everything else is an event."""
        return self in ALARM_KINDS

    @property
    def is_urgent(self) -> bool:
        """A person waits at a door for it (``URGENT_KINDS``): it may travel the alarm topic and lane, ahead of the
        telemetry, and is still accepted on the event topic (devices built before the fast path)."""
        return self in URGENT_KINDS

    @property
    def must_be_taken(self) -> bool:
        """Alarms and reports (a tip, a kiosk fault): each opens an incident, so a bridge keeps one the engine could
        not take and tries again; telemetry that was not taken is simply superseded by the next."""
        return self in ALARM_KINDS or self in REPORT_KINDS


REPORT_KINDS: frozenset[EventKind] = frozenset({EventKind.KIOSK_FAULT, EventKind.PATROL_CLUE, EventKind.PATROL_TASK,
                                               EventKind.POINTS_REDEEM, EventKind.VISITOR_ANSWER,
                                               EventKind.VISITOR_PASS, EventKind.DOOR_CODE,
                                               EventKind.NOTICE_SHOWN})
URGENT_KINDS: frozenset[EventKind] = frozenset({EventKind.DOOR_VISITOR, EventKind.VISITOR_ANSWER, EventKind.DOOR_CODE})
"""Not alarms, but someone stands at a door waiting: the visitor's ring, the resident's answer, a typed code."""
ALARM_KINDS: frozenset[EventKind] = frozenset(
    {
        EventKind.SCHOOL_PANIC,
        EventKind.SCHOOL_DURESS,
        EventKind.DOOR_FORCED,
        EventKind.DOOR_HELD_OPEN,
        EventKind.CAMERA_THROW,
        EventKind.CAMERA_INTRUSION,
        EventKind.KIOSK_SOS,
        EventKind.PATROL_SOS,
    }
)


class IncidentKind(StrEnum):
    """Kinds an incident can have: the alarm kinds, the event kinds that open tickets, and engine faults."""

    SCHOOL_PANIC = "school.panic"
    SCHOOL_DURESS = "school.duress"
    DOOR_FORCED = "door.forced"
    DOOR_HELD_OPEN = "door.held_open"
    CAMERA_THROW = "camera.throw"
    CAMERA_INTRUSION = "camera.intrusion"
    KIOSK_SOS = "kiosk.sos"
    PATROL_SOS = "patrol.sos"
    KIOSK_FAULT = "kiosk.fault"
    PATROL_CLUE = "patrol.clue"
    DEVICE_OFFLINE = "device.offline"
    SITE_OFFLINE = "site.offline"
    """Every supervised device of a site offline at once (a power cut, a lost uplink): one incident for the site."""


class DeviceKind(StrEnum):
    DOOR = "door"
    CAMERA = "camera"
    PANIC_BOX = "panic_box"
    KIOSK = "kiosk"
    VOLUNTEER_PHONE = "volunteer_phone"
    RESIDENT_PHONE = "resident_phone"
    POLICE_CAR_TERMINAL = "police_car_terminal"
    """The terminal of one of the precinct's patrol cars: a dispatchable unit (``UnitKind.POLICE_CAR``)."""
    OFFICER_RADIO = "officer_radio"
    """A foot officer's radio or phone: a dispatchable unit (``UnitKind.FOOT_OFFICER``)."""


#: The alarm each kind of device raises when its button is pressed or its sensor trips (the simulator, the demo,
#: the benchmarks and the tests all take it from here).
ALARM_KIND_OF: dict[DeviceKind, EventKind] = {
    DeviceKind.PANIC_BOX: EventKind.SCHOOL_PANIC,
    DeviceKind.DOOR: EventKind.DOOR_FORCED,
    DeviceKind.CAMERA: EventKind.CAMERA_INTRUSION,
    DeviceKind.KIOSK: EventKind.KIOSK_SOS,
    DeviceKind.VOLUNTEER_PHONE: EventKind.PATROL_SOS,
    DeviceKind.POLICE_CAR_TERMINAL: EventKind.PATROL_SOS,
    DeviceKind.OFFICER_RADIO: EventKind.PATROL_SOS,
}


class SiteKind(StrEnum):
    COMMUNITY = "community"
    SCHOOL = "school"
    KIOSK_HALL = "kiosk_hall"


class Level(StrEnum):
    """A rung of the escalation chain (or the maintenance queue beside it)."""

    GUARD_ROOM = "guard_room"
    POLICE_STATION = "police_station"
    COMMAND_CENTER = "command_center"
    MAINTENANCE = "maintenance"

    @property
    def rank(self) -> int:
        return _LEVEL_RANK[self]


_LEVEL_RANK = {Level.MAINTENANCE: 0, Level.GUARD_ROOM: 1, Level.POLICE_STATION: 2, Level.COMMAND_CENTER: 3}


class IncidentState(StrEnum):
    RAISED = "raised"
    ACKNOWLEDGED = "acknowledged"
    DISPATCHED = "dispatched"
    ON_SCENE = "on_scene"
    RESOLVED = "resolved"
    CLOSED = "closed"
    CANCELLED = "cancelled"
    FALSE_ALARM = "false_alarm"

    @property
    def is_terminal(self) -> bool:
        return self in (IncidentState.CLOSED, IncidentState.CANCELLED, IncidentState.FALSE_ALARM)

    @property
    def is_active(self) -> bool:
        """Active incidents absorb repeats of the same device + kind; a resolved one re-arms the device."""
        return self in (
            IncidentState.RAISED,
            IncidentState.ACKNOWLEDGED,
            IncidentState.DISPATCHED,
            IncidentState.ON_SCENE,
        )


class TimelineEvent(StrEnum):
    """One line of an incident's timeline."""

    RAISED = "raised"
    NOTIFIED = "notified"
    ESCALATED = "escalated"
    ACKNOWLEDGED = "acknowledged"
    DISPATCHED = "dispatched"
    ON_SCENE = "on_scene"
    RESOLVED = "resolved"
    CLOSED = "closed"
    CANCELLED = "cancelled"
    FALSE_ALARM = "false_alarm"
    REMINDER = "reminder"
    HANDED_BACK = "handed_back"
    DELIVERED = "delivered"
    SEEN = "seen"
    NOT_DELIVERED = "not_delivered"
    TIP_ACCEPTED = "tip_accepted"
    TIP_REJECTED = "tip_rejected"
    TIP_PROMOTED = "tip_promoted"


class AckStatus(StrEnum):
    """The engine's answer to one device message."""

    ACK = "ack"
    DUPLICATE = "duplicate"
    NAK = "nak"


# -- human labels: what a console or a report shows for each value (one place; the console gets them in
# ``welcome``). ``tests/protocols/test_kinds.py`` checks that every member of every enum has one.

#: The escalation chain, lowest rung first (the maintenance queue stands beside it, not in it).
ESCALATION_CHAIN: tuple[Level, ...] = (Level.GUARD_ROOM, Level.POLICE_STATION, Level.COMMAND_CENTER)

LEVEL_LABELS: dict[Level, str] = {
    Level.GUARD_ROOM: "Guard room",
    Level.POLICE_STATION: "Police station",
    Level.COMMAND_CENTER: "Command center",
    Level.MAINTENANCE: "Maintenance",
}

INCIDENT_STATE_LABELS: dict[IncidentState, str] = {
    IncidentState.RAISED: "Raised",
    IncidentState.ACKNOWLEDGED: "Acknowledged",
    IncidentState.DISPATCHED: "Dispatched",
    IncidentState.ON_SCENE: "On scene",
    IncidentState.RESOLVED: "Resolved",
    IncidentState.CLOSED: "Closed",
    IncidentState.CANCELLED: "Cancelled",
    IncidentState.FALSE_ALARM: "False alarm",
}

EVENT_KIND_LABELS: dict[EventKind, str] = {
    EventKind.SCHOOL_PANIC: "School panic",
    EventKind.SCHOOL_DURESS: "School duress",
    EventKind.DOOR_VISITOR: "Door visitor",
    EventKind.DOOR_FORCED: "Door forced",
    EventKind.DOOR_HELD_OPEN: "Door held open",
    EventKind.DOOR_OPENED: "Door opened",
    EventKind.CAMERA_THROW: "Camera: object thrown",
    EventKind.CAMERA_INTRUSION: "Camera: intrusion",
    EventKind.KIOSK_SESSION: "Kiosk session",
    EventKind.KIOSK_FAULT: "Kiosk fault",
    EventKind.KIOSK_SOS: "Kiosk SOS",
    EventKind.KIOSK_SUPPLIES: "Kiosk supplies",
    EventKind.KIOSK_CODE: "Booking code typed",
    EventKind.KIOSK_BOOK: "Kiosk booking",
    EventKind.PATROL_START: "Patrol start",
    EventKind.PATROL_POSITION: "Patrol position",
    EventKind.PATROL_STOP: "Patrol stop",
    EventKind.PATROL_CLUE: "Patrol clue",
    EventKind.PATROL_SOS: "Patrol SOS",
    EventKind.PATROL_TASK: "Task answer",
    EventKind.POINTS_REDEEM: "Points redemption",
    EventKind.POINTS_QUERY: "Points statement asked",
    EventKind.VISITOR_ANSWER: "Visitor call answer",
    EventKind.VISITOR_PASS: "Visitor pass issued",
    EventKind.DOOR_CODE: "Door code typed",
    EventKind.NOTICE_SHOWN: "Notice shown",
    EventKind.HEARTBEAT: "Heartbeat",
}

_ENGINE_KIND_LABELS: dict[IncidentKind, str] = {IncidentKind.DEVICE_OFFLINE: "Device offline",
                                                IncidentKind.SITE_OFFLINE: "Site offline"}

#: An incident kind that is also an event kind reads the same; ``device.offline`` and ``site.offline`` are the
#: engine's own.
INCIDENT_KIND_LABELS: dict[IncidentKind, str] = {
    **{kind: EVENT_KIND_LABELS[EventKind(kind.value)] for kind in IncidentKind if kind not in _ENGINE_KIND_LABELS},
    **_ENGINE_KIND_LABELS,
}

DEVICE_KIND_LABELS: dict[DeviceKind, str] = {
    DeviceKind.DOOR: "Door",
    DeviceKind.CAMERA: "Camera",
    DeviceKind.PANIC_BOX: "Panic box",
    DeviceKind.KIOSK: "Kiosk",
    DeviceKind.VOLUNTEER_PHONE: "Volunteer phone",
    DeviceKind.RESIDENT_PHONE: "Resident phone",
    DeviceKind.POLICE_CAR_TERMINAL: "Police car terminal",
    DeviceKind.OFFICER_RADIO: "Foot officer's radio",
}

SITE_KIND_LABELS: dict[SiteKind, str] = {
    SiteKind.COMMUNITY: "Community",
    SiteKind.SCHOOL: "School",
    SiteKind.KIOSK_HALL: "Kiosk hall",
}

TIMELINE_EVENT_LABELS: dict[TimelineEvent, str] = {
    TimelineEvent.RAISED: "Raised",
    TimelineEvent.NOTIFIED: "Notified",
    TimelineEvent.ESCALATED: "Escalated",
    TimelineEvent.ACKNOWLEDGED: "Acknowledged",
    TimelineEvent.DISPATCHED: "Dispatched",
    TimelineEvent.ON_SCENE: "On scene",
    TimelineEvent.RESOLVED: "Resolved",
    TimelineEvent.CLOSED: "Closed",
    TimelineEvent.CANCELLED: "Cancelled",
    TimelineEvent.FALSE_ALARM: "False alarm",
    TimelineEvent.REMINDER: "Reminder",
    TimelineEvent.HANDED_BACK: "Handed back",
    TimelineEvent.DELIVERED: "Shown on a console",
    TimelineEvent.SEEN: "Opened by an operator",
    TimelineEvent.NOT_DELIVERED: "Not delivered",
    TimelineEvent.TIP_ACCEPTED: "Tip accepted",
    TimelineEvent.TIP_REJECTED: "Tip rejected",
    TimelineEvent.TIP_PROMOTED: "Tip promoted",
}
