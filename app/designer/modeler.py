"""The BPMN modeler and viewer in the browser (bpmn-js from npm, served by the app itself; no CDN).

- `modeler.vendor`: the few bpmn-js files the pages need, from an allow-list under node_modules/
  (`make install` runs `npm ci`); long-lived cache headers, the package version in the query string.
- `modeler.edit`: draw a draft, edit a small set of properties, save with PUT to `designer.save_bpmn`; service
  tasks pick a partner connector's operation (from `connectors.REGISTRY`) and its parameters, receive tasks and
  message catch events the partner message they wait for and the variable that gets its payload.
- `modeler.view`: any version, read-only.
- `modeler.dossier_progress`: the diagram of a dossier's version with the steps done and under way, for
  the official's dossier page (which also lists the steps as text, so it works without JavaScript).
"""

from __future__ import annotations

import json
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, send_file, url_for
from werkzeug.security import safe_join

import connectors
from app.auth.current import current_user, login_required
from app.auth.models import User
from app.catalog.models import Procedure, ProcedureVersion
from app.common.errors import AppError
from app.config import ROOT
from app.designer import services as designer
from app.dossiers import services as dossiers
from app.dossiers.models import STATUS_LABELS, Dossier
from app.outbox.handlers import PARTNER_MESSAGES

bp = Blueprint("modeler", __name__)

#: files of node_modules/ the pages may load (paths as they are on disk, so the CSS's relative
#: font URLs resolve through the same route)
VENDOR_FILES: dict[str, str] = {
    "bpmn-js/dist/bpmn-modeler.production.min.js": "text/javascript",
    "bpmn-js/dist/bpmn-viewer.production.min.js": "text/javascript",
    "bpmn-js/dist/bpmn-navigated-viewer.production.min.js": "text/javascript",
    "bpmn-js/dist/assets/diagram-js.css": "text/css",
    "bpmn-js/dist/assets/bpmn-js.css": "text/css",
    "bpmn-js/dist/assets/bpmn-font/css/bpmn.css": "text/css",
    "bpmn-js/dist/assets/bpmn-font/css/bpmn-embedded.css": "text/css",
    "bpmn-js/dist/assets/bpmn-font/font/bpmn.woff2": "font/woff2",
    "bpmn-js/dist/assets/bpmn-font/font/bpmn.woff": "font/woff",
    "bpmn-js/dist/assets/bpmn-font/font/bpmn.ttf": "font/ttf",
    "bpmn-js/dist/assets/bpmn-font/font/bpmn.eot": "application/vnd.ms-fontobject",
    "bpmn-js/dist/assets/bpmn-font/font/bpmn.svg": "image/svg+xml",
}
#: what a page needs, by kind of page
BUNDLES = {
    "modeler": "bpmn-js/dist/bpmn-modeler.production.min.js",
    "viewer": "bpmn-js/dist/bpmn-navigated-viewer.production.min.js",
}
STYLES = ("bpmn-js/dist/assets/diagram-js.css", "bpmn-js/dist/assets/bpmn-js.css",
          "bpmn-js/dist/assets/bpmn-font/css/bpmn.css")
ONE_YEAR = 365 * 24 * 3600

#: dossierStatus choices offered in the properties panel (the national 1–10 codes)
STATUS_CHOICES = [(str(k), vi) for k, (vi, _en) in sorted(STATUS_LABELS.items())]
#: lane names that map to the built-in roles (README: "Lanes are roles")
LANE_ROLE_NAMES = ["Bộ phận một cửa", "Chuyên viên", "Lãnh đạo", "Công dân / Tổ chức"]
#: element kinds (engine outline) that are not steps a person would recognise in a list
NOT_STEPS = ("Gateway", "SubWorkflowTask")

#: partner connectors (connectors.REGISTRY) in the order the panel lists them, with their Vietnamese names
CONNECTOR_LABELS = {
    "vnpost": "Bưu điện",
    "axis": "Trục liên thông văn bản",
    "portal": "Cổng dịch vụ công quốc gia",
    "email": "Thư điện tử",
    "sms": "Tin nhắn SMS",
    "webhook": "Đối tác khác (webhook JSON)",
}
#: what each operation does, in Vietnamese (an operation not listed shows its own name)
OPERATION_LABELS = {
    "vnpost.create_order": "tạo đơn",
    "vnpost.cancel_order": "huỷ đơn",
    "vnpost.track_order": "tra cứu đơn",
    "axis.send_document": "gửi hồ sơ, văn bản liên thông",
    "axis.send_status": "gửi trạng thái xử lý",
    "portal.sync_dossier": "đồng bộ hồ sơ",
    "portal.update_progress": "cập nhật tiến độ",
    "email.send": "gửi thư",
    "sms.send": "gửi tin nhắn",
    "webhook.post": "gửi dữ liệu (POST)",
}
#: the parameters an operation reads (name, type, what it is), suggested in the panel's parameter editor
OPERATION_PARAMETERS: dict[str, list[tuple[str, str, str]]] = {
    "vnpost.create_order": [("service", "str", "'pickup' (thu gom hồ sơ) hoặc 'delivery' (phát kết quả)"),
                            ("cod_amount", "int", "tiền thu hộ (đồng)")],
    "axis.send_document": [("to", "str", "mã định danh cơ quan nhận"), ("to_name", "str", "tên cơ quan nhận"),
                           ("procedure", "str", "mã thủ tục ở cơ quan nhận"), ("subject", "str", "trích yếu"),
                           ("reply", "bool", "True khi trả kết quả cho cơ quan đã gửi"),
                           ("outcome", "str", "kết quả khi trả lời")],
}
#: parameter types of spiffworkflow:parameter offered in the panel
PARAMETER_TYPES = [("str", "Chuỗi (str)"), ("int", "Số nguyên (int)"), ("bool", "Đúng / sai (bool)")]


# --------------------------------------------------------------------------- vendor files


def node_modules() -> Path:
    return Path(current_app.config.get("NODE_MODULES_DIR") or ROOT / "node_modules")


@lru_cache(maxsize=8)
def _package_version(package_json: str) -> str:
    try:
        return str(json.loads(Path(package_json).read_text(encoding="utf-8")).get("version") or "0")
    except (OSError, ValueError):
        return "0"


def vendor_version() -> str:
    return _package_version(str(node_modules() / "bpmn-js" / "package.json"))


def vendor_available(kind: str = "viewer") -> bool:
    """Whether the bpmn-js bundle (and styles) for `kind` are installed."""
    base = node_modules()
    return all((base / rel).is_file() for rel in (BUNDLES[kind], *STYLES))


def vendor_url(path: str) -> str:
    return url_for("modeler.vendor", path=path, v=vendor_version())


@bp.app_context_processor
def _vendor_helpers() -> dict[str, Any]:
    return {"vendor_url": vendor_url, "vendor_available": vendor_available, "vendor_styles": STYLES,
            "vendor_bundles": BUNDLES}


@bp.get("/assets/vendor/<path:path>")
def vendor(path: str):
    """One allow-listed file of node_modules/, cached for a year (the URL carries the package version)."""
    mimetype = VENDOR_FILES.get(path)
    if mimetype is None:
        abort(404)
    full = safe_join(str(node_modules()), path)
    if full is None or not Path(full).is_file():
        abort(404)
    response = send_file(full, mimetype=mimetype, max_age=ONE_YEAR, conditional=True)
    response.cache_control.public = True
    response.cache_control.immutable = True
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# --------------------------------------------------------------------------- modeler and viewer


def _design(code: str, number: int) -> tuple[User, Procedure, ProcedureVersion]:
    user = current_user()
    assert user is not None
    proc = designer.get_procedure_any(code)
    if not designer.can_design(user, proc):
        abort(403)
    return user, proc, designer.get_version(proc, number)


@lru_cache(maxsize=1)
def _descriptor(path: str) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def spiffworkflow_descriptor() -> dict[str, Any]:
    """The moddle extension (app/static/js/spiffworkflow-moddle.json) that keeps spiffworkflow:properties."""
    assert current_app.static_folder is not None
    return _descriptor(str(Path(current_app.static_folder) / "js" / "spiffworkflow-moddle.json"))


def connector_operations() -> list[dict[str, Any]]:
    """Every `connector.operation` of the registry, for the service task's select: id, Vietnamese label and
    the parameters the operation reads (when known)."""
    connectors.base._load_builtin()
    order = list(CONNECTOR_LABELS)
    names = sorted(connectors.REGISTRY, key=lambda n: (order.index(n) if n in order else len(order), n))
    out = []
    for name in names:
        for operation in connectors.REGISTRY[name].operations:
            op_id = f"{name}.{operation}"
            label = f"{CONNECTOR_LABELS.get(name, name)} — {OPERATION_LABELS.get(op_id, operation)} ({op_id})"
            params = [{"name": n, "type": t, "hint": h} for n, t, h in OPERATION_PARAMETERS.get(op_id, [])]
            out.append({"id": op_id, "label": label, "parameters": params})
    return out


def form_files(version: ProcedureVersion) -> dict[str, list[dict[str, str]]]:
    """The version's form files for the panel's selects: JSON Schemas and UI schemas, with titles."""
    schemas, ui = [], []
    for name in sorted(version.forms or {}):
        schema = version.forms[name]
        title = schema.get("title", "") if isinstance(schema, dict) else ""
        (ui if name.endswith(".ui.json") else schemas).append({"name": name, "title": str(title or "")})
    return {"schemas": schemas, "ui": ui}


@bp.get("/thiet-ke/<code>/v/<int:number>/ve")
@login_required
def edit(code: str, number: int):
    _user, proc, version = _design(code, number)
    if version.status != "draft":
        flash(f"Phiên bản {number} đã {'xuất bản' if version.status == 'published' else 'ngừng áp dụng'} "
              "nên không sửa được; hãy mở bản nháp để sửa. Đây là sơ đồ ở chế độ chỉ xem.", "info")
        return redirect(url_for("modeler.view", code=code, number=number))
    config = {
        "sourceUrl": url_for("designer.bpmn_source", code=code, number=number),
        "saveUrl": url_for("designer.save_bpmn", code=code, number=number),
        "versionUrl": url_for("designer.version", code=code, number=number),
        "viewUrl": url_for("modeler.view", code=code, number=number),
        "moddle": spiffworkflow_descriptor(),
        "forms": form_files(version),
        "lint": version.lint or [],
        "statuses": STATUS_CHOICES,
        "laneRoles": LANE_ROLE_NAMES,
        "connectors": connector_operations(),
        "parameterTypes": PARAMETER_TYPES,
        "messages": PARTNER_MESSAGES,
    }
    return render_template("designer/modeler/edit.html", procedure=proc, version=version, config=config,
                           available=vendor_available("modeler"))


@bp.get("/thiet-ke/<code>/v/<int:number>/xem")
@login_required
def view(code: str, number: int):
    _user, proc, version = _design(code, number)
    config = {"sourceUrl": url_for("designer.bpmn_source", code=code, number=number)}
    return render_template("designer/modeler/view.html", procedure=proc, version=version, config=config,
                           steps=_outline_steps(version), available=vendor_available("viewer"))


def _outline_steps(version: ProcedureVersion) -> list[dict[str, Any]]:
    """The version's steps as text (from the compiled outline; empty while a draft does not compile)."""
    elements = version.outline.get("elements", {}) if version.spec is not None else {}
    return [{"id": i, "name": e.get("name") or i, "kind": e.get("kind"), "lane": e.get("lane"),
             "properties": e.get("properties") or {}}
            for i, e in elements.items() if not any(k in (e.get("kind") or "") for k in NOT_STEPS)]


# --------------------------------------------------------------------------- progress of a dossier


def progress_of(dossier: Dossier) -> dict[str, Any]:
    """Which elements of the dossier's version are done and under way, with a text list of steps.

    `completed` and `current` are element ids (each once, in the order first reached); `steps` lists
    the recognisable steps (no gateways) with their state: done, current or todo.
    """
    instance, _state = dossiers.load_instance(dossier)
    raw = instance.progress()
    counts = Counter(raw["completed"])
    completed = list(dict.fromkeys(raw["completed"]))
    current = list(dict.fromkeys(raw["current"]))
    elements: dict[str, dict[str, Any]] = dossier.version.outline.get("elements", {})

    def step(bpmn_id: str, state: str) -> dict[str, Any]:
        el = elements.get(bpmn_id, {})
        return {"id": bpmn_id, "name": el.get("name") or bpmn_id, "lane": el.get("lane"), "state": state,
                "times": counts.get(bpmn_id, 0)}

    def is_step(bpmn_id: str) -> bool:
        kind = elements.get(bpmn_id, {}).get("kind") or ""
        return bpmn_id in elements and not any(k in kind for k in NOT_STEPS)

    steps = [step(i, "done") for i in completed if i not in current and is_step(i)]
    steps += [step(i, "current") for i in current if is_step(i)]
    return {"completed": completed, "current": current, "steps": steps}


@bp.app_template_global()
def dossier_progress(dossier: Dossier) -> dict[str, Any] | None:
    """For the dossier page: progress_of(), or None when the workflow cannot be loaded."""
    try:
        return progress_of(dossier)
    except AppError:
        return None


@bp.get("/can-bo/ho-so/<code>/tien-do.json", endpoint="dossier_progress")
@login_required
def dossier_progress_json(code: str):
    user = current_user()
    assert user is not None
    dossier = dossiers.get_dossier(code)
    if not dossiers.can_view(user, dossier):
        abort(403)
    progress = progress_of(dossier)
    response = jsonify({"code": dossier.code, "version": dossier.version.number,
                        "xml": dossier.version.bpmn_xml, **progress})
    response.cache_control.no_store = True
    return response
