"""Errors of the engine, in one tree.

    RedbandError                   base of every error the engine raises on purpose
      ConfigError                  a city, policy or scenario file that cannot be used; names file, line, field
      InvalidTransition            an incident asked to do what its state does not allow; names both
      NotAuthorized                an actor acting on an incident it was never notified of
      UnknownIncident              a command for an incident this host does not hold
      Overloaded                   a bounded queue is full; the caller must retry later, nothing was taken
      JournalUnavailable           the journal refused a write; nothing of that step was kept, the caller retries
        JournalFenced              the host was taken over (a newer epoch opened its journal); this one may not write
      HostUnavailable              hosts that might hold what was asked for did not answer in time; retry

Wire errors are ``protocols.ProtocolError``; they are not engine errors.
"""

from __future__ import annotations


class RedbandError(Exception):
    """Base of the engine's errors."""


class ConfigError(RedbandError):
    """A configuration file (city, policies, scenario) that cannot be used."""

    def __init__(self, file: str, line: int | None, field: str, reason: str) -> None:
        self.file, self.line, self.field, self.reason = file, line, field, reason
        where = f"{file}:{line}" if line else file
        super().__init__(f"{where}: {field}: {reason}" if field else f"{where}: {reason}")

    def __reduce__(self):
        return type(self), (self.file, self.line, self.field, self.reason)


class InvalidTransition(RedbandError):
    def __init__(self, incident_id: str, state: str, action: str, reason: str = "") -> None:
        self.incident_id, self.state, self.action = incident_id, state, action
        detail = f": {reason}" if reason else ""
        self.reason = reason
        super().__init__(f"incident {incident_id}: cannot {action} when {state}{detail}")

    def __reduce__(self):
        return type(self), (self.incident_id, self.state, self.action, self.reason)


class NotAuthorized(RedbandError):
    def __init__(self, incident_id: str, actor: str, reason: str) -> None:
        self.incident_id, self.actor = incident_id, actor
        self.reason = reason
        super().__init__(f"incident {incident_id}: {actor} may not act: {reason}")

    def __reduce__(self):
        return type(self), (self.incident_id, self.actor, self.reason)


class UnknownIncident(RedbandError):
    def __init__(self, incident_id: str) -> None:
        self.incident_id = incident_id
        super().__init__(f"unknown incident {incident_id!r}")

    def __reduce__(self):
        return type(self), (self.incident_id,)


class UnknownDevice(RedbandError):
    def __init__(self, device_id: str) -> None:
        self.device_id = device_id
        super().__init__(f"unknown device {device_id!r}")

    def __reduce__(self):
        return type(self), (self.device_id,)


class Overloaded(RedbandError):
    def __init__(self, what: str, limit: int) -> None:
        self.what, self.limit = what, limit
        super().__init__(f"overloaded: {what} holds its limit of {limit}")

    def __reduce__(self):
        return type(self), (self.what, self.limit)


class JournalUnavailable(RedbandError):
    """The journal could not write a step: nothing of the step was kept (the host went back to what its journal
    holds), nothing was acked; the caller retries later."""

    def __init__(self, host_id: str, reason: str) -> None:
        self.host_id, self.reason = host_id, reason
        super().__init__(f"unavailable: host {host_id} could not write its journal ({reason}); retry")

    def __reduce__(self):
        return type(self), (self.host_id, self.reason)


class JournalFenced(JournalUnavailable):
    """The host's journal was opened again elsewhere (a restarted host, with a newer epoch): this opening's writes are
    refused, nothing of them kept (``actors/journal_postgres.py``)."""

    def __init__(self, host_id: str, epoch: int, current: int) -> None:
        self.epoch, self.current = epoch, current
        super().__init__(host_id, f"fenced: its epoch {epoch} was taken over by epoch {current}")

    def __reduce__(self):
        return type(self), (self.host_id, self.epoch, self.current)


class HostUnavailable(RedbandError):
    """Hosts that might hold what was asked for (e.g. the owner of an incident) did not answer in time: nothing was
    done; the caller retries later."""

    def __init__(self, host_ids: tuple[str, ...], what: str) -> None:
        self.host_ids, self.what = tuple(host_ids), what
        super().__init__(f"unavailable: host {', '.join(self.host_ids)} did not answer about {what}; retry")

    def __reduce__(self):
        return type(self), (self.host_ids, self.what)
