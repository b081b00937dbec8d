"""Citizens' account pages under /tai-khoan: sign up, sign in and out, "Hồ sơ của tôi", add a dossier."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext

from app.citizens import services
from app.citizens.current import current_citizen, login_citizen, logout_citizen
from app.common.errors import ValidationFailed
from app.extensions import db, limiter
from app.i18n import N_

bp = Blueprint("citizens", __name__, url_prefix="/tai-khoan")

LOGIN_FAILED = N_("Thư điện tử / số điện thoại hoặc mật khẩu không đúng.")


@bp.app_context_processor
def _inject() -> dict[str, Any]:
    return {"current_citizen": current_citizen()}


def citizen_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_citizen() is None:
            return redirect(url_for("citizens.login", next=request.full_path))
        return view(*args, **kwargs)

    return wrapped


def _safe_next(target: str | None) -> str:
    default = url_for("citizens.dossiers")
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


@bp.route("/dang-ky", methods=["GET", "POST"])
@limiter.limit("20/minute", methods=["POST"])
def register():
    errors: dict[str, list[str]] = {}
    login = ""
    if request.method == "POST":
        login = (request.form.get("login") or "").strip()
        try:
            citizen = services.sign_up(login, request.form.get("password"), request.form.get("confirm"))
            db.session.commit()
        except ValidationFailed as exc:
            db.session.rollback()
            errors = exc.details or {}
        else:
            login_citizen(citizen)
            flash(gettext("Đã tạo tài khoản. Các hồ sơ bạn nộp khi đã đăng nhập sẽ hiện ở đây."), "success")
            return redirect(_safe_next(request.args.get("next")))
    return render_template("citizens/register.html", errors=errors, login=login), 422 if errors else 200


@bp.route("/dang-nhap", methods=["GET", "POST"])
@limiter.limit("20/minute", methods=["POST"])
def login():
    error = None
    login = ""
    if request.method == "POST":
        login = (request.form.get("login") or "").strip()
        citizen = services.authenticate(login, request.form.get("password"))
        if citizen is not None:
            db.session.commit()
            login_citizen(citizen)
            return redirect(_safe_next(request.args.get("next")))
        error = gettext(LOGIN_FAILED)
    return render_template("citizens/login.html", error=error, login=login), 401 if error else 200


@bp.post("/dang-xuat")
def logout():
    logout_citizen()
    flash(gettext("Bạn đã đăng xuất."), "success")
    return redirect(url_for("web.home"))


@bp.get("/ho-so")
@citizen_required
def dossiers():
    citizen = current_citizen()
    assert citizen is not None
    return render_template("citizens/dossiers.html", citizen=citizen, rows=services.my_dossiers(citizen),
                           errors={}, code="")


@bp.post("/ho-so/them")
@citizen_required
@limiter.limit(lambda: current_app.config["RATELIMIT_TRACKING"])
def claim():
    citizen = current_citizen()
    assert citizen is not None
    code = (request.form.get("ma") or "").strip()
    try:
        dossier, added = services.claim(citizen, code, request.form.get("mat_ma"))
        db.session.commit()
    except ValidationFailed as exc:
        db.session.rollback()
        return render_template("citizens/dossiers.html", citizen=citizen, rows=services.my_dossiers(citizen),
                               errors=exc.details or {}, code=code), 422
    flash(gettext("Đã thêm hồ sơ %(code)s vào danh sách của bạn.", code=dossier.code) if added
          else gettext("Hồ sơ %(code)s đã có trong danh sách của bạn.", code=dossier.code), "success")
    return redirect(url_for("citizens.dossiers"))


@bp.post("/ho-so/<code>/bo")
@citizen_required
def unclaim(code: str):
    citizen = current_citizen()
    assert citizen is not None
    if services.unclaim(citizen, code):
        db.session.commit()
        flash(gettext("Đã bỏ hồ sơ %(code)s khỏi danh sách của bạn.", code=code), "success")
    return redirect(url_for("citizens.dossiers"))
