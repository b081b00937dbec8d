"""Configuration, read from the environment (12-factor). Defaults give a working demo on SQLite."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() not in {"0", "false", "no", "off", ""}


class Config:
    #: set SECRET_KEY in production (the same value on every web worker); otherwise one is generated
    #: once per installation and kept in instance/secret_key
    SECRET_KEY = os.environ.get("SECRET_KEY")
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL") or f"sqlite:///{ROOT / 'instance' / 'motcua.sqlite'}"
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    UPLOAD_DIR = os.environ.get("UPLOAD_DIR") or str(ROOT / "instance" / "uploads")
    WORKFLOWS_DIR = str(ROOT / "workflows")
    FORMS_DIR = str(ROOT / "forms")
    MAX_CONTENT_LENGTH = int(os.environ.get("MAX_CONTENT_LENGTH", 60 * 1024 * 1024))
    MAX_UPLOAD_BYTES = int(os.environ.get("MAX_UPLOAD_BYTES", 20 * 1024 * 1024))
    # Dossier code, Circular 01/2018 art. 19: <agency code>-<YYMMDD>-<sequence of the day>
    DOSSIER_CODE_FORMAT = os.environ.get("DOSSIER_CODE_FORMAT", "{agency}-{date:%y%m%d}-{seq:04d}")
    TIMEZONE = "Asia/Ho_Chi_Minh"
    #: office hours and the same-day cut-off (app.worktime reads them)
    OFFICE_HOURS = os.environ.get("OFFICE_HOURS", "07:00-11:30,13:30-17:00")
    SAME_DAY_CUTOFF = os.environ.get("SAME_DAY_CUTOFF", "15:00")
    RATELIMIT_ENABLED = _bool("RATELIMIT_ENABLED", True)
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_HEADERS_ENABLED = True
    RATELIMIT_SUBMIT = os.environ.get("RATELIMIT_SUBMIT", "30/minute")
    RATELIMIT_TRACKING = os.environ.get("RATELIMIT_TRACKING", "60/minute")
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", False)
    WTF_CSRF_TIME_LIMIT = None
    SCRIPT_TIMEOUT_SECONDS = float(os.environ.get("SCRIPT_TIMEOUT_SECONDS", "1.0"))
    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:5000")


class TestConfig(Config):
    TESTING = True
    WTF_CSRF_ENABLED = False
    RATELIMIT_ENABLED = False
    SECRET_KEY = "test"
