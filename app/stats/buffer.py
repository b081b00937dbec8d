"""The per-process buffer of usage counts: `add()` is a dict increment under a lock (no I/O on the request
path); a daemon thread writes the counts to `usage_counters` by one upsert per batch every
USAGE_FLUSH_SECONDS, sooner when USAGE_FLUSH_EVENTS counts are waiting, and the process writes what is left
when it exits normally (atexit: gunicorn's graceful worker exit, `flask run` stopped by Ctrl-C).

Buffering window (what a crash can lose): a worker killed without exiting (SIGKILL, out of memory, power loss)
loses the counts it took in its last USAGE_FLUSH_SECONDS (default 60 s), at most USAGE_FLUSH_EVENTS (default
1000) counts per worker. A failed write (database down) keeps the counts in memory and retries at the next flush.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import weakref
from collections import Counter
from datetime import date
from typing import Any

from flask import Flask
from sqlalchemy import insert

from app.extensions import db

log = logging.getLogger(__name__)

Key = tuple[date, int, str, str]  # day, procedure_id, event, channel
_BUFFERS: weakref.WeakSet[UsageBuffer] = weakref.WeakSet()


@atexit.register
def _flush_all_at_exit() -> None:
    for buffer in list(_BUFFERS):
        buffer._at_exit()


def upsert(conn: Any, counts: dict[Key, int]) -> None:
    """Add `counts` to the table: INSERT … ON CONFLICT DO UPDATE SET count = count + excluded.count."""
    from app.stats.models import UsageCounter

    table = UsageCounter.__table__
    rows = [{"day": k[0], "procedure_id": k[1], "event": k[2], "channel": k[3], "count": n}
            for k, n in sorted(counts.items()) if n]  # a fixed order: concurrent flushes never deadlock
    if not rows:
        return
    dialect = conn.dialect.name
    if dialect in ("postgresql", "sqlite"):
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as dialect_insert
        else:
            from sqlalchemy.dialects.sqlite import insert as dialect_insert
        stmt = dialect_insert(table)
        stmt = stmt.on_conflict_do_update(index_elements=[table.c.day, table.c.procedure_id, table.c.event,
                                                          table.c.channel],
                                          set_={"count": table.c.count + stmt.excluded["count"]})
        conn.execute(stmt, rows)
        return
    for row in rows:  # another backend: update, else insert
        result = conn.execute(table.update().where(table.c.day == row["day"],
                                                   table.c.procedure_id == row["procedure_id"],
                                                   table.c.event == row["event"], table.c.channel == row["channel"])
                              .values(count=table.c.count + row["count"]))
        if result.rowcount == 0:
            conn.execute(insert(table).values(**row))


class UsageBuffer:
    """Thread-safe in-memory counts of one process for one app."""

    def __init__(self, app: Flask, flush_seconds: float = 60, flush_events: int = 1000,
                 background: bool = True) -> None:
        self.app = app
        self.flush_seconds = flush_seconds
        self.flush_events = flush_events
        self.background = background
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._counts: Counter[Key] = Counter()
        self._pending = 0
        self._wake = threading.Event()
        self._thread_pid: int | None = None
        self.flushed_total = 0
        _BUFFERS.add(self)

    # ------------------------------------------------------------------ request path

    def add(self, day: date, procedure_id: int, event: str, channel: str = "online", n: int = 1) -> None:
        with self._lock:
            self._counts[(day, procedure_id, event, channel)] += n
            self._pending += n
            due = self._pending >= self.flush_events
        if self.background:
            if self._thread_pid != os.getpid():
                self._start_thread()
            if due:
                self._wake.set()

    def pending(self) -> int:
        with self._lock:
            return self._pending

    # ------------------------------------------------------------------ writing

    def take(self) -> Counter[Key]:
        with self._lock:
            counts, self._counts, self._pending = self._counts, Counter(), 0
        return counts

    def restore(self, counts: Counter[Key]) -> None:
        with self._lock:
            self._counts.update(counts)
            self._pending += sum(counts.values())

    def flush(self) -> int:
        """Write the waiting counts (one transaction). Returns how many counts were written."""
        with self._flush_lock:
            counts = self.take()
            if not counts:
                return 0
            try:
                with self.app.app_context():
                    with db.engine.begin() as conn:
                        upsert(conn, counts)
            except Exception:  # noqa: BLE001 — keep the counts, retry at the next flush
                self.restore(counts)
                log.exception("usage counters: flush failed, %d counts kept for the next one", sum(counts.values()))
                return 0
            written = sum(counts.values())
            self.flushed_total += written
            return written

    def _start_thread(self) -> None:
        with self._lock:
            if self._thread_pid == os.getpid():
                return
            self._thread_pid = os.getpid()  # after a fork the parent's thread is gone: start ours
        threading.Thread(target=self._run, name="usage-counters-flush", daemon=True).start()

    def _run(self) -> None:
        while True:
            self._wake.wait(self.flush_seconds)
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # noqa: BLE001 — the thread must survive
                log.exception("usage counters: flush thread")

    def _at_exit(self) -> None:
        if self.app.testing:
            return  # the test database may be gone already; tests call flush()
        if self.pending() and self._flush_lock.acquire(timeout=10):
            self._flush_lock.release()
            try:
                self.flush()
            except Exception:  # noqa: BLE001 — the interpreter is going away
                pass
