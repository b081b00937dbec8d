"""Simulator of the national document axis (Trục liên thông văn bản quốc gia): mailboxes keyed by agency code.

Contract: `connectors/contracts/axis.yaml`.

- `POST /api/v1/messages` (body: signed edXML, `Content-Type: application/xml`, headers `X-Agency-Code` = sender,
  `Idempotency-Key`): the To organ ids are read from the XML (safely; the signature is not checked here, the
  receiving agency does that) and the message is appended to each recipient's mailbox. Answers
  `201 {"message_id", "delivered_to"}`; the same Idempotency-Key from the same sender answers the same (200) without
  delivering twice. 400 for a body that is not edXML or names no recipient.
- `GET /api/v1/mailboxes/{agency}/messages?limit=N`: pending messages, oldest first:
  `{"messages": [{"id", "from", "received_at", "content_type", "xml_base64"}]}`.
- `POST /api/v1/mailboxes/{agency}/messages/{id}/ack`: remove it; acking an unknown/acked id is fine (idempotent).

Auth: when `AXIS_SIM_TOKENS="CODE=token,CODE2=token2"` is set, every call needs `Authorization: Bearer <token>` of
the sender (`X-Agency-Code`) or of the mailbox's agency; 401 otherwise. Without it the axis is open.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import re
import uuid
from typing import Any

from flask import Flask, jsonify, request

from connectors.edxml import EdxmlError, recipients_of
from connectors.simulators import SimState, add_control

AGENCY_RE = re.compile(r"\A[0-9A-Z.]{1,35}\Z")
MAX_BODY = 20 * 1024 * 1024


def _tokens() -> dict[str, str]:
    raw = os.environ.get("AXIS_SIM_TOKENS", "").strip()
    tokens: dict[str, str] = {}
    for part in raw.split(","):
        if "=" in part:
            code, token = part.split("=", 1)
            tokens[code.strip()] = token.strip()
    return tokens


def create_app() -> Flask:
    app = Flask("axis-simulator")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    state: SimState = add_control(app)
    tokens = _tokens()

    def data() -> dict[str, Any]:
        # state.data is replaced by /_sim/reset: always go through it
        state.data.setdefault("mailboxes", {})  # agency -> {message id -> entry}
        state.data.setdefault("idempotency", {})  # (sender, key) -> answer
        return state.data

    def error(status: int, message: str):  # type: ignore[no-untyped-def]
        return jsonify(error=message), status

    def authorised(agency: str) -> bool:
        if not tokens:
            return True
        header = request.headers.get("Authorization", "")
        expected = tokens.get(agency)
        return expected is not None and header == f"Bearer {expected}"

    @app.post("/api/v1/messages")
    def post_message():  # type: ignore[no-untyped-def]
        sender = request.headers.get("X-Agency-Code", "").strip()
        if not AGENCY_RE.match(sender):
            return error(400, "Thiếu hoặc sai mã cơ quan gửi (X-Agency-Code).")
        if not authorised(sender):
            return error(401, "Không được phép: mã thông báo không khớp cơ quan gửi.")
        body = request.get_data(cache=False)
        ctype = (request.content_type or "").split(";")[0].strip().lower()
        if ctype not in ("application/xml", "text/xml"):
            return error(415 if body else 400, "Nội dung phải là edXML (Content-Type: application/xml).")
        try:
            recipients = recipients_of(body)
        except EdxmlError as exc:
            return error(400, f"Nội dung không phải edXML hợp lệ: {exc.message}")
        recipients = [r for r in recipients if AGENCY_RE.match(r)]
        if not recipients:
            return error(400, "Thông điệp không có cơ quan nhận (To/OrganId).")
        key = request.headers.get("Idempotency-Key", "").strip()
        with state.lock:
            d = data()
            if key and (sender, key) in d["idempotency"]:
                return jsonify(d["idempotency"][(sender, key)]), 200
            message_id = uuid.uuid4().hex
            received_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            for agency in recipients:
                d["mailboxes"].setdefault(agency, {})[message_id] = {
                    "id": message_id, "from": sender, "received_at": received_at,
                    "content_type": "application/xml", "xml": body,
                }
            answer = {"message_id": message_id, "delivered_to": recipients}
            if key:
                d["idempotency"][(sender, key)] = answer
            state.record(method="POST", path=request.path, sender=sender, idempotency_key=key or None,
                         message_id=message_id, delivered_to=recipients, size=len(body))
        return jsonify(answer), 201

    @app.get("/api/v1/mailboxes/<agency>/messages")
    def list_messages(agency: str):  # type: ignore[no-untyped-def]
        if not AGENCY_RE.match(agency):
            return error(400, "Mã cơ quan không hợp lệ.")
        if not authorised(agency):
            return error(401, "Không được phép đọc hộp thư của cơ quan khác.")
        try:
            limit = int(request.args.get("limit", "50"))
        except ValueError:
            return error(400, "limit phải là số nguyên.")
        limit = max(1, min(limit, 500))
        with state.lock:
            entries = list(data()["mailboxes"].get(agency, {}).values())[:limit]
            messages = [{"id": e["id"], "from": e["from"], "received_at": e["received_at"],
                         "content_type": e["content_type"], "xml_base64": base64.b64encode(e["xml"]).decode("ascii")}
                        for e in entries]
            state.record(method="GET", path=request.path, agency=agency, count=len(messages))
        return jsonify(messages=messages)

    @app.post("/api/v1/mailboxes/<agency>/messages/<message_id>/ack")
    def ack_message(agency: str, message_id: str):  # type: ignore[no-untyped-def]
        if not AGENCY_RE.match(agency):
            return error(400, "Mã cơ quan không hợp lệ.")
        if not authorised(agency):
            return error(401, "Không được phép xác nhận thư của cơ quan khác.")
        with state.lock:
            removed = data()["mailboxes"].get(agency, {}).pop(message_id, None) is not None
            state.record(method="POST", path=request.path, agency=agency, message_id=message_id, removed=removed)
        return jsonify(acked=message_id, removed=removed)

    return app
