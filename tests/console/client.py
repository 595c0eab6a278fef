"""A console client in Python for tests: the same protocol a browser speaks."""

from __future__ import annotations

import time

from websockets.sync.client import connect

from protocols.console import Auth, Login, decode_server, encode


def login(url: str, username: str, password: str, *, origin: str | None = None):
    with connect(url, origin=origin, open_timeout=10) as ws:
        ws.send(encode(Login(username, password)))
        return decode_server(ws.recv(timeout=10))


class ConsoleClient:
    def __init__(self, url: str, token: str, *, origin: str | None = None) -> None:
        self._connection = connect(url, origin=origin, open_timeout=10)
        self.ws = self._connection.__enter__()
        self.ws.send(encode(Auth(token)))
        self.received: list = []

    def next(self, timeout_s: float = 10.0):
        message = decode_server(self.ws.recv(timeout=timeout_s))
        self.received.append(message)
        return message

    def until(self, predicate, *, timeout_s: float = 10.0, what: str = "a message"):
        """The first message, received already or to come, that satisfies ``predicate``; fail at the deadline."""
        for message in self.received:
            if predicate(message):
                return message
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
            try:
                message = self.next(left)
            except TimeoutError:
                continue
            if predicate(message):
                return message

    def send(self, message) -> None:
        self.ws.send(encode(message))

    def close(self) -> None:
        self._connection.__exit__(None, None, None)
