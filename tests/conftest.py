"""Test fixtures. The suite runs on SQLite by default and on PostgreSQL when TEST_DATABASE_URL is set.

The schema is built by the real migrations (flask db upgrade), the demo data by the real seed command.
Each test starts with the demo data and no dossiers.
"""

from __future__ import annotations

import copy
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app import create_app
from app.config import TestConfig
from app.extensions import db as _db

ROOT = Path(__file__).resolve().parent.parent
#: emptied after every test, children first
DOSSIER_TABLES = [
    "drafts", "payments", "outbox", "inbound_events", "shipments", "interagency_links", "dossier_apologies",
    "dossier_notes", "audit_log", "dossier_steps", "attachments", "tasks", "workflow_states", "ratings",
    "citizen_dossiers", "dossiers", "citizens", "dossier_sequences", "api_tokens", "usage_counters",
    "dossier_facts", "report_state",
]


def _postgres_database(base_url: str, worker: str) -> str:
    """A fresh database per test worker on the PostgreSQL server of `base_url`."""
    url = make_url(base_url)
    name = f"motcua_test_{worker}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def _drop_postgres_database(url_str: str) -> None:
    url = make_url(url_str)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    base = os.environ.get("TEST_DATABASE_URL")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    if base:
        url = _postgres_database(base, worker)
        yield url
        _drop_postgres_database(url)
    else:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite'}"


@pytest.fixture(scope="session")
def app(database_url: str, tmp_path_factory: pytest.TempPathFactory):
    config = {k: copy.deepcopy(getattr(TestConfig, k)) for k in dir(TestConfig) if k.isupper()}
    config.update(SQLALCHEMY_DATABASE_URI=database_url, UPLOAD_DIR=str(tmp_path_factory.mktemp("uploads")))
    app = create_app(config)
    with app.app_context():
        from flask_migrate import upgrade

        upgrade(revision="heads")
        runner = app.test_cli_runner()
        result = runner.invoke(args=["seed", "demo"])
        assert result.exit_code == 0, result.output
    yield app
    with app.app_context():
        _db.engine.dispose()


@pytest.fixture(scope="session")
def library_procedure(app) -> str:
    """The test procedure in tests/fixtures (code 9.999001), deployed by the real CLI; returns its code."""
    fixtures = ROOT / "tests" / "fixtures"
    result = app.test_cli_runner().invoke(args=[
        "workflows", "deploy", str(fixtures / "cap_the_thu_vien.bpmn"),
        "--forms", str(fixtures / "forms"), "--unit", "000.00.00.H41"])
    assert result.exit_code == 0, result.output
    return "9.999001"


@pytest.fixture(autouse=True)
def _clean(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "app" not in request.fixturenames:
        return
    app = request.getfixturevalue("app")
    with app.app_context():
        _db.session.rollback()
        for table in DOSSIER_TABLES:
            _db.session.execute(text(f"DELETE FROM {table}"))
        _db.session.commit()
        _db.session.remove()


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield
        _db.session.rollback()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def token(app):
    """token("tiepnhan.tinh") → a bearer token for that demo user."""
    cache: dict[str, str] = {}

    def make(username: str) -> str:
        if username not in cache:
            result = app.test_cli_runner().invoke(args=["users", "token", username])
            assert result.exit_code == 0, result.output
            cache[username] = result.output.strip().splitlines()[-1]
        return cache[username]

    return make


@pytest.fixture
def auth(token):
    def headers(username: str, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token(username)}", **extra}

    return headers


TINY_PDF = b"%PDF-1.4\n% test\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def pdf_data_url(name: str = "to_khai.pdf", body: bytes = TINY_PDF) -> str:
    import base64
    from urllib.parse import quote

    return f"data:application/pdf;name={quote(name)};base64,{base64.b64encode(body).decode()}"
