"""Odd values of ``--bind`` and ``--allowed-origin`` (``engine/listen.py``), refused before anything starts: an
Origin no browser would ever send locks every console out (the gateway compares it as is), an address that only
looks like one fails later, at bind time, or goes into the broker's config."""

from __future__ import annotations

import pytest

from engine.listen import bind_problem, origin_problem
from redband.run_config import UsageError, resolve_run_config


@pytest.mark.parametrize("value, reason", [
    ("https://console.example.org\n", "printable ASCII"),  # urlsplit drops the line end: it passed as the host
    ("https://console.exam\tple.org", "printable ASCII"),
    ("https://konsole.\u212a.org", "printable ASCII"),  # a browser sends a host name in punycode
    ("https://console.example.org:", "port with digits"),
    ("https://console.example.org:08443", "port with digits"),
    ("http://[::1]:", "port with digits"),
    ("http://console.example.org:0", "port with digits"),
])
def test_an_origin_a_browser_never_sends_is_refused(value, reason):
    assert reason in (origin_problem(value) or ""), origin_problem(value)


@pytest.mark.parametrize("value", ["https://console.example.org", "http://10.0.0.5:8080", "http://[::1]:8080",
                                   "http://[::1]", "https://xn--knsole-0ya.example"])
def test_what_browsers_send_is_taken(value):
    assert origin_problem(value) is None


@pytest.mark.parametrize("value", ["\u212a", "\u017f.example", "999.1.1.1", "127.1", "[console.example.org]",
                                   "[127.0.0.1]"])
def test_an_address_that_only_looks_like_one_is_refused(value):
    assert (bind_problem(value) or "").startswith("expected an IP"), bind_problem(value)


def test_the_option_names_the_odd_value():
    with pytest.raises(UsageError, match="^--allowed-origin: a browser sends an Origin in printable ASCII"):
        resolve_run_config({"city": "c.toml", "allowed_origins": ["https://console.example.org\n"]}, None)
    with pytest.raises(UsageError, match=r"^--bind: expected an IP address or a host name, got '999.1.1.1'"):
        resolve_run_config({"city": "c.toml", "bind": "999.1.1.1"}, None)
