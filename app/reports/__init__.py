"""Reports for leaders and public statistics (issue 7, "Leaders").

- `models`: `dossier_facts` (one pre-aggregated row per dossier) and the refresh watermark `report_state`
- `facts`: `refresh_facts(limit)` for the scheduler (incremental, idempotent upserts), `compute_fact`
- `figures`: the figures and indicators, their formulas in its docstring
- `heatmap`: time per BPMN task of a procedure's current version
- `usage`: usage of the online services per procedure (`app.stats.usage()` within the reader's agencies):
  periods, sorting, the table and the chart data of `/bao-cao/su-dung`
- `exports`: CSV (UTF-8 BOM), Excel, PDF summary (of any report table with its own columns)
- `routes`: /bao-cao/…, /thong-ke

Wiring: `init_app(app)` registers the blueprint and the Jinja global `can_view_reports()`; the scheduler calls
`refresh_facts()`; `flask reports refresh [--all]` does the same from the command line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click
from flask.cli import AppGroup

from app.reports.facts import refresh_all, refresh_facts

if TYPE_CHECKING:
    from flask import Flask

__all__ = ["init_app", "refresh_all", "refresh_facts"]


def init_app(app: Flask) -> None:
    from app.reports import models as _models  # noqa: F401  (metadata for create_all / autogenerate)
    from app.reports.routes import bp, can_view_reports

    app.register_blueprint(bp)
    app.jinja_env.globals["can_view_reports"] = can_view_reports

    app.cli.add_command(reports_cli)


reports_cli = AppGroup("reports", help="Report facts (dossier_facts).")


@reports_cli.command("refresh")
@click.option("--all", "everything", is_flag=True, help="repeat until every changed dossier is read")
@click.option("--limit", default=5000, show_default=True)
def refresh_command(everything: bool, limit: int) -> None:
    """Bring the report facts up to date (the scheduler does it every minute)."""
    written = refresh_all(limit) if everything else refresh_facts(limit)
    click.echo(f"{written} facts rows written")
