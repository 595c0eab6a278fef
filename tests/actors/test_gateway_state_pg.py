"""The console gateway's state in PostgreSQL when the engine's journal is there: a gateway started again elsewhere,
with a state directory of its own that holds nothing, takes the tokens issued before and refuses the logged-out one;
the secret is drawn by the driver that starts the engine and kept by one that attaches; a revocation is one row,
added atomically, and the expired ones are deleted (the table holds no more than the gateway's memory)."""

from __future__ import annotations

import time

import psycopg
import pytest

from actors.broker import free_port
from actors.gateway_state import open_console_state, write_console_state
from actors.gateway_state_pg import PgRevocations, read_console_rows
from engine.citygen import generate_city
from engine.operators import Claims, Role
from engine.policy import load_policy_set
from protocols.console import Error, Logout, Snapshot, Token, Welcome
from tests.console.client import ConsoleClient, login
from tests.console.conftest import PASSWORD, SPEC, operators_file


def _revocation_rows(url: str) -> list[tuple]:
    with psycopg.connect(url) as db:
        return db.execute("SELECT operator, token_id, expires_s FROM console_revocations ORDER BY expires_s").fetchall()


@pytest.mark.ray
def test_a_gateway_started_again_from_postgresql_alone_keeps_the_tokens_and_the_logouts(ray_session, postgres_server,
                                                                                        tmp_path):
    from actors.gateway_actor import engine_source, gateway_from_state
    from actors.runtime import Engine, EngineOptions

    url = postgres_server.fresh_url()
    engine = Engine(generate_city(SPEC), load_policy_set(None),
                    EngineOptions(precinct_hosts=1, journal_url=url, journal_dir=str(tmp_path / "driver"))).start()
    try:
        write_console_state(url, operators_file())  # what `redband run --journal URL` does before the gateway starts
        port = free_port()
        first = gateway_from_state(engine, engine_source(engine), str(tmp_path / "node-a"), port=port).start()
        try:
            login_url, ws = f"ws://127.0.0.1:{port}/login", f"ws://127.0.0.1:{port}/ws"
            kept, dropped = (login(login_url, "p1", PASSWORD) for _ in range(2))
            assert isinstance(kept, Token) and isinstance(dropped, Token)
            out = ConsoleClient(ws, dropped.token)
            out.until(lambda m: isinstance(m, Snapshot), what="the snapshot")
            out.send(Logout())
            deadline = time.monotonic() + 10
            while not _revocation_rows(url) and time.monotonic() < deadline:
                time.sleep(0.02)  # the logout's row is written off the gateway's loop
            assert [row[0] for row in _revocation_rows(url)] == ["p1"]
            out.close()
        finally:
            first.stop()
        assert not any(tmp_path.rglob("console*")), "nothing of the gateway's state on any node's disk"

        second = gateway_from_state(engine, engine_source(engine), str(tmp_path / "node-b"), port=port).start()
        try:
            client = ConsoleClient(ws, kept.token)
            assert isinstance(client.next(), Welcome)
            client.close()
            refused = ConsoleClient(ws, dropped.token)
            answer = refused.next()
            assert isinstance(answer, Error) and answer.reason == "token revoked"
            refused.close()
        finally:
            second.stop()
    finally:
        engine.stop()


def test_the_secret_is_drawn_once_per_engine_start_and_kept_by_a_driver_attaching(postgres_server):
    url = postgres_server.fresh_url()
    write_console_state(url, "a")
    secret, users = read_console_rows(url)
    assert len(secret) == 32 and users == "a"
    write_console_state(url, "b", keep=True)  # a driver attaching to the running engine
    assert read_console_rows(url) == (secret, "a")
    now = time.time()
    open_console_state(url, now_s=now).revocations.revoke(Claims("p1", Role.STATION, "P1", now + 60, "t1", now),
                                                          now_s=now)
    write_console_state(url, "c")  # a new start: a new secret, and the old one's revocations gone with it
    assert read_console_rows(url)[0] != secret and _revocation_rows(url) == []


def test_revocations_are_rows_added_one_by_one_and_the_expired_ones_deleted(postgres_server):
    url = postgres_server.fresh_url()
    write_console_state(url, "")
    now = 1_000_000.0

    def token(token_id: str, *, issued_s: float = now, ttl_s: float = 60.0, operator: str = "p1") -> Claims:
        return Claims(operator, Role.STATION, "P1", issued_s + ttl_s, token_id, issued_s)

    store = PgRevocations(url, now_s=now)
    store.revoke(token("long"), now_s=now)
    store.revoke(token("short", ttl_s=5), now_s=now)
    assert [row[1] for row in _revocation_rows(url)] == ["short", "long"]

    later = PgRevocations(url, now_s=now + 10)  # a gateway started after "short" expired
    assert [row[1] for row in _revocation_rows(url)] == ["long"]
    assert later.is_revoked(token("long"), now_s=now + 10) and len(later) == 1
    later.revoke(token("next", issued_s=now + 61), now_s=now + 61)  # "long" has expired by now
    assert [row[1] for row in _revocation_rows(url)] == ["next"]

    full = PgRevocations(url, now_s=now + 62, capacity=1)  # bounded: past capacity, the operator's watermark
    full.revoke(token("over", issued_s=now + 62, operator="p2"), now_s=now + 62)
    assert ("p2", "") in {row[:2] for row in _revocation_rows(url)}
    restarted = PgRevocations(url, now_s=now + 63, capacity=1)
    assert restarted.is_revoked(token("older-of-p2", issued_s=now + 30, operator="p2"), now_s=now + 63)
    assert not restarted.is_revoked(token("newer-of-p2", issued_s=now + 63, operator="p2"), now_s=now + 63)
