"""The document axis: the simulator as a real process, the `axis` connector sending and polling signed edXML."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from connectors import edxml, get
from connectors.axis import AxisConnector
from connectors.base import PermanentError, TransientError
from connectors.pki import ensure_demo_pki
from tests.simulators import Simulator, start_simulator

TINH = "000.00.00.H41"
PHUONG = "000.31.33.H41"
TINH_NAME = "Trung tâm Phục vụ hành chính công tỉnh Nghệ An"
PHUONG_NAME = "Ủy ban nhân dân phường Trường Vinh"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str]]:
    return ensure_demo_pki(tmp_path_factory.mktemp("axis-pki"), {TINH: TINH_NAME, PHUONG: PHUONG_NAME})


def stop(simulator: Simulator) -> None:
    simulator.stop()
    if simulator.proc.stdout is not None:
        simulator.proc.stdout.close()


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    simulator = start_simulator("axis")
    try:
        yield simulator
    finally:
        stop(simulator)


@pytest.fixture
def axis(sim: Simulator) -> Simulator:
    sim.reset()
    return sim


def connector(sim: Simulator, pki, code: str, **extra) -> AxisConnector:
    settings = {"url": sim.url, "agency_code": code, "key_file": pki[code]["key"], "cert_file": pki[code]["cert"],
                "timeout": 5, **extra}
    return get("axis", settings)  # type: ignore[return-value]


def document_payload(**overrides) -> dict:
    doc = edxml.Document(
        from_organ=edxml.Organ(TINH, TINH_NAME),
        to=[edxml.Organ(PHUONG, PHUONG_NAME)],
        code=edxml.Code("45", "TTPVHCC-KSTTHC"),
        promulgation=edxml.PromulgationInfo("Nghệ An", dt.date(2026, 11, 24)),
        subject="Chuyển hồ sơ xin ý kiến xác minh hộ kinh doanh",
        signer=edxml.SignerInfo("KT. GIÁM ĐỐC", "Phó Giám đốc", "Hoàng Thị Ngọc Ánh"),
        other=edxml.OtherInfo(priority=1),
        attachments=[edxml.Attachment("giấy đề nghị.pdf", "application/pdf", b"%PDF-1.4 demo")],
        business_data={"dossier_code": "H41.99-261124-0002", "procedure_code": "2.000720",
                       "applicant": {"full_name": "Đỗ Quốc Việt"}, "form_data": {"nganh_nghe": "Bán lẻ"}},
    )
    payload = edxml.message_to_dict(doc)
    payload.update(overrides)
    return payload


def test_registered():
    assert isinstance(get("axis", {}), AxisConnector)
    assert AxisConnector.operations == ("send_document", "send_status")


def test_send_fetch_verify_ack(axis, pki):
    tinh, phuong = connector(axis, pki, TINH), connector(axis, pki, PHUONG)
    answer = tinh.send("send_document", document_payload(), key=str(uuid.uuid4()))
    assert answer["document_id"] == f"{TINH},2026/11/24,45/TTPVHCC-KSTTHC"
    assert answer["delivered_to"] == [PHUONG] and answer["message_id"]

    assert tinh.fetch() == []
    pending = phuong.fetch(limit=10)
    assert [(m["id"], m["from"]) for m in pending] == [(answer["message_id"], TINH)]
    ca = Path(pki["ca"]["cert"]).read_bytes()
    message = edxml.receive(pending[0]["xml"], ca)
    assert isinstance(message, edxml.Document)
    assert message.subject == "Chuyển hồ sơ xin ý kiến xác minh hộ kinh doanh"
    assert message.business_data["applicant"]["full_name"] == "Đỗ Quốc Việt"
    assert message.attachments[0].data == b"%PDF-1.4 demo"

    phuong.ack(pending[0]["id"])
    phuong.ack(pending[0]["id"])  # idempotent
    assert phuong.fetch() == []

    # the ward answers with a status: "03 accepted"
    status = edxml.message_to_dict(edxml.StatusMessage(edxml.Organ(PHUONG, PHUONG_NAME), [message.from_organ],
                                                       "03", message.document_id))
    status.pop("timestamp")
    sent = phuong.send("send_status", status, key=str(uuid.uuid4()))
    assert sent["status_code"] == "03" and sent["delivered_to"] == [TINH]
    (item,) = tinh.fetch()
    received = edxml.receive(item["xml"], ca)
    assert isinstance(received, edxml.StatusMessage)
    assert received.status_code == "03" and received.document_id == message.document_id
    assert received.description == "Đã tiếp nhận"


def test_same_idempotency_key_delivers_once(axis, pki):
    tinh, phuong = connector(axis, pki, TINH), connector(axis, pki, PHUONG)
    key = str(uuid.uuid4())
    first = tinh.send("send_document", document_payload(), key=key)
    second = tinh.send("send_document", document_payload(), key=key)
    assert first == second
    assert len(phuong.fetch()) == 1
    posts = [r for r in axis.received() if r["method"] == "POST" and r["path"] == "/api/v1/messages"]
    assert len(posts) == 1 and posts[0]["idempotency_key"] == key
    tinh.send("send_document", document_payload(), key=str(uuid.uuid4()))
    assert len(phuong.fetch()) == 2


def test_simulator_500_is_transient(axis, pki):
    tinh = connector(axis, pki, TINH)
    axis.faults(status=500, count=1)
    with pytest.raises(TransientError) as err:
        tinh.send("send_document", document_payload(), key="k-500")
    assert err.value.status == 500
    assert tinh.send("send_document", document_payload(), key="k-500")["delivered_to"] == [PHUONG]
    axis.faults(status=503, count=1)
    with pytest.raises(TransientError):
        connector(axis, pki, PHUONG).fetch()


def test_simulator_400_is_permanent(axis, pki):
    tinh = connector(axis, pki, TINH)
    axis.faults(status=400, count=1)
    with pytest.raises(PermanentError) as err:
        tinh.send("send_document", document_payload(), key="k-400")
    assert err.value.status == 400


def test_invalid_payloads_are_permanent(axis, pki):
    tinh = connector(axis, pki, TINH)
    with pytest.raises(PermanentError):
        tinh.send("send_document", document_payload(other={"priority": 9}), key="k1")
    with pytest.raises(PermanentError):  # we may only send as ourselves
        connector(axis, pki, PHUONG).send("send_document", document_payload(), key="k2")
    with pytest.raises(PermanentError):
        tinh.send("send_fax", document_payload(), key="k3")
    with pytest.raises(PermanentError):
        get("axis", {"url": axis.url, "agency_code": TINH}).send("send_document", document_payload(), key="k4")
    assert axis.received() == []


def test_axis_refuses_non_edxml(axis):
    for body, ctype in ((b"not xml", "application/xml"), (b"{}", "application/json"),
                        (b'<edXMLEnvelope xmlns="http://www.mic.gov.vn/TBT/QCVN_102_2016"/>', "application/xml"),
                        (b'<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>', "application/xml")):
        resp = httpx.post(f"{axis.url}/api/v1/messages", content=body,
                          headers={"Content-Type": ctype, "X-Agency-Code": TINH}, timeout=5)
        assert resp.status_code in (400, 415), body
    assert axis.received() == []


def test_tokens_when_configured(pki):
    sim = start_simulator("axis", env={"AXIS_SIM_TOKENS": f"{TINH}=tok-tinh,{PHUONG}=tok-phuong"})
    try:
        with pytest.raises(PermanentError) as err:
            connector(sim, pki, TINH).send("send_document", document_payload(), key="t1")
        assert err.value.status == 401
        with pytest.raises(PermanentError):
            connector(sim, pki, PHUONG, token="tok-tinh").fetch()
        connector(sim, pki, TINH, token="tok-tinh").send("send_document", document_payload(), key="t2")
        assert len(connector(sim, pki, PHUONG, token="tok-phuong").fetch()) == 1
    finally:
        stop(sim)
