"""Every public page against axe-core (WCAG 2.1 A/AA rules) in Debian's Chromium, on a 360 px phone screen:
no serious or critical violation, no sideways scrolling, under 200 KB transferred."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
PHONE = {"width": 360, "height": 740}
BUDGET = 200 * 1024
APPLICANT = {"name": "Võ Thị Truy Cập", "phone": "0912000111", "email": "truycap@example.vn"}


@pytest.fixture(scope="module")
def dossier(live_server) -> tuple[str, str]:
    """A submitted dossier (through the public API) for the tracking pages."""
    r = httpx.post(f"{live_server}/api/v1/dossiers", timeout=30, json={
        "procedure": "2.000815", "channel": "online", "applicant": APPLICANT,
        "data": _certified_copy_data()})
    assert r.status_code == 201, r.text
    body = r.json()
    return body["code"], body["tracking_secret"]


def _certified_copy_data() -> dict:
    import json

    for scenario in json.loads((ROOT / "tests/workflows/scenarios/chung_thuc_ban_sao.json").read_text("utf-8")):
        return scenario["submission"]
    raise AssertionError("no scenario")


def _pages(dossier: tuple[str, str]) -> list[tuple[str, str]]:
    code, secret = dossier
    pages = [("trang chủ", "/"), ("tra cứu", "/tra-cuu/"), ("đăng nhập cán bộ", "/dang-nhap"),
             ("tra cứu hồ sơ", f"/tra-cuu/{code}?mat_ma={secret}")]
    for proc in ("1.001193", "1.001612", "1.009994", "2.000815"):
        pages += [(f"thủ tục {proc}", f"/thu-tuc/{proc}"), (f"nộp hồ sơ {proc}", f"/thu-tuc/{proc}/nop-ho-so")]
    return pages


AXE_RUN = """async () => {
    const tags = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
    const r = await axe.run(document, {runOnly: {type: 'tag', values: tags}});
    return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                   nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
}"""


def _axe(page, label: str) -> list[str]:
    """Serious or critical axe violations of the page as it is now, and sideways scrolling at 360 px."""
    problems = []
    page.add_script_tag(path=str(AXE))
    for v in page.evaluate(AXE_RUN):
        if v["impact"] in ("serious", "critical"):
            problems.append(f"{label} ({page.url}): {v['id']} [{v['impact']}] {v['help']} — {v['nodes']}")
    overflow = page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")
    if overflow > 1:
        problems.append(f"{label} ({page.url}): scrolls sideways by {overflow}px at 360px")
    return problems


def _check(context, url: str, label: str, status: int = 200) -> list[str]:
    """Open `url` in a fresh page of `context` (its responses alone count towards the budget) and check it."""
    page = context.new_page()
    try:
        sizes: list[int] = []
        page.on("response", lambda resp: sizes.append(len(resp.body()) if resp.ok else 0))
        response = page.goto(url)
        assert response is not None and response.status == status, (label, url, response and response.status)
        problems = _axe(page, label)
        total = sum(sizes)
        if total > BUDGET:
            problems.append(f"{label} ({url}): {total // 1024} KB transferred (budget 200 KB)")
        return problems
    finally:
        page.close()


def test_public_pages_pass_axe_on_a_phone(live_server, browser, dossier):
    context = browser.new_context(viewport=PHONE, locale="vi-VN")
    problems: list[str] = []
    for label, path in _pages(dossier):
        problems += _check(context, live_server + path, label)
    context.close()
    others = [p for p in problems
              if not any(p.startswith(f"{label} (") and f": {rule} [" in p for label, rule in KNOWN_TEMPLATE_ISSUES)]
    assert not others, "\n".join(others)


# --------------------------------------------------------------------------- the citizen's journey, page by page

HOUSEHOLD = "1.001612"
#: violations that only a template change fixes, (page label, axe rule) → the change to make; empty: all fixed
KNOWN_TEMPLATE_ISSUES: dict[tuple[str, str], str] = {}
PDF_BODY = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


@pytest.fixture
def patient_expect():
    """Explicit waits of up to 15 s: the two shared cores may be busy with other work."""
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)
    yield
    expect.set_options(timeout=5_000)


def _fill(page, values: dict[str, str]) -> None:
    for label, value in values.items():
        page.get_by_label(label, exact=True).fill(value)


def _next(page, heading: str) -> None:
    from playwright.sync_api import expect

    page.get_by_role("button", name="Tiếp tục", exact=True).click()
    expect(page.get_by_role("heading", level=1, name=heading)).to_be_visible()


def test_journey_pages_pass_axe_on_a_phone(live_server_with_partners, browser, complete_task, tmp_path,
                                           patient_expect):
    """Each page a citizen meets from submission to rating (steps, errors, check, save and resume, confirmation,
    payment and its result, tracking with a supplement form and with the rating form, the thanks), the optional
    account's pages and the public statistics: axe, 360 px, 200 KB."""
    from playwright.sync_api import expect

    base = live_server_with_partners
    pdf = tmp_path / "giay_to.pdf"
    pdf.write_bytes(PDF_BODY)
    context = browser.new_context(viewport=PHONE, locale="vi-VN", is_mobile=True, has_touch=True)
    context.set_default_timeout(15_000)
    flow = context.new_page()  # walks the journey; each page reached is checked again in a fresh page
    problems: list[str] = []
    submit = f"{base}/thu-tuc/{HOUSEHOLD}/nop-ho-so"

    flow.goto(submit)
    flow.get_by_role("button", name="Tiếp tục", exact=True).click()  # empty: the error summary
    expect(flow.get_by_role("alert").filter(has_text="Có lỗi cần sửa")).to_be_visible()
    problems += _axe(flow, "bước 1 có lỗi")
    _fill(flow, {"Họ và tên người nộp hồ sơ (bắt buộc)": "Võ Thị Truy Cập", "Thư điện tử": "truycap@example.vn"})
    _next(flow, "Cách nộp hồ sơ và nhận kết quả")
    flow.get_by_role("radio", name="Nhận qua dịch vụ bưu chính công ích tại địa chỉ của tôi").check()
    flow.get_by_role("button", name="Tiếp tục", exact=True).click()  # postal without an address: errors
    expect(flow.get_by_role("alert").filter(has_text="Có lỗi cần sửa")).to_be_visible()
    problems += _axe(flow, "bước 2 có lỗi (địa chỉ bưu chính)")
    flow.get_by_role("radio", name="Nhận trực tiếp tại bộ phận một cửa").check()
    _next(flow, "Thông tin hộ kinh doanh")
    _fill(flow, {"Tên hộ kinh doanh (bắt buộc)": "Hộ kinh doanh Truy Cập",
                 "Địa điểm kinh doanh – Tỉnh/thành phố (bắt buộc)": "Tỉnh Nghệ An",
                 "Địa điểm kinh doanh – Xã/phường/đặc khu (bắt buộc)": "Phường Trường Vinh",
                 "Địa điểm kinh doanh – Số nhà, đường/phố, thôn/ấp/tổ dân phố (bắt buộc)": "Số 1 Lê Lợi",
                 "Ngành, nghề kinh doanh (bắt buộc)": "4711 - Bán lẻ", "Vốn kinh doanh (đồng) (bắt buộc)": "5000000",
                 "Số lượng lao động (bắt buộc)": "1"})
    flow.get_by_label("Một cá nhân đăng ký", exact=True).check()
    _next(flow, "Thông tin chủ hộ kinh doanh")
    _fill(flow, {"Họ và tên chủ hộ kinh doanh (bắt buộc)": "Võ Thị Truy Cập",
                 "Ngày sinh của chủ hộ (bắt buộc)": "1990-01-02",
                 "Số định danh cá nhân của chủ hộ (bắt buộc)": "040190001234",
                 "Địa chỉ thường trú của chủ hộ (bắt buộc)": "Số 1 Lê Lợi, phường Trường Vinh, tỉnh Nghệ An"})
    flow.get_by_label("Nữ", exact=True).check()
    _next(flow, "Giấy tờ đính kèm")
    flow.get_by_role("button", name="Tiếp tục", exact=True).click()  # the required files missing
    expect(flow.get_by_role("alert").filter(has_text="Có lỗi cần sửa")).to_be_visible()
    problems += _axe(flow, "bước tệp đính kèm có lỗi")
    for label, step in (("bước 1", ""), ("bước 2", "/cach-thuc"), ("bước 3", "/phan-1"), ("bước 4", "/phan-2"),
                        ("bước 5", "/phan-3")):
        problems += _check(context, submit + step, f"nộp hồ sơ {HOUSEHOLD} {label}")

    # save and resume
    flow.get_by_role("button", name="Lưu và tiếp tục sau", exact=True).click()
    expect(flow.get_by_role("heading", level=1, name="Lưu và tiếp tục sau")).to_be_visible()
    problems += _check(context, submit + "/luu", "lưu và tiếp tục sau")
    flow.get_by_role("button", name="Gửi đường dẫn", exact=True).click()
    expect(flow.get_by_role("status").first).to_be_visible()
    problems += _axe(flow, "lưu và tiếp tục sau: đã gửi")
    resume = flow.get_by_role("link", name="Tiếp tục nộp hồ sơ ngay").get_attribute("href")
    problems += _check(context, base + str(resume), "tiếp tục hồ sơ đang soạn")
    problems += _check(context, base + "/nop-tiep/khong-co-ma-nay", "đường dẫn tiếp tục không đúng", status=404)

    flow.goto(submit + "/phan-3")
    flow.get_by_label("Giấy đề nghị đăng ký hộ kinh doanh đã ký (bắt buộc)", exact=True).set_input_files(pdf)
    flow.get_by_label("Bản sao giấy tờ pháp lý của chủ hộ kinh doanh (bắt buộc)", exact=True).set_input_files(pdf)
    _next(flow, "Kiểm tra lại thông tin")
    problems += _check(context, submit + "/kiem-tra", "kiểm tra lại thông tin")
    flow.get_by_role("button", name="Nộp hồ sơ", exact=True).click()
    expect(flow.get_by_role("heading", level=1, name="Đã nộp hồ sơ thành công")).to_be_visible()
    code = flow.locator("#dossier-code").inner_text().strip()
    secret = flow.locator("#tracking-secret").inner_text().strip()
    problems += _check(context, flow.url, "xác nhận đã nộp")
    problems += _check(context, base + str(resume), "đường dẫn tiếp tục đã hết hiệu lực", status=410)

    # pay
    tracking = f"{base}/tra-cuu/{code}?mat_ma={secret}"
    problems += _check(context, tracking, "tra cứu: chưa thanh toán")
    problems += _check(context, f"{base}/thanh-toan/{code}?mat_ma={secret}", "thanh toán lệ phí")
    flow.goto(f"{base}/thanh-toan/{code}?mat_ma={secret}")
    flow.get_by_role("button", name="Thanh toán", exact=True).click()
    expect(flow.get_by_role("heading", level=1, name="Cổng thanh toán trực tuyến (mô phỏng)")).to_be_visible()
    flow.get_by_role("button", name="Thanh toán", exact=True).click()
    expect(flow.get_by_role("heading", level=1, name="Kết quả thanh toán")).to_be_visible()
    problems += _axe(flow, "kết quả thanh toán")
    problems += _check(context, flow.url, "kết quả thanh toán (mở lại)")

    # a supplement asked, then supplied; the result; the rating
    def ask(form) -> None:
        form.get_by_label("Yêu cầu bổ sung, hoàn thiện hồ sơ", exact=True).check()
        form.get_by_label("Nội dung cần bổ sung, hoàn thiện", exact=True).fill("Thiếu văn bản ủy quyền.")

    complete_task("tiepnhan.tinh", code, "Kiểm tra, tiếp nhận hồ sơ", ask)
    problems += _check(context, tracking, "tra cứu: yêu cầu bổ sung")
    flow.goto(tracking)
    todo = flow.get_by_role("region", name="Việc bạn cần làm: Bổ sung hồ sơ")
    with flow.expect_response(lambda r: r.request.method == "POST") as answer:
        todo.get_by_role("button", name="Gửi", exact=True).click()  # nothing attached: the error
    assert answer.value.status == 422
    expect(flow.get_by_role("region", name="Việc bạn cần làm: Bổ sung hồ sơ")).to_be_visible()
    problems += _axe(flow, "tra cứu: bổ sung thiếu tệp")
    todo.get_by_label("Giấy tờ bổ sung (bắt buộc)", exact=True).set_input_files(pdf)
    todo.get_by_role("button", name="Gửi", exact=True).click()
    expect(flow.get_by_text("Đã gửi. Hồ sơ của bạn tiếp tục được xử lý.")).to_be_visible()
    problems += _axe(flow, "tra cứu: đã bổ sung")

    complete_task("tiepnhan.tinh", code, "Kiểm tra, tiếp nhận hồ sơ", lambda form: (
        form.get_by_label("Giấy đề nghị đăng ký hộ kinh doanh", exact=True).check(),
        form.get_by_label("Bản sao giấy tờ pháp lý của cá nhân chủ hộ kinh doanh", exact=True).check(),
        form.get_by_label("Tiếp nhận hồ sơ", exact=True).check()))
    complete_task("chuyenvien.tinh", code, "Kiểm tra tên, ngành nghề, đề xuất", lambda form: (
        form.get_by_label("Hợp lệ, không trùng tên trên địa bàn cấp xã", exact=True).check(),
        form.get_by_label("Hợp lệ, không thuộc ngành, nghề cấm kinh doanh", exact=True).check(),
        form.get_by_label("Cấp Giấy chứng nhận đăng ký hộ kinh doanh", exact=True).check(),
        form.get_by_label("Ý kiến của chuyên viên (bắt buộc)", exact=True).fill("Đủ điều kiện.")))
    complete_task("lanhdao.tinh", code, "Xem xét, quyết định",
                  lambda form: form.get_by_label("Đồng ý, ký duyệt kết quả", exact=True).check())
    complete_task("tiepnhan.tinh", code, "Trả kết quả", lambda form: (
        form.get_by_label("Trực tuyến (kết quả điện tử)", exact=True).check(),
        form.get_by_label("Họ và tên người nhận kết quả (bắt buộc)", exact=True).fill("Võ Thị Truy Cập")))
    problems += _check(context, tracking, "tra cứu: đánh giá mức độ hài lòng")
    flow.goto(tracking)
    rating = flow.get_by_role("region", name="Đánh giá mức độ hài lòng")
    with flow.expect_response(lambda r: r.request.method == "POST") as answer:
        rating.get_by_role("button", name="Gửi đánh giá").click()  # no choice: the error
    assert answer.value.status == 422
    expect(flow.get_by_role("region", name="Đánh giá mức độ hài lòng")).to_be_visible()
    problems += _axe(flow, "tra cứu: đánh giá thiếu lựa chọn")
    flow.get_by_role("region", name="Đánh giá mức độ hài lòng").get_by_label("Hài lòng", exact=True).check()
    flow.get_by_role("region", name="Đánh giá mức độ hài lòng").get_by_role("button", name="Gửi đánh giá").click()
    expect(flow.get_by_text("Cảm ơn bạn đã đánh giá!", exact=False)).to_be_visible()
    problems += _axe(flow, "tra cứu: cảm ơn đã đánh giá")

    # the optional account, the public statistics
    for label, path in (("công dân đăng ký", "/tai-khoan/dang-ky"), ("công dân đăng nhập", "/tai-khoan/dang-nhap"),
                        ("thống kê", "/thong-ke")):
        problems += _check(context, base + path, label)
    flow.goto(base + "/tai-khoan/dang-ky")
    flow.get_by_label("Thư điện tử hoặc số điện thoại", exact=True).fill("truycap@example.vn")
    flow.get_by_label("Mật khẩu", exact=True).fill("Mat-khau-du-dai-2026")
    flow.get_by_label("Nhập lại mật khẩu", exact=True).fill("Mat-khau-khac-2026")
    with flow.expect_response(lambda r: r.request.method == "POST") as answer:
        flow.get_by_role("button", name="Tạo tài khoản").click()  # the passwords differ: the errors
    assert answer.value.status == 422
    expect(flow.get_by_role("heading", level=1, name="Tạo tài khoản công dân")).to_be_visible()
    problems += _axe(flow, "công dân đăng ký có lỗi")
    flow.get_by_label("Mật khẩu", exact=True).fill("Mat-khau-du-dai-2026")
    flow.get_by_label("Nhập lại mật khẩu", exact=True).fill("Mat-khau-du-dai-2026")
    flow.get_by_role("button", name="Tạo tài khoản").click()
    expect(flow).to_have_url(re.compile(r"/tai-khoan/ho-so$|/$"))
    problems += _check(context, base + "/tai-khoan/ho-so", "hồ sơ của tôi")
    context.close()
    others = [p for p in problems
              if not any(p.startswith(f"{label} (") and f": {rule} [" in p for label, rule in KNOWN_TEMPLATE_ISSUES)]
    assert not others, "\n".join(others)
