"""The officials' inbox in a real browser (headless Chromium): filter, search a name without diacritics, claim.

The live server follows tests/e2e/conftest.py's pattern (fresh SQLite, real migrations, demo seed, real CSRF)
and also deploys the test procedure 9.999001 and submits a few dossiers through the JSON API.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import build_live_app, serving

pytestmark = pytest.mark.browser

PASSWORD = "MotCua@2026"
TIMEOUT_MS = 15_000
NAMES = ["Nguyễn Văn An", "Trần Thị Bình", "Lê Hoàng Cường"]


@pytest.fixture(scope="module")
def inbox_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """Base URL of a live app with the test procedure deployed, and the dossier code per applicant name."""
    from app.extensions import db

    app = build_live_app(tmp_path_factory.mktemp("inbox-live"), library=True)
    codes: dict[str, str] = {}
    with app.app_context():
        client = app.test_client()
        for i, name in enumerate(NAMES):
            r = client.post("/api/v1/dossiers", json={
                "procedure": "9.999001", "channel": "counter" if i == 2 else "online",
                "applicant": {"name": name, "id_number": "001203004567", "phone": "0912345678",
                              "email": "a@example.vn", "address": "Nghệ An"},
                "data": {"reader_name": name, "birth_date": "2001-05-20", "card_type": "thuong", "months": 12}})
            assert r.status_code == 201, r.get_json()
            codes[name] = r.get_json()["code"]
        db.session.remove()
    with serving(app) as base:
        yield base, codes


def test_filter_search_without_diacritics_and_claim(browser: Browser, inbox_server) -> None:
    base, codes = inbox_server
    context = browser.new_context(locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh",
                                  viewport={"width": 360, "height": 800})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        page.goto(f"{base}/dang-nhap")
        page.get_by_label("Tên đăng nhập").fill("tiepnhan.tinh")
        page.get_by_label("Mật khẩu").fill(PASSWORD)
        page.get_by_role("button", name="Đăng nhập").click()
        page.goto(f"{base}/can-bo/")
        table = page.get_by_role("table")
        for code in codes.values():
            expect(table).to_contain_text(code)

        # filter by channel: only the counter submission is left, and the URL is bookmarkable
        page.get_by_label("Kênh nộp").select_option("counter")
        page.get_by_role("button", name="Lọc").click()
        expect(page).to_have_url(re.compile(r"[?&]channel=counter(&|$)"))
        expect(table).to_contain_text(codes["Lê Hoàng Cường"])
        expect(table).not_to_contain_text(codes["Nguyễn Văn An"])
        page.get_by_role("link", name="Bỏ lọc").click()

        # search a name typed without diacritics
        page.get_by_label("Mã hồ sơ hoặc tên người nộp").fill("nguyen van an")
        page.get_by_role("button", name="Lọc").click()
        expect(table).to_contain_text("Nguyễn Văn An")
        expect(table).not_to_contain_text(codes["Trần Thị Bình"])
        expect(page.get_by_role("link", name="Chưa ai nhận")).to_contain_text("(1)")

        # claim it from the list: it moves to "Của tôi"
        page.get_by_role("button", name=f"Nhận xử lý {codes['Nguyễn Văn An']}").click()
        expect(page.get_by_text("Đã nhận xử lý công việc.")).to_be_visible()
        page.goto(f"{base}/can-bo/?tab=mine")
        expect(page.get_by_role("table")).to_contain_text(codes["Nguyễn Văn An"])
        expect(page.get_by_role("link", name=re.compile(r"^Của tôi"))).to_contain_text("(1)")
    finally:
        context.close()
