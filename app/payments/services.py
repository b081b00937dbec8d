"""Paying a dossier's fee online: start an attempt on the gateway, apply results (idempotent), poll.

Creating a payment is synchronous (the citizen is redirected to the gateway at once): `start_payment` calls the
connector inside the request with a short timeout. Results arrive by the browser's return, by the gateway's
notify and by polling (`poll_pending`); all three go through `apply_result`, which changes an attempt at most once
per state: duplicates and late, out-of-order results change nothing, and paid never goes back.

Services flush, the caller commits; `poll_pending` commits after each attempt (as app/outbox/pollers.py does),
so no write lock is held across a call to the gateway.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, select, update

import connectors.payment as gateway
from app.catalog.record import fee_for, money, record_of
from app.common.errors import AppError, Conflict
from app.common.types import utcnow
from app.dossiers.models import Dossier
from app.dossiers.services import APPLICANT, SYSTEM, Actor, audit
from app.extensions import db
from app.payments.models import CANCELLED, EXPIRED, FAILED, PAID, PENDING, STATES, Payment
from connectors.base import ConnectorError, TransientError

log = logging.getLogger(__name__)

#: statuses of a dossier for which no fee is collected any more: refused, withdrawn, stopped
CLOSED_STATUSES = (3, 7, 8)
GATEWAY_DOWN = ("Cổng thanh toán tạm thời không phản hồi. Hồ sơ của bạn không bị ảnh hưởng; "
                "vui lòng thử lại sau ít phút.")
GATEWAY_DOWN_EN = "The payment gateway is not answering right now. Your dossier is safe; please try again shortly."


class PaymentError(AppError):
    status = 422
    code = "payment_refused"


class GatewayError(AppError):
    status = 503
    code = "payment_gateway_unavailable"


def settings() -> dict[str, Any]:
    return dict((current_app.config.get("CONNECTORS") or {}).get("payment") or {})


def enabled() -> bool:
    return bool(settings().get("url"))


def connector() -> gateway.PaymentConnector:
    return gateway.PaymentConnector(settings())


# --------------------------------------------------------------------------- reading


def amount_due(dossier: Dossier) -> int:
    """The fee of this dossier in đồng (0 when the procedure takes none or its record is unreadable)."""
    try:
        record = record_of(dossier.procedure)
    except Exception:  # noqa: BLE001 - a broken catalogue record means nothing can be charged online
        log.warning("catalogue record of %s unreadable", dossier.procedure.code)
        return 0
    return fee_for(record, dossier.data or {})


def attempts(dossier: Dossier) -> list[Payment]:
    """Every attempt, newest first."""
    return list(db.session.scalars(select(Payment).where(Payment.dossier_id == dossier.id)
                                   .order_by(Payment.created_at.desc(), Payment.id.desc())))


def paid_attempt(dossier: Dossier) -> Payment | None:
    return db.session.scalar(select(Payment).where(Payment.dossier_id == dossier.id, Payment.state == PAID)
                             .order_by(Payment.paid_at, Payment.id).limit(1))


def is_paid(dossier: Dossier) -> bool:
    return paid_attempt(dossier) is not None


def summary(dossier: Dossier) -> dict[str, Any]:
    """What the tracking page shows: the fee, the paid attempt, the latest attempt, whether one can pay now."""
    fee = amount_due(dossier)
    rows = attempts(dossier)
    paid = next((p for p in rows if p.state == PAID), None)
    latest = rows[0] if rows else None
    return {"fee": fee, "fee_text": money(fee), "paid": paid, "latest": latest, "attempts": rows,
            "can_pay": bool(fee > 0 and paid is None and dossier.status not in CLOSED_STATUSES and enabled())}


def get_by_reference(reference: str) -> Payment | None:
    return db.session.scalar(select(Payment).where(Payment.reference == reference))


# --------------------------------------------------------------------------- starting


def _new_reference(dossier: Dossier) -> str:
    count = db.session.scalar(select(func.count(Payment.id)).where(Payment.dossier_id == dossier.id)) or 0
    return f"{dossier.code[:50]}-{count + 1:02d}{secrets.token_hex(2).upper()}"  # ≤ 64 characters


def start_payment(dossier: Dossier, return_url: str, notify_url: str, actor: Actor = APPLICANT) -> Payment:
    """A new attempt on the gateway for the dossier's fee; its `payment_url` is where to send the citizen.

    Refused (PaymentError) when nothing is due, the dossier is closed or already paid. Pending attempts are
    checked with the gateway first, so one paid a moment ago without a notify is not paid twice; a pending
    attempt younger than `PAYMENT_REUSE_MINUTES` (default 10, below the gateway's 15-minute expiry) is given
    back instead of a new one.
    `return_url` may hold `{reference}`, replaced by the new attempt's reference. GatewayError when the
    gateway is down (nothing is stored then).
    """
    if not enabled():
        raise PaymentError("Chưa hỗ trợ thanh toán trực tuyến cho hồ sơ này.", "Online payment is not available.",
                           status=404, code="payment_unavailable")
    if dossier.status in CLOSED_STATUSES:
        raise PaymentError("Hồ sơ đã kết thúc, không thu lệ phí.", "The dossier is closed; no fee is due.")
    amount = amount_due(dossier)
    if amount <= 0:
        raise PaymentError("Thủ tục này không thu phí, lệ phí: không cần thanh toán.", "No fee is due.")
    conn = connector()
    for pending in [p for p in attempts(dossier) if p.state == PENDING and p.transaction_id]:
        try:
            _refresh(pending, conn)
        except ConnectorError as exc:
            log.warning("query of %s failed: %s", pending.reference, exc.message)
    if is_paid(dossier):
        raise Conflict("Hồ sơ đã được thanh toán lệ phí.", "The fee has already been paid.", code="already_paid")
    reuse_after = utcnow() - timedelta(minutes=float(current_app.config.get("PAYMENT_REUSE_MINUTES", 10)))
    for pending in attempts(dossier):
        if pending.state == PENDING and pending.payment_url and pending.amount == amount \
                and pending.created_at > reuse_after:
            return pending  # the citizen left the gateway's page open or closed it: the same page again
    reference = _new_reference(dossier)
    description = f"Lệ phí hồ sơ {dossier.code}: {dossier.procedure.name}"[:255]
    try:
        answer = conn.create(reference=reference, dossier_code=dossier.code, amount=amount, description=description,
                             return_url=return_url.replace("{reference}", reference), notify_url=notify_url)
    except TransientError as exc:
        log.warning("payment gateway unavailable: %s", exc.message)
        raise GatewayError(GATEWAY_DOWN, GATEWAY_DOWN_EN) from exc
    except ConnectorError as exc:
        log.warning("payment gateway refused %s: %s", reference, exc.message)
        raise GatewayError("Cổng thanh toán không tạo được giao dịch. Vui lòng thử lại sau.",
                           "The payment gateway could not create the payment.", status=502) from exc
    now = utcnow()
    payment = Payment(dossier_id=dossier.id, reference=reference, amount=amount, state=PENDING,
                      transaction_id=str(answer["transactionId"]), payment_url=str(answer["paymentUrl"]),
                      description=description, message="", created_at=now, updated_at=now)
    db.session.add(payment)
    db.session.flush()
    audit(dossier, actor, "payment", detail={"reference": reference, "amount": amount, "state": PENDING,
                                             "transaction_id": payment.transaction_id},
          note=f"Bắt đầu thanh toán lệ phí {money(amount)} (mã {reference})")
    return payment


# --------------------------------------------------------------------------- results


def apply_result(reference: str, state: str, txn: str | None, fields: dict[str, Any] | None = None, *,
                 source: str = "notify", actor: Actor = SYSTEM) -> str:
    """Apply a verified result of the gateway to the attempt `reference`. Idempotent; returns the outcome:

    `"pending->paid"` (applied), `"duplicate"` (already in that state), `"ignored paid->failed"` (a final state
    never changes, except to paid: the gateway took the money), `"unknown"`, `"mismatch"` (transaction id or
    amount differ: nothing is changed).
    """
    fields = dict(fields or {})
    if state not in STATES:
        return "invalid"
    query = select(Payment).where(Payment.reference == reference)
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    payment = db.session.scalar(query)
    if payment is None:
        return "unknown"
    if txn and payment.transaction_id and str(txn) != payment.transaction_id:
        return "mismatch"
    amount = fields.get("amount")
    if amount not in (None, "") and str(amount) != str(payment.amount):
        return "mismatch"
    now = utcnow()
    if source != "query":
        payment.last_callback = {**fields, "_source": source}
        payment.last_callback_at = now
    if state == payment.state:
        return "duplicate"
    if state == PENDING or payment.state == PAID or (payment.state != PENDING and state != PAID):
        return f"ignored {payment.state}->{state}"
    before = payment.state
    # compare-and-set: of two results racing on one attempt (notify and return at once), one changes it
    claimed = db.session.execute(
        update(Payment).where(Payment.id == payment.id, Payment.state == before).values(state=state, updated_at=now)
        .execution_options(synchronize_session=False)).rowcount
    if not claimed:
        db.session.refresh(payment)
        return "duplicate" if payment.state == state else f"ignored {payment.state}->{state}"
    payment.state = state
    payment.message = str(fields.get("message") or "")[:255]
    if txn and not payment.transaction_id:
        payment.transaction_id = str(txn)
    payment.updated_at = now
    note = f"Thanh toán lệ phí {money(payment.amount)}: {payment.state_label.lower()} (mã {payment.reference})"
    if state == PAID:
        paid_at = gateway.parse_vn_time(fields.get("payDate"))
        payment.paid_at = paid_at or now
        others = db.session.scalar(select(func.count(Payment.id)).where(
            Payment.dossier_id == payment.dossier_id, Payment.state == PAID, Payment.id != payment.id)) or 0
        if others:
            note += "; hồ sơ đã có lần thanh toán khác: cần hoàn tiền lần thanh toán trùng"
    db.session.flush()
    audit(payment.dossier, actor, "payment",
          detail={"reference": payment.reference, "amount": payment.amount, "state": state, "from": before,
                  "transaction_id": payment.transaction_id, "source": source}, note=note)
    return f"{before}->{state}"


def apply_signed(fields: dict[str, Any], *, source: str) -> str:
    """Apply a gateway message after checking its check value; `"bad_check_value"` when it does not verify."""
    secret = str(settings().get("secret") or "")
    if not gateway.verify(fields, fields.get(gateway.CHECK_FIELD), secret):
        return "bad_check_value"
    if str(fields.get("merchantCode") or "") != str(settings().get("merchant_code") or ""):
        return "bad_check_value"
    return apply_result(str(fields.get("orderId") or ""), str(fields.get("status") or ""),
                        fields.get("transactionId"), {k: v for k, v in fields.items() if k != gateway.CHECK_FIELD},
                        source=source)


def _refresh(payment: Payment, conn: gateway.PaymentConnector) -> str:
    """Ask the gateway about one attempt and apply the answer."""
    answer = conn.query(payment.reference)
    payment.checked_at = utcnow()
    return apply_result(payment.reference, str(answer["status"]), answer.get("transactionId"),
                        {k: v for k, v in answer.items() if k != gateway.CHECK_FIELD}, source="query")


def refresh(payment: Payment) -> str:
    """Ask the gateway about one attempt now and apply the answer (ConnectorError when it cannot be asked)."""
    return _refresh(payment, connector())


def poll_pending(now: datetime | None = None, older_than_minutes: float | None = None, limit: int = 200) -> int:
    """Query the gateway about attempts still pending `older_than_minutes` after they started (config
    `PAYMENT_POLL_MINUTES`, default 5) and not checked within that time. Commits after each. Returns how many
    were queried."""
    if not enabled():
        return 0
    now = now or utcnow()
    minutes = older_than_minutes if older_than_minutes is not None else \
        float(current_app.config.get("PAYMENT_POLL_MINUTES", 5))
    quiet = now - timedelta(minutes=minutes)
    rows = db.session.execute(
        select(Payment.id, Payment.reference).where(
            Payment.state == PENDING, Payment.created_at <= quiet,
            (Payment.checked_at.is_(None)) | (Payment.checked_at <= quiet))
        .order_by(Payment.created_at).limit(limit)).all()
    db.session.rollback()
    conn = connector()
    for payment_id, reference in rows:
        payment = db.session.get(Payment, payment_id)
        if payment is None or payment.state != PENDING:
            continue
        try:
            outcome = _refresh(payment, conn)
        except ConnectorError as exc:
            db.session.rollback()
            log.warning("payment query %s failed: %s", reference, exc.message)
            continue
        db.session.commit()
        log.info("payment %s polled: %s", reference, outcome)
    return len(rows)


__all__ = ["CANCELLED", "EXPIRED", "FAILED", "PAID", "PENDING", "GatewayError", "PaymentError", "amount_due",
           "apply_result", "apply_signed", "attempts", "get_by_reference", "is_paid", "paid_attempt",
           "poll_pending", "refresh", "start_payment", "summary"]
