"""The live progress of a real-time run: scenario time, events/s, alarms and their latency so far (rich)."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn


def status_line(*, events_per_s: float, sent: int, alarms: int, p99_ms: float | None) -> str:
    latency = f"alarm p99 {p99_ms:.1f} ms" if p99_ms is not None else "no alarm yet"
    return f"{events_per_s:,.0f} events/s · {sent:,} sent · {alarms} alarms · {latency}"


class LiveProgress:
    """A progress bar over the scenario's duration; ``update`` is called once a second by the driver."""

    def __init__(self, name: str, duration_s: float, *, console: Console | None = None) -> None:
        self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.fields[status]}"),
                                 TimeRemainingColumn(), console=console or Console(stderr=True), transient=False)
        self.task = self.progress.add_task(name, total=duration_s, status="starting")
        self._last: tuple[float, int] = (0.0, 0)

    def __enter__(self) -> "LiveProgress":
        self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.stop()

    def update(self, t_s: float, sent: int, metrics) -> None:
        last_t, last_sent = self._last
        rate = (sent - last_sent) / (t_s - last_t) if t_s > last_t else 0.0
        self._last = (t_s, sent)
        p99 = metrics.p99_ms()
        self.progress.update(self.task, completed=t_s, status=status_line(
            events_per_s=rate, sent=sent, alarms=metrics.alarms_measured, p99_ms=p99))
