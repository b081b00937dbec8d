"""Designer pages and the deploy API: drafts, lint, publish, retire, compare, permissions, version pinning."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
FORMS = FIXTURES / "forms"


def login(app, username):
    c = app.test_client()
    r = c.post("/dang-nhap", data={"username": username, "password": "MotCua@2026"})
    assert r.status_code == 302
    return c


def fixture_xml(code: str, task_name: str = "Xử lý, cấp thẻ") -> bytes:
    xml = (FIXTURES / "cap_the_thu_vien.bpmn").read_text(encoding="utf-8")
    return xml.replace("9.999001", code).replace("Xử lý, cấp thẻ", task_name).encode()


def form_files():
    return [(io.BytesIO(p.read_bytes()), p.name) for p in sorted(FORMS.glob("*.json"))]


def test_only_designers_of_the_owning_unit_and_admins(app):
    assert login(app, "chuyenvien.tinh").get("/thiet-ke/").status_code == 403
    assert app.test_client().get("/thiet-ke/").status_code == 302
    page = login(app, "thietke.tinh").get("/thiet-ke/").get_data(as_text=True)
    assert "Cấp giấy phép xây dựng" in page and "Đăng ký khai sinh" not in page  # the ward's procedure
    assert login(app, "thietke.phuong").get("/thiet-ke/1.009994").status_code == 403
    assert login(app, "quantri.phuong").get("/thiet-ke/1.009994").status_code == 200  # admins can do all


def test_new_procedure_from_the_starter_then_publish_and_submit(app, client):
    designer = login(app, "thietke.tinh")
    r = designer.post("/thiet-ke/thu-tuc-moi", data={"code": "bad code!", "name": "", "unit": "000.00.00.H41"})
    assert r.status_code == 422 and "Có lỗi cần sửa" in r.get_data(as_text=True)
    r = designer.post("/thiet-ke/thu-tuc-moi", data={"code": "9.888001", "name": "Cấp phép thử nghiệm",
                                                      "field": "Thử nghiệm", "unit": "000.00.00.H41"})
    assert r.status_code == 302
    page = designer.get(r.headers["Location"]).get_data(as_text=True)
    assert "Bản nháp" in page and 'id="lint-ok"' in page
    # a draft is not offered to citizens
    assert client.get("/thu-tuc/9.888001/nop-ho-so").status_code == 404
    assert designer.post("/thiet-ke/9.888001/v/1/xuat-ban").status_code == 302
    assert "Đang áp dụng" in designer.get("/thiet-ke/9.888001").get_data(as_text=True)
    r = client.post("/api/v1/dossiers", json={"procedure": "9.888001", "applicant": {"name": "Mai Anh", "phone":
                    "0912345678"}, "data": {"noi_dung": "Đề nghị cấp phép"}})
    assert r.status_code == 201, r.get_json()
    # retire: no new dossiers
    assert designer.post("/thiet-ke/9.888001/v/1/ngung").status_code == 302
    assert client.get("/thu-tuc/9.888001/nop-ho-so").status_code == 404


def test_draft_edit_lint_publish_compare_and_version_pinning(app, client, auth):
    run = app.test_cli_runner().invoke
    path = Path(app.config["UPLOAD_DIR"]) / "pin.bpmn"
    path.write_bytes(fixture_xml("9.888002"))
    assert run(args=["workflows", "deploy", str(path), "--forms", str(FORMS), "--unit", "000.00.00.H41"]).exit_code == 0
    old = client.post("/api/v1/dossiers", json={"procedure": "9.888002", "applicant": {"name": "Lý Văn Tám",
                      "phone": "0912345678"}, "data": {"reader_name": "Tám", "birth_date": "1990-01-01"}}).get_json()

    designer = login(app, "thietke.tinh")
    r = designer.post("/thiet-ke/9.888002/ban-nhap")
    number = int(re.search(r"/v/(\d+)$", r.headers["Location"]).group(1))
    assert number == 2
    assert designer.post("/thiet-ke/9.888002/ban-nhap").headers["Location"].endswith("/v/2")  # one open draft

    broken = fixture_xml("9.888002").replace(b'name="chuyen vien thu ly"', b'name="Phong khong ton tai"')
    res = designer.put("/thiet-ke/9.888002/v/2/bpmn", data=broken, content_type="application/xml").get_json()
    assert res["ok"] is False
    assert any(i["code"] == "lane-role" and i["element"] == "Process" for i in res["issues"])
    r = designer.post("/thiet-ke/9.888002/v/2/xuat-ban", follow_redirects=True)
    assert "Quy trình còn lỗi" in r.get_data(as_text=True)

    res = designer.put("/thiet-ke/9.888002/v/2/bpmn", data=fixture_xml("9.888002", "Xử lý và in thẻ"),
                       content_type="application/xml").get_json()
    assert res["ok"] is True
    assert designer.get("/thiet-ke/9.888002/v/2/bpmn").data == fixture_xml("9.888002", "Xử lý và in thẻ")
    diff = designer.get("/thiet-ke/9.888002/so-sanh?a=1&b=2").get_data(as_text=True)
    assert "Xử lý, cấp thẻ" in diff and "Xử lý và in thẻ" in diff
    assert designer.post("/thiet-ke/9.888002/v/2/xuat-ban").status_code == 302
    # published versions are immutable
    res = designer.put("/thiet-ke/9.888002/v/2/bpmn", data=fixture_xml("9.888002"), content_type="application/xml")
    assert res.status_code == 409

    new = client.post("/api/v1/dossiers", json={"procedure": "9.888002", "applicant": {"name": "Lý Văn Tám",
                      "phone": "0912345678"}, "data": {"reader_name": "Tám", "birth_date": "1990-01-01"}}).get_json()
    for created, expected in ((old, "Xử lý, cấp thẻ"), (new, "Xử lý và in thẻ")):
        tid = next(t["id"] for t in client.get("/api/v1/tasks", headers=auth("tiepnhan.tinh")).get_json()["items"]
                   if t["dossier_code"] == created["code"])
        r = client.post(f"/api/v1/tasks/{tid}/complete", json={"data": {"decision": "accept"}},
                        headers=auth("tiepnhan.tinh"))
        assert r.get_json()["tasks"][0]["name"] == expected
    listing = designer.get("/thiet-ke/9.888002").get_data(as_text=True)
    assert "Đã ngừng" in listing and "Đang áp dụng" in listing


def test_upload_of_hostile_or_foreign_bpmn_is_refused_with_a_message(app):
    run = app.test_cli_runner().invoke
    path = Path(app.config["UPLOAD_DIR"]) / "up.bpmn"
    path.write_bytes(fixture_xml("9.888003"))
    assert run(args=["workflows", "deploy", str(path), "--forms", str(FORMS), "--unit", "000.00.00.H41"]).exit_code == 0
    designer = login(app, "thietke.tinh")
    designer.post("/thiet-ke/9.888003/ban-nhap")
    evil = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>'
    r = designer.post("/thiet-ke/9.888003/v/2/tai-len", data={"bpmn": (io.BytesIO(evil), "evil.bpmn")},
                      content_type="multipart/form-data", follow_redirects=True)
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "DOCTYPE" in html and "root:" not in html
    corpus = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "bpmn-miwg-reference" / "A.1.0.bpmn"
    if corpus.is_file():
        r = designer.post("/thiet-ke/9.888003/v/2/tai-len", data={"bpmn": (io.BytesIO(corpus.read_bytes()), "A.bpmn")},
                          content_type="multipart/form-data", follow_redirects=True)
        assert r.status_code == 200 and 'id="lint-issues"' in r.get_data(as_text=True)
    assert designer.get("/thiet-ke/9.888003/v/2/tai-xuong.bpmn").status_code == 200


def test_deploy_api_creates_lints_and_publishes(app, client, auth):
    h = auth("thietke.tinh")
    r = client.post("/api/v1/procedures/9.888004/versions", headers=h, content_type="multipart/form-data",
                    data={"bpmn": (io.BytesIO(fixture_xml("9.888004")), "p.bpmn"), "forms": form_files(),
                          "unit": "000.00.00.H41", "name": "Thử API"})
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["status"] == "draft" and body["number"] == 1 and body["errors"] == []
    r = client.post("/api/v1/procedures/9.888004/versions/1/publish", headers=h)
    assert r.status_code == 200 and r.get_json()["status"] == "published"
    assert any(p["code"] == "9.888004" for p in client.get("/api/v1/procedures?limit=500").get_json()["items"])

    # lint errors: 422 with located issues, nothing stored
    r = client.post("/api/v1/procedures/9.888004/versions", headers=h, content_type="multipart/form-data",
                    data={"bpmn": (io.BytesIO(fixture_xml("9.888004")), "p.bpmn")})
    assert r.status_code == 422
    assert {i["code"] for i in r.get_json()["error"]["details"]} >= {"form-missing"}
    versions = client.get("/api/v1/procedures/9.888004/versions", headers=h).get_json()["items"]
    assert [v["number"] for v in versions] == [1]

    # other roles and other units may not deploy
    r = client.post("/api/v1/procedures/9.888004/versions", headers=auth("chuyenvien.tinh"),
                    content_type="multipart/form-data",
                    data={"bpmn": (io.BytesIO(fixture_xml("9.888004")), "p.bpmn"), "forms": form_files()})
    assert r.status_code == 403
    other = auth("thietke.phuong")
    assert client.post("/api/v1/procedures/9.888004/versions/1/publish", headers=other).status_code == 403
    assert client.post("/api/v1/procedures/9.888004/versions", headers=h).status_code == 422  # no file


@pytest.mark.parametrize("payload", [b"", b"\xff\xfe not utf8", b"<bpmn:definitions xmlns:bpmn='x'/>"])
def test_deploy_api_bad_files_never_500(client, auth, payload):
    r = client.post("/api/v1/procedures/9.888005/versions", headers=auth("thietke.tinh"),
                    content_type="multipart/form-data",
                    data={"bpmn": (io.BytesIO(payload), "p.bpmn"), "unit": "000.00.00.H41"})
    assert r.status_code in (400, 422) and "error" in r.get_json()


CORPUS = sorted((Path(__file__).resolve().parents[3] / "shared" / "corpus" / "bpmn-miwg-reference").glob("*.bpmn"))


@pytest.fixture(scope="module")
def corpus_target(app, tmp_path_factory):
    target = tmp_path_factory.mktemp("corpus") / "corpus_target.bpmn"
    target.write_bytes(fixture_xml("9.888009"))
    result = app.test_cli_runner().invoke(args=["workflows", "deploy", str(target), "--forms", str(FORMS),
                                                "--unit", "000.00.00.H41"])
    assert result.exit_code == 0, result.output
    return "9.888009"


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_corpus_files_through_the_deploy_api_and_the_upload_page(app, client, auth, path, corpus_target):
    """Files from other tools: refused with located messages by the API, stored as a viewable draft by the UI."""
    r = client.post("/api/v1/procedures/9.777000/versions", headers=auth("thietke.tinh"),
                    content_type="multipart/form-data",
                    data={"bpmn": (io.BytesIO(path.read_bytes()), path.name), "unit": "000.00.00.H41"})
    assert r.status_code in (201, 422), r.get_data(as_text=True)[:300]
    if r.status_code == 422:
        details = r.get_json()["error"]["details"]
        assert details and all(d["message"] for d in details)
    designer = login(app, "thietke.tinh")
    loc = designer.post("/thiet-ke/9.888009/ban-nhap").headers["Location"]
    number = int(loc.rsplit("/", 1)[1])
    page = designer.post(f"/thiet-ke/9.888009/v/{number}/tai-len", content_type="multipart/form-data",
                         data={"bpmn": (io.BytesIO(path.read_bytes()), path.name)}, follow_redirects=True)
    assert page.status_code == 200
    assert designer.get(f"/thiet-ke/9.888009/v/{number}/bpmn").data == path.read_bytes()  # kept for the viewer
    assert designer.get(f"/thiet-ke/9.888009/v/{number}/xem").status_code == 200
