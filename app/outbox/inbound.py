"""Partner answers arriving (callbacks and polling): deduplicated, ordered by when they happened,
applied to the dossier, and handed to the workflow element that waits for them."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select

from app.common.types import utcnow
from app.dossiers.models import Dossier
from app.extensions import db
from app.i18n import N_
from app.outbox.models import Shipment
from app.outbox.services import record_inbound

log = logging.getLogger(__name__)

#: Vietnam Post states (connectors/contracts/vnpost.yaml); 0 is ours: ordered, no waybill yet
SHIPMENT_LABELS = {0: N_("Đã gửi yêu cầu tới bưu điện"), 1: N_("Bưu điện đã nhận yêu cầu"),
                   2: N_("Bưu tá đang thu gom / phát"),
                   3: N_("Đã giao"), 4: N_("Đã hủy"), 5: N_("Giao không thành công")}
FINAL_SHIPMENT = {3, 4}


def deliver_to_workflow(dossier: Dossier, message: str, payload: dict[str, Any], note: str = "") -> bool:
    """Lock the dossier, give the waiting element `message`, advance. False when nothing waits for it."""
    from app.dossiers.services import SYSTEM, advance, audit, load_instance
    from app.jobs.timers import _lock_dossier

    locked = _lock_dossier(dossier.id)
    instance, state = load_instance(locked)
    if not instance.deliver_message(message, payload):
        return False
    before = locked.status
    audit(locked, SYSTEM, "message", from_status=before, to_status=None,
          detail={"message": message}, note=note)
    advance(locked, instance, SYSTEM, state)
    return True


def apply_shipment_event(shipment: Shipment, status: int, message: str, occurred_at: datetime | None,
                         event_id: str) -> str:
    """Apply one postal state change unless it is a repeat or older than what we know. Returns the outcome."""
    from app.dossiers.services import SYSTEM, audit

    dossier = db.session.get(Dossier, shipment.dossier_id)
    assert dossier is not None
    event = record_inbound("vnpost", event_id, {"status": status, "message": message,
                                                "item_code": shipment.item_code}, dossier=dossier,
                           occurred_at=occurred_at)
    if event is None:
        return "duplicate"
    if occurred_at is not None and shipment.last_event_at is not None and occurred_at <= shipment.last_event_at:
        event.outcome = "stale"  # arrived after a newer one: kept for the record, not applied
        return "stale"
    if shipment.status in FINAL_SHIPMENT and status not in FINAL_SHIPMENT:
        event.outcome = "after-final"
        return "after-final"
    old = shipment.status
    shipment.status = status
    shipment.status_message = (message or SHIPMENT_LABELS.get(status, ""))[:500]
    shipment.last_event_at = occurred_at or utcnow()
    shipment.updated_at = utcnow()
    audit(dossier, SYSTEM, "postal", detail={"service": shipment.service, "item_code": shipment.item_code,
                                             "from": old, "to": status}, note=shipment.status_message)
    event.outcome = f"{old}->{status}"
    outcome = {3: "delivered", 5: "failed"}.get(status)
    if outcome:
        payload = {"service": shipment.service, "item_code": shipment.item_code, "status": status,
                   "message": shipment.status_message}
        if deliver_to_workflow(dossier, f"vnpost.{shipment.service}.{outcome}", payload, note=shipment.status_message):
            event.outcome += " (quy trình tiếp tục)"
    return "applied"


def shipment_for_callback(item_code: str | None, order_number: str | None) -> Shipment | None:
    if item_code:
        found = db.session.scalar(select(Shipment).where(Shipment.item_code == item_code))
        if found is not None:
            return found
    if order_number:
        dossier_id = db.session.scalar(select(Dossier.id).where(Dossier.code == order_number))
        if dossier_id is not None:
            rows = list(db.session.scalars(select(Shipment).where(Shipment.dossier_id == dossier_id)))
            if item_code:
                for row in rows:
                    if row.item_code is None:  # the order's answer has not been recorded yet
                        row.item_code = item_code
                        return row
            if len(rows) == 1:
                return rows[0]
    return None


def shipments_for(dossier: Dossier) -> list[dict[str, Any]]:
    """The dossier's postal orders for the tracking and dossier pages: service, waybill, state."""
    rows = db.session.scalars(select(Shipment).where(Shipment.dossier_id == dossier.id).order_by(Shipment.id))
    return [{"service": N_("Thu gom hồ sơ tại nhà") if r.service == "pickup" else N_("Chuyển phát kết quả"),
             "item_code": r.item_code, "status": r.status,
             "label": r.status_message or SHIPMENT_LABELS.get(r.status, ""), "at": r.last_event_at or r.created_at,
             "cod_amount": r.cod_amount} for r in rows]
