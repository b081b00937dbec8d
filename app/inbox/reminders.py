"""Remind the handler of a task before its due time passes (issue 4, "late dossiers").

``send_due_reminders(now=None) -> int``: every open task whose ``due_at`` falls within
``REMINDER_WORKING_HOURS`` working hours (config, default 8 = one working day) and that was not reminded yet
gets ``reminded_at`` set and ``events.task_due_soon.send(task, hours_left=...)``; ``hours_left`` is the
working time left (negative when the task is already overdue and was never reminded, e.g. the scheduler
was down). Each task is claimed by a conditional UPDATE (``reminded_at IS NULL``), so a second call, or a
second scheduler by mistake, sends nothing twice. The scheduler calls it and commits (services flush).
"""

from __future__ import annotations

from datetime import datetime

from flask import current_app
from sqlalchemy import select, update

from app.common.types import utcnow
from app.dossiers import events
from app.extensions import db
from app.inbox.models import OPEN, Task
from app.worktime import add_working_hours, working_hours_between

DEFAULT_REMINDER_WORKING_HOURS = 8.0
BATCH = 500


def reminder_window() -> float:
    return float(current_app.config.get("REMINDER_WORKING_HOURS", DEFAULT_REMINDER_WORKING_HOURS))


def hours_left(due: datetime, now: datetime) -> float:
    """Working hours from now to the due time; negative (working hours past it) when overdue."""
    if due >= now:
        return round(working_hours_between(now, due), 2)
    return -round(working_hours_between(due, now), 2)


def send_due_reminders(now: datetime | None = None) -> int:
    """Remind every open task falling due within the window, once; returns how many were reminded."""
    now = now or utcnow()
    horizon = add_working_hours(now, reminder_window())
    sent = 0
    last_id = 0
    while True:
        rows = list(db.session.scalars(
            select(Task).where(Task.state == OPEN, Task.reminded_at.is_(None), Task.due_at.is_not(None),
                               Task.due_at <= horizon, Task.id > last_id)
            .order_by(Task.id).limit(BATCH)))
        if not rows:
            return sent
        for task in rows:
            last_id = task.id
            claimed = db.session.execute(
                update(Task).where(Task.id == task.id, Task.reminded_at.is_(None), Task.state == OPEN)
                .values(reminded_at=now).execution_options(synchronize_session=False))
            if claimed.rowcount != 1:
                continue  # reminded (or done) meanwhile by someone else
            db.session.expire(task, ["reminded_at"])
            assert task.due_at is not None
            events.task_due_soon.send(task, hours_left=hours_left(task.due_at, now))
            sent += 1
