"""The usage-counter buffer in isolation: thread safety, the upsert, the bot filter."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import date

import pytest
from flask import Flask
from sqlalchemy import create_engine, select

from app.stats.buffer import UsageBuffer, upsert
from app.stats.models import UsageCounter
from app.stats.tracking import is_bot

DAY = date(2026, 11, 24)


def test_concurrent_adds_lose_nothing():
    buf = UsageBuffer(Flask("t"), flush_events=10**9, background=False)
    taken: Counter = Counter()
    lock = threading.Lock()

    def work(pid: int) -> None:
        for i in range(5000):
            buf.add(DAY, pid % 3, "view")
            if i % 1000 == 0:
                counts = buf.take()  # a flush taking the counts meanwhile
                with lock:
                    taken.update(counts)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    taken.update(buf.take())
    assert sum(taken.values()) == 40000 and buf.pending() == 0
    assert taken[(DAY, 0, "view", "online")] == 15000


def test_restore_merges_back():
    buf = UsageBuffer(Flask("t"), background=False)
    buf.add(DAY, 1, "start", n=3)
    counts = buf.take()
    buf.add(DAY, 1, "start")
    buf.restore(counts)
    assert buf.pending() == 4 and buf.take() == Counter({(DAY, 1, "start", "online"): 4})


def test_threshold_wakes_the_flush_thread(monkeypatch):
    buf = UsageBuffer(Flask("t"), flush_seconds=3600, flush_events=3, background=True)
    flushed = threading.Event()
    monkeypatch.setattr(buf, "flush", lambda: flushed.set() or 0)
    buf.add(DAY, 1, "view")
    buf.add(DAY, 1, "view")
    assert not flushed.wait(0.2)
    buf.add(DAY, 1, "view")
    assert flushed.wait(5)
    buf.take()  # nothing left for the exit flush


def test_upsert_adds_to_existing_rows_on_sqlite(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'u.sqlite'}")
    UsageCounter.__table__.create(engine)
    with engine.begin() as conn:
        upsert(conn, {(DAY, 1, "view", "online"): 5, (DAY, 2, "view", "online"): 1})
    with engine.begin() as conn:
        upsert(conn, {(DAY, 1, "view", "online"): 7, (DAY, 1, "submit", "counter"): 2})
    with engine.connect() as conn:
        rows = {(r.procedure_id, r.event, r.channel): r.count for r in conn.execute(select(UsageCounter.__table__))}
    assert rows == {(1, "view", "online"): 12, (2, "view", "online"): 1, (1, "submit", "counter"): 2}
    engine.dispose()


@pytest.mark.parametrize(("agent", "bot"), [
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
     False),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 Zalo iOS", False),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0 Safari/537.36",
     False),
    ("Werkzeug/3.1.3", False),
    ("", True), (None, True),
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", True),
    ("Mozilla/5.0 (compatible; coccocbot-web/1.0; +http://help.coccoc.com/searchengine)", True),
    ("curl/8.5.0", True), ("Wget/1.21", True), ("python-requests/2.32.3", True), ("python-httpx/0.28.1", True),
    ("Go-http-client/2.0", True), ("Java/17.0.2", True), ("Scrapy/2.11 (+https://scrapy.org)", True),
    ("facebookexternalhit/1.1", True), ("Mozilla/5.0 (compatible; YandexSpider)", True),
    ("Mozilla/5.0 Headless", True),
])
def test_bot_filter(agent, bot):
    assert is_bot(agent) is bot
