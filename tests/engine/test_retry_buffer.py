"""The bridge's retry buffer on its own: what it keeps and drops, the order it gives back, how long it waits."""

from engine.retry_buffer import Keep, RetryBuffer
from protocols.batch import Ingest
from protocols.device import make_message


def alarm(device_id: str = "S1", *, seq: int = 1, ts: int = 1000, boot: int = 0, kind: str = "school.panic") -> Ingest:
    return Ingest(device_id, make_message(kind, seq=seq, ts=ts, boot=boot), 1000)


def buffer(max_items: int = 10) -> RetryBuffer:
    return RetryBuffer(max_items=max_items, first_s=0.2, cap_s=5.0)


def test_alarms_and_reports_are_kept_and_telemetry_is_not():
    kept = buffer()
    assert kept.keep(alarm(), False) is Keep.KEPT
    report = Ingest("K1", make_message("kiosk.fault", seq=1, ts=1000, data={"code": "paper"}), 1000)
    assert kept.keep(report, True) is Keep.KEPT
    heartbeat = Ingest("D1", make_message("heartbeat", seq=1, ts=1000), 1000)
    outcome = kept.keep(heartbeat, False)
    assert outcome is Keep.TELEMETRY and outcome.dropped
    assert len(kept) == 2
    assert kept.take(10) == [(alarm(), False), (report, True)]


def test_a_resend_of_a_kept_alarm_is_one_entry():
    kept = buffer()
    assert kept.keep(alarm(), False) is Keep.KEPT
    outcome = kept.keep(alarm(), False)
    assert outcome is Keep.ALREADY_KEPT and not outcome.dropped
    assert len(kept) == 1


def test_another_alarm_reusing_a_seq_or_a_new_boot_is_another_entry():
    kept = buffer()
    assert kept.keep(alarm(seq=1, ts=1000), False) is Keep.KEPT
    assert kept.keep(alarm(seq=1, ts=2000), False) is Keep.KEPT  # another ts: another message
    assert kept.keep(alarm(seq=1, ts=1000, kind="school.duress"), False) is Keep.KEPT
    assert kept.keep(alarm(seq=1, ts=1000, boot=1), False) is Keep.KEPT
    assert kept.keep(alarm("S2", seq=1, ts=1000), False) is Keep.KEPT
    assert len(kept) == 5


def test_a_full_buffer_drops_the_newcomer_and_keeps_the_oldest():
    kept = buffer(max_items=2)
    assert kept.keep(alarm(seq=1), False) is Keep.KEPT
    assert kept.keep(alarm(seq=2), False) is Keep.KEPT
    outcome = kept.keep(alarm(seq=3), False)
    assert outcome is Keep.FULL and outcome.dropped
    assert [item.message.seq for item, _ in kept.take(10)] == [1, 2]


def test_take_gives_the_oldest_first_and_leaves_the_rest():
    kept = buffer()
    for seq in range(1, 6):
        kept.keep(alarm(seq=seq), seq % 2 == 0)
    first = kept.take(2)
    assert [(item.message.seq, as_json) for item, as_json in first] == [(1, False), (2, True)]
    assert len(kept) == 3
    kept.keep(first[0][0], False)  # not taken again: kept again, now the newest
    assert [item.message.seq for item, _ in kept.take(10)] == [3, 4, 5, 1]
    assert len(kept) == 0 and kept.take(10) == []


def test_the_wait_doubles_while_offers_are_not_taken_up_to_the_cap_and_resets():
    kept = buffer()
    assert kept.delay_s == 0.2
    waits = []
    for _ in range(7):
        kept.offered(taken=False)
        waits.append(kept.delay_s)
    assert waits == [0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 5.0]
    kept.offered(taken=True)
    assert kept.delay_s == 0.2
    kept.offered(taken=False)
    kept.idle()
    assert kept.delay_s == 0.2
