"""Vietnam Post (BCCI) simulator honouring `connectors/contracts/vnpost.yaml`.

Partner routes: `POST /api/v1/token`, `POST /api/v1/orders`, `GET /api/v1/orders/<ItemCode>`,
`POST /api/v1/orders/<ItemCode>/cancel` (order routes need `Authorization: Bearer <token>`).

Control routes (besides the common `/_sim/faults`, `/_sim/received`, `/_sim/reset`):

- `POST /_sim/orders/<ItemCode>/advance` `{"statusCode": 2|3|5, "statusMessage": "...", "repeat": 1,
  "deliver": true, "occurredAt": "<ISO 8601, optional>"}`: record a status event and POST the signed callback
  `repeat` times (duplicates of one event) to the order's CallbackUrl; `deliver: false` records it silently.
  Answers `{"event": {...}, "deliveries": [{"status": 204} | {"error": "..."}]}`;
- `POST /_sim/orders/<ItemCode>/callback` `{"eventId": "..."}`: re-send one earlier event (out-of-order tests);
- `GET /_sim/orders`: every order; `GET /_sim/callbacks`: every callback attempt and its outcome.

Environment: `VNPOST_SIM_CLIENT_ID` (default `motcua-dev`), `VNPOST_SIM_CLIENT_SECRET` (`motcua-dev-secret`),
`VNPOST_SIM_HMAC_SECRET` (`motcua-dev-hmac`), `VNPOST_SIM_TOKEN_TTL` (seconds, default 3600),
`VNPOST_SIM_AUTO_ADVANCE_SECONDS` (if set, a background thread moves every open order 1→2→3 every N seconds,
with callbacks: for the demo).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets
import threading
import time
import uuid
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from flask import Flask, jsonify, request

from connectors.simulators import SimState, add_control
from connectors.vnpost import SIGNATURE_HEADER, STATUS_LABELS, sign_body

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
PHONE_RE = re.compile(r"^(\+84|0)[0-9]{9,10}$")
REQUIRED_ADDRESS = ("Name", "Address", "Tel", "Province", "Ward")
OPTIONAL_ADDRESS = ("Email", "District")
DELIVERED_LABEL = {"pickup": "Đã giao hồ sơ đến cơ quan tiếp nhận", "delivery": "Đã phát kết quả đến người dân"}


def _now_iso() -> str:
    return dt.datetime.now(VN_TZ).isoformat(timespec="microseconds")


def _error(status: int, message: str, **extra: Any):  # type: ignore[no-untyped-def]
    return jsonify(error=message, statusMessage=message, **extra), status


def _validate_order(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "Nội dung yêu cầu phải là đối tượng JSON."
    for field in ("CustomerCode", "OrderNumber", "Service"):
        if not isinstance(body.get(field), str) or not body[field].strip():
            return f"Thiếu trường bắt buộc: {field}."
    if body["Service"] not in ("pickup", "delivery"):
        return "Service phải là 'pickup' hoặc 'delivery'."
    cod = body.get("CODAmount", 0)
    if isinstance(cod, bool) or not isinstance(cod, int) or cod < 0:
        return "CODAmount phải là số nguyên không âm (đồng)."
    for party in ("Sender", "Receiver"):
        value = body.get(party)
        if not isinstance(value, dict):
            return f"Thiếu trường bắt buộc: {party}."
        for field in REQUIRED_ADDRESS:
            if not isinstance(value.get(field), str) or not value[field].strip():
                return f"Thiếu trường bắt buộc: {party}.{field}."
        for field in OPTIONAL_ADDRESS:
            if field in value and value[field] is not None and not isinstance(value[field], str):
                return f"{party}.{field} phải là chuỗi."
        if not PHONE_RE.match(value["Tel"].replace(" ", "")):
            return f"Số điện thoại không hợp lệ: {party}.Tel = {value['Tel']}."
    if "Description" in body and not isinstance(body["Description"], str):
        return "Description phải là chuỗi."
    cb = body.get("CallbackUrl")
    if cb is not None and (not isinstance(cb, str) or not cb.startswith(("http://", "https://"))):
        return "CallbackUrl phải là URL http(s)."
    return None


def _public(order: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in order.items() if not k.startswith("_")}


def _summary(order: dict[str, Any]) -> dict[str, Any]:
    return {k: order[k] for k in ("ItemCode", "OrderNumber", "statusCode", "statusMessage")}


def create_app() -> Flask:
    app = Flask("vnpost_sim")
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    state = add_control(app)
    client_id = os.environ.get("VNPOST_SIM_CLIENT_ID", "motcua-dev")
    client_secret = os.environ.get("VNPOST_SIM_CLIENT_SECRET", "motcua-dev-secret")
    hmac_secret = os.environ.get("VNPOST_SIM_HMAC_SECRET", "motcua-dev-hmac")
    token_ttl = int(os.environ.get("VNPOST_SIM_TOKEN_TTL", "3600"))

    def data() -> dict[str, Any]:
        # state.reset() replaces state.data: always go through this under state.lock.
        d = state.data
        d.setdefault("tokens", {})
        d.setdefault("orders", {})
        d.setdefault("keys", {})
        d.setdefault("callbacks", [])
        d.setdefault("seq", 0)
        return d

    def authorised() -> bool:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return False
        tok = auth[len("Bearer "):].strip()
        with state.lock:
            exp = data()["tokens"].get(tok)
            return exp is not None and exp > time.time()

    def deliver(order: dict[str, Any], event: dict[str, Any], times: int) -> list[dict[str, Any]]:
        url = order.get("CallbackUrl")
        results: list[dict[str, Any]] = []
        if not url:
            return results
        body = {"ItemCode": order["ItemCode"], "OrderNumber": order["OrderNumber"], **event}
        raw = json.dumps(body, ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8", SIGNATURE_HEADER: sign_body(raw, hmac_secret)}
        for _ in range(max(times, 0)):
            outcome: dict[str, Any] = {"url": url, "eventId": event["eventId"], "at": time.time()}
            try:
                resp = httpx.post(url, content=raw, headers=headers, timeout=5.0)
                outcome["status"] = resp.status_code
            except httpx.HTTPError as exc:
                outcome["error"] = f"{type(exc).__name__}: {exc}"
            with state.lock:
                data()["callbacks"].append(outcome)
            results.append(outcome)
        return results

    def apply(item: str, code: int, message: str | None, occurred_at: str | None) -> tuple[dict, dict] | None:
        with state.lock:
            order = data()["orders"].get(item)
            if order is None or order["statusCode"] in (3, 4):
                return None  # unknown, or already final (delivered / cancelled)
            if not message:
                message = DELIVERED_LABEL[order["Service"]] if code == 3 else STATUS_LABELS.get(code, str(code))
            event = {"statusCode": code, "statusMessage": message, "eventId": uuid.uuid4().hex,
                     "occurredAt": occurred_at or _now_iso()}
            order["history"].append(event)
            order["statusCode"], order["statusMessage"] = code, message
            return order, dict(event)

    # -- partner routes ----------------------------------------------------------------------------------------
    @app.post("/api/v1/token")
    def token():  # type: ignore[no-untyped-def]
        body = request.get_json(silent=True) or {}
        if not isinstance(body, dict):
            body = {}
        cid = body.get("client_id") or request.form.get("client_id")
        csecret = body.get("client_secret") or request.form.get("client_secret")
        if not (isinstance(cid, str) and isinstance(csecret, str)
                and secrets.compare_digest(cid.encode(), client_id.encode())
                and secrets.compare_digest(csecret.encode(), client_secret.encode())):
            return _error(401, "Sai mã ứng dụng hoặc khóa bí mật (invalid client credentials).")
        tok = secrets.token_urlsafe(24)
        with state.lock:
            data()["tokens"][tok] = time.time() + token_ttl
        state.record(method="POST", path="/api/v1/token", body={"client_id": cid})
        return jsonify(access_token=tok, token_type="Bearer", expires_in=token_ttl)

    @app.post("/api/v1/orders")
    def create_order():  # type: ignore[no-untyped-def]
        if not authorised():
            return _error(401, "Mã truy cập không hợp lệ hoặc đã hết hạn.")
        body = request.get_json(silent=True)
        problem = _validate_order(body)
        if problem:
            return _error(400, problem)
        key = request.headers.get("Idempotency-Key")
        with state.lock:
            d = data()
            if key and key in d["keys"]:
                return jsonify(_summary(d["orders"][d["keys"][key]])), 200
            d["seq"] += 1
            item = f"EB{d['seq']:09d}VN"
            event = {"statusCode": 1, "statusMessage": STATUS_LABELS[1], "eventId": uuid.uuid4().hex,
                     "occurredAt": _now_iso()}
            order = {
                "ItemCode": item, "OrderNumber": body["OrderNumber"], "CustomerCode": body["CustomerCode"],
                "Service": body["Service"], "CODAmount": body.get("CODAmount", 0),
                "Sender": body["Sender"], "Receiver": body["Receiver"],
                "Description": body.get("Description", ""), "CallbackUrl": body.get("CallbackUrl"),
                "statusCode": 1, "statusMessage": STATUS_LABELS[1], "history": [event],
                "createdAt": event["occurredAt"],
            }
            d["orders"][item] = order
            if key:
                d["keys"][key] = item
        state.record(method="POST", path="/api/v1/orders", key=key, body=body)
        return jsonify(_summary(order)), 201

    @app.get("/api/v1/orders/<item>")
    def track(item: str):  # type: ignore[no-untyped-def]
        if not authorised():
            return _error(401, "Mã truy cập không hợp lệ hoặc đã hết hạn.")
        with state.lock:
            order = data()["orders"].get(item)
            out = json.loads(json.dumps(_public(order))) if order else None
        if out is None:
            return _error(404, f"Không tìm thấy vận đơn {item}.")
        state.record(method="GET", path=f"/api/v1/orders/{item}")
        return jsonify(out)

    @app.post("/api/v1/orders/<item>/cancel")
    def cancel(item: str):  # type: ignore[no-untyped-def]
        if not authorised():
            return _error(401, "Mã truy cập không hợp lệ hoặc đã hết hạn.")
        body = request.get_json(silent=True) or {}
        reason = body.get("Reason") if isinstance(body, dict) else None
        with state.lock:
            order = data()["orders"].get(item)
            if order is None:
                return _error(404, f"Không tìm thấy vận đơn {item}.")
            if order["statusCode"] == 4:
                return jsonify(_summary(order))  # cancelling twice is harmless
            if order["statusCode"] == 3:
                return _error(409, "Đơn hàng đã phát thành công, không thể hủy.", statusCode=3)
        applied = apply(item, 4, f"{STATUS_LABELS[4]}: {reason}" if reason else STATUS_LABELS[4], None)
        if applied is None:
            return _error(409, f"Vận đơn {item} đã kết thúc, không thể hủy.")
        order, event = applied
        state.record(method="POST", path=f"/api/v1/orders/{item}/cancel", key=request.headers.get("Idempotency-Key"),
                     body=body)
        deliver(order, event, 1)
        with state.lock:
            return jsonify(_summary(order))

    # -- control routes ----------------------------------------------------------------------------------------
    @app.post("/_sim/orders/<item>/advance")
    def advance(item: str):  # type: ignore[no-untyped-def]
        body = request.get_json(force=True, silent=True) or {}
        code = body.get("statusCode")
        if code not in (2, 3, 5):
            return _error(400, "statusCode phải là 2, 3 hoặc 5.")
        with state.lock:
            order = data()["orders"].get(item)
            current = order["statusCode"] if order else None
        if order is None:
            return _error(404, f"Không tìm thấy vận đơn {item}.")
        if current in (3, 4):
            return _error(409, f"Vận đơn {item} đã kết thúc (statusCode {current}).")
        message = body.get("statusMessage")
        if code == 5 and not message:
            message = f"{STATUS_LABELS[5]}: không liên lạc được người nhận"
        applied = apply(item, code, message, body.get("occurredAt"))
        if applied is None:
            return _error(409, f"Vận đơn {item} đã kết thúc.")
        order, event = applied
        deliveries = deliver(order, event, int(body.get("repeat", 1))) if body.get("deliver", True) else []
        return jsonify(event=event, deliveries=deliveries)

    @app.post("/_sim/orders/<item>/callback")
    def resend(item: str):  # type: ignore[no-untyped-def]
        body = request.get_json(force=True, silent=True) or {}
        with state.lock:
            order = data()["orders"].get(item)
            events = [e for e in (order or {}).get("history", []) if e["eventId"] == body.get("eventId")]
        if not events:
            return _error(404, "Không tìm thấy sự kiện.")
        return jsonify(event=events[0], deliveries=deliver(order, events[0], int(body.get("repeat", 1))))

    @app.get("/_sim/orders")
    def list_orders():  # type: ignore[no-untyped-def]
        with state.lock:
            return jsonify(orders=[_public(o) for o in data()["orders"].values()])

    @app.get("/_sim/callbacks")
    def list_callbacks():  # type: ignore[no-untyped-def]
        with state.lock:
            return jsonify(callbacks=list(data()["callbacks"]))

    auto = os.environ.get("VNPOST_SIM_AUTO_ADVANCE_SECONDS")
    if auto:
        _start_auto_advance(state, float(auto), apply, deliver, data)
    return app


def _start_auto_advance(state: SimState, seconds: float, apply, deliver, data) -> None:  # type: ignore[no-untyped-def]
    """Demo mode: every `seconds`, each order in status 1 or 2 moves one step (1→2→3) with its callback."""

    def loop() -> None:
        while True:
            time.sleep(seconds)
            with state.lock:
                todo = [(o["ItemCode"], o["statusCode"]) for o in data()["orders"].values()
                        if o["statusCode"] in (1, 2)]
            for item, code in todo:
                applied = apply(item, code + 1, None, None)
                if applied:
                    deliver(applied[0], applied[1], 1)

    threading.Thread(target=loop, name="vnpost-auto-advance", daemon=True).start()
