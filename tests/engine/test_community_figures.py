"""Figures per community and per grid (engine/hosting/site_figures.py, engine/community_figures.py): counted from the
host's own incidents and visitor calls, per site, kept across a restart, filtered by grid / site / precinct, and
added up per grid."""

from __future__ import annotations

from dataclasses import replace

from engine.community_figures import merge
from engine.grids import grid_of, grids
from engine.journal import MemoryJournal
from protocols.community_figures import CommunityFiguresQuery
from protocols.notices import PostNotice
from tests.engine.helpers import SMALL, Pair

SPEC = replace(SMALL, communities=3, residents_per_door=3)
DOOR, CAMERA, SITE = "C0001-door1", "C0001-cam1", "C0001"


def _figures(pair: Pair, **query):
    return {r.id: r for r in pair.host.ask(CommunityFiguresQuery(**query), now_s=pair.now_s).rows}


def _activity(pair: Pair) -> None:
    assert pair.send(DOOR, "door.forced").accepted == 1
    assert pair.send(CAMERA, "camera.throw", {"facade": "east"}).accepted == 1
    pair.now_s = 60.0
    assert pair.send(CAMERA, "camera.throw", {"facade": "east"}).accepted == 1  # joins: a report more, not an alarm
    pair.send("C0001-door2", "door.visitor", {"unit": "2"})  # rings, nobody answers
    pair.send(DOOR, "door.opened", {"open": True})
    pair.advance(400.0)  # the call missed at 120 s, the door held open since 60 s raised at 180 s


def test_a_sites_alarms_calls_doors_and_throws_are_counted_for_it_and_kept_across_a_restart():
    pair = Pair(SPEC, journal=MemoryJournal())
    _activity(pair)
    rows = _figures(pair)
    row = rows[SITE]
    assert (row.doors_forced, row.doors_held_open, row.throws) == (1, 1, 2)
    # the site's devices silent for 400 s: supervision raised maintenance tickets too (group "devices")
    tickets = [r for r in pair.host.incidents.values() if r.site_id == SITE and r.kind.value.endswith("offline")]
    assert tickets and row.open_tickets == len(tickets)
    assert row.alarms_by_group == {"cameras": 1, "devices": row.alarms - 3, "doors": 2}
    assert (row.visitor_calls, row.missed_calls) == (1, 1)
    assert row.open_incidents == 3
    assert row.notices == 0  # the site's notice board: none in force
    assert (row.grid, row.precinct, row.kind) == (grid_of(pair.city.sites[SITE]), "P1", "community")
    quiet = rows["C0002"]
    assert (quiet.alarms, quiet.visitor_calls, quiet.throws, quiet.open_incidents) == (0, 0, 0, 0)
    pair.restart()
    again = _figures(pair)[SITE]
    assert again == row


def test_the_request_filters_by_grid_site_and_precinct():
    pair = Pair(SPEC)
    every = _figures(pair)
    assert set(every) == set(pair.city.sites)
    assert set(_figures(pair, site=SITE)) == {SITE}
    grid = grid_of(pair.city.sites[SITE])
    assert set(_figures(pair, grid=grid)) == grids(pair.city)[grid].site_ids
    assert _figures(pair, precinct="P2") == {} and _figures(pair, grid="no-such-grid") == {}


def test_the_answers_of_hosts_add_up_per_site_and_per_grid():
    pair = Pair(SPEC)
    _activity(pair)
    answer = pair.host.ask(CommunityFiguresQuery(), now_s=pair.now_s)
    cc_answer = pair.cc.ask(CommunityFiguresQuery(), now_s=pair.now_s)  # the command center's host: no sites
    assert cc_answer.rows == []
    sites, grid_rows = merge([answer, cc_answer], pair.city)
    grid = grid_of(pair.city.sites[SITE])
    by_grid = {r.id: r for r in grid_rows}
    assert set(by_grid) == set(grids(pair.city))
    mine = by_grid[grid]
    assert mine.kind == "grid" and mine.name == pair.city.sites[SITE].zone
    assert mine.communities == len(grids(pair.city)[grid].site_ids)
    assert (mine.alarms, mine.throws, mine.visitor_calls) == (sites[0].alarms, 2, 1)  # C0001 is the only busy one
    assert sum(r.communities for r in grid_rows) == len(sites)
    doubled, _ = merge([answer, answer], pair.city)  # a site answered twice adds up
    assert {r.id: r.alarms for r in doubled}[SITE] == 2 * sites[0].alarms


def test_a_sites_notices_in_force_are_counted():
    pair = Pair(SPEC)
    pair.host.ask(PostNotice(notice="n1", operator="op", site=SITE, text="Water off 9-12", valid_until_s=3600.0),
                  now_s=0.0)
    rows = _figures(pair)
    assert rows[SITE].notices == 1 and rows["C0002"].notices == 0
    _, grid_rows = merge([pair.host.ask(CommunityFiguresQuery(), now_s=0.0)], pair.city)
    assert {r.id: r.notices for r in grid_rows}[grid_of(pair.city.sites[SITE])] == 1
