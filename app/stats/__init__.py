"""Usage of every online service, counted automatically: views of a procedure's page, submission forms
started, dossiers submitted (by channel), abandons derived (starts − online submits); and the online-usage
ratio from the dossiers themselves; ``flask usage show [--since --until --procedure --unit]`` prints them.
``tracking.py`` says what is counted, ``buffer.py`` how it is written
(and the buffering window), ``queries.usage()`` reads it.

Wiring (create_app): ``from app.stats import init_app as init_stats; init_stats(app)``.

Configuration: ``USAGE_COUNTERS`` (default on; ``0`` disables counting), ``USAGE_FLUSH_SECONDS`` (60),
``USAGE_FLUSH_EVENTS`` (1000), ``USAGE_FLUSH_THREAD`` (default on, off under TESTING: then only ``flush()``
and the exit write, which TESTING skips too: a test suite's database is gone when the interpreter exits).
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, current_app

from app.stats.queries import usage
from app.stats.tracking import count, is_bot

__all__ = ["count", "flush", "init_app", "is_bot", "usage"]


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() not in {"0", "false", "no", "off", ""}


def init_app(app: Flask) -> None:
    from app.stats import models as _models  # noqa: F401 — the table joins the metadata
    from app.stats.buffer import UsageBuffer
    from app.stats.cli import usage_cli
    from app.stats.tracking import install

    app.config.setdefault("USAGE_COUNTERS", _env_bool("USAGE_COUNTERS", True))
    app.config.setdefault("USAGE_FLUSH_SECONDS", float(os.environ.get("USAGE_FLUSH_SECONDS", "60")))
    app.config.setdefault("USAGE_FLUSH_EVENTS", int(os.environ.get("USAGE_FLUSH_EVENTS", "1000")))
    app.config.setdefault("USAGE_FLUSH_THREAD", _env_bool("USAGE_FLUSH_THREAD", not app.testing))
    if "usage" not in app.cli.commands:
        app.cli.add_command(usage_cli)
    if not app.config["USAGE_COUNTERS"] or "usage_counters" in app.extensions:
        return
    app.extensions["usage_counters"] = UsageBuffer(app, flush_seconds=app.config["USAGE_FLUSH_SECONDS"],
                                                   flush_events=app.config["USAGE_FLUSH_EVENTS"],
                                                   background=app.config["USAGE_FLUSH_THREAD"])
    install(app)


def flush(app: Flask | None = None) -> int:
    """Write this process's waiting counts now. Returns how many were written."""
    buffer: Any = (app or current_app).extensions.get("usage_counters")
    return buffer.flush() if buffer is not None else 0
