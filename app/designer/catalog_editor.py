"""Catalogue record editor: the procedure's public information (Circular 32/2017), export and import.

Plain server-rendered forms, no JavaScript: repeatable rows (dossier components, results, legal basis,
fee tiers) are added and removed with submit buttons that re-render the page with what was typed, and
nothing is stored until “Lưu thông tin”. The record format and its rules are in app.catalog.record.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from app.auth.current import current_user, login_required
from app.auth.models import User
from app.catalog import record as catalog
from app.catalog.models import Procedure
from app.catalog.record import CatalogRecord, RecordError
from app.common.errors import NotFound
from app.designer import services as designer
from app.extensions import db
from app.schemaforms import field_names

bp = Blueprint("catalog_editor", __name__, url_prefix="/thiet-ke")

#: repeatable rows: list key → (HTML name prefix, the sub-field that is always posted)
ROWS = {
    "components": ("components", "name"),
    "results": ("results", None),
    "legal_basis": ("legal_basis", None),
    "tiers": ("fee-tiers", "unit_price"),
}
ROW_LABELS = {"components": "thành phần hồ sơ", "results": "kết quả", "legal_basis": "căn cứ pháp lý",
              "tiers": "bậc phí"}
UNIT_CHOICES = [("same_day", "Trong ngày làm việc (nhận sau 15 giờ: ngày làm việc tiếp theo)"),
                ("working_days", "ngày làm việc"), ("working_hours", "giờ làm việc"),
                ("calendar_days", "ngày (tính cả ngày nghỉ)")]


@bp.app_template_global("catalog_record")
def catalog_record(procedure: Procedure) -> CatalogRecord:
    """The procedure's catalogue record, for templates (the public procedure page)."""
    return catalog.record_of(procedure)


def _procedure_for_design(code: str) -> tuple[User, Procedure]:
    user = current_user()
    assert user is not None
    proc = designer.get_procedure_any(code)
    if not designer.can_design(user, proc):
        abort(403)
    return user, proc


# --------------------------------------------------------------------------- record ⇄ form values


def _blank(kind: str) -> Any:
    if kind == "components":
        return {"name": "", "originals": "1", "copies": "0", "required": True, "file_types": list(catalog.FILE_TYPES),
                "note": ""}
    if kind == "tiers":
        return {"upto": "", "unit_price": ""}
    return ""


def _time_values(pt: catalog.ProcessingTime | None) -> dict[str, Any]:
    if pt is None:
        return {"value": "", "unit": "", "note": ""}
    if pt.same_day:
        return {"value": "", "unit": "same_day", "note": pt.note}
    return {"value": catalog.number_text(pt.value), "unit": pt.unit, "note": pt.note}


def _money_text(amount: int | None) -> str:
    return "" if amount is None else f"{amount:,}".replace(",", ".")


def values_from_record(rec: CatalogRecord) -> dict[str, Any]:
    """What the form shows for a stored record (strings, as typed)."""
    fee = rec.fee
    return {
        "code": rec.code, "name": rec.name, "field": rec.field, "description": rec.description, "unit": rec.unit,
        "service_level": rec.service_level, "channels": list(rec.channels), "postal_return": rec.postal_return,
        "processing_time": _time_values(rec.processing_time),
        "processing_time_by_channel": {c: _time_values(rec.processing_time_by_channel.get(c))
                                       for c in catalog.CHANNELS},
        "fee": {"kind": fee.kind, "amount": _money_text(fee.amount) if fee.kind == "fixed" else "",
                "unit_price": _money_text(fee.unit_price) if fee.kind == "per_unit" else "",
                "unit_field": fee.unit_field, "unit_label": fee.unit_label, "min": _money_text(fee.min),
                "max": _money_text(fee.max), "quantity_field": fee.quantity_field,
                "quantity_label": fee.quantity_label, "note": fee.note,
                "tiers": [{"upto": "" if t.upto is None else str(t.upto), "unit_price": _money_text(t.unit_price)}
                          for t in fee.tiers]},
        "components": [{"name": c.name, "originals": str(c.originals), "copies": str(c.copies),
                        "required": c.required, "file_types": list(c.file_types), "note": c.note}
                       for c in rec.components],
        "results": list(rec.results), "legal_basis": list(rec.legal_basis),
        "effective_from": rec.effective_from.isoformat() if rec.effective_from else "",
        "effective_to": rec.effective_to.isoformat() if rec.effective_to else "",
    }


def _indices(form: MultiDict, prefix: str, sub: str | None) -> list[int]:
    pattern = re.compile(rf"^{re.escape(prefix)}-(\d+)" + (rf"-{re.escape(sub)}$" if sub else "$"))
    found = {int(m.group(1)) for key in form.keys() if (m := pattern.match(key))}
    return sorted(i for i in found if i < catalog.MAX_ROWS)


def values_from_form(form: MultiDict) -> dict[str, Any]:
    """What was typed, in the shape of :func:`values_from_record` (rows renumbered from 0)."""
    def text(name: str) -> str:
        return (form.get(name) or "").strip()

    def time(prefix: str) -> dict[str, Any]:
        return {"value": text(f"{prefix}-value"), "unit": text(f"{prefix}-unit"), "note": text(f"{prefix}-note")}

    fee_prefix, _ = ROWS["tiers"]
    return {
        "name": text("name"), "field": text("field"), "description": text("description"), "unit": text("unit"),
        "service_level": text("service_level"), "channels": form.getlist("channels"),
        "postal_return": "postal_return" in form,
        "processing_time": time("processing_time"),
        "processing_time_by_channel": {c: time(f"processing_time_by_channel-{c}") for c in catalog.CHANNELS},
        "fee": {**{k: text(f"fee-{k}") for k in ("kind", "amount", "unit_price", "unit_field", "unit_label", "min",
                                                 "max", "quantity_field", "quantity_label", "note")},
                "tiers": [{"upto": text(f"{fee_prefix}-{i}-upto"), "unit_price": text(f"{fee_prefix}-{i}-unit_price")}
                          for i in _indices(form, fee_prefix, "unit_price")]},
        "components": [{"name": text(f"components-{i}-name"), "originals": text(f"components-{i}-originals"),
                        "copies": text(f"components-{i}-copies"), "required": f"components-{i}-required" in form,
                        "file_types": form.getlist(f"components-{i}-file_types"),
                        "note": text(f"components-{i}-note")}
                       for i in _indices(form, "components", "name")],
        "results": [text(f"results-{i}") for i in _indices(form, "results", None)],
        "legal_basis": [text(f"legal_basis-{i}") for i in _indices(form, "legal_basis", None)],
        "effective_from": text("effective_from"), "effective_to": text("effective_to"),
    }


def _time_raw(values: dict[str, Any]) -> dict[str, Any] | None:
    unit = values.get("unit") or ""
    if not unit:
        return None
    if unit == "same_day":
        return {"value": 1, "unit": "working_days", "same_day": True, "note": values.get("note", "")}
    return {"value": values.get("value", ""), "unit": unit, "same_day": False, "note": values.get("note", "")}


def raw_from_values(values: dict[str, Any]) -> dict[str, Any]:
    """Form values → the file shape that catalog.read_record validates."""
    raw = {k: v for k, v in values.items() if k not in ("processing_time", "processing_time_by_channel")}
    raw["processing_time"] = _time_raw(values["processing_time"]) or {"value": "", "unit": "working_days"}
    raw["processing_time_by_channel"] = {c: t for c, v in values["processing_time_by_channel"].items()
                                         if (t := _time_raw(v)) is not None}
    return raw


# --------------------------------------------------------------------------- errors


def anchor(key: str) -> str | None:
    """The id of the control an error message links to."""
    if not key:
        return None
    first = {"channels": "channels-counter", "service_level": "service_level-information",
             "fee.kind": "fee-kind-fixed", "postal_return": "postal_return"}
    if key in first:
        return first[key]
    if key.endswith(".file_types"):
        return key.replace(".", "-") + "-pdf"
    if key.startswith("processing_time_by_channel.") and key.count(".") == 1:
        return key.replace(".", "-") + "-unit"
    return key.replace(".", "-")


def _field_errors(errors: dict[str, list[str]]) -> dict[str, list[str]]:
    """Errors keyed by the HTML name they belong to (dots → dashes)."""
    out: dict[str, list[str]] = {}
    for key, messages in errors.items():
        out.setdefault(key.replace(".", "-"), []).extend(messages)
    return out


def _summary(errors: dict[str, list[str]]) -> list[dict[str, Any]]:
    return [{"id": anchor(k), "label": catalog.describe_path(k), "message": m}
            for k, ms in errors.items() for m in ms]


# --------------------------------------------------------------------------- pages


def _warnings(proc: Procedure, rec: CatalogRecord) -> list[str]:
    """Things that are valid but probably wrong: fee fields the submission form does not have."""
    version = proc.current_version
    if version is None or version.spec is None:
        return []
    schema = version.form(version.spec.outline.get("start_form"))
    names = set(field_names(schema)) if schema else set()
    out = []
    wanted = [(rec.fee.unit_field, "số lượng")] if rec.fee.kind != "fixed" else []
    if rec.fee.quantity_field:
        wanted.append((rec.fee.quantity_field, "số bản"))
    for name, what in wanted:
        if name and name not in names:
            out.append(f"Biểu mẫu nộp hồ sơ của phiên bản đang áp dụng không có trường “{name}” ({what} để tính "
                       "phí): phí sẽ được tính như khi trường này để trống.")
    return out


def _render(user: User, proc: Procedure, values: dict[str, Any], *, errors: dict[str, list[str]] | None = None,
            import_errors: dict[str, list[str]] | None = None, focus: str | None = None,
            message: str | None = None, status: int = 200):
    stored = catalog.record_of(proc)
    units = designer.designable_units(user)
    if proc.unit not in units:
        units = [proc.unit, *units]
    errors = errors or {}
    return render_template(
        "designer/catalog/edit.html", procedure=proc, record=stored, values=values, units=units,
        errors=_field_errors(errors), summary=_summary(errors),
        import_summary=_summary(import_errors or {}), focus=focus, message=message,
        warnings=_warnings(proc, stored), channels=catalog.CHANNEL_LABELS, levels=catalog.SERVICE_LEVELS,
        fee_kinds=catalog.FEE_KINDS, file_types=catalog.FILE_TYPES, unit_choices=UNIT_CHOICES,
        row_labels=ROW_LABELS,
    ), status


def _row_action(values: dict[str, Any], action: str) -> tuple[str | None, str | None]:
    """Apply an add/remove button; returns (id to focus, status message)."""
    verb, _, rest = action.partition(":")
    kind, _, index = rest.partition(":")
    if kind not in ROWS:
        return None, None
    rows = values["fee"]["tiers"] if kind == "tiers" else values[kind]
    prefix, sub = ROWS[kind]
    label = ROW_LABELS[kind]
    if verb == "add" and len(rows) < catalog.MAX_ROWS:
        rows.append(_blank(kind))
        first = f"{prefix}-{len(rows) - 1}" + ("-upto" if kind == "tiers" else "-name" if sub else "")
        return first, f"Đã thêm một dòng {label} (chưa lưu). Nhập nội dung rồi bấm “Lưu thông tin”."
    if verb == "remove" and index.isdigit() and int(index) < len(rows):
        rows.pop(int(index))
        return f"add-{kind}", f"Đã xoá dòng {label} thứ {int(index) + 1} (chưa lưu)."
    return None, None


@bp.route("/<code>/thong-tin", methods=["GET", "POST"])
@login_required
def edit(code: str):
    user, proc = _procedure_for_design(code)
    if request.method == "GET":
        return _render(user, proc, values_from_record(catalog.record_of(proc)))
    values = values_from_form(request.form)
    values["code"] = proc.code
    action = request.form.get("action") or "save"
    if action != "save":
        focus, message = _row_action(values, action)
        return _render(user, proc, values, focus=focus, message=message)
    stored = catalog.record_of(proc)
    raw = {**stored.extra, **raw_from_values(values), "code": proc.code, "process_id": stored.process_id}
    rec, errors = catalog.read_record(raw)
    allowed = {u.code for u in designer.designable_units(user)} | {proc.unit.code}
    if rec.unit not in allowed:
        errors.setdefault("unit", []).append("Chọn một đơn vị bạn được thiết kế quy trình.")
    for channel, typed in values["processing_time_by_channel"].items():
        if typed["value"] and not typed["unit"]:
            errors.setdefault(f"processing_time_by_channel.{channel}.unit", []).append(
                "Chọn đơn vị nếu cách thức này có thời hạn riêng, hoặc để trống số lượng.")
    if errors:
        return _render(user, proc, values, errors=errors, status=422)
    catalog.apply_record(proc, rec)
    db.session.commit()
    flash("Đã lưu thông tin thủ tục. Trang thủ tục công khai hiển thị thông tin mới.", "success")
    return redirect(url_for("catalog_editor.edit", code=proc.code))


@bp.get("/<code>/thong-tin.json")
@login_required
def export(code: str):
    _user, proc = _procedure_for_design(code)
    rec = catalog.record_of(proc)
    filename = f"{rec.process_id or rec.code}.procedure.json"
    return Response(catalog.dumps(rec), mimetype="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.post("/<code>/thong-tin/nhap")
@login_required
def import_(code: str):
    user, proc = _procedure_for_design(code)
    stored = catalog.record_of(proc)
    upload = request.files.get("file")
    content = upload.read(catalog.MAX_FILE_BYTES + 1) if upload else b""
    errors: dict[str, list[str]] = {}
    rec = None
    if not content:
        errors[""] = ["Vui lòng chọn tệp thông tin thủ tục (.procedure.json) để nhập."]
    else:
        try:
            rec = catalog.loads(content, defaults={"code": proc.code, "unit": proc.unit.code,
                                                   "process_id": stored.process_id})
        except RecordError as exc:
            errors = exc.errors
    if rec is not None:
        if rec.code != proc.code:
            errors["code"] = [f"Tệp là thông tin của thủ tục {rec.code}, không phải {proc.code}."]
        allowed = {u.code for u in designer.designable_units(user)} | {proc.unit.code}
        if rec.unit not in allowed:
            errors["unit"] = [f"Đơn vị {rec.unit} không thuộc các đơn vị bạn được thiết kế quy trình."]
        if not errors:
            try:
                catalog.apply_record(proc, rec)
            except NotFound as exc:
                db.session.rollback()
                errors["unit"] = [exc.message]
    if errors:
        db.session.rollback()
        return _render(user, proc, values_from_record(stored), import_errors=errors, status=422)
    db.session.commit()
    name = upload.filename if upload and upload.filename else "tệp"
    flash(f"Đã nhập thông tin thủ tục từ {name}.", "success")
    return redirect(url_for("catalog_editor.edit", code=proc.code))
