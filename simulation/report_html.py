"""``--report DIR``: ``summary.json`` and ``report.html`` with its plots (matplotlib PNGs, no network).

Plots: alarm latency over the run and its histogram (one series per path measured: raised, ack, console), throughput (events sent and taken per second),
the escalation timeline of the first scripted incidents; tables: the figures, the checker's verdict,
every expectation with PASS / FAIL / SKIP.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, never a window
import matplotlib.pyplot as plt  # noqa: E402

from protocols.kinds import Level  # noqa: E402
from simulation.report import TABLE_COLUMNS, RunResult  # noqa: E402

LEVEL_Y = {Level.GUARD_ROOM.value: 0, Level.POLICE_STATION.value: 1, Level.COMMAND_CENTER.value: 2,
           Level.MAINTENANCE.value: -1}
TIMELINE_INCIDENTS = 8


def write_report(result: RunResult, out: Path, *, title: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    summary = {"scenario": title, **result.to_json()}
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    images = [_latency_over_time(result, out), _latency_histogram(result, out), _throughput(result, out),
              _timeline(result, out)]
    (out / "report.html").write_text(_html(summary, result, [i for i in images if i]), encoding="utf-8")
    return [out / "summary.json", out / "report.html", *[i for i in images if i]]


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _paths(result: RunResult) -> dict[str, list]:
    """Latency points per path (``raised``, ``ack``, ``console``); older summaries had one list."""
    points = result.metrics.get("latency_points")
    if points:
        return points
    return {"alarm": result.metrics.get("latencies") or []} if result.metrics.get("latencies") else {}


def _label(result: RunResult, name: str) -> str:
    return result.metrics.get("latency_paths", {}).get(name, {}).get("measured", name)


def _latency_over_time(result: RunResult, out: Path) -> Path | None:
    paths = _paths(result)
    if not paths:
        return None
    fig, ax = plt.subplots(figsize=(8, 3))
    for name, points in paths.items():
        ax.scatter([t for t, _ in points], [ms for _, ms in points], s=6, label=_label(result, name))
    ax.set_xlabel("run time (s)")
    ax.set_ylabel("alarm latency (ms)")
    ax.set_yscale("log")
    ax.legend(fontsize=7)
    _mark_faults(ax, result)
    return _save(fig, out / "latency_over_time.png")


def _mark_faults(ax, result: RunResult) -> None:
    for t, label in result.fault_marks:
        ax.axvline(t, color="#c00", lw=1, ls="--")
        ax.annotate(label, (t, 1), xycoords=("data", "axes fraction"), fontsize=7, color="#c00", rotation=90,
                    xytext=(2, -2), textcoords="offset points", va="top")


def _latency_histogram(result: RunResult, out: Path) -> Path | None:
    paths = _paths(result)
    if not paths:
        return None
    fig, ax = plt.subplots(figsize=(8, 3))
    ax.hist([[ms for _, ms in points] for points in paths.values()], bins=50,
            label=[_label(result, name) for name in paths])
    ax.set_xlabel("alarm latency (ms)")
    ax.set_ylabel("alarms")
    ax.legend(fontsize=7)
    return _save(fig, out / "latency_histogram.png")


def _throughput(result: RunResult, out: Path) -> Path | None:
    series = result.metrics.get("throughput") or []
    if len(series) < 2:
        return None
    fig, ax = plt.subplots(figsize=(8, 3))
    t = [p["t_s"] for p in series]
    sent = [b["sent"] - a["sent"] for a, b in zip(series, series[1:])]
    ax.plot(t[1:], sent, label="offered /s (the scenario's schedule)")
    if all(p["taken"] is not None for p in series):
        ax.plot(t[1:], [b["taken"] - a["taken"] for a, b in zip(series, series[1:])], label="taken by the engine /s")
    ax.set_xlabel("run time (s)")
    ax.set_ylabel("events per second")
    ax.legend()
    _mark_faults(ax, result)
    return _save(fig, out / "throughput.png")


def _timeline(result: RunResult, out: Path) -> Path | None:
    incidents: list[str] = []
    for row in result.timeline:
        if row.incident not in incidents and len(incidents) < TIMELINE_INCIDENTS:
            incidents.append(row.incident)
    if not incidents:
        return None
    fig, ax = plt.subplots(figsize=(8, 1 + 0.6 * len(incidents)))
    for i, incident in enumerate(incidents):
        rows = [r for r in result.timeline if r.incident == incident]
        ax.plot([r.t_s for r in rows], [i + 0.15 * LEVEL_Y.get(r.level or "", 0) for r in rows], marker="o", lw=1)
        for r in rows:
            if r.event in ("raised", "escalated", "acknowledged", "closed", "reminder"):
                ax.annotate(f"{r.event} {r.level or ''}", (r.t_s, i + 0.15 * LEVEL_Y.get(r.level or "", 0)),
                            fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_yticks(range(len(incidents)), incidents, fontsize=7)
    ax.set_xlabel("run time (s)")
    ax.set_title("escalation timeline")
    return _save(fig, out / "timeline.png")


def _p50_p99_max(summary: dict) -> str:
    return " / ".join(f"{summary[k]:.2f}" for k in ("p50_ms", "p99_ms", "max_ms"))


def _html(summary: dict, result: RunResult, images: list[Path]) -> str:
    e = html.escape
    latency = result.metrics.get("alarm_latency", {})
    checker = result.metrics.get("checker")
    figures = [("events sent", result.events_sent), ("accounted", result.events_accounted), ("lost", result.lost),
               ("duplicates (acked again, not raised twice)", result.duplicates),
               ("alarms measured", latency.get("count", 0)), ("latency measured as", latency.get("measured", "")),
               ("alarm latency p50 / p99 / max (ms)",
                _p50_p99_max(latency) if "p50_ms" in latency else "—")]
    for path in (result.metrics.get("latency_paths") or {}).values():
        figures += [(f"{path['measured']}: p50 / p99 / max (ms), alarms",
                     f"{_p50_p99_max(path)}, {path['count']}")]
    if telemetry := result.metrics.get("telemetry"):
        figures += [("telemetry (QoS 0): published / taken by the engine / lost after publish",
                     f"{telemetry['published']} / {telemetry['taken_by_engine']} / {telemetry['lost_after_publish']}"),
                    ("telemetry not sent while disconnected", telemetry["not_sent_while_disconnected"])]
    if console := result.metrics.get("console"):
        figures += [("console watched as", f"{console['operator']} ({console['role']}), {console['connects']} "
                                           f"connection(s), {console['frames']} frames")]
    figures += [("fault", fault) for fault in result.faults]
    figures += [("note", note) for note in result.notes]  # a scenario's own figures (the kiosk hall's) and notes
    lateness = result.metrics.get("escalation_lateness") or {}
    if lateness.get("count"):
        figures += [("escalation lateness p50 / p99 / max (ms)",
                     _p50_p99_max(lateness))]
    if checker:
        source = checker.get("incidents_from", "engine")
        figures += [(f"checker ({source}): alarms sent / lost / duplicated / unexpected",
                     f"{checker['sent']} / {checker['lost']} / {checker['duplicated']} / {checker['unexpected']}")]
    rows = "".join(f"<tr><th>{e(str(k))}</th><td>{e(str(v))}</td></tr>" for k, v in figures)
    expectations = "".join(
        f"<tr class='{x.verdict.lower()}'><td>{x.verdict}</td><td>{e(x.name)}</td><td>{e(x.detail)}</td></tr>"
        for x in result.expectations)
    plots = "".join(f"<figure><img src='{p.name}' alt='{p.stem}'></figure>" for p in images)
    groups = "".join(f"<h3>Per {e(by)}</h3><table><tr>{''.join(f'<th>{e(c)}</th>' for c in TABLE_COLUMNS)}</tr>"
                     + "".join("<tr>" + "".join(f"<td>{e(str(r[c]))}</td>" for c in TABLE_COLUMNS) + "</tr>"
                               for r in rows) + "</table>" for by, rows in result.tables.items())
    groups = f"<h2>Volunteer figures (the engine's counters)</h2>{groups}" if groups else ""
    verdict = "PASSED" if result.passed else "FAILED"
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{e(summary['scenario'])}</title>
<style>body{{font:14px system-ui,sans-serif;margin:24px;max-width:1000px}} th{{text-align:left;padding-right:16px}}
tr.fail td:first-child{{color:#c00;font-weight:bold}} tr.pass td:first-child{{color:#080}} img{{max-width:100%}}</style>
</head><body><h1>{e(summary['scenario'])}: {verdict}</h1>
<h2>Figures</h2><table>{rows}</table>
<h2>Expectations</h2><table>{expectations}</table>
{groups}
<h2>Plots</h2>{plots}
<p>Every number is in <a href="summary.json">summary.json</a>.</p></body></html>
"""
