"""A console client in Python for tests: the same protocol a browser speaks."""

from __future__ import annotations

import time

from websockets.sync.client import connect

from protocols.console import Auth, Changes, Login, Receipt, Snapshot, decode_server, encode


def login(url: str, username: str, password: str, *, origin: str | None = None):
    with connect(url, origin=origin, open_timeout=10) as ws:
        ws.send(encode(Login(username, password)))
        return decode_server(ws.recv(timeout=10))


class ConsoleClient:
    def __init__(self, url: str, token: str, *, origin: str | None = None, receipts: bool = True) -> None:
        self._connection = connect(url, origin=origin, open_timeout=10)
        self.ws = self._connection.__enter__()
        self.ws.send(encode(Auth(token)))
        self.received: list = []
        self.receipts = receipts
        """Confirm every snapshot and changes frame read, as the browser console does (``receipt``)."""

    def next(self, timeout_s: float = 10.0):
        """The next frame, decoded; a ``changes`` frame also files each of its changes in ``received``."""
        message = decode_server(self.ws.recv(timeout=timeout_s))
        self.received.append(message)
        if isinstance(message, Changes):
            self.received.extend(message.items)
        shown = (message.incidents if isinstance(message, Snapshot) else
                 [item.incident for item in message.items] if isinstance(message, Changes) else [])
        if self.receipts and shown:
            self.send(Receipt([(view.id, view.version) for view in shown]))
        return message

    def until(self, predicate, *, timeout_s: float = 10.0, what: str = "a message"):
        """The first message, received already or to come, that satisfies ``predicate``; fail at the deadline."""
        deadline = time.monotonic() + timeout_s
        scanned = 0
        while True:
            for message in self.received[scanned:]:
                if predicate(message):
                    return message
            scanned = len(self.received)
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
            try:
                self.next(left)
            except TimeoutError:
                continue

    def send(self, message) -> None:
        self.ws.send(encode(message))

    def close(self) -> None:
        self._connection.__exit__(None, None, None)
