"""The client's address behind trusted proxies: ``X-Forwarded-For`` read only from a trusted peer, from the right,
past the trusted proxies; an entry that must be read and is not an address refused; anything left of the client
never read. Which values ``--trusted-proxy`` takes."""

from __future__ import annotations

import re

import pytest

from engine.forwarded import ForwardedError, TrustedProxies, proxy_problem

PROXIES = TrustedProxies(["10.0.0.0/8", "192.0.2.10", "2001:db8::/32"])


@pytest.mark.parametrize("value", ["127.0.0.1", "10.0.0.0/8", "::1", "[::1]", "2001:db8::/32", "192.0.2.10/32"])
def test_an_address_or_a_network_is_a_trusted_proxy(value):
    assert proxy_problem(value) is None


@pytest.mark.parametrize("value, reason", [
    ("proxy.example.org", "expected an IP address or a network (10.0.0.0/8), got 'proxy.example.org'"),
    ("10.0.0.2:8080", "expected an IP address or a network (10.0.0.0/8), got '10.0.0.2:8080'"),
    ("", "expected an IP address or a network (10.0.0.0/8), got ''"),
    ("10.0.0.1/8", "'10.0.0.1/8' has host bits set: the network is 10.0.0.0/8"),
    ("0.0.0.0/0", "'0.0.0.0/0' trusts every address: anyone could choose the address the gateway sees"),
    ("::/0", "'::/0' trusts every address: anyone could choose the address the gateway sees"),
])
def test_anything_else_is_refused_with_the_reason(value, reason):
    assert proxy_problem(value) == reason
    with pytest.raises(ValueError, match=f"^{re.escape(f'trusted proxy: {reason}')}$"):
        TrustedProxies([value])


def test_an_untrusted_peer_is_the_client_whatever_it_forwards():
    assert PROXIES.client("203.0.113.7", ["198.51.100.1"]) == "203.0.113.7"
    assert PROXIES.client("203.0.113.7", ["not an address"]) == "203.0.113.7"  # not read, so no error
    assert TrustedProxies().client("10.0.0.2", ["198.51.100.1"]) == "10.0.0.2"  # no proxy trusted: never read


@pytest.mark.parametrize("forwarded, client", [
    ([], "10.0.0.2"),  # the proxy's own request (a health check)
    (["198.51.100.1"], "198.51.100.1"),
    (["6.6.6.6, 198.51.100.1"], "198.51.100.1"),  # left of the proxy's entry: the client's own words
    (["garbage, 198.51.100.1"], "198.51.100.1"),  # never parsed
    (["198.51.100.1, 10.9.8.7, 192.0.2.10"], "198.51.100.1"),  # through a chain of trusted proxies
    (["6.6.6.6", "198.51.100.1,10.9.8.7"], "198.51.100.1"),  # two headers: one list, in order
    (["10.1.1.1, 10.2.2.2"], "10.1.1.1"),  # every hop trusted: the furthest known
    (["198.51.100.1:51234"], "198.51.100.1"),
    (["[2001:db9::7]:443"], "2001:db9::7"),
    (["2001:db9::7"], "2001:db9::7"),
    (["::ffff:198.51.100.1"], "198.51.100.1"),
])
def test_a_trusted_peer_forwards_the_right_most_untrusted_address(forwarded, client):
    assert PROXIES.client("10.0.0.2", forwarded) == client


def test_a_dual_stack_peer_is_trusted_by_its_ipv4_address():
    assert PROXIES.client("::ffff:10.0.0.2", ["198.51.100.1"]) == "198.51.100.1"


@pytest.mark.parametrize("forwarded, entry", [
    (["nonsense"], "nonsense"), ([""], ""), (["198.51.100.1, "], ""), (["198.51.100.1, unknown"], "unknown"),
    (["198.51.100.1:port"], "198.51.100.1:port"), (["[2001:db9::7]x"], "[2001:db9::7]x"),
    (["6.6.6.6, bogus, 10.9.8.7"], "bogus"),  # behind a trusted hop: read, and refused
])
def test_an_entry_that_must_be_read_and_is_not_an_address_is_refused(forwarded, entry):
    with pytest.raises(ForwardedError, match=f"^{re.escape(f'X-Forwarded-For: {entry!r} is not an IP address')}$"):
        PROXIES.client("10.0.0.2", forwarded)
