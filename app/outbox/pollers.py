"""Pulling from partners that offer it (run by the scheduler leader every minute).

- Vietnam Post: orders not final and quiet for `VNPOST_POLL_SECONDS` are tracked; each history entry is
  applied with the same event ids as callbacks, so a callback and a poll of one event count once.
- Document axis: this agency's mailbox is fetched, each message verified and applied, then acknowledged.
- Handlers of tasks due soon are reminded (app/inbox/reminders.py).
- Payment attempts left pending (a lost notify, an abandoned gateway page) are queried (app/payments).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

import connectors
from app.common.types import utcnow
from app.extensions import db
from app.outbox.inbound import apply_shipment_event
from app.outbox.models import Shipment
from app.outbox.services import enabled, settings_for

log = logging.getLogger(__name__)


def poll_shipments(now: datetime | None = None, limit: int = 200) -> int:
    """Track open postal orders that have been quiet for a while. Returns how many were tracked."""
    if not enabled("vnpost"):
        return 0
    now = now or utcnow()
    quiet = now - timedelta(seconds=float(current_app.config.get("VNPOST_POLL_SECONDS", 300)))
    rows = list(db.session.scalars(select(Shipment).where(Shipment.item_code.is_not(None),
                                                          Shipment.status.in_((0, 1, 2)),
                                                          Shipment.updated_at < quiet)
                                  .order_by(Shipment.updated_at).limit(limit)))
    ids = [(r.id, r.item_code) for r in rows]
    db.session.rollback()
    conn = connectors.get("vnpost", settings_for("vnpost"))
    for shipment_id, item in ids:
        try:
            answer = conn.send("track_order", {"item_code": item}, key="")
        except connectors.ConnectorError as exc:
            log.warning("tracking %s failed: %s", item, exc.message)
            continue
        shipment = db.session.get(Shipment, shipment_id)
        if shipment is None:
            continue
        for event in answer.get("history") or []:
            occurred = datetime.fromisoformat(str(event["occurredAt"]).replace("Z", "+00:00"))
            apply_shipment_event(shipment, int(event["statusCode"]), str(event.get("statusMessage") or ""),
                                 occurred, event_id=f"cb:{event['eventId']}")
        shipment.updated_at = now  # polled: quiet again for the next interval
        db.session.commit()
    return len(ids)


def poll_axis_mailbox() -> int:
    from app.outbox.interagency import poll_axis

    return poll_axis()


def remind_due_tasks() -> int:
    from app.inbox.reminders import send_due_reminders

    sent = send_due_reminders()
    db.session.commit()
    return sent


def poll_payments() -> int:
    from app.payments.services import poll_pending

    return poll_pending()  # commits after each attempt


def purge_drafts() -> int:
    from app.drafts.services import purge_expired

    purged = purge_expired()
    db.session.commit()
    return purged


POLLERS: list[tuple[str, Callable[[], int]]] = [
    ("vnpost", poll_shipments),
    ("axis", poll_axis_mailbox),
    ("reminders", remind_due_tasks),
    ("payment", poll_payments),
    ("drafts", purge_drafts),
]


def run_pollers() -> dict[str, int]:
    out = {}
    for name, poll in POLLERS:
        try:
            out[name] = poll()
        except Exception:  # noqa: BLE001 — one partner down must not stop the others
            db.session.rollback()
            log.exception("poller %s failed", name)
    return out
