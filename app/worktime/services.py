"""Calendar overrides: add, remove, list; a year's calendar for the admin page. Services flush, never commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from app.auth.models import User
from app.common.errors import Conflict, NotFound, ValidationFailed
from app.extensions import db
from app.worktime import calendar
from app.worktime.models import CalendarOverride


def parse_day(text: str) -> date:
    try:
        return date.fromisoformat((text or "").strip())
    except ValueError:
        raise ValidationFailed("Ngày không hợp lệ (định dạng YYYY-MM-DD).", "Invalid date (YYYY-MM-DD).") from None


def add_override(day: date, kind: str, reason: str, user: User | None = None) -> CalendarOverride:
    reason = (reason or "").strip()
    if kind not in calendar.KINDS:
        raise ValidationFailed("Loại ngày phải là ngày nghỉ (day_off) hoặc ngày làm việc (working_day).",
                               "kind must be day_off or working_day.")
    if not reason:
        raise ValidationFailed("Cần ghi lý do (ví dụ: số quyết định).", "A reason is required.")
    if len(reason) > 500:
        raise ValidationFailed("Lý do dài quá 500 ký tự.", "The reason is longer than 500 characters.")
    if db.session.scalar(select(CalendarOverride).where(CalendarOverride.date == day)) is not None:
        raise Conflict(f"Ngày {day:%d/%m/%Y} đã có điều chỉnh; hãy xóa điều chỉnh cũ trước.",
                       "This date already has an override.")
    row = CalendarOverride(date=day, kind=kind, reason=reason, created_by=user)
    db.session.add(row)
    db.session.flush()
    calendar.invalidate()
    return row


def remove_override(day: date) -> None:
    row = db.session.scalar(select(CalendarOverride).where(CalendarOverride.date == day))
    if row is None:
        raise NotFound(f"Ngày {day:%d/%m/%Y} không có điều chỉnh nào.", "No override for this date.")
    db.session.delete(row)
    db.session.flush()
    calendar.invalidate()


def list_overrides(year: int | None = None) -> list[CalendarOverride]:
    stmt = select(CalendarOverride).order_by(CalendarOverride.date)
    if year is not None:
        stmt = stmt.where(CalendarOverride.date >= date(year, 1, 1), CalendarOverride.date <= date(year, 12, 31))
    return list(db.session.scalars(stmt))


@dataclass
class CalendarEntry:
    date: date
    name: str
    source: str  # "package" | "override" | "package_working"
    working: bool
    override: CalendarOverride | None = None
    overridden: bool = False  # a package entry that an override contradicts


def year_calendar(year: int) -> list[CalendarEntry]:
    """Every day of `year` that differs from a plain week: package days off, make-up Saturdays, overrides."""
    rows = {o.date: o for o in list_overrides(year)}
    entries = [CalendarEntry(d, name, "package", False, overridden=d in rows and rows[d].kind == "working_day")
               for d, name in calendar.package_days_off(year)]
    entries += [CalendarEntry(d, "Ngày làm việc bù (theo quy định)", "package_working", True,
                              overridden=d in rows and rows[d].kind == "day_off")
                for d in calendar.package_working_weekends(year)]
    entries += [CalendarEntry(o.date, o.reason, "override", o.kind == "working_day", override=o)
                for o in rows.values()]
    return sorted(entries, key=lambda e: (e.date, e.source != "override"))
