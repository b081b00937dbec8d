"""Task verbs for officials and applicants: list, claim, release, complete."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, false, or_, select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from app import engine
from app.auth.models import Role, User
from app.common.errors import AppError, Conflict, Forbidden, NotFound
from app.common.types import utcnow
from app.dossiers.models import Dossier, DossierStep
from app.dossiers.services import (
    APPLICANT,
    Actor,
    advance,
    audit,
    load_instance,
    store_files,
    validate_form,
)
from app.extensions import db
from app.inbox.models import DONE, OPEN, Task

MAX_LIMIT = 500


def _queue_filter(user: User):
    """Open tasks of the roles the user holds, in the units where the user holds them."""
    grants = [and_(Task.unit_id == g.unit_id, Task.role_id == g.role_id) for g in user.grants]
    return or_(*grants) if grants else false()


def list_tasks(user: User, scope: str = "available", *, limit: int = 50, cursor: int | None = None) -> list[Task]:
    """`available`: open tasks the user may work now (unclaimed, or claimed by the user);
    `mine`: open tasks claimed by or assigned to the user. Keyset pagination on id."""
    limit = max(1, min(limit, MAX_LIMIT))
    q = select(Task).where(Task.state == OPEN)
    if scope == "mine":
        q = q.where(Task.assignee_id == user.id)
    elif scope == "available":
        q = q.where(_queue_filter(user), or_(Task.assignee_id.is_(None), Task.assignee_id == user.id))
    else:
        raise AppError("scope phải là mine hoặc available.", "scope must be mine or available.")
    if cursor is not None:
        q = q.where(Task.id > cursor)
    q = q.options(selectinload(Task.dossier).selectinload(Dossier.procedure), selectinload(Task.role),
                  selectinload(Task.unit), selectinload(Task.assignee))
    return list(db.session.scalars(q.order_by(Task.id).limit(limit)))


def get_task(task_id: int, *, lock: bool = False) -> Task:
    q = select(Task).where(Task.id == task_id)
    if lock:
        q = q.with_for_update(of=Task).execution_options(populate_existing=True)
    task = db.session.scalar(q)
    if task is None:
        raise NotFound("Không tìm thấy công việc.", "No such task.")
    return task


def may_work(user: User, task: Task) -> bool:
    return any(g.role_id == task.role_id and g.unit_id == task.unit_id for g in user.grants)


def _check_official(user: User, task: Task) -> None:
    if not may_work(user, task):
        raise Forbidden("Bạn không có vai trò xử lý công việc này tại đơn vị này.",
                        "You do not hold this task's role in its unit.")
    if task.state != OPEN:
        raise Conflict("Công việc đã được xử lý hoặc không còn hiệu lực.", "The task is already done.")
    if task.assignee_id is not None and task.assignee_id != user.id:
        raise Conflict("Công việc đang do cán bộ khác xử lý.", "Another official holds this task.")


def _flush_or_conflict() -> None:
    try:
        db.session.flush()
    except StaleDataError:
        raise Conflict("Hồ sơ vừa được người khác cập nhật, vui lòng tải lại.",
                       "Someone else changed this first; reload and try again.") from None


def claim(task_id: int, user: User) -> Task:
    task = get_task(task_id, lock=True)
    _check_official(user, task)
    if task.assignee_id != user.id:
        task.assignee_id = user.id
        task.claimed_at = utcnow()
        audit(task.dossier, Actor(user), "claim", detail={"task": task.bpmn_id, "task_id": task.id})
    _flush_or_conflict()
    return task


def release(task_id: int, user: User) -> Task:
    task = get_task(task_id, lock=True)
    if task.state != OPEN:
        raise Conflict("Công việc đã được xử lý.", "The task is already done.")
    if task.assignee_id != user.id:
        raise Conflict("Bạn không giữ công việc này.", "You do not hold this task.")
    task.assignee_id = None
    task.claimed_at = None
    audit(task.dossier, Actor(user), "release", detail={"task": task.bpmn_id, "task_id": task.id})
    _flush_or_conflict()
    return task


def complete(task_id: int, data: dict[str, Any], actor: Actor, *, lang: str = "vi",
             dossier: Dossier | None = None) -> Task:
    """Complete a task with its form data and run the dossier's workflow on.

    Officials must hold the lane's role in the task's unit; completing an unclaimed task claims it.
    Exactly one of two concurrent completions wins: the dossier row is locked (PostgreSQL) and
    versioned (both backends); the loser gets 409.
    """
    dossier_id = db.session.scalar(select(Task.dossier_id).where(Task.id == task_id))
    if dossier_id is None:
        raise NotFound("Không tìm thấy công việc.", "No such task.")
    locked = db.session.scalar(select(Dossier).where(Dossier.id == dossier_id).with_for_update(of=Dossier)
                               .execution_options(populate_existing=True))
    task = get_task(task_id, lock=True)
    assert locked is not None
    if dossier is not None and dossier.id != locked.id:
        raise NotFound("Không tìm thấy công việc.", "No such task.")
    if actor.user is not None:
        _check_official(actor.user, task)
    else:
        if task.role.code != "applicant":
            raise Forbidden("Công việc này không dành cho người nộp hồ sơ.", "This task is not the applicant's.")
        if task.state != OPEN:
            raise Conflict("Công việc đã được xử lý.", "The task is already done.")
    if not isinstance(data, dict):
        data = {}
    version = locked.version
    validate_form(version, task.form, data, lang)
    data = store_files(locked, version, task.form, data, actor)
    instance, state = load_instance(locked)
    before = locked.status
    try:
        instance.complete(task.engine_task_id, data)
    except engine.TaskNotReady:
        # SQLite has no row locks: another request completed it between our reads
        raise Conflict("Công việc đã được xử lý.", "The task is already done.") from None
    except engine.EngineError as exc:
        raise AppError(f"Không hoàn thành được công việc: {exc.message}", status=500, code="engine_error") from None
    now = utcnow()
    task.state = DONE
    task.completed_at = now
    task.data = data
    if actor.user is not None:
        task.completed_by_id = actor.user.id
        if task.assignee_id is None:
            task.assignee_id = actor.user.id
            task.claimed_at = now
    advance(locked, instance, actor, state)
    db.session.add(DossierStep(dossier_id=locked.id, name=task.name, role_code=task.role.code,
                               unit_id=task.unit_id, actor_id=actor.user.id if actor.user else None,
                               actor_label=actor.display, started_at=task.created_at, finished_at=now,
                               due_at=task.due_at, status_after=locked.status))
    audit(locked, actor, "complete_task", from_status=before, to_status=locked.status,
          detail={"task": task.bpmn_id, "task_id": task.id, "name": task.name})
    _flush_or_conflict()
    return task


def applicant_tasks(dossier: Dossier) -> list[Task]:
    return list(db.session.scalars(
        select(Task).join(Role, Task.role_id == Role.id)
        .where(Task.dossier_id == dossier.id, Task.state == OPEN, Role.code == "applicant").order_by(Task.id)))


def open_tasks(dossier: Dossier) -> list[Task]:
    return list(db.session.scalars(select(Task).where(Task.dossier_id == dossier.id, Task.state == OPEN)
                                   .order_by(Task.id)))


def complete_as_applicant(dossier: Dossier, task_id: int, data: dict[str, Any], lang: str = "vi") -> Task:
    task = db.session.get(Task, task_id)
    if task is None or task.dossier_id != dossier.id:
        raise NotFound("Không tìm thấy công việc.", "No such task.")
    return complete(task_id, data, APPLICANT, lang=lang, dossier=dossier)
