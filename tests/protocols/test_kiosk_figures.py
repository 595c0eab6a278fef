"""The kiosk hall's figures answered at a desk and added up over hosts (protocols/kiosk.py)."""

from __future__ import annotations

import msgspec
import pytest

from protocols.kiosk import KioskFigures, KioskFiguresAnswer, merge


def test_answers_of_several_hosts_add_up_with_the_averages_of_the_whole():
    a = KioskFiguresAnswer("K1", None, served=2, served_by_service={"x": 2}, served_by_category={"c": 2},
                           sessions=3, session_s=300.0, exam_passed=1, exam_failed=1, bookings=4, no_shows=1,
                           open_tickets=1)
    b = KioskFiguresAnswer("K1", None, served=1, served_by_service={"x": 1, "y": 0}, sessions=1, session_s=100.0,
                           exam_passed=1)
    total = merge([a, b])
    assert (total.served, total.served_by_service, total.sessions, total.bookings) == (3, {"x": 3, "y": 0}, 4, 4)
    assert total.average_session_s == 100.0 and total.exam_pass_rate == 2 / 3 and total.open_tickets == 1
    assert merge([]) is None
    assert KioskFiguresAnswer(None, None).exam_pass_rate is None and KioskFiguresAnswer(None, None).average_session_s == 0


@pytest.mark.parametrize("bad", [{"day": "2026-1-1"}, {"hall": ""}, {"hall": "K1", "colour": 1}])
def test_a_bad_request_is_refused(bad):
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert(bad, KioskFigures)
