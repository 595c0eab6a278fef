"""Issue 14's phone surfaces attacked as an outsider would: what a hostile or broken phone sends is refused by name
(a NAK naming the field) or answered, never allowed to fail its host's step (which would roll back the batch of
every other device with it) or to grow the host without bound."""

from __future__ import annotations

import pytest

from protocols.device import make_message
from protocols.errors import ProtocolError
from tests.engine.helpers import Pair

NOW_S = 1_780_000_000.0


@pytest.fixture
def pair():
    return Pair(now_s=NOW_S)


@pytest.mark.parametrize("month", ["0000-01", "9999-12", "0001-01", "3000-01"])
def test_a_month_no_clock_can_hold_is_refused_naming_the_field(month):
    with pytest.raises(ProtocolError) as refused:
        make_message("points.query", seq=1, ts=0, data={"month": month})
    assert refused.value.field == "data.month" and "YYYY-MM" in str(refused.value)


@pytest.mark.parametrize("month", ["1970-01", "1999-12", "2026-12", "2999-12"])
def test_a_month_of_the_calendar_is_answered_with_its_statement(pair, month):
    phone = pair.device("volunteer_phone")
    result = pair.send(phone, "points.query", {"month": month})
    assert result.accepted == 1
    assert [c.args["month"] for c in pair.host.device_commands if c.command == "points.statement"] == [month]
