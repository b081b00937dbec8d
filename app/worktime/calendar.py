"""The working-day calendar: the `holidays` package (VN) under an admin-edited table of overrides.

Overrides (`CalendarOverride`: an extra day off or an extra working day) win over the package. They are
read once per year per process and kept for `OVERRIDE_TTL` seconds, so the deadline functions stay cheap on
hot paths; `invalidate()` drops the cache at once after a change in this process (other processes see the
change within the TTL). Outside a Flask application context the package alone decides.
"""

from __future__ import annotations

import logging
import re
import threading
import time as _time
from datetime import date, time
from functools import lru_cache

import holidays
from flask import current_app, has_app_context

log = logging.getLogger(__name__)

DAY_OFF = "day_off"
WORKING_DAY = "working_day"
KINDS = (DAY_OFF, WORKING_DAY)
KIND_LABELS = {DAY_OFF: "Ngày nghỉ thêm", WORKING_DAY: "Ngày làm việc thêm"}

OVERRIDE_TTL = 60.0  # seconds

DEFAULT_OFFICE_HOURS: tuple[tuple[time, time], ...] = ((time(7, 0), time(11, 30)), (time(13, 30), time(17, 0)))
DEFAULT_SAME_DAY_CUTOFF = time(15, 0)

_lock = threading.Lock()
#: (app id, year) → (loaded at, {date: kind})
_cache: dict[tuple[int, int], tuple[float, dict[date, str]]] = {}


@lru_cache(maxsize=64)
def package_holidays(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("VN", years=year)


def invalidate() -> None:
    """Forget every cached year of overrides (call after adding or removing one)."""
    with _lock:
        _cache.clear()


def _load(year: int) -> dict[date, str]:
    from sqlalchemy import select

    from app.extensions import db
    from app.worktime.models import CalendarOverride

    stmt = select(CalendarOverride.date, CalendarOverride.kind).where(
        CalendarOverride.date >= date(year, 1, 1), CalendarOverride.date <= date(year, 12, 31))
    try:
        # a connection of its own: never disturbs the caller's session or transaction
        with db.engine.connect() as conn:
            return {d: k for d, k in conn.execute(stmt)}
    except Exception as exc:  # noqa: BLE001 — e.g. the table is not migrated yet: the package alone decides
        log.warning("calendar overrides unavailable for %s: %s", year, str(exc).splitlines()[0])
        return {}


def overrides(year: int) -> dict[date, str]:
    """{date: "day_off" | "working_day"} for `year`; empty without an application context."""
    if not has_app_context():
        return {}
    key = (id(current_app._get_current_object()), year)  # type: ignore[attr-defined]
    now = _time.monotonic()
    hit = _cache.get(key)
    if hit is not None and now - hit[0] < OVERRIDE_TTL:
        return hit[1]
    loaded = _load(year)
    with _lock:
        _cache[key] = (now, loaded)
    return loaded


def _parse_hhmm(text: str) -> time:
    h, m = text.strip().split(":")
    return time(int(h), int(m))


@lru_cache(maxsize=16)
def parse_office_hours(text: str) -> tuple[tuple[time, time], ...]:
    """"07:00-11:30,13:30-17:00" → ((07:00, 11:30), (13:30, 17:00)); intervals sorted, non-overlapping."""
    spans = []
    for part in text.split(","):
        if not part.strip():
            continue
        a, b = re.split(r"\s*[-–]\s*", part.strip())
        start, end = _parse_hhmm(a), _parse_hhmm(b)
        if end <= start:
            raise ValueError(f"invalid office hours: {part!r}")
        spans.append((start, end))
    spans.sort()
    if not spans or any(spans[i][1] > spans[i + 1][0] for i in range(len(spans) - 1)):
        raise ValueError(f"invalid office hours: {text!r}")
    return tuple(spans)


def office_hours() -> tuple[tuple[time, time], ...]:
    """Config `OFFICE_HOURS` (a string like "07:00-11:30,13:30-17:00"), else the default."""
    if has_app_context():
        value = current_app.config.get("OFFICE_HOURS")
        if value:
            return parse_office_hours(value) if isinstance(value, str) else tuple(value)
    return DEFAULT_OFFICE_HOURS


def same_day_cutoff() -> time:
    """Config `SAME_DAY_CUTOFF` ("15:00"), else 15:00."""
    if has_app_context():
        value = current_app.config.get("SAME_DAY_CUTOFF")
        if value:
            return _parse_hhmm(value) if isinstance(value, str) else value
    return DEFAULT_SAME_DAY_CUTOFF


# --- names in Vietnamese -------------------------------------------------------------------------------

_NAMES_VI = {
    "New Year's Day": "Tết Dương lịch",
    "29 of Lunar New Year": "Tết Nguyên đán (29 tháng Chạp)",
    "Lunar New Year's Eve": "Tết Nguyên đán (Giao thừa)",
    "Lunar New Year": "Tết Nguyên đán (mùng 1)",
    "Second Day of Lunar New Year": "Tết Nguyên đán (mùng 2)",
    "Third Day of Lunar New Year": "Tết Nguyên đán (mùng 3)",
    "Fourth Day of Lunar New Year": "Tết Nguyên đán (mùng 4)",
    "Fifth Day of Lunar New Year": "Tết Nguyên đán (mùng 5)",
    "Hung Kings' Commemoration Day": "Giỗ Tổ Hùng Vương (10/3 âm lịch)",
    "Liberation Day/Reunification Day": "Ngày Giải phóng miền Nam, thống nhất đất nước (30/4)",
    "International Labor Day": "Ngày Quốc tế Lao động (1/5)",
    "National Day": "Quốc khánh (2/9)",
    "Vietnam Cultural Day": "Ngày Văn hóa Việt Nam (24/11)",
}
_SUBSTITUTED = re.compile(r"^Day off \(substituted from (\d{2})/(\d{2})/(\d{4})\)$")


def name_vi(name: str) -> str:
    """The Vietnamese name of a holiday the package names in English; unknown names are kept."""
    parts = []
    for part in name.split("; "):
        observed = part.endswith(" (observed)")
        base = part.removesuffix(" (observed)")
        m = _SUBSTITUTED.match(base)
        if m:
            text = f"Nghỉ bù (đi làm bù ngày {m.group(2)}/{m.group(1)}/{m.group(3)})"
        else:
            text = _NAMES_VI.get(base, base)
        parts.append(f"{text} (nghỉ bù)" if observed else text)
    return "; ".join(parts)


def package_days_off(year: int) -> list[tuple[date, str]]:
    """The package's days off for `year`, (date, Vietnamese name), by date."""
    return [(d, name_vi(n)) for d, n in sorted(package_holidays(year).items()) if d.year == year]


def package_working_weekends(year: int) -> list[date]:
    """Weekend days the package says are worked (make-up Saturdays) in `year`."""
    return sorted(d for d in getattr(package_holidays(year), "weekend_workdays", ()) if d.year == year)
