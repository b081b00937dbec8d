"""Public tracking without an account: code + secret; the applicant's own tasks (supplements)."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from app.common.errors import ValidationFailed
from app.dossiers import services as dossiers
from app.dossiers.models import Dossier
from app.extensions import db, limiter
from app.inbox import services as inbox
from app.web.forms import attach_errors, schema_form
from app.web.helpers import lang

bp = Blueprint("tracking", __name__, url_prefix="/tra-cuu")

NOT_FOUND = "Không tìm thấy hồ sơ với mã hồ sơ và mã tra cứu đã nhập. Vui lòng kiểm tra lại."


def _find(code: str, secret: str) -> Dossier | None:
    dossier = db.session.scalar(select(Dossier).where(Dossier.code == code.strip()))
    if dossier is None or not dossiers.check_secret(dossier, secret):
        return None  # the same answer for an unknown code and a wrong secret
    return dossier


@bp.get("/")
@limiter.limit(lambda: current_app.config["RATELIMIT_TRACKING"])
def form():
    code = request.args.get("ma", "").strip()
    secret = request.args.get("mat_ma", "").strip()
    if code and secret:
        if _find(code, secret) is not None:
            return redirect(url_for("tracking.show", code=code, mat_ma=secret))
        return render_template("tracking/form.html", code=code, error=NOT_FOUND), 404
    return render_template("tracking/form.html", code=code, error=None)


@bp.route("/<code>", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_TRACKING"])
def show(code: str):
    secret = (request.values.get("mat_ma") or "").strip()
    dossier = _find(code, secret)
    if dossier is None:
        return render_template("tracking/form.html", code=code, error=NOT_FOUND if secret else None), \
            (404 if secret else 200)
    tasks = inbox.applicant_tasks(dossier)
    forms = {t.id: schema_form(dossier.version.form(t.form), dossier.version.form(t.ui_form),
                               prefix=f"cv{t.id}-") for t in tasks}
    status = 200
    if request.method == "POST":
        task_id = request.form.get("task_id", type=int)
        task_form = forms.get(task_id) if task_id else None
        if task_form is None:
            flash("Công việc không còn chờ bạn thực hiện.", "error")
            return redirect(url_for("tracking.show", code=code, mat_ma=secret))
        if task_form.validate_schema(lang=lang()):
            try:
                inbox.complete_as_applicant(dossier, task_id, task_form.clean_data, lang=lang())
                db.session.commit()
                flash("Đã gửi. Hồ sơ của bạn tiếp tục được xử lý.", "success")
                return redirect(url_for("tracking.show", code=code, mat_ma=secret))
            except ValidationFailed as exc:
                db.session.rollback()
                attach_errors(task_form, exc.details)
        status = 422
    return render_template("tracking/show.html", dossier=dossier, secret=secret,
                           steps=dossiers.steps(dossier), tasks=tasks, forms=forms), status
