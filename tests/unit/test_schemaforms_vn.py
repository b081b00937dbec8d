"""Vietnamese field types of app.schemaforms (app/schemaforms/vn.py): data, checks, rendering, read-only view."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask, render_template_string
from werkzeug.datastructures import MultiDict

from app.schemaforms import KNOWN_FORMATS, build_form, check_schema, validate_data, vn

TEMPLATES = Path(__file__).resolve().parents[2] / "app" / "templates"
NGHE_AN, HA_NOI = "40", "01"
TRUONG_VINH = "16690"  # Phường Trường Vinh, Nghệ An

SCHEMA: dict = {
    "title": "Tờ khai",
    "type": "object",
    "required": ["cccd", "province", "ward"],
    "properties": {
        "cccd": dict(vn.FIELD_TYPES["vn-cccd"].schema),
        "phone": dict(vn.FIELD_TYPES["vn-phone"].schema),
        "tax_code": dict(vn.FIELD_TYPES["vn-tax-code"].schema),
        "fee": dict(vn.FIELD_TYPES["vn-money"].schema, title="Lệ phí"),
        "issued_on": dict(vn.FIELD_TYPES["vn-date"].schema),
        "province": {"type": "string", "format": "vn-province", "title": "Tỉnh, thành phố"},
        "ward": {"type": "string", "format": "vn-ward", "title": "Xã, phường", "x-province-field": "province"},
    },
}
VALID = {"cccd": "001203004567", "phone": "0912345678", "tax_code": "0101234567-001", "fee": 200000,
         "issued_on": "2025-07-01", "province": NGHE_AN, "ward": TRUONG_VINH}


@pytest.fixture(scope="module")
def flask_app():
    app = Flask(__name__, template_folder=str(TEMPLATES))
    app.config.update(SECRET_KEY="test", WTF_CSRF_ENABLED=False)
    app.jinja_env.globals.update(vn.jinja_globals())
    return app


def render(app, form) -> str:
    with app.test_request_context():
        return render_template_string('{% import "schemaforms/_macros.html" as sf %}{{ sf.render_schema_form(form) }}',
                                      form=form)


def render_data(app, schema, data) -> str:
    with app.test_request_context():
        return render_template_string(
            '{% import "schemaforms/_macros.html" as sf %}{{ sf.render_schema_data(schema, data) }}',
            schema=schema, data=data)


# --------------------------------------------------------------------------- data


def test_two_level_divisions_since_july_2025():
    assert len(vn.provinces()) == 34
    assert 3000 < len(vn.wards()) < 3500
    nghe_an = vn.province(NGHE_AN)
    assert nghe_an is not None and nghe_an.name == "Tỉnh Nghệ An" and nghe_an.short_name == "Nghệ An"
    assert vn.province(HA_NOI).name == "Thành phố Hà Nội"
    truong_vinh = vn.ward(TRUONG_VINH)
    assert truong_vinh.name == "Phường Trường Vinh" and truong_vinh.province_code == NGHE_AN
    assert all(re.fullmatch(r"\d{2}", p.code) for p in vn.provinces())
    assert all(re.fullmatch(r"\d{5}", w.code) and w.kind in ("phường", "xã", "đặc khu") for w in vn.wards())
    assert {w.province_code for w in vn.wards()} == {p.code for p in vn.provinces()}
    assert vn.province("99") is None and vn.ward("99999") is None and vn.province(40) is None
    assert vn.PACKAGE_VERSION != "?" and vn.DATA_VERSION != "?"


def test_vietnamese_alphabetical_order():
    names = [p.short_name for p in vn.provinces()]
    assert names[0] == "An Giang"
    assert names.index("Cà Mau") < names.index("Cao Bằng") < names.index("Cần Thơ") < names.index("Đà Nẵng")
    assert names.index("Hà Nội") < names.index("Hồ Chí Minh")


def test_ward_choices_grouped_or_limited():
    everything = vn.ward_choices(None)
    assert len(everything) == len(vn.wards()) and {g for _, _, g in everything} == {p.name for p in vn.provinces()}
    mine = vn.ward_choices(NGHE_AN)
    assert (TRUONG_VINH, "Phường Trường Vinh", None) in mine
    assert all(vn.ward(code).province_code == NGHE_AN for code, _, _ in mine)
    assert vn.ward_choices("99") == everything  # unknown province: everything


# --------------------------------------------------------------------------- checks


@pytest.mark.parametrize("value, ok", [
    ("001203004567", True), ("012345678901", True), ("00120300456", False), ("0012030045678", False),
    ("00120300456a", False), (" 001203004567", False), ("001 203 004 567", False),
])
def test_cccd(value, ok):
    assert vn.is_cccd(value) is ok


@pytest.mark.parametrize("value, ok", [
    ("0912345678", True), ("0321234567", True), ("0581234567", True), ("0701234567", True), ("0861234567", True),
    ("+84912345678", True), ("02383844123", True), ("02438251234", True),
    ("0123456789", False), ("091234567", False), ("09123456789", False), ("0912 345 678", False),
    ("84912345678", False), ("0612345678", False), ("0238384412", False),
])
def test_phone(value, ok):
    assert vn.is_phone(value) is ok


@pytest.mark.parametrize("value, ok", [
    ("0101234567", True), ("0101234567-001", True), ("010123456", False), ("0101234567001", False),
    ("0101234567-01", False), ("01012345678", False), ("010123456A", False),
])
def test_tax_code(value, ok):
    assert vn.is_tax_code(value) is ok


def test_non_strings_are_left_to_type_checks():
    assert vn.is_cccd(12) and vn.is_phone(None) and vn.is_province(40) and vn.is_ward(16690)


@pytest.mark.parametrize("text, value", [
    ("200000", 200000), ("200.000", 200000), ("200,000", 200000), ("200 000", 200000), ("200.000 đ", 200000),
    ("1.500.000 VND", 1500000), ("1.500.000đ", 1500000), ("2.000.000 đồng", 2000000), ("-5", -5), (0, 0),
    ("1.5", None), ("12.34", None), ("2.000.00", None), ("1.000,000", None), ("abc", None), ("", None),
    (True, None), (12.5, None),
])
def test_parse_money(text, value):
    assert vn.parse_money(text) == value


def test_format_money():
    assert vn.format_money(200000) == "200.000 đ"
    assert vn.format_money(1500000, unit=False) == "1.500.000"
    assert vn.format_money(0) == "0 đ"


# --------------------------------------------------------------------------- validation


def test_valid_data_passes():
    assert validate_data(SCHEMA, VALID) == {}


def test_each_type_has_its_own_message_once():
    errors = validate_data(SCHEMA, dict(VALID, cccd="12345", phone="0123456789", tax_code="12345",
                                        province="99", ward="99999"))
    assert errors["cccd"] == ["Số định danh cá nhân (CCCD) phải gồm đúng 12 chữ số (số định danh cá nhân trên thẻ "
                              "căn cước)."]
    assert len(errors["phone"]) == 1 and "di động 10 chữ số" in errors["phone"][0]
    assert errors["tax_code"] == ["Mã số thuế phải gồm 10 chữ số, hoặc 13 chữ số viết dạng 0101234567-001."]
    assert errors["province"] == ["Tỉnh, thành phố: vui lòng chọn tỉnh, thành phố trong danh sách."]
    assert errors["ward"] == ["Xã, phường: vui lòng chọn xã, phường, đặc khu trong danh sách."]
    english = validate_data(SCHEMA, dict(VALID, cccd="1"), lang="en")
    assert "exactly 12 digits" in english["cccd"][0]


def test_money_is_whole_dong_not_negative():
    assert validate_data(SCHEMA, dict(VALID, fee=-1)) == {"fee": ["Lệ phí phải lớn hơn hoặc bằng 0."]}
    assert validate_data(SCHEMA, dict(VALID, fee=1.5)) == {"fee": ["Lệ phí phải là số nguyên."]}
    assert validate_data(SCHEMA, dict(VALID, fee="200.000")) == {"fee": ["Lệ phí phải là số nguyên."]}


def test_ward_must_belong_to_the_chosen_province():
    errors = validate_data(SCHEMA, dict(VALID, province=HA_NOI))
    assert errors == {"ward": ["Xã, phường: “Phường Trường Vinh” không thuộc Thành phố Hà Nội. Vui lòng chọn lại xã, "
                               "phường của Thành phố Hà Nội."]}
    assert "is not in Thành phố Hà Nội" in validate_data(SCHEMA, dict(VALID, province=HA_NOI), lang="en")["ward"][0]
    # no province chosen (optional elsewhere) or no link: nothing to compare
    unlinked = {"type": "object", "properties": {"p": SCHEMA["properties"]["province"],
                                                 "w": {"type": "string", "format": "vn-ward"}}}
    assert validate_data(unlinked, {"p": HA_NOI, "w": TRUONG_VINH}) == {}
    assert validate_data(SCHEMA, {k: v for k, v in VALID.items() if k != "province"}) == {
        "province": ["Vui lòng chọn Tỉnh, thành phố."]}


def test_cross_check_in_nested_objects():
    schema = {"type": "object", "properties": {"address": {
        "type": "object", "title": "Địa chỉ",
        "properties": {"province": SCHEMA["properties"]["province"], "ward": SCHEMA["properties"]["ward"]}}}}
    assert validate_data(schema, {"address": {"province": NGHE_AN, "ward": TRUONG_VINH}}) == {}
    errors = validate_data(schema, {"address": {"province": HA_NOI, "ward": TRUONG_VINH}})
    assert list(errors) == ["address.ward"] and "không thuộc Thành phố Hà Nội" in errors["address.ward"][0]


# --------------------------------------------------------------------------- check_schema


def test_check_schema_accepts_the_vn_types_and_the_palette():
    assert vn.FORMATS <= KNOWN_FORMATS
    assert check_schema(SCHEMA) == []
    for field_type in vn.FIELD_TYPES.values():
        schema = {"type": "object", "properties": {"x": field_type.property(), "p": SCHEMA["properties"]["province"]}}
        assert check_schema(schema) == [], field_type.key
        build_form(schema, {"x": field_type.ui_schema()})  # renders


def test_palette_types_keep_a_pattern_for_other_validators():
    """rjsf / SpiffArena ignore unknown formats: the pattern still guards those types there."""
    for key in ("vn-cccd", "vn-phone", "vn-tax-code"):
        assert vn.FIELD_TYPES[key].schema["pattern"]
    assert vn.FIELD_TYPES["vn-money"].schema["minimum"] == 0


@pytest.mark.parametrize("prop, expected", [
    ({"type": "string", "format": "vn-money"}, "định dạng “vn-money” chỉ dùng cho kiểu integer"),
    ({"type": "integer", "format": "vn-cccd"}, "“format” chỉ dùng cho kiểu string"),
    ({"type": "string", "format": "vn-ward", "x-province-field": "nowhere"}, "phải là tên một trường tỉnh"),
    ({"type": "string", "format": "vn-ward", "x-province-field": "cccd"}, "phải là tên một trường tỉnh"),
    ({"type": "string", "x-province-field": "province"}, "chỉ dùng cho trường xã, phường"),
    ({"type": "string", "format": "vn-unknown"}, "định dạng “vn-unknown” không được hỗ trợ"),
    ({"type": "string", "format": "vn-province", "default": "99"}, "giá trị mặc định “default” không hợp lệ"),
])
def test_check_schema_refuses_misused_vn_types(prop, expected):
    schema = {"type": "object", "properties": {"cccd": SCHEMA["properties"]["cccd"],
                                               "province": SCHEMA["properties"]["province"], "x": prop}}
    problems = check_schema(schema)
    assert any(expected in p and "“x”" in p for p in problems), problems


# --------------------------------------------------------------------------- rendering


def test_pickers_render_with_labels_and_the_ward_grouped_by_province(flask_app):
    html = render(flask_app, build_form(SCHEMA, prefix="hoso-"))
    province = re.search(r'<select[^>]*name="hoso-province".*?</select>', html, re.S).group(0)
    assert province.count("<option") == 35  # blank + 34
    assert '<option value="40">Nghệ An</option>' in province and "— Chọn —" in province
    assert '<label class="sf-label" for="hoso-province">Tỉnh, thành phố' in html
    ward = re.search(r'<select[^>]*name="hoso-ward".*?</select>', html, re.S).group(0)
    assert ward.count("<optgroup") == 34 and '<optgroup label="Tỉnh Nghệ An">' in ward
    assert '<option value="16690">Phường Trường Vinh</option>' in ward
    assert '<label class="sf-label" for="hoso-ward">Xã, phường' in html and "required" in ward


@pytest.mark.parametrize("source", ["data", "formdata", "default"])
def test_ward_select_is_limited_to_the_chosen_province(flask_app, source):
    schema = SCHEMA
    kwargs: dict = {}
    if source == "data":
        kwargs["data"] = {"province": NGHE_AN, "ward": TRUONG_VINH}
    elif source == "formdata":
        kwargs["formdata"] = MultiDict({"province": NGHE_AN, "ward": TRUONG_VINH})
    else:
        schema = {**SCHEMA, "properties": {**SCHEMA["properties"],
                                           "province": dict(SCHEMA["properties"]["province"], default=NGHE_AN)}}
    html = render(flask_app, build_form(schema, **kwargs))
    ward = re.search(r'<select[^>]*name="ward".*?</select>', html, re.S).group(0)
    assert "<optgroup" not in ward
    assert ward.count("<option") == len(vn.wards(NGHE_AN)) + 1
    if source != "default":
        assert '<option selected value="16690">Phường Trường Vinh</option>' in ward


def test_submitted_pickers_give_codes_and_the_cross_check(flask_app):
    form = build_form(SCHEMA, formdata=MultiDict({"cccd": "001203004567", "province": HA_NOI, "ward": TRUONG_VINH}))
    assert not form.validate_schema()
    assert form.clean_data["province"] == HA_NOI and form.clean_data["ward"] == TRUONG_VINH
    assert "không thuộc Thành phố Hà Nội" in form.sf_field("ward").errors[0]
    html = render(flask_app, form)
    ward = re.search(r'<select[^>]*name="ward".*?</select>', html, re.S).group(0)
    assert 'aria-invalid="true"' in ward and "Phường Trường Vinh" not in ward  # now Hà Nội's wards: choose again


def test_phone_cccd_and_money_inputs(flask_app):
    form = build_form(SCHEMA, data={"fee": 1500000})
    html = render(flask_app, form)
    assert re.search(r'<input[^>]*name="phone"[^>]*type="tel"|<input[^>]*type="tel"[^>]*name="phone"', html)
    assert re.search(r'<input[^>]*inputmode="numeric"[^>]*name="cccd"|<input[^>]*name="cccd"[^>]*inputmode="numeric"',
                     html)
    fee = re.search(r'<input[^>]*name="fee"[^>]*>', html).group(0)
    assert 'value="1.500.000"' in fee and 'inputmode="numeric"' in fee and 'type="text"' in fee
    assert 'sf-input--money' in fee


@pytest.mark.parametrize("typed, value", [("1.500.000", 1500000), ("200 000 đ", 200000), ("0", 0)])
def test_money_input_reads_vietnamese_amounts(typed, value):
    form = build_form(SCHEMA, formdata=MultiDict({**{k: v for k, v in VALID.items() if k != "fee"},
                                                  "issued_on": "01/07/2025", "fee": typed}))
    assert form.validate_schema(), form.sf_errors
    assert form.clean_data["fee"] == value and form.clean_data["issued_on"] == "2025-07-01"


def test_unreadable_money_is_reported_not_raised():
    form = build_form(SCHEMA, formdata=MultiDict({**{k: v for k, v in VALID.items() if k != "fee"}, "fee": "hai trăm"}))
    assert not form.validate_schema() and form.sf_errors == {"fee": ["Lệ phí phải là số nguyên."]}


def test_read_only_view_names_places_and_writes_money(flask_app):
    html = render_data(flask_app, SCHEMA, VALID)
    assert "Tỉnh Nghệ An" in html and "Phường Trường Vinh" in html and "200.000 đ" in html
    assert "01/07/2025" in html and ">40<" not in html


def test_read_only_money_without_the_global():
    bare = Flask(__name__, template_folder=str(TEMPLATES))
    html = render_data(bare, SCHEMA, {"fee": 2500000, "province": NGHE_AN})
    assert "2.500.000 đ" in html and ">40<" in html  # names need the sf_vn_label global
