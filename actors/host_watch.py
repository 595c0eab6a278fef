"""Watching the hosts for observers (the console gateway, the log of ``redband run``): their incident changes as
soon as there are some (long polls), their counters, and which hosts are answering. A host that does not answer
(restarting, its node lost, hung) is left out, asked again a little later, and logged once per outage."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import ray

from actors.engine_options import GATHER_S, HOST_RETRY_S, LONG_POLL_S, OBSERVER_TIMEOUT_S
from engine.host import Change
from protocols.batch import decode_changes

log = logging.getLogger(__name__)


def changes_of(host_id: str, payload: bytes) -> list[Change]:
    """A host's change buffer, decoded; copies of incidents it does not own (a stale replica) left out."""
    return [Change(record, new_from) for record, new_from in decode_changes(payload) if record.host_id == host_id]


class HostWatch:
    def __init__(self, hosts: Callable[[], dict], host_ids: tuple[str, ...]) -> None:
        self._hosts = hosts  # the engine's current handles (they change when it stops)
        self.host_ids = host_ids
        self._change_polls: dict[str, ray.ObjectRef] = {}  # one outstanding long poll per host
        self._down: dict[str, float] = {}  # host → when it stopped answering (logged once per outage)
        self._retry_at: dict[str, float] = {}  # host → when to ask it again (monotonic)

    # -- who answers -----------------------------------------------------------------------------------

    def answering(self) -> list[str]:
        now = time.monotonic()
        return [h for h in self.host_ids if self._retry_at.get(h, 0.0) <= now]

    def failed(self, host_id: str, exc: Exception) -> None:
        """Once per outage in the log; the host is asked again after ``HOST_RETRY_S``, not at every poll."""
        self._retry_at[host_id] = time.monotonic() + HOST_RETRY_S
        if host_id not in self._down:
            self._down[host_id] = time.time()
            log.warning("host %s is not answering (%s); Ray is restarting it, its precinct waits",
                        host_id, str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__,
                        extra={"host_id": host_id})

    def answered(self, host_id: str) -> None:
        self._retry_at.pop(host_id, None)
        since = self._down.pop(host_id, None)
        if since is not None:
            log.warning("host %s is answering again after %.1f s", host_id, time.time() - since,
                        extra={"host_id": host_id})

    # -- changes ---------------------------------------------------------------------------------------

    def take_changes(self) -> list[Change]:
        """Incident changes since the last call, from the hosts that own them, in each host's order."""
        hosts = self._hosts()
        return self._collect({h: hosts[h].take_changes.remote() for h in self.answering()})

    def next_changes(self, wait_s: float) -> list[Change]:
        """Changes as soon as a host has some, or none after ``wait_s``. For one consumer (the console gateway).

        A quiet host holds a long poll (``HostActor.wait_changes``) that returns the moment it makes a change;
        a busy one (it had changes last time) is simply asked for them, all busy hosts in one round trip, as
        the gateway takes a burst in ticks."""
        hosts = self._hosts()
        takes = {h: hosts[h].take_changes.remote() for h in self.answering() if h not in self._change_polls}
        changes = self._collect(takes)
        polls = list(self._change_polls.values())
        ready, _ = ray.wait(polls, num_returns=len(polls), timeout=0) if polls else ([], [])
        changes += self._collect_polls(set(ready))
        if changes:
            return changes
        for host_id in self.answering():  # nothing anywhere: every host holds a long poll
            if host_id not in self._change_polls:
                self._change_polls[host_id] = hosts[host_id].wait_changes.remote(LONG_POLL_S)
        polls = list(self._change_polls.values())
        if not polls:  # every host is down: wait here, not in a tight loop
            time.sleep(min(wait_s, HOST_RETRY_S))
            return []
        ready, _ = ray.wait(polls, num_returns=1, timeout=wait_s)
        if ready and len(polls) > 1:  # and whatever else is ready by now
            ready, _ = ray.wait(polls, num_returns=len(polls), timeout=GATHER_S)
        return self._collect_polls(set(ready))

    def _collect(self, refs: dict[str, ray.ObjectRef]) -> list[Change]:
        changes = []
        for host_id, ref in refs.items():
            try:
                payload = ray.get(ref, timeout=OBSERVER_TIMEOUT_S)
            except Exception as exc:  # noqa: BLE001 - died, hangs or is restarting: asked again a little later
                self.failed(host_id, exc)
                continue
            self.answered(host_id)
            changes += changes_of(host_id, payload)
        return changes

    def _collect_polls(self, ready: set) -> list[Change]:
        done = {h: ref for h, ref in list(self._change_polls.items()) if ref in ready}
        for host_id in done:
            del self._change_polls[host_id]
        return self._collect(done)

    # -- figures ---------------------------------------------------------------------------------------

    def statistics(self) -> list:
        """Every answering host's counters; a host that does not answer is left out (and logged once per outage)."""
        hosts = self._hosts()
        refs = {h: hosts[h].statistics.remote() for h in self.answering()}
        out = []
        for host_id, ref in refs.items():
            try:
                out.append(ray.get(ref, timeout=OBSERVER_TIMEOUT_S))
            except Exception as exc:  # noqa: BLE001 - restarting or lost
                self.failed(host_id, exc)
                continue
            self.answered(host_id)
        return out
