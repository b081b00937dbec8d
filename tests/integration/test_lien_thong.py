"""Inter-agency procedure (liên thông) between two MotCua installations with two databases and two agency
codes, talking through the document-axis simulator (a real process): signed edXML out, a dossier opened in
the other agency's inbox, statuses and the result back, and a tampered message refused with status 02."""

from __future__ import annotations

import copy
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from app import create_app
from app.auth.models import User
from app.config import TestConfig
from app.dossiers.models import AuditLog, Dossier
from app.dossiers.services import Actor, submit
from app.extensions import db
from app.inbox import services as inbox
from app.inbox.models import OPEN, Task
from app.outbox import services as outbox
from app.outbox.interagency import poll_axis
from app.outbox.models import DONE, InboundEvent, InteragencyLink, OutboxMessage
from connectors import edxml, pki
from tests.simulators import start_simulator

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "connectors"
PROVINCE, WARD = "000.00.00.H41", "000.31.33.H41"


@pytest.fixture(scope="module")
def axis():
    sim = start_simulator("axis")
    yield sim
    sim.stop()


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return pki.ensure_demo_pki(tmp_path_factory.mktemp("pki"), {PROVINCE: "Trung tâm PVHCC tỉnh Nghệ An",
                                                                 WARD: "UBND phường Trường Vinh"})


def _axis_settings(axis, certs, code: str) -> dict:
    return {"url": axis.url, "agency_code": code, "key_file": certs[code]["key"], "cert_file": certs[code]["cert"],
            "ca_file": certs["ca"]["cert"], "timeout": 10}


def _deploy(app, name: str, unit: str) -> None:
    r = app.test_cli_runner().invoke(args=["workflows", "deploy", str(FIXTURES / name), "--forms",
                                           str(FIXTURES / "forms"), "--unit", unit])
    assert r.exit_code == 0, r.output


@pytest.fixture(scope="module")
def ward_app(tmp_path_factory, axis, certs):
    """The second installation: the ward, its own SQLite database and agency code."""
    config = {k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()}
    config.update(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path_factory.mktemp('ward') / 'ward.sqlite'}",
                  UPLOAD_DIR=str(tmp_path_factory.mktemp("ward_uploads")), AGENCY_CODE=WARD)
    config["CONNECTORS"] = copy.deepcopy(config["CONNECTORS"])
    config["CONNECTORS"]["axis"] = _axis_settings(axis, certs, WARD)
    app = create_app(config)
    with app.app_context():
        from flask_migrate import upgrade

        upgrade(revision="heads")
        r = app.test_cli_runner().invoke(args=["seed", "demo"])
        assert r.exit_code == 0, r.output
    _deploy(app, "lien_thong_nhan.bpmn", WARD)
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def province_app(app, axis, certs):
    _deploy(app, "lien_thong_gui.bpmn", PROVINCE)
    before = app.config["CONNECTORS"]
    app.config["CONNECTORS"] = copy.deepcopy(before)  # never mutate the shared default
    app.config["CONNECTORS"]["axis"] = _axis_settings(axis, certs, PROVINCE)
    axis.reset()
    yield app
    app.config["CONNECTORS"] = before


def _user(name: str) -> Actor:
    return Actor(user=db.session.scalar(select(User).where(User.username == name)))


def _open_task(dossier_id: int) -> Task:
    db.session.expire_all()
    return db.session.scalar(select(Task).where(Task.dossier_id == dossier_id, Task.state == OPEN))


def _deliver_all() -> dict:
    totals: dict = {}
    while counts := outbox.deliver_due("w"):
        for k, v in counts.items():
            totals[k] = totals.get(k, 0) + v
    return totals


def test_province_sends_ward_works_and_returns_the_result(province_app, ward_app):
    with province_app.app_context():
        dossier, _ = submit("9.999300", "online", {"name": "Phạm Văn Liên", "phone": "0987654321"},
                            {"noi_dung": "Xác nhận nơi cư trú để cấp phép"})
        db.session.commit()
        inbox.complete(_open_task(dossier.id).id, {}, _user("tiepnhan.tinh"))
        db.session.commit()
        a_code, a_id = dossier.code, dossier.id
        assert db.session.get(Dossier, a_id).status == 4
        assert _open_task(a_id) is None  # waiting for the ward
        assert _deliver_all() == {DONE: 1}
        link = db.session.scalar(select(InteragencyLink).where(InteragencyLink.dossier_id == a_id))
        assert link.direction == "out" and link.partner_code == WARD

    with ward_app.app_context():
        assert poll_axis() == 1
        b = db.session.scalar(select(Dossier).where(Dossier.procedure.has(code="9.999301")))
        assert b.applicant_name == "Phạm Văn Liên" and b.data["noi_dung"] == "Xác nhận nơi cư trú để cấp phép"
        task = _open_task(b.id)
        assert task.bpmn_id == "GiaiQuyet"
        assert poll_axis() == 0  # acknowledged: not delivered twice
        inbox.complete(task.id, {"ket_luan": "Đúng nơi cư trú"}, _user("chuyenvien.phuong"))
        db.session.commit()
        assert db.session.get(Dossier, b.id).status == 10
        sent = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        assert [(m.operation, m.payload.get("status_code")) for m in sent] == [
            ("send_status", "01"), ("send_status", "04"), ("send_document", None), ("send_status", "06")]
        assert _deliver_all() == {DONE: 4}
        b_code = b.code

    with province_app.app_context():
        assert poll_axis() == 4
        dossier = db.session.get(Dossier, a_id)
        assert dossier.data["ketQuaLienThong"]["result"]["ket_luan"] == "Đúng nơi cư trú"
        assert dossier.data["ketQuaLienThong"]["remote_dossier_code"] == b_code
        assert _open_task(a_id).bpmn_id == "TraKetQua"  # the province continues
        statuses = [a.detail["status"] for a in db.session.scalars(
            select(AuditLog).where(AuditLog.dossier_id == a_id, AuditLog.action == "axis_status")
            .order_by(AuditLog.id))]
        assert statuses == ["01", "04", "06"]
        link = db.session.scalar(select(InteragencyLink).where(InteragencyLink.dossier_id == a_id))
        assert link.remote_dossier_code == b_code and a_code


def test_a_tampered_message_is_refused_with_status_02(province_app, ward_app, axis, certs):
    key, cert = (Path(certs[WARD][k]).read_bytes() for k in ("key", "cert"))
    doc = edxml.Document(
        from_organ=edxml.Organ(WARD, "UBND phường Trường Vinh"), to=[edxml.Organ(PROVINCE, "Trung tâm PVHCC")],
        code=edxml.Code("77", "KQLT"), promulgation=edxml.PromulgationInfo("Vinh", __import__("datetime").date.today()),
        subject="Kết quả hồ sơ", signer=edxml.SignerInfo("KT", "Chủ tịch", "Nguyễn Văn Ký"),
        business_data={"kind": "lienthong_result", "dossier_code": "X"})
    signed = edxml.sign(edxml.build(doc), key, cert)
    tampered = signed.replace("Kết quả hồ sơ".encode(), "Kết quả đã sửa".encode())
    r = httpx.post(f"{axis.url}/api/v1/messages", content=tampered, timeout=10,
                   headers={"Content-Type": "application/xml", "X-Agency-Code": WARD, "Idempotency-Key": "t-1"})
    assert r.status_code in (200, 201), r.text
    with province_app.app_context():
        assert poll_axis() == 1
        event = db.session.scalar(select(InboundEvent).where(InboundEvent.partner == "axis"))
        assert event.outcome == "refused: signature"
        [refusal] = db.session.scalars(select(OutboxMessage).where(OutboxMessage.operation == "send_status")).all()
        assert refusal.payload["status_code"] == "02" and refusal.payload["document_id"] == doc.document_id
        assert _deliver_all() == {DONE: 1}
    with ward_app.app_context():
        assert poll_axis() == 1
        event = db.session.scalars(select(InboundEvent).order_by(InboundEvent.id.desc())).first()
        assert event.outcome == "status 02 for an unknown document"
