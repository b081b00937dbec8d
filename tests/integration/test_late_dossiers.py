"""Late dossiers: handlers reminded before a task falls due (once), and the apology with a new appointment date
(service, web form on the dossier page, API, paper 04 drawn from the stored apology)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from app.common.errors import Conflict, Forbidden, ValidationFailed
from app.common.timefmt import fmt_date
from app.common.types import utcnow
from app.dossiers import events, late
from app.dossiers.models import AuditLog, Dossier, DossierApology
from app.dossiers.services import Actor
from app.extensions import db
from app.inbox.models import OPEN, Task
from app.inbox.reminders import send_due_reminders
from app.worktime import add_working_hours

#: Wednesday 25/11/2026, 09:00 in Vietnam: a working day, in office hours (24/11 is Vietnam Culture Day)
NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _library(library_procedure):
    return library_procedure


def submit(client, name="Phạm Thị Hương") -> str:
    r = client.post("/api/v1/dossiers", json={
        "procedure": "9.999001", "channel": "online",
        "applicant": {"name": name, "phone": "0912345678", "address": "Số 5 Lê Lợi, Nghệ An"},
        "data": {"reader_name": name, "birth_date": "2001-05-20", "card_type": "thuong", "months": 12}})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["code"]


def accept(client, auth, code):
    items = client.get("/api/v1/tasks?scope=available", headers=auth("tiepnhan.tinh")).get_json()["items"]
    task = next(t for t in items if t["dossier_code"] == code)
    r = client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {"decision": "accept"}},
                    headers=auth("tiepnhan.tinh"))
    assert r.status_code == 200, r.get_json()


def dossier_of(code: str) -> Dossier:
    return db.session.scalar(select(Dossier).where(Dossier.code == code))


def login(app, username):
    c = app.test_client()
    assert c.post("/dang-nhap", data={"username": username, "password": "MotCua@2026"}).status_code == 302
    return c


def pdf_text(body: bytes) -> str:
    return " ".join("\n".join(p.extract_text() for p in PdfReader(io.BytesIO(body)).pages).split())


class Received:
    def __init__(self):
        self.calls: list[tuple] = []

    def __call__(self, sender, **kwargs):
        self.calls.append((sender, kwargs))


# --------------------------------------------------------------------------- reminders


def _open_task(code: str) -> Task:
    return db.session.scalar(select(Task).where(Task.dossier_id == dossier_of(code).id, Task.state == OPEN))


def test_reminders_go_once_to_tasks_falling_due_within_the_window(app, client):
    soon, later, overdue, reminded = (submit(client, n) for n in ("Lê Văn Một", "Lê Văn Hai", "Lê Văn Ba",
                                                                  "Lê Văn Bốn"))
    with app.app_context():
        _open_task(soon).due_at = add_working_hours(NOW, 4)
        _open_task(later).due_at = add_working_hours(NOW, 12)
        _open_task(overdue).due_at = NOW - timedelta(hours=1)
        t = _open_task(reminded)
        t.due_at, t.reminded_at = add_working_hours(NOW, 2), NOW - timedelta(hours=3)
        db.session.commit()
        ids = {code: _open_task(code).id for code in (soon, later, overdue, reminded)}
        got = Received()
        with events.task_due_soon.connected_to(got):
            assert send_due_reminders(NOW) == 2
            db.session.commit()
            hours = {sender.id: kw["hours_left"] for sender, kw in got.calls}
            assert set(hours) == {ids[soon], ids[overdue]}
            assert hours[ids[soon]] == pytest.approx(4.0) and hours[ids[overdue]] < 0
            assert db.session.get(Task, ids[soon]).reminded_at == NOW
            assert db.session.get(Task, ids[later]).reminded_at is None
            # idempotent: nothing is sent twice
            assert send_due_reminders(NOW) == 0
            assert len(got.calls) == 2
            # a working day later the other task falls within the window too
            assert send_due_reminders(add_working_hours(NOW, 8)) == 1
            assert got.calls[-1][0].id == ids[later]
            db.session.commit()


def test_reminders_skip_tasks_done_or_without_due_time(app, client, auth):
    code = submit(client)
    with app.app_context():
        _open_task(code).due_at = None
        db.session.commit()
        assert send_due_reminders(NOW) == 0
        _open_task(code).due_at = add_working_hours(NOW, 1)
        db.session.commit()
    accept(client, auth, code)  # the reception task is done; the next one is due in a working day from now
    with app.app_context():
        done = db.session.scalar(select(Task).where(Task.dossier_id == dossier_of(code).id, Task.state != OPEN))
        assert done.due_at is not None
        got = Received()
        with events.task_due_soon.connected_to(got):
            send_due_reminders(NOW)
        assert all(sender.id != done.id for sender, _ in got.calls)
        db.session.rollback()


def test_the_reminder_window_comes_from_config(app, client):
    code = submit(client)
    with app.app_context():
        _open_task(code).due_at = add_working_hours(NOW, 12)
        db.session.commit()
        app.config["REMINDER_WORKING_HOURS"] = 16
        try:
            assert send_due_reminders(NOW) == 1
        finally:
            app.config["REMINDER_WORKING_HOURS"] = 8
        db.session.rollback()


# --------------------------------------------------------------------------- the apology service


def test_issue_apology_validates(app, client, auth):
    code = submit(client)
    accept(client, auth, code)
    with app.app_context():
        d = dossier_of(code)
        desk = Actor(_user("tiepnhan.tinh"))
        cases = [(utcnow() - timedelta(days=1), "Chờ xác minh", "new_due"),
                 (d.due_at - timedelta(hours=1), "Chờ xác minh", "new_due"),
                 (None, "Chờ xác minh", "new_due"),
                 (d.due_at + timedelta(days=5), "   ", "reason")]
        for new_due, reason, field in cases:
            with pytest.raises(ValidationFailed) as exc:
                late.issue_apology(d, new_due, reason, desk)
            assert field in exc.value.details, (new_due, reason)
        with pytest.raises(Forbidden):
            late.issue_apology(d, d.due_at + timedelta(days=5), "Chờ xác minh", Actor(_user("chuyenvien.tinh")))
        d.status, d.finished_at = 10, utcnow()
        with pytest.raises(Conflict):
            late.issue_apology(d, d.due_at + timedelta(days=5), "Chờ xác minh", desk)
        db.session.rollback()
        assert db.session.scalar(select(DossierApology.id).limit(1)) is None


def _user(username):
    from app.auth.models import User

    return db.session.scalar(select(User).where(User.username == username))


def test_issue_apology_moves_the_due_date_audits_and_signals(app, client, auth):
    code = submit(client)
    accept(client, auth, code)
    with app.app_context():
        d = dossier_of(code)
        old_due, status = d.due_at, d.status
        new_due = old_due + timedelta(days=7)
        desk = Actor(_user("tiepnhan.tinh"))
        got = Received()
        with events.apology_issued.connected_to(got):
            apology = late.issue_apology(d, new_due, "  Cần xác minh với thư viện tỉnh  ", desk)
        db.session.commit()
        d = dossier_of(code)
        assert d.due_at == new_due and d.status == status
        stored = db.session.get(DossierApology, apology.id)
        assert (stored.old_due, stored.new_due, stored.reason) == (old_due, new_due, "Cần xác minh với thư viện tỉnh")
        assert stored.issued_by.username == "tiepnhan.tinh"
        row = db.session.scalar(select(AuditLog).where(AuditLog.dossier_id == d.id, AuditLog.action == "apology"))
        assert row.from_status == row.to_status == status and row.actor_label == "user:tiepnhan.tinh"
        assert row.detail["old_due"] == old_due.isoformat() and row.detail["new_due"] == new_due.isoformat()
        assert len(got.calls) == 1
        sender, kwargs = got.calls[0]
        assert sender.code == code and kwargs["new_due"] == new_due
        assert kwargs["reason"] == "Cần xác minh với thư viện tỉnh" and kwargs["actor"] == desk


def test_new_due_from_a_date_is_the_end_of_office_hours(app):
    with app.app_context():
        assert late.parse_new_due("2026-12-03") == datetime(2026, 12, 3, 10, 0, tzinfo=UTC)  # 17:00 in Vietnam
        assert late.parse_new_due("2026-12-03T08:30:00") == datetime(2026, 12, 3, 1, 30, tzinfo=UTC)
        assert late.parse_new_due("2026-12-03T08:30:00+00:00") == datetime(2026, 12, 3, 8, 30, tzinfo=UTC)
        assert late.parse_new_due("03/12/2026") is None and late.parse_new_due("") is None


# --------------------------------------------------------------------------- the web form and paper 04


def test_the_desk_apologises_from_the_dossier_page_and_prints_paper_04(app, client, auth):
    code = submit(client)
    accept(client, auth, code)
    with app.app_context():
        old_due = dossier_of(code).due_at
    desk = login(app, "tiepnhan.tinh")
    page = desk.get(f"/can-bo/ho-so/{code}").get_data(as_text=True)
    assert "Xin lỗi và hẹn lại ngày trả" in page and f'action="/can-bo/ho-so/{code}/xin-loi"' in page
    assert 'method="post"' in page and 'name="csrf_token"' in page
    # nothing to print before an apology: a Vietnamese message, not a server error
    none_yet = desk.get(f"/can-bo/ho-so/{code}/giay-to/04.pdf")
    assert none_yet.status_code == 422 and "Hồ sơ chưa có lần xin lỗi" in none_yet.get_data(as_text=True)
    bad = desk.post(f"/can-bo/ho-so/{code}/xin-loi", data={"ngay": "03/12/2026", "ly_do": ""})
    body = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "Nhập ngày hẹn trả kết quả mới" in body and "Nhập lý do chậm trễ." in body
    new_day = (old_due + timedelta(days=10)).date()
    reason = "Cần xác minh thông tin với Thư viện tỉnh Nghệ An"
    r = desk.post(f"/can-bo/ho-so/{code}/xin-loi", data={"ngay": new_day.isoformat(), "ly_do": reason})
    assert r.status_code == 303 and r.headers["Location"].endswith(f"/can-bo/ho-so/{code}")
    page = desk.get(r.headers["Location"]).get_data(as_text=True)
    assert "In giấy 04" in page and f'href="/can-bo/ho-so/{code}/giay-to/04.pdf"' in page
    assert reason in page  # the apology is listed and in the history
    pdf = desk.get(f"/can-bo/ho-so/{code}/giay-to/04.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = pdf_text(pdf.data)
    assert "PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ" in text and "Phạm Thị Hương" in text and code in text
    assert fmt_date(old_due) in text and new_day.strftime("%d/%m/%Y") in text and reason in text
    with app.app_context():
        assert dossier_of(code).due_at == late.parse_new_due(new_day.isoformat())


def test_only_the_desk_and_leaders_may_apologise_on_the_web(app, client, auth):
    code = submit(client)
    accept(client, auth, code)
    specialist = login(app, "chuyenvien.tinh")
    assert f"/can-bo/ho-so/{code}/xin-loi" not in specialist.get(f"/can-bo/ho-so/{code}").get_data(as_text=True)
    assert specialist.post(f"/can-bo/ho-so/{code}/xin-loi",
                           data={"ngay": "2099-01-05", "ly_do": "x"}).status_code == 403
    assert login(app, "tiepnhan.phuong").post(f"/can-bo/ho-so/{code}/xin-loi",
                                              data={"ngay": "2099-01-05", "ly_do": "x"}).status_code == 403


# --------------------------------------------------------------------------- API


def test_api_issues_an_apology(app, client, auth):
    code = submit(client)
    accept(client, auth, code)
    url = f"/api/v1/dossiers/{code}/apologies"
    bad = client.post(url, json={"new_due": "2020-01-01", "reason": ""}, headers=auth("lanhdao.tinh"))
    assert bad.status_code == 422 and {"new_due", "reason"} <= set(bad.get_json()["error"]["details"])
    assert client.post(url, json={"new_due": "2099-01-05", "reason": "Chờ xác minh"},
                       headers=auth("chuyenvien.tinh")).status_code == 403
    r = client.post(url, json={"new_due": "2099-01-05T09:00:00+07:00", "reason": "Chờ kết quả xác minh"},
                    headers=auth("lanhdao.tinh"))
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["new_due"] == "2099-01-05T09:00:00+07:00" and body["reason"] == "Chờ kết quả xác minh"
    assert body["issued_by"] == "lanhdao.tinh" and body["paper_url"].endswith(f"/can-bo/ho-so/{code}/giay-to/04.pdf")
    assert body["dossier"]["due_at"] == "2099-01-05T09:00:00+07:00"
    listed = client.get(url, headers=auth("tiepnhan.tinh")).get_json()["items"]
    assert [a["id"] for a in listed] == [body["id"]]
