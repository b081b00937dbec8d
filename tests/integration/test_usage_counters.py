"""Usage counters (app/stats): views, starts, submits per procedure and day; bots, reloads, concurrency, usage()."""

from __future__ import annotations

import copy
import threading
import time
from datetime import date, timedelta

import pytest
from sqlalchemy import delete, select

from app import create_app
from app.catalog.models import Procedure
from app.config import TestConfig
from app.dossiers.models import Dossier
from app.extensions import db
from app.stats import flush, usage
from app.stats import init_app as init_stats
from app.stats.buffer import UsageBuffer
from app.stats.models import UsageCounter
from app.stats.queries import day_start_utc
from app.stats.tracking import today

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
HEADLESS = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0 Safari/537.36"
BIRTH = "1.001193"


@pytest.fixture(scope="module")
def stats_app(app, database_url):
    """The session app when create_app already wires app.stats, else a second app on the same database."""
    if "usage_counters" in app.extensions:
        yield app
        return
    config = {k: copy.deepcopy(getattr(TestConfig, k)) for k in dir(TestConfig) if k.isupper()}
    config.update(SQLALCHEMY_DATABASE_URI=database_url, UPLOAD_DIR=app.config["UPLOAD_DIR"],
                  USAGE_FLUSH_THREAD=False)
    other = create_app(config)
    init_stats(other)
    yield other
    with other.app_context():
        db.engine.dispose()


@pytest.fixture
def buffer(stats_app):
    buf = stats_app.extensions["usage_counters"]
    flush(stats_app)
    with stats_app.app_context():
        db.session.execute(delete(UsageCounter))
        db.session.commit()
    yield buf
    buf.take()
    with stats_app.app_context():
        db.session.execute(delete(UsageCounter))
        db.session.commit()


def procedure_id(app, code: str = BIRTH) -> int:
    with app.app_context():
        return db.session.scalar(select(Procedure.id).where(Procedure.code == code))


def stored(app, event: str, pid: int, channel: str = "online") -> int:
    with app.app_context():
        return db.session.scalar(select(UsageCounter.count).where(
            UsageCounter.procedure_id == pid, UsageCounter.event == event, UsageCounter.channel == channel,
            UsageCounter.day == today())) or 0


def test_views_under_concurrent_requests_are_all_counted(stats_app, buffer):
    pid = procedure_id(stats_app)
    errors: list[str] = []

    def browse() -> None:
        for _ in range(50):
            r = stats_app.test_client().get(f"/thu-tuc/{BIRTH}", headers={"User-Agent": BROWSER})  # a new session
            if r.status_code != 200:
                errors.append(str(r.status_code))

    threads = [threading.Thread(target=browse) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    flush(stats_app)
    assert stored(stats_app, "view", pid) == 400
    # a second batch adds to the same row (upsert)
    for _ in range(3):
        stats_app.test_client().get(f"/thu-tuc/{BIRTH}", headers={"User-Agent": BROWSER})
    assert flush(stats_app) == 3
    assert stored(stats_app, "view", pid) == 403


def test_reloads_count_once_per_browser_per_procedure_and_day(stats_app, buffer):
    pid = procedure_id(stats_app)
    client = stats_app.test_client()
    for _ in range(5):
        assert client.get(f"/thu-tuc/{BIRTH}", headers={"User-Agent": BROWSER}).status_code == 200
    for _ in range(3):
        assert client.get(f"/thu-tuc/{BIRTH}/nop-ho-so", headers={"User-Agent": HEADLESS}).status_code == 200
    client.get("/thu-tuc/1.001612", headers={"User-Agent": BROWSER})  # another procedure: its own view
    client.get("/thu-tuc/khong-co", headers={"User-Agent": BROWSER})  # 404: nothing
    flush(stats_app)
    assert stored(stats_app, "view", pid) == 1
    assert stored(stats_app, "start", pid) == 1  # HeadlessChrome (the browser tests) counts
    assert stored(stats_app, "view", procedure_id(stats_app, "1.001612")) == 1
    with client.session_transaction() as sess:  # the marker: a day and ids, nothing personal
        marker = sess["_uc"]
    assert marker["d"] == today().strftime("%Y%m%d") and marker["v"] == [pid, procedure_id(stats_app, "1.001612")]
    with client.session_transaction() as sess:  # the next day, the same browser counts again
        sess["_uc"] = {"d": (today() - timedelta(days=1)).strftime("%Y%m%d"), "v": [pid]}
    client.get(f"/thu-tuc/{BIRTH}", headers={"User-Agent": BROWSER})
    flush(stats_app)
    assert stored(stats_app, "view", pid) == 2


@pytest.mark.parametrize("agent", ["", "Googlebot/2.1 (+http://www.google.com/bot.html)", "curl/8.5.0",
                                   "python-requests/2.32", "Mozilla/5.0 (compatible; bingbot/2.0)",
                                   "Mozilla/5.0 (compatible; AhrefsBot/7.0)", "Scrapy/2.11",
                                   "Mozilla/5.0 (Linux) Headless"])
def test_bots_are_not_counted(stats_app, buffer, agent):
    pid = procedure_id(stats_app)
    for _ in range(3):
        r = stats_app.test_client().get(f"/thu-tuc/{BIRTH}", headers={"User-Agent": agent})
        assert r.status_code == 200
    stats_app.test_client().get(f"/thu-tuc/{BIRTH}", headers={"User-Agent": BROWSER, "Sec-Purpose": "prefetch"})
    assert buffer.pending() == 0
    flush(stats_app)
    assert stored(stats_app, "view", pid) == 0


def test_submits_counted_from_committed_dossiers(stats_app, buffer, library_procedure):
    from app.dossiers.services import submit

    pid = procedure_id(stats_app, library_procedure)
    data = {"reader_name": "Trần Thị Bình", "birth_date": "2001-02-01"}
    applicant = {"name": "Trần Thị Bình", "phone": "0912345679"}
    with stats_app.app_context():
        submit(library_procedure, "online", applicant, data)
        db.session.rollback()  # rolled back: not counted
        submit(library_procedure, "online", applicant, data)
        with db.session.begin_nested() as nested:  # undone by a savepoint: not counted
            submit(library_procedure, "postal", applicant, data)
            nested.rollback()
        submit(library_procedure, "counter", applicant, data)
        db.session.commit()
    assert buffer.pending() == 2
    flush(stats_app)
    assert stored(stats_app, "submit", pid) == 1
    assert stored(stats_app, "submit", pid, "counter") == 1
    assert stored(stats_app, "submit", pid, "postal") == 0
    with stats_app.app_context():
        [row] = usage(procedure_id=pid)
    assert row["submits"] == 1 and row["abandons"] == 0
    assert row["submits_by_channel"] == {"online": 1, "counter": 1, "postal": 0}
    assert row["dossiers"] == {"online": 1, "counter": 1, "postal": 0} and row["online_ratio"] == 0.5


def test_flush_on_threshold_by_the_background_thread(stats_app, buffer):
    pid = procedure_id(stats_app)
    own = UsageBuffer(stats_app, flush_seconds=3600, flush_events=5, background=True)
    for _ in range(4):
        own.add(today(), pid, "view")
    time.sleep(0.3)
    assert own.pending() == 4 and stored(stats_app, "view", pid) == 0  # below the threshold: waits
    own.add(today(), pid, "view")
    deadline = time.monotonic() + 10
    while own.pending() and time.monotonic() < deadline:
        time.sleep(0.05)
    deadline = time.monotonic() + 5
    while stored(stats_app, "view", pid) != 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert own.pending() == 0 and stored(stats_app, "view", pid) == 5 and own.flushed_total == 5


def test_a_failed_flush_keeps_the_counts(stats_app, buffer, monkeypatch):
    import app.stats.buffer as buffer_module

    pid = procedure_id(stats_app)
    buffer.add(today(), pid, "start", n=7)

    def down(*_a, **_k):
        raise RuntimeError("database down")

    monkeypatch.setattr(buffer_module, "upsert", down)
    assert buffer.flush() == 0 and buffer.pending() == 7
    monkeypatch.undo()
    assert buffer.flush() == 7 and stored(stats_app, "start", pid) == 7


def test_usage_figures_and_online_ratio_on_a_hand_built_data_set(stats_app, buffer):
    birth, household = procedure_id(stats_app), procedure_id(stats_app, "1.001612")
    d1, d2, d3 = date(2026, 11, 2), date(2026, 11, 3), date(2026, 11, 10)
    with stats_app.app_context():
        db.session.add_all([
            UsageCounter(day=d1, procedure_id=birth, event="view", channel="online", count=100),
            UsageCounter(day=d2, procedure_id=birth, event="view", channel="online", count=50),
            UsageCounter(day=d1, procedure_id=birth, event="start", channel="online", count=20),
            UsageCounter(day=d2, procedure_id=birth, event="start", channel="online", count=10),
            UsageCounter(day=d1, procedure_id=birth, event="submit", channel="online", count=12),
            UsageCounter(day=d2, procedure_id=birth, event="submit", channel="online", count=6),
            UsageCounter(day=d1, procedure_id=birth, event="submit", channel="counter", count=4),
            UsageCounter(day=d3, procedure_id=birth, event="view", channel="online", count=1000),  # out of period
            UsageCounter(day=d1, procedure_id=household, event="view", channel="online", count=9),
            UsageCounter(day=d1, procedure_id=household, event="start", channel="online", count=2),
            UsageCounter(day=d1, procedure_id=household, event="submit", channel="online", count=5),
        ])
        procs = {p.id: p for p in db.session.scalars(select(Procedure).where(Procedure.id.in_([birth, household])))}
        n = 0

        def dossier(pid: int, channel: str, day: date, hours: float) -> None:
            nonlocal n
            n += 1
            p = procs[pid]
            at = day_start_utc(day) + timedelta(hours=hours)
            db.session.add(Dossier(code=f"T-USAGE-{n}", procedure_id=pid, version_id=p.current_version_id,
                                   unit_id=p.unit_id, channel=channel, status=1, applicant_name="A",
                                   applicant_name_folded="a", data={}, tracking_secret_hash="x" * 64,
                                   submitted_at=at, created_at=at, due_at=at + timedelta(days=3)))

        for _ in range(3):
            dossier(birth, "online", d1, 9)
        dossier(birth, "counter", d2, 23.5)  # 23:30 Vietnam time on the 3rd: inside the period
        dossier(birth, "postal", d2, 10)  # postal: not in the ratio
        dossier(birth, "online", d1, -0.5)  # 23:30 on the 1st: before the period
        dossier(birth, "online", d2 + timedelta(days=1), 0.5)  # 00:30 on the 4th: after the period
        dossier(household, "counter", d1, 8)
        db.session.commit()
        rows = {r["procedure_id"]: r for r in usage(since=d1, until=d2)}
        b = rows[birth]
        assert (b["views"], b["starts"], b["submits"], b["abandons"]) == (150, 30, 18, 12)
        assert b["submits_by_channel"] == {"online": 18, "counter": 4, "postal": 0}
        assert b["dossiers"] == {"online": 3, "counter": 1, "postal": 1}
        assert b["online_ratio"] == 0.75 and b["code"] == BIRTH
        h = rows[household]
        assert (h["views"], h["starts"], h["submits"], h["abandons"]) == (9, 2, 5, 0)
        assert h["dossiers"] == {"online": 0, "counter": 1, "postal": 0} and h["online_ratio"] == 0.0
        quiet = [r for r in rows.values() if r["procedure_id"] not in (birth, household)]
        assert quiet and all(r["views"] == 0 and r["online_ratio"] is None for r in quiet)  # active, unused
        [only] = usage(procedure_id=birth)  # the whole history
        assert only["views"] == 1150 and only["dossiers"]["online"] == 5
        unit_rows = usage(unit_id=procs[household].unit_id, since=d1, until=d1)
        assert {r["procedure_id"] for r in unit_rows} >= {household}
        assert all(r["unit_id"] == procs[household].unit_id for r in unit_rows)
        assert next(r for r in unit_rows if r["procedure_id"] == household)["views"] == 9


def test_usage_cli(stats_app, buffer):
    pid = procedure_id(stats_app)
    stats_app.test_client().get(f"/thu-tuc/{BIRTH}", headers={"User-Agent": BROWSER})
    runner = stats_app.test_cli_runner()
    r = runner.invoke(args=["usage", "flush"])
    assert r.exit_code == 0 and "1 lượt" in r.output
    assert stored(stats_app, "view", pid) == 1
    r = runner.invoke(args=["usage", "show", "--procedure", BIRTH, "--since", today().isoformat()])
    assert r.exit_code == 0, r.output
    assert r.output.splitlines()[1].split() == [BIRTH, "1", "0", "0", "0", "–"]
    assert runner.invoke(args=["usage", "show", "--procedure", "khong-co"]).exit_code == 1
    assert runner.invoke(args=["usage", "show", "--since", "hom-qua"]).exit_code == 2
