"""Fuzzing the device decoders: a million payloads, random, mutated, hostile and valid, through
``protocols.inbound.classify``, which must return a verdict for every one and raise nothing. Prints one JSON
object; exits 1 when ``classify`` raised (a crash), refused a valid payload, accepted a payload that must be
refused, or accepted one that cannot be encoded again for the hosts.

    python -m benchmarks.fuzz_decoders [--count 1000000] [--seed 1] [--quick]

Families of payloads, drawn with ``random.Random(seed)`` (the same seed, the same payloads):

* ``random_bytes``: random bytes, 0-600 of them (some led by ``{`` or a MessagePack map byte, some made of JSON
  or MessagePack tokens, so that they get past the first byte);
* ``mutated_valid``: a valid message of any kind, JSON or MessagePack, with 1-4 mutations (a byte flipped,
  bytes inserted, a span deleted, a span repeated many times, the tail cut, a syntax token inserted);
* ``hostile``: deep nesting, bad UTF-8, NaN and Infinity, duplicate keys, a BOM or white space first, a bare
  JSON value, huge integers, control characters, oversize payloads, wrong types and out-of-range values,
  MessagePack length headers claiming gigabytes, trailing bytes, ``state`` topic payloads;
* ``valid``: valid messages of every kind (and ``online``/``offline`` states), which must be accepted, decode to
  the message sent and encode again (the bridge re-encodes what it accepts into the batches for the hosts).

Only the ``classify`` loop is timed, never the generation. A *crash* is any exception out of ``classify``.
Reported beside the crashes, and failing the run too: ``hostile_accepted`` (a hostile payload that must be
refused was accepted) and ``accepted_unencodable`` (an accepted message that does not encode again to
MessagePack, which the bridge does next to batch it for the hosts: one such message would fail its whole batch).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import time
import traceback
from collections import Counter
from random import Random

import msgpack
import msgspec

from benchmarks.fuzz_payloads import FAMILIES, Item, generate
from benchmarks.fuzz_values import DEVICE
from protocols.device import MAX_DEPTH, MAX_PAYLOAD_BYTES, encode_device_message
from protocols.inbound import EventIn, Refused, StateIn, classify

CHUNK = 10_000
EXAMPLES = 10

# -- the run --------------------------------------------------------------------------------------------------------

_NUMBER = re.compile(r"\b0x[0-9a-fA-F]+\b|(?<![\w.-])-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'?|\"(?:[^\"\\]|\\.)*\"?|`[^`]*`?", re.S)


def split_reason(reason: str) -> tuple[str, str]:
    """``"data.floor: expected int, got str"`` → (``data.floor``, ``expected int, got str``)."""
    field, sep, rest = reason.partition(": ")
    return (field, rest) if sep else ("(none)", reason)


def reason_class(text: str) -> str:
    """Quoted values and numbers taken out, so that refusals of one sort group together."""
    text = _QUOTED.sub("'…'", text)
    return _NUMBER.sub(lambda m: "0x#" if m[0].startswith("0x") else "#", text)[:160]


class _Crash:
    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def _show(payload: bytes) -> str:
    return repr(payload[:160]) + (f"... ({len(payload)} bytes)" if len(payload) > 160 else "")


def _example(item: Item, **extra) -> dict:
    return {"family": item.family, "case": item.case, "topic": item.topic, "payload": _show(item.payload), **extra}


def run(count: int, seed: int, quick: bool) -> dict:
    rng = Random(seed)
    known = frozenset({DEVICE}).__contains__
    families: Counter = Counter()
    verdicts: Counter = Counter()
    by_family: dict[str, Counter] = {f: Counter() for f in FAMILIES}
    cases: dict[str, Counter] = {}
    fields: Counter = Counter()
    classes: Counter = Counter()
    crashes: list[dict] = []
    crash_count = 0
    valid_refused: list[dict] = []
    valid_refused_count = 0
    hostile_accepted: list[dict] = []
    hostile_accepted_count = 0
    unencodable: list[dict] = []
    unencodable_count = 0
    refused_with_seq = 0
    classify_s = generate_s = 0.0
    done = 0
    while done < count:
        n = min(CHUNK, count - done)
        started = time.perf_counter()
        items = [generate(rng) for _ in range(n)]
        generate_s += time.perf_counter() - started
        results: list = []
        append = results.append
        started = time.perf_counter()
        for item in items:
            try:
                append(classify(item.topic, item.payload, known_device=known))
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # noqa: BLE001 - the very thing measured
                append(_Crash(exc))
        classify_s += time.perf_counter() - started
        done += n
        for item, result in zip(items, results):
            families[item.family] += 1
            if isinstance(result, _Crash):
                crash_count += 1
                verdict = "crash"
                if len(crashes) < EXAMPLES:
                    crashes.append(_example(item, type=type(result.exc).__name__, message=str(result.exc)[:300],
                                            traceback="".join(traceback.format_exception(result.exc))[-3000:]))
            elif type(result) is Refused:
                verdict = "refused"
                field, rest = split_reason(result.reason)
                fields[field[:64]] += 1
                classes[reason_class(rest)] += 1
                refused_with_seq += result.seq is not None
            elif type(result) is StateIn:
                verdict = "state"
            elif type(result) is EventIn:
                verdict = "accepted"
                try:
                    encode_device_message(result.message)  # what the bridge does next: into a batch for a host
                except Exception as exc:  # noqa: BLE001 - counted: accepted, then unusable
                    unencodable_count += 1
                    if len(unencodable) < EXAMPLES:
                        unencodable.append(_example(item, error=f"{type(exc).__name__}: {exc}"[:300]))
            else:
                verdict = f"other:{type(result).__name__}"
            verdicts[verdict] += 1
            by_family[item.family][verdict] += 1
            if item.family == "hostile":
                cases.setdefault(item.case, Counter())[verdict] += 1
                if item.must_refuse and verdict == "accepted":
                    hostile_accepted_count += 1
                    if len(hostile_accepted) < EXAMPLES:
                        hostile_accepted.append(_example(item, verdict=verdict))
            elif item.family == "valid":
                wrong = None
                if item.case == "state":
                    wrong = None if verdict == "state" else verdict
                elif verdict != "accepted":
                    wrong = result.reason if verdict == "refused" else verdict
                elif result.message != item.expect or result.json != item.as_json:
                    wrong = f"decoded to {result.message!r} (json={result.json})"[:300]
                if wrong is not None:
                    valid_refused_count += 1
                    if len(valid_refused) < EXAMPLES:
                        valid_refused.append(_example(item, verdict=wrong))
    refused = verdicts["refused"]
    return {
        "benchmark": "fuzz_decoders",
        "payloads": done,
        "seed": seed,
        "families": {f: families[f] for f in FAMILIES},
        "verdicts": {v: verdicts[v] for v in ("accepted", "refused", "state")}
        | {v: c for v, c in verdicts.items() if v not in ("accepted", "refused", "state")},
        "verdicts_by_family": {f: dict(sorted(c.items())) for f, c in by_family.items()},
        "crashes": crash_count,
        "crash_examples": crashes,
        "valid_refused": valid_refused_count,
        "valid_refused_examples": valid_refused,
        "accepted_unencodable": unencodable_count,
        "accepted_unencodable_examples": unencodable,
        "hostile_accepted": hostile_accepted_count,
        "hostile_accepted_examples": hostile_accepted,
        "hostile_cases": {case: dict(sorted(c.items())) for case, c in sorted(cases.items())},
        "refused_with_seq": refused_with_seq,
        "refusals_by_field": dict(fields.most_common(30)),
        "refusal_fields_distinct": len(fields),
        "refusals_by_reason": dict(classes.most_common(30)),
        "refusal_reasons_distinct": len(classes),
        "unreadable_refusals": sum(c for r, c in classes.items() if r.startswith("unreadable")),
        "refused_share": round(refused / done, 4) if done else None,
        "classify_s": round(classify_s, 3),
        "generate_s": round(generate_s, 3),
        "payloads_per_s": round(done / classify_s) if classify_s else None,
        "us_per_payload": round(classify_s / done * 1e6, 2) if done else None,
        "max_payload_bytes": MAX_PAYLOAD_BYTES,
        "max_depth": MAX_DEPTH,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "msgspec": msgspec.__version__,
        "msgpack": ".".join(map(str, msgpack.version)),
        "quick": quick,
        "samples": {name: f"{done:,} payloads (seed {seed}), 1 run"
                    for name in ("fuzz_crashes", "fuzz_payloads_per_s")},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000, help="payloads to classify")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 20,000 payloads")
    args = parser.parse_args(argv)
    if args.quick:
        args.count = 20_000
    if args.count < 1:
        parser.error("--count: must be at least 1")
    result = run(args.count, args.seed, args.quick)
    print(json.dumps(result, ensure_ascii=False), flush=True)
    failed = (result["crashes"] > 0 or result["valid_refused"] > 0 or result["accepted_unencodable"] > 0
              or result["hostile_accepted"] > 0)
    if failed:  # ``redband bench`` keeps only the tail of stderr of a failed program: the first example goes there
        first = (result["crash_examples"] or result["valid_refused_examples"])[0]
        print(f"fuzz_decoders: {result['crashes']} crashes, {result['valid_refused']} valid payloads refused; "
              f"first: {json.dumps(first, ensure_ascii=False)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
