"""The one scheduler process: `flask jobs run`. APScheduler polls due timers every few seconds.

Only one scheduler is active: on PostgreSQL it holds a session advisory lock (released by the server
when the process dies); on both backends it keeps the `scheduler_heartbeat` row fresh, and a second
scheduler idles until that beat is stale (or, on the same host, its holder's process is gone).
Claims on timer rows make double firing impossible even without the leader lease.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
from datetime import timedelta
from typing import Any

from flask import Flask
from sqlalchemy import or_, select, text, update
from sqlalchemy.exc import IntegrityError

from app.common.types import utcnow
from app.extensions import db
from app.jobs.models import SchedulerHeartbeat
from app.jobs.timers import run_due, worker_id

log = logging.getLogger(__name__)

ADVISORY_KEY = 0x4D6F7443  # "MotC"
LEADER = "main"


def _holder_gone(holder: str | None) -> bool:
    """True when the holder ran on this host and its process no longer exists."""
    if not holder or ":" not in holder:
        return False
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class Leader:
    """Leadership for one scheduler process: advisory lock (PostgreSQL) + heartbeat lease (both)."""

    def __init__(self, app: Flask, worker: str, stale_seconds: float) -> None:
        self.app = app
        self.worker = worker
        self.stale = timedelta(seconds=stale_seconds)
        self._conn: Any = None
        self.started = utcnow()

    def _advisory(self) -> bool:
        if db.engine.dialect.name != "postgresql":
            return True
        if self._conn is None:
            conn = db.engine.connect()
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}).scalar()
            conn.commit()
            if not got:
                conn.close()
                return False
            self._conn = conn
        return True

    def beat(self) -> bool:
        """Renew (or take) the lease; True when this process is the active scheduler."""
        if not self._advisory():
            return False
        now = utcnow()
        if db.session.scalar(select(SchedulerHeartbeat.name).where(SchedulerHeartbeat.name == LEADER)) is None:
            try:
                db.session.add(SchedulerHeartbeat(name=LEADER, holder=None, fired_total=0))
                db.session.commit()
            except IntegrityError:
                db.session.rollback()
        holder = db.session.scalar(select(SchedulerHeartbeat.holder).where(SchedulerHeartbeat.name == LEADER))
        gone = _holder_gone(holder)
        db.session.rollback()
        conds = [SchedulerHeartbeat.holder.is_(None), SchedulerHeartbeat.holder == self.worker,
                 SchedulerHeartbeat.beat_at.is_(None), SchedulerHeartbeat.beat_at < now - self.stale]
        if gone or db.engine.dialect.name == "postgresql":  # the advisory lock already decided
            conds = [SchedulerHeartbeat.name == LEADER]
        values: dict[str, Any] = {"holder": self.worker, "beat_at": now, "started_at": self.started}
        result = db.session.execute(update(SchedulerHeartbeat).where(SchedulerHeartbeat.name == LEADER, or_(*conds))
                                    .values(**values).execution_options(synchronize_session=False))
        leader = result.rowcount == 1
        db.session.commit()
        return leader

    def resign(self) -> None:
        try:
            db.session.execute(update(SchedulerHeartbeat).where(SchedulerHeartbeat.name == LEADER,
                                                                SchedulerHeartbeat.holder == self.worker)
                               .values(holder=None).execution_options(synchronize_session=False))
            db.session.commit()
        finally:
            if self._conn is not None:
                try:  # the connection goes back to the pool: the session-level lock must go first
                    self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
                    self._conn.commit()
                finally:
                    self._conn.close()
                    self._conn = None


def tick(app: Flask, leader: Leader) -> int:
    """One poll: beat, and when leading fire what is due. Returns the number of timers fired."""
    with app.app_context():
        try:
            if not leader.beat():
                return 0
            fired = run_due(worker=leader.worker)
            if fired:
                log.info("fired %d timer(s)", len(fired))
            return len(fired)
        except Exception:  # noqa: BLE001 — keep polling; the next tick retries
            db.session.rollback()
            log.exception("scheduler tick failed")
            return 0
        finally:
            db.session.remove()


def outbox_tick(app: Flask, worker: str) -> int:
    """One outbox worker pass: claim and deliver due messages until none is left (not leader-gated:
    claims make any number of workers on any number of machines safe)."""
    from app.outbox.services import deliver_due

    total = 0
    with app.app_context():
        try:
            while True:
                counts = deliver_due(worker, limit=int(app.config.get("OUTBOX_BATCH", 20)))
                n = sum(counts.values())
                total += n
                if n == 0:
                    return total
        except Exception:  # noqa: BLE001 — keep polling; the next tick retries
            db.session.rollback()
            log.exception("outbox tick failed")
            return total
        finally:
            db.session.remove()


def housekeeping_tick(app: Flask, leader: Leader) -> None:
    """Leader only, every minute: poll partners that offer it, remind handlers of tasks due soon."""
    from app.outbox.pollers import run_pollers

    with app.app_context():
        try:
            if leader.worker != _current_holder():
                return
            run_pollers()
            from app.reports import refresh_facts

            refresh_facts()
        except Exception:  # noqa: BLE001
            db.session.rollback()
            log.exception("housekeeping failed")
        finally:
            db.session.remove()


def _current_holder() -> str | None:
    return db.session.scalar(select(SchedulerHeartbeat.holder).where(SchedulerHeartbeat.name == LEADER))


def run(app: Flask, interval: float | None = None, stale: float | None = None) -> None:
    """Block and poll until SIGTERM/SIGINT."""
    from apscheduler.schedulers.blocking import BlockingScheduler

    interval = interval or float(app.config.get("JOBS_POLL_SECONDS", 2))
    stale = stale or float(app.config.get("JOBS_STALE_SECONDS", 30))
    leader = Leader(app, worker_id(), stale)
    scheduler = BlockingScheduler(timezone="UTC")
    scheduler.add_job(tick, "interval", args=[app, leader], seconds=interval, id="timers",
                      max_instances=1, coalesce=True, next_run_time=utcnow())
    for i in range(int(app.config.get("OUTBOX_WORKERS", 2))):
        scheduler.add_job(outbox_tick, "interval", args=[app, f"{leader.worker}/outbox-{i}"],
                          seconds=float(app.config.get("OUTBOX_POLL_SECONDS", 1)), id=f"outbox-{i}",
                          max_instances=1, coalesce=True, next_run_time=utcnow())
    scheduler.add_job(housekeeping_tick, "interval", args=[app, leader], id="housekeeping",
                      seconds=float(app.config.get("HOUSEKEEPING_SECONDS", 60)), max_instances=1, coalesce=True)

    def stop(_signum: int, _frame: Any) -> None:
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("scheduler %s polling every %ss", leader.worker, interval)
    try:
        scheduler.start()
    finally:
        with app.app_context():
            leader.resign()
