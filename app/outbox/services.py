"""Write outbox rows in the caller's transaction; claim and deliver them from the scheduler process.

Delivery is at-least-once to the partner and deduplicated there by the message's idempotency key:
a worker that dies after the partner answered but before it recorded DONE leaves the row SENDING; when
the claim expires another worker sends it again with the same key.
"""

from __future__ import annotations

import logging
import random
import uuid
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

import connectors
from app.common.claims import claim_rows
from app.common.types import utcnow
from app.extensions import db
from app.outbox.models import DEAD, DONE, PENDING, SENDING, InboundEvent, OutboxMessage

log = logging.getLogger(__name__)

CLAIM_SECONDS = 120       # a claim outlives the slowest partner call (timeouts are 10–30 s)
BASE_BACKOFF = 5.0        # seconds before the first retry; doubled per attempt, with jitter
MAX_BACKOFF = 1800.0      # at most half an hour between two attempts


# --------------------------------------------------------------------------- settings


def settings_for(name: str) -> dict[str, Any]:
    return dict((current_app.config.get("CONNECTORS") or {}).get(name) or {})


def enabled(name: str) -> bool:
    """A connector is on when it is configured (a URL, or an SMTP host for e-mail)."""
    s = settings_for(name)
    return bool(s.get("url") or s.get("host"))


# --------------------------------------------------------------------------- writing


def enqueue(connector: str, operation: str, payload: dict[str, Any], *, dossier: Any = None,
            key: str | None = None, ordering_key: str | None = None, on_done: str | None = None,
            delay: float = 0, max_attempts: int | None = None) -> OutboxMessage:
    """Store one outbound call in the current transaction. Nothing is sent until the caller commits.

    `key` makes the call idempotent end to end: enqueueing the same key twice returns the first row
    (within this unit of work or already stored), and the partner receives it as Idempotency-Key.
    """
    key = key or f"{connector}-{uuid.uuid4().hex}"
    for obj in db.session.new:  # same key earlier in this unit of work
        if isinstance(obj, OutboxMessage) and obj.key == key:
            return obj
    existing = db.session.scalar(select(OutboxMessage).where(OutboxMessage.key == key))
    if existing is not None:
        return existing
    now = utcnow()
    msg = OutboxMessage(connector=connector, operation=operation, payload=payload, key=key,
                        dossier_id=getattr(dossier, "id", None), ordering_key=ordering_key, on_done=on_done,
                        state=PENDING, attempts=0,
                        max_attempts=max_attempts or int(current_app.config.get("OUTBOX_MAX_ATTEMPTS", 12)),
                        next_attempt_at=now + timedelta(seconds=delay), created_at=now, updated_at=now)
    db.session.add(msg)
    return msg


def backoff(attempts: int, rng: random.Random | None = None) -> float:
    """Seconds to wait after the `attempts`-th failure: exponential, capped, with ±50 % jitter."""
    base = min(MAX_BACKOFF, BASE_BACKOFF * 2 ** max(0, attempts - 1))
    return base * (0.5 + (rng or random).random())


# --------------------------------------------------------------------------- claiming


def _claimable(now: datetime):
    earlier = aliased(OutboxMessage)
    blocked = exists().where(earlier.ordering_key == OutboxMessage.ordering_key, earlier.id < OutboxMessage.id,
                             earlier.state.in_((PENDING, SENDING)))
    ready = or_(and_(OutboxMessage.state == PENDING, OutboxMessage.next_attempt_at <= now),
                and_(OutboxMessage.state == SENDING, OutboxMessage.claimed_until < now))  # a worker died
    return and_(ready, or_(OutboxMessage.ordering_key.is_(None), ~blocked))


def claim(worker: str, limit: int = 20, now: datetime | None = None) -> list[int]:
    """Claim up to `limit` due messages. PostgreSQL: FOR UPDATE SKIP LOCKED, so workers never collide;
    SQLite: one conditional UPDATE per row (the write lock serialises them)."""
    now = now or utcnow()
    return claim_rows(OutboxMessage, _claimable(now), (OutboxMessage.next_attempt_at, OutboxMessage.id), limit,
                      {"state": SENDING, "claimed_by": worker, "claimed_until": now + timedelta(seconds=CLAIM_SECONDS),
                       "updated_at": now})


# --------------------------------------------------------------------------- delivering


def deliver(msg_id: int, worker: str) -> str:
    """Send one claimed message and record the outcome. Commits. Returns the new state."""
    msg = db.session.get(OutboxMessage, msg_id, populate_existing=True)
    if msg is None or msg.state != SENDING or msg.claimed_by != worker:
        db.session.rollback()
        return "lost"
    connector_name, operation, payload, key = msg.connector, msg.operation, dict(msg.payload or {}), msg.key
    db.session.rollback()  # no transaction stays open during the partner call
    error: connectors.ConnectorError | None = None
    result: dict[str, Any] | None = None
    try:
        conn = connectors.get(connector_name, settings_for(connector_name))
        result = conn.send(operation, payload, key)
    except connectors.ConnectorError as exc:
        error = exc
    except Exception as exc:  # noqa: BLE001 — a bug in a connector is a transient failure, logged
        log.exception("connector %s.%s crashed", connector_name, operation)
        error = connectors.TransientError(f"{type(exc).__name__}: {exc}")
    return _record_outcome(msg_id, worker, result, error)


def _record_outcome(msg_id: int, worker: str, result: dict[str, Any] | None,
                    error: connectors.ConnectorError | None) -> str:
    from app.outbox.handlers import run_on_done

    now = utcnow()
    msg = db.session.get(OutboxMessage, msg_id, populate_existing=True, with_for_update=True)
    if msg is None or msg.state != SENDING or msg.claimed_by != worker:
        db.session.rollback()  # the claim expired and another worker took it: its outcome counts
        return "lost"
    msg.attempts += 1
    msg.claimed_by = None
    msg.claimed_until = None
    msg.updated_at = now
    if error is None:
        msg.state = DONE
        msg.sent_at = now
        msg.result = result or {}
        msg.last_error = None
        try:
            run_on_done(msg)
        except Exception:  # noqa: BLE001 — the partner has the message; record the local failure, don't resend
            log.exception("on_done %s failed for outbox %s", msg.on_done, msg.id)
            db.session.rollback()
            msg = db.session.get(OutboxMessage, msg_id, populate_existing=True)
            assert msg is not None
            msg.state, msg.attempts, msg.sent_at, msg.result = DONE, msg.attempts + 1, now, result or {}
            msg.claimed_by = msg.claimed_until = None
            msg.last_error = "Đối tác đã nhận; xử lý kết quả trong MotCua thất bại (xem nhật ký)."
    else:
        msg.last_error = error.message[:2000]
        msg.last_status = error.status
        if not error.transient or msg.attempts >= msg.max_attempts:
            msg.state = DEAD
        else:
            msg.state = PENDING
            wait = error.retry_after if error.retry_after is not None else backoff(msg.attempts)
            msg.next_attempt_at = now + timedelta(seconds=wait)
    db.session.commit()
    return msg.state


def deliver_due(worker: str, limit: int = 20, now: datetime | None = None) -> dict[str, int]:
    """Claim and deliver one batch (due at `now`, default the clock). Returns counts per outcome."""
    counts: dict[str, int] = {}
    for msg_id in claim(worker, limit, now):
        state = deliver(msg_id, worker)
        counts[state] = counts.get(state, 0) + 1
    return counts


# --------------------------------------------------------------------------- administrators


def resend(msg: OutboxMessage, who: str) -> None:
    """Put a dead or failing message back in the queue now, with a fresh attempt budget."""
    if msg.state == DONE:
        raise ValueError("Thông điệp đã gửi xong.")
    msg.state = PENDING
    msg.next_attempt_at = utcnow()
    msg.max_attempts = msg.attempts + int(current_app.config.get("OUTBOX_MAX_ATTEMPTS", 12))
    msg.claimed_by = msg.claimed_until = None
    msg.resolved_by = f"resend:{who}"


def mark_done(msg: OutboxMessage, who: str, note: str = "") -> None:
    """The partner has it by other means (or it must not be sent): stop trying, keep the record."""
    if msg.state == DONE:
        raise ValueError("Thông điệp đã gửi xong.")
    msg.state = DONE
    msg.sent_at = utcnow()
    msg.claimed_by = msg.claimed_until = None
    msg.resolved_by = f"done:{who}"
    msg.result = {"marked_done_by": who, "note": note}


def summary() -> dict[str, int]:
    """Counts for the admin page and /metrics: pending, failing, sending, dead, done."""
    tried = func.sum(case((OutboxMessage.attempts > 0, 1), else_=0))
    rows = db.session.execute(select(OutboxMessage.state, func.count(), tried).group_by(OutboxMessage.state)).all()
    out = {"pending": 0, "failing": 0, "sending": 0, "dead": 0, "done": 0}
    for state, n, failing in rows:
        if state == PENDING:
            out["failing"] += int(failing or 0)
            out["pending"] += n - int(failing or 0)
        else:
            out[state] += n
    return out


# --------------------------------------------------------------------------- inbound


def record_inbound(partner: str, event_id: str, payload: dict[str, Any], *, dossier: Any = None,
                   occurred_at: datetime | None = None) -> InboundEvent | None:
    """Store an inbound event once. Returns None when the same (partner, event id) was already stored."""
    if db.session.scalar(select(InboundEvent.id).where(InboundEvent.partner == partner,
                                                       InboundEvent.event_id == event_id)) is not None:
        return None
    event = InboundEvent(partner=partner, event_id=event_id[:200], payload=payload,
                         dossier_id=getattr(dossier, "id", None), occurred_at=occurred_at, received_at=utcnow())
    try:
        with db.session.begin_nested():
            db.session.add(event)
            db.session.flush()
    except IntegrityError:  # a concurrent delivery of the same event won
        return None
    return event
