"""The forms editor (app/designer/forms_editor.py): permissions, field rows, choices, raw JSON, read-only
published versions, the preview, and a saved form used by a newly published version.

Each test deploys its own copy of the library fixture (tests/fixtures/cap_the_thu_vien.bpmn) under its own
procedure code, as an operator would with the CLI, then opens a draft (version 2).
"""

from __future__ import annotations

import html as htmllib
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from app.designer import services as designer
from app.designer.forms_editor import build, state_from_schema
from app.extensions import db

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
FORM = "thu_vien_nop.json"


def login(app, username):
    c = app.test_client()
    r = c.post("/dang-nhap", data={"username": username, "password": "MotCua@2026"})
    assert r.status_code == 302
    return c


ORDER = ["reader_name", "birth_date", "card_type", "months", "photo"]


def deploy(app, code: str, folder: Path, *, with_ui: bool = True) -> None:
    """A published copy of the library procedure under `code` (version 1).

    With `with_ui`, the start event names a UI schema holding the fields' order: without one, PostgreSQL's
    JSONB gives the properties in its own key order (the editor, like the citizen page, then shows that).
    """
    xml = (FIXTURES / "cap_the_thu_vien.bpmn").read_text(encoding="utf-8").replace("9.999001", code)
    for form in (FIXTURES / "forms").glob("*.json"):
        (folder / form.name).write_bytes(form.read_bytes())
    if with_ui:
        xml = xml.replace('<spiffworkflow:property name="formJsonSchemaFilename" value="thu_vien_nop.json"/>',
                          '<spiffworkflow:property name="formJsonSchemaFilename" value="thu_vien_nop.json"/>'
                          '<spiffworkflow:property name="formUiSchemaFilename" value="thu_vien_nop.ui.json"/>')
        (folder / "thu_vien_nop.ui.json").write_text(json.dumps({"ui:order": ORDER}), encoding="utf-8")
    path = folder / "quy_trinh.bpmn"
    path.write_text(xml, encoding="utf-8")
    r = app.test_cli_runner().invoke(args=["workflows", "deploy", str(path), "--forms", str(folder),
                                           "--unit", "000.00.00.H41"])
    assert r.exit_code == 0, r.output


@pytest.fixture
def draft(app, tmp_path):
    """deploy + a draft (version 2) opened by the province's designer: returns (client, edit url of the form)."""
    def make(code: str, *, with_ui: bool = True):
        deploy(app, code, tmp_path, with_ui=with_ui)
        client = login(app, "thietke.tinh")
        r = client.post(f"/thiet-ke/{code}/ban-nhap")
        assert r.headers["Location"].endswith("/v/2")
        return client, f"/thiet-ke/{code}/v/2/bieu-mau/{FORM}"
    return make


class FormParser(HTMLParser):
    """The successful controls of each <form>, as a browser would submit them (no submit buttons)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self._form: dict | None = None
        self._textarea: list | None = None
        self._select: list | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self._form = {"id": a.get("id"), "action": a.get("action"), "fields": []}
            self.forms.append(self._form)
        if self._form is None or "disabled" in a:
            return
        if tag == "input" and a.get("name") and a.get("type") != "submit":
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                return
            if a.get("type") == "file":
                return
            self._form["fields"].append((a["name"], a.get("value", "")))
        elif tag == "textarea":
            self._textarea = [a["name"], ""]
        elif tag == "select":
            self._select = [a["name"], None, None]
        elif tag == "option" and self._select is not None:
            if self._select[2] is None:
                self._select[2] = a.get("value", "")
            if "selected" in a:
                self._select[1] = a.get("value", "")

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea[1] += data

    def handle_endtag(self, tag):
        if tag == "textarea" and self._textarea is not None and self._form is not None:
            self._form["fields"].append((self._textarea[0], self._textarea[1].removeprefix("\n")))
            self._textarea = None
        elif tag == "select" and self._select is not None and self._form is not None:
            name, selected, first = self._select
            self._form["fields"].append((name, selected if selected is not None else first))
            self._select = None
        elif tag == "form":
            self._form = None


def form_fields(page: str, form_id: str = "fe-editor") -> dict[str, str]:
    parser = FormParser()
    parser.feed(page)
    form = next(f for f in parser.forms if f["id"] == form_id)
    return dict(form["fields"])


def rows(fields: dict[str, str]) -> list[str]:
    """The field names of the editor's rows, in order."""
    indexes = sorted(int(m.group(1)) for k in fields if (m := re.match(r"^f-(\d+)-name$", k)))
    return [fields[f"f-{i}-name"] for i in indexes]


def row_index(fields: dict[str, str], name: str) -> int:
    return rows(fields).index(name)


def act(client, url, fields, action, **changes):
    data = dict(fields, action=action, **changes)
    return client.post(url, data=data)


def stored(app, code: str, number: int = 2):
    with app.app_context():
        version = designer.get_version(designer.get_procedure_any(code), number)
        return dict(version.forms), version.bpmn_xml, version.status


def fields_block(page: str, marker: str) -> str:
    """The `<div class="sf-fields">…</div>` rendered by the schemaforms macro after `marker`."""
    start = page.index('<div class="sf-fields">', page.index(marker))
    depth = 0
    for m in re.finditer(r"<div\b|</div>", page[start:]):
        depth += 1 if m.group(0) == "<div" else -1
        if depth == 0:
            return page[start:start + m.end()]
    raise AssertionError("unbalanced")


# --------------------------------------------------------------------------- permissions


def test_only_designers_of_the_owning_unit_and_admins(app, draft):
    _designer, url = draft("9.777101")
    new_url = "/thiet-ke/9.777101/v/2/bieu-mau-moi"
    preview_url = url + "/xem-truoc"
    anonymous = app.test_client()
    assert anonymous.get(url).status_code == 302 and "/dang-nhap" in anonymous.get(url).headers["Location"]
    for username in ("chuyenvien.tinh", "thietke.phuong", "tiepnhan.tinh"):
        other = login(app, username)
        assert other.get(url).status_code == 403, username
        assert other.post(url, data={"action": "save"}).status_code == 403
        assert other.get(new_url).status_code == 403 and other.get(preview_url).status_code == 403
    for username in ("thietke.tinh", "quantri.phuong"):
        page = login(app, username).get(url)
        assert page.status_code == 200, username
        assert "Lưu biểu mẫu" in page.get_data(as_text=True)
    assert login(app, "thietke.tinh").get("/thiet-ke/9.777101/v/2/bieu-mau/khong_co.json").status_code == 404


def test_version_page_links_to_the_editor(app, draft):
    client, url = draft("9.777102")
    page = client.get("/thiet-ke/9.777102/v/2").get_data(as_text=True)
    assert f'href="{url}"' in page and 'href="/thiet-ke/9.777102/v/2/bieu-mau-moi"' in page


# --------------------------------------------------------------------------- field rows


def test_add_rename_reorder_remove_then_save(app, draft):
    client, url = draft("9.777103")
    page = client.get(url).get_data(as_text=True)
    fields = form_fields(page)
    assert rows(fields) == ["reader_name", "birth_date", "card_type", "months", "photo"]

    # add: a new empty row at the end, focused
    r = act(client, url, fields, "add", new_kind="text")
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    fields = form_fields(page)
    assert rows(fields) == ["reader_name", "birth_date", "card_type", "months", "photo", ""]
    assert re.search(r'<input[^>]*name="f-5-title"[^>]*autofocus', page)

    # a title gives the new field a name; rename reader_name; make the new one required
    fields.update({"f-5-title": "Số thẻ cũ (nếu có)", "f-0-name": "ho_ten", "f-5-required": "1"})
    fields = form_fields(act(client, url, fields, "preview").get_data(as_text=True))
    assert rows(fields) == ["ho_ten", "birth_date", "card_type", "months", "photo", "so_the_cu_neu_co"]

    # reorder: the new field up twice, birth_date down once; remove months
    for action in ("up:5", "up:4", "down:1"):
        fields = form_fields(act(client, url, fields, action).get_data(as_text=True))
    assert rows(fields) == ["ho_ten", "card_type", "birth_date", "so_the_cu_neu_co", "months", "photo"]
    fields = form_fields(act(client, url, fields, f"remove:{row_index(fields, 'months')}").get_data(as_text=True))
    assert rows(fields) == ["ho_ten", "card_type", "birth_date", "so_the_cu_neu_co", "photo"]
    assert "Có thay đổi chưa lưu" in act(client, url, fields, "preview").get_data(as_text=True)

    r = act(client, url, fields, "save")
    assert r.status_code == 302 and r.headers["Location"].endswith(url)
    assert "Đã lưu biểu mẫu" in client.get(url).get_data(as_text=True)
    forms, xml, _status = stored(app, "9.777103")
    schema, ui = forms[FORM], forms["thu_vien_nop.ui.json"]
    assert ui["ui:order"] == ["ho_ten", "card_type", "birth_date", "so_the_cu_neu_co", "photo"]
    assert set(schema["properties"]) == set(ui["ui:order"])
    assert schema["properties"]["ho_ten"] == {"type": "string", "title": "Họ và tên người đọc", "minLength": 2,
                                              "maxLength": 100}
    assert schema["properties"]["so_the_cu_neu_co"] == {"type": "string", "title": "Số thẻ cũ (nếu có)"}
    assert set(schema["required"]) == {"ho_ten", "birth_date", "so_the_cu_neu_co"}
    assert schema["properties"]["card_type"]["default"] == "thuong"  # untouched rows keep everything
    # the page reloads with the saved order
    assert rows(form_fields(client.get(url).get_data(as_text=True)))[0] == "ho_ten"


def test_saving_links_the_ui_schema_to_the_step_that_lacks_one(app, draft):
    code = "9.777114"
    client, url = draft(code, with_ui=False)
    assert "thu_vien_nop.ui.json" not in stored(app, code)[1]
    page = client.get(url).get_data(as_text=True)
    assert "sẽ được gắn vào Sự kiện bắt đầu" in htmllib.unescape(page)
    fields = form_fields(page)
    names = rows(fields)
    fields = form_fields(act(client, url, fields, f"up:{names.index('photo')}").get_data(as_text=True))
    assert act(client, url, fields, "save").status_code == 302
    forms, xml, _status = stored(app, code)
    assert 'name="formUiSchemaFilename" value="thu_vien_nop.ui.json"' in xml
    assert forms["thu_vien_nop.ui.json"]["ui:order"] == rows(fields)
    with app.app_context():  # the version still compiles and passes the checks
        version = designer.get_version(designer.get_procedure_any(code), 2)
        assert designer.lint_version_source(version.bpmn_xml, version.forms).ok
    page = client.get(url).get_data(as_text=True)
    assert rows(form_fields(page)) == rows(fields) and "sẽ được gắn vào" not in page


@pytest.mark.parametrize("bad, message, where", [
    ("1abc", "Tên trường “1abc” không hợp lệ", 0),
    ("họ_tên", "Tên trường “họ_tên” không hợp lệ", 0),
    ("class", "Tên trường “class” không hợp lệ", 0),
    ("ho ten", "Tên trường “ho ten” không hợp lệ", 0),
    ("birth_date", "Trường 2 (Ngày sinh): Tên trường “birth_date” bị trùng với trường 1.", 1),
])
def test_invalid_identifier_is_refused_with_a_message(app, draft, bad, message, where):
    code = f"9.7772{['1abc', 'họ_tên', 'class', 'ho ten', 'birth_date'].index(bad):02d}"
    client, url = draft(code)
    fields = form_fields(client.get(url).get_data(as_text=True))
    before, _xml, _status = stored(app, code)
    r = act(client, url, fields, "save", **{"f-0-name": bad})
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    assert "Có lỗi cần sửa" in page and message in htmllib.unescape(page)
    assert f'href="#f-{where}-name"' in page
    assert re.search(rf'<input[^>]*name="f-{where}-name"[^>]*aria-invalid="true"', page)
    assert stored(app, code)[0] == before  # nothing saved


def test_missing_titles_are_refused(app, draft):
    client, url = draft("9.777104")
    fields = form_fields(client.get(url).get_data(as_text=True))
    r = act(client, url, fields, "save", form_title="", **{"f-1-title": ""})
    page = htmllib.unescape(r.get_data(as_text=True))
    assert r.status_code == 422
    assert "Vui lòng nhập tiêu đề biểu mẫu." in page and 'href="#form-title"' in page
    assert "Trường 2 (birth_date): Vui lòng nhập tiêu đề tiếng Việt của trường" in page


def test_choices_as_oneof_const_title_and_widgets(app, draft):
    client, url = draft("9.777105")
    fields = form_fields(client.get(url).get_data(as_text=True))
    for kind in ("radio", "checkboxes", "select"):
        fields = form_fields(act(client, url, fields, "add", new_kind=kind).get_data(as_text=True))
    fields.update({
        "f-5-title": "Hình thức nhận thẻ", "f-5-name": "nhan_the", "f-5-required": "1",
        "f-5-choices": "tai_cho | Nhận tại thư viện\nbuu_dien | Nhận qua bưu điện", "f-5-default": "tai_cho",
        "f-6-title": "Dịch vụ thêm", "f-6-name": "dich_vu",
        "f-6-choices": "muon_ve_nha | Mượn sách về nhà\nphong_doc | Phòng đọc",
        "f-7-title": "Số năm", "f-7-name": "so_nam", "f-7-ctype": "integer", "f-7-choices": "1 | Một năm\n2 | Hai năm",
    })
    bad = act(client, url, fields, "save", **{"f-7-choices": "x | Không phải số"})
    assert bad.status_code == 422
    assert "Dòng 1: giá trị “x” không hợp lệ (cần một số nguyên)." in htmllib.unescape(bad.get_data(as_text=True))
    empty = act(client, url, fields, "save", **{"f-6-choices": ""})
    assert empty.status_code == 422 and 'href="#f-6-choices"' in empty.get_data(as_text=True)
    r = act(client, url, fields, "save")
    assert r.status_code == 302, htmllib.unescape(r.get_data(as_text=True))[:3000]
    forms, _xml, _status = stored(app, "9.777105")
    props, ui = forms[FORM]["properties"], forms["thu_vien_nop.ui.json"]
    assert props["nhan_the"] == {"type": "string", "title": "Hình thức nhận thẻ", "oneOf": [
        {"const": "tai_cho", "title": "Nhận tại thư viện"}, {"const": "buu_dien", "title": "Nhận qua bưu điện"}],
        "default": "tai_cho"}
    assert props["dich_vu"]["items"]["oneOf"][1] == {"const": "phong_doc", "title": "Phòng đọc"}
    assert props["dich_vu"]["type"] == "array" and props["dich_vu"]["uniqueItems"] is True
    assert props["so_nam"]["type"] == "integer" and props["so_nam"]["oneOf"][0] == {"const": 1, "title": "Một năm"}
    assert ui["nhan_the"] == {"ui:widget": "radio"} and ui["dich_vu"] == {"ui:widget": "checkboxes"}
    # the editor shows them back as lines
    page = client.get(url).get_data(as_text=True)
    assert "tai_cho | Nhận tại thư viện" in htmllib.unescape(page)


def test_file_components_single_or_several_with_accepted_types(app, draft):
    client, url = draft("9.777106")
    fields = form_fields(client.get(url).get_data(as_text=True))
    fields = form_fields(act(client, url, fields, "add", new_kind="files").get_data(as_text=True))
    fields.update({"f-5-title": "Giấy tờ kèm theo", "f-5-name": "giay_to", "f-5-accept": ".pdf,.jpg",
                   "f-5-min_items": "1", "f-5-max_items": "5", "f-4-accept": ".jpg,.png"})
    assert act(client, url, fields, "save").status_code == 302
    forms, _xml, _status = stored(app, "9.777106")
    props, ui = forms[FORM]["properties"], forms["thu_vien_nop.ui.json"]
    assert props["giay_to"] == {"type": "array", "title": "Giấy tờ kèm theo", "items": {"type": "string",
                                "format": "data-url"}, "minItems": 1, "maxItems": 5}
    assert ui["giay_to"] == {"ui:options": {"accept": ".pdf,.jpg"}} and ui["photo"] == {"ui:options": {"accept":
                                                                                                       ".jpg,.png"}}


def test_vn_palette_inserts_linked_province_and_ward(app, draft):
    client, url = draft("9.777107")
    fields = form_fields(client.get(url).get_data(as_text=True))
    for key in ("vn-cccd", "vn-phone", "vn-tax-code", "vn-money", "vn-date", "vn-ward"):
        fields = form_fields(act(client, url, fields, f"palette:{key}").get_data(as_text=True))
    assert rows(fields)[5:] == ["so_cccd", "so_dien_thoai", "ma_so_thue", "so_tien", "ngay", "tinh_thanh",
                                "xa_phuong"]
    assert fields["f-11-province_field"] == "tinh_thanh"
    fields.update({"f-10-default": "Nghệ An", "f-8-default": "200.000", "f-9-default": "01/07/2025"})
    r = act(client, url, fields, "save")
    assert r.status_code == 302, htmllib.unescape(r.get_data(as_text=True))[:3000]
    props = stored(app, "9.777107")[0][FORM]["properties"]
    assert props["so_cccd"]["format"] == "vn-cccd" and props["so_cccd"]["pattern"] == "^[0-9]{12}$"
    assert props["ma_so_thue"]["pattern"] == "^[0-9]{10}(-[0-9]{3})?$"
    assert props["so_tien"] == {"type": "integer", "title": "Số tiền (đồng)", "description": "Ghi số đồng, ví dụ "
                                "200.000.", "format": "vn-money", "minimum": 0, "default": 200000}
    assert props["ngay"]["default"] == "2025-07-01"
    assert props["tinh_thanh"]["default"] == "40"
    assert props["xa_phuong"]["x-province-field"] == "tinh_thanh"
    # a ward linked to something that is not a province is refused
    fields = form_fields(client.get(url).get_data(as_text=True))
    bad = act(client, url, fields, "save", **{"f-11-province_field": "so_cccd"})
    assert bad.status_code == 422 and 'href="#f-11-province_field"' in bad.get_data(as_text=True)


def test_raw_json_edit(app, draft):
    client, url = draft("9.777108")
    page = client.get(url).get_data(as_text=True)
    raw = form_fields(page, "fe-raw-form")
    assert json.loads(raw["raw_schema"])["properties"]["reader_name"]["title"] == "Họ và tên người đọc"
    before = stored(app, "9.777108")[0]

    r = client.post(url, data=dict(raw, action="raw_save", raw_schema='{"type": "object", "properties": {'))
    assert r.status_code == 422
    page = htmllib.unescape(r.get_data(as_text=True))
    assert "JSON Schema không phải JSON hợp lệ (dòng 1" in page and 'href="#raw_schema"' in page

    invalid = {"type": "object", "properties": {"1x": {"type": "string"}, "y": {"type": "string", "format": "uri"}}}
    r = client.post(url, data=dict(raw, action="raw_save", raw_schema=json.dumps(invalid)))
    assert r.status_code == 422
    page = htmllib.unescape(r.get_data(as_text=True))
    assert "Tên trường “1x” không hợp lệ" in page and "định dạng “uri” không được hỗ trợ" in page
    assert stored(app, "9.777108")[0] == before

    schema = json.loads(raw["raw_schema"])
    schema["properties"]["email"] = {"type": "string", "format": "email", "title": "Thư điện tử"}
    schema["allOf"] = [{"if": {"properties": {"card_type": {"const": "vip"}}, "required": ["card_type"]},
                        "then": {"required": ["email"]}}]
    r = client.post(url, data=dict(raw, action="raw_save", raw_schema=json.dumps(schema, ensure_ascii=False)))
    assert r.status_code == 302
    saved = stored(app, "9.777108")[0][FORM]
    assert saved["properties"]["email"]["format"] == "email" and saved["allOf"] == schema["allOf"]
    # the structured editor keeps what it does not show (allOf) through a round trip
    fields = form_fields(client.get(url).get_data(as_text=True))
    assert act(client, url, fields, "save", **{"f-0-title": "Họ tên"}).status_code == 302
    saved = stored(app, "9.777108")[0][FORM]
    assert saved["allOf"] == schema["allOf"] and saved["properties"]["reader_name"]["title"] == "Họ tên"


def test_someone_elses_save_is_not_overwritten(app, draft):
    client, url = draft("9.777109")
    mine = form_fields(client.get(url).get_data(as_text=True))
    other = login(app, "quantri.tinh")
    theirs = form_fields(other.get(url).get_data(as_text=True))
    assert act(other, url, theirs, "save", **{"f-0-title": "Của người khác"}).status_code == 302
    r = act(client, url, mine, "save", **{"f-0-title": "Của tôi"})
    assert r.status_code == 409 and "vừa được lưu bởi người khác" in r.get_data(as_text=True)
    assert stored(app, "9.777109")[0][FORM]["properties"]["reader_name"]["title"] == "Của người khác"


def test_published_version_is_read_only(app, draft):
    client, _url = draft("9.777110")
    url = f"/thiet-ke/9.777110/v/1/bieu-mau/{FORM}"
    page = client.get(url).get_data(as_text=True)
    assert "Đang áp dụng — chỉ xem" in page and 'id="fe-fields-readonly"' in page
    assert "Lưu biểu mẫu" not in page and "Lưu JSON" not in page and 'id="fe-preview-form"' in page
    before = stored(app, "9.777110", 1)[0]
    r = client.post(url, data={"action": "raw_save", "raw_schema": '{"type": "object", "properties": {}}',
                               "raw_ui": "{}"})
    assert r.status_code == 409 and stored(app, "9.777110", 1)[0] == before
    assert client.get("/thiet-ke/9.777110/v/1/bieu-mau-moi").status_code == 302  # only drafts get new forms


# --------------------------------------------------------------------------- new forms


def test_new_form_attached_to_a_user_task(app, draft):
    client, _url = draft("9.777111")
    new_url = "/thiet-ke/9.777111/v/2/bieu-mau-moi"
    page = client.get(new_url).get_data(as_text=True)
    assert "Xử lý, cấp thẻ" in page and "Sự kiện bắt đầu" in page
    r = client.post(new_url, data={"file_name": "thu_vien_nop", "title": "X", "element": "Process"})
    assert r.status_code == 422 and "đã có biểu mẫu “thu_vien_nop.json”" in htmllib.unescape(r.get_data(as_text=True))
    assert client.post(new_url, data={"file_name": "Tờ khai", "title": "X"}).status_code == 422
    r = client.post(new_url, data={"file_name": "thu_vien_in_the", "title": "Phiếu in thẻ", "element": "Process"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/bieu-mau/thu_vien_in_the.json")
    forms, xml, _status = stored(app, "9.777111")
    assert forms["thu_vien_in_the.json"] == {"title": "Phiếu in thẻ", "type": "object", "required": [],
                                             "properties": {}}
    assert forms["thu_vien_in_the.ui.json"] == {"ui:order": []}
    assert 'name="formJsonSchemaFilename" value="thu_vien_in_the.json"' in xml
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "Công việc “Xử lý, cấp thẻ”" in page and "Quy trình đạt kiểm tra" in page
    # copy an existing form
    r = client.post(new_url, data={"file_name": "ban_sao", "title": "", "copy_from": FORM})
    assert r.status_code == 302
    assert stored(app, "9.777111")[0]["ban_sao.json"]["properties"].keys() == forms[FORM]["properties"].keys()


# --------------------------------------------------------------------------- preview and publishing


SAMPLE_FIELDS = ["vn-cccd", "vn-money", "vn-ward"]


def _edit_with_vn_types(client, url):
    fields = form_fields(client.get(url).get_data(as_text=True))
    for key in SAMPLE_FIELDS:
        fields = form_fields(act(client, url, fields, f"palette:{key}").get_data(as_text=True))
    fields.update({"f-5-required": "1", "f-7-required": "1", "f-8-required": "1", "f-2-kind": "radio"})
    r = act(client, url, fields, "save")
    assert r.status_code == 302, htmllib.unescape(r.get_data(as_text=True))[:3000]


def test_preview_validates_sample_input_with_vietnamese_messages(app, draft):
    client, url = draft("9.777112")
    _edit_with_vn_types(client, url)
    preview_url = url + "/xem-truoc"
    page = client.get(preview_url).get_data(as_text=True)
    assert 'name="hoso-so_cccd"' in page and '<optgroup label="Tỉnh Nghệ An">' in page
    r = client.post(preview_url, data={"hoso-reader_name": "A", "hoso-birth_date": "31/02/2000", "hoso-so_cccd": "123",
                                       "hoso-so_tien": "-5", "hoso-tinh_thanh": "01", "hoso-xa_phuong": "16690"})
    assert r.status_code == 422
    page = htmllib.unescape(r.get_data(as_text=True))
    for message in ("Họ và tên người đọc phải có ít nhất 2 ký tự.",
                    "Ngày sinh không phải là ngày hợp lệ (dd/mm/yyyy).",
                    "Số định danh cá nhân (CCCD) phải gồm đúng 12 chữ số",
                    "Số tiền (đồng) phải lớn hơn hoặc bằng 0.",
                    "“Phường Trường Vinh” không thuộc Thành phố Hà Nội"):
        assert message in page, message
    r = client.post(preview_url, data={"hoso-reader_name": "Lê Văn Bình", "hoso-birth_date": "02/09/1990",
                                       "hoso-so_cccd": "001203004567", "hoso-so_tien": "1.500.000",
                                       "hoso-tinh_thanh": "40", "hoso-xa_phuong": "16690", "hoso-card_type": "vip"})
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    assert 'id="fe-sample-ok"' in page and "1.500.000 đ" in page and "Tỉnh Nghệ An" in page
    assert "Phường Trường Vinh" in page and "02/09/1990" in page
    assert stored(app, "9.777112")[0][FORM]["properties"]["so_tien"]["type"] == "integer"  # nothing else changed
    # the editor's unsaved state can be previewed too
    unsaved = {"type": "object", "required": ["x"], "properties": {"x": {"type": "string", "title": "Ô mới"}}}
    r = client.post(preview_url, data={"schema_json": json.dumps(unsaved), "ui_json": "{}"})
    assert r.status_code == 422 and "Vui lòng nhập Ô mới." in r.get_data(as_text=True)


def test_preview_is_the_citizen_form_and_the_saved_form_is_used_once_published(app, draft, client):
    code = "9.777113"
    designer_client, url = draft(code)
    _edit_with_vn_types(designer_client, url)
    editor_page = designer_client.get(url).get_data(as_text=True)
    standalone = designer_client.get(url + "/xem-truoc").get_data(as_text=True)

    # the citizen page still shows version 1 until the draft is published
    assert 'name="hoso-so_cccd"' not in client.get(f"/thu-tuc/{code}/nop-ho-so").get_data(as_text=True)
    with app.app_context():
        version = designer.get_version(designer.get_procedure_any(code), 2)
        report = designer.publish(version, None)
        db.session.commit()
        assert report.ok
    assert stored(app, code, 1)[2] == "retired"
    citizen = client.get(f"/thu-tuc/{code}/nop-ho-so").get_data(as_text=True)
    block = fields_block(citizen, "Nội dung hồ sơ")
    assert 'name="hoso-so_cccd"' in block and 'name="hoso-xa_phuong"' in block
    assert block.index("hoso-reader_name") < block.index("hoso-so_cccd") < block.index("hoso-tinh_thanh")
    assert 'type="radio"' in block  # the widget chosen in the editor (card_type)
    assert fields_block(editor_page, 'id="fe-preview-form"') == block
    assert fields_block(standalone, 'enctype="multipart/form-data"') == block
    # the published version's (read-only) editor page shows the same preview
    published = designer_client.get(f"/thiet-ke/{code}/v/2/bieu-mau/{FORM}").get_data(as_text=True)
    assert fields_block(published, 'id="fe-preview-form"') == block

    # submissions follow the new form, with the Vietnamese checks, on the web page and the API
    applicant = {"name": "Lê Văn Bình", "phone": "0912345678"}
    data = {"reader_name": "Lê Văn Bình", "birth_date": "1990-09-02", "so_cccd": "001203004567", "so_tien": 50000,
            "tinh_thanh": "01", "xa_phuong": "16690"}
    r = client.post("/api/v1/dossiers", json={"procedure": code, "applicant": applicant, "data": data})
    assert r.status_code == 422, r.get_json()
    assert "không thuộc Thành phố Hà Nội" in json.dumps(r.get_json(), ensure_ascii=False)
    r = client.post("/api/v1/dossiers", json={"procedure": code, "applicant": applicant,
                                              "data": dict(data, tinh_thanh="40")})
    assert r.status_code == 201, r.get_json()
    r = client.post(f"/thu-tuc/{code}/nop-ho-so", content_type="multipart/form-data", data={
        "nguoinop-name": "Lê Văn Bình", "nguoinop-phone": "0912345678", "nguoinop-channel": "online",
        "hoso-reader_name": "Lê Văn Bình", "hoso-birth_date": "02/09/1990", "hoso-so_cccd": "001203004567",
        "hoso-so_tien": "50.000", "hoso-tinh_thanh": "40", "hoso-xa_phuong": "16690"})
    assert r.status_code == 302, htmllib.unescape(r.get_data(as_text=True))[:2000]


@pytest.mark.parametrize("path", sorted(p for p in (ROOT / "forms").glob("*.json") if not p.name.endswith(".ui.json")),
                         ids=lambda p: p.name)
def test_real_forms_survive_the_editor_unchanged(path):
    """Loading a form into the editor and building it again loses nothing (allOf, updown, exclusiveMinimum…).

    Only normalisations: `required` in field order, an explicit textarea widget where maxLength > 255
    implied one, and a ui:order where there was none.
    """
    schema = json.loads(path.read_text(encoding="utf-8"))
    ui_path = path.with_name(path.name.removesuffix(".json") + ".ui.json")
    ui = json.loads(ui_path.read_text(encoding="utf-8")) if ui_path.exists() else {}
    state = state_from_schema(schema, ui)
    assert "advanced" not in {r.kind for r in state.rows}
    built, built_ui = build(state)
    assert set(built.pop("required")) == set(schema.get("required", []))
    assert built == {k: v for k, v in schema.items() if k != "required"}
    implied = {n for n, p in schema["properties"].items()
               if isinstance(p.get("maxLength"), int) and p["maxLength"] > 255}
    for name in implied:
        if built_ui.get(name, {}).get("ui:widget") == "textarea" and ui.get(name, {}).get("ui:widget") is None:
            built_ui[name].pop("ui:widget")
            if not built_ui[name]:
                built_ui.pop(name)
    if "ui:order" not in ui:
        built_ui.pop("ui:order")
    assert built_ui == ui
