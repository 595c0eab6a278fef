"""``redband run --log-format json`` (Ray's ``LoggingConfig(encoding="JSON")``, ``actors/ray_setup.ensure_ray``): a
host's log line comes out as one JSON object carrying its ids; and a host's journal commits are timed. No Ray started:
the logging configuration is applied to this process alone and taken back after."""

from __future__ import annotations

import io
import json
import logging

import pytest
import ray

from actors.host_metrics import HostTimings
from engine.errors import JournalUnavailable
from engine.journal import MemoryJournal
from tests.engine.helpers import Pair


@pytest.fixture
def json_logging():
    """This process's logging as a Ray worker's under ``--log-format json``, restored afterwards."""
    root, ray_logger = logging.getLogger(), logging.getLogger("ray")
    saved = (root.handlers[:], root.level, ray_logger.handlers[:], ray_logger.level, ray_logger.propagate)
    ray.LoggingConfig(encoding="JSON", log_level="INFO")._apply()
    out = io.StringIO()
    for handler in set(root.handlers) - set(saved[0]):
        handler.setStream(out)
    try:
        yield out
    finally:
        root.handlers[:], root.level = saved[0], saved[1]
        ray_logger.handlers[:], ray_logger.level, ray_logger.propagate = saved[2], saved[3], saved[4]


def test_a_hosts_journal_failure_is_one_json_line_with_the_host_id(json_logging):
    timings = HostTimings()
    pair = Pair(journal=timings.timed(MemoryJournal()))
    box = pair.device("panic_box")
    pair.send(box, "school.panic")
    pair.journal.fail_writes = OSError(28, "No space left on device")
    with pytest.raises(JournalUnavailable):
        pair.send(box, "school.panic")
    lines = [json.loads(line) for line in json_logging.getvalue().splitlines() if line.startswith("{")]
    (failed,) = [line for line in lines if "journal write failed" in line["message"]]
    assert failed["host_id"] == "h0" and failed["levelname"] == "ERROR"
    assert timings.journal_commit_s.snapshot().count == 2  # the write that went through and the one refused
