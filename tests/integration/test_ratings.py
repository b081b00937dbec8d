"""Satisfaction ratings after the result: offered on the tracking page at status 9/10 only, one per dossier
(changeable for 7 days), validation in Vietnamese, CSRF, the secret required, the API, the leaders' summary."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from app.common.errors import Conflict
from app.common.types import utcnow
from app.dossiers.models import Dossier
from app.extensions import db
from app.tracking import ratings
from app.tracking.models import Rating


@pytest.fixture(autouse=True)
def _library(library_procedure):
    return library_procedure


@pytest.fixture(autouse=True)
def _no_ratings(app):
    yield
    with app.app_context():
        db.session.execute(text("DELETE FROM ratings"))
        db.session.commit()


def submit(client) -> tuple[str, str]:
    r = client.post("/api/v1/dossiers", json={
        "procedure": "9.999001", "channel": "online",
        "applicant": {"name": "Phạm Thị Hương", "phone": "0912345678"},
        "data": {"reader_name": "Phạm Thị Hương", "birth_date": "2001-05-20", "card_type": "thuong", "months": 12}})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["code"], r.get_json()["tracking_secret"]


def finish(client, auth, code: str) -> None:
    """Accept at the desk, process: the library card dossier ends at status 10 (result returned)."""
    for username, data in (("tiepnhan.tinh", {"decision": "accept"}),
                           ("chuyenvien.tinh", {"card_number": "TV000001"})):
        items = client.get("/api/v1/tasks?scope=available", headers=auth(username)).get_json()["items"]
        task = next(t for t in items if t["dossier_code"] == code)
        r = client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": data}, headers=auth(username))
        assert r.status_code == 200, r.get_json()


def page(client, code: str, secret: str) -> str:
    r = client.get(f"/tra-cuu/{code}?mat_ma={secret}")
    assert r.status_code == 200
    return html.unescape(r.get_data(as_text=True))


def test_rating_is_offered_only_once_the_result_is_out(app, client, auth):
    code, secret = submit(client)
    assert "Đánh giá mức độ hài lòng" not in page(client, code, secret)
    r = client.post(f"/tra-cuu/{code}/danh-gia", data={"mat_ma": secret, "level": "satisfied"})
    assert r.status_code == 302
    assert "Bạn có thể đánh giá khi hồ sơ đã có kết quả." in html.unescape(
        client.get(r.headers["Location"]).get_data(as_text=True))
    with app.app_context():
        assert db.session.scalar(select(Rating)) is None


def test_rate_on_the_tracking_page_validate_thank_and_change(app, client, auth):
    code, secret = submit(client)
    finish(client, auth, code)
    body = page(client, code, secret)
    assert "Đánh giá mức độ hài lòng" in body
    for label in ("Rất hài lòng", "Hài lòng", "Không hài lòng"):
        assert f">{label}</label>" in body

    # errors in Vietnamese, on the page, nothing stored
    bad = client.post(f"/tra-cuu/{code}/danh-gia", data={"mat_ma": secret, "level": "so-so", "comment": "x" * 1001})
    assert bad.status_code == 422
    text_ = html.unescape(bad.get_data(as_text=True))
    assert "Có lỗi cần sửa" in text_ and "Vui lòng chọn mức độ hài lòng." in text_
    assert "Ý kiến tối đa 1000 ký tự" in text_
    none = client.post(f"/tra-cuu/{code}/danh-gia", data={"mat_ma": secret})
    assert none.status_code == 422 and "Vui lòng chọn mức độ hài lòng." in html.unescape(none.get_data(as_text=True))

    # the secret is required, and a wrong one answers like an unknown code
    wrong = client.post(f"/tra-cuu/{code}/danh-gia", data={"mat_ma": "ABCDEFGHJK", "level": "satisfied"})
    unknown = client.post(f"/tra-cuu/{code[:-4]}9999/danh-gia", data={"mat_ma": "ABCDEFGHJK", "level": "satisfied"})
    assert wrong.status_code == unknown.status_code == 404
    assert wrong.get_data(as_text=True).replace(code, "X") == \
        unknown.get_data(as_text=True).replace(code[:-4] + "9999", "X")
    with app.app_context():
        assert db.session.scalar(select(Rating)) is None

    ok = client.post(f"/tra-cuu/{code}/danh-gia", data={"mat_ma": secret, "level": "satisfied",
                                                        "comment": "  Cán bộ hướng dẫn tận tình.  "})
    assert ok.status_code == 302 and ok.headers["Location"].endswith("#danh-gia")
    after = html.unescape(client.get(ok.headers["Location"]).get_data(as_text=True))
    assert "Cảm ơn bạn đã đánh giá!" in after
    assert re.search(r"Bạn đã đánh giá: <strong>Hài lòng</strong>", after)
    assert "Bạn có thể thay đổi đánh giá đến" in after

    # one rating per dossier: a second answer within 7 days changes it
    again = client.post(f"/tra-cuu/{code}/danh-gia", data={"mat_ma": secret, "level": "very_satisfied"})
    assert again.status_code == 302
    with app.app_context():
        rows = list(db.session.scalars(select(Rating)))
        assert len(rows) == 1 and rows[0].level == "very_satisfied" and rows[0].comment == ""
        # no personal data in the row
        assert set(Rating.__table__.c.keys()) == {"id", "dossier_id", "level", "comment", "created_at", "updated_at"}


def test_after_seven_days_the_rating_is_final(app, client, auth):
    code, secret = submit(client)
    finish(client, auth, code)
    with app.app_context():
        d = db.session.scalar(select(Dossier).where(Dossier.code == code))
        ratings.rate(d, "not_satisfied", "Chờ lâu.", now=utcnow() - timedelta(days=8))
        db.session.commit()
        with pytest.raises(Conflict):
            ratings.rate(d, "satisfied")
        db.session.rollback()
    body = page(client, code, secret)
    assert "Bạn đã đánh giá: <strong>Không hài lòng</strong>" in body and 'name="level"' not in body
    r = client.post(f"/api/v1/tracking/{code}/rating", json={"secret": secret, "level": "satisfied"})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "rating_final"


def test_the_rating_form_is_csrf_protected(app, client, auth):
    code, secret = submit(client)
    finish(client, auth, code)
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        r = client.post(f"/tra-cuu/{code}/danh-gia", data={"mat_ma": secret, "level": "satisfied"})
        assert r.status_code == 400
        # with the page's token it goes through
        body = client.get(f"/tra-cuu/{code}?mat_ma={secret}").get_data(as_text=True)
        token = re.search(r'<form method="post" action="/tra-cuu/[^"]+/danh-gia" novalidate>\s*'
                          r'<input type="hidden" name="csrf_token" value="([^"]+)"', body).group(1)
        r = client.post(f"/tra-cuu/{code}/danh-gia", data={"csrf_token": token, "mat_ma": secret, "level": "satisfied"})
        assert r.status_code == 302
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


def test_api_rating(app, client, auth):
    code, secret = submit(client)
    url = f"/api/v1/tracking/{code}/rating"
    early = client.post(url, json={"secret": secret, "level": "satisfied"})
    assert early.status_code == 409 and early.get_json()["error"]["code"] == "not_rateable"
    finish(client, auth, code)
    assert client.post(url, json={"secret": "WRONG", "level": "satisfied"}).status_code == 404
    bad = client.post(url, json={"secret": secret, "level": "meh", "comment": "y" * 1001})
    assert bad.status_code == 422
    err = bad.get_json()["error"]
    assert err["details"]["level"] == ["Vui lòng chọn mức độ hài lòng."] and "comment" in err["details"]
    en = client.post(url, json={"secret": secret}, headers={"Accept-Language": "en"})
    assert en.status_code == 422 and en.get_json()["error"]["details"]["level"] == ["Choose how satisfied you are."]
    r = client.post(url, json={"secret": secret, "level": "very_satisfied", "comment": "Nhanh, gọn."})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["level_label"] == "Rất hài lòng" and r.get_json()["comment"] == "Nhanh, gọn."
    r = client.post(url, json={"secret": secret, "level": "satisfied"})
    assert r.status_code == 200 and r.get_json()["level"] == "satisfied"
    spec = client.get("/api/v1/openapi.json").get_json()
    assert "post" in spec["paths"]["/tracking/{code}/rating"]


def test_summary_for_leaders(app, client, auth):
    codes = [submit(client)[0] for _ in range(3)]
    for code in codes:
        finish(client, auth, code)
    with app.app_context():
        dossiers = [db.session.scalar(select(Dossier).where(Dossier.code == c)) for c in codes]
        for d, level in zip(dossiers, ("very_satisfied", "satisfied", "not_satisfied"), strict=True):
            ratings.rate(d, level, "Góp ý" if level == "not_satisfied" else "")
        db.session.commit()
        all_ = ratings.summary()
        assert all_["total"] == 3 and all_["counts"] == {"very_satisfied": 1, "satisfied": 1, "not_satisfied": 1}
        assert all_["satisfied_share"] == pytest.approx(2 / 3) and all_["with_comment"] == 1
        mine = ratings.summary(unit_id=dossiers[0].unit_id, procedure_id=dossiers[0].procedure_id,
                               since=utcnow() - timedelta(hours=1), until=utcnow() + timedelta(hours=1))
        assert mine["total"] == 3
        assert ratings.summary(unit_id=-1)["total"] == 0 and ratings.summary(unit_id=-1)["satisfied_share"] is None
        assert ratings.summary(since=(utcnow() + timedelta(days=2)).date())["total"] == 0
