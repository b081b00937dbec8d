"""Structured logs: one JSON line per request, with a request id, and every other log line as JSON too.

``LOG_FORMAT=json`` (set it in production, under gunicorn): a handler on the root logger writes JSON lines to
standard error (``LOG_LEVEL``, default INFO) and werkzeug's own access lines are silenced. The default is
``text``: ``flask run`` keeps Flask's and werkzeug's human lines, and the per-request record of the
``motcua.access`` logger (INFO) is dropped by the root logger's WARNING level. Under ``TESTING`` no handler is
ever installed (tests stay quiet; they read the records with caplog).

The request record (logger ``motcua.access``, message ``request``) carries: ``request_id`` (the caller's
``X-Request-ID`` when it is a short token, else a new one; echoed in the response header), ``method``, ``path``
(never the query string), ``query`` (parameter names; values only for a few harmless keys such as ``page``),
``endpoint``, ``status``, ``duration_ms``, ``user_id`` (an official's id, never a name), and ``dossier_code``
(or ``procedure_code``) from a ``code`` view argument. No IP address, user agent, form field, tracking secret
(``mat_ma``), token or query value that could hold personal data is logged.
"""

from __future__ import annotations

import logging
import re
import sys
import uuid
from typing import Any

from flask import Flask, g, has_request_context, request
from flask.logging import default_handler
from pythonjsonlogger.json import JsonFormatter

access_log = logging.getLogger("motcua.access")

#: query parameters whose values are harmless (paging, tabs, filters by enumerations); every other value is dropped
SAFE_QUERY_VALUES = frozenset({"page", "trang", "tab", "xem", "scope", "limit", "counts", "nam", "lang", "due",
                               "status", "channel", "ket_noi", "kind", "format"})
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
#: view arguments named `code` that are procedure codes (the rest are dossier codes)
_PROCEDURE_RULES = ("/thu-tuc/<code>", "/procedures/<code>")
_HANDLER_MARK = "_motcua_json_handler"


def request_id() -> str | None:
    """The current request's id (None outside a request)."""
    if not has_request_context():
        return None
    rid = g.get("request_id")
    if rid is None:
        given = request.headers.get("X-Request-ID", "")
        rid = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        g.request_id = rid
    return rid


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record emitted while a request is handled."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            rid = request_id()
            if rid is not None:
                record.request_id = rid
        return True


def json_formatter() -> JsonFormatter:
    return JsonFormatter("{asctime}{levelname}{name}{message}", style="{", json_ensure_ascii=False,
                         rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                         datefmt="%Y-%m-%dT%H:%M:%S%z")


def configure_logging(app: Flask) -> None:
    """Install the JSON handler when LOG_FORMAT=json (never under TESTING); register the request record."""
    from app.ops import hooks

    hooks.install(app)
    if app.config.get("LOG_FORMAT") != "json" or app.testing:
        return
    root = logging.getLogger()
    if not any(getattr(h, _HANDLER_MARK, False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(json_formatter())
        handler.addFilter(RequestIdFilter())
        setattr(handler, _HANDLER_MARK, True)
        root.addHandler(handler)
    root.setLevel(app.config.get("LOG_LEVEL") or "INFO")
    app.logger.removeHandler(default_handler)  # the root handler writes Flask's lines as JSON
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # its access lines repeat ours


def clean_query() -> list[str] | dict[str, str] | None:
    """The query string without personal data: harmless values kept, other parameters by name only."""
    if not request.args:
        return None
    out: dict[str, str] = {}
    for key in request.args:
        out[key[:40]] = request.args.get(key, "")[:40] if key in SAFE_QUERY_VALUES else "-"
    return out


def request_fields(response_status: int, duration_ms: float | None) -> dict[str, Any]:
    fields: dict[str, Any] = {"request_id": request_id(), "method": request.method, "path": request.path,
                              "endpoint": request.endpoint, "status": response_status}
    if duration_ms is not None:
        fields["duration_ms"] = round(duration_ms, 2)
    query = clean_query()
    if query:
        fields["query"] = query
    uid = getattr(g.get("user"), "id", None)  # the official the route identified (current_user())
    if uid is not None:
        fields["user_id"] = uid
    code = (request.view_args or {}).get("code")
    if isinstance(code, str) and code:
        rule = request.url_rule.rule if request.url_rule is not None else ""
        procedure = any(part in rule for part in _PROCEDURE_RULES) or (request.blueprint or "").startswith("design")
        fields["procedure_code" if procedure else "dossier_code"] = code[:64]
    return fields


def log_request(status: int, duration_ms: float | None) -> None:
    if not access_log.isEnabledFor(logging.INFO):
        return
    access_log.info("request", extra=request_fields(status, duration_ms))
