"""A long-lived actor's heap kept out of its full garbage collections, so that none stalls an alarm.

A host's or a bridge's process holds a few hundred thousand objects from its start that live as long as it does:
Ray's and the libraries' modules, the city share, the placement, the state rebuilt from the journal. CPython's full
collection walks every one of them each time: 80-120 ms in a host (one every 5-15 s under 30,000 events/s), during
which its event loop answered nothing, alarms included; 40-50 ms every 5 s in the bulk lane's bridge
(``docs/benchmarks.md``, "Where the alarm tail went"). :func:`settle` moves what is alive once the actor is built
into the permanent generation (``gc.freeze``): later full collections walk only what was made since. Reference
counting frees those objects as before; only a reference cycle among them that becomes garbage would stay. A host
that throws its state away and rebuilds it (a step its journal refused) calls :func:`release` first, so that the old
state's cycles are collected, and :func:`settle_if_due` from its loop settles the new state once no release came for
``SETTLE_AFTER_S``.
"""

from __future__ import annotations

import gc
import time

SETTLE_AFTER_S = 30.0
"""After a release, settle again once no release came for this long (a journal outage fails step after step)."""

_released_at: float | None = None


def settle() -> None:
    """Collect what is garbage now, then leave everything alive out of every later collection."""
    global _released_at
    _released_at = None
    gc.collect()
    gc.freeze()


def release() -> None:
    """What was settled goes back into the collections (its cycles, once garbage, are freed again)."""
    global _released_at
    _released_at = time.monotonic()
    gc.unfreeze()


def settle_if_due() -> None:
    """Settle again once ``SETTLE_AFTER_S`` has passed since the last :func:`release`; else nothing (cheap)."""
    if _released_at is not None and time.monotonic() - _released_at >= SETTLE_AFTER_S:
        settle()
