"""Public submission in steps: one topic per page, "check your answers", save and resume, the confirmation.

State lives server-side in a draft (`app.drafts`); the browser holds only the draft's token in its session
(`session["drafts"][procedure code]`) or in a resume link `/nop-tiep/<token>`. Pages work without JavaScript.

  /thu-tuc/<code>/nop-ho-so                   first step (GET shows it, POST starts the draft)
  /thu-tuc/<code>/nop-ho-so/<step>            the other steps ("cach-thuc", "phan-1"…); ?tu=kiem-tra returns
                                              to the check page after Continue
  /thu-tuc/<code>/nop-ho-so/kiem-tra          check your answers; POST submits
  /thu-tuc/<code>/nop-ho-so/luu               save and continue later: the link, sent by e-mail or SMS
  /nop-tiep/<token>                           resume a draft (rate-limited)
  /ho-so/<code>/da-nop/<signed token>         the confirmation, bookmarkable; …/giay-tiep-nhan.pdf: paper 01
"""

from __future__ import annotations

import io
import re
from typing import Any

from flask import abort, current_app, redirect, render_template, request, send_file, session, url_for
from flask_babel import gettext
from itsdangerous import BadSignature, URLSafeSerializer

from app.catalog.models import Procedure
from app.catalog.services import get_procedure
from app.citizens import current_citizen
from app.common.errors import Conflict, NotFound, ValidationFailed
from app.dossiers import services as dossiers
from app.dossiers.models import Dossier
from app.drafts import services as drafts
from app.drafts.models import Draft
from app.extensions import db, limiter
from app.i18n import tr, translated_schema
from app.schemaforms import file_fields
from app.web.forms import PUBLIC_APPLICANT_FORM, attach_errors, schema_form
from app.web.helpers import lang
from app.web.routes import bp

CHECK = "kiem-tra"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^(\+84|0)[0-9]{9,10}$")
NO_CACHE = {"Cache-Control": "private, no-store", "Referrer-Policy": "no-referrer"}


def _submit_limit() -> str:
    return current_app.config.get("RATELIMIT_SUBMIT", "30/minute")


def _resume_limit() -> str:
    return current_app.config.get("RATELIMIT_RESUME", "20/minute")


# --------------------------------------------------------------------------- the draft of this browser


def _tokens() -> dict[str, str]:
    value = session.get("drafts")
    return dict(value) if isinstance(value, dict) else {}


def _remember(code: str, token: str) -> None:
    tokens = _tokens()
    tokens[code] = token
    session["drafts"] = tokens


def _forget(code: str) -> None:
    tokens = _tokens()
    if tokens.pop(code, None) is not None:
        session["drafts"] = tokens


def _session_draft(proc: Procedure) -> tuple[Draft | None, str | None]:
    token = _tokens().get(proc.code)
    draft = drafts.find(token)
    if draft is None or draft.procedure_id != proc.id or draft.submitted_at is not None or drafts.is_expired(draft):
        return _account_draft(proc)
    return draft, token


def _account_draft(proc: Procedure) -> tuple[Draft | None, str | None]:
    """A signed-in citizen continues their latest open draft of the procedure, on any browser: it gets a new
    resume token (the link sent earlier stops working, the draft stays the same)."""
    citizen = current_citizen()
    if citizen is None:
        return None, None
    owned = drafts.open_drafts_of(citizen.id, proc.id)
    if not owned:
        return None, None
    token = drafts.reissue_token(owned[0])
    db.session.commit()
    _remember(proc.code, token)
    return owned[0], token


def _procedure(code: str) -> Procedure:
    proc = get_procedure(code)
    if proc.current_version is None:
        abort(404)
    return proc


def _step_url(code: str, step: drafts.Step, steps: list[drafts.Step], **args: Any) -> str:
    if step is steps[0]:
        return url_for("web.submit", code=code, **args)
    return url_for("web.submit_step", code=code, step_id=step.id, **args)


def _next_undone(draft: Draft, steps: list[drafts.Step]) -> drafts.Step | None:
    done = set(draft.steps_done or [])
    return next((s for s in steps if s.id not in done), None)


# --------------------------------------------------------------------------- forms of a step


def _applicant_form(draft: Draft | None):
    return schema_form(translated_schema(PUBLIC_APPLICANT_FORM), {}, prefix="nguoinop-",
                       data=(draft.applicant if draft else None), lang=lang())


def _data_form(schema: dict, ui: dict, step: drafts.Step, data: dict | None):
    sub, sub_ui = drafts.sub_form(schema, ui, step.fields)
    return schema_form(sub, sub_ui, prefix="hoso-",
                       data={k: v for k, v in (data or {}).items() if k in step.fields}, lang=lang())


def _choices_form(proc: Procedure, draft: Draft | None):
    return schema_form(translated_schema(drafts.choices_schema(proc)), drafts.CHOICES_UI, prefix="cachthuc-",
                       data=(draft.choices if draft else None), lang=lang())


def _check_applicant(form: Any) -> tuple[bool, dict]:
    ok = form.validate_schema(lang=lang())
    data = dict(form.clean_data or {})
    if not (data.get("phone") or data.get("email")) and not form.sf_field("phone").errors:
        form.sf_field("phone").errors.append(gettext("Vui lòng nhập số điện thoại hoặc thư điện tử để nhận thông báo."))
        ok = False
    return ok, data


def _held_optional_files(schema: dict, step: drafts.Step, data: dict) -> list[tuple[str, str, str]]:
    """(field, title, file names) of optional files already held on this step: they may be removed."""
    required = set(schema.get("required") or [])
    props = schema.get("properties") or {}
    out = []
    for name in file_fields(schema):
        if name in step.fields and name not in required and data.get(name):
            items = data[name] if isinstance(data[name], list) else [data[name]]
            out.append((name, props[name].get("title") or name, ", ".join(i.get("filename", "") for i in items)))
    return out


@bp.route("/thu-tuc/<code>/nop-ho-so", methods=["GET", "POST"])
@limiter.limit(_submit_limit, methods=["POST"])
def submit(code: str):
    return _step_page(code, None)


@bp.route("/thu-tuc/<code>/nop-ho-so/<step_id>", methods=["GET", "POST"])
@limiter.limit(_submit_limit, methods=["POST"])
def submit_step(code: str, step_id: str):
    return _step_page(code, step_id)


def _step_page(code: str, step_id: str | None):
    proc = _procedure(code)
    version = proc.current_version
    assert version is not None
    steps = drafts.plan(proc, version)
    step = steps[0] if step_id is None else next((s for s in steps if s.id == step_id), None)
    if step is None:
        abort(404)
    draft, token = _session_draft(proc)
    if draft is None and step is not steps[0]:
        return redirect(url_for("web.submit", code=code))
    schema, ui = drafts.start_form(version)
    back_to_check = request.args.get("tu") == CHECK
    index = steps.index(step)
    held = dict(draft.data or {}) if draft else {}

    applicant_form = _applicant_form(draft) if step.kind in ("applicant", "single") else None
    choices_form = _choices_form(proc, draft) if step.kind == "choices" else None
    data_form = _data_form(schema, ui, step, held) if step.kind in ("form", "single") else None
    status = 200

    if request.method == "POST":
        action = request.form.get("action", "continue")
        ok = True
        if draft is None:
            draft, token = drafts.create(proc)
            _remember(code, token)
        if applicant_form is not None:
            ok_a, values = _check_applicant(applicant_form)
            ok = ok and ok_a
            draft.applicant = values
        if choices_form is not None:
            ok = choices_form.validate_schema(lang=lang()) and ok
            draft.choices = dict(choices_form.clean_data or {})
        if data_form is not None:
            submitted = data_form.to_data()
            refs, file_errors = drafts.take_uploads(schema, step.fields, submitted, held)
            files = set(file_fields(schema))
            new = {k: v for k, v in held.items() if k not in step.fields}
            for name in step.fields:
                if name in files:
                    if name in refs:
                        new[name] = refs[name]
                    elif name in held and not request.form.get(f"xoa-{name}"):
                        new[name] = held[name]
                elif name in submitted:
                    new[name] = submitted[name]
            draft.data = new
            errors = drafts.step_errors(schema, new, step.fields, lang=lang())
            errors.update(file_errors)
            data_form = _data_form(schema, ui, step, new)  # shows the files now held
            data_form._sf_reset_errors()
            if errors:
                attach_errors(data_form, errors)
                ok = False
        done = [s for s in (draft.steps_done or []) if s != step.id]
        if ok:
            done.append(step.id)
        draft.steps_done = done
        drafts.touch(draft)
        db.session.commit()
        if action == "save":
            return redirect(url_for("web.submit_save", code=code))
        if ok:
            if back_to_check or index + 1 >= len(steps):
                return redirect(url_for("web.submit_check", code=code))
            return redirect(_step_url(code, steps[index + 1], steps))
        status = 422

    prev_url = _step_url(code, steps[index - 1], steps) if index > 0 else url_for("web.procedure", code=code)
    return render_template(
        "public/submit.html", procedure=proc, step=step, number=index + 1, total=len(steps) + 1,
        applicant_form=applicant_form, choices_form=choices_form, data_form=data_form,
        forms=[f for f in (applicant_form, choices_form, data_form) if f is not None],
        removable=_held_optional_files(schema, step, dict(draft.data or {}) if draft else {}),
        prev_url=url_for("web.submit_check", code=code) if back_to_check else prev_url,
        back_to_check=back_to_check, has_files=bool(set(step.fields) & set(file_fields(schema))),
    ), status


# --------------------------------------------------------------------------- check your answers


def _sections(proc: Procedure, draft: Draft, steps: list[drafts.Step]) -> list[dict[str, Any]]:
    version = proc.current_version
    assert version is not None
    schema, ui = drafts.start_form(version)
    sections = []
    for step in steps:
        parts = []
        if step.kind in ("applicant", "single"):
            parts.append((translated_schema(PUBLIC_APPLICANT_FORM), dict(draft.applicant or {}), {}))
        if step.kind == "choices":
            choices = dict(draft.choices or {})
            cs = drafts.choices_schema(proc)
            if drafts.postal_address(choices) is None:
                cs = {**cs, "properties": {k: v for k, v in cs["properties"].items() if not k.startswith("postal_")}}
            parts.append((translated_schema(cs), choices, drafts.CHOICES_UI))
        if step.kind in ("form", "single"):
            sub, sub_ui = drafts.sub_form(schema, ui, step.fields)
            parts.append((sub, {k: v for k, v in (draft.data or {}).items() if k in step.fields}, sub_ui))
        sections.append({"step": step, "parts": parts,
                         "edit_url": _step_url(proc.code, step, steps, tu=CHECK)})
    return sections


@bp.route("/thu-tuc/<code>/nop-ho-so/kiem-tra", methods=["GET", "POST"])
@limiter.limit(_submit_limit, methods=["POST"])
def submit_check(code: str):
    proc = _procedure(code)
    version = proc.current_version
    assert version is not None
    steps = drafts.plan(proc, version)
    draft, _token = _session_draft(proc)
    if draft is None:
        return redirect(url_for("web.submit", code=code))
    undone = _next_undone(draft, steps)
    if undone is not None:
        return redirect(_step_url(code, undone, steps))
    problems: list[dict[str, Any]] = []
    status = 200
    if request.method == "POST":
        try:
            dossier, secret = drafts.submit(draft, lang=lang())
            db.session.commit()
        except ValidationFailed as exc:
            db.session.rollback()
            problems = _problems(exc, steps, code)
            status = 422
        except Conflict:  # submitted meanwhile by a second click or another browser
            db.session.rollback()
            _forget(code)
            db.session.refresh(draft)
            dossier = db.session.get(Dossier, draft.submitted_dossier_id) if draft.submitted_dossier_id else None
            return render_template("public/submit_resume.html", state="submitted", procedure=proc,
                                   dossier=dossier), 409, NO_CACHE
        else:
            _forget(code)
            return redirect(confirmation_url(dossier, secret))
    return render_template("public/submit_check.html", procedure=proc, sections=_sections(proc, draft, steps),
                           number=len(steps) + 1, total=len(steps) + 1, problems=problems,
                           prev_url=_step_url(code, steps[-1], steps)), status


def _problems(exc: ValidationFailed, steps: list[drafts.Step], code: str) -> list[dict[str, Any]]:
    out = []
    details = exc.details if isinstance(exc.details, dict) else {"": [exc.message]}
    for key, messages in details.items():
        step = None
        if key.startswith("applicant"):
            step = next((s for s in steps if s.kind in ("applicant", "single")), None)
        elif key.startswith("data."):
            step = drafts.step_of_field(steps, key[5:])
        elif key == "channel":
            step = next((s for s in steps if s.kind == "choices"), None)
        url = _step_url(code, step, steps, tu=CHECK) if step else None
        out.extend({"message": m, "url": url} for m in messages)
    return out or [{"message": exc.message, "url": None}]


# --------------------------------------------------------------------------- save and resume


def resume_url(token: str) -> str:
    base = (current_app.config.get("PUBLIC_BASE_URL") or request.host_url).rstrip("/")
    return base + url_for("web.resume", token=token)


@bp.route("/thu-tuc/<code>/nop-ho-so/luu", methods=["GET", "POST"])
@limiter.limit(_submit_limit, methods=["POST"])
def submit_save(code: str):
    proc = _procedure(code)
    draft, token = _session_draft(proc)
    if draft is None or token is None:
        return redirect(url_for("web.submit", code=code))
    link = resume_url(token)
    contact = (request.form.get("lien_he") or "").strip() if request.method == "POST" else ""
    error, sent_by, status = "", None, 200
    if request.method == "POST":
        compact = re.sub(r"[\s.\-]", "", contact)
        if _EMAIL.match(contact) and len(contact) <= 255:
            pass
        elif _PHONE.match(compact):
            contact = compact
        else:
            error = gettext("Vui lòng nhập địa chỉ thư điện tử (ví dụ ten@example.vn) hoặc số điện thoại di động.")
            status = 422
        if not error:
            sent_by = drafts.send_resume_link(draft, contact, link, proc.name) or "none"
            drafts.touch(draft)
            db.session.commit()
    else:
        contact = draft.contact or (draft.applicant or {}).get("email") or (draft.applicant or {}).get("phone") or ""
    return render_template("public/submit_save.html", procedure=proc, draft=draft, link=link, contact=contact,
                           error=error, sent_by=sent_by, days=drafts.DRAFT_DAYS,
                           continue_url=url_for("web.resume", token=token)), status, NO_CACHE


@bp.get("/nop-tiep/<token>")
@limiter.limit(_resume_limit)
def resume(token: str):
    draft = drafts.find(token)
    if draft is None:
        return render_template("public/submit_resume.html", state="unknown"), 404, NO_CACHE
    proc = draft.procedure
    if draft.submitted_at is not None:
        dossier = db.session.get(Dossier, draft.submitted_dossier_id) if draft.submitted_dossier_id else None
        return render_template("public/submit_resume.html", state="submitted", procedure=proc,
                               dossier=dossier), 410, NO_CACHE
    if drafts.is_expired(draft):
        return render_template("public/submit_resume.html", state="expired", procedure=proc,
                               days=drafts.DRAFT_DAYS), 410, NO_CACHE
    if proc.current_version is None:
        abort(404)
    _remember(proc.code, token)
    steps = drafts.plan(proc, proc.current_version)
    undone = _next_undone(draft, steps)
    if undone is None:
        return redirect(url_for("web.submit_check", code=proc.code))
    return redirect(_step_url(proc.code, undone, steps))


# --------------------------------------------------------------------------- the confirmation


def _signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt="motcua.confirmation")


def confirmation_token(dossier: Dossier, secret: str) -> str:
    return _signer().dumps([dossier.code, secret])


def confirmation_url(dossier: Dossier, secret: str) -> str:
    return url_for("web.submitted_signed", code=dossier.code, token=confirmation_token(dossier, secret))


def _confirmed(code: str, token: str) -> tuple[Dossier, str]:
    """The dossier and its secret from a signed confirmation token; 404 for anything else."""
    try:
        signed_code, secret = _signer().loads(token)
    except (BadSignature, TypeError, ValueError):
        abort(404)
    if signed_code != code or not isinstance(secret, str):
        abort(404)
    try:
        dossier = dossiers.get_dossier(code)
    except NotFound:
        abort(404)
    if not dossiers.check_secret(dossier, secret):
        abort(404)
    return dossier, secret


@bp.get("/ho-so/<code>/da-nop")
def submitted(code: str):
    """The old confirmation address: it only worked in the submitting browser; now it leads to the signed one."""
    secret = (session.get("submitted") or {}).get(code)
    if secret is None:
        abort(404)
    try:
        dossier = dossiers.get_dossier(code)
    except NotFound:
        abort(404)
    return redirect(confirmation_url(dossier, secret))


@bp.get("/ho-so/<code>/da-nop/<token>")
def submitted_signed(code: str, token: str):
    dossier, secret = _confirmed(code, token)
    address = dossier.postal_address or {}
    return render_template(
        "public/submitted.html", dossier=dossier, secret=secret,
        receipt_url=url_for("web.submitted_receipt", code=code, token=token),
        tracking_url=url_for("tracking.show", code=dossier.code, mat_ma=secret),
        submission_label=tr(drafts.SUBMISSION_METHODS.get(dossier.submission_method or "")),
        return_label=tr(drafts.RETURN_METHODS.get(dossier.return_method or "")),
        postal_text=", ".join(x for x in (address.get("street"), address.get("ward_name"),
                                          address.get("province_name")) if x),
        vnpost_on=_vnpost_on(),
    ), 200, NO_CACHE


def _vnpost_on() -> bool:
    from app.outbox.services import enabled

    return enabled("vnpost")


@bp.get("/ho-so/<code>/da-nop/<token>/giay-tiep-nhan.pdf")
def submitted_receipt(code: str, token: str):
    """Paper 01 (receipt and appointment) for the applicant; its QR code opens the tracking page."""
    from app.papers import file_name, render

    dossier, secret = _confirmed(code, token)
    body = render("01", dossier, secret=secret)
    response = send_file(io.BytesIO(body), mimetype="application/pdf", as_attachment=False,
                         download_name=file_name("01", dossier), max_age=0)
    response.headers.update(NO_CACHE)
    return response
