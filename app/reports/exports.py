"""A report table as CSV (UTF-8 with BOM, so Excel shows Vietnamese), Excel (openpyxl) and a PDF summary (A4,
Liberation Serif embedded, `app.papers.layout`). Every export shows the same rows and figures as the page
(`figures.table`), with the same Vietnamese headings. A report dict may bring its own `columns` (same
(key, heading, kind) shape; the usage report of `reports.usage` does), else `figures.COLUMNS`."""

from __future__ import annotations

import csv
import io
from typing import Any

from app.reports.figures import COLUMNS, export_value, fmt

#: the columns of the printable summary (a subset that fits an A4 page)
PDF_COLUMNS = ["received", "online_ratio", "done", "on_time_ratio", "open_late", "avg_days", "satisfied_ratio"]


def _records(report: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    records = [(row.label, row.values) for row in report["rows"]]
    records.append((report["total"].label, report["total"].values))
    return records


def columns_of(report: dict[str, Any]) -> list[tuple[str, str, str]]:
    return report.get("columns") or COLUMNS


def headings(report: dict[str, Any]) -> list[str]:
    return [report["group_label"] or "Phạm vi", *[h for _k, h, _kind in columns_of(report)]]


def to_csv(report: dict[str, Any]) -> bytes:
    columns = columns_of(report)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(headings(report))
    for label, values in _records(report):
        writer.writerow([label, *["" if (v := export_value(values.get(k), kind)) is None else v
                                  for k, _h, kind in columns]])
    return out.getvalue().encode("utf-8-sig")


def to_xlsx(report: dict[str, Any], title: str, subtitle: str) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    columns = columns_of(report)
    wb = Workbook()
    ws = wb.active
    ws.title = "Báo cáo"
    ws["A1"] = title
    ws["A1"].font = Font(bold=True, size=13)
    ws["A2"] = subtitle
    header_row = 4
    for col, text in enumerate(headings(report), 1):
        cell = ws.cell(row=header_row, column=col, value=text)
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    formats = {"pct": "0.0", "days": "0.00", "int": "#,##0", "text": "@"}
    for r, (label, values) in enumerate(_records(report), header_row + 1):
        ws.cell(row=r, column=1, value=label)
        for c, (key, _h, kind) in enumerate(columns, 2):
            cell = ws.cell(row=r, column=c, value=export_value(values.get(key), kind))
            cell.number_format = formats[kind]
        if label == report["total"].label and r == header_row + len(report["rows"]) + 1:
            for c in range(1, len(columns) + 2):
                ws.cell(row=r, column=c).font = Font(bold=True)
    ws.column_dimensions["A"].width = 45
    for c in range(2, len(columns) + 2):
        ws.column_dimensions[get_column_letter(c)].width = 14
    ws.freeze_panes = ws.cell(row=header_row + 1, column=2)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


#: the figures of the total printed above the PDF table
PDF_SUMMARY = ["received", "online_ratio", "on_time_ratio", "open_late", "satisfied_ratio", "paid_online_ratio",
               "synced_ratio", "avg_days", "p90_days"]


def to_pdf(report: dict[str, Any], title: str, subtitle: str, scope: str, fonts_dir: str | None, *,
           summary: list[str] | None = None, pdf_columns: list[str] | None = None, landscape: bool = False,
           notes: list[str] | None = None) -> bytes:
    """The total's figures (`summary`) as "heading: value" lines, then the table of `pdf_columns`; `notes`
    (paragraphs) under it."""
    from app.papers.layout import A4_MM, Paper, font_dir

    all_columns = columns_of(report)
    pdf = Paper(font_dir(fonts_dir), title, page_format=A4_MM, orientation="L" if landscape else "P")
    try:
        pdf.heading(title.upper(), subtitle)
        pdf.field("Phạm vi", scope)
        total = report["total"].values
        for key in summary if summary is not None else PDF_SUMMARY:
            heading, kind = next((h, kind) for k, h, kind in all_columns if k == key)
            pdf.field(heading, fmt(total.get(key), kind))
        pdf.ln(2)
        wanted = pdf_columns if pdf_columns is not None else PDF_COLUMNS
        columns = [(k, h, kind) for k, h, kind in all_columns if k in wanted]
        names = [report["group_label"] or "Phạm vi", *[h for _k, h, _kind in columns]]
        rows = [[label, *[fmt(values.get(k), kind) for k, _h, kind in columns]] for label, values in _records(report)]
        first = pdf.width * 0.3
        rest = (pdf.width - first) / len(columns)
        pdf.grid(names, rows, [first, *[rest] * len(columns)], size=8.5,
                 aligns=["LEFT", *["LEFT" if kind == "text" else "RIGHT" for _k, _h, kind in columns]])
        for note in notes or []:
            pdf.para(note, size=9)
        return bytes(pdf.output())
    finally:
        pdf.close_fonts()
