"""Report dashboards in Chromium: the Chart.js charts draw (served by the app from node_modules) and the heat map
colours the BPMN diagram, without console errors; the tables stay on the page."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import build_live_app, serving

pytestmark = pytest.mark.browser

PASSWORD = "MotCua@2026"
TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
def reports_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A live app with the reports wired, the test procedure deployed, three dossiers (one accepted), facts fresh."""
    from app.extensions import db
    from app.reports import init_app, refresh_all

    app = build_live_app(tmp_path_factory.mktemp("reports-live"), library=True)
    if "reports" not in app.blueprints:
        init_app(app)
    with app.app_context():
        runner = app.test_cli_runner()
        token = runner.invoke(args=["users", "token", "tiepnhan.tinh"]).output.strip().splitlines()[-1]
        client = app.test_client()
        codes = []
        for i, name in enumerate(["Nguyễn Văn An", "Trần Thị Bình", "Lê Hoàng Cường"]):
            r = client.post("/api/v1/dossiers", json={
                "procedure": "9.999001", "channel": "counter" if i == 2 else "online",
                "applicant": {"name": name, "phone": "0912345678", "address": "Nghệ An"},
                "data": {"reader_name": name, "birth_date": "2001-05-20", "card_type": "thuong", "months": 12}})
            assert r.status_code == 201, r.get_json()
            codes.append(r.get_json()["code"])
        headers = {"Authorization": f"Bearer {token}"}
        items = client.get("/api/v1/tasks?scope=available", headers=headers).get_json()["items"]
        task = next(t for t in items if t["dossier_code"] == codes[0])
        r = client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {"decision": "accept"}},
                        headers=headers)
        assert r.status_code == 200, r.get_json()
        assert refresh_all() == 3
        db.session.remove()
    with serving(app) as base:
        yield base


def log_in(page: Page, base: str, username: str) -> None:
    page.goto(base + "/dang-nhap")
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    expect(page.get_by_role("heading", level=1, name="Công việc của tôi")).to_be_visible()


def watch_errors(page: Page) -> list[str]:
    errors: list[str] = []

    def on_console(msg) -> None:
        # the browser's own favicon request (the app has none) is not a page error
        if msg.type == "error" and not (msg.location or {}).get("url", "").endswith("/favicon.ico"):
            errors.append(f"{msg.text} ({(msg.location or {}).get('url')})")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


def test_dashboard_charts_and_heat_map_render(browser: Browser, reports_server: str) -> None:
    context = browser.new_context(locale="vi-VN")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors = watch_errors(page)
    try:
        log_in(page, reports_server, "lanhdao.tinh")
        page.goto(reports_server + "/bao-cao/bieu-do?since=2020-01-01")
        expect(page.get_by_role("heading", level=1, name="Biểu đồ tình hình giải quyết hồ sơ")).to_be_visible()
        expect(page.locator("canvas#trend-chart[data-ready='true']")).to_be_attached()
        expect(page.locator("canvas#agencies-chart[data-ready='true']")).to_be_attached()
        assert page.evaluate("() => typeof window.Chart === 'function' && !!window.Chart.getChart('trend-chart')")
        box = page.locator("canvas#trend-chart").bounding_box()
        assert box is not None and box["width"] > 100 and box["height"] > 100
        expect(page.locator("#agencies-table")).to_contain_text("Trung tâm Phục vụ hành chính công tỉnh Nghệ An")

        page.goto(reports_server + "/bao-cao/ban-do-nhiet?procedure=9.999001&since=2020-01-01")
        expect(page.locator("#heat-canvas[data-ready='true']")).to_be_attached()
        assert page.locator("#heat-canvas .djs-element[class*='mc-heat-']").count() >= 1
        assert page.locator("#heat-canvas .mc-badge--heat").count() >= 1
        expect(page.locator("#heat-table")).to_be_visible()

        page.goto(reports_server + "/bao-cao/")
        expect(page.locator("#report-table")).to_be_visible()
        assert errors == [], errors
    finally:
        context.close()
