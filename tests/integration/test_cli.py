"""The administration commands, as an operator runs them."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from app.auth.models import ApiToken, User
from app.extensions import db

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def test_units_users_tokens(app):
    run = app.test_cli_runner().invoke
    r = run(args=["units", "create", "000.00.99.H41", "--name", "Sở Thử nghiệm"])
    assert r.exit_code == 0, r.output
    assert run(args=["units", "create", "000.00.99.H41", "--name", "again"]).exit_code == 1
    assert run(args=["units", "create", "bad code!", "--name", "x"]).exit_code == 1
    r = run(args=["users", "create", "multi.role", "--role", "reception", "--role", "specialist",
                  "--unit", "000.00.99.H41", "--password", "Mat-khau-dai-1"])
    assert r.exit_code == 0, r.output
    assert run(args=["users", "create", "x", "--role", "nope", "--unit", "000.00.99.H41"]).exit_code == 1
    r = run(args=["users", "token", "multi.role"])
    token = r.output.strip().splitlines()[-1]
    assert r.exit_code == 0 and token.startswith("mc_")
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "multi.role"))
        assert {g.role.code for g in user.grants} == {"reception", "specialist"}
        assert user.password_hash.startswith("$argon2")
        stored = db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)).all()
        assert stored and all(t.token_hash != token for t in stored)  # only a hash is kept
    assert app.test_client().get("/api/v1/tasks", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_lane_aliases_can_be_added(app, tmp_path):
    run = app.test_cli_runner().invoke
    xml = (FIXTURES / "cap_the_thu_vien.bpmn").read_text(encoding="utf-8")
    xml = xml.replace('name="chuyen vien thu ly"', 'name="Tổ thẩm định"').replace("9.999001", "9.999777")
    path = tmp_path / "alias.bpmn"
    path.write_text(xml, encoding="utf-8")
    r = run(args=["workflows", "deploy", str(path), "--forms", str(FIXTURES / "forms"), "--unit", "000.00.00.H41"])
    assert r.exit_code == 1 and "Tổ thẩm định" in r.output
    assert run(args=["roles", "alias", "specialist", "TỔ THẨM ĐỊNH"]).exit_code == 0
    r = run(args=["workflows", "deploy", str(path), "--forms", str(FIXTURES / "forms"), "--unit", "000.00.00.H41"])
    assert r.exit_code == 0, r.output
    assert "TỔ THẨM ĐỊNH" in run(args=["roles", "list"]).output
    assert run(args=["roles", "alias", "leader", "to tham dinh"]).exit_code == 1  # already specialist's


def test_deploy_refuses_broken_files_without_traceback(app, tmp_path):
    run = app.test_cli_runner().invoke
    evil = tmp_path / "evil.bpmn"
    evil.write_text('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>')
    r = run(args=["workflows", "deploy", str(evil), "--unit", "000.00.00.H41"])
    assert r.exit_code == 1 and "DOCTYPE" in r.output and "Traceback" not in r.output
    missing = tmp_path / "missing_form.bpmn"
    missing.write_text((FIXTURES / "cap_the_thu_vien.bpmn").read_text(encoding="utf-8")
                       .replace("thu_vien_xu_ly.json", "khong_co.json").replace("9.999001", "9.999778"),
                       encoding="utf-8")
    r = run(args=["workflows", "deploy", str(missing), "--forms", str(FIXTURES / "forms"), "--unit", "000.00.00.H41"])
    assert r.exit_code == 1 and "khong_co.json" in r.output


def test_new_version_keeps_running_dossiers_on_theirs(app, client, auth, library_procedure, tmp_path):
    r = client.post("/api/v1/dossiers", json={"procedure": "9.999001", "applicant": {"name": "Đỗ Văn Em", "phone":
                    "0912333444"}, "data": {"reader_name": "Đỗ Văn Em", "birth_date": "1980-01-01"}})
    old_code = r.get_json()["code"]
    before = client.get("/api/v1/procedures?limit=500").get_json()["items"]
    v1 = next(p["version"] for p in before if p["code"] == "9.999001")
    xml = (FIXTURES / "cap_the_thu_vien.bpmn").read_text(encoding="utf-8").replace(
        "Xử lý, cấp thẻ", "Xử lý và in thẻ")
    path = tmp_path / "v2.bpmn"
    path.write_text(xml, encoding="utf-8")
    run = app.test_cli_runner().invoke
    assert run(args=["workflows", "deploy", str(path), "--forms", str(FIXTURES / "forms")]).exit_code == 0
    after = client.get("/api/v1/procedures?limit=500").get_json()["items"]
    assert next(p["version"] for p in after if p["code"] == "9.999001") == v1 + 1
    # identical redeploy is a no-op
    assert run(args=["workflows", "deploy", str(path), "--forms", str(FIXTURES / "forms")]).exit_code == 0
    assert next(p["version"] for p in client.get("/api/v1/procedures?limit=500").get_json()["items"]
                if p["code"] == "9.999001") == v1 + 1
    new_code = client.post("/api/v1/dossiers", json={"procedure": "9.999001", "applicant": {
        "name": "Đỗ Văn Em", "phone": "0912333444"}, "data": {"reader_name": "Đỗ Văn Em",
                                                             "birth_date": "1980-01-01"}}).get_json()["code"]
    for code, expected in ((old_code, "Xử lý, cấp thẻ"), (new_code, "Xử lý và in thẻ")):
        tid = next(t["id"] for t in client.get("/api/v1/tasks", headers=auth("tiepnhan.tinh")).get_json()["items"]
                   if t["dossier_code"] == code)
        r = client.post(f"/api/v1/tasks/{tid}/complete", json={"data": {"decision": "accept"}},
                        headers=auth("tiepnhan.tinh"))
        assert r.get_json()["tasks"][0]["name"] == expected
    # restore the fixture as the current version for the other tests
    assert run(args=["workflows", "deploy", str(FIXTURES / "cap_the_thu_vien.bpmn"),
                     "--forms", str(FIXTURES / "forms")]).exit_code == 0
