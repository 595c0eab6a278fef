"""A simulated device's reply to what the engine told it (a resident's phone answering a visitor call, a door reporting
itself open after ``open_door``), due at its time. The run gives it the device's next seq when it is sent (its later
planned messages follow it, ``simulation.run_base``); one ``cancelled`` before then is not sent (a phone told the
call was answered by another stops ringing)."""

from __future__ import annotations

from dataclasses import dataclass

from protocols import EventKind


@dataclass(slots=True, eq=False)
class Reply:
    at_s: float
    device_id: str
    kind: EventKind
    data: dict
    cancelled: bool = False
