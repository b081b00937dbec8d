"""`flask usage show` (the figures of a period) and `flask usage flush` (write this process's buffer)."""

from __future__ import annotations

from datetime import date

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from app.extensions import db

usage_cli = AppGroup("usage", help="Số liệu sử dụng dịch vụ trực tuyến (lượt xem, bắt đầu, nộp, bỏ dở).")


def _day(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"ngày không hợp lệ: {value} (YYYY-MM-DD)") from None


@usage_cli.command("show")
@click.option("--since", help="từ ngày (YYYY-MM-DD, giờ Việt Nam)")
@click.option("--until", help="đến ngày (YYYY-MM-DD, kể cả ngày này)")
@click.option("--procedure", "procedure_code", help="mã thủ tục")
@click.option("--unit", "unit_code", help="mã đơn vị")
def show(since: str | None, until: str | None, procedure_code: str | None, unit_code: str | None) -> None:
    """Lượt xem, bắt đầu, nộp trực tuyến, bỏ dở và tỉ lệ trực tuyến của từng thủ tục."""
    from app.auth.models import Unit
    from app.catalog.models import Procedure
    from app.stats.queries import usage

    procedure_id = unit_id = None
    if procedure_code:
        procedure_id = db.session.scalar(select(Procedure.id).where(Procedure.code == procedure_code))
        if procedure_id is None:
            raise click.ClickException(f"Không có thủ tục {procedure_code}.")
    if unit_code:
        unit_id = db.session.scalar(select(Unit.id).where(Unit.code == unit_code))
        if unit_id is None:
            raise click.ClickException(f"Không có đơn vị {unit_code}.")
    rows = usage(procedure_id=procedure_id, unit_id=unit_id, since=_day(since), until=_day(until))
    click.echo(f"{'Mã thủ tục':<14}{'Xem':>8}{'Bắt đầu':>9}{'Nộp':>8}{'Bỏ dở':>8}{'Tỉ lệ TT':>12}")
    for r in rows:
        ratio = f"{r['online_ratio'] * 100:.1f} %" if r["online_ratio"] is not None else "–"
        click.echo(f"{r['code']:<14}{r['views']:>8}{r['starts']:>9}{r['submits']:>8}{r['abandons']:>8}{ratio:>12}")


@usage_cli.command("flush")
def flush_command() -> None:
    """Ghi ngay các lượt đếm đang chờ của tiến trình này."""
    from app.stats import flush

    click.echo(f"Đã ghi {flush(current_app)} lượt.")
