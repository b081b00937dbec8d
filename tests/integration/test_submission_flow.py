"""Public submission in steps: validation per step, check your answers, edit, submit; save and resume by link;
postal choices and the Vietnam Post pickup order; the bookmarkable confirmation and its receipt PDF."""

from __future__ import annotations

import copy
import io
import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select, text

from app.common.types import utcnow
from app.dossiers.models import Attachment, Dossier
from app.drafts.models import Draft
from app.extensions import db
from app.outbox.models import OutboxMessage, Shipment
from tests.conftest import TINY_PDF

BIRTH = "1.001193"
LIBRARY = "9.999001"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32

APPLICANT = {"nguoinop-name": "Nguyễn Văn Đức", "nguoinop-id_number": "040093005678",
             "nguoinop-phone": "0912345678", "nguoinop-email": "duc@example.vn"}
CHILD = {"hoso-child_full_name": "Nguyễn Minh Khôi", "hoso-child_gender": "male", "hoso-child_birth_date": "28/10/2025",
         "hoso-child_birth_place": "Bệnh viện Phụ sản Nghệ An", "hoso-child_ethnicity": "Kinh",
         "hoso-child_nationality": "Việt Nam", "hoso-child_hometown": "Xã Nghi Lộc, tỉnh Nghệ An"}
MOTHER = {"hoso-mother_full_name": "Trần Thị Thu Hà", "hoso-mother_birth_date": "12/04/1996",
          "hoso-mother_ethnicity": "Kinh", "hoso-mother_nationality": "Việt Nam",
          "hoso-mother_residence": "Số 12 đường Lê Lợi, phường Thành Vinh, tỉnh Nghệ An"}
FATHER = {"hoso-father_full_name": "Nguyễn Văn Đức", "hoso-requester_relationship": "father",
          "hoso-extract_copies_requested": "2"}
ONLINE = {"cachthuc-submission_method": "online", "cachthuc-return_method": "counter"}


@pytest.fixture(autouse=True)
def _drafts_first(app, library_procedure):
    """Drafts point at dossiers: remove them before the suite's cleanup deletes dossiers."""
    yield
    with app.app_context():
        db.session.rollback()
        db.session.execute(text("DELETE FROM drafts"))
        db.session.commit()


@pytest.fixture
def vnpost_on(app):
    saved = app.config["CONNECTORS"]
    app.config["CONNECTORS"] = copy.deepcopy(saved)
    app.config["CONNECTORS"].setdefault("vnpost", {})["url"] = "http://127.0.0.1:9/vnpost"
    yield
    app.config["CONNECTORS"] = saved


@pytest.fixture
def email_on(app):
    saved = app.config["CONNECTORS"]
    app.config["CONNECTORS"] = copy.deepcopy(saved)
    app.config["CONNECTORS"].setdefault("email", {})["host"] = "127.0.0.1"
    yield
    app.config["CONNECTORS"] = saved


def path(response) -> str:
    return urlsplit(response.headers["Location"]).path + (
        "?" + urlsplit(response.headers["Location"]).query if urlsplit(response.headers["Location"]).query else "")


def post(client, url, data, files=None):
    return client.post(url, data={**data, **(files or {})}, content_type="multipart/form-data")


def birth_until_check(client, *, choices=None):
    base = f"/thu-tuc/{BIRTH}/nop-ho-so"
    r = post(client, base, APPLICANT)
    assert r.status_code == 302 and path(r) == base + "/cach-thuc", r.get_data(as_text=True)[:1500]
    r = post(client, base + "/cach-thuc", choices or ONLINE)
    assert r.status_code == 302 and path(r) == base + "/phan-1", r.get_data(as_text=True)[:3000]
    r = post(client, base + "/phan-1", CHILD)
    assert path(r) == base + "/phan-2"
    r = post(client, base + "/phan-2", MOTHER)
    assert path(r) == base + "/phan-3"
    r = post(client, base + "/phan-3", FATHER)
    assert path(r) == base + "/phan-4"
    r = post(client, base + "/phan-4", {}, {"hoso-birth_certificate_file": (io.BytesIO(TINY_PDF), "giay sinh.pdf")})
    assert r.status_code == 302 and path(r) == base + "/kiem-tra", r.get_data(as_text=True)[:3000]
    return base


def submit_from_check(client, base):
    r = client.post(base + "/kiem-tra")
    assert r.status_code == 302, r.get_data(as_text=True)[:3000]
    location = path(r)
    assert re.match(r"^/ho-so/[^/]+/da-nop/[^/]+$", location), location
    page = client.get(location).get_data(as_text=True)
    code = re.search(r'id="dossier-code">([^<]+)<', page).group(1)
    secret = re.search(r'id="tracking-secret">([^<]+)<', page).group(1)
    return code, secret, location


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


# --------------------------------------------------------------------------- steps


def test_long_form_in_steps_with_progress_validation_check_page_and_edit(app, client):
    base = f"/thu-tuc/{BIRTH}/nop-ho-so"
    first = client.get(base).get_data(as_text=True)
    assert "Bước 1/7" in first and 'name="nguoinop-name"' in first and 'name="hoso-child_full_name"' not in first
    assert "Lưu và tiếp tục sau" in first and "Tiếp tục" in first
    # a later step without a draft leads back to the first one
    assert path(client.get(base + "/phan-2")) == base

    # step 1 validated on Continue: neither phone nor e-mail
    r = post(client, base, {"nguoinop-name": "Nguyễn Văn Đức"})
    assert r.status_code == 422 and "Vui lòng nhập số điện thoại hoặc thư điện tử" in r.get_data(as_text=True)
    r = post(client, base, APPLICANT)
    assert path(r) == base + "/cach-thuc"
    page = client.get(base + "/cach-thuc").get_data(as_text=True)
    assert "Bước 2/7" in page and 'name="cachthuc-submission_method"' in page and "postal_ward" in page
    r = post(client, base + "/cach-thuc", ONLINE)
    assert path(r) == base + "/phan-1"
    page = client.get(base + "/phan-1").get_data(as_text=True)
    assert f'class="back-link" href="{base}/cach-thuc">Quay lại<' in page and "Thông tin người được khai sinh" in page

    # a step is validated alone: an empty child name is an error, the mother's missing name is not (yet)
    r = post(client, base + "/phan-1", {**CHILD, "hoso-child_full_name": ""})
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and "Có lỗi cần sửa" in html and "Bước 3/7" in html
    assert 'href="#hoso-child_full_name"' in html and "người mẹ" not in html.split("sf-error-summary")[1][:2000]
    for data in (CHILD,):
        assert path(post(client, base + "/phan-1", data)) == base + "/phan-2"
    assert path(post(client, base + "/phan-2", MOTHER)) == base + "/phan-3"
    assert path(post(client, base + "/phan-3", FATHER)) == base + "/phan-4"
    # the check page is not reachable before every step is done
    assert path(client.get(base + "/kiem-tra")) == base + "/phan-4"
    r = post(client, base + "/phan-4", {})
    assert r.status_code == 422 and "Vui lòng đính kèm" in r.get_data(as_text=True)
    r = post(client, base + "/phan-4", {}, {"hoso-birth_certificate_file": (io.BytesIO(TINY_PDF), "giay sinh.pdf")})
    assert path(r) == base + "/kiem-tra"

    check = client.get(base + "/kiem-tra").get_data(as_text=True)
    assert "Kiểm tra lại thông tin" in check and "Bước 7/7" in check
    for answer in ("Nguyễn Minh Khôi", "28/10/2025", "Trần Thị Thu Hà", "giay sinh.pdf", "Nộp trực tuyến",
                   "Nguyễn Văn Đức", "duc@example.vn"):
        assert answer in check, answer
    assert check.count(">Sửa<") == 6 and f'href="{base}/phan-2?tu=kiem-tra"' in check

    # edit from the check page: back to the check page after Continue, the file is still held
    edit = client.get(base + "/phan-2?tu=kiem-tra").get_data(as_text=True)
    assert 'value="Trần Thị Thu Hà"' in edit and "Quay lại trang kiểm tra thông tin" in edit
    r = post(client, base + "/phan-2?tu=kiem-tra", {**MOTHER, "hoso-mother_full_name": "Trần Thị Hà"})
    assert path(r) == base + "/kiem-tra"
    files = client.get(base + "/phan-4").get_data(as_text=True)
    assert "giay sinh.pdf" in files
    check = client.get(base + "/kiem-tra").get_data(as_text=True)
    assert "Trần Thị Hà" in check and "Trần Thị Thu Hà" not in check

    code, secret, _ = submit_from_check(client, base)
    with app.app_context():
        dossier = db.session.scalar(select(Dossier).where(Dossier.code == code))
        assert dossier.data["mother_full_name"] == "Trần Thị Hà" and dossier.channel == "online"
        assert dossier.submission_method == "online" and dossier.return_method == "counter"
        assert dossier.postal_address is None
        att = db.session.scalar(select(Attachment).where(Attachment.dossier_id == dossier.id))
        assert att.filename == "giay sinh.pdf" and att.content_type == "application/pdf"
        assert dossier.data["birth_certificate_file"]["attachment_id"] == att.id
        draft = db.session.scalar(select(Draft))
        assert draft.submitted_dossier_id == dossier.id
    # the draft is spent: a new visit starts afresh
    assert 'value="Nguyễn Văn Đức"' not in client.get(base).get_data(as_text=True)


def test_short_form_is_one_page_then_the_check_page(app, client):
    base = f"/thu-tuc/{LIBRARY}/nop-ho-so"
    page = client.get(base).get_data(as_text=True)
    assert "Bước 1/2" in page and 'name="nguoinop-name"' in page and 'name="hoso-reader_name"' in page
    r = post(client, base, {**APPLICANT, "hoso-reader_name": "Lê Thị Bình", "hoso-birth_date": "02/01/1999",
                            "hoso-card_type": "thuong"},
             {"hoso-photo": (io.BytesIO(PNG), "ảnh chân dung.png")})
    assert path(r) == base + "/kiem-tra"
    check = client.get(base + "/kiem-tra").get_data(as_text=True)
    assert "Lê Thị Bình" in check and "ảnh chân dung.png" in check and "Thẻ thường" in check
    code, secret, _ = submit_from_check(client, base)
    assert len(secret) == 10
    with app.app_context():
        assert count(Dossier) == 1 and count(Attachment) == 1


def test_an_accepted_file_survives_a_failed_step_and_a_refused_one_is_named(app, client):
    base = f"/thu-tuc/{LIBRARY}/nop-ho-so"
    r = post(client, base, {**APPLICANT, "hoso-reader_name": "", "hoso-birth_date": "31/02/2001"},
             {"hoso-photo": (io.BytesIO(PNG), "anh.png")})
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and "anh.png" in html  # kept: not to be chosen again
    with app.app_context():
        draft = db.session.scalar(select(Draft))
        assert draft.data["photo"]["filename"] == "anh.png" and "sha256" in draft.data["photo"]
    r = post(client, base, {**APPLICANT, "hoso-reader_name": "Lê Bình", "hoso-birth_date": "02/01/1999"},
             {"hoso-photo": (io.BytesIO(b"PK\x03\x04" + b"\x00" * 40), "anh.pdf")})
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and "Tệp &#39;anh.pdf&#39; là tệp nén ZIP" in html
    with app.app_context():
        assert db.session.scalar(select(Draft)).data["photo"]["filename"] == "anh.png"  # nothing lost
    r = post(client, base, {**APPLICANT, "hoso-reader_name": "Lê Bình", "hoso-birth_date": "02/01/1999"})
    assert path(r) == base + "/kiem-tra"
    assert "anh.png" in client.get(base + "/kiem-tra").get_data(as_text=True)


# --------------------------------------------------------------------------- save and resume


def test_save_resume_link_continue_submit_then_the_link_is_dead(app, client, email_on):
    base = f"/thu-tuc/{BIRTH}/nop-ho-so"
    post(client, base, APPLICANT)
    post(client, base + "/cach-thuc", ONLINE)
    r = post(client, base + "/phan-1", {**CHILD, "action": "save"})
    assert path(r) == base + "/luu"
    page = client.get(base + "/luu").get_data(as_text=True)
    link = re.search(r'id="resume-link" href="([^"]+)"', page).group(1)
    assert re.match(r"^/nop-tiep/[A-Za-z0-9_-]{20,}$", link) and "duc@example.vn" in page
    r = client.post(base + "/luu", data={"lien_he": "khong-hop-le"})
    assert r.status_code == 422 and "Vui lòng nhập địa chỉ thư điện tử" in r.get_data(as_text=True)
    r = client.post(base + "/luu", data={"lien_he": "duc@example.vn"})
    assert r.status_code == 200 and "Đã gửi đường dẫn" in r.get_data(as_text=True)
    with app.app_context():
        msg = db.session.scalar(select(OutboxMessage).where(OutboxMessage.connector == "email"))
        assert msg.operation == "send" and msg.payload["to"] == "duc@example.vn"
        assert link in msg.payload["text"] and "Tiếp tục nộp hồ sơ" in msg.payload["subject"]
        draft = db.session.scalar(select(Draft))
        assert draft.token_hash != link.rsplit("/", 1)[1] and len(draft.token_hash) == 64  # stored hashed
        assert draft.contact == "duc@example.vn"

    # another browser (or the same one, days later) resumes at the first step not done
    other = app.test_client()
    r = other.get(link)
    assert r.status_code == 302 and path(r) == base + "/phan-2"
    assert 'value="Nguyễn Minh Khôi"' in other.get(base + "/phan-1").get_data(as_text=True)
    post(other, base + "/phan-2", MOTHER)
    post(other, base + "/phan-3", FATHER)
    post(other, base + "/phan-4", {}, {"hoso-birth_certificate_file": (io.BytesIO(TINY_PDF), "gcs.pdf")})
    code, secret, _ = submit_from_check(other, base)

    dead = app.test_client().get(link)
    html = dead.get_data(as_text=True)
    assert dead.status_code == 410 and "Hồ sơ đã được nộp" in html and code in html and secret not in html
    assert app.test_client().get("/nop-tiep/khong-co-that").status_code == 404


def test_sms_is_used_for_a_phone_and_nothing_is_queued_when_off(app, client):
    base = f"/thu-tuc/{LIBRARY}/nop-ho-so"
    post(client, base, {**APPLICANT, "action": "save"})
    r = client.post(base + "/luu", data={"lien_he": "0912 345 678"})
    assert r.status_code == 200 and "chưa gửi được" in r.get_data(as_text=True)  # sms is not configured
    with app.app_context():
        assert count(OutboxMessage) == 0
        assert db.session.scalar(select(Draft)).contact == "0912345678"


def test_expired_link(app, client):
    base = f"/thu-tuc/{LIBRARY}/nop-ho-so"
    post(client, base, {**APPLICANT, "action": "save"})
    link = re.search(r'id="resume-link" href="([^"]+)"', client.get(base + "/luu").get_data(as_text=True)).group(1)
    with app.app_context():
        draft = db.session.scalar(select(Draft))
        draft.expires_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
    r = app.test_client().get(link)
    assert r.status_code == 410 and "Đường dẫn đã hết hạn" in r.get_data(as_text=True)
    # the browser that held it starts afresh
    assert 'value="Nguyễn Văn Đức"' not in client.get(base).get_data(as_text=True)
    with app.app_context():
        from app.drafts.services import purge_expired

        assert purge_expired() == 1
        db.session.commit()
        assert count(Draft) == 0


# --------------------------------------------------------------------------- postal choices


POSTAL = {"cachthuc-submission_method": "postal", "cachthuc-return_method": "postal",
          "cachthuc-postal_province": "40", "cachthuc-postal_street": "Số 12 đường Lê Lợi",
          "cachthuc-postal_phone": "0912345678"}


def _a_ward(province: str) -> str:
    from app.schemaforms import vn

    return vn.wards(province)[0].code


def test_postal_choice_needs_an_address_stores_it_and_queues_a_pickup(app, client, vnpost_on):
    base = f"/thu-tuc/{BIRTH}/nop-ho-so"
    post(client, base, APPLICANT)
    r = post(client, base + "/cach-thuc", {"cachthuc-submission_method": "postal",
                                           "cachthuc-return_method": "postal"})
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and "Xã/phường/đặc khu" in html and "Số nhà, đường/phố" in html
    ward = _a_ward("40")
    birth_until_check(client, choices={**POSTAL, "cachthuc-postal_ward": ward})
    check = client.get(base + "/kiem-tra").get_data(as_text=True)
    assert "Số 12 đường Lê Lợi" in check and "Nghệ An" in check
    code, secret, location = submit_from_check(client, base)
    with app.app_context():
        dossier = db.session.scalar(select(Dossier).where(Dossier.code == code))
        assert dossier.channel == "postal" and dossier.submission_method == "postal"
        assert dossier.return_method == "postal"
        assert dossier.postal_address["ward"] == ward and dossier.postal_address["province_name"] == "Tỉnh Nghệ An"
        assert dossier.postal_address["street"] == "Số 12 đường Lê Lợi"
        msg = db.session.scalar(select(OutboxMessage).where(OutboxMessage.connector == "vnpost"))
        assert msg.operation == "create_order" and msg.dossier_id == dossier.id and msg.on_done == "shipment"
        assert msg.payload["service"] == "pickup" and "_on_done" not in msg.payload
        assert "Số 12 đường Lê Lợi" in msg.payload["sender"]["Address"]
        assert msg.payload["sender"]["Province"] == "Tỉnh Nghệ An"
        assert msg.payload["receiver"]["Name"] == dossier.unit.name
        shipment = db.session.scalar(select(Shipment).where(Shipment.dossier_id == dossier.id))
        assert shipment.service == "pickup"
    page = client.get(location).get_data(as_text=True)
    assert "Đã gửi yêu cầu tới Bưu điện Việt Nam" in page and "Số 12 đường Lê Lợi" in page


def test_postal_pickup_without_vnpost_queues_nothing(app, client):
    birth_until_check(client, choices={**POSTAL, "cachthuc-postal_ward": _a_ward("40")})
    code, _secret, _ = submit_from_check(client, f"/thu-tuc/{BIRTH}/nop-ho-so")
    with app.app_context():
        assert count(OutboxMessage.__table__) == 0 or db.session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.connector == "vnpost")) == 0
        assert db.session.scalar(select(Dossier.submission_method).where(Dossier.code == code)) == "postal"


def test_procedure_without_postal_asks_no_choice(client):
    page = client.get(f"/thu-tuc/{LIBRARY}/nop-ho-so").get_data(as_text=True)
    assert "cachthuc-" not in page
    assert client.get(f"/thu-tuc/{LIBRARY}/nop-ho-so/cach-thuc").status_code == 404


# --------------------------------------------------------------------------- the confirmation


def test_confirmation_survives_a_bookmark_and_a_tampered_token_is_404(app, client):
    code, secret, location = submit_from_check(client, birth_until_check(client))
    fresh = app.test_client()  # a bookmark opened in another browser
    r = fresh.get(location)
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and code in page and secret in page
    assert "Ngày hẹn trả kết quả dự kiến" in page and "Liên hệ" in page and "Ủy ban nhân dân phường Trường Vinh" in page
    assert r.headers["Cache-Control"] == "private, no-store" and r.headers["Referrer-Policy"] == "no-referrer"
    token = location.rsplit("/", 1)[1]
    tampered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    assert fresh.get(f"/ho-so/{code}/da-nop/{tampered}").status_code == 404
    assert fresh.get(f"/ho-so/{code}/da-nop/khong-hop-le").status_code == 404
    other_code = code[:-4] + "9999"
    assert fresh.get(f"/ho-so/{other_code}/da-nop/{token}").status_code == 404

    pdf = fresh.get(location + "/giay-tiep-nhan.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    assert fresh.get(f"/ho-so/{code}/da-nop/{tampered}/giay-tiep-nhan.pdf").status_code == 404

    # the old session-based address leads to the signed one in the submitting browser only
    with client.session_transaction() as s:
        s["submitted"] = {code: secret}
    r = client.get(f"/ho-so/{code}/da-nop")
    assert r.status_code == 302 and path(r) == location
    assert fresh.get(f"/ho-so/{code}/da-nop").status_code == 404


def test_receipt_qr_opens_tracking(app, client):
    from pypdf import PdfReader

    code, secret, location = submit_from_check(client, birth_until_check(client))
    pdf = app.test_client().get(location + "/giay-tiep-nhan.pdf")
    text_ = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages).replace("\n", "")
    assert "GIẤY TIẾP NHẬN HỒ SƠ" in text_ and code in text_ and "Quét mã QR" in text_
    url = re.search(r"(/tra-cuu/\S+mat_ma=\S{10})", text_.replace(" ", "")).group(1)
    assert url.endswith(secret)
    r = app.test_client().get(url)
    assert r.status_code == 200 and code in r.get_data(as_text=True)


def test_a_heic_phone_photo_becomes_a_jpeg_in_the_dossier(app, client):
    pillow_heif = pytest.importorskip("pillow_heif")
    from PIL import Image

    pillow_heif.register_heif_opener()
    heic = io.BytesIO()
    Image.new("RGB", (40, 30), (20, 160, 60)).save(heic, format="HEIF")
    base = f"/thu-tuc/{LIBRARY}/nop-ho-so"
    r = post(client, base, {**APPLICANT, "hoso-reader_name": "Lê Bình", "hoso-birth_date": "02/01/1999"},
             {"hoso-photo": (io.BytesIO(heic.getvalue()), "IMG_0042.HEIC")})
    assert path(r) == base + "/kiem-tra", r.get_data(as_text=True)[:3000]
    assert "IMG_0042.jpg" in client.get(base + "/kiem-tra").get_data(as_text=True)
    code, _secret, _ = submit_from_check(client, base)
    with app.app_context():
        att = db.session.scalar(select(Attachment))
        assert (att.filename, att.content_type) == ("IMG_0042.jpg", "image/jpeg")


def test_an_optional_file_can_be_removed_and_a_draft_is_submitted_once(app, client):
    base = f"/thu-tuc/{LIBRARY}/nop-ho-so"
    fields = {**APPLICANT, "hoso-reader_name": "Lê Bình", "hoso-birth_date": "02/01/1999"}
    post(client, base, fields, {"hoso-photo": (io.BytesIO(PNG), "anh.png")})
    page = client.get(base).get_data(as_text=True)
    assert 'name="xoa-photo"' in page and "anh.png" in page
    assert path(post(client, base, {**fields, "xoa-photo": "1"})) == base + "/kiem-tra"
    assert "anh.png" not in client.get(base + "/kiem-tra").get_data(as_text=True)

    from app.common.errors import Conflict
    from app.drafts import services as drafts

    with app.app_context():
        draft = db.session.scalar(select(Draft))
        drafts.submit(draft)
        db.session.commit()
        with pytest.raises(Conflict):
            drafts.submit(draft)
        db.session.rollback()
        assert count(Dossier) == 1
    # the browser that still shows the check page is told, and nothing more is submitted
    r = client.post(base + "/kiem-tra")
    assert r.status_code == 302 and path(r) == base
    with app.app_context():
        assert count(Dossier) == 1


def test_the_choice_page_stays_light(client):
    base = f"/thu-tuc/{BIRTH}/nop-ho-so"
    post(client, base, APPLICANT)
    page = client.get(base + "/cach-thuc").get_data(as_text=True)
    assert len(page.encode()) < 200_000  # wards of the agency's province only, until another one is chosen


def test_a_signed_in_citizen_finds_the_draft_in_their_account_on_another_browser(app, client):
    password = "MatKhau@2026"
    first = app.test_client()
    r = first.post("/tai-khoan/dang-ky", data={"login": "soan.do@example.vn", "password": password,
                                               "confirm": password})
    assert r.status_code == 302
    base = f"/thu-tuc/{BIRTH}/nop-ho-so"
    assert path(post(first, base, APPLICANT)) == base + "/cach-thuc"
    assert path(post(first, base + "/cach-thuc", ONLINE)) == base + "/phan-1"

    other = app.test_client()  # another browser, the same account
    r = other.post("/tai-khoan/dang-nhap", data={"login": "soan.do@example.vn", "password": password})
    assert r.status_code == 302
    mine = other.get("/tai-khoan/ho-so").get_data(as_text=True)
    assert "Hồ sơ đang soạn" in mine and f'href="{base}"' in mine
    resumed = other.get(base).get_data(as_text=True)
    assert APPLICANT["nguoinop-name"] in resumed  # the answers given on the first browser
    assert path(post(other, base + "/phan-1", CHILD)) == base + "/phan-2"

    stranger = app.test_client()
    stranger.post("/tai-khoan/dang-ky", data={"login": "nguoi.khac@example.vn", "password": password,
                                              "confirm": password})
    assert f'href="{base}"' not in stranger.get("/tai-khoan/ho-so").get_data(as_text=True)
    assert APPLICANT["nguoinop-name"] not in stranger.get(base).get_data(as_text=True)

    for url, data in ((base + "/phan-2", MOTHER), (base + "/phan-3", FATHER)):
        post(other, url, data)
    r = post(other, base + "/phan-4", {}, {"hoso-birth_certificate_file": (io.BytesIO(TINY_PDF), "giay sinh.pdf")})
    assert path(r) == base + "/kiem-tra"
    code, _secret, _ = submit_from_check(other, base)
    page = other.get("/tai-khoan/ho-so").get_data(as_text=True)
    assert code in page and f'href="{base}"' not in page  # submitted: no longer a draft, now a dossier
