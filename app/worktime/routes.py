"""Admin page: the working calendar of a year (`/quan-tri/lich-lam-viec`), add and remove overrides."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from app.auth.current import current_user, login_required
from app.common.errors import AppError
from app.common.timefmt import VN_TZ
from app.extensions import db
from app.worktime import calendar
from app.worktime import services as cal

bp = Blueprint("worktime", __name__, url_prefix="/quan-tri/lich-lam-viec")


def _admin():
    user = current_user()
    if user is None or not user.has_role("admin"):
        abort(403)
    return user


def _year(value: str | None) -> int:
    try:
        year = int(value) if value else datetime.now(VN_TZ).year
    except ValueError:
        abort(400)
    if not 1990 <= year <= 2100:
        abort(400)
    return year


def _page(year: int, values: dict | None = None, errors: list[str] | None = None, status: int = 200):
    return render_template("worktime/index.html", year=year, entries=cal.year_calendar(year),
                           kinds=calendar.KIND_LABELS, values=values or {}, errors=errors or []), status


@bp.get("/")
@login_required
def index():
    _admin()
    return _page(_year(request.args.get("nam")))


@bp.post("/")
@login_required
def add():
    user = _admin()
    values = {k: request.form.get(k, "").strip() for k in ("date", "kind", "reason")}
    try:
        day = cal.parse_day(values["date"])
        cal.add_override(day, values["kind"], values["reason"], user)
        db.session.commit()
    except AppError as exc:
        db.session.rollback()
        year = _year(values["date"][:4]) if values["date"][:4].isdigit() else _year(None)
        return _page(year, values, [exc.message], exc.status if exc.status != 404 else 422)
    calendar.invalidate()
    flash(f"Đã thêm {calendar.KIND_LABELS[values['kind']].lower()} {day:%d/%m/%Y}.", "success")
    return redirect(url_for("worktime.index", nam=day.year))


@bp.post("/<day>/xoa")
@login_required
def remove(day: str):
    _admin()
    try:
        d = cal.parse_day(day)
        cal.remove_override(d)
        db.session.commit()
    except AppError as exc:
        db.session.rollback()
        abort(exc.status)
    calendar.invalidate()
    flash(f"Đã xóa điều chỉnh ngày {d:%d/%m/%Y}.", "success")
    return redirect(url_for("worktime.index", nam=d.year))
