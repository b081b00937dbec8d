"""Standard papers 01–05 drawn from dossiers created through the API, and their download route."""

from __future__ import annotations

import io
import os
from datetime import date
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from app import papers
from app.dossiers.models import Dossier
from app.extensions import db
from app.papers import layout

A5 = (419.53, 595.28)  # points


@pytest.fixture(autouse=True)
def _library(library_procedure):
    return library_procedure


def submit(client):
    body = {"procedure": "9.999001", "channel": "online",
            "applicant": {"name": "Nguyễn Văn An", "id_number": "001203004567", "phone": "0912345678",
                          "email": "an@example.vn", "address": "Số 5 Lê Lợi, phường Trường Vinh, Nghệ An"},
            "data": {"reader_name": "Nguyễn Văn An", "birth_date": "2001-05-20", "card_type": "thuong",
                     "months": 12}}
    r = client.post("/api/v1/dossiers", json=body)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def complete_reception(client, auth, code, data):
    items = client.get("/api/v1/tasks?scope=available", headers=auth("tiepnhan.tinh")).get_json()["items"]
    task = next(t for t in items if t["dossier_code"] == code)
    r = client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": data}, headers=auth("tiepnhan.tinh"))
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def text_of(body: bytes) -> str:
    reader = PdfReader(io.BytesIO(body))
    return "\n".join(page.extract_text() for page in reader.pages)


def size_of(body: bytes) -> tuple[float, float]:
    box = PdfReader(io.BytesIO(body)).pages[0].mediabox
    return float(box.width), float(box.height)


def flat(text: str) -> str:
    return " ".join(text.split())


def dump(name: str, body: bytes) -> None:
    """PAPERS_DUMP_DIR=/tmp/papers keeps the PDFs to look at."""
    target = os.environ.get("PAPERS_DUMP_DIR")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        (Path(target) / name).write_bytes(body)


def dossier_of(code: str) -> Dossier:
    return db.session.scalar(select(Dossier).where(Dossier.code == code))


def login(client, username, password="MotCua@2026"):
    r = client.post("/dang-nhap", data={"username": username, "password": password})
    assert r.status_code == 302


def test_receipt_slip_has_the_applicant_dates_and_a_tracking_qr(app, client, auth, monkeypatch):
    created = submit(client)
    code, secret = created["code"], created["tracking_secret"]
    complete_reception(client, auth, code, {"decision": "accept"})
    payloads: list[str] = []
    real = layout.make_qr
    monkeypatch.setattr(layout, "make_qr", lambda payload: payloads.append(payload) or real(payload))
    with app.app_context():
        d = dossier_of(code)
        body = papers.render("01", d)
        with_secret = papers.render("01", d, secret=secret)
        due = d.due_at
    dump("01.pdf", body)
    text = flat(text_of(body))
    assert abs(size_of(body)[0] - A5[0]) < 1 and abs(size_of(body)[1] - A5[1]) < 1
    for expected in ("GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
                     "Độc lập - Tự do - Hạnh phúc", "Nguyễn Văn An", "001203004567", "0912345678",
                     "an@example.vn", "Số 5 Lê Lợi, phường Trường Vinh, Nghệ An", "Cấp thẻ thư viện (thử nghiệm)",
                     code, "Không đồng", "NGƯỜI TIẾP NHẬN HỒ SƠ"):
        assert expected in text, expected
    from app.common.timefmt import fmt_datetime

    assert fmt_datetime(due) in text  # the appointment, Vietnam time dd/mm/yyyy HH:MM
    base = app.config["PUBLIC_BASE_URL"].rstrip("/")
    assert payloads == [f"{base}/tra-cuu/{code}", f"{base}/tra-cuu/{code}?mat_ma={secret}"]
    assert secret not in text_of(body)
    assert b"LiberationSerif" in body  # the font is embedded
    assert with_secret.startswith(b"%PDF")


def test_supplement_request_lists_every_missing_item(app, client, auth):
    code = submit(client)["code"]
    with app.app_context():
        d = dossier_of(code)
        d.data = {**d.data, "supplement_items": ["Ảnh chân dung 3x4 chụp trong 6 tháng",
                                                 {"name": "Bản sao CCCD", "note": "có chứng thực"}]}
        db.session.commit()
        body = papers.render("02", dossier_of(code))
    dump("02.pdf", body)
    text = flat(text_of(body))
    assert "PHIẾU YÊU CẦU BỔ SUNG, HOÀN THIỆN HỒ SƠ" in text
    assert "1. Ảnh chân dung 3x4 chụp trong 6 tháng" in text and "2. Bản sao CCCD: có chứng thực" in text
    assert "Nguyễn Văn An" in text and code in text


def test_supplement_items_come_from_the_reception_task_too(app, client, auth):
    code = submit(client)["code"]
    complete_reception(client, auth, code, {"decision": "refuse", "reception_note": "Thiếu ảnh"})
    from app.inbox.models import Task

    with app.app_context():
        task = db.session.scalar(select(Task).where(Task.dossier_id == dossier_of(code).id))
        task.data = {"decision": "refuse", "supplement_items": "Tờ khai có chữ ký\nẢnh 3x4"}
        db.session.commit()
        text = flat(text_of(papers.render("02", dossier_of(code))))
    assert "1. Tờ khai có chữ ký" in text and "2. Ảnh 3x4" in text


def test_refusal_gives_the_reasons(app, client, auth):
    code = submit(client)["code"]
    complete_reception(client, auth, code, {"decision": "refuse", "reception_note": "Thiếu ảnh"})
    with app.app_context():
        d = dossier_of(code)
        d.data = {**d.data, "refusal_reason": "Người đọc chưa đủ 6 tuổi\nĐã có thẻ còn hạn"}
        db.session.commit()
        body = papers.render("03", dossier_of(code))
        fallback = flat(text_of(papers.render("03", dossier_of(code), reasons=None)))
    dump("03.pdf", body)
    text = flat(text_of(body))
    assert "PHIẾU TỪ CHỐI TIẾP NHẬN GIẢI QUYẾT HỒ SƠ" in text
    assert "1. Người đọc chưa đủ 6 tuổi" in text and "2. Đã có thẻ còn hạn" in text
    assert "Người đọc chưa đủ 6 tuổi" in fallback


def test_apology_needs_a_date_and_a_reason(app, client, auth):
    code = submit(client)["code"]
    complete_reception(client, auth, code, {"decision": "accept"})
    with app.app_context():
        body = papers.render("04", dossier_of(code), new_date=date(2026, 12, 3),
                             reason="Cần xác minh thông tin với thư viện tỉnh")
        with pytest.raises(papers.PaperError):
            papers.render("04", dossier_of(code))
    dump("04.pdf", body)
    text = flat(text_of(body))
    assert "PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ" in text
    assert "03/12/2026" in text and "Cần xác minh thông tin với thư viện tỉnh" in text


def test_process_control_sheet_has_each_handover(app, client, auth):
    code = submit(client)["code"]
    nxt = complete_reception(client, auth, code, {"decision": "accept"})["tasks"][0]
    r = client.post(f"/api/v1/tasks/{nxt['id']}/complete", json={"data": {"card_number": "TV000123"}},
                    headers=auth("chuyenvien.tinh"))
    assert r.status_code == 200
    with app.app_context():
        d = dossier_of(code)
        rows = papers.documents.handovers(d)
        body = papers.render("05", d)
    dump("05.pdf", body)
    assert [r["name"] for r in rows] == ["Kiểm tra, tiếp nhận hồ sơ", "Xử lý, cấp thẻ"]
    assert rows[0]["from"] == "Người nộp hồ sơ" and rows[1]["from"] == rows[0]["to"]
    assert all(r["result"] in ("Trước hạn", "Đúng hạn") for r in rows)
    text = flat(text_of(body))
    assert "PHIẾU KIỂM SOÁT QUÁ TRÌNH GIẢI QUYẾT HỒ SƠ" in text
    assert "Kiểm tra, tiếp nhận hồ sơ" in text and "Xử lý, cấp thẻ" in text
    assert abs(size_of(body)[1] - A5[1]) < 1


def test_route_serves_officials_of_the_unit_inline(client):
    code = submit(client)["code"]
    login(client, "tiepnhan.tinh")
    r = client.get(f"/can-bo/ho-so/{code}/giay-to/01.pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    disposition = r.headers["Content-Disposition"]
    assert disposition.startswith("inline") and "filename*=UTF-8''01%20Gi%E1%BA%A5y%20ti%E1%BA%BFp" in disposition
    assert "Nguyễn Văn An" in flat(text_of(r.data))
    assert "GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ" in flat(text_of(r.data))
    assert client.get(f"/can-bo/ho-so/{code}/giay-to/08.pdf").status_code == 404
    assert client.get(f"/can-bo/ho-so/{code}/giay-to/abc.pdf").status_code == 404
    assert client.get("/can-bo/ho-so/KHONG-CO/giay-to/01.pdf").status_code == 404
    page = client.get(f"/can-bo/ho-so/{code}").get_data(as_text=True)
    assert f"/can-bo/ho-so/{code}/giay-to/05.pdf" in page


def test_route_apology_is_a_post_form_and_paper_04_comes_from_the_stored_apology(client):
    code = submit(client)["code"]
    login(client, "lanhdao.tinh")
    none_yet = client.get(f"/can-bo/ho-so/{code}/giay-to/04.pdf?ngay=2099-12-03&ly_do=x")
    assert none_yet.status_code == 422 and "Xin lỗi và hẹn lại ngày trả" in none_yet.get_data(as_text=True)
    form = client.get(f"/can-bo/ho-so/{code}/xin-loi")
    assert form.status_code == 200 and 'name="ly_do"' in form.get_data(as_text=True)
    bad = client.post(f"/can-bo/ho-so/{code}/xin-loi", data={"ngay": "03-12-2099", "ly_do": "x"})
    assert bad.status_code == 422
    r = client.post(f"/can-bo/ho-so/{code}/xin-loi", data={"ngay": "2099-12-03", "ly_do": "Chờ xác minh"})
    assert r.status_code == 303
    pdf = client.get(f"/can-bo/ho-so/{code}/giay-to/04.pdf")
    assert pdf.status_code == 200 and "03/12/2099" in text_of(pdf.data) and "Chờ xác minh" in text_of(pdf.data)


def test_route_without_supplement_items_explains(client):
    code = submit(client)["code"]
    login(client, "tiepnhan.tinh")
    r = client.get(f"/can-bo/ho-so/{code}/giay-to/02.pdf")
    assert r.status_code == 422 and "supplement_items" in r.get_data(as_text=True)


def test_route_refuses_other_units_and_sends_anonymous_to_login(client):
    code = submit(client)["code"]
    anonymous = client.get(f"/can-bo/ho-so/{code}/giay-to/01.pdf")
    assert anonymous.status_code == 302 and "/dang-nhap" in anonymous.headers["Location"]
    login(client, "tiepnhan.phuong")
    assert client.get(f"/can-bo/ho-so/{code}/giay-to/01.pdf").status_code == 403
    assert client.get(f"/can-bo/ho-so/{code}/giay-to/05.pdf").status_code == 403


A4_LANDSCAPE = (841.89, 595.28)  # points


def test_dossier_log_has_the_form_06_row_and_every_audit_entry(app, client, auth):
    code = submit(client)["code"]
    complete_reception(client, auth, code, {"decision": "accept"})
    login(client, "tiepnhan.tinh")
    assert client.post(f"/can-bo/ho-so/{code}/xin-loi",
                       data={"ngay": "2099-12-03", "ly_do": "Chờ xác minh thông tin"}).status_code == 303
    page = client.get(f"/can-bo/ho-so/{code}").get_data(as_text=True)
    assert f"/can-bo/ho-so/{code}/giay-to/06.pdf" in page and "Sổ theo dõi hồ sơ" in page
    assert f"/can-bo/ho-so/{code}/giay-to/07.pdf" not in page  # only for a stopped or withdrawn dossier
    r = client.get(f"/can-bo/ho-so/{code}/giay-to/06.pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    dump("06.pdf", r.data)
    width, height = size_of(r.data)
    assert abs(width - A4_LANDSCAPE[0]) < 1 and abs(height - A4_LANDSCAPE[1]) < 1
    text = flat(text_of(r.data))
    for expected in ("SỔ THEO DÕI HỒ SƠ", "Mã hồ sơ", "Tên thủ tục hành chính", "Cơ quan chủ trì giải quyết",
                     "Nguyễn Văn An", "0912345678", "Trung tâm Phục vụ hành chính công tỉnh Nghệ An",
                     "Nhật ký xử lý hồ sơ", "Nộp hồ sơ", "Hoàn thành: Kiểm tra, tiếp nhận hồ sơ",
                     "Xin lỗi, hẹn lại ngày trả: Chờ xác minh thông tin", "03/12/2099", "Đã tiếp nhận"):
        assert expected in text, expected
    assert code.replace("-", "") in text.replace("-", "").replace(" ", "")  # the code may wrap in its cell


def test_processing_stopped_notice_for_status_8_and_for_a_withdrawal(app, client, auth):
    from app.dossiers.services import SYSTEM, set_status

    stopped, withdrawn, running = (submit(client)["code"] for _ in range(3))
    for code in (stopped, withdrawn, running):
        complete_reception(client, auth, code, {"decision": "accept"})
    with app.app_context():
        d = dossier_of(stopped)
        d.data = {**d.data, "stop_reason": "Có văn bản của Tòa án yêu cầu tạm dừng\nĐang giải quyết tranh chấp"}
        set_status(d, 8, SYSTEM, "Dừng xử lý")
        set_status(dossier_of(withdrawn), 7, SYSTEM, "Công dân rút hồ sơ")
        db.session.commit()
    login(client, "tiepnhan.tinh")
    page = client.get(f"/can-bo/ho-so/{stopped}").get_data(as_text=True)
    assert f"/can-bo/ho-so/{stopped}/giay-to/07.pdf" in page
    r = client.get(f"/can-bo/ho-so/{stopped}/giay-to/07.pdf")
    assert r.status_code == 200
    dump("07.pdf", r.data)
    assert abs(size_of(r.data)[0] - A5[0]) < 1
    text = flat(text_of(r.data))
    assert "THÔNG BÁO DỪNG XỬ LÝ HỒ SƠ" in text and stopped in text and "Nguyễn Văn An" in text
    assert "1. Có văn bản của Tòa án yêu cầu tạm dừng" in text and "2. Đang giải quyết tranh chấp" in text
    assert "THỦ TRƯỞNG CƠ QUAN, ĐƠN VỊ" in text
    text = flat(text_of(client.get(f"/can-bo/ho-so/{withdrawn}/giay-to/07.pdf").data))
    assert "Hồ sơ được rút theo đề nghị của người nộp" in text and "1. Ông/Bà đề nghị rút hồ sơ." in text
    assert "NGƯỜI NỘP HỒ SƠ" in text
    refused = client.get(f"/can-bo/ho-so/{running}/giay-to/07.pdf")
    assert refused.status_code == 422 and "dừng xử lý (8) hoặc rút hồ sơ (7)" in refused.get_data(as_text=True)
