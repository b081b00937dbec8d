"""Unit tests for app.schemaforms: JSON Schema forms rendered as WTForms and validated with jsonschema."""

from __future__ import annotations

import base64
import copy
import io
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from flask import Flask, render_template_string
from werkzeug.datastructures import FileStorage, MultiDict
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    FileField,
    FloatField,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    MultipleFileField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)

from app.schemaforms import (
    SchemaForm,
    build_form,
    check_schema,
    decode_data_url,
    encode_data_url,
    field_names,
    file_fields,
    validate_data,
)

TEMPLATES = Path(__file__).resolve().parents[2] / "app" / "templates"

PDF = b"%PDF-1.4 test"
PDF_URL = "data:application/pdf;name=don.pdf;base64," + base64.b64encode(PDF).decode()

# Every type, format and choice style the contract allows.
SCHEMA: dict = {
    "title": "Đơn đề nghị cấp giấy phép",
    "description": "Điền đầy đủ thông tin.",
    "type": "object",
    "required": ["full_name", "birth_date", "gender", "decision", "applicant", "id_scan", "agree"],
    "properties": {
        "full_name": {"type": "string", "title": "Họ và tên", "minLength": 2, "maxLength": 50},
        "id_number": {"type": "string", "title": "Số CCCD", "pattern": "^[0-9]{12}$",
                      "description": "12 chữ số"},
        "note": {"type": "string", "title": "Ghi chú", "maxLength": 2000},
        "age": {"type": "integer", "title": "Tuổi", "minimum": 18, "maximum": 120},
        "area": {"type": "number", "title": "Diện tích (m²)", "exclusiveMinimum": 0},
        "birth_date": {"type": "string", "format": "date", "title": "Ngày sinh"},
        "email": {"type": "string", "format": "email", "title": "Thư điện tử"},
        "gender": {"type": "string", "title": "Giới tính", "enum": ["nam", "nu"],
                   "enumNames": ["Nam", "Nữ"]},
        "decision": {"type": "string", "title": "Kết quả xử lý", "oneOf": [
            {"const": "accept", "title": "Tiếp nhận"},
            {"const": "reject", "title": "Từ chối"},
        ]},
        "level": {"type": "integer", "title": "Mức độ", "enum": [1, 2, 3],
                  "enumNames": ["Thấp", "Vừa", "Cao"]},
        "documents": {"type": "array", "title": "Giấy tờ kèm theo", "uniqueItems": True,
                      "items": {"type": "string", "oneOf": [
                          {"const": "so_ho_khau", "title": "Sổ hộ khẩu"},
                          {"const": "giay_khai_sinh", "title": "Giấy khai sinh"},
                          {"const": "hop_dong", "title": "Hợp đồng"},
                      ]}},
        "agree": {"type": "boolean", "title": "Tôi cam đoan thông tin là đúng"},
        "urgent": {"type": "boolean", "title": "Xử lý khẩn"},
        "applicant": {"type": "object", "title": "Người nộp hồ sơ", "required": ["phone"],
                      "properties": {
                          "phone": {"type": "string", "title": "Số điện thoại", "pattern": "^0[0-9]{9}$"},
                          "address": {"type": "string", "title": "Địa chỉ"},
                      }},
        "id_scan": {"type": "string", "format": "data-url", "title": "Bản chụp CCCD"},
        "extra_files": {"type": "array", "title": "Tài liệu khác", "maxItems": 3,
                        "items": {"type": "string", "format": "data-url"}},
        "ref_code": {"type": "string", "title": "Mã tham chiếu"},
    },
}

UI: dict = {
    "ui:order": ["full_name", "birth_date", "gender", "*", "ref_code"],
    "note": {"ui:widget": "textarea"},
    "decision": {"ui:widget": "radio", "ui:help": "Chọn một kết quả."},
    "id_number": {"ui:placeholder": "001099000001"},
    "id_scan": {"ui:options": {"accept": ".pdf,.jpg"}},
    "extra_files": {"ui:options": {"accept": ".pdf"}},
    "ref_code": {"ui:widget": "hidden"},
}


def upload(content: bytes, filename: str, content_type: str = "application/octet-stream") -> FileStorage:
    return FileStorage(stream=io.BytesIO(content), filename=filename, content_type=content_type)


def valid_formdata() -> MultiDict:
    return MultiDict([
        ("full_name", "  Nguyễn Văn A  "),
        ("id_number", "001099000001"),
        ("note", "Dòng 1\r\nDòng 2"),
        ("age", "30"),
        ("area", "75,5"),
        ("birth_date", "05/09/1994"),
        ("email", "a@example.vn"),
        ("gender", "nu"),
        ("decision", "accept"),
        ("level", "2"),
        ("documents", "so_ho_khau"),
        ("documents", "hop_dong"),
        ("agree", "y"),
        ("applicant-phone", "0912345678"),
        ("applicant-address", ""),
        ("id_scan", upload(PDF, "../../Căn cước công dân.pdf", "application/pdf")),
        ("extra_files", upload(b"one", "mot.png", "image/png")),
        ("extra_files", upload(b"two", "hai.txt")),
        ("extra_files", upload(b"", "")),  # an empty file input
        ("ref_code", "REF-1"),
        ("csrf_token", "ignored"),
    ])


def valid_data() -> dict:
    return {
        "full_name": "Nguyễn Văn A",
        "birth_date": "1994-09-05",
        "gender": "nam",
        "decision": "accept",
        "agree": True,
        "applicant": {"phone": "0912345678"},
        "id_scan": PDF_URL,
    }


# --------------------------------------------------------------------------- check_schema


def test_check_schema_accepts_the_full_schema():
    assert check_schema(SCHEMA) == []


def test_check_schema_refuses_non_identifier_and_keyword_names():
    schema = {"type": "object", "properties": {
        "ho-ten": {"type": "string"},
        "class": {"type": "string"},
        "nhom": {"type": "object", "properties": {"2nd": {"type": "string"}}},
    }}
    problems = check_schema(schema)
    assert len(problems) == 3
    assert any("“ho-ten”" in p and "định danh Python" in p for p in problems)
    assert any("“class”" in p for p in problems)
    assert any("“nhom.2nd”" in p for p in problems)


def test_check_schema_reports_metaschema_errors_with_the_property():
    problems = check_schema({"type": "object", "properties": {
        "a": {"type": "strin"},
        "b": {"type": "string", "maxLength": -1},
    }})
    assert len(problems) == 2
    assert problems[0].startswith("Thuộc tính “a”: giá trị của “type” không hợp lệ")
    assert problems[1].startswith("Thuộc tính “b”: giá trị của “maxLength” không hợp lệ")


@pytest.mark.parametrize(("schema", "expected"), [
    ([], "Biểu mẫu phải là một đối tượng JSON."),
    ({"type": "array", "items": {"type": "string"}}, "“type”: “object”"),
    ({"type": "object", "properties": {"x": {"type": "string", "format": "uri"}}},
     "Thuộc tính “x”: định dạng “uri” không được hỗ trợ"),
    ({"type": "object", "properties": {"x": {"type": "integer", "format": "date"}}},
     "Thuộc tính “x”: “format” chỉ dùng cho kiểu string"),
    ({"type": "object", "properties": {"x": {"type": "string", "enum": ["a", 1]}}},
     "Thuộc tính “x”: giá trị trong “enum” không đúng kiểu string"),
    ({"type": "object", "properties": {"x": {"type": "string", "enum": ["a", "a"]}}},
     "Thuộc tính “x”: “enum” có giá trị bị trùng"),
    ({"type": "object", "properties": {"x": {"type": "string", "enum": ["a", "b"], "enumNames": ["A"]}}},
     "Thuộc tính “x”: “enumNames”"),
    ({"type": "object", "properties": {"x": {"type": "string", "oneOf": [{"const": "a", "title": "A"},
                                                                      {"title": "B"}]}}},
     "Thuộc tính “x”: “oneOf” chỉ được dùng làm danh sách lựa chọn"),
    ({"type": "object", "properties": {"x": {"type": "string", "oneOf": [{"const": "a"}]}}},
     "Thuộc tính “x”: mỗi lựa chọn trong “oneOf” phải có “title”"),
    ({"type": "object", "properties": {"x": {"type": "integer", "oneOf": [{"const": "a", "title": "A"}]}}},
     "Thuộc tính “x”: giá trị “const” trong “oneOf” không đúng kiểu integer"),
    ({"type": "object", "properties": {"x": {"type": "string", "pattern": "("}}},
     "Thuộc tính “x”: biểu thức “pattern” không hợp lệ"),
    ({"type": "object", "properties": {"x": {"type": "integer", "minimum": 5, "maximum": 1}}},
     "Thuộc tính “x”: “minimum” (5) lớn hơn “maximum” (1)"),
    ({"type": "object", "properties": {"x": {"type": "integer", "default": "abc"}}},
     "Thuộc tính “x”: giá trị mặc định “default” không hợp lệ"),
    ({"type": "object", "properties": {"x": {"type": "string", "format": "date", "default": "05/09/1994"}}},
     "Thuộc tính “x”: giá trị mặc định “default” không hợp lệ"),
    ({"type": "object", "properties": {"x": {"title": "X"}}}, "Thuộc tính “x” thiếu “type”"),
    ({"type": "object", "properties": {"x": {"type": "null"}}}, "Thuộc tính “x”: kiểu “null”"),
    ({"type": "object", "properties": {"x": {"type": "array", "items": {"type": "string"}}}},
     "Thuộc tính “x”: danh sách (array) chỉ hỗ trợ"),
    ({"type": "object", "properties": {"x": {"type": "string"}}, "required": ["y"]},
     "Biểu mẫu: trường bắt buộc “y” không có trong “properties”"),
    ({"type": "object", "properties": {"x": {"$ref": "https://example.com/x.json"}}},
     "Thuộc tính “x”: chỉ hỗ trợ “$ref” nội bộ"),
])
def test_check_schema_subset_rules(schema, expected):
    problems = check_schema(schema)
    assert any(expected in p for p in problems), problems


def test_check_schema_follows_local_refs_and_conditional_fields():
    schema = {
        "type": "object",
        "definitions": {"phone": {"type": "string", "title": "Điện thoại", "pattern": "^0[0-9]{9}$"}},
        "properties": {"phone": {"$ref": "#/definitions/phone"},
                       "kind": {"type": "string", "enum": ["a", "b"]}},
        "dependencies": {"kind": {"properties": {"reason-x": {"type": "string"}}}},
    }
    problems = check_schema(schema)
    assert len(problems) == 1 and "“reason-x”" in problems[0]


# --------------------------------------------------------------------------- validate_data


def test_validate_data_accepts_valid_data():
    assert validate_data(SCHEMA, valid_data()) == {}


def _one(schema_props: dict, data: dict, *, required: list[str] | None = None, lang: str = "vi") -> dict:
    schema = {"type": "object", "properties": schema_props, "required": required or []}
    return validate_data(schema, data, lang=lang)


@pytest.mark.parametrize(("prop", "value", "message"), [
    ({"type": "string", "title": "Họ và tên", "maxLength": 5}, "Nguyễn Văn A",
     "Họ và tên không được dài quá 5 ký tự."),
    ({"type": "string", "title": "Họ và tên", "minLength": 3}, "An", "Họ và tên phải có ít nhất 3 ký tự."),
    ({"type": "string", "title": "Số CCCD", "pattern": "^[0-9]{12}$"}, "12ab",
     "Số CCCD không đúng định dạng."),
    ({"type": "string", "title": "Giới tính", "enum": ["nam", "nu"]}, "khac",
     "Giá trị không hợp lệ cho Giới tính."),
    ({"type": "string", "title": "Kết quả", "oneOf": [{"const": "accept", "title": "Tiếp nhận"}]}, "x",
     "Giá trị không hợp lệ cho Kết quả."),
    ({"type": "integer", "title": "Tuổi"}, "abc", "Tuổi phải là số nguyên."),
    ({"type": "integer", "title": "Tuổi"}, 1.5, "Tuổi phải là số nguyên."),
    ({"type": "number", "title": "Diện tích"}, "nhiều", "Diện tích phải là số."),
    ({"type": "string", "title": "Địa chỉ"}, 12, "Địa chỉ phải là chuỗi ký tự."),
    ({"type": "boolean", "title": "Khẩn"}, "có", "Khẩn chỉ nhận giá trị Có hoặc Không."),
    ({"type": "integer", "title": "Tuổi", "minimum": 18}, 17, "Tuổi phải lớn hơn hoặc bằng 18."),
    ({"type": "integer", "title": "Tuổi", "maximum": 120}, 121, "Tuổi phải nhỏ hơn hoặc bằng 120."),
    ({"type": "number", "title": "Diện tích", "exclusiveMinimum": 0}, 0, "Diện tích phải lớn hơn 0."),
    ({"type": "integer", "title": "Số lượng", "multipleOf": 5}, 7, "Số lượng phải là bội số của 5."),
    ({"type": "string", "format": "date", "title": "Ngày sinh"}, "2023-02-29",
     "Ngày sinh không phải là ngày hợp lệ (dd/mm/yyyy)."),
    ({"type": "string", "format": "date", "title": "Ngày sinh"}, "05/09/1994",
     "Ngày sinh không phải là ngày hợp lệ (dd/mm/yyyy)."),
    ({"type": "string", "format": "email", "title": "Thư điện tử"}, "a@b",
     "Thư điện tử không phải là địa chỉ email hợp lệ."),
    ({"type": "string", "format": "data-url", "title": "Bản chụp"}, "data:application/pdf;base64,@@@",
     "Bản chụp không phải là tệp hợp lệ."),
    ({"type": "array", "title": "Tệp", "maxItems": 1, "items": {"type": "string", "format": "data-url"}},
     [PDF_URL, PDF_URL], "Tệp: chỉ được đính kèm tối đa 1 tệp."),
    ({"type": "array", "title": "Tệp", "items": {"type": "string", "format": "data-url"}},
     [PDF_URL, "khong-phai-tep"], "Tệp (tệp thứ 2) không phải là tệp hợp lệ."),
    ({"type": "array", "title": "Giấy tờ", "uniqueItems": True,
      "items": {"type": "string", "enum": ["a", "b"]}},
     ["a", "a"], "Giấy tờ có giá trị bị trùng lặp."),
    ({"type": "array", "title": "Giấy tờ", "items": {"type": "string", "enum": ["a", "b"]}},
     ["a", "z"], "Giá trị không hợp lệ cho Giấy tờ (mục 2)."),
    ({"type": "array", "title": "Giấy tờ", "minItems": 2, "items": {"type": "string", "enum": ["a", "b"]}},
     ["a"], "Giấy tờ phải có ít nhất 2 mục."),
])
def test_validate_data_messages_in_vietnamese(prop, value, message):
    assert _one({"field": prop}, {"field": value}) == {"field": [message]}


@pytest.mark.parametrize(("prop", "message"), [
    ({"type": "string", "title": "Họ và tên"}, "Vui lòng nhập Họ và tên."),
    ({"type": "integer", "title": "Tuổi"}, "Vui lòng nhập Tuổi."),
    ({"type": "string", "title": "Giới tính", "enum": ["nam", "nu"]}, "Vui lòng chọn Giới tính."),
    ({"type": "string", "format": "data-url", "title": "Bản chụp CCCD"}, "Vui lòng đính kèm Bản chụp CCCD."),
    ({"type": "string"}, "Vui lòng nhập field."),
])
def test_validate_data_required_messages(prop, message):
    assert _one({"field": prop}, {}, required=["field"]) == {"field": [message]}


def test_required_blank_values_count_as_missing():
    props = {"name": {"type": "string", "title": "Họ và tên", "minLength": 2},
             "files": {"type": "array", "title": "Tệp", "items": {"type": "string", "format": "data-url"}}}
    errors = _one(props, {"name": "   ", "files": []}, required=["name", "files"])
    assert errors == {"name": ["Vui lòng nhập Họ và tên."], "files": ["Vui lòng đính kèm Tệp."]}


def test_validate_data_nested_paths_and_field_order():
    data = valid_data()
    data["applicant"] = {"phone": "12"}
    data["age"] = 5
    del data["full_name"]
    errors = validate_data(SCHEMA, data)
    assert list(errors) == ["full_name", "age", "applicant.phone"]
    assert errors["applicant.phone"] == ["Số điện thoại không đúng định dạng."]
    data["applicant"] = {}
    assert validate_data(SCHEMA, data)["applicant.phone"] == ["Vui lòng nhập Số điện thoại."]


def test_validate_data_root_errors_use_empty_key():
    assert validate_data(SCHEMA, ["not", "an", "object"]) == {
        "": ["Đơn đề nghị cấp giấy phép phải là một nhóm thông tin."]
    }


def test_extra_keys_are_refused_everywhere():
    data = valid_data()
    data["approved"] = True
    data["applicant"]["role"] = "admin"
    errors = validate_data(SCHEMA, data)
    assert errors == {
        "approved": ["Trường không có trong biểu mẫu: approved"],
        "applicant.role": ["Trường không có trong biểu mẫu: role"],
    }


def test_extra_keys_allowed_only_when_the_schema_says_so():
    open_schema = {"type": "object", "additionalProperties": True, "properties": {"a": {"type": "string"}}}
    assert validate_data(open_schema, {"a": "x", "b": 1}) == {}
    closed = {"type": "object", "additionalProperties": False, "properties": {"a": {"type": "string"}}}
    assert validate_data(closed, {"b": 1}) == {"b": ["Trường không có trong biểu mẫu: b"]}


def test_conditional_properties_are_not_extra_keys():
    schema = {
        "type": "object",
        "properties": {"decision": {"type": "string", "enum": ["accept", "reject"]}},
        "required": ["decision"],
        "if": {"properties": {"decision": {"const": "reject"}}},
        "then": {"properties": {"reason": {"type": "string", "title": "Lý do"}}, "required": ["reason"]},
    }
    assert validate_data(schema, {"decision": "reject", "reason": "Thiếu giấy tờ"}) == {}
    assert validate_data(schema, {"decision": "reject"}) == {"reason": ["Vui lòng nhập Lý do."]}
    assert field_names(schema) == ["decision", "reason"]


def test_validate_data_in_english():
    errors = _one({"age": {"type": "integer", "title": "Tuổi", "maximum": 10}}, {"age": 11, "x": 1},
                  lang="en")
    assert errors == {"age": ["Tuổi must be 10 or less."], "x": ["Field is not part of the form: x"]}
    errors = _one({"a": {"type": "string", "title": "Tên"}}, {}, required=["a"], lang="en")
    assert errors == {"a": ["Enter Tên."]}


def test_validate_data_uses_the_declared_draft():
    schema = {"$schema": "http://json-schema.org/draft-04/schema#", "type": "object",
              "properties": {"n": {"type": "integer", "title": "Số", "minimum": 1, "exclusiveMinimum": True}}}
    assert validate_data(schema, {"n": 1}) == {"n": ["Số phải lớn hơn 1."]}
    assert validate_data(schema, {"n": 2}) == {}


# --------------------------------------------------------------------------- data URLs and names


def test_data_url_round_trip_keeps_vietnamese_names():
    url = encode_data_url("Đơn đề nghị.pdf", "application/pdf", PDF)
    assert url.startswith(
        "data:application/pdf;name=%C4%90%C6%A1n%20%C4%91%E1%BB%81%20ngh%E1%BB%8B.pdf;base64,"
    )
    assert decode_data_url(url) == ("Đơn đề nghị.pdf", "application/pdf", PDF)


def test_data_url_names_are_never_paths():
    url = encode_data_url("../../etc/passwd", "text/plain", b"x")
    assert decode_data_url(url)[0] == "passwd"
    sneaky = "data:text/plain;name=..%2F..%2Fa%5Cb%3Bc.txt;base64,eA=="
    assert decode_data_url(sneaky)[0] == "b_c.txt"
    assert decode_data_url("data:text/plain;base64,eA==")[0] == "tep-dinh-kem.txt"
    assert decode_data_url("data:;name=a.bin;base64,eA==") == ("a.bin", "application/octet-stream", b"x")
    assert decode_data_url("data:text/plain;name=a.txt;base64,e\nA=\n=") == ("a.txt", "text/plain", b"x")


@pytest.mark.parametrize("value", [
    "",
    "http://example.com/a.pdf",
    "data:text/plain;name=a.txt;base64",
    "data:text/plain;name=a.txt,eA==",
    "data:text/plain;name=a.txt;base64,@@",
    "data:text plain;base64,eA==",
    "data:text/plain;name=%FF;base64,eA==",
    12,
])
def test_decode_data_url_refuses_malformed_input(value):
    with pytest.raises(ValueError, match="Tệp không hợp lệ"):
        decode_data_url(value)


def test_field_names_and_file_fields():
    assert field_names(SCHEMA)[:3] == ["full_name", "id_number", "note"]
    ordered = field_names(SCHEMA, UI)
    assert ordered[:4] == ["full_name", "birth_date", "gender", "id_number"]
    assert ordered[-1] == "ref_code" and sorted(ordered) == sorted(SCHEMA["properties"])
    assert field_names(SCHEMA, {"ui:order": ["email", "age"]})[:3] == ["email", "age", "full_name"]
    assert file_fields(SCHEMA) == ["id_scan", "extra_files"]


# --------------------------------------------------------------------------- build_form / to_data


def test_build_form_field_classes_and_order():
    form = build_form(SCHEMA, UI)
    assert isinstance(form, SchemaForm)
    assert [f.name for f in form] == field_names(SCHEMA, UI)
    expected = {
        "full_name": StringField, "id_number": StringField, "note": TextAreaField, "age": IntegerField,
        "area": FloatField, "birth_date": DateField, "email": EmailField, "gender": SelectField,
        "decision": RadioField, "level": SelectField, "documents": SelectMultipleField,
        "agree": BooleanField, "applicant": FormField, "id_scan": FileField,
        "extra_files": MultipleFileField, "ref_code": HiddenField,
    }
    for name, cls in expected.items():
        assert isinstance(form[name], cls), name
    assert type(form.full_name) is StringField
    assert type(form.id_scan) is FileField
    assert not isinstance(form.gender, RadioField)
    # Blank first option for selects only.
    assert [c.label for c in form.gender.iter_choices()] == ["— Chọn —", "Nam", "Nữ"]
    assert [c.value for c in form.decision.iter_choices()] == ["accept", "reject"]
    assert form.full_name.label.text == "Họ và tên" and form.id_number.description == "12 chữ số"
    assert form.decision.sf_help == "Chọn một kết quả."
    assert form.full_name.sf_required and not form.id_number.sf_required
    long_text = build_form({"type": "object", "properties": {"t": {"type": "string", "maxLength": 1000}}})
    assert isinstance(long_text.t, TextAreaField)
    untitled = build_form({"type": "object", "properties": {"ma_so": {"type": "string"}}})
    assert untitled.ma_so.label.text == "ma_so"


def test_build_form_html_attributes():
    form = build_form(SCHEMA, UI)
    html = str(form.full_name())
    assert 'maxlength="50"' in html and 'minlength="2"' in html and "required" in html
    id_number = str(form.id_number())
    assert 'pattern="^[0-9]{12}$"' in id_number and 'placeholder="001099000001"' in id_number
    age = str(form.age())
    assert 'type="number"' in age and 'min="18"' in age and 'max="120"' in age
    assert 'step="any"' in str(form.area())
    assert 'type="date"' in str(form.birth_date())
    assert 'type="email"' in str(form.email())
    assert 'accept=".pdf,.jpg"' in str(form.id_scan()) and 'type="file"' in str(form.id_scan())
    files = str(form.extra_files())
    assert "multiple" in files and 'accept=".pdf"' in files
    assert 'type="hidden"' in str(form.ref_code())
    assert "<textarea" in str(form.note())


def test_to_data_converts_formdata_to_schema_types():
    form = build_form(SCHEMA, UI, formdata=valid_formdata())
    data = form.to_data()
    files = data.pop("extra_files")
    id_scan = data.pop("id_scan")
    assert data == {
        "full_name": "Nguyễn Văn A",
        "id_number": "001099000001",
        "note": "Dòng 1\nDòng 2",
        "age": 30,
        "area": 75.5,
        "birth_date": "1994-09-05",
        "email": "a@example.vn",
        "gender": "nu",
        "decision": "accept",
        "level": 2,
        "documents": ["so_ho_khau", "hop_dong"],
        "agree": True,
        "urgent": False,
        "applicant": {"phone": "0912345678"},
        "ref_code": "REF-1",
    }
    assert type(data["age"]) is int and type(data["level"]) is int
    assert decode_data_url(id_scan) == ("Căn cước công dân.pdf", "application/pdf", PDF)
    assert [decode_data_url(u) for u in files] == [
        ("mot.png", "image/png", b"one"),
        ("hai.txt", "text/plain", b"two"),
    ]
    assert form.validate_schema() is True
    assert form.clean_data["id_scan"] == id_scan
    assert validate_data(SCHEMA, form.clean_data) == {}
    # to_data can run again: upload streams are rewound.
    assert form.to_data()["id_scan"] == id_scan


@pytest.mark.parametrize(("typed", "expected"), [
    ("05/09/1994", "1994-09-05"),
    ("5/9/1994", "1994-09-05"),
    ("05-09-1994", "1994-09-05"),
    ("1994-09-05", "1994-09-05"),
])
def test_dates_accept_iso_and_vietnamese_order(typed, expected):
    form = build_form(SCHEMA, UI, formdata=MultiDict([("birth_date", typed)]))
    assert form.to_data()["birth_date"] == expected
    assert form.birth_date._value() == expected


def test_invalid_input_attaches_errors_to_the_right_fields():
    formdata = MultiDict([
        ("full_name", ""),
        ("age", "ba mươi"),
        ("area", "0"),
        ("birth_date", "31/02/1994"),
        ("email", "khong-phai-email"),
        ("gender", "khac"),
        ("decision", "accept"),
        ("applicant-phone", "12345"),
    ])
    form = build_form(SCHEMA, UI, formdata=formdata)
    assert form.validate_schema() is False
    assert form.full_name.errors == ["Vui lòng nhập Họ và tên."]
    assert form.age.errors == ["Tuổi phải là số nguyên."]
    assert form.area.errors == ["Diện tích (m²) phải lớn hơn 0."]
    assert form.birth_date.errors == ["Ngày sinh không phải là ngày hợp lệ (dd/mm/yyyy)."]
    assert form.email.errors == ["Thư điện tử không phải là địa chỉ email hợp lệ."]
    assert form.gender.errors == ["Giá trị không hợp lệ cho Giới tính."]
    assert form.applicant.form.phone.errors == ["Số điện thoại không đúng định dạng."]
    assert form.id_scan.errors == ["Vui lòng đính kèm Bản chụp CCCD."]
    assert form.decision.errors == [] and form.form_errors == []
    assert form.clean_data["age"] == "ba mươi"
    assert set(form.sf_errors) == {"full_name", "age", "area", "birth_date", "email", "gender",
                                   "applicant.phone", "id_scan"}
    # The typed text is shown back to the user.
    assert 'value="ba mươi"' in str(form.age())
    # validate() is the same as validate_schema().
    assert form.validate() is False
    anchors = [item.id for item in form.sf_error_items()]
    assert anchors[:2] == ["full_name", "birth_date"]
    assert "applicant-phone" in anchors


def test_object_level_and_root_errors():
    schema = copy.deepcopy(SCHEMA)
    schema["properties"]["applicant"]["minProperties"] = 2
    form = build_form(schema, formdata=MultiDict([("applicant-phone", "0912345678")]))
    form.validate_schema()
    assert form.applicant.form.form_errors == ["Người nộp hồ sơ phải có ít nhất 2 thông tin."]
    assert ("applicant", "Người nộp hồ sơ phải có ít nhất 2 thông tin.") in form.sf_error_items()

    root = {"type": "object", "title": "Tờ khai", "minProperties": 1,
            "properties": {"a": {"type": "string"}}}
    form = build_form(root, formdata=MultiDict([("a", "")]))
    assert form.validate_schema() is False
    assert form.form_errors == ["Tờ khai phải có ít nhất 1 thông tin."]
    assert form.sf_error_items() == [(None, "Tờ khai phải có ít nhất 1 thông tin.")]


def test_english_form():
    form = build_form(SCHEMA, UI, formdata=MultiDict([("age", "x")]), lang="en")
    assert [c.label for c in form.gender.iter_choices()][0] == "— Select —"
    form.validate_schema()
    assert form.age.errors == ["Tuổi must be a whole number."]
    form.validate_schema(lang="vi")
    assert form.age.errors == ["Tuổi phải là số nguyên."]


def test_data_prefills_the_form_and_round_trips():
    data = valid_data() | {"age": 40, "level": 3, "documents": ["hop_dong"], "area": 12.5,
                           "id_scan": {"attachment_id": 7, "filename": "cccd.pdf"}, "ref_code": "R9"}
    form = build_form(SCHEMA, UI, data=data)
    assert form.birth_date._value() == "1994-09-05"
    assert 'value="40"' in str(form.age())
    assert '<option selected value="3">Cao</option>' in str(form.level())
    assert "checked" in str(list(form.documents)[2]())
    assert form.applicant.form.phone.data == "0912345678"
    assert form.id_scan.sf_current == ["cccd.pdf"]
    assert "required" not in str(form.id_scan())
    expected = {k: v for k, v in data.items() if k != "id_scan"} | {"urgent": False}
    assert form.to_data() == expected


def test_formdata_wins_over_data_and_empty_files_keep_nothing():
    data = valid_data() | {"email": "cu@example.vn", "documents": ["hop_dong"], "gender": "nu"}
    formdata = MultiDict([("full_name", "Trần Thị B"), ("gender", "nam"),
                          ("id_scan", FileStorage(stream=io.BytesIO(b""), filename=""))])
    form = build_form(SCHEMA, UI, formdata=formdata, data=data)
    out = form.to_data()
    assert out["full_name"] == "Trần Thị B" and out["gender"] == "nam"
    assert "email" not in out and "documents" not in out and "id_scan" not in out
    assert form.id_scan.sf_current == ["don.pdf"]


def test_empty_formdata_counts_as_not_submitted():
    form = build_form(SCHEMA, UI, formdata=MultiDict(), data={"full_name": "A", "urgent": True})
    assert form.to_data()["full_name"] == "A" and form.to_data()["urgent"] is True


def test_defaults_prefix_and_reserved_property_names():
    schema = {"type": "object", "required": ["data"], "properties": {
        "data": {"type": "string", "title": "Dữ liệu"},
        "meta": {"type": "integer", "default": 3},
        "errors": {"type": "boolean", "default": True},
        "validate": {"type": "string", "enum": ["x", "y"], "default": "y"},
    }}
    form = build_form(schema, prefix="buoc1")
    assert form.to_data() == {"meta": 3, "errors": True, "validate": "y"}
    assert form.sf_field("data").name == "buoc1-data"
    assert isinstance(form.data, dict)
    formdata = MultiDict([("buoc1-data", "abc"), ("buoc1-meta", "4")])
    form = build_form(schema, prefix="buoc1", formdata=formdata)
    assert form.to_data() == {"data": "abc", "meta": 4, "errors": False}
    assert form.validate_schema() is True
    form = build_form(schema, prefix="buoc1", formdata=MultiDict([("buoc1-meta", "4")]))
    assert form.validate_schema() is False
    assert form.sf_field("data").errors == ["Vui lòng nhập Dữ liệu."]


def test_boolean_radio_and_integer_enum_radio():
    schema = {"type": "object", "properties": {
        "urgent": {"type": "boolean", "title": "Khẩn"},
        "level": {"type": "integer", "oneOf": [{"const": 1, "title": "Một"}, {"const": 2, "title": "Hai"}]},
    }}
    ui = {"urgent": {"ui:widget": "radio"}, "level": {"ui:widget": "radio"}}
    form = build_form(schema, ui, formdata=MultiDict([("urgent", "false"), ("level", "2")]))
    assert isinstance(form.urgent, RadioField)
    assert [c.label for c in form.urgent.iter_choices()] == ["Có", "Không"]
    assert form.to_data() == {"urgent": False, "level": 2}


def test_consent_checkbox_must_be_ticked():
    schema = {"type": "object", "required": ["agree"], "properties": {
        "agree": {"type": "boolean", "const": True, "title": "Tôi cam đoan"},
    }}
    assert check_schema(schema) == []
    form = build_form(schema, formdata=MultiDict([("csrf_token", "x")]))
    assert isinstance(form.agree, BooleanField) and "required" in str(form.agree())
    assert form.validate_schema() is False
    assert form.agree.errors == ["Vui lòng chọn Tôi cam đoan."]
    form = build_form(schema, formdata=MultiDict([("agree", "y")]))
    assert form.validate_schema() is True and form.clean_data == {"agree": True}


def test_unsupported_array_cannot_be_built():
    with pytest.raises(ValueError, match="danh sách chỉ hỗ trợ"):
        build_form({"type": "object", "properties": {"tags": {"type": "array", "items": {"type": "string"}}}})


# --------------------------------------------------------------------------- macros


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


@pytest.fixture()
def flask_app():
    app = Flask(__name__, template_folder=str(TEMPLATES))
    with app.test_request_context():
        yield app


def render(source: str, **context) -> str:
    return render_template_string('{% import "schemaforms/_macros.html" as sf %}' + source, **context)


def test_render_schema_form_is_accessible(flask_app):
    form = build_form(SCHEMA, UI, formdata=MultiDict([("age", "abc"), ("decision", "nope")]))
    form.validate_schema()
    html = render("{{ sf.render_schema_form(form) }}", form=form)
    tags = _tags(html)
    assert not any(tag in ("form", "button", "script") for tag, _ in tags)
    assert not any(attrs.get("type") == "submit" for _, attrs in tags)
    ids = {attrs["id"] for _, attrs in tags if attrs.get("id")}
    label_for = {attrs["for"] for tag, attrs in tags if tag == "label"}
    controls = [attrs for tag, attrs in tags
                if tag in ("input", "select", "textarea") and attrs.get("type") != "hidden"]
    assert len(controls) > 15
    for attrs in controls:
        assert attrs["id"] in label_for, attrs
    # Every aria-describedby points at existing elements.
    for _, attrs in tags:
        for ref in (attrs.get("aria-describedby") or "").split():
            assert ref in ids, ref
    age = next(attrs for tag, attrs in tags if attrs.get("id") == "age")
    assert age["aria-invalid"] == "true" and age["aria-describedby"] == "age-error"
    assert '<p class="sf-error-message" id="age-error">' in html and "Tuổi phải là số nguyên." in html
    id_number = next(attrs for tag, attrs in tags if attrs.get("id") == "id_number")
    assert id_number["aria-describedby"] == "id_number-hint" and "aria-invalid" not in id_number
    # Radio group: fieldset + legend, described by its help and error.
    assert re.search(r'<fieldset class="sf-fieldset" aria-describedby="decision-help decision-error">\s*'
                     r'<legend class="sf-legend">Kết quả xử lý <span class="sf-required">\(bắt buộc\)</span>'
                     r"</legend>", html)
    radio = next(attrs for tag, attrs in tags if attrs.get("id") == "decision-0")
    assert radio["type"] == "radio" and radio["name"] == "decision" and radio["aria-invalid"] == "true"
    assert "required" in radio
    # Checkbox group and nested object are fieldsets too.
    assert re.search(r"<legend[^>]*>Giấy tờ kèm theo</legend>", html)
    assert re.search(r'<fieldset class="sf-fieldset sf-object" id="applicant">\s*<legend', html)
    assert 'for="applicant-phone"' in html
    # Required marked in text.
    assert 'Họ và tên <span class="sf-required">(bắt buộc)</span>' in html
    assert 'name="ref_code" type="hidden"' in html


def test_render_error_summary(flask_app):
    form = build_form(SCHEMA, UI, formdata=MultiDict([("age", "abc"), ("full_name", "A")]))
    form.validate_schema()
    html = render("{{ sf.render_error_summary(form) }}", form=form)
    assert 'role="alert"' in html
    assert '<h2 class="sf-error-summary__title" id="sf-error-summary-title">Có lỗi cần sửa</h2>' in html
    assert 'aria-labelledby="sf-error-summary-title"' in html
    assert '<a href="#full_name">Họ và tên phải có ít nhất 2 ký tự.</a>' in html
    assert '<a href="#age">Tuổi phải là số nguyên.</a>' in html
    assert '<a href="#decision-0">Vui lòng chọn Kết quả xử lý.</a>' in html
    assert '<a href="#applicant-phone">Vui lòng nhập Số điện thoại.</a>' in html
    links = re.findall(r'href="#([^"]+)"', html)
    assert links == [item.id for item in form.sf_error_items()]
    # Nothing when the form is valid or not validated yet.
    assert render("{{ sf.render_error_summary(form) }}", form=build_form(SCHEMA, UI)).strip() == ""
    form_en = build_form(SCHEMA, UI, formdata=MultiDict([("age", "abc")]), lang="en")
    form_en.validate_schema()
    html_en = render("{{ sf.render_error_summary(form) }}{{ sf.render_schema_form(form) }}", form=form_en)
    assert "There is a problem" in html_en and "(required)" in html_en and "Error:" in html_en


def test_error_summary_works_for_plain_wtforms_forms(flask_app):
    class Login(Form):
        username = StringField("Tên đăng nhập")

    form = Login()
    form.username.errors = ["Vui lòng nhập Tên đăng nhập."]
    form.form_errors = ["Sai mật khẩu."]
    html = render("{{ sf.render_error_summary(form) }}", form=form)
    assert '<a href="#username">Vui lòng nhập Tên đăng nhập.</a>' in html
    assert "<li>Sai mật khẩu.</li>" in html and "Có lỗi cần sửa" in html


def test_render_schema_data(flask_app):
    data = {
        "full_name": "Nguyễn <b>A</b>",
        "birth_date": "1994-09-05",
        "gender": "nu",
        "decision": "reject",
        "level": 2,
        "documents": ["so_ho_khau", "hop_dong"],
        "agree": True,
        "urgent": False,
        "applicant": {"phone": "0912345678"},
        "id_scan": {"attachment_id": 12, "filename": "cccd.pdf", "content_type": "application/pdf",
                    "size": 1234},
        "extra_files": [{"attachment_id": 13, "filename": "a.pdf"},
                        {"attachment_id": 14, "filename": "b.pdf"}],
        "ref_code": "R1",
    }
    html = render("{{ sf.render_schema_data(schema, data, ui, file_url) }}", schema=SCHEMA, data=data, ui=UI,
                  file_url=lambda att: f"/tep/{att['attachment_id']}")
    assert html.count("<dl") == 2
    assert "<dt class=\"sf-data__key\">Họ và tên</dt>" in html
    assert "Nguyễn &lt;b&gt;A&lt;/b&gt;" in html
    assert "05/09/1994" in html and "1994-09-05" not in html
    assert ">Nữ<" in html and ">Từ chối<" in html and ">Vừa<" in html
    assert "<li>Sổ hộ khẩu</li>" in html and "<li>Hợp đồng</li>" in html
    assert re.search(r"Tôi cam đoan thông tin là đúng</dt>\s*<dd[^>]*>Có</dd>", html)
    assert re.search(r"Xử lý khẩn</dt>\s*<dd[^>]*>Không</dd>", html)
    assert ('<a class="sf-data__file" href="/tep/12">cccd.pdf</a> '
            '<span class="sf-data__size">(1,2 kB)</span>') in html
    assert '<a class="sf-data__file" href="/tep/14">b.pdf</a>' in html
    assert "Số điện thoại" in html and "0912345678" in html
    assert "Mã tham chiếu" not in html  # hidden widget
    assert re.search(r"Thư điện tử</dt>\s*<dd[^>]*><span class=\"sf-data__empty\">Chưa nhập</span>", html)
    # The ui:order is respected.
    assert html.index("Ngày sinh") < html.index("Giới tính") < html.index("Số CCCD")

    plain = render("{{ sf.render_schema_data(schema, data) }}", schema=SCHEMA, data=data)
    assert "<a " not in plain and '<span class="sf-data__file">cccd.pdf</span>' in plain
    assert "Mã tham chiếu" in plain
    english = render("{{ sf.render_schema_data(schema, data, none, none, 'en') }}", schema=SCHEMA, data=data)
    assert re.search(r"Xử lý khẩn</dt>\s*<dd[^>]*>No</dd>", english)


def test_full_web_round_trip_matches_the_api(flask_app):
    """What a page does: build from request data, validate, render; the API validates the same data."""
    form = build_form(SCHEMA, UI, formdata=valid_formdata())
    assert form.validate_schema()
    assert validate_data(SCHEMA, form.clean_data) == {}
    html = render("{{ sf.render_error_summary(form) }}{{ sf.render_schema_form(form) }}", form=form)
    assert "sf-error-summary" not in html and 'aria-invalid' not in html
