"""The JSON API, /api/v1 (documented at /api/v1/openapi.json). Thin: parse, call a service, commit, shape."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request, url_for
from sqlalchemy import select

from app.api.openapi import spec as openapi_spec
from app.auth.current import api_user
from app.catalog.models import Procedure
from app.catalog.services import get_procedure
from app.common.errors import AppError, Forbidden, NotFound, ValidationFailed
from app.common.timefmt import iso
from app.dossiers import services as dossiers
from app.dossiers.models import Dossier, status_label
from app.dossiers.notes import notes_json
from app.extensions import db, limiter
from app.inbox import services as inbox
from app.inbox.models import Task
from app.web.helpers import lang

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def _json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise AppError("Nội dung yêu cầu phải là một đối tượng JSON.", "The request body must be a JSON object.",
                       code="bad_json")
    return body


def _paging() -> tuple[int, int | None]:
    try:
        limit = int(request.args.get("limit", 50))
        cursor_raw = request.args.get("cursor")
        cursor = int(cursor_raw) if cursor_raw not in (None, "") else None
    except ValueError:
        raise ValidationFailed("limit và cursor phải là số nguyên.", "limit and cursor must be integers.") from None
    if limit < 1 or limit > 500:
        raise ValidationFailed("limit phải từ 1 đến 500.", "limit must be between 1 and 500.")
    return limit, cursor


def _page(items: list[dict[str, Any]], rows: list[Any], limit: int) -> dict[str, Any]:
    return {"items": items, "next_cursor": rows[-1].id if len(rows) == limit else None}


def task_json(t: Task) -> dict[str, Any]:
    return {
        "id": t.id,
        "dossier_code": t.dossier.code,
        "name": t.name,
        "bpmn_id": t.bpmn_id,
        "role": t.role.code,
        "unit": t.unit.code,
        "assignee": t.assignee.username if t.assignee else None,
        "state": t.state,
        "form": t.form,
        "created_at": iso(t.created_at),
        "due_at": iso(t.due_at),
    }


def _dossier_brief(d: Dossier) -> dict[str, Any]:
    return {"code": d.code, "status": d.status, "status_label": d.status_label(lang()), "due_at": iso(d.due_at)}


def _step_json(s: Any) -> dict[str, Any]:
    return {"name": s.name, "role": s.role_code, "unit": s.unit.name if s.unit else None,
            "finished_at": iso(s.finished_at), "status": s.status_after,
            "status_label": status_label(s.status_after, lang())}


# --------------------------------------------------------------------------- public


@bp.get("/openapi.json")
def openapi():
    return jsonify(openapi_spec())


@bp.get("/procedures")
def procedures():
    limit, cursor = _paging()
    q = select(Procedure).where(Procedure.active.is_(True), Procedure.current_version_id.is_not(None))
    if cursor is not None:
        q = q.where(Procedure.id > cursor)
    rows = list(db.session.scalars(q.order_by(Procedure.id).limit(limit)))
    items = [{"code": p.code, "name": p.name, "field": p.field, "unit": p.unit.code,
              "version": p.current_version.number if p.current_version else None,
              "processing_time": p.processing_time} for p in rows]
    return jsonify(_page(items, rows, limit))


@bp.get("/procedures/<code>")
def procedure(code: str):
    p = get_procedure(code)
    v = p.current_version
    assert v is not None
    start_form = v.spec.outline.get("start_form")
    return jsonify({"code": p.code, "name": p.name, "field": p.field, "description": p.description,
                    "unit": {"code": p.unit.code, "name": p.unit.name}, "version": v.number,
                    "meta": p.meta, "submission_form": v.form(start_form)})


@bp.post("/dossiers")
@limiter.limit(lambda: current_app.config["RATELIMIT_SUBMIT"])
def submit():
    body = _json_body()
    dossier, secret = dossiers.submit(str(body.get("procedure") or ""), str(body.get("channel") or "online"),
                                      body.get("applicant") or {}, body.get("data") or {},
                                      lang=lang())
    db.session.commit()
    out = _dossier_brief(dossier)
    out["tracking_secret"] = secret
    out["tracking_url"] = url_for("tracking.show", code=dossier.code, _external=False)
    return jsonify(out), 201


@bp.get("/tracking/<code>")
@limiter.limit(lambda: current_app.config["RATELIMIT_TRACKING"])
def tracking(code: str):
    dossier = _tracked(code, request.args.get("secret", ""))
    return jsonify(_tracking_json(dossier))


def _tracked(code: str, secret: str) -> Dossier:
    dossier = db.session.scalar(select(Dossier).where(Dossier.code == code))
    # an unknown code and a wrong secret answer the same
    if dossier is None or not dossiers.check_secret(dossier, secret):
        raise NotFound("Không tìm thấy hồ sơ với mã và mã tra cứu đã nhập.",
                       "No dossier with that code and secret.")
    return dossier


def _tracking_json(d: Dossier) -> dict[str, Any]:
    out = _dossier_brief(d)
    out.update({
        "procedure": {"code": d.procedure.code, "name": d.procedure.name},
        "unit": {"code": d.unit.code, "name": d.unit.name, "phone": d.unit.phone, "email": d.unit.email},
        "channel": d.channel,
        "submitted_at": iso(d.submitted_at),
        "received_at": iso(d.received_at),
        "finished_at": iso(d.finished_at),
        "steps": [_step_json(s) for s in dossiers.steps(d)],
        "tasks": [{"id": t.id, "name": t.name, "form": d.version.form(t.form), "created_at": iso(t.created_at),
                   "documentation": t.documentation} for t in inbox.applicant_tasks(d)],
    })
    out.update(_tracking_extras(d))
    return out


def _tracking_extras(d: Dossier) -> dict[str, Any]:
    """What the tracking page shows besides the basics: the plain-language timeline, postal orders, the fee and
    its payment, and the rating (same data as /tra-cuu/<code>; no officials' names, no notes)."""
    from app.outbox.inbound import shipments_for
    from app.payments.services import summary as payment_summary
    from app.tracking import timeline
    from app.tracking.models import Rating

    pay = payment_summary(d)
    rating = db.session.scalar(select(Rating).where(Rating.dossier_id == d.id))
    return {
        "timeline": [{"at": iso(e.at), "title": e.title, "lines": list(e.lines)} for e in timeline.build(d)],
        "postal": [{"service": s["service"], "item_code": s["item_code"], "status": s["status"],
                    "label": s["label"], "at": iso(s["at"])} for s in shipments_for(d)],
        "payment": {"fee": pay["fee"], "paid": pay["paid"] is not None,
                    "paid_at": iso(pay["paid"].paid_at) if pay["paid"] is not None else None,
                    "can_pay": pay["can_pay"]},
        "rating": {"level": rating.level, "comment": rating.comment} if rating is not None else None,
    }


@bp.post("/tracking/<code>/tasks/<int:task_id>/complete")
@limiter.limit(lambda: current_app.config["RATELIMIT_TRACKING"])
def tracking_complete(code: str, task_id: int):
    body = _json_body()
    dossier = _tracked(code, str(body.get("secret") or ""))
    inbox.complete_as_applicant(dossier, task_id, body.get("data") or {}, lang=lang())
    db.session.commit()
    return jsonify(_tracking_json(dossier))


@bp.post("/tracking/<code>/rating")
@limiter.limit(lambda: current_app.config["RATELIMIT_TRACKING"])
def tracking_rating(code: str):
    """The applicant rates the handling once the result is ready (app/tracking/ratings.py: one per dossier,
    changeable for 7 days)."""
    from app.tracking import ratings

    body = _json_body()
    dossier = _tracked(code, str(body.get("secret") or ""))
    rating, created = ratings.rate(dossier, body.get("level"), body.get("comment"), lang=lang())
    db.session.commit()
    return jsonify(ratings.rating_json(rating, lang())), 201 if created else 200


# --------------------------------------------------------------------------- officials


@bp.get("/dossiers/<code>")
def dossier(code: str):
    user = api_user()
    d = dossiers.get_viewable(code, user)
    out = _dossier_brief(d)
    out.update({
        "procedure": {"code": d.procedure.code, "name": d.procedure.name, "version": d.version.number},
        "unit": d.unit.code,
        "channel": d.channel,
        "applicant": {"name": d.applicant_name, "id_number": d.applicant_id_number, "phone": d.applicant_phone,
                      "email": d.applicant_email, "address": d.applicant_address},
        "data": d.data,
        "submitted_at": iso(d.submitted_at),
        "received_at": iso(d.received_at),
        "finished_at": iso(d.finished_at),
        "attachments": [{"id": a.id, "field": a.field, "filename": a.filename, "content_type": a.content_type,
                         "size": a.size} for a in dossiers.attachments(d)],
        "steps": [_step_json(s) for s in dossiers.steps(d)],
        "history": [{"at": iso(h.at), "actor": h.actor_label, "action": h.action, "from_status": h.from_status,
                     "to_status": h.to_status, "detail": h.detail, "note": h.note} for h in dossiers.history(d)],
        "tasks": [task_json(t) for t in inbox.open_tasks(d)],
        "notes": notes_json(d),
    })
    return jsonify(out)


@bp.get("/dossiers/<code>/notes")
def list_notes(code: str):
    user = api_user()
    d = dossiers.get_viewable(code, user)
    return jsonify({"items": notes_json(d), "next_cursor": None})


@bp.post("/dossiers/<code>/notes")
def add_note(code: str):
    """An official's comment or internal note (never shown to the applicant). Body: `text` (1–4000 characters),
    optional `kind` (ghi_chu | ket_qua: the signed result) and `files` (data URLs; PDF/JPEG/PNG by content)."""
    from app.dossiers import notes as notes_service
    from app.schemaforms import decode_data_url

    user = api_user()
    d = dossiers.get_viewable(code, user)
    body = _json_body()
    raw_files = body.get("files") or []
    if not isinstance(raw_files, list):
        raise ValidationFailed("files phải là một mảng data URL.", "files must be an array of data URLs.",
                               details={"files": ["files phải là một mảng data URL."]})
    files = []
    for item in raw_files:
        try:
            filename, _mime, content = decode_data_url(item)
        except ValueError as exc:
            raise ValidationFailed(str(exc), details={"files": [str(exc)]}) from None
        files.append((filename, content))
    text = body.get("text")
    note = notes_service.add_note(d, dossiers.Actor(user), text if isinstance(text, str) else None, files,
                                  kind=str(body.get("kind") or "ghi_chu"))
    out = next(n for n in notes_json(d) if n["id"] == note.id)
    db.session.commit()
    return jsonify(out), 201


def apology_json(a: Any, d: Dossier) -> dict[str, Any]:
    return {"id": a.id, "dossier_code": d.code, "issued_at": iso(a.issued_at),
            "issued_by": a.issued_by.username if a.issued_by else None, "old_due": iso(a.old_due),
            "new_due": iso(a.new_due), "reason": a.reason,
            "paper_url": url_for("papers.paper", code=d.code, kind="04", _external=True)}


@bp.get("/dossiers/<code>/apologies")
def list_apologies(code: str):
    from app.dossiers import late

    user = api_user()
    d = dossiers.get_viewable(code, user)
    return jsonify({"items": [apology_json(a, d) for a in late.apologies(d)], "next_cursor": None})


@bp.post("/dossiers/<code>/apologies")
def create_apology(code: str):
    """The dossier will be late: apologise with a new appointment date (paper 04); the applicant is notified.
    Body: `new_due` (a date YYYY-MM-DD, meaning the end of office hours that day, or an ISO 8601 datetime;
    without an offset, Vietnam time) and `reason`."""
    from app.dossiers import late

    user = api_user()
    d = dossiers.get_viewable(code, user)
    body = _json_body()
    raw, reason = body.get("new_due"), body.get("reason")
    new_due = late.parse_new_due(raw) if isinstance(raw, str) else None
    apology = late.issue_apology(d, new_due, reason if isinstance(reason, str) else "", dossiers.Actor(user))
    out = apology_json(apology, d)
    out["dossier"] = _dossier_brief(d)
    db.session.commit()
    return jsonify(out), 201


@bp.get("/tasks")
def tasks():
    """`scope` mine | queue | unassigned | available; filters `procedure`, `status`, `channel`,
    `due` (overdue | soon | on_time, `days` working days for soon), `from`/`to` (received dates), `q`
    (code or applicant name, diacritics ignored); sorted by due date, keyset `cursor` (opaque);
    `counts=1` adds the count per tab."""
    from app.inbox.routes import filters_from_args

    user = api_user()
    cursor = request.args.get("cursor") or None
    try:
        limit = int(request.args.get("limit", 50))
    except ValueError:
        raise ValidationFailed("limit phải là số nguyên.", "limit must be an integer.") from None
    if limit < 1 or limit > 500:
        raise ValidationFailed("limit phải từ 1 đến 500.", "limit must be between 1 and 500.")
    scope = request.args.get("scope", "available")
    filters = filters_from_args(request.args)
    rows = inbox.list_tasks(user, scope, limit=limit, cursor=cursor, filters=filters)
    out = {"items": [task_json(t) for t in rows], "next_cursor": inbox.next_cursor(rows, limit)}
    if request.args.get("counts") in ("1", "true"):
        out["counts"] = inbox.count_tasks(user, filters)
    return jsonify(out)


@bp.get("/tasks/<int:task_id>")
def task(task_id: int):
    user = api_user()
    t = inbox.get_task(task_id)
    if not inbox.may_work(user, t) and not dossiers.can_view(user, t.dossier):
        raise Forbidden("Bạn không có quyền xem công việc này.", "You may not see this task.")
    out = task_json(t)
    out["form_schema"] = t.dossier.version.form(t.form)
    out["dossier_status"] = t.dossier.status
    return jsonify(out)


@bp.post("/tasks/<int:task_id>/claim")
def claim(task_id: int):
    user = api_user()
    t = inbox.claim(task_id, user)
    db.session.commit()
    return jsonify(task_json(t))


@bp.post("/tasks/<int:task_id>/release")
def release(task_id: int):
    user = api_user()
    t = inbox.release(task_id, user)
    db.session.commit()
    return jsonify(task_json(t))


@bp.post("/tasks/<int:task_id>/assign")
def assign(task_id: int):
    """A leader of the task's unit hands the task to a user holding its role there. Body: `assignee` (username)."""
    user = api_user()
    body = _json_body()
    assignee = body.get("assignee")
    if not isinstance(assignee, str) or not assignee.strip():
        raise ValidationFailed("Cần assignee (tên đăng nhập).", "assignee (a username) is required.",
                               details={"assignee": ["Cần tên đăng nhập của người được giao."]})
    t = inbox.assign(task_id, user, assignee.strip())
    out = task_json(t)
    db.session.commit()
    return jsonify(out)


@bp.post("/tasks/<int:task_id>/complete")
def complete(task_id: int):
    user = api_user()
    body = _json_body()
    data = body.get("data", {})
    if not isinstance(data, dict):
        raise ValidationFailed("data phải là một đối tượng JSON.", "data must be a JSON object.")
    t = inbox.complete(task_id, data, dossiers.Actor(user), lang=lang())
    d = t.dossier
    out = _dossier_brief(d)  # built before the commit: nothing to reload afterwards
    out["task"] = task_json(t)
    out["tasks"] = [task_json(x) for x in inbox.open_tasks(d)]
    kind = t.offered_paper  # the paper the outcome calls for (01 receipt, 02 supplement, 03 refusal)
    out["paper"] = None if kind is None else {
        "kind": kind, "url": url_for("papers.paper", code=d.code, kind=kind, _external=True)}
    db.session.commit()
    return jsonify(out)


# --------------------------------------------------------------------------- designers


def _version_json(v: Any) -> dict[str, Any]:
    return {"number": v.number, "status": v.status, "note": v.note, "created_at": iso(v.created_at),
            "published_at": iso(v.published_at),
            "published_by": v.published_by.username if v.published_by else None,
            "errors": [i for i in v.lint if i.get("level") == "error"],
            "warnings": [i for i in v.lint if i.get("level") == "warning"]}


@bp.get("/procedures/<code>/versions")
def procedure_versions(code: str):
    from app.designer import services as designer

    user = api_user()
    proc = designer.get_procedure_any(code)
    designer.require_designer(user, proc)
    return jsonify({"items": [_version_json(v) for v in designer.versions(proc)], "next_cursor": None})


@bp.post("/procedures/<code>/versions")
def create_version(code: str):
    """Multipart: `bpmn` (the BPMN file), `forms` (form files, named as the BPMN references them),
    optional `note`; `unit` creates the procedure if it does not exist yet."""
    import json as _json

    from app.auth.services import get_unit
    from app.designer import services as designer
    from app.engine.xmlsafe import MAX_XML_BYTES

    user = api_user()
    proc = db.session.scalar(select(Procedure).where(Procedure.code == code))
    bpmn = request.files.get("bpmn")
    content = bpmn.read(MAX_XML_BYTES + 1) if bpmn else b""
    if not content or len(content) > MAX_XML_BYTES:
        raise ValidationFailed("Cần tệp BPMN (trường 'bpmn'), tối đa 5 MB.",
                               "A BPMN file ('bpmn', at most 5 MB) is required.",
                               details=[{"level": "error", "code": "file", "element": None, "name": None,
                                         "message": "Cần tệp BPMN, tối đa 5 MB."}])
    forms: dict[str, Any] = {}
    for f in request.files.getlist("forms"):
        name = (f.filename or "").rsplit("/", 1)[-1]
        try:
            forms[name] = _json.loads(f.read(512 * 1024 + 1).decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise ValidationFailed(f"Tệp biểu mẫu '{name}' không phải JSON hợp lệ.",
                                   f"Form '{name}' is not valid JSON.",
                                   details=[{"level": "error", "code": "form-json", "element": name, "name": None,
                                             "message": f"Tệp biểu mẫu '{name}' không phải JSON hợp lệ."}]) from None
    if proc is None:
        unit_code = request.form.get("unit")
        if not unit_code:
            raise NotFound(f"Không tìm thấy thủ tục '{code}' (gửi kèm 'unit' để tạo mới).",
                           f"No procedure '{code}' (send 'unit' to create it).")
        unit = get_unit(unit_code)
        designer.require_designer(user, unit_id=unit.id)
        proc = Procedure(code=code, name=request.form.get("name") or code, unit=unit, meta={})
        db.session.add(proc)
        db.session.flush()
    designer.require_designer(user, proc)
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationFailed("Tệp BPMN phải được mã hoá UTF-8.", "The BPMN file must be UTF-8.") from None
    version, _report = designer.new_version(proc, text, forms, user, note=request.form.get("note", ""),
                                            require_clean=True)
    db.session.commit()
    return jsonify({"procedure": proc.code, **_version_json(version)}), 201


@bp.post("/procedures/<code>/versions/<int:number>/publish")
def publish_version(code: str, number: int):
    from app.designer import services as designer

    user = api_user()
    proc = designer.get_procedure_any(code)
    designer.require_designer(user, proc)
    version = designer.get_version(proc, number)
    designer.publish(version, user)
    db.session.commit()
    return jsonify({"procedure": proc.code, **_version_json(version)})
