"""The JSON API end to end over the test client, on a procedure deployed from a BPMN file by the CLI."""

from __future__ import annotations

import base64
import json
import re
import threading

import pytest
from sqlalchemy import func, select

from app.dossiers.models import Attachment, AuditLog, Dossier, WorkflowState
from app.extensions import db
from app.inbox.models import Task

CODE_RE = re.compile(r"^000\.00\.00\.H41-\d{6}-\d{4}$")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def png_data_url(name: str = "anh.png", body: bytes = PNG) -> str:
    return f"data:image/png;name={name};base64,{base64.b64encode(body).decode()}"


@pytest.fixture(autouse=True)
def _library(library_procedure):
    return library_procedure


def submit(client, **overrides):
    body = {
        "procedure": "9.999001",
        "channel": "online",
        "applicant": {"name": "Nguyễn Văn An", "id_number": "001203004567", "phone": "0912345678",
                      "email": "an@example.vn", "address": "Số 5 Lê Lợi, phường Trường Vinh, Nghệ An"},
        "data": {"reader_name": "Nguyễn Văn An", "birth_date": "2001-05-20", "card_type": "thuong", "months": 12},
    }
    body.update(overrides)
    return client.post("/api/v1/dossiers", json=body)


def open_task(client, auth, username, code):
    items = client.get("/api/v1/tasks?scope=available", headers=auth(username)).get_json()["items"]
    return next(t for t in items if t["dossier_code"] == code)


def count(model, app):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


# --------------------------------------------------------------------------- catalogue


def test_procedures_are_listed_with_paging(client):
    page = client.get("/api/v1/procedures?limit=2").get_json()
    assert len(page["items"]) == 2 and page["next_cursor"] is not None
    rest = client.get(f"/api/v1/procedures?limit=500&cursor={page['next_cursor']}").get_json()
    codes = [p["code"] for p in page["items"] + rest["items"]]
    assert "9.999001" in codes and "1.001193" in codes
    assert len(codes) == len(set(codes))
    lib = next(p for p in page["items"] + rest["items"] if p["code"] == "9.999001")
    assert lib["name"] == "Cấp thẻ thư viện (thử nghiệm)" and lib["version"] >= 1


def test_limit_out_of_range_is_422(client):
    assert client.get("/api/v1/procedures?limit=501").status_code == 422
    assert client.get("/api/v1/procedures?limit=abc").status_code == 422


def test_openapi_documents_every_path(app, client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    for path in ["/procedures", "/dossiers", "/dossiers/{code}", "/tasks", "/tasks/{task_id}/claim",
                 "/tasks/{task_id}/release", "/tasks/{task_id}/complete", "/tracking/{code}",
                 "/tracking/{code}/tasks/{task_id}/complete", "/tasks/{task_id}/assign", "/dossiers/{code}/notes",
                 "/dossiers/{code}/apologies"]:
        assert path in spec["paths"], path
    assert set(spec["paths"]["/dossiers/{code}/notes"]) == {"get", "post"}
    assert set(spec["paths"]["/dossiers/{code}/apologies"]) == {"get", "post"}
    assert "post" in spec["paths"]["/tasks/{task_id}/assign"]
    # every route of the API blueprint, with every method, is documented; every $ref resolves
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("api.") or rule.endpoint == "api.openapi":
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
        assert path in spec["paths"], path
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert method.lower() in spec["paths"][path], (method, path)
    refs = re.findall(r'"\$ref": "#/components/(\w+)/(\w+)"', json.dumps(spec))
    assert refs and all(name in spec["components"][kind] for kind, name in refs)


# --------------------------------------------------------------------------- submission


def test_submit_gives_code_secret_and_a_reception_task(app, client, auth):
    r = submit(client)
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert CODE_RE.match(body["code"])
    assert body["status"] == 1 and body["status_label"] == "Mới đăng ký"
    assert len(body["tracking_secret"]) == 10 and body["due_at"]
    task = open_task(client, auth, "tiepnhan.tinh", body["code"])
    assert task["role"] == "reception" and task["unit"] == "000.00.00.H41" and task["assignee"] is None
    assert task["name"] == "Kiểm tra, tiếp nhận hồ sơ" and task["due_at"]
    with app.app_context():
        d = db.session.scalar(select(Dossier).where(Dossier.code == body["code"]))
        assert d.tracking_secret_hash != body["tracking_secret"]  # stored hashed
        audit = db.session.scalars(select(AuditLog).where(AuditLog.dossier_id == d.id)).all()
        assert [(a.action, a.from_status, a.to_status) for a in audit] == [("submit", None, 1)]
        assert db.session.get(WorkflowState, d.id).state


def test_codes_count_up_within_the_day(client):
    a = submit(client).get_json()["code"]
    b = submit(client).get_json()["code"]
    assert a[:-4] == b[:-4] and int(b[-4:]) == int(a[-4:]) + 1


def test_invalid_submission_is_422_per_field_and_stores_nothing(app, client):
    r = submit(client, applicant={"name": "A", "phone": "12"},
               data={"birth_date": "20/05/2001", "months": 99, "hacker": 1})
    assert r.status_code == 422
    err = r.get_json()["error"]
    assert err["code"] == "validation_failed"
    fields = set(err["details"])
    assert {"applicant.name", "applicant.phone", "data.reader_name", "data.birth_date", "data.months"} <= fields
    assert any("hacker" in " ".join(v) for v in err["details"].values())
    assert count(Dossier, app) == 0 and count(Task, app) == 0 and count(AuditLog, app) == 0


def test_unknown_procedure_is_404_and_bad_json_is_400(client):
    assert submit(client, procedure="0.000000").status_code == 404
    r = client.post("/api/v1/dossiers", data="{not json", content_type="application/json")
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "bad_json"


def test_errors_speak_english_on_request(client):
    r = submit(client, procedure="0.000000")
    assert "Không tìm thấy" in r.get_json()["error"]["message"]
    r = client.post("/api/v1/dossiers", json={"procedure": "0.000000", "applicant": {}, "data": {}},
                    headers={"Accept-Language": "en"})
    assert r.get_json()["error"]["message"] == "No procedure '0.000000'."


def test_attachment_is_stored_and_referenced(app, client, auth):
    r = submit(client, data={"reader_name": "Lê Thị Bình", "birth_date": "1999-01-02", "photo": png_data_url()})
    assert r.status_code == 201, r.get_json()
    code = r.get_json()["code"]
    d = client.get(f"/api/v1/dossiers/{code}", headers=auth("tiepnhan.tinh")).get_json()
    assert d["data"]["photo"]["filename"] == "anh.png" and d["data"]["photo"]["content_type"] == "image/png"
    assert d["attachments"][0]["size"] == len(PNG)


def test_a_text_file_named_pdf_is_refused_and_nothing_is_kept(app, client):
    fake = "data:application/pdf;name=giay.pdf;base64," + base64.b64encode(b"just text").decode()
    r = submit(client, data={"reader_name": "Lê Thị Bình", "birth_date": "1999-01-02", "photo": fake})
    assert r.status_code == 422
    assert "photo" in " ".join(r.get_json()["error"]["details"])
    assert count(Dossier, app) == 0 and count(Attachment, app) == 0


# --------------------------------------------------------------------------- inbox and completion


def test_tasks_go_to_the_lane_role_in_the_handling_unit(client, auth):
    code = submit(client).get_json()["code"]

    def codes(user):
        items = client.get("/api/v1/tasks?scope=available", headers=auth(user)).get_json()["items"]
        return {t["dossier_code"] for t in items}

    assert code in codes("tiepnhan.tinh")
    assert code not in codes("chuyenvien.tinh")   # other role
    assert code not in codes("tiepnhan.phuong")   # same role, other unit


def test_api_needs_a_token(client):
    assert client.get("/api/v1/tasks").status_code == 401
    r = client.get("/api/v1/tasks", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "unauthorized"


def test_full_path_with_statuses_history_and_tracking(app, client, auth):
    created = submit(client).get_json()
    code, secret = created["code"], created["tracking_secret"]
    task = open_task(client, auth, "tiepnhan.tinh", code)

    r = client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {"decision": "accept"}},
                    headers=auth("tiepnhan.tinh"))
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["status"] == 4  # passed "received" (2), now processing (4)
    nxt = r.get_json()["tasks"][0]
    assert nxt["role"] == "specialist" and nxt["name"] == "Xử lý, cấp thẻ"

    mine = client.get("/api/v1/tasks?scope=mine", headers=auth("tiepnhan.tinh")).get_json()["items"]
    assert all(t["dossier_code"] != code for t in mine)

    r = client.post(f"/api/v1/tasks/{nxt['id']}/complete", json={"data": {"card_number": "TV000123"}},
                    headers=auth("chuyenvien.tinh"))
    assert r.status_code == 200 and r.get_json()["status"] == 10 and r.get_json()["tasks"] == []

    d = client.get(f"/api/v1/dossiers/{code}", headers=auth("lanhdao.tinh")).get_json()
    transitions = [(h["from_status"], h["to_status"]) for h in d["history"] if h["action"] == "status"]
    assert transitions == [(1, 2), (2, 4), (4, 10)]
    actors = {h["actor"] for h in d["history"]}
    assert {"applicant", "user:tiepnhan.tinh", "user:chuyenvien.tinh"} <= actors
    assert d["data"]["card_number"] == "TV000123" and d["data"]["decision"] == "accept"
    assert d["received_at"] and d["finished_at"]

    t = client.get(f"/api/v1/tracking/{code}?secret={secret}").get_json()
    assert t["status"] == 10 and t["status_label"] == "Đã trả kết quả" and t["due_at"]
    names = [s["name"] for s in t["steps"]]
    assert names[0] == "Nộp hồ sơ"
    assert "Kiểm tra, tiếp nhận hồ sơ" in names and "Hồ sơ được tiếp nhận" in names and "Xử lý, cấp thẻ" in names
    assert all(s["finished_at"] for s in t["steps"])
    assert "applicant" not in t  # no personal data on the public tracking answer
    titles = [e["title"] for e in t["timeline"]]  # the same plain-language timeline as the tracking page
    assert titles[0].startswith("Đã nộp hồ sơ") and any(x.startswith("Đã trả kết quả") for x in titles)
    assert t["payment"] == {"fee": 0, "paid": False, "paid_at": None, "can_pay": False}
    assert t["postal"] == [] and t["rating"] is None
    r = client.post(f"/api/v1/tracking/{code}/rating", json={"secret": secret, "level": "satisfied"})
    assert r.status_code == 201
    assert client.get(f"/api/v1/tracking/{code}?secret={secret}").get_json()["rating"]["level"] == "satisfied"


def test_refusal_ends_with_status_3(client, auth):
    code = submit(client).get_json()["code"]
    task = open_task(client, auth, "tiepnhan.tinh", code)
    r = client.post(f"/api/v1/tasks/{task['id']}/complete",
                    json={"data": {"decision": "refuse", "reception_note": "Thiếu ảnh"}}, headers=auth("tiepnhan.tinh"))
    assert r.get_json()["status"] == 3 and r.get_json()["tasks"] == []


def test_wrong_role_is_403(client, auth):
    code = submit(client).get_json()["code"]
    task = open_task(client, auth, "tiepnhan.tinh", code)
    for user in ("chuyenvien.tinh", "tiepnhan.phuong"):
        r = client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {"decision": "accept"}},
                        headers=auth(user))
        assert r.status_code == 403
        assert client.post(f"/api/v1/tasks/{task['id']}/claim", headers=auth(user)).status_code == 403


def test_claim_release_and_409s(app, client, auth):
    runner = app.test_cli_runner()
    res = runner.invoke(args=["users", "create", "tiepnhan2.tinh", "--role", "reception", "--unit", "000.00.00.H41"])
    assert res.exit_code == 0, res.output
    code = submit(client).get_json()["code"]
    task = open_task(client, auth, "tiepnhan.tinh", code)
    tid = task["id"]

    r = client.post(f"/api/v1/tasks/{tid}/claim", headers=auth("tiepnhan.tinh"))
    assert r.status_code == 200 and r.get_json()["assignee"] == "tiepnhan.tinh"
    assert client.post(f"/api/v1/tasks/{tid}/claim", headers=auth("tiepnhan2.tinh")).status_code == 409
    r = client.post(f"/api/v1/tasks/{tid}/complete", json={"data": {"decision": "accept"}},
                    headers=auth("tiepnhan2.tinh"))
    assert r.status_code == 409
    # claimed tasks leave the others' "available" list and appear in the holder's "mine"
    assert tid not in [t["id"] for t in client.get("/api/v1/tasks", headers=auth("tiepnhan2.tinh")).get_json()["items"]]
    assert tid in [t["id"] for t in client.get("/api/v1/tasks?scope=mine",
                                               headers=auth("tiepnhan.tinh")).get_json()["items"]]
    assert client.post(f"/api/v1/tasks/{tid}/release", headers=auth("tiepnhan2.tinh")).status_code == 409
    assert client.post(f"/api/v1/tasks/{tid}/release", headers=auth("tiepnhan.tinh")).status_code == 200
    r = client.post(f"/api/v1/tasks/{tid}/complete", json={"data": {"decision": "accept"}},
                    headers=auth("tiepnhan2.tinh"))
    assert r.status_code == 200
    again = client.post(f"/api/v1/tasks/{tid}/complete", json={"data": {"decision": "accept"}},
                        headers=auth("tiepnhan2.tinh"))
    assert again.status_code == 409
    assert client.post("/api/v1/tasks/999999/claim", headers=auth("tiepnhan.tinh")).status_code == 404


def test_invalid_task_data_is_422_and_changes_nothing(app, client, auth):
    code = submit(client).get_json()["code"]
    task = open_task(client, auth, "tiepnhan.tinh", code)
    with app.app_context():
        before = db.session.scalar(select(WorkflowState.state).join(Dossier).where(Dossier.code == code))
    r = client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {"decision": "maybe"}},
                    headers=auth("tiepnhan.tinh"))
    assert r.status_code == 422 and "decision" in r.get_json()["error"]["details"]
    with app.app_context():
        after = db.session.scalar(select(WorkflowState.state).join(Dossier).where(Dossier.code == code))
        status = db.session.scalar(select(Dossier.status).where(Dossier.code == code))
    assert before == after and status == 1
    assert open_task(client, auth, "tiepnhan.tinh", code)["id"] == task["id"]


def test_concurrent_completion_exactly_one_wins(app, client, auth):
    runner = app.test_cli_runner()
    res = runner.invoke(args=["users", "create", "tiepnhan3.tinh", "--role", "reception", "--unit", "000.00.00.H41"])
    assert res.exit_code == 0
    heads = [auth("tiepnhan.tinh"), auth("tiepnhan3.tinh")]
    for _round in range(8):
        code = submit(client).get_json()["code"]
        tid = open_task(client, auth, "tiepnhan.tinh", code)["id"]
        barrier = threading.Barrier(2)
        results: list[int] = []

        def go(h, barrier=barrier, tid=tid, results=results):
            c = app.test_client()
            barrier.wait()
            r = c.post(f"/api/v1/tasks/{tid}/complete", json={"data": {"decision": "accept"}}, headers=h)
            results.append(r.status_code)

        threads = [threading.Thread(target=go, args=(h,)) for h in heads]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results) == [200, 409], results
        with app.app_context():
            d = db.session.scalar(select(Dossier).where(Dossier.code == code))
            open_tasks = db.session.scalars(select(Task).where(Task.dossier_id == d.id, Task.state == "open")).all()
            assert d.status == 4 and len(open_tasks) == 1 and open_tasks[0].bpmn_id == "Process"
            completions = db.session.scalar(select(func.count()).select_from(AuditLog).where(
                AuditLog.dossier_id == d.id, AuditLog.action == "complete_task"))
            assert completions == 1


# --------------------------------------------------------------------------- visibility and tracking


def test_officials_of_another_unit_cannot_see_the_dossier(client, auth):
    code = submit(client).get_json()["code"]
    assert client.get(f"/api/v1/dossiers/{code}", headers=auth("lanhdao.phuong")).status_code == 403
    assert client.get(f"/api/v1/dossiers/{code}", headers=auth("lanhdao.tinh")).status_code == 200
    assert client.get("/api/v1/dossiers/NOPE", headers=auth("lanhdao.tinh")).status_code == 404


def test_unknown_code_and_wrong_secret_look_the_same(client):
    created = submit(client).get_json()
    wrong = client.get(f"/api/v1/tracking/{created['code']}?secret=AAAAAAAAAA")
    unknown = client.get("/api/v1/tracking/000.00.00.H41-000101-9999?secret=AAAAAAAAAA")
    assert wrong.status_code == unknown.status_code == 404
    assert wrong.get_json() == unknown.get_json()
    ok = client.get(f"/api/v1/tracking/{created['code']}?secret={created['tracking_secret'].lower()}")
    assert ok.status_code == 200  # the secret is read back from paper: case does not matter
