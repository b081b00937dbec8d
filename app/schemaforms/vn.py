"""Vietnamese field types for procedure forms: CCCD, phone, tax code, money, date, province and ward.

Every type is plain JSON Schema, so rjsf / SpiffArena and API clients read the same file; the
server recognises the types by their ``format`` (custom formats are allowed by JSON Schema and
ignored by validators that do not know them, while the ``pattern`` still applies there):

============  ==============================================================  ====================
type          property                                                        stored value
============  ==============================================================  ====================
CCCD          ``{"type": "string", "format": "vn-cccd",                       ``"001203004567"``
              "pattern": "^[0-9]{12}$"}``
phone         ``{"type": "string", "format": "vn-phone",                      ``"0912345678"``,
              "pattern": PHONE_PATTERN}`` (mobile 0[35789]x 10 digits,       ``"+84912345678"``,
              landline 02xx 11 digits, ``0`` or ``+84``)                      ``"02383844123"``
tax code      ``{"type": "string", "format": "vn-tax-code",                   ``"0101234567"``,
              "pattern": "^[0-9]{10}(-[0-9]{3})?$"}``                        ``"0101234567-001"``
money (VND)   ``{"type": "integer", "format": "vn-money", "minimum": 0}``     ``200000``
date          ``{"type": "string", "format": "date"}`` (typed dd/mm/yyyy)     ``"2025-07-01"``
province      ``{"type": "string", "format": "vn-province"}``                 ``"40"`` (NSO code)
ward          ``{"type": "string", "format": "vn-ward",                       ``"16690"`` (NSO code)
              "x-province-field": "<name of the province property>"}``
============  ==============================================================  ====================

How each is hooked in:

- **Validation** (:func:`app.schemaforms.validate_data`, hence web pages and the JSON API): the
  format checker knows every ``vn-*`` format (:data:`FORMAT_CHECKS`); a pattern or format error
  on a ``vn-*`` property gets the type's own Vietnamese message (:data:`MESSAGES`); and
  :func:`cross_field_errors` refuses a ward that is not in the province chosen in the property
  its ``x-province-field`` names (a sibling in the same object).
- **check_schema** accepts the ``vn-*`` formats (``vn-money`` on integers, the others on strings)
  and checks that ``x-province-field`` names a sibling ``vn-province`` property.
- **Rendering** (:func:`app.schemaforms.build_form`): the phone is an ``<input type="tel">``, CCCD
  a numeric text input, money a text input that also accepts ``200.000``, ``200 000 đ``; the
  province is a ``<select>`` of the 34 provinces; the ward a ``<select>`` that lists only the wards
  of the province already chosen (submitted, saved or default), else every ward grouped by
  province in ``<optgroup>``: the form works without JavaScript in one step, the server check above
  catches a ward left from another province. The read-only view shows ``200.000 đ`` and the
  names ("Tỉnh Nghệ An", "Phường Trường Vinh") through the Jinja global ``sf_vn_label``
  (:func:`jinja_globals`, registered by the designer's forms editor blueprint).
- **The forms editor palette** inserts :data:`FIELD_TYPES` entries (schema + UI schema).

Data: the two-level structure in force since 1 July 2025 (34 provinces, about 3,300 communes,
wards and special zones, no districts) from the maintained ``vietnam-provinces`` package, read from
its ``NESTED_DIVISIONS_JSON_PATH`` (present in the 2025 and 2026 releases). Codes are the
National Statistics Office's, zero-padded as the national portal writes them (2 digits for a
province, 5 for a ward). NOTE: the 2026 releases (official NSO data, ``__data_version__``
2026-…) need Python >= 3.12; on Python 3.11 the newest is 2025.10.1, whose ward codes differ
from the official list for about a hundred wards. :data:`DATA_VERSION` says which data is loaded.
"""

from __future__ import annotations

import copy
import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

__all__ = [
    "CCCD_PATTERN",
    "DATA_VERSION",
    "FIELD_TYPES",
    "FORMATS",
    "FORMAT_CHECKS",
    "FORMAT_TYPES",
    "MESSAGES",
    "PACKAGE_VERSION",
    "PHONE_PATTERN",
    "PROVINCE_LINK",
    "TAX_CODE_PATTERN",
    "FieldType",
    "Province",
    "Ward",
    "cross_field_errors",
    "display",
    "format_money",
    "is_cccd",
    "is_money",
    "is_phone",
    "is_province",
    "is_tax_code",
    "is_ward",
    "jinja_globals",
    "parse_money",
    "province",
    "province_choices",
    "provinces",
    "ward",
    "ward_choices",
    "wards",
]

CCCD_PATTERN = "^[0-9]{12}$"
#: 0 or +84, then a mobile number (3, 5, 7, 8 or 9 and 8 digits) or a landline (2 and 9 digits: area code + number).
PHONE_PATTERN = "^(0|\\+84)([35789][0-9]{8}|2[0-9]{9})$"
TAX_CODE_PATTERN = "^[0-9]{10}(-[0-9]{3})?$"
#: the schema keyword a ward property uses to name its province property
PROVINCE_LINK = "x-province-field"

_CCCD = re.compile(CCCD_PATTERN)
_PHONE = re.compile(PHONE_PATTERN)
_TAX_CODE = re.compile(TAX_CODE_PATTERN)

# --------------------------------------------------------------------------- provinces and wards


@dataclass(frozen=True)
class Province:
    code: str  #: NSO code, 2 digits ("01" Hà Nội, "40" Nghệ An)
    name: str  #: full name ("Tỉnh Nghệ An", "Thành phố Hà Nội")
    short_name: str  #: without the kind ("Nghệ An", "Hà Nội")
    kind: str  #: "tỉnh" or "thành phố trung ương"


@dataclass(frozen=True)
class Ward:
    code: str  #: NSO code, 5 digits
    name: str  #: full name ("Phường Trường Vinh", "Xã Hưng Nguyên", "Đặc khu Cồn Cỏ")
    kind: str  #: "phường", "xã" or "đặc khu"
    province_code: str


def _package() -> Any:
    import vietnam_provinces

    return vietnam_provinces


def _clean(name: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", str(name))).strip()


#: the five tone marks (decomposed); breve, circumflex and horn make letters of their own (ă, â, ơ…)
_TONES = frozenset("\u0300\u0301\u0303\u0309\u0323")


def sort_key(text: str) -> tuple[str, str]:
    """A Vietnamese sort key: letters in alphabet order (a < ă < â, d < đ), tones only break ties."""
    base = unicodedata.normalize("NFD", text.lower().replace("đ", "d\uffff"))
    return "".join(ch for ch in base if ch not in _TONES), text


_WARD_KIND_ORDER = {"phường": 0, "xã": 1, "đặc khu": 2}


@cache
def _data() -> tuple[tuple[Province, ...], dict[str, Province], dict[str, Ward], dict[str, tuple[Ward, ...]]]:
    package = _package()
    raw = json.loads(package.NESTED_DIVISIONS_JSON_PATH.read_text(encoding="utf-8"))
    provinces_: list[Province] = []
    wards_: dict[str, Ward] = {}
    by_province: dict[str, tuple[Ward, ...]] = {}
    for item in raw:
        code = f"{int(item['code']):02d}"
        name = _clean(item["name"])
        kind = _clean(item.get("division_type") or "tỉnh")
        short = name
        for prefix in ("Thành phố ", "Tỉnh "):
            if short.startswith(prefix):
                short = short[len(prefix):]
        if name == short:  # some releases give "Nghệ An" for a province: write the full name
            name = ("Thành phố " if kind.startswith("thành phố") else "Tỉnh ") + short
        provinces_.append(Province(code=code, name=name, short_name=short, kind=kind))
        members = []
        for w in item.get("wards") or []:
            ward_ = Ward(code=f"{int(w['code']):05d}", name=_clean(w["name"]),
                         kind=_clean(w.get("division_type") or ""), province_code=code)
            wards_[ward_.code] = ward_
            members.append(ward_)
        members.sort(key=lambda w: (_WARD_KIND_ORDER.get(w.kind, 9), sort_key(w.name)))
        by_province[code] = tuple(members)
    provinces_.sort(key=lambda p: sort_key(p.short_name))
    return tuple(provinces_), {p.code: p for p in provinces_}, wards_, by_province


def provinces() -> tuple[Province, ...]:
    """The 34 provinces and centrally-run cities, in Vietnamese alphabetical order of their short name."""
    return _data()[0]


def province(code: Any) -> Province | None:
    return _data()[1].get(code) if isinstance(code, str) else None


def wards(province_code: str | None = None) -> tuple[Ward, ...]:
    """The wards of one province (phường, then xã, then đặc khu, each alphabetical), or of all."""
    by_province = _data()[3]
    if province_code is not None:
        return by_province.get(province_code, ())
    return tuple(w for p in provinces() for w in by_province[p.code])


def ward(code: Any) -> Ward | None:
    return _data()[2].get(code) if isinstance(code, str) else None


def province_choices() -> list[tuple[str, str]]:
    """``(code, short name)`` for a ``<select>``."""
    return [(p.code, p.short_name) for p in provinces()]


def ward_choices(province_code: str | None = None) -> list[tuple[str, str, str | None]]:
    """``(code, name, optgroup)``: only the given province's wards (no group), or every ward grouped
    under its province's name when no (known) province is given."""
    if province(province_code) is not None:
        return [(w.code, w.name, None) for w in wards(province_code)]
    return [(w.code, w.name, p.name) for p in provinces() for w in wards(p.code)]


PACKAGE_VERSION: str = "?"
DATA_VERSION: str = "?"
try:  # pragma: no branch - the package is a runtime requirement
    PACKAGE_VERSION = str(_package().__version__)
    DATA_VERSION = str(getattr(_package(), "__data_version__", "?"))
except ImportError:  # pragma: no cover
    pass

# --------------------------------------------------------------------------- checks


def is_cccd(value: Any) -> bool:
    """A personal identification number (số định danh cá nhân, on the CCCD): exactly 12 digits."""
    return not isinstance(value, str) or _CCCD.match(value) is not None


def is_phone(value: Any) -> bool:
    """A Vietnamese mobile (10 digits from 03/05/07/08/09) or landline (11 digits from 02) number,
    written with ``0`` or ``+84`` and no spaces."""
    return not isinstance(value, str) or _PHONE.match(value) is not None


def is_tax_code(value: Any) -> bool:
    """A tax code: 10 digits, or 13 written ``0101234567-001`` (a branch / dependent unit)."""
    return not isinstance(value, str) or _TAX_CODE.match(value) is not None


def is_money(value: Any) -> bool:
    """Always true: ``vn-money`` marks a field for rendering; ``"type": "integer"`` (whole đồng)
    and ``minimum`` do the checking, with their own messages."""
    return True


def is_province(value: Any) -> bool:
    return not isinstance(value, str) or province(value) is not None


def is_ward(value: Any) -> bool:
    return not isinstance(value, str) or ward(value) is not None


FORMAT_CHECKS = {
    "vn-cccd": is_cccd,
    "vn-phone": is_phone,
    "vn-tax-code": is_tax_code,
    "vn-money": is_money,
    "vn-province": is_province,
    "vn-ward": is_ward,
}
FORMATS = frozenset(FORMAT_CHECKS)
#: the JSON type each format applies to
FORMAT_TYPES = {name: ("integer",) if name == "vn-money" else ("string",) for name in FORMATS}

MESSAGES: dict[str, dict[str, str]] = {
    "vi": {
        "format_vn-cccd": "{title} phải gồm đúng 12 chữ số (số định danh cá nhân trên thẻ căn cước).",
        "format_vn-phone": "{title} không đúng: di động 10 chữ số (ví dụ 0912345678), cố định 11 chữ số "
                           "bắt đầu bằng 02; viết liền, có thể bắt đầu bằng +84.",
        "format_vn-tax-code": "{title} phải gồm 10 chữ số, hoặc 13 chữ số viết dạng 0101234567-001.",
        "format_vn-money": "{title} phải là số tiền nguyên đồng.",
        "format_vn-province": "{title}: vui lòng chọn tỉnh, thành phố trong danh sách.",
        "format_vn-ward": "{title}: vui lòng chọn xã, phường, đặc khu trong danh sách.",
        "vn_ward_province": "{title}: “{ward}” không thuộc {province}. Vui lòng chọn lại xã, phường "
                            "của {province}.",
    },
    "en": {
        "format_vn-cccd": "{title} must be exactly 12 digits (the personal identification number).",
        "format_vn-phone": "{title} is not a Vietnamese phone number (mobile: 10 digits such as 0912345678; "
                           "landline: 11 digits from 02; no spaces, +84 allowed).",
        "format_vn-tax-code": "{title} must be 10 digits, or 13 written as 0101234567-001.",
        "format_vn-money": "{title} must be a whole number of đồng.",
        "format_vn-province": "{title}: choose a province from the list.",
        "format_vn-ward": "{title}: choose a commune or ward from the list.",
        "vn_ward_province": "{title}: “{ward}” is not in {province}. Choose a commune or ward of {province}.",
    },
}


def cross_field_errors(props: Mapping[str, Any], obj: Mapping[str, Any]) -> list[tuple[str, str, dict[str, str]]]:
    """Ward-in-province checks for one object: ``(property name, message key, format args)``.

    ``props`` are the object's (dereferenced) property schemas, ``obj`` its data. Only valid codes
    are compared: an unknown code already fails its own format check.
    """
    problems: list[tuple[str, str, dict[str, str]]] = []
    for name, prop in props.items():
        if not isinstance(prop, Mapping) or prop.get("format") != "vn-ward":
            continue
        link = prop.get(PROVINCE_LINK)
        chosen_ward = ward(obj.get(name))
        chosen_province = province(obj.get(link)) if isinstance(link, str) else None
        if chosen_ward is None or chosen_province is None:
            continue
        if chosen_ward.province_code != chosen_province.code:
            problems.append((name, "vn_ward_province", {"ward": chosen_ward.name, "province": chosen_province.name}))
    return problems


# --------------------------------------------------------------------------- money


def parse_money(text: Any) -> int | None:
    """``"200000"``, ``"200.000"``, ``"200,000"``, ``"200 000 đ"``, ``"1.500.000 VND"`` → int; else None.

    Dots, commas and spaces are accepted only as thousands separators (groups of three digits).
    """
    if isinstance(text, bool):
        return None
    if isinstance(text, int):
        return text
    if isinstance(text, float):
        return int(text) if text.is_integer() else None
    cleaned = unicodedata.normalize("NFC", str(text or "")).strip().lower()
    cleaned = re.sub(r"\s*(đồng|đ|vnđ|vnd|₫)$", "", cleaned).replace("\u00a0", " ").strip()
    sign = ""
    if cleaned.startswith(("+", "-")):
        sign, cleaned = cleaned[0], cleaned[1:].strip()
    if re.fullmatch(r"\d+", cleaned) or re.fullmatch(r"\d{1,3}([., ])\d{3}(?:\1\d{3})*", cleaned):
        return int(sign + re.sub(r"\D", "", cleaned))
    return None


def format_money(value: Any, unit: bool = True) -> str:
    """``200000`` → ``"200.000 đ"`` (Vietnamese thousands separator); other values as text."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "" if value is None else str(value)
    if isinstance(value, float) and not value.is_integer():
        return str(value)
    text = f"{int(value):,}".replace(",", ".")
    return f"{text} đ" if unit else text


# --------------------------------------------------------------------------- read-only view


def display(prop: Any, value: Any) -> str | None:
    """What the read-only view shows for a value of a VN type ("200.000 đ", "Tỉnh Nghệ An"),
    or None when ``prop`` is not a VN type (the caller shows the value as usual)."""
    if not isinstance(prop, Mapping):
        return None
    fmt = prop.get("format")
    if fmt == "vn-money" and isinstance(value, int | float) and not isinstance(value, bool):
        return format_money(value)
    if fmt == "vn-province":
        found = province(value)
        return found.name if found else None
    if fmt == "vn-ward":
        found = ward(value)
        return found.name if found else None
    return None


def jinja_globals() -> dict[str, Any]:
    """Globals the schemaforms macros use when present (``sf_vn_label``)."""
    return {"sf_vn_label": display}


# --------------------------------------------------------------------------- the editor's palette


@dataclass(frozen=True)
class FieldType:
    key: str
    label: str  #: the palette button
    description: str  #: what it inserts, for the designer
    name: str  #: suggested property name
    schema: Mapping[str, Any]
    ui: Mapping[str, Any]

    def property(self) -> dict[str, Any]:
        return copy.deepcopy(dict(self.schema))

    def ui_schema(self) -> dict[str, Any]:
        return copy.deepcopy(dict(self.ui))


FIELD_TYPES: dict[str, FieldType] = {t.key: t for t in (
    FieldType("vn-cccd", "Số CCCD", "12 chữ số, kiểm tra mẫu", "so_cccd", {
        "type": "string", "format": "vn-cccd", "title": "Số định danh cá nhân (CCCD)",
        "description": "12 chữ số in trên thẻ căn cước.", "pattern": CCCD_PATTERN,
        "minLength": 12, "maxLength": 12}, {}),
    FieldType("vn-phone", "Số điện thoại", "Di động hoặc cố định Việt Nam", "so_dien_thoai", {
        "type": "string", "format": "vn-phone", "title": "Số điện thoại",
        "description": "Viết liền, ví dụ 0912345678.", "pattern": PHONE_PATTERN, "maxLength": 12}, {}),
    FieldType("vn-tax-code", "Mã số thuế", "10 hoặc 13 chữ số", "ma_so_thue", {
        "type": "string", "format": "vn-tax-code", "title": "Mã số thuế",
        "description": "10 chữ số; đơn vị phụ thuộc ghi 13 chữ số dạng 0101234567-001.",
        "pattern": TAX_CODE_PATTERN, "maxLength": 14}, {}),
    FieldType("vn-money", "Số tiền (đồng)", "Số nguyên ≥ 0, hiển thị 200.000 đ", "so_tien", {
        "type": "integer", "format": "vn-money", "title": "Số tiền (đồng)", "minimum": 0,
        "description": "Ghi số đồng, ví dụ 200.000."}, {}),
    FieldType("vn-date", "Ngày (dd/mm/yyyy)", "Ngày tháng năm, nhập dd/mm/yyyy", "ngay", {
        "type": "string", "format": "date", "title": "Ngày", "description": "Ngày/tháng/năm, ví dụ 01/07/2025."},
        {}),
    FieldType("vn-province", "Tỉnh, thành phố", "Chọn trong 34 tỉnh, thành phố", "tinh_thanh", {
        "type": "string", "format": "vn-province", "title": "Tỉnh, thành phố"}, {}),
    FieldType("vn-ward", "Xã, phường (kèm tỉnh)", "Xã, phường, đặc khu thuộc tỉnh đã chọn; "
              "thêm trường tỉnh nếu chưa có", "xa_phuong", {
                  "type": "string", "format": "vn-ward", "title": "Xã, phường, đặc khu",
                  "description": "Chọn tỉnh, thành phố trước; nếu chưa chọn, danh sách gồm mọi xã, phường "
                                 "xếp theo tỉnh."}, {}),
)}
