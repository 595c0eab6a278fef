"""The bridge's parts on their own, without Mosquitto or Ray: the probe ledger, the down-host marks, and a lane's
delivery (batch to the sink, answers to the devices, what was not taken kept and offered again)."""

from __future__ import annotations

import asyncio

from actors.bridge_delivery import Delivery, Pending
from actors.bridge_options import BridgeOptions
from actors.bridge_probe import ProbeLedger
from actors.bridge_publisher import Publisher
from actors.bridge_sink import DownHosts
from actors.bridge_stats import LaneStats
from protocols.batch import DeviceAck, Ingest, IngestResult
from protocols.device import make_message
from protocols.endpoint import MqttEndpoint
from protocols.kinds import AckStatus
from protocols.replies import RETRY_LATER, decode_ack
from protocols.topics import Channel

DEADLINE_S = 5.0


# -- the share-group probe's ledger ----------------------------------------------------------------

def test_a_probe_not_answered_in_time_is_lost_once_and_an_answered_one_never():
    ledger = ProbeLedger(timeout_s=5.0)
    ledger.sent(1, at_s=100.0)
    ledger.sent(2, at_s=101.0)
    assert ledger.lost(now_s=105.0) == []  # exactly the timeout is not late yet
    assert ledger.answered(2) and not ledger.answered(2)  # an answer counts once
    assert ledger.lost(now_s=105.5) == [1]
    assert ledger.lost(now_s=200.0) == [] and len(ledger) == 0
    assert not ledger.answered(99)  # not one of ours


def test_probes_out_during_an_outage_are_not_counted_lost():
    ledger = ProbeLedger(timeout_s=5.0)
    ledger.sent(1, at_s=0.0)
    ledger.clear()
    assert ledger.lost(now_s=60.0) == []


# -- hosts marked down by the sink -----------------------------------------------------------------

class FakeClock:
    def __init__(self) -> None:
        self.now_s = 0.0

    def __call__(self) -> float:
        return self.now_s


def test_a_failed_host_gets_its_parts_back_at_once_until_its_mark_runs_out():
    clock = FakeClock()
    down = DownHosts(down_for_s=0.5, clock=clock)
    assert down.refusal("h0") is None  # never failed: asked
    down.settled("h0")
    down.failed("h0", "host h0: ActorDiedError: gone")
    down.settled("h0")
    clock.now_s = 0.4
    assert down.refusal("h0") == "host h0: ActorDiedError: gone"
    assert down.refusal("h1") is None  # the others are asked as ever


def test_after_the_mark_one_call_probes_the_host_and_the_others_wait_for_it():
    clock = FakeClock()
    down = DownHosts(down_for_s=0.5, clock=clock)
    down.failed("h0", "why")
    clock.now_s = 0.6
    assert down.refusal("h0") is None  # this call is the probe
    assert down.refusal("h0") == "why"  # while it is out, the next part comes back at once
    down.answered("h0")
    down.settled("h0")
    assert down.refusal("h0") is None and down.refusal("h0") is None  # up again: every call asks it


def test_a_failed_probe_marks_the_host_down_again_from_now():
    clock = FakeClock()
    down = DownHosts(down_for_s=0.5, clock=clock)
    down.failed("h0", "first")
    clock.now_s = 1.0
    assert down.refusal("h0") is None
    down.failed("h0", "second")
    down.settled("h0")
    clock.now_s = 1.4
    assert down.refusal("h0") == "second"
    clock.now_s = 1.6
    assert down.refusal("h0") is None


# -- a lane's delivery -----------------------------------------------------------------------------

class FakeClient:
    """Records what the bridge publishes, as the broker would get it."""

    def __init__(self) -> None:
        self.published: list[tuple[str, bytes]] = []

    async def publish(self, topic, payload, *, qos, retain, timeout) -> None:
        self.published.append((topic, payload))

    def acks_to(self, device_id: str) -> list:
        return [decode_ack(p) for t, p in self.published if t == f"rb/v1/dev/{device_id}/ack"]


class FakeSink:
    """Hosts that take nothing while ``down``, and ack every alarm once up."""

    def __init__(self) -> None:
        self.down = True
        self.offered: list[list[Ingest]] = []

    async def ingest(self, items: list[Ingest]) -> IngestResult:
        self.offered.append(list(items))
        if self.down:
            return IngestResult(0, 0, 0, [], list(items), "host h0: restarting")
        acks = [DeviceAck(i.device_id, i.message.seq, AckStatus.ACK, incident_id=f"h0#{i.message.seq}")
                for i in items if i.message.event_kind.must_be_taken]
        return IngestResult(len(items), 0, 0, acks)


def delivery(sink: FakeSink, client: FakeClient, stopping: asyncio.Event) -> tuple[Delivery, LaneStats]:
    options = BridgeOptions(MqttEndpoint("127.0.0.1", 1), retry_first_s=0.001, retry_cap_s=0.004)
    publisher = Publisher(options)
    publisher.clients[Channel.ALARM] = client
    stats = LaneStats()
    return Delivery(Channel.ALARM, options, sink=sink, stats=stats, publisher=publisher, stopping=stopping), stats


def batch(*items: tuple[Ingest, bool]) -> Pending:
    return Pending(items=[i for i, _ in items], json_of={(i.device_id, i.message.seq): j for i, j in items})


async def wait_for(condition) -> None:
    async with asyncio.timeout(DEADLINE_S):
        while not condition():
            await asyncio.sleep(0)


def test_what_no_host_took_is_naked_once_kept_if_an_alarm_and_acked_when_a_host_takes_it():
    async def scenario() -> None:
        sink, client, stopping = FakeSink(), FakeClient(), asyncio.Event()
        lane, stats = delivery(sink, client, stopping)
        panic = Ingest("S1", make_message("school.panic", seq=7, ts=1000), 1000, True)
        heartbeat = Ingest("D1", make_message("heartbeat", seq=3, ts=1000), 1000, False)

        assert not await lane.send(client, batch((panic, True), (heartbeat, False)))
        await lane.send(client, batch((panic, True)))  # the device sends it again while its host is away
        await wait_for(lambda: len(client.published) == 3)
        naks = client.acks_to("S1")
        assert [(a.ok, a.seq) for a in naks] == [(False, 7), (False, 7)]
        assert naks[0].reason == f"{RETRY_LATER}: host h0: restarting"
        assert client.published[0][1][:1] == b"{"  # in the encoding the device spoke
        assert [(a.ok, a.seq) for a in client.acks_to("D1")] == [(False, 3)]
        assert (stats.not_taken, stats.dropped, stats.retrying) == (3, 1, 1)  # the heartbeat is not kept

        sink.down = False
        retrying = asyncio.create_task(lane.retry_not_taken())
        await wait_for(lambda: len(client.acks_to("S1")) == 3)
        stopping.set()
        await retrying
        ack = client.acks_to("S1")[-1]
        assert ack.ok and ack.seq == 7 and ack.incident == "h0#7"
        assert [i.message.seq for i in sink.offered[-1]] == [7]  # only the alarm, once
        assert (stats.retried, stats.retrying, stats.accepted, stats.acks_sent) == (1, 0, 1, 1)

    asyncio.run(scenario())


def test_a_retry_the_hosts_still_do_not_take_is_kept_without_telling_the_device_again():
    async def scenario() -> None:
        sink, client, stopping = FakeSink(), FakeClient(), asyncio.Event()
        lane, stats = delivery(sink, client, stopping)
        panic = Ingest("S1", make_message("school.panic", seq=1, ts=1000), 1000, False)
        await lane.send(client, batch((panic, False)))
        retrying = asyncio.create_task(lane.retry_not_taken())
        await wait_for(lambda: len(sink.offered) >= 4)  # offered again and again, never lost
        stopping.set()
        await retrying
        await wait_for(lambda: len(client.published) >= 1)
        assert len(client.acks_to("S1")) == 1  # one NAK for the device, not one per retry
        assert stats.not_taken == 1 and stats.retrying == 1 and stats.retried >= 3
        assert lane.retry.delay_s == 0.004  # backed off to the cap

    asyncio.run(scenario())


def test_a_device_flooding_urgent_kinds_takes_at_most_four_of_an_alarm_batch_and_alarms_all_of_it():
    """A phone with its own credentials may publish visitor.answer on its alarm topic as fast as it likes: each batch
    takes four of it and NAKs the rest at once, so real alarms are not queued behind a flood in the same batch."""
    from types import SimpleNamespace

    from actors.bridge_lane import InboundLane
    from protocols.device import encode_device_message

    naks = []
    publisher = SimpleNamespace(publish_later=lambda lane, device, payload: naks.append((lane, device, payload)))
    stats = LaneStats()
    lane = InboundLane(Channel.ALARM, [], BridgeOptions(MqttEndpoint("127.0.0.1", 1)), sink=None, stats=stats,
                       publisher=publisher, delivery=None, dead_letters=None, queues={}, stopping=asyncio.Event())
    pending = Pending()
    for seq in range(1, 11):
        answer = make_message("visitor.answer", seq=seq, ts=1, data={"call": f"C9-door1#call@{seq}", "answer": "open"})
        lane._take_one("rb/v1/dev/C0001-u1-r1-phone/alarm", encode_device_message(answer), pending)
        alarm = make_message("school.panic", seq=seq, ts=1)
        lane._take_one(f"rb/v1/dev/S0001-panic{seq}/alarm", encode_device_message(alarm), pending)
    kinds = [item.message.event_kind.value for item in pending.items]
    assert kinds.count("visitor.answer") == 4 and kinds.count("school.panic") == 10
    assert len(naks) == 6 and stats.refused == 6
    assert {device for _, device, _ in naks} == {"C0001-u1-r1-phone"}
    assert decode_ack(naks[0][2]).reason.startswith("kind: more than 4 visitor.answer")
    assert decode_ack(naks[0][2]).seq == 5
    lane._take_one("rb/v1/dev/C0001-u1-r1-phone/alarm", encode_device_message(
        make_message("visitor.answer", seq=11, ts=1, data={"call": "x", "answer": "open"})), Pending())
    assert len(naks) == 6  # the next batch takes it again
