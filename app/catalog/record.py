"""The procedure catalogue record: the level-1 information Circular 32/2017/TT-VPCP publishes per procedure.

One typed definition (:class:`CatalogRecord`), read from any of the shapes it has been written in and
validated with Vietnamese messages keyed by a dotted path (``components.0.name``, ``fee.max``).

Where it lives:

- in ``X.procedure.json`` beside ``X.bpmn`` (what ``catalog.services.deploy_file`` reads): :func:`to_file`,
  :func:`dumps`, :func:`loads`;
- in the database: the procedure's columns (code, name, field, description, unit) plus ``Procedure.meta``
  for the rest: :func:`record_of`, :func:`apply_record`.

Backward compatibility: the older sidecar shape (``fee: {"amount", "note"}``, ``result`` as one string,
``processing_time`` as one object) still reads. ``processing_time`` stays *one* object meaning every
channel — ``Procedure.processing_time`` and ``worktime.due_date`` read it unchanged — and channels that
differ are in ``processing_time_by_channel``. A ``processing_time`` keyed by channel is accepted on input.

Fees are declarative: ``fixed`` (``amount``), ``per_unit`` (``unit_price`` × the count in a submission
form field ``unit_field``) or ``tiered`` (``tiers`` of ``{"upto", "unit_price"}``), with optional ``min``
and ``max`` (per item), and an optional ``quantity_field`` (several copies: the fee of one item times the
number). :func:`fee_for` computes it from form data; :meth:`Fee.describe` says it in words.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as _field
from datetime import date
from typing import TYPE_CHECKING, Any

from app.common.errors import ValidationFailed
from app.i18n import N_
from app.schemaforms.vn import format_money

if TYPE_CHECKING:
    from app.catalog.models import Procedure

__all__ = [
    "CHANNELS", "CHANNEL_LABELS", "FEE_KINDS", "FILE_TYPES", "SERVICE_LEVELS", "TIME_UNITS",
    "CatalogRecord", "Component", "Fee", "FeeTier", "ProcessingTime", "RecordError",
    "apply_record", "describe_path", "dumps", "fee_for", "loads", "money", "number_text", "processing_time_for",
    "read_record", "record_of", "to_file", "validate_record",
]

#: submission channels, in the order they are shown (codes as in dossiers: 1 counter, 2 online, 3 postal)
CHANNELS: tuple[str, ...] = ("counter", "online", "postal")
CHANNEL_LABELS = {"counter": "Trực tiếp", "online": "Trực tuyến", "postal": "Qua dịch vụ bưu chính công ích"}
#: Decree 42/2022: online public service levels
SERVICE_LEVELS = {
    "information": N_("Cung cấp thông tin trực tuyến"),
    "partial": N_("Dịch vụ công trực tuyến một phần"),
    "full": N_("Dịch vụ công trực tuyến toàn trình"),
}
TIME_UNITS = {"working_days": "ngày làm việc", "working_hours": "giờ làm việc", "calendar_days": "ngày"}
#: the same in English, for the public procedure page in English (`describe("en")`); papers stay Vietnamese
TIME_UNITS_EN = {"working_days": "working days", "working_hours": "working hours", "calendar_days": "days"}
FEE_KINDS = {"fixed": "Mức cố định", "per_unit": "Theo số lượng (đơn giá)", "tiered": "Theo bậc số lượng"}
#: what dossiers accept (app.dossiers.files checks the content): extension → label
FILE_TYPES = {"pdf": "PDF", "jpg": "JPEG", "png": "PNG"}

CODE_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]{0,49}$")
UNIT_CODE_RE = re.compile(r"^[0-9A-Z.]{1,35}$")
IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")
MAX_MONEY = 1_000_000_000
MAX_DAYS = 365
MAX_ROWS = 100
MAX_TEXT = 2000
MAX_FILE_BYTES = 256 * 1024
#: keys of the file format this module knows; anything else is kept as it was (``extra``)
KNOWN_KEYS = frozenset({
    "code", "name", "field", "description", "unit", "process_id", "service_level", "channels",
    "postal_submission", "postal_return", "processing_time", "processing_time_by_channel", "fee",
    "components", "results", "result", "legal_basis", "effective_from", "effective_to",
})
#: keys kept in Procedure columns rather than in meta
COLUMN_KEYS = frozenset({"code", "name", "field", "description", "unit"})


def money(amount: int | float | None) -> str:
    """200000 → '200.000 đ' (the app's one money format, app.schemaforms.vn.format_money)."""
    return format_money(int(amount or 0))


def number_text(value: float) -> str:
    """3.0 → '3', 0.5 → '0,5' (Vietnamese decimal comma)."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}".replace(".", ",")


# --------------------------------------------------------------------------- the record


@dataclass
class ProcessingTime:
    """A time limit as ``worktime.due_date`` reads it; ``same_day`` means within the day (15:00 cut-off)."""

    value: float = 1
    unit: str = "working_days"
    same_day: bool = False
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"value": int(self.value) if float(self.value).is_integer() else self.value,
                               "unit": self.unit, "same_day": self.same_day}
        if self.note:
            out["note"] = self.note
        return out

    def describe(self, lang: str = "vi") -> str:
        """'15 ngày làm việc' (or in English for the public page; the note is data and stays as written)."""
        en = lang == "en"
        if self.same_day:
            text = ("Within the working day (dossiers received after 15:00 are returned the next working day)" if en
                    else "Trong ngày làm việc (hồ sơ nhận sau 15 giờ trả trong ngày làm việc tiếp theo)")
        else:
            text = f"{number_text(self.value)} {(TIME_UNITS_EN if en else TIME_UNITS).get(self.unit, self.unit)}"
        return f"{text}; {self.note}" if self.note else text


@dataclass
class FeeTier:
    """Units up to ``upto`` (inclusive; None: all the rest) cost ``unit_price`` each."""

    upto: int | None
    unit_price: int

    def as_dict(self) -> dict[str, Any]:
        return {"upto": self.upto, "unit_price": self.unit_price}


@dataclass
class Fee:
    kind: str = "fixed"
    amount: int = 0
    unit_price: int = 0
    tiers: list[FeeTier] = _field(default_factory=list)
    #: the submission form field holding the count (pages…) for per_unit and tiered
    unit_field: str = ""
    unit_label: str = "trang"
    min: int | None = None
    max: int | None = None
    #: optional: the submission form field holding a number of items (copies); the fee is per item
    quantity_field: str = ""
    quantity_label: str = "bản"
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        if self.kind == "fixed":
            out["amount"] = self.amount
        else:
            if self.kind == "per_unit":
                out["unit_price"] = self.unit_price
            else:
                out["tiers"] = [t.as_dict() for t in self.tiers]
            out["unit_field"] = self.unit_field
            out["unit_label"] = self.unit_label
            if self.min is not None:
                out["min"] = self.min
            if self.max is not None:
                out["max"] = self.max
        if self.quantity_field:
            out["quantity_field"] = self.quantity_field
            out["quantity_label"] = self.quantity_label
        if self.note:
            out["note"] = self.note
        return out

    @property
    def is_free(self) -> bool:
        return self.kind == "fixed" and self.amount == 0

    def describe(self, lang: str = "vi") -> str:
        """The rule in words: '2.000 đ/trang, tối đa 200.000 đ' (in English only the no-fee case: the rest is built
        from the record's own unit labels, which are data)."""
        per = f"/{self.quantity_label}" if self.quantity_field else ""
        if self.kind == "fixed" and self.amount == 0:
            return "No fee or charge" if lang == "en" else "Không thu phí, lệ phí"
        if self.kind == "fixed":
            return f"{money(self.amount)}{per}"
        unit = self.unit_label or "đơn vị"
        if self.kind == "per_unit":
            parts = [f"{money(self.unit_price)}/{unit}"]
        else:
            parts = []
            low = 1
            for tier in self.tiers:
                if tier.upto is None:
                    span = f"từ {unit} thứ {low} trở đi" if low > 1 else f"mỗi {unit}"
                elif tier.upto == low:
                    span = f"{unit} thứ {low}"
                else:
                    span = f"{unit} thứ {low} đến {tier.upto}"
                parts.append(f"{money(tier.unit_price)}/{unit} ({span})")
                low = (tier.upto or low) + 1
        if self.min is not None:
            parts.append(f"tối thiểu {money(self.min)}{per}")
        if self.max is not None:
            parts.append(f"tối đa {money(self.max)}{per}")
        text = ", ".join(parts)
        if self.quantity_field:
            text += f"; tính cho từng {self.quantity_label}"
        return text


@dataclass
class Component:
    """One paper of the dossier (thành phần hồ sơ)."""

    name: str
    originals: int = 1
    copies: int = 0
    required: bool = True
    file_types: list[str] = _field(default_factory=lambda: list(FILE_TYPES))
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "originals": self.originals, "copies": self.copies,
                               "required": self.required, "file_types": list(self.file_types)}
        if self.note:
            out["note"] = self.note
        return out

    @property
    def file_types_label(self) -> str:
        return ", ".join(FILE_TYPES.get(t, t) for t in self.file_types)


@dataclass
class CatalogRecord:
    code: str
    name: str
    field: str = ""
    description: str = ""
    #: the handling agency's unit code (mã định danh)
    unit: str = ""
    process_id: str = ""
    service_level: str = "partial"
    channels: list[str] = _field(default_factory=lambda: ["counter", "online"])
    postal_return: bool = False
    processing_time: ProcessingTime = _field(default_factory=ProcessingTime)
    processing_time_by_channel: dict[str, ProcessingTime] = _field(default_factory=dict)
    fee: Fee = _field(default_factory=Fee)
    components: list[Component] = _field(default_factory=list)
    results: list[str] = _field(default_factory=list)
    legal_basis: list[str] = _field(default_factory=list)
    effective_from: date | None = None
    effective_to: date | None = None
    #: keys this module does not know, kept as they were
    extra: dict[str, Any] = _field(default_factory=dict)

    @property
    def postal_submission(self) -> bool:
        return "postal" in self.channels

    @property
    def service_level_label(self) -> str:
        return SERVICE_LEVELS.get(self.service_level, self.service_level)

    def time_for(self, channel: str) -> ProcessingTime:
        return self.processing_time_by_channel.get(channel) or self.processing_time

    def times_by_channel(self) -> list[tuple[str, ProcessingTime]]:
        """(channel, time) for every channel offered, in display order."""
        return [(c, self.time_for(c)) for c in CHANNELS if c in self.channels]

    @property
    def times_differ(self) -> bool:
        return any(self.time_for(c) != self.processing_time for c in self.channels)

    def in_force(self, day: date) -> bool:
        return (self.effective_from is None or self.effective_from <= day) and \
            (self.effective_to is None or day <= self.effective_to)


class RecordError(ValidationFailed):
    """An invalid record; ``details`` maps dotted paths to Vietnamese messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        summary = "; ".join(f"{describe_path(k)}: {m}" for k, ms in errors.items() for m in ms)
        super().__init__("Thông tin thủ tục chưa hợp lệ: " + summary, "The catalogue record is not valid.",
                         details=errors)
        self.errors = errors


# --------------------------------------------------------------------------- reading (and validating)


class _Reader:
    """Coerces raw input (JSON from a file, meta from the database, strings from a form) and collects errors."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def error(self, path: str, message: str) -> None:
        bucket = self.errors.setdefault(path, [])
        if message not in bucket:
            bucket.append(message)

    def text(self, raw: Any, path: str, *, required: bool = False, min_len: int = 0, max_len: int = MAX_TEXT,
             what: str = "Nội dung") -> str:
        if raw is None:
            raw = ""
        if isinstance(raw, bool) or not isinstance(raw, str | int | float):
            self.error(path, f"{what} phải là chuỗi ký tự.")
            return ""
        value = str(raw).strip()
        if not value:
            if required:
                self.error(path, f"Vui lòng nhập {what.lower()}.")
            return ""
        if len(value) < min_len:
            self.error(path, f"{what} cần ít nhất {min_len} ký tự.")
        if len(value) > max_len:
            self.error(path, f"{what} dài quá {max_len} ký tự.")
            value = value[:max_len]
        return value

    def flag(self, raw: Any, path: str, default: bool = False) -> bool:
        if raw is None or raw == "":
            return default
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in {"true", "1", "on", "yes", "có", "y"}:
            return True
        if isinstance(raw, str) and raw.strip().lower() in {"false", "0", "off", "no", "không", "n"}:
            return False
        if isinstance(raw, int):
            return bool(raw)
        self.error(path, "Giá trị phải là có hoặc không (true/false).")
        return default

    def integer(self, raw: Any, path: str, *, what: str, default: int | None = 0, low: int = 0,
                high: int = MAX_MONEY, money_ok: bool = False) -> int | None:
        """A whole number; for money '200.000' and '200 000' read as 200000."""
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return default
        value: int | None = None
        if isinstance(raw, bool):
            value = None
        elif isinstance(raw, int):
            value = raw
        elif isinstance(raw, float) and raw.is_integer():
            value = int(raw)
        elif isinstance(raw, str):
            text = re.sub(r"\s*(đồng|đ|vnd|vnđ)\s*$", "", raw.strip(), flags=re.IGNORECASE)
            compact = re.sub(r"[\s\u00a0]", "", text)
            if re.fullmatch(r"[+-]?\d+", compact):
                value = int(compact)
            elif money_ok and re.fullmatch(r"\d{1,3}([.,]\d{3})+", compact):
                value = int(re.sub(r"[.,]", "", compact))
        if value is None:
            self.error(path, f"{what} phải là số nguyên.")
            return default
        if value < low or value > high:
            self.error(path, f"{what} phải từ {low:,} đến {high:,}.".replace(",", "."))
            return default
        return value

    def number(self, raw: Any, path: str, *, what: str) -> float | None:
        if isinstance(raw, bool) or raw is None or (isinstance(raw, str) and not raw.strip()):
            self.error(path, f"Vui lòng nhập {what.lower()}.")
            return None
        if isinstance(raw, int | float):
            value = float(raw)
        elif isinstance(raw, str) and re.fullmatch(r"\d+([.,]\d+)?", raw.strip()):
            value = float(raw.strip().replace(",", "."))
        else:
            self.error(path, f"{what} phải là một số (ví dụ 3 hoặc 0,5).")
            return None
        if not math.isfinite(value) or value <= 0 or value > MAX_DAYS * 24:
            self.error(path, f"{what} phải lớn hơn 0 và không quá {MAX_DAYS * 24}.")
            return None
        return value

    def day(self, raw: Any, path: str, *, what: str) -> date | None:
        if raw is None or raw == "":
            return None
        if isinstance(raw, date):
            return raw
        if isinstance(raw, str):
            text = raw.strip()
            m = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", text)
            try:
                if m:
                    return date(int(m[3]), int(m[2]), int(m[1]))
                if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
                    return date.fromisoformat(text)
            except ValueError:
                pass
        self.error(path, f"{what} không hợp lệ (dạng ngày/tháng/năm, ví dụ 01/07/2025).")
        return None

    def rows(self, raw: Any, path: str, *, what: str) -> list[Any]:
        if raw is None or raw == "":
            return []
        if not isinstance(raw, list):
            self.error(path, f"{what} phải là một danh sách.")
            return []
        if len(raw) > MAX_ROWS:
            self.error(path, f"{what} có quá {MAX_ROWS} dòng.")
            return raw[:MAX_ROWS]
        return raw

    # -- pieces

    def processing_time(self, raw: Any, path: str) -> ProcessingTime:
        if not isinstance(raw, Mapping):
            self.error(path, "Thời hạn giải quyết phải gồm số lượng và đơn vị.")
            return ProcessingTime()
        same_day = self.flag(raw.get("same_day"), f"{path}.same_day")
        unit = raw.get("unit") or "working_days"
        if unit not in TIME_UNITS:
            self.error(f"{path}.unit", "Đơn vị thời hạn phải là ngày làm việc, giờ làm việc hoặc ngày.")
            unit = "working_days"
        if same_day and raw.get("value") in (None, ""):
            value: float | None = 1
        else:
            value = self.number(raw.get("value"), f"{path}.value", what="Thời hạn")
        if value is not None and unit != "working_hours" and value > MAX_DAYS:
            self.error(f"{path}.value", f"Thời hạn không quá {MAX_DAYS} ngày.")
        note = self.text(raw.get("note"), f"{path}.note", max_len=500, what="Ghi chú thời hạn")
        return ProcessingTime(value=value or 1, unit=str(unit), same_day=same_day, note=note)

    def fee(self, raw: Any) -> Fee:
        if raw is None or raw == "":
            return Fee()
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            raw = {"amount": raw}
        if not isinstance(raw, Mapping):
            self.error("fee", "Phí, lệ phí phải là một đối tượng (kind, amount…).")
            return Fee()
        kind = raw.get("kind") or ("tiered" if raw.get("tiers") else "per_unit" if raw.get("unit_price")
                                   and not raw.get("amount") else "fixed")
        if kind not in FEE_KINDS:
            self.error("fee.kind", "Cách tính phí phải là mức cố định, theo số lượng hoặc theo bậc.")
            kind = "fixed"
        fee = Fee(kind=str(kind))
        fee.note = self.text(raw.get("note"), "fee.note", max_len=MAX_TEXT, what="Ghi chú về phí")
        quantity = self.text(raw.get("quantity_field"), "fee.quantity_field", max_len=100,
                             what="Trường số bản")
        if quantity and not IDENT_RE.match(quantity):
            self.error("fee.quantity_field", "Tên trường số bản chỉ gồm chữ không dấu, số và dấu gạch dưới "
                                             "(ví dụ copy_count).")
        fee.quantity_field = quantity
        fee.quantity_label = self.text(raw.get("quantity_label"), "fee.quantity_label", max_len=30,
                                       what="Đơn vị số bản") or "bản"
        if kind == "fixed":
            fee.amount = self.integer(raw.get("amount"), "fee.amount", what="Mức phí", money_ok=True) or 0
            return fee
        field_name = self.text(raw.get("unit_field"), "fee.unit_field", required=True, max_len=100,
                               what="Trường số lượng")
        if field_name and not IDENT_RE.match(field_name):
            self.error("fee.unit_field", "Tên trường số lượng chỉ gồm chữ không dấu, số và dấu gạch dưới "
                                         "(ví dụ page_count).")
        fee.unit_field = field_name
        fee.unit_label = self.text(raw.get("unit_label"), "fee.unit_label", max_len=30,
                                   what="Đơn vị tính") or "trang"
        fee.min = self.integer(raw.get("min"), "fee.min", what="Mức tối thiểu", default=None, money_ok=True)
        fee.max = self.integer(raw.get("max"), "fee.max", what="Mức tối đa", default=None, money_ok=True)
        if fee.min is not None and fee.max is not None and fee.min > fee.max:
            self.error("fee.max", "Mức tối đa phải lớn hơn hoặc bằng mức tối thiểu.")
        if kind == "per_unit":
            price = self.integer(raw.get("unit_price"), "fee.unit_price", what="Đơn giá", default=None,
                                 low=1, money_ok=True)
            if price is None and "fee.unit_price" not in self.errors:
                self.error("fee.unit_price", "Vui lòng nhập đơn giá.")
            fee.unit_price = price or 0
            return fee
        tiers_raw = self.rows(raw.get("tiers"), "fee.tiers", what="Các bậc phí")
        if not tiers_raw:
            self.error("fee.tiers", "Cách tính theo bậc cần ít nhất một bậc.")
        previous = 0
        for i, t in enumerate(tiers_raw):
            p = f"fee.tiers.{i}"
            if not isinstance(t, Mapping):
                self.error(p, "Mỗi bậc gồm “đến” và đơn giá.")
                continue
            last = i == len(tiers_raw) - 1
            upto = self.integer(t.get("upto"), f"{p}.upto", what="Giới hạn bậc", default=None, low=1,
                                high=1_000_000)
            if last and upto is not None:
                self.error(f"{p}.upto", "Bậc cuối cùng để trống “đến”: áp dụng cho mọi đơn vị còn lại.")
            elif not last and upto is None and f"{p}.upto" not in self.errors:
                self.error(f"{p}.upto", "Nhập giới hạn “đến” của bậc này (chỉ bậc cuối được để trống).")
            elif upto is not None and upto <= previous:
                self.error(f"{p}.upto", "Giới hạn các bậc phải tăng dần.")
            price = self.integer(t.get("unit_price"), f"{p}.unit_price", what="Đơn giá của bậc", default=None,
                                 money_ok=True)
            if price is None and f"{p}.unit_price" not in self.errors:
                self.error(f"{p}.unit_price", "Vui lòng nhập đơn giá của bậc.")
            previous = upto or previous
            fee.tiers.append(FeeTier(upto=None if last else upto, unit_price=price or 0))
        return fee

    def component(self, raw: Any, path: str) -> Component | None:
        if isinstance(raw, str):
            raw = {"name": raw}
        if not isinstance(raw, Mapping):
            self.error(path, "Mỗi thành phần hồ sơ gồm tên, số bản chính, số bản sao.")
            return None
        name = self.text(raw.get("name"), f"{path}.name", required=True, min_len=2, max_len=1000,
                         what="Tên giấy tờ")
        originals = self.integer(raw.get("originals"), f"{path}.originals", what="Số bản chính", default=0,
                                 high=99) or 0
        copies = self.integer(raw.get("copies"), f"{path}.copies", what="Số bản sao", default=0, high=99) or 0
        types_raw = raw.get("file_types")
        if types_raw is None:
            types = list(FILE_TYPES)
        elif isinstance(types_raw, list):
            types = []
            for t in types_raw:
                key = str(t).strip().lower().lstrip(".")
                key = "jpg" if key == "jpeg" else key
                if key not in FILE_TYPES:
                    self.error(f"{path}.file_types", f"Loại tệp '{t}' không được hệ thống nhận; "
                                                     "chỉ PDF, JPEG hoặc PNG.")
                elif key not in types:
                    types.append(key)
            types = [t for t in FILE_TYPES if t in types]
        else:
            self.error(f"{path}.file_types", "Loại tệp phải là một danh sách (ví dụ [\"pdf\", \"jpg\"]).")
            types = list(FILE_TYPES)
        return Component(name=name, originals=originals, copies=copies,
                         required=self.flag(raw.get("required"), f"{path}.required", default=True),
                         file_types=types,
                         note=self.text(raw.get("note"), f"{path}.note", max_len=1000, what="Ghi chú"))

    def lines(self, raw: Any, path: str, *, what: str) -> list[str]:
        out = []
        for i, item in enumerate(self.rows(raw, path, what=what)):
            if isinstance(item, Mapping):  # {"title": …} from other tools
                item = item.get("title") or item.get("name") or ""
            out.append(self.text(item, f"{path}.{i}", required=True, min_len=3, max_len=MAX_TEXT, what=what))
        return out


def _split_processing_time(raw: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
    """(default, overrides by channel) from either a single object or one keyed by channel."""
    single = raw.get("processing_time")
    overrides: dict[str, Any] = {}
    by_channel = raw.get("processing_time_by_channel")
    if isinstance(single, Mapping) and single and set(single) <= set(CHANNELS) | {"default"}:
        keyed = dict(single)
        default = keyed.pop("default", None)
        if default is None:
            first = next((c for c in CHANNELS if c in keyed), None)
            default = keyed.get(first) if first else None
        overrides.update(keyed)
        single = default
    if isinstance(by_channel, Mapping):
        overrides.update(by_channel)
    elif by_channel not in (None, ""):
        overrides["_invalid"] = by_channel
    return single, overrides


def read_record(raw: Mapping[str, Any] | None) -> tuple[CatalogRecord, dict[str, list[str]]]:
    """Read a record from any of its shapes; returns it (bad values replaced by defaults) and the errors."""
    r = _Reader()
    if not isinstance(raw, Mapping):
        r.error("", "Thông tin thủ tục phải là một đối tượng JSON.")
        raw = {}
    code = r.text(raw.get("code"), "code", required=True, max_len=50, what="Mã thủ tục")
    if code and not CODE_RE.match(code):
        r.error("code", "Mã thủ tục gồm chữ, số, dấu chấm, gạch; tối đa 50 ký tự (ví dụ 1.001193).")
    rec = CatalogRecord(
        code=code,
        name=r.text(raw.get("name"), "name", required=True, min_len=3, max_len=500, what="Tên thủ tục"),
        field=r.text(raw.get("field"), "field", max_len=255, what="Lĩnh vực"),
        description=r.text(raw.get("description"), "description", max_len=10000, what="Mô tả"),
        process_id=r.text(raw.get("process_id"), "process_id", max_len=255, what="Mã quy trình"),
    )
    unit = r.text(raw.get("unit"), "unit", max_len=35, what="Mã đơn vị")
    if unit and not UNIT_CODE_RE.match(unit):
        r.error("unit", "Mã định danh đơn vị chỉ gồm 0-9, A-Z và dấu chấm, tối đa 35 ký tự.")
    rec.unit = unit

    # channels and postal options
    channels_raw = raw.get("channels")
    channels: list[str] = []
    if channels_raw is None:
        channels = ["counter", "online"]
    elif isinstance(channels_raw, list):
        for c in channels_raw:
            if c not in CHANNELS:
                r.error("channels", f"Cách thức nộp '{c}' không hợp lệ (counter, online, postal).")
            elif c not in channels:
                channels.append(c)
    else:
        r.error("channels", "Cách thức nộp phải là một danh sách.")
    if "postal_submission" in raw and channels_raw is None:  # channels, when given, win
        postal = r.flag(raw.get("postal_submission"), "postal_submission")
        channels = [c for c in channels if c != "postal"] + (["postal"] if postal else [])
    rec.channels = [c for c in CHANNELS if c in channels]
    if not rec.channels and "channels" not in r.errors:
        r.error("channels", "Chọn ít nhất một cách thức nộp hồ sơ.")
    rec.postal_return = r.flag(raw.get("postal_return"), "postal_return")

    level = raw.get("service_level")
    if level in (None, ""):
        level = "partial" if "online" in rec.channels else "information"
    if level not in SERVICE_LEVELS:
        r.error("service_level", "Mức độ dịch vụ phải là cung cấp thông tin, một phần hoặc toàn trình.")
        level = "information"
    rec.service_level = str(level)
    if rec.service_level in ("partial", "full") and "online" not in rec.channels:
        r.error("service_level", "Dịch vụ công trực tuyến (một phần hoặc toàn trình) phải cho phép nộp "
                                 "trực tuyến: chọn cách thức “Trực tuyến”.")
    if rec.service_level == "information" and "online" in rec.channels:
        r.error("service_level", "Mức “chỉ cung cấp thông tin” không nhận hồ sơ trực tuyến: chọn mức một phần "
                                 "hoặc toàn trình, hoặc bỏ cách thức “Trực tuyến”.")

    # processing time, per channel
    single, overrides = _split_processing_time(raw)
    if single is None:
        rec.processing_time = ProcessingTime()
    else:
        rec.processing_time = r.processing_time(single, "processing_time")
    if "_invalid" in overrides:
        r.error("processing_time_by_channel", "Thời hạn theo kênh phải là một đối tượng theo kênh.")
        overrides.pop("_invalid")
    for channel, value in overrides.items():
        if channel not in CHANNELS:
            r.error("processing_time_by_channel", f"Kênh '{channel}' không hợp lệ (counter, online, postal).")
            continue
        if value in (None, "", {}):
            continue
        pt = r.processing_time(value, f"processing_time_by_channel.{channel}")
        if channel in rec.channels and pt != rec.processing_time:
            rec.processing_time_by_channel[channel] = pt  # a channel not offered has no time of its own

    rec.fee = r.fee(raw.get("fee"))
    for i, c in enumerate(r.rows(raw.get("components"), "components", what="Thành phần hồ sơ")):
        comp = r.component(c, f"components.{i}")
        if comp is not None:
            rec.components.append(comp)
    results = raw.get("results")
    single = raw.get("result")
    if single and isinstance(single, str) and (
            not isinstance(results, list) or single != "; ".join(str(x) for x in results)):
        # only the older single string, or one written over an exported list (e.g. a redeploy): it wins
        results = [single]
    elif results is None and isinstance(single, list):
        results = single
    rec.results = r.lines(results, "results", what="Kết quả")
    rec.legal_basis = r.lines(raw.get("legal_basis"), "legal_basis", what="Căn cứ pháp lý")
    rec.effective_from = r.day(raw.get("effective_from"), "effective_from", what="Ngày có hiệu lực")
    rec.effective_to = r.day(raw.get("effective_to"), "effective_to", what="Ngày hết hiệu lực")
    if rec.effective_from and rec.effective_to and rec.effective_to < rec.effective_from:
        r.error("effective_to", "Ngày hết hiệu lực phải sau ngày có hiệu lực.")
    rec.extra = {k: v for k, v in raw.items() if k not in KNOWN_KEYS}
    return rec, r.errors


def validate_record(raw: Mapping[str, Any] | None) -> CatalogRecord:
    """The record, or :class:`RecordError` listing every problem."""
    rec, errors = read_record(raw)
    if errors:
        raise RecordError(errors)
    return rec


def _as_record(record: CatalogRecord | Mapping[str, Any]) -> CatalogRecord:
    return record if isinstance(record, CatalogRecord) else read_record(record)[0]


# --------------------------------------------------------------------------- using it


def _count(data: Mapping[str, Any] | None, name: str, default: int) -> int:
    """A non-negative whole count from form data (a partial page counts as one)."""
    value = (data or {}).get(name) if name else None
    if isinstance(value, bool) or value is None:
        return default
    if isinstance(value, str):
        text = value.strip().replace(",", ".")
        try:
            value = float(text)
        except ValueError:
            return default
    if not isinstance(value, int | float) or not math.isfinite(value):
        return default
    return max(0, math.ceil(value))


def fee_for(record: CatalogRecord | Mapping[str, Any], data: Mapping[str, Any] | None) -> int:
    """The fee in đồng for a dossier with this submission data.

    ``per_unit``: count × unit price; ``tiered``: each tier's units at its price; then ``min`` (only when
    something is charged) and ``max`` per item; times the number of items when ``quantity_field`` is set
    (missing: one). A missing or unreadable count is 0.
    """
    fee = _as_record(record).fee
    quantity = _count(data, fee.quantity_field, 1) if fee.quantity_field else 1
    if fee.kind == "fixed":
        return fee.amount * quantity
    units = _count(data, fee.unit_field, 0)
    if fee.kind == "per_unit":
        total = units * fee.unit_price
    else:
        total, done = 0, 0
        for tier in fee.tiers:
            upper = units if tier.upto is None else min(units, tier.upto)
            if upper > done:
                total += (upper - done) * tier.unit_price
                done = upper
            if done >= units:
                break
    if fee.min is not None and units > 0:
        total = max(total, fee.min)
    if fee.max is not None:
        total = min(total, fee.max)
    return int(total) * quantity


def processing_time_for(record: CatalogRecord | Mapping[str, Any], channel: str | None) -> dict[str, Any]:
    """The time limit for a channel ('counter', 'online', 'postal') as ``worktime.due_date`` reads it."""
    rec = _as_record(record)
    return rec.time_for(channel or "").as_dict()


# --------------------------------------------------------------------------- the file format


def to_file(rec: CatalogRecord) -> dict[str, Any]:
    """The ``X.procedure.json`` content (also what ``deploy_file`` stores as meta)."""
    out: dict[str, Any] = {
        "code": rec.code, "name": rec.name, "field": rec.field, "description": rec.description,
    }
    if rec.unit:
        out["unit"] = rec.unit
    if rec.process_id:
        out["process_id"] = rec.process_id
    out.update({
        "service_level": rec.service_level,
        "channels": list(rec.channels),
        "postal_submission": rec.postal_submission,
        "postal_return": rec.postal_return,
        "processing_time": rec.processing_time.as_dict(),
    })
    if rec.processing_time_by_channel:
        out["processing_time_by_channel"] = {c: rec.processing_time_by_channel[c].as_dict()
                                             for c in CHANNELS if c in rec.processing_time_by_channel}
    out["fee"] = rec.fee.as_dict()
    out["components"] = [c.as_dict() for c in rec.components]
    out["results"] = list(rec.results)
    if rec.results:
        out["result"] = "; ".join(rec.results)  # the older single-string shape, for existing readers
    out["legal_basis"] = list(rec.legal_basis)
    out["effective_from"] = rec.effective_from.isoformat() if rec.effective_from else None
    out["effective_to"] = rec.effective_to.isoformat() if rec.effective_to else None
    for key, value in rec.extra.items():
        out.setdefault(key, value)
    return out


def dumps(rec: CatalogRecord) -> str:
    return json.dumps(to_file(rec), ensure_ascii=False, indent=2) + "\n"


def loads(content: bytes | str, defaults: Mapping[str, Any] | None = None) -> CatalogRecord:
    """Parse and validate a ``X.procedure.json`` file; :class:`RecordError` with every problem.

    ``defaults`` fill keys the file leaves out (e.g. the code and unit of the procedure it is imported into).
    """
    if isinstance(content, bytes):
        if len(content) > MAX_FILE_BYTES:
            raise RecordError({"": [f"Tệp quá lớn (tối đa {MAX_FILE_BYTES // 1024} KB)."]})
        try:
            content = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise RecordError({"": ["Tệp phải được mã hoá UTF-8."]}) from None
    if not content.strip():
        raise RecordError({"": ["Tệp rỗng."]})
    try:
        raw = json.loads(content)
    except json.JSONDecodeError as exc:
        raise RecordError({"": [f"Tệp không phải JSON hợp lệ (dòng {exc.lineno}, cột {exc.colno}): "
                                f"{exc.msg}."]}) from None
    if isinstance(raw, dict) and defaults:
        raw = {**{k: v for k, v in defaults.items() if raw.get(k) in (None, "")},
               **{k: v for k, v in raw.items() if not (k in defaults and v in (None, ""))}}
    return validate_record(raw)


# --------------------------------------------------------------------------- the database


def record_of(procedure: Procedure) -> CatalogRecord:
    """The procedure's record from its columns and meta (older meta shapes read too)."""
    raw = dict(procedure.meta or {})
    raw.update(code=procedure.code, name=procedure.name, field=procedure.field or "",
               description=procedure.description or "", unit=procedure.unit.code if procedure.unit else "")
    version = procedure.current_version
    if not raw.get("process_id") and version is not None and version.spec is not None:
        raw["process_id"] = version.spec.process_id
    return read_record(raw)[0]


def apply_record(procedure: Procedure, rec: CatalogRecord) -> None:
    """Store a validated record: identity in columns, the rest in meta. The code is not changed here."""
    from app.auth.services import get_unit
    from app.extensions import db

    if rec.unit and (procedure.unit is None or procedure.unit.code != rec.unit):
        procedure.unit = get_unit(rec.unit)
    procedure.name = rec.name
    procedure.field = rec.field
    procedure.description = rec.description
    procedure.meta = {k: v for k, v in to_file(rec).items() if k not in COLUMN_KEYS}
    db.session.flush()


# --------------------------------------------------------------------------- messages


_PATH_LABELS = {
    "": "Tệp", "code": "Mã thủ tục", "name": "Tên thủ tục", "field": "Lĩnh vực", "description": "Mô tả",
    "unit": "Cơ quan giải quyết", "process_id": "Mã quy trình", "service_level": "Mức độ dịch vụ công",
    "channels": "Cách thức nộp hồ sơ", "postal_submission": "Nộp qua bưu chính",
    "postal_return": "Trả kết quả qua bưu chính", "processing_time": "Thời hạn giải quyết",
    "processing_time_by_channel": "Thời hạn theo cách thức nộp", "fee": "Phí, lệ phí",
    "components": "Thành phần hồ sơ", "results": "Kết quả", "legal_basis": "Căn cứ pháp lý",
    "effective_from": "Ngày có hiệu lực", "effective_to": "Ngày hết hiệu lực",
}
_PART_LABELS = {
    "value": "số lượng", "unit": "đơn vị", "same_day": "trong ngày", "note": "ghi chú", "kind": "cách tính",
    "amount": "mức phí", "unit_price": "đơn giá", "unit_field": "trường số lượng", "unit_label": "đơn vị tính",
    "min": "tối thiểu", "max": "tối đa", "quantity_field": "trường số bản", "quantity_label": "đơn vị số bản",
    "tiers": "bậc", "upto": "đến", "name": "tên giấy tờ", "originals": "số bản chính", "copies": "số bản sao",
    "required": "bắt buộc", "file_types": "loại tệp",
}


def describe_path(path: str) -> str:
    """'components.2.name' → 'Thành phần hồ sơ 3 — tên giấy tờ' (for error summaries)."""
    parts = path.split(".") if path else [""]
    words = [_PATH_LABELS.get(parts[0], parts[0])]
    for part in parts[1:]:
        if part.isdigit():
            words[-1] = f"{words[-1]} {int(part) + 1}"
        elif part in CHANNEL_LABELS:
            words.append(CHANNEL_LABELS[part].lower())
        else:
            words.append(_PART_LABELS.get(part, part))
    return " — ".join(words)
