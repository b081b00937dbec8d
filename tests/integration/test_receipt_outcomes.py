"""Each receipt outcome, driven through the officials' web pages on a demo procedure, offers its paper at once:
accept → 01, supplement (at the desk or later by a specialist) → 02, refuse → 03; the offered PDF says it."""

from __future__ import annotations

import html
import io
import json
import re
from pathlib import Path

from pypdf import PdfReader
from sqlalchemy import select

from app.dossiers.models import Dossier
from app.extensions import db
from app.inbox.models import OPEN, Task

SCENARIOS = Path(__file__).resolve().parents[1] / "workflows" / "scenarios"
APPLICANT = {"name": "Lê Thị Thuỷ Tiên", "id_number": "040190001234", "phone": "0987654321",
             "email": "tien@example.vn", "address": "Phường Trường Vinh, Nghệ An"}


def submission(stem: str) -> dict:
    return json.loads((SCENARIOS / f"{stem}.json").read_text(encoding="utf-8"))[0]["submission"]


def submit(client, procedure: str, stem: str) -> tuple[str, str]:
    r = client.post("/api/v1/dossiers", json={"procedure": procedure, "channel": "online", "applicant": APPLICANT,
                                              "data": submission(stem)})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["code"], r.get_json()["tracking_secret"]


def login(app, username):
    c = app.test_client()
    assert c.post("/dang-nhap", data={"username": username, "password": "MotCua@2026"}).status_code == 302
    return c


def open_task(app, code: str, bpmn_id: str) -> int:
    with app.app_context():
        d = db.session.scalar(select(Dossier).where(Dossier.code == code))
        return db.session.scalar(select(Task.id).where(Task.dossier_id == d.id, Task.state == OPEN,
                                                       Task.bpmn_id == bpmn_id))


def complete_on_the_web(app, official, code: str, bpmn_id: str, fields: dict) -> str:
    """POST the task form as the official would; returns the page the official lands on."""
    task_id = open_task(app, code, bpmn_id)
    assert task_id is not None, bpmn_id
    assert official.get(f"/can-bo/cong-viec/{task_id}").status_code == 200
    r = official.post(f"/can-bo/cong-viec/{task_id}", data={f"cv-{k}": v for k, v in fields.items()})
    assert r.status_code == 302, r.get_data(as_text=True)[:3000]
    page = official.get(r.headers["Location"])
    assert page.status_code == 200
    return page.get_data(as_text=True)


def offered(page: str) -> tuple[str, str]:
    """(kind, url) of the "In giấy …" panel."""
    panel = re.search(r'<div class="notice notice-success paper-offer"[^>]*>(.*?)</div>', page, re.S)
    assert panel is not None, "no paper offered"
    kind = re.search(r"In giấy (\d\d) —", panel.group(1)).group(1)
    url = html.unescape(re.search(r'href="([^"]+)"', panel.group(1)).group(1))
    return kind, url


def pdf_text(official, url: str) -> str:
    r = official.get(url)
    assert r.status_code == 200 and r.mimetype == "application/pdf", r.get_data(as_text=True)[:500]
    return " ".join("\n".join(p.extract_text() for p in PdfReader(io.BytesIO(r.data)).pages).split())


def test_accept_at_the_desk_offers_the_receipt(app, client):
    code, _ = submit(client, "1.001193", "dang_ky_khai_sinh")
    desk = login(app, "tiepnhan.phuong")
    page = complete_on_the_web(app, desk, code, "tiep_nhan_ho_so", {"reception_decision": "accept"})
    assert f"Đã hoàn thành “Kiểm tra, tiếp nhận hồ sơ” cho hồ sơ {code}." in html.unescape(page)
    kind, url = offered(page)
    assert kind == "01" and url == f"/can-bo/ho-so/{code}/giay-to/01.pdf"
    text = pdf_text(desk, url)
    assert "GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ" in text
    assert code in text and "Lê Thị Thuỷ Tiên" in text and "Đăng ký khai sinh" in text
    # the offer is shown once; the next page has none
    assert "paper-offer" not in desk.get("/can-bo/").get_data(as_text=True)


def test_supplement_at_the_desk_offers_paper_02_with_every_missing_item(app, client):
    code, _ = submit(client, "1.001193", "dang_ky_khai_sinh")
    desk = login(app, "tiepnhan.phuong")
    items = "Bản chụp Giấy chứng sinh rõ nét, đọc được số và ngày cấp\nGiấy chứng nhận kết hôn của cha, mẹ"
    page = complete_on_the_web(app, desk, code, "tiep_nhan_ho_so",
                               {"reception_decision": "supplement", "supplement_items": items})
    kind, url = offered(page)
    assert kind == "02"
    text = pdf_text(desk, url)
    assert "PHIẾU YÊU CẦU BỔ SUNG, HOÀN THIỆN HỒ SƠ" in text
    assert code in text and "Lê Thị Thuỷ Tiên" in text
    assert "1. Bản chụp Giấy chứng sinh rõ nét, đọc được số và ngày cấp" in text
    assert "2. Giấy chứng nhận kết hôn của cha, mẹ" in text


def test_refusal_at_the_desk_offers_paper_03_with_the_reasons(app, client):
    code, _ = submit(client, "1.001193", "dang_ky_khai_sinh")
    desk = login(app, "tiepnhan.phuong")
    reason = "Cha, mẹ không cư trú trên địa bàn phường; đề nghị đăng ký tại nơi cư trú."
    page = complete_on_the_web(app, desk, code, "tiep_nhan_ho_so",
                               {"reception_decision": "refuse", "refusal_reason": reason})
    kind, url = offered(page)
    assert kind == "03"
    text = pdf_text(desk, url)
    assert "PHIẾU TỪ CHỐI TIẾP NHẬN GIẢI QUYẾT HỒ SƠ" in text
    assert code in text and "Lê Thị Thuỷ Tiên" in text and f"1. {reason}" in text


def test_a_specialist_supplement_offers_paper_02_with_the_specialists_items_not_the_desks(app, client):
    code, secret = submit(client, "1.009994", "cap_phep_xay_dung_nha_o")
    desk, specialist = login(app, "tiepnhan.tinh"), login(app, "chuyenvien.tinh")
    page = complete_on_the_web(app, desk, code, "tiep_nhan_ho_so",
                               {"reception_decision": "supplement", "supplement_items": "Thiếu bản vẽ móng."})
    assert offered(page)[0] == "02"
    tracking = client.get(f"/api/v1/tracking/{code}?secret={secret}").get_json()
    pdf = "data:application/pdf;name=mong.pdf;base64,JVBERi0xLjQKMSAwIG9iajw8Pj5lbmRvYmoKdHJhaWxlcjw8Pj4KJSVFT0YK"
    r = client.post(f"/api/v1/tracking/{code}/tasks/{tracking['tasks'][0]['id']}/complete",
                    json={"secret": secret, "data": {"supplement_files": [pdf]}})
    assert r.status_code == 200, r.get_json()
    page = complete_on_the_web(app, desk, code, "tiep_nhan_ho_so", {"reception_decision": "accept"})
    assert offered(page)[0] == "01"
    page = complete_on_the_web(app, specialist, code, "tham_dinh_ho_so", {
        "appraisal_decision": "supplement", "appraisal_opinion": "Khoảng lùi tầng 4 chưa thể hiện.",
        "appraisal_supplement_items": "Mặt cắt thể hiện khoảng lùi tầng 4\nSơ đồ đấu nối thoát nước"})
    kind, url = offered(page)
    assert kind == "02"
    text = pdf_text(specialist, url)
    assert code in text and "Lê Thị Thuỷ Tiên" in text
    assert "1. Mặt cắt thể hiện khoảng lùi tầng 4" in text and "2. Sơ đồ đấu nối thoát nước" in text
    assert "Thiếu bản vẽ móng" not in text


def test_a_step_with_no_receipt_outcome_offers_nothing(app, client, auth):
    code, _ = submit(client, "1.009994", "cap_phep_xay_dung_nha_o")
    desk, specialist = login(app, "tiepnhan.tinh"), login(app, "chuyenvien.tinh")
    complete_on_the_web(app, desk, code, "tiep_nhan_ho_so", {"reception_decision": "accept"})
    page = complete_on_the_web(app, specialist, code, "tham_dinh_ho_so", {
        "appraisal_decision": "propose_refuse", "appraisal_opinion": "Thuộc hành lang an toàn đường bộ.",
        "appraisal_refusal_reason": "Vị trí xây dựng thuộc hành lang an toàn đường bộ."})
    assert "paper-offer" not in page


def test_the_api_names_the_offered_paper(client, auth):
    code, _ = submit(client, "1.001193", "dang_ky_khai_sinh")
    items = client.get("/api/v1/tasks?scope=available", headers=auth("tiepnhan.phuong")).get_json()["items"]
    task = next(t for t in items if t["dossier_code"] == code)
    r = client.post(f"/api/v1/tasks/{task['id']}/complete", headers=auth("tiepnhan.phuong"),
                    json={"data": {"reception_decision": "refuse", "refusal_reason": "Không thuộc thẩm quyền."}})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["paper"]["kind"] == "03"
    assert r.get_json()["paper"]["url"].endswith(f"/can-bo/ho-so/{code}/giay-to/03.pdf")
