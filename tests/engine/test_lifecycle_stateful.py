"""A hypothesis state machine over a real host core: triggers, repeats, duplicates, acknowledgements,
deadlines, resolutions, closings and restarts from the journal, with the invariants checked after
every step."""

from collections import Counter

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from engine.errors import InvalidTransition
from engine.host import INCIDENT
from engine.hosting.incidents import UNINDEXED
from engine.journal import MemoryJournal
from protocols import IncidentState, Level
from protocols.kinds import AckStatus
from protocols.records import Action, OperatorCommand
from tests.engine.helpers import Pair

ALARMS = {"panic_box": ["school.panic", "school.duress"], "door": ["door.forced", "door.held_open"],
          "camera": ["camera.throw", "camera.intrusion"], "kiosk": ["kiosk.sos", "kiosk.fault"]}


class IncidentLifecycle(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.journal = MemoryJournal()
        self.pair = Pair(journal=self.journal)
        self.devices = [d.id for d in self.pair.city.devices.values() if d.kind.value in ALARMS][:6]
        self.last_alarm: dict[str, tuple[int, str, int]] = {}  # device → (seq, kind, ts_ms) of its newest alarm

    def _records(self, *states):
        return sorted(r.id for r in self.journal.incidents.values() if r.state in states)

    @rule(index=st.integers(0, 5), which=st.integers(0, 1))
    def trigger(self, index, which):
        device_id = self.devices[index % len(self.devices)]
        kind = ALARMS[self.pair.city.devices[device_id].kind.value][which]
        result = self.pair.send(device_id, kind)
        assert result.accounted == 1 and result.refused == 0
        if kind != "kiosk.fault":
            self.last_alarm[device_id] = (self.pair.seq[device_id], kind, int(self.pair.now_s * 1000))

    @precondition(lambda self: self.last_alarm)
    @rule(data=st.data())
    def duplicate(self, data):
        device_id = data.draw(st.sampled_from(sorted(self.last_alarm)))
        seq, kind, ts_ms = self.last_alarm[device_id]
        before = len(self.journal.incidents)
        result = self.pair.send(device_id, kind, seq=seq, ts_ms=ts_ms)  # the very same alarm, sent again
        assert result.acks[0].status is AckStatus.DUPLICATE
        assert len(self.journal.incidents) == before

    @precondition(lambda self: self.last_alarm)
    @rule(data=st.data())
    def same_seq_other_alarm(self, data):
        """A device that reuses a seq (it rebooted without a boot id) for another alarm kind: a new alarm."""
        device_id = data.draw(st.sampled_from(sorted(self.last_alarm)))
        seq, kind, ts_ms = self.last_alarm[device_id]
        other = next(k for k in ALARMS[self.pair.city.devices[device_id].kind.value] if k != kind)
        if other == "kiosk.fault":
            return
        result = self.pair.send(device_id, other, seq=seq, ts_ms=ts_ms)
        assert result.acks[0].status is AckStatus.ACK
        self.last_alarm[device_id] = (seq, other, ts_ms)

    @rule(data=st.data())
    def acknowledge(self, data):
        raised = self._records(IncidentState.RAISED)
        if not raised:
            return
        record = self.journal.incidents[data.draw(st.sampled_from(raised))]
        target = data.draw(st.sampled_from(record.notified))
        level = next(e.level for e in record.timeline if e.target == target and e.event.value == "notified")
        self.pair.host.command(OperatorCommand(Action.ACKNOWLEDGE, record.id, "op", level, target),
                               now_s=self.pair.now_s)

    @rule(data=st.data())
    def resolve(self, data):
        acked = self._records(IncidentState.ACKNOWLEDGED)
        if acked:
            incident_id = data.draw(st.sampled_from(acked))
            self.pair.host.command(OperatorCommand(Action.RESOLVE, incident_id, "chief", Level.COMMAND_CENTER, "CC"),
                                   now_s=self.pair.now_s)

    @rule(data=st.data(), disposition=st.sampled_from(["", "handled", "  "]))
    def close(self, data, disposition):
        resolved = self._records(IncidentState.RESOLVED)
        if not resolved:
            return
        incident_id = data.draw(st.sampled_from(resolved))
        command = OperatorCommand(Action.CLOSE, incident_id, "chief", Level.COMMAND_CENTER, "CC",
                                  disposition=disposition)
        try:
            self.pair.host.command(command, now_s=self.pair.now_s)
        except InvalidTransition:
            assert not disposition.strip()
        else:
            assert disposition.strip()

    @rule(dt=st.floats(0.0, 200.0))
    def time_passes(self, dt):
        self.pair.advance(self.pair.now_s + dt)

    @rule()
    def restart_from_journal(self):
        self.pair.restart()

    @invariant()
    def never_two_active_incidents_for_one_device_and_kind(self):
        active = Counter((r.device_id, r.kind) for r in self.journal.incidents.values()
                         if r.is_active and r.kind not in UNINDEXED)  # those join by their domain's rule
        assert all(n == 1 for n in active.values()), active

    @invariant()
    def every_unacknowledged_incident_has_exactly_one_pending_deadline(self):
        scheduler = self.pair.host.scheduler
        for record in self.journal.incidents.values():
            due = scheduler.due_of((INCIDENT, record.id))
            if record.state is IncidentState.RAISED:
                assert record.deadline_s is not None and due == record.deadline_s, record
                assert record.deadline_s > self.pair.now_s or record.deadline_s == due
            else:
                assert due is None and record.deadline_s is None

    @invariant()
    def every_closed_incident_has_a_disposition(self):
        for record in self.journal.incidents.values():
            if record.state.is_terminal:
                assert record.disposition.strip(), record

    @invariant()
    def memory_and_journal_agree(self):
        for incident_id, record in self.pair.host.incidents.items():
            assert self.journal.incidents[incident_id] == record


IncidentLifecycle.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
TestIncidentLifecycle = IncidentLifecycle.TestCase
