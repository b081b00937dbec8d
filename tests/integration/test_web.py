"""Server-rendered pages: submission with uploads, login, inbox, task completion, tracking, supplements."""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import func, select

from app.dossiers.models import Attachment, Dossier
from app.extensions import db
from tests.conftest import TINY_PDF, pdf_data_url

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture(autouse=True)
def _library(library_procedure):
    return library_procedure


def applicant_fields(**over):
    fields = {"nguoinop-name": "Nguyễn Văn An", "nguoinop-id_number": "001203004567",
              "nguoinop-phone": "0912345678", "nguoinop-email": "an@example.vn",
              "nguoinop-address": "Phường Trường Vinh, Nghệ An", "nguoinop-channel": "online"}
    fields.update(over)
    return fields


def login(client, username, password="MotCua@2026"):
    r = client.post("/dang-nhap", data={"username": username, "password": password})
    assert r.status_code == 302, r.get_data(as_text=True)[:500]


def test_home_and_procedure_pages_list_the_catalogue(client):
    home = client.get("/").get_data(as_text=True)
    assert "Đăng ký khai sinh" in home and "Cấp thẻ thư viện (thử nghiệm)" in home
    page = client.get("/thu-tuc/1.001193").get_data(as_text=True)
    assert "Thành phần hồ sơ" in page and "Nộp hồ sơ trực tuyến" in page
    assert "Ủy ban nhân dân phường Trường Vinh" in page
    assert client.get("/thu-tuc/khong-co").status_code == 404


def test_submission_form_is_rendered_from_the_bpmn(client):
    html = client.get("/thu-tuc/9.999001/nop-ho-so").get_data(as_text=True)
    assert 'name="hoso-reader_name"' in html and 'type="file"' in html and 'name="hoso-birth_date"' in html
    assert "Họ và tên người đọc" in html and 'name="nguoinop-name"' in html


def test_invalid_submission_shows_errors_and_stores_nothing(app, client):
    r = client.post("/thu-tuc/9.999001/nop-ho-so",
                    data={**applicant_fields(**{"nguoinop-phone": "abc"}), "hoso-reader_name": "",
                          "hoso-birth_date": "31/02/2001"},
                    content_type="multipart/form-data")
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert "Có lỗi cần sửa" in html and 'aria-invalid="true"' in html
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Dossier)) == 0


def test_fake_pdf_upload_is_refused_on_the_page(app, client):
    data = {**applicant_fields(), "hoso-reader_name": "Lê Bình", "hoso-birth_date": "02/01/1999",
            "hoso-photo": (io.BytesIO(b"MZ not a picture"), "anh.png")}
    r = client.post("/thu-tuc/9.999001/nop-ho-so", data=data, content_type="multipart/form-data")
    assert r.status_code == 422
    assert "không phải PDF, JPEG hoặc PNG" in r.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Attachment)) == 0


def test_citizen_submits_official_completes_citizen_tracks(app, client):
    data = {**applicant_fields(), "hoso-reader_name": "Lê Thị Bình", "hoso-birth_date": "02/01/1999",
            "hoso-card_type": "thuong", "hoso-months": "12", "hoso-photo": (io.BytesIO(PNG), "ảnh chân dung.png")}
    r = client.post("/thu-tuc/9.999001/nop-ho-so", data=data, content_type="multipart/form-data")
    assert r.status_code == 302 and r.headers["Location"].endswith("/nop-ho-so/kiem-tra"), r.get_data(as_text=True)
    r = client.post(r.headers["Location"])  # "Kiểm tra lại thông tin" → "Nộp hồ sơ"
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    code = re.search(r'id="dossier-code">([^<]+)<', page).group(1)
    secret = re.search(r'id="tracking-secret">([^<]+)<', page).group(1)
    assert re.match(r"^000\.00\.00\.H41-\d{6}-\d{4}$", code) and len(secret) == 10
    # a reload of the confirmation does not resubmit; the signed address survives a bookmark, tampered it is 404
    assert app.test_client().get(r.headers["Location"]).status_code == 200
    assert app.test_client().get(r.headers["Location"][:-3] + "xyz").status_code == 404

    official = app.test_client()
    assert official.get("/can-bo/").status_code == 302  # login first
    login(official, "tiepnhan.tinh")
    inbox = official.get("/can-bo/").get_data(as_text=True)
    assert code in inbox
    task_id = int(re.search(r'/can-bo/cong-viec/(\d+)">' + re.escape(code), inbox).group(1))
    task_page = official.get(f"/can-bo/cong-viec/{task_id}").get_data(as_text=True)
    assert "Lê Thị Bình" in task_page and "ảnh chân dung.png" in task_page and "001203004567" in task_page
    att = re.search(r'/can-bo/tep/(\d+)', task_page).group(1)
    f = official.get(f"/can-bo/tep/{att}")
    assert f.status_code == 200 and f.data == PNG and f.mimetype == "image/png"
    f.close()

    # another unit's official sees neither the task nor the file
    other = app.test_client()
    login(other, "tiepnhan.phuong")
    assert code not in other.get("/can-bo/").get_data(as_text=True)
    assert other.get(f"/can-bo/cong-viec/{task_id}").status_code == 403
    assert other.get(f"/can-bo/tep/{att}").status_code == 403

    bad = official.post(f"/can-bo/cong-viec/{task_id}", data={"cv-decision": "perhaps"})
    assert bad.status_code == 422 and "Có lỗi cần sửa" in bad.get_data(as_text=True)
    done = official.post(f"/can-bo/cong-viec/{task_id}", data={"cv-decision": "accept"})
    assert done.status_code == 302
    after = official.get("/can-bo/").get_data(as_text=True)
    assert "Đã hoàn thành" in after and f"/can-bo/cong-viec/{task_id}" not in after

    specialist = app.test_client()
    login(specialist, "chuyenvien.tinh")
    assert code in specialist.get("/can-bo/").get_data(as_text=True)

    tracking = client.get(f"/tra-cuu/?ma={code}&mat_ma={secret}", follow_redirects=True).get_data(as_text=True)
    assert "Đang xử lý" in tracking and "Kiểm tra, tiếp nhận hồ sơ" in tracking and "Nộp hồ sơ" in tracking
    assert "001203004567" not in tracking  # no personal data on the public page


def test_claim_and_release_from_the_task_page(app, client):
    r = client.post("/api/v1/dossiers", json={
        "procedure": "9.999001", "applicant": {"name": "Phan Văn Cường", "phone": "0912000111"},
        "data": {"reader_name": "Phan Văn Cường", "birth_date": "1990-03-04"}})
    code = r.get_json()["code"]
    official = app.test_client()
    login(official, "tiepnhan.tinh")
    task_id = int(re.search(r'/can-bo/cong-viec/(\d+)">' + re.escape(code),
                            official.get("/can-bo/").get_data(as_text=True)).group(1))
    official.post(f"/can-bo/cong-viec/{task_id}/nhan")
    assert code in official.get("/can-bo/?tab=mine").get_data(as_text=True)
    official.post(f"/can-bo/cong-viec/{task_id}/tra-lai")
    assert code not in official.get("/can-bo/?tab=mine").get_data(as_text=True)


def test_wrong_password_and_unknown_user_look_the_same(client):
    a = client.post("/dang-nhap", data={"username": "tiepnhan.tinh", "password": "sai"})
    b = client.post("/dang-nhap", data={"username": "khong.co", "password": "sai"})
    assert a.status_code == b.status_code == 401
    assert "Tên đăng nhập hoặc mật khẩu không đúng." in a.get_data(as_text=True)


def test_tracking_page_same_answer_for_unknown_code_and_wrong_secret(client):
    r = client.post("/api/v1/dossiers", json={
        "procedure": "9.999001", "applicant": {"name": "Phan Văn Cường", "phone": "0912000111"},
        "data": {"reader_name": "Phan Văn Cường", "birth_date": "1990-03-04"}})
    code = r.get_json()["code"]
    wrong = client.get(f"/tra-cuu/?ma={code}&mat_ma=XXXXXXXXXX")
    unknown = client.get("/tra-cuu/?ma=000.00.00.H41-000101-0001&mat_ma=XXXXXXXXXX")
    assert wrong.status_code == unknown.status_code == 404
    strip = lambda html: html.replace(code, "").replace("000.00.00.H41-000101-0001", "")  # noqa: E731
    assert strip(wrong.get_data(as_text=True)) == strip(unknown.get_data(as_text=True))


def test_citizen_supplies_missing_papers_on_the_tracking_page(app, client, auth):
    import json
    from pathlib import Path

    scenarios = json.loads((Path(__file__).resolve().parents[1] / "workflows" / "scenarios" /
                            "cap_phep_xay_dung_nha_o.json").read_text(encoding="utf-8"))
    submission = scenarios[0]["submission"]
    r = client.post("/api/v1/dossiers", json={
        "procedure": "1.009994", "applicant": {"name": "Võ Thị Hoa", "phone": "0912000222"}, "data": submission})
    assert r.status_code == 201, r.get_json()
    code, secret = r.get_json()["code"], r.get_json()["tracking_secret"]
    items = client.get("/api/v1/tasks", headers=auth("tiepnhan.tinh")).get_json()["items"]
    task = next(t for t in items if t["dossier_code"] == code)
    r = client.post(f"/api/v1/tasks/{task['id']}/complete", headers=auth("tiepnhan.tinh"), json={"data": {
        "reception_decision": "supplement", "supplement_items": "Thiếu bản vẽ mặt bằng móng."}})
    assert r.status_code == 200 and r.get_json()["status"] == 5, r.get_json()

    page = client.get(f"/tra-cuu/{code}?mat_ma={secret}").get_data(as_text=True)
    assert "Yêu cầu bổ sung" in page and "Thiếu bản vẽ mặt bằng móng." in page
    tid = int(re.search(r'name="task_id" value="(\d+)"', page).group(1))
    empty = client.post(f"/tra-cuu/{code}", data={"mat_ma": secret, "task_id": str(tid)},
                        content_type="multipart/form-data")
    assert empty.status_code == 422 and "Có lỗi cần sửa" in empty.get_data(as_text=True)
    ok = client.post(f"/tra-cuu/{code}", content_type="multipart/form-data", data={
        "mat_ma": secret, "task_id": str(tid), f"cv{tid}-supplement_note": "Đã bổ sung bản vẽ móng.",
        f"cv{tid}-supplement_files": [(io.BytesIO(TINY_PDF), "ban_ve_mong.pdf")]})
    assert ok.status_code == 302, ok.get_data(as_text=True)[:3000]
    after = client.get(f"/api/v1/tracking/{code}?secret={secret}").get_json()
    assert after["status"] == 1 and after["tasks"] == []
    items = client.get("/api/v1/tasks", headers=auth("tiepnhan.tinh")).get_json()["items"]
    assert any(t["dossier_code"] == code and t["bpmn_id"] == "tiep_nhan_ho_so" for t in items)
    detail = client.get(f"/api/v1/dossiers/{code}", headers=auth("tiepnhan.tinh")).get_json()
    assert any(a["filename"] == "ban_ve_mong.pdf" for a in detail["attachments"])
    assert pdf_data_url()  # the helper stays importable for other tests
