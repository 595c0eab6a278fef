"""``/metrics`` rendering (``actors/metrics_families.py``) and the collector's cache, without Ray."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from actors.bridge_stats import LaneStats, as_dict, count_answers, count_nak
from actors.host_metrics import HostTimings
from actors.metrics import EngineCollector
from actors.metrics_families import Scrape
from engine.hosting.stats import Counters, host_stats
from protocols.batch import DeviceAck
from protocols.kinds import AckStatus


def _samples(scrape: Scrape) -> dict:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(EngineCollector("ns", gather_fn=lambda namespace, timeout_s: scrape))
    text = generate_latest(registry).decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_hosts_and_lanes_render_with_their_labels_and_a_silent_host_is_down():
    counters = Counters(accepted=5, refused=1, journal_failures=2)
    timings = HostTimings()
    timings.step_s.observe(0.003)
    timings.journal_commit_s.observe(0.0007)
    h0 = timings.report(host_stats("h0", counters, devices=3, devices_active=2, responders=1, incidents_open=4,
                                   deadlines=6, journal_writes=9))
    lane = LaneStats(received=7, connected=True, connects=1)
    count_answers(lane, [DeviceAck("d1", 1, AckStatus.ACK), DeviceAck("d2", 2, AckStatus.NAK, "data.zone: bad")])
    count_nak(lane, "unavailable, retry: host h1 restarting")
    lane.ack_latency_s.observe(0.02)
    bulk = LaneStats(backing_off=True)
    scrape = Scrape(hosts={"h0": h0, "h1": None},
                    bridges={"bridge:b0:alarm": {"lanes": {"alarm": as_dict(lane)}},
                             "bridge:b0:evt": {"lanes": {"evt": as_dict(bulk)}}, "bridge:b1:evt": None},
                    starts={"host:h0": 3, "bridge:b0:alarm": 1})
    s = _samples(scrape)
    assert ("redband_console_up", ()) not in s  # no console gateway started: no console figures
    with_console = _samples(Scrape({}, {}, {"console-gateway": 2}, console={"console-gateway": {"consoles": 3}}))
    assert with_console[("redband_console_sessions", ())] == 3
    assert with_console[("redband_console_restarts_total", ())] == 1
    assert s[("redband_host_up", (("host", "h0"),))] == 1 and s[("redband_host_up", (("host", "h1"),))] == 0
    assert s[("redband_host_restarts_total", (("host", "h0"),))] == 2
    assert s[("redband_host_events_accepted_total", (("host", "h0"),))] == 5
    assert s[("redband_host_journal_failures_total", (("host", "h0"),))] == 2
    assert s[("redband_host_incidents_open", (("host", "h0"),))] == 4
    assert s[("redband_host_step_seconds_count", (("host", "h0"),))] == 1
    assert s[("redband_journal_commit_seconds_bucket", (("host", "h0"), ("le", "0.001")))] == 1
    alarm = (("bridge", "b0"), ("lane", "alarm"))
    assert s[("redband_bridge_events_received_total", alarm)] == 7
    assert s[("redband_bridge_acks_total", alarm)] == 1
    assert s[("redband_bridge_naks_total", (*alarm, ("reason", "data.zone")))] == 1
    assert s[("redband_bridge_naks_total", (*alarm, ("reason", "unavailable")))] == 1
    assert s[("redband_bridge_lane_state", (*alarm, ("state", "up")))] == 1
    assert s[("redband_bridge_lane_state", (("bridge", "b0"), ("lane", "evt"), ("state", "backing_off")))] == 1
    assert s[("redband_bridge_lane_up", (("bridge", "b0"), ("lane", "evt")))] == 0
    assert s[("redband_bridge_process_up", (("bridge", "b1"), ("lanes", "evt")))] == 0
    assert s[("redband_alarm_ack_seconds_count", (("bridge", "b0"),))] == 1
    assert s[("redband_alarm_ack_seconds_bucket", (("bridge", "b0"), ("le", "0.025")))] == 1


def test_scrapes_within_the_cache_time_gather_once():
    calls = []

    def gather(namespace, timeout_s):
        calls.append(namespace)
        return Scrape({}, {})

    collector = EngineCollector("ns", gather_fn=gather, cache_s=60.0)
    collector.scrape()
    collector.scrape()
    assert calls == ["ns"]
