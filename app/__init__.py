"""MotCua: the application factory."""

from __future__ import annotations

import logging
import os
import secrets
import sqlite3
from typing import Any

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from app.config import Config


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """SQLite: WAL so readers never block the writer, a busy timeout instead of 'database is locked'."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_object(Config)
    if test_config:
        app.config.update(test_config)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"connect_args": {"timeout": 30}}
    else:
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_pre_ping": True, "pool_size": 5, "max_overflow": 10}
    os.makedirs(app.instance_path, exist_ok=True)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(app.instance_path)
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_template_helpers(app)
    register_commands(app)
    from app.ops import init_app as init_ops
    from app.stats import init_app as init_stats

    init_ops(app)
    init_stats(app)
    logging.getLogger("SpiffWorkflow").setLevel(logging.WARNING)
    return app


def _instance_secret(instance_path: str) -> str:
    path = os.path.join(instance_path, "secret_key")
    if not os.path.exists(path):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
    with open(path) as fh:
        return fh.read().strip()


def register_extensions(app: Flask) -> None:
    from app.extensions import csrf, db, limiter, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(app.config.get("MIGRATIONS_DIR") or _migrations_dir()),
                     render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    limiter.init_app(app)
    # import every model so metadata is complete for migrations and create_all
    from app.auth import models as _a  # noqa: F401
    from app.catalog import models as _c  # noqa: F401
    from app.citizens import models as _cz  # noqa: F401
    from app.dossiers import models as _d  # noqa: F401
    from app.drafts import models as _dr  # noqa: F401
    from app.inbox import models as _i  # noqa: F401
    from app.outbox import models as _o  # noqa: F401
    from app.outbox.subscribers import connect
    from app.payments import models as _p  # noqa: F401
    from app.tracking import models as _t  # noqa: F401

    connect()


def _migrations_dir() -> str:
    from app.config import ROOT

    return str(ROOT / "migrations")


def register_blueprints(app: Flask) -> None:
    from app.api.routes import bp as api_bp
    from app.auth.routes import bp as auth_bp
    from app.designer import register as register_designer
    from app.extensions import csrf
    from app.inbox.notes_routes import bp as notes_bp
    from app.inbox.routes import bp as inbox_bp
    from app.outbox.routes import bp as outbox_bp
    from app.outbox.routes import callbacks as callbacks_bp
    from app.papers.routes import bp as papers_bp
    from app.tracking.routes import bp as tracking_bp
    from app.web.routes import bp as web_bp
    from app.worktime.routes import bp as worktime_bp

    csrf.exempt(api_bp)  # the API authenticates with bearer tokens, not cookies
    csrf.exempt(callbacks_bp)  # partners sign their callbacks (HMAC)
    app.register_blueprint(web_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(inbox_bp)
    app.register_blueprint(notes_bp)
    app.register_blueprint(tracking_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(papers_bp)
    register_designer(app)
    app.register_blueprint(worktime_bp)
    app.register_blueprint(outbox_bp)
    from app.citizens import register as register_citizens

    register_citizens(app)
    from app.drafts.services import open_drafts_of

    app.jinja_env.globals["citizen_drafts"] = lambda citizen: open_drafts_of(citizen.id)
    from app.reports import init_app as init_reports

    init_reports(app)
    from app.payments.routes import bp as payments_bp
    from app.payments.routes import callbacks as payment_callbacks_bp

    csrf.exempt(payment_callbacks_bp)  # the gateway signs its notifies (check value)
    app.register_blueprint(payments_bp)
    app.register_blueprint(payment_callbacks_bp)
    from app.outbox.inbound import shipments_for

    app.jinja_env.globals["postal_shipments"] = shipments_for
    app.register_blueprint(callbacks_bp)


def register_errorhandlers(app: Flask) -> None:
    from app.web.errors import register

    register(app)


def register_template_helpers(app: Flask) -> None:
    from app.i18n import init_app as init_i18n
    from app.web.helpers import register

    init_i18n(app)
    register(app)


def register_commands(app: Flask) -> None:
    from app.cli import register

    register(app)
