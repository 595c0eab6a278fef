"""Slowing down password guessing: failed logins are counted per key (a user name, a client address) over a
sliding window; after ``max_failures`` in ``window_s`` the key is locked for ``lockout_s``, doubling with each
further lockout up to ``max_lockout_s``. A success clears the key. Bounded: at most ``capacity`` keys are tracked
(the oldest forgotten first). Pure: time comes in as ``now_s``."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field


@dataclass
class _Key:
    failures: list[float] = field(default_factory=list)
    locked_until_s: float = 0.0
    lockouts: int = 0


class LoginThrottle:
    def __init__(self, *, max_failures: int = 5, window_s: float = 300.0, lockout_s: float = 30.0,
                 max_lockout_s: float = 900.0, capacity: int = 10_000) -> None:
        if max_failures < 1 or capacity < 1:
            raise ValueError("max_failures and capacity: must be at least 1")
        self.max_failures, self.window_s = max_failures, window_s
        self.lockout_s, self.max_lockout_s, self.capacity = lockout_s, max_lockout_s, capacity
        self._keys: OrderedDict[str, _Key] = OrderedDict()

    def retry_after_s(self, keys: tuple[str, ...], now_s: float) -> float:
        """0 when none of ``keys`` is locked, else how long until all of them are free."""
        return max((max(0.0, k.locked_until_s - now_s) for key in keys if (k := self._keys.get(key))), default=0.0)

    def failed(self, keys: tuple[str, ...], now_s: float) -> None:
        for key in keys:
            entry = self._keys.pop(key, None) or _Key()
            self._keys[key] = entry  # the most recent last
            entry.failures = [t for t in entry.failures if t > now_s - self.window_s] + [now_s]
            if len(entry.failures) >= self.max_failures:
                entry.locked_until_s = now_s + min(self.max_lockout_s, self.lockout_s * 2 ** entry.lockouts)
                entry.lockouts += 1
                entry.failures = []
        while len(self._keys) > self.capacity:
            self._keys.popitem(last=False)

    def succeeded(self, keys: tuple[str, ...]) -> None:
        for key in keys:
            self._keys.pop(key, None)

    def __len__(self) -> int:
        return len(self._keys)
