import pytest

from engine.errors import UnknownDevice
from engine.journal import MemoryJournal
from engine.policy import PolicySet, default_policies
from protocols import IncidentState, Level, ProtocolError, TimelineEvent
from protocols.batch import Ingest, StateChange
from protocols.device import make_message
from protocols.kinds import AckStatus, DeviceKind, IncidentKind
from protocols.records import Action, OperatorCommand
from tests.engine.helpers import Pair


def test_alarm_is_journaled_before_its_ack_and_names_its_incident():
    pair = Pair()
    box = pair.device("panic_box")
    result = pair.send(box, "school.panic", {"zone": "gate"})
    (ack,) = result.acks
    assert (ack.status, ack.seq, ack.incident_id) == (AckStatus.ACK, 1, f"{box}#1")
    assert pair.journal.incidents[ack.incident_id].state is IncidentState.RAISED
    (row,) = pair.journal.alarm_seqs[box].values()
    assert (row.seq, row.incident_id, row.boot) == (1, ack.incident_id, 0) and row.digest != 0


def test_duplicate_alarm_is_acked_again_but_never_raised_twice():
    pair = Pair()
    box = pair.device("panic_box")
    first = pair.send(box, "school.panic", seq=7)
    again = pair.send(box, "school.panic", seq=7)
    assert again.acks[0].status is AckStatus.DUPLICATE and again.acks[0].incident_id == first.acks[0].incident_id
    assert len(pair.journal.incidents) == 1


def test_repeat_while_open_is_counted_not_raised():
    pair = Pair()
    box = pair.device("panic_box")
    pair.send(box, "school.panic")
    second = pair.send(box, "school.panic")
    assert second.acks[0].status is AckStatus.ACK
    (record,) = pair.journal.incidents.values()
    assert record.repeats == 1


def test_resolved_incident_rearms_the_device():
    pair = Pair()
    box = pair.device("panic_box")
    first = pair.send(box, "school.panic").acks[0].incident_id
    station = pair.city.precincts["P1"].station_id
    for action in (Action.ACKNOWLEDGE, Action.RESOLVE):
        pair.host.command(OperatorCommand(action, first, "op", Level.POLICE_STATION, station), now_s=1)
    second = pair.send(box, "school.panic").acks[0].incident_id
    assert second != first


def test_unknown_device_and_wrong_kind_are_refused_with_reasons():
    pair = Pair()
    door = pair.device("door")
    result = pair.send("ghost", "heartbeat")
    assert result.acks[0].reason == "device_id: unknown device 'ghost'"
    assert pair.send(door, "school.panic").acks[0].reason == "kind: school.panic is not sent by a door"


def test_an_event_seq_far_behind_the_newest_is_a_restart_of_the_device_not_a_refusal():
    pair = Pair()
    door = pair.device("door")
    pair.send(door, "heartbeat", seq=100)
    restarted = pair.send(door, "heartbeat", seq=36)
    assert (restarted.accepted, restarted.refused) == (1, 0)
    assert pair.host.statistics().seq_rearmed == 1
    assert pair.send(door, "heartbeat", seq=36).duplicates == 1  # the new window holds it
    assert pair.send(door, "heartbeat", seq=37).accepted == 1


def test_events_reordered_by_several_bridges_are_each_taken_once_and_old_state_never_wins():
    pair = Pair()
    door = pair.device("door")
    assert pair.send(door, "door.opened", {"open": True}, seq=5).accepted == 1
    late = pair.send(door, "door.opened", {"open": False}, seq=4)  # overtaken by seq 5
    assert (late.accepted, late.refused, late.duplicates) == (1, 0, 0)
    assert pair.host.devices[door].door_open_since_s is not None  # the newer "open" stands
    assert pair.send(door, "door.opened", {"open": False}, seq=4).duplicates == 1
    for seq in (9, 7, 8, 6):
        assert pair.send(door, "heartbeat", seq=seq).accepted == 1
    assert pair.send(door, "heartbeat", seq=7).duplicates == 1


def test_alarm_arriving_after_a_newer_event_is_still_accepted():
    pair = Pair()
    box = pair.device("panic_box")
    pair.send(box, "heartbeat", seq=11)
    result = pair.send(box, "school.panic", seq=10)  # the alarm lane was slower
    assert result.acks[0].status is AckStatus.ACK and result.acks[0].incident_id


def test_escalation_copy_reaches_the_command_center_host():
    pair = Pair()
    box = pair.device("panic_box")
    incident_id = pair.send(box, "school.panic").acks[0].incident_id
    assert pair.cc.responders["CC"].queue == {}
    pair.advance(30.0)
    assert pair.cc.responders["CC"].queue[incident_id].level is Level.COMMAND_CENTER
    pair.host.command(OperatorCommand(Action.ACKNOWLEDGE, incident_id, "chief", Level.COMMAND_CENTER, "CC"), now_s=31)
    pair.carry()
    assert pair.cc.responders["CC"].queue[incident_id].state is IncidentState.ACKNOWLEDGED


def test_guard_room_and_station_hold_the_incident_until_it_ends():
    pair = Pair()
    box = pair.device("panic_box")
    incident_id = pair.send(box, "school.panic").acks[0].incident_id
    site = pair.city.sites[pair.city.devices[box].site_id]
    station = pair.city.precincts["P1"].station_id
    assert incident_id in pair.host.responders[site.guard_room_id].queue
    assert incident_id in pair.host.responders[station].queue
    pair.host.command(OperatorCommand(Action.FALSE_ALARM, incident_id, "op", Level.POLICE_STATION, station,
                                      disposition="drill"), now_s=2)
    assert incident_id not in pair.host.responders[station].queue


def test_silent_device_goes_offline_exactly_once_and_back_online():
    pair = Pair()
    box = pair.device("panic_box")
    pair.send(box, "heartbeat")
    for t in range(10, 400, 10):
        pair.advance(float(t))
    offline = [r for r in pair.journal.incidents.values() if r.kind is IncidentKind.DEVICE_OFFLINE]
    assert len(offline) == 1
    assert offline[0].raised_s == 90.0  # 3 missed 30 s heartbeats
    # a panic box offline for 300 s more escalates to its station
    assert offline[0].level is Level.POLICE_STATION
    pair.send(box, "heartbeat")
    assert pair.journal.incidents[offline[0].id].state is IncidentState.CANCELLED
    assert pair.journal.incidents[offline[0].id].disposition == "device back online"


def _offline_incidents(pair):
    return [r for r in pair.journal.incidents.values() if r.kind is IncidentKind.DEVICE_OFFLINE]


def test_last_will_takes_a_device_offline_at_once_and_missed_heartbeats_add_nothing():
    pair = Pair()
    box = pair.device("panic_box")
    pair.send(box, "heartbeat")
    pair.now_s = 5.0
    assert pair.host.device_states([StateChange(box, online=False)], now_s=5.0) == 1
    assert pair.host.device_states([StateChange(box, online=False)], now_s=6.0) == 0  # a second will: same outage
    for t in range(10, 200, 10):
        pair.advance(float(t))
    offline = _offline_incidents(pair)
    assert len(offline) == 1
    assert offline[0].raised_s == 5.0
    assert "last will" in offline[0].timeline[0].note
    # the device reconnects and says so: device.online, the offline incident withdrawn
    pair.now_s = 200.0
    assert pair.host.device_states([StateChange(box, online=True)], now_s=200.0) == 1
    assert pair.journal.incidents[offline[0].id].disposition == "device back online"
    assert any(row.action == "device.online" and row.target == box for row in pair.journal.audit)
    # and a later silence is a new outage, raised once more
    for t in range(210, 400, 10):
        pair.advance(float(t))
    assert len(_offline_incidents(pair)) == 2


def test_states_of_unsupervised_or_unknown_devices_change_nothing():
    pair = Pair()
    phone = pair.device("resident_phone")
    assert pair.host.device_states([StateChange(phone, online=False), StateChange("nope", online=False)],
                                   now_s=1.0) == 0
    assert _offline_incidents(pair) == []


def test_supervision_interval_per_device_kind_from_the_policies():
    policies = default_policies()
    pair = Pair(policies=PolicySet(policies.by_kind, policies.overrides, {DeviceKind.CAMERA: 60.0}, 2))
    camera, box = pair.device("camera"), pair.device("panic_box")
    pair.send(camera, "heartbeat")
    pair.send(box, "heartbeat")
    for t in range(10, 200, 10):
        pair.advance(float(t))
    raised = {r.device_id: r.raised_s for r in _offline_incidents(pair)}
    assert raised == {camera: 120.0, box: 60.0}  # 2 × 60 s for cameras; 2 × the engine's 30 s otherwise


def test_heartbeats_keep_a_device_online():
    pair = Pair()
    camera = pair.device("camera")
    for t in range(0, 600, 30):
        pair.now_s = float(t)
        pair.send(camera, "heartbeat")
        pair.advance(float(t) + 29)
    assert not [r for r in pair.journal.incidents.values() if r.kind is IncidentKind.DEVICE_OFFLINE]


def test_door_held_open_past_its_limit_raises_once_closing_in_time_does_not():
    pair = Pair()
    door = pair.device("door")
    pair.send(door, "door.opened", {"open": True})
    pair.advance(100.0)
    pair.send(door, "door.opened", {"open": False})
    pair.advance(200.0)
    assert not [r for r in pair.journal.incidents.values() if r.kind is IncidentKind.DOOR_HELD_OPEN]
    pair.send(door, "door.opened", {"open": True})
    pair.advance(400.0)
    held = [r for r in pair.journal.incidents.values() if r.kind is IncidentKind.DOOR_HELD_OPEN]
    assert len(held) == 1 and held[0].raised_s == 320.0


def test_visitor_call_rings_only_verified_residents_of_the_unit():
    pair = Pair()
    door_id = pair.device("door")
    door = pair.city.devices[door_id]
    pair.send(door_id, "door.visitor", {"unit": door.unit, "snapshot": "snap/1.jpg"})
    rung = {c.device_id for c in pair.host.take_device_commands() if c.command == "visitor_call"}
    expected = {r.phone_id for r in pair.city.residents.values()
                if r.site_id == door.site_id and r.unit == door.unit and r.verified}
    assert rung == expected


def test_restart_from_journal_keeps_deadlines_and_dedup():
    journal = MemoryJournal()
    pair = Pair(journal=journal)
    box = pair.device("panic_box")
    incident_id = pair.send(box, "school.panic", seq=5).acks[0].incident_id
    pair.now_s = 10.0
    pair.restart()
    assert pair.host.next_deadline_s() == 30.0
    again = pair.send(box, "school.panic", seq=5, ts_ms=0)  # the same message, re-sent
    assert again.acks[0].status is AckStatus.DUPLICATE and again.acks[0].incident_id == incident_id
    pair.send(box, "school.panic", seq=6)
    assert len(journal.incidents) == 1 and journal.incidents[incident_id].repeats == 1
    pair.advance(30.0)
    assert journal.incidents[incident_id].timeline[-1].event is TimelineEvent.NOTIFIED
    assert journal.incidents[incident_id].level is Level.COMMAND_CENTER


def test_refused_command_is_audited():
    pair = Pair()
    box = pair.device("panic_box")
    incident_id = pair.send(box, "school.panic").acks[0].incident_id
    try:
        pair.host.command(OperatorCommand(Action.ACKNOWLEDGE, incident_id, "mallory", Level.GUARD_ROOM, "X-guard"),
                          now_s=1)
    except Exception:
        pass
    row = pair.journal.audit[-1]
    assert (row.actor, row.role, row.action, row.target, row.outcome) == (
        "mallory", "guard_room", "acknowledge", incident_id, "refused")
    assert "never notified" in row.reason


def test_device_commands_follow_the_devices_encoding_and_operator_commands_are_audited():
    pair = Pair()
    box = pair.device("panic_box")
    message = make_message("school.panic", seq=1, ts=0)
    pair.host.ingest([Ingest(box, message, 0, json=True)], now_s=0.0)
    (siren,) = pair.host.take_device_commands()
    assert (siren.device_id, siren.command, siren.json) == (box, "siren", True)
    door = pair.device("door")
    pair.host.command_device(door, "open_door", {"by": "duty"}, actor="P1-station-duty", now_s=1.0)
    (opened,) = pair.host.take_device_commands()
    assert (opened.command, opened.args, opened.json) == ("open_door", {"by": "duty"}, False)
    assert any(r.action == "device.command" and r.target == door and r.actor == "P1-station-duty"
               for r in pair.journal.audit)
    with pytest.raises(UnknownDevice):
        pair.host.command_device("ghost", "open_door", {}, actor="x", now_s=1.0)


def test_a_device_that_reboots_and_starts_again_at_seq_1_raises_its_next_alarm():
    pair = Pair()
    door = pair.device("door")
    first = pair.send(door, "door.forced", seq=1, ts_ms=1_000).acks[0]
    for action in (Action.ACKNOWLEDGE, Action.RESOLVE):
        pair.host.command(OperatorCommand(action, first.incident_id, "chief", Level.COMMAND_CENTER, "CC"), now_s=1)
    pair.now_s = 600.0
    after_reboot = pair.send(door, "door.forced", seq=1).acks[0]  # no boot id: told apart by its content (ts)
    assert after_reboot.status is AckStatus.ACK and after_reboot.incident_id != first.incident_id
    with_boot = pair.send(door, "door.forced", seq=1, ts_ms=600_000, boot=2).acks[0]  # same bytes but a new boot
    assert with_boot.status is AckStatus.ACK
    assert pair.send(door, "door.forced", seq=1, ts_ms=600_000, boot=2).acks[0].status is AckStatus.DUPLICATE


def test_the_same_seq_with_another_kind_is_a_new_alarm_not_a_duplicate():
    pair = Pair()
    box = pair.device("panic_box")
    panic = pair.send(box, "school.panic", seq=10).acks[0]
    duress = pair.send(box, "school.duress", seq=10).acks[0]
    assert duress.status is AckStatus.ACK and duress.incident_id != panic.incident_id
    kinds = sorted(r.kind.value for r in pair.journal.incidents.values())
    assert kinds == ["school.duress", "school.panic"]
    assert pair.send(box, "school.duress", seq=10).acks[0].status is AckStatus.DUPLICATE


def test_alarms_are_never_refused_for_arriving_late_however_far_behind():
    pair = Pair()
    box = pair.device("panic_box")
    for seq in range(200, 600):  # a device that raised many alarms, then its delayed first sends arrive
        assert pair.send(box, "school.panic", seq=seq).refused == 0
    for seq in range(1, 200):
        result = pair.send(box, "school.panic", seq=seq)
        assert (result.refused, result.acks[0].status) == (0, AckStatus.ACK)


def test_an_absurd_alarm_seq_is_refused_by_the_codec_and_the_device_keeps_working():
    pair = Pair()
    box = pair.device("panic_box")
    with pytest.raises(ProtocolError, match=r"^seq: expected int <= 9007199254740991$"):
        make_message("school.panic", seq=2**63 - 1, ts=0)
    pair.send(box, "heartbeat", seq=2**53 - 1)  # the largest seq there is, then an ordinary one
    assert pair.send(box, "heartbeat", seq=12).accepted == 1
    assert pair.send(box, "school.panic", seq=13).acks[0].status is AckStatus.ACK


def test_a_message_stamped_outside_the_dc09_window_is_raised_and_flagged():
    pair = Pair(now_s=1_000.0)
    box = pair.device("panic_box")
    late = make_message("school.panic", seq=1, ts=900_000)  # stamped 100 s before it arrived
    result = pair.host.ingest([Ingest(box, late, received_ms=1_000_000)], now_s=1_000.0)
    (ack,) = result.acks
    assert ack.status is AckStatus.ACK
    record = pair.journal.incidents[ack.incident_id]
    assert "sent 100 s before it arrived" in record.timeline[0].note
    assert pair.host.statistics().clock_skewed == 1
    on_time = make_message("school.duress", seq=2, ts=1_010_000)
    pair.host.ingest([Ingest(box, on_time, received_ms=1_000_000)], now_s=1_000.0)
    assert pair.host.statistics().clock_skewed == 1


def test_alarm_dedup_survives_a_restart_with_boot_and_digest():
    pair = Pair()
    box = pair.device("panic_box")
    first = pair.send(box, "school.panic", seq=3, ts_ms=5, boot=9).acks[0]
    pair.restart()
    assert pair.send(box, "school.panic", seq=3, ts_ms=5, boot=9).acks[0].status is AckStatus.DUPLICATE
    other = pair.send(box, "school.duress", seq=3, ts_ms=5, boot=9).acks[0]
    assert other.status is AckStatus.ACK and other.incident_id != first.incident_id
