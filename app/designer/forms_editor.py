"""Forms editor: designers create and edit the JSON Schema forms of a draft, without JavaScript.

Routes (blueprint ``formeditor``, under ``/thiet-ke``; designers of the owning unit or admins,
``designer.services.can_design``):

- ``GET/POST /<code>/v/<n>/bieu-mau/<name>`` — :func:`edit`. Drafts are editable; published and
  retired versions are shown read-only (a POST answers 409).
- ``GET/POST /<code>/v/<n>/bieu-mau-moi`` — :func:`new`: a new form file, optionally attached to the
  start event or a user task of the diagram (or copied from another form of the version).
- ``GET/POST /<code>/v/<n>/bieu-mau/<name>/xem-truoc`` — :func:`preview`: the form rendered with the
  same ``build_form`` + ``render_schema_form`` as the citizen's submission page (prefix ``hoso-``)
  or the official's task page (``cv-``); a POST validates sample input and shows the Vietnamese
  messages (and, when valid, the read-only view). Nothing is stored.

How the page works without JavaScript: it is one HTML form, and every action is a submit button
``name="action"`` — ``save``, ``preview`` (also the default for Enter), ``add`` (with
``new_kind``), ``palette:<type>`` (:data:`app.schemaforms.vn.FIELD_TYPES`), ``up:<i>``, ``down:<i>``,
``remove:<i>``; the raw JSON form posts ``raw_preview`` / ``raw_save``. The field list travels as
repeated rows ``f-<i>-<control>``; what the editor does not manage in a property or in its UI
schema travels as hidden JSON (``f-<i>-extra``, ``f-<i>-uiextra``, ``root_extra``, ``ui_root_extra``),
so a round trip loses nothing (root ``allOf`` conditions, ``exclusiveMinimum``, ``ui:options.rows``…).
Properties the editor cannot model (objects, hidden fields, ``$ref``) are "advanced" rows edited as
JSON. A hidden ``base`` digest of the stored form refuses to overwrite someone else's save.

Saving goes through ``designer.services.set_form`` for the schema and for its UI schema
(``<name>.ui.json``, or the file the diagram already names), which holds ``ui:order`` (the field
order: PostgreSQL's JSONB does not keep key order) and the widgets. When a step of the diagram uses
the form without naming a UI schema, ``formUiSchemaFilename`` is added to it (``save_draft``) so
that citizens and officials see the order and widgets the designer chose.
"""

from __future__ import annotations

import copy
import hashlib
import json
import keyword
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from lxml import etree
from werkzeug.datastructures import CombinedMultiDict

from app import engine
from app.auth.current import current_user, login_required
from app.auth.models import User
from app.catalog.models import Procedure, ProcedureVersion
from app.common.errors import AppError
from app.designer import services as designer
from app.engine.xmlsafe import UnsafeXmlError, XmlSyntaxError, parse_xml
from app.extensions import db
from app.schemaforms import build_form, check_schema, vn
from app.schemaforms.forms import parse_date, parse_integer, parse_number
from app.schemaforms.schema import choices_of, deref, is_file, is_file_array, json_type, properties_of

bp = Blueprint("formeditor", __name__, url_prefix="/thiet-ke")


@bp.record_once
def _register_template_helpers(state: Any) -> None:
    """The read-only view of forms names provinces / wards and writes money with ``sf_vn_label``."""
    for name, func in vn.jinja_globals().items():
        state.app.add_template_global(func, name)


# --------------------------------------------------------------------------- field kinds

#: the editor's field types, in the order of the "Kiểu trường" select
KINDS: dict[str, str] = {
    "text": "Chữ, một dòng",
    "textarea": "Đoạn văn, nhiều dòng",
    "integer": "Số nguyên",
    "number": "Số (có phần lẻ)",
    "date": "Ngày (dd/mm/yyyy)",
    "email": "Thư điện tử",
    "select": "Chọn một — danh sách thả xuống",
    "radio": "Chọn một — nút chọn",
    "checkboxes": "Chọn nhiều — ô đánh dấu",
    "boolean": "Có/Không — một ô đánh dấu",
    "consent": "Cam kết — phải đánh dấu",
    "file": "Tệp đính kèm — một tệp",
    "files": "Tệp đính kèm — nhiều tệp",
    "vn-cccd": "Số CCCD (12 chữ số)",
    "vn-phone": "Số điện thoại Việt Nam",
    "vn-tax-code": "Mã số thuế",
    "vn-money": "Số tiền (đồng)",
    "vn-province": "Tỉnh, thành phố",
    "vn-ward": "Xã, phường, đặc khu",
    "advanced": "Nâng cao — sửa bằng JSON",
}
CHOICE_KINDS = frozenset({"select", "radio", "checkboxes"})
VN_TEXT_PATTERNS = {"vn-cccd": vn.CCCD_PATTERN, "vn-phone": vn.PHONE_PATTERN, "vn-tax-code": vn.TAX_CODE_PATTERN}
LENGTH_KINDS = frozenset({"text", "textarea", "email", *VN_TEXT_PATTERNS})
PATTERN_KINDS = frozenset({"text", "textarea"})
NUMBER_KINDS = frozenset({"integer", "number", "vn-money"})
ITEM_KINDS = frozenset({"checkboxes", "files"})
FILE_KINDS = frozenset({"file", "files"})
DEFAULT_KINDS = frozenset(KINDS) - FILE_KINDS - {"advanced", "consent"}
STRING_KINDS = frozenset({"text", "textarea", "date", "email", "file", "vn-province", "vn-ward", *VN_TEXT_PATTERNS})
FORMAT_OF = {"date": "date", "email": "email", "file": "data-url", "vn-money": "vn-money",
             "vn-province": "vn-province", "vn-ward": "vn-ward", **{k: k for k in VN_TEXT_PATTERNS}}
#: widgets the editor sets from the kind ("select" is rjsf's default for a choice list); other widgets,
#: e.g. "updown", are kept as they are
WIDGET_OF = {"textarea": "textarea", "radio": "radio", "checkboxes": "checkboxes"}
MANAGED_WIDGETS = frozenset({"textarea", "radio", "select", "checkboxes"})
CHOICE_VALUE_TYPES = ("string", "integer", "number")
MAX_FIELDS = 150
#: the HTML name prefix each page gives a form: the citizen's submission page, the official's task page
PREFIX_CITIZEN, PREFIX_OFFICIAL = "hoso-", "cv-"

NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
FILE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,80}$")
ROW_RE = re.compile(r"^f-(\d{1,4})-name$")
CONTROL_LABELS = {
    "name": "tên trường", "title": "tiêu đề", "kind": "kiểu", "choices": "lựa chọn", "minimum": "giá trị nhỏ nhất",
    "maximum": "giá trị lớn nhất", "min_length": "độ dài tối thiểu", "max_length": "độ dài tối đa",
    "pattern": "mẫu", "min_items": "số mục tối thiểu", "max_items": "số mục tối đa", "accept": "loại tệp",
    "default": "giá trị mặc định", "province_field": "trường tỉnh", "raw": "JSON",
}


def _represented(kind: str) -> set[str]:
    """Schema keys a row of this kind shows as controls (the others travel untouched in ``extra``)."""
    keys = {"type", "title", "description", "format"}
    if kind in DEFAULT_KINDS:
        keys.add("default")
    if kind in ("select", "radio"):
        keys |= {"oneOf", "anyOf", "enum", "enumNames"}
    if kind in ("checkboxes", "files"):
        keys |= {"items", "uniqueItems", "minItems", "maxItems"}
    if kind in LENGTH_KINDS:
        keys |= {"minLength", "maxLength"}
    if kind in PATTERN_KINDS or kind in VN_TEXT_PATTERNS:
        keys.add("pattern")
    if kind in NUMBER_KINDS:
        keys |= {"minimum", "maximum"}
    if kind == "consent":
        keys.add("const")
    if kind == "vn-ward":
        keys.add(vn.PROVINCE_LINK)
    return keys


# --------------------------------------------------------------------------- state


@dataclass
class Row:
    """One field of the form as the editor shows it (every control is text, as in the HTML form)."""

    name: str = ""
    orig: str = ""  #: the name when the page was loaded ("" for a new field): renames keep its UI entry
    title: str = ""
    description: str = ""
    help: str = ""
    kind: str = "text"
    required: bool = False
    choices: str = ""  #: one choice a line: "value | Nhãn"
    ctype: str = "string"  #: JSON type of the choice values
    minimum: str = ""
    maximum: str = ""
    min_length: str = ""
    max_length: str = ""
    pattern: str = ""
    min_items: str = ""
    max_items: str = ""
    accept: str = ""
    default: str = ""
    province_field: str = ""
    raw: str = ""  #: the property as JSON, for "advanced" rows
    extra: dict[str, Any] = field(default_factory=dict)
    uiextra: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)
    focus: bool = False

    def error(self, control: str, message: str) -> None:
        bucket = self.errors.setdefault(control, [])
        if message not in bucket:
            bucket.append(message)

    @property
    def label(self) -> str:
        return self.title or self.name or "(chưa đặt tên)"

    def shows(self, control: str) -> bool:
        """Whether the row's kind shows this control (the others travel as hidden inputs)."""
        kind = self.kind
        if kind == "advanced":
            return control in ("raw",)
        return {
            "description": True, "help": True, "choices": kind in CHOICE_KINDS, "ctype": kind in CHOICE_KINDS,
            "min_length": kind in LENGTH_KINDS, "max_length": kind in LENGTH_KINDS, "pattern": kind in PATTERN_KINDS,
            "minimum": kind in NUMBER_KINDS, "maximum": kind in NUMBER_KINDS, "min_items": kind in ITEM_KINDS,
            "max_items": kind in ITEM_KINDS, "accept": kind in FILE_KINDS, "default": kind in DEFAULT_KINDS,
            "province_field": kind == "vn-ward", "raw": False,
        }.get(control, False)


@dataclass
class State:
    title: str = ""
    description: str = ""
    rows: list[Row] = field(default_factory=list)
    root_extra: dict[str, Any] = field(default_factory=dict)
    ui_root_extra: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)  #: form-level controls ("title", "raw_schema"…)
    messages: list[str] = field(default_factory=list)  #: problems not tied to a control

    def error(self, control: str, message: str) -> None:
        bucket = self.errors.setdefault(control, [])
        if message not in bucket:
            bucket.append(message)

    def summary(self) -> list[tuple[str | None, str]]:
        """(anchor id, message) for the error summary, in page order."""
        items: list[tuple[str | None, str]] = [(None, m) for m in self.messages]
        for control in ("title", "description"):
            items.extend((f"form-{control}", m) for m in self.errors.get(control, []))
        for i, row in enumerate(self.rows):
            for control, messages in row.errors.items():
                items.extend((f"f-{i}-{control}", f"Trường {i + 1} ({row.label}): {m}") for m in messages)
        for control in ("raw_schema", "raw_ui"):
            items.extend((control, m) for m in self.errors.get(control, []))
        return items

    @property
    def has_errors(self) -> bool:
        return bool(self.messages or self.errors or any(r.errors for r in self.rows))


def _plain(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def classify(prop: Any, ui: dict[str, Any], root: dict[str, Any]) -> str:
    """The editor kind of a property (``advanced`` when the editor cannot model it)."""
    if not isinstance(prop, dict) or "$ref" in prop or ui.get("ui:widget") == "hidden":
        return "advanced"
    kind = json_type(prop)
    fmt = prop.get("format")
    widget = ui.get("ui:widget")
    if kind == "string" and fmt in vn.FORMATS:
        return str(fmt)
    if kind == "integer" and fmt == "vn-money":
        return "vn-money"
    if is_file(prop, root):
        return "file"
    if is_file_array(prop, root):
        return "files"
    if kind == "array":
        items = deref(root, prop.get("items"))
        if isinstance(items, dict) and "$ref" not in items and choices_of(items) is not None \
                and json_type(items) in CHOICE_VALUE_TYPES and set(items) <= {"type", "oneOf", "enum", "enumNames"}:
            return "checkboxes"
        return "advanced"
    if kind == "boolean":
        return "consent" if prop.get("const") is True or prop.get("enum") == [True] else "boolean"
    if choices_of(prop) is not None:
        return ("radio" if widget == "radio" else "select") if kind in CHOICE_VALUE_TYPES else "advanced"
    if kind in ("integer", "number"):
        return "advanced" if fmt is not None else kind
    if kind == "string":
        if fmt == "date":
            return "date"
        if fmt == "email":
            return "email"
        if fmt is not None:
            return "advanced"
        if widget == "textarea" or (isinstance(prop.get("maxLength"), int) and prop["maxLength"] > 255):
            return "textarea"
        return "text"
    return "advanced"


def _default_text(kind: str, value: Any) -> str:
    if value is None:
        return ""
    if kind == "date" and isinstance(value, str):
        parsed = parse_date(value)
        return parsed.strftime("%d/%m/%Y") if parsed else value
    if kind == "vn-money" and isinstance(value, int):
        return vn.format_money(value, unit=False)
    if kind == "boolean" and isinstance(value, bool):
        return "Có" if value else "Không"
    if kind == "checkboxes" and isinstance(value, list):
        return ", ".join(_plain(v) for v in value)
    return _plain(value)


def _split_ui(kind: str, ui: dict[str, Any]) -> tuple[dict[str, Any], str, str]:
    """(UI keys the row does not manage, help, accept)."""
    rest = copy.deepcopy(ui)
    help_text = rest.pop("ui:help", "")
    if rest.get("ui:widget") in MANAGED_WIDGETS and kind in (*WIDGET_OF, "text") \
            and not (kind == "select" and rest.get("ui:widget") == "select"):
        rest.pop("ui:widget")
    accept = ""
    options = rest.get("ui:options")
    if kind in FILE_KINDS and isinstance(options, dict) and "accept" in options:
        value = options.pop("accept")
        accept = ",".join(map(str, value)) if isinstance(value, list) else str(value)
        if not options:
            rest.pop("ui:options")
    return rest, help_text if isinstance(help_text, str) else "", accept


def row_from_property(name: str, prop: Any, ui: Any, required: bool, root: dict[str, Any]) -> Row:
    ui = dict(ui) if isinstance(ui, dict) else {}
    kind = classify(prop, ui, root)
    row = Row(name=name, orig=name, kind=kind, required=required)
    if kind == "advanced":
        row.raw = json.dumps(prop, ensure_ascii=False, indent=2)
        row.title = str(prop.get("title") or "") if isinstance(prop, dict) else ""
        row.uiextra = ui
        return row
    assert isinstance(prop, dict)
    represented = _represented(kind)
    row.extra = {k: copy.deepcopy(v) for k, v in prop.items() if k not in represented}
    row.uiextra, row.help, row.accept = _split_ui(kind, ui)
    row.title = str(prop.get("title") or "")
    row.description = str(prop.get("description") or "")
    if kind in CHOICE_KINDS:
        source = deref(root, prop.get("items")) if kind == "checkboxes" else prop
        row.ctype = json_type(source) or "string"
        row.choices = "\n".join(f"{_plain(v)} | {t}" for v, t in choices_of(source) or [])
    for key, attr in (("minimum", "minimum"), ("maximum", "maximum"), ("minLength", "min_length"),
                      ("maxLength", "max_length"), ("minItems", "min_items"), ("maxItems", "max_items")):
        if key in represented and key in prop:
            setattr(row, attr, _plain(prop[key]))
    if kind in PATTERN_KINDS:
        row.pattern = str(prop.get("pattern") or "")
    if kind in DEFAULT_KINDS:
        row.default = _default_text(kind, prop.get("default"))
    if kind == "vn-ward":
        row.province_field = str(prop.get(vn.PROVINCE_LINK) or "")
    if kind == "consent":
        row.required = True
    return row


def state_from_schema(schema: Any, ui: Any) -> State:
    schema = schema if isinstance(schema, dict) else {}
    ui = ui if isinstance(ui, dict) else {}
    state = State(title=str(schema.get("title") or ""), description=str(schema.get("description") or ""))
    state.root_extra = {k: copy.deepcopy(v) for k, v in schema.items()
                        if k not in ("title", "description", "type", "properties", "required")}
    props = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    required = set(schema.get("required") or []) if isinstance(schema.get("required"), list) else set()
    order = ui.get("ui:order") if isinstance(ui.get("ui:order"), list) else []
    names = [n for n in order if n in props] + [n for n in props if n not in order]
    state.rows = [row_from_property(n, props[n], ui.get(n), n in required, schema) for n in names]
    state.ui_root_extra = {k: copy.deepcopy(v) for k, v in ui.items() if k not in props}
    return state


# --------------------------------------------------------------------------- from the request


def _json_field(text: str | None) -> dict[str, Any] | None:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def state_from_request(form: Any) -> State:
    state = State(title=(form.get("form_title") or "").strip(),
                  description=(form.get("form_description") or "").strip())
    for attr, key in (("root_extra", "root_extra"), ("ui_root_extra", "ui_root_extra")):
        value = _json_field(form.get(key))
        if value is None:
            state.messages.append("Dữ liệu ẩn của trang bị hỏng; hãy tải lại trang.")
            value = {}
        setattr(state, attr, value)
    indexes = sorted({int(m.group(1)) for key in form if (m := ROW_RE.match(key))})[:MAX_FIELDS]
    for i in indexes:
        def get(control: str, *, multiline: bool = False, i: int = i) -> str:
            value = form.get(f"f-{i}-{control}") or ""
            value = value.replace("\r\n", "\n").replace("\r", "\n")
            return value.strip() if not multiline else value.strip("\n").rstrip()

        kind = get("kind")
        row = Row(name=get("name"), orig=get("orig"), title=get("title"), description=get("description"),
                  help=get("help"), kind=kind if kind in KINDS else "text", required=bool(form.get(f"f-{i}-required")),
                  choices=get("choices", multiline=True), ctype=get("ctype") or "string", minimum=get("minimum"),
                  maximum=get("maximum"), min_length=get("min_length"), max_length=get("max_length"),
                  pattern=get("pattern"), min_items=get("min_items"), max_items=get("max_items"),
                  accept=get("accept"), default=get("default"), province_field=get("province_field"),
                  raw=get("raw", multiline=True))
        if row.ctype not in CHOICE_VALUE_TYPES:
            row.ctype = "string"
        extra, uiextra = _json_field(form.get(f"f-{i}-extra")), _json_field(form.get(f"f-{i}-uiextra"))
        if extra is None or uiextra is None:
            row.error("name", "Dữ liệu ẩn của trường bị hỏng; hãy tải lại trang.")
        row.extra, row.uiextra = extra or {}, uiextra or {}
        previous = form.get(f"f-{i}-was") or kind
        if previous == "advanced" and row.kind != "advanced":
            _leave_advanced(row)
        elif previous != "advanced" and row.kind == "advanced" and not row.raw:
            prop, _ui, _usable = build_property(row, [])
            row.raw = json.dumps(prop, ensure_ascii=False, indent=2)
            row.errors = {}
        state.rows.append(row)
    return state


def _leave_advanced(row: Row) -> None:
    """An "advanced" row switched to a simple kind: read its JSON into the controls."""
    try:
        prop = json.loads(row.raw or "{}")
    except ValueError:
        prop = {}
    if not isinstance(prop, dict):
        prop = {}
    wanted = row.kind
    fresh = row_from_property(row.name, prop, row.uiextra, row.required, {})
    fresh.kind, fresh.orig, fresh.required = wanted, row.orig, row.required
    fresh.title = fresh.title or row.title
    fresh.extra = {k: v for k, v in fresh.extra.items() if k not in _represented(wanted)}
    row.__dict__.update(fresh.__dict__)


# --------------------------------------------------------------------------- building the schema


def slug(text: str) -> str:
    """An identifier from a Vietnamese title: "Họ và tên" → "ho_va_ten"."""
    base = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    base = "".join(ch for ch in base if unicodedata.category(ch) != "Mn").lower()
    base = re.sub(r"[^a-z0-9]+", "_", base).strip("_")[:48].rstrip("_")
    if not base:
        return ""
    if base[0].isdigit():
        base = "truong_" + base
    if keyword.iskeyword(base):
        base += "_"
    return base


def unique_name(base: str, taken: set[str]) -> str:
    name, n = base or "truong", 1
    while name in taken:
        n += 1
        name = f"{base}_{n}"
    return name


def fill_names(state: State) -> None:
    """A field left without a name gets one made from its title."""
    taken = {r.name for r in state.rows if r.name}
    for row in state.rows:
        if not row.name and row.title and (candidate := slug(row.title)):
            row.name = unique_name(candidate, taken)
            taken.add(row.name)


def _parse_choices(row: Row) -> list[tuple[Any, str]]:
    result: list[tuple[Any, str]] = []
    for n, line in enumerate(row.choices.split("\n"), start=1):
        if not line.strip():
            continue
        value_text, bar, label = line.partition("|")
        value_text, label = value_text.strip(), label.strip() if bar else value_text.strip()
        value: Any = value_text
        if row.ctype == "integer":
            value = parse_integer(value_text)
        elif row.ctype == "number":
            value = parse_number(value_text)
        if value is None or value_text == "":
            wanted = {"integer": "một số nguyên", "number": "một số"}.get(row.ctype, "một giá trị")
            row.error("choices", f"Dòng {n}: giá trị “{value_text}” không hợp lệ (cần {wanted}).")
            continue
        if not label:
            row.error("choices", f"Dòng {n}: thiếu nhãn hiển thị sau dấu “|”.")
            continue
        if any(v == value for v, _ in result):
            row.error("choices", f"Dòng {n}: giá trị “{value_text}” bị trùng.")
            continue
        result.append((value, label))
    if not result and "choices" not in row.errors:
        row.error("choices", "Cần ít nhất một lựa chọn, mỗi dòng một lựa chọn dạng “giá_trị | Nhãn hiển thị”.")
    return result


def _int_limit(row: Row, control: str) -> int | None:
    text = getattr(row, control)
    if not text:
        return None
    value = parse_integer(text)
    if value is None or value < 0:
        row.error(control, f"{CONTROL_LABELS[control].capitalize()} phải là số nguyên không âm.")
        return None
    return value


def _number_limit(row: Row, control: str) -> int | float | None:
    text = getattr(row, control)
    if not text:
        return None
    value = vn.parse_money(text) if row.kind == "vn-money" else (
        parse_integer(text) if row.kind == "integer" else parse_number(text))
    if value is None:
        row.error(control, f"{CONTROL_LABELS[control].capitalize()} phải là "
                           f"{'số nguyên' if row.kind != 'number' else 'một số'}.")
    return value


def _parse_default(row: Row, choices: list[tuple[Any, str]]) -> tuple[bool, Any]:
    text, kind = row.default, row.kind
    if not text or kind not in DEFAULT_KINDS:
        return False, None
    bad = f"Giá trị mặc định “{text}” không hợp lệ cho kiểu “{KINDS[kind]}”."
    value: Any = text
    if kind == "integer":
        value = parse_integer(text)
    elif kind == "number":
        value = parse_number(text)
    elif kind == "vn-money":
        value = vn.parse_money(text)
    elif kind == "date":
        parsed = parse_date(text)
        value = parsed.isoformat() if parsed else None
    elif kind == "boolean":
        value = {"có": True, "co": True, "true": True, "1": True, "không": False, "khong": False,
                 "false": False, "0": False}.get(text.lower())
    elif kind in ("select", "radio"):
        value = next((v for v, t in choices if _plain(v) == text or t == text), None)
    elif kind == "checkboxes":
        parts = [p.strip() for p in text.split(",") if p.strip()]
        value = [next((v for v, t in choices if _plain(v) == p or t == p), None) for p in parts]
        value = None if any(v is None for v in value) else value
    elif kind == "vn-province":
        found = vn.province(text.zfill(2) if text.isdigit() else text) or next(
            (p for p in vn.provinces() if text.lower() in (p.name.lower(), p.short_name.lower())), None)
        value = found.code if found else None
    elif kind == "vn-ward":
        found = vn.ward(text.zfill(5) if text.isdigit() else text)
        value = found.code if found else None
    if value is None:
        row.error("default", bad)
        return False, None
    return True, value


def build_property(row: Row, rows: list[Row]) -> tuple[dict[str, Any], dict[str, Any], bool]:
    """The JSON Schema property and UI schema entry of a row; errors go on the row.

    Returns ``(property, ui, usable)``; ``usable`` is False when the property could not be built.
    """
    kind = row.kind
    if kind == "advanced":
        try:
            prop = json.loads(row.raw or "{}")
        except ValueError as exc:
            row.error("raw", f"JSON không hợp lệ: {exc}.")
            return {}, dict(row.uiextra), False
        if not isinstance(prop, dict):
            row.error("raw", "Thuộc tính phải là một đối tượng JSON ({...}).")
            return {}, dict(row.uiextra), False
        ui = dict(row.uiextra)
        if row.help:
            ui["ui:help"] = row.help
        return prop, ui, True
    prop: dict[str, Any] = {}
    if kind in STRING_KINDS:
        prop["type"] = "string"
    elif kind in ("integer", "vn-money"):
        prop["type"] = "integer"
    elif kind == "number":
        prop["type"] = "number"
    elif kind in ("boolean", "consent"):
        prop["type"] = "boolean"
    elif kind in ("select", "radio"):
        prop["type"] = row.ctype
    else:
        prop["type"] = "array"
    if row.title:
        prop["title"] = row.title
    if row.description:
        prop["description"] = row.description
    if kind in FORMAT_OF:
        prop["format"] = FORMAT_OF[kind]
    if kind in PATTERN_KINDS and row.pattern:
        try:
            re.compile(row.pattern)
        except re.error as exc:
            row.error("pattern", f"Mẫu (biểu thức chính quy) không hợp lệ: {exc}.")
        else:
            prop["pattern"] = row.pattern
    if kind in VN_TEXT_PATTERNS:
        prop["pattern"] = VN_TEXT_PATTERNS[kind]
    if kind in LENGTH_KINDS:
        for control, key in (("min_length", "minLength"), ("max_length", "maxLength")):
            if (value := _int_limit(row, control)) is not None:
                prop[key] = value
    if kind in NUMBER_KINDS:
        for control in ("minimum", "maximum"):
            if (value := _number_limit(row, control)) is not None:
                prop[control] = value
    choices: list[tuple[Any, str]] = []
    if kind in CHOICE_KINDS:
        choices = _parse_choices(row)
        options = [{"const": v, "title": t} for v, t in choices]
        if kind == "checkboxes":
            prop["items"] = {"type": row.ctype, "oneOf": options}
            prop["uniqueItems"] = True
        else:
            prop["oneOf"] = options
    if kind == "files":
        prop["items"] = {"type": "string", "format": "data-url"}
    if kind in ITEM_KINDS:
        for control, key in (("min_items", "minItems"), ("max_items", "maxItems")):
            if (value := _int_limit(row, control)) is not None:
                prop[key] = value
    if kind == "consent":
        prop["const"] = True
    if kind == "vn-ward" and row.province_field:
        target = next((r for r in rows if r.name == row.province_field), None)
        if target is None or target.kind != "vn-province":
            row.error("province_field", f"“{row.province_field}” không phải là một trường tỉnh, thành phố của "
                                        "biểu mẫu.")
        else:
            prop[vn.PROVINCE_LINK] = row.province_field
    present, default = _parse_default(row, choices)
    if present:
        prop["default"] = default
    for key, value in row.extra.items():
        prop.setdefault(key, copy.deepcopy(value))
    ui = copy.deepcopy(row.uiextra)
    if kind in WIDGET_OF:
        ui["ui:widget"] = WIDGET_OF[kind]
    elif ui.get("ui:widget") in MANAGED_WIDGETS and kind != "boolean" \
            and not (kind == "select" and ui.get("ui:widget") == "select"):
        ui.pop("ui:widget")
    if row.help:
        ui["ui:help"] = row.help
    if kind in FILE_KINDS and row.accept:
        options = dict(ui.get("ui:options") or {})
        options["accept"] = row.accept
        ui["ui:options"] = options
    return prop, ui, True


def check_rows(state: State) -> None:
    """The editor's own checks: names, titles (check_schema adds the JSON Schema ones)."""
    if not state.title:
        state.error("title", "Vui lòng nhập tiêu đề biểu mẫu.")
    seen: dict[str, int] = {}
    for i, row in enumerate(state.rows):
        if not row.name:
            row.error("name", "Vui lòng nhập tên trường (hoặc tiêu đề để hệ thống tự đặt tên).")
        elif not NAME_RE.match(row.name) or keyword.iskeyword(row.name):
            row.error("name", f"Tên trường “{row.name}” không hợp lệ: chỉ dùng chữ cái không dấu, chữ số và dấu "
                              "gạch dưới, không bắt đầu bằng chữ số, không trùng từ khoá Python (ví dụ ho_ten), "
                              "vì điều kiện rẽ nhánh trong sơ đồ dùng tên này làm biến.")
        elif row.name in seen:
            row.error("name", f"Tên trường “{row.name}” bị trùng với trường {seen[row.name] + 1}.")
        else:
            seen[row.name] = i
        if not row.title and row.kind != "advanced":
            row.error("title", "Vui lòng nhập tiêu đề tiếng Việt của trường (người nộp hồ sơ thấy tiêu đề này).")


def build(state: State) -> tuple[dict[str, Any], dict[str, Any]]:
    """The form's JSON Schema and UI schema from the editor state; problems go on the state.

    Rows whose name is missing, invalid or repeated are left out of the result (they are reported).
    """
    props: dict[str, Any] = {}
    ui: dict[str, Any] = {}
    required: list[str] = []
    for row in state.rows:
        prop, row_ui, usable = build_property(row, state.rows)
        if not usable or "name" in row.errors or not row.name or row.name in props:
            continue
        props[row.name] = prop
        if row_ui:
            ui[row.name] = row_ui
        if row.required:
            required.append(row.name)
    schema: dict[str, Any] = {}
    if state.title:
        schema["title"] = state.title
    if state.description:
        schema["description"] = state.description
    schema["type"] = "object"
    schema["required"] = required
    schema["properties"] = props
    for key, value in state.root_extra.items():
        schema.setdefault(key, copy.deepcopy(value))
    other = properties_of(schema, schema)
    old_order = state.ui_root_extra.get("ui:order") if isinstance(state.ui_root_extra.get("ui:order"), list) else []
    order = list(props) + [n for n in old_order if n not in props and (n == "*" or n in other)]
    ui_out: dict[str, Any] = {"ui:order": order}
    for key, value in state.ui_root_extra.items():
        if key != "ui:order" and key not in props:
            ui_out[key] = copy.deepcopy(value)
    ui_out.update(ui)
    return schema, ui_out


def locate_problems(state: State, problems: list[str]) -> None:
    """Put check_schema's messages on the row (and control) they name; the rest on the form."""
    hints = (("pattern", "pattern"), ("default", "default"), ("minLength", "min_length"),
             ("maxLength", "max_length"), ("minimum", "minimum"), ("maximum", "maximum"),
             ("minItems", "min_items"), ("maxItems", "max_items"), ("oneOf", "choices"), ("enum", "choices"),
             (vn.PROVINCE_LINK, "province_field"))
    for message in problems:
        row = next((r for r in state.rows if r.name and any(
            f"“{r.name}{end}" in message for end in ("”", ".", "["))), None)
        if row is None:
            state.messages.append(message)
            continue
        control = "raw" if row.kind == "advanced" else next(
            (c for key, c in hints if f"“{key}”" in message), "name")
        row.error(control, message)


# --------------------------------------------------------------------------- the diagram


def _outline(version: ProcedureVersion) -> dict[str, Any] | None:
    if version.spec is not None:
        return version.spec.outline
    try:
        return engine.compile_bpmn(version.bpmn_xml.encode("utf-8")).outline
    except engine.BpmnError:
        return None


STEP_KINDS = {"StartEvent": "Sự kiện bắt đầu (biểu mẫu nộp hồ sơ)", "UserTask": "Công việc",
              "ManualTask": "Công việc thủ công", "NoneTask": "Công việc"}


@dataclass(frozen=True)
class Step:
    id: str
    name: str
    kind: str
    lane: str
    form: str
    ui_form: str

    @property
    def label(self) -> str:
        return f"{STEP_KINDS.get(self.kind, self.kind)} “{self.name or self.id}”" + (
            f" — làn {self.lane}" if self.lane else "")


def steps(version: ProcedureVersion) -> list[Step]:
    """The start event of the main process and the human tasks: the elements that carry a form."""
    outline = _outline(version)
    if outline is None:
        return []
    found = []
    for bpmn_id, el in outline["elements"].items():
        if el["kind"] not in STEP_KINDS:
            continue
        if el["kind"] == "StartEvent" and el.get("process") not in (None, outline.get("process_id")):
            continue
        props = el.get("properties") or {}
        found.append(Step(bpmn_id, el.get("name") or "", el["kind"], el.get("lane") or "",
                          props.get("formJsonSchemaFilename") or "", props.get("formUiSchemaFilename") or ""))
    found.sort(key=lambda s: (s.kind != "StartEvent", s.name))
    return found


def ui_name_for(name: str, users: list[Step]) -> str:
    named = next((s.ui_form for s in users if s.ui_form), None)
    return named or (name[: -len(".json")] if name.endswith(".json") else name) + ".ui.json"


def set_step_forms(xml: str, element_ids: set[str], props: dict[str, str], *, only_missing: bool = False) -> str | None:
    """The BPMN with ``spiffworkflow:property`` values set on the given elements (None when unchanged)."""
    if not element_ids:
        return None
    try:
        root = parse_xml(xml)
    except (UnsafeXmlError, XmlSyntaxError):
        return None
    bpmn, spiff = engine.BPMN_NS, engine.SPIFF_NS
    changed = False
    for el in root.iter(etree.Element):
        if el.get("id") not in element_ids or not str(el.tag).startswith(f"{{{bpmn}}}"):
            continue
        ext = el.find(f"{{{bpmn}}}extensionElements")
        if ext is None:
            ext = etree.Element(f"{{{bpmn}}}extensionElements")
            docs = [i for i, child in enumerate(el) if child.tag == f"{{{bpmn}}}documentation"]
            el.insert(docs[-1] + 1 if docs else 0, ext)
        holder = ext.find(f"{{{spiff}}}properties")
        if holder is None:
            holder = etree.SubElement(ext, f"{{{spiff}}}properties", nsmap={"spiffworkflow": spiff})
        for key, value in props.items():
            prop = next((p for p in holder.findall(f"{{{spiff}}}property") if p.get("name") == key), None)
            if prop is None:
                prop = etree.SubElement(holder, f"{{{spiff}}}property")
                prop.set("name", key)
            elif only_missing or prop.get("value") == value:
                continue
            prop.set("value", value)
            changed = True
    if not changed:
        return None
    return etree.tostring(root.getroottree(), xml_declaration=True, encoding="UTF-8").decode("utf-8")


# --------------------------------------------------------------------------- helpers for the views


def _user_and_version(code: str, number: int) -> tuple[User, Procedure, ProcedureVersion]:
    user = current_user()
    assert user is not None
    proc = designer.get_procedure_any(code)
    if not designer.can_design(user, proc):
        abort(403)
    return user, proc, designer.get_version(proc, number)


def digest(schema: Any, ui: Any) -> str:
    text = json.dumps([schema, ui], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def pretty(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2)


def _preview(schema: dict[str, Any], ui: dict[str, Any], prefix: str) -> tuple[Any, str | None]:
    try:
        return build_form(schema, ui, prefix=prefix), None
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        return None, f"Chưa thể xem trước: {exc}"


def _renamed_in_use(state: State, version: ProcedureVersion) -> list[str]:
    warnings = []
    root_text = json.dumps(state.root_extra, ensure_ascii=False)
    for row in state.rows:
        if row.orig and row.name and row.orig != row.name:
            pattern = re.compile(rf"(?<![A-Za-z0-9_]){re.escape(row.orig)}(?![A-Za-z0-9_])")
            places = [where for where, text in (("sơ đồ BPMN (điều kiện rẽ nhánh, kịch bản)", version.bpmn_xml),
                                                ("điều kiện của biểu mẫu (JSON)", root_text)) if pattern.search(text)]
            if places:
                warnings.append(f"Trường “{row.name}” trước đây tên là “{row.orig}”; tên cũ vẫn được dùng trong "
                                f"{' và '.join(places)}: hãy sửa ở đó cho khớp.")
    return warnings


def _render(proc: Procedure, version: ProcedureVersion, name: str, state: State, *, base: str,
            raw_schema: str | None = None, raw_ui: str | None = None, status: int = 200,
            extra_warnings: list[str] | None = None) -> Any:
    users = [s for s in steps(version) if s.form == name]
    ui_name = ui_name_for(name, users)
    schema, ui = build(state)
    stored = (version.forms.get(name), version.forms.get(ui_name))
    prefix = PREFIX_CITIZEN if any(s.kind == "StartEvent" for s in users) or not users else PREFIX_OFFICIAL
    preview_form, preview_error = _preview(schema, ui, prefix)
    warnings = list(extra_warnings or []) + _renamed_in_use(state, version)
    if users and version.status == "draft" and any(not s.ui_form for s in users):
        warnings.append(f"Khi lưu, tệp giao diện “{ui_name}” (thứ tự và kiểu hiển thị các trường) sẽ được gắn vào "
                        + ", ".join(s.label for s in users if not s.ui_form) + " trong sơ đồ.")
    return render_template(
        "designer/forms/edit.html", procedure=proc, version=version, name=name, ui_name=ui_name, state=state,
        users=users, schema=schema, ui=ui, kinds=KINDS, palette=vn.FIELD_TYPES, base=base,
        unsaved=request.method == "POST" and (schema, ui) != stored and version.status == "draft",
        preview_form=preview_form,
        preview_error=preview_error, prefix=prefix, readonly=version.status != "draft",
        raw_schema=raw_schema if raw_schema is not None else pretty(schema),
        raw_ui=raw_ui if raw_ui is not None else pretty(ui), warnings=warnings, summary=state.summary(),
        province_options=[(r.name, f"{r.title or r.name} ({r.name})") for r in state.rows
                          if r.kind == "vn-province" and r.name],
        vn_data=f"vietnam-provinces {vn.PACKAGE_VERSION}, dữ liệu ngày {vn.DATA_VERSION}",
        choice_value_types={"string": "chuỗi", "integer": "số nguyên", "number": "số"},
    ), status


def _apply(state: State, action: str, new_kind: str) -> None:
    """The row actions: add, palette, up, down, remove."""
    verb, _, arg = action.partition(":")
    if verb == "add":
        kind = new_kind if new_kind in KINDS else "text"
        row = Row(kind=kind, focus=True)
        if kind == "files":
            row.max_items = "20"
        if kind == "advanced":
            row.raw = pretty({"type": "string", "title": ""})
        state.rows.append(row)
    elif verb == "palette" and arg in vn.FIELD_TYPES:
        taken = {r.name for r in state.rows}
        if arg == "vn-ward" and not any(r.kind == "vn-province" for r in state.rows):
            _apply(state, "palette:vn-province", new_kind)
            taken = {r.name for r in state.rows}
        kind_type = vn.FIELD_TYPES[arg]
        row = row_from_property(unique_name(kind_type.name, taken), kind_type.property(), kind_type.ui_schema(),
                                False, {})
        row.orig, row.focus = "", True
        if arg == "vn-ward":
            row.province_field = next(r.name for r in state.rows if r.kind == "vn-province")
        for other in state.rows:
            other.focus = False
        state.rows.append(row)
    elif verb in ("up", "down", "remove") and arg.isdigit() and int(arg) < len(state.rows):
        i = int(arg)
        if verb == "remove":
            state.rows.pop(i)
        else:
            j = i - 1 if verb == "up" else i + 1
            if 0 <= j < len(state.rows):
                state.rows[i], state.rows[j] = state.rows[j], state.rows[i]
                state.rows[j].focus = True


def _save(user: User, version: ProcedureVersion, name: str, schema: dict[str, Any], ui: dict[str, Any]) -> Any:
    users = [s for s in steps(version) if s.form == name]
    ui_name = ui_name_for(name, users)
    xml = set_step_forms(version.bpmn_xml, {s.id for s in users if not s.ui_form},
                         {"formUiSchemaFilename": ui_name}, only_missing=True)
    if xml is not None:
        designer.save_draft(version, user, xml=xml)
    designer.set_form(version, ui_name, ui, user)
    return designer.set_form(version, name, schema, user)


def _saved_message(name: str, report: Any) -> tuple[str, str]:
    if report.ok:
        return f"Đã lưu biểu mẫu “{name}”. Quy trình đạt kiểm tra.", "success"
    return (f"Đã lưu biểu mẫu “{name}”. Bản nháp còn {len(report.errors)} lỗi kiểm tra cần sửa trước khi xuất "
            "bản (xem trang phiên bản).", "error")


# --------------------------------------------------------------------------- views


@bp.route("/<code>/v/<int:number>/bieu-mau/<name>", methods=["GET", "POST"])
@login_required
def edit(code: str, number: int, name: str):
    user, proc, version = _user_and_version(code, number)
    if name.endswith(".ui.json"):
        base_name = name[: -len(".ui.json")] + ".json"
        if base_name in version.forms:
            return redirect(url_for("formeditor.edit", code=code, number=number, name=base_name))
    if name not in version.forms:
        abort(404)
    users = [s for s in steps(version) if s.form == name]
    ui_name = ui_name_for(name, users)
    stored_schema, stored_ui = version.forms.get(name), version.forms.get(ui_name)
    stored_digest = digest(stored_schema, stored_ui)
    if request.method == "GET":
        return _render(proc, version, name, state_from_schema(stored_schema, stored_ui), base=stored_digest)
    if version.status != "draft":
        flash("Phiên bản này đã xuất bản hoặc ngừng áp dụng: biểu mẫu chỉ xem được. Mở bản nháp để sửa.", "error")
        return _render(proc, version, name, state_from_schema(stored_schema, stored_ui), base=stored_digest,
                       status=409)
    action = request.form.get("action") or "preview"
    base = request.form.get("base") or stored_digest
    raw_schema = raw_ui = None
    if action in ("raw_preview", "raw_save"):
        raw_schema, raw_ui = request.form.get("raw_schema") or "", request.form.get("raw_ui") or ""
        state, parsed = _state_from_raw(raw_schema, raw_ui)
        if parsed is None:
            fallback = state_from_schema(stored_schema, stored_ui)
            fallback.errors, fallback.messages = state.errors, state.messages
            return _render(proc, version, name, fallback, base=base, raw_schema=raw_schema, raw_ui=raw_ui,
                           status=422)
        schema, ui = parsed
        problems = check_schema(schema)
        for problem in problems:
            state.error("raw_schema", problem)
        if action == "raw_save" and not problems:
            return _commit(user, proc, version, name, schema, ui, base, stored_digest, state, raw_schema, raw_ui)
        return _render(proc, version, name, state, base=base, raw_schema=raw_schema, raw_ui=raw_ui,
                       status=422 if problems else 200)
    state = state_from_request(request.form)
    _apply(state, action, request.form.get("new_kind") or "text")
    fill_names(state)
    if action in ("save", "preview"):
        check_rows(state)
        schema, ui = build(state)
        locate_problems(state, check_schema(schema))
        if action == "save" and not state.has_errors:
            return _commit(user, proc, version, name, schema, ui, base, stored_digest, state)
        return _render(proc, version, name, state, base=base, status=422 if state.has_errors else 200)
    return _render(proc, version, name, state, base=base)


def _state_from_raw(raw_schema: str, raw_ui: str) -> tuple[State, tuple[dict[str, Any], dict[str, Any]] | None]:
    state = State()
    parsed: list[dict[str, Any]] = []
    for control, text, label in (("raw_schema", raw_schema, "JSON Schema"), ("raw_ui", raw_ui, "UI schema")):
        try:
            value = json.loads(text or "{}")
        except json.JSONDecodeError as exc:
            state.error(control, f"{label} không phải JSON hợp lệ (dòng {exc.lineno}, cột {exc.colno}): {exc.msg}.")
            continue
        if not isinstance(value, dict):
            state.error(control, f"{label} phải là một đối tượng JSON ({{...}}).")
            continue
        parsed.append(value)
    if len(parsed) != 2:
        return state, None
    schema, ui = parsed
    fresh = state_from_schema(schema, ui)
    return fresh, (schema, ui)


def _commit(user: User, proc: Procedure, version: ProcedureVersion, name: str, schema: dict[str, Any],
            ui: dict[str, Any], base: str, stored_digest: str, state: State,
            raw_schema: str | None = None, raw_ui: str | None = None) -> Any:
    if base != stored_digest:
        state.messages.append("Biểu mẫu vừa được lưu bởi người khác (hoặc ở thẻ khác) sau khi bạn mở trang: chưa lưu "
                              "để không ghi đè. Hãy sao chép phần JSON bên dưới nếu cần, rồi tải lại trang.")
        return _render(proc, version, name, state, base=base, raw_schema=raw_schema, raw_ui=raw_ui, status=409)
    try:
        report = _save(user, version, name, schema, ui)
        db.session.commit()
    except AppError as exc:
        db.session.rollback()
        state.messages.append(exc.message)
        return _render(proc, version, name, state, base=base, raw_schema=raw_schema, raw_ui=raw_ui, status=422)
    flash(*_saved_message(name, report))
    return redirect(url_for("formeditor.edit", code=proc.code, number=version.number, name=name))


@bp.route("/<code>/v/<int:number>/bieu-mau-moi", methods=["GET", "POST"])
@login_required
def new(code: str, number: int):
    user, proc, version = _user_and_version(code, number)
    all_steps = steps(version)
    values = {"file_name": "", "title": "", "element": "", "copy_from": ""}
    errors: dict[str, str] = {}
    if version.status != "draft":
        flash("Chỉ thêm được biểu mẫu vào bản nháp.", "error")
        return redirect(url_for("designer.version", code=code, number=number))
    if request.method == "GET":
        free = next((s for s in all_steps if not s.form), None)
        values["element"] = free.id if free else ""
        if free:
            values["file_name"] = slug(free.name) or ""
    else:
        values = {k: (request.form.get(k) or "").strip() for k in values}
        file_name = values["file_name"].removesuffix(".json")
        if not FILE_RE.match(file_name) or file_name.endswith(".ui"):
            errors["file_name"] = ("Tên tệp gồm chữ cái không dấu, chữ số, dấu gạch dưới, gạch ngang hoặc dấu chấm "
                                   "(ví dụ cap_phep_nop); không kết thúc bằng “.ui”.")
        elif f"{file_name}.json" in version.forms:
            errors["file_name"] = f"Phiên bản đã có biểu mẫu “{file_name}.json”."
        source = values["copy_from"]
        if source and source not in version.forms:
            errors["copy_from"] = "Không tìm thấy biểu mẫu để sao chép."
        if not values["title"] and not source:
            errors["title"] = "Vui lòng nhập tiêu đề biểu mẫu."
        step = next((s for s in all_steps if s.id == values["element"]), None)
        if values["element"] and step is None:
            errors["element"] = "Không tìm thấy bước này trong sơ đồ."
        if not errors:
            name = f"{file_name}.json"
            ui_name = f"{file_name}.ui.json"
            if source:
                schema = copy.deepcopy(version.forms[source])
                source_steps = [s for s in all_steps if s.form == source]
                ui = copy.deepcopy(version.forms.get(ui_name_for(source, source_steps)) or {"ui:order": []})
                if values["title"]:
                    schema["title"] = values["title"]
            else:
                schema = {"title": values["title"], "type": "object", "required": [], "properties": {}}
                ui = {"ui:order": []}
            try:
                if step is not None:
                    xml = set_step_forms(version.bpmn_xml, {step.id}, {"formJsonSchemaFilename": name,
                                                                      "formUiSchemaFilename": ui_name})
                    if xml is not None:
                        designer.save_draft(version, user, xml=xml)
                designer.set_form(version, ui_name, ui, user)
                report = designer.set_form(version, name, schema, user)
                db.session.commit()
            except AppError as exc:
                db.session.rollback()
                errors["file_name"] = exc.message
            else:
                message, category = _saved_message(name, report)
                if step is not None:
                    message += f" Đã gắn vào {step.label}."
                flash(message, category)
                return redirect(url_for("formeditor.edit", code=code, number=number, name=name))
    forms = sorted(n for n in version.forms if not n.endswith(".ui.json"))
    return render_template("designer/forms/new.html", procedure=proc, version=version, values=values,
                           errors=errors, steps=all_steps, forms=forms), (422 if errors else 200)


@bp.route("/<code>/v/<int:number>/bieu-mau/<name>/xem-truoc", methods=["GET", "POST"])
@login_required
def preview(code: str, number: int, name: str):
    """The form as citizens / officials see it; a POST validates sample input (nothing is stored).

    A POST may carry the editor's unsaved schema (``schema_json`` / ``ui_json``) instead of the stored one.
    """
    _user, proc, version = _user_and_version(code, number)
    if name not in version.forms:
        abort(404)
    users = [s for s in steps(version) if s.form == name]
    schema, ui = version.forms.get(name), version.forms.get(ui_name_for(name, users))
    prefix = PREFIX_CITIZEN if any(s.kind == "StartEvent" for s in users) or not users else PREFIX_OFFICIAL
    unsaved = False
    problems: list[str] = []
    if request.method == "POST" and request.form.get("schema_json"):
        text_schema, text_ui = request.form.get("schema_json") or "", request.form.get("ui_json") or "{}"
        if len(text_schema) + len(text_ui) > designer.MAX_FORM_BYTES:
            abort(413)
        try:
            schema, ui = json.loads(text_schema), json.loads(text_ui)
        except ValueError:
            abort(400)
        unsaved = True
    if not isinstance(schema, dict) or not isinstance(ui, dict | None):
        abort(400)
    problems = check_schema(schema)
    form, error = (None, None) if problems else _preview_with_input(schema, ui, prefix)
    checked = request.method == "POST" and form is not None
    valid = checked and form.validate_schema()
    return render_template(
        "designer/forms/preview.html", procedure=proc, version=version, name=name, schema=schema, ui=ui,
        form=form, error=error, problems=problems, checked=checked, valid=valid, prefix=prefix, users=users,
        unsaved=unsaved, schema_json=json.dumps(schema, ensure_ascii=False) if unsaved else "",
        ui_json=json.dumps(ui, ensure_ascii=False) if unsaved else "",
        data_json=pretty(_shorten(form.clean_data)) if valid else "",
    ), (422 if checked and not valid else 200)


def _preview_with_input(schema: dict[str, Any], ui: dict[str, Any] | None, prefix: str) -> tuple[Any, str | None]:
    formdata = CombinedMultiDict([request.files, request.form]) if request.method == "POST" else None
    try:
        return build_form(schema, ui, formdata=formdata, prefix=prefix), None
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        return None, f"Chưa thể hiển thị biểu mẫu: {exc}"


def _shorten(value: Any) -> Any:
    """Data URLs cut short for display."""
    if isinstance(value, str) and value.startswith("data:") and len(value) > 80:
        return value[:60] + "…"
    if isinstance(value, list):
        return [_shorten(v) for v in value]
    if isinstance(value, dict):
        return {k: _shorten(v) for k, v in value.items()}
    return value
