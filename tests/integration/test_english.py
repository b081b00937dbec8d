"""English as a second language on the public pages: the switch in the header (a POST form, no JavaScript) goes
back to the same page, refuses a foreign `next`, and sets `<html lang>`; Vietnamese stays the default; every entry
of the English catalog is translated; dates and money keep the Vietnamese formats in both languages."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from sqlalchemy import text

from app.dossiers.services import submit
from app.extensions import db

ROOT = Path(__file__).resolve().parent.parent.parent
CATALOG = ROOT / "app" / "translations" / "en" / "LC_MESSAGES" / "messages.po"
BIRTH = "1.001193"
HOUSEHOLD_BUSINESS = "1.001612"  # 100.000 đ
APPLICANT = {"name": "Phạm Thị Lan", "id_number": "001178012345", "phone": "0912345678",
             "email": "lan@example.vn", "address": "Số 25 phố Quán Thánh, phường Ba Đình, thành phố Hà Nội"}


@pytest.fixture(autouse=True)
def _drafts_first(app):
    """Drafts point at dossiers: remove them before the suite's cleanup deletes dossiers."""
    yield
    with app.app_context():
        db.session.rollback()
        db.session.execute(text("DELETE FROM drafts"))
        db.session.commit()


def switch(client, value: str, next_url: str | None):
    return client.post(f"/ngon-ngu/{value}", data={"next": next_url} if next_url is not None else {})


def html_lang(response) -> str:
    match = re.search(r'<html lang="([a-z]+)">', response.get_data(as_text=True))
    assert match, "no <html lang>"
    return match.group(1)


def _paid_procedure_dossier(app) -> tuple[str, str]:
    scenarios = json.loads((ROOT / "tests" / "workflows" / "scenarios" / "dang_ky_ho_kinh_doanh.json")
                           .read_text(encoding="utf-8"))
    with app.app_context():
        dossier, secret = submit(HOUSEHOLD_BUSINESS, "online", dict(APPLICANT), dict(scenarios[0]["submission"]))
        db.session.commit()
        return dossier.code, secret


def test_vietnamese_is_the_default_for_a_new_visitor(client):
    page = client.get("/")
    body = page.get_data(as_text=True)
    assert html_lang(page) == "vi"
    assert "Thủ tục hành chính" in body and "Tra cứu hồ sơ" in body
    assert "Administrative procedures" not in body
    # the switch offers English, marked as English, and comes back to this page
    assert '<button type="submit" class="link-button" lang="en" id="lang-switch">English</button>' in body
    assert 'action="/ngon-ngu/en"' in body and '<input type="hidden" name="next" value="/">' in body
    # a browser asking for English still gets Vietnamese pages until the visitor chooses (the API follows it)
    assert html_lang(client.get("/", headers={"Accept-Language": "en"})) == "vi"


def test_home_and_procedure_page_in_english_and_back(client):
    r = switch(client, "en", "/")
    assert r.status_code == 302 and r.headers["Location"] == "/"
    home = client.get("/")
    body = home.get_data(as_text=True)
    assert html_lang(home) == "en"
    for text_ in ("Administrative procedures", "Find a procedure", "Track a dossier", "Skip to main content",
                  "Filter by field and agency", "Search"):
        assert text_ in body
    assert "Tìm thủ tục" not in body
    assert '<button type="submit" class="link-button" lang="vi" id="lang-switch">Tiếng Việt</button>' in body
    # data stays Vietnamese: procedure names and fields are not translated
    assert "Đăng ký khai sinh" in body

    page = client.get(f"/thu-tuc/{BIRTH}")
    body = page.get_data(as_text=True)
    assert html_lang(page) == "en"
    for text_ in ("Submit online", "General information", "Dossier components", "Where and how to submit",
                  f"Code {BIRTH}"):
        assert text_ in body
    assert "Đăng ký khai sinh" in body

    r = switch(client, "vi", f"/thu-tuc/{BIRTH}")
    assert r.headers["Location"] == f"/thu-tuc/{BIRTH}"
    page = client.get(f"/thu-tuc/{BIRTH}")
    body = page.get_data(as_text=True)
    assert html_lang(page) == "vi"
    assert "Nộp hồ sơ trực tuyến" in body and "Thành phần hồ sơ" in body and "Submit online" not in body


def test_a_submission_step_with_its_errors_in_english(client):
    switch(client, "en", "/")
    base = f"/thu-tuc/{BIRTH}/nop-ho-so"
    page = client.get(base)
    body = page.get_data(as_text=True)
    assert html_lang(page) == "en"
    for text_ in ("Step 1 of", "Applicant&#39;s details", "Applicant&#39;s full name", "Continue",
                  "Save and continue later", "Back"):
        assert text_ in body
    # a step sent empty: the error summary and the messages in English
    r = client.post(base, data={"nguoinop-name": ""}, content_type="multipart/form-data")
    body = r.get_data(as_text=True)
    assert r.status_code in (200, 422)
    assert "There is a problem" in body
    assert "Please enter a phone number or an e-mail address to get notices." in body
    assert "Có lỗi cần sửa" not in body

    # the language switch of a step comes back to the step
    r = switch(client, "vi", base)
    assert r.headers["Location"] == base
    body = client.get(base).get_data(as_text=True)
    assert "Thông tin người nộp hồ sơ" in body and "Bước 1/" in body


def test_tracking_and_payment_pages_in_english(app, client):
    code, secret = _paid_procedure_dossier(app)
    track = f"/tra-cuu/?ma={code}&mat_ma={secret}"
    form = client.get("/tra-cuu/")
    assert "Tra cứu hồ sơ" in form.get_data(as_text=True)

    r = switch(client, "en", track)
    assert r.headers["Location"] == track  # the query (code and secret) survives the switch
    page = client.get(track, follow_redirects=True)
    body = page.get_data(as_text=True)
    assert html_lang(page) == "en"
    for text_ in ("Status:", "Progress", "Dossier submitted", "Agency name", "Dossier details", "Fee", "Not paid",
                  "100.000 đ"):
        assert text_ in body, text_
    assert re.search(r"\d{2}/\d{2}/\d{4}", body)  # dates stay dd/mm/yyyy

    pay = client.get(f"/thanh-toan/{code}", query_string={"mat_ma": secret})
    body = pay.get_data(as_text=True)
    assert pay.status_code == 200 and html_lang(pay) == "en"
    for text_ in ("Pay the fee", "Dossier code", "Amount due", "<strong>100.000 đ</strong>",
                  "Back to the dossier tracking page"):
        assert text_ in body, text_
    assert "Thanh toán lệ phí" not in body

    switch(client, "vi", f"/thanh-toan/{code}?mat_ma={secret}")
    body = client.get(f"/thanh-toan/{code}", query_string={"mat_ma": secret}).get_data(as_text=True)
    assert "Thanh toán lệ phí" in body and "Số tiền phải nộp" in body and "Pay the fee" not in body


def test_wrong_tracking_code_and_error_pages_in_english(client):
    switch(client, "en", "/")
    r = client.get("/tra-cuu/", query_string={"ma": "000.00.00.H41-251114-9999", "mat_ma": "WRONG12345"})
    assert "No dossier was found with that dossier code and tracking code." in r.get_data(as_text=True)
    missing = client.get("/thu-tuc/0.000000")
    assert missing.status_code == 404 and html_lang(missing) == "en"
    assert "Go to the home page" in missing.get_data(as_text=True)


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "http:/x",
                                    "javascript:alert(1)", "evil.example", "/\r\nLocation: https://evil.example"])
def test_the_switch_refuses_a_foreign_next(client, target):
    r = switch(client, "en", target)
    assert r.status_code == 302 and r.headers["Location"] == "/"
    assert html_lang(client.get("/")) == "en"  # the choice itself is kept


def test_the_switch_without_next_or_with_an_unknown_language(client):
    assert switch(client, "en", None).headers["Location"] == "/"
    assert switch(client, "fr", "/tra-cuu/").headers["Location"] == "/tra-cuu/"
    assert html_lang(client.get("/")) == "en"  # an unknown value changes nothing


def test_the_switch_is_a_csrf_protected_post_form(app, client):
    assert client.get("/ngon-ngu/en").status_code == 405
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        assert client.post("/ngon-ngu/en", data={"next": "/"}).status_code == 400
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


def test_every_catalog_entry_is_translated_and_keeps_its_placeholders():
    with CATALOG.open("rb") as fh:
        catalog = read_po(fh, locale="en")
    entries = [m for m in catalog if m.id]
    assert len(entries) > 200
    for message in entries:
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(s and s.strip() for s in strings), f"untranslated: {ids[0]!r}"
        assert not message.fuzzy, f"fuzzy: {ids[0]!r}"
        wanted = sorted(re.findall(r"%\(\w+\)s", ids[0]))
        for s in strings:
            assert sorted(re.findall(r"%\(\w+\)s", s)) == wanted or len(ids) > 1, f"placeholders: {ids[0]!r}"
            assert s.count("<") == ids[0].count("<"), f"markup: {ids[0]!r}"



def test_the_catalog_is_compiled_at_start_and_again_after_an_edit(tmp_path):
    from babel.messages.mofile import read_mo

    from app.i18n import compile_catalogs

    mo = compile_catalogs(tmp_path) / "en" / "LC_MESSAGES" / "messages.mo"
    with mo.open("rb") as fh:
        assert read_mo(fh).get("Tra cứu hồ sơ").string == "Track a dossier"
    first = mo.stat().st_mtime_ns
    assert first == CATALOG.stat().st_mtime_ns  # stamped with the .po's time: unchanged .po, no recompilation
    compile_catalogs(tmp_path)
    assert mo.stat().st_mtime_ns == first
    mo.write_bytes(b"")
    os.utime(mo, ns=(1, 1))  # a .mo from another .po: compiled again
    compile_catalogs(tmp_path)
    with mo.open("rb") as fh:
        assert read_mo(fh).get("Tra cứu hồ sơ").string == "Track a dossier"
