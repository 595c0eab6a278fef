"""Consumables of a kiosk (paper, card stock): the levels it reports, in percent, against the policy's thresholds
(``low``). A supply is low at or below its threshold; it is refilled when reported above it again. Pure."""

from __future__ import annotations

from collections.abc import Mapping


def low_supplies(levels: Mapping[str, float | None], thresholds: Mapping[str, int],
                 was_low: frozenset[str]) -> frozenset[str]:
    """The supplies low after this report: a supply the report leaves out (None) keeps its state."""
    low = set(was_low)
    for supply, level in levels.items():
        if level is None or supply not in thresholds:
            continue
        if level <= thresholds[supply]:
            low.add(supply)
        else:
            low.discard(supply)
    return frozenset(low)
