"""Officials' pages: the task inbox, a task with its dossier and form, a dossier, its files."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for

from app.auth.current import current_user, login_required
from app.common.errors import AppError, ValidationFailed
from app.dossiers import services as dossiers
from app.dossiers import storage
from app.dossiers.models import Attachment
from app.extensions import db
from app.inbox import services as inbox
from app.web.forms import attach_errors, schema_form
from app.web.helpers import lang

bp = Blueprint("inbox", __name__, url_prefix="/can-bo")


def _file_url(ref: dict) -> str:
    return url_for("inbox.attachment", attachment_id=ref["attachment_id"])


@bp.get("/")
@login_required
def index():
    user = current_user()
    assert user is not None
    scope = request.args.get("tab", "available")
    if scope not in ("available", "mine"):
        scope = "available"
    cursor = request.args.get("sau", type=int)
    tasks = inbox.list_tasks(user, scope, limit=50, cursor=cursor)
    return render_template("inbox/index.html", tasks=tasks, scope=scope,
                           next_cursor=tasks[-1].id if len(tasks) == 50 else None)


def _viewable_task(task_id: int):
    user = current_user()
    assert user is not None
    task = inbox.get_task(task_id)
    if not inbox.may_work(user, task) and not dossiers.can_view(user, task.dossier):
        abort(403)
    return user, task


@bp.route("/cong-viec/<int:task_id>", methods=["GET", "POST"])
@login_required
def task(task_id: int):
    user, t = _viewable_task(task_id)
    version = t.dossier.version
    form = schema_form(version.form(t.form), version.form(t.ui_form), prefix="cv-")
    status = 200
    if request.method == "POST":
        if form.validate_schema(lang=lang()):
            try:
                inbox.complete(task_id, form.clean_data, dossiers.Actor(user), lang=lang())
                db.session.commit()
                flash(f"Đã hoàn thành “{t.name}” cho hồ sơ {t.dossier.code}.", "success")
                return redirect(url_for("inbox.index"))
            except ValidationFailed as exc:
                db.session.rollback()
                attach_errors(form, exc.details)
            except AppError as exc:
                db.session.rollback()
                flash(exc.text(lang()), "error")
                return redirect(url_for("inbox.task", task_id=task_id))
        status = 422
    d = t.dossier
    return render_template("inbox/task.html", task=t, dossier=d, form=form, may_work=inbox.may_work(user, t),
                           steps=dossiers.steps(d), attachments=dossiers.attachments(d), file_url=_file_url), status


@bp.post("/cong-viec/<int:task_id>/nhan")
@login_required
def claim(task_id: int):
    user = current_user()
    assert user is not None
    try:
        inbox.claim(task_id, user)
        db.session.commit()
        flash("Đã nhận xử lý công việc.", "success")
    except AppError as exc:
        db.session.rollback()
        flash(exc.text(lang()), "error")
    return redirect(url_for("inbox.task", task_id=task_id))


@bp.post("/cong-viec/<int:task_id>/tra-lai")
@login_required
def release(task_id: int):
    user = current_user()
    assert user is not None
    try:
        inbox.release(task_id, user)
        db.session.commit()
        flash("Đã trả công việc về hàng chờ chung.", "success")
    except AppError as exc:
        db.session.rollback()
        flash(exc.text(lang()), "error")
    return redirect(url_for("inbox.index"))


@bp.get("/ho-so/<code>")
@login_required
def dossier(code: str):
    user = current_user()
    assert user is not None
    d = dossiers.get_dossier(code)
    if not dossiers.can_view(user, d):
        abort(403)
    return render_template("inbox/dossier.html", dossier=d, steps=dossiers.steps(d),
                           history=dossiers.history(d), attachments=dossiers.attachments(d),
                           tasks=inbox.open_tasks(d), file_url=_file_url)


@bp.get("/tep/<int:attachment_id>")
@login_required
def attachment(attachment_id: int):
    user = current_user()
    assert user is not None
    att = db.session.get(Attachment, attachment_id)
    if att is None:
        abort(404)
    d = dossiers.get_dossier_by_id(att.dossier_id)
    if not dossiers.can_view(user, d):
        abort(403)
    return send_file(storage.path_for(att.sha256), mimetype=att.content_type, download_name=att.filename,
                     as_attachment=att.content_type not in ("application/pdf", "image/jpeg", "image/png"))
