"""Officials' notes on a dossier: visible to officials who may view it, never on tracking; files join the dossier."""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import select

from app.dossiers.models import Attachment, AuditLog, DossierNote
from app.extensions import db
from tests.conftest import TINY_PDF

PASSWORD = "MotCua@2026"
NOTE = "Đã trình lãnh đạo ký kết quả — ghi chú nội bộ XYZ123"


@pytest.fixture(autouse=True)
def _library(library_procedure):
    return library_procedure


def submit(client):
    r = client.post("/api/v1/dossiers", json={
        "procedure": "9.999001", "channel": "online",
        "applicant": {"name": "Nguyễn Văn An", "id_number": "001203004567", "phone": "0912345678"},
        "data": {"reader_name": "Nguyễn Văn An", "birth_date": "2001-05-20", "card_type": "thuong", "months": 12},
    })
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    return body["code"], body["tracking_secret"]


def login(app, username):
    c = app.test_client()
    r = c.post("/dang-nhap", data={"username": username, "password": PASSWORD})
    assert r.status_code == 302
    return c


def post_note(c, code, text, files=(), **extra):
    data = {"text": text, "kind": "ket_qua", **extra}
    if files:
        data["files"] = list(files)
    return c.post(f"/can-bo/ho-so/{code}/ghi-chu", data=data, content_type="multipart/form-data")


def test_official_adds_note_with_pdf(app, client, auth):
    code, secret = submit(client)
    official = login(app, "tiepnhan.tinh")
    page = official.get(f"/can-bo/ho-so/{code}").get_data(as_text=True)
    assert 'name="csrf_token"' in page and 'for="note-text"' in page and 'enctype="multipart/form-data"' in page

    r = post_note(official, code, NOTE, files=[(io.BytesIO(TINY_PDF), "ket_qua_da_ky.pdf")],
                  next=f"/can-bo/ho-so/{code}")
    assert r.status_code == 303 and r.headers["Location"].endswith(f"/can-bo/ho-so/{code}")

    page = official.get(f"/can-bo/ho-so/{code}").get_data(as_text=True)
    assert NOTE in page and "ket_qua_da_ky.pdf" in page
    assert re.search(r"\d{2}/\d{2}/\d{4} \d{2}:\d{2}</time>", page)
    items = client.get("/api/v1/tasks?scope=available", headers=auth("tiepnhan.tinh")).get_json()["items"]
    task_id = next(t["id"] for t in items if t["dossier_code"] == code)
    task_page = official.get(f"/can-bo/cong-viec/{task_id}").get_data(as_text=True)
    assert NOTE in task_page and f'action="/can-bo/ho-so/{code}/ghi-chu"' in task_page
    with app.app_context():
        note = db.session.scalar(select(DossierNote))
        att = db.session.scalar(select(Attachment))
        assert note.attachment_ids == [att.id] and att.field == "ket_qua" and att.uploaded_by_id == note.author_id
        assert att.content_type == "application/pdf"
        assert note.created_at.strftime("%H") is not None
        actions = [(a.action, a.actor_label, a.from_status, a.to_status)
                   for a in db.session.scalars(select(AuditLog).order_by(AuditLog.id))]
        assert ("attach", "user:tiepnhan.tinh", None, None) in actions
        assert ("note", "user:tiepnhan.tinh", None, None) in actions
        att_id = att.id

    download = official.get(f"/can-bo/tep/{att_id}")
    try:
        assert download.status_code == 200 and download.data == TINY_PDF
        assert download.mimetype == "application/pdf"
    finally:
        download.close()

    api = client.get(f"/api/v1/dossiers/{code}", headers=auth("tiepnhan.tinh")).get_json()
    assert api["notes"][0]["author"] == "tiepnhan.tinh" and api["notes"][0]["text"] == NOTE
    assert api["notes"][0]["attachment_ids"] == [att_id] and api["notes"][0]["at"]
    assert any(a["id"] == att_id for a in api["attachments"])
    assert [h["action"] for h in api["history"]].count("note") == 1

    # another unit's official: 403 everywhere, sees nothing
    other = login(app, "tiepnhan.phuong")
    assert other.get(f"/can-bo/ho-so/{code}").status_code == 403
    assert post_note(other, code, "Không được phép").status_code == 403
    assert other.get(f"/can-bo/tep/{att_id}").status_code == 403
    assert client.get(f"/api/v1/dossiers/{code}", headers=auth("tiepnhan.phuong")).status_code == 403

    # the applicant's tracking page and tracking API never show notes
    tracking = client.get(f"/tra-cuu/{code}?mat_ma={secret}")
    assert tracking.status_code == 200 and NOTE not in tracking.get_data(as_text=True)
    assert "ket_qua_da_ky.pdf" not in tracking.get_data(as_text=True)
    tracked = client.get(f"/api/v1/tracking/{code}?secret={secret}")
    assert tracked.status_code == 200 and NOTE not in tracked.get_data(as_text=True)
    assert "notes" not in tracked.get_json()


def test_empty_text_is_422_with_a_message(app, client):
    code, _ = submit(client)
    official = login(app, "tiepnhan.tinh")
    r = post_note(official, code, "   ")
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert "Vui lòng nhập nội dung ghi chú." in html and 'aria-invalid="true"' in html
    assert "Có lỗi cần sửa" in html
    r = post_note(official, code, "x" * 4001)
    assert r.status_code == 422 and "4000 ký tự" in r.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(DossierNote)) is None


def test_fake_pdf_is_refused_and_nothing_is_stored(app, client):
    code, _ = submit(client)
    official = login(app, "tiepnhan.tinh")
    r = post_note(official, code, "Kèm tệp giả", files=[(io.BytesIO(b"just some text"), "gia.pdf")])
    assert r.status_code == 422
    assert "không phải PDF, JPEG hoặc PNG" in r.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(DossierNote)) is None
        assert db.session.scalar(select(Attachment)) is None
        assert db.session.scalar(select(AuditLog).where(AuditLog.action.in_(["note", "attach"]))) is None


def test_redirect_goes_back_only_to_same_site_paths(app, client):
    code, _ = submit(client)
    official = login(app, "tiepnhan.tinh")
    r = post_note(official, code, "Ghi chú một", next="/can-bo/?tab=mine")
    assert r.status_code == 303 and r.headers["Location"].endswith("/can-bo/?tab=mine")
    for evil in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"):
        r = post_note(official, code, "Ghi chú hai", next=evil)
        assert r.status_code == 303 and r.headers["Location"].endswith(f"/can-bo/ho-so/{code}"), evil
