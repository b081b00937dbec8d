"""The BPMN modeler and viewer pages, the bpmn-js files served by the app, saving from the browser (PUT with
CSRF), and a dossier's progress on its diagram."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from app import create_app
from app.catalog.models import Procedure, ProcedureVersion
from app.config import ROOT, TestConfig
from app.designer.modeler import VENDOR_FILES
from app.extensions import db

PASSWORD = "MotCua@2026"
DRAFT_CODE = "9.999101"  # a procedure of 000.00.00.H41 made by this module, left as a draft
NODE_MODULES = ROOT / "node_modules"
MODELER_JS = "bpmn-js/dist/bpmn-modeler.production.min.js"
needs_npm = pytest.mark.skipif(not (NODE_MODULES / MODELER_JS).is_file(),
                               reason="bpmn-js is not installed: run `make install` (npm ci)")


def login(client, username: str) -> None:
    r = client.post("/dang-nhap", data={"username": username, "password": PASSWORD})
    assert r.status_code == 302, r.get_data(as_text=True)[:500]


def logged_in(app, username: str):
    client = app.test_client()
    login(client, username)
    return client


@pytest.fixture(scope="module")
def draft(app) -> str:
    """A new procedure of the provincial centre with its first draft (from the starter model)."""
    with app.app_context():
        exists = db.session.scalar(select(Procedure).where(Procedure.code == DRAFT_CODE)) is not None
    if not exists:
        client = logged_in(app, "thietke.tinh")
        r = client.post("/thiet-ke/thu-tuc-moi", data={"code": DRAFT_CODE, "name": "Thủ tục thử trình vẽ",
                                                       "field": "Thử nghiệm", "unit": "000.00.00.H41"})
        assert r.status_code == 302, r.get_data(as_text=True)[:1000]
    return DRAFT_CODE


def draft_urls(code: str) -> dict[str, str]:
    base = f"/thiet-ke/{code}/v/1"
    return {"edit": f"{base}/ve", "view": f"{base}/xem", "source": f"{base}/bpmn"}


def page_config(html: str) -> dict:
    m = re.search(r'<script type="application/json" id="modeler-config">(.*?)</script>', html, re.S)
    assert m, "the modeler page carries its settings as JSON"
    return json.loads(m.group(1))


# --------------------------------------------------------------------------- vendor files


@needs_npm
def test_vendor_route_serves_allow_listed_files_with_long_cache(client):
    r = client.get("/assets/vendor/" + MODELER_JS)
    assert r.status_code == 200
    assert r.mimetype == "text/javascript"
    assert r.data == (NODE_MODULES / MODELER_JS).read_bytes()
    assert r.cache_control.max_age == 365 * 24 * 3600 and r.cache_control.public
    assert "immutable" in r.headers["Cache-Control"]
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    r.close()
    css = client.get("/assets/vendor/bpmn-js/dist/assets/bpmn-font/css/bpmn.css")
    assert css.status_code == 200 and css.mimetype == "text/css" and b"@font-face" in css.data
    css.close()
    font = client.get("/assets/vendor/bpmn-js/dist/assets/bpmn-font/font/bpmn.woff2")
    assert font.status_code == 200 and font.mimetype == "font/woff2"
    font.close()


@pytest.mark.parametrize("path", [
    "../package.json",
    "bpmn-js/../../package.json",
    "bpmn-js/dist/../../../app/config.py",
    "%2e%2e/%2e%2e/app/config.py",
    "..%2f..%2fapp%2fconfig.py",
    "/etc/passwd",
    "bpmn-js/package.json",                           # exists, not allow-listed
    "bpmn-js/dist/bpmn-modeler.development.js",       # exists, not allow-listed
    "bpmn-moddle/dist/index.js",
    "bpmn-js/dist/assets/bpmn-font/font/nothing.woff2",
])
def test_vendor_route_refuses_traversal_and_files_off_the_list(client, path):
    r = client.get("/assets/vendor/" + path, follow_redirects=True)  # "//" is merged by a redirect
    assert r.status_code == 404, path
    assert b"require(" not in r.data and b"SECRET_KEY" not in r.data


def test_vendor_allow_list_stays_inside_bpmn_js_dist():
    for path in VENDOR_FILES:
        assert path.startswith("bpmn-js/dist/") and ".." not in path


def test_pages_say_so_when_bpmn_js_is_not_installed(app, draft, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "NODE_MODULES_DIR", str(tmp_path / "no-node-modules"))
    designer = logged_in(app, "thietke.tinh")
    for url in (draft_urls(draft)["edit"], draft_urls(draft)["view"]):
        r = designer.get(url)
        html = r.get_data(as_text=True)
        assert r.status_code == 200, url
        assert "Chưa hiển thị được sơ đồ" in html and "make install" in html
        assert "/assets/vendor/" not in html and "modeler.js" not in html
    assert designer.get("/assets/vendor/" + MODELER_JS).status_code == 404


# --------------------------------------------------------------------------- permissions


@pytest.mark.parametrize("username, status", [
    ("thietke.tinh", 200),     # designer of the owning unit
    ("quantri.phuong", 200),   # administrators can do all
    ("thietke.phuong", 403),   # designer of another unit
    ("chuyenvien.tinh", 403),  # an official, not a designer
    ("tiepnhan.tinh", 403),
])
def test_modeler_and_viewer_permissions(app, draft, username, status):
    client = logged_in(app, username)
    for url in draft_urls(draft).values():
        assert client.get(url).status_code == status, (username, url)


def test_anonymous_is_sent_to_the_login_page(client, draft):
    for url in draft_urls(draft).values():
        r = client.get(url)
        assert r.status_code == 302 and "/dang-nhap" in r.headers["Location"], url
    r = client.put(f"/thiet-ke/{draft}/v/1/bpmn", data=b"<x/>")
    assert r.status_code == 302 and "/dang-nhap" in r.headers["Location"]


@needs_npm
def test_modeler_page_has_what_the_script_needs(app, draft):
    html = logged_in(app, "thietke.tinh").get(draft_urls(draft)["edit"]).get_data(as_text=True)
    assert '<meta name="csrf-token" content="' in html
    assert "/assets/vendor/" + MODELER_JS + "?v=" in html and "/static/js/modeler.js" in html
    assert "/assets/vendor/bpmn-js/dist/assets/diagram-js.css" in html and "https://" not in html.split("<main")[1]
    assert 'role="status"' in html and "Thuộc tính" in html
    assert "Trình vẽ sơ đồ cần màn hình rộng" in html  # the polite note shown on small screens
    config = page_config(html)
    assert config["sourceUrl"] == f"/thiet-ke/{draft}/v/1/bpmn"
    assert config["saveUrl"] == f"/thiet-ke/{draft}/v/1/bpmn"
    schemas = [f["name"] for f in config["forms"]["schemas"]]
    assert schemas == sorted(schemas) and "p_9_999101_nop.json" in schemas and "p_9_999101_xu_ly.json" in schemas
    assert config["moddle"]["uri"] == "http://spiffworkflow.org/bpmn/schema/1.0/core"
    assert {t["name"] for t in config["moddle"]["types"]} >= {"Properties", "Property"}
    assert [s[0] for s in config["statuses"]] == [str(i) for i in range(1, 11)]
    assert config["statuses"][1] == ["2", "Đã tiếp nhận"]
    assert config["laneRoles"] == ["Bộ phận một cửa", "Chuyên viên", "Lãnh đạo", "Công dân / Tổ chức"]


def test_published_versions_open_read_only(app, library_procedure):
    designer = logged_in(app, "thietke.tinh")
    r = designer.get(f"/thiet-ke/{library_procedure}/v/1/ve")
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/thiet-ke/{library_procedure}/v/1/xem")
    page = designer.get(r.headers["Location"]).get_data(as_text=True)
    assert "không sửa được" in page and "Đang áp dụng" in page
    assert "Xử lý, cấp thẻ" in page  # the text list of steps
    assert designer.get(f"/thiet-ke/{library_procedure}/v/99/xem").status_code == 404


# --------------------------------------------------------------------------- saving with CSRF


@pytest.fixture
def csrf_app(app, database_url, tmp_path):
    """The suite's database with CSRF protection on (the suite's TestConfig turns it off)."""
    config = {k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()}
    config.update(SQLALCHEMY_DATABASE_URI=database_url, UPLOAD_DIR=str(tmp_path / "uploads"),
                  WTF_CSRF_ENABLED=True)
    csrf_app = create_app(config)
    yield csrf_app
    with csrf_app.app_context():
        db.session.remove()
        db.engine.dispose()


def _token(html: str) -> str:
    m = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert m, "no CSRF token on the page"
    return m.group(1)


def test_saving_from_the_modeler_needs_the_csrf_header(csrf_app, draft):
    client = csrf_app.test_client()
    token = _token(client.get("/dang-nhap").get_data(as_text=True))
    r = client.post("/dang-nhap", data={"username": "thietke.tinh", "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 302
    page = client.get(draft_urls(draft)["edit"]).get_data(as_text=True)
    header_token = re.search(r'<meta name="csrf-token" content="([^"]+)">', page).group(1)
    original = client.get(draft_urls(draft)["source"]).get_data(as_text=True)
    renamed = original.replace('name="Xử lý hồ sơ"', 'name="Xử lý, thẩm định hồ sơ"')
    assert renamed != original
    url = f"/thiet-ke/{draft}/v/1/bpmn"
    body = renamed.encode("utf-8")
    headers = {"Content-Type": "application/xml; charset=utf-8"}

    refused = client.put(url, data=body, headers=headers)
    assert refused.status_code == 400
    assert "Phiên làm việc đã hết hạn" in refused.get_data(as_text=True)
    assert client.get(draft_urls(draft)["source"]).get_data(as_text=True) == original  # nothing saved

    wrong = client.put(url, data=body, headers={**headers, "X-CSRFToken": "not-the-token"})
    assert wrong.status_code == 400

    saved = client.put(url, data=body, headers={**headers, "X-CSRFToken": header_token})
    assert saved.status_code == 200, saved.get_data(as_text=True)[:500]
    answer = saved.get_json()
    assert answer["ok"] is True and answer["issues"] == [] and answer["saved_at"]
    stored = client.get(draft_urls(draft)["source"]).get_data(as_text=True)
    assert 'name="Xử lý, thẩm định hồ sơ"' in stored
    assert 'spiffworkflow:property name="formJsonSchemaFilename"' in stored  # extensions kept

    # a model with a problem is still saved (it is a draft) and the issues come back with element ids
    broken = renamed.replace('name="Chuyên viên"', 'name="Phòng không có thật"')
    r = client.put(url, data=broken.encode("utf-8"), headers={**headers, "X-CSRFToken": header_token})
    assert r.status_code == 200
    answer = r.get_json()
    assert answer["ok"] is False
    assert {"level": "error", "code": "lane-role", "element": "Process"}.items() <= next(
        i for i in answer["issues"] if i["code"] == "lane-role").items()
    # put the draft back as it was for the other tests
    r = client.put(url, data=original.encode("utf-8"), headers={**headers, "X-CSRFToken": header_token})
    assert r.status_code == 200 and r.get_json()["ok"] is True


def test_saving_a_published_version_is_refused(app, library_procedure):
    designer = logged_in(app, "thietke.tinh")
    before = designer.get(f"/thiet-ke/{library_procedure}/v/1/bpmn").get_data(as_text=True)
    r = designer.put(f"/thiet-ke/{library_procedure}/v/1/bpmn", data=before.replace("Xử lý, cấp thẻ", "Khác"),
                     headers={"Content-Type": "application/xml"})
    assert r.status_code == 409
    with app.app_context():
        proc = db.session.scalar(select(Procedure).where(Procedure.code == library_procedure))
        v = db.session.scalar(select(ProcedureVersion).where(ProcedureVersion.procedure_id == proc.id,
                                                             ProcedureVersion.number == 1))
        assert "Xử lý, cấp thẻ" in v.bpmn_xml


# --------------------------------------------------------------------------- a dossier's progress


def _submit_library_dossier(client) -> str:
    r = client.post("/api/v1/dossiers", json={
        "procedure": "9.999001", "channel": "online",
        "applicant": {"name": "Lê Thị Bình", "phone": "0912345678"},
        "data": {"reader_name": "Lê Thị Bình", "birth_date": "1999-01-02"}})
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.get_json()["code"]


def _complete_reception(client, auth, code: str) -> None:
    items = client.get("/api/v1/tasks?scope=available", headers=auth("tiepnhan.tinh")).get_json()["items"]
    task = next(t for t in items if t["dossier_code"] == code)
    r = client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {"decision": "accept"}},
                    headers=auth("tiepnhan.tinh"))
    assert r.status_code == 200, r.get_data(as_text=True)


def test_progress_lists_completed_and_current_steps(app, client, auth, library_procedure):
    code = _submit_library_dossier(client)
    official = logged_in(app, "chuyenvien.tinh")
    url = f"/can-bo/ho-so/{code}/tien-do.json"

    first = official.get(url)
    assert first.status_code == 200 and first.mimetype == "application/json"
    assert "no-store" in first.headers["Cache-Control"]
    data = first.get_json()
    assert data["completed"] == ["StartEvent_nop"] and data["current"] == ["Receive"]
    assert data["code"] == code and data["version"] == 1
    assert data["xml"].startswith("<?xml") and 'id="Receive"' in data["xml"]

    _complete_reception(client, auth, code)
    data = official.get(url).get_json()
    assert data["completed"] == ["StartEvent_nop", "Receive", "Decide", "Received"]
    assert data["current"] == ["Process"]
    assert [(s["id"], s["state"]) for s in data["steps"]] == [
        ("StartEvent_nop", "done"), ("Receive", "done"), ("Received", "done"), ("Process", "current")]  # no gateway

    # the dossier page lists the same steps as text (no JavaScript needed) and links the diagram's data
    page = official.get(f"/can-bo/ho-so/{code}").get_data(as_text=True)
    assert "Tiến độ xử lý theo quy trình" in page
    steps = re.search(r'<ol class="mc-steps" id="progress-steps"[^>]*>(.*?)</ol>', page, re.S).group(1)
    assert re.search(r"Đã hoàn thành:</span>\s*Kiểm tra, tiếp nhận hồ sơ", steps)
    assert re.search(r"Đang thực hiện:</span>\s*Xử lý, cấp thẻ", steps)
    assert steps.index("Nộp hồ sơ") < steps.index("Kiểm tra, tiếp nhận hồ sơ") < steps.index("Xử lý, cấp thẻ")
    if (NODE_MODULES / MODELER_JS).is_file():
        assert f'data-progress-url="/can-bo/ho-so/{code}/tien-do.json"' in page
        assert "Đường hồ sơ đã đi" in page  # the legend says in words what the colours mean


def test_progress_is_for_officials_who_may_see_the_dossier(app, client, library_procedure):
    code = _submit_library_dossier(client)
    url = f"/can-bo/ho-so/{code}/tien-do.json"
    assert logged_in(app, "chuyenvien.phuong").get(url).status_code == 403  # a specialist of another unit
    assert logged_in(app, "tiepnhan.phuong").get(url).status_code == 403
    r = client.get(url)
    assert r.status_code == 302 and "/dang-nhap" in r.headers["Location"]
    reception = logged_in(app, "tiepnhan.tinh")
    assert reception.get(url).status_code == 200
    assert reception.get("/can-bo/ho-so/000.00.00.H41-000101-9999/tien-do.json").status_code == 404


def test_dossier_page_without_bpmn_js_keeps_the_text_list(app, client, library_procedure, tmp_path, monkeypatch):
    code = _submit_library_dossier(client)
    monkeypatch.setitem(app.config, "NODE_MODULES_DIR", str(tmp_path / "none"))
    page = logged_in(app, "tiepnhan.tinh").get(f"/can-bo/ho-so/{code}").get_data(as_text=True)
    assert "Đang thực hiện:</span>" in page and "Kiểm tra, tiếp nhận hồ sơ" in page
    assert "chưa cài thư viện vẽ sơ đồ" in page and "/assets/vendor/" not in page


def test_descriptor_file_is_valid_json_with_the_spiffworkflow_namespace():
    path = Path(ROOT / "app" / "static" / "js" / "spiffworkflow-moddle.json")
    descriptor = json.loads(path.read_text(encoding="utf-8"))
    assert descriptor["prefix"] == "spiffworkflow" and descriptor["xml"] == {"tagAlias": "lowerCase"}


# --------------------------------------------------------------------------- partner connectors in the panel


@needs_npm
def test_modeler_config_lists_every_connector_operation_and_partner_message(app, draft):
    import connectors
    from connectors.base import _load_builtin

    config = page_config(logged_in(app, "thietke.tinh").get(draft_urls(draft)["edit"]).get_data(as_text=True))
    _load_builtin()
    expected = {f"{name}.{op}" for name, cls in connectors.REGISTRY.items() for op in cls.operations}
    ids = [c["id"] for c in config["connectors"]]
    assert set(ids) == expected and len(ids) == len(expected)
    assert {"vnpost.create_order", "vnpost.cancel_order", "vnpost.track_order", "axis.send_document",
            "axis.send_status", "portal.sync_dossier", "portal.update_progress", "email.send", "sms.send",
            "webhook.post"} <= set(ids)
    assert ids[0] == "vnpost.create_order"  # the partners designers use most come first
    by_id = {c["id"]: c for c in config["connectors"]}
    assert by_id["vnpost.create_order"]["label"] == "Bưu điện — tạo đơn (vnpost.create_order)"
    assert all(c["label"].endswith(f"({c['id']})") for c in config["connectors"])
    assert [(p["name"], p["type"]) for p in by_id["vnpost.create_order"]["parameters"]] == [
        ("service", "str"), ("cod_amount", "int")]
    assert [t[0] for t in config["parameterTypes"]] == ["str", "int", "bool"]
    assert [m[0] for m in config["messages"]] == ["vnpost.pickup.delivered", "vnpost.pickup.failed",
                                                  "vnpost.delivery.delivered", "vnpost.delivery.failed",
                                                  "axis.result"]
    types = {t["name"]: t for t in config["moddle"]["types"]}
    assert {"ServiceTaskOperator", "Parameters", "Parameter", "MessageVariable"} <= set(types)


def test_descriptor_knows_service_task_operators_and_message_variables():
    descriptor = json.loads((ROOT / "app" / "static" / "js" / "spiffworkflow-moddle.json").read_text(encoding="utf-8"))
    types = {t["name"]: t for t in descriptor["types"]}

    def props(name: str) -> dict[str, dict]:
        return {p["name"]: p for p in types[name]["properties"]}

    operator = props("ServiceTaskOperator")
    assert operator["id"] == {"name": "id", "type": "String", "isAttr": True}
    assert operator["resultVariable"]["isAttr"] and operator["parameters"]["type"] == "Parameters"
    assert not operator["parameters"].get("isMany")
    assert props("Parameters")["parameter"] == {"name": "parameter", "type": "Parameter", "isMany": True}
    assert {n: p.get("isAttr") for n, p in props("Parameter").items()} == {"id": True, "type": True, "value": True}
    assert props("MessageVariable")["value"] == {"name": "value", "type": "String", "isBody": True}
    # the earlier types are kept
    assert {"Properties", "Property", "PreScript", "PostScript", "InstructionsForEndUser"} <= set(types)


ROUND_TRIP_JS = """
import { readFileSync } from 'node:fs';
import { BpmnModdle } from %(moddle)s;
const descriptor = JSON.parse(readFileSync(%(descriptor)s, 'utf8'));
const moddle = new BpmnModdle({ spiffworkflow: descriptor });
const out = {};
for (const file of %(files)s) {
  const parsed = await moddle.fromXML(readFileSync(file, 'utf8'));
  const { xml } = await moddle.toXML(parsed.rootElement, { format: true });
  out[file] = { warnings: parsed.warnings.map((w) => w.message), xml };
}
process.stdout.write(JSON.stringify(out));
"""


@pytest.mark.skipif(shutil.which("node") is None or not (NODE_MODULES / "bpmn-moddle" / "dist" / "index.js").is_file(),
                    reason="Node.js or bpmn-moddle (npm ci) is not installed")
def test_descriptor_round_trips_the_connector_fixtures_through_bpmn_moddle(tmp_path):
    """What bpmn-js does on import and save (bpmn-moddle with our descriptor) keeps the operator, its
    parameters, the messages and the message variables."""
    from lxml import etree

    files = [str(ROOT / "tests" / "fixtures" / "connectors" / n) for n in ("buu_chinh.bpmn", "lien_thong_gui.bpmn")]
    script = tmp_path / "round_trip.mjs"
    script.write_text(ROUND_TRIP_JS % {
        "moddle": json.dumps(str(NODE_MODULES / "bpmn-moddle" / "dist" / "index.js")),
        "descriptor": json.dumps(str(ROOT / "app" / "static" / "js" / "spiffworkflow-moddle.json")),
        "files": json.dumps(files)}, encoding="utf-8")
    run = subprocess.run(["node", str(script)], capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 0, run.stderr
    ns = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
          "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core"}

    def extensions(root) -> list[tuple]:
        found: list[tuple] = []
        for op in root.iterfind(".//spiffworkflow:serviceTaskOperator", ns):
            found.append((op.getparent().getparent().get("id"), op.get("id"), op.get("resultVariable"),
                          [dict(p.attrib) for p in op.iterfind("spiffworkflow:parameters/spiffworkflow:parameter",
                                                               ns)]))
        for var in root.iterfind(".//spiffworkflow:messageVariable", ns):
            holder = var.getparent().getparent()
            found.append((holder.get("id"), holder.get("messageRef"), var.text))
        found.extend((m.get("id"), m.get("name")) for m in root.iterfind("bpmn:message", ns))
        return found

    for file, result in json.loads(run.stdout).items():
        assert result["warnings"] == [], (file, result["warnings"])
        before = extensions(etree.parse(file).getroot())
        after = extensions(etree.fromstring(result["xml"].encode("utf-8")))
        assert after == before and len(before) >= 3, file
