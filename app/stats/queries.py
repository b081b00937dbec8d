"""Reading the counters: usage per procedure and period, with the online-usage ratio from the dossiers."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, or_, select

from app.common.timefmt import VN_TZ
from app.extensions import db
from app.stats.models import START, SUBMIT, VIEW, UsageCounter

CHANNELS = ("online", "counter", "postal")


def day_start_utc(day: date) -> datetime:
    """00:00 of a Vietnam day, in UTC (how times are stored)."""
    return datetime.combine(day, time(0, 0), VN_TZ).astimezone(UTC)


def usage(procedure_id: int | None = None, unit_id: int | None = None, since: date | None = None,
          until: date | None = None) -> list[dict[str, Any]]:
    """Per procedure, for the Vietnam days since..until (both included, open when None):

    ``views``, ``starts``, ``submits`` (online dossiers counted at their creation), ``abandons`` (starts −
    submits, never below 0), ``submits_by_channel``; and from the ``dossiers`` table (submitted in the same
    period) ``dossiers`` by channel and ``online_ratio`` = online ÷ (online + counter), None when both are 0
    (DOMAIN.md). Procedures listed: the active ones and every one with activity in the period, by code.
    """
    from app.catalog.models import Procedure
    from app.dossiers.models import Dossier

    counters = select(UsageCounter.procedure_id, UsageCounter.event, UsageCounter.channel,
                      func.sum(UsageCounter.count))
    dossiers = select(Dossier.procedure_id, Dossier.channel, func.count())
    if since is not None:
        counters = counters.where(UsageCounter.day >= since)
        dossiers = dossiers.where(Dossier.submitted_at >= day_start_utc(since))
    if until is not None:
        counters = counters.where(UsageCounter.day <= until)
        dossiers = dossiers.where(Dossier.submitted_at < day_start_utc(until + timedelta(days=1)))
    procedures = select(Procedure.id, Procedure.code, Procedure.name, Procedure.unit_id)
    if procedure_id is not None:
        counters = counters.where(UsageCounter.procedure_id == procedure_id)
        dossiers = dossiers.where(Dossier.procedure_id == procedure_id)
        procedures = procedures.where(Procedure.id == procedure_id)
    if unit_id is not None:
        in_unit = select(Procedure.id).where(Procedure.unit_id == unit_id)
        counters = counters.where(UsageCounter.procedure_id.in_(in_unit))
        dossiers = dossiers.where(Dossier.procedure_id.in_(in_unit))
        procedures = procedures.where(Procedure.unit_id == unit_id)

    events: dict[int, dict[tuple[str, str], int]] = {}
    for pid, event_name, channel, n in db.session.execute(
            counters.group_by(UsageCounter.procedure_id, UsageCounter.event, UsageCounter.channel)):
        events.setdefault(pid, {})[(event_name, channel)] = int(n or 0)
    by_channel: dict[int, dict[str, int]] = {}
    for pid, channel, n in db.session.execute(dossiers.group_by(Dossier.procedure_id, Dossier.channel)):
        by_channel.setdefault(pid, {})[channel] = int(n)
    active = set(events) | set(by_channel)
    if procedure_id is None:
        procedures = procedures.where(or_(Procedure.active.is_(True), Procedure.id.in_(active or {-1})))

    out = []
    for pid, code, name, unit in db.session.execute(procedures.order_by(Procedure.code)):
        ev = events.get(pid, {})
        views = sum(n for (e, _c), n in ev.items() if e == VIEW)
        starts = sum(n for (e, _c), n in ev.items() if e == START)
        submits_by_channel = {c: ev.get((SUBMIT, c), 0) for c in CHANNELS}
        submits = submits_by_channel["online"]
        counts = {c: by_channel.get(pid, {}).get(c, 0) for c in CHANNELS}
        base = counts["online"] + counts["counter"]
        out.append({"procedure_id": pid, "code": code, "name": name, "unit_id": unit,
                    "views": views, "starts": starts, "submits": submits, "abandons": max(starts - submits, 0),
                    "submits_by_channel": submits_by_channel, "dossiers": counts,
                    "online_ratio": counts["online"] / base if base else None})
    return out
