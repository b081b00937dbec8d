"""/healthz (the process answers), /readyz (it can serve: database, schema, scheduler), /metrics (Prometheus)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from app.extensions import db

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz():
    """Liveness: no database, no I/O."""
    return jsonify(status="ok")


def _script_heads() -> set[str]:
    state = current_app.extensions.setdefault("ops", {})
    if "heads" not in state:
        from alembic.config import Config
        from alembic.script import ScriptDirectory

        cfg = Config()
        cfg.set_main_option("script_location", str(current_app.extensions["migrate"].directory))
        state["heads"] = set(ScriptDirectory.from_config(cfg).get_heads())
    return state["heads"]


def readiness() -> tuple[dict[str, Any], bool]:
    checks: dict[str, dict[str, Any]] = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = {"ok": True}
    except Exception as exc:  # noqa: BLE001 — the class only: a message may hold the DSN
        db.session.rollback()
        checks["database"] = {"ok": False, "error": type(exc).__name__}
    if checks["database"]["ok"]:
        try:
            current = {row[0] for row in db.session.execute(text("SELECT version_num FROM alembic_version"))}
            heads = _script_heads()
            checks["migrations"] = {"ok": current == heads, "current": sorted(current), "heads": sorted(heads)}
        except Exception as exc:  # noqa: BLE001
            db.session.rollback()
            checks["migrations"] = {"ok": False, "error": type(exc).__name__}
        if current_app.config.get("READYZ_CHECK_SCHEDULER", True):
            from app.jobs.timers import heartbeat

            try:
                beat = heartbeat()
            except Exception as exc:  # noqa: BLE001
                db.session.rollback()
                checks["scheduler"] = {"ok": False, "error": type(exc).__name__}
            else:
                limit = float(current_app.config.get("READYZ_HEARTBEAT_SECONDS", 60))
                if beat is None:
                    checks["scheduler"] = {"ok": False, "error": "no heartbeat"}
                else:
                    age = round(beat["age_seconds"], 1)
                    checks["scheduler"] = {"ok": age <= limit, "age_seconds": age, "max_age_seconds": limit}
                    if age > limit:
                        checks["scheduler"]["error"] = "heartbeat stale"
        db.session.rollback()
    failed = sorted(name for name, check in checks.items() if not check["ok"])
    return {"status": "ready" if not failed else "not ready", "failed": failed, "checks": checks}, not failed


@bp.get("/readyz")
def readyz():
    body, ok = readiness()
    return jsonify(body), (200 if ok else 503)


@bp.get("/metrics")
def metrics():
    from app.ops.metrics import authorize, exposition

    authorize()
    body, headers = exposition()
    return body, 200, headers
