"""Working time in Vietnam: public holidays (the `holidays` package, VN), weekends, office hours.

Durations are counted in working hours: 8 hours = 1 working day. Office hours default to
07:00–11:30 and 13:30–17:00, Asia/Ho_Chi_Minh (together 8 hours).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache

import holidays

from app.common.timefmt import VN_TZ

OFFICE_HOURS: tuple[tuple[time, time], ...] = ((time(7, 0), time(11, 30)), (time(13, 30), time(17, 0)))
HOURS_PER_DAY = 8
SAME_DAY_CUTOFF = time(15, 0)


@lru_cache(maxsize=64)
def _holidays(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("VN", years=year)


def is_working_day(day: date) -> bool:
    """Weekdays that are not public holidays, plus the Saturdays the government swaps in."""
    return bool(_holidays(day.year).is_working_day(day))


def next_working_day(day: date) -> date:
    day += timedelta(days=1)
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def _intervals(day: date):
    for start, end in OFFICE_HOURS:
        yield datetime.combine(day, start, VN_TZ), datetime.combine(day, end, VN_TZ)


def add_working_hours(start: datetime, hours: float) -> datetime:
    """The moment `hours` of office time after `start` (aware), returned in UTC."""
    remaining = timedelta(hours=hours)
    local = start.astimezone(VN_TZ)
    day = local.date()
    if remaining <= timedelta(0):
        return start.astimezone(UTC)
    for _ in range(3660):  # ten years of days: a bound, not a limit anyone reaches
        if is_working_day(day):
            for a, b in _intervals(day):
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


def due_date(received: datetime, processing_time: dict) -> datetime:
    """The appointment time for a dossier received at `received`, from a procedure's processing time.

    `processing_time` = {"value": N, "unit": "working_days" | "working_hours" | "calendar_days",
    "same_day": bool}. Same-day procedures received after 15:00 are due the next working day.
    """
    value = float(processing_time.get("value") or 0)
    unit = processing_time.get("unit", "working_days")
    local = received.astimezone(VN_TZ)
    if processing_time.get("same_day"):
        day = local.date()
        if not is_working_day(day) or local.time() > SAME_DAY_CUTOFF:
            day = next_working_day(day)
        return datetime.combine(day, OFFICE_HOURS[-1][1], VN_TZ).astimezone(UTC)
    if unit == "calendar_days":
        end = local + timedelta(days=value)
        day = end.date()
        while not is_working_day(day):  # a deadline on a day off moves to the next working day
            day += timedelta(days=1)
        return datetime.combine(day, OFFICE_HOURS[-1][1], VN_TZ).astimezone(UTC)
    hours = value if unit == "working_hours" else value * HOURS_PER_DAY
    return add_working_hours(received, hours)
