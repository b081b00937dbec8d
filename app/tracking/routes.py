"""Public tracking without an account: code + secret; the applicant's own tasks (supplements)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask.blueprints import BlueprintSetupState
from flask_babel import gettext
from sqlalchemy import select

from app.citizens import current_citizen
from app.citizens import services as citizens
from app.common.errors import Conflict, ValidationFailed
from app.dossiers import services as dossiers
from app.dossiers.models import Dossier
from app.extensions import db, limiter
from app.i18n import N_
from app.inbox import services as inbox
from app.tracking import ratings, timeline
from app.web.forms import attach_errors, schema_form
from app.web.helpers import lang

bp = Blueprint("tracking", __name__, url_prefix="/tra-cuu")


@bp.record_once
def _with_citizens(state: BlueprintSetupState) -> None:
    """The citizens' account pages come with tracking (idempotent: app/__init__.py may register them too)."""
    from app.citizens import register

    register(state.app)


NOT_FOUND = N_("Không tìm thấy hồ sơ với mã hồ sơ và mã tra cứu đã nhập. Vui lòng kiểm tra lại.")


def _find(code: str, secret: str) -> Dossier | None:
    """The dossier if the secret is right, or if the signed-in citizen owns it (submitted while signed in, or
    added with its secret before): "Hồ sơ của tôi" links here without the secret. Otherwise None, the same for
    an unknown code and a wrong secret."""
    dossier = db.session.scalar(select(Dossier).where(Dossier.code == code.strip()))
    if dossier is None:
        dossiers.check_secret(_NOBODY, secret)  # type: ignore[arg-type]  # the same work as a wrong secret
        return None
    if secret and dossiers.check_secret(dossier, secret):
        return dossier
    if citizens.owns(current_citizen(), dossier):
        return dossier
    return None


#: a stand-in checked against when the code is unknown (its hash matches no secret)
_NOBODY = SimpleNamespace(code="", tracking_secret_hash="0" * 64)


def render_dossier(dossier: Dossier, secret: str, *, tasks: list | None = None, forms: dict | None = None,
                   status: int = 200, **extra: Any):
    """The tracking page of a dossier: appointment, the applicant's tasks, rating, timeline, postal, contact."""
    from app.papers.documents import supplement_items

    if tasks is None:
        tasks = inbox.applicant_tasks(dossier)
    if forms is None:
        forms = _task_forms(dossier, tasks)
    items = supplement_items(dossier) if tasks and dossier.status == 5 else []
    extra.setdefault("rating_errors", {})
    extra.setdefault("rating_values", {})
    return render_template("tracking/show.html", dossier=dossier, secret=secret, steps=dossiers.steps(dossier),
                           tasks=tasks, forms=forms, supplement_items=items, timeline=timeline.build(dossier),
                           appointment=timeline.appointment(dossier), rating=ratings.state(dossier),
                           **extra), status


def _task_forms(dossier: Dossier, tasks: list) -> dict:
    return {t.id: schema_form(dossier.version.form(t.form), dossier.version.form(t.ui_form),
                              prefix=f"cv{t.id}-", lang=lang()) for t in tasks}


@bp.get("/")
@limiter.limit(lambda: current_app.config["RATELIMIT_TRACKING"])
def form():
    code = request.args.get("ma", "").strip()
    secret = request.args.get("mat_ma", "").strip()
    if code and secret:
        if _find(code, secret) is not None:
            return redirect(url_for("tracking.show", code=code, mat_ma=secret))
        return render_template("tracking/form.html", code=code, error=gettext(NOT_FOUND)), 404
    return render_template("tracking/form.html", code=code, error=None)


@bp.route("/<code>", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_TRACKING"])
def show(code: str):
    secret = (request.values.get("mat_ma") or "").strip()
    dossier = _find(code, secret)
    if dossier is None:
        return render_template("tracking/form.html", code=code, error=gettext(NOT_FOUND) if secret else None), \
            (404 if secret else 200)
    tasks = inbox.applicant_tasks(dossier)
    forms = _task_forms(dossier, tasks)
    status = 200
    if request.method == "POST":
        task_id = request.form.get("task_id", type=int)
        task_form = forms.get(task_id) if task_id else None
        if task_form is None:
            flash(gettext("Công việc không còn chờ bạn thực hiện."), "error")
            return redirect(url_for("tracking.show", code=code, mat_ma=secret))
        if task_form.validate_schema(lang=lang()):
            try:
                inbox.complete_as_applicant(dossier, task_id, task_form.clean_data, lang=lang())
                db.session.commit()
                flash(gettext("Đã gửi. Hồ sơ của bạn tiếp tục được xử lý."), "success")
                return redirect(url_for("tracking.show", code=code, mat_ma=secret))
            except ValidationFailed as exc:
                db.session.rollback()
                attach_errors(task_form, exc.details)
        status = 422
    return render_dossier(dossier, secret, tasks=tasks, forms=forms, status=status)


@bp.post("/<code>/danh-gia")
@limiter.limit(lambda: current_app.config["RATELIMIT_TRACKING"])
def rate(code: str):
    """The satisfaction rating form of the tracking page (CSRF-protected like every form; needs the secret)."""
    secret = (request.form.get("mat_ma") or "").strip()
    dossier = _find(code, secret)
    if dossier is None:
        return render_template("tracking/form.html", code=code, error=gettext(NOT_FOUND)), 404
    try:
        _rating, created = ratings.rate(dossier, request.form.get("level"), request.form.get("comment", ""),
                                        lang=lang())
        db.session.commit()
    except ValidationFailed as exc:
        db.session.rollback()
        return render_dossier(dossier, secret, status=422, rating_errors=exc.details or {},
                              rating_values=request.form)
    except Conflict as exc:
        db.session.rollback()
        flash(exc.text(lang()), "error")
        return redirect(url_for("tracking.show", code=code, mat_ma=secret or None, _anchor="danh-gia"))
    flash(gettext("Cảm ơn bạn đã đánh giá! Ý kiến của bạn giúp cơ quan phục vụ tốt hơn.") if created
          else gettext("Cảm ơn bạn! Đánh giá của bạn đã được cập nhật."), "success")
    return redirect(url_for("tracking.show", code=code, mat_ma=secret or None, _anchor="danh-gia"))
