"""The load processes of ``redband simulate --mqtt``: a scenario's telemetry split by device over a few
processes (each device's events stay in one process, in order), each publishing pre-encoded packets at
their scripted times (``simulation/wire_publisher.py``)."""

from __future__ import annotations

import json
import select
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import msgpack

from protocols.device import encode_device_message
from protocols.endpoint import MqttEndpoint
from protocols.topics import channel_for, device_topic

BULK_THRESHOLD = 500
PROCESSES = 2
READY_TIMEOUT_S = 120.0
ENCODE_RATE = 100_000  # events a load process encodes per second before it can start


class LoadProcesses:
    def __init__(self, endpoint: MqttEndpoint, events: list, *, seq_offset: int = 0, json: bool = False,
                 processes: int = PROCESSES) -> None:
        self.endpoint = endpoint
        self.events = events
        self.seq_offset = seq_offset
        self.json = json
        self.count = processes
        self.procs: list[subprocess.Popen] = []
        self.results: list[dict] = []
        self.start_at = 0.0
        self._dir = Path(tempfile.mkdtemp(prefix="redband-load-"))

    def start(self) -> "LoadProcesses":
        shares: list[list] = [[] for _ in range(self.count)]
        for event in self.events:
            message = event.message
            if self.seq_offset:
                import msgspec

                message = msgspec.structs.replace(message, seq=message.seq + self.seq_offset)
            topic = device_topic(event.device_id, channel_for(message.event_kind))
            shares[zlib.crc32(event.device_id.encode()) % self.count].append(
                [event.at_s, topic, encode_device_message(message, json=self.json)])
        self.start_at = time.time() + 1.0 + max(len(s) for s in shares) / ENCODE_RATE
        for index, share in enumerate(shares):
            file = self._dir / f"load-{index}.msgpack"
            file.write_bytes(msgpack.packb(share))
            e = self.endpoint
            self.procs.append(subprocess.Popen(
                [sys.executable, "-m", "simulation.wire_publisher", "--host", e.host, "--port", str(e.port),
                 "--user", e.username or "", f"--password={e.password or ''}", "--file", str(file),
                 "--index", str(index), "--start-at", str(self.start_at)],
                stdout=subprocess.PIPE, text=True))
        deadline = time.monotonic() + READY_TIMEOUT_S
        for proc in self.procs:
            ready, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
            line = proc.stdout.readline() if ready else ""
            if not line or not json.loads(line).get("ready"):
                self.stop()
                raise ConnectionError(f"a load process did not get ready in {READY_TIMEOUT_S:.0f} s (exit {proc.poll()})")
        return self

    def finish(self, timeout_s: float = 60.0) -> int:
        """Wait for every process to publish its share; returns how many events left."""
        self.results = []
        for proc in self.procs:
            out, _ = proc.communicate(timeout=timeout_s)
            lines = out.strip().splitlines()
            self.results.append(json.loads(lines[-1]) if lines else {"error": f"exit {proc.returncode}"})
        return sum(r.get("published", 0) for r in self.results)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
