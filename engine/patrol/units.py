"""Where a host's dispatchable units are and what they are doing, in flat numpy arrays the nearest-unit kernel
scans (``engine.patrol.nearest``): position, time of the fix, kind, state and precinct per unit.

Rows are dense: removing a unit moves the last row into its place, so a row index is only good until the next
``add`` or ``remove``; ids are the stable names. The arrays grow by doubling. Time comes in as arguments.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from engine.errors import RedbandError
from protocols.patrol import UNIT_TRANSITIONS, UnitKind, UnitState

KINDS: tuple[UnitKind, ...] = tuple(UnitKind)
STATES: tuple[UnitState, ...] = tuple(UnitState)
KIND_CODE: dict[UnitKind, int] = {kind: code for code, kind in enumerate(KINDS)}
STATE_CODE: dict[UnitState, int] = {state: code for code, state in enumerate(STATES)}
AVAILABLE_CODE = STATE_CODE[UnitState.AVAILABLE]
NO_PRECINCT = -1
NO_FIX_S = -math.inf
"""The fix time of a unit that never reported a position: older than any limit."""


class UnknownUnit(RedbandError):
    def __init__(self, unit_id: str) -> None:
        self.unit_id = unit_id
        super().__init__(f"unknown unit {unit_id!r}")

    def __reduce__(self):
        return type(self), (self.unit_id,)


class InvalidUnitTransition(RedbandError):
    """A unit asked to move to a state its current state does not lead to (``protocols.patrol.UNIT_TRANSITIONS``)."""

    def __init__(self, unit_id: str, state: str, to: str) -> None:
        self.unit_id, self.state, self.to = unit_id, state, to
        allowed = ", ".join(sorted(UNIT_TRANSITIONS.get(UnitState(state), ()))) if state in STATE_CODE else ""
        super().__init__(f"unit {unit_id}: cannot go from {state} to {to} (from {state}: {allowed or 'nothing'})")

    def __reduce__(self):
        return type(self), (self.unit_id, self.state, self.to)


class UnitArrays(NamedTuple):
    """The live rows (views, not copies) as the kernel takes them."""

    lat: np.ndarray
    lon: np.ndarray
    fix_s: np.ndarray
    kind: np.ndarray
    state: np.ndarray
    precinct: np.ndarray


@dataclass(frozen=True, slots=True)
class UnitInfo:
    """One unit as a console or a log line shows it."""

    unit_id: str
    kind: UnitKind
    state: UnitState
    precinct: str | None
    lat: float | None
    lon: float | None
    fix_s: float | None


class UnitTracker:
    """The units of one host: add, move (only to a newer fix), change state (only along the allowed transitions),
    remove; ``arrays()`` for the kernel."""

    def __init__(self, *, capacity: int = 1024) -> None:
        capacity = max(1, int(capacity))
        self._lat = np.zeros(capacity, np.float64)
        self._lon = np.zeros(capacity, np.float64)
        self._fix_s = np.full(capacity, NO_FIX_S, np.float64)
        self._kind = np.zeros(capacity, np.int8)
        self._state = np.zeros(capacity, np.int8)
        self._precinct = np.full(capacity, NO_PRECINCT, np.int32)
        self._ids: list[str] = []
        self._row: dict[str, int] = {}
        self._precincts: list[str] = []
        self._precinct_code: dict[str, int] = {}
        self._leaving: set[str] = set()

    # -- membership --

    def add(self, unit_id: str, *, kind: UnitKind, precinct: str | None = None,
            state: UnitState = UnitState.OFF_DUTY) -> None:
        """A new unit, with no position yet (it is never recommended before its first fix)."""
        if unit_id in self._row:
            raise ValueError(f"unit {unit_id!r} is already tracked")
        kind, state = UnitKind(kind), UnitState(state)
        n = len(self._ids)
        if n == len(self._lat):
            self._grow(2 * n)
        self._lat[n] = self._lon[n] = 0.0
        self._fix_s[n] = NO_FIX_S
        self._kind[n] = KIND_CODE[kind]
        self._state[n] = STATE_CODE[state]
        self._precinct[n] = self.precinct_code(precinct) if precinct is not None else NO_PRECINCT
        self._ids.append(unit_id)
        self._row[unit_id] = n

    def remove(self, unit_id: str) -> None:
        """Forget a unit; the last row takes its place."""
        row = self._row_of(unit_id)
        last = len(self._ids) - 1
        if row != last:
            for column in (self._lat, self._lon, self._fix_s, self._kind, self._state, self._precinct):
                column[row] = column[last]
            moved = self._ids[last]
            self._ids[row] = moved
            self._row[moved] = row
        self._ids.pop()
        del self._row[unit_id]
        self._leaving.discard(unit_id)

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, unit_id: object) -> bool:
        return unit_id in self._row

    def count_by_state(self) -> dict[str, int]:
        """How many units are in each state (states with none left out)."""
        codes, counts = np.unique(self._state[:len(self._ids)], return_counts=True)
        return {STATES[int(code)].value: int(n) for code, n in zip(codes, counts)}

    @property
    def capacity(self) -> int:
        return len(self._lat)

    def ids(self) -> list[str]:
        """Unit ids in row order (``ids()[i]`` is row ``i``)."""
        return list(self._ids)

    def unit_id(self, row: int) -> str:
        return self._ids[row]

    def row_of(self, unit_id: str) -> int:
        return self._row_of(unit_id)

    # -- position and state --

    def update_position(self, unit_id: str, lat: float, lon: float, fix_s: float) -> bool:
        """Take a fix if it is newer than the one held; False (nothing changed) for an older or equal one, which
        arrived late."""
        row = self._row_of(unit_id)
        if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0 and math.isfinite(fix_s)):
            raise ValueError(f"unit {unit_id}: not a position: lat={lat!r} lon={lon!r} fix_s={fix_s!r}")
        if fix_s <= self._fix_s[row]:
            return False
        self._lat[row], self._lon[row], self._fix_s[row] = lat, lon, fix_s
        return True

    def set_state(self, unit_id: str, state: UnitState) -> UnitState:
        """Move a unit to ``state``; returns the state it left. Raises InvalidUnitTransition off the allowed paths."""
        row = self._row_of(unit_id)
        state = UnitState(state)
        current = STATES[self._state[row]]
        if state not in UNIT_TRANSITIONS[current]:
            raise InvalidUnitTransition(unit_id, current, state)
        self._state[row] = STATE_CODE[state]
        if state is UnitState.OFF_DUTY:
            self._leaving.discard(unit_id)
        return current

    def restore(self, unit_id: str, state: UnitState, *, leaving: bool = False) -> None:
        """Put a unit back in the state a journal kept (a restart): no transition is checked."""
        self._state[self._row_of(unit_id)] = STATE_CODE[UnitState(state)]
        self.set_leaving(unit_id, leaving)

    def set_leaving(self, unit_id: str, leaving: bool) -> None:
        """Whether the unit's patrol or shift ended while it was offered a task or on one: the task that releases it
        sends it off duty, not back to ``available`` (``engine.patrol.offers.apply_unit_states``)."""
        self._row_of(unit_id)
        if leaving:
            self._leaving.add(unit_id)
        else:
            self._leaving.discard(unit_id)

    def is_leaving(self, unit_id: str) -> bool:
        return unit_id in self._leaving

    def set_precinct(self, unit_id: str, precinct: str | None) -> None:
        self._precinct[self._row_of(unit_id)] = NO_PRECINCT if precinct is None else self.precinct_code(precinct)

    def state_of(self, unit_id: str) -> UnitState:
        return STATES[self._state[self._row_of(unit_id)]]

    def is_available(self, unit_id: str) -> bool:
        """Available for an offer (False for a unit this tracker does not hold)."""
        row = self._row.get(unit_id)
        return row is not None and self._state[row] == AVAILABLE_CODE

    def info(self, unit_id: str) -> UnitInfo:
        row = self._row_of(unit_id)
        fixed = self._fix_s[row] != NO_FIX_S
        code = int(self._precinct[row])
        return UnitInfo(unit_id, KINDS[self._kind[row]], STATES[self._state[row]],
                        None if code == NO_PRECINCT else self._precincts[code],
                        float(self._lat[row]) if fixed else None, float(self._lon[row]) if fixed else None,
                        float(self._fix_s[row]) if fixed else None)

    # -- for the kernel --

    def arrays(self) -> UnitArrays:
        n = len(self._ids)
        return UnitArrays(self._lat[:n], self._lon[:n], self._fix_s[:n], self._kind[:n], self._state[:n],
                          self._precinct[:n])

    def precinct_code(self, precinct: str) -> int:
        """The small integer a precinct id is stored as (assigned on first use)."""
        code = self._precinct_code.get(precinct)
        if code is None:
            code = self._precinct_code[precinct] = len(self._precincts)
            self._precincts.append(precinct)
        return code

    def known_precinct_code(self, precinct: str) -> int | None:
        """The code of a precinct some unit was ever given, None otherwise (then no unit is in it)."""
        return self._precinct_code.get(precinct)

    def precinct_name(self, code: int) -> str | None:
        return None if code == NO_PRECINCT else self._precincts[code]

    def _row_of(self, unit_id: str) -> int:
        try:
            return self._row[unit_id]
        except KeyError:
            raise UnknownUnit(unit_id) from None

    def _grow(self, capacity: int) -> None:
        def grown(column: np.ndarray, fill) -> np.ndarray:
            bigger = np.full(capacity, fill, column.dtype)
            bigger[:len(column)] = column
            return bigger

        self._lat, self._lon = grown(self._lat, 0.0), grown(self._lon, 0.0)
        self._fix_s = grown(self._fix_s, NO_FIX_S)
        self._kind, self._state = grown(self._kind, 0), grown(self._state, 0)
        self._precinct = grown(self._precinct, NO_PRECINCT)
