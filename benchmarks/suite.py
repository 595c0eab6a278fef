"""``redband bench``: every benchmark program in ``benchmarks/``, one after another (each its own process,
so none measures another's leftovers), summed up in one JSON object with the targets beside the figures.
A quick run (a smoke run: its figures mean nothing) runs ``QUICK_AT_ONCE`` programs at a time, longest first.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROGRAMS = ("core_throughput", "mqtt_ingest", "positions_ingest", "escalation_lateness", "host_restart",
            "device_memory", "console_fanout", "device_command", "visitor_call", "fuzz_decoders", "nearest_unit",
            "broker_acl", "actor_per_device")
"""Run in this order: ``actor_per_device`` starts some 300 Ray workers, whose teardown would still be using the
CPU while the next program measures."""
QUICK_AT_ONCE = 3
"""A quick run checks that every program still runs and prints its figures, not what they are: three at a time on
2 cores (the smoke test's run 82 s -> 52 s; four at a time was slower, 67 s: a quick run is mostly CPU, each
program's Ray job, actors and broker starting)."""
QUICK_LONGEST_FIRST = ("mqtt_ingest", "core_throughput", "console_fanout", "host_restart", "device_command",
                       "visitor_call", "positions_ingest", "escalation_lateness", "device_memory", "actor_per_device",
                       "nearest_unit", "fuzz_decoders", "broker_acl")
"""A quick run's order (each program's quick wall time, measured 2026-12-03), so the longest do not come last."""

# figure: (target, "min" if it must be at least the target, "max" if at most)
TARGETS = {
    "core_events_per_s": (150_000, "min"),
    "mqtt_events_per_s": (30_000, "min"),
    "mqtt_events_per_s_at_saturation": (30_000, "min"),
    "mqtt_lost": (0, "max"),
    "bridge_cpu_us_per_event": (20.0, "max"),
    "alarm_to_incident_p99_ms": (25.0, "max"),
    "escalation_lateness_p99_ms": (50.0, "max"),
    "host_restart_max_s": (2.0, "max"),
    "escalation_lateness_after_restart_max_ms": (1000.0, "max"),
    "bytes_per_device": (2048, "max"),
    "engine_vs_actor_per_device": (20.0, "min"),
    "console_fanout_p99_ms": (50.0, "max"),
    "fuzz_crashes": (0, "max"),
    "nearest_unit_10k_p99_us": (50.0, "max"),
    "nearest_unit_100k_p99_us": (500.0, "max"),
    "incident_to_offer_p99_ms": (100.0, "max"),
    "positions_per_s": (20_000, "min"),
    "visitor_call_p99_ms": (50.0, "max"),
}


def run_program(name: str, *, quick: bool, timeout_s: float = 900) -> dict:
    args = [sys.executable, "-m", f"benchmarks.{name}"] + (["--quick"] if quick else [])
    started = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout_s, cwd=ROOT,
                          env={**os.environ, "RAY_AUTH_MODE": "disabled"})
    if proc.returncode != 0:
        return {"error": f"exit {proc.returncode}: {proc.stderr.strip()[-1500:]}"}
    # the figures are the last JSON line: Ray may still forward a worker's log lines after it (a killed host's)
    lines = [line for line in proc.stdout.strip().splitlines() if line.startswith("{")]
    if not lines:
        return {"error": f"no figures printed: {proc.stdout.strip()[-500:]} {proc.stderr.strip()[-1000:]}"}
    figures = json.loads(lines[-1])
    figures["wall_s"] = round(time.perf_counter() - started, 1)
    return figures


def summarize(runs: dict[str, dict]) -> dict:
    core, mqtt, late = runs.get("core_throughput", {}), runs.get("mqtt_ingest", {}), runs.get("escalation_lateness", {})
    memory, actors, fanout = runs.get("device_memory", {}), runs.get("actor_per_device", {}), runs.get("console_fanout", {})
    raised, positions = mqtt.get("alarm_publish_to_raised", {}), runs.get("positions_ingest", {})
    summary = {
        "core_events_per_s": core.get("core_events_per_s"),  # the realistic mix, accepted events only
        "core_heartbeat_events_per_s": core.get("core_heartbeat_events_per_s"),
        "mqtt_events_per_s": mqtt.get("end_to_end_events_per_s"),  # achieved at the target rate, offered below
        "mqtt_offered_events_per_s": mqtt.get("offered_events_per_s"),
        "mqtt_lost": mqtt.get("lost"),
        "mqtt_events_per_s_at_saturation": mqtt.get("end_to_end_events_per_s_at_saturation"),
        "bare_subscriber_events_per_s_at_saturation": mqtt.get("bare_subscriber_events_per_s_at_saturation"),
        "mosquitto_sub_events_per_s_at_saturation": mqtt.get("mosquitto_sub_events_per_s_at_saturation"),
        "mqtt_ratio_to_bare_at_saturation": mqtt.get("ratio_to_bare_at_saturation"),
        "mqtt_ratio_to_mosquitto_sub": mqtt.get("ratio_to_mosquitto_sub"),
        "mqtt_ratio_to_mosquitto_sub_at_target": mqtt.get("ratio_to_mosquitto_sub_at_target"),
        "bridge_cpu_us_per_event": mqtt.get("bridge_cpu_us_per_event_target"),
        "alarm_to_incident_p50_ms": raised.get("p50_ms"),
        "alarm_to_incident_p99_ms": raised.get("p99_ms"),
        "alarm_to_incident_count": raised.get("count"),
        "escalation_lateness_p99_ms": late.get("escalation_lateness_p99_ms"),
        "escalation_lateness_count": late.get("deadlines_fired"),
        "escalation_lateness_vs_schedule_p99_ms": late.get("escalation_lateness_vs_schedule_p99_ms"),
        "escalation_background_offered_events_per_s": late.get("background_offered_events_per_s"),
        "escalation_background_achieved_events_per_s": late.get("background_achieved_events_per_s"),
        "escalation_background_dropped_events": late.get("background_dropped_events"),
        "host_restart_max_s": runs.get("host_restart", {}).get("host_restart_max_s"),
        "escalation_lateness_after_restart_max_ms": runs.get("host_restart", {}).get(
            "escalation_lateness_after_restart_max_ms"),
        "bytes_per_device": memory.get("bytes_per_device"),  # resident set; the parts below by tracemalloc
        **{f"bytes_per_device_{part}": memory.get(f"bytes_per_device_{part}")
           for part in ("traced", "topology", "host_indexes", "entities")},
        "devices_hosted": memory.get("devices"),
        "actor_per_device_events_per_s": actors.get("actor_per_device_events_per_s"),
        "actor_per_device_batched_events_per_s": actors.get("actor_per_device_batched_events_per_s"),
        "actor_per_device_max_devices": actors.get("actor_per_device_max_devices"),
        "console_fanout_p99_ms": fanout.get("delay_p99_ms_worst"),
        "console_fanout_deliveries": fanout.get("deliveries"),
        "console_fanout_deliveries_expected": fanout.get("deliveries_expected"),
        "console_fanout_deliveries_lost": fanout.get("deliveries_lost"),
        "console_fanout_consoles_closed": fanout.get("consoles_closed"),
        "device_command_p99_ms": runs.get("device_command", {}).get("p99_ms"),
        "incident_to_offer_p99_ms": runs.get("device_command", {}).get("offer_p99_ms"),
        "fuzz_crashes": runs.get("fuzz_decoders", {}).get("crashes"),
        "fuzz_payloads_per_s": runs.get("fuzz_decoders", {}).get("payloads_per_s"),
        **{f"nearest_unit_{size}_{p}_us": runs.get("nearest_unit", {}).get(f"nearest_unit_{size}_{p}_us")
           for size in ("10k", "100k") for p in ("p50", "p99")},
        "positions_per_s": positions.get("positions_per_s"),  # reached the GPS filter, best steady step
        "positions_lost": positions.get("lost"),
        "positions_bridge_cpu_us": positions.get("bridge_cpu_us_per_position"),
        "broker_acl_devices": runs.get("broker_acl", {}).get("devices"),
        "broker_ready_s": runs.get("broker_acl", {}).get("broker_ready_s"),
        "broker_rss_bytes_per_device": runs.get("broker_acl", {}).get("broker_rss_bytes_per_device"),
        **{f"visitor_call_{name}": runs.get("visitor_call", {}).get(key) for name, key in (
            ("p50_ms", "p50_ms"), ("p99_ms", "p99_ms"), ("count", "deliveries"), ("lost", "calls_lost"),
            ("deliveries_lost", "deliveries_lost"), ("background_events_per_s", "background_achieved_events_per_s"))},
    }
    for suffix in ("", "_batched"):  # one call per event / batches of the same size as the engine's on both sides
        if summary["core_events_per_s"] and summary[f"actor_per_device{suffix}_events_per_s"]:
            summary[f"engine_vs_actor_per_device{suffix}"] = round(
                summary["core_events_per_s"] / summary[f"actor_per_device{suffix}_events_per_s"], 2)
    if summary["bytes_per_device"] and actors.get("bytes_per_actor"):
        summary["devices_per_gib"] = {"engine": int(2**30 / summary["bytes_per_device"]),
                                      "actor_per_device": int(2**30 / actors["bytes_per_actor"])}
        summary["engine_vs_actor_per_device_memory"] = round(actors["bytes_per_actor"] / summary["bytes_per_device"])
    # each figure's sample size as its program states it ("600,000 accepted events, 1 run"); benchmarks/table.py
    summary["samples"] = {name: text for figures in runs.values() for name, text in figures.get("samples", {}).items()}
    summary["targets"] = {
        name: {"target": target, "kind": kind, "value": summary.get(name),
               "met": summary.get(name) is not None and (summary[name] >= target if kind == "min"
                                                          else summary[name] <= target)}
        for name, (target, kind) in TARGETS.items()
    }
    return summary


def machine() -> dict:
    """What ``benchmarks/table.py`` prints above the table: the figures hold for this machine only."""
    import importlib.metadata
    import platform

    with open("/proc/meminfo") as f:
        ram_kib = int(next(line for line in f if line.startswith("MemTotal:")).split()[1])
    return {"cores": os.cpu_count(), "ram_gib": round(ram_kib / 2**20, 1), "python": platform.python_version(),
            "ray": importlib.metadata.version("ray")}


def run_bench(*, quick: bool, programs: tuple[str, ...] = PROGRAMS, on_done=None) -> dict:
    runs = {}
    date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    if quick:
        order = sorted(programs, key=lambda name: QUICK_LONGEST_FIRST.index(name)
                       if name in QUICK_LONGEST_FIRST else -1)
        with ThreadPoolExecutor(max_workers=QUICK_AT_ONCE, thread_name_prefix="bench-quick") as pool:
            pending = {pool.submit(run_program, name, quick=True): name for name in order}
            for done in as_completed(pending):
                runs[pending[done]] = done.result()
                if on_done:
                    on_done(pending[done], runs[pending[done]])
    else:
        for name in programs:
            runs[name] = run_program(name, quick=quick)
            if on_done:
                on_done(name, runs[name])
    runs = {name: runs[name] for name in programs}  # the suite's order
    return {"quick": quick, "date": date, "machine": machine(), "summary": summarize(runs), "runs": runs}
