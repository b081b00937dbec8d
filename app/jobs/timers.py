"""Timer rows: materialised after every advance, claimed and fired by the scheduler."""

from __future__ import annotations

import logging
import os
import socket
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm.exc import StaleDataError

from app import engine
from app.common.claims import claim_rows
from app.common.types import utcnow
from app.extensions import db
from app.jobs.models import CANCELLED, FIRED, PENDING, SchedulerHeartbeat, Timer

log = logging.getLogger(__name__)

#: how long a claim holds before another scheduler may take the timer over (a crashed process)
CLAIM_SECONDS = 60
#: the first retry delay after a failure; doubles per attempt up to MAX_BACKOFF
RETRY_SECONDS = 5
MAX_BACKOFF = 3600
#: two timers whose due times differ by less than this are the same timer
SAME_DUE = timedelta(seconds=1)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# --------------------------------------------------------------------------- after every advance


def sync_timers(dossier: Any, instance: engine.Instance) -> None:
    """Replace the dossier's pending timer rows by the timers its workflow waits on now."""
    waiting = engine.pending_timers(instance)
    if dossier.id is None:
        return
    now = utcnow()
    for row in db.session.scalars(select(Timer).where(Timer.dossier_id == dossier.id, Timer.state == PENDING)):
        if row.state != PENDING:
            continue  # fired in this unit of work, not flushed yet
        match = next((w for w in waiting if w["bpmn_id"] == row.bpmn_id and abs(w["due"] - row.due_at) < SAME_DUE),
                     None)
        if match is not None:
            waiting.remove(match)
        else:
            row.state = CANCELLED  # the workflow took another path: an interrupted task, a completed one
            row.finished_at = now
    for w in waiting:
        db.session.add(Timer(dossier_id=dossier.id, bpmn_id=w["bpmn_id"], name=(w["name"] or "")[:255],
                             due_at=w["due"], state=PENDING, attempts=0, created_at=now))


# --------------------------------------------------------------------------- claiming


def _claimable(now: datetime):
    return and_(Timer.state == PENDING, Timer.due_at <= now,
                or_(Timer.locked_until.is_(None), Timer.locked_until < now))


def claim_due(now: datetime, worker: str, limit: int = 50) -> list[int]:
    """Claim up to `limit` due timers for `worker`; each claim is atomic (no timer is claimed twice)."""
    return claim_rows(Timer, _claimable(now), (Timer.due_at, Timer.id), limit,
                      {"locked_until": now + timedelta(seconds=CLAIM_SECONDS), "claimed_by": worker,
                       "attempts": Timer.attempts + 1})


# --------------------------------------------------------------------------- firing


class _Retry(Exception):
    """The dossier changed under us (or is busy): leave the timer pending and try again later."""


def _lock_dossier(dossier_id: int) -> Any:
    from app.dossiers.models import Dossier

    return db.session.scalar(select(Dossier).where(Dossier.id == dossier_id).with_for_update(of=Dossier)
                             .execution_options(populate_existing=True))


def fire_one(timer_id: int, now: datetime, worker: str) -> list[str]:
    """Fire one claimed timer (and whatever else of its dossier is due). Commits. Returns element ids fired."""
    from app.dossiers.services import SYSTEM, advance, audit, load_instance

    try:
        dossier_id = db.session.scalar(select(Timer.dossier_id).where(Timer.id == timer_id))
        if dossier_id is None:
            db.session.rollback()
            return []
        dossier = _lock_dossier(dossier_id)  # waits while the dossier is being edited (PostgreSQL)
        timer = db.session.scalar(select(Timer).where(Timer.id == timer_id)
                                  .execution_options(populate_existing=True))
        if dossier is None or timer is None or timer.state != PENDING or timer.claimed_by != worker:
            db.session.rollback()
            return []  # cancelled by the workflow meanwhile, or the claim expired and someone else took it
        instance, state = load_instance(dossier)
        fired = engine.fire_due_timers(instance, max(now, timer.due_at))
        rows = list(db.session.scalars(select(Timer).where(Timer.dossier_id == dossier.id, Timer.state == PENDING)))
        at = utcnow()
        for bpmn_id in fired:
            row = min((r for r in rows if r.bpmn_id == bpmn_id and r.state == PENDING),
                      key=lambda r: (r.id != timer.id, r.due_at), default=None)
            name = row.name if row is not None else bpmn_id
            if row is not None:
                row.state = FIRED
                row.finished_at = at
                row.locked_until = None
                row.last_error = None
            audit(dossier, SYSTEM, "timer_fired",
                  detail={"timer": bpmn_id, "name": name, "due_at": row.due_at.isoformat() if row else None})
        before = dossier.status
        advance(dossier, instance, SYSTEM, state)
        if timer.state == PENDING:  # the engine had nothing due for it: sync_timers settled it, release it
            timer.locked_until = None
        db.session.flush()
        if fired:
            db.session.execute(update(SchedulerHeartbeat).where(SchedulerHeartbeat.name == "main")
                               .values(fired_total=SchedulerHeartbeat.fired_total + len(fired))
                               .execution_options(synchronize_session=False))
        db.session.commit()
        log.info("timers fired for dossier %s: %s (status %s → %s)", dossier.code, fired, before, dossier.status)
        return fired
    except StaleDataError:
        db.session.rollback()
        _release(timer_id, now, "Hồ sơ đang được cập nhật; thử lại sau.", delay=1)
        return []
    except Exception as exc:  # noqa: BLE001 — one broken dossier must not stop the scheduler
        db.session.rollback()
        log.exception("timer %s failed", timer_id)
        _release(timer_id, now, str(exc)[:2000] or type(exc).__name__)
        return []


def _release(timer_id: int, now: datetime, error: str, delay: int | None = None) -> None:
    """Keep the timer pending, retry later (exponential backoff unless `delay` is given)."""
    timer = db.session.get(Timer, timer_id)
    if timer is None or timer.state != PENDING:
        db.session.rollback()
        return
    wait = delay if delay is not None else min(MAX_BACKOFF, RETRY_SECONDS * 2 ** max(0, timer.attempts - 1))
    timer.locked_until = max(now, utcnow()) + timedelta(seconds=wait)
    timer.last_error = error
    db.session.commit()


def run_due(now: datetime | None = None, worker: str | None = None, limit: int = 50) -> list[tuple[int, str]]:
    """Fire every timer due at `now` (default: the clock). Returns [(dossier_id, element id)] fired."""
    now = now or utcnow()
    worker = worker or worker_id()
    out: list[tuple[int, str]] = []
    for timer_id in claim_due(now, worker, limit):
        dossier_id = db.session.scalar(select(Timer.dossier_id).where(Timer.id == timer_id))
        out += [(dossier_id, b) for b in fire_one(timer_id, now, worker)]
    return out


# --------------------------------------------------------------------------- heartbeat


def heartbeat() -> dict[str, Any] | None:
    """The scheduler's last beat, for monitoring: {holder, started_at, beat_at, fired_total} or None."""
    row = db.session.execute(select(SchedulerHeartbeat.holder, SchedulerHeartbeat.started_at,
                                    SchedulerHeartbeat.beat_at, SchedulerHeartbeat.fired_total)
                             .where(SchedulerHeartbeat.name == "main")).first()
    if row is None or row.beat_at is None:
        return None
    return {"holder": row.holder, "started_at": row.started_at, "beat_at": row.beat_at,
            "fired_total": row.fired_total, "age_seconds": (utcnow() - row.beat_at).total_seconds()}
