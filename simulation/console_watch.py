"""An operator's console, watched from the simulator: the same login and WebSocket a browser uses.

It stamps the arrival of every frame and hands the driver each incident view it carries, flagging the first
sighting of each incident: *device publish → console received* is that stamp minus the moment the alarm left
the simulator. It also keeps the newest view of every incident, which lets the checker judge a run against an
engine of another process (``simulate --mqtt URL --console ws://...``), and the engine's counters from the
command center's heartbeats, which tell how much of the telemetry that engine took. Incidents raised before the watch
started are left out. A dropped connection is opened again (login, then a fresh snapshot) until stopped.
"""

from __future__ import annotations

import logging
import threading
import time

from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.sync.client import connect

from protocols.console import (Auth, Changes, EngineFigures, Error, Heartbeat, IncidentChanged, IncidentView, Login,
                               Receipt, Snapshot, Token, Welcome, decode_server, encode)
from protocols.endpoint import ConsoleEndpoint
from protocols.errors import ProtocolError

log = logging.getLogger(__name__)

START_TIMEOUT_S = 30.0
RECV_POLL_S = 0.5
MAX_FRAME_BYTES = 2**26  # a welcome carries the city map: a 50,000-device city is a few MB
RECEIPT_BYTES = 15_000
RECEIPT_IDS = 5_000
"""A receipt's incidents at most, by their encoded size and count: a storm's frame shows thousands, and the gateway
takes client messages of 16 KiB at most (as ``web_console/app.js`` splits them). 200 ids a receipt, as it was, passed
16 KiB with incident ids of 71 characters or more (a device id may have 64, then "#" and the incident's number),
and the gateway refused the receipt."""
MAX_TRACKED = 1_000_000
MAX_PENDING = 1_000_000


class LoginRefused(ConnectionError):
    pass


class ConsoleWatch:
    def __init__(self, endpoint: ConsoleEndpoint, *, since_s: float | None = None) -> None:
        self.endpoint = endpoint
        self.since_s = time.time() if since_s is None else since_s
        self.welcome: Welcome | None = None
        self.connects = 0
        self.frames = 0
        self.dropped = 0
        """Sightings not handed over because the driver fell behind (bounded buffer)."""
        self.engine_figures: EngineFigures | None = None
        """The newest engine counters from a heartbeat (command-center operators only)."""
        self._seen: set[str] = set()
        self._pending: list[tuple[IncidentView, float, bool]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._beat = threading.Event()
        self._failure: Exception | None = None
        self._last_error = ""
        self._thread = threading.Thread(target=self._main, name="console-watch", daemon=True)

    # -- from the driver's thread ------------------------------------------------------------------

    def start(self, timeout_s: float = START_TIMEOUT_S) -> "ConsoleWatch":
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        ready = self._ready.wait(timeout_s) and self._failure is None
        ready = ready and self._beat.wait(max(0.0, deadline - time.monotonic()))  # the first heartbeat: figures
        if not ready or self._failure is not None:
            self.stop()
            reason = self._failure or f"no snapshot and heartbeat in {timeout_s:.0f} s" + (
                f" (last error: {self._last_error})" if self._last_error else "")
            raise ConnectionError(f"console {self.endpoint!r}: {reason}")
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10.0)

    def take(self) -> list[tuple[IncidentView, float, bool]]:
        """(view, arrival wall time, first sighting of this incident) since the last call, in arrival order."""
        with self._lock:
            out, self._pending = self._pending, []
        return out

    @property
    def role(self) -> str:
        return self.welcome.role if self.welcome else ""

    def devices_in_view(self) -> set[str] | None:
        """The devices whose incidents this operator sees; None for the command center (every device)."""
        if self.welcome is None or self.welcome.role == "command_center":
            return None
        return {d.id for d in self.welcome.map.devices}

    def __enter__(self) -> "ConsoleWatch":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- the watch's own thread --------------------------------------------------------------------

    def _main(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            try:
                self._session()
                attempt = 0
            except LoginRefused as exc:
                self._failure = exc
                if not self._ready.is_set():
                    self._ready.set()  # start() reports it
                    return
                log.warning("console watch: %s", exc)
            except (ConnectionClosed, InvalidHandshake, OSError, TimeoutError, ProtocolError) as exc:
                self._last_error = f"{type(exc).__name__}: {exc}"
                log.info("console watch: connection lost: %s", exc)
            attempt += 1
            self._stop.wait(min(2.0, 0.1 * 1.5 ** min(10, attempt)))  # the reconnect backoff

    def _login(self) -> str:
        with connect(self.endpoint.path("/login"), open_timeout=10, close_timeout=2) as ws:
            ws.send(encode(Login(self.endpoint.username, self.endpoint.password)))
            reply = decode_server(ws.recv(timeout=10))
        if isinstance(reply, Token):
            return reply.token
        reason = reply.reason if isinstance(reply, Error) else f"unexpected {type(reply).__name__}"
        raise LoginRefused(f"login as {self.endpoint.username!r} refused: {reason}")

    def _session(self) -> None:
        token = self._login()
        with connect(self.endpoint.path("/ws"), open_timeout=10, close_timeout=2, max_size=MAX_FRAME_BYTES,
                     compression=None) as ws:
            ws.send(encode(Auth(token)))
            self.connects += 1
            while not self._stop.is_set():
                try:
                    raw = ws.recv(timeout=RECV_POLL_S)
                except TimeoutError:
                    continue  # to look at the stop flag
                message = decode_server(raw)
                self._on_frame(message, time.time())
                for part in receipt_parts([(view.id, view.version) for view in _shown(message)]):
                    ws.send(encode(Receipt(part)))  # confirmed like a browser console does (receipts)

    def _on_frame(self, message, arrived_s: float) -> None:
        self.frames += 1
        if isinstance(message, Welcome):
            self.welcome = message
        elif isinstance(message, Snapshot):
            self._saw([*message.incidents], arrived_s)
            self._ready.set()
        elif isinstance(message, Changes):
            self._saw([item.incident for item in message.items], arrived_s)
        elif isinstance(message, IncidentChanged):
            self._saw([message.incident], arrived_s)
        elif isinstance(message, Heartbeat):
            if message.engine is not None:
                self.engine_figures = message.engine
            self._beat.set()
        elif isinstance(message, Error):
            log.warning("console watch: the gateway said: %s", message.reason)

    def _saw(self, views: list[IncidentView], arrived_s: float) -> None:
        batch = []
        for view in views:
            if view.raised_s < self.since_s:
                continue  # an incident from before this run
            first = view.id not in self._seen
            if first and len(self._seen) < MAX_TRACKED:
                self._seen.add(view.id)
            batch.append((view, arrived_s, first))
        with self._lock:
            room = MAX_PENDING - len(self._pending)
            self._pending.extend(batch[:room])
            self.dropped += max(0, len(batch) - room)


def receipt_parts(shown: list[tuple[str, int]]) -> list[list[tuple[str, int]]]:
    """``shown`` in receipts that each stay within :data:`RECEIPT_BYTES` encoded and :data:`RECEIPT_IDS` ids."""
    parts: list[list[tuple[str, int]]] = []
    part: list[tuple[str, int]] = []
    size = 0
    for entry in shown:
        entry_size = len(entry[0].encode()) + len(str(entry[1])) + 6  # ["id",version],
        if part and (size + entry_size > RECEIPT_BYTES or len(part) >= RECEIPT_IDS):
            parts.append(part)
            part, size = [], 0
        part.append(entry)
        size += entry_size
    if part:
        parts.append(part)
    return parts


def _shown(message) -> list[IncidentView]:
    if isinstance(message, Snapshot):
        return message.incidents
    if isinstance(message, Changes):
        return [item.incident for item in message.items]
    return []
