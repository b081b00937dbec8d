"""Online payment gateway (PayGov-like): check values, the simulator as a real process, the `payment` connector."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from connectors import get
from connectors.base import PermanentError, TransientError
from connectors.payment import (
    PaymentConnector,
    check_value,
    parse_vn_time,
    signed,
    signing_string,
    verify,
    vn_time,
)
from tests.simulators import Simulator, start_simulator

ROOT = Path(__file__).resolve().parent.parent.parent
MERCHANT, SECRET = "MOTCUA-TEST", "bí-mật-thanh-toán"
ENV = {"PAYMENT_SIM_MERCHANT": MERCHANT, "PAYMENT_SIM_SECRET": SECRET}


class Receiver:
    """A tiny HTTP server in a thread that keeps every POSTed JSON body (the gateway's notifies)."""

    def __init__(self) -> None:
        self.calls: list[bytes] = []
        calls = self.calls

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                calls.append(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                body = b'{"responseCode": "00"}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/notify"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    simulator = start_simulator("payment", env=ENV)
    try:
        yield simulator
    finally:
        simulator.stop()


@pytest.fixture
def gateway(sim: Simulator) -> Simulator:
    sim.reset()
    return sim


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def _conn(sim: Simulator, **extra: Any) -> PaymentConnector:
    return PaymentConnector({"url": sim.url, "merchant_code": MERCHANT, "secret": SECRET, "timeout": 3, **extra})


def _create(conn: PaymentConnector, reference: str, notify: str, amount: int = 100000) -> dict[str, Any]:
    return conn.create(reference=reference, dossier_code="000.00.00.H41-261124-0001", amount=amount,
                       description="Lệ phí đăng ký hộ kinh doanh", return_url="http://127.0.0.1:9/ket-qua",
                       notify_url=notify)


# --------------------------------------------------------------------------- pure helpers


def test_check_value_is_documented_hmac_over_sorted_encoded_fields():
    fields = {"orderId": "A-01", "amount": 100000, "merchantCode": "MOTCUA", "orderInfo": "Lệ phí & phí",
              "checkValue": "ignored", "skipped": None}
    assert signing_string(fields) == (
        "amount=100000&merchantCode=MOTCUA&orderId=A-01&orderInfo=L%E1%BB%87%20ph%C3%AD%20%26%20ph%C3%AD")
    import hashlib
    import hmac

    expected = hmac.new(b"k", signing_string(fields).encode(), hashlib.sha256).hexdigest()
    assert check_value(fields, "k") == expected
    assert verify(fields, expected, "k") and verify(fields, expected.upper(), "k")
    assert not verify({**fields, "amount": 1}, expected, "k")
    assert not verify(fields, expected, "other")
    assert not verify(fields, "", "k") and not verify(fields, expected, "")
    # the same value as a string of digits (the return redirect's query) signs the same
    assert verify({**fields, "amount": "100000"}, expected, "k")
    s = signed({"a": 1}, "k")
    assert verify(s, s["checkValue"], "k")


def test_times_are_vietnam_time():
    text = vn_time()
    assert len(text) == 14 and text.isdigit()
    parsed = parse_vn_time("20261124153000")
    assert parsed is not None and parsed.utcoffset().total_seconds() == 7 * 3600
    assert parse_vn_time("2026-11-24") is None and parse_vn_time(None) is None


def test_contract_documents_every_route_and_state():
    text = (ROOT / "connectors" / "contracts" / "payment.yaml").read_text(encoding="utf-8")
    assert text.startswith("openapi: 3.1.0")
    for needle in ("/api/v1/payments:", "/api/v1/payments/query:", "/thanh-toan/{transactionId}:", "notifyUrl",
                   "returnUrl", "checkValue", "HMAC-SHA256", "[pending, paid, failed, cancelled, expired]",
                   "yyyyMMddHHmmss", "Asia/Ho_Chi_Minh"):
        assert needle in text, needle


# --------------------------------------------------------------------------- simulator and connector


def test_registered_by_name():
    import connectors.payment  # noqa: F401 - registers

    assert isinstance(get("payment", {"url": "http://x"}), PaymentConnector)


def test_create_then_query_and_pay_with_notify(gateway: Simulator, receiver: Receiver):
    conn = _conn(gateway)
    answer = _create(conn, "REF-0001", receiver.url)
    assert answer["responseCode"] == "00" and answer["orderId"] == "REF-0001" and answer["amount"] == 100000
    txn = answer["transactionId"]
    assert answer["paymentUrl"] == f"{gateway.url}/thanh-toan/{txn}"
    # the same order id again: the same transaction (idempotent)
    assert _create(conn, "REF-0001", receiver.url)["transactionId"] == txn
    [first, *_] = [r for r in gateway.received() if r["path"] == "/api/v1/payments"]
    assert first["key"] == "REF-0001" and first["body"]["createDate"].isdigit()
    assert verify(first["body"], first["body"]["checkValue"], SECRET)

    assert conn.query("REF-0001")["status"] == "pending"
    page = httpx.get(answer["paymentUrl"], timeout=5)
    assert page.status_code == 200 and "Thanh toán" in page.text and "Hủy" in page.text
    assert "100.000 đ" in page.text

    # the citizen presses "Thanh toán" (form): 303 back to the return URL with a signed result
    r = httpx.post(answer["paymentUrl"], data={"action": "pay"}, timeout=5)
    assert r.status_code == 303
    back = urlsplit(r.headers["Location"])
    assert back.path == "/ket-qua"
    fields = dict(parse_qsl(back.query))
    assert fields["status"] == "paid" and fields["orderId"] == "REF-0001" and fields["transactionId"] == txn
    assert verify(fields, fields["checkValue"], SECRET)
    # ...and the notify went out, signed
    import json

    [raw] = receiver.calls
    notify = json.loads(raw)
    assert notify["status"] == "paid" and notify["amount"] == 100000 and notify["responseCode"] == "00"
    assert verify(notify, notify["checkValue"], SECRET)
    result = conn.query("REF-0001")
    assert result["status"] == "paid" and parse_vn_time(result["payDate"]) is not None
    # final: a second decision is refused, the page shows no buttons
    assert httpx.post(f"{gateway.url}/_sim/payments/{txn}/fail", json={}, timeout=5).status_code == 409
    assert "<button" not in httpx.get(answer["paymentUrl"], timeout=5).text


def test_control_routes_decide_and_repeat_notifies(gateway: Simulator, receiver: Receiver):
    conn = _conn(gateway)
    txn = _create(conn, "REF-0002", receiver.url)["transactionId"]
    r = httpx.post(f"{gateway.url}/_sim/payments/{txn}/cancel", json={"notify": False}, timeout=5).json()
    assert r["status"] == "cancelled" and r["deliveries"] == [] and receiver.calls == []
    assert conn.query("REF-0002")["status"] == "cancelled"
    r = httpx.post(f"{gateway.url}/_sim/payments/{txn}/notify", json={"repeat": 2}, timeout=5).json()
    assert [d["http"] for d in r["deliveries"]] == [200, 200] and len(receiver.calls) == 2
    txn3 = _create(conn, "REF-0003", receiver.url)["transactionId"]
    r = httpx.post(f"{gateway.url}/thanh-toan/{txn3}", json={"action": "fail", "notify": False}, timeout=5).json()
    assert r["status"] == "failed" and "status=failed" in r["redirect"]
    txn4 = _create(conn, "REF-0004", receiver.url)["transactionId"]
    httpx.post(f"{gateway.url}/_sim/payments/{txn4}/expire", json={"notify": False}, timeout=5).raise_for_status()
    assert conn.query("REF-0004")["status"] == "expired"
    listed = httpx.get(f"{gateway.url}/_sim/payments", timeout=5).json()["payments"]
    states = {p["orderId"]: p["status"] for p in listed}
    assert states == {"REF-0002": "cancelled", "REF-0003": "failed", "REF-0004": "expired"}


def test_check_value_mismatch_is_refused(gateway: Simulator):
    conn = _conn(gateway, secret="wrong-secret")
    with pytest.raises(PermanentError) as err:
        _create(conn, "REF-BAD", "http://127.0.0.1:9/notify")
    assert err.value.status == 400 and "97" in err.value.message
    body = signed({"merchantCode": MERCHANT, "orderId": "X", "dossierCode": "D", "amount": 1000, "orderInfo": "x",
                   "returnUrl": "http://a/r", "notifyUrl": "http://a/n", "createDate": vn_time()}, SECRET)
    tampered = {**body, "amount": 1}
    r = httpx.post(f"{gateway.url}/api/v1/payments", json=tampered, timeout=5)
    assert r.status_code == 400 and r.json()["responseCode"] == "97"
    q = signed({"merchantCode": MERCHANT, "orderId": "X", "requestDate": vn_time()}, "nope")
    assert httpx.post(f"{gateway.url}/api/v1/payments/query", json=q, timeout=5).status_code == 400
    # the one honest request is accepted
    assert httpx.post(f"{gateway.url}/api/v1/payments", json=body, timeout=5).status_code == 201
    # an order id reused for another amount is refused
    other = signed({**body, "amount": 2000}, SECRET)
    r = httpx.post(f"{gateway.url}/api/v1/payments", json=other, timeout=5)
    assert r.status_code == 409 and r.json()["responseCode"] == "94"


def test_a_tampered_answer_is_refused(gateway: Simulator):
    # the gateway signs with its secret; a client with another secret cannot trust the answer
    honest = _conn(gateway)
    _create(honest, "REF-0005", "http://127.0.0.1:9/n")
    liar = _conn(gateway)
    liar.settings["secret"] = "another"
    with pytest.raises(PermanentError):
        liar.query("REF-0005")  # refused by the gateway (400, 97) before any answer is trusted


def test_unknown_order_and_bad_input(gateway: Simulator):
    conn = _conn(gateway)
    with pytest.raises(PermanentError) as err:
        conn.query("NO-SUCH")
    assert err.value.status == 404
    with pytest.raises(PermanentError):
        _create(conn, "REF-0006", "http://127.0.0.1:9/n", amount=0)
    with pytest.raises(PermanentError):
        conn.create(reference="R", dossier_code="D", amount=1000, description="", return_url="ftp://x",
                    notify_url="http://x")
    with pytest.raises(PermanentError, match="Chưa cấu hình"):
        PaymentConnector({}).query("R")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_gateway_down_is_a_clear_transient_error(gateway: Simulator):
    conn = PaymentConnector({"url": f"http://127.0.0.1:{_free_port()}", "merchant_code": MERCHANT,
                             "secret": SECRET, "timeout": 1})
    with pytest.raises(TransientError) as err:
        _create(conn, "REF-DOWN", "http://127.0.0.1:9/n")
    assert "Không kết nối được" in err.value.message
    gateway.faults(down=True)
    try:
        with pytest.raises(TransientError) as err:
            _create(_conn(gateway), "REF-DOWN", "http://127.0.0.1:9/n")
        assert err.value.status == 503
    finally:
        gateway.faults(down=False)
    gateway.faults(delay_ms=1500)
    try:
        with pytest.raises(TransientError, match="Hết thời gian"):
            _create(_conn(gateway, timeout=0.5), "REF-SLOW", "http://127.0.0.1:9/n")
    finally:
        gateway.faults(delay_ms=0)


def test_pending_transactions_expire_on_the_gateway():
    quick = start_simulator("payment", env={**ENV, "PAYMENT_SIM_EXPIRE_SECONDS": "0.3"})
    try:
        conn = _conn(quick)
        answer = _create(conn, "REF-EXP", "http://127.0.0.1:9/n")
        time.sleep(0.5)
        result = conn.query("REF-EXP")
        assert result["status"] == "expired" and result["responseCode"] == "11"
        assert "<button" not in httpx.get(answer["paymentUrl"], timeout=5).text
    finally:
        quick.stop()
