"""Benchmarks are not tests, but their programs must keep running: `redband bench --quick` runs every one
of them for a few seconds and sums them up; the figures of a quick run mean nothing, their shape does."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.shared_ray import ray_env  # noqa: F401 - the session's Ray for the programs to join

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.ray
@pytest.mark.mqtt
def test_bench_quick_runs_every_program_and_sums_them_up(tmp_path, ray_env):
    """Each program joins the session's Ray (``RAY_ADDRESS``) instead of starting one of its own: 5-10 s each."""
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, "-m", "redband", "bench", "--quick", "--json", str(out)],
                          capture_output=True, text=True, timeout=600, cwd=ROOT, env=ray_env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == result
    runs, summary = result["runs"], result["summary"]
    assert not [name for name, figures in runs.items() if "error" in figures]
    core = runs["core_throughput"]
    for phase in (core["realistic_mix"], core["heartbeat_only"]):  # accepted only; nothing refused, lost or repeated
        assert phase["accepted"] == phase["events"] == 20_000 and phase["call_ms"]["count"] > 0
        assert phase["duplicates"] == phase["refused"] == phase["lost"] == 0 and phase["problems"] == []
    mix = core["realistic_mix"]
    assert set(mix["sent"]) == {"heartbeat", "position", "door_state", "alarm"} and mix["sent"]["alarm"] == 200
    assert mix["alarms_acked"] == mix["incidents_open"] == 200 and mix["journal_writes"] > 0  # journaled alarms
    assert summary["core_events_per_s"] == core["core_events_per_s"] == mix["accepted_per_s"]
    assert summary["samples"]["core_events_per_s"] == "20,000 accepted events, 1 run"
    mqtt = runs["mqtt_ingest"]
    assert mqtt["published"] == mqtt["engine_accepted"] == 2000 and mqtt["lost"] == 0
    assert mqtt["alarms"]["acked"] == mqtt["alarms"]["published"] == mqtt["alarm_publish_to_raised"]["count"] == 10
    for yardstick in ("end_to_end_at_saturation", "bare_subscriber", "mosquitto_sub"):  # each ramped, step by step
        steps = mqtt[yardstick]["steps"]
        assert steps and all(s["received"] > 0 and s["received_per_s"] > 0 for s in steps), yardstick
        assert mqtt[yardstick]["events_per_s"] == max(s["received_per_s"] for s in steps)
    assert mqtt["bare_subscriber"]["client"]["count"] > 0 and mqtt["mosquitto_sub"]["client"]["count"] > 0
    assert mqtt["ratio_to_mosquitto_sub"] == round(mqtt["end_to_end_events_per_s_at_saturation"]
                                                   / mqtt["mosquitto_sub_events_per_s_at_saturation"], 3)
    lanes = {lane: stats for process in mqtt["bridge_stats"] for lane, stats in process["lanes"].items()}
    assert lanes["alarm"]["received"] == 10 and lanes["evt"]["received"] == 2000  # the alarm lane measured apart
    positions = runs["positions_ingest"]  # every phone on patrol; every fix through the bridge to its GPS filter
    assert positions["patrols"]["patrols_active"] == positions["patrols"]["published"] == positions["phones"] == 200
    assert positions["published"] == positions["bridge_received"] == positions["hosts_accepted"] == 2000
    assert positions["kept"] + positions["discarded"] == positions["published"] and positions["lost"] == 0
    assert positions["discarded_by_reason"] == {"inaccurate": positions["published"] // 50}  # each 50th: 80 m
    (position_step,) = positions["ramp"]["steps"]
    assert position_step["stages"]["filtered"] == position_step["stages"]["bridge_received"] == 2000
    assert positions["positions_per_s"] == position_step["received_per_s"] == summary["positions_per_s"] > 0
    assert positions["per_stage_per_s_at_best"]["bridge_received"] > 0
    assert positions["cpu_at_best"]["cores"]["bridge"] > 0 and positions["notes"]
    assert summary["positions_lost"] == 0 and summary["targets"]["positions_per_s"]["target"] == 20_000
    late = runs["escalation_lateness"]
    raised = late["incidents"] - late["lanes"]["alarms"]["dropped"]  # a batch due while 8 are unanswered: dropped
    assert late["deadlines_fired"] == late["escalations_found"] == late["incidents_raised"] == raised > 0
    assert late["escalation_lateness"]["count"] == late["escalation_lateness_vs_schedule"]["count"] == raised
    assert late["background_offered_events_per_s"] > 0 and late["background_achieved_events_per_s"] > 0
    assert late["lanes"]["background"]["sent"] + late["lanes"]["background"]["dropped"] == late["seconds"] * 2000
    restart = runs["host_restart"]
    assert restart["kills"] == 2 and restart["escalations_fired"] == 2 * restart["open_incidents_per_kill"]
    assert summary["host_restart_max_s"] > 0
    memory = runs["device_memory"]
    assert memory["devices_active"] == memory["devices"] > 5000
    assert set(memory["parts"]) == {"topology", "host_indexes", "entities"}  # each part by tracemalloc snapshots
    assert memory["bytes_per_device_traced"] == pytest.approx(
        sum(part["bytes_per_device"] for part in memory["parts"].values()), abs=2)
    assert memory["bytes_per_device_entities"] >= 112  # a DeviceEntity alone is 112 B
    actors = runs["actor_per_device"]
    assert actors["accepted"] == actors["events"] and actors["bytes_per_actor"] > 0
    assert actors["batched_accepted"] == actors["batched_events"] == 4 * actors["batch_events"] == 20_000
    command = runs["device_command"]
    assert command["sirens_received"] == command["alarms"] == 5 and summary["device_command_p99_ms"] > 0
    assert command["offers_received"] == command["phones_on_patrol"] == 5 and summary["incident_to_offer_p99_ms"] > 0
    calls = runs["visitor_call"]  # every call rang every verified phone of its unit, each delivery timed
    assert calls["calls"] == calls["calls_delivered_to_every_phone"] == calls["engine_community"]["calls"] == 10
    assert calls["deliveries"] == calls["deliveries_expected"] == calls["latency"]["count"] > calls["calls"]
    assert calls["calls_lost"] == calls["unexpected"] == calls["background_lost"] == 0
    assert summary["visitor_call_p99_ms"] > 0 and summary["targets"]["visitor_call_p99_ms"]["target"] == 50.0
    fanout = runs["console_fanout"]
    assert fanout["delay_cc"]["deliveries"] == 2 * fanout["gateway_changes_seen"] > 0
    assert fanout["delay_cc"]["count"] == fanout["delay_cc"]["deliveries"]  # every delivery timed
    assert fanout["deliveries"] == fanout["deliveries_expected"] == fanout["gateway_pushed"]  # none closed, none lost
    assert fanout["deliveries_lost"] == fanout["consoles_closed"] == 0
    for key in ("core_events_per_s", "mqtt_events_per_s", "mqtt_ratio_to_bare_at_saturation",
                "mqtt_ratio_to_mosquitto_sub", "bare_subscriber_events_per_s_at_saturation",
                "alarm_to_incident_p50_ms", "alarm_to_incident_p99_ms", "escalation_lateness_p99_ms",
                "bytes_per_device", "actor_per_device_events_per_s", "actor_per_device_max_devices",
                "core_heartbeat_events_per_s", "bytes_per_device_traced", "bytes_per_device_topology",
                "bytes_per_device_host_indexes", "bytes_per_device_entities", "actor_per_device_batched_events_per_s",
                "engine_vs_actor_per_device", "engine_vs_actor_per_device_batched", "engine_vs_actor_per_device_memory",
                "console_fanout_p99_ms", "positions_per_s", "positions_bridge_cpu_us"):
        assert isinstance(summary[key], (int, float)) and summary[key] > 0, key
    assert runs["fuzz_decoders"]["crashes"] == 0 and summary["targets"]["fuzz_crashes"]["met"]
    assert runs["broker_acl"]["device_hash_subscription_refused"] and summary["broker_ready_s"] > 0
    assert set(summary["targets"]) >= {"core_events_per_s", "mqtt_events_per_s", "bytes_per_device",
                                       "engine_vs_actor_per_device", "fuzz_crashes", "positions_per_s"}


def test_fuzz_decoders_quick_classifies_every_payload_without_a_crash():
    """No Ray, no broker: the decoders alone, 20,000 payloads of every family."""
    proc = subprocess.run([sys.executable, "-m", "benchmarks.fuzz_decoders", "--quick"],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    assert figures["benchmark"] == "fuzz_decoders" and figures["quick"] is True
    assert figures["crashes"] == 0 and figures["crash_examples"] == []
    assert figures["valid_refused"] == 0
    assert figures["payloads"] == 20_000 == sum(figures["families"].values())
    assert all(figures["families"][family] > 0 for family in ("random_bytes", "mutated_valid", "hostile", "valid"))
    assert sum(figures["verdicts"].values()) == 20_000
    assert figures["verdicts"]["accepted"] > 0 and figures["verdicts"]["refused"] > 0
    assert figures["verdicts"]["state"] > 0
    assert figures["refusals_by_field"] and figures["refusals_by_reason"]
    assert len(figures["refusals_by_field"]) <= 30 and len(figures["refusals_by_reason"]) <= 30
    assert figures["payloads_per_s"] > 0 and figures["us_per_payload"] > 0
