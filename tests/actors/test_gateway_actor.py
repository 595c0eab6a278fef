"""The console gateway as a Ray actor of its own: its process killed, Ray starts it again on the same port, a console
reconnects with the token it had and sees the queue; a token logged out before the crash stays out; the allowed
Origins given to it are the ones its handshake checks."""

from __future__ import annotations

import os
import signal
import time

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from actors.broker import free_port
from actors.gateway_state import write_console_files
from engine.citygen import generate_city
from engine.operators import Role
from engine.policy import load_policy_set
from protocols.batch import Ingest
from protocols.console import Error, Logout, Snapshot, Token, Welcome
from protocols.device import make_message
from redband.files import add_operator
from tests.console.client import ConsoleClient, login
from tests.console.conftest import PASSWORD, SPEC

pytestmark = pytest.mark.ray
ORIGIN = "https://console.example.org"


def _next_snapshot(client: ConsoleClient) -> Snapshot:
    assert isinstance(client.next(), Welcome)
    snapshot = client.next()
    assert isinstance(snapshot, Snapshot), snapshot
    return snapshot


def _closed(client: ConsoleClient, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            client.next(max(0.1, deadline - time.monotonic()))
        except (ConnectionClosed, TimeoutError, OSError) as exc:
            if not isinstance(exc, TimeoutError):
                return
    raise AssertionError(f"the socket was not closed within {timeout_s} s")


def _restarted(handle, old_pid: int, timeout_s: float = 60.0) -> dict:
    import ray

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            where = ray.get(handle.where.remote(), timeout=5)
        except (ray.exceptions.RayActorError, ray.exceptions.GetTimeoutError):
            time.sleep(0.1)  # the restart is under way; asking again
            continue
        if where["pid"] != old_pid:
            return where
        time.sleep(0.1)  # the kill has not landed yet
    raise AssertionError(f"the gateway actor did not come back within {timeout_s} s")


def test_a_killed_gateway_actor_comes_back_on_its_port_and_takes_the_old_tokens(ray_session, tmp_path):
    from actors.gateway_actor import start_gateway_actor
    from actors.runtime import Engine, EngineOptions

    city = generate_city(SPEC)
    users = tmp_path / "users.toml"
    add_operator(users, name="p1", role=Role.STATION, scope="P1", password=PASSWORD, city=city)
    journal = str(tmp_path / "journal")
    engine = Engine(city, load_policy_set(None), EngineOptions(precinct_hosts=1, journal_dir=journal)).start()
    gateway = None
    try:
        write_console_files(journal, users.read_text())
        port = free_port()
        gateway = start_gateway_actor(engine, host="127.0.0.1", port=port, origins=[ORIGIN],
                                      detached=False)
        where = gateway.where
        assert where["url"] == f"http://127.0.0.1:{port}/" and not where["restarted"]
        login_url, ws = f"ws://127.0.0.1:{port}/login", f"ws://127.0.0.1:{port}/ws"
        with pytest.raises(InvalidStatus, match="403"):  # the default origins are replaced by the given one
            connect(login_url, origin=f"http://127.0.0.1:{port}", open_timeout=10)
        box = sorted(d.id for d in city.devices.values() if d.kind == "panic_box" and d.precinct_id == "P1")[0]
        incident = engine.ingest([Ingest(box, make_message("school.panic", seq=1, ts=1))]).acks[0].incident_id
        kept, dropped = (login(login_url, "p1", PASSWORD, origin=ORIGIN) for _ in range(2))
        assert isinstance(kept, Token) and isinstance(dropped, Token)
        out = ConsoleClient(ws, dropped.token, origin=ORIGIN)
        _next_snapshot(out)
        out.send(Logout())
        _closed(out)
        client = ConsoleClient(ws, kept.token, origin=ORIGIN)
        client.until(lambda m: isinstance(m, Snapshot) and incident in {i.id for i in m.incidents},
                     what="the queue before the kill")

        os.kill(where["pid"], signal.SIGKILL)
        killed_at = time.monotonic()
        _closed(client)
        again = _restarted(gateway.handle, where["pid"])
        print(f"gateway actor answering again {time.monotonic() - killed_at:.2f} s after SIGKILL")
        assert again["restarted"] and again["url"] == where["url"]
        deadline = time.monotonic() + 10  # redband status: the gateway's second start (announced without waiting)
        while (gateway_row := engine.status()["gateway"])["starts"] < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert gateway_row["starts"] == 2 and gateway_row["answering"] and gateway_row["pid"] == again["pid"]

        client = ConsoleClient(ws, kept.token, origin=ORIGIN)  # what app.js does when its socket closes
        assert incident in {i.id for i in _next_snapshot(client).incidents}
        client.close()
        refused = ConsoleClient(ws, dropped.token, origin=ORIGIN)
        answer = refused.next()
        assert isinstance(answer, Error) and answer.reason == "token revoked"
    finally:
        if gateway is not None:
            gateway.stop()
        engine.stop()
