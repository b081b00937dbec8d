"""Paying a fee online end to end: the gateway simulator as a real process, the app served over HTTP so the
gateway's notifies and the citizen's browser reach it. Duplicated notifies pay once, failures are retried,
abandoned attempts are resolved by polling, tampered results are refused, the receipt says the amount in words."""

from __future__ import annotations

import copy
import io
import json
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import httpx
import pytest
from pypdf import PdfReader
from sqlalchemy import select

from app.common.types import utcnow
from app.dossiers.models import AuditLog, Dossier
from app.dossiers.services import submit
from app.extensions import db
from app.payments import services as payments
from app.payments.models import Payment
from connectors.payment import signed, vn_time
from tests.live import live_server
from tests.simulators import start_simulator

ROOT = Path(__file__).resolve().parent.parent.parent
MERCHANT, SECRET = "MOTCUA", "payment-secret-for-tests"
HOUSEHOLD_BUSINESS = "1.001612"  # 100.000 đ
BIRTH = "1.001193"  # free
APPLICANT = {"name": "Phạm Thị Lan", "id_number": "001178012345", "phone": "0912345678",
             "email": "lan@example.vn", "address": "Số 25 phố Quán Thánh, phường Ba Đình, thành phố Hà Nội"}


def _submission(stem: str) -> dict:
    scenarios = json.loads((ROOT / "tests" / "workflows" / "scenarios" / f"{stem}.json").read_text(encoding="utf-8"))
    return dict(scenarios[0]["submission"])


@pytest.fixture(scope="module")
def gateway():
    sim = start_simulator("payment", env={"PAYMENT_SIM_MERCHANT": MERCHANT, "PAYMENT_SIM_SECRET": SECRET})
    yield sim
    sim.stop()


@pytest.fixture(scope="module")
def with_payments(app):
    """Register the payment blueprints on the shared test app until app/__init__.py does."""
    if "payments" not in app.blueprints:
        from app.extensions import csrf
        from app.payments.routes import bp, callbacks

        started = app._got_first_request
        app._got_first_request = False  # the session-wide app may have served requests already
        try:
            csrf.exempt(callbacks)
            app.register_blueprint(bp)
            app.register_blueprint(callbacks)
        finally:
            app._got_first_request = started
    return app


@pytest.fixture
def wired(with_payments, gateway):
    app = with_payments
    gateway.reset()
    before = app.config["CONNECTORS"]
    app.config["CONNECTORS"] = copy.deepcopy(before)  # never mutate the shared default
    with live_server(app) as base:
        app.config["CONNECTORS"]["payment"] = {
            "url": gateway.url, "merchant_code": MERCHANT, "secret": SECRET, "timeout": 3,
            "notify_url": f"{base}/api/v1/callbacks/payment", "return_base": base}
        with httpx.Client(base_url=base, timeout=15) as browser:
            yield gateway, base, browser
    app.config["CONNECTORS"] = before


def _dossier(procedure: str = HOUSEHOLD_BUSINESS, stem: str = "dang_ky_ho_kinh_doanh") -> tuple[Dossier, str]:
    dossier, secret = submit(procedure, "online", dict(APPLICANT), _submission(stem))
    db.session.commit()
    return dossier, secret


def _start(browser: httpx.Client, dossier: Dossier, secret: str | None) -> httpx.Response:
    data = {"mat_ma": secret} if secret else {}
    return browser.post(f"/thanh-toan/{dossier.code}", data=data)


def _attempts(dossier: Dossier) -> list[Payment]:
    db.session.expire_all()
    return list(db.session.scalars(select(Payment).where(Payment.dossier_id == dossier.id).order_by(Payment.id)))


def _audits(dossier: Dossier, state: str | None = None) -> list[AuditLog]:
    db.session.expire_all()
    rows = db.session.scalars(select(AuditLog).where(AuditLog.dossier_id == dossier.id,
                                                     AuditLog.action == "payment").order_by(AuditLog.id)).all()
    return [r for r in rows if state is None or r.detail.get("state") == state]


def _txn(payment_url: str) -> str:
    return urlsplit(payment_url).path.rsplit("/", 1)[1]


def test_pay_on_the_gateway_notify_twice_one_paid_state_and_a_receipt(ctx, wired, app):
    sim, base, browser = wired
    dossier, secret = _dossier()
    page = browser.get(f"/thanh-toan/{dossier.code}", params={"mat_ma": secret})
    assert page.status_code == 200
    assert "Thanh toán lệ phí" in page.text and "100.000 đ" in page.text and "Chưa thanh toán" in page.text

    r = _start(browser, dossier, secret)
    assert r.status_code == 303, r.text
    pay_url = r.headers["Location"]
    assert pay_url.startswith(f"{sim.url}/thanh-toan/")
    [attempt] = _attempts(dossier)
    assert attempt.state == "pending" and attempt.amount == 100000 and attempt.transaction_id == _txn(pay_url)
    # back on our page while the gateway's page is still open: the same attempt, not a second payment
    assert _start(browser, dossier, secret).headers["Location"] == pay_url and len(_attempts(dossier)) == 1
    assert "đang chờ cổng thanh toán xác nhận" in browser.get(f"/thanh-toan/{dossier.code}").text
    [created] = [c for c in sim.received() if c["path"] == "/api/v1/payments"]
    assert created["body"]["amount"] == 100000 and created["body"]["dossierCode"] == dossier.code
    assert created["body"]["notifyUrl"] == f"{base}/api/v1/callbacks/payment"
    assert created["body"]["returnUrl"] == f"{base}/thanh-toan/ket-qua/{attempt.reference}"

    hosted = httpx.get(pay_url, timeout=10)
    assert "Thanh toán" in hosted.text and "Hủy" in hosted.text and "100.000 đ" in hosted.text
    paid = httpx.post(pay_url, data={"action": "pay"}, timeout=10)  # the citizen pays: notify + redirect
    assert paid.status_code == 303
    back = paid.headers["Location"]
    assert back.startswith(f"{base}/thanh-toan/ket-qua/{attempt.reference}?")
    again = httpx.post(f"{sim.url}/_sim/payments/{attempt.transaction_id}/notify", json={"repeat": 1}, timeout=10)
    assert [d["http"] for d in again.json()["deliveries"]] == [200]
    notifies = httpx.get(f"{sim.url}/_sim/notifies", timeout=10).json()["notifies"]
    assert [n["http"] for n in notifies] == [200, 200]
    assert [json.loads(n["body"])["outcome"] for n in notifies] == ["pending->paid", "duplicate"]

    result = browser.get(back)  # the browser comes back with the same (signed) result: a third delivery
    assert result.status_code == 200 and "Đã thanh toán 100.000 đ" in result.text
    [attempt] = _attempts(dossier)
    assert attempt.state == "paid" and attempt.paid_at is not None
    assert len(_audits(dossier, "paid")) == 1
    assert [a.detail["state"] for a in _audits(dossier)] == ["pending", "paid"]
    assert payments.is_paid(db.session.get(Dossier, dossier.id))

    # the tracking page's partial
    with app.test_request_context():
        from flask import render_template

        html = render_template("payments/_status.html", dossier=db.session.get(Dossier, dossier.id), secret=secret)
    assert "Đã thanh toán 100.000 đ" in html and attempt.transaction_id in html and "bien-lai.pdf" in html

    pdf = browser.get(f"/thanh-toan/{dossier.code}/bien-lai.pdf", params={"mat_ma": secret})
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "100.000" in text and "Một trăm nghìn đồng" in text
    assert dossier.code in text and "Phạm Thị Lan" in text and attempt.transaction_id in text
    assert "BIÊN LAI" in text

    # paid: nothing more to pay; the page offers the receipt
    refused = _start(browser, dossier, secret)
    assert refused.status_code == 409 and "đã được thanh toán" in refused.text
    assert len(_attempts(dossier)) == 1
    # a late "failed" result, properly signed, never takes the paid state back
    late = signed({"merchantCode": MERCHANT, "orderId": attempt.reference, "transactionId": attempt.transaction_id,
                   "dossierCode": dossier.code, "amount": 100000, "status": "failed", "responseCode": "07",
                   "payDate": vn_time(), "message": "late"}, SECRET)
    r = browser.post("/api/v1/callbacks/payment", json=late)
    assert r.status_code == 200 and r.json()["outcome"] == "ignored paid->failed"
    assert _attempts(dossier)[0].state == "paid" and len(_audits(dossier, "paid")) == 1


def test_failed_then_retried_then_paid(ctx, wired):
    sim, base, browser = wired
    dossier, secret = _dossier()
    first = _start(browser, dossier, secret).headers["Location"]
    r = httpx.post(first, json={"action": "fail"}, timeout=10).json()  # JSON shortcut: notify sent
    assert r["status"] == "failed"
    [attempt] = _attempts(dossier)
    assert attempt.state == "failed"
    page = browser.get(r["redirect"])
    assert page.status_code == 200 and "Thanh toán không thành công" in page.text and "Thử lại" in page.text

    # "Thử lại" posts without the secret: the session remembers it
    retry = _start(browser, dossier, None)
    assert retry.status_code == 303
    second = retry.headers["Location"]
    assert second != first
    cancelled = httpx.post(second, data={"action": "cancel"}, timeout=10)
    page = browser.get(cancelled.headers["Location"])
    assert "Đã hủy thanh toán" in page.text and "Thử lại" in page.text

    third = _start(browser, dossier, None).headers["Location"]
    done = httpx.post(third, json={"action": "pay"}, timeout=10).json()
    assert done["status"] == "paid"
    assert [p.state for p in _attempts(dossier)] == ["failed", "cancelled", "paid"]
    assert len({p.reference for p in _attempts(dossier)}) == 3
    assert len(_audits(dossier, "paid")) == 1
    assert "Đã thanh toán" in browser.get(done["redirect"]).text


def test_abandoned_attempts_are_resolved_by_polling(ctx, wired):
    sim, _base, browser = wired
    paid_later, secret = _dossier()
    pay_url = _start(browser, paid_later, secret).headers["Location"]
    # paid on the gateway, but the notify is lost and the citizen never comes back
    httpx.post(f"{sim.url}/_sim/payments/{_txn(pay_url)}/pay", json={"notify": False}, timeout=10).raise_for_status()
    left, secret2 = _dossier()
    left_url = _start(browser, left, secret2).headers["Location"]
    httpx.post(f"{sim.url}/_sim/payments/{_txn(left_url)}/expire", json={"notify": False},
               timeout=10).raise_for_status()
    assert [p.state for p in _attempts(paid_later) + _attempts(left)] == ["pending", "pending"]

    assert payments.poll_pending(now=utcnow()) == 0  # too recent: the citizen may still be paying
    assert payments.poll_pending(now=utcnow() + timedelta(minutes=6)) == 2
    assert _attempts(paid_later)[0].state == "paid" and _attempts(left)[0].state == "expired"
    assert len(_audits(paid_later, "paid")) == 1 and len(_audits(left, "expired")) == 1
    assert payments.poll_pending(now=utcnow() + timedelta(minutes=20)) == 0  # nothing pending any more
    # the expired one can be retried
    assert _start(browser, left, secret2).status_code == 303


def test_tampered_results_are_refused(ctx, wired):
    sim, _base, browser = wired
    dossier, secret = _dossier()
    pay_url = _start(browser, dossier, secret).headers["Location"]
    [attempt] = _attempts(dossier)
    fields = {"merchantCode": MERCHANT, "orderId": attempt.reference, "transactionId": attempt.transaction_id,
              "dossierCode": dossier.code, "amount": 100000, "status": "paid", "responseCode": "00",
              "payDate": vn_time(), "message": "Đã thanh toán"}
    forged = signed(fields, "not-the-secret")
    r = browser.post("/api/v1/callbacks/payment", json=forged)
    assert r.status_code == 400 and r.json()["responseCode"] == "97"
    altered = {**signed({**fields, "amount": 1000}, SECRET), "amount": 100000}
    assert browser.post("/api/v1/callbacks/payment", json=altered).status_code == 400
    unsigned = dict(fields)
    assert browser.post("/api/v1/callbacks/payment", json=unsigned).status_code == 400
    cheap = signed({**fields, "amount": 1000}, SECRET)  # signed by the gateway, but not our amount
    r = browser.post("/api/v1/callbacks/payment", json=cheap)
    assert r.status_code == 400 and r.json()["responseCode"] == "04"
    unknown = signed({**fields, "orderId": "NO-SUCH"}, SECRET)
    assert browser.post("/api/v1/callbacks/payment", json=unknown).status_code == 404
    assert browser.post("/api/v1/callbacks/payment", content=b"not json").status_code == 400
    # a return redirect with a forged query changes nothing either
    page = browser.get(f"/thanh-toan/ket-qua/{attempt.reference}?{urlencode(forged)}")
    assert page.status_code == 400 and "không hợp lệ" in page.text
    [attempt] = _attempts(dossier)
    assert attempt.state == "pending" and _audits(dossier, "paid") == []
    # the honest notify is accepted
    httpx.post(pay_url, json={"action": "pay"}, timeout=10).raise_for_status()
    assert _attempts(dossier)[0].state == "paid"
    # wrong secret or unknown code on the citizen pages: the same "not found"
    assert browser.get(f"/thanh-toan/{dossier.code}", params={"mat_ma": "WRONGWRONG"}).status_code == 404
    assert browser.get(f"/thanh-toan/{dossier.code}/bien-lai.pdf", params={"mat_ma": "X"}).status_code == 404


def test_gateway_down_free_procedure_and_unconfigured(ctx, wired, app):
    sim, _base, browser = wired
    dossier, secret = _dossier()
    sim.faults(down=True)
    try:
        r = _start(browser, dossier, secret)
    finally:
        sim.faults(down=False)
    assert r.status_code == 503 and "Cổng thanh toán tạm thời không phản hồi" in r.text
    assert _attempts(dossier) == []
    assert _start(browser, dossier, secret).status_code == 303  # back up: it works

    free, free_secret = _dossier(BIRTH, "dang_ky_khai_sinh")
    r = _start(browser, free, free_secret)
    assert r.status_code == 422 and "không thu phí" in r.text
    page = browser.get(f"/thanh-toan/{free.code}", params={"mat_ma": free_secret})
    assert page.status_code == 200 and "pay-button" not in page.text
    with app.test_request_context():
        from flask import render_template

        assert "le-phi" not in render_template("payments/_status.html", dossier=free, secret=free_secret)
    dossier.status = 7  # withdrawn by the applicant: nothing is collected any more
    db.session.commit()
    r = _start(browser, dossier, secret)
    assert r.status_code == 422 and "đã kết thúc" in r.text
    app.config["CONNECTORS"]["payment"]["url"] = ""
    assert payments.poll_pending() == 0
    other, other_secret = _dossier()
    assert _start(browser, other, other_secret).status_code == 404


def test_concurrent_notifies_pay_once(ctx, wired):
    sim, base, browser = wired
    dossier, secret = _dossier()
    _start(browser, dossier, secret)
    [attempt] = _attempts(dossier)
    body = signed({"merchantCode": MERCHANT, "orderId": attempt.reference, "transactionId": attempt.transaction_id,
                   "dossierCode": dossier.code, "amount": 100000, "status": "paid", "responseCode": "00",
                   "payDate": vn_time(), "message": "Đã thanh toán"}, SECRET)
    from concurrent.futures import ThreadPoolExecutor

    def post(_: int) -> str:
        r = httpx.post(f"{base}/api/v1/callbacks/payment", json=body, timeout=30)
        assert r.status_code == 200, r.text
        return r.json()["outcome"]

    with ThreadPoolExecutor(6) as pool:
        outcomes = list(pool.map(post, range(6)))
    assert sorted(outcomes) == ["duplicate"] * 5 + ["pending->paid"]
    assert _attempts(dossier)[0].state == "paid" and len(_audits(dossier, "paid")) == 1
