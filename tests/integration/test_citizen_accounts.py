"""Optional citizen accounts: sign up (e-mail or phone), sign in and out (apart from officials' session), "Hồ sơ
của tôi" with the dossiers submitted while signed in and those added with code + secret, each opening its tracking
page without the secret; another citizen sees none of them."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select, text

from app.citizens import attach_to_current_citizen, current_citizen
from app.citizens.current import login_citizen
from app.citizens.models import Citizen, CitizenDossier
from app.dossiers.models import Dossier
from app.extensions import db

PASSWORD = "MatKhau@2026"


@pytest.fixture(autouse=True)
def _library(library_procedure):
    return library_procedure


@pytest.fixture(autouse=True)
def _no_citizens(app):
    yield
    with app.app_context():
        db.session.execute(text("DELETE FROM citizen_dossiers"))
        db.session.execute(text("UPDATE dossiers SET citizen_id = NULL"))
        db.session.execute(text("DELETE FROM citizens"))
        db.session.commit()


def submit(client, name: str = "Phạm Thị Hương") -> tuple[str, str]:
    r = client.post("/api/v1/dossiers", json={
        "procedure": "9.999001", "channel": "online", "applicant": {"name": name, "phone": "0912345678"},
        "data": {"reader_name": name, "birth_date": "2001-05-20", "card_type": "thuong", "months": 12}})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["code"], r.get_json()["tracking_secret"]


def sign_up(app, login: str):
    c = app.test_client()
    r = c.post("/tai-khoan/dang-ky", data={"login": login, "password": PASSWORD, "confirm": PASSWORD})
    assert r.status_code == 302 and r.headers["Location"] == "/tai-khoan/ho-so", r.get_data(as_text=True)[:2000]
    return c


def same(page: str) -> str:
    """A page without its CSRF token and the typed login (what differs between two answers by nature)."""
    page = re.sub(r'name="csrf_token" value="[^"]*"', "", page)
    return re.sub(r'id="login" name="login" value="[^"]*"', "", page)


def body(r) -> str:
    return html.unescape(r.get_data(as_text=True))


def test_sign_up_validation_in_vietnamese(app, client):
    r = client.post("/tai-khoan/dang-ky", data={"login": "", "password": "ngan", "confirm": "khac"})
    assert r.status_code == 422
    page = body(r)
    assert "Vui lòng nhập thư điện tử hoặc số điện thoại." in page and "Mật khẩu cần ít nhất 8 ký tự." in page
    r = client.post("/tai-khoan/dang-ky", data={"login": "khong-phai-email", "password": PASSWORD, "confirm": "x"})
    assert r.status_code == 422
    assert "chưa đúng" in body(r) and "Mật khẩu nhập lại không khớp." in body(r)
    sign_up(app, "An.Nguyen@Example.vn")
    again = client.post("/tai-khoan/dang-ky", data={"login": "an.nguyen@example.vn", "password": PASSWORD,
                                                    "confirm": PASSWORD})
    assert again.status_code == 422 and "đã có tài khoản" in body(again)
    with app.app_context():
        citizen = db.session.scalar(select(Citizen))
        assert citizen.email == "an.nguyen@example.vn" and citizen.password_hash.startswith("$argon2")


def test_sign_in_with_phone_out_and_wrong_password(app, client):
    sign_up(app, "+84 912 000 333")
    c = app.test_client()
    bad = c.post("/tai-khoan/dang-nhap", data={"login": "0912000333", "password": "sai mat khau"})
    nobody = c.post("/tai-khoan/dang-nhap", data={"login": "0999999999", "password": "sai mat khau"})
    assert bad.status_code == nobody.status_code == 401
    assert same(body(bad)) == same(body(nobody)) and "mật khẩu không đúng" in body(bad)
    assert c.get("/tai-khoan/ho-so").status_code == 302  # signed out: to the login page
    ok = c.post("/tai-khoan/dang-nhap?next=/tai-khoan/ho-so", data={"login": "0912 000 333", "password": PASSWORD})
    assert ok.status_code == 302 and ok.headers["Location"] == "/tai-khoan/ho-so"
    assert "Hồ sơ của tôi" in body(c.get("/tai-khoan/ho-so"))
    # an open redirect is refused
    c2 = app.test_client()
    r = c2.post("/tai-khoan/dang-nhap?next=https://evil.example/", data={"login": "0912000333", "password": PASSWORD})
    assert r.headers["Location"] == "/tai-khoan/ho-so"
    # a separate session key: the citizen is not an official
    with c.session_transaction() as s:
        assert "citizen_id" in s and "uid" not in s
    assert c.get("/can-bo/").status_code == 302
    assert c.post("/tai-khoan/dang-xuat").status_code == 302
    assert c.get("/tai-khoan/ho-so").status_code == 302


def test_my_dossiers_submitted_and_claimed_and_another_citizen_sees_nothing(app, client, auth):
    an = sign_up(app, "an@example.vn")
    mine, mine_secret = submit(client, "Nguyễn Văn An")
    older, older_secret = submit(client, "Nguyễn Văn An")
    stranger, _ = submit(client, "Người Khác")

    # the submission hook: a dossier submitted while signed in is the citizen's
    with app.app_context():
        d = db.session.scalar(select(Dossier).where(Dossier.code == mine))
        citizen = db.session.scalar(select(Citizen).where(Citizen.email == "an@example.vn"))
        with app.test_request_context():
            assert current_citizen() is None and attach_to_current_citizen(d) is False
            login_citizen(citizen)
            assert attach_to_current_citizen(d) is True
        db.session.commit()

    page = body(an.get("/tai-khoan/ho-so"))
    assert mine in page and older not in page and stranger not in page
    assert 'id="ho-so-dang-soan"' in page  # the drafts hook

    # "Thêm hồ sơ": a wrong secret and an unknown code answer the same
    wrong = an.post("/tai-khoan/ho-so/them", data={"ma": older, "mat_ma": "ABCDEFGHJK"})
    unknown = an.post("/tai-khoan/ho-so/them", data={"ma": older[:-4] + "9999", "mat_ma": "ABCDEFGHJK"})
    assert wrong.status_code == unknown.status_code == 422
    assert same(body(wrong)).replace(older, "X") == same(body(unknown)).replace(older[:-4] + "9999", "X")
    assert "Không tìm thấy hồ sơ với mã hồ sơ và mã tra cứu đã nhập." in body(wrong)
    ok = an.post("/tai-khoan/ho-so/them", data={"ma": older, "mat_ma": older_secret.lower()})
    assert ok.status_code == 302
    page = body(an.get("/tai-khoan/ho-so"))
    assert f"Đã thêm hồ sơ {older}" in page and mine in page and older in page and stranger not in page
    assert an.post("/tai-khoan/ho-so/them", data={"ma": older, "mat_ma": older_secret}).status_code == 302
    with app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(CitizenDossier)) == 1

    # each opens its tracking page without the secret
    for code in (mine, older):
        r = an.get(f"/tra-cuu/{code}")
        assert r.status_code == 200 and 'id="dossier-status"' in r.get_data(as_text=True), code
    # not someone else's
    r = an.get(f"/tra-cuu/{stranger}")
    assert 'id="dossier-status"' not in r.get_data(as_text=True)

    # another citizen sees none of them, even by URL
    binh = sign_up(app, "binh@example.vn")
    page = body(binh.get("/tai-khoan/ho-so"))
    assert mine not in page and older not in page and 'id="no-dossiers"' in page
    for code in (mine, older):
        assert 'id="dossier-status"' not in binh.get(f"/tra-cuu/{code}").get_data(as_text=True)
        assert binh.get(f"/tra-cuu/{code}?mat_ma=ABCDEFGHJK").status_code == 404
    # nor anonymously
    assert 'id="dossier-status"' not in client.get(f"/tra-cuu/{mine}").get_data(as_text=True)
    # the secret still works for anybody
    assert 'id="dossier-status"' in client.get(f"/tra-cuu/{mine}?mat_ma={mine_secret}").get_data(as_text=True)

    # the owner acts on the page without the secret: here, rating the returned result
    for username, data in (("tiepnhan.tinh", {"decision": "accept"}), ("chuyenvien.tinh", {"card_number": "TV000002"})):
        items = client.get("/api/v1/tasks?scope=available", headers=auth(username)).get_json()["items"]
        task = next(t for t in items if t["dossier_code"] == mine)
        assert client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": data},
                           headers=auth(username)).status_code == 200
    assert "Đánh giá mức độ hài lòng" in body(an.get(f"/tra-cuu/{mine}"))
    r = an.post(f"/tra-cuu/{mine}/danh-gia", data={"mat_ma": "", "level": "very_satisfied"})
    assert r.status_code == 302 and "Cảm ơn bạn đã đánh giá!" in body(an.get(r.headers["Location"]))
    assert binh.post(f"/tra-cuu/{mine}/danh-gia", data={"mat_ma": "", "level": "not_satisfied"}).status_code == 404
    with app.app_context():
        assert db.session.scalar(text("SELECT level FROM ratings")) == "very_satisfied"
        db.session.execute(text("DELETE FROM ratings"))
        db.session.commit()

    # remove a claimed dossier from the list; the submitted one stays
    assert an.post(f"/tai-khoan/ho-so/{older}/bo").status_code == 302
    page = body(an.get("/tai-khoan/ho-so"))
    assert mine in page and f"<strong>{older}</strong>" not in page
