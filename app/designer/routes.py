"""Designer pages: procedures, versions (draft → published → retired), compare, upload/download BPMN.

The modeler, forms editor, catalogue editor and trial run live in their own modules of this package
and link back here; all share the permission rule in services.can_design.
"""

from __future__ import annotations

import re
from html import escape
from pathlib import Path

from flask import Blueprint, Response, abort, flash, jsonify, redirect, render_template, request, url_for
from sqlalchemy import select

from app.auth.current import current_user, login_required
from app.auth.models import Unit, User
from app.catalog.models import Procedure, ProcedureVersion
from app.common.errors import AppError, ValidationFailed
from app.designer import services as designer
from app.engine.xmlsafe import MAX_XML_BYTES
from app.extensions import db
from app.web.helpers import lang

bp = Blueprint("designer", __name__, url_prefix="/thiet-ke")

STARTER = Path(__file__).resolve().parent / "starter"
CODE_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]{0,49}$")


def _user() -> User:
    user = current_user()
    assert user is not None
    return user


def _procedure_for_design(code: str) -> tuple[User, Procedure]:
    user = _user()
    proc = designer.get_procedure_any(code)
    if not designer.can_design(user, proc):
        abort(403)
    return user, proc


@bp.get("/")
@login_required
def index():
    user = _user()
    units = designer.designable_units(user)
    if not units:
        abort(403)
    procs = list(db.session.scalars(select(Procedure).where(Procedure.unit_id.in_([u.id for u in units]))
                                    .order_by(Procedure.field, Procedure.name)))
    drafts = {v.procedure_id: v for v in db.session.scalars(
        select(ProcedureVersion).where(ProcedureVersion.status == "draft",
                                       ProcedureVersion.procedure_id.in_([p.id for p in procs])))}
    return render_template("designer/index.html", procedures=procs, drafts=drafts)


@bp.route("/thu-tuc-moi", methods=["GET", "POST"])
@login_required
def new_procedure():
    user = _user()
    units = designer.designable_units(user)
    if not units:
        abort(403)
    errors: dict[str, str] = {}
    values = {"code": "", "name": "", "field": "", "unit": units[0].code}
    if request.method == "POST":
        values = {k: (request.form.get(k) or "").strip() for k in values}
        if not CODE_RE.match(values["code"]):
            errors["code"] = "Mã thủ tục gồm chữ, số, dấu chấm, gạch; tối đa 50 ký tự (ví dụ 1.001193)."
        elif db.session.scalar(select(Procedure).where(Procedure.code == values["code"])) is not None:
            errors["code"] = "Mã thủ tục này đã có."
        if len(values["name"]) < 3:
            errors["name"] = "Vui lòng nhập tên thủ tục."
        unit = next((u for u in units if u.code == values["unit"]), None)
        if unit is None:
            errors["unit"] = "Vui lòng chọn đơn vị bạn được thiết kế quy trình."
        if not errors:
            assert unit is not None
            proc = Procedure(code=values["code"], name=values["name"], field=values["field"], unit=unit,
                             meta={"processing_time": {"value": 5, "unit": "working_days"}}, active=True)
            db.session.add(proc)
            db.session.flush()
            pid = "p_" + re.sub(r"[^0-9A-Za-z_]", "_", values["code"])
            xml = (STARTER / "starter.bpmn").read_text(encoding="utf-8").format(
                process_id=pid, code=escape(values["code"]), name=escape(values["name"]))
            forms = {f"{pid}_{n}.json": _json(STARTER / f"{n}.json") for n in ("nop", "tiep_nhan", "xu_ly")}
            version, _ = designer.new_version(proc, xml, forms, user, note="Bản nháp đầu tiên từ mẫu")
            db.session.commit()
            flash("Đã tạo thủ tục và bản nháp đầu tiên từ quy trình mẫu.", "success")
            return redirect(url_for("designer.version", code=proc.code, number=version.number))
    return render_template("designer/new_procedure.html", units=units, values=values, errors=errors), \
        (422 if errors else 200)


def _json(path: Path):
    import json

    return json.loads(path.read_text(encoding="utf-8"))


@bp.get("/<code>")
@login_required
def procedure(code: str):
    _user_, proc = _procedure_for_design(code)
    return render_template("designer/procedure.html", procedure=proc, versions=designer.versions(proc))


@bp.get("/<code>/v/<int:number>")
@login_required
def version(code: str, number: int):
    _user_, proc = _procedure_for_design(code)
    v = designer.get_version(proc, number)
    return render_template("designer/version.html", procedure=proc, version=v)


@bp.post("/<code>/ban-nhap")
@login_required
def open_draft(code: str):
    user, proc = _procedure_for_design(code)
    v = designer.open_draft(proc, user)
    db.session.commit()
    return redirect(url_for("designer.version", code=code, number=v.number))


def _action(code: str, number: int, verb: str):
    user, proc = _procedure_for_design(code)
    v = designer.get_version(proc, number)
    try:
        if verb == "publish":
            designer.publish(v, user)
            flash(f"Đã xuất bản phiên bản {number}: hồ sơ mới sẽ chạy theo phiên bản này; "
                  "hồ sơ đang xử lý giữ phiên bản cũ.", "success")
        elif verb == "retire":
            designer.retire(v, user)
            flash(f"Đã ngừng áp dụng phiên bản {number}. Thủ tục không nhận hồ sơ mới cho đến khi "
                  "xuất bản phiên bản khác.", "success")
        elif verb == "discard":
            designer.discard_draft(v)
            db.session.commit()
            flash(f"Đã xoá bản nháp {number}.", "success")
            return redirect(url_for("designer.procedure", code=code))
        db.session.commit()
    except ValidationFailed as exc:
        db.session.rollback()
        v = designer.get_version(proc, number)
        if isinstance(exc.details, list):
            v.lint = exc.details
            db.session.commit()
        flash(exc.text(lang()), "error")
    except AppError as exc:
        db.session.rollback()
        flash(exc.text(lang()), "error")
    return redirect(url_for("designer.version", code=code, number=number))


@bp.post("/<code>/v/<int:number>/xuat-ban")
@login_required
def publish(code: str, number: int):
    return _action(code, number, "publish")


@bp.post("/<code>/v/<int:number>/ngung")
@login_required
def retire(code: str, number: int):
    return _action(code, number, "retire")


@bp.post("/<code>/v/<int:number>/xoa")
@login_required
def discard(code: str, number: int):
    return _action(code, number, "discard")


@bp.get("/<code>/so-sanh")
@login_required
def compare(code: str):
    _user_, proc = _procedure_for_design(code)
    a_num = request.args.get("a", type=int)
    b_num = request.args.get("b", type=int)
    if not a_num or not b_num:
        abort(400)
    d = designer.diff(designer.get_version(proc, a_num), designer.get_version(proc, b_num))
    return render_template("designer/compare.html", procedure=proc, diff=d, versions=designer.versions(proc))


@bp.get("/<code>/v/<int:number>/tai-xuong.bpmn")
@login_required
def download(code: str, number: int):
    _user_, proc = _procedure_for_design(code)
    v = designer.get_version(proc, number)
    return Response(v.bpmn_xml, mimetype="application/xml", headers={
        "Content-Disposition": f'attachment; filename="{proc.code}-v{v.number}.bpmn"'})


@bp.post("/<code>/v/<int:number>/tai-len")
@login_required
def upload(code: str, number: int):
    """Replace a draft's BPMN with an uploaded file (any tool's BPMN 2.0 export)."""
    user, proc = _procedure_for_design(code)
    v = designer.get_version(proc, number)
    f = request.files.get("bpmn")
    content = f.read(MAX_XML_BYTES + 1) if f else b""
    if not content:
        flash("Vui lòng chọn tệp .bpmn để tải lên.", "error")
    elif len(content) > MAX_XML_BYTES:
        flash("Tệp BPMN vượt quá 5 MB.", "error")
    else:
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError:
            flash("Tệp BPMN phải được mã hoá UTF-8.", "error")
        else:
            try:
                report = designer.save_draft(v, user, xml=text)
                db.session.commit()
                flash("Đã tải lên. " + ("Quy trình đạt kiểm tra." if report.ok else
                                        f"Còn {len(report.errors)} lỗi cần sửa trước khi xuất bản."),
                      "success" if report.ok else "error")
            except AppError as exc:
                db.session.rollback()
                flash(exc.text(lang()), "error")
    return redirect(url_for("designer.version", code=code, number=number))


@bp.put("/<code>/v/<int:number>/bpmn")
@login_required
def save_bpmn(code: str, number: int):
    """Save a draft's BPMN from the in-browser modeler (XML body); answers the lint result as JSON."""
    user, proc = _procedure_for_design(code)
    v = designer.get_version(proc, number)
    body = request.get_data(cache=False, as_text=False)
    if not body or len(body) > MAX_XML_BYTES:
        return jsonify({"error": {"code": "bad_request", "message": "Nội dung BPMN rỗng hoặc quá lớn."}}), 400
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return jsonify({"error": {"code": "bad_request", "message": "BPMN phải được mã hoá UTF-8."}}), 400
    report = designer.save_draft(v, user, xml=text)
    db.session.commit()
    return jsonify({"ok": report.ok, "issues": [i.as_dict() for i in report.issues],
                    "saved_at": v.updated_at.isoformat() if v.updated_at else None})


@bp.get("/<code>/v/<int:number>/bpmn")
@login_required
def bpmn_source(code: str, number: int):
    _user_, proc = _procedure_for_design(code)
    v = designer.get_version(proc, number)
    return Response(v.bpmn_xml, mimetype="application/xml")


def units_for(user: User) -> list[Unit]:
    return designer.designable_units(user)
