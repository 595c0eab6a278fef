"""benchmarks/table.py: a fixed ``redband bench --json`` output in, the rows of docs/benchmarks.md's table out."""

import json

import pytest

from benchmarks import table

BENCH = {
    "quick": False,
    "date": "2026-12-03 04:30 UTC",
    "machine": {"cores": 2, "ram_gib": 23.4, "python": "3.11.7", "ray": "2.60.0"},
    "runs": {"core_throughput": {}, "mqtt_ingest": {}, "actor_per_device": {}, "broker_acl": {"error": "exit 1: boom"}},
    "summary": {
        "core_events_per_s": 171234,
        "core_heartbeat_events_per_s": 401000,
        "alarm_to_incident_p99_ms": 12.345,
        "alarm_to_incident_count": 400,
        "actor_per_device_events_per_s": 2469,
        "engine_vs_actor_per_device": 69.35,
        "mqtt_events_per_s": 9810,
        "devices_per_gib": {"engine": 1_000_000, "actor_per_device": 12},
        "fuzz_crashes": 0,
        "samples": {"core_events_per_s": "600,000 accepted events, 1 run"},
        "targets": {
            "core_events_per_s": {"target": 150000, "kind": "min", "value": 171234, "met": True},
            "mqtt_events_per_s": {"target": 10000, "kind": "min", "value": 9810, "met": False},
            "alarm_to_incident_p99_ms": {"target": 25.0, "kind": "max", "value": 12.345, "met": True},
            "broker_ready_s": {"target": 2.0, "kind": "max", "value": None, "met": False},
        },
    },
}


def test_rows_put_targeted_figures_first_with_their_samples_and_programs():
    assert table.rows(BENCH) == [
        table.Row("`core_events_per_s`", "≥ 150,000", "**171,234**", "600,000 accepted events, 1 run",
                  "core_throughput"),
        table.Row("`mqtt_events_per_s`", "≥ 10,000", "**9,810** (not met)", "—", "mqtt_ingest"),
        table.Row("`alarm_to_incident_p99_ms`", "≤ 25", "**12.3**", "400", "mqtt_ingest"),
        table.Row("`core_heartbeat_events_per_s`", "—", "401,000", "—", "core_throughput"),
        table.Row("`actor_per_device_events_per_s`", "—", "2,469", "—", "actor_per_device"),
        table.Row("`engine_vs_actor_per_device`", "—", "69.3",
                  "ratio: `core_events_per_s` ÷ `actor_per_device_events_per_s`", "actor_per_device"),
        table.Row("`fuzz_crashes`", "—", "0", "—", "fuzz_decoders"),
        table.Row("`broker_ready_s`", "≤ 2", "missing (the program failed)", "—", "broker_acl"),
    ]


def test_render_says_when_on_what_machine_and_whether_quick():
    text = table.render(BENCH)
    assert text.splitlines()[0] == ("2026-12-03 04:30 UTC · 2 cores, 23.4 GiB RAM, Python 3.11.7, Ray 2.60.0 · "
                                    "full run · programs: core_throughput, mqtt_ingest, actor_per_device, broker_acl")
    assert "| figure | target | measured | sample size | program |" in text
    assert "quick run" in table.render({**BENCH, "quick": True}).splitlines()[0]


def test_write_replaces_only_what_stands_between_the_markers(tmp_path):
    doc = tmp_path / "benchmarks.md"
    doc.write_text(f"# Benchmarks\n\nintro\n\n{table.BEGIN}\nold table\n{table.END}\n\n## prose stays\n")
    bench = tmp_path / "bench.json"
    bench.write_text(json.dumps(BENCH))
    assert table.main([str(bench), "--write", str(doc)]) == 0
    text = doc.read_text()
    assert "old table" not in text
    assert text.startswith("# Benchmarks\n\nintro\n\n") and text.endswith("## prose stays\n")
    assert text.count(table.BEGIN) == text.count(table.END) == 1
    between = text.split(table.BEGIN)[1].split(table.END)[0]
    assert between == "\n" + table.render(BENCH) + "\n"


def test_a_document_without_markers_is_refused():
    with pytest.raises(ValueError, match=r"^the markers are missing"):
        table.replace_table("# no markers here\n", "| table |")
