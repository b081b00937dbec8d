"""Officials sign in with a user name and password (argon2)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired

from app.auth.current import login_session
from app.auth.services import authenticate
from app.extensions import db, limiter

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    username = StringField("Tên đăng nhập", validators=[DataRequired("Vui lòng nhập tên đăng nhập.")])
    password = PasswordField("Mật khẩu", validators=[DataRequired("Vui lòng nhập mật khẩu.")])


def _safe_next(target: str | None) -> str:
    if not target:
        return url_for("inbox.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/"):
        return url_for("inbox.index")
    return target


@bp.route("/dang-nhap", methods=["GET", "POST"])
@limiter.limit("20/minute", methods=["POST"])
def login():
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        user = authenticate(form.username.data or "", form.password.data or "")
        if user is not None:
            db.session.commit()
            login_session(user)
            return redirect(_safe_next(request.args.get("next")))
        error = "Tên đăng nhập hoặc mật khẩu không đúng."
    status = 401 if error else 200
    return render_template("auth/login.html", form=form, error=error), status


@bp.post("/dang-xuat")
def logout():
    session.clear()
    return redirect(url_for("web.home"))
