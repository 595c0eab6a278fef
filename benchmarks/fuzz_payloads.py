"""The payloads of ``benchmarks/fuzz_decoders.py``, one at a time: a family drawn by weight, then a payload
of it with what is known of it (the topic, whether it must be refused, the message a valid one decodes to).
"""

from __future__ import annotations

from random import Random

from benchmarks.fuzz_encoding import NotExpressible, enc
from benchmarks.fuzz_hostile import hostile
from benchmarks.fuzz_values import STATE_VALID, TOPIC_LIST, TOPICS, mutate, random_bytes, valid_message, valid_variant
from protocols.kinds import EventKind
from protocols.topics import Channel, channel_for

FAMILIES = ("random_bytes", "mutated_valid", "hostile", "valid")
FAMILY_WEIGHTS = (0.25, 0.35, 0.30, 0.10)  # cumulative below

# -- generation -----------------------------------------------------------------------------------------------------


class Item:
    """One payload with what is known of it; ``expect`` is the message a valid payload must decode to."""

    __slots__ = ("family", "case", "topic", "payload", "must_refuse", "expect", "as_json")

    def __init__(self, family, case, topic, payload, must_refuse=None, expect=None, as_json=None):
        self.family, self.case, self.topic, self.payload = family, case, topic, payload
        self.must_refuse, self.expect, self.as_json = must_refuse, expect, as_json


def _topic_for(rng: Random, kind: EventKind) -> str:
    return TOPICS[channel_for(kind)] if rng.random() < 0.9 else rng.choice(TOPIC_LIST)


def generate(rng: Random) -> Item:
    roll = rng.random()
    if roll < FAMILY_WEIGHTS[0]:
        case, payload = random_bytes(rng)
        return Item("random_bytes", case, rng.choice(TOPIC_LIST), payload)
    roll -= FAMILY_WEIGHTS[0]
    if roll < FAMILY_WEIGHTS[1]:
        kind, message = valid_message(rng)
        as_json = rng.random() < 0.5
        _, base = valid_variant(rng, kind, message, as_json)
        case, payload = mutate(rng, base)
        return Item("mutated_valid", case, _topic_for(rng, kind), payload)
    roll -= FAMILY_WEIGHTS[1]
    if roll < FAMILY_WEIGHTS[2]:
        while True:
            kind, message = valid_message(rng)
            case, tree, must, fmt = hostile(rng, kind, message)
            if fmt == "state":
                return Item("hostile", case, TOPICS[Channel.STATE], tree)
            if isinstance(tree, bytes):
                payload = tree
            else:
                as_json = fmt == "json" if fmt else rng.random() < 0.5
                try:
                    payload = enc(tree, as_json)
                except NotExpressible:
                    try:
                        payload = enc(tree, not as_json)
                    except NotExpressible:
                        continue
            return Item("hostile", case, _topic_for(rng, kind), payload, must_refuse=must)
    if rng.random() < 0.05:
        return Item("valid", "state", TOPICS[Channel.STATE], rng.choice(STATE_VALID))
    kind, message = valid_message(rng)
    as_json = rng.random() < 0.5
    case, payload = valid_variant(rng, kind, message, as_json)
    return Item("valid", case, TOPICS[channel_for(kind)], payload, expect=message, as_json=as_json)
