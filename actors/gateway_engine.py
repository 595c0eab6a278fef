"""What the console gateway needs of an engine, as a ``typing.Protocol``: ``actors.runtime.Engine`` is one; a test
or another deployment (an engine behind a network API) can be another. Results are typed: ``command`` returns the
incident or raises the engine's error (``engine.errors.RedbandError``)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from engine.host import Change
from engine.journal import AuditPage, AuditRow
from engine.topology import City
from engine.policy import PolicySet
from protocols.records import DeliveryNote, IncidentRecord, OperatorCommand


@runtime_checkable
class EngineApi(Protocol):
    city: City
    policies: PolicySet

    def open_incidents(self) -> list[IncidentRecord]: ...

    def command(self, command: OperatorCommand) -> IncidentRecord:
        """The incident after the command; a refusal raises its ``RedbandError``."""
        ...

    def deliveries(self, notes: list[DeliveryNote]) -> list:
        """Per delivery line: the incident after it, None (nothing new), or why not (its ``RedbandError``, or the
        error of a host that failed the call: the line may be sent again)."""
        ...

    def next_changes(self, wait_s: float) -> list[Change]: ...

    def statistics(self) -> list: ...

    def audit(self, rows: list[AuditRow]) -> None: ...

    def command_device(self, device_id: str, cmd: str, args: dict | None = None, *, actor: str = "operator",
                       role: str = "", scope: str = "", reason: str = "") -> None:
        """A command for one device, audited by its host; an unknown device raises ``UnknownDevice``."""
        ...

    def audit_page(self, limit: int = 50, *, before: int | None = None, actor: str = "", action: str = "",
                   outcome: str = "", since_s: float | None = None, until_s: float | None = None) -> AuditPage:
        """A page of the audit trail, newest first; ``before``: the last row id of the previous page."""
        ...
