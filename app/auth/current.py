"""Who is asking: a session for the web, a bearer token for the API."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import g, redirect, request, session, url_for

from app.auth.models import User
from app.auth.services import user_for_token
from app.common.errors import Unauthorized
from app.extensions import db


def current_user() -> User | None:
    if "user" not in g:
        user = None
        uid = session.get("uid")
        if uid is not None:
            user = db.session.get(User, uid)
            if user is not None and (not user.active or session.get("pwv") != _pw_version(user)):
                user = None
        g.user = user
    return g.user


def _pw_version(user: User) -> str:
    # a password change ends every other session of that user
    return (user.password_hash or "")[-12:]


def login_session(user: User) -> None:
    session.clear()
    session["uid"] = user.id
    session["pwv"] = _pw_version(user)
    session.permanent = True


def api_user() -> User:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        user = user_for_token(header[7:].strip())
        if user is not None:
            return user
    raise Unauthorized("Cần mã truy cập hợp lệ (Authorization: Bearer ...).",
                       "A valid bearer token is required.")


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_user() is None:
            return redirect(url_for("auth.login", next=request.full_path))
        return view(*args, **kwargs)

    return wrapped
