"""Officials' notes on a dossier: POST /can-bo/ho-so/<code>/ghi-chu (the form is in inbox/_notes.html)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for

from app.auth.current import current_user, login_required
from app.common.errors import ValidationFailed
from app.dossiers import notes as notes_service
from app.dossiers import services as dossiers
from app.extensions import db
from app.inbox import services as inbox
from app.web.helpers import lang

bp = Blueprint("notes", __name__, url_prefix="/can-bo")


def _safe_next(target: str | None, fallback: str) -> str:
    """Only relative, same-site paths (no scheme, no host, no `//` or backslash tricks)."""
    target = (target or "").strip()
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return fallback
    return target


@bp.app_context_processor
def _inject() -> dict:
    return {"dossier_notes": notes_service.notes_of, "note_attachments": notes_service.attachments_by_id,
            "note_file_kinds": notes_service.FILE_KINDS}


@bp.post("/ho-so/<code>/ghi-chu")
@login_required
def add(code: str):
    user = current_user()
    assert user is not None
    d = dossiers.get_viewable(code, user)
    back = _safe_next(request.form.get("next"), url_for("inbox.dossier", code=d.code))
    files = [(f.filename or "tep", f.read()) for f in request.files.getlist("files") if f and f.filename]
    try:
        notes_service.add_note(d, dossiers.Actor(user), request.form.get("text"), files,
                               kind=request.form.get("kind", "ghi_chu"))
        db.session.commit()
    except ValidationFailed as exc:
        db.session.rollback()
        from app.inbox.routes import _file_url

        errors = exc.details if isinstance(exc.details, dict) else {}
        if not errors:
            errors = {"text": [exc.text(lang())]}
        return render_template("inbox/dossier.html", dossier=d, steps=dossiers.steps(d),
                               history=dossiers.history(d), attachments=dossiers.attachments(d),
                               tasks=inbox.open_tasks(d), file_url=_file_url, note_errors=errors,
                               note_form=request.form, note_next=back), 422
    flash("Đã thêm ghi chú.", "success")
    return redirect(back, 303)
