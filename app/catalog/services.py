"""Deploying procedures: BPMN + forms → a published, immutable version. Services flush, callers commit."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app import engine
from app.auth.models import Unit, User
from app.auth.services import get_unit
from app.catalog.models import Procedure, ProcedureVersion
from app.common.errors import AppError, NotFound, ValidationFailed
from app.extensions import db

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


def referenced_forms(xml: bytes) -> list[str]:
    """The form files a BPMN names (empty when it does not parse: the linter reports that)."""
    try:
        return list(engine.compile_bpmn(xml).outline["forms"])
    except engine.BpmnError:
        return []


def deploy(xml: bytes, *, forms: dict[str, Any] | None = None, forms_dir: str | Path | None = None,
           unit: Unit | str | None = None, meta: dict[str, Any] | None = None,
           actor: User | None = None, publish: bool = True) -> ProcedureVersion:
    """Register a new version of the procedure a BPMN file defines, and publish it.

    The procedure code is `meta["code"]`, else the process property `procedureCode`, else the process id.
    Deploying identical BPMN and forms again returns the current version unchanged. Lint errors refuse it.
    """
    from app.designer import services as designer

    names = referenced_forms(xml)
    problems: list[dict[str, str]] = []
    if forms is None:
        forms, problems = read_forms(forms_dir or ".", names)
    else:
        forms = {n: forms[n] for n in names if n in forms}
    report = designer.lint_version_source(xml, forms)
    if problems or not report.ok or report.model is None:
        details = problems + [i.as_dict() for i in report.errors]
        raise DeployError("Quy trình chưa thể triển khai: " + "; ".join(p["message"] for p in details),
                          details=details)
    model = report.model
    meta = dict(meta or {})
    props = model.outline["process_properties"]
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
    if meta:  # a catalogue file replaces the record; without one, the stored record stays
        procedure.meta = {k: v for k, v in meta.items() if k not in {"code", "name", "field", "description"}}

    current = procedure.current_version
    digest = hashlib.sha256(xml).hexdigest()
    if publish and current is not None and current.spec is not None and current.spec.sha256 == digest \
            and current.forms == forms:
        return current
    version, _ = designer.new_version(procedure, xml, forms, actor, note="Triển khai từ tệp", require_clean=True)
    if publish:
        designer.publish(version, actor)
    return version


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
