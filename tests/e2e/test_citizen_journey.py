"""A citizen's whole path on a 360 px phone, in Debian's Chromium against a live server wired to the payment
gateway simulator: search without diacritics, submit the household business registration in steps with uploads,
save and resume in another browser, check and submit, pay the fee on the gateway's page, track, supply the
supplement the one-stop shop asks for, follow the officials to the result, rate. Then a submission made with the
keyboard alone (visible focus at every stop) and the upload abuse cases (a PNG named .pdf, an empty file, a zip,
a zip bomb named .pdf).
"""

from __future__ import annotations

import base64
import io
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect

pytestmark = pytest.mark.browser

TIMEOUT_MS = 15_000
PHONE = {"width": 360, "height": 740}
HOUSEHOLD_BUSINESS = "1.001612"
CERTIFIED_COPY = "2.000815"
CODE_RE = re.compile(r"000\.00\.00\.H41-\d{6}-\d{4}")
PDF_BODY = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
# the scenario's own tiny JPEG (tests/workflows/scenarios/dang_ky_ho_kinh_doanh.json)
JPEG_BODY = base64.b64decode(
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAMCAgICAgMCAgIDAwMDBAYEBAQEBAgGBgUGCQgKCgkICQkKDA8MCgsOCwkJDRENDg8QEBEQCgwSE"
    "xIQEw8QEBD/2Q==")
PNG_BODY = base64.b64decode(  # a valid 1×1 PNG
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")

APPLICANT = {
    "Họ và tên người nộp hồ sơ (bắt buộc)": "Phạm Thị Lan",
    "Số định danh cá nhân (CCCD) hoặc mã số thuế": "001178012345",
    "Số điện thoại": "0912345678",
}
BUSINESS = {
    "Tên hộ kinh doanh (bắt buộc)": "Hộ kinh doanh Phở Bà Lan",
    "Địa điểm kinh doanh – Tỉnh/thành phố (bắt buộc)": "Tỉnh Nghệ An",
    "Địa điểm kinh doanh – Xã/phường/đặc khu (bắt buộc)": "Phường Trường Vinh",
    "Địa điểm kinh doanh – Số nhà, đường/phố, thôn/ấp/tổ dân phố (bắt buộc)": "Số 25 đường Lê Lợi",
    "Ngành, nghề kinh doanh (bắt buộc)": "5610 - Nhà hàng và các dịch vụ ăn uống phục vụ lưu động",
    "Vốn kinh doanh (đồng) (bắt buộc)": "150000000",
    "Số lượng lao động (bắt buộc)": "4",
}
OWNER = {
    "Họ và tên chủ hộ kinh doanh (bắt buộc)": "Phạm Thị Lan",
    "Ngày sinh của chủ hộ (bắt buộc)": "1978-02-20",
    "Số định danh cá nhân của chủ hộ (bắt buộc)": "001178012345",
    "Địa chỉ thường trú của chủ hộ (bắt buộc)": "Số 25 đường Lê Lợi, phường Trường Vinh, tỉnh Nghệ An",
}
APPLICATION_FILE = "Giấy đề nghị đăng ký hộ kinh doanh đã ký (bắt buộc)"
ID_COPY_FILE = "Bản sao giấy tờ pháp lý của chủ hộ kinh doanh (bắt buộc)"
SUPPLEMENT = "Thiếu văn bản ủy quyền của các thành viên hộ gia đình cho bà Phạm Thị Lan làm chủ hộ kinh doanh."


# --------------------------------------------------------------------------- helpers


def _phone(browser: Browser, **options) -> BrowserContext:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="vi-VN",
                                  timezone_id="Asia/Ho_Chi_Minh", **options)
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    return context


@pytest.fixture(autouse=True)
def patient_expect() -> Iterator[None]:
    """Explicit waits of up to 15 s: the two shared cores may be busy with other work."""
    expect.set_options(timeout=TIMEOUT_MS)
    yield
    expect.set_options(timeout=5_000)


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    context = _phone(browser)
    yield context.new_page()
    context.close()


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("giay_to.pdf", PDF_BODY)
    bomb = io.BytesIO()  # 20 MB of zeros deflated to some 20 KB, named like a PDF
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("ban_chinh.pdf", bytes(20 * 1024 * 1024))
    out = {}
    for name, body in (("giay_de_nghi.pdf", PDF_BODY), ("cccd_chu_ho.jpg", JPEG_BODY),
                       ("van_ban_uy_quyen.pdf", PDF_BODY), ("anh_chup_ban_chinh.pdf", PNG_BODY),
                       ("ban_chinh_trong.pdf", b""), ("ho_so_nen.zip", zipped.getvalue()),
                       ("bom_nen.pdf", bomb.getvalue())):
        path = tmp_path / name
        path.write_bytes(body)
        out[name] = path
    return out


def fill(scope: Page | Locator, values: dict[str, str]) -> None:
    for label, value in values.items():
        scope.get_by_label(label, exact=True).fill(value)


def step(page: Page, progress: str, heading: str) -> None:
    expect(page.get_by_text(progress, exact=True)).to_be_visible()
    expect(page.get_by_role("heading", level=1, name=heading)).to_be_visible()


def go_on(page: Page) -> None:
    page.get_by_role("button", name="Tiếp tục", exact=True).click()


def no_sideways_scroll(page: Page, where: str) -> None:
    overflow = page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"{where}: scrolls sideways by {overflow}px at 360px"


# --------------------------------------------------------------------------- the journey


def test_household_business_from_search_to_rating_on_a_phone(
        live_server_with_partners: str, browser: Browser, phone: Page, complete_task, files) -> None:
    base, page = live_server_with_partners, phone

    # 1. find it: no diacritics typed
    page.goto(base + "/")
    page.get_by_role("searchbox", name="Tìm thủ tục").fill("dang ky ho kinh doanh")
    page.get_by_role("button", name="Tìm kiếm", exact=True).click()
    results = page.get_by_role("region", name="Kết quả tìm kiếm")
    expect(results).to_contain_text("thủ tục cho “dang ky ho kinh doanh”")
    results.get_by_role("link", name="Đăng ký thành lập hộ kinh doanh", exact=True).click()
    expect(page.get_by_role("heading", level=1, name="Đăng ký thành lập hộ kinh doanh")).to_be_visible()
    main = page.get_by_role("main")
    expect(main).to_contain_text(HOUSEHOLD_BUSINESS)
    expect(main).to_contain_text("100.000 đ")
    expect(main).to_contain_text("3 ngày làm việc")
    no_sideways_scroll(page, "procedure")

    # 2. the first steps, then "save and continue later" in the middle
    page.get_by_role("link", name="Nộp hồ sơ trực tuyến").click()
    step(page, "Bước 1/6", "Thông tin người nộp hồ sơ")
    fill(page, APPLICANT)
    go_on(page)
    step(page, "Bước 2/6", "Cách nộp hồ sơ và nhận kết quả")
    expect(page.get_by_role("radio", name="Nộp trực tuyến: tải lên bản điện tử các giấy tờ")).to_be_checked()
    page.get_by_role("radio", name="Nhận bản điện tử (tải về từ trang tra cứu hồ sơ)").check()
    go_on(page)
    step(page, "Bước 3/6", "Thông tin hộ kinh doanh")
    fill(page, BUSINESS)
    page.get_by_role("group", name="Hộ kinh doanh do (bắt buộc)").get_by_label("Một cá nhân đăng ký").check()
    no_sideways_scroll(page, "step 3")
    page.get_by_role("button", name="Lưu và tiếp tục sau", exact=True).click()
    expect(page.get_by_role("heading", level=1, name="Lưu và tiếp tục sau")).to_be_visible()
    page.get_by_label("Thư điện tử hoặc số điện thoại di động", exact=True).fill("lan.pham@example.vn")
    page.get_by_role("button", name="Gửi đường dẫn", exact=True).click()
    expect(page.get_by_role("status").first).to_contain_text("lan.pham@example.vn")
    link = page.get_by_role("link", name=re.compile(r"\/nop-tiep\/\S+$"))
    expect(link).to_have_count(1)
    resume = link.inner_text().strip()
    assert resume.startswith(base + "/nop-tiep/"), resume
    assert resume.endswith(str(link.get_attribute("href"))), "the link shown is the link followed"
    no_sideways_scroll(page, "save")
    page.context.close()

    # 3. resume in another browser: the saved answers are there, the next step is the owner's
    context = _phone(browser)
    page = context.new_page()
    page.goto(resume)
    step(page, "Bước 4/6", "Thông tin chủ hộ kinh doanh")
    page.get_by_role("link", name="Quay lại").click()
    step(page, "Bước 3/6", "Thông tin hộ kinh doanh")
    expect(page.get_by_label("Tên hộ kinh doanh (bắt buộc)", exact=True)).to_have_value("Hộ kinh doanh Phở Bà Lan")
    go_on(page)
    step(page, "Bước 4/6", "Thông tin chủ hộ kinh doanh")
    fill(page, OWNER)
    page.get_by_role("group", name="Giới tính của chủ hộ (bắt buộc)").get_by_label("Nữ", exact=True).check()
    go_on(page)
    step(page, "Bước 5/6", "Giấy tờ đính kèm")
    page.get_by_label(APPLICATION_FILE, exact=True).set_input_files(files["giay_de_nghi.pdf"])
    page.get_by_label(ID_COPY_FILE, exact=True).set_input_files(files["cccd_chu_ho.jpg"])
    go_on(page)

    # 4. check your answers, submit
    step(page, "Bước 6/6", "Kiểm tra lại thông tin")
    main = page.get_by_role("main")
    for answer in ("Phạm Thị Lan", "Hộ kinh doanh Phở Bà Lan", "20/02/1978", "giay_de_nghi.pdf", "cccd_chu_ho.jpg",
                   "Nhận bản điện tử (tải về từ trang tra cứu hồ sơ)"):
        expect(main).to_contain_text(answer)
    no_sideways_scroll(page, "check")
    page.get_by_role("button", name="Nộp hồ sơ", exact=True).click()
    expect(page.get_by_role("heading", level=1, name="Đã nộp hồ sơ thành công")).to_be_visible()
    code = page.locator("#dossier-code").inner_text().strip()
    secret = page.locator("#tracking-secret").inner_text().strip()
    assert CODE_RE.fullmatch(code) and re.fullmatch(r"[A-Z0-9]{10}", secret), (code, secret)
    expect(main).to_contain_text("Ngày hẹn trả kết quả dự kiến")
    expect(main).to_contain_text("Trung tâm Phục vụ hành chính công tỉnh Nghệ An")
    no_sideways_scroll(page, "confirmation")
    answer = page.request.get(resume, max_redirects=0)
    assert answer.status == 410, "the resume link dies with the submission"

    # 5. pay the fee from the tracking page, on the gateway's hosted page, and come back
    page.get_by_role("link", name="Theo dõi hồ sơ").click()
    expect(page.get_by_role("heading", level=1, name=f"Hồ sơ {code}")).to_be_visible()
    expect(main).to_contain_text("Chưa thanh toán")
    main.get_by_role("link", name="Thanh toán", exact=True).click()
    expect(page.get_by_role("heading", level=1, name="Thanh toán lệ phí")).to_be_visible()
    expect(main).to_contain_text("100.000 đ")
    no_sideways_scroll(page, "payment")
    page.get_by_role("button", name="Thanh toán", exact=True).click()
    expect(page.get_by_role("heading", level=1, name="Cổng thanh toán trực tuyến (mô phỏng)")).to_be_visible()
    expect(page.locator("body")).to_contain_text(code)
    expect(page.locator("body")).to_contain_text("100.000 đ")
    page.get_by_role("button", name="Thanh toán", exact=True).click()
    expect(page.get_by_role("heading", level=1, name="Kết quả thanh toán")).to_be_visible()
    expect(page.get_by_role("status").first).to_contain_text(f"Đã thanh toán 100.000 đ cho hồ sơ {code}.")
    expect(page.get_by_role("link", name="Tải biên lai (PDF)")).to_be_visible()
    no_sideways_scroll(page, "payment result")
    page.get_by_role("link", name="Quay lại trang tra cứu hồ sơ").click()
    expect(page.get_by_role("heading", level=1, name=f"Hồ sơ {code}")).to_be_visible()
    expect(main).to_contain_text("Đã thanh toán 100.000 đ")
    expect(page.locator("#timeline > li").filter(has_text="Đã thanh toán phí, lệ phí")).to_have_count(1)
    tracking = page.url

    # 6. the one-stop shop asks for one more paper; the citizen sees what and supplies it right there
    def ask_supplement(form: Locator) -> None:
        form.get_by_label("Yêu cầu bổ sung, hoàn thiện hồ sơ", exact=True).check()
        form.get_by_label("Nội dung cần bổ sung, hoàn thiện", exact=True).fill(SUPPLEMENT)

    complete_task("tiepnhan.tinh", code, "Kiểm tra, tiếp nhận hồ sơ", ask_supplement)
    page.goto(tracking)
    expect(page.get_by_text("Trạng thái: Yêu cầu bổ sung")).to_be_visible()
    todo = page.get_by_role("region", name="Việc bạn cần làm: Bổ sung hồ sơ")
    expect(todo).to_contain_text("Giấy tờ cần bổ sung:")
    expect(todo.get_by_role("listitem")).to_have_text([SUPPLEMENT])
    no_sideways_scroll(page, "tracking with a supplement request")
    todo.get_by_label("Giấy tờ bổ sung (bắt buộc)", exact=True).set_input_files(files["van_ban_uy_quyen.pdf"])
    todo.get_by_label("Ghi chú, giải trình của người nộp hồ sơ", exact=True).fill("Bổ sung văn bản ủy quyền.")
    todo.get_by_role("button", name="Gửi", exact=True).click()
    expect(page.get_by_text("Đã gửi. Hồ sơ của bạn tiếp tục được xử lý.")).to_be_visible()
    expect(page.get_by_role("region", name="Việc bạn cần làm: Bổ sung hồ sơ")).to_have_count(0)
    expect(page.locator("#timeline > li").filter(has_text="Đã nhận giấy tờ bổ sung")).to_have_count(1)

    # 7. the officials finish, following tests/workflows/scenarios/dang_ky_ho_kinh_doanh.json
    def accept(form: Locator) -> None:
        for component in ("Giấy đề nghị đăng ký hộ kinh doanh", "Bản sao giấy tờ pháp lý của cá nhân chủ hộ kinh doanh",
                          "Văn bản ủy quyền cho thành viên làm chủ hộ (nếu có)"):
            form.get_by_label(component, exact=True).check()
        form.get_by_label("Tiếp nhận hồ sơ", exact=True).check()

    def propose(form: Locator) -> None:
        form.get_by_label("Hợp lệ, không trùng tên trên địa bàn cấp xã", exact=True).check()
        form.get_by_label("Hợp lệ, không thuộc ngành, nghề cấm kinh doanh", exact=True).check()
        form.get_by_label("Cấp Giấy chứng nhận đăng ký hộ kinh doanh", exact=True).check()
        form.get_by_label("Mã số hộ kinh doanh dự kiến", exact=True).fill("27D8012345")
        form.get_by_label("Dự thảo Giấy chứng nhận / thông báo", exact=True).set_input_files(files["giay_de_nghi.pdf"])
        form.get_by_label("Ý kiến của chuyên viên (bắt buộc)", exact=True).fill(
            "Tên không trùng trên địa bàn; ngành nghề không thuộc danh mục cấm.")

    def approve(form: Locator) -> None:
        form.get_by_label("Đồng ý, ký duyệt kết quả", exact=True).check()

    def hand_over(form: Locator) -> None:
        form.get_by_label("Trực tuyến (kết quả điện tử)", exact=True).check()
        form.get_by_label("Họ và tên người nhận kết quả (bắt buộc)", exact=True).fill("Phạm Thị Lan")

    complete_task("tiepnhan.tinh", code, "Kiểm tra, tiếp nhận hồ sơ", accept)
    complete_task("chuyenvien.tinh", code, "Kiểm tra tên, ngành nghề, đề xuất", propose)
    complete_task("lanhdao.tinh", code, "Xem xét, quyết định", approve)
    complete_task("tiepnhan.tinh", code, "Trả kết quả", hand_over)

    # 8. the result is out: the citizen rates the service
    page.goto(tracking)
    expect(page.get_by_text("Trạng thái: Đã trả kết quả")).to_be_visible()
    expect(page.get_by_role("region", name="Đã trả kết quả")).to_contain_text("Ngày có kết quả")
    rating = page.get_by_role("region", name="Đánh giá mức độ hài lòng")
    no_sideways_scroll(page, "tracking with the rating form")
    rating.get_by_role("group", name="Mức độ hài lòng").get_by_label("Rất hài lòng", exact=True).check()
    rating.get_by_label("Ý kiến góp ý (không bắt buộc)").fill("Thủ tục nhanh, hướng dẫn rõ ràng, không phải đi lại.")
    rating.get_by_role("button", name="Gửi đánh giá").click()
    expect(page.get_by_text("Cảm ơn bạn đã đánh giá! Ý kiến của bạn giúp cơ quan phục vụ tốt hơn.")).to_be_visible()
    expect(page.get_by_role("region", name="Đánh giá mức độ hài lòng")).to_contain_text(
        "Bạn đã đánh giá: Rất hài lòng")
    no_sideways_scroll(page, "thank-you")
    context.close()


# --------------------------------------------------------------------------- keyboard only


FOCUS_VISIBLE = """() => {
    const el = document.activeElement;
    if (!el || el === document.body) return false;
    const s = getComputedStyle(el);
    return (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== 'none';
}"""
FOCUSED = """() => {
    const el = document.activeElement;
    if (!el || el === document.body) return '';
    const label = el.labels && el.labels.length ? el.labels[0].innerText : '';
    return [el.tagName.toLowerCase(), el.type || '', el.name || '', el.value || '',
            (label || el.innerText || el.getAttribute('aria-label') || '').trim()].join('|');
}"""


def tab_to(page: Page, predicate, *, back: bool = False, limit: int = 60) -> str:
    """Press Tab (Shift+Tab) until the focused element matches; every stop must show where the focus is."""
    for _ in range(limit):
        page.keyboard.press("Shift+Tab" if back else "Tab")
        focused = page.evaluate(FOCUSED)
        if focused:
            assert page.evaluate(FOCUS_VISIBLE), f"no visible focus on {focused!r}"
        if focused and predicate(focused.split("|")):
            return focused
    raise AssertionError("never reached the wanted control with the keyboard")


def by_name(name: str, value: str | None = None):
    return lambda f: f[2] == name and (value is None or f[3] == value)


def by_text(text: str):
    return lambda f: f[4] == text


def test_certified_copy_submitted_with_the_keyboard_alone(live_server_with_partners: str, phone: Page) -> None:
    page = phone
    page.goto(live_server_with_partners + f"/thu-tuc/{CERTIFIED_COPY}")
    tab_to(page, by_text("Nộp hồ sơ trực tuyến"))
    page.keyboard.press("Enter")
    step(page, "Bước 1/2", "Thông tin người nộp và nội dung hồ sơ")

    typed = {"nguoinop-name": "Lê Văn Bàn Phím", "nguoinop-phone": "0912000222",
             "hoso-document_name": "Bằng tốt nghiệp đại học", "hoso-page_count": "3", "hoso-copy_count": "2"}
    for name, text in typed.items():
        tab_to(page, by_name(name))
        page.keyboard.type(text)
    # back up with Shift+Tab to the first radio group, choose with Space
    tab_to(page, by_name("hoso-document_origin", "vietnam"), back=True)
    page.keyboard.press("Space")
    tab_to(page, by_name("hoso-copy_form", "paper"))
    page.keyboard.press("Space")
    tab_to(page, by_text("Tiếp tục"))
    page.keyboard.press("Enter")

    step(page, "Bước 2/2", "Kiểm tra lại thông tin")
    main = page.get_by_role("main")
    for answer in ("Lê Văn Bàn Phím", "Bằng tốt nghiệp đại học", "Bản sao giấy"):
        expect(main).to_contain_text(answer)
    tab_to(page, by_text("Nộp hồ sơ"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1, name="Đã nộp hồ sơ thành công")).to_be_visible()
    expect(page.locator("#dossier-code")).to_have_text(re.compile(r"000\.31\.33\.H41-\d{6}-\d{4}"))


# --------------------------------------------------------------------------- upload abuse


@pytest.mark.parametrize(("filename", "message"), [
    ("anh_chup_ban_chinh.pdf", "Tệp 'anh_chup_ban_chinh.pdf' có đuôi .pdf nhưng nội dung là"),
    ("ban_chinh_trong.pdf", "Tệp 'ban_chinh_trong.pdf' rỗng."),
    ("ho_so_nen.zip", "Tệp 'ho_so_nen.zip' là tệp nén"),
    ("bom_nen.pdf", "Tệp 'bom_nen.pdf' là tệp nén"),  # a zip bomb is refused unopened
])
def test_refused_upload_names_the_file_and_keeps_the_answers(
        live_server_with_partners: str, phone: Page, files, filename: str, message: str) -> None:
    page = phone
    page.goto(live_server_with_partners + f"/thu-tuc/{CERTIFIED_COPY}/nop-ho-so")
    answers = {"Họ và tên người nộp hồ sơ (bắt buộc)": "Đỗ Thị Tải Lên", "Số điện thoại": "0912000333",
               "Tên giấy tờ, văn bản (bắt buộc)": "Giấy khai sinh", "Số trang của bản chính (bắt buộc)": "1",
               "Số bản sao cần chứng thực (bắt buộc)": "2"}
    fill(page, answers)
    page.get_by_label("Do cơ quan, tổ chức có thẩm quyền của Việt Nam cấp hoặc chứng nhận", exact=True).check()
    page.get_by_label("Bản sao điện tử", exact=True).check()
    page.get_by_label("Bản chụp / bản quét bản chính", exact=True).set_input_files(files[filename])
    go_on(page)

    summary = page.get_by_role("alert").filter(has_text="Có lỗi cần sửa")
    expect(summary).to_be_visible()
    expect(summary).to_contain_text(message)
    expect(page.get_by_role("main")).to_contain_text(filename)
    step(page, "Bước 1/2", "Thông tin người nộp và nội dung hồ sơ")  # not moved on
    for label, value in answers.items():
        expect(page.get_by_label(label, exact=True)).to_have_value(value)
    expect(page.get_by_label("Bản sao điện tử", exact=True)).to_be_checked()
    expect(page.get_by_label("Do cơ quan, tổ chức có thẩm quyền của Việt Nam cấp hoặc chứng nhận",
                             exact=True)).to_be_checked()
    no_sideways_scroll(page, f"refused {filename}")
