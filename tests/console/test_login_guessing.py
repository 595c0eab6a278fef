"""Password guessing against /login is slowed: after 5 wrong passwords a user name is locked for a while, even
for the right password, and every refusal is audited with where it came from; other operators log in as usual."""

from __future__ import annotations

import pytest

from protocols.console import AuditQuery, AuditRows, Error, Token
from tests.console.client import login
from tests.console.conftest import PASSWORD
from tests.console.test_gateway import session

pytestmark = pytest.mark.ray


def test_five_wrong_passwords_lock_the_name_and_are_audited(console):
    for _ in range(5):
        wrong = login(console.login_url, "p1", "guess")
        assert isinstance(wrong, Error) and wrong.reason == "unknown operator or wrong password"
    locked = login(console.login_url, "p1", PASSWORD)
    assert isinstance(locked, Error) and locked.reason.startswith("too many failed logins: retry in ")
    assert isinstance(login(console.login_url, "p2", PASSWORD), Token)  # the others are not locked out
    unknown = login(console.login_url, "nobody", "guess")
    assert isinstance(unknown, Error) and unknown.reason == "unknown operator or wrong password"
    cc = session(console, "cc")
    cc.send(AuditQuery(limit=50))
    rows = [r for r in cc.until(lambda m: isinstance(m, AuditRows), what="the audit rows").rows
            if r.action == "login" and r.actor == "p1"]
    assert sum(r.outcome == "refused" and "wrong password (from 127.0.0.1)" in r.reason for r in rows) == 5
    assert any(r.outcome == "refused" and r.reason.startswith("too many failed logins") for r in rows)
