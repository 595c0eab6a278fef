"""Console sessions and their tokens: which token may open a session, which sessions a logout ends, and when an open
session's token runs out.

- A session opens with a token whose signature is good, that has not expired and is not revoked; every refusal is
  audited (action ``auth``, with the client's address) and closed with 4001 and the reason.
- ``logout`` revokes the session's token (``engine/revocations.py``: kept in this gateway's memory until the token
  would have expired; why memory is enough is said there) and closes every session opened with it: 4001 "logged out".
  A gateway that keeps its revocations (``actors/gateway_state.py``: a file, or PostgreSQL) writes them in ``revoke``;
  so it runs off the loop, one at a time (the loop only reads them, in :meth:`Sessions.admit`).
- Each session has a timer, started when it opens and cancelled when it ends, that closes it at its token's expiry:
  4001 "token expired". It reads the gateway's clock, so a test's clock moves it too (within ``EXPIRY_CHECK_S``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from actors.gateway_fanout import ConsoleSession
from actors.gateway_http import Audit, refuse, where_from
from engine.operators import Claims, TokenError, TokenSigner
from engine.revocations import Revocations

SESSION_ENDED = 4001
"""The close code of a session that must not reconnect by itself: the console goes back to its login."""
EXPIRY_CHECK_S = 1.0
"""The longest a session's timer sleeps before it reads the clock again."""


def token_target(claims: Claims | None) -> str:
    return f"token {claims.token_id}" if claims is not None and claims.token_id else "token"


class Sessions:
    def __init__(self, signer: TokenSigner, clock: Callable[[], float], audit: Audit, *,
                 revocations: Revocations | None = None) -> None:
        self.signer, self.clock, self.audit = signer, clock, audit
        self.revocations = revocations or Revocations()
        self._by_token: dict[str, set[ConsoleSession]] = {}
        self._timers: dict[ConsoleSession, asyncio.Task] = {}
        self._revoking = asyncio.Lock()

    async def admit(self, connection: ServerConnection, token: str) -> Claims | None:
        """The token's claims, or None when it is refused (audited, and the connection closed with the reason)."""
        now_s = self.clock()
        try:
            claims = self.signer.verify(token, now_s=now_s)
            if self.revocations.is_revoked(claims, now_s=now_s):
                raise TokenError("token revoked", claims)
        except TokenError as exc:
            claims = exc.claims  # None unless the signature was good: a forged token names nobody
            actor, role, scope = (claims.operator, claims.role.value, claims.scope) if claims else ("", "", "")
            await self.audit(actor, role, scope, "auth", token_target(claims), "refused",
                             f"{exc} (from {where_from(connection)})")
            await refuse(connection, str(exc))
            return None
        return claims

    def opened(self, console: ConsoleSession) -> None:
        """``console`` is open: a logout of its token reaches it, and its timer runs until :meth:`closed`."""
        self._by_token.setdefault(console.claims.token_id, set()).add(console)
        self._timers[console] = asyncio.get_running_loop().create_task(
            self._expire(console), name=f"expiry-{console.claims.operator}")

    def closed(self, console: ConsoleSession) -> None:
        timer = self._timers.pop(console, None)
        if timer is not None:
            timer.cancel()
        sessions = self._by_token.get(console.claims.token_id)
        if sessions is not None:
            sessions.discard(console)
            if not sessions:
                del self._by_token[console.claims.token_id]

    def open_sessions(self, token_id: str) -> int:
        return len(self._by_token.get(token_id, ()))

    async def logout(self, console: ConsoleSession) -> None:
        """Revoke ``console``'s token, audit it, and close every session opened with it (this one too). The row is
        written before the sockets close, so whoever sees the close can find it."""
        claims = console.claims
        async with self._revoking:  # a store's write (a file, PostgreSQL) must not stall every console meanwhile
            await asyncio.to_thread(self.revocations.revoke, claims, now_s=self.clock())
        sessions = list(self._by_token.get(claims.token_id, ()))
        await self.audit(claims.operator, claims.role.value, claims.scope, "logout", token_target(claims), "ok",
                         f"{len(sessions)} session(s) closed (from {where_from(console.connection)})")
        await asyncio.gather(*(_close(s.connection, "logged out") for s in sessions))

    async def _expire(self, console: ConsoleSession) -> None:
        while (left_s := console.claims.expires_s - self.clock()) > 0:
            await asyncio.sleep(min(left_s, EXPIRY_CHECK_S))  # until the expiry, read again from the clock
        self._timers.pop(console, None)  # done: the session's end must not cancel the close under way
        await _close(console.connection, "token expired")


async def _close(connection: ServerConnection, reason: str) -> None:
    with contextlib.suppress(ConnectionClosed):
        await connection.close(SESSION_ENDED, reason)
