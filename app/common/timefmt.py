"""Times are stored in UTC and shown in Asia/Ho_Chi_Minh."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def to_local(value: datetime | None) -> datetime | None:
    return value.astimezone(VN_TZ) if value is not None else None


def fmt_datetime(value: datetime | None) -> str:
    """dd/mm/yyyy HH:MM in Vietnam time, or an empty string."""
    local = to_local(value)
    return local.strftime("%d/%m/%Y %H:%M") if local else ""


def fmt_date(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = to_local(value)
    return value.strftime("%d/%m/%Y")


def iso(value: datetime | None) -> str | None:
    """ISO 8601 with the Vietnam offset, for the API."""
    local = to_local(value)
    return local.isoformat(timespec="seconds") if local else None
