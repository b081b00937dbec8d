"""Browser-test fixtures: a live MotCua server with real CSRF, migrations and demo seed; one Chromium.

The server is built from its own config (not the suite's `app` fixture, whose TestConfig turns CSRF off):
a fresh SQLite file and upload directory per test module, served by werkzeug in a daemon thread.
Chromium is Debian's (`/usr/bin/chromium`, or $CHROMIUM); Playwright's own browsers are not used.
Screenshots go to $E2E_SCREENSHOT_DIR when set, else to a pytest tmp directory.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def _chromium() -> str | None:
    for candidate in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def build_live_app(root: Path, *, library: bool = False, **config: object):
    """A migrated, seeded app on a fresh SQLite file under `root`, with real CSRF (`library`: the test procedure
    9.999001 deployed too). Used by every browser test's server."""
    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db

    app = create_app({
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{root / 'motcua.sqlite'}",
        "UPLOAD_DIR": str(root / "uploads"),
        "SECRET_KEY": "e2e-browser-test-secret",
        "WTF_CSRF_ENABLED": True,
        "RATELIMIT_ENABLED": False,
        "TESTING": False,
        **config,
    })
    with app.app_context():
        upgrade(revision="heads")
        runner = app.test_cli_runner()
        result = runner.invoke(args=["seed", "demo"])
        assert result.exit_code == 0, result.output
        if library:
            fixtures = Path(__file__).resolve().parents[1] / "fixtures"
            result = runner.invoke(args=["workflows", "deploy", str(fixtures / "cap_the_thu_vien.bpmn"),
                                         "--forms", str(fixtures / "forms"), "--unit", "000.00.00.H41"])
            assert result.exit_code == 0, result.output
        db.session.remove()
    return app


@contextmanager
def serving(app) -> Iterator[str]:
    """Serve `app` on a free loopback port in a daemon thread; yields its base URL."""
    from werkzeug.serving import make_server

    from app.extensions import db

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="motcua-live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        with app.app_context():
            db.engine.dispose()


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL (``http://127.0.0.1:PORT``) of a freshly migrated and seeded app."""
    with serving(build_live_app(tmp_path_factory.mktemp("live"))) as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """One headless Chromium per test module."""
    executable = _chromium()
    if executable is None:
        pytest.skip("Chromium is not installed (make install-browser)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go (not committed)."""
    configured = os.environ.get("E2E_SCREENSHOT_DIR")
    if configured:
        path = Path(configured)
        path.mkdir(parents=True, exist_ok=True)
        return path
    return tmp_path_factory.mktemp("screenshots")


#: merchant code and check-value secret shared by the live app and the payment gateway simulator
PAYMENT_MERCHANT, PAYMENT_SECRET = "MOTCUA", "e2e-payment-secret"


@pytest.fixture(scope="module")
def payment_gateway() -> Iterator[object]:
    """The payment gateway simulator (connectors/simulators/payment.py) as a real process on loopback."""
    from tests.simulators import start_simulator

    sim = start_simulator("payment", env={"PAYMENT_SIM_MERCHANT": PAYMENT_MERCHANT,
                                          "PAYMENT_SIM_SECRET": PAYMENT_SECRET})
    try:
        yield sim
    finally:
        sim.stop()


@pytest.fixture(scope="module")
def live_server_with_partners(tmp_path_factory: pytest.TempPathFactory, payment_gateway) -> Iterator[str]:
    """Like `live_server`, with fees paid through the payment gateway simulator: the gateway's hosted page sends
    the citizen back to this server and notifies it server to server; resume links name this server too."""
    import copy

    app = build_live_app(tmp_path_factory.mktemp("live-partners"))
    with serving(app) as base:  # the config needs the port: set before the first request
        connectors = copy.deepcopy(app.config["CONNECTORS"])  # never mutate the process-wide default
        connectors["payment"] = {"url": payment_gateway.url, "merchant_code": PAYMENT_MERCHANT,
                                 "secret": PAYMENT_SECRET, "timeout": 5,
                                 "notify_url": f"{base}/api/v1/callbacks/payment", "return_base": base}
        app.config["CONNECTORS"] = connectors
        app.config["PUBLIC_BASE_URL"] = base
        yield base


OFFICIAL_PASSWORD = "MotCua@2026"


@pytest.fixture(scope="module")
def complete_task(browser, live_server_with_partners: str):
    """A callable: `complete_task(username, dossier_code, task_name, fill)` logs the demo official in (a fresh
    desktop browser context), opens the dossier's task from the inbox, lets `fill(region)` answer the task's form
    (the region "Xử lý: <task_name>") and presses "Hoàn thành"; it checks the inbox's confirmation."""
    from playwright.sync_api import expect

    def run(username: str, code: str, task_name: str, fill) -> None:
        context = browser.new_context(locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh",
                                      viewport={"width": 1280, "height": 900})
        context.set_default_timeout(15_000)
        try:
            page = context.new_page()
            page.goto(live_server_with_partners + "/dang-nhap")
            page.get_by_label("Tên đăng nhập").fill(username)
            page.get_by_label("Mật khẩu").fill(OFFICIAL_PASSWORD)
            page.get_by_role("button", name="Đăng nhập").click()
            expect(page.get_by_role("heading", level=1, name="Công việc của tôi")).to_be_visible()
            row = page.get_by_role("row").filter(has=page.get_by_role("link", name=code, exact=True))
            row.get_by_role("link", name=code, exact=True).click()
            expect(page.get_by_role("heading", level=1, name=task_name)).to_be_visible()
            region = page.get_by_role("region", name=f"Xử lý: {task_name}")
            fill(region)
            region.get_by_role("button", name="Hoàn thành").click()
            expect(page.get_by_role("status").filter(has_text="Đã hoàn thành").first).to_contain_text(
                f"Đã hoàn thành “{task_name}” cho hồ sơ {code}.")
        finally:
            context.close()

    return run
