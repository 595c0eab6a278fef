"""A host's desk: the requests a host answers outside its event stream (``protocols/desk.py``), each routed by its
type to the part that owns it. A part offers its requests as a table ``{request type: handler(request, now_s)}``;
the host runs every request as a whole step (journaled before it answers, forgotten whole if it fails).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from engine.errors import RedbandError

Handler = Callable[[Any, float], Any]


class UnknownRequest(RedbandError):
    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"this host answers no request {name!r}")

    def __reduce__(self):
        return type(self), (self.name,)


class Desk:
    def __init__(self, *tables: Mapping[type, Handler]) -> None:
        self._handlers: dict[type, Handler] = {}
        for table in tables:
            self.add(table)

    def add(self, table: Mapping[type, Handler]) -> None:
        for kind, handler in table.items():
            if kind in self._handlers:
                raise ValueError(f"two handlers for {kind.__name__}")
            self._handlers[kind] = handler

    def handles(self, request: object) -> bool:
        return type(request) in self._handlers

    def answer(self, request: object, now_s: float) -> Any:
        handler = self._handlers.get(type(request))
        if handler is None:
            raise UnknownRequest(type(request).__name__)
        return handler(request, now_s)
