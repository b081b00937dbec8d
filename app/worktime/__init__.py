"""Working time in Vietnam: public holidays, weekends, office hours and the deadlines built on them.

Calendar (`app.worktime.calendar`): the `holidays` package (country VN: statutory holidays, Tết, observed
days, the government's swapped days) under an admin-edited table of overrides (`CalendarOverride`: an extra
day off or an extra working day), which take precedence. Overrides are cached per process (60 s TTL) and
dropped on change; without a Flask application context only the package is used.

Durations are counted in working hours: 8 hours = 1 working day. Office hours come from config
`OFFICE_HOURS` ("07:00-11:30,13:30-17:00" by default, Asia/Ho_Chi_Minh); same-day procedures received after
`SAME_DAY_CUTOFF` (15:00) are due the next working day.

Clock pause (supplement requests): `working_hours_between(paused_at, resumed_at)` measures the office time
the clock stood still, and `shift_by_working_hours(due, hours)` moves the due date by that much::

    paused = working_hours_between(supplement_requested_at, supplement_received_at)
    dossier.due_at = shift_by_working_hours(dossier.due_at, paused)
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from app.common.timefmt import VN_TZ
from app.worktime import calendar
from app.worktime.calendar import DEFAULT_OFFICE_HOURS as OFFICE_HOURS
from app.worktime.calendar import DEFAULT_SAME_DAY_CUTOFF as SAME_DAY_CUTOFF

__all__ = ["HOURS_PER_DAY", "OFFICE_HOURS", "SAME_DAY_CUTOFF", "add_working_hours", "due_date",
           "is_working_day", "next_working_day", "shift_by_working_hours", "working_hours_between"]

HOURS_PER_DAY = 8
_MAX_DAYS = 3660  # ten years of days: a bound, not a limit anyone reaches


def is_working_day(day: date) -> bool:
    """Overrides first (extra day off / extra working day), then the package: weekdays that are not public
    holidays, plus the Saturdays the government swaps in."""
    kind = calendar.overrides(day.year).get(day)
    if kind is not None:
        return kind == calendar.WORKING_DAY
    return bool(calendar.package_holidays(day.year).is_working_day(day))


def next_working_day(day: date) -> date:
    """The first working day strictly after `day`."""
    for _ in range(_MAX_DAYS):
        day += timedelta(days=1)
        if is_working_day(day):
            return day
    raise ValueError("no working day within ten years")


def _intervals(day: date, hours: tuple[tuple[time, time], ...]):
    for start, end in hours:
        yield datetime.combine(day, start, VN_TZ), datetime.combine(day, end, VN_TZ)


def add_working_hours(start: datetime, hours: float) -> datetime:
    """The moment `hours` of office time after `start` (aware), returned in UTC.

    A result that falls exactly at the end of an office interval stays there (11:30, 17:00); `hours` <= 0
    returns `start` unchanged.
    """
    remaining = timedelta(hours=hours)
    if remaining <= timedelta(0):
        return start.astimezone(UTC)
    office = calendar.office_hours()
    local = start.astimezone(VN_TZ)
    day = local.date()
    for _ in range(_MAX_DAYS):
        if is_working_day(day):
            for a, b in _intervals(day, office):
                if local >= b:
                    continue
                begin = max(local, a)
                available = b - begin
                if remaining <= available:
                    return (begin + remaining).astimezone(UTC)
                remaining -= available
        day += timedelta(days=1)
        local = datetime.combine(day, time(0, 0), VN_TZ)
    raise ValueError("duration too long")


def working_hours_between(start: datetime, end: datetime) -> float:
    """Office time, in hours, elapsed between two aware instants (0 when `end` <= `start`).

    Only office hours of working days count: nights, lunch breaks, weekends and days off do not. The inverse
    of `add_working_hours`: ``working_hours_between(s, add_working_hours(s, h)) == h``.
    """
    if end <= start:
        return 0.0
    office = calendar.office_hours()
    a_local, b_local = start.astimezone(VN_TZ), end.astimezone(VN_TZ)
    total = timedelta(0)
    day = a_local.date()
    last = b_local.date()
    if (last - day).days > _MAX_DAYS:
        raise ValueError("interval too long")
    while day <= last:
        if is_working_day(day):
            for a, b in _intervals(day, office):
                lo, hi = max(a, a_local), min(b, b_local)
                if hi > lo:
                    total += hi - lo
        day += timedelta(days=1)
    return total / timedelta(hours=1)


def shift_by_working_hours(due: datetime, hours: float) -> datetime:
    """Move a due date later by `hours` of office time (e.g. the working time a supplement request paused
    the clock, from `working_hours_between`). Returned in UTC; `hours` <= 0 leaves it unchanged."""
    return add_working_hours(due, hours)


def due_date(received: datetime, processing_time: dict) -> datetime:
    """The appointment time for a dossier received at `received`, from a procedure's processing time.

    `processing_time` = {"value": N, "unit": "working_days" | "working_hours" | "calendar_days",
    "same_day": bool}. Same-day procedures received after the cut-off (15:00) are due the next working day.
    """
    value = float(processing_time.get("value") or 0)
    unit = processing_time.get("unit", "working_days")
    local = received.astimezone(VN_TZ)
    closing = calendar.office_hours()[-1][1]
    if processing_time.get("same_day"):
        day = local.date()
        if not is_working_day(day) or local.time() > calendar.same_day_cutoff():
            day = next_working_day(day)
        return datetime.combine(day, closing, VN_TZ).astimezone(UTC)
    if unit == "calendar_days":
        end = local + timedelta(days=value)
        day = end.date()
        if not is_working_day(day):  # a deadline on a day off moves to the next working day
            day = next_working_day(day)
        return datetime.combine(day, closing, VN_TZ).astimezone(UTC)
    hours = value if unit == "working_hours" else value * HOURS_PER_DAY
    return add_working_hours(received, hours)
