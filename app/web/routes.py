"""Public pages: the procedure catalogue, a procedure, the language switch (submission: submission.py)."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, session, url_for
from sqlalchemy import select

from app.catalog.models import Procedure
from app.catalog.services import get_procedure
from app.extensions import db

bp = Blueprint("web", __name__)


@bp.get("/")
def home():
    procedures = list(db.session.scalars(
        select(Procedure).where(Procedure.active.is_(True), Procedure.current_version_id.is_not(None))
        .order_by(Procedure.field, Procedure.name)))
    return render_template("public/home.html", procedures=procedures)


@bp.get("/thu-tuc/<code>")
def procedure(code: str):
    return render_template("public/procedure.html", procedure=get_procedure(code))


@bp.post("/ngon-ngu/<value>")
def set_language(value: str):
    if value in ("vi", "en"):
        session["lang"] = value
    return redirect(url_for("web.home"))


from app.web import submission as _submission  # noqa: E402,F401 — its routes join this blueprint
