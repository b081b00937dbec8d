"""Reports (issue 7, leaders): facts refreshed incrementally and idempotently from real dossiers, the pages for
leaders (403 for others), exports that open and show the page's numbers, the PDF summary, the public
statistics page, the heat map of waiting times and Chart.js served from node_modules."""

from __future__ import annotations

import csv
import io
import re

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import delete, select, text

from app.auth.models import Unit
from app.common.types import utcnow
from app.dossiers.models import Dossier
from app.extensions import db
from app.outbox.models import OutboxMessage
from app.reports import init_app, refresh_all, refresh_facts
from app.reports.facts import compute_fact, has_table, load_inputs
from app.reports.models import DossierFact, ReportState

TINH = "000.00.00.H41"
PHUONG = "000.31.33.H41"


@pytest.fixture(scope="module", autouse=True)
def _reports(app):
    if "reports" not in app.blueprints:
        # until create_app() calls init_app(): the session app may have served requests already
        was = app._got_first_request
        app._got_first_request = False
        try:
            init_app(app)
        finally:
            app._got_first_request = was
    return app


@pytest.fixture(autouse=True)
def _facts_clean(app, library_procedure):
    yield
    with app.app_context():
        db.session.rollback()
        db.session.execute(delete(DossierFact))
        db.session.execute(delete(ReportState))
        db.session.commit()


def submit(client, name="Phạm Thị Hương", channel="online") -> str:
    r = client.post("/api/v1/dossiers", json={
        "procedure": "9.999001", "channel": channel,
        "applicant": {"name": name, "phone": "0912345678", "address": "Số 5 Lê Lợi, Nghệ An"},
        "data": {"reader_name": name, "birth_date": "2001-05-20", "card_type": "thuong", "months": 12}})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["code"]


def accept(client, auth, code):
    items = client.get("/api/v1/tasks?scope=available", headers=auth("tiepnhan.tinh")).get_json()["items"]
    task = next(t for t in items if t["dossier_code"] == code)
    r = client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {"decision": "accept"}},
                    headers=auth("tiepnhan.tinh"))
    assert r.status_code == 200, r.get_json()


def login(app, username):
    c = app.test_client()
    assert c.post("/dang-nhap", data={"username": username, "password": "MotCua@2026"}).status_code == 302
    return c


def unit_id(code: str) -> int:
    return db.session.scalar(select(Unit.id).where(Unit.code == code))


def facts() -> dict[int, dict]:
    db.session.expire_all()
    columns = [c.name for c in DossierFact.__table__.columns if c.name != "refreshed_at"]
    return {f.dossier_id: {c: getattr(f, c) for c in columns}
            for f in db.session.scalars(select(DossierFact))}


def cells(html: str, row_class: str = "report-total") -> dict[str, str]:
    row = re.search(rf'<tr class="{row_class}">(.*?)</tr>', html, re.S).group(1)
    return dict(re.findall(r'<td class="num" data-key="(\w+)">([^<]*)</td>', row))


def dataset(app, client, auth) -> list[str]:
    codes = [submit(client, "Nguyễn Văn An"), submit(client, "Trần Thị Bình"), submit(client, "Lê Văn Cường")]
    accept(client, auth, codes[0])
    with app.app_context():
        assert refresh_all() == 3
    return codes


# --------------------------------------------------------------------------- facts


def test_refresh_is_incremental_and_idempotent(app, client, auth):
    first, second = submit(client, "Nguyễn Văn An"), submit(client, "Trần Thị Bình")
    with app.app_context():
        assert refresh_facts() == 2
        before = facts()
        assert refresh_facts() == 0  # nothing changed since the watermark
        ids = {db.session.scalar(select(Dossier.id).where(Dossier.code == c)): c for c in (first, second)}
        assert set(before) == set(ids)
        assert all(f["outcome"] == "open" and f["channel"] == "online" and f["status"] == 1 for f in before.values())
    accept(client, auth, first)
    with app.app_context():
        assert refresh_facts() == 1  # only the accepted dossier changed
        after = facts()
        accepted = next(i for i, c in ids.items() if c == first)
        assert after[accepted]["status"] in (2, 4) and after[accepted]["received_at"] is not None
        assert after[accepted]["due_at"] is not None
        assert after[next(i for i, c in ids.items() if c == second)] == before[next(i for i, c in ids.items()
                                                                                     if c == second)]
        # from scratch again (watermark dropped): the very same rows, no duplicates
        db.session.execute(delete(ReportState))
        db.session.commit()
        assert refresh_facts(limit=1) == 1 and refresh_facts(limit=1) == 1 and refresh_facts(limit=1) == 0
        assert facts() == after
        assert db.session.scalar(select(db.func.count()).select_from(DossierFact)) == 2
        # every row equals what compute_fact() derives now
        for d in load_inputs(list(ids)):
            expected = compute_fact(d, utcnow())
            expected.pop("refreshed_at")
            assert after[d.id] == {k: v for k, v in expected.items()}


def test_refresh_command(app, client):
    submit(client)
    result = app.test_cli_runner().invoke(args=["reports", "refresh", "--all"])
    assert result.exit_code == 0, result.output
    assert "1 facts rows written" in result.output
    result = app.test_cli_runner().invoke(args=["reports", "refresh"])
    assert "0 facts rows written" in result.output


def test_refresh_picks_up_payments_and_ratings_that_do_not_touch_the_dossier(app, client):
    code = submit(client)
    with app.app_context():
        assert refresh_facts() == 1
        dossier = db.session.scalar(select(Dossier).where(Dossier.code == code))
        now = utcnow()
        stamp = now.replace(tzinfo=None) if db.engine.dialect.name == "sqlite" else now
        db.session.execute(text(
            "INSERT INTO payments (dossier_id, reference, amount, state, description, message, created_at, "
            "paid_at, updated_at) VALUES (:d, 'REF-REPORTS-1', 10000, 'paid', '', '', :now, :now, :now)"),
            {"d": dossier.id, "now": stamp})
        rated = has_table("ratings")
        if rated:
            db.session.execute(text("INSERT INTO ratings (dossier_id, level, comment, created_at, updated_at) "
                                    "VALUES (:d, 'satisfied', '', :now, :now)"), {"d": dossier.id, "now": stamp})
        db.session.commit()
        assert refresh_facts() == 1
        fact = facts()[dossier.id]
        assert fact["paid_online"] is True
        assert fact["rating"] == ("satisfied" if rated else None)
        assert refresh_facts() == 0
        # the portal sync: a message written pending, delivered later
        message = OutboxMessage(connector="portal", operation="sync_dossier", payload={}, key=f"report-test-{code}",
                                dossier_id=dossier.id, ordering_key=code, state="pending")
        db.session.add(message)
        db.session.commit()
        refresh_facts()
        assert facts()[dossier.id]["synced"] is False
        message.state = "done"
        db.session.commit()
        assert refresh_facts() == 1
        assert facts()[dossier.id]["synced"] is True


# --------------------------------------------------------------------------- pages and access


def test_pages_for_leaders_and_403_for_others(app, client, auth):
    dataset(app, client, auth)
    leader = login(app, "lanhdao.tinh")
    for path in ("/bao-cao/", "/bao-cao/?group=month", "/bao-cao/?group=procedure", "/bao-cao/?group=field",
                 "/bao-cao/?group=", "/bao-cao/bieu-do", "/bao-cao/ban-do-nhiet",
                 "/bao-cao/ban-do-nhiet?procedure=9.999001"):
        r = leader.get(path)
        assert r.status_code == 200, path
    html = leader.get("/bao-cao/").get_data(as_text=True)
    assert "Tiếp nhận" in html and "Tỷ lệ đúng hạn (%)" in html
    assert cells(html)["received"] == "3" and cells(html)["open_within"] == "3"
    assert login(app, "chuyenvien.tinh").get("/bao-cao/").status_code == 403
    assert login(app, "chuyenvien.tinh").get("/bao-cao/xuat.csv").status_code == 403
    assert client.get("/bao-cao/").status_code == 302  # to the login page
    # a leader of the ward sees only the ward, and may not ask for the province's agency
    ward = login(app, "lanhdao.phuong")
    with app.app_context():
        tinh_id = unit_id(TINH)
    assert ward.get(f"/bao-cao/?unit={tinh_id}").status_code == 403
    assert cells(ward.get("/bao-cao/").get_data(as_text=True))["received"] == "0"
    # an administrator sees every agency
    assert cells(login(app, "quantri.tinh").get("/bao-cao/").get_data(as_text=True))["received"] == "3"


def test_exports_open_and_show_the_page_numbers(app, client, auth):
    dataset(app, client, auth)
    leader = login(app, "lanhdao.tinh")
    query = "?group=unit&since=2020-01-01"
    html = leader.get("/bao-cao/" + query).get_data(as_text=True)
    page = cells(html)
    unit_row = cells(html.replace('<tr><th scope="row">Trung tâm', '<tr class="unit-row"><th scope="row">Trung tâm'),
                     "unit-row")

    r = leader.get("/bao-cao/xuat.csv" + query)
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert r.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"))))
    assert rows[0][0] == "Cơ quan" and rows[0][1] == "Tiếp nhận" and "Tỷ lệ trực tuyến (%)" in rows[0]
    total = dict(zip(rows[0], rows[-1], strict=True))
    assert total["Cơ quan"] == "Tổng cộng"
    assert total["Tiếp nhận"] == page["received"] == "3"
    assert total["Trực tuyến"] == page["online"] == "3"
    assert total["Đang giải quyết trong hạn"] == page["open_within"]
    assert float(total["Tỷ lệ trực tuyến (%)"]) == 100.0 and page["online_ratio"] == "100,0"
    assert rows[1][0].startswith("Trung tâm") and rows[1][1] == unit_row["received"]

    r = leader.get("/bao-cao/xuat.xlsx" + query)
    assert r.status_code == 200
    ws = load_workbook(io.BytesIO(r.data)).active
    header = [c.value for c in ws[4]]
    assert header[:2] == ["Cơ quan", "Tiếp nhận"]
    last = [c.value for c in ws[ws.max_row]]
    xl = dict(zip(header, last, strict=True))
    assert xl["Cơ quan"] == "Tổng cộng" and xl["Tiếp nhận"] == 3 == int(page["received"])
    assert xl["Tỷ lệ trực tuyến (%)"] == 100.0 and xl["Tỷ lệ đúng hạn (%)"] is None and page["on_time_ratio"] == "—"
    assert "Báo cáo" in ws["A1"].value

    r = leader.get("/bao-cao/tom-tat.pdf" + query)
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    reader = PdfReader(io.BytesIO(r.data))
    assert reader.pages[0].mediabox.width == pytest.approx(595.28, abs=1)  # A4
    pdf = " ".join(" ".join(p.extract_text() for p in reader.pages).split())
    assert "BÁO CÁO TÌNH HÌNH GIẢI QUYẾT" in pdf
    assert "Tiếp nhận: 3" in pdf and "Tỷ lệ trực tuyến (%): 100,0" in pdf
    assert "Tổng cộng" in pdf


def test_public_statistics_without_login(app, client, auth):
    dataset(app, client, auth)
    r = client.get("/thong-ke")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "Trung tâm Phục vụ hành chính công tỉnh Nghệ An" in html
    assert "Nguyễn Văn An" not in html and "0912345678" not in html  # no personal data
    assert "Đúng hạn (%)" in html and "Trực tuyến (%)" in html and "Hài lòng (%)" in html
    assert "public" in r.headers["Cache-Control"]


def test_dashboard_embeds_the_table_numbers_and_chart_js_is_served(app, client, auth):
    dataset(app, client, auth)
    leader = login(app, "lanhdao.tinh")
    html = leader.get("/bao-cao/bieu-do").get_data(as_text=True)
    assert 'id="trend-chart"' in html and 'id="agencies-table"' in html
    assert '"received": [3]' in html
    src = re.search(r'<script src="([^"]*chart\.umd\.js[^"]*)"', html).group(1)
    assert "v=4.6.1" in src
    r = client.get(src)
    assert r.status_code == 200 and r.mimetype == "text/javascript"
    assert "immutable" in r.headers["Cache-Control"] and "max-age=31536000" in r.headers["Cache-Control"]
    assert b"Chart" in r.data[:2000]
    r.close()
    assert client.get("/bao-cao/assets/package.json").status_code == 404
    assert client.get("/bao-cao/assets/..%2Fpackage.json").status_code == 404


def test_heat_map_times_per_task(app, client, auth):
    dataset(app, client, auth)
    leader = login(app, "lanhdao.tinh")
    r = leader.get("/bao-cao/ban-do-nhiet.json?procedure=9.999001&since=2020-01-01")
    assert r.status_code == 200
    data = r.get_json()
    assert data["xml"].lstrip().startswith("<?xml") or "<bpmn:definitions" in data["xml"]
    by_id = {t["id"]: t for t in data["tasks"]}
    assert sum(t["done"] for t in by_id.values()) == 1  # the one acceptance
    assert sum(t["open"] for t in by_id.values()) == 3  # two receptions waiting, one next step
    assert all(0 <= t["level"] <= 4 for t in by_id.values())
    done = next(t for t in by_id.values() if t["done"])
    assert done["avg_hours"] is not None and done["median_hours"] == done["avg_hours"]
    html = leader.get("/bao-cao/ban-do-nhiet?procedure=9.999001&since=2020-01-01").get_data(as_text=True)
    assert 'id="heat-table"' in html and f"<code>{done['id']}</code>" in html
    assert leader.get("/bao-cao/ban-do-nhiet?procedure=khong-co").status_code == 404
    assert login(app, "chuyenvien.tinh").get("/bao-cao/ban-do-nhiet.json?procedure=9.999001").status_code == 403
