"""Template helpers: language, dates in Vietnam time, money, status labels."""

from __future__ import annotations

from flask import Flask, request, session

from app.auth.current import current_user
from app.common.timefmt import fmt_date, fmt_datetime
from app.dossiers.models import CHANNEL_LABELS, status_label
from app.i18n import tr
from app.schemaforms.vn import format_money


def lang() -> str:
    """Vietnamese unless the user chose English (session) or, for the API, asked for it."""
    chosen = session.get("lang") if request else None
    if chosen in ("vi", "en"):
        return chosen
    if request and request.path.startswith("/api/"):
        best = request.accept_languages.best_match(["vi", "en"], default="vi")
        return best or "vi"
    return "vi"


def money(amount: int | float | None) -> str:
    """200000 → '200.000 đ'."""
    return format_money(amount)


def register(app: Flask) -> None:
    app.jinja_env.filters["datetime"] = fmt_datetime
    app.jinja_env.filters["date"] = fmt_date
    app.jinja_env.filters["money"] = money
    app.jinja_env.filters["tr"] = tr
    app.jinja_env.filters["status_label"] = lambda s: status_label(s, lang())
    app.jinja_env.filters["channel_label"] = lambda c: tr(CHANNEL_LABELS.get(c, c))

    def has_endpoint(name: str) -> bool:
        return name in app.view_functions

    def can_design() -> bool:
        from app.designer.services import can_design as _can

        return _can(current_user())

    def here() -> str:
        """This page's path and query: where the language switch comes back to."""
        return request.full_path.rstrip("?") if request.method == "GET" else request.path

    @app.context_processor
    def inject() -> dict:
        return {"current_user": current_user(), "lang": lang(), "has_endpoint": has_endpoint,
                "can_design": can_design, "here": here}
