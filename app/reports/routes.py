"""Report pages for leaders (role `leader`: their agencies; `admin`: all) and the public statistics page.

- `/bao-cao/`             filters (period, agency, procedure, field, grouping) and the table of figures
- `/bao-cao/bieu-do`      dashboards (Chart.js): trend per month, comparison of agencies, with their tables
- `/bao-cao/ban-do-nhiet` where dossiers wait: time per BPMN task on the diagram (bpmn-js) and as a table
- `/bao-cao/xuat.csv`, `/bao-cao/xuat.xlsx`, `/bao-cao/tom-tat.pdf`: the table of `/bao-cao/` (same filters)
- `/bao-cao/su-dung`      usage of the online services per procedure (views, starts, submissions, abandons,
                          dossiers by channel, online-usage ratio; `reports.usage`), a Chart.js bar chart of the
                          ratio; `/bao-cao/su-dung.csv|.xlsx|.pdf` the same table
- `/thong-ke`             public: per agency on-time ratio, online usage, satisfaction (this year, this month)
- `/bao-cao/assets/<name>` Chart.js from node_modules (allow-list, cached a year; the version in the URL)
"""

from __future__ import annotations

import json
import time
from datetime import date
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request, send_file, url_for
from sqlalchemy import select

from app.auth.current import current_user, login_required
from app.auth.models import Unit, User
from app.catalog.models import Procedure
from app.common.timefmt import VN_TZ, fmt_date
from app.common.types import utcnow
from app.config import ROOT
from app.extensions import db
from app.reports import exports, heatmap
from app.reports import usage as usage_report
from app.reports.figures import GROUPINGS, Filters, figures, fmt, table

bp = Blueprint("reports", __name__, static_folder="static", static_url_path="/bao-cao/static")

#: files of node_modules/ the report pages may load: name in the URL → (path under node_modules, mimetype)
CHART_FILES = {"chart.umd.js": ("chart.js/dist/chart.umd.js", "text/javascript")}
ONE_YEAR = 365 * 24 * 3600


# --------------------------------------------------------------------------- who may read


def report_scope(user: User | None) -> set[int] | None | bool:
    """None: every agency (admin); a set: the agencies the user leads; False: no reports for this user."""
    if user is None:
        return False
    if user.has_role("admin"):
        return None
    units = {g.unit_id for g in user.grants if g.role.code == "leader"}
    return units or False


def can_view_reports() -> bool:
    """For the navigation: whether the current user may open /bao-cao/."""
    return report_scope(current_user()) is not False


def _scope() -> set[int] | None:
    scope = report_scope(current_user())
    if scope is False:
        abort(403)
    return scope  # type: ignore[return-value]


# --------------------------------------------------------------------------- filters


def today_vn() -> date:
    return utcnow().astimezone(VN_TZ).date()


def _date(name: str, default: date) -> date:
    value = request.args.get(name, "").strip()
    if not value:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError:
        return default


def _int(name: str) -> int | None:
    value = request.args.get(name, "").strip()
    return int(value) if value.isdigit() else None


def parse_filters(scope: set[int] | None, default_group: str = "unit") -> Filters:
    today = today_vn()
    since = _date("since", date(today.year, 1, 1))
    until = _date("until", today)
    if until < since:
        since, until = until, since
    group = request.args.get("group", default_group)
    if group not in GROUPINGS:
        group = default_group
    unit_id = _int("unit")
    if unit_id is not None and scope is not None and unit_id not in scope:
        abort(403)
    procedure_id = None
    code = request.args.get("procedure", "").strip()
    if code:
        proc = db.session.scalar(select(Procedure).where(Procedure.code == code))
        procedure_id = proc.id if proc is not None else -1
    return Filters(since=since, until=until, unit_ids=scope, unit_id=unit_id, procedure_id=procedure_id,
                   field=request.args.get("field", "").strip() or None, group=group)


def _choices(scope: set[int] | None) -> dict[str, Any]:
    units = select(Unit).order_by(Unit.name)
    procs = select(Procedure).order_by(Procedure.code)
    if scope is not None:
        units = units.where(Unit.id.in_(sorted(scope) or [-1]))
    fields = sorted({p.field for p in db.session.scalars(select(Procedure)) if p.field})
    return {"units": list(db.session.scalars(units)), "procedures": list(db.session.scalars(procs)),
            "fields": fields, "groupings": GROUPINGS}


def _args(**override: Any) -> dict[str, Any]:
    args = {k: v for k, v in request.args.items() if v}
    args.update({k: v for k, v in override.items() if v is not None})
    return args


def _title(f: Filters) -> tuple[str, str, str]:
    subtitle = f"Từ ngày {fmt_date(f.since)} đến ngày {fmt_date(f.until)}"
    parts = []
    if f.unit_id is not None:
        unit = db.session.get(Unit, f.unit_id)
        parts.append(unit.name if unit else "")
    elif f.unit_ids is None:
        parts.append("Tất cả cơ quan")
    else:
        parts.append(", ".join(u.name for u in db.session.scalars(select(Unit).where(Unit.id.in_(sorted(f.unit_ids))))))
    if f.procedure_id is not None:
        proc = db.session.get(Procedure, f.procedure_id)
        parts.append(f"thủ tục {proc.code}" if proc else "thủ tục không tồn tại")
    if f.field:
        parts.append(f"lĩnh vực {f.field}")
    return "Báo cáo tình hình giải quyết thủ tục hành chính", subtitle, "; ".join(parts)


# --------------------------------------------------------------------------- pages


@bp.get("/bao-cao/")
@login_required
def index():
    scope = _scope()
    f = parse_filters(scope)
    report = table(f)
    title, subtitle, scope_text = _title(f)
    return render_template("reports/index.html", report=report, filters=f, choices=_choices(scope), fmt=fmt,
                           args=_args(), title=title, subtitle=subtitle, scope_text=scope_text)


@bp.get("/bao-cao/xuat.<any(csv, xlsx):kind>")
@login_required
def export(kind: str):
    scope = _scope()
    f = parse_filters(scope)
    report = table(f)
    title, subtitle, scope_text = _title(f)
    stamp = f"{f.since:%Y%m%d}-{f.until:%Y%m%d}"
    if kind == "csv":
        body, mimetype = exports.to_csv(report), "text/csv; charset=utf-8"
    else:
        body = exports.to_xlsx(report, title, f"{subtitle} — {scope_text}")
        mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="bao-cao-{stamp}.{kind}"'
    response.cache_control.no_store = True
    return response


@bp.get("/bao-cao/tom-tat.pdf")
@login_required
def summary_pdf():
    scope = _scope()
    f = parse_filters(scope)
    report = table(f)
    title, subtitle, scope_text = _title(f)
    body = exports.to_pdf(report, title, subtitle, scope_text, current_app.config.get("PAPERS_FONT_DIR"))
    response = Response(body, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="bao-cao-{f.since:%Y%m%d}-{f.until:%Y%m%d}.pdf"'
    response.cache_control.no_store = True
    return response


@bp.get("/bao-cao/bieu-do")
@login_required
def dashboard():
    scope = _scope()
    f = parse_filters(scope)
    months, _ = figures(Filters(**{**f.__dict__, "group": "month"}))
    agencies, total = figures(Filters(**{**f.__dict__, "group": "unit"}))

    def pct(value: float | None) -> float | None:
        return round(value * 100, 1) if value is not None else None

    data = {
        "trend": {"labels": [r.label for r in months],
                  "received": [r["received"] for r in months],
                  "on_time": [r["on_time"] for r in months],
                  "late": [r["late"] for r in months],
                  "online_ratio": [pct(r["online_ratio"]) for r in months]},
        "agencies": {"labels": [r.label for r in agencies],
                     "on_time_ratio": [pct(r["on_time_ratio"]) for r in agencies],
                     "online_ratio": [pct(r["online_ratio"]) for r in agencies],
                     "satisfied_ratio": [pct(r["satisfied_ratio"]) for r in agencies]},
    }
    return render_template("reports/dashboard.html", months=months, agencies=agencies, total=total, filters=f,
                           choices=_choices(scope), fmt=fmt, args=_args(), data=json.dumps(data),
                           chart_url=chart_url("chart.umd.js"))


@bp.get("/bao-cao/ban-do-nhiet")
@login_required
def heat():
    scope = _scope()
    f = parse_filters(scope)
    code = request.args.get("procedure", "").strip()
    proc = db.session.scalar(select(Procedure).where(Procedure.code == code)) if code else None
    if code and proc is None:
        abort(404)
    tasks = heatmap.task_times(proc, scope, f.since, f.until) if proc is not None else []
    from app.designer.modeler import vendor_available

    return render_template("reports/heatmap.html", procedure=proc, tasks=tasks, filters=f, choices=_choices(scope),
                           args=_args(), available=vendor_available("viewer"),
                           data_url=url_for("reports.heat_json", **_args()) if proc is not None else None)


@bp.get("/bao-cao/ban-do-nhiet.json")
@login_required
def heat_json():
    scope = _scope()
    f = parse_filters(scope)
    proc = db.session.scalar(select(Procedure).where(Procedure.code == request.args.get("procedure", "")))
    if proc is None:
        abort(404)
    tasks = heatmap.task_times(proc, scope, f.since, f.until)
    response = jsonify({"procedure": proc.code, "xml": heatmap.version_xml(proc), "tasks": tasks})
    response.cache_control.no_store = True
    return response


# --------------------------------------------------------------------------- usage of the online services

USAGE_TITLE = "Mức độ sử dụng dịch vụ công trực tuyến"
#: how the counting works: on the page (list) and under the PDF's table
USAGE_NOTES = [
    "Không thu thập thông tin cá nhân: chỉ đếm số lượt theo thủ tục và ngày (giờ Việt Nam); không lưu địa chỉ IP, "
    "tên hay tài khoản của người xem.",
    "Lượt xem trang thủ tục và lượt bắt đầu điền tờ khai: mỗi trình duyệt được đếm một lần cho mỗi thủ tục "
    "mỗi ngày (tải lại trang không làm tăng số).",
    "Không đếm các chương trình tự động (bot của công cụ tìm kiếm, công cụ thu thập dữ liệu) và các yêu cầu "
    "tải trước của trình duyệt.",
    "Hồ sơ nộp trực tuyến được đếm khi hồ sơ đã được lưu; số bỏ dở = lượt bắt đầu − hồ sơ nộp trực tuyến "
    "(không âm).",
    "Số lượt được ghi vào cơ sở dữ liệu theo lô, chậm nhất khoảng 60 giây sau khi phát sinh.",
    "Hồ sơ theo kênh: hồ sơ nộp trong khoảng thời gian đã chọn. Tỷ lệ sử dụng trực tuyến = hồ sơ trực tuyến ÷ "
    "(hồ sơ trực tuyến + hồ sơ trực tiếp); hồ sơ qua bưu chính không tính vào tỷ lệ; “—” khi chưa có hồ sơ.",
]


def _usage_request() -> dict[str, Any]:
    """Everything the usage page and its exports read from the query string, and the table."""
    scope = _scope()
    period, errors = usage_report.parse_period(request.args, today_vn())
    unit_id = _int("unit")
    if unit_id is not None and scope is not None and unit_id not in scope:
        abort(403)
    sort, descending = usage_report.parse_sort(request.args.get("sort"))
    report = usage_report.usage_table(scope, unit_id, period, sort, descending)
    if unit_id is not None:
        unit = db.session.get(Unit, unit_id)
        scope_text = unit.name if unit is not None else "Cơ quan không tồn tại"
    elif scope is None:
        scope_text = "Tất cả cơ quan"
    else:
        scope_text = ", ".join(u.name for u in db.session.scalars(select(Unit).where(Unit.id.in_(sorted(scope)))))
    query: dict[str, Any] = ({"period": period.preset} if period.preset
                             else {"from": fmt_date(period.since), "to": fmt_date(period.until)})
    if unit_id is not None:
        query["unit"] = unit_id
    if (sort, descending) != (usage_report.DEFAULT_SORT, False):
        query["sort"] = f"-{sort}" if descending else sort
    return {"scope": scope, "period": period, "errors": errors, "unit_id": unit_id, "report": report,
            "subtitle": f"Từ ngày {fmt_date(period.since)} đến ngày {fmt_date(period.until)}",
            "scope_text": scope_text, "query": query,
            "nav_args": {k: v for k, v in {"since": period.since.isoformat(), "until": period.until.isoformat(),
                                           "unit": unit_id}.items() if v is not None}}


@bp.get("/bao-cao/su-dung")
@login_required
def usage_page():
    u = _usage_request()
    report = u["report"]
    base = {k: v for k, v in u["query"].items() if k != "sort"}
    sort_links = {}
    for key in usage_report.SORT_KEYS:
        # the first click sorts numbers from the largest, texts from A; the second click reverses
        ascending_first = key in ("code", "name")
        if report["sort"] == key:
            target = key if report["descending"] else f"-{key}"
        else:
            target = key if ascending_first else f"-{key}"
        sort_links[key] = url_for("reports.usage_page", **base, sort=target)
    presets = {name: url_for("reports.usage_page", period=name,
                             **{k: v for k, v in u["query"].items() if k in ("unit", "sort")})
               for name in usage_report.PERIODS}
    return render_template("reports/usage.html", title=USAGE_TITLE, report=report, period=u["period"],
                           errors=u["errors"], unit_id=u["unit_id"], subtitle=u["subtitle"],
                           scope_text=u["scope_text"], query=u["query"], args=u["nav_args"], fmt=fmt,
                           choices=_choices(u["scope"]), sort_links=sort_links, presets=presets,
                           periods=usage_report.PERIODS, notes=USAGE_NOTES,
                           data=json.dumps(usage_report.chart_data(report), ensure_ascii=False)
                           .replace("<", "\\u003c"),
                           chart_url=chart_url("chart.umd.js"))


@bp.get("/bao-cao/su-dung.<any(csv, xlsx, pdf):kind>")
@login_required
def usage_export(kind: str):
    u = _usage_request()
    report, period = u["report"], u["period"]
    name = f"su-dung-dvctt-{period.since:%Y%m%d}-{period.until:%Y%m%d}.{kind}"
    if kind == "csv":
        body, mimetype = exports.to_csv(report), "text/csv; charset=utf-8"
    elif kind == "xlsx":
        body = exports.to_xlsx(report, USAGE_TITLE, f"{u['subtitle']} — {u['scope_text']}")
        mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        body = exports.to_pdf(report, USAGE_TITLE, u["subtitle"], u["scope_text"],
                              current_app.config.get("PAPERS_FONT_DIR"),
                              summary=["views", "starts", "submits", "abandons", "online", "counter", "postal",
                                       "online_ratio"],
                              pdf_columns=[k for k, _h, _kind in usage_report.USAGE_COLUMNS], landscape=True,
                              notes=["Cách đếm: " + " ".join(USAGE_NOTES)])
        mimetype = "application/pdf"
    response = Response(body, mimetype=mimetype)
    disposition = "inline" if kind == "pdf" else "attachment"
    response.headers["Content-Disposition"] = f'{disposition}; filename="{name}"'
    response.cache_control.no_store = True
    return response


# --------------------------------------------------------------------------- public statistics


#: the public figures per process for PUBLIC_TTL seconds: (computed at, today, year, month)
_public_cache: dict[str, tuple[float, date, Any, Any]] = {}
PUBLIC_TTL = 300


def public_figures(today: date) -> tuple[Any, Any]:
    """(year, month) figures by agency for the public page, cached a few minutes per process."""
    key = current_app.config["SQLALCHEMY_DATABASE_URI"]
    cached = _public_cache.get(key)
    if cached is not None and cached[1] == today and time.monotonic() - cached[0] < PUBLIC_TTL \
            and not current_app.testing:
        return cached[2], cached[3]
    year = figures(Filters(since=date(today.year, 1, 1), until=today, group="unit"))
    month = figures(Filters(since=date(today.year, today.month, 1), until=today, group="unit"))
    _public_cache[key] = (time.monotonic(), today, year, month)
    return year, month


@bp.get("/thong-ke")
def public():
    today = today_vn()
    year, month = public_figures(today)
    month_by_unit = {r.key: r for r in month[0]}
    response = Response(render_template("reports/public.html", year=year, month_by_unit=month_by_unit,
                                        month_total=month[1], today=today, fmt=fmt))
    response.cache_control.public = True
    response.cache_control.max_age = 300
    return response


# --------------------------------------------------------------------------- Chart.js from node_modules


def _node_modules() -> Path:
    return Path(current_app.config.get("NODE_MODULES_DIR") or ROOT / "node_modules")


def chart_version() -> str:
    try:
        return str(json.loads((_node_modules() / "chart.js" / "package.json").read_text("utf-8")).get("version"))
    except (OSError, ValueError):
        return "0"


def chart_url(name: str) -> str:
    return url_for("reports.chart_asset", name=name, v=chart_version())


@bp.get("/bao-cao/assets/<name>")
def chart_asset(name: str):
    entry = CHART_FILES.get(name)
    if entry is None:
        abort(404)
    path = _node_modules() / entry[0]
    if not path.is_file():
        abort(404)
    response = send_file(path, mimetype=entry[1], max_age=ONE_YEAR, conditional=True)
    response.cache_control.public = True
    response.cache_control.immutable = True
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response

