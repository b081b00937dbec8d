"""Operations: /healthz, /readyz, /metrics and the JSON request log (app/ops)."""

from __future__ import annotations

import copy
import json
import logging
from datetime import timedelta

import pytest
from sqlalchemy import delete, select

from app import create_app
from app.catalog.models import Procedure
from app.common.types import utcnow
from app.config import TestConfig
from app.dossiers.models import Dossier
from app.extensions import db
from app.jobs.models import SchedulerHeartbeat
from app.ops import init_app as init_ops
from app.ops.logs import json_formatter
from app.outbox.models import OutboxMessage


@pytest.fixture(scope="module")
def ops_app(app, database_url):
    """The session app when create_app already wires app.ops, else a second app on the same database."""
    if "ops" in app.blueprints:
        yield app
        return
    config = {k: copy.deepcopy(getattr(TestConfig, k)) for k in dir(TestConfig) if k.isupper()}
    config.update(SQLALCHEMY_DATABASE_URI=database_url, UPLOAD_DIR=app.config["UPLOAD_DIR"])
    other = create_app(config)
    init_ops(other)
    yield other
    with other.app_context():
        db.engine.dispose()


@pytest.fixture
def ops(ops_app):
    yield ops_app.test_client()
    ops_app.config.pop("METRICS_TOKEN", None)
    ops_app.config["METRICS_TOKEN"] = None
    with ops_app.app_context():
        db.session.execute(delete(SchedulerHeartbeat))
        db.session.commit()


def beat(app, age_seconds: float) -> None:
    with app.app_context():
        db.session.execute(delete(SchedulerHeartbeat))
        at = utcnow() - timedelta(seconds=age_seconds)
        db.session.add(SchedulerHeartbeat(name="main", holder="test:1", started_at=at, beat_at=at, fired_total=0))
        db.session.commit()


def add_dossier(app, code: str, status: int, due_in_days: float, channel: str = "online") -> None:
    with app.app_context():
        proc = db.session.scalar(select(Procedure).where(Procedure.code == "1.001193"))
        now = utcnow()
        db.session.add(Dossier(code=code, procedure_id=proc.id, version_id=proc.current_version_id,
                               unit_id=proc.unit_id, channel=channel, status=status, applicant_name="A",
                               applicant_name_folded="a", data={}, tracking_secret_hash="x" * 64,
                               submitted_at=now, created_at=now, due_at=now + timedelta(days=due_in_days)))
        db.session.commit()


def test_healthz_needs_no_database(ops, ops_app, monkeypatch):
    def boom(*_a, **_k):
        raise AssertionError("healthz touched the database")

    with ops_app.app_context():
        monkeypatch.setattr(db.session, "execute", boom)
        r = ops.get("/healthz")
    assert r.status_code == 200 and r.get_json() == {"status": "ok"}
    assert r.headers["X-Request-ID"]


def test_readyz_ready_with_a_fresh_heartbeat(ops, ops_app):
    beat(ops_app, 2)
    r = ops.get("/readyz")
    body = r.get_json()
    assert r.status_code == 200, body
    assert body["status"] == "ready" and body["failed"] == []
    assert body["checks"]["database"]["ok"] and body["checks"]["migrations"]["ok"]
    assert body["checks"]["migrations"]["current"] == body["checks"]["migrations"]["heads"]
    assert body["checks"]["scheduler"]["ok"]


def test_readyz_503_when_the_heartbeat_is_stale_or_missing(ops, ops_app):
    beat(ops_app, 3600)
    r = ops.get("/readyz")
    assert r.status_code == 503
    assert r.get_json()["failed"] == ["scheduler"]
    assert r.get_json()["checks"]["scheduler"]["error"] == "heartbeat stale"
    with ops_app.app_context():
        db.session.execute(delete(SchedulerHeartbeat))
        db.session.commit()
    r = ops.get("/readyz")
    assert r.status_code == 503 and r.get_json()["checks"]["scheduler"] == {"ok": False, "error": "no heartbeat"}
    assert r.get_json()["checks"]["database"]["ok"]


def test_readyz_503_when_migrations_are_behind(ops, ops_app, monkeypatch):
    beat(ops_app, 1)
    state = ops_app.extensions["ops"]
    monkeypatch.setitem(state, "heads", {"29990101_9999"})
    r = ops.get("/readyz")
    assert r.status_code == 503 and r.get_json()["failed"] == ["migrations"]


def _sample(text: str, name: str, **labels: str) -> float | None:
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return None


def test_metrics_gauges_and_request_counter(ops, ops_app):
    add_dossier(ops_app, "T-OPS-1", 4, due_in_days=-2)  # overdue
    add_dossier(ops_app, "T-OPS-2", 4, due_in_days=3)
    add_dossier(ops_app, "T-OPS-3", 10, due_in_days=-5)  # finished: not overdue
    with ops_app.app_context():
        d = db.session.scalar(select(Dossier).where(Dossier.code == "T-OPS-1"))
        db.session.add_all([OutboxMessage(connector="portal", operation="sync", payload={}, key="k-ops-1",
                                          dossier_id=d.id, state="pending", attempts=0, next_attempt_at=utcnow()),
                            OutboxMessage(connector="portal", operation="sync", payload={}, key="k-ops-2",
                                          state="dead", attempts=12, next_attempt_at=utcnow())])
        db.session.commit()
    beat(ops_app, 5)
    first = ops.get("/metrics")
    assert first.status_code == 200 and first.content_type.startswith("text/plain")
    text = first.get_data(as_text=True)
    assert _sample(text, "motcua_dossiers", status="4") == 2
    assert _sample(text, "motcua_dossiers", status="10") == 1
    assert _sample(text, "motcua_dossiers", status="7") == 0
    assert _sample(text, "motcua_dossiers_overdue") == 1
    assert _sample(text, "motcua_outbox_messages", state="pending") == 1
    assert _sample(text, "motcua_outbox_messages", state="dead") == 1
    assert 4 <= _sample(text, "motcua_scheduler_heartbeat_age_seconds") < 60
    assert _sample(text, "motcua_timers_pending") == 0 and _sample(text, "motcua_db_up") == 1
    assert _sample(text, "motcua_tasks_open") == 0
    before = _sample(text, "motcua_http_requests_total", endpoint="ops.healthz", method="GET", status="200") or 0
    ops.get("/healthz")
    ops.get("/healthz")
    ops.get("/khong-co-trang-nay")
    text = ops.get("/metrics").get_data(as_text=True)
    assert _sample(text, "motcua_http_requests_total", endpoint="ops.healthz", method="GET", status="200") == before + 2
    assert _sample(text, "motcua_http_requests_total", endpoint="none", method="GET", status="404") >= 1
    assert _sample(text, "motcua_http_request_duration_seconds_count", endpoint="ops.healthz", method="GET") >= 2


def test_metrics_heartbeat_missing_is_infinite(ops):
    text = ops.get("/metrics").get_data(as_text=True)
    assert _sample(text, "motcua_scheduler_heartbeat_age_seconds") == float("inf")


def test_metrics_token_and_loopback(ops, ops_app):
    assert ops.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.5"}).status_code == 403
    assert ops.get("/metrics", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200
    ops_app.config["METRICS_TOKEN"] = "s3cret-token"
    assert ops.get("/metrics").status_code == 401
    assert ops.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    r = ops.get("/metrics", headers={"Authorization": "Bearer s3cret-token"},
                environ_base={"REMOTE_ADDR": "203.0.113.5"})
    assert r.status_code == 200 and "motcua_dossiers" in r.get_data(as_text=True)


def _access_records(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "motcua.access"]


def test_json_request_log_fields_and_secret_stripping(ops, ops_app, caplog):
    add_dossier(ops_app, "000.00.00.H41-261124-0999", 4, due_in_days=3)
    caplog.set_level(logging.INFO, logger="motcua.access")
    r = ops.get("/tra-cuu/000.00.00.H41-261124-0999?mat_ma=ABCD2345&page=2&q=Nguyen%20Van%20An",
                headers={"X-Request-ID": "req-123.abc"})
    assert r.headers["X-Request-ID"] == "req-123.abc"
    [record] = _access_records(caplog)
    line = json_formatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "request" and entry["logger"] == "motcua.access" and entry["level"] == "INFO"
    assert entry["request_id"] == "req-123.abc"
    assert entry["method"] == "GET" and entry["path"] == "/tra-cuu/000.00.00.H41-261124-0999"
    assert entry["status"] == r.status_code and isinstance(entry["duration_ms"], float)
    assert entry["dossier_code"] == "000.00.00.H41-261124-0999"
    assert entry["query"] == {"mat_ma": "-", "page": "2", "q": "-"}
    assert "ABCD2345" not in line and "Nguyen" not in line and "user_id" not in entry
    assert "127.0.0.1" not in line


def test_request_log_user_id_procedure_code_and_generated_request_id(ops, ops_app, caplog):
    caplog.set_level(logging.INFO, logger="motcua.access")
    r = ops.post("/dang-nhap", data={"username": "lanhdao.tinh", "password": "MotCua@2026"})
    assert r.status_code == 302
    caplog.clear()
    r = ops.get("/thu-tuc/1.001193", headers={"X-Request-ID": "bad id with spaces"})
    rid = r.headers["X-Request-ID"]
    assert rid and rid != "bad id with spaces"
    [record] = _access_records(caplog)
    entry = json.loads(json_formatter().format(record))
    assert entry["request_id"] == rid and entry["procedure_code"] == "1.001193" and "dossier_code" not in entry
    assert isinstance(entry["user_id"], int)
    assert "lanhdao" not in json_formatter().format(record)


def test_json_handler_only_outside_tests(monkeypatch):
    root = logging.getLogger()
    before = list(root.handlers)
    config = {k: copy.deepcopy(getattr(TestConfig, k)) for k in dir(TestConfig) if k.isupper()}
    config.update(SQLALCHEMY_DATABASE_URI="sqlite://", LOG_FORMAT="json")
    quiet = create_app(config)
    init_ops(quiet)
    assert root.handlers == before  # TESTING: no handler


def test_json_handler_in_production_writes_json_lines(capsys):
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    config = {k: copy.deepcopy(getattr(TestConfig, k)) for k in dir(TestConfig) if k.isupper()}
    config.update(SQLALCHEMY_DATABASE_URI="sqlite://", LOG_FORMAT="json", TESTING=False)
    prod = create_app(config)
    try:
        init_ops(prod)
        init_ops(prod)  # idempotent
        added = [h for h in root.handlers if h not in before]
        assert len(added) == 1
        with prod.test_request_context("/x", headers={"X-Request-ID": "rid-1"}):
            logging.getLogger("app.test").warning("hello %s", "world")
        line = capsys.readouterr().err.strip().splitlines()[-1]
        entry = json.loads(line)
        assert entry["message"] == "hello world" and entry["request_id"] == "rid-1" and entry["level"] == "WARNING"
    finally:
        for h in root.handlers[:]:
            if h not in before:
                root.removeHandler(h)
        root.setLevel(level)
        logging.getLogger("werkzeug").setLevel(logging.NOTSET)
