"""The leaders' page "Mức độ sử dụng dịch vụ công trực tuyến" (/bao-cao/su-dung, issue 7 items 1 and 4): on a
hand-built data set (usage_counters rows and dossiers by channel) the page, the CSV, the Excel workbook and the
PDF show the same exact numbers; periods, sorting, agency scope (a leader sees only their units, a specialist
gets 403); and real views counted from requests then flushed."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import select

from app.auth.models import Unit
from app.catalog.models import Procedure
from app.dossiers.models import Dossier
from app.extensions import db
from app.reports.routes import today_vn
from app.reports.usage import parse_day, parse_period, preset_period
from app.stats import flush
from app.stats.models import UsageCounter
from app.stats.queries import day_start_utc

BIRTH, HOUSEHOLD = "1.001193", "1.001612"  # the ward's, the province's
TINH, PHUONG = "000.00.00.H41", "000.31.33.H41"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"


def login(app, username):
    c = app.test_client()
    assert c.post("/dang-nhap", data={"username": username, "password": "MotCua@2026"}).status_code == 302
    return c


def drop_pending(app) -> None:
    """Forget the counts waiting in this process's buffer (earlier tests' dossiers, counted as submits)."""
    buffer = app.extensions.get("usage_counters")
    if buffer is not None:
        buffer.take()


def last_month() -> tuple[date, date]:
    first_this = today_vn().replace(day=1)
    last = first_this - timedelta(days=1)
    return last.replace(day=1), last


def row_cells(html: str, procedure: str | None = None) -> dict[str, str]:
    """The cells of a procedure's row (by code), or of the total row."""
    pattern = rf'<tr data-procedure="{re.escape(procedure)}">(.*?)</tr>' if procedure else \
        r'<tr class="report-total">(.*?)</tr>'
    match = re.search(pattern, html, re.S)
    assert match, procedure
    return dict(re.findall(r'<td class="\w+" data-key="(\w+)">([^<]*)</td>', match.group(1)))


def row_codes(html: str) -> list[str]:
    return re.findall(r'<tr data-procedure="([^"]+)">', html)


@pytest.fixture
def data_set(app):
    """Last month: the birth registration (ward) viewed 1,500 times, started 30, 18 submitted online, and 3
    online, 1 counter, 1 postal dossiers; the household business (province) 9 / 2 / 5 and 1 counter dossier.
    Outside the period: a day of this month and the day before the period, which must not count."""
    first, last = last_month()
    d1, d2 = first, first + timedelta(days=9)
    with app.app_context():
        procs = {p.code: p for p in db.session.scalars(select(Procedure).where(Procedure.code.in_([BIRTH,
                                                                                                   HOUSEHOLD])))}
        birth, household = procs[BIRTH].id, procs[HOUSEHOLD].id
        after = last + timedelta(days=1)  # the 1st of this month
        db.session.add_all([
            UsageCounter(day=d1, procedure_id=birth, event="view", channel="online", count=1200),
            UsageCounter(day=d2, procedure_id=birth, event="view", channel="online", count=300),
            UsageCounter(day=d1, procedure_id=birth, event="start", channel="online", count=20),
            UsageCounter(day=d2, procedure_id=birth, event="start", channel="online", count=10),
            UsageCounter(day=d1, procedure_id=birth, event="submit", channel="online", count=12),
            UsageCounter(day=d2, procedure_id=birth, event="submit", channel="online", count=6),
            UsageCounter(day=d1, procedure_id=birth, event="submit", channel="counter", count=4),
            UsageCounter(day=after, procedure_id=birth, event="view", channel="online", count=7000),
            UsageCounter(day=d1 - timedelta(days=1), procedure_id=birth, event="view", channel="online", count=800),
            UsageCounter(day=d1, procedure_id=household, event="view", channel="online", count=9),
            UsageCounter(day=d1, procedure_id=household, event="start", channel="online", count=2),
            UsageCounter(day=d1, procedure_id=household, event="submit", channel="online", count=5),
        ])
        n = 0

        def dossier(code: str, channel: str, day: date, hours: float) -> None:
            nonlocal n
            n += 1
            p = procs[code]
            at = day_start_utc(day) + timedelta(hours=hours)
            db.session.add(Dossier(code=f"T-USAGE-R-{n}", procedure_id=p.id, version_id=p.current_version_id,
                                   unit_id=p.unit_id, channel=channel, status=1, applicant_name="Nguyễn Văn An",
                                   applicant_name_folded="nguyen van an", data={}, tracking_secret_hash="x" * 64,
                                   submitted_at=at, created_at=at, due_at=at + timedelta(days=3)))

        for _ in range(3):
            dossier(BIRTH, "online", d1, 9)
        dossier(BIRTH, "counter", d2, 23.5)
        dossier(BIRTH, "postal", d2, 10)
        dossier(BIRTH, "online", after, 8)  # this month: outside
        dossier(HOUSEHOLD, "counter", d1, 8)
        db.session.commit()
    drop_pending(app)  # the inserted dossiers were counted as submits today: only the hand-built rows count
    return {"from": first.strftime("%d/%m/%Y"), "to": last.strftime("%d/%m/%Y")}


BIRTH_ROW = {"code": BIRTH, "views": "1.500", "starts": "30", "submits": "18", "abandons": "12", "online": "3",
             "counter": "1", "postal": "1", "online_ratio": "75,0"}
HOUSEHOLD_ROW = {"code": HOUSEHOLD, "views": "9", "starts": "2", "submits": "5", "abandons": "0", "online": "0",
                 "counter": "1", "postal": "0", "online_ratio": "0,0"}
ALL_TOTAL = {"code": "", "views": "1.509", "starts": "32", "submits": "23", "abandons": "12", "online": "3",
             "counter": "2", "postal": "1", "online_ratio": "60,0"}


# --------------------------------------------------------------------------- the page


def test_page_shows_the_exact_numbers(app, data_set):
    admin = login(app, "quantri.tinh")
    r = admin.get("/bao-cao/su-dung", query_string=data_set)
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "Mức độ sử dụng dịch vụ công trực tuyến" in html
    assert row_cells(html, BIRTH) == BIRTH_ROW
    assert row_cells(html, HOUSEHOLD) == HOUSEHOLD_ROW
    assert row_cells(html) == ALL_TOTAL
    others = [c for c in row_codes(html) if c not in (BIRTH, HOUSEHOLD)]
    assert others and all(row_cells(html, c)["views"] == "0" and row_cells(html, c)["online_ratio"] == "—"
                          for c in others)  # active procedures without use: listed, ratio undefined
    # the preset "last month" is the same period
    html_preset = admin.get("/bao-cao/su-dung?period=thang-truoc").get_data(as_text=True)
    assert row_cells(html_preset) == ALL_TOTAL and 'aria-current=true' in html_preset
    # ISO dates and the other report pages' since/until are understood too
    first, last = last_month()
    assert row_cells(admin.get(f"/bao-cao/su-dung?since={first}&until={last}").get_data(as_text=True)) == ALL_TOTAL
    # the explanation of the counting, the chart over the same numbers, the table as the fallback
    assert "Cách đếm" in html and "không lưu địa chỉ IP" in html and "60 giây" in html and "bot" in html
    data = json.loads(re.search(r'<script type="application/json" id="usage-data">(.*?)</script>', html,
                                re.S).group(1))
    ratios = dict(zip(data["labels"], data["online_ratio"], strict=True))
    assert ratios[BIRTH] == 75.0 and ratios[HOUSEHOLD] == 0.0 and None in ratios.values()
    assert re.search(r'<script src="[^"]*chart\.umd\.js\?v=[^"]+" defer>', html)
    assert 'id="usage-chart" role="img"' in html and 'id="usage-table"' in html
    assert "Nguyễn Văn An" not in html  # no personal data


def test_default_period_is_this_month_and_presets(app, data_set):
    admin = login(app, "quantri.tinh")
    html = admin.get("/bao-cao/su-dung").get_data(as_text=True)
    today = today_vn()
    assert f"Từ ngày 01/{today:%m/%Y} đến ngày {today:%d/%m/%Y}" in html
    total = row_cells(html)
    assert total["views"] == "7.000" and total["online"] == "1" and total["online_ratio"] == "100,0"
    html = admin.get("/bao-cao/su-dung?period=nam-nay").get_data(as_text=True)
    assert f"Từ ngày 01/01/{today.year}" in html
    if last_month()[0].year == today.year:  # (in January last month is last year)
        assert row_cells(html)["views"] == "9.309"
    # typed dates that are not dates: a message, and the page still answers
    r = admin.get("/bao-cao/su-dung?from=32/13/2026&to=01/11/2026")
    assert r.status_code == 200 and "không hợp lệ: 32/13/2026" in r.get_data(as_text=True)
    # the reports' navigation links the page
    assert 'href="/bao-cao/su-dung' in admin.get("/bao-cao/").get_data(as_text=True)


def test_sorting_by_a_get_parameter(app, data_set):
    admin = login(app, "quantri.tinh")
    codes = row_codes(admin.get("/bao-cao/su-dung", query_string=data_set).get_data(as_text=True))
    assert codes == sorted(codes)  # by code by default
    html = admin.get("/bao-cao/su-dung", query_string={**data_set, "sort": "-views"}).get_data(as_text=True)
    assert row_codes(html)[:2] == [BIRTH, HOUSEHOLD]
    assert 'data-key="views" aria-sort="descending"' in html
    codes = row_codes(admin.get("/bao-cao/su-dung", query_string={**data_set, "sort": "online_ratio"})
                      .get_data(as_text=True))
    assert codes[:2] == [HOUSEHOLD, BIRTH]  # 0 % then 75 %, undefined ratios last
    codes = row_codes(admin.get("/bao-cao/su-dung", query_string={**data_set, "sort": "-online_ratio"})
                      .get_data(as_text=True))
    assert codes[:2] == [BIRTH, HOUSEHOLD]
    html = admin.get("/bao-cao/su-dung", query_string={**data_set, "sort": "khong-co"}).get_data(as_text=True)
    assert row_codes(html) == sorted(row_codes(html))  # unknown key: the default
    assert row_cells(html) == ALL_TOTAL  # sorting never changes the total


# --------------------------------------------------------------------------- who sees what


def test_leaders_see_only_their_units_and_specialists_get_403(app, data_set):
    ward = login(app, "lanhdao.phuong")
    html = ward.get("/bao-cao/su-dung", query_string=data_set).get_data(as_text=True)
    assert BIRTH in row_codes(html) and HOUSEHOLD not in row_codes(html)
    assert row_cells(html) == {**BIRTH_ROW, "code": ""}  # the ward's other procedures are unused
    with app.app_context():
        tinh_id = db.session.scalar(select(Unit.id).where(Unit.code == TINH))
        phuong_id = db.session.scalar(select(Unit.id).where(Unit.code == PHUONG))
    assert ward.get(f"/bao-cao/su-dung?unit={tinh_id}").status_code == 403
    assert ward.get(f"/bao-cao/su-dung.csv?unit={tinh_id}").status_code == 403
    csv_rows = list(csv.reader(io.StringIO(ward.get("/bao-cao/su-dung.csv", query_string=data_set)
                                           .data.decode("utf-8-sig"))))
    assert HOUSEHOLD not in [r[1] for r in csv_rows] and BIRTH in [r[1] for r in csv_rows]

    province = login(app, "lanhdao.tinh")
    html = province.get("/bao-cao/su-dung", query_string=data_set).get_data(as_text=True)
    assert HOUSEHOLD in row_codes(html) and BIRTH not in row_codes(html)
    assert row_cells(html, HOUSEHOLD) == HOUSEHOLD_ROW
    assert province.get(f"/bao-cao/su-dung?unit={phuong_id}").status_code == 403

    # the administrator: every agency, and one agency on request
    admin = login(app, "quantri.tinh")
    html = admin.get("/bao-cao/su-dung", query_string={**data_set, "unit": phuong_id}).get_data(as_text=True)
    assert BIRTH in row_codes(html) and HOUSEHOLD not in row_codes(html)

    for specialist in ("chuyenvien.tinh", "tiepnhan.phuong"):
        c = login(app, specialist)
        for path in ("/bao-cao/su-dung", "/bao-cao/su-dung.csv", "/bao-cao/su-dung.xlsx", "/bao-cao/su-dung.pdf"):
            assert c.get(path).status_code == 403, (specialist, path)
    anonymous = app.test_client().get("/bao-cao/su-dung")
    assert anonymous.status_code == 302  # to the login page


def test_ward_leader_totals_are_the_ward_rows(app, data_set):
    html = login(app, "lanhdao.phuong").get("/bao-cao/su-dung", query_string=data_set).get_data(as_text=True)
    rows = [row_cells(html, c) for c in row_codes(html)]
    total = row_cells(html)
    for key in ("views", "starts", "submits", "abandons", "online", "counter", "postal"):
        assert int(total[key].replace(".", "")) == sum(int(r[key].replace(".", "")) for r in rows)
    assert total["views"] == "1.500" and total["online_ratio"] == "75,0"


# --------------------------------------------------------------------------- exports


def test_exports_contain_the_page_numbers(app, data_set):
    admin = login(app, "quantri.tinh")
    query = {**data_set, "sort": "-views"}
    html = admin.get("/bao-cao/su-dung", query_string=query).get_data(as_text=True)
    assert row_cells(html) == ALL_TOTAL
    headings = ["Thủ tục", "Mã thủ tục", "Lượt xem", "Lượt bắt đầu", "Nộp trực tuyến", "Bỏ dở", "Hồ sơ trực tuyến",
                "Hồ sơ trực tiếp", "Hồ sơ qua bưu chính", "Tỷ lệ sử dụng trực tuyến (%)"]
    # the export links carry the same filters
    assert re.search(r'href="/bao-cao/su-dung\.xlsx\?[^"]*sort=-views', html)

    r = admin.get("/bao-cao/su-dung.csv", query_string=query)
    assert r.status_code == 200 and r.mimetype == "text/csv" and r.data.startswith(b"\xef\xbb\xbf")
    assert "attachment" in r.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"))))
    assert rows[0] == headings
    assert rows[1][1:] == [BIRTH, "1500", "30", "18", "12", "3", "1", "1", "75.0"]
    assert rows[2][1:] == [HOUSEHOLD, "9", "2", "5", "0", "0", "1", "0", "0.0"]
    assert rows[-1] == ["Tổng cộng", "", "1509", "32", "23", "12", "3", "2", "1", "60.0"]
    assert [r[1] for r in rows[1:-1]] == row_codes(html)  # same rows, same order
    quiet = [r for r in rows[1:-1] if r[1] not in (BIRTH, HOUSEHOLD)]
    assert quiet and all(r[2] == "0" and r[-1] == "" for r in quiet)

    r = admin.get("/bao-cao/su-dung.xlsx", query_string=query)
    assert r.status_code == 200
    ws = load_workbook(io.BytesIO(r.data)).active
    assert ws["A1"].value == "Mức độ sử dụng dịch vụ công trực tuyến"
    assert data_set["from"] in ws["A2"].value and "Tất cả cơ quan" in ws["A2"].value
    assert [c.value for c in ws[4]] == headings
    assert [c.value for c in ws[5]][1:] == [BIRTH, 1500, 30, 18, 12, 3, 1, 1, 75.0]
    assert [c.value for c in ws[6]][1:] == [HOUSEHOLD, 9, 2, 5, 0, 0, 1, 0, 0.0]
    assert [c.value for c in ws[ws.max_row]] == ["Tổng cộng", None, 1509, 32, 23, 12, 3, 2, 1, 60.0]
    assert ws.max_row == 4 + len(row_codes(html)) + 1

    r = admin.get("/bao-cao/su-dung.pdf", query_string=query)
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    reader = PdfReader(io.BytesIO(r.data))
    assert reader.pages[0].mediabox.width == pytest.approx(841.89, abs=1)  # A4 landscape
    pdf = " ".join(" ".join(p.extract_text() for p in reader.pages).split())
    assert "MỨC ĐỘ SỬ DỤNG DỊCH VỤ CÔNG TRỰC TUYẾN" in pdf
    for text in ("Lượt xem: 1.509", "Lượt bắt đầu: 32", "Nộp trực tuyến: 23", "Bỏ dở: 12", "Hồ sơ trực tuyến: 3",
                 "Hồ sơ trực tiếp: 2", "Hồ sơ qua bưu chính: 1", "Tỷ lệ sử dụng trực tuyến (%): 60,0"):
        assert text in pdf, text
    assert f"{BIRTH} 1.500 30 18 12 3 1 1 75,0" in pdf
    assert f"{HOUSEHOLD} 9 2 5 0 0 1 0 0,0" in pdf
    assert "Tổng cộng" in pdf and "60 giây" in pdf


def test_existing_report_exports_are_unchanged(app):
    """The shared helpers still give the figures report its own columns (no usage columns leak in)."""
    leader = login(app, "lanhdao.tinh")
    rows = list(csv.reader(io.StringIO(leader.get("/bao-cao/xuat.csv").data.decode("utf-8-sig"))))
    assert rows[0][:2] == ["Cơ quan", "Tiếp nhận"] and "Lượt xem" not in rows[0]


# --------------------------------------------------------------------------- real requests, then flush


def test_views_from_real_requests_reach_the_page(app):
    if "usage_counters" not in app.extensions:
        pytest.skip("usage counting is off in this app")
    drop_pending(app)
    for _ in range(3):  # three browsers, one of them reloading
        client = app.test_client()
        client.get(f"/thu-tuc/{BIRTH}", headers={"User-Agent": BROWSER})
        client.get(f"/thu-tuc/{BIRTH}", headers={"User-Agent": BROWSER})
    app.test_client().get(f"/thu-tuc/{BIRTH}", headers={"User-Agent": "Googlebot/2.1"})  # a bot: not counted
    starter = app.test_client()
    starter.get(f"/thu-tuc/{BIRTH}/nop-ho-so", headers={"User-Agent": BROWSER})
    flush(app)
    html = login(app, "lanhdao.phuong").get("/bao-cao/su-dung").get_data(as_text=True)
    cells = row_cells(html, BIRTH)
    assert cells["views"] == "3" and cells["starts"] == "1" and cells["abandons"] == "1"
    assert cells["online_ratio"] == "—"


# --------------------------------------------------------------------------- periods (unit)


def test_period_parsing():
    today = date(2026, 1, 15)
    assert preset_period("thang-truoc", today).since == date(2025, 12, 1)
    assert preset_period("thang-truoc", today).until == date(2025, 12, 31)
    assert preset_period("nam-nay", today).since == date(2026, 1, 1)
    assert preset_period("", today).since == date(2026, 1, 1) and preset_period("", today).until == today
    assert parse_day("05/03/2026") == date(2026, 3, 5) and parse_day("2026-03-05") == date(2026, 3, 5)
    assert parse_day("31/02/2026") is None and parse_day("") is None
    period, errors = parse_period({"from": "10/01/2026", "to": "02/01/2026"}, today)
    assert (period.since, period.until, errors) == (date(2026, 1, 2), date(2026, 1, 10), [])  # swapped
    period, errors = parse_period({"to": "20/12/2025"}, today)
    assert (period.since, period.until) == (date(2025, 12, 1), date(2025, 12, 20))
    period, errors = parse_period({"from": "hôm qua"}, today)
    assert errors and period.preset == "thang-nay"
