"""Every status change and progress step reaches the national portal (simulator, real process) in order;
the applicant gets Vietnamese e-mail (local SMTP server) and SMS (gateway simulator) at receipt and result;
partners being down never blocks dossier work."""

from __future__ import annotations

import copy
import re

import httpx
import pytest
from sqlalchemy import select

from app.auth.models import User
from app.dossiers.models import Dossier
from app.dossiers.services import Actor, submit
from app.extensions import db
from app.inbox import services as inbox
from app.inbox.models import OPEN, Task
from app.outbox import services as outbox
from app.outbox.models import DONE, PENDING, OutboxMessage
from tests.simulators import start_simulator

APPLICANT = {"name": "Đặng Thị Thông Báo", "phone": "0911222333", "email": "thongbao@example.vn"}


@pytest.fixture(scope="module")
def partners():
    sims = {name: start_simulator(name) for name in ("portal", "sms", "smtp")}
    yield sims
    for sim in sims.values():
        sim.stop()


@pytest.fixture
def wired(app, partners):
    before = app.config["CONNECTORS"]
    app.config["CONNECTORS"] = copy.deepcopy(before)  # never mutate the shared default
    smtp = httpx.get(f"{partners['smtp'].url}/_sim/smtp", timeout=5).json()
    cfg = app.config["CONNECTORS"]
    cfg["portal"] = {"url": partners["portal"].url, "api_key": "motcua-dev-portal-key", "timeout": 5}
    cfg["sms"] = {"url": partners["sms"].url, "token": "motcua-dev-sms-token", "timeout": 5}
    cfg["email"] = {"host": smtp["host"], "port": smtp["port"], "sender": "Một cửa <no-reply@motcua.local>",
                    "timeout": 5}
    for sim in partners.values():
        sim.reset()
    yield partners
    app.config["CONNECTORS"] = before


def _actor(username: str) -> Actor:
    return Actor(user=db.session.scalar(select(User).where(User.username == username)))


def _complete_open(dossier_id: int, data: dict, username: str) -> None:
    db.session.expire_all()
    task = db.session.scalar(select(Task).where(Task.dossier_id == dossier_id, Task.state == OPEN))
    inbox.complete(task.id, data, _actor(username))
    db.session.commit()


def _deliver_all() -> dict:
    totals: dict = {}
    while counts := outbox.deliver_due("w"):
        for k, v in counts.items():
            totals[k] = totals.get(k, 0) + v
    return totals


def _work_through(library_procedure: str) -> Dossier:
    dossier, _ = submit(library_procedure, "online", dict(APPLICANT),
                        {"reader_name": "Đặng Thị Thông Báo", "birth_date": "1990-02-03"})
    db.session.commit()
    _complete_open(dossier.id, {"decision": "accept"}, "tiepnhan.tinh")
    _complete_open(dossier.id, {"card_number": "TV123456"}, "chuyenvien.tinh")
    db.session.expire_all()
    return db.session.get(Dossier, dossier.id)


def test_portal_receives_every_status_and_step_in_order(ctx, wired, library_procedure):
    dossier = _work_through(library_procedure)
    assert dossier.status == 10
    _deliver_all()
    portal = wired["portal"]
    got = httpx.get(f"{portal.url}/_sim/dossiers/{dossier.code}", timeout=5).json()
    synced = got["dossier"]
    assert synced["TrangThaiHoSo"] == 10 and synced["MaTTHC"] == library_procedure
    assert synced["ChuHoSo"] == "Đặng Thị Thông Báo" and synced["KenhThucHien"] == 2
    assert re.fullmatch(r"\d{14}", synced["NgayTiepNhan"]) and re.fullmatch(r"\d{14}", synced["NgayTra"])
    statuses = [m.payload["TrangThaiHoSo"] for m in db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.connector == "portal", OutboxMessage.operation == "sync_dossier")
        .order_by(OutboxMessage.id))]
    assert statuses[-3:] == [2, 4, 10] and got["syncCount"] == len(statuses)
    steps = [p["NoiDungXuLy"] for p in got["progress"]]
    assert steps[0] == "Nộp hồ sơ" and "Xử lý, cấp thẻ" in steps
    assert all(m.state == DONE for m in db.session.scalars(select(OutboxMessage)))


def test_applicant_gets_vietnamese_mail_and_sms(ctx, wired, library_procedure):
    dossier = _work_through(library_procedure)
    _deliver_all()
    mails = httpx.get(f"{wired['smtp'].url}/_sim/messages", timeout=5).json()["messages"]
    subjects = [m["subject"] for m in mails]
    assert f"Hồ sơ {dossier.code} đã được tiếp nhận" in subjects
    received = next(m for m in mails if "tiếp nhận" in m["subject"])
    assert "Kính gửi Đặng Thị Thông Báo" in received["text"] and "Ngày hẹn trả kết quả" in received["text"]
    assert received["to"] == ["thongbao@example.vn"] or "thongbao@example.vn" in str(received["to"])
    sms = httpx.get(f"{wired['sms'].url}/_sim/messages", timeout=5).json()["messages"]
    assert any(dossier.code in m["text"] and "tiếp nhận" in m["text"] for m in sms)


def test_partners_down_never_block_dossier_work(ctx, wired, library_procedure):
    for sim in wired.values():
        if sim.name != "smtp":
            sim.faults(down=True)
    try:
        dossier = _work_through(library_procedure)
        assert dossier.status == 10  # the dossier went all the way while the partners were down
        counts = _deliver_all()
        assert counts.get(PENDING)
        down = db.session.scalars(select(OutboxMessage).where(OutboxMessage.connector.in_(("portal", "sms")))).all()
        # the first portal message and every SMS were tried and wait for a retry; later portal messages queue
        # behind the first in order; nothing was lost
        assert down and all(m.state == PENDING for m in down)
        assert {m.connector for m in down if m.attempts == 1} == {"portal", "sms"}
        mails = db.session.scalars(select(OutboxMessage).where(OutboxMessage.connector == "email")).all()
        assert mails and all(m.state == DONE for m in mails)  # a partner that is up is not held back
    finally:
        for sim in wired.values():
            if sim.name != "smtp":
                sim.faults(down=False)


def test_late_dossier_apology_and_due_reminder_are_sent(ctx, wired, library_procedure):
    from datetime import timedelta

    from app.common.types import utcnow
    from app.dossiers.late import issue_apology
    from app.inbox.reminders import send_due_reminders

    dossier, _ = submit(library_procedure, "online", dict(APPLICANT),
                        {"reader_name": "Đặng Thị Thông Báo", "birth_date": "1990-02-03"})
    db.session.commit()
    _complete_open(dossier.id, {"decision": "accept"}, "tiepnhan.tinh")
    task = db.session.scalar(select(Task).where(Task.dossier_id == dossier.id, Task.state == OPEN))
    inbox.claim(task.id, _actor("chuyenvien.tinh").user)
    db.session.commit()
    dossier = db.session.get(Dossier, dossier.id)
    issue_apology(dossier, dossier.due_at + timedelta(days=5), "Cần xác minh thêm với thư viện tỉnh",
                  _actor("tiepnhan.tinh"))
    db.session.commit()
    assert send_due_reminders(now=utcnow() + timedelta(days=3)) == 1
    db.session.commit()
    _deliver_all()
    mails = httpx.get(f"{wired['smtp'].url}/_sim/messages", timeout=5).json()["messages"]
    late = next(m for m in mails if m["subject"] == f"Xin lỗi: hồ sơ {dossier.code} được hẹn trả lại")
    assert "Cần xác minh thêm với thư viện tỉnh" in late["text"] and "Ngày hẹn trả kết quả mới" in late["text"]
    due = next(m for m in mails if m["subject"].startswith("Sắp đến hạn: Xử lý, cấp thẻ"))
    assert "chuyenvien.tinh@demo.motcua.vn" in str(due["to"]) and dossier.code in due["subject"]
    sms = httpx.get(f"{wired['sms'].url}/_sim/messages", timeout=5).json()["messages"]
    assert any("hẹn trả mới" in m["text"] and dossier.code in m["text"] for m in sms)
