"""Officials download a dossier's standard papers: /can-bo/ho-so/<code>/giay-to/<kind>.pdf; the desk issues an
apology with a new appointment date (POST /can-bo/ho-so/<code>/xin-loi), then prints paper 04 from it."""

from __future__ import annotations

import io

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for

from app.auth.current import current_user, login_required
from app.common.errors import AppError, ValidationFailed
from app.dossiers import late
from app.dossiers import services as dossiers
from app.extensions import db
from app.papers import KINDS, PaperError, file_name, render, title_of
from app.web.helpers import lang

bp = Blueprint("papers", __name__, url_prefix="/can-bo")


@bp.get("/ho-so/<code>/giay-to/<kind>.pdf")
@login_required
def paper(code: str, kind: str):
    if kind not in KINDS:
        abort(404)
    user = current_user()
    assert user is not None
    dossier = dossiers.get_viewable(code, user)
    extra: dict = {"official": user.display_name}
    secret = request.args.get("mat_ma", "").strip()
    if kind == "01" and secret and dossiers.check_secret(dossier, secret):
        extra["secret"] = secret  # the QR code then opens the tracking page directly
    try:
        body = render(kind, dossier, **extra)
    except PaperError as exc:
        if exc.status == 404:
            abort(404)
        return render_template("papers/error.html", dossier=dossier, title=title_of(kind), message=exc.message,
                               may_apologise=kind == "04" and late.may_apologise(user, dossier)), exc.status
    response = send_file(io.BytesIO(body), mimetype="application/pdf", as_attachment=False,
                         download_name=file_name(kind, dossier), max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/ho-so/<code>/xin-loi", methods=["GET", "POST"])
@login_required
def apology(code: str):
    """"Xin lỗi và hẹn lại ngày trả": the form (also on the dossier page); POST issues it and offers paper 04."""
    user = current_user()
    assert user is not None
    dossier = dossiers.get_viewable(code, user)
    if not late.may_apologise(user, dossier):
        abort(403)
    errors: dict = {}
    ngay, ly_do = "", ""
    status = 200
    if request.method == "POST":
        ngay, ly_do = (request.form.get("ngay") or "").strip(), (request.form.get("ly_do") or "").strip()
        try:
            late.issue_apology(dossier, late.parse_new_due(ngay), ly_do, dossiers.Actor(user))
            db.session.commit()
        except ValidationFailed as exc:
            db.session.rollback()
            errors = exc.details if isinstance(exc.details, dict) else {}
            status = 422
        except AppError as exc:
            db.session.rollback()
            flash(exc.text(lang()), "error")
            return redirect(url_for("inbox.dossier", code=code), 303)
        else:
            from app.inbox.routes import offer_paper

            flash(f"Đã hẹn lại ngày trả kết quả cho hồ sơ {code}.", "success")
            offer_paper(code, "04")
            return redirect(url_for("inbox.dossier", code=code), 303)
    return render_template("papers/apology_form.html", dossier=dossier, title=title_of("04"), errors=errors,
                           ngay=ngay, ly_do=ly_do, finished=late.is_finished(dossier)), status
