"""SMS gateway simulator honouring `connectors/contracts/sms.yaml`.

Partner route: `POST /api/v1/sms` `{to, text, ref}` with `Authorization: Bearer <token>` → 201
`{id, status: "queued"}`; a repeated `Idempotency-Key` answers 200 with the first id and sends nothing new.
Numbers must match `^(\\+84|0)[0-9]{9,10}$` (400 otherwise); a wrong token is 401.

Control routes (besides `/_sim/faults`, `/_sim/received`, `/_sim/reset`): `GET /_sim/messages` → every
accepted message `{id, to, text, ref, key, at}`.

Environment: `SMS_SIM_TOKEN` (default `motcua-dev-sms-token`).
"""

from __future__ import annotations

import os
import re
import secrets
import time
import uuid
from typing import Any

from flask import Flask, jsonify, request

from connectors.simulators import add_control

PHONE_RE = re.compile(r"^(\+84|0)[0-9]{9,10}$")
MAX_TEXT = 1530  # 10 concatenated GSM segments; Vietnamese with diacritics uses fewer characters per segment


def create_app() -> Flask:
    app = Flask("sms_sim")
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    state = add_control(app)
    token = os.environ.get("SMS_SIM_TOKEN", "motcua-dev-sms-token")

    def data() -> dict[str, Any]:
        d = state.data
        d.setdefault("messages", [])
        d.setdefault("keys", {})
        return d

    @app.post("/api/v1/sms")
    def send():  # type: ignore[no-untyped-def]
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or not secrets.compare_digest(auth[7:].strip().encode(), token.encode()):
            return jsonify(error="Sai hoặc thiếu mã truy cập (Bearer token)."), 401
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return jsonify(error="Nội dung yêu cầu phải là đối tượng JSON."), 400
        to, text, ref = body.get("to"), body.get("text"), body.get("ref")
        if not isinstance(to, str) or not PHONE_RE.match(to):
            return jsonify(error=f"Số điện thoại không hợp lệ: {to!r}."), 400
        if not isinstance(text, str) or not text.strip():
            return jsonify(error="Thiếu nội dung tin nhắn (text)."), 400
        if len(text) > MAX_TEXT:
            return jsonify(error=f"Tin nhắn quá dài ({len(text)} > {MAX_TEXT} ký tự)."), 400
        if ref is not None and not isinstance(ref, str):
            return jsonify(error="ref phải là chuỗi."), 400
        key = request.headers.get("Idempotency-Key")
        with state.lock:
            d = data()
            if key and key in d["keys"]:
                return jsonify(id=d["keys"][key], status="queued"), 200
            msg_id = uuid.uuid4().hex
            d["messages"].append({"id": msg_id, "to": to, "text": text, "ref": ref, "key": key, "at": time.time()})
            if key:
                d["keys"][key] = msg_id
        state.record(method="POST", path="/api/v1/sms", key=key, body=body)
        return jsonify(id=msg_id, status="queued"), 201

    @app.get("/_sim/messages")
    def messages():  # type: ignore[no-untyped-def]
        with state.lock:
            return jsonify(messages=list(data()["messages"]))

    return app
