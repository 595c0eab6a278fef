"""What the community parts of a host keep in the journal's snapshots (``JournalBatch.snapshots``): one key per
thing, its latest body (msgpack) replacing the one before, None deleting it; written with the step that changed it.

    visitor_call/<call>        CallRow: a visitor call ringing, or answered open and waiting for the door (deleted
                               when it ends; the end is an audit row)
    visitor_pass/<site>/<code> PassRow: a visitor pass, until a day after its window ends
    throw/<camera>/<facade>    ThrowRow: the open thrown-object incident of a camera's facade, while repeats may join
    community_figures          the counters of calls, passes, throws and refusals
    community_figures/<site>   the same counters of one site, and its alarms (``site_figures.py``)
"""

from __future__ import annotations

from typing import Final

import msgspec

from engine.hosting.snapshot_rows import by_name, counters, encode, under

CALL: Final = "visitor_call/"
PASS: Final = "visitor_pass/"
THROW: Final = "throw/"
FIGURES: Final = "community_figures"
SITE_FIGURES: Final = "community_figures/"


class CallRow(msgspec.Struct, array_like=True):
    id: str
    door: str
    site: str
    unit: str
    snapshot: str
    phones: list[str]
    started_s: float
    due_s: float
    """Ringing: when the call is missed. Answered open: when the door must have reported itself open."""
    answer: str = ""
    """"" while ringing; ``open`` once answered so."""
    by: str = ""
    """The resident who answered."""
    answered_s: float = 0.0


class PassRow(msgspec.Struct, array_like=True):
    code: str
    site: str
    door: str
    """"": any door of the site."""
    resident: str
    phone: str
    request: str
    valid_from_s: float
    valid_until_s: float
    uses_left: int
    issued_s: float


class ThrowRow(msgspec.Struct, array_like=True):
    camera: str
    facade: str
    incident: str
    first_s: float
    last_s: float
    repeats: int = 0
    clips: list[str] = msgspec.field(default_factory=list)
    """The clip references of its reports, newest last (at most ``MAX_CLIPS``)."""


def calls(snapshots: dict[str, bytes]) -> list[CallRow]:
    return under(snapshots, CALL, CallRow)


def passes(snapshots: dict[str, bytes]) -> list[PassRow]:
    return under(snapshots, PASS, PassRow)


def throws(snapshots: dict[str, bytes]) -> list[ThrowRow]:
    return under(snapshots, THROW, ThrowRow)


def figures(snapshots: dict[str, bytes]) -> dict[str, int]:
    return counters(snapshots, FIGURES)


def site_figures(snapshots: dict[str, bytes]) -> dict[str, dict[str, int]]:
    return by_name(snapshots, SITE_FIGURES, dict[str, int])


class Figures:
    """The community's counters (calls by outcome, refusals by reason, passes, throws), journaled with each change:
    the host's (``counts``) and, for what names its site, the site's (``by_site``)."""

    def __init__(self, staging) -> None:
        self.staging = staging
        self.counts: dict[str, int] = {}
        self.by_site: dict[str, dict[str, int]] = {}

    def add(self, name: str, n: int = 1, *, site: str = "") -> None:
        self.counts[name] = self.counts.get(name, 0) + n
        self.staging.snapshot(FIGURES, encode(self.counts))
        if site:
            self.add_site(site, name, n)

    def add_site(self, site: str, name: str, n: int = 1) -> None:
        """Count for the site only (not in the host's counts)."""
        counts = self.by_site.setdefault(site, {})
        counts[name] = counts.get(name, 0) + n
        self.staging.snapshot(SITE_FIGURES + site, encode(counts))

    def of_site(self, site: str) -> dict[str, int]:
        return self.by_site.get(site, {})

    def load(self, snapshots: dict[str, bytes]) -> None:
        self.counts = figures(snapshots)
        self.by_site = site_figures(snapshots)
