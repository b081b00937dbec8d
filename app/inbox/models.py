"""Open human tasks, materialised as rows so an inbox never deserialises a workflow."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.auth.models import Role, Unit, User
from app.common.types import JsonType, UTCDateTime, utcnow
from app.dossiers.models import Dossier
from app.extensions import db

OPEN, DONE, CANCELLED = "open", "done", "cancelled"


class Task(db.Model):
    __tablename__ = "tasks"
    __table_args__ = (
        # inbox "my roles in my unit": open tasks of a role in a unit, by due date
        Index("ix_tasks_queue", "state", "unit_id", "role_id", "due_at", "id"),
        Index("ix_tasks_assignee", "assignee_id", "state", "due_at"),
        # inbox pages sorted by due date (nulls last) with keyset pagination on (due_at, id)
        Index("ix_tasks_open_due", "due_at", "id", postgresql_where=text("state = 'open'"),
              sqlite_where=text("state = 'open'")),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)
    #: the SpiffWorkflow task UUID
    engine_task_id: Mapped[str] = mapped_column(String(36), unique=True)
    bpmn_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    lane: Mapped[str | None] = mapped_column(String(255))
    role_id: Mapped[int] = mapped_column(ForeignKey("roles.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    form: Mapped[str | None] = mapped_column(String(255))
    ui_form: Mapped[str | None] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(16), default=OPEN)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: when the handler was reminded that the task falls due (once per task; app/inbox/reminders.py)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    data: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    documentation: Mapped[str | None] = mapped_column(String(2000))
    lock_version: Mapped[int] = mapped_column(Integer, default=1)

    dossier: Mapped[Dossier] = relationship()
    role: Mapped[Role] = relationship()
    unit: Mapped[Unit] = relationship()
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])

    __mapper_args__ = {"version_id_col": lock_version}

    #: not stored: set by `inbox.services.complete()` to the paper (01/02/03) the outcome calls for, or None
    offered_paper = None

    @property
    def is_open(self) -> bool:
        return self.state == OPEN


class Delegation(db.Model):
    """While on leave, a user lets a colleague with the same role in the same unit work the tasks
    assigned to the user, from `starts_on` to `ends_on` (inclusive, dates in Vietnam).
    The row is its own audit: who set it up, when, and who cancelled it when."""

    __tablename__ = "task_delegations"
    __table_args__ = (Index("ix_task_delegations_delegate", "delegate_id", "ends_on"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    delegate_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    role_id: Mapped[int] = mapped_column(ForeignKey("roles.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    delegate: Mapped[User] = relationship(foreign_keys=[delegate_id])
    role: Mapped[Role] = relationship()
    unit: Mapped[Unit] = relationship()
