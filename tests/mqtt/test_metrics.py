"""``/metrics`` of a running engine (``actors/metrics.py``): alarms and a refused message through the real broker,
then the figures scraped over HTTP and read back with prometheus_client's own parser; a host frozen mid-run is
reported down within the scrape's deadline."""

from __future__ import annotations

import os
import signal
import time
import urllib.request

import pytest
import ray
from prometheus_client.parser import text_string_to_metric_families

from actors.metrics import SCRAPE_TIMEOUT_S, MetricsServer
from tests.mqtt.helpers import Inbox, pub, wait_until

pytestmark = [pytest.mark.ray, pytest.mark.mqtt]


def scrape(url: str) -> dict:
    """Sample name → {labels (sorted pairs) → value}."""
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    samples: dict = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return samples


def total(samples: dict, name: str, **labels) -> float:
    return sum(v for key, v in samples.get(name, {}).items() if set(labels.items()) <= set(key))


def test_alarms_acks_naks_and_the_ack_latency_are_scraped(broker, engine):
    server = MetricsServer(engine.namespace, port=0, cache_s=0.0).start()
    try:
        box = broker.device("panic_box")
        acks = Inbox(broker, box, f"rb/v1/dev/{box}/ack")
        topic = f"rb/v1/dev/{box}/alarm"
        for seq in (1, 2):
            pub(broker, box, topic, {"seq": seq, "ts": 1_700_000_000_000, "kind": "school.panic", "data": {}})
        pub(broker, box, topic, {"seq": 3, "ts": 1, "kind": "school.panic", "data": {"zone": 12}})
        assert sorted(a["ok"] for a in acks.read_json(3)) == [False, True, True]  # the NAK may come first
        samples = wait_until(lambda: (s := scrape(server.url)) and total(s, "redband_alarm_ack_seconds_count") == 2
                             and s, timeout_s=10, what="both alarms' ack latency")
        assert total(samples, "redband_bridge_acks_total", lane="alarm") == 2
        assert total(samples, "redband_bridge_naks_total", lane="alarm", reason="data.zone") == 1
        assert total(samples, "redband_bridge_events_received_total", lane="alarm") == 3
        assert total(samples, "redband_host_events_accepted_total") == 2
        assert total(samples, "redband_host_incidents_open") >= 1
        assert total(samples, "redband_journal_commit_seconds_count") >= 2
        assert set(samples["redband_host_up"].values()) == {1.0} and len(samples["redband_host_up"]) == 2
        assert total(samples, "redband_bridge_lane_state", lane="alarm", state="up") == 1
        assert total(samples, "redband_alarm_ack_seconds_bucket", le="+Inf") == 2
        # a host whose process stops answering (frozen: a failing machine) is reported down within the deadline
        frozen = sorted(engine.hosts)[0]
        pid = ray.get(engine.hosts[frozen].where.remote(), timeout=30).pid
        os.kill(pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            samples = scrape(server.url)
            took = time.monotonic() - started
        finally:
            os.kill(pid, signal.SIGCONT)
        assert samples["redband_host_up"][(("host", frozen),)] == 0
        assert set(samples["redband_host_up"].values()) == {0.0, 1.0} and took < SCRAPE_TIMEOUT_S + 3.0, took
        wait_until(lambda: set(scrape(server.url)["redband_host_up"].values()) == {1.0}, timeout_s=20,
                   what="the host answering again once it runs")
    finally:
        server.stop()
