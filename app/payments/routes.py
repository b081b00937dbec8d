"""The citizen's payment pages (public, by dossier code + tracking secret, like the tracking page) and the
gateway's server-to-server notify (`POST /api/v1/callbacks/payment`, verified by check value, csrf-exempt).

- `GET  /thanh-toan/<code>?mat_ma=…`            "Thanh toán lệ phí": the amount, the attempts, a button;
- `POST /thanh-toan/<code>` (`mat_ma`)          start an attempt and redirect (303) to the gateway's page;
- `GET  /thanh-toan/ket-qua/<reference>?…`     the gateway's return: paid / failed / cancelled, "Thử lại";
- `GET  /thanh-toan/<code>/bien-lai.pdf?mat_ma=…`  the receipt (biên lai) of the paid attempt.

The secret is remembered in the session once given, so the return page (which the gateway opens without it)
can offer "Thử lại" and the receipt.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, current_app, jsonify, redirect, render_template, request, session, url_for
from flask_babel import gettext
from sqlalchemy import select

from app.common.errors import AppError
from app.dossiers import services as dossiers
from app.dossiers.models import Dossier
from app.extensions import db, limiter
from app.i18n import N_
from app.payments import receipt
from app.payments import services as payments
from app.payments.models import PAID, PENDING
from app.web.helpers import lang

bp = Blueprint("payments", __name__, url_prefix="/thanh-toan")
callbacks = Blueprint("payment_callbacks", __name__, url_prefix="/api/v1/callbacks")

NOT_FOUND = N_("Không tìm thấy hồ sơ với mã hồ sơ và mã tra cứu đã nhập. Vui lòng kiểm tra lại.")
SESSION_KEY = "payment_secrets"


def _limit() -> str:
    return current_app.config["RATELIMIT_TRACKING"]


def _find(code: str, secret: str) -> Dossier | None:
    dossier = db.session.scalar(select(Dossier).where(Dossier.code == code.strip()))
    if dossier is None or not secret or not dossiers.check_secret(dossier, secret):
        return None  # the same answer for an unknown code and a wrong secret
    return dossier


def _remember(code: str, secret: str) -> None:
    known = dict(session.get(SESSION_KEY) or {})
    known[code] = secret
    session[SESSION_KEY] = dict(list(known.items())[-5:])  # a few dossiers at most


def _remembered(code: str) -> str:
    return str((session.get(SESSION_KEY) or {}).get(code) or "")


def _secret(code: str) -> str:
    return (request.values.get("mat_ma") or "").strip() or _remembered(code)


def _not_found(code: str, secret: str):  # type: ignore[no-untyped-def]
    return render_template("tracking/form.html", code=code, error=gettext(NOT_FOUND) if secret else None), \
        (404 if secret else 200)


def return_url_template() -> str:
    """Where the gateway sends the citizen back; `{reference}` is filled in per attempt."""
    base = str(payments.settings().get("return_base") or request.url_root).rstrip("/")
    return base + url_for("payments.result", reference="__REF__").replace("__REF__", "{reference}")


def notify_url() -> str:
    configured = payments.settings().get("notify_url")
    if configured:
        return str(configured)
    base = str(current_app.config.get("PUBLIC_BASE_URL") or request.url_root).rstrip("/")
    return base + url_for("payment_callbacks.payment")


@bp.app_template_global("payment_summary")
def payment_summary(dossier: Dossier) -> dict[str, Any]:
    """For `payments/_status.html` on the tracking page."""
    return payments.summary(dossier)


@bp.get("/<code>")
@limiter.limit(_limit)
def page(code: str):
    secret = _secret(code)
    dossier = _find(code, secret)
    if dossier is None:
        return _not_found(code, secret)
    _remember(dossier.code, secret)
    return render_template("payments/page.html", dossier=dossier, secret=secret, info=payments.summary(dossier),
                           error=None)


@bp.post("/<code>")
@limiter.limit(_limit)
def start(code: str):
    secret = _secret(code)
    dossier = _find(code, secret)
    if dossier is None:
        return _not_found(code, secret)
    _remember(dossier.code, secret)
    try:
        payment = payments.start_payment(dossier, return_url_template(), notify_url())
    except AppError as exc:
        if exc.code == "already_paid":
            db.session.commit()  # keep what the gateway just told us
        else:
            db.session.rollback()
        return render_template("payments/page.html", dossier=dossier, secret=secret,
                               info=payments.summary(dossier), error=exc.text(lang())), exc.status
    db.session.commit()
    return redirect(payment.payment_url or url_for("payments.page", code=dossier.code), code=303)


@bp.get("/ket-qua/<reference>")
@limiter.limit(_limit)
def result(reference: str):
    payment = payments.get_by_reference(reference)
    if payment is None:
        return render_template("payments/result.html", payment=None, dossier=None, secret="",
                               invalid=False), 404
    fields = request.args.to_dict()
    invalid = False
    if fields:
        if str(fields.get("orderId") or "") != reference:
            invalid = True
        else:
            outcome = payments.apply_signed(fields, source="return")
            invalid = outcome in ("bad_check_value", "mismatch", "invalid")
            if invalid:
                db.session.rollback()
            else:
                db.session.commit()
    if payment.state == PENDING and payments.enabled():
        try:  # back without a result (or before the notify): ask the gateway once
            payments.refresh(payment)
            db.session.commit()
        except Exception:  # noqa: BLE001 - the page shows "đang chờ xác nhận" and polling catches up
            db.session.rollback()
    db.session.refresh(payment)
    dossier = payment.dossier
    return render_template("payments/result.html", payment=payment, dossier=dossier,
                           secret=_remembered(dossier.code), invalid=invalid), (400 if invalid else 200)


@bp.get("/<code>/bien-lai.pdf")
@limiter.limit(_limit)
def receipt_pdf(code: str):
    secret = _secret(code)
    dossier = _find(code, secret)
    if dossier is None:
        return _not_found(code, secret)
    paid = payments.paid_attempt(dossier)
    if paid is None:
        return render_template("payments/page.html", dossier=dossier, secret=secret,
                               info=payments.summary(dossier), error=gettext("Hồ sơ chưa được thanh toán lệ phí.")), 404
    pdf = receipt.render(paid)
    name = receipt.file_name(paid)
    ascii_name = "bien-lai-" + dossier.code + ".pdf"
    return Response(pdf, mimetype="application/pdf", headers={
        "Content-Disposition": f"inline; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}",
        "Cache-Control": "private, no-store"})


# --------------------------------------------------------------------------- the gateway's notify


def _answer(status: int, code: str, message: str, **extra: Any):  # type: ignore[no-untyped-def]
    return jsonify(responseCode=code, message=message, **extra), status


@callbacks.post("/payment")
def payment():
    """Server-to-server result of the gateway: check value verified, idempotent, paid never goes back."""
    fields = request.get_json(silent=True)
    if not isinstance(fields, dict):
        return _answer(400, "99", "Nội dung phải là đối tượng JSON.", error={"code": "bad_request"})
    outcome = payments.apply_signed(fields, source="notify")
    if outcome == "bad_check_value":
        db.session.rollback()
        return _answer(400, "97", "Sai giá trị kiểm tra (checkValue).", error={"code": "bad_check_value"})
    if outcome == "unknown":
        db.session.rollback()
        return _answer(404, "01", "Không tìm thấy giao dịch.", error={"code": "unknown_order"})
    if outcome in ("mismatch", "invalid"):
        db.session.rollback()
        return _answer(400, "04" if outcome == "mismatch" else "99", "Dữ liệu không khớp với giao dịch.",
                       error={"code": outcome})
    db.session.commit()
    return _answer(200, "00", "Đã nhận.", outcome=outcome, paid=outcome.endswith(f"->{PAID}"))
