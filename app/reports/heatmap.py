"""Where dossiers wait: time spent per BPMN task (the `tasks` rows) of a procedure's current version.

For each task element (`bpmn_id`) of the version: how many were completed, their average and median time from
ready (`created_at`) to completion (`completed_at`) in office hours (`app.worktime`, 8 h = 1 working day), how
many are still open and the average wait so far of those, and a level 0–4 (the average against the slowest
task) that colours the element on the diagram. Dossiers of the agencies the reader may see only.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select

from app.catalog.models import Procedure, ProcedureVersion
from app.common.timefmt import VN_TZ
from app.common.types import utcnow
from app.dossiers.models import Dossier
from app.extensions import db
from app.inbox.models import DONE, OPEN, Task
from app.worktime import HOURS_PER_DAY, working_hours_between

LEVELS = 5
#: at most this many tasks are read (the newest first): a bound on the page's cost
MAX_TASKS = 50_000


def _bounds(since: date | None, until: date | None) -> tuple[datetime | None, datetime | None]:
    lo = datetime.combine(since, time(0), VN_TZ).astimezone(UTC) if since else None
    hi = datetime.combine(until + timedelta(days=1), time(0), VN_TZ).astimezone(UTC) if until else None
    return lo, hi


def task_times(procedure: Procedure, unit_ids: set[int] | None = None, since: date | None = None,
               until: date | None = None, now: datetime | None = None) -> list[dict[str, Any]]:
    """One dict per task element of the current version that has tasks, slowest average first."""
    now = now or utcnow()
    if procedure.current_version_id is None:
        return []
    query = (select(Task.bpmn_id, Task.name, Task.state, Task.created_at, Task.completed_at)
             .join(Dossier, Dossier.id == Task.dossier_id)
             .where(Dossier.version_id == procedure.current_version_id, Task.state.in_([OPEN, DONE]))
             .order_by(Task.created_at.desc()).limit(MAX_TASKS))
    if unit_ids is not None:
        query = query.where(Dossier.unit_id.in_(sorted(unit_ids) or [-1]))
    lo, hi = _bounds(since, until)
    if lo is not None:
        query = query.where(Task.created_at >= lo)
    if hi is not None:
        query = query.where(Task.created_at < hi)
    done: dict[str, list[float]] = defaultdict(list)
    waiting: dict[str, list[float]] = defaultdict(list)
    names: dict[str, str] = {}
    for bpmn_id, name, state, created, completed in db.session.execute(query):
        names.setdefault(bpmn_id, name)
        if state == DONE and completed is not None:
            done[bpmn_id].append(working_hours_between(created, completed))
        elif state == OPEN:
            waiting[bpmn_id].append(working_hours_between(created, now))
    out = []
    for bpmn_id in names:
        hours = done.get(bpmn_id, [])
        wait = waiting.get(bpmn_id, [])
        out.append({
            "id": bpmn_id, "name": names[bpmn_id], "done": len(hours), "open": len(wait),
            "avg_hours": round(statistics.fmean(hours), 2) if hours else None,
            "median_hours": round(statistics.median(hours), 2) if hours else None,
            "open_avg_hours": round(statistics.fmean(wait), 2) if wait else None,
        })
    slowest = max((t["avg_hours"] or t["open_avg_hours"] or 0 for t in out), default=0)
    for t in out:
        value = t["avg_hours"] if t["avg_hours"] is not None else (t["open_avg_hours"] or 0)
        t["level"] = min(LEVELS - 1, int(value / slowest * LEVELS)) if slowest else 0
        t["avg_days"] = round(t["avg_hours"] / HOURS_PER_DAY, 2) if t["avg_hours"] is not None else None
        t["median_days"] = round(t["median_hours"] / HOURS_PER_DAY, 2) if t["median_hours"] is not None else None
    out.sort(key=lambda t: -(t["avg_hours"] or t["open_avg_hours"] or 0))
    return out


def version_xml(procedure: Procedure) -> str:
    if procedure.current_version_id is None:
        return ""
    version = db.session.get(ProcedureVersion, procedure.current_version_id)
    return version.bpmn_xml if version is not None else ""
