"""A bound on the refusals the console gateway audits: a flood of forged tokens or foreign Origins must not turn
into one journal row (and one host call) each.

Per action (``auth``, ``connect``, ``login``...), the first ``per_window`` refusals of each ``window_s`` are written
as they come; the rest are counted, and once the window has ended one summary row says how many were left out.
Accepted actions are never limited. Pure: time comes in as ``now_s``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class _Window:
    index: int
    written: int = 0
    left_out: int = 0


class RefusalLimiter:
    def __init__(self, *, per_window: int = 100, window_s: float = 60.0) -> None:
        self.per_window = per_window
        self.window_s = window_s
        self._windows: dict[str, _Window] = {}  # one per action name: a handful, not per client
        self._ended: list[tuple[str, int, float]] = []

    def admit(self, action: str, now_s: float) -> bool:
        """Whether to write this refusal now (False: it is counted for the window's summary)."""
        index = int(now_s // self.window_s)
        window = self._windows.get(action)
        if window is None or window.index != index:
            if window is not None:
                self._end(action, window)
            window = self._windows[action] = _Window(index)
        if window.written < self.per_window:
            window.written += 1
            return True
        window.left_out += 1
        return False

    def summaries(self, now_s: float) -> list[tuple[str, int, float]]:
        """(action, refusals left out, the window's end) for every window that has ended with some left out."""
        index = int(now_s // self.window_s)
        for action, window in list(self._windows.items()):
            if window.index < index:
                del self._windows[action]
                self._end(action, window)
        out, self._ended = self._ended, []
        return out

    def _end(self, action: str, window: _Window) -> None:
        if window.left_out:
            self._ended.append((action, window.left_out, (window.index + 1) * self.window_s))
