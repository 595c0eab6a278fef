"""The console gateway: the static console and a WebSocket API, fanned out by jurisdiction.

    GET  /            the console (``web_console/``)
    WS   /login       {"type":"login",...} → {"type":"token",...}
    WS   /ws          {"type":"auth","token":...} first; then a welcome, a snapshot and deltas

The gateway owns the engine's change stream: every incident change gets the next ``seq``, is kept in
the gateway's view (open incidents, and closed ones for a while) and is sent at once to every console
whose operator sees it. A console that connects (or reconnects) gets a snapshot at some ``seq``, then
every delta after it: nothing twice, nothing missed. Each console has a bounded send queue; one that
cannot keep up is closed (code 1013) and resyncs when it reconnects. A heartbeat every second lets a
console tell a silent server from a quiet city.

Every command is authorised here by jurisdiction (the incident must be one the operator sees, acted on
for the operator's own responder) before the owner host authorises it against the notified entities.
Logins (both outcomes) and refusals (tokens, Origins, requests) are audited in the command center's journal.

Its parts: ``gateway_http.py`` (the static console, logins), ``gateway_fanout.py`` (the view, the seq, the send
queues), ``gateway_commands.py`` (commands, audit queries), ``gateway_sessions.py`` (tokens, logout, expiry),
``gateway_engine.py`` (what it needs of an engine).
This module runs them: the server's thread and loop, sessions, the change pump and heartbeats.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import uvloop
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from actors.gateway_commands import Commands
from actors.gateway_dispatch import DISPATCH_MESSAGES, GatewayDispatch
from actors.gateway_delivery import Deliveries
from actors.gateway_engine import EngineApi
from actors.gateway_fanout import ConsoleSession, Fanout
from actors.gateway_grids import COMMUNITY_REQUESTS, GatewayGrids, city_map
from actors.gateway_http import STATIC_DIR, LoginThrottles, handshake, login, refuse
from actors.gateway_points import POINTS_REQUESTS, GatewayPoints
from actors.gateway_sessions import Sessions
from actors.gateway_sites import SITES_REQUESTS, GatewaySites
from engine.audit_limit import RefusalLimiter
from engine.forwarded import TrustedProxies
from engine.incident import may_end
from engine.journal import AuditRow
from engine.operators import Jurisdiction, Operator, Role, TokenSigner
from engine.topology import City
from protocols.console import (LABELS, AuditQuery, Auth, Command, EngineFigures, Error, Heartbeat, Logout, Receipt,
                               Resync, Seen, Snapshot, UnitsQuery, Welcome, decode_client, encode)
from protocols.errors import ProtocolError
from protocols.records import IncidentRecord

log = logging.getLogger(__name__)

AUTH_TIMEOUT_S = 5.0
MAX_FRAME_BYTES = 1 << 20
"""A frame up to this size is read and, over the protocol's 16 KiB, answered with an error frame (the session goes
on); a larger one closes the socket (1009) before it is read into memory."""


class ConsoleGateway:
    def __init__(self, engine: EngineApi, operators: dict[str, Operator], *, host: str = "127.0.0.1",
                 port: int = 8080, signer: TokenSigner | None = None, allowed_origins: list[str] | None = None,
                 static_dir: Path = STATIC_DIR, poll_s: float = 0.01, idle_poll_s: float = 0.5,
                 heartbeat_s: float = 1.0, token_ttl_s: float = 8 * 3600.0, clock: Callable[[], float] = time.time,
                 on_change: Callable[[object], None] | None = None,
                 throttles: LoginThrottles | None = None, watch_delivery: bool = True,
                 trusted_proxies: Iterable[str] = ()) -> None:
        self.engine = engine
        self.city: City = engine.city
        self.operators = operators
        self.host, self.port = host, port
        self.signer = signer or TokenSigner()
        self.origins = allowed_origins
        self.static_dir = static_dir
        self.poll_s, self.idle_poll_s = poll_s, max(poll_s, idle_poll_s)
        self.heartbeat_s, self.token_ttl_s = heartbeat_s, token_ttl_s
        self.clock = clock
        self.on_change = on_change
        self.fanout = Fanout(clock, self._may_end)
        self.throttles, self.proxies = throttles or LoginThrottles(), TrustedProxies(trusted_proxies)
        self.refusals = RefusalLimiter()
        self.sessions = Sessions(self.signer, clock, self._audit)
        self.commands = Commands(engine, self.city, self.fanout, self._audit)
        self.points = GatewayPoints(engine, self.city, self._audit)
        self.dispatch = GatewayDispatch(engine, self.city, self.fanout, self._audit, clock)
        self.grids = GatewayGrids(engine, self.city, self._audit, clock)
        self.sites = GatewaySites(engine, self.city, self.fanout, self._audit, clock)
        self.deliveries = Deliveries(engine, self.fanout, clock, confirm_s=engine.policies.confirm_s,
                                     enabled=watch_delivery)
        self._server = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    # the fan-out's figures, for the benchmarks and tests
    @property
    def seq(self) -> int:
        return self.fanout.seq

    @property
    def sent(self) -> int:
        return self.fanout.sent

    @property
    def incidents(self) -> dict[str, IncidentRecord]:
        return self.fanout.incidents

    @property
    def consoles(self) -> set[ConsoleSession]:
        return self.fanout.consoles

    # -- life (a thread with its own loop, for the CLI and the tests) --------------------------------

    def start(self) -> "ConsoleGateway":
        self._thread = threading.Thread(target=self._main, name="console-gateway", daemon=True)
        self._thread.start()
        if not self._ready.wait(30) or self._error is not None:
            raise RuntimeError(f"console gateway did not start: {self._error}")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=15)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def pause(self, paused: bool = True) -> None:
        """Tests: send nothing at all (changes, heartbeats, a reconnecting console's snapshot), as a hung
        server would; what is queued meanwhile goes out on resuming."""
        assert self._loop is not None
        sending = self.fanout.sending
        self._loop.call_soon_threadsafe(sending.clear if paused else sending.set)

    def _main(self) -> None:
        try:
            uvloop.run(self._serve())
        except BaseException as exc:  # surfaced to start()
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        origins = self.origins or [f"http://{h}:{self.port}" for h in {self.host, "127.0.0.1", "localhost"}]
        for record in await asyncio.to_thread(self.engine.open_incidents):
            self.fanout.incidents[record.id] = record
        # no per-message deflate: compressing every frame for every console cost more than the fan-out itself
        async with serve(self._handle, self.host, self.port, origins=[*origins, None], compression=None,
                         process_request=handshake(self.static_dir, origins, self._audit, self.proxies),
                         max_size=MAX_FRAME_BYTES, ping_interval=20) as server:
            self._server = server
            tasks = [asyncio.create_task(self._pump()), asyncio.create_task(self._heartbeats()),
                     asyncio.create_task(self.deliveries.run())]
            self._ready.set()
            try:
                await self._stop.wait()
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    # -- sessions --------------------------------------------------------------------------------------

    async def _handle(self, connection: ServerConnection) -> None:
        path = connection.request.path.split("?", 1)[0]
        try:
            first = await asyncio.wait_for(connection.recv(), AUTH_TIMEOUT_S)
            message = decode_client(first)
        except (TimeoutError, ProtocolError, ConnectionClosed) as exc:
            await refuse(connection, f"first message: {exc or 'none in time'}")
            return
        if path == "/login":
            await login(connection, message, operators=self.operators, signer=self.signer, now_s=self.clock(),
                        ttl_s=self.token_ttl_s, audit=self._audit, throttles=self.throttles)
        else:
            await self._session(connection, message)

    async def _session(self, connection: ServerConnection, message) -> None:
        if not isinstance(message, Auth):
            await refuse(connection, "the first message must be auth with a token")
            return
        claims = await self.sessions.admit(connection, message.token)
        if claims is None:
            return
        jurisdiction = Jurisdiction.of(self.city, claims.role, claims.scope)
        console = ConsoleSession(connection, claims, jurisdiction, jurisdiction.responder(self.city))
        fanout = self.fanout
        # no await from the snapshot to registering: every delta after the snapshot's seq is queued behind it
        fanout.push(console, encode(self._welcome(console)))
        fanout.push(console, encode(self._snapshot(console)))
        fanout.consoles.add(console)
        self.sessions.opened(console)
        writer = asyncio.create_task(fanout.writer(console))
        try:
            async for raw in connection:
                try:
                    await self._on_message(console, raw)
                except Exception:  # one bad turn must not end the operator's session
                    log.exception("console gateway: message from %s failed", console.claims.operator)
                    fanout.push(console, encode(Error("internal error: the server logged it")))
        except ConnectionClosed:
            pass
        finally:
            fanout.consoles.discard(console)
            self.sessions.closed(console)
            writer.cancel()

    async def _on_message(self, console: ConsoleSession, raw) -> None:
        try:
            message = decode_client(raw)
        except ProtocolError as exc:
            self.fanout.push(console, encode(Error(str(exc))))
            return
        if isinstance(message, Receipt):
            self.deliveries.on_receipt(console, message)
            return
        if isinstance(message, Seen):
            self.deliveries.on_seen(console, message)
            return
        if isinstance(message, Command):
            answer = await self.commands.command(console, message)
        elif isinstance(message, Resync):
            answer = self._snapshot(console)
        elif isinstance(message, AuditQuery):
            answer = await self.commands.audit_rows(console, message)
        elif isinstance(message, UnitsQuery):
            answer = await self.commands.units(console, message)
        elif isinstance(message, POINTS_REQUESTS):
            answer = await self.points.handle(console, message)
        elif isinstance(message, DISPATCH_MESSAGES):  # the units layer, offer / cancel / reassign
            answer = await self.dispatch.handle(console, message)
        elif isinstance(message, COMMUNITY_REQUESTS):  # figures per community and grid, a remote door open
            answer = await self.grids.handle(console, message)
        elif isinstance(message, SITES_REQUESTS):  # a community, a kiosk hall, notices (community.js, kiosk_hall.js)
            answer = await self.sites.handle(console, message)
        elif isinstance(message, Logout):
            await self.sessions.logout(console)
            return
        else:
            answer = Error(f"type: not expected now: {type(message).__name__.lower()}")
        self.fanout.push(console, encode(answer))

    async def _audit(self, actor: str, role: str, scope: str, action: str, target: str, outcome: str,
                     reason: str) -> None:
        if outcome == "refused" and not self.refusals.admit(action, self.clock()):
            return  # counted: one summary row when the window ends (a flood is not a row each)
        await self._write_audit(AuditRow(self.clock(), actor, role, scope, action, target, outcome, reason))

    async def _write_audit(self, row: AuditRow) -> None:
        try:
            await asyncio.to_thread(self.engine.audit, [row])
        except Exception:  # an audit that cannot be written is logged loudly, the console keeps serving
            log.exception("console gateway: audit row not written: %s", row)

    # -- the change stream -------------------------------------------------------------------------------

    async def _pump(self) -> None:
        """Take the hosts' changes as they are made: a long poll per host (``Engine.next_changes``) returns the
        moment one has changes. While changes keep coming, wait ``poll_s`` between takes, so a burst goes out
        as one frame per console instead of one per change."""
        failing = False
        while True:
            try:
                changes = await asyncio.to_thread(self.engine.next_changes, self.idle_poll_s)
            except Exception:
                if not failing:  # once per outage, not once per poll
                    log.exception("console gateway: could not take changes; trying again every %.1f s",
                                  self.idle_poll_s)
                failing = True
                changes = []
                await asyncio.sleep(self.idle_poll_s)  # a failing engine is not polled in a tight loop
            else:
                if failing:
                    log.warning("console gateway: taking changes again")
                failing = False
            for change in changes:
                self.fanout.apply(change.record)
                self.deliveries.on_change(self.fanout.incidents.get(change.record.id, change.record))
                if self.on_change is not None:
                    self.on_change(change)
            self.fanout.send_changes()
            self.fanout.forget_old()
            if changes:
                await asyncio.sleep(self.poll_s)  # the coalescing period of a burst

    async def _heartbeats(self) -> None:
        last: tuple[float, int] | None = None
        while True:
            await asyncio.sleep(self.heartbeat_s)  # the heartbeat period
            for action, left_out, end_s in self.refusals.summaries(self.clock()):
                await self._write_audit(AuditRow(self.clock(), "", "", "", action, "", "refused",
                                                 f"{left_out} more refusals in the minute to {time.ctime(end_s)} "
                                                 "not written one by one"))
            figures, last = await self._engine_figures(last)
            plain = encode(Heartbeat(self.clock(), self.seq))
            full = encode(Heartbeat(self.clock(), self.seq, figures)) if figures is not None else plain
            for console in list(self.fanout.consoles):
                self.fanout.push(console, full if console.jurisdiction.role is Role.COMMAND_CENTER else plain)

    async def _engine_figures(self, last: tuple[float, int] | None
                              ) -> tuple[EngineFigures | None, tuple[float, int] | None]:
        """The engine's counters for the command center (one Ray call per host, off the loop); None when a
        host does not answer, so a heartbeat is never held up by it."""
        if not any(c.jurisdiction.role is Role.COMMAND_CENTER for c in self.fanout.consoles):
            return None, last
        try:
            stats = await asyncio.to_thread(self.engine.statistics)
        except Exception as exc:  # a host restarting: this beat goes without figures
            log.info("console gateway: no engine figures this beat: %s", exc)
            return None, last
        now, taken = time.monotonic(), sum(s.accepted + s.refused for s in stats)
        rate = (taken - last[1]) / (now - last[0]) if last is not None and now > last[0] else 0.0
        return EngineFigures(taken, sum(s.duplicates for s in stats), round(rate, 1), sum(s.devices for s in stats),
                             sum(s.devices_active for s in stats), sum(s.incidents_open for s in stats),
                             devices_supervised=sum(s.devices_supervised for s in stats),
                             devices_online=sum(s.devices_online for s in stats),
                             devices_offline=sum(s.devices_offline for s in stats),
                             sites_offline=sum(s.sites_offline for s in stats)), (now, taken)

    # -- views ---------------------------------------------------------------------------------------

    def _snapshot(self, console) -> Snapshot:
        return self.fanout.snapshot(console.jurisdiction)

    def _may_end(self, record: IncidentRecord) -> tuple:
        device = self.city.devices.get(record.device_id)
        return may_end(record, self.engine.policies.for_incident(record.kind, device.kind if device else None))

    def _welcome(self, console: ConsoleSession) -> Welcome:
        j, city = console.jurisdiction, self.city
        ageing = {str(p): ages for p, ages in self.engine.policies.ageing.items()}
        return Welcome(console.claims.operator, j.role.value, j.scope, j.responder(city), j.level, self.clock(),
                       city_map(city, j), LABELS, ageing, console.claims.expires_s)
