"""Pieces shared by pages that render schema forms."""

from __future__ import annotations

from typing import Any

from flask import request
from werkzeug.datastructures import CombinedMultiDict

from app.i18n import N_
from app.schemaforms import build_form

#: the applicant's own details, asked on every submission (same rules as the API's `applicant`)
APPLICANT_FORM: dict[str, Any] = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "title": N_("Họ và tên người nộp hồ sơ"), "minLength": 2, "maxLength": 255},
        "id_number": {"type": "string", "title": N_("Số định danh cá nhân (CCCD) hoặc mã số thuế"),
                      "description": N_("12 chữ số trên thẻ căn cước; tổ chức ghi mã số thuế."),
                      "pattern": "^([0-9]{9}|[0-9]{10}|[0-9]{12}|[0-9]{13}|[0-9]{10}-[0-9]{3})$"},
        "phone": {"type": "string", "title": N_("Số điện thoại"), "description": N_("Để nhận thông báo về hồ sơ."),
                  "pattern": "^(\\+84|0)[0-9]{9,10}$"},
        "email": {"type": "string", "title": N_("Thư điện tử"), "format": "email", "maxLength": 255},
        "address": {"type": "string", "title": N_("Địa chỉ liên hệ"), "maxLength": 500},
        "channel": {"type": "string", "title": N_("Hình thức nộp hồ sơ"), "default": "online", "oneOf": [
            {"const": "online", "title": N_("Nộp trực tuyến")},
            {"const": "postal", "title": N_("Nộp qua dịch vụ bưu chính công ích")},
        ]},
    },
}
APPLICANT_UI = {"channel": {"ui:widget": "radio"}}
#: at the desk the channel is "counter": the same applicant fields without the choice
COUNTER_APPLICANT_FORM: dict[str, Any] = {
    **APPLICANT_FORM,
    "properties": {k: v for k, v in APPLICANT_FORM["properties"].items() if k != "channel"},
}
#: the public submission in steps asks how the dossier is submitted on a step of its own (app.drafts choices)
PUBLIC_APPLICANT_FORM = COUNTER_APPLICANT_FORM


def formdata():
    """Form fields and uploaded files together, as WTForms expects them."""
    if request.method != "POST":
        return None
    return CombinedMultiDict([request.files, request.form])


def schema_form(schema: dict[str, Any] | None, ui: dict[str, Any] | None = None, *, prefix: str = "",
                data: dict[str, Any] | None = None, lang: str = "vi"):
    """`lang`: the language of the form's own texts and messages (public pages pass the visitor's)."""
    return build_form(schema or {"type": "object", "properties": {}}, ui, formdata=formdata(), data=data,
                      prefix=prefix, lang=lang)


def attach_errors(form: Any, details: Any, key_prefix: str = "") -> bool:
    """Put service-level errors (e.g. a file whose content is not a PDF) on the matching fields."""
    if not isinstance(details, dict):
        return False
    attached = False
    for key, messages in details.items():
        if key_prefix and not key.startswith(key_prefix):
            continue
        name = key[len(key_prefix):] if key_prefix else key
        if not form._sf_attach(name.split(".") if name else [], list(messages)):
            form.form_errors.extend(m for m in messages if m not in form.form_errors)
        attached = True
    return attached
