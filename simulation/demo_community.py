"""Life at one community and one kiosk hall of the demo (issue 15), through the broker, light: a visitor call every
``call_every_s`` at a door panel of the community (``door.visitor``, the urgent path: the alarm topic), answered by the
unit's resident phones (a ``visitor_call`` on a phone's command topic is answered ``open`` or ``deny`` by one of the
rung phones after a few seconds, or left to ring); the door answers ``open_door`` with ``door.opened`` and closes a few
seconds later; every ``pass_every``-th visitor comes with a pass instead (a verified resident's ``visitor.pass``, and
the code of its ``visitor_pass.issued`` typed at the panel as ``door.code``). The community's door screens read the
site's retained notice board (``rb/v1/site/{site}/notice``) and report ``notice.shown`` once per notice shown on them.
A kiosk of the hall reports a session (``kiosk.session`` as the kiosk_hall scenario sends them) every
``session_every_s``, and each kiosk of the hall a supplies report when the life starts.

Runs on the fleet's loop (:meth:`simulation.mqtt_fleet.Fleet.run_beside`): one connection subscribed to the devices'
command topics and the site's notice topic, a bounded queue of what it took, and one task acting on a bounded heap of
what is due; both tasks are the fleet's and end with it. The devices' messages are numbered by :attr:`sequencer` (the
fleet moves their heartbeats' seqs up past them). A silenced device (``is_silent``) does nothing.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import random
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import aiomqtt

from engine.kiosk.catalogue import default_catalogue
from engine.topology import City
from protocols.device import make_message
from protocols.kinds import DeviceKind, EventKind
from protocols.notices import decode_board, shows_on
from protocols.replies import decode_command
from protocols.topics import Channel, parse_device_topic, subscription
from simulation.fleet_tasks import Sequencer

log = logging.getLogger(__name__)

MAX_TAKEN = 1_000
"""Commands and boards taken and not yet acted on, at most."""
MAX_DUE = 1_000
"""Acts waiting for their time, at most; one more is dropped (counted)."""
MAX_REMEMBERED = 1_000
"""Calls answered and notices shown remembered (the oldest forgotten first)."""


@dataclass(frozen=True, slots=True)
class LifeConfig:
    call_every_s: float = 20.0
    pass_every: int = 4
    """Every this many visitors, one comes with a pass instead of ringing."""
    session_every_s: float = 20.0
    answer_s: tuple[float, float] = (2.0, 6.0)
    """How long a rung phone takes to answer."""
    open_p: float = 0.75
    deny_p: float = 0.15
    """The rest of the calls ring until they are missed (60 s)."""
    close_after_s: float = 4.0
    first_s: float = 3.0
    """The first visitor and the first session come this long after the start."""
    seed: int = 15


def _ms() -> int:
    return int(time.time() * 1000)


class CommunityLife:
    def __init__(self, fleet, city: City, *, site: str, hall: str, config: LifeConfig = LifeConfig(),
                 is_silent: Callable[[str], bool] = lambda _: False) -> None:
        self.fleet, self.city, self.site, self.hall, self.config = fleet, city, site, hall, config
        self.is_silent = is_silent
        devices = sorted(city.devices.values(), key=lambda d: d.id)
        self.doors = [d for d in devices if d.site_id == site and d.kind == DeviceKind.DOOR]
        self.kiosks = [d.id for d in devices if d.site_id == hall and d.kind == DeviceKind.KIOSK]
        self.residents = {r.phone_id: r for r in city.residents.values() if r.site_id == site}
        self.doors_of_unit = {d.unit: d.id for d in self.doors}
        if not self.doors or not self.kiosks:
            raise ValueError(f"site: {site!r} has no door or {hall!r} no kiosk")
        now_ms = _ms()  # phones do not heartbeat: their seqs start above an earlier demo's
        self.sequencer = Sequencer([*self.doors_of_unit.values(), *self.residents, *self.kiosks],
                                   first=dict.fromkeys(self.residents, now_ms))
        self.services = list(default_catalogue().services.values())
        self.subscribed = asyncio.Event()
        self.taken: asyncio.Queue[tuple[str, bytes, bool]] = asyncio.Queue(maxsize=MAX_TAKEN)
        self._due: list[tuple[float, int, str, EventKind, dict]] = []
        self._order = itertools.count()
        self._rng = random.Random(config.seed)
        self._answered: OrderedDict[str, None] = OrderedDict()
        self._shown: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._visitors = 0
        self.sent: Counter[str] = Counter()
        """Messages published, by kind."""
        self.seen: Counter[str] = Counter()
        """Commands taken, by command (``board`` for a board, ``retained board`` for one the broker kept)."""
        self.rung: set[str] = set()
        """Phones a ``visitor_call`` reached (the community's phones at most)."""
        self.dropped = 0

    def tasks(self) -> list[tuple[str, object]]:
        return [("community-read", self.read()), ("community-act", self.act())]

    # -- what the devices hear ----------------------------------------------------------------------

    async def read(self) -> None:
        """Take the devices' commands and the site's boards until cancelled (reconnecting with backoff)."""
        attempt = 0
        while True:
            try:
                async with self.fleet._client(f"{self.fleet.prefix}-community") as client:
                    await client.subscribe(subscription(Channel.CMD), qos=1)
                    await client.subscribe(f"rb/v1/site/{self.site}/notice", qos=1)
                    self.subscribed.set()
                    attempt = 0
                    async for message in client.messages:
                        try:
                            self.taken.put_nowait((message.topic.value, bytes(message.payload), message.retain))
                        except asyncio.QueueFull:
                            self.dropped += 1
            except aiomqtt.MqttError as exc:
                log.info("demo community reader: %s", exc)
            attempt += 1
            await asyncio.sleep(min(2.0, 0.1 * 1.5 ** min(10, attempt)))  # reconnect backoff

    def _heard(self, topic: str, payload: bytes, retained: bool) -> None:
        if topic.startswith("rb/v1/site/"):
            board = decode_board(payload)
            self.seen["retained board" if retained else "board"] += 1
            for notice in board.notices if board is not None else ():
                for door in self.doors:
                    key = (notice.id, door.id)
                    if shows_on(notice, door.unit) and key not in self._shown:
                        _remember(self._shown, key)
                        self._plan(1.0 + self._rng.random(), door.id, EventKind.NOTICE_SHOWN, {"notice": notice.id})
            return
        device_id = parse_device_topic(topic).device_id
        if device_id not in self.sequencer.ids:
            return
        command = decode_command(payload)
        args = command.args
        self.seen[command.cmd] += 1
        if command.cmd == "visitor_call":
            self.rung.add(device_id)
            self._ring(device_id, str(args.get("call", "")))
        elif command.cmd == "open_door":
            self._plan(1.0, device_id, EventKind.DOOR_OPENED, {"open": True, "by": str(args.get("by", ""))[:60]})
            self._plan(1.0 + self.config.close_after_s, device_id, EventKind.DOOR_OPENED, {"open": False})
        elif command.cmd == "visitor_pass.issued":
            door = str(args.get("door", "")) or self.doors[0].id
            self._plan(2.0, door, EventKind.DOOR_CODE, {"code": str(args.get("code", ""))})

    def _ring(self, phone: str, call: str) -> None:
        """The first rung phone of a call decides for the unit: open, deny, or let it ring (the others keep quiet)."""
        if not call or call in self._answered:
            return
        _remember(self._answered, call)
        c, draw = self.config, self._rng.random()
        resident = self.residents.get(phone)
        if draw >= c.open_p + c.deny_p or resident is None or not resident.verified:
            return
        answer = "open" if draw < c.open_p else "deny"
        self._plan(self._rng.uniform(*c.answer_s), phone, EventKind.VISITOR_ANSWER, {"call": call, "answer": answer})

    # -- what the devices do ----------------------------------------------------------------------

    async def act(self) -> None:
        """Visitors, sessions and answers, each at its time, until cancelled; a failing act is logged, not fatal."""
        c = self.config
        started = time.monotonic()
        next_visitor = next_session = started + c.first_s
        for kiosk in self.kiosks:
            self._plan(0.5, kiosk, EventKind.KIOSK_SUPPLIES, {"paper": self._rng.randint(60, 95),
                                                              "card": self._rng.randint(50, 90)})
        while True:
            now = time.monotonic()
            if now >= next_visitor:
                next_visitor = now + c.call_every_s
                self._visitor()
            if now >= next_session:
                next_session = now + c.session_every_s
                self._session()
            wait_s = min(next_visitor, next_session, self._due[0][0] if self._due else next_session) - now
            try:
                taken = await asyncio.wait_for(self.taken.get(), max(0.01, wait_s))
            except TimeoutError:
                taken = None
            try:
                if taken is not None:
                    self._heard(*taken)
                await self._send_due(time.monotonic())
            except Exception as exc:  # a bad command or a lost publish: the demo goes on
                log.warning("demo community: %r", exc)

    def _visitor(self) -> None:
        self._visitors += 1
        door = self._rng.choice(self.doors)
        if self.config.pass_every and self._visitors % self.config.pass_every == 0:
            verified = [p for p, r in self.residents.items() if r.verified and r.unit == door.unit]
            if verified:
                self._plan(0.0, self._rng.choice(verified), EventKind.VISITOR_PASS, {
                    "request": f"demo-{_ms()}", "valid_until": _ms() + 600_000, "uses": 1, "door": door.id})
                return
        self._plan(0.0, door.id, EventKind.DOOR_VISITOR, {"unit": door.unit, "snapshot": f"snap/{_ms()}.jpg"})

    def _session(self) -> None:
        rng, service = self._rng, self._rng.choice(self.services)
        face = ("failed" if rng.random() < 0.05 else "passed") if service.face_check else "skipped"
        outcome = "failed" if face == "failed" else ("abandoned" if rng.random() < 0.05 else "done")
        data: dict = {"service": service.id, "outcome": outcome, "face_check": face,
                      "duration_s": round(service.typical_s * rng.uniform(0.7, 1.4), 1)}
        if service.exam and outcome == "done":
            data["score"] = max(0, min(100, round(rng.gauss(91, 5))))
        self._plan(0.0, rng.choice(self.kiosks), EventKind.KIOSK_SESSION, data)

    def _plan(self, after_s: float, device_id: str, kind: EventKind, data: dict) -> None:
        if len(self._due) >= MAX_DUE:
            self.dropped += 1
            return
        heapq.heappush(self._due, (time.monotonic() + after_s, next(self._order), device_id, kind, data))

    async def _send_due(self, now: float) -> None:
        from simulation.mqtt_fleet import Outgoing

        due = []
        while self._due and self._due[0][0] <= now:
            _, _, device_id, kind, data = heapq.heappop(self._due)
            if self.is_silent(device_id):
                continue
            seq = self.sequencer.take(device_id)
            due.append(Outgoing(device_id, make_message(kind, seq=seq, ts=_ms(), data=data), json=True))
            self.sent[kind.value] += 1
        if due:
            await self.fleet._send(due, answers=True)


def start_life(fleet, engine, city: City, *, site: str, hall: str, config: LifeConfig = LifeConfig(),
               is_silent: Callable[[str], bool] = lambda _: False, operator: str = "cc-duty"):
    """A notice posted through the engine's desk to the first two buildings of ``site`` (six hours), then the site's
    and the hall's life on ``fleet``; returns ``(life, the notice's NoticeView)`` once the life is subscribed."""
    from actors.engine_desk import post_notice
    from protocols.notices import NoticeLevel, PostNotice

    life = CommunityLife(fleet, city, site=site, hall=hall, config=config, is_silent=is_silent)
    buildings = tuple(sorted({d.unit for d in life.doors})[:2])
    notice = post_notice(engine, PostNotice(
        f"demo-{int(time.time())}", operator, site, "Lift maintenance on Thursday 9-12; please use the stairs.",
        valid_until_s=time.time() + 6 * 3600, title="Lift maintenance", level=NoticeLevel.WARNING,
        buildings=buildings))
    return fleet.run_beside(life), notice


def _remember(memory: OrderedDict, key) -> None:
    memory[key] = None
    while len(memory) > MAX_REMEMBERED:
        memory.popitem(last=False)
