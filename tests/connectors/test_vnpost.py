"""Vietnam Post (BCCI): the simulator as a real process, the `vnpost` connector, signed callbacks."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from connectors import get
from connectors.base import PermanentError, TransientError
from connectors.vnpost import STATUS_LABELS, VNPostConnector, clear_token_cache, verify_callback
from tests.simulators import Simulator, start_simulator

ENV = {"VNPOST_SIM_CLIENT_ID": "motcua-test", "VNPOST_SIM_CLIENT_SECRET": "bí-mật-thử",
       "VNPOST_SIM_HMAC_SECRET": "hmac-test"}
HMAC = ENV["VNPOST_SIM_HMAC_SECRET"]
CITIZEN = {"name": "Nguyễn Thị Hồng Nhung", "address": "Số 12 đường Lê Lợi, khối Tân Yên", "tel": "0912345678",
           "email": "nhung@example.vn", "province": "Nghệ An", "ward": "Phường Trường Vinh"}
AGENCY = {"Name": "Trung tâm Phục vụ hành chính công tỉnh Nghệ An", "Address": "16 Trường Thi", "Tel": "02383888999",
          "Province": "Nghệ An", "Ward": "Phường Thành Vinh", "District": "TP Vinh"}


def _stop(simulator: Simulator) -> None:
    simulator.stop()
    if simulator.proc.stdout is not None:
        simulator.proc.stdout.close()


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    simulator = start_simulator("vnpost", env=ENV)
    try:
        yield simulator
    finally:
        _stop(simulator)


@pytest.fixture
def vnpost(sim: Simulator) -> Simulator:
    sim.reset()
    clear_token_cache()
    return sim


class Receiver:
    """A tiny HTTP server in a thread that keeps every POST (headers and raw body)."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        calls = self.calls

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                calls.append({"path": self.path, "headers": dict(self.headers), "raw": raw})
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/callbacks/vnpost"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    try:
        yield r
    finally:
        r.close()


def connector(sim: Simulator, **extra: Any) -> VNPostConnector:
    settings = {"url": sim.url, "client_id": ENV["VNPOST_SIM_CLIENT_ID"],
                "client_secret": ENV["VNPOST_SIM_CLIENT_SECRET"], "customer_code": "MOTCUA-H41", "timeout": 5,
                **extra}
    return get("vnpost", settings)  # type: ignore[return-value]


def order(**over: Any) -> dict[str, Any]:
    return {"service": "pickup", "order_number": "000.00.00.H41-251114-0007", "cod_amount": 200000,
            "sender": CITIZEN, "receiver": AGENCY, "description": "Hồ sơ đăng ký hộ kinh doanh", **over}


def advance(sim: Simulator, item: str, **body: Any) -> dict[str, Any]:
    resp = httpx.post(f"{sim.url}/_sim/orders/{item}/advance", json=body, timeout=10)
    resp.raise_for_status()
    return resp.json()


def token_calls(sim: Simulator) -> int:
    return sum(1 for r in sim.received() if r["path"] == "/api/v1/token")


def test_registered_with_labels() -> None:
    assert isinstance(get("vnpost", {}), VNPostConnector)
    assert set(VNPostConnector.operations) == {"create_order", "cancel_order", "track_order"}
    assert {1, 2, 3, 4, 5} <= set(STATUS_LABELS)


def test_create_order_keeps_vietnamese_and_same_key_same_waybill(vnpost: Simulator) -> None:
    c = connector(vnpost)
    first = c.send("create_order", order(), "outbox-1")
    assert first["ItemCode"].startswith("EB") and first["OrderNumber"] == "000.00.00.H41-251114-0007"
    assert first["statusCode"] == 1
    again = c.send("create_order", order(), "outbox-1")
    assert again["ItemCode"] == first["ItemCode"]
    other = c.send("create_order", order(service="delivery", sender=AGENCY, receiver=CITIZEN), "outbox-2")
    assert other["ItemCode"] != first["ItemCode"]

    posted = [r for r in vnpost.received() if r["path"] == "/api/v1/orders"]
    assert len(posted) == 2  # the replay created nothing
    assert posted[0]["key"] == "outbox-1"
    body = posted[0]["body"]
    assert body["CustomerCode"] == "MOTCUA-H41" and body["CODAmount"] == 200000 and body["Service"] == "pickup"
    assert body["Sender"]["Name"] == "Nguyễn Thị Hồng Nhung"
    assert body["Receiver"] == AGENCY

    tracked = c.send("track_order", {"item_code": first["ItemCode"]}, "outbox-3")
    assert tracked["Sender"]["Name"] == "Nguyễn Thị Hồng Nhung"
    assert tracked["Sender"]["Ward"] == "Phường Trường Vinh"
    assert tracked["Description"] == "Hồ sơ đăng ký hộ kinh doanh"
    assert [h["statusCode"] for h in tracked["history"]] == [1]
    assert token_calls(vnpost) == 1  # the token is cached


def test_track_and_cancel(vnpost: Simulator) -> None:
    c = connector(vnpost)
    item = c.send("create_order", order(), "k-create")["ItemCode"]
    advance(vnpost, item, statusCode=2, deliver=False)
    cancelled = c.send("cancel_order", {"item_code": item, "reason": "Công dân rút hồ sơ"}, "k-cancel")
    assert cancelled["statusCode"] == 4
    tracked = c.send("track_order", {"item_code": item}, "k-track")
    assert tracked["statusCode"] == 4 and "Công dân rút hồ sơ" in tracked["statusMessage"]
    assert [h["statusCode"] for h in tracked["history"]] == [1, 2, 4]
    assert c.send("cancel_order", {"item_code": item}, "k-cancel-2")["statusCode"] == 4  # harmless twice

    delivered = c.send("create_order", order(), "k-create-2")["ItemCode"]
    advance(vnpost, delivered, statusCode=3, deliver=False)
    with pytest.raises(PermanentError) as exc:
        c.send("cancel_order", {"item_code": delivered}, "k-cancel-3")
    assert exc.value.status == 409
    with pytest.raises(PermanentError) as exc:
        c.send("track_order", {"item_code": "EB999999999VN"}, "k-track-2")
    assert exc.value.status == 404


def test_duplicate_signed_callbacks(vnpost: Simulator, receiver: Receiver) -> None:
    c = connector(vnpost, callback_url=receiver.url)
    item = c.send("create_order", order(), "k-cb")["ItemCode"]
    out = advance(vnpost, item, statusCode=2, repeat=3)
    assert len(out["deliveries"]) == 3 and all(d["status"] == 204 for d in out["deliveries"])
    assert len(receiver.calls) == 3
    raws = {call["raw"] for call in receiver.calls}
    assert len(raws) == 1  # three copies of one event
    for call in receiver.calls:
        assert call["path"] == "/callbacks/vnpost"
        assert verify_callback(call["raw"], call["headers"]["X-VNPost-Signature"], HMAC)
    event = json.loads(receiver.calls[0]["raw"].decode("utf-8"))
    assert event["ItemCode"] == item and event["OrderNumber"] == "000.00.00.H41-251114-0007"
    assert event["statusCode"] == 2 and event["eventId"] == out["event"]["eventId"]
    assert event["occurredAt"].endswith("+07:00")

    signature = receiver.calls[0]["headers"]["X-VNPost-Signature"]
    tampered = receiver.calls[0]["raw"].replace(b'"statusCode": 2', b'"statusCode": 3')
    assert tampered != receiver.calls[0]["raw"]
    assert not verify_callback(tampered, signature, HMAC)
    assert not verify_callback(receiver.calls[0]["raw"], signature, "wrong-secret")
    assert not verify_callback(receiver.calls[0]["raw"], "", HMAC)
    assert not verify_callback(receiver.calls[0]["raw"], signature.removeprefix("sha256="), HMAC)

    # A later event, then the first one again: out of order, ordered by occurredAt, deduplicated by eventId.
    later = advance(vnpost, item, statusCode=5, statusMessage="Phát không thành công: người nhận vắng nhà")
    resend = httpx.post(f"{vnpost.url}/_sim/orders/{item}/callback", json={"eventId": event["eventId"]}, timeout=10)
    assert resend.status_code == 200
    events = [json.loads(call["raw"]) for call in receiver.calls]
    assert [e["statusCode"] for e in events] == [2, 2, 2, 5, 2]
    assert events[3]["statusMessage"] == "Phát không thành công: người nhận vắng nhà"
    latest = max({e["eventId"]: e for e in events}.values(), key=lambda e: e["occurredAt"])
    assert latest["eventId"] == later["event"]["eventId"]


def test_unreachable_callback_is_only_recorded(vnpost: Simulator) -> None:
    c = connector(vnpost, callback_url="http://127.0.0.1:9/nowhere")
    item = c.send("create_order", order(), "k-unreach")["ItemCode"]
    out = advance(vnpost, item, statusCode=2)
    assert "error" in out["deliveries"][0]
    callbacks = httpx.get(f"{vnpost.url}/_sim/callbacks", timeout=5).json()["callbacks"]
    assert callbacks[-1]["eventId"] == out["event"]["eventId"] and "error" in callbacks[-1]
    assert c.send("track_order", {"item_code": item}, "k")["statusCode"] == 2


def test_token_refreshed_after_401(vnpost: Simulator) -> None:
    c = connector(vnpost)
    c.send("create_order", order(), "k-a")
    vnpost.reset()  # the partner forgets every token: the cached one now gets 401
    assert c.send("create_order", order(), "k-b")["statusCode"] == 1
    assert token_calls(vnpost) == 1


def test_server_error_is_transient(vnpost: Simulator) -> None:
    c = connector(vnpost)
    c.send("create_order", order(), "k-1")
    vnpost.faults(status=500, count=1)
    with pytest.raises(TransientError) as exc:
        c.send("create_order", order(), "k-2")
    assert exc.value.status == 500
    vnpost.faults(down=True)
    with pytest.raises(TransientError):
        c.send("create_order", order(), "k-2")
    vnpost.faults(down=False)
    assert c.send("create_order", order(), "k-2")["statusCode"] == 1


def test_bad_credentials_and_bad_request_are_permanent(vnpost: Simulator) -> None:
    with pytest.raises(PermanentError) as exc:
        connector(vnpost, client_secret="sai").send("create_order", order(), "k-1")
    assert exc.value.status == 401

    c = connector(vnpost)
    c.send("create_order", order(), "k-ok")
    vnpost.faults(status=401, count=2)  # the order call and the token refresh both refused
    with pytest.raises(PermanentError) as exc:
        c.send("create_order", order(), "k-2")
    assert exc.value.status == 401

    bad_phone = {**CITIZEN, "tel": "12345"}
    with pytest.raises(PermanentError) as exc:
        c.send("create_order", order(sender=bad_phone), "k-3")
    assert exc.value.status == 400 and "Tel" in exc.value.message


def test_payload_checked_before_calling(vnpost: Simulator) -> None:
    c = connector(vnpost)
    with pytest.raises(PermanentError):
        c.send("create_order", order(service="both"), "k")
    with pytest.raises(PermanentError):
        c.send("create_order", order(cod_amount=1500.5), "k")
    with pytest.raises(PermanentError):
        c.send("create_order", order(receiver={"name": "Thiếu địa chỉ"}), "k")
    with pytest.raises(PermanentError):
        c.send("track_order", {}, "k")
    with pytest.raises(PermanentError):
        c.send("delete_everything", {}, "k")
    assert vnpost.received() == []


def test_slow_partner_times_out_as_transient(vnpost: Simulator) -> None:
    c = connector(vnpost, timeout=0.3)
    item = c.send("create_order", order(), "k-1")["ItemCode"]
    vnpost.faults(delay_ms=1200)
    try:
        with pytest.raises(TransientError):
            c.send("track_order", {"item_code": item}, "k-2")
    finally:
        vnpost.faults(delay_ms=0)


def test_auto_advance_for_the_demo(receiver: Receiver) -> None:
    sim = start_simulator("vnpost", env={**ENV, "VNPOST_SIM_AUTO_ADVANCE_SECONDS": "0.2"})
    try:
        clear_token_cache()
        item = connector(sim, callback_url=receiver.url).send("create_order", order(), "k")["ItemCode"]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(receiver.calls) < 2:
            time.sleep(0.05)
        codes = [json.loads(c["raw"])["statusCode"] for c in receiver.calls]
        assert codes[:2] == [2, 3]
        assert all(verify_callback(c["raw"], c["headers"]["X-VNPost-Signature"], HMAC) for c in receiver.calls)
        assert json.loads(receiver.calls[0]["raw"])["ItemCode"] == item
    finally:
        clear_token_cache()
        _stop(sim)


def test_expired_token_is_refreshed() -> None:
    sim = start_simulator("vnpost", env={**ENV, "VNPOST_SIM_TOKEN_TTL": "1"})
    try:
        clear_token_cache()
        c = connector(sim)
        c.send("create_order", order(), "k-1")
        c.send("create_order", order(), "k-2")
        assert token_calls(sim) == 1
        time.sleep(1.1)
        assert c.send("create_order", order(), "k-3")["statusCode"] == 1
        assert token_calls(sim) == 2
        assert sum(1 for r in sim.received() if r["path"] == "/api/v1/orders") == 3
    finally:
        clear_token_cache()
        _stop(sim)
