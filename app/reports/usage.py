"""Usage of the online public services per procedure (issue 7, "Usage counters per service"): the leaders' page
`/bao-cao/su-dung` and its exports.

The numbers come from `app.stats.usage()` (counters `usage_counters` + dossiers by channel), restricted to the
agencies the reader may see. Columns (`USAGE_COLUMNS`, Vietnamese headings shared by the page and the exports):

- views      lượt xem trang thủ tục (one per browser per procedure per Vietnam day; bots excluded)
- starts     lượt bắt đầu điền tờ khai (same rule)
- submits    hồ sơ nộp trực tuyến (counted when the dossier is committed)
- abandons   bỏ dở = starts − submits, never below 0 (per procedure; the total is the sum of the rows)
- online / counter / postal   dossiers submitted in the period, by channel (from the dossiers table)
- online_ratio = online ÷ (online + counter); None ("—") when both are 0; the total uses the summed counts

Periods: `period` = `thang-nay` (default: the 1st of this month → today), `thang-truoc`, `nam-nay`; or
`from` / `to` as dd/mm/yyyy (ISO dates accepted too, and the other report pages' `since` / `until`).
Sorting: `sort` = a column key, `-key` for descending (default `code`); undefined ratios always sort last.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from app.reports.figures import Row, ratio

#: (key, Vietnamese heading, kind) — kind as in figures.COLUMNS, plus "text"
USAGE_COLUMNS: list[tuple[str, str, str]] = [
    ("code", "Mã thủ tục", "text"),
    ("views", "Lượt xem", "int"),
    ("starts", "Lượt bắt đầu", "int"),
    ("submits", "Nộp trực tuyến", "int"),
    ("abandons", "Bỏ dở", "int"),
    ("online", "Hồ sơ trực tuyến", "int"),
    ("counter", "Hồ sơ trực tiếp", "int"),
    ("postal", "Hồ sơ qua bưu chính", "int"),
    ("online_ratio", "Tỷ lệ sử dụng trực tuyến (%)", "pct"),
]
COUNT_KEYS = [k for k, _h, kind in USAGE_COLUMNS if kind == "int"]
#: the sort keys: every column and the procedure's name
SORT_KEYS = ["name", *[k for k, _h, _kind in USAGE_COLUMNS]]
DEFAULT_SORT = "code"

PERIODS = {"thang-nay": "Tháng này", "thang-truoc": "Tháng trước", "nam-nay": "Năm nay"}
DEFAULT_PERIOD = "thang-nay"


@dataclass
class Period:
    since: date
    until: date
    #: the preset chosen, or "" for dates typed in
    preset: str = ""


def preset_period(name: str, today: date) -> Period:
    if name == "thang-truoc":
        last = date(today.year, today.month, 1) - timedelta(days=1)
        return Period(date(last.year, last.month, 1), last, name)
    if name == "nam-nay":
        return Period(date(today.year, 1, 1), today, name)
    return Period(date(today.year, today.month, 1), today, DEFAULT_PERIOD)


def parse_day(value: str | None) -> date | None:
    """dd/mm/yyyy (or d/m/yyyy, dd-mm-yyyy) or ISO yyyy-mm-dd; None when empty or not a date."""
    value = (value or "").strip()
    if not value:
        return None
    for pattern in ("%d/%m/%Y", "%d-%m-%Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(value, pattern).date()
        except ValueError:
            continue
    return None


def parse_period(args: Any, today: date) -> tuple[Period, list[str]]:
    """The period from the query string, and the messages about dates that could not be read."""
    errors: list[str] = []
    raw_from, raw_to = args.get("from", "").strip(), args.get("to", "").strip()
    if raw_from or raw_to:
        since, until = parse_day(raw_from), parse_day(raw_to)
        if raw_from and since is None:
            errors.append(f"“Từ ngày” không hợp lệ: {raw_from} (nhập theo dạng dd/mm/yyyy).")
        if raw_to and until is None:
            errors.append(f"“Đến ngày” không hợp lệ: {raw_to} (nhập theo dạng dd/mm/yyyy).")
        if not errors:
            until = until or today
            since = since or date(until.year, until.month, 1)  # "to" alone: from the 1st of its month
            if until < since:
                since, until = until, since
            return Period(since, until), errors
    preset = args.get("period", "").strip()
    if preset in PERIODS:
        return preset_period(preset, today), errors
    since, until = parse_day(args.get("since")), parse_day(args.get("until"))  # from the other report pages
    if since is not None and until is not None:
        return (Period(until, since) if until < since else Period(since, until)), errors
    return preset_period(DEFAULT_PERIOD, today), errors


def parse_sort(value: str | None) -> tuple[str, bool]:
    """(key, descending) from `sort` ('views', '-views'); the default when unknown."""
    value = (value or "").strip()
    descending = value.startswith("-")
    key = value.lstrip("-")
    if key not in SORT_KEYS:
        return DEFAULT_SORT, False
    return key, descending


def usage_table(scope: set[int] | None, unit_id: int | None, period: Period, sort: str = DEFAULT_SORT,
                descending: bool = False) -> dict[str, Any]:
    """The rows (one per procedure of the visible agencies), the total row and the columns, in the shape
    `exports.to_csv / to_xlsx / to_pdf` read (`figures.table`'s keys)."""
    from app.stats import usage

    stats = usage(unit_id=unit_id, since=period.since, until=period.until)
    if scope is not None:
        stats = [s for s in stats if s["unit_id"] in scope]
    rows = []
    for s in stats:
        values = {"code": s["code"], "name": s["name"], "views": s["views"], "starts": s["starts"],
                  "submits": s["submits"], "abandons": s["abandons"], **s["dossiers"],
                  "online_ratio": s["online_ratio"]}
        rows.append(Row(s["procedure_id"], s["name"], values))
    totals: dict[str, Any] = {k: sum(r.values[k] for r in rows) for k in COUNT_KEYS}
    totals["code"] = ""
    totals["online_ratio"] = ratio(totals["online"], totals["online"] + totals["counter"])
    rows = sort_rows(rows, sort, descending)
    return {"group": "procedure", "group_label": "Thủ tục", "columns": USAGE_COLUMNS, "rows": rows,
            "total": Row("", "Tổng cộng", totals), "sort": sort, "descending": descending}


def sort_rows(rows: list[Row], key: str, descending: bool) -> list[Row]:
    """Stable sort by a column; ties by code; None (an undefined ratio) last in both directions."""
    rows = sorted(rows, key=lambda r: r.values["code"])
    if key == "code":
        return list(reversed(rows)) if descending else rows
    defined = [r for r in rows if r.values.get(key) is not None]
    undefined = [r for r in rows if r.values.get(key) is None]
    if key == "name":
        defined.sort(key=lambda r: str(r.values["name"]).casefold(), reverse=descending)
    else:
        defined.sort(key=lambda r: r.values[key], reverse=descending)
    return defined + undefined


def chart_data(report: dict[str, Any]) -> dict[str, Any]:
    """The bar chart: the online-usage ratio (%) per procedure, in the table's order."""
    return {"labels": [r.values["code"] for r in report["rows"]],
            "names": [r.values["name"] for r in report["rows"]],
            "online_ratio": [None if r.values["online_ratio"] is None else round(r.values["online_ratio"] * 100, 1)
                             for r in report["rows"]]}
