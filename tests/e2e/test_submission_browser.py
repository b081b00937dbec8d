"""In a real browser (headless Chromium, no JavaScript needed): a birth registration submitted in steps with an
upload, a step refused then corrected, the check page with an edit, submission, and the bookmarkable confirmation
with its receipt PDF."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

pytestmark = pytest.mark.browser

TIMEOUT_MS = 15_000
PDF_NAME = "giay_chung_sinh.pdf"
PDF_BODY = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"

APPLICANT = {
    "Họ và tên người nộp hồ sơ (bắt buộc)": "Nguyễn Văn Đức",
    "Số định danh cá nhân (CCCD) hoặc mã số thuế": "040093005678",
    "Số điện thoại": "0912345678",
}
CHILD = {
    "Họ, chữ đệm, tên của người được khai sinh (bắt buộc)": "Nguyễn Minh Khôi",
    "Ngày, tháng, năm sinh (bắt buộc)": "2025-10-28",
    "Nơi sinh (bắt buộc)": "Bệnh viện Phụ sản Nghệ An",
    "Quê quán (bắt buộc)": "Xã Nghi Lộc, tỉnh Nghệ An",
}
MOTHER = {
    "Họ, chữ đệm, tên người mẹ (bắt buộc)": "Trần Thị Thu Hà",
    "Ngày, tháng, năm sinh của người mẹ (bắt buộc)": "1996-04-12",
    "Nơi cư trú của người mẹ (bắt buộc)": "Số 12 đường Lê Lợi, phường Thành Vinh, tỉnh Nghệ An",
}


@pytest.fixture
def citizen(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh", java_script_enabled=False,
                                  viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    yield context.new_page()
    context.close()


def fill(page: Page, values: dict[str, str]) -> None:
    for label, value in values.items():
        page.get_by_label(label, exact=True).fill(value)


def go_on(page: Page, expected_step: str, heading: str) -> None:
    page.get_by_role("button", name="Tiếp tục", exact=True).click()
    expect(page.locator("#step-progress")).to_have_text(expected_step)
    expect(page.get_by_role("heading", level=1, name=heading)).to_be_visible()


def test_birth_registration_in_steps_with_check_page_and_bookmarkable_confirmation(
        live_server: str, browser: Browser, citizen: Page, tmp_path: Path) -> None:
    pdf = tmp_path / PDF_NAME
    pdf.write_bytes(PDF_BODY)
    page = citizen
    page.goto(live_server + "/thu-tuc/1.001193")
    page.get_by_role("link", name="Nộp hồ sơ trực tuyến").click()
    expect(page.locator("#step-progress")).to_have_text("Bước 1/7")
    expect(page.get_by_role("heading", level=1, name="Thông tin người nộp hồ sơ")).to_be_visible()
    fill(page, APPLICANT)
    go_on(page, "Bước 2/7", "Cách nộp hồ sơ và nhận kết quả")
    expect(page.get_by_label("Nộp trực tuyến: tải lên bản điện tử các giấy tờ", exact=True)).to_be_checked()
    page.get_by_label("Nhận bản điện tử (tải về từ trang tra cứu hồ sơ)", exact=True).check()
    go_on(page, "Bước 3/7", "Thông tin người được khai sinh")

    # a step is checked on Continue: the error summary links to the field, nothing moves on
    page.get_by_role("button", name="Tiếp tục", exact=True).click()
    summary = page.get_by_role("alert").filter(has_text="Có lỗi cần sửa")
    expect(summary).to_be_visible()
    expect(page.locator("#step-progress")).to_have_text("Bước 3/7")
    fill(page, CHILD)
    page.get_by_role("group", name="Giới tính (bắt buộc)").get_by_label("Nam", exact=True).check()
    go_on(page, "Bước 4/7", "Thông tin người mẹ")
    fill(page, MOTHER)
    go_on(page, "Bước 5/7", "Thông tin người cha")
    page.get_by_label("Quan hệ của người đi đăng ký với người được khai sinh (bắt buộc)",
                      exact=True).select_option(label="Cha")
    go_on(page, "Bước 6/7", "Giấy tờ đính kèm")
    page.get_by_label("Giấy chứng sinh (bắt buộc)", exact=True).set_input_files(pdf)
    go_on(page, "Bước 7/7", "Kiểm tra lại thông tin")

    # check your answers, edit one, come back
    main = page.get_by_role("main")
    for answer in ("Nguyễn Văn Đức", "Nguyễn Minh Khôi", "28/10/2025", "Trần Thị Thu Hà", PDF_NAME,
                   "Nhận bản điện tử (tải về từ trang tra cứu hồ sơ)"):
        expect(main).to_contain_text(answer)
    page.get_by_role("link", name="Sửa thông tin người mẹ").click()
    expect(page.get_by_label("Họ, chữ đệm, tên người mẹ (bắt buộc)", exact=True)).to_have_value("Trần Thị Thu Hà")
    page.get_by_label("Họ, chữ đệm, tên người mẹ (bắt buộc)", exact=True).fill("Trần Thị Hà")
    go_on(page, "Bước 7/7", "Kiểm tra lại thông tin")
    expect(main).to_contain_text("Trần Thị Hà")
    expect(main).to_contain_text(PDF_NAME)  # the file stayed in the draft

    page.get_by_role("button", name="Nộp hồ sơ", exact=True).click()
    expect(page.get_by_role("heading", level=1, name="Đã nộp hồ sơ thành công")).to_be_visible()
    code = page.locator("#dossier-code").inner_text().strip()
    secret = page.locator("#tracking-secret").inner_text().strip()
    assert re.fullmatch(r"000\.31\.33\.H41-\d{6}-\d{4}", code) and re.fullmatch(r"[A-Z0-9]{10}", secret)
    expect(page.get_by_role("heading", level=2, name="Tiếp theo")).to_be_visible()
    expect(main).to_contain_text("Ngày hẹn trả kết quả dự kiến")
    bookmark = page.url
    assert re.search(r"/ho-so/[^/]+/da-nop/[^/]+$", bookmark), bookmark
    receipt = page.get_by_role("link", name="Tải giấy tiếp nhận hồ sơ (PDF)").get_attribute("href")
    answer = page.request.get(live_server + str(receipt))
    assert answer.ok and answer.headers["content-type"].startswith("application/pdf")
    assert answer.body().startswith(b"%PDF")

    # the bookmark opens in another browser
    other = browser.new_context(locale="vi-VN")
    try:
        again = other.new_page()
        again.goto(bookmark)
        expect(again.locator("#dossier-code")).to_have_text(code)
        expect(again.locator("#tracking-secret")).to_have_text(secret)
    finally:
        other.close()
