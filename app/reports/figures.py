"""Report figures from `dossier_facts` (app.reports.facts), per agency, procedure, field or month.

`figures(Filters)` returns one `Row` per group plus a total row. Every count is over the facts whose
`received_day` (the Vietnam date of receipt) lies in [since, until], within the filters (agencies the reader
may see, agency, procedure, field). The columns (`COLUMNS`, Vietnamese headers: what the page, the CSV, the Excel
workbook and the PDF show) and their formulas:

- received            = number of dossiers (all channels; refused ones included, see `refused`)
- counter / online / postal = received by channel (in person / online / by public postal service)
- online_ratio        = online ÷ (online + counter)                                       [DOMAIN: online usage]
- done                = outcome done (status 9 or 10)
- on_time / late      = done with finished_at <= the first due date (before any apology) / after it
- on_time_ratio       = on_time ÷ done                                     [Decision 766: tiến độ giải quyết]
- open_within / open_late = outcome open with due_at null or >= now / with due_at < now (the first due date)
- supplements         = number of supplement requests (audit status → 5), all dossiers of the group
- refused             = outcome refused (status 3)
- withdrawn_stopped   = outcome withdrawn (7) or stopped (8)
- avg_days / p90_days = mean / 90th percentile (continuous, linear interpolation: PostgreSQL
                        `percentile_cont(0.9)`, the same formula in Python on SQLite) of working_days of the
                        done dossiers: office hours received → finished minus supplement pauses, ÷ 8
- very_satisfied / satisfied / not_satisfied = dossiers rated at each level
- satisfied_ratio     = (very_satisfied + satisfied) ÷ (rated dossiers)                  [Decision 766: hài lòng]
- paid_online         = dossiers with a paid online payment; paid_online_ratio = paid_online ÷ received
                                                                           [Decision 766: thanh toán trực tuyến]
- synced              = dossiers synced to the national portal (a portal sync message done);
  synced_ratio        = synced ÷ received                           [Decision 766: đồng bộ lên Cổng DVC quốc gia]

Ratios are None when their denominator is 0 (shown as "—"). Percentages are rounded to one decimal only when
shown (`fmt`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Integer, and_, case, func, literal, literal_column, or_, select

from app.common.types import utcnow
from app.extensions import db
from app.reports.facts import NOT_SATISFIED, SATISFIED, VERY_SATISFIED
from app.reports.models import DONE, OPEN, REFUSED, STOPPED, WITHDRAWN, DossierFact

GROUPINGS = {"": "Tổng hợp", "unit": "Cơ quan", "procedure": "Thủ tục", "field": "Lĩnh vực", "month": "Tháng"}

#: (key, Vietnamese header, kind): kind "int", "pct" (a ratio shown as %), "days" (working days)
COLUMNS: list[tuple[str, str, str]] = [
    ("received", "Tiếp nhận", "int"),
    ("counter", "Trực tiếp", "int"),
    ("online", "Trực tuyến", "int"),
    ("postal", "Qua bưu chính", "int"),
    ("online_ratio", "Tỷ lệ trực tuyến (%)", "pct"),
    ("done", "Đã giải quyết", "int"),
    ("on_time", "Đúng hạn", "int"),
    ("late", "Quá hạn", "int"),
    ("on_time_ratio", "Tỷ lệ đúng hạn (%)", "pct"),
    ("open_within", "Đang giải quyết trong hạn", "int"),
    ("open_late", "Đang giải quyết quá hạn", "int"),
    ("supplements", "Yêu cầu bổ sung", "int"),
    ("refused", "Từ chối", "int"),
    ("withdrawn_stopped", "Rút / dừng xử lý", "int"),
    ("avg_days", "Thời gian TB (ngày làm việc)", "days"),
    ("p90_days", "Thời gian P90 (ngày làm việc)", "days"),
    ("very_satisfied", "Rất hài lòng", "int"),
    ("satisfied", "Hài lòng", "int"),
    ("not_satisfied", "Không hài lòng", "int"),
    ("satisfied_ratio", "Tỷ lệ hài lòng (%)", "pct"),
    ("paid_online", "Thanh toán trực tuyến", "int"),
    ("paid_online_ratio", "Tỷ lệ thanh toán trực tuyến (%)", "pct"),
    ("synced", "Đồng bộ Cổng DVC quốc gia", "int"),
    ("synced_ratio", "Tỷ lệ đồng bộ (%)", "pct"),
]
COUNTS = [k for k, _h, kind in COLUMNS if kind == "int"]


@dataclass
class Filters:
    since: date | None = None
    until: date | None = None
    #: the agencies the reader may see (None: all)
    unit_ids: set[int] | None = None
    unit_id: int | None = None
    procedure_id: int | None = None
    field: str | None = None
    group: str = ""
    now: datetime | None = None


@dataclass
class Row:
    key: Any
    label: str
    values: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        return self.values.get(key)


def ratio(numerator: int | float | None, denominator: int | float | None) -> float | None:
    if not denominator:
        return None
    return (numerator or 0) / denominator


def percentile_cont(values: Iterable[float], fraction: float) -> float | None:
    """PostgreSQL's percentile_cont: linear interpolation between the two nearest ranks."""
    ordered = sorted(values)
    if not ordered:
        return None
    position = fraction * (len(ordered) - 1)
    lower, upper = math.floor(position), math.ceil(position)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def fmt(value: Any, kind: str) -> str:
    """A figure as the page shows it: 12 · 87,5 · 3,25 · — (Vietnamese decimal comma); "text" as it is."""
    if kind == "text":
        return "" if value is None else str(value)
    if value is None:
        return "—"
    if kind == "pct":
        return f"{value * 100:.1f}".replace(".", ",")
    if kind == "days":
        return f"{value:.2f}".replace(".", ",")
    return f"{int(value):,}".replace(",", ".")


def export_value(value: Any, kind: str) -> Any:
    """A figure for CSV and Excel: numbers (percentages as 87.5, days to 2 places), None when undefined."""
    if value is None:
        return None
    if kind == "text":
        return str(value) or None
    if kind == "pct":
        return round(value * 100, 1)
    if kind == "days":
        return round(value, 2)
    return int(value)


# --------------------------------------------------------------------------- SQL


def _pg() -> bool:
    return db.engine.dialect.name == "postgresql"


def _month_expr():
    # literal formats (not bound parameters) so the SELECT and GROUP BY expressions are the very same text
    if _pg():
        return func.to_char(DossierFact.received_day, literal_column("'YYYY-MM'"))
    return func.strftime(literal_column("'%Y-%m'"), DossierFact.received_day)


def _group_expr(group: str):
    if group == "unit":
        return DossierFact.unit_id
    if group == "procedure":
        return DossierFact.procedure_id
    if group == "field":
        return DossierFact.field
    if group == "month":
        return _month_expr()
    return literal("")


def _where(f: Filters) -> list[Any]:
    cond: list[Any] = []
    if f.since is not None:
        cond.append(DossierFact.received_day >= f.since)
    if f.until is not None:
        cond.append(DossierFact.received_day <= f.until)
    if f.unit_ids is not None:
        cond.append(DossierFact.unit_id.in_(sorted(f.unit_ids) or [-1]))
    if f.unit_id is not None:
        cond.append(DossierFact.unit_id == f.unit_id)
    if f.procedure_id is not None:
        cond.append(DossierFact.procedure_id == f.procedure_id)
    if f.field:
        cond.append(DossierFact.field == f.field)
    return cond


def _count(condition: Any):
    return func.count().filter(condition)


def _aggregates(now: datetime) -> list[Any]:
    fact = DossierFact
    done = fact.outcome == DONE
    is_open = fact.outcome == OPEN
    return [
        func.count().label("received"),
        _count(fact.channel == "counter").label("counter"),
        _count(fact.channel == "online").label("online"),
        _count(fact.channel == "postal").label("postal"),
        _count(done).label("done"),
        _count(and_(done, fact.on_time.is_(True))).label("on_time"),
        _count(and_(done, fact.on_time.is_(False))).label("late"),
        _count(and_(is_open, or_(fact.due_at.is_(None), fact.due_at >= now))).label("open_within"),
        _count(and_(is_open, fact.due_at < now)).label("open_late"),
        func.coalesce(func.sum(fact.supplements.cast(Integer)), 0).label("supplements"),
        _count(fact.outcome == REFUSED).label("refused"),
        _count(fact.outcome.in_([WITHDRAWN, STOPPED])).label("withdrawn_stopped"),
        func.avg(fact.working_days).filter(done).label("avg_days"),
        _count(fact.rating == VERY_SATISFIED).label("very_satisfied"),
        _count(fact.rating == SATISFIED).label("satisfied"),
        _count(fact.rating == NOT_SATISFIED).label("not_satisfied"),
        _count(fact.paid_online.is_(True)).label("paid_online"),
        _count(fact.synced.is_(True)).label("synced"),
    ]


def _p90(f: Filters) -> dict[Any, float | None]:
    cond = [*_where(f), DossierFact.outcome == DONE, DossierFact.working_days.is_not(None)]
    if _pg():
        p90 = func.percentile_cont(0.9).within_group(DossierFact.working_days)
        if not f.group:
            return {"": db.session.execute(select(p90).where(*cond)).scalar()}
        key = _group_expr(f.group).label("k")
        return {k: (float(v) if v is not None else None)
                for k, v in db.session.execute(select(key, p90).where(*cond).group_by(key))}
    values: dict[Any, list[float]] = defaultdict(list)
    if not f.group:
        values[""] = list(db.session.scalars(select(DossierFact.working_days).where(*cond)))
        return {"": percentile_cont(values[""], 0.9)}
    key = _group_expr(f.group).label("k")
    for k, v in db.session.execute(select(key, DossierFact.working_days).where(*cond)):
        values[k].append(v)
    return {k: percentile_cont(v, 0.9) for k, v in values.items()}


def _derive(values: dict[str, Any]) -> dict[str, Any]:
    for k in COUNTS:
        values[k] = int(values.get(k) or 0)
    avg = values.get("avg_days")
    values["avg_days"] = float(avg) if avg is not None else None
    values["online_ratio"] = ratio(values["online"], values["online"] + values["counter"])
    values["on_time_ratio"] = ratio(values["on_time"], values["done"])
    rated = values["very_satisfied"] + values["satisfied"] + values["not_satisfied"]
    values["rated"] = rated
    values["satisfied_ratio"] = ratio(values["very_satisfied"] + values["satisfied"], rated)
    values["paid_online_ratio"] = ratio(values["paid_online"], values["received"])
    values["synced_ratio"] = ratio(values["synced"], values["received"])
    return values


def _labels(group: str, keys: Iterable[Any]) -> dict[Any, str]:
    keys = [k for k in keys if k is not None]
    if group == "unit":
        from app.auth.models import Unit

        return {u.id: u.name for u in db.session.scalars(select(Unit).where(Unit.id.in_(keys or [-1])))}
    if group == "procedure":
        from app.catalog.models import Procedure

        return {p.id: f"{p.code} — {p.name}"
                for p in db.session.scalars(select(Procedure).where(Procedure.id.in_(keys or [-1])))}
    if group == "month":
        return {k: f"{k[5:7]}/{k[:4]}" for k in keys}
    if group == "field":
        return {k: k or "(chưa phân lĩnh vực)" for k in keys}
    return {k: "Tổng cộng" for k in keys}


def _p90_expr():
    """percentile_cont(0.9) of the done dossiers' working days (NULLs, i.e. the others, are left out)."""
    return func.percentile_cont(0.9).within_group(case((DossierFact.outcome == DONE, DossierFact.working_days),
                                                       else_=None)).label("p90_days")


def _figures_pg(f: Filters, now: datetime) -> tuple[list[Row], Row]:
    """PostgreSQL: the groups and the total in one pass (GROUP BY ROLLUP), the p90 in the same query."""
    cond = _where(f)
    if not f.group:
        r = db.session.execute(select(*_aggregates(now), _p90_expr()).where(*cond)).mappings().one()
        return [], Row("", "Tổng cộng", _derive_p90(dict(r)))
    expr = _group_expr(f.group)
    stmt = (select(expr.label("k"), func.grouping(expr).label("g"), *_aggregates(now), _p90_expr())
            .where(*cond).group_by(func.rollup(expr)))
    result = db.session.execute(stmt).mappings().all()
    groups = [r for r in result if r["g"] == 0]
    labels = _labels(f.group, [r["k"] for r in groups])
    rows = [Row(r["k"], labels.get(r["k"], str(r["k"])),
                _derive_p90({k: v for k, v in r.items() if k not in ("k", "g")})) for r in groups]
    totals = [r for r in result if r["g"] == 1]
    if totals:
        total = Row("", "Tổng cộng", _derive_p90({k: v for k, v in totals[0].items() if k not in ("k", "g")}))
    else:  # no rows at all: ROLLUP gives no grand total over an empty input
        r = db.session.execute(select(*_aggregates(now), _p90_expr()).where(*cond)).mappings().one()
        total = Row("", "Tổng cộng", _derive_p90(dict(r)))
    rows.sort(key=lambda row: str(row.key) if f.group == "month" else row.label)
    return rows, total


def _derive_p90(values: dict[str, Any]) -> dict[str, Any]:
    p90 = values.pop("p90_days", None)
    values = _derive(values)
    values["p90_days"] = float(p90) if p90 is not None else None
    return values


def figures(f: Filters) -> tuple[list[Row], Row]:
    """(one row per group, sorted by label — by month for months —, the total row)."""
    now = f.now or utcnow()
    if _pg():
        return _figures_pg(f, now)
    cond = _where(f)
    rows: list[Row] = []
    if f.group:
        key = _group_expr(f.group).label("k")
        result = db.session.execute(select(key, *_aggregates(now)).where(*cond).group_by(key)).mappings().all()
        p90 = _p90(f)
        labels = _labels(f.group, [r["k"] for r in result])
        for r in result:
            values = _derive({k: v for k, v in r.items() if k != "k"})
            values["p90_days"] = p90.get(r["k"])
            rows.append(Row(r["k"], labels.get(r["k"], str(r["k"])), values))
        rows.sort(key=lambda row: str(row.key) if f.group == "month" else row.label)
    total_filters = Filters(**{**f.__dict__, "group": ""})
    r = db.session.execute(select(*_aggregates(now)).where(*cond)).mappings().one()
    values = _derive(dict(r))
    values["p90_days"] = _p90(total_filters).get("")
    return rows, Row("", "Tổng cộng", values)


def table(f: Filters) -> dict[str, Any]:
    """What every view of a report shows: headings and the formatted cells, from `figures`."""
    rows, total = figures(f)
    return {"group": f.group, "group_label": GROUPINGS.get(f.group, ""), "columns": COLUMNS, "rows": rows,
            "total": total}
