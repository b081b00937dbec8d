"""End to end in a real browser: a process designer opens a procedure's draft in the BPMN modeler (bpmn-js,
served by the app), renames a step through the properties panel, saves and reads the lint result, changes a
field label in the forms editor, then publishes; a dossier submitted afterwards shows the new step name and
label while one submitted before keeps the old ones. The official's dossier page shows the dossier's
progress on the diagram.

Live server with real CSRF, migrations and demo seed (see conftest.py); Debian's Chromium.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from app.config import ROOT

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not (ROOT / "node_modules" / "bpmn-js" / "dist" / "bpmn-modeler.production.min.js").is_file(),
                       reason="bpmn-js is not installed: run `make install` (npm ci)"),
]

PASSWORD = "MotCua@2026"
TIMEOUT_MS = 20_000
PROCEDURE = "2.000815"  # Chứng thực bản sao từ bản chính (phường Trường Vinh)
PROCEDURE_NAME = "Chứng thực bản sao từ bản chính"
OLD_NAME = "Kiểm tra, tiếp nhận hồ sơ"
NEW_NAME = "Kiểm tra, tiếp nhận yêu cầu chứng thực"
TASK_ID = "tiep_nhan_ho_so"
OLD_LABEL = "Tên giấy tờ, văn bản"  # a field of the submission form chung_thuc_nop.json
NEW_LABEL = "Tên giấy tờ, văn bản cần chứng thực"
PHONE_WIDTH = 360


def _context(browser: Browser, **options) -> BrowserContext:
    context = browser.new_context(locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh", **options)
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    return context


@pytest.fixture
def desk(browser: Browser) -> Iterator[Page]:
    context = _context(browser, viewport={"width": 1440, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))
    yield page
    context.close()
    assert not errors, f"JavaScript errors: {errors}"


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    context = _context(browser, viewport={"width": PHONE_WIDTH, "height": 740}, is_mobile=True, has_touch=True,
                       device_scale_factor=2)
    yield context.new_page()
    context.close()


def shot(page: Page, directory: Path, name: str, full_page: bool = True) -> None:
    page.screenshot(path=str(directory / f"designer-{name}.png"), full_page=full_page)


def log_in(page: Page, base: str, username: str) -> None:
    page.goto(base + "/dang-nhap")
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    expect(page.get_by_role("button", name=re.compile(r"^Đăng xuất"))).to_be_visible()


def log_out(page: Page) -> None:
    page.get_by_role("button", name=re.compile(r"^Đăng xuất")).click()
    expect(page.get_by_role("link", name="Cán bộ đăng nhập")).to_be_visible()


def submit_dossier(browser: Browser, base: str, applicant: str) -> str:
    """A citizen's dossier through the public JSON API (the web form is covered by test_browser.py)."""
    context = _context(browser)
    try:
        r = context.request.post(base + "/api/v1/dossiers", data={
            "procedure": PROCEDURE, "channel": "online",
            "applicant": {"name": applicant, "phone": "0912345678"},
            "data": {"document_name": "Bằng tốt nghiệp đại học", "document_origin": "vietnam", "page_count": 2,
                     "copy_count": 3, "copy_form": "paper"}})
        assert r.status == 201, r.text()
        return r.json()["code"]
    finally:
        context.close()


def inbox_row(page: Page, code: str):
    return page.get_by_role("row").filter(has=page.get_by_role("link", name=code, exact=True))


def shape(page: Page, canvas: str, element_id: str):
    return page.locator(f'#{canvas} .djs-element[data-element-id="{element_id}"]')


def test_designer_renames_a_step_saves_publishes_and_new_dossiers_follow(
        live_server: str, browser: Browser, desk: Page, phone: Page, screenshots: Path) -> None:
    before = submit_dossier(browser, live_server, "Trần Văn Trước")

    # 1. the designer opens a draft of the procedure and the modeler
    log_in(desk, live_server, "thietke.phuong")
    desk.get_by_role("navigation", name="Điều hướng chính").get_by_role("link", name="Thiết kế quy trình").click()
    expect(desk.get_by_role("heading", level=1, name="Thiết kế quy trình")).to_be_visible()
    desk.get_by_role("link", name=re.compile("^" + PROCEDURE_NAME)).click()
    desk.get_by_role("button", name="Sửa quy trình (mở bản nháp)").click()
    expect(desk.get_by_role("heading", level=1, name=re.compile("phiên bản 2$"))).to_be_visible()
    expect(desk.locator("#version-status")).to_contain_text("Bản nháp")
    version_url = desk.url
    desk.get_by_role("link", name="Vẽ, sửa sơ đồ").click()
    expect(desk.get_by_role("heading", level=1, name=re.compile("^Vẽ sơ đồ"))).to_be_visible()
    expect(desk.locator("#edit-canvas")).to_have_attribute("data-ready", "true")
    expect(shape(desk, "edit-canvas", TASK_ID)).to_be_visible()
    expect(desk.locator("#edit-canvas .djs-palette")).to_be_visible()  # the drawing tools
    expect(desk.locator("#mc-alert")).to_be_hidden()  # every spiffworkflow extension was understood
    lint = desk.get_by_role("status").filter(has_text="Quy trình đạt kiểm tra")
    expect(lint).to_be_visible()
    expect(desk.locator("#small-screen-note")).to_be_hidden()  # wide screen: no "use a computer" note
    shot(desk, screenshots, "01-modeler", full_page=False)

    # 2. select the reception task on the diagram; the panel shows its properties
    shape(desk, "edit-canvas", TASK_ID).click()
    panel = desk.get_by_role("complementary", name="Thuộc tính")
    name = panel.get_by_label("Tên", exact=True)
    expect(name).to_have_value(OLD_NAME)
    expect(panel.get_by_label("Biểu mẫu của bước")).to_have_value("chung_thuc_tiep_nhan.json")
    expect(panel.get_by_label("Bố cục biểu mẫu (tuỳ chọn)")).to_have_value("chung_thuc_tiep_nhan.ui.json")
    expect(panel.get_by_label("Thời hạn của bước (ngày làm việc)")).to_have_value("0.125")
    expect(panel.get_by_label("Trạng thái hồ sơ")).to_have_value("")
    expect(panel.get_by_label("Phần tử đang chọn")).to_have_value(TASK_ID)
    shot(desk, screenshots, "02-panel-task", full_page=False)

    # 3. rename it through the panel (keyboard only) and save
    name.fill(NEW_NAME)
    name.press("Tab")
    expect(desk.locator("#mc-dirty")).to_have_text("Có thay đổi chưa lưu.")
    expect(shape(desk, "edit-canvas", TASK_ID)).to_contain_text("chứng thực")
    desk.get_by_role("button", name="Lưu bản nháp").click()
    expect(desk.locator("#mc-lint-summary")).to_contain_text("Đã lưu bản nháp lúc")
    expect(desk.locator("#mc-lint-summary")).to_contain_text("Quy trình đạt kiểm tra, có thể xuất bản.")
    expect(desk.locator("#mc-dirty")).to_have_text("Đã lưu.")

    # 4. a lane named after no role: the lint result names the steps; their ids select them
    panel.get_by_label("Phần tử đang chọn").select_option("lane_chuyen_vien")
    lane = panel.get_by_label("Tên làn (vai trò)")
    expect(lane).to_have_value("Chuyên viên")
    expect(panel).to_contain_text("Bộ phận một cửa; Chuyên viên; Lãnh đạo; Công dân / Tổ chức")
    lane.fill("Phòng thử nghiệm")
    lane.press("Tab")
    desk.keyboard.press("Control+s")
    expect(desk.locator("#mc-lint-summary")).to_contain_text(re.compile(r"Còn \d+ lỗi"))
    issue = desk.get_by_role("button", name="Chọn trên sơ đồ: thuc_hien_chung_thuc")
    expect(issue).to_be_visible()
    shot(desk, screenshots, "03-lint-errors", full_page=False)
    issue.click()
    expect(panel.get_by_label("Phần tử đang chọn")).to_have_value("thuc_hien_chung_thuc")
    expect(panel.get_by_label("Tên", exact=True)).to_be_focused()
    expect(panel.get_by_label("Tên", exact=True)).to_have_value("Đối chiếu bản chính, chứng thực bản sao")
    expect(desk.locator('#edit-canvas .djs-element.selected[data-element-id="thuc_hien_chung_thuc"]')).to_have_count(1)
    desk.get_by_role("button", name="Hoàn tác").click()  # undo the lane's new name
    desk.get_by_role("button", name="Lưu bản nháp").click()
    expect(desk.locator("#mc-lint-summary")).to_contain_text("Quy trình đạt kiểm tra, có thể xuất bản.")
    expect(desk.locator("#mc-lint-issues")).to_have_count(0)

    # the saved BPMN has the new name and kept its spiffworkflow properties
    saved = desk.request.get(f"{live_server}/thiet-ke/{PROCEDURE}/v/2/bpmn").text()
    assert f'name="{NEW_NAME}"' in saved and 'name="Chuyên viên"' in saved
    assert '<spiffworkflow:property name="formJsonSchemaFilename" value="chung_thuc_tiep_nhan.json" />' in saved
    assert saved.count("<spiffworkflow:property ") == 20

    # 5. the forms editor (another module of the designer): a field label of the submission form
    desk.get_by_role("link", name="Về trang phiên bản").first.click()
    assert desk.url == version_url
    desk.get_by_role("link", name="chung_thuc_nop.json", exact=True).click()
    row = desk.get_by_role("group", name=re.compile("^Trường 1: " + OLD_LABEL))
    row.get_by_label("Tiêu đề (tiếng Việt)").fill(NEW_LABEL)
    desk.get_by_role("button", name="Lưu biểu mẫu").click()
    expect(desk.get_by_role("status").filter(has_text="Đã lưu biểu mẫu “chung_thuc_nop.json”")).to_be_visible()
    desk.get_by_role("link", name="Phiên bản 2").first.click()

    # 6. publish on the version page
    assert desk.url == version_url
    expect(desk.locator("#lint-ok")).to_have_text("Quy trình đạt kiểm tra.")
    desk.get_by_role("button", name="Xuất bản").click()
    expect(desk.get_by_role("status").filter(has_text="Đã xuất bản phiên bản 2")).to_be_visible()
    expect(desk.locator("#version-status")).to_contain_text("Đang áp dụng")
    shot(desk, screenshots, "04-published")

    # the read-only viewer of the published version
    desk.get_by_role("link", name="Xem sơ đồ").click()
    expect(desk.locator("#view-canvas")).to_have_attribute("data-ready", "true")
    expect(shape(desk, "view-canvas", TASK_ID)).to_contain_text("chứng thực")
    expect(desk.get_by_role("cell", name=NEW_NAME, exact=True)).to_be_visible()
    shot(desk, screenshots, "05-viewer", full_page=False)
    log_out(desk)

    # 7. a new dossier runs on version 2; the one submitted before keeps version 1
    after = submit_dossier(browser, live_server, "Lê Thị Sau")
    log_in(desk, live_server, "tiepnhan.phuong")
    old_row, new_row = inbox_row(desk, before), inbox_row(desk, after)
    expect(old_row).to_contain_text(OLD_NAME)
    expect(old_row).not_to_contain_text(NEW_NAME)
    expect(new_row).to_contain_text(NEW_NAME)
    shot(desk, screenshots, "06-inbox-old-and-new")

    # 8. the official's dossier page: the new form label, the progress on the diagram (legend, text list)
    desk.goto(f"{live_server}/can-bo/ho-so/{after}")
    expect(desk.get_by_text(NEW_LABEL, exact=True)).to_be_visible()
    steps = desk.locator("#progress-steps")
    expect(steps.get_by_role("listitem")).to_have_count(2)
    expect(steps.get_by_role("listitem").nth(0)).to_contain_text("Đã hoàn thành: Nộp hồ sơ")
    expect(steps.get_by_role("listitem").nth(1)).to_contain_text(f"Đang thực hiện: {NEW_NAME}")
    expect(desk.locator("#progress-canvas")).to_have_attribute("data-ready", "true")
    expect(desk.locator(f'#progress-canvas .djs-element.mc-current[data-element-id="{TASK_ID}"]')).to_have_count(1)
    expect(desk.locator('#progress-canvas .djs-element.mc-done[data-element-id="start_nop_ho_so"]')).to_have_count(1)
    expect(desk.locator("#progress-canvas .djs-connection.mc-taken")).to_have_count(1)
    expect(desk.locator("#progress-canvas .mc-badge--current")).to_have_text("Đang xử lý")
    expect(desk.get_by_label("Chú giải sơ đồ")).to_contain_text("Đang thực hiện: viền cam nét đứt")
    desk.locator("#progress-title").scroll_into_view_if_needed()
    shot(desk, screenshots, "07-dossier-progress")
    desk.goto(f"{live_server}/can-bo/ho-so/{before}")
    expect(desk.get_by_text(OLD_LABEL, exact=True)).to_be_visible()
    expect(desk.get_by_text(NEW_LABEL, exact=True)).to_have_count(0)
    expect(desk.locator("#progress-steps")).to_contain_text(f"Đang thực hiện: {OLD_NAME}")
    expect(desk.locator("#progress-canvas")).to_have_attribute("data-ready", "true")

    # 9. the same page on a phone: the diagram fits the width, no sideways scrolling
    log_in(phone, live_server, "tiepnhan.phuong")
    phone.goto(f"{live_server}/can-bo/ho-so/{after}")
    expect(phone.locator("#progress-canvas")).to_have_attribute("data-ready", "true")
    expect(phone.locator(f'#progress-canvas .djs-element.mc-current[data-element-id="{TASK_ID}"]')).to_have_count(1)
    shot(phone, screenshots, "08-phone-dossier-progress")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE_WIDTH, f"the dossier page is {width}px wide on a {PHONE_WIDTH}px screen"
    phone.get_by_role("button", name="Phóng to").click()  # zoomed in, a finger drag pans the diagram
    expect(phone.locator("#progress-canvas")).to_have_class(re.compile(r"\bmc-zoomed\b"))
    phone.get_by_role("button", name="Vừa khung").click()
    expect(phone.locator("#progress-canvas")).not_to_have_class(re.compile(r"\bmc-zoomed\b"))


def test_modeler_on_a_phone_says_a_wider_screen_is_needed(live_server: str, phone: Page, screenshots: Path) -> None:
    log_in(phone, live_server, "thietke.tinh")
    phone.goto(f"{live_server}/thiet-ke/")
    phone.get_by_role("link", name="Đăng ký thành lập hộ kinh doanh").first.click()
    phone.get_by_role("button", name="Sửa quy trình (mở bản nháp)").click()
    phone.get_by_role("link", name="Vẽ, sửa sơ đồ").click()
    note = phone.locator("#small-screen-note")
    expect(note).to_be_visible()
    expect(note).to_contain_text("Trình vẽ sơ đồ cần màn hình rộng")
    note.get_by_role("link", name="xem sơ đồ ở chế độ chỉ xem").click()
    expect(phone.locator("#view-canvas")).to_have_attribute("data-ready", "true")
    shot(phone, screenshots, "09-phone-viewer")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE_WIDTH, f"the viewer page is {width}px wide on a {PHONE_WIDTH}px screen"


def test_panel_writes_spiffworkflow_properties_on_a_new_user_task(live_server: str, desk: Page,
                                                                  screenshots: Path) -> None:
    log_in(desk, live_server, "thietke.tinh")
    desk.goto(f"{live_server}/thiet-ke/1.009994")  # Cấp giấy phép xây dựng (tỉnh)
    desk.get_by_role("button", name="Sửa quy trình (mở bản nháp)").click()
    desk.get_by_role("link", name="Vẽ, sửa sơ đồ").click()
    expect(desk.locator("#edit-canvas")).to_have_attribute("data-ready", "true")
    panel = desk.get_by_role("complementary", name="Thuộc tính")

    # a flow's condition is shown as written
    panel.get_by_label("Phần tử đang chọn").select_option(label="Luồng: Đủ điều kiện [flow_tiep_nhan_accept]")
    expect(panel.get_by_label("Điều kiện rẽ nhánh")).to_have_value('reception_decision == "accept"')
    expect(panel.get_by_label("Nhánh mặc định (đi khi không điều kiện nào đúng)")).not_to_be_checked()

    # draw: append a task after "Trả kết quả" with the context pad, then make it a user task
    # the modeler's own tools are named in Vietnamese (bpmn-js translate service)
    expect(desk.locator(".djs-palette").get_by_role("button", name="Thêm công việc")).to_be_visible()
    shape(desk, "edit-canvas", "tra_ket_qua").click()
    append = desk.locator('.djs-context-pad [data-action="append.append-task"]')
    expect(append).to_have_attribute("title", "Nối tiếp: công việc")
    append.click()
    desk.keyboard.press("Escape")  # leave the label editor bpmn-js opens on a new shape
    expect(panel).to_contain_text("Công việc (chưa rõ loại)")
    desk.locator('.djs-context-pad [data-action="replace"]').click()
    desk.locator('.djs-popup [data-id="replace-with-user-task"]').click()
    expect(panel).to_contain_text("Công việc do người xử lý")
    new_id = panel.locator(".mc-type code").inner_text()

    panel.get_by_label("Tên", exact=True).fill("Lưu trữ hồ sơ")
    panel.get_by_label("Tên", exact=True).press("Tab")
    form = panel.get_by_label("Biểu mẫu của bước")
    form.focus()
    form.select_option("xay_dung_tham_dinh.json")
    expect(panel.get_by_label("Bố cục biểu mẫu (tuỳ chọn)")).to_have_value("xay_dung_tham_dinh.ui.json")  # its pair
    expect(panel.get_by_label("Biểu mẫu của bước")).to_be_focused()  # the panel is redrawn, the focus stays
    due = panel.get_by_label("Thời hạn của bước (ngày làm việc)")
    due.fill("-1")
    due.press("Tab")
    expect(due).to_have_attribute("aria-invalid", "true")
    expect(panel).to_contain_text("Nhập số ngày làm việc lớn hơn 0")
    due.fill("1,5")
    due.press("Tab")
    expect(due).not_to_have_attribute("aria-invalid", "true")
    panel.get_by_label("Trạng thái hồ sơ").select_option(label="9 – Đã xử lý xong")
    shot(desk, screenshots, "10-new-user-task", full_page=False)
    desk.get_by_role("button", name="Lưu bản nháp").click()
    expect(desk.locator("#mc-lint-summary")).to_contain_text("Đã lưu bản nháp lúc")

    saved = desk.request.get(f"{live_server}/thiet-ke/1.009994/v/2/bpmn").text()
    pattern = rf'<bpmn:userTask id="{re.escape(new_id)}" name="Lưu trữ hồ sơ">(.*?)</bpmn:userTask>'
    task = re.search(pattern, saved, re.S)
    assert task, saved[-3000:]
    props = dict(re.findall(r'<spiffworkflow:property name="(\w+)" value="([^"]*)" />', task.group(1)))
    assert props == {"formJsonSchemaFilename": "xay_dung_tham_dinh.json",
                     "formUiSchemaFilename": "xay_dung_tham_dinh.ui.json",
                     "dueInWorkingDays": "1.5", "dossierStatus": "9"}
    assert "<bpmn:extensionElements>" in task.group(1)

    # undo all of it from the toolbar: the new task goes away
    undo = desk.get_by_role("button", name="Hoàn tác")
    while undo.is_enabled():
        undo.click()
    expect(shape(desk, "edit-canvas", new_id)).to_have_count(0)
    expect(desk.locator("#mc-dirty")).to_have_text("Có thay đổi chưa lưu.")
