"""Dossier verbs: submit, advance the workflow, audit. Services flush; the route or command commits.

One mechanism moves a dossier: `advance()` runs the engine, applies the `dossierStatus` of every
element reached, writes steps and audit rows, materialises the open human tasks, and stores the state.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app import engine
from app.auth.models import Unit, User
from app.auth.services import role_for_lane
from app.catalog.models import ProcedureVersion
from app.catalog.record import processing_time_for
from app.catalog.services import get_procedure, model_of
from app.common.errors import AppError, Forbidden, NotFound, ValidationFailed
from app.common.text import fold
from app.common.timefmt import to_local
from app.common.types import utcnow
from app.dossiers import events, storage
from app.dossiers.files import check_upload
from app.dossiers.models import (
    CHANNELS,
    FINAL_STATUSES,
    Attachment,
    AuditLog,
    Dossier,
    DossierSequence,
    DossierStep,
    WorkflowState,
)
from app.extensions import db
from app.inbox.models import CANCELLED, OPEN, Task
from app.jobs import sync_timers
from app.schemaforms import decode_data_url, file_fields, validate_data
from app.worktime import add_working_hours, due_date, shift_by_working_hours, working_hours_between

SECRET_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud and typed from paper
SECRET_LENGTH = 10
SUPPLEMENT = 5  # national status "supplement requested"
MILESTONE_KINDS = {"IntermediateThrowEvent", "EndEvent", "IntermediateCatchEvent"}

APPLICANT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "title": "Họ và tên người nộp", "minLength": 2, "maxLength": 255},
        "id_number": {"type": "string", "title": "Số định danh cá nhân / mã số thuế",
                      "pattern": "^([0-9]{9}|[0-9]{10}|[0-9]{12}|[0-9]{13}|[0-9]{10}-[0-9]{3})$"},
        "phone": {"type": "string", "title": "Số điện thoại", "pattern": "^(\\+84|0)[0-9]{9,10}$"},
        "email": {"type": "string", "title": "Thư điện tử", "format": "email", "maxLength": 255},
        "address": {"type": "string", "title": "Địa chỉ", "maxLength": 500},
    },
}


@dataclass(frozen=True)
class Actor:
    """Who acts: an official (user), the dossier's applicant, or the system."""

    user: User | None = None
    applicant: bool = False

    @property
    def label(self) -> str:
        if self.user is not None:
            return f"user:{self.user.username}"
        return "applicant" if self.applicant else "system"

    @property
    def display(self) -> str:
        if self.user is not None:
            return self.user.display_name
        return "Người nộp hồ sơ" if self.applicant else "Hệ thống"


SYSTEM = Actor()
APPLICANT = Actor(applicant=True)


# --------------------------------------------------------------------------- small pieces


def time_limit(meta: dict[str, Any] | None, channel: str) -> dict[str, Any]:
    """The procedure's time limit for a channel (the catalogue record may set one per channel)."""
    return processing_time_for(meta or {}, channel)


def _secret_digest(code: str, secret: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"{code}:{secret.strip().upper()}".encode(), hashlib.sha256).hexdigest()


def check_secret(dossier: Dossier, secret: str) -> bool:
    return hmac.compare_digest(dossier.tracking_secret_hash, _secret_digest(dossier.code, secret or ""))


def next_code(unit: Unit, now: datetime) -> str:
    """`<agency code>-<YYMMDD>-<sequence of the day>` (format configurable), atomic on both backends."""
    day = to_local(now).date()  # type: ignore[union-attr]
    dialect = db.session.get_bind().dialect.name
    ins = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = (
        ins(DossierSequence)
        .values(unit_id=unit.id, day=day, last=1)
        .on_conflict_do_update(index_elements=["unit_id", "day"], set_={"last": DossierSequence.last + 1})
        .returning(DossierSequence.last)
    )
    seq = db.session.execute(stmt).scalar_one()
    fmt = current_app.config["DOSSIER_CODE_FORMAT"]
    return fmt.format(agency=unit.code, date=day, seq=seq)


def audit(dossier: Dossier, actor: Actor, action: str, *, from_status: int | None = None,
          to_status: int | None = None, detail: dict[str, Any] | None = None, note: str = "") -> AuditLog:
    row = AuditLog(dossier_id=dossier.id, actor_id=actor.user.id if actor.user else None,
                   actor_label=actor.label, action=action, from_status=from_status,
                   to_status=to_status, detail=detail or {}, note=note, at=utcnow())
    db.session.add(row)
    return row


def _validation_error(errors: dict[str, list[str]], prefix: str = "") -> ValidationFailed:
    details = {f"{prefix}{k}" if k else (prefix.rstrip(".") or ""): v for k, v in errors.items()}
    return ValidationFailed("Dữ liệu chưa hợp lệ, vui lòng kiểm tra các trường được đánh dấu.",
                            "Some fields are not valid.", details=details)


def validate_form(version: ProcedureVersion, form_name: str | None, data: dict[str, Any],
                  lang: str = "vi") -> None:
    """Server-side validation of form data against the version's JSON Schema; 422 with per-field errors."""
    schema = version.form(form_name)
    if schema is None:
        if data:
            raise ValidationFailed("Bước này không có biểu mẫu nhập liệu.", "This step takes no form data.",
                                   details={"": ["Bước này không có biểu mẫu nhập liệu."]})
        return
    errors = validate_data(schema, data, lang=lang)
    if errors:
        raise _validation_error(errors)


def store_files(dossier: Dossier, version: ProcedureVersion, form_name: str | None, data: dict[str, Any],
                actor: Actor) -> dict[str, Any]:
    """Replace data-URL file values by attachment references (the files themselves go to storage)."""
    schema = version.form(form_name)
    if not schema:
        return data
    out = dict(data)
    limit = current_app.config["MAX_UPLOAD_BYTES"]
    for name in file_fields(schema):
        value = out.get(name)
        if value is None:
            continue
        many = isinstance(value, list)
        refs = []
        for item in value if many else [value]:
            try:
                filename, _declared, content = decode_data_url(item)
            except ValueError as exc:
                raise ValidationFailed(str(exc), details={name: [str(exc)]}) from None
            mime = check_upload(name, filename, content, limit)
            att = Attachment(dossier_id=dossier.id, field=name, filename=filename, content_type=mime,
                             size=len(content), sha256=storage.save(content),
                             uploaded_by_id=actor.user.id if actor.user else None)
            db.session.add(att)
            db.session.flush()
            refs.append(att.as_ref())
        out[name] = refs if many else refs[0]
    return out


# --------------------------------------------------------------------------- the one mechanism


def set_status(dossier: Dossier, new: int, actor: Actor, reason: str = "") -> None:
    old = dossier.status
    now = utcnow()
    if new in (2, 4) and dossier.received_at is None:
        dossier.received_at = now
        dossier.due_at = due_date(now, time_limit(dossier.procedure.meta, dossier.channel))
    if new in FINAL_STATUSES | {9} and dossier.finished_at is None:
        dossier.finished_at = now
    if new == old:
        return
    detail: dict[str, Any] = {}
    if new == SUPPLEMENT and dossier.clock_paused_at is None:
        dossier.clock_paused_at = now  # the clock stops while the applicant supplies the papers
    elif old == SUPPLEMENT and dossier.clock_paused_at is not None:
        paused = working_hours_between(dossier.clock_paused_at, now)
        if dossier.due_at is not None and paused > 0:
            detail = {"paused_working_hours": round(paused, 4), "due_before": dossier.due_at.isoformat()}
            dossier.due_at = shift_by_working_hours(dossier.due_at, paused)
        dossier.clock_paused_at = None
    dossier.status = new
    audit(dossier, actor, "status", from_status=old, to_status=new, note=reason, detail=detail)
    events.status_changed.send(dossier, old=old, new=new, actor=actor, reason=reason)


def record_step(dossier: Dossier, **fields: Any) -> DossierStep:
    """A progress step (milestone or hand-over) on the dossier; listeners sync it to the portal."""
    step = DossierStep(dossier_id=dossier.id, unit_id=fields.pop("unit_id", dossier.unit_id), **fields)
    db.session.add(step)
    events.step_recorded.send(dossier, step=step)
    return step


def advance(dossier: Dossier, instance: engine.Instance, actor: Actor,
            state: WorkflowState | None = None) -> None:
    """Apply what the engine did: statuses, milestones, open tasks, stored state and data.

    Nothing is flushed here: the caller flushes once, so on SQLite the write lock is taken at the very end.
    """
    with db.session.no_autoflush:
        _advance(dossier, instance, actor, state)


def _advance(dossier: Dossier, instance: engine.Instance, actor: Actor, state: WorkflowState | None) -> None:
    for r in instance.reached:
        raw = r.properties.get("dossierStatus")
        status = int(raw) if raw and raw.isdigit() and 1 <= int(raw) <= 10 else None
        if status is not None:
            set_status(dossier, status, actor, r.name)
        if r.kind in MILESTONE_KINDS and r.name:
            record_step(dossier, name=r.name, actor_label="Hệ thống", finished_at=utcnow(),
                        status_after=dossier.status)
    instance.reached.clear()
    _sync_tasks(dossier, instance)
    dossier.data = instance.data
    blob = instance.dump()
    if state is None:
        state = db.session.get(WorkflowState, dossier.id)
    if state is None:
        db.session.add(WorkflowState(dossier_id=dossier.id, state=blob, completed=instance.is_completed))
    else:
        state.state = blob
        state.completed = instance.is_completed
    dossier.updated_at = utcnow()
    sync_timers(dossier, instance)


def _sync_tasks(dossier: Dossier, instance: engine.Instance) -> None:
    ready = {t.id: t for t in instance.human_tasks()}
    for row in db.session.scalars(select(Task).where(Task.dossier_id == dossier.id, Task.state == OPEN)):
        if row.state != OPEN:
            continue  # completed in this unit of work, not flushed yet
        if row.engine_task_id in ready:
            ready.pop(row.engine_task_id)
        else:
            row.state = CANCELLED  # e.g. an interrupting boundary event took another path
    now = utcnow()
    for t in ready.values():
        role = role_for_lane(t.lane)
        if role is None:
            raise engine.EngineError(f"Làn '{t.lane}' của bước '{t.name}' không ứng với vai trò nào.", t.bpmn_id)
        unit_id = dossier.unit_id
        if t.properties.get("unit"):
            unit = db.session.scalar(select(Unit).where(Unit.code == t.properties["unit"]))
            unit_id = unit.id if unit else unit_id
        due = None
        raw_due = t.properties.get("dueInWorkingDays")
        if raw_due:
            try:
                due = add_working_hours(now, float(raw_due) * 8)
            except (ValueError, OverflowError):  # the linter refuses such values; old versions may have them
                due = None
        db.session.add(Task(dossier_id=dossier.id, engine_task_id=t.id, bpmn_id=t.bpmn_id, name=t.name,
                            lane=t.lane, role_id=role.id, unit_id=unit_id, form=t.form, ui_form=t.ui_form,
                            state=OPEN, created_at=now, due_at=due,
                            documentation=(t.documentation or None) and t.documentation[:2000]))


def load_instance(dossier: Dossier) -> tuple[engine.Instance, WorkflowState]:
    state = db.session.get(WorkflowState, dossier.id)
    if state is None:
        raise AppError("Hồ sơ không có trạng thái quy trình.", "The dossier has no workflow state.", status=500)
    return engine.load(model_of(dossier.version), state.state, _services(dossier)), state


def _services(dossier: Dossier) -> engine.ServiceHandler:
    from app.outbox.handlers import service_handler

    return service_handler(dossier)


# --------------------------------------------------------------------------- submission


def submit(procedure_code: str, channel: str, applicant: dict[str, Any], data: dict[str, Any],
           actor: Actor = APPLICANT, lang: str = "vi") -> tuple[Dossier, str]:
    """A new dossier: validated against the start form, code assigned, workflow started. Returns (dossier, secret)."""
    procedure = get_procedure(procedure_code)
    version = procedure.current_version
    assert version is not None
    errors: dict[str, list[str]] = {}
    if channel not in CHANNELS:
        errors["channel"] = ["Kênh nộp phải là online, counter hoặc postal." if lang != "en"
                             else "channel must be online, counter or postal."]
    if not isinstance(applicant, dict):
        applicant = {}
    for k, v in validate_data(APPLICANT_SCHEMA, applicant, lang=lang).items():
        errors[f"applicant.{k}" if k else "applicant"] = v
    if not isinstance(data, dict):
        errors["data"] = ["Dữ liệu biểu mẫu phải là một đối tượng JSON."]
        data = {}
    start_form = version.spec.outline.get("start_form")
    schema = version.form(start_form) or {"type": "object", "properties": {}}
    for k, v in validate_data(schema, data, lang=lang).items():
        errors[f"data.{k}" if k else "data"] = v
    if not (applicant.get("phone") or applicant.get("email")) and "applicant.phone" not in errors:
        errors["applicant.phone"] = ["Vui lòng nhập số điện thoại hoặc thư điện tử để nhận thông báo."
                                     if lang != "en" else "Give a phone number or an e-mail address."]
    if errors:
        raise _validation_error(errors)

    now = utcnow()
    secret = "".join(secrets.choice(SECRET_ALPHABET) for _ in range(SECRET_LENGTH))
    code = next_code(procedure.unit, now)
    dossier = Dossier(
        code=code, procedure=procedure, version_id=version.id, unit_id=procedure.unit_id, channel=channel,
        status=1, applicant_name=applicant["name"].strip(), applicant_name_folded=fold(applicant["name"]),
        applicant_id_number=applicant.get("id_number"), applicant_phone=applicant.get("phone"),
        applicant_email=applicant.get("email"), applicant_address=applicant.get("address"),
        data={}, tracking_secret_hash=_secret_digest(code, secret), submitted_at=now, created_at=now,
        due_at=due_date(now, time_limit(procedure.meta, channel)),
    )
    db.session.add(dossier)
    db.session.flush()
    dossier.version = version
    try:
        process_data = store_files(dossier, version, start_form, data, actor)
    except ValidationFailed as exc:  # the API names submission fields data.<name>
        exc.details = {f"data.{k}": v for k, v in (exc.details or {}).items()}
        raise
    audit(dossier, actor, "submit", to_status=1, detail={"channel": channel, "version": version.number})
    record_step(dossier, name="Nộp hồ sơ", role_code="applicant", actor_label=actor.display, finished_at=now,
                status_after=1)
    try:
        instance = engine.start(model_of(version), process_data, _services(dossier))
    except engine.EngineError as exc:
        raise AppError(f"Quy trình của thủ tục gặp lỗi: {exc.message}", status=500, code="engine_error") from None
    advance(dossier, instance, actor)
    db.session.flush()
    return dossier, secret


def get_dossier(code: str) -> Dossier:
    dossier = db.session.scalar(select(Dossier).where(Dossier.code == code))
    if dossier is None:
        raise NotFound(f"Không tìm thấy hồ sơ '{code}'.", f"No dossier '{code}'.")
    return dossier


def can_view(user: User, dossier: Dossier) -> bool:
    """Officials see the dossiers of their units (and of tasks routed to their units)."""
    units = user.unit_ids
    if dossier.unit_id in units:
        return True
    return db.session.scalar(
        select(Task.id).where(Task.dossier_id == dossier.id, Task.unit_id.in_(units)).limit(1)
    ) is not None


def get_viewable(code: str, user: User) -> Dossier:
    """The dossier with this code, if the official may see it: 404 when unknown, 403 when not theirs."""
    dossier = get_dossier(code)
    if not can_view(user, dossier):
        raise Forbidden("Hồ sơ không thuộc đơn vị của bạn.", "This dossier is not in your units.")
    return dossier


def history(dossier: Dossier) -> list[AuditLog]:
    return list(db.session.scalars(select(AuditLog).where(AuditLog.dossier_id == dossier.id)
                                   .order_by(AuditLog.at, AuditLog.id)))


def steps(dossier: Dossier) -> list[DossierStep]:
    return list(db.session.scalars(select(DossierStep).where(DossierStep.dossier_id == dossier.id)
                                   .order_by(DossierStep.finished_at, DossierStep.id)))


def attachments(dossier: Dossier) -> list[Attachment]:
    return list(db.session.scalars(select(Attachment).where(Attachment.dossier_id == dossier.id)
                                   .order_by(Attachment.id)))


def get_dossier_by_id(dossier_id: int) -> Dossier:
    dossier = db.session.get(Dossier, dossier_id)
    if dossier is None:
        raise NotFound("Không tìm thấy hồ sơ.", "No such dossier.")
    return dossier
