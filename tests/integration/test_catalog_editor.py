"""The catalogue record editor: permissions, edit and save, refusals with messages, export/import, public page."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.catalog.models import Procedure
from app.extensions import db

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CODE = "9.777101"
URL = f"/thiet-ke/{CODE}/thong-tin"


@pytest.fixture(scope="module")
def procedure_code(app, tmp_path_factory) -> str:
    """Our own procedure (other tests use 9.999001), deployed by the real CLI."""
    path = tmp_path_factory.mktemp("catalog") / "thu_vien_bien_tap.bpmn"
    path.write_text((FIXTURES / "cap_the_thu_vien.bpmn").read_text(encoding="utf-8").replace("9.999001", CODE),
                    encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["workflows", "deploy", str(path), "--forms",
                                                str(FIXTURES / "forms"), "--unit", "000.00.00.H41"])
    assert result.exit_code == 0, result.output
    return CODE


def login(app, username):
    c = app.test_client()
    r = c.post("/dang-nhap", data={"username": username, "password": "MotCua@2026"})
    assert r.status_code == 302
    return c


def procedure(app) -> Procedure:
    with app.app_context():
        proc = db.session.scalar(select(Procedure).where(Procedure.code == CODE)
                                 .options(joinedload(Procedure.unit)))
        db.session.expunge(proc)
        return proc


def valid_form(**changes):
    form = {
        "action": "save", "name": "Cấp thẻ thư viện (biên tập thử)", "field": "Thư viện",
        "description": "Người đọc đề nghị cấp thẻ thư viện.", "unit": "000.00.00.H41",
        "service_level": "full", "channels": ["counter", "online", "postal"], "postal_return": "y",
        "processing_time-value": "3", "processing_time-unit": "working_days", "processing_time-note": "",
        "processing_time_by_channel-counter-unit": "", "processing_time_by_channel-counter-value": "",
        "processing_time_by_channel-online-unit": "same_day", "processing_time_by_channel-online-value": "",
        "processing_time_by_channel-postal-unit": "working_days", "processing_time_by_channel-postal-value": "5",
        "fee-kind": "per_unit", "fee-unit_price": "2.000", "fee-unit_field": "months", "fee-unit_label": "tháng",
        "fee-min": "", "fee-max": "200.000", "fee-quantity_field": "", "fee-quantity_label": "bản",
        "fee-amount": "", "fee-note": "Miễn cho trẻ em dưới 6 tuổi.",
        "components-0-name": "Tờ khai đề nghị cấp thẻ", "components-0-originals": "1", "components-0-copies": "0",
        "components-0-required": "y", "components-0-file_types": ["pdf"], "components-0-note": "",
        "components-1-name": "Ảnh chân dung 3x4", "components-1-originals": "1", "components-1-copies": "0",
        "components-1-file_types": ["jpg", "png"], "components-1-note": "Chụp trong 6 tháng gần nhất",
        "results-0": "Thẻ thư viện", "legal_basis-0": "Luật Thư viện số 46/2019/QH14",
        "legal_basis-1": "Nghị định số 93/2020/NĐ-CP", "effective_from": "2025-07-01", "effective_to": "2030-12-31",
    }
    form.update(changes)
    return {k: v for k, v in form.items() if v is not None}


def test_only_designers_of_the_owning_unit_and_admins(app, procedure_code):
    anonymous = app.test_client()
    r = anonymous.get(URL)
    assert r.status_code == 302 and "/dang-nhap" in r.headers["Location"]
    assert anonymous.post(URL, data=valid_form()).status_code == 302
    assert anonymous.get(URL + ".json").status_code == 302
    for username in ("thietke.phuong", "chuyenvien.tinh", "tiepnhan.tinh"):
        c = login(app, username)
        assert c.get(URL).status_code == 403, username
        assert c.post(URL, data=valid_form()).status_code == 403, username
        assert c.get(URL + ".json").status_code == 403, username
        assert c.post(URL + "/nhap", data={"file": (io.BytesIO(b"{}"), "x.json")}).status_code == 403, username
    page = login(app, "thietke.tinh").get(URL)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Thông tin thủ tục" in html and 'value="Cấp thẻ thư viện (thử nghiệm)"' in html
    # processingDays of the BPMN became the stored processing time: 2 working days
    assert 'id="processing_time-value" name="processing_time-value" type="text" value="2"' in html
    assert login(app, "quantri.phuong").get(URL).status_code == 200  # admins can do all
    # the designer's procedure page links here
    assert URL in login(app, "thietke.tinh").get(f"/thiet-ke/{CODE}").get_data(as_text=True)
    assert procedure(app).name == "Cấp thẻ thư viện (thử nghiệm)"  # nothing was changed by the refusals


def test_edit_save_and_the_public_page(app, client, procedure_code):
    designer = login(app, "thietke.tinh")
    r = designer.post(URL, data=valid_form())
    assert r.status_code == 302 and r.headers["Location"].endswith(URL)
    assert "Đã lưu thông tin thủ tục" in designer.get(URL).get_data(as_text=True)
    proc = procedure(app)
    assert proc.name == "Cấp thẻ thư viện (biên tập thử)" and proc.field == "Thư viện"
    meta = proc.meta
    assert meta["service_level"] == "full" and meta["channels"] == ["counter", "online", "postal"]
    assert meta["postal_submission"] is True and meta["postal_return"] is True
    assert meta["fee"] == {"kind": "per_unit", "unit_price": 2000, "unit_field": "months", "unit_label": "tháng",
                           "max": 200000, "note": "Miễn cho trẻ em dưới 6 tuổi."}
    assert meta["processing_time_by_channel"] == {
        "online": {"value": 1, "unit": "working_days", "same_day": True},
        "postal": {"value": 5, "unit": "working_days", "same_day": False}}
    assert meta["components"][1] == {"name": "Ảnh chân dung 3x4", "originals": 1, "copies": 0, "required": False,
                                     "file_types": ["jpg", "png"], "note": "Chụp trong 6 tháng gần nhất"}
    assert meta["effective_from"] == "2025-07-01" and meta["effective_to"] == "2030-12-31"
    # Procedure.processing_time (and so due dates) still reads one object
    assert proc.processing_time == {"value": 3, "unit": "working_days", "same_day": False}

    page = client.get(f"/thu-tuc/{CODE}").get_data(as_text=True)
    assert "Dịch vụ công trực tuyến toàn trình" in page
    assert "Nộp trực tiếp: 3 ngày làm việc" in page and "Nộp qua bưu chính: 5 ngày làm việc" in page
    assert "Nộp trực tuyến: Trong ngày làm việc" in page
    assert "2.000 đ/tháng, tối đa 200.000 đ" in page and "Miễn cho trẻ em dưới 6 tuổi." in page
    assert "Nộp hồ sơ qua bưu chính: có; nhận kết quả qua bưu chính: có" in page
    assert "Ảnh chân dung 3x4" in page and "JPEG, PNG" in page and "Chụp trong 6 tháng gần nhất" in page
    assert "Áp dụng từ ngày 01/07/2025" in page and "hết hiệu lực từ ngày 31/12/2030" in page
    assert "Luật Thư viện số 46/2019/QH14" in page and "Thẻ thư viện" in page
    assert "Nộp hồ sơ trực tuyến" in page

    # a citizen's dossier gets the stored (default) time: the submission path is unchanged
    r = client.post("/api/v1/dossiers", json={"procedure": CODE, "applicant": {"name": "Võ Thị Hoa", "phone":
                    "0912345678"}, "data": {"reader_name": "Võ Thị Hoa", "birth_date": "1990-02-03"}})
    assert r.status_code == 201, r.get_json()


def test_invalid_values_are_refused_with_messages_and_kept(app, procedure_code):
    designer = login(app, "thietke.tinh")
    before = procedure(app).meta
    r = designer.post(URL, data=valid_form(**{
        "name": "", "fee-unit_price": "", "fee-min": "300.000", "channels": ["counter"],
        "components-0-name": "", "components-1-originals": "-2", "processing_time-value": "ba",
        "effective_to": "2020-01-01", "processing_time_by_channel-postal-value": None,
        "processing_time_by_channel-counter-value": "4"}))
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert "Có lỗi cần sửa, thông tin chưa được lưu" in html
    for anchor, message in [
        ("#name", "Vui lòng nhập tên thủ tục."),
        ("#fee-unit_price", "Vui lòng nhập đơn giá."),
        ("#fee-max", "Mức tối đa phải lớn hơn hoặc bằng mức tối thiểu."),
        ("#service_level-information", "phải cho phép nộp trực tuyến"),
        ("#components-0-name", "Vui lòng nhập tên giấy tờ."),
        ("#components-1-originals", "Số bản chính phải từ 0 đến 99."),
        ("#processing_time-value", "Thời hạn phải là một số"),
        ("#effective_to", "Ngày hết hiệu lực phải sau ngày có hiệu lực."),
        ("#processing_time_by_channel-counter-unit", "Chọn đơn vị nếu cách thức này có thời hạn riêng"),
    ]:
        assert re.search(rf'<a href="{re.escape(anchor)}">[^<]*{re.escape(message)}', html), (anchor, message)
    # fields carry their messages and keep what was typed
    assert 'id="processing_time-value" name="processing_time-value" type="text" value="ba"' in html
    assert 'aria-describedby="components-1-originals-error" aria-invalid="true"' in html
    assert ">Ảnh chân dung 3x4</textarea>" in html
    assert procedure(app).meta == before  # nothing stored
    # a unit the designer may not design for
    r = designer.post(URL, data=valid_form(unit="000.31.33.H41"))
    assert r.status_code == 422 and "Chọn một đơn vị bạn được thiết kế quy trình." in r.get_data(as_text=True)


def test_rows_are_added_and_removed_without_javascript(app, procedure_code):
    designer = login(app, "thietke.tinh")
    before = procedure(app).meta
    r = designer.post(URL, data=valid_form(action="add:components"))
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "Đã thêm một dòng thành phần hồ sơ (chưa lưu)" in html
    assert re.search(r'<textarea class="sf-input" id="components-2-name" name="components-2-name" rows="2"\s*'
                     r'autofocus>', html)
    r = designer.post(URL, data=valid_form(action="remove:components:0"))
    html = r.get_data(as_text=True)
    assert "Đã xoá dòng thành phần hồ sơ thứ 1 (chưa lưu)" in html
    assert "Tờ khai đề nghị cấp thẻ" not in html and 'id="components-0-name"' in html  # renumbered
    assert re.search(r'id="add-components"[^>]*autofocus', html)
    r = designer.post(URL, data=valid_form(action="add:tiers", **{"fee-kind": "tiered"}))
    assert 'id="fee-tiers-0-upto"' in r.get_data(as_text=True)
    r = designer.post(URL, data=valid_form(action="remove:legal_basis:1"))
    assert "Nghị định số 93/2020/NĐ-CP" not in r.get_data(as_text=True)
    assert procedure(app).meta == before  # nothing saved by row buttons
    # a tiered fee with two tiers saves
    r = designer.post(URL, data=valid_form(**{
        "fee-kind": "tiered", "fee-unit_price": "", "fee-tiers-0-upto": "2", "fee-tiers-0-unit_price": "2.000",
        "fee-tiers-1-upto": "", "fee-tiers-1-unit_price": "1.000", "fee-unit_field": "so_trang",
        "fee-unit_label": "trang"}))
    assert r.status_code == 302
    assert procedure(app).meta["fee"]["tiers"] == [{"upto": 2, "unit_price": 2000}, {"upto": None, "unit_price": 1000}]
    # the submission form has no so_trang field: a warning, not an error
    assert "không có trường “so_trang”" in designer.get(URL).get_data(as_text=True)


def test_export_then_import(app, client, procedure_code):
    designer = login(app, "thietke.tinh")
    assert designer.post(URL, data=valid_form()).status_code == 302
    r = designer.get(URL + ".json")
    assert r.status_code == 200 and r.mimetype == "application/json"
    assert r.headers["Content-Disposition"] == 'attachment; filename="cap_the_thu_vien.procedure.json"'
    exported = json.loads(r.get_data(as_text=True))
    assert exported["code"] == CODE and exported["process_id"] == "cap_the_thu_vien"
    assert exported["unit"] == "000.00.00.H41" and exported["processing_time"]["value"] == 3
    assert exported["fee"]["kind"] == "per_unit" and exported["results"] == ["Thẻ thư viện"]

    changed = dict(exported, name="Cấp thẻ thư viện (nhập từ tệp)", service_level="partial",
                   fee={"kind": "fixed", "amount": 50000})
    body = json.dumps(changed, ensure_ascii=False).encode()
    r = designer.post(URL + "/nhap", data={"file": (io.BytesIO(body), "cap_the_thu_vien.procedure.json")},
                      content_type="multipart/form-data")
    assert r.status_code == 302
    assert "Đã nhập thông tin thủ tục từ cap_the_thu_vien.procedure.json" in designer.get(URL).get_data(as_text=True)
    proc = procedure(app)
    assert proc.name == "Cấp thẻ thư viện (nhập từ tệp)" and proc.meta["fee"] == {"kind": "fixed", "amount": 50000}
    assert "50.000 đ" in client.get(f"/thu-tuc/{CODE}").get_data(as_text=True)
    # exporting again gives the imported record back
    again = json.loads(designer.get(URL + ".json").get_data(as_text=True))
    assert {k: v for k, v in again.items() if k != "fee"} == {k: v for k, v in changed.items() if k != "fee"}

    def import_(content: bytes, name="x.procedure.json"):
        return designer.post(URL + "/nhap", data={"file": (io.BytesIO(content), name)},
                             content_type="multipart/form-data")

    for content, message in [
        (b"{ nope", "Tệp không phải JSON hợp lệ (dòng 1"),
        (json.dumps(dict(exported, code="1.001193")).encode(), "Tệp là thông tin của thủ tục 1.001193, không phải"),
        (json.dumps(dict(exported, unit="000.31.33.H41")).encode(), "không thuộc các đơn vị bạn được thiết kế"),
        (json.dumps(dict(exported, components=[{"name": "", "copies": 200}])).encode(),
         "Thành phần hồ sơ 1 — tên giấy tờ: Vui lòng nhập tên giấy tờ."),
        (json.dumps(dict(exported, fee={"kind": "per_unit"})).encode(),
         "Phí, lệ phí — đơn giá: Vui lòng nhập đơn giá."),
    ]:
        r = import_(content)
        html = r.get_data(as_text=True)
        assert r.status_code == 422 and "Không nhập được tệp: thông tin thủ tục chưa thay đổi" in html, message
        assert message in html, message
    r = designer.post(URL + "/nhap", data={}, content_type="multipart/form-data")
    assert r.status_code == 422 and "Vui lòng chọn tệp thông tin thủ tục" in r.get_data(as_text=True)
    assert procedure(app).name == "Cấp thẻ thư viện (nhập từ tệp)"  # unchanged by the refusals
    # a file without code and unit is imported into this procedure
    minimal = {"name": "Cấp thẻ thư viện (tệp tối giản)", "processing_time": {"value": 4, "unit": "working_days"}}
    assert import_(json.dumps(minimal).encode()).status_code == 302
    proc = procedure(app)
    assert proc.code == CODE and proc.unit.code == "000.00.00.H41" and proc.processing_time["value"] == 4


def test_existing_sidecar_imports_as_is(app, procedure_code):
    """The current sidecar format is the import format (code aside)."""
    designer = login(app, "thietke.tinh")
    raw = json.loads((Path(__file__).resolve().parents[2] / "workflows" / "cap_phep_xay_dung_nha_o.procedure.json")
                     .read_text(encoding="utf-8"))
    raw["code"] = CODE
    r = designer.post(URL + "/nhap", data={"file": (io.BytesIO(json.dumps(raw).encode()), "x.json")},
                      content_type="multipart/form-data")
    assert r.status_code == 302
    meta = procedure(app).meta
    assert meta["fee"]["kind"] == "fixed" and meta["fee"]["amount"] == 75000
    assert meta["results"] == [raw["result"]] and meta["result"] == raw["result"]
