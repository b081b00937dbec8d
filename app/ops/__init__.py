"""Operations: `/healthz`, `/readyz`, `/metrics` (Prometheus) and structured JSON logs with a request id.

Wiring (create_app): ``from app.ops import init_app as init_ops; init_ops(app)``.

Configuration (environment, read at start):

- ``METRICS_TOKEN``: when set, ``/metrics`` needs ``Authorization: Bearer <token>``; when unset it answers only
  requests from the loopback address (behind a reverse proxy on the same host, set a token or do not proxy it).
- ``PROMETHEUS_MULTIPROC_DIR``: several gunicorn workers. Point it at an empty directory writable by the workers,
  created (and emptied) before gunicorn starts; each worker writes its counters there and ``/metrics`` adds them
  up. Add ``from app.ops.gunicorn import child_exit`` to the gunicorn config file so that a dead worker's live
  gauges are dropped. Unset: each process has its own counters (``flask run``, one worker).
- ``READYZ_HEARTBEAT_SECONDS`` (default 60): the scheduler's heartbeat older than this makes ``/readyz`` 503;
  ``READYZ_CHECK_SCHEDULER=0`` leaves the scheduler out (a web node without a scheduler anywhere).
- ``LOG_FORMAT`` (``text`` by default, ``json`` in production) and ``LOG_LEVEL`` (``INFO``): see ``logs.py``.
"""

from __future__ import annotations

import os

from flask import Flask


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() not in {"0", "false", "no", "off", ""}


def init_app(app: Flask) -> None:
    """Register the ops blueprint, the request metrics and the request log on `app`."""
    from app.ops import logs, metrics
    from app.ops.routes import bp

    app.config.setdefault("METRICS_TOKEN", os.environ.get("METRICS_TOKEN") or None)
    app.config.setdefault("READYZ_HEARTBEAT_SECONDS", float(os.environ.get("READYZ_HEARTBEAT_SECONDS", "60")))
    app.config.setdefault("READYZ_CHECK_SCHEDULER", _bool("READYZ_CHECK_SCHEDULER", True))
    app.config.setdefault("LOG_FORMAT", (os.environ.get("LOG_FORMAT") or "text").strip().lower())
    app.config.setdefault("LOG_LEVEL", (os.environ.get("LOG_LEVEL") or "INFO").strip().upper())
    if "ops" not in app.blueprints:
        app.register_blueprint(bp)
        from app.extensions import csrf, limiter

        csrf.exempt(bp)
        limiter.exempt(bp)
    logs.configure_logging(app)
    metrics.init_app(app)
