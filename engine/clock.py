"""Time as an injected dependency: the engine never reads a clock of its own."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now_s(self) -> float: ...


class WallClock:
    """Epoch seconds, so journaled deadlines mean the same after a restart."""

    def now_s(self) -> float:
        return time.time()


class ManualClock:
    """A virtual clock a test or a scenario driver moves by hand."""

    def __init__(self, start_s: float = 0.0) -> None:
        self._now_s = start_s

    def now_s(self) -> float:
        return self._now_s

    def set(self, now_s: float) -> None:
        if now_s < self._now_s:
            raise ValueError(f"a clock does not go back: {now_s} < {self._now_s}")
        self._now_s = now_s

    def advance(self, delta_s: float) -> None:
        self.set(self._now_s + delta_s)
