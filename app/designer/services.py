"""Designer verbs: drafts, saving, linting, publishing, retiring, comparing versions.

A version is born a draft holding its BPMN source and forms; it may not compile while being drawn.
Publishing lints it, compiles it into a spec stored once by content hash, and makes it the version new
dossiers start on; running dossiers keep theirs. Services flush; routes and commands commit.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import func, select

from app import engine
from app.auth.models import Unit, User
from app.auth.services import role_for_lane
from app.catalog.models import Procedure, ProcedureVersion, WorkflowSpec
from app.common.errors import AppError, Conflict, Forbidden, NotFound, ValidationFailed
from app.common.types import utcnow
from app.designer.lint import LintReport, lint
from app.extensions import db

MAX_FORMS = 200
MAX_FORM_BYTES = 512 * 1024


def lane_has_role(lane: str | None) -> bool:
    return role_for_lane(lane) is not None


def lint_version_source(xml: str | bytes, forms: dict[str, Any]) -> LintReport:
    return lint(xml, forms, lane_role=lane_has_role)


# --------------------------------------------------------------------------- permissions


def can_design(user: User | None, procedure: Procedure | None = None, unit_id: int | None = None) -> bool:
    """Designers of the owning agency edit its procedures; administrators can do all."""
    if user is None:
        return False
    if any(g.role.code == "admin" for g in user.grants):
        return True
    target = unit_id if unit_id is not None else (procedure.unit_id if procedure else None)
    return any(g.role.code == "designer" and (target is None or g.unit_id == target) for g in user.grants)


def require_designer(user: User | None, procedure: Procedure | None = None, unit_id: int | None = None) -> User:
    if not can_design(user, procedure, unit_id):
        raise Forbidden("Chỉ người thiết kế quy trình của đơn vị sở hữu thủ tục (hoặc quản trị) được thực hiện.",
                        "Only the owning agency's process designers (or administrators) may do this.")
    assert user is not None
    return user


def designable_units(user: User) -> list[Unit]:
    if any(g.role.code == "admin" for g in user.grants):
        return list(db.session.scalars(select(Unit).order_by(Unit.code)))
    return sorted({g.unit for g in user.grants if g.role.code == "designer"}, key=lambda u: u.code)


# --------------------------------------------------------------------------- lookups


def get_procedure_any(code: str) -> Procedure:
    proc = db.session.scalar(select(Procedure).where(Procedure.code == code))
    if proc is None:
        raise NotFound(f"Không tìm thấy thủ tục '{code}'.", f"No procedure '{code}'.")
    return proc


def get_version(procedure: Procedure, number: int) -> ProcedureVersion:
    v = db.session.scalar(select(ProcedureVersion).where(ProcedureVersion.procedure_id == procedure.id,
                                                          ProcedureVersion.number == number))
    if v is None:
        raise NotFound(f"Thủ tục {procedure.code} không có phiên bản {number}.", f"No version {number}.")
    return v


def versions(procedure: Procedure) -> list[ProcedureVersion]:
    return list(db.session.scalars(select(ProcedureVersion).where(ProcedureVersion.procedure_id == procedure.id)
                                   .order_by(ProcedureVersion.number.desc())))


def open_draft_of(procedure: Procedure) -> ProcedureVersion | None:
    return db.session.scalar(select(ProcedureVersion).where(ProcedureVersion.procedure_id == procedure.id,
                                                            ProcedureVersion.status == "draft")
                             .order_by(ProcedureVersion.number.desc()).limit(1))


def _next_number(procedure: Procedure) -> int:
    return (db.session.scalar(select(func.max(ProcedureVersion.number))
                              .where(ProcedureVersion.procedure_id == procedure.id)) or 0) + 1


# --------------------------------------------------------------------------- drafts


def _check_forms(forms: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(forms, dict) or len(forms) > MAX_FORMS:
        raise ValidationFailed("Danh sách biểu mẫu không hợp lệ hoặc quá nhiều tệp.", "Invalid or too many forms.")
    for name, schema in forms.items():
        bad = not isinstance(name, str) or "/" in name or "\\" in name or name.startswith(".")
        if bad or not name.endswith(".json"):
            raise ValidationFailed(f"Tên tệp biểu mẫu không hợp lệ: '{name}'.", f"Invalid form file name '{name}'.")
        if len(json.dumps(schema, ensure_ascii=False)) > MAX_FORM_BYTES:
            raise ValidationFailed(f"Biểu mẫu '{name}' quá lớn.", f"Form '{name}' is too large.")
    return forms


def new_version(procedure: Procedure, xml: str | bytes, forms: dict[str, Any], actor: User | None,
                *, note: str = "", require_clean: bool = False) -> tuple[ProcedureVersion, LintReport]:
    """A new draft from uploaded source. With `require_clean`, lint errors refuse it (nothing stored)."""
    text = xml.decode("utf-8") if isinstance(xml, bytes) else xml
    report = lint_version_source(text, _check_forms(forms))
    if require_clean and not report.ok:
        raise ValidationFailed("Quy trình chưa đạt kiểm tra, chưa thể tạo phiên bản.",
                               "The model does not pass the checks.",
                               details=[i.as_dict() for i in report.issues])
    version = ProcedureVersion(procedure_id=procedure.id, number=_next_number(procedure), status="draft",
                               bpmn_xml=text, forms=forms, note=note, lint=[i.as_dict() for i in report.issues],
                               created_by_id=actor.id if actor else None, updated_at=utcnow())
    db.session.add(version)
    db.session.flush()
    if report.model is not None and report.ok:
        version.spec = _spec_row(text.encode("utf-8"), report.model)
    db.session.flush()
    return version, report


def open_draft(procedure: Procedure, actor: User | None) -> ProcedureVersion:
    """The procedure's open draft, or a new one copied from the current version."""
    draft = open_draft_of(procedure)
    if draft is not None:
        return draft
    base = procedure.current_version
    if base is None:
        raise AppError("Thủ tục chưa có phiên bản nào để sao chép.", "The procedure has no version to copy.")
    version, _ = new_version(procedure, base.bpmn_xml, dict(base.forms), actor,
                             note=f"Sao chép từ phiên bản {base.number}")
    return version


def save_draft(version: ProcedureVersion, actor: User | None, *, xml: str | None = None,
               forms: dict[str, Any] | None = None, note: str | None = None) -> LintReport:
    """Save work in progress; only drafts change. The lint result is kept with the draft."""
    if version.status != "draft":
        raise Conflict("Chỉ sửa được bản nháp; phiên bản đã xuất bản là bất biến.",
                       "Only drafts can change; published versions are immutable.")
    if xml is not None:
        version.bpmn_xml = xml
    if forms is not None:
        version.forms = dict(_check_forms(forms))
    if note is not None:
        version.note = note
    report = lint_version_source(version.bpmn_xml, version.forms)
    version.lint = [i.as_dict() for i in report.issues]
    version.spec = _spec_row(version.bpmn_xml.encode("utf-8"), report.model) if report.model and report.ok else None
    version.updated_at = utcnow()
    db.session.flush()
    return report


def set_form(version: ProcedureVersion, name: str, schema: dict[str, Any] | None, actor: User | None) -> LintReport:
    forms = dict(version.forms)
    if schema is None:
        forms.pop(name, None)
    else:
        forms[name] = schema
    return save_draft(version, actor, forms=forms)


def _spec_row(xml: bytes, model: engine.CompiledModel) -> WorkflowSpec:
    digest = hashlib.sha256(xml).hexdigest()
    row = db.session.scalar(select(WorkflowSpec).where(WorkflowSpec.sha256 == digest))
    if row is None:
        row = WorkflowSpec(sha256=digest, process_id=model.process_id, bpmn_xml=xml.decode("utf-8"),
                           compiled=model.compiled_bytes(), outline=model.outline)
        db.session.add(row)
        db.session.flush()
    return row


# --------------------------------------------------------------------------- publishing


def publish(version: ProcedureVersion, actor: User | None) -> LintReport:
    """Lint, compile and publish a draft: new dossiers start on it; running dossiers keep theirs."""
    if version.status != "draft":
        raise Conflict("Chỉ xuất bản được bản nháp.", "Only a draft can be published.")
    report = lint_version_source(version.bpmn_xml, version.forms)
    version.lint = [i.as_dict() for i in report.issues]
    if not report.ok or report.model is None:
        raise ValidationFailed("Quy trình còn lỗi, chưa thể xuất bản.", "The model has errors; it cannot be published.",
                               details=[i.as_dict() for i in report.issues])
    version.spec = _spec_row(version.bpmn_xml.encode("utf-8"), report.model)
    now = utcnow()
    for other in db.session.scalars(select(ProcedureVersion).where(
            ProcedureVersion.procedure_id == version.procedure_id, ProcedureVersion.status == "published")):
        if other.id != version.id:
            other.status = "retired"
            other.retired_at = now
    version.status = "published"
    version.published_at = now
    version.published_by_id = actor.id if actor else None
    procedure = db.session.get(Procedure, version.procedure_id)
    assert procedure is not None
    procedure.current_version_id = version.id
    db.session.flush()
    return report


def retire(version: ProcedureVersion, actor: User | None) -> None:
    """Withdraw the published version: the procedure stops taking new dossiers until another is published."""
    if version.status != "published":
        raise Conflict("Chỉ ngừng áp dụng được phiên bản đang xuất bản.", "Only the published version can be retired.")
    version.status = "retired"
    version.retired_at = utcnow()
    procedure = db.session.get(Procedure, version.procedure_id)
    assert procedure is not None
    if procedure.current_version_id == version.id:
        procedure.current_version_id = None
    db.session.flush()


def discard_draft(version: ProcedureVersion) -> None:
    if version.status != "draft":
        raise Conflict("Chỉ xoá được bản nháp.", "Only drafts can be discarded.")
    db.session.delete(version)
    db.session.flush()


# --------------------------------------------------------------------------- comparing


def _elements(version: ProcedureVersion) -> dict[str, dict[str, Any]]:
    if version.spec is not None:
        return version.spec.outline["elements"]
    try:
        return engine.compile_bpmn(version.bpmn_xml.encode("utf-8")).outline["elements"]
    except engine.BpmnError:
        return {}


def diff(a: ProcedureVersion, b: ProcedureVersion) -> dict[str, Any]:
    """What changed from version a to version b: elements added, removed, changed (and how), forms."""
    ea, eb = _elements(a), _elements(b)
    changed = []
    for bpmn_id in sorted(ea.keys() & eb.keys()):
        x, y = ea[bpmn_id], eb[bpmn_id]
        fields = {k: (x.get(k), y.get(k)) for k in ("name", "kind", "lane", "properties", "documentation")
                  if x.get(k) != y.get(k)}
        if fields:
            changed.append({"id": bpmn_id, "name": y.get("name") or x.get("name"), "changes": fields})
    fa, fb = a.forms or {}, b.forms or {}
    return {
        "from": a.number, "to": b.number,
        "added": [{"id": i, "name": eb[i]["name"], "kind": eb[i]["kind"]} for i in sorted(eb.keys() - ea.keys())],
        "removed": [{"id": i, "name": ea[i]["name"], "kind": ea[i]["kind"]} for i in sorted(ea.keys() - eb.keys())],
        "changed": changed,
        "forms_added": sorted(fb.keys() - fa.keys()),
        "forms_removed": sorted(fa.keys() - fb.keys()),
        "forms_changed": sorted(n for n in fa.keys() & fb.keys() if fa[n] != fb[n]),
    }
