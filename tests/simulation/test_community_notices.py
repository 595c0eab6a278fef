"""Notices in the community evening (``simulation.community_notices``): the operator's posts and withdrawals planned
with their targets, windows, refusals and truth; the door screens showing their site's board; the figures read from
the hosts' counters and the desk's notice lists. The full-scale run is in ``test_community_evening.py``."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace

from protocols.notices import BoardNotice, NoticeState, PostNotice, SiteBoard, WithdrawNotice, encode_board
from simulation.community_notices import NOTICE_FIGURES, notice_figures
from simulation.community_phones import CommunityDevices
from tests.simulation.test_community_evening import small

NOTICES = """
[community.notices]
whole = 2
buildings = 1
units = 1
scheduled = 1
expiring = 1
withdrawn = 1
unknown_building = 1
window_past = 1
targets = 2
strays = 1
"""


def test_notices_are_planned_with_their_targets_windows_refusals_and_truth(tmp_path):
    plan = small(tmp_path, NOTICES).community.notices
    posts = {a.request.notice: a for a in plan.actions if isinstance(a.request, PostNotice)}
    assert [a.at_s for a in plan.actions] == sorted(a.at_s for a in plan.actions) and len(posts) == 9
    assert {a.refusal for a in posts.values()} == {"", "unknown_building", "window_past"}
    assert posts["n-window-past-1"].request.valid_until_s < posts["n-window-past-1"].at_s
    assert posts["n-scheduled-1"].request.valid_from_s > posts["n-scheduled-1"].at_s
    assert posts["n-expiring-1"].request.valid_until_s < plan.end_s < posts["n-whole-1"].request.valid_until_s
    withdraw = next(a for a in plan.actions if isinstance(a.request, WithdrawNotice))
    assert withdraw.request.notice == "n-withdrawn-1" and withdraw.at_s > posts["n-withdrawn-1"].at_s
    whole, chosen = plan.notices["n-whole-1"], plan.notices["n-buildings-1"]
    assert whole.doors == {d for d, _ in plan.doors[whole.site]} and len(whole.doors) == 10
    buildings = set(posts["n-buildings-1"].request.buildings)
    assert chosen.doors == {d for d, b in plan.doors[chosen.site] if b in buildings} and len(chosen.doors) == 2
    truth = plan.truth
    assert (truth["notices.posted"], truth["notices.active"], truth["notices.expired"], truth["notices.withdrawn"],
            truth["notices.refused.unknown_building"], truth["notices.refused.window_past"]) == (7, 5, 1, 1, 1, 1)
    assert truth["notices.receipts"] == 3 * 10 + 4 * 2 and truth["notices.as_planned"] == 7
    assert plan.strays == {"n-buildings-1": plan.strays["n-buildings-1"]} and truth["notices.receipts_refused"] == 1
    assert plan.strays["n-buildings-1"] in {d for d, _ in plan.doors[chosen.site]} - chosen.doors


def test_door_screens_report_each_notice_for_their_building_once(tmp_path):
    plan = small(tmp_path, NOTICES).community
    devices, site = CommunityDevices(plan), plan.notices.notices["n-buildings-1"].site
    building = plan.notices.doors[site][0][1]
    board = SiteBoard(site, 0, (BoardNotice("all", "x", 0, 1), BoardNotice("one", "y", 0, 1, buildings=(building,))))
    command = SimpleNamespace(device_id=site, site=site, command="notice.board", args={"board": encode_board(board)})
    replies = devices.commands([command], 95.0)
    shown = Counter(r.data["notice"] for r in replies)
    assert shown == {"all": 10, "one": 1} and all(r.at_s == 100.0 and r.kind.value == "notice.shown" for r in replies)
    assert {r.device_id for r in replies if r.data["notice"] == "one"} == {plan.notices.doors[site][0][0]}
    assert devices.commands([command], 100.0) == []  # shown once
    assert devices.commands([SimpleNamespace(**{**vars(command), "args": {"board": b""}})], 110.0) == []
    assert devices.tally["notices_shown"] == 11 and devices.tally["boards_cleared"] == 1
    stray = plan.notices.strays["n-buildings-1"]  # a faulty screen outside the notice's targets reports it too
    board = SiteBoard(site, 0, (BoardNotice("n-buildings-1", "y", 0, 1, buildings=(building,)),))
    replies = devices.commands([SimpleNamespace(**{**vars(command), "args": {"board": encode_board(board)}})], 120.0)
    assert sorted(r.device_id for r in replies) == sorted({plan.notices.doors[site][0][0], stray})
    assert devices.tally["notices_shown_astray"] == 1


def test_notice_figures_come_from_the_hosts_counters_and_the_desks_lists(tmp_path):
    plan = small(tmp_path, NOTICES).community.notices
    stats = [SimpleNamespace(notices={"posted": 4, "refused_window_past": 1, "receipts": 30}),
             SimpleNamespace(notices={"posted": 3, "active": 5, "receipt_refused": 2})]

    def view(notice, shown, state=None, pending=()):
        want = plan.notices[notice]
        return SimpleNamespace(notice=notice, state=state or want.state, shown=tuple(shown), pending=pending)

    views = [view(n, sorted(p.doors)) for n, p in plan.notices.items()]
    seen = notice_figures(stats, [SimpleNamespace(notices=views)], plan)
    assert set(seen) == set(NOTICE_FIGURES) and seen["notices.posted"] == 7 and seen["notices.active"] == 5
    assert seen["notices.refused.window_past"] == 1 and seen["notices.receipts_refused"] == 2
    assert (seen["notices.listed"], seen["notices.as_planned"], seen["notices.shown_outside"]) == (7, 7, 0)
    site = plan.notices["n-buildings-1"].site
    outside = next(d for d, _ in plan.doors[site] if d not in plan.notices["n-buildings-1"].doors)
    views[0] = view("n-whole-1", [], state=NoticeState.SCHEDULED)
    views.append(SimpleNamespace(**{**vars(view("n-buildings-1", [])), "shown": (outside,)}))
    seen = notice_figures(stats, [SimpleNamespace(notices=views)], plan)
    assert (seen["notices.listed"], seen["notices.as_planned"], seen["notices.shown_outside"]) == (7, 5, 1)


def test_the_operator_posts_at_the_desk_on_the_hosts_clock_and_refusals_are_named(tmp_path, monkeypatch):
    from engine.notices import NoticeRefused
    from simulation import community_run
    from simulation.community_run import CommunitySide

    plan = small(tmp_path, NOTICES).community
    asked, t0 = [], 1_700_000_000.0  # a real-time run: the host's clock is epoch time

    def post(engine, request):
        asked.append(request)
        if request.notice.startswith(("n-unknown", "n-window")):
            reason = "unknown_building" if "unknown" in request.notice else "window_past"
            raise NoticeRefused(reason, f"{reason}: no")
        return request

    monkeypatch.setattr(community_run, "post_notice", post)
    monkeypatch.setattr(community_run, "withdraw_notice", lambda engine, request: asked.append(request))
    monkeypatch.setattr(community_run, "site_notices", lambda engine, q: SimpleNamespace(now_s=t0 + 100.0))
    engine = SimpleNamespace(take_device_commands=list)
    side = CommunitySide(plan, engine, push=lambda at_s, item: None)
    for action in plan.notices.actions:
        side.turn(action.at_s)
        side.turn(action.at_s)
    assert [r.notice for r in asked] == [a.request.notice for a in plan.notices.actions]
    first = plan.notices.actions[0]
    by_id = {r.notice: r for r in asked if isinstance(r, PostNotice)}
    planned = {a.request.notice: a.request for a in plan.notices.actions if isinstance(a.request, PostNotice)}
    shift = t0 + 100.0 - first.at_s
    assert by_id["n-whole-1"].valid_until_s == planned["n-whole-1"].valid_until_s + shift
    assert by_id["n-scheduled-1"].valid_from_s == planned["n-scheduled-1"].valid_from_s + shift
    assert by_id["n-whole-1"].valid_from_s == 0.0  # "now"
    assert sorted(side.notices_refused) == ["n-unknown-building-1: unknown_building (unknown_building: no)",
                                            "n-window-past-1: window_past (window_past: no)"]
