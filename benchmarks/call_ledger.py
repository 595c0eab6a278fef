"""The books of ``benchmarks/visitor_call.py``: each visitor call as its panel published it (when, and which phones
the engine must ring: the unit's verified residents'), and each ``visitor_call`` command as a phone received it.
Pure: times are given, not read.

A delivery's latency is the phone's receive time minus the panel's publish time (one clock, one process). Only
the first delivery of a (call, phone) is timed; a repeat (QoS 1 redelivery, a command handed out again) is
counted apart, as is a command for a call never published or a phone not expected to ring.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from benchmarks.latency import Latencies


@dataclass(slots=True)
class _Call:
    published_s: float
    waiting: set[str]
    """Phones that must ring and have not yet."""
    rung: set[str] = field(default_factory=set)


@dataclass(slots=True)
class CallLedger:
    calls: dict[str, _Call] = field(default_factory=dict)
    latencies: Latencies = field(default_factory=Latencies)
    deliveries: int = 0
    repeats: int = 0
    unexpected: int = 0

    def published(self, call_id: str, at_s: float, phones: Iterable[str]) -> None:
        """A panel published the call at ``at_s``; ``phones`` must each get a ``visitor_call``."""
        phones = set(phones)
        if not phones:
            raise ValueError(f"call {call_id}: a call must ring at least one phone (a unit with a verified resident)")
        if call_id in self.calls:
            raise ValueError(f"call {call_id}: published twice (a door's seq must grow)")
        self.calls[call_id] = _Call(at_s, phones)

    def received(self, call_id: str, phone: str, at_s: float) -> float | None:
        """A phone received the call's command at ``at_s``: its latency in ms, or None (a repeat, or unexpected)."""
        call = self.calls.get(call_id)
        if call is None:
            self.unexpected += 1
            return None
        if phone not in call.waiting:
            if phone in call.rung:
                self.repeats += 1
            else:
                self.unexpected += 1
            return None
        call.waiting.discard(phone)
        call.rung.add(phone)
        self.deliveries += 1
        latency_ms = (at_s - call.published_s) * 1000
        self.latencies.record_ms(latency_ms)
        return latency_ms

    @property
    def complete(self) -> bool:
        """Every phone of every call published has rung."""
        return all(not call.waiting for call in self.calls.values())

    def summary(self) -> dict:
        expected = sum(len(call.waiting) + len(call.rung) for call in self.calls.values())
        return {"calls": len(self.calls),
                "calls_delivered_to_every_phone": sum(1 for call in self.calls.values() if not call.waiting),
                "calls_lost": sum(1 for call in self.calls.values() if call.waiting),
                "deliveries_expected": expected, "deliveries": self.deliveries,
                "deliveries_lost": expected - self.deliveries, "repeats": self.repeats,
                "unexpected": self.unexpected,
                "latency": {**self.latencies.summary(), "p95_ms": self.latencies.percentile_ms(95)}}
