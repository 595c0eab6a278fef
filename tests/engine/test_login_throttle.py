import pytest

from engine.login_throttle import LoginThrottle

KEYS = ("user:p1", "addr:10.0.0.9")


def test_five_failures_lock_the_key_for_the_lockout_then_it_is_free():
    throttle = LoginThrottle(max_failures=5, window_s=300, lockout_s=30)
    for t in range(4):
        throttle.failed(KEYS, now_s=float(t))
        assert throttle.retry_after_s(KEYS, now_s=float(t)) == 0
    throttle.failed(KEYS, now_s=4.0)
    assert throttle.retry_after_s(KEYS, now_s=4.0) == 30.0
    assert throttle.retry_after_s(("user:p1",), now_s=20.0) == 14.0
    assert throttle.retry_after_s(KEYS, now_s=34.0) == 0


def test_failures_outside_the_window_do_not_count():
    throttle = LoginThrottle(max_failures=3, window_s=10, lockout_s=30)
    for t in (0.0, 5.0, 11.0, 16.0):
        throttle.failed(KEYS, now_s=t)
    assert throttle.retry_after_s(KEYS, now_s=16.0) == 0  # only 2 in any 10 s
    throttle.failed(KEYS, now_s=17.0)
    assert throttle.retry_after_s(KEYS, now_s=17.0) == 30.0


def test_each_further_lockout_doubles_up_to_the_cap_and_a_success_clears_it():
    throttle = LoginThrottle(max_failures=1, lockout_s=30, max_lockout_s=100)
    waits = []
    for t in (0.0, 100.0, 200.0, 300.0):
        throttle.failed(KEYS, now_s=t)
        waits.append(throttle.retry_after_s(KEYS, now_s=t))
    assert waits == [30.0, 60.0, 100.0, 100.0]
    throttle.succeeded(KEYS)
    throttle.failed(KEYS, now_s=400.0)
    assert throttle.retry_after_s(KEYS, now_s=400.0) == 30.0


def test_a_locked_address_locks_every_user_name_tried_from_it():
    throttle = LoginThrottle(max_failures=2, lockout_s=30)
    throttle.failed(("user:a", "addr:x"), now_s=0.0)
    throttle.failed(("user:b", "addr:x"), now_s=1.0)
    assert throttle.retry_after_s(("user:c", "addr:x"), now_s=2.0) == 29.0
    assert throttle.retry_after_s(("user:c", "addr:y"), now_s=2.0) == 0


def test_the_keys_tracked_are_bounded():
    throttle = LoginThrottle(capacity=100)
    for n in range(1000):
        throttle.failed((f"user:{n}",), now_s=float(n))
    assert len(throttle) == 100


def test_nonsense_limits_are_refused():
    with pytest.raises(ValueError):
        LoginThrottle(max_failures=0)
