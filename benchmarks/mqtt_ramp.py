"""The stepped ramp of the MQTT benchmarks: the same publisher processes offer a rising rate, step after step,
to one consumer (the engine's bridge, a bare aiomqtt subscriber, or the C client ``mosquitto_sub``) until it
falls behind, within a time budget. Each step's received rate is the consumer's count over the steady part
of the step (from ``warm_s`` after the start to the end of the schedule), so a backlog drained after the
step is not counted as keeping up.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEHIND = 0.95
"""A consumer whose received rate is below this share of the offered rate has fallen behind."""
TOPIC = "rb/v1/dev/+/evt"


class Publishers:
    """N ``benchmarks/mqtt_publisher.py`` processes, connected once, sent one step at a time."""

    def __init__(self, *, port: int, user: str, password: str, devices_file: Path, count: int) -> None:
        self.procs = [subprocess.Popen(
            [sys.executable, "-m", "benchmarks.mqtt_publisher", "--port", str(port), "--user", user,
             f"--password={password}",  # a password may start with "-"
             "--devices", str(devices_file), "--index", str(i), "--of", str(count)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT) for i in range(count)]
        for proc in self.procs:
            assert json.loads(proc.stdout.readline()).get("connected"), "publisher did not connect"

    def start_step(self, rate: float, seconds: float, *, fresh: bool, **extra) -> float:
        """Tell every publisher its share of the step; returns the agreed start instant (after pre-encoding).
        ``extra``: the publisher's optional step fields (``event``, ``realtime``, ``bad_every``)."""
        share = rate / len(self.procs)
        start_at = time.time() + 0.3 + (share * seconds / 60_000 if fresh else 0.2)  # time to pre-encode
        for proc in self.procs:
            proc.stdin.write(json.dumps({"rate": share, "seconds": seconds, "start_at": start_at,
                                         "fresh": fresh, **extra}) + "\n")
            proc.stdin.flush()
        return start_at

    def finish_step(self) -> dict:
        results = [json.loads(proc.stdout.readline()) for proc in self.procs]
        return {"published": sum(r["published"] for r in results), "scheduled": sum(r["scheduled"] for r in results),
                "seconds": max(r["seconds"] for r in results), "cpu_s": round(sum(r["cpu_s"] for r in results), 2)}

    def close(self) -> None:
        for proc in self.procs:
            proc.stdin.close()
        for proc in self.procs:
            proc.wait(timeout=30)


class BareSubscriber:
    """``benchmarks/bare_subscriber.py`` in a process of its own; ``count()`` asks it over a pipe."""

    def __init__(self, *, python: str, port: int, user: str, password: str) -> None:
        self.proc = subprocess.Popen([python, str(ROOT / "benchmarks" / "bare_subscriber.py"), "--port", str(port),
                                      "--user", user, f"--password={password}"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        assert json.loads(self.proc.stdout.readline()).get("subscribed"), "bare subscriber did not subscribe"

    def count(self) -> int:
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())["count"]

    def close(self) -> dict:
        out, _ = self.proc.communicate(input="", timeout=30)
        return json.loads(out.strip().splitlines()[-1])


class MosquittoSub:
    """The C client, printing one ``.`` per message (``-F . -N``, no payload); a thread of ours counts the
    bytes of its output pipe, so the count costs a read per 64 KiB, not a Python call per message."""

    def __init__(self, *, port: int, user: str, password: str) -> None:
        self.proc = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-u", user, "-P", password,
                                      "-i", "bench-mosquitto-sub", "-t", TOPIC, "-q", "0", "-F", ".", "-N"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self._count = 0
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while chunk := self.proc.stdout.read1(1 << 16):
            self._count += chunk.count(b".")

    def count(self) -> int:
        return self._count

    def close(self) -> dict:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self._reader.join(timeout=10)
        return {"lib": "mosquitto_sub (libmosquitto, C)", "count": self._count}


def wait_until(t: float) -> None:
    while (left := t - time.time()) > 0:
        time.sleep(min(left, 0.05))  # waiting for a scheduled instant


def drain(count: Callable[[], int], *, quiet_s: float = 0.5, max_s: float = 5.0) -> int:
    """The consumer's count once it has not moved for ``quiet_s`` (or after ``max_s``)."""
    deadline = time.monotonic() + max_s
    last, since = count(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.1)  # the sampling period of the drain
        now = count()
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            break
    return last


def step(publishers: Publishers, count: Callable[[], int], rate: float, *, seconds: float, warm_s: float,
         fresh: bool, on_start: Callable[[], None] | None = None, stages: Callable[[], dict] | None = None,
         **extra) -> dict:
    """One step: ``rate`` offered for ``seconds``; the steady received rate and what was lost. ``stages``, if
    given, counts along the way (e.g. the bridge's received, the hosts' accepted): sampled beside ``count``, each
    gets its steady rate (``stages_per_s``) and its total for the step, drained (``stages``)."""
    before, stages_before = count(), stages() if stages else {}
    start_at = publishers.start_step(rate, seconds, fresh=fresh, **extra)
    wait_until(start_at)
    if on_start is not None:
        on_start()
    wait_until(start_at + warm_s)
    c1, t1, s1 = count(), time.time(), stages() if stages else {}
    wait_until(start_at + seconds)
    c2, t2, s2 = count(), time.time(), stages() if stages else {}
    sent = publishers.finish_step()
    received = drain(count) - before
    out = {"offered_per_s": round(rate), "published": sent["published"],
           "published_per_s": round(sent["published"] / sent["seconds"]) if sent["seconds"] else 0,
           "received_per_s": round((c2 - c1) / (t2 - t1)), "window_s": round(t2 - t1, 2), "received": received,
           "lost": sent["published"] - received, "publisher_cpu_s": sent["cpu_s"]}
    if stages:
        after = stages()
        out["stages_per_s"] = {k: round((s2[k] - s1[k]) / (t2 - t1), 3 if isinstance(s2[k], float) else None)
                               for k in s2}
        out["stages"] = {k: round(after[k] - stages_before[k], 3) for k in after}
    return out


def wait_flowing(publishers: Publishers, count: Callable[[], int], *, timeout_s: float = 15.0) -> None:
    """Short steps at 1,000/s until the consumer counts something: it has subscribed (not all say when)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        before = count()
        wait_until(publishers.start_step(1000, 0.2, fresh=False) + 0.2)
        publishers.finish_step()
        if drain(count, quiet_s=0.3) > before:
            return
    raise TimeoutError("the consumer received nothing: not subscribed?")


def ramp(publishers: Publishers, count: Callable[[], int], *, first: float, factor: float, steps: int,
         seconds: float, warm_s: float, budget_s: float, fresh: bool = False, **step_options) -> dict:
    """Steps at ``first``, ``first × factor``, ... until the consumer falls behind, ``steps`` are done or the next
    step would end after ``budget_s``. ``events_per_s`` is the best received rate of any step; ``saturated``
    says whether a step fell behind (if not, the ceiling is at least that and the ramp ran out first).
    ``step_options`` go to every step (``stages``, the publishers' step fields)."""
    started, out = time.monotonic(), []
    for i in range(steps):
        if out and time.monotonic() - started + seconds + 3 > budget_s:
            break
        rate = first * factor**i
        out.append(step(publishers, count, rate, seconds=seconds, warm_s=warm_s, fresh=fresh, **step_options))
        if out[-1]["received_per_s"] < BEHIND * rate:
            break
    behind = [s for s in out if s["received_per_s"] < BEHIND * s["offered_per_s"]]
    best = max(out, key=lambda s: s["received_per_s"])
    limited_by = None
    if behind:  # the consumer, unless the publishers could not even write the step (the broker read slower)
        last = behind[-1]
        limited_by = "consumer" if last["received_per_s"] < BEHIND * last["published_per_s"] else "broker_intake"
    return {"events_per_s": best["received_per_s"], "saturated": bool(behind), "limited_by": limited_by,
            "offered_max_per_s": out[-1]["offered_per_s"], "step_s": seconds, "steps": out,
            "ramp_s": round(time.monotonic() - started, 1)}

