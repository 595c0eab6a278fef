"""A journal URL's password is never printed: not by ``redact`` (logs, ``redband status``), not in the error that
refuses a malformed URL (libpq quotes the part it could not read), not when the server cannot be reached; wherever
in the URL the password is (user info with raw ``@``, ``/`` or ``?`` in it, or a ``password=`` query parameter)."""

from __future__ import annotations

import pytest

from actors.journal_open import journal_of, journal_label, start_from
from actors.journal_pg_schema import JournalUrlError, redact, url_problem

SECRET = "Zq9-secret"


@pytest.mark.parametrize("url, shown", [
    (f"postgresql://u:{SECRET}@db:5432/rb", "postgresql://u:***@db:5432/rb"),
    (f"postgresql://db/rb?password={SECRET}&sslmode=require", "postgresql://db/rb?password=***&sslmode=require"),
    (f"postgresql:///rb?host=/run/pg&user=u&password={SECRET}", "postgresql:///rb?host=/run/pg&user=u&password=***"),
    (f"postgresql://u:{SECRET}@db/rb?application_name=a@b", "postgresql://u:***@db/rb?application_name=a@b"),
    (f"postgresql://u:p@{SECRET}@db/rb", "postgresql://u:***@db/rb"),
    (f"postgresql://u:a/{SECRET}@db/rb", "postgresql://u:***@db/rb"),
    (f"postgresql://u:a?{SECRET}@db/rb", "postgresql://u:***@db/rb"),
    ("postgresql://u@db/rb", "postgresql://u@db/rb"),
])
def test_redact_hides_the_password_wherever_the_url_has_it(url, shown):
    assert redact(url) == shown
    assert journal_label(url, "h0") == f"{shown} (host h0)"


@pytest.mark.parametrize("url", [
    f"postgresql://u:{SECRET}%zz@db/rb",  # libpq: invalid percent-encoded token: "<the password>"
    f"postgresql://u:{SECRET} x@db/rb",  # libpq: unexpected spaces found in "<the password>"
    f"postgresql://db/rb?password={SECRET}%zz",
    f"postgresql://db/rb?password={SECRET}&bogus=1",
    f"postgresql://u:{SECRET}@[::1/rb",
])
def test_a_malformed_url_is_refused_by_name_without_its_password(url):
    with pytest.raises(JournalUrlError, match=r"^journal \(--journal.*not a valid PostgreSQL URL") as refused:
        journal_of(None, url)
    assert SECRET not in str(refused.value) and SECRET[:4] not in url_problem(url)


def test_an_unreachable_server_is_refused_without_the_password_of_the_query():
    url = f"postgresql://u@127.0.0.1:1/rb?password={SECRET}&connect_timeout=5"
    with pytest.raises(JournalUrlError, match=r"cannot reach postgresql://u@127.0.0.1:1/rb\?password=\*\*\*&") as e:
        start_from(url, False, "city", "policies", "placement")
    assert SECRET not in str(e.value)
