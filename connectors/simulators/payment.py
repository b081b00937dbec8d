"""Online payment gateway simulator (PayGov-like) honouring `connectors/contracts/payment.yaml`.

Partner routes:

- `POST /api/v1/payments`: create a payment request (signed); answers the transaction id and the payment page URL;
- `POST /api/v1/payments/query`: the status of one order id (signed request, signed answer);
- `GET /thanh-toan/<transactionId>`: the hosted payment page (HTML, buttons "Thanh toán" and "Hủy");
  `POST` the same URL with the form field `action` = `pay` | `cancel` (or `fail`) to decide: the citizen is
  redirected (303) to the merchant's return URL with the signed result, and the notify is sent server to server.
  JSON shortcut for tests: `POST` with a JSON body `{"action": "pay"|"fail"|"cancel", "notify": true}` answers
  `{"status": ..., "redirect": "<return URL with the signed result>", "deliveries": [...]}` instead of redirecting.

Control routes (besides the common `/_sim/faults`, `/_sim/received`, `/_sim/reset`):

- `POST /_sim/payments/<transactionId>/<pay|fail|cancel|expire>` `{"notify": true, "repeat": 1}`: decide as if
  the citizen (or the clock) did, then send the notify `repeat` times (`notify: false`: silently: for polling tests);
- `POST /_sim/payments/<transactionId>/notify` `{"repeat": 1}`: send the notify of the current state again;
- `GET /_sim/payments`: every transaction; `GET /_sim/notifies`: every notify attempt and its outcome.

A pending transaction older than `PAYMENT_SIM_EXPIRE_SECONDS` (default 900) is expired when next looked at.
Environment: `PAYMENT_SIM_MERCHANT` (default `MOTCUA`), `PAYMENT_SIM_SECRET` (default `motcua-dev-payment`).
"""

from __future__ import annotations

import os
import time
from datetime import datetime
from html import escape
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx
from flask import Flask, jsonify, redirect, request

from connectors.payment import (
    CANCELLED,
    CHECK_FIELD,
    EXPIRED,
    FAILED,
    PAID,
    PENDING,
    STATE_CODES,
    STATE_LABELS,
    parse_vn_time,
    signed,
    verify,
    vn_time,
)
from connectors.simulators import add_control

CREATE_REQUIRED = ("merchantCode", "orderId", "dossierCode", "amount", "orderInfo", "returnUrl", "notifyUrl",
                   "createDate")
ACTIONS = {"pay": PAID, "fail": FAILED, "cancel": CANCELLED, "expire": EXPIRED}
RESULT_FIELDS = ("merchantCode", "orderId", "transactionId", "dossierCode", "amount", "status", "responseCode",
                 "payDate", "message")


def _money(amount: int) -> str:
    return f"{amount:,}".replace(",", ".") + " đ"


def _error(status: int, code: str, message: str):  # type: ignore[no-untyped-def]
    return jsonify(responseCode=code, message=message), status


def create_app() -> Flask:
    app = Flask("payment_sim")
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    state = add_control(app)
    merchant = os.environ.get("PAYMENT_SIM_MERCHANT", "MOTCUA")
    secret = os.environ.get("PAYMENT_SIM_SECRET", "motcua-dev-payment")
    expire_after = float(os.environ.get("PAYMENT_SIM_EXPIRE_SECONDS", "900"))

    def data() -> dict[str, Any]:
        d = state.data
        d.setdefault("payments", {})
        d.setdefault("orders", {})
        d.setdefault("notifies", [])
        d.setdefault("seq", 0)
        return d

    def result(p: dict[str, Any]) -> dict[str, Any]:
        fields = {k: p[k] for k in RESULT_FIELDS}
        return signed(fields, secret)

    def decide(p: dict[str, Any], status: str) -> bool:
        """Move a pending transaction to a final status; False when it was already final."""
        with state.lock:
            if p["status"] != PENDING:
                return False
            p["status"], p["responseCode"] = status, STATE_CODES[status]
            p["message"], p["payDate"] = STATE_LABELS[status], vn_time()
            return True

    def maybe_expire(p: dict[str, Any]) -> None:
        if p["status"] == PENDING and time.time() - p["_created"] > expire_after:
            decide(p, EXPIRED)

    def notify(p: dict[str, Any], times: int) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        with state.lock:
            body = result(p)
        for _ in range(max(times, 0)):
            outcome: dict[str, Any] = {"url": p["_notifyUrl"], "orderId": p["orderId"], "status": p["status"],
                                       "at": time.time()}
            try:
                resp = httpx.post(p["_notifyUrl"], json=body, timeout=10.0)
                outcome["http"] = resp.status_code
                outcome["body"] = resp.text[:300]
            except httpx.HTTPError as exc:
                outcome["error"] = f"{type(exc).__name__}: {exc}"
            with state.lock:
                data()["notifies"].append(outcome)
            out.append(outcome)
        return out

    def return_url(p: dict[str, Any]) -> str:
        with state.lock:
            query = urlencode(result(p))
        parts = urlsplit(p["_returnUrl"])
        joined = f"{parts.query}&{query}" if parts.query else query
        return urlunsplit((parts.scheme, parts.netloc, parts.path, joined, parts.fragment))

    def find(txn: str) -> dict[str, Any] | None:
        with state.lock:
            p = data()["payments"].get(txn)
        if p is not None:
            maybe_expire(p)
        return p

    def public(p: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in p.items() if not k.startswith("_")} | {
            "returnUrl": p["_returnUrl"], "notifyUrl": p["_notifyUrl"], "paymentUrl": p["_paymentUrl"]}

    # -- partner routes ------------------------------------------------------------------------------------
    @app.post("/api/v1/payments")
    def create():  # type: ignore[no-untyped-def]
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return _error(400, "99", "Nội dung yêu cầu phải là đối tượng JSON.")
        missing = [f for f in CREATE_REQUIRED if body.get(f) in (None, "")]
        if missing:
            return _error(400, "99", f"Thiếu trường bắt buộc: {', '.join(missing)}.")
        if not verify(body, body.get(CHECK_FIELD), secret):
            state.record(method="POST", path="/api/v1/payments", body=body, refused="checkValue")
            return _error(400, "97", "Sai giá trị kiểm tra (checkValue).")
        if body["merchantCode"] != merchant:
            return _error(400, "99", f"Không có đơn vị thụ hưởng {body['merchantCode']}.")
        amount = body["amount"]
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            return _error(400, "04", "Số tiền phải là số đồng nguyên dương.")
        if parse_vn_time(body["createDate"]) is None:
            return _error(400, "99", "createDate phải có dạng yyyyMMddHHmmss.")
        for field in ("returnUrl", "notifyUrl"):
            if not str(body[field]).startswith(("http://", "https://")):
                return _error(400, "99", f"{field} phải là URL http(s).")
        with state.lock:
            d = data()
            known = d["orders"].get(body["orderId"])
            if known is not None:
                p = d["payments"][known]
                if p["amount"] != amount or p["dossierCode"] != body["dossierCode"]:
                    return _error(409, "94", "Mã đơn hàng đã dùng cho giao dịch khác.")
                status = 200
            else:
                d["seq"] += 1
                txn = f"PG{datetime.now().strftime('%y%m%d')}{d['seq']:08d}"
                p = {"transactionId": txn, "merchantCode": merchant, "orderId": body["orderId"],
                     "dossierCode": body["dossierCode"], "amount": amount, "orderInfo": body["orderInfo"],
                     "status": PENDING, "responseCode": STATE_CODES[PENDING], "message": STATE_LABELS[PENDING],
                     "payDate": body["createDate"], "createDate": body["createDate"],
                     "_returnUrl": body["returnUrl"], "_notifyUrl": body["notifyUrl"], "_created": time.time(),
                     "_paymentUrl": f"{request.host_url.rstrip('/')}/thanh-toan/{txn}"}
                d["payments"][txn] = p
                d["orders"][body["orderId"]] = txn
                status = 201
            answer = signed({"responseCode": "00", "message": "Thành công", "merchantCode": merchant,
                             "orderId": p["orderId"], "transactionId": p["transactionId"], "amount": p["amount"],
                             "paymentUrl": p["_paymentUrl"]}, secret)
        state.record(method="POST", path="/api/v1/payments", key=request.headers.get("Idempotency-Key"), body=body)
        return jsonify(answer), status

    @app.post("/api/v1/payments/query")
    def query():  # type: ignore[no-untyped-def]
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not body.get("orderId") or not body.get("requestDate"):
            return _error(400, "99", "Thiếu orderId hoặc requestDate.")
        if not verify(body, body.get(CHECK_FIELD), secret):
            state.record(method="POST", path="/api/v1/payments/query", body=body, refused="checkValue")
            return _error(400, "97", "Sai giá trị kiểm tra (checkValue).")
        with state.lock:
            txn = data()["orders"].get(body["orderId"])
        p = find(txn) if txn else None
        state.record(method="POST", path="/api/v1/payments/query", body=body)
        if p is None:
            return _error(404, "01", "Không tìm thấy giao dịch.")
        with state.lock:
            return jsonify(result(p))

    @app.get("/thanh-toan/<txn>")
    def page(txn: str):  # type: ignore[no-untyped-def]
        p = find(txn)
        if p is None:
            return "<!doctype html><title>Không tìm thấy</title><p>Không tìm thấy giao dịch.</p>", 404
        buttons = ""
        if p["status"] == PENDING:
            buttons = ('<form method="post"><button name="action" value="pay">Thanh toán</button> '
                       '<button name="action" value="cancel">Hủy</button></form>')
        html = (
            '<!doctype html><html lang="vi"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            "<title>Cổng thanh toán (mô phỏng)</title></head><body>"
            "<h1>Cổng thanh toán trực tuyến (mô phỏng)</h1>"
            f"<p>Đơn vị thụ hưởng: {escape(p['merchantCode'])}</p>"
            f"<p>Mã giao dịch: <strong>{escape(p['transactionId'])}</strong></p>"
            f"<p>Hồ sơ: {escape(p['dossierCode'])}</p>"
            f"<p>Nội dung: {escape(p['orderInfo'])}</p>"
            f"<p>Số tiền: <strong>{_money(p['amount'])}</strong></p>"
            f"<p>Trạng thái: {escape(STATE_LABELS[p['status']])}</p>"
            f"{buttons}</body></html>")
        return html

    @app.post("/thanh-toan/<txn>")
    def decide_page(txn: str):  # type: ignore[no-untyped-def]
        p = find(txn)
        if p is None:
            return _error(404, "01", "Không tìm thấy giao dịch.")
        body = request.get_json(silent=True) if request.is_json else None
        action = (body or {}).get("action") if body is not None else request.form.get("action")
        if action not in ("pay", "fail", "cancel"):
            return _error(400, "99", "action phải là pay, fail hoặc cancel.")
        changed = decide(p, ACTIONS[action])
        send = body.get("notify", True) if body is not None else True
        deliveries = notify(p, 1) if changed and send else []
        state.record(method="POST", path=f"/thanh-toan/{txn}", body={"action": action})
        if body is not None:
            return jsonify(status=p["status"], changed=changed, redirect=return_url(p), deliveries=deliveries)
        return redirect(return_url(p), code=303)

    # -- control routes ------------------------------------------------------------------------------------
    @app.post("/_sim/payments/<txn>/<action>")
    def control(txn: str, action: str):  # type: ignore[no-untyped-def]
        p = find(txn)
        if p is None:
            return _error(404, "01", "Không tìm thấy giao dịch.")
        body = request.get_json(force=True, silent=True) or {}
        repeat = int(body.get("repeat", 1))
        if action == "notify":
            return jsonify(status=p["status"], deliveries=notify(p, repeat))
        if action not in ACTIONS:
            return _error(400, "99", "Thao tác phải là pay, fail, cancel, expire hoặc notify.")
        changed = decide(p, ACTIONS[action])
        if not changed:
            return _error(409, "99", f"Giao dịch đã kết thúc ({p['status']}).")
        deliveries = notify(p, repeat) if body.get("notify", True) else []
        return jsonify(status=p["status"], redirect=return_url(p), deliveries=deliveries)

    @app.get("/_sim/payments")
    def list_payments():  # type: ignore[no-untyped-def]
        with state.lock:
            return jsonify(payments=[public(p) for p in data()["payments"].values()])

    @app.get("/_sim/notifies")
    def list_notifies():  # type: ignore[no-untyped-def]
        with state.lock:
            return jsonify(notifies=list(data()["notifies"]))

    return app
