"""SMS and e-mail: the simulators as real processes and the `sms` / `email` connectors."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from connectors import get
from connectors.base import PermanentError, TransientError
from connectors.notify import EmailConnector, SmsConnector, message_id_for
from tests.simulators import Simulator, start_simulator

SMS_TOKEN = "sms-test-token"
SUBJECT = "Hồ sơ 000.00.00.H41-251114-0007 đã có kết quả — mời ông/bà đến nhận"
BODY = "Kính gửi bà Nguyễn Thị Hồng Nhung,\nHồ sơ đăng ký hộ kinh doanh của bà đã có kết quả.\nLệ phí: 100.000 đ."


def _stop(simulator: Simulator) -> None:
    simulator.stop()
    if simulator.proc.stdout is not None:
        simulator.proc.stdout.close()


@pytest.fixture(scope="module")
def sms_sim() -> Iterator[Simulator]:
    simulator = start_simulator("sms", env={"SMS_SIM_TOKEN": SMS_TOKEN})
    try:
        yield simulator
    finally:
        _stop(simulator)


@pytest.fixture
def sms(sms_sim: Simulator) -> Simulator:
    sms_sim.reset()
    return sms_sim


@pytest.fixture(scope="module")
def smtp_sim() -> Iterator[Simulator]:
    simulator = start_simulator("smtp")
    try:
        yield simulator
    finally:
        _stop(simulator)


@pytest.fixture
def smtp(smtp_sim: Simulator) -> Simulator:
    smtp_sim.reset()
    return smtp_sim


def sms_connector(sim: Simulator, **extra: Any) -> SmsConnector:
    return get("sms", {"url": sim.url, "token": SMS_TOKEN, "timeout": 5, **extra})  # type: ignore[return-value]


def email_connector(sim: Simulator, **extra: Any) -> EmailConnector:
    where = httpx.get(f"{sim.url}/_sim/smtp", timeout=5).json()
    settings = {"host": where["host"], "port": where["port"], "sender": "Một cửa Nghệ An <motcua@nghean.gov.vn>",
                "timeout": 5, **extra}
    return get("email", settings)  # type: ignore[return-value]


def messages(sim: Simulator) -> list[dict[str, Any]]:
    return httpx.get(f"{sim.url}/_sim/messages", timeout=5).json()["messages"]


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- SMS ---------------------------------------------------------------------------------------------------------
def test_sms_send_and_same_key(sms: Simulator) -> None:
    c = sms_connector(sms)
    text = "Hồ sơ 000.00.00.H41-251114-0007 đã có kết quả. Tra cứu: motcua.nghean.gov.vn"
    first = c.send("send", {"to": "091 234 5678", "text": text}, "outbox-7")
    assert first["status"] == "queued" and first["id"]
    assert c.send("send", {"to": "0912345678", "text": text}, "outbox-7")["id"] == first["id"]
    assert c.send("send", {"to": "+84912345678", "text": "Lịch hẹn mới", "ref": "r-1"}, "outbox-8")["id"] != first["id"]
    got = messages(sms)
    assert [(m["to"], m["text"], m["ref"]) for m in got] == [("0912345678", text, "outbox-7"),
                                                             ("+84912345678", "Lịch hẹn mới", "r-1")]


def test_sms_refusals_are_permanent_and_outages_transient(sms: Simulator) -> None:
    c = sms_connector(sms)
    with pytest.raises(PermanentError) as exc:
        c.send("send", {"to": "12345", "text": "Xin chào"}, "k-1")
    assert exc.value.status == 400
    with pytest.raises(PermanentError) as exc:
        sms_connector(sms, token="sai").send("send", {"to": "0912345678", "text": "Xin chào"}, "k-2")
    assert exc.value.status == 401
    with pytest.raises(PermanentError):
        c.send("send", {"to": "0912345678", "text": ""}, "k-3")
    sms.faults(status=429, count=1)
    with pytest.raises(TransientError):
        c.send("send", {"to": "0912345678", "text": "Xin chào"}, "k-4")
    assert messages(sms) == []


# -- e-mail ------------------------------------------------------------------------------------------------------
def test_email_vietnamese_round_trip(smtp: Simulator) -> None:
    c = email_connector(smtp)
    html = "<p>Hồ sơ của bà <b>đã có kết quả</b>.</p>"
    out = c.send("send", {"to": "nhung@example.vn", "subject": SUBJECT, "text": BODY, "html": html}, "outbox-42")
    assert out["message_id"] == "<motcua.outbox-42@nghean.gov.vn>"
    assert message_id_for("outbox-42", "Một cửa <motcua@nghean.gov.vn>") == out["message_id"]
    assert out["to"] == ["nhung@example.vn"] and out["refused"] == {}
    [msg] = messages(smtp)
    assert msg["subject"] == SUBJECT
    assert msg["text"].rstrip("\n") == BODY
    assert msg["html"].rstrip("\n") == html
    assert msg["to"] == "nhung@example.vn" and msg["rcpt_tos"] == ["nhung@example.vn"]
    assert msg["from"] == "Một cửa Nghệ An <motcua@nghean.gov.vn>" and msg["mail_from"] == "motcua@nghean.gov.vn"
    assert msg["message_id"] == out["message_id"]


def test_email_duplicates_share_the_message_id(smtp: Simulator) -> None:
    c = email_connector(smtp)
    payload = {"to": ["a@example.vn", "b@example.vn"], "subject": "Thông báo", "text": "Nội dung"}
    c.send("send", payload, "outbox/43 lần 2")  # an unsafe key is hashed
    c.send("send", payload, "outbox/43 lần 2")
    c.send("send", payload, "outbox-44")
    ids = [m["message_id"] for m in messages(smtp)]
    assert ids[0] == ids[1] != ids[2]
    assert ids[0].startswith("<motcua.") and " " not in ids[0]
    assert messages(smtp)[0]["rcpt_tos"] == ["a@example.vn", "b@example.vn"]


def test_email_smtp_codes(smtp: Simulator) -> None:
    c = email_connector(smtp)
    payload = {"to": "nhung@example.vn", "subject": "Thông báo", "text": "Nội dung"}
    httpx.post(f"{smtp.url}/_sim/smtp/faults", json={"code": 451, "count": 1}, timeout=5).raise_for_status()
    with pytest.raises(TransientError) as exc:
        c.send("send", payload, "k-1")
    assert exc.value.status == 451
    httpx.post(f"{smtp.url}/_sim/smtp/faults", json={"code": 550, "count": 1}, timeout=5).raise_for_status()
    with pytest.raises(PermanentError) as exc:
        c.send("send", payload, "k-2")
    assert exc.value.status == 550
    httpx.post(f"{smtp.url}/_sim/smtp/faults", json={"code": 554, "stage": "data"}, timeout=5).raise_for_status()
    with pytest.raises(PermanentError):
        c.send("send", payload, "k-3")
    httpx.post(f"{smtp.url}/_sim/smtp/faults", json={"code": 421, "stage": "data"}, timeout=5).raise_for_status()
    with pytest.raises(TransientError):
        c.send("send", payload, "k-4")
    assert messages(smtp) == []
    c.send("send", payload, "k-5")
    assert len(messages(smtp)) == 1


def test_email_connection_refused_is_transient_and_bad_payload_permanent() -> None:
    c = get("email", {"host": "127.0.0.1", "port": closed_port(), "sender": "motcua@example.gov.vn", "timeout": 2})
    payload = {"to": "nhung@example.vn", "subject": "Thông báo", "text": "Nội dung"}
    with pytest.raises(TransientError):
        c.send("send", payload, "k")
    with pytest.raises(PermanentError):
        c.send("send", {**payload, "to": "không-phải-địa-chỉ"}, "k")
    with pytest.raises(PermanentError):
        c.send("send", {**payload, "subject": ""}, "k")
    with pytest.raises(PermanentError):
        get("email", {"host": "127.0.0.1", "port": 25}).send("send", payload, "k")  # no sender configured
