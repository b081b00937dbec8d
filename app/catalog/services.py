"""Deploying procedures: BPMN + forms → a published, immutable version. Services flush, callers commit."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from app import engine
from app.auth.models import Unit, User
from app.auth.services import get_unit, role_for_lane
from app.catalog.models import Procedure, ProcedureVersion, WorkflowSpec
from app.common.errors import AppError, NotFound, ValidationFailed
from app.common.types import utcnow
from app.extensions import db
from app.schemaforms import check_schema

MAX_FORM_BYTES = 512 * 1024
HUMAN_KINDS = {"UserTask", "ManualTask", "NoneTask"}


class DeployError(ValidationFailed):
    """A model that cannot be published; `details` is a list of {element, message}."""


def read_forms(forms_dir: str | Path, names: list[str]) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """Load the named form files from a directory (base names only: a BPMN cannot point elsewhere)."""
    base = Path(forms_dir)
    forms: dict[str, Any] = {}
    problems: list[dict[str, str]] = []
    for name in names:
        if Path(name).name != name or name.startswith("."):
            problems.append({"element": name, "message": f"Tên tệp biểu mẫu không hợp lệ: '{name}'."})
            continue
        path = base / name
        if not path.is_file():
            problems.append({"element": name, "message": f"Không tìm thấy tệp biểu mẫu '{name}' trong {base}."})
            continue
        if path.stat().st_size > MAX_FORM_BYTES:
            problems.append({"element": name, "message": f"Tệp biểu mẫu '{name}' quá lớn."})
            continue
        try:
            forms[name] = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            problems.append({"element": name, "message": f"Tệp biểu mẫu '{name}' không phải JSON hợp lệ: {exc}"})
    return forms, problems


def check_model(model: engine.CompiledModel, forms: dict[str, Any]) -> list[dict[str, str]]:
    """What stops this model from running in this installation: lanes without a role, bad forms."""
    problems: list[dict[str, str]] = []
    outline = model.outline
    if not outline.get("start_form"):
        problems.append({"element": "startEvent",
                         "message": "Sự kiện bắt đầu chưa khai báo biểu mẫu nộp hồ sơ (formJsonSchemaFilename)."})
    for bpmn_id, el in outline["elements"].items():
        if el["kind"] in HUMAN_KINDS and role_for_lane(el.get("lane")) is None:
            problems.append({"element": bpmn_id,
                             "message": f"Bước '{el['name'] or bpmn_id}' nằm trong làn '{el.get('lane')}' "
                                        "không ứng với vai trò nào."})
    for name in outline["schema_forms"]:
        schema = forms.get(name)
        if schema is None:
            continue  # reported by read_forms
        for msg in check_schema(schema):
            problems.append({"element": name, "message": f"{name}: {msg}"})
    return problems


def _spec_row(xml: bytes, model: engine.CompiledModel) -> WorkflowSpec:
    digest = hashlib.sha256(xml).hexdigest()
    row = db.session.scalar(select(WorkflowSpec).where(WorkflowSpec.sha256 == digest))
    if row is None:
        row = WorkflowSpec(sha256=digest, process_id=model.process_id, bpmn_xml=xml.decode("utf-8"),
                           compiled=model.compiled, outline=model.outline)
        db.session.add(row)
        db.session.flush()
    return row


def deploy(xml: bytes, *, forms: dict[str, Any] | None = None, forms_dir: str | Path | None = None,
           unit: Unit | str | None = None, meta: dict[str, Any] | None = None,
           actor: User | None = None, publish: bool = True) -> ProcedureVersion:
    """Register a new version of the procedure a BPMN file defines, and publish it.

    The procedure code is `meta["code"]`, else the process property `procedureCode`, else the process id.
    Deploying identical BPMN and forms again returns the current version unchanged.
    """
    try:
        model = engine.compile_bpmn(xml)
    except engine.BpmnError as exc:
        raise DeployError(exc.message, details=[{"element": exc.element or "", "message": exc.message}]) from None
    meta = dict(meta or {})
    props = model.outline["process_properties"]
    if forms is None:
        forms, problems = read_forms(forms_dir or ".", model.outline["forms"])
    else:
        missing = [n for n in model.outline["forms"] if n not in forms]
        problems = [{"element": n, "message": f"Thiếu tệp biểu mẫu '{n}'."} for n in missing]
        forms = {n: forms[n] for n in model.outline["forms"] if n in forms}
    problems += check_model(model, forms)
    if problems:
        raise DeployError("Quy trình chưa thể triển khai: " + "; ".join(p["message"] for p in problems),
                          details=problems)

    code = str(meta.get("code") or props.get("procedureCode") or model.process_id)
    name = str(meta.get("name") or props.get("procedureName") or model.outline["name"] or code)
    procedure = db.session.scalar(select(Procedure).where(Procedure.code == code))
    if isinstance(unit, str):
        unit = get_unit(unit)
    if procedure is None:
        if unit is None:
            raise AppError("Cần chỉ định đơn vị xử lý (--unit) cho thủ tục mới.",
                           "A new procedure needs a handling unit (--unit).")
        procedure = Procedure(code=code, name=name, unit=unit, meta={})
        db.session.add(procedure)
        db.session.flush()
    elif unit is not None:
        procedure.unit = unit
    procedure.name = name
    procedure.field = str(meta.get("field") or props.get("field") or procedure.field or "")
    procedure.description = str(meta.get("description") or procedure.description or "")
    if "processingDays" in props and "processing_time" not in meta:
        meta["processing_time"] = {"value": float(props["processingDays"]), "unit": "working_days"}
    procedure.meta = {**(procedure.meta or {}), **{k: v for k, v in meta.items() if k not in {"code", "name"}}}

    spec = _spec_row(xml, model)
    current = procedure.current_version
    if current is not None and current.spec_id == spec.id and current.forms == forms and publish:
        return current
    number = (db.session.scalar(select(func.max(ProcedureVersion.number))
                                .where(ProcedureVersion.procedure_id == procedure.id)) or 0) + 1
    version = ProcedureVersion(procedure_id=procedure.id, number=number, spec=spec, forms=forms,
                               created_by_id=actor.id if actor else None, status="draft")
    db.session.add(version)
    db.session.flush()
    if publish:
        publish_version(version, actor)
    return version


def publish_version(version: ProcedureVersion, actor: User | None = None) -> None:
    """New dossiers start on this version; running dossiers keep theirs."""
    for other in db.session.scalars(select(ProcedureVersion).where(
            ProcedureVersion.procedure_id == version.procedure_id, ProcedureVersion.status == "published")):
        if other.id != version.id:
            other.status = "retired"
    version.status = "published"
    version.published_at = utcnow()
    version.published_by_id = actor.id if actor else None
    procedure = db.session.get(Procedure, version.procedure_id)
    assert procedure is not None
    procedure.current_version_id = version.id
    db.session.flush()


def model_of(version: ProcedureVersion) -> engine.CompiledModel:
    spec = version.spec
    return engine.CompiledModel(key=spec.sha256, process_id=spec.process_id, compiled=lambda: spec.compiled,
                                outline=spec.outline)


def get_procedure(code: str) -> Procedure:
    proc = db.session.scalar(select(Procedure).where(Procedure.code == code, Procedure.active.is_(True)))
    if proc is None or proc.current_version_id is None:
        raise NotFound(f"Không tìm thấy thủ tục '{code}'.", f"No procedure '{code}'.")
    return proc


def deploy_file(path: str | Path, *, forms_dir: str | Path | None = None, unit: str | None = None,
                actor: User | None = None) -> ProcedureVersion:
    """Deploy `X.bpmn`, reading catalogue metadata from `X.procedure.json` beside it when present."""
    path = Path(path)
    meta_path = path.with_suffix(".procedure.json")
    meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
    if not unit and meta.get("unit"):
        unit = meta["unit"]
    return deploy(path.read_bytes(), forms_dir=forms_dir or path.parent.parent / "forms",
                  unit=unit, meta=meta, actor=actor)
