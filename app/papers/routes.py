"""Officials download a dossier's standard papers: /can-bo/ho-so/<code>/giay-to/<kind>.pdf."""

from __future__ import annotations

import io
from datetime import date

from flask import Blueprint, abort, render_template, request, send_file

from app.auth.current import current_user, login_required
from app.dossiers import services as dossiers
from app.papers import KINDS, PaperError, file_name, render, title_of

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
    if kind == "04":
        raw_date, reason = request.args.get("ngay", "").strip(), request.args.get("ly_do", "").strip()
        if not raw_date and not reason:
            return render_template("papers/apology_form.html", dossier=dossier, title=title_of(kind), error=None,
                                   ngay="", ly_do="")
        try:
            new_date = date.fromisoformat(raw_date)
        except ValueError:
            new_date = None
        if new_date is None or not reason:
            error = "Nhập ngày hẹn trả mới (YYYY-MM-DD) và lý do chậm trễ."
            return render_template("papers/apology_form.html", dossier=dossier, title=title_of(kind), error=error,
                                   ngay=raw_date, ly_do=reason), 422
        extra.update(new_date=new_date, reason=reason)
    try:
        body = render(kind, dossier, **extra)
    except PaperError as exc:
        if exc.status == 404:
            abort(404)
        return render_template("papers/error.html", dossier=dossier, title=title_of(kind), message=exc.message), \
            exc.status
    response = send_file(io.BytesIO(body), mimetype="application/pdf", as_attachment=False,
                         download_name=file_name(kind, dossier), max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    return response
