"""End to end in a real browser: a process designer wires a partner connector in the BPMN modeler.

On a new procedure's draft (the starter model) the designer replaces the last end event by a service task that
calls `vnpost.create_order` with parameters, a receive task waiting for `vnpost.delivery.delivered` whose payload
lands in a variable, and a new end event; saves; the stored BPMN carries the spiffworkflow:serviceTaskOperator,
its parameters, the bpmn:message, the messageRef and the spiffworkflow:messageVariable, and the linter finds no
error. The modeler's moddle descriptor keeps these extensions through import and export of the connector fixtures.

Live server with real CSRF, migrations and demo seed (see conftest.py); Debian's Chromium.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree
from playwright.sync_api import Browser, Page, expect

from app.config import ROOT

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not (ROOT / "node_modules" / "bpmn-js" / "dist" / "bpmn-modeler.production.min.js").is_file(),
                       reason="bpmn-js is not installed: run `make install` (npm ci)"),
]

PASSWORD = "MotCua@2026"
TIMEOUT_MS = 20_000
CODE = "9.999401"
FIXTURES = ROOT / "tests" / "fixtures" / "connectors"
NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
      "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core"}


@pytest.fixture
def desk(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh",
                                  viewport={"width": 1440, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))
    yield page
    context.close()
    assert not errors, f"JavaScript errors: {errors}"


def log_in(page: Page, base: str, username: str) -> None:
    page.goto(base + "/dang-nhap")
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    expect(page.get_by_role("button", name=re.compile(r"^Đăng xuất"))).to_be_visible()


def shape(page: Page, element_id: str):
    return page.locator(f'#edit-canvas .djs-element[data-element-id="{element_id}"]')


def open_new_draft(page: Page, base: str, code: str = CODE) -> None:
    """A new procedure of the provincial centre from the starter model, opened in the modeler."""
    page.goto(base + "/thiet-ke/thu-tuc-moi")
    page.get_by_label(re.compile("^Mã thủ tục")).fill(code)
    page.get_by_label(re.compile("^Tên thủ tục")).fill("Thử nghiệm trả kết quả qua bưu điện")
    page.get_by_role("button", name="Tạo thủ tục và bản nháp").click()
    page.get_by_role("link", name="Vẽ, sửa sơ đồ").click()
    expect(page.locator("#edit-canvas")).to_have_attribute("data-ready", "true")
    expect(page.locator("#mc-alert")).to_be_hidden()


def append_from(page: Page, panel, source: str, action: str, replace_with: str | None, label: str) -> str:
    """Append a shape after `source` with the context pad (optionally change its type); its new id."""
    panel.get_by_label("Phần tử đang chọn").select_option(source)  # (a click would unselect a selected shape)
    page.locator(f'.djs-context-pad [data-action="{action}"]').click()
    page.keyboard.press("Escape")  # leave the label editor bpmn-js opens on a new shape
    if replace_with:
        page.locator('.djs-context-pad [data-action="replace"]').click()
        entry = page.locator(f'.djs-popup [data-id="{replace_with}"]')
        entry.dispatch_event("click")  # (long menus scroll inside the popup, out of Playwright's viewport)
    expect(panel.locator(".mc-type strong")).to_have_text(label)
    return panel.locator(".mc-type code").inner_text()


def assert_panel_accessible(page: Page) -> None:
    """axe-core (WCAG 2.1 A/AA) on the properties panel: no serious or critical violation."""
    axe = ROOT / "node_modules" / "axe-core" / "axe.min.js"
    if not axe.is_file():
        return
    page.add_script_tag(path=str(axe))
    violations = page.evaluate("""async () => {
        const r = await axe.run('#mc-panel', {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a',
                                                                             'wcag21aa']}});
        return r.violations.filter(v => ['serious', 'critical'].includes(v.impact))
                           .map(v => v.id + ': ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', '));
    }""")
    assert violations == [], violations


def test_designer_wires_a_partner_connector_and_waits_for_its_message(live_server: str, desk: Page,
                                                                       screenshots: Path) -> None:
    log_in(desk, live_server, "thietke.tinh")
    open_new_draft(desk, live_server)
    panel = desk.get_by_role("complementary", name="Thuộc tính")

    # the starter's last end event goes; the new steps follow "Xử lý hồ sơ"
    shape(desk, "Done").click()
    desk.locator('.djs-context-pad [data-action="delete"]').click()
    expect(shape(desk, "Done")).to_have_count(0)

    # 1. a service task calling Vietnam Post
    service = append_from(desk, panel, "Process", "append.append-task", "replace-with-service-task",
                          "Tác vụ dịch vụ (tự động)")
    panel.get_by_label("Tên", exact=True).fill("Gửi kết quả qua bưu điện")
    panel.get_by_label("Tên", exact=True).press("Tab")
    operator = panel.get_by_label("Kết nối và thao tác")
    labels = operator.locator("option").all_inner_texts()
    assert "Bưu điện — tạo đơn (vnpost.create_order)" in labels
    assert "Trục liên thông văn bản — gửi hồ sơ, văn bản liên thông (axis.send_document)" in labels
    assert "Tin nhắn SMS — gửi tin nhắn (sms.send)" in labels
    operator.select_option(label="Bưu điện — tạo đơn (vnpost.create_order)")
    expect(panel.get_by_label("Kết nối và thao tác")).to_have_value("vnpost.create_order")
    result = panel.get_by_label("Biến nhận kết quả (tuỳ chọn)")
    result.fill("don buu dien")
    result.press("Tab")
    expect(result).to_have_attribute("aria-invalid", "true")
    result.fill("donBuuDien")
    result.press("Tab")
    expect(panel.get_by_label("Biến nhận kết quả (tuỳ chọn)")).not_to_have_attribute("aria-invalid", "true")

    panel.get_by_role("button", name="Thêm tham số").click()
    first = panel.get_by_role("group", name="Tham số 1", exact=True)
    expect(first.get_by_label("Tên tham số")).to_be_focused()  # the new row's name gets the focus
    first.get_by_label("Tên tham số").fill("service")
    first.get_by_label("Tên tham số").press("Tab")
    expect(first.get_by_label("Kiểu dữ liệu")).to_have_value("str")
    first.get_by_label("Giá trị (biểu thức Python)").fill("'delivery'")
    first.get_by_label("Giá trị (biểu thức Python)").press("Tab")

    panel.get_by_role("button", name="Thêm tham số").click()
    second = panel.get_by_role("group", name="Tham số 2", exact=True)
    second.get_by_label("Tên tham số").fill("cod_amount")
    second.get_by_label("Tên tham số").press("Tab")
    second.get_by_label("Kiểu dữ liệu").select_option(label="Số nguyên (int)")
    second.get_by_label("Giá trị (biểu thức Python)").fill("25000")
    second.get_by_label("Giá trị (biểu thức Python)").press("Tab")

    # a third row, removed again
    panel.get_by_role("button", name="Thêm tham số").click()
    expect(panel.get_by_role("group", name="Tham số 3", exact=True)).to_be_visible()
    panel.get_by_role("button", name="Xoá tham số 3").click()
    expect(panel.get_by_role("group", name="Tham số 3", exact=True)).to_have_count(0)
    expect(panel.get_by_role("group", name="Tham số 2", exact=True).get_by_label("Tên tham số")).to_have_value(
        "cod_amount")

    # 2. a receive task waiting for the delivery, its payload in buuChinh
    receive = append_from(desk, panel, service, "append.append-task", "replace-with-receive-task", "Tác vụ nhận")
    panel.get_by_label("Tên", exact=True).fill("Chờ bưu điện phát kết quả")
    panel.get_by_label("Tên", exact=True).press("Tab")
    message = panel.get_by_label("Chờ thông điệp")
    message.select_option(label="Bưu điện đã phát kết quả (vnpost.delivery.delivered)")
    expect(panel.get_by_label("Chờ thông điệp")).to_have_value("vnpost.delivery.delivered")
    panel.get_by_label("Biến nhận dữ liệu").fill("buuChinh")
    panel.get_by_label("Biến nhận dữ liệu").press("Tab")
    assert_panel_accessible(desk)

    # 3. a message catch event on another path would reuse the same bpmn:message; here a new end event
    append_from(desk, panel, receive, "append.end-event", None, "Sự kiện kết thúc")
    panel.get_by_label("Tên", exact=True).fill("Đã trả kết quả qua bưu điện")
    panel.get_by_label("Tên", exact=True).press("Tab")
    panel.get_by_label("Trạng thái hồ sơ").select_option("10")

    # the service task's panel shows what was set
    panel.get_by_label("Phần tử đang chọn").select_option(service)
    expect(panel.get_by_label("Kết nối và thao tác")).to_have_value("vnpost.create_order")
    expect(panel.get_by_label("Biến nhận kết quả (tuỳ chọn)")).to_have_value("donBuuDien")
    expect(panel.get_by_role("group", name="Tham số 1", exact=True).get_by_label("Giá trị (biểu thức Python)")) \
        .to_have_value("'delivery'")
    desk.screenshot(path=str(screenshots / "connectors-01-service-task.png"), full_page=False)
    assert_panel_accessible(desk)

    desk.get_by_role("button", name="Lưu bản nháp").click()
    summary = desk.locator("#mc-lint-summary")
    expect(summary).to_contain_text("Đã lưu bản nháp lúc")
    expect(summary).to_contain_text("Quy trình đạt kiểm tra")  # no error, only warnings
    expect(desk.locator("#mc-lint-issues .lint-error")).to_have_count(0)
    desk.screenshot(path=str(screenshots / "connectors-02-saved.png"), full_page=True)

    # the stored BPMN on the server
    saved = desk.request.get(f"{live_server}/thiet-ke/{CODE}/v/1/bpmn")
    assert saved.ok
    root = etree.fromstring(saved.body())
    task = root.find(f".//bpmn:serviceTask[@id='{service}']", NS)
    assert task is not None and task.get("name") == "Gửi kết quả qua bưu điện"
    op = task.find("bpmn:extensionElements/spiffworkflow:serviceTaskOperator", NS)
    assert op is not None, saved.text()[-3000:]
    assert op.get("id") == "vnpost.create_order" and op.get("resultVariable") == "donBuuDien"
    params = [(p.get("id"), p.get("type"), p.get("value"))
              for p in op.findall("spiffworkflow:parameters/spiffworkflow:parameter", NS)]
    assert params == [("service", "str", "'delivery'"), ("cod_amount", "int", "25000")]

    waiting = root.find(f".//bpmn:receiveTask[@id='{receive}']", NS)
    assert waiting is not None
    messages = {m.get("id"): m.get("name") for m in root.findall("bpmn:message", NS)}
    assert messages.get(waiting.get("messageRef")) == "vnpost.delivery.delivered"
    assert waiting.findtext("bpmn:extensionElements/spiffworkflow:messageVariable", namespaces=NS) == "buuChinh"

    # the version page shows the stored lint result: no error; the service task's note is a warning
    desk.get_by_role("link", name="Về trang phiên bản").click()
    expect(desk.locator("#lint-issues .lint-error")).to_have_count(0)
    expect(desk.locator("#lint-issues .lint-warning").filter(has_text=service)).to_contain_text(
        "vnpost.create_order")


def test_message_catch_event_takes_a_free_message_name_as_one_undoable_step(live_server: str, desk: Page) -> None:
    code = "9.999402"
    log_in(desk, live_server, "thietke.tinh")
    open_new_draft(desk, live_server, code)
    panel = desk.get_by_role("complementary", name="Thuộc tính")
    event = append_from(desk, panel, "Process", "append.intermediate-event",
                        "replace-with-message-intermediate-catch", "Sự kiện chờ")
    message = panel.get_by_label("Chờ thông điệp")
    expect(message).to_have_value("")
    other = panel.get_by_label("Tên thông điệp khác")
    expect(other).to_be_hidden()
    message.select_option(label="Thông điệp khác (nhập tên)…")
    expect(other).to_be_focused()
    other.fill("webhook.answer")
    other.press("Tab")
    expect(panel.get_by_label("Chờ thông điệp")).to_have_value("webhook.answer")
    expect(panel.get_by_label("Chờ thông điệp")).to_be_focused()
    panel.get_by_label("Biến nhận dữ liệu").fill("traLoi")
    panel.get_by_label("Biến nhận dữ liệu").press("Tab")

    # undo: first the variable, then the message and its bpmn:message together; redo both
    undo, redo = desk.get_by_role("button", name="Hoàn tác"), desk.get_by_role("button", name="Làm lại")
    undo.click()
    expect(panel.get_by_label("Biến nhận dữ liệu")).to_have_value("")
    undo.click()
    expect(panel.get_by_label("Chờ thông điệp")).to_have_value("")
    expect(panel.get_by_label("Chờ thông điệp").locator("option", has_text="webhook.answer")).to_have_count(0)
    redo.click()
    redo.click()
    expect(panel.get_by_label("Chờ thông điệp")).to_have_value("webhook.answer")
    expect(panel.get_by_label("Biến nhận dữ liệu")).to_have_value("traLoi")

    # a second event waiting for the same name reuses the message
    second = append_from(desk, panel, "Process", "append.intermediate-event",
                         "replace-with-message-intermediate-catch", "Sự kiện chờ")
    panel.get_by_label("Chờ thông điệp").select_option("webhook.answer")
    expect(panel.get_by_label("Chờ thông điệp")).to_have_value("webhook.answer")

    desk.get_by_role("button", name="Lưu bản nháp").click()
    expect(desk.locator("#mc-lint-summary")).to_contain_text("Đã lưu bản nháp lúc")
    root = etree.fromstring(desk.request.get(f"{live_server}/thiet-ke/{code}/v/1/bpmn").body())
    messages = root.findall("bpmn:message", NS)
    assert [m.get("name") for m in messages] == ["webhook.answer"]
    for element_id in (event, second):
        definition = root.find(f".//bpmn:intermediateCatchEvent[@id='{element_id}']/bpmn:messageEventDefinition", NS)
        assert definition is not None and definition.get("messageRef") == messages[0].get("id")
    variable = root.find(f".//bpmn:intermediateCatchEvent[@id='{event}']/bpmn:messageEventDefinition/"
                         "bpmn:extensionElements/spiffworkflow:messageVariable", NS)
    assert variable is not None and variable.text == "traLoi"


def test_descriptor_keeps_connector_extensions_through_import_and_export(live_server: str, desk: Page) -> None:
    log_in(desk, live_server, "thietke.tinh")
    desk.goto(f"{live_server}/thiet-ke/1.009994")  # any draft opens the modeler with the descriptor
    desk.get_by_role("button", name="Sửa quy trình (mở bản nháp)").click()
    desk.get_by_role("link", name="Vẽ, sửa sơ đồ").click()
    expect(desk.locator("#edit-canvas")).to_have_attribute("data-ready", "true")
    for name in ("buu_chinh.bpmn", "lien_thong_gui.bpmn"):
        xml = (FIXTURES / name).read_text(encoding="utf-8")
        answer = desk.evaluate("""async (xml) => {
            const cfg = JSON.parse(document.getElementById('modeler-config').textContent);
            const moddle = new window.BpmnJS({ moddleExtensions: { spiffworkflow: cfg.moddle } }).get('moddle');
            const parsed = await moddle.fromXML(xml);
            const out = await moddle.toXML(parsed.rootElement, { format: true });
            return { warnings: parsed.warnings.map((w) => w.message), xml: out.xml };
        }""", xml)
        assert answer["warnings"] == [], (name, answer["warnings"])
        before, after = etree.fromstring(xml.encode()), etree.fromstring(answer["xml"].encode())

        def extensions(root: etree._Element) -> list[tuple]:
            found = []
            for op in root.iterfind(".//spiffworkflow:serviceTaskOperator", NS):
                found.append((op.getparent().getparent().get("id"), op.get("id"), op.get("resultVariable"),
                              [dict(p.attrib) for p in op.iterfind(".//spiffworkflow:parameter", NS)]))
            for var in root.iterfind(".//spiffworkflow:messageVariable", NS):
                holder = var.getparent().getparent()
                found.append((holder.get("id"), holder.get("messageRef"), var.text))
            found.extend((m.get("id"), m.get("name")) for m in root.iterfind("bpmn:message", NS))
            return found

        assert extensions(after) == extensions(before), name
        assert len(extensions(before)) >= 3
