"""The parts of a host core (:class:`engine.host.HostCore` composes them), one job each:

- ``config`` / ``stats`` — what a host is told (:class:`HostConfig`) and what it counts (:class:`HostStats`);
- ``sequence`` — sequence and kind checks of a device message, clock skew, alarm notes;
- ``intake`` — one device message through the host: checks, supervision, incident, or its kind's route;
- ``roster`` — the device entities (activated on first message) and responders living on the host;
- ``incidents`` — the incident store: records, open index, escalation deadlines, adoption of every change;
- ``commands`` — operator commands on incidents and devices, audited;
- ``supervision`` — heartbeat timers, offline / back online, Last Will states, journaled last-seen times;
- ``doors`` — held-open timers; ``visitors`` — visitor calls to residents; ``patrol`` — patrol positions;
- ``deadlines`` — the timer loop: each due deadline to the part that owns its kind, retried if it raises;
- ``staging`` — what a step changed, one journal batch; what a step left for the shell, kept or taken back;
- ``outboxes`` — messages for other hosts, device commands (confirm / redeliver); ``changes`` — the change stream;
- ``recovery`` — the state rebuilt from the journal.

Pure, like all of ``engine/``: no I/O, no Ray; time comes in as ``now_s``.
"""
