"""Task verbs for officials and applicants: list, claim, release, complete."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, case, false, func, literal, or_, select, tuple_
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from app import engine
from app.auth.models import Role, RoleGrant, User
from app.catalog.models import Procedure
from app.common.errors import AppError, Conflict, Forbidden, NotFound, ValidationFailed
from app.common.text import fold
from app.common.timefmt import VN_TZ
from app.common.types import UTCDateTime, utcnow
from app.dossiers.models import Dossier
from app.dossiers.services import (
    APPLICANT,
    Actor,
    advance,
    audit,
    load_instance,
    record_step,
    store_files,
    validate_form,
)
from app.extensions import db
from app.inbox.models import DONE, OPEN, Delegation, Task
from app.worktime import is_working_day, next_working_day

MAX_LIMIT = 500
#: the standard paper the desk hands over when a completion takes the dossier to a status (DOMAIN.md, receipt)
OFFERED_PAPERS = {2: "01", 5: "02", 3: "03"}
SCOPES = ("mine", "queue", "unassigned", "available")
DUE_STATES = ("overdue", "soon", "on_time")


def _queue_filter(user: User, *, led: bool = False):
    """Open tasks of the roles the user holds, in the units where the user holds them;
    with `led`, also every task of the units the user leads (leaders assign them)."""
    grants = [and_(Task.unit_id == g.unit_id, Task.role_id == g.role_id) for g in user.grants]
    if led:
        grants += [Task.unit_id == g.unit_id for g in user.grants if g.role.code == "leader"]
    return or_(*grants) if grants else false()


def today_vn() -> date:
    return datetime.now(VN_TZ).date()


def active_delegations_to(user: User, day: date | None = None) -> list[Delegation]:
    """Delegations in force today in which `user` is the delegate."""
    day = day or today_vn()
    return list(db.session.scalars(select(Delegation).where(
        Delegation.delegate_id == user.id, Delegation.cancelled_at.is_(None),
        Delegation.starts_on <= day, Delegation.ends_on >= day)))


def _mine_filter(user: User, delegations: list[Delegation]):
    """Assigned to the user, or to someone whose delegate the user is today (for that role and unit)."""
    conds = [Task.assignee_id == user.id]
    conds += [and_(Task.assignee_id == d.user_id, Task.role_id == d.role_id, Task.unit_id == d.unit_id)
              for d in delegations]
    return or_(*conds)


def _scope_filter(user: User, scope: str, delegations: list[Delegation]):
    if scope == "mine":
        return _mine_filter(user, delegations)
    if scope == "queue":
        return _queue_filter(user, led=True)
    if scope == "unassigned":
        return and_(_queue_filter(user, led=True), Task.assignee_id.is_(None))
    if scope == "available":
        return and_(_queue_filter(user), or_(Task.assignee_id.is_(None), Task.assignee_id == user.id))
    raise AppError("scope phải là mine, queue, unassigned hoặc available.",
                   "scope must be mine, queue, unassigned or available.")


@dataclass
class Filters:
    """What an inbox page is narrowed to; every field optional."""

    procedure: str | None = None  # procedure code
    status: int | None = None  # national dossier status 1–10
    channel: str | None = None  # counter | online | postal
    due: str | None = None  # overdue | soon | on_time
    soon_days: int = 2  # "soon" = due within this many working days
    received_from: date | None = None  # dossier submitted on or after (Vietnam date)
    received_to: date | None = None  # … on or before
    q: str | None = None  # dossier code or applicant name, diacritics ignored, matched anywhere

    @property
    def active(self) -> bool:
        return any([self.procedure, self.status, self.channel, self.due, self.received_from,
                    self.received_to, self.q])


def soon_threshold(now: datetime, days: int) -> datetime:
    """The end of the `days`-th working day from today (today counts when it is a working day)."""
    day = now.astimezone(VN_TZ).date()
    if not is_working_day(day):
        day = next_working_day(day)
    for _ in range(max(days, 1) - 1):
        day = next_working_day(day)
    return datetime.combine(day + timedelta(days=1), time(0, 0), VN_TZ).astimezone(UTC)


def due_state(task: Task, now: datetime | None = None, soon_days: int = 2) -> str:
    """overdue / soon / on_time for a task, as the list shows it."""
    if task.due_at is None:
        return "on_time"
    now = now or utcnow()
    if task.due_at < now:
        return "overdue"
    if task.due_at < soon_threshold(now, soon_days):
        return "soon"
    return "on_time"


def _vn_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), VN_TZ).astimezone(UTC)


def _like_escape(text_: str) -> str:
    return text_.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_condition(q: str) -> Any:
    """A dossier code or applicant name matched anywhere, diacritics and case ignored: every word of the
    query starts a word of the folded name, in any position and order ("van an" and "an nguyen" find
    "Nguyễn Văn An", "ngu" too, but "an" does not find "Đặng"), or the query appears anywhere in the code.
    PostgreSQL serves these `LIKE` patterns from GIN trigram indexes (pg_trgm, migration 0010); SQLite scans."""
    name_col = Dossier.applicant_name_folded
    words = [_like_escape(w) for w in fold(q).split()]
    name = and_(*(or_(name_col.like(f"{w}%", escape="\\"), name_col.like(f"% {w}%", escape="\\"))
                  for w in words)) if words else false()
    code = Dossier.code.like(f"%{_like_escape(q.strip().upper())}%", escape="\\")
    return or_(name, code)


def _filter_conditions(f: Filters, now: datetime) -> tuple[list[Any], bool]:
    """SQL conditions for the filters and whether they need the dossiers table."""
    task_conds: list[Any] = []
    dossier_conds: list[Any] = []
    if f.due == "overdue":
        task_conds.append(Task.due_at < now)
    elif f.due == "soon":
        task_conds += [Task.due_at >= now, Task.due_at < soon_threshold(now, f.soon_days)]
    elif f.due == "on_time":
        task_conds.append(or_(Task.due_at.is_(None), Task.due_at >= soon_threshold(now, f.soon_days)))
    if f.procedure:
        pid = db.session.scalar(select(Procedure.id).where(Procedure.code == f.procedure))
        dossier_conds.append(Dossier.procedure_id == (pid if pid is not None else -1))
    if f.status is not None:
        dossier_conds.append(Dossier.status == f.status)
    if f.channel:
        dossier_conds.append(Dossier.channel == f.channel)
    if f.received_from:
        dossier_conds.append(Dossier.submitted_at >= _vn_midnight(f.received_from))
    if f.received_to:
        dossier_conds.append(Dossier.submitted_at < _vn_midnight(f.received_to + timedelta(days=1)))
    q = (f.q or "").strip()
    if q:
        dossier_conds.append(search_condition(q))
    if dossier_conds:
        task_conds.append(Task.dossier_id.in_(select(Dossier.id).where(*dossier_conds)))
    return task_conds, bool(dossier_conds)


def encode_cursor(task: Task) -> str:
    """The keyset (due_at, id) of the last row of a page, opaque to clients: `<epoch µs or n>.<id>`."""
    due = "n" if task.due_at is None else str(int(task.due_at.timestamp() * 1_000_000))
    return f"{due}.{task.id}"


def decode_cursor(cursor: str | int | None) -> tuple[datetime | None, int] | None:
    if cursor is None or cursor == "":
        return None
    try:
        due_raw, id_raw = str(cursor).split(".", 1)
        due = None if due_raw == "n" else datetime.fromtimestamp(int(due_raw) / 1_000_000, UTC)
        return due, int(id_raw)
    except (ValueError, OverflowError):
        raise ValidationFailed("cursor không hợp lệ.", "Invalid cursor.") from None


def list_tasks(user: User, scope: str = "available", *, limit: int = 50, cursor: str | int | None = None,
               filters: Filters | None = None, now: datetime | None = None) -> list[Task]:
    """Open tasks of a tab, by due date (no due date last), then id; keyset pagination on (due_at, id).

    `mine`: assigned to the user (or to a colleague the user stands in for today); `queue`: of the roles
    the user holds, in the units where the user holds them (leaders: every task of their units);
    `unassigned`: the queue's unclaimed tasks;
    `available`: unclaimed or the user's own (the API's original default)."""
    limit = max(1, min(limit, MAX_LIMIT))
    now = now or utcnow()
    delegations = active_delegations_to(user) if scope == "mine" else []
    q = select(Task).where(Task.state == OPEN, _scope_filter(user, scope, delegations))
    conds, _ = _filter_conditions(filters or Filters(), now)
    q = q.where(*conds)
    key = decode_cursor(cursor)
    if key is not None:
        due, last_id = key
        if due is None:
            q = q.where(Task.due_at.is_(None), Task.id > last_id)
        else:
            q = q.where(or_(tuple_(Task.due_at, Task.id) > tuple_(literal(due, UTCDateTime()), literal(last_id)),
                            Task.due_at.is_(None)))
    q = q.options(selectinload(Task.dossier).selectinload(Dossier.procedure), selectinload(Task.role),
                  selectinload(Task.unit), selectinload(Task.assignee))
    return list(db.session.scalars(q.order_by(Task.due_at.asc().nulls_last(), Task.id).limit(limit)))


def next_cursor(rows: list[Task], limit: int) -> str | None:
    return encode_cursor(rows[-1]) if rows and len(rows) == limit else None


def count_tasks(user: User, filters: Filters | None = None, now: datetime | None = None) -> dict[str, int]:
    """Tasks per tab under the same filters, in one aggregate query."""
    now = now or utcnow()
    delegations = active_delegations_to(user)
    mine, queue = _mine_filter(user, delegations), _queue_filter(user, led=True)
    conds, _ = _filter_conditions(filters or Filters(), now)

    def n(cond: Any) -> Any:
        return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)

    row = db.session.execute(select(n(mine), n(queue), n(and_(queue, Task.assignee_id.is_(None))))
                             .where(Task.state == OPEN, or_(mine, queue), *conds)).one()
    return {"mine": int(row[0]), "queue": int(row[1]), "unassigned": int(row[2])}


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
    if task.assignee_id is not None and task.assignee_id != user.id and stands_in_for(user, task) is None:
        raise Conflict("Công việc đang do cán bộ khác xử lý.", "Another official holds this task.")


def stands_in_for(user: User, task: Task) -> Delegation | None:
    """The delegation in force today by which `user` may work `task`, assigned to a colleague on leave."""
    if task.assignee_id is None or task.assignee_id == user.id:
        return None
    for d in active_delegations_to(user):
        if d.user_id == task.assignee_id and d.role_id == task.role_id and d.unit_id == task.unit_id:
            return d
    return None


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
    on_behalf = None
    if actor.user is not None:
        _check_official(actor.user, task)
        on_behalf = stands_in_for(actor.user, task)
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
    reached = [int(v) for r in instance.reached if (v := str(r.properties.get("dossierStatus") or "")).isdigit()]
    task.offered_paper = offered_paper(reached)
    task.state = DONE
    task.completed_at = now
    task.data = data
    if actor.user is not None:
        task.completed_by_id = actor.user.id
        if task.assignee_id is None:
            task.assignee_id = actor.user.id
            task.claimed_at = now
    advance(locked, instance, actor, state)
    record_step(locked, name=task.name, role_code=task.role.code, unit_id=task.unit_id,
                actor_id=actor.user.id if actor.user else None, actor_label=actor.display,
                started_at=task.created_at, finished_at=now, due_at=task.due_at, status_after=locked.status)
    audit(locked, actor, "complete_task", from_status=before, to_status=locked.status,
          detail={"task": task.bpmn_id, "task_id": task.id, "name": task.name})
    if on_behalf is not None:
        audit(locked, actor, "complete_on_behalf",
              detail={"task_id": task.id, "on_behalf_of": on_behalf.user.username, "delegation_id": on_behalf.id})
    _flush_or_conflict()
    return task


def offered_paper(statuses: list[int]) -> str | None:
    """The paper to offer after a completion that went through these statuses (in order): the last of
    received (01), supplement requested (02) or refused (03); None when none of them was reached."""
    for status in reversed(statuses):
        if status in OFFERED_PAPERS:
            return OFFERED_PAPERS[status]
    return None


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


# --------------------------------------------------------------------------- assign and delegate


def is_leader(user: User, unit_id: int) -> bool:
    return user.has_role("leader", unit_id)


def role_holders(role_id: int, unit_id: int) -> list[User]:
    """Active users holding a role in a unit, by username."""
    return list(db.session.scalars(
        select(User).join(RoleGrant, RoleGrant.user_id == User.id)
        .where(RoleGrant.role_id == role_id, RoleGrant.unit_id == unit_id, User.active.is_(True))
        .order_by(User.username)))


def assign(task_id: int, leader: User, assignee: User | str) -> Task:
    """A leader of the task's unit hands the task to a user holding its role in that unit."""
    task = get_task(task_id, lock=True)
    if not is_leader(leader, task.unit_id):
        raise Forbidden("Chỉ lãnh đạo đơn vị mới được giao việc.", "Only the unit's leaders may assign tasks.")
    if task.state != OPEN:
        raise Conflict("Công việc đã được xử lý hoặc không còn hiệu lực.", "The task is already done.")
    if isinstance(assignee, str):
        target = db.session.scalar(select(User).where(User.username == assignee))
    else:
        target = assignee
    if target is None or not target.active or not any(
            g.role_id == task.role_id and g.unit_id == task.unit_id for g in target.grants):
        raise ValidationFailed("Người được giao phải giữ vai trò của công việc tại đơn vị này.",
                               "The assignee must hold the task's role in its unit.",
                               details={"assignee": ["Người được giao phải giữ vai trò của công việc tại đơn vị này."]})
    before = task.assignee.username if task.assignee else None
    if task.assignee_id != target.id:
        task.assignee = target
        task.claimed_at = utcnow()
        audit(task.dossier, Actor(leader), "assign",
              detail={"task": task.bpmn_id, "task_id": task.id, "from": before, "to": target.username})
    _flush_or_conflict()
    return task


def delegations_of(user: User) -> list[Delegation]:
    """Delegations the user set up or received, newest first."""
    return list(db.session.scalars(select(Delegation).where(
        or_(Delegation.user_id == user.id, Delegation.delegate_id == user.id))
        .order_by(Delegation.starts_on.desc(), Delegation.id.desc())))


def delegate_candidates(user: User) -> list[tuple[RoleGrant, list[User]]]:
    """For each of the user's grants, the colleagues holding the same role in the same unit."""
    return [(g, [u for u in role_holders(g.role_id, g.unit_id) if u.id != user.id]) for g in user.grants]


def create_delegation(user: User, delegate: User | str, role_id: int, unit_id: int, starts_on: date,
                      ends_on: date, note: str = "") -> Delegation:
    if isinstance(delegate, str):
        target = db.session.scalar(select(User).where(User.username == delegate))
    else:
        target = delegate
    errors: dict[str, list[str]] = {}
    if not any(g.role_id == role_id and g.unit_id == unit_id for g in user.grants):
        errors["grant"] = ["Bạn không giữ vai trò này tại đơn vị này."]
    if target is None or target.id == user.id or not target.active or not any(
            g.role_id == role_id and g.unit_id == unit_id for g in target.grants):
        errors["delegate"] = ["Người được ủy quyền phải giữ cùng vai trò tại cùng đơn vị."]
    if ends_on < starts_on:
        errors["ends_on"] = ["Ngày kết thúc phải sau ngày bắt đầu."]
    if errors:
        raise ValidationFailed("Ủy quyền chưa hợp lệ.", "The delegation is not valid.", details=errors)
    assert target is not None
    d = Delegation(user_id=user.id, delegate_id=target.id, role_id=role_id, unit_id=unit_id,
                   starts_on=starts_on, ends_on=ends_on, note=note[:500], created_at=utcnow())
    db.session.add(d)
    db.session.flush()
    return d


def cancel_delegation(delegation_id: int, user: User) -> Delegation:
    d = db.session.get(Delegation, delegation_id)
    if d is None or d.user_id != user.id:
        raise NotFound("Không tìm thấy ủy quyền.", "No such delegation.")
    if d.cancelled_at is None:
        d.cancelled_at = utcnow()
        d.cancelled_by_id = user.id
    db.session.flush()
    return d
