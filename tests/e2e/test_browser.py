"""End to end in a real browser (headless Chromium): a citizen submits a birth registration, the
one-stop-shop official receives it, the specialist gets the next task, the citizen tracks the dossier.

Everything goes through the Vietnamese UI with accessible locators (labels, roles, visible text), against
a live server with real CSRF, real migrations and the real demo seed (see conftest.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

pytestmark = pytest.mark.browser

PASSWORD = "MotCua@2026"
UNIT_CODE = "000.31.33.H41"
CODE_RE = re.compile(r"^000\.31\.33\.H41-(\d{6})-(\d{4})$")
DATETIME_RE = re.compile(r"^\d{2}/\d{2}/\d{4} \d{2}:\d{2}$")
NOT_FOUND = "Không tìm thấy hồ sơ với mã hồ sơ và mã tra cứu đã nhập. Vui lòng kiểm tra lại."
TIMEOUT_MS = 15_000
PHONE_WIDTH = 360

APPLICANT = {
    "Họ và tên người nộp hồ sơ (bắt buộc)": "Nguyễn Văn Đức",
    "Số định danh cá nhân (CCCD) hoặc mã số thuế": "040093005678",
    "Số điện thoại": "0912345678",
    "Thư điện tử": "duc.nguyen@example.vn",
}
# text, textarea and date inputs of forms/khai_sinh_nop.json, by their visible label
BIRTH_FIELDS = {
    "Họ, chữ đệm, tên của người được khai sinh (bắt buộc)": "Nguyễn Minh Khôi",
    "Ngày, tháng, năm sinh (bắt buộc)": "2025-10-28",
    "Nơi sinh (bắt buộc)": "Bệnh viện Phụ sản Nghệ An, phường Vinh Phú, tỉnh Nghệ An",
    "Dân tộc (bắt buộc)": "Kinh",
    "Quốc tịch (bắt buộc)": "Việt Nam",
    "Quê quán (bắt buộc)": "Xã Nghi Lộc, tỉnh Nghệ An",
    "Họ, chữ đệm, tên người mẹ (bắt buộc)": "Trần Thị Thu Hà",
    "Ngày, tháng, năm sinh của người mẹ (bắt buộc)": "1996-04-12",
    "Dân tộc của người mẹ (bắt buộc)": "Kinh",
    "Quốc tịch của người mẹ (bắt buộc)": "Việt Nam",
    "Số định danh cá nhân của người mẹ": "040196001234",
    "Nơi cư trú của người mẹ (bắt buộc)": "Số 12 đường Lê Lợi, phường Thành Vinh, tỉnh Nghệ An",
    "Họ, chữ đệm, tên người cha": "Nguyễn Văn Đức",
    "Ngày, tháng, năm sinh của người cha": "1993-09-03",
    "Dân tộc của người cha": "Kinh",
    "Quốc tịch của người cha": "Việt Nam",
    "Số định danh cá nhân của người cha": "040093005678",
    "Nơi cư trú của người cha": "Số 12 đường Lê Lợi, phường Thành Vinh, tỉnh Nghệ An",
    "Số Giấy chứng nhận kết hôn của cha, mẹ (nếu có)": "45/2021",
    "Số bản sao trích lục khai sinh đề nghị cấp": "2",
}
CHILD_NAME = "Họ, chữ đệm, tên của người được khai sinh (bắt buộc)"
FILE_LABEL = "Giấy chứng sinh (bắt buộc)"
PDF_NAME = "giay_chung_sinh.pdf"
PDF_BODY = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


# --------------------------------------------------------------------------- fixtures and helpers


def _context(browser: Browser, **options) -> BrowserContext:
    context = browser.new_context(locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh", **options)
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    return context


@pytest.fixture
def citizen(browser: Browser) -> Iterator[Page]:
    context = _context(browser, viewport={"width": 1280, "height": 900})
    yield context.new_page()
    context.close()


@pytest.fixture
def official(browser: Browser) -> Iterator[Page]:
    context = _context(browser, viewport={"width": 1280, "height": 900})
    yield context.new_page()
    context.close()


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    context = _context(browser, viewport={"width": PHONE_WIDTH, "height": 740}, is_mobile=True, has_touch=True,
                       device_scale_factor=2)
    yield context.new_page()
    context.close()


@pytest.fixture
def pdf_file(tmp_path: Path) -> Path:
    path = tmp_path / PDF_NAME
    path.write_bytes(PDF_BODY)
    return path


def shot(page: Page, directory: Path, name: str) -> None:
    page.screenshot(path=str(directory / f"{name}.png"), full_page=True)


def field(page: Page, label: str):
    """The one control whose accessible label is exactly `label` (required ones end in "(bắt buộc)")."""
    return page.get_by_label(label, exact=True)


def next_step(page: Page) -> None:
    page.get_by_role("button", name="Tiếp tục", exact=True).click()


def fill_present(page: Page, values: dict[str, str]) -> None:
    """Fill the fields of `values` shown on the current step."""
    for label, value in values.items():
        control = field(page, label)
        if control.count():
            control.fill(value)


def fill_birth_registration(page: Page, pdf: Path, child_name: str = "Nguyễn Minh Khôi") -> None:
    """The steps before the child's (applicant, how to submit and receive), then the child's step, left open."""
    fill_present(page, APPLICANT)
    next_step(page)
    expect(page.get_by_role("heading", level=1, name="Cách nộp hồ sơ và nhận kết quả")).to_be_visible()
    expect(page.get_by_role("radio", name="Nộp trực tuyến: tải lên bản điện tử các giấy tờ", exact=True)
           ).to_be_checked()  # the default
    next_step(page)
    expect(page.get_by_role("heading", level=1, name="Thông tin người được khai sinh")).to_be_visible()
    fill_present(page, {**BIRTH_FIELDS, CHILD_NAME: child_name})
    page.get_by_role("group", name="Giới tính (bắt buộc)").get_by_label("Nam", exact=True).check()


def finish_birth_registration(page: Page, pdf: Path) -> None:
    """From the child's step: mother, father, files, then "Nộp hồ sơ" on the check page."""
    next_step(page)
    expect(page.get_by_role("heading", level=1, name="Thông tin người mẹ")).to_be_visible()
    fill_present(page, BIRTH_FIELDS)
    next_step(page)
    expect(page.get_by_role("heading", level=1, name="Thông tin người cha")).to_be_visible()
    fill_present(page, BIRTH_FIELDS)
    field(page, "Quan hệ của người đi đăng ký với người được khai sinh (bắt buộc)").select_option(label="Cha")
    next_step(page)
    field(page, FILE_LABEL).set_input_files(pdf)
    next_step(page)
    expect(page.get_by_role("heading", level=1, name="Kiểm tra lại thông tin")).to_be_visible()
    expect(page.get_by_role("main")).to_contain_text(PDF_NAME)
    page.get_by_role("button", name="Nộp hồ sơ", exact=True).click()


def log_in(page: Page, username: str) -> None:
    page.get_by_role("link", name="Cán bộ đăng nhập").click()
    expect(page.get_by_role("heading", level=1, name="Cán bộ đăng nhập")).to_be_visible()
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    expect(page.get_by_role("heading", level=1, name="Công việc của tôi")).to_be_visible()


def log_out(page: Page, display_name: str) -> None:
    page.get_by_role("button", name=f"Đăng xuất ({display_name})").click()
    expect(page.get_by_role("link", name="Cán bộ đăng nhập")).to_be_visible()
    expect(page.get_by_role("heading", level=1, name="Thủ tục hành chính")).to_be_visible()


def inbox_row(page: Page, code: str):
    return page.get_by_role("row").filter(has=page.get_by_role("link", name=code, exact=True))


def track(page: Page, code: str, secret: str) -> int:
    """Look a dossier up from the tracking form; returns the HTTP status of the form's answer."""
    page.get_by_role("navigation", name="Điều hướng chính").get_by_role("link", name="Tra cứu hồ sơ").click()
    expect(page.get_by_role("heading", level=1, name="Tra cứu hồ sơ")).to_be_visible()
    page.get_by_label("Mã hồ sơ").fill(code)
    page.get_by_label("Mã tra cứu").fill(secret)
    with page.expect_response(lambda r: urlsplit(r.url).path == "/tra-cuu/") as answer:
        page.get_by_role("button", name="Tra cứu").click()
    page.wait_for_load_state()
    return answer.value.status


# --------------------------------------------------------------------------- the journey


def test_birth_registration_submit_receive_and_track(live_server: str, citizen: Page, official: Page,
                                                      pdf_file: Path, screenshots: Path) -> None:
    # 1. the citizen finds the procedure and opens the submission form
    citizen.goto(live_server + "/")
    expect(citizen.get_by_role("heading", level=1, name="Thủ tục hành chính")).to_be_visible()
    shot(citizen, screenshots, "01-home")
    citizen.get_by_role("link", name="Đăng ký khai sinh", exact=True).click()
    expect(citizen.get_by_role("heading", level=1, name="Đăng ký khai sinh")).to_be_visible()
    expect(citizen.get_by_text("Ủy ban nhân dân phường Trường Vinh").first).to_be_visible()
    shot(citizen, screenshots, "02-procedure")
    citizen.get_by_role("link", name="Nộp hồ sơ trực tuyến").click()
    expect(citizen.get_by_role("heading", level=1, name="Thông tin người nộp hồ sơ")).to_be_visible()
    assert citizen.url.endswith("/nop-ho-so")

    # 2. server-side validation on each step: the child's name left empty → error summary, nothing submitted
    fill_birth_registration(citizen, pdf_file, child_name="")
    form_url = citizen.url
    shot(citizen, screenshots, "03-form-filled")
    next_step(citizen)
    summary = citizen.get_by_role("alert").filter(has_text="Có lỗi cần sửa")
    expect(summary).to_be_visible()
    error_link = summary.get_by_role("link", name=re.compile("Họ, chữ đệm, tên của người được khai sinh"))
    expect(error_link).to_have_count(1)
    expect(error_link).to_have_attribute("href", "#hoso-child_full_name")
    assert citizen.url == form_url  # still on the step: no redirect
    expect(citizen.locator("#dossier-code")).to_have_count(0)
    child_name = field(citizen, CHILD_NAME)
    expect(child_name).to_have_attribute("aria-invalid", "true")
    # what was typed is kept
    expect(field(citizen, "Ngày, tháng, năm sinh (bắt buộc)")).to_have_value("2025-10-28")
    expect(field(citizen, "Nơi sinh (bắt buộc)")).to_have_value(BIRTH_FIELDS["Nơi sinh (bắt buộc)"])
    shot(citizen, screenshots, "04-form-errors")
    error_link.click()  # the summary's link leads to the field
    expect(child_name).to_be_focused()

    # 2b. correct it, go through the other steps and submit from the check page
    child_name.fill("Nguyễn Minh Khôi")
    finish_birth_registration(citizen, pdf_file)
    expect(citizen.get_by_role("heading", level=1, name="Đã nộp hồ sơ thành công")).to_be_visible()
    code = citizen.locator("#dossier-code").inner_text().strip()
    secret = citizen.locator("#tracking-secret").inner_text().strip()
    match = CODE_RE.match(code)
    assert match, code
    datetime.strptime(match[1], "%y%m%d")  # a real date
    assert match[2] == "0001", "the refused attempt must not have used a dossier number"
    assert re.fullmatch(r"[A-Z0-9]{10}", secret), secret
    shot(citizen, screenshots, "05-submitted")

    # 3. the one-stop-shop official receives the dossier
    official.goto(live_server + "/")
    log_in(official, "tiepnhan.phuong")
    row = inbox_row(official, code)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Kiểm tra, tiếp nhận hồ sơ")
    expect(row).to_contain_text("Nguyễn Văn Đức")
    expect(official.get_by_role("row").filter(has_text=f"{UNIT_CODE}-")).to_have_count(1)  # only one dossier
    shot(official, screenshots, "06-inbox-reception")
    row.get_by_role("link", name=code).click()
    expect(official.get_by_role("heading", level=1, name="Kiểm tra, tiếp nhận hồ sơ")).to_be_visible()
    expect(official.get_by_text("Nguyễn Văn Đức").first).to_be_visible()
    expect(official.get_by_text("Nguyễn Minh Khôi")).to_be_visible()
    file_links = official.get_by_role("link", name=PDF_NAME)
    expect(file_links.first).to_be_visible()
    href = file_links.first.get_attribute("href")
    assert href
    download = official.request.get(live_server + href)
    assert download.ok, download.status
    assert download.headers["content-type"].startswith("application/pdf")
    assert download.body() == PDF_BODY
    shot(official, screenshots, "07-task-reception")

    task_form = official.get_by_role("region", name="Xử lý: Kiểm tra, tiếp nhận hồ sơ")
    components = task_form.get_by_role("group", name="Thành phần hồ sơ đã có và đúng quy định")
    for name in ("Tờ khai đăng ký khai sinh", "Giấy chứng sinh hoặc giấy tờ thay thế",
                 "Giấy tờ tùy thân của người đi đăng ký (xuất trình)",
                 "Giấy chứng nhận kết hôn của cha, mẹ (xuất trình, nếu có)"):
        components.get_by_label(name, exact=True).check()
    decision = task_form.get_by_role("group", name="Kết quả kiểm tra hồ sơ (bắt buộc)")
    decision.get_by_label("Tiếp nhận hồ sơ", exact=True).check()
    task_form.get_by_role("button", name="Hoàn thành").click()

    expect(official.get_by_role("heading", level=1, name="Công việc của tôi")).to_be_visible()
    expect(official.get_by_role("status").first).to_contain_text(
        f"Đã hoàn thành “Kiểm tra, tiếp nhận hồ sơ” cho hồ sơ {code}.")
    offer = official.locator(".paper-offer")  # the receipt is offered at once, for printing at the desk
    expect(offer).to_contain_text("In giấy 01")
    receipt = offer.get_by_role("link").first.get_attribute("href")
    assert receipt and receipt.endswith("/giay-to/01.pdf")
    expect(inbox_row(official, code)).to_have_count(0)
    shot(official, screenshots, "08-inbox-after-reception")
    log_out(official, "Nguyễn Thị Lan")

    # 4. the specialist sees the next task of the same dossier
    log_in(official, "chuyenvien.phuong")
    row = inbox_row(official, code)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Xác minh, dự thảo Giấy khai sinh")
    shot(official, screenshots, "09-inbox-specialist")
    log_out(official, "Trần Văn Hùng")

    # 5. the citizen tracks the dossier with code + secret
    assert track(citizen, code, secret) == 302
    expect(citizen.get_by_role("heading", level=1, name=f"Hồ sơ {code}")).to_be_visible()
    expect(citizen.locator("#dossier-status")).to_have_text("Đang xử lý")
    entries = citizen.locator("#timeline > li")  # the plain-Vietnamese timeline, one entry per event
    expect(entries.filter(has_text="Đã nộp hồ sơ")).to_have_count(1)
    expect(entries.filter(has_text="tiếp nhận hồ sơ").first).to_be_visible()
    expect(citizen.locator("#due-at")).to_have_text(DATETIME_RE)
    shot(citizen, screenshots, "10-tracking")

    # 6. a wrong secret and an unknown code get the very same answer
    wrong = ("B" if secret[0] != "B" else "C") + secret[1:]
    assert track(citizen, code, wrong) == 404
    error = citizen.get_by_role("alert")
    expect(error).to_have_text(NOT_FOUND)
    expect(citizen.locator("#dossier-status")).to_have_count(0)
    shot(citizen, screenshots, "11-tracking-wrong-secret")
    wrong_secret_text = error.inner_text()
    assert track(citizen, f"{UNIT_CODE}-000101-9999", secret) == 404
    expect(error).to_have_text(NOT_FOUND)
    expect(citizen.locator("#dossier-status")).to_have_count(0)
    assert error.inner_text() == wrong_secret_text


# --------------------------------------------------------------------------- small screens


def test_public_pages_fit_a_phone(live_server: str, phone: Page, screenshots: Path) -> None:
    def assert_no_horizontal_scroll(name: str) -> None:
        width = phone.evaluate("document.documentElement.scrollWidth")
        shot(phone, screenshots, f"phone-{name}")
        assert width <= PHONE_WIDTH, f"{name}: the page is {width}px wide on a {PHONE_WIDTH}px screen"

    phone.goto(live_server + "/")
    expect(phone.get_by_role("heading", level=1, name="Thủ tục hành chính")).to_be_visible()
    assert phone.evaluate("window.innerWidth") == PHONE_WIDTH
    assert_no_horizontal_scroll("home")

    phone.get_by_role("link", name="Đăng ký khai sinh", exact=True).click()
    expect(phone.get_by_role("heading", level=1, name="Đăng ký khai sinh")).to_be_visible()
    assert_no_horizontal_scroll("procedure")

    phone.get_by_role("link", name="Nộp hồ sơ trực tuyến").click()
    expect(phone.get_by_role("button", name="Tiếp tục", exact=True)).to_be_visible()
    assert_no_horizontal_scroll("submit-form")

    phone.get_by_role("button", name="Tiếp tục", exact=True).click()  # empty: the error summary must fit too
    expect(phone.get_by_role("alert").filter(has_text="Có lỗi cần sửa").first).to_be_visible()
    assert_no_horizontal_scroll("submit-form-errors")

    phone.get_by_role("link", name="Tra cứu hồ sơ").click()
    expect(phone.get_by_role("heading", level=1, name="Tra cứu hồ sơ")).to_be_visible()
    assert_no_horizontal_scroll("tracking-form")
