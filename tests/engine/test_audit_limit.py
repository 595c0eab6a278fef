"""A flood of refusals is audited as its first rows and one summary per window, never one row each."""

from engine.audit_limit import RefusalLimiter


def test_the_first_refusals_are_written_the_rest_summed_up_once_the_window_ends():
    limiter = RefusalLimiter(per_window=3, window_s=60.0)
    assert [limiter.admit("auth", 10.0 + i) for i in range(5)] == [True, True, True, False, False]
    assert limiter.admit("connect", 20.0)  # each action has its own allowance
    assert limiter.summaries(59.0) == []  # the window is still open
    assert limiter.summaries(60.0) == [("auth", 2, 60.0)]
    assert limiter.summaries(61.0) == []  # said once


def test_a_refusal_in_a_new_window_is_written_and_the_old_window_still_summed_up():
    limiter = RefusalLimiter(per_window=1, window_s=60.0)
    assert limiter.admit("login", 1.0) and not limiter.admit("login", 2.0)
    assert limiter.admit("login", 61.0)  # the next window, before anyone asked for summaries
    assert not limiter.admit("login", 62.0)
    assert limiter.summaries(62.0) == [("login", 1, 60.0)]
    assert limiter.summaries(120.0) == [("login", 1, 120.0)]
