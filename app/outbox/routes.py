"""The outbox admin page (`/quan-tri/hop-thu-di`) and partner callbacks (`/api/v1/callbacks/...`)."""

from __future__ import annotations

import json
from datetime import datetime

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from sqlalchemy import select

from app.auth.current import current_user, login_required
from app.extensions import db
from app.outbox import services
from app.outbox.inbound import apply_shipment_event, shipment_for_callback
from app.outbox.models import DEAD, DONE, PENDING, SENDING, OutboxMessage

bp = Blueprint("outbox", __name__, url_prefix="/quan-tri/hop-thu-di")
callbacks = Blueprint("callbacks", __name__, url_prefix="/api/v1/callbacks")

VIEWS = {
    "failing": ("Đang lỗi, chờ gửi lại", (OutboxMessage.state == PENDING) & (OutboxMessage.attempts > 0)),
    "dead": ("Hỏng (cần xử lý)", OutboxMessage.state == DEAD),
    "pending": ("Chờ gửi", (OutboxMessage.state == PENDING) & (OutboxMessage.attempts == 0)),
    "sending": ("Đang gửi", OutboxMessage.state == SENDING),
    "done": ("Đã gửi", OutboxMessage.state == DONE),
}
PAGE = 50


def _admin():
    user = current_user()
    if user is None or not user.has_role("admin"):
        abort(403)
    return user


@bp.get("/")
@login_required
def index():
    _admin()
    view = request.args.get("xem", "failing")
    if view not in VIEWS:
        view = "failing"
    query = select(OutboxMessage).where(VIEWS[view][1])
    connector = request.args.get("ket_noi", "").strip()
    if connector:
        query = query.where(OutboxMessage.connector == connector)
    before = request.args.get("truoc", type=int)
    if before:
        query = query.where(OutboxMessage.id < before)
    rows = list(db.session.scalars(query.order_by(OutboxMessage.id.desc()).limit(PAGE + 1)))
    more = len(rows) > PAGE
    return render_template("outbox/index.html", rows=rows[:PAGE], more=more, view=view, views=VIEWS,
                           counts=services.summary(), connector=connector)


@bp.get("/<int:msg_id>")
@login_required
def show(msg_id: int):
    _admin()
    msg = db.session.get(OutboxMessage, msg_id) or abort(404)
    payload = json.dumps(msg.payload, ensure_ascii=False, indent=2)
    result = json.dumps(msg.result, ensure_ascii=False, indent=2) if msg.result is not None else ""
    return render_template("outbox/show.html", msg=msg, payload=payload, result=result)


@bp.post("/<int:msg_id>/<action>")
@login_required
def act(msg_id: int, action: str):
    user = _admin()
    msg = db.session.scalar(select(OutboxMessage).where(OutboxMessage.id == msg_id).with_for_update()) or abort(404)
    try:
        if action == "gui-lai":
            services.resend(msg, user.username)
            text = f"Đã đưa thông điệp #{msg.id} vào hàng đợi để gửi lại ngay."
        elif action == "da-xong":
            services.mark_done(msg, user.username, request.form.get("ghi_chu", "").strip()[:500])
            text = f"Đã đánh dấu thông điệp #{msg.id} là đã xong; hệ thống không gửi nữa."
        else:
            abort(404)
    except ValueError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("outbox.show", msg_id=msg_id))
    db.session.commit()
    flash(text, "success")
    return redirect(url_for("outbox.show", msg_id=msg_id))


# --------------------------------------------------------------------------- callbacks


def _problem(status: int, code: str, vi: str, en: str):
    return jsonify(error={"code": code, "message": vi, "message_en": en}), status


@callbacks.post("/vnpost")
def vnpost():
    """Vietnam Post state changes: HMAC-signed, idempotent by eventId, ordered by occurredAt."""
    from connectors.vnpost import verify_callback

    secret = (current_app.config.get("CONNECTORS") or {}).get("vnpost", {}).get("hmac_secret", "")
    raw = request.get_data(cache=True)
    if not secret or not verify_callback(raw, request.headers.get("X-VNPost-Signature", ""), secret):
        return _problem(401, "bad_signature", "Chữ ký không hợp lệ.", "Invalid signature.")
    try:
        body = json.loads(raw)
        status = int(body["statusCode"])
        event_id = str(body["eventId"])
        occurred = datetime.fromisoformat(str(body["occurredAt"]).replace("Z", "+00:00"))
        if occurred.tzinfo is None:
            raise ValueError("occurredAt needs a time zone")
    except (ValueError, KeyError, TypeError) as exc:
        return _problem(400, "bad_request", f"Dữ liệu không hợp lệ: {exc}", f"Invalid body: {exc}")
    shipment = shipment_for_callback(body.get("ItemCode"), body.get("OrderNumber"))
    if shipment is None:
        return _problem(404, "unknown_order", "Không tìm thấy đơn hàng.", "Unknown order.")
    outcome = apply_shipment_event(shipment, status, str(body.get("statusMessage") or ""), occurred,
                                   event_id=f"cb:{event_id}")
    db.session.commit()
    return jsonify(ok=True, outcome=outcome)
