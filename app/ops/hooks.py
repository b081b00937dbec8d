"""The request hooks shared by the metrics and the request log: start time and request id first, record last."""

from __future__ import annotations

import logging
import time

from flask import Flask, Response, g

log = logging.getLogger(__name__)


def _start() -> None:
    from app.ops.logs import request_id

    g._ops_started = time.perf_counter()
    request_id()


def _finish(response: Response) -> Response:
    from app.ops import logs, metrics

    started = g.get("_ops_started")
    duration = time.perf_counter() - started if started is not None else None
    try:
        response.headers["X-Request-ID"] = logs.request_id() or ""
        metrics.observe(response.status_code, duration)
        logs.log_request(response.status_code, duration * 1000 if duration is not None else None)
    except Exception:  # noqa: BLE001 — monitoring must never break a response
        log.exception("request record failed")
    return response


def install(app: Flask) -> None:
    """Idempotent: the start hook runs before every other before_request, the record after every after_request."""
    state = app.extensions.setdefault("ops", {})
    if state.get("hooks"):
        return
    state["hooks"] = True
    app.before_request_funcs.setdefault(None, []).insert(0, _start)
    app.after_request_funcs.setdefault(None, []).insert(0, _finish)  # run in reverse order: this one runs last
