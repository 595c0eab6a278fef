"""What only the PostgreSQL journal does (the rest is the conformance suite, on both backends): epochs and fencing,
a broken connection opened again, what the actors start from kept in the database, bad URLs and unreachable servers
refused naming the option. A real PostgreSQL (``tests/postgres.py``), a schema per test; no Ray."""

from __future__ import annotations

import threading

import psycopg
import pytest

from actors.engine_files import read_engine_files
from actors.journal_open import journal_label, journal_of, open_journal, start_from
from actors.journal_pg_schema import JournalUrlError, redact
from actors.journal_postgres import PostgresJournal
from engine.errors import JournalFenced, JournalUnavailable
from engine.journal import AlarmSeq, AuditFilter, AuditRow, JournalBatch
from tests.mqtt.helpers import wait_until


def _row(t_s: float) -> AuditRow:
    return AuditRow(t_s, "cc", "command_center", "", "login", "cc", "ok")


def _step(t_s: float) -> JournalBatch:
    return JournalBatch(audit=[_row(t_s)], points=[b"p%d" % t_s], snapshots={f"k{t_s}": b"v"},
                        alarm_seqs=[AlarmSeq("d1", int(t_s), f"d1#{t_s}", 0, 7)], seen={"d1": (t_s, False)})


@pytest.fixture
def url(postgres_server) -> str:
    return postgres_server.fresh_url()


def test_a_host_opened_again_fences_the_older_opening_which_keeps_nothing(url):
    first = PostgresJournal(url, "h1")
    first.write(_step(1.0))
    other = PostgresJournal(url, "h2")
    second = PostgresJournal(url, "h1")  # the host restarted elsewhere: it takes its rows over
    assert second.epoch == first.epoch + 1 and other.epoch == 1

    with pytest.raises(JournalFenced) as refused:
        first.write(_step(2.0))
    assert isinstance(refused.value, JournalUnavailable)
    assert (refused.value.host_id, refused.value.epoch, refused.value.current) == ("h1", first.epoch, second.epoch)
    assert f"epoch {first.epoch} was taken over by epoch {second.epoch}" in str(refused.value)
    for journal in (first, second):  # nothing of the refused step, whoever reads
        state = journal.load(alarm_memory=10)
        assert [r.t_s for r in journal.audit_rows()] == [1.0] and journal.points_rows() == [b"p1"]
        assert [a.seq for a in state.alarm_seqs["d1"]] == [1] and set(state.snapshots) == {"k1.0"}
        assert state.seen == {"d1": (1.0, False)}
    second.write(_step(3.0))  # the new epoch writes; another host was never concerned
    other.write(_step(1.0))
    assert [r.t_s for r in second.audit_rows()] == [1.0, 3.0] and [r.t_s for r in other.audit_rows()] == [1.0]
    with pytest.raises(JournalFenced):  # and stays fenced
        first.write(JournalBatch(audit=[_row(4.0)]))
    for journal in (first, second, other):
        journal.close()


def test_a_takeover_waits_for_the_write_in_flight(url):
    """A write holds the host's row FOR SHARE until it commits: the new opening waits, then reads what it wrote."""
    journal = PostgresJournal(url, "h1")
    in_flight, watcher = psycopg.connect(url, autocommit=True), psycopg.connect(url, autocommit=True)
    with in_flight.transaction():  # the old epoch's write, paused after its epoch check
        in_flight.execute("SELECT epoch FROM hosts WHERE host_id = 'h1' FOR SHARE")
        in_flight.execute("INSERT INTO points_rows (host_id, body) VALUES ('h1', 'late')")
        opened: list[PostgresJournal] = []
        thread = threading.Thread(target=lambda: opened.append(PostgresJournal(url, "h1")))
        thread.start()
        wait_until(lambda: watcher.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                           "AND query LIKE 'INSERT INTO hosts%'").fetchone()[0] == 1,
                   timeout_s=10, what="the takeover waiting for the write's lock", every_s=0.02)
        assert not opened
    thread.join(timeout=10)
    assert opened[0].epoch == journal.epoch + 1 and opened[0].points_rows() == [b"late"]
    in_flight.close()
    watcher.close()
    journal.close()
    opened[0].close()


def test_a_broken_connection_fails_one_call_then_is_opened_again_with_the_same_epoch(url):
    journal = PostgresJournal(url, "h1")
    journal.write(_step(1.0))
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (journal._db.info.backend_pid,))
    with pytest.raises(psycopg.OperationalError):
        journal.write(_step(2.0))
    epoch = journal.epoch
    journal.write(_step(3.0))
    assert journal.epoch == epoch and [r.t_s for r in journal.audit_rows()] == [1.0, 3.0]
    journal.close()


def test_what_the_actors_start_from_is_kept_in_the_database(url):
    assert start_from(url, False, "city", "policies", "placement") == url
    assert read_engine_files(url) == ("city", "policies", "placement")
    start_from(url, True, "other", "other", "other")  # an engine being attached to keeps what is there
    assert read_engine_files(url) == ("city", "policies", "placement")
    start_from(url, False, "new", "new", "new")
    assert read_engine_files(url) == ("new", "new", "new")


def test_the_journal_is_chosen_by_its_url_and_shown_without_its_password(url, tmp_path):
    assert journal_of(str(tmp_path), url) == url and journal_of(str(tmp_path), None) == str(tmp_path)
    journal = open_journal(url, "h3")
    assert isinstance(journal, PostgresJournal) and journal.host_index == 4
    journal.close()
    assert redact("postgresql://u:secret@db:5432/rb") == "postgresql://u:***@db:5432/rb"
    assert journal_label("postgresql://u:secret@db/rb", "h0") == "postgresql://u:***@db/rb (host h0)"


def test_a_bad_url_or_an_unreachable_server_is_refused_naming_the_option(tmp_path):
    with pytest.raises(JournalUrlError, match=r"^journal \(--journal, EngineOptions.journal_url\): expected a "
                                              r"postgresql:// URL"):
        journal_of(None, "mysql://u:secret@db/rb")
    with pytest.raises(JournalUrlError, match=r"--journal.*not a valid PostgreSQL URL") as refused:
        journal_of(None, "postgresql://u:secret@[::1/rb")
    assert "secret" not in str(refused.value)
    with pytest.raises(JournalUrlError, match=r"^journal \(--journal.*cannot reach postgresql://u:\*\*\*@127.0.0.1:1/"):
        start_from("postgresql://u:secret@127.0.0.1:1/rb", False, "city", "policies", "placement")


def test_redband_run_takes_the_journal_url_on_the_command_line_or_in_its_config(tmp_path):
    from engine.errors import ConfigError
    from redband.run_config import UsageError, resolve_run_config

    url = "postgresql://u@db/rb"
    assert resolve_run_config({"city": "c.toml", "journal": url}, None).journal == url
    with pytest.raises(UsageError, match=r"^--journal: expected a postgresql:// URL, got 'sqlite:///x'"):
        resolve_run_config({"city": "c.toml", "journal": "sqlite:///x"}, None)
    config = tmp_path / "redband.toml"
    config.write_text('city = "c.toml"\njournal = "postgresql://u:secret@db/rb"\n')
    assert resolve_run_config({}, str(config)).journal == "postgresql://u:secret@db/rb"
    config.write_text('city = "c.toml"\njournal = "var/journal"\n')
    with pytest.raises(ConfigError, match=r"redband.toml: journal: expected a postgresql:// URL"):
        resolve_run_config({}, str(config))


def test_both_journals_answer_the_same_story_alike_row_for_row_and_in_order(url, tmp_path):
    """One host's story (alarms, re-sent and reused seqs, escalations, a device offline, a patrol, points, audit) on
    SQLite and on PostgreSQL, host and command center each: every read answers the same, in the same order."""
    from actors.journal_sqlite import SqliteJournal
    from tests.actors.test_journal_sqlite import _patrol_and_offer
    from tests.engine.helpers import Pair

    def story(journal, cc_journal) -> Pair:
        pair = Pair(journal=journal, cc_journal=cc_journal)
        _patrol_and_offer(pair)
        box, door = pair.device("panic_box"), pair.device("door")
        for seq in (1, 2, 1):
            pair.send(door, "door.forced", seq=seq, ts_ms=seq * 1000)
        pair.send(box, "heartbeat")
        for t in range(150, 400, 30):
            pair.advance(float(t))
        return pair

    sqlite = story(SqliteJournal(tmp_path / "h0.sqlite", host_index=1), SqliteJournal(tmp_path / "cc.sqlite"))
    pg = story(PostgresJournal(url, "h0", host_index=1), PostgresJournal(url, "cc", host_index=0))
    for a, b in ((sqlite.journal, pg.journal), (sqlite.cc_journal, pg.cc_journal)):
        left, right = a.load(alarm_memory=3), b.load(alarm_memory=3)
        assert left.incidents == right.incidents and left.incidents
        assert list(left.alarm_seqs.items()) == list(right.alarm_seqs.items())
        assert list(left.seen.items()) == list(right.seen.items())
        assert list(left.snapshots.items()) == list(right.snapshots.items())
        assert a.all_incidents() == b.all_incidents()
        assert [a.transitions(r.id) for r in a.all_incidents()] == [b.transitions(r.id) for r in b.all_incidents()]
        assert list(a.pending_deadlines().items()) == list(b.pending_deadlines().items())
        assert a.audit_rows() == b.audit_rows() and a.points_rows() == b.points_rows()
        assert a.audit_page(AuditFilter(limit=5, outcome="ok")) == b.audit_page(AuditFilter(limit=5, outcome="ok"))


def _engine_on(url):
    """A small engine on the PostgreSQL journal, and a panic box's alarm."""
    from actors.runtime import Engine, EngineOptions
    from engine.citygen import CitySpec, generate_city
    from engine.policy import default_policies
    from protocols.batch import Ingest
    from protocols.device import make_message

    city = generate_city(CitySpec(precincts=1, communities=1, schools=1, kiosk_halls=0, volunteers=1, seed=11))
    engine = Engine(city, default_policies(), EngineOptions(precinct_hosts=1, journal_url=url)).start()
    box = next(d.id for d in city.devices.values() if d.kind == "panic_box")
    return engine, box, Ingest(box, make_message("school.panic", seq=1, ts=0))


@pytest.mark.ray
def test_a_host_restarted_on_the_postgresql_journal_takes_its_rows_over(url, ray_session):
    """``Engine.restart_host`` with the PostgreSQL journal (no journal directory): the host starts from the engine's
    row in the database, rebuilds from its rows with the next epoch, and answers a re-sent alarm as a duplicate."""
    engine, box, alarm = _engine_on(url)
    try:
        (ack,) = engine.ingest([alarm]).acks
        host = engine.placement.host_for_device(box)
        engine.restart_host(host)
        (again,) = engine.ingest([alarm]).acks
        assert again.status.value == "duplicate" and again.incident_id == ack.incident_id
        rows = {row["host_id"]: row for row in engine.status()["hosts"]}
        assert rows[host]["restarted"] and rows[host]["journal"] == f"{redact(url)} (host {host})"
    finally:
        engine.stop()
    with psycopg.connect(url) as db:
        assert dict(db.execute("SELECT host_id, epoch FROM hosts").fetchall()) == {"cc": 1, host: 2}


@pytest.mark.ray
def test_a_host_whose_journal_is_taken_over_leaves_and_ray_starts_it_again(url, ray_session):
    """Another opening of the host's journal (a newer epoch) fences the running host: its next step is refused, nothing
    of it kept, and its process exits; Ray starts it again, it takes the journal back, and the alarm sent again is
    acked as new."""
    import ray

    engine, box, alarm = _engine_on(url)
    try:
        host = engine.placement.host_for_device(box)
        pid = ray.get(engine.hosts[host].where.remote()).pid
        intruder = PostgresJournal(url, host)

        def acked():
            try:
                (ack,) = engine.ingest([alarm]).acks
            except ray.exceptions.RayError:  # the fenced host's process exited under the call
                return None
            return ack
        ack = wait_until(acked, timeout_s=60, what="the alarm acked by the host started again", every_s=0.1)
        assert ack.status.value == "ack", ack  # the fenced step kept nothing: the alarm is new to the journal
        where = ray.get(engine.hosts[host].where.remote())
        assert where.restarted and where.pid != pid
        assert intruder.incident(ack.incident_id) is not None
        intruder.close()
    finally:
        engine.stop()
    with psycopg.connect(url) as db:
        assert dict(db.execute("SELECT host_id, epoch FROM hosts").fetchall())[host] == 3
