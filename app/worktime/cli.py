"""`flask calendar add|list|remove`: calendar overrides from the command line."""

from __future__ import annotations

import sys
from datetime import datetime

import click
from flask.cli import AppGroup

from app.common.errors import AppError
from app.common.timefmt import VN_TZ
from app.extensions import db
from app.worktime import calendar

calendar_cli = AppGroup("calendar", help="Lịch làm việc: ngày nghỉ thêm, ngày làm việc thêm.")


def _fail(message: str) -> None:
    db.session.rollback()
    click.echo(f"Lỗi: {message}", err=True)
    sys.exit(1)


@calendar_cli.command("add")
@click.argument("day")
@click.option("--kind", type=click.Choice(calendar.KINDS), required=True)
@click.option("--reason", required=True, help="lý do, tiếng Việt (ví dụ số quyết định)")
def calendar_add(day: str, kind: str, reason: str) -> None:
    """Add an extra day off or working day on DAY (YYYY-MM-DD)."""
    from app.worktime import services

    try:
        row = services.add_override(services.parse_day(day), kind, reason)
        db.session.commit()
    except AppError as exc:
        _fail(exc.message)
        return
    calendar.invalidate()
    click.echo(f"Đã thêm {calendar.KIND_LABELS[kind].lower()} {row.date.isoformat()}: {row.reason}")


@calendar_cli.command("remove")
@click.argument("day")
def calendar_remove(day: str) -> None:
    """Remove the override on DAY (YYYY-MM-DD)."""
    from app.worktime import services

    try:
        d = services.parse_day(day)
        services.remove_override(d)
        db.session.commit()
    except AppError as exc:
        _fail(exc.message)
        return
    calendar.invalidate()
    click.echo(f"Đã xóa điều chỉnh ngày {d.isoformat()}")


@calendar_cli.command("list")
@click.option("--year", type=int, default=None, help="năm (mặc định: năm nay)")
def calendar_list(year: int | None) -> None:
    """List a year's days off and working days: the package's and the overrides."""
    from app.worktime import services

    year = year or datetime.now(VN_TZ).year
    for e in services.year_calendar(year):
        kind = "working_day" if e.working else "day_off"
        source = "override" if e.override else "package"
        mark = " (overridden)" if e.overridden else ""
        click.echo(f"{e.date.isoformat()}\t{kind}\t{source}\t{e.name}{mark}")
