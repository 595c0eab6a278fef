import random

from actors.mqtt_bridge import backoff_s


def test_reconnect_backoff_is_jittered_and_capped():
    rng = random.Random(1)
    for attempt in range(1, 30):
        ceiling = min(30.0, 1.5 ** min(10, attempt))
        delays = [backoff_s(attempt, cap_s=30.0, rng=rng) for _ in range(200)]
        assert all(0.0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.8 and min(delays) < ceiling * 0.2  # spread over the whole range
    assert max(backoff_s(50, cap_s=2.0, rng=rng) for _ in range(100)) <= 2.0
