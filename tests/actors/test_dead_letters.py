"""The dead-letter ledger on its own (file I/O, no Ray): what a lane writes on its way down, its next process reads."""

from actors.dead_letters import KILLS_TO_DEAD_LETTER, MAX_ENTRIES, DeadLetters, fingerprint


def test_a_message_is_dead_after_killing_two_lanes_and_the_count_survives_the_process(tmp_path):
    path = tmp_path / "bridge-b0-alarm.json"
    fp = fingerprint("rb/v1/dev/S1/alarm", b'{"seq":1}')
    first = DeadLetters(path)
    first.record_kill(fp, "rb/v1/dev/S1/alarm", "RuntimeError: boom")
    assert not first.is_dead(fp)
    second = DeadLetters(path)  # the restarted lane's process
    assert second.entries[fp].kills == 1 and not second.is_dead(fp)
    second.record_kill(fp, "rb/v1/dev/S1/alarm", "RuntimeError: boom")
    third = DeadLetters(path)
    entry = third.is_dead(fp)
    assert entry is not None and entry.kills == KILLS_TO_DEAD_LETTER and entry.reason == "RuntimeError: boom"
    assert not third.is_dead(fingerprint("rb/v1/dev/S1/alarm", b'{"seq":2}'))  # another message is not


def test_a_torn_ledger_starts_afresh_and_the_ledger_stays_bounded(tmp_path):
    path = tmp_path / "ledger.json"
    path.write_text('{"abc": {"kills": ')
    ledger = DeadLetters(path)
    assert not ledger
    for i in range(MAX_ENTRIES + 5):
        ledger.record_kill(fingerprint("t", str(i).encode()), "t", "x")
    assert len(DeadLetters(path).entries) == MAX_ENTRIES


def test_without_a_path_the_ledger_lives_in_memory():
    ledger = DeadLetters(None)
    for _ in range(2):
        ledger.record_kill("fp", "t", "x")
    assert ledger.is_dead("fp")
