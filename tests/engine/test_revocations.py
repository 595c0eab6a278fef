"""Revoked tokens: refused until they would have expired, forgotten then, and never let back in when the store
is full (the operator's older tokens are revoked with it instead). Time is passed in; no clock is read."""

from __future__ import annotations

import pytest

from engine.operators import Claims, Jurisdiction, Operator, Role, TokenError, TokenSigner
from engine.revocations import Revocations


def claims(token_id: str, *, operator: str = "p1", issued_s: float = 0.0, ttl_s: float = 100.0) -> Claims:
    return Claims(operator, Role.STATION, "P1", issued_s + ttl_s, token_id, issued_s)


def test_a_revoked_token_is_refused_until_its_expiry_then_forgotten():
    store = Revocations()
    token = claims("a", ttl_s=100.0)
    assert not store.is_revoked(token, now_s=10.0)
    store.revoke(token, now_s=10.0)
    assert store.is_revoked(token, now_s=10.0) and store.is_revoked(token, now_s=99.9)
    assert not store.is_revoked(claims("b"), now_s=10.0)  # another token of the same operator
    assert store.prune(99.9) == 0 and len(store) == 1
    assert store.prune(100.0) == 1 and len(store) == 0


def test_revoking_an_expired_or_already_revoked_token_holds_nothing_more():
    store = Revocations()
    store.revoke(claims("old", ttl_s=5.0), now_s=10.0)
    assert len(store) == 0
    store.revoke(claims("a"), now_s=1.0)
    store.revoke(claims("a"), now_s=2.0)
    assert len(store) == 1


def test_each_revocation_prunes_what_has_expired_so_the_store_stays_small():
    store = Revocations()
    for n in range(50):
        store.revoke(claims(f"t{n}", issued_s=float(n), ttl_s=10.0), now_s=float(n))
    assert len(store) <= 11


def test_a_full_store_revokes_the_operators_older_tokens_too_and_never_lets_one_back_in():
    store = Revocations(capacity=2)
    first, second = claims("a", ttl_s=100.0), claims("b", operator="p2", ttl_s=100.0)
    store.revoke(first, now_s=1.0)
    store.revoke(second, now_s=1.0)
    older = claims("c", operator="p3", issued_s=1.0, ttl_s=100.0)
    overflow = claims("d", operator="p3", issued_s=2.0, ttl_s=100.0)
    store.revoke(overflow, now_s=3.0)
    assert len(store) == 2  # the bound holds
    assert all(store.is_revoked(c, now_s=3.0) for c in (first, second, overflow, older))
    later = claims("e", operator="p3", issued_s=4.0, ttl_s=100.0)
    assert not store.is_revoked(later, now_s=5.0)  # a login after the logout still works
    assert not store.is_revoked(claims("f", operator="p4"), now_s=5.0)
    store.prune(102.0)  # every covered token has expired: the watermark goes too
    assert store.entries(102.0) == []


def test_entries_restore_a_store_within_its_bound():
    store = Revocations(capacity=1)
    store.revoke(claims("a", ttl_s=50.0), now_s=0.0)
    store.revoke(claims("b", operator="p2", issued_s=1.0, ttl_s=50.0), now_s=1.0)
    rows = store.entries(2.0)
    again = Revocations(capacity=1)
    again.restore(rows, now_s=2.0)
    assert again.is_revoked(claims("a", ttl_s=50.0), now_s=2.0)
    assert again.is_revoked(claims("b", operator="p2", issued_s=1.0, ttl_s=50.0), now_s=2.0)
    late = Revocations()
    late.restore(rows, now_s=60.0)
    assert late.entries(60.0) == []


def test_capacity_must_hold_something():
    with pytest.raises(ValueError, match=r"^capacity: must be >= 1, got 0$"):
        Revocations(capacity=0)


def test_tokens_carry_an_id_and_their_issue_time_and_an_expired_tokens_error_says_whose_it_was():
    operator = Operator("p1", Jurisdiction(Role.STATION, "P1"), "$argon2id$unused")
    signer = TokenSigner(b"k" * 32)
    token, issued = signer.issue(operator, now_s=100.0, ttl_s=60.0)
    _, other = signer.issue(operator, now_s=100.0, ttl_s=60.0)
    assert issued.token_id and issued.token_id != other.token_id and issued.issued_s == 100.0
    assert signer.verify(token, now_s=120.0) == issued
    with pytest.raises(TokenError, match=r"^token expired$") as expired:
        signer.verify(token, now_s=160.0)
    assert expired.value.claims == issued
    with pytest.raises(TokenError, match="signature") as forged:
        TokenSigner(b"x" * 32).verify(token, now_s=120.0)
    assert forged.value.claims is None
