from simulation.report import TimelineRow, check_expectations
from simulation.scenario import _Expect


def rows():
    return [TimelineRow(0.0, "i1", "school.panic", "notified", "guard_room", "G"),
            TimelineRow(30.0, "i1", "school.panic", "escalated", "command_center", "CC")]


def test_timed_expectation_passes_within_tolerance_and_fails_outside():
    ok, late, _ = check_expectations([_Expect("a", "escalated", at_s=30.04), _Expect("b", "escalated", at_s=30.2)],
                                     rows(), lost=0)
    assert ok.passed and not late.passed and "seen at: 30.0s" in late.detail


def test_never_and_count():
    never, count, _ = check_expectations([_Expect("n", "acknowledged", never=True),
                                          _Expect("c", "notified", count=2)], rows(), lost=0)
    assert never.passed and not count.passed


def test_lost_events_fail_the_run():
    (lost,) = check_expectations([], rows(), lost=1)
    assert not lost.passed and lost.detail == "lost = 1"


def test_expectation_after_the_end_of_a_shortened_run_is_skipped_not_passed():
    skipped, checked, _ = check_expectations([_Expect("r", "reminder", at_s=90), _Expect("e", "escalated", at_s=30)],
                                             rows(), lost=0, end_s=35)
    assert skipped.skipped and skipped.verdict == "SKIP"
    assert checked.verdict == "PASS"
