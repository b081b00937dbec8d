"""Public submission: the form rendered from the procedure's start form, and its confirmation."""

from __future__ import annotations

from flask import abort, redirect, render_template, request, session, url_for

from app.catalog.services import get_procedure
from app.common.errors import ValidationFailed
from app.dossiers import services as dossiers
from app.extensions import db, limiter
from app.web.forms import APPLICANT_FORM, APPLICANT_UI, attach_errors, schema_form
from app.web.helpers import lang
from app.web.routes import bp


@bp.route("/thu-tuc/<code>/nop-ho-so", methods=["GET", "POST"])
@limiter.limit("30/minute", methods=["POST"])
def submit(code: str):
    proc = get_procedure(code)
    version = proc.current_version
    assert version is not None
    outline = version.spec.outline
    schema = version.form(outline.get("start_form"))
    ui = version.form(outline.get("start_ui_form"))
    applicant_form = schema_form(APPLICANT_FORM, APPLICANT_UI, prefix="nguoinop-")
    data_form = schema_form(schema, ui, prefix="hoso-")
    if request.method == "POST":
        ok_a = applicant_form.validate_schema(lang=lang())
        ok_d = data_form.validate_schema(lang=lang())
        if ok_a and ok_d:
            applicant = dict(applicant_form.clean_data)
            channel = applicant.pop("channel", "online")
            try:
                dossier, secret = dossiers.submit(code, channel, applicant, data_form.clean_data, lang=lang())
                db.session.commit()
            except ValidationFailed as exc:
                db.session.rollback()
                attach_errors(applicant_form, exc.details, "applicant.")
                attach_errors(data_form, exc.details, "data.")
            else:
                # the secret is shown once, on the next page (post/redirect/get: a reload does not resubmit)
                session["submitted"] = {dossier.code: secret}  # only the latest: the cookie is signed, not secret
                return redirect(url_for("web.submitted", code=dossier.code))
    return render_template("public/submit.html", procedure=proc, applicant_form=applicant_form,
                           data_form=data_form), (422 if request.method == "POST" else 200)


@bp.get("/ho-so/<code>/da-nop")
def submitted(code: str):
    secret = (session.get("submitted") or {}).get(code)
    if secret is None:
        abort(404)
    dossier = dossiers.get_dossier(code)
    return render_template("public/submitted.html", dossier=dossier, secret=secret)
