"""The citizen's tracking page: a timeline in plain Vietnamese (receipt, supplement, apology, result), the
appointment date (moved by the apology), the handling agency's contact, never an internal note or an official's
name; an unknown code and a wrong secret answer the same."""

from __future__ import annotations

import html
import io
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from app.auth.models import User
from app.common.timefmt import fmt_datetime
from app.dossiers import late, notes
from app.dossiers.models import Dossier
from app.dossiers.services import Actor
from app.extensions import db
from app.inbox import services as inbox
from app.inbox.models import OPEN, Task

SCENARIOS = Path(__file__).resolve().parents[1] / "workflows" / "scenarios"
APPLICANT = {"name": "Lê Thị Thuỷ Tiên", "id_number": "040190001234", "phone": "0987654321",
             "email": "tien@example.vn", "address": "Phường Trường Vinh, Nghệ An"}
TINY_PDF = b"%PDF-1.4\n% test\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
NOTE = "Ghi chú nội bộ: hồ sơ này cần xem kỹ QWE987"
OPINION = "Ý kiến chuyên viên nội bộ ZXC654"
OFFICIAL_NAMES = ("Nguyễn Thị Lan", "Trần Văn Hùng", "Lê Minh Đức", "tiepnhan.phuong", "chuyenvien.phuong",
                  "lanhdao.phuong")


def _scenario(stem: str) -> dict:
    return json.loads((SCENARIOS / f"{stem}.json").read_text(encoding="utf-8"))[0]


def submit(client) -> tuple[str, str]:
    r = client.post("/api/v1/dossiers", json={"procedure": "1.001193", "channel": "online", "applicant": APPLICANT,
                                              "data": _scenario("dang_ky_khai_sinh")["submission"]})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["code"], r.get_json()["tracking_secret"]


def user(username: str) -> User:
    return db.session.scalar(select(User).where(User.username == username))


def dossier_of(code: str) -> Dossier:
    return db.session.scalar(select(Dossier).where(Dossier.code == code))


def complete(code: str, bpmn_id: str, username: str, data: dict) -> None:
    """Complete the open task `bpmn_id` with the services, as the officials' pages do, and commit."""
    d = dossier_of(code)
    task_id = db.session.scalar(select(Task.id).where(Task.dossier_id == d.id, Task.state == OPEN,
                                                      Task.bpmn_id == bpmn_id))
    assert task_id is not None, bpmn_id
    inbox.complete(task_id, data, Actor(user(username)))
    db.session.commit()


def page_text(client, code: str, secret: str) -> str:
    r = client.get(f"/tra-cuu/{code}?mat_ma={secret}")
    assert r.status_code == 200, r.get_data(as_text=True)[:2000]
    return html.unescape(r.get_data(as_text=True))


def timeline_of(page: str) -> str:
    block = re.search(r'<ol class="tl" id="timeline">(.*?)</ol>', page, re.S)
    assert block is not None
    return " ".join(re.sub(r"<[^>]+>", " ", block.group(1)).split())


def test_a_dossier_through_receipt_supplement_apology_and_result(app, client):
    code, secret = submit(client)
    steps = {s["task"]: s["data"] for s in _scenario("dang_ky_khai_sinh")["steps"]}
    with app.app_context():
        # the desk asks for two missing papers; an internal note on the dossier
        complete(code, "tiep_nhan_ho_so", "tiepnhan.phuong", {
            "reception_decision": "supplement",
            "supplement_items": "Bản chụp Giấy chứng sinh rõ nét\nGiấy chứng nhận kết hôn của cha, mẹ"})
        notes.add_note(dossier_of(code), Actor(user("tiepnhan.phuong")), NOTE)
        db.session.commit()

    page = page_text(client, code, secret)
    assert "Yêu cầu bổ sung" in page  # the status
    assert 'id="supplement-items"' in page  # what is missing, by the upload form
    assert "Bản chụp Giấy chứng sinh rõ nét" in page and "Giấy chứng nhận kết hôn của cha, mẹ" in page
    assert "Thời hạn giải quyết đang tạm dừng" in page
    tl = timeline_of(page)
    assert "Đã nộp hồ sơ" in tl and "Nộp hồ sơ trực tuyến" in tl
    assert "Cần bổ sung giấy tờ" in tl and "Bản chụp Giấy chứng sinh rõ nét" in tl
    tid = int(re.search(r'name="task_id" value="(\d+)"', page).group(1))

    # the citizen uploads on the tracking page: the dossier goes back to the desk
    r = client.post(f"/tra-cuu/{code}", content_type="multipart/form-data", data={
        "mat_ma": secret, "task_id": str(tid), f"cv{tid}-supplement_files": [(io.BytesIO(TINY_PDF), "chung_sinh.pdf")]})
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]

    with app.app_context():
        complete(code, "tiep_nhan_ho_so", "tiepnhan.phuong", steps["tiep_nhan_ho_so"])
        d = dossier_of(code)
        assert d.status == 4 and d.due_at is not None
        first_due = d.due_at
        new_due = first_due + timedelta(days=3)
        late.issue_apology(d, new_due, "Chờ xác minh thông tin nơi sinh với bệnh viện.",
                           Actor(user("lanhdao.phuong")))
        db.session.commit()

    page = page_text(client, code, secret)
    assert "Ngày hẹn trả kết quả mới" in page
    assert re.search(r'id="due-at">' + re.escape(fmt_datetime(new_due)) + "<", page)
    assert f"ngày hẹn cũ: {fmt_datetime(first_due)}" in page
    tl = timeline_of(page)
    assert "Đã nhận giấy tờ bổ sung" in tl
    assert f"Đã tiếp nhận hồ sơ, hẹn trả kết quả ngày {fmt_datetime(first_due)}" in tl
    assert "Đang giải quyết tại Ủy ban nhân dân phường Trường Vinh" in tl
    assert f"Xin lỗi, hẹn lại ngày trả kết quả: {fmt_datetime(new_due)}" in tl
    assert "Lý do: Chờ xác minh thông tin nơi sinh với bệnh viện." in tl

    with app.app_context():
        complete(code, "xu_ly_ho_so", "chuyenvien.phuong",
                 {**steps["xu_ly_ho_so"], "specialist_opinion": OPINION})
        complete(code, "ky_giay_khai_sinh", "lanhdao.phuong", steps["ky_giay_khai_sinh"])
    tl = timeline_of(page_text(client, code, secret))
    assert "Đã có kết quả" in tl and "Đã xong bước: Xác minh, dự thảo Giấy khai sinh" in tl

    with app.app_context():
        complete(code, "tra_ket_qua", "tiepnhan.phuong", steps["tra_ket_qua"])
    page = page_text(client, code, secret)
    tl = timeline_of(page)
    assert "Đã trả kết quả" in tl
    # the milestones in order
    order = ["Đã nộp hồ sơ", "Cần bổ sung giấy tờ", "Đã nhận giấy tờ bổ sung", "Đã tiếp nhận hồ sơ",
             "Xin lỗi, hẹn lại ngày", "Đã có kết quả", "Đã trả kết quả"]
    positions = [tl.index(t) for t in order]
    assert positions == sorted(positions), tl
    # dates as dd/mm/yyyy HH:MM
    assert re.search(r"\d{2}/\d{2}/\d{4} \d{2}:\d{2}", tl)
    # the agency's contact, the unit, never a person
    assert "Số 1 Lê Hồng Phong, phường Trường Vinh, tỉnh Nghệ An" in page
    assert "02383844123" in page and "truongvinh@nghean.gov.vn" in page
    for secret_text in (NOTE, OPINION, *OFFICIAL_NAMES, "040190001234", "Nguyễn Văn Đức"):
        assert secret_text not in page, secret_text


def test_timeline_of_a_refused_dossier_gives_the_reason(app, client):
    code, secret = submit(client)
    with app.app_context():
        complete(code, "tiep_nhan_ho_so", "tiepnhan.phuong",
                 {"reception_decision": "refuse", "refusal_reason": "Không thuộc thẩm quyền của phường."})
    tl = timeline_of(page_text(client, code, secret))
    assert "Hồ sơ không được tiếp nhận" in tl and "Lý do: Không thuộc thẩm quyền của phường." in tl


def test_unknown_code_and_wrong_secret_look_the_same_on_the_dossier_page(client):
    code, _ = submit(client)
    unknown_code = code[:-4] + "9999"
    wrong = client.get(f"/tra-cuu/{code}?mat_ma=ABCDEFGHJK")
    unknown = client.get(f"/tra-cuu/{unknown_code}?mat_ma=ABCDEFGHJK")
    assert wrong.status_code == unknown.status_code == 404
    assert wrong.get_data(as_text=True).replace(code, "X") == unknown.get_data(as_text=True).replace(unknown_code, "X")
    # and with no secret at all: the form, for both
    assert client.get(f"/tra-cuu/{code}").status_code == client.get(f"/tra-cuu/{unknown_code}").status_code == 200


def test_the_tracking_api_still_answers(client):
    code, secret = submit(client)
    r = client.get(f"/api/v1/tracking/{code}?secret={secret}")
    assert r.status_code == 200 and r.get_json()["status"] == 1
    assert datetime.fromisoformat(r.get_json()["due_at"]) > datetime.now(UTC)
