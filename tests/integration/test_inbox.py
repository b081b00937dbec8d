"""The officials' inbox: tabs, filters, diacritic-free search, keyset paging, counts, assign, delegate."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from app.common.timefmt import VN_TZ
from app.common.types import utcnow
from app.dossiers.models import AuditLog, Dossier
from app.extensions import db
from app.inbox.models import Task

UNIT = "000.00.00.H41"
EXTRA = ("tiepnhan3.inbox", "tiepnhan4.inbox")


@pytest.fixture(autouse=True)
def _library(library_procedure, app):
    yield library_procedure
    with app.app_context():
        db.session.execute(text("DELETE FROM task_delegations"))
        db.session.commit()


@pytest.fixture(scope="module")
def colleagues(app):
    for name in EXTRA:
        app.test_cli_runner().invoke(args=["users", "create", name, "--role", "reception", "--unit", UNIT,
                                           "--password", "MotCua@2026"])
    return EXTRA


def submit(client, name="Nguyễn Văn An", channel="online"):
    r = client.post("/api/v1/dossiers", json={
        "procedure": "9.999001", "channel": channel,
        "applicant": {"name": name, "id_number": "001203004567", "phone": "0912345678",
                      "email": "an@example.vn", "address": "Số 5 Lê Lợi, Nghệ An"},
        "data": {"reader_name": name, "birth_date": "2001-05-20", "card_type": "thuong", "months": 12}})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["code"]


def task_of(app, code) -> int:
    with app.app_context():
        return db.session.scalar(select(Task.id).join(Dossier).where(Dossier.code == code, Task.state == "open"))


def set_task(app, task_id, **values):
    with app.app_context():
        t = db.session.get(Task, task_id)
        for k, v in values.items():
            setattr(t, k, v)
        db.session.commit()


def set_dossier(app, code, **values):
    with app.app_context():
        d = db.session.scalar(select(Dossier).where(Dossier.code == code))
        for k, v in values.items():
            setattr(d, k, v)
        db.session.commit()


def codes(client, auth, user="tiepnhan.tinh", **params):
    params.setdefault("scope", "queue")
    r = client.get("/api/v1/tasks", query_string=params, headers=auth(user))
    assert r.status_code == 200, r.get_json()
    return [t["dossier_code"] for t in r.get_json()["items"]]


def login(client, username, password="MotCua@2026"):
    r = client.post("/dang-nhap", data={"username": username, "password": password})
    assert r.status_code == 302


# --------------------------------------------------------------------------- tabs and counts


def test_tabs_and_counts(app, client, auth, colleagues):
    a, b, c = submit(client), submit(client), submit(client)
    client.post(f"/api/v1/tasks/{task_of(app, a)}/claim", headers=auth("tiepnhan.tinh"))
    client.post(f"/api/v1/tasks/{task_of(app, b)}/claim", headers=auth("tiepnhan3.inbox"))
    assert set(codes(client, auth, scope="queue")) == {a, b, c}
    assert codes(client, auth, scope="mine") == [a]
    assert codes(client, auth, scope="unassigned") == [c]
    assert set(codes(client, auth, scope="available")) == {a, c}
    assert codes(client, auth, "chuyenvien.tinh", scope="queue") == []
    r = client.get("/api/v1/tasks?scope=queue&counts=1", headers=auth("tiepnhan.tinh")).get_json()
    assert r["counts"] == {"mine": 1, "queue": 3, "unassigned": 1}
    assert client.get("/api/v1/tasks?scope=nope", headers=auth("tiepnhan.tinh")).status_code == 400

    official = app.test_client()
    login(official, "tiepnhan.tinh")
    page = official.get("/can-bo/?tab=unassigned").get_data(as_text=True)
    assert c in page and a not in page and b not in page
    assert 'id="count-mine">(1)' in page and 'id="count-queue">(3)' in page and 'id="count-unassigned">(1)' in page
    assert "<caption>" in page and "<fieldset>" in page and 'scope="col"' in page
    assert a in official.get("/can-bo/?tab=mine").get_data(as_text=True)


# --------------------------------------------------------------------------- filters and search


def test_filters_by_procedure_status_channel_and_received_date(app, client, auth):
    a, b = submit(client, channel="online"), submit(client, channel="counter")
    assert codes(client, auth, channel="counter") == [b]
    assert codes(client, auth, channel="online") == [a]
    assert set(codes(client, auth, procedure="9.999001")) == {a, b}
    assert codes(client, auth, procedure="1.001193") == []
    set_dossier(app, a, status=4)
    assert codes(client, auth, status=4) == [a]
    assert codes(client, auth, status=1) == [b]
    set_dossier(app, a, submitted_at=utcnow() - timedelta(days=10))
    today = utcnow().astimezone(VN_TZ).date()
    assert codes(client, auth, **{"from": today.isoformat()}) == [b]
    old = (today - timedelta(days=10)).isoformat()
    assert codes(client, auth, **{"from": old, "to": old}) == [a]
    assert set(codes(client, auth, **{"to": today.isoformat()})) == {a, b}


def test_due_state_filter_and_labels(app, client, auth):
    late, soon, fine, none = (submit(client) for _ in range(4))
    now = utcnow()
    set_task(app, task_of(app, late), due_at=now - timedelta(hours=1))
    set_task(app, task_of(app, soon), due_at=now + timedelta(minutes=30))
    set_task(app, task_of(app, fine), due_at=now + timedelta(days=40))
    set_task(app, task_of(app, none), due_at=None)
    assert codes(client, auth, due="overdue") == [late]
    assert codes(client, auth, due="soon", days=1) == [soon]
    assert codes(client, auth, due="on_time") == [fine, none]
    assert codes(client, auth) == [late, soon, fine, none]  # by due date, none last
    official = app.test_client()
    login(official, "tiepnhan.tinh")
    page = official.get("/can-bo/?tab=queue").get_data(as_text=True)
    assert page.count("Quá hạn</strong>") == 1 and page.count("Sắp đến hạn</strong>") == 1
    assert 'class="due-overdue"' in page
    filtered = official.get("/can-bo/?tab=queue&due=overdue").get_data(as_text=True)
    assert late in filtered and fine not in filtered


def test_search_ignores_diacritics_and_matches_codes(app, client, auth):
    an = submit(client, name="Nguyễn Văn An")
    binh = submit(client, name="Trần Thị Bình")
    dung = submit(client, name="Đặng Văn Dũng")
    assert codes(client, auth, q="nguyen van an") == [an]
    assert codes(client, auth, q="TRAN thi") == [binh]
    assert codes(client, auth, q="dang van dung") == [dung]
    assert codes(client, auth, q="Trần Thị Bình") == [binh]
    assert codes(client, auth, q=binh) == [binh]
    assert codes(client, auth, q=binh.lower()) == [binh]
    assert codes(client, auth, q="50%_") == []
    official = app.test_client()
    login(official, "tiepnhan.tinh")
    page = official.get("/can-bo/", query_string={"q": "nguyen van an"}).get_data(as_text=True)
    assert an in page and binh not in page and 'value="nguyen van an"' in page


def test_search_matches_anywhere_in_the_name_and_the_code(app, client, auth):
    an = submit(client, name="Nguyễn Văn An")
    binh = submit(client, name="Trần Thị Bình")
    dung = submit(client, name="Đặng Văn Dũng")
    assert codes(client, auth, q="van an") == [an]  # not the start of the name
    assert codes(client, auth, q="Văn An") == [an]
    assert codes(client, auth, q="an nguyen") == [an]  # words in any order
    assert codes(client, auth, q="thi binh") == [binh]
    assert codes(client, auth, q="ngu") == [an] and codes(client, auth, q="bin") == [binh]  # a word's start
    assert codes(client, auth, q="an") == [an]  # a whole word, not the inside of "Đặng"
    assert set(codes(client, auth, q="van")) == {an, dung}
    assert codes(client, auth, q="dung") == [dung]
    assert codes(client, auth, q="van binh") == []  # every word must match
    assert codes(client, auth, q=binh[-11:]) == [binh]  # the end of the code: date and sequence
    assert codes(client, auth, q=binh.split("-", 1)[1].lower()) == [binh]
    assert codes(client, auth, q="%") == [] and codes(client, auth, q="_") == []
    official = app.test_client()
    login(official, "tiepnhan.tinh")
    page = official.get("/can-bo/", query_string={"q": "van dung"}).get_data(as_text=True)
    assert dung in page and an not in page and binh not in page
    counts = client.get("/api/v1/tasks", query_string={"scope": "queue", "q": "van", "counts": 1},
                        headers=auth("tiepnhan.tinh")).get_json()
    assert counts["counts"]["queue"] == 2


def test_postgresql_serves_infix_search_from_trigram_indexes(app):
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("pg_trgm is PostgreSQL's")
        assert db.session.scalar(text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")) == 1
        indexes = dict(db.session.execute(text(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'dossiers'")).all())
        assert "gin_trgm_ops" in indexes["ix_dossiers_name_folded_trgm"]
        assert "applicant_name_folded" in indexes["ix_dossiers_name_folded_trgm"]
        assert "gin_trgm_ops" in indexes["ix_dossiers_code_trgm"]
        db.session.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(db.session.execute(text(
            "EXPLAIN SELECT id FROM dossiers WHERE applicant_name_folded LIKE '%van an%'")).scalars())
        db.session.rollback()
        assert "ix_dossiers_name_folded_trgm" in plan, plan


# --------------------------------------------------------------------------- keyset pagination


def test_keyset_paging_across_equal_due_dates(app, client, auth):
    made = [submit(client) for _ in range(7)]
    same = utcnow() + timedelta(days=3)
    for i, code in enumerate(made):
        due = None if i == 6 else (same if i < 5 else same + timedelta(hours=1))
        set_task(app, task_of(app, code), due_at=due)
    seen, cursor, pages = [], None, 0
    while True:
        params = {"scope": "queue", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/api/v1/tasks", query_string=params, headers=auth("tiepnhan.tinh")).get_json()
        seen += [t["dossier_code"] for t in page["items"]]
        cursor, pages = page["next_cursor"], pages + 1
        if not cursor:
            break
    assert pages == 4 and len(seen) == 7 and len(set(seen)) == 7
    ids = [task_of(app, c) for c in made]
    expected = [c for _, c in sorted(zip(ids[:5], made[:5], strict=True))] + [made[5], made[6]]
    assert seen == expected
    assert client.get("/api/v1/tasks?cursor=garbage", headers=auth("tiepnhan.tinh")).status_code == 422

    official = app.test_client()
    login(official, "tiepnhan.tinh")
    first = official.get("/can-bo/?tab=queue").get_data(as_text=True)
    assert "Trang sau" not in first  # 7 < 50


# --------------------------------------------------------------------------- assign


def test_leader_assigns_to_a_role_holder_with_an_audit_row(app, client, auth, colleagues):
    code = submit(client)
    tid = task_of(app, code)
    leader, specialist = app.test_client(), app.test_client()
    login(leader, "lanhdao.tinh")
    login(specialist, "chuyenvien.tinh")
    assert specialist.post(f"/can-bo/cong-viec/{tid}/giao", data={"assignee": "tiepnhan3.inbox"}).status_code == 403
    # the assignee must hold the task's role (reception) in the unit
    leader.post(f"/can-bo/cong-viec/{tid}/giao", data={"assignee": "chuyenvien.tinh"})
    leader.post(f"/can-bo/cong-viec/{tid}/giao", data={"assignee": "tiepnhan.phuong"})
    with app.app_context():
        assert db.session.get(Task, tid).assignee_id is None
    page = leader.get("/can-bo/?tab=queue").get_data(as_text=True)
    assert f'/can-bo/cong-viec/{tid}/giao' in page  # leaders see the assign form
    r = leader.post(f"/can-bo/cong-viec/{tid}/giao", data={"assignee": "tiepnhan3.inbox"})
    assert r.status_code == 303
    with app.app_context():
        t = db.session.get(Task, tid)
        assert t.assignee.username == "tiepnhan3.inbox"
        row = db.session.scalar(select(AuditLog).where(AuditLog.dossier_id == t.dossier_id,
                                                       AuditLog.action == "assign"))
        assert row.detail["to"] == "tiepnhan3.inbox" and row.actor_id is not None
    assert codes(client, auth, "tiepnhan3.inbox", scope="mine") == [code]
    assert code not in codes(client, auth, scope="unassigned")


# --------------------------------------------------------------------------- delegation


def _delegate(app, delegator, delegate, starts, ends):
    c = app.test_client()
    login(c, delegator)
    page = c.get("/can-bo/uy-quyen").get_data(as_text=True)
    grant = re.search(r'<option value="(\d+)"[^>]*>[^<]*Tiếp nhận|<option value="(\d+)"', page)
    grant_id = next(g for g in grant.groups() if g)
    return c.post("/can-bo/uy-quyen", data={"grant": grant_id, "delegate": delegate,
                                           "starts_on": starts.isoformat(), "ends_on": ends.isoformat()})


def test_delegate_sees_and_completes_during_the_range_only(app, client, auth, colleagues):
    today = utcnow().astimezone(VN_TZ).date()
    inside, outside = submit(client), submit(client)
    t_in, t_out = task_of(app, inside), task_of(app, outside)
    assert client.post(f"/api/v1/tasks/{t_in}/claim", headers=auth("tiepnhan3.inbox")).status_code == 200
    assert client.post(f"/api/v1/tasks/{t_out}/claim", headers=auth("tiepnhan3.inbox")).status_code == 200

    # not a colleague with the same role: refused
    assert _delegate(app, "tiepnhan3.inbox", "chuyenvien.tinh", today, today).status_code == 422
    # a delegation that starts tomorrow gives nothing today
    assert _delegate(app, "tiepnhan3.inbox", "tiepnhan4.inbox", today + timedelta(days=1),
                     today + timedelta(days=5)).status_code == 303
    assert codes(client, auth, "tiepnhan4.inbox", scope="mine") == []
    r = client.post(f"/api/v1/tasks/{t_out}/complete", json={"data": {"decision": "accept"}},
                    headers=auth("tiepnhan4.inbox"))
    assert r.status_code == 409
    # one in force today
    assert _delegate(app, "tiepnhan3.inbox", "tiepnhan4.inbox", today - timedelta(days=1), today).status_code == 303
    assert set(codes(client, auth, "tiepnhan4.inbox", scope="mine")) == {inside, outside}
    counts = client.get("/api/v1/tasks?scope=mine&counts=1", headers=auth("tiepnhan4.inbox")).get_json()["counts"]
    assert counts["mine"] == 2
    r = client.post(f"/api/v1/tasks/{t_in}/complete", json={"data": {"decision": "accept"}},
                    headers=auth("tiepnhan4.inbox"))
    assert r.status_code == 200, r.get_json()
    with app.app_context():
        row = db.session.scalar(select(AuditLog).where(AuditLog.action == "complete_on_behalf"))
        assert row.detail["on_behalf_of"] == "tiepnhan3.inbox"
    page = app.test_client()
    login(page, "tiepnhan3.inbox")
    listing = page.get("/can-bo/uy-quyen").get_data(as_text=True)
    assert "Đang hiệu lực" in listing and "Chưa bắt đầu" in listing
    # cancelled: the delegate loses the tasks
    with app.app_context():
        ids = [i for (i,) in db.session.execute(text("SELECT id FROM task_delegations"))]
    for i in ids:
        page.post(f"/can-bo/uy-quyen/{i}/huy")
    assert codes(client, auth, "tiepnhan4.inbox", scope="mine") == []
    r = client.post(f"/api/v1/tasks/{t_out}/complete", json={"data": {"decision": "accept"}},
                    headers=auth("tiepnhan4.inbox"))
    assert r.status_code == 409
