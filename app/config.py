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


def connectors_from_env() -> dict:
    """Partner settings from the environment (see README, "Connectors")."""
    env = os.environ.get
    base = env("PUBLIC_BASE_URL", "http://127.0.0.1:5000").rstrip("/")
    return {
        "vnpost": {"url": env("VNPOST_URL", ""), "client_id": env("VNPOST_CLIENT_ID", "motcua-dev"),
                   "client_secret": env("VNPOST_CLIENT_SECRET", "motcua-dev-secret"),
                   "customer_code": env("VNPOST_CUSTOMER_CODE", "MOTCUA"),
                   "hmac_secret": env("VNPOST_HMAC_SECRET", "motcua-dev-hmac"),
                   "callback_url": env("VNPOST_CALLBACK_URL", f"{base}/api/v1/callbacks/vnpost"),
                   "timeout": float(env("VNPOST_TIMEOUT", "10"))},
        "portal": {"url": env("PORTAL_URL", ""), "api_key": env("PORTAL_API_KEY", "motcua-dev-portal-key"),
                   "timeout": float(env("PORTAL_TIMEOUT", "10"))},
        "sms": {"url": env("SMS_URL", ""), "token": env("SMS_TOKEN", "motcua-dev-sms-token"),
                "timeout": float(env("SMS_TIMEOUT", "10"))},
        "email": {"host": env("SMTP_HOST", ""), "port": int(env("SMTP_PORT", "25")),
                  "sender": env("SMTP_SENDER", "MotCua <no-reply@motcua.local>"),
                  "username": env("SMTP_USERNAME", ""), "password": env("SMTP_PASSWORD", ""),
                  "starttls": env("SMTP_STARTTLS", "0") == "1", "timeout": float(env("SMTP_TIMEOUT", "10"))},
        "webhook": {"url": env("WEBHOOK_URL", ""), "token": env("WEBHOOK_TOKEN", ""),
                    "timeout": float(env("WEBHOOK_TIMEOUT", "10"))},
        "payment": {"url": env("PAYMENT_URL", ""), "merchant_code": env("PAYMENT_MERCHANT_CODE", "MOTCUA"),
                    "secret": env("PAYMENT_SECRET", "motcua-dev-payment"),
                    "notify_url": env("PAYMENT_NOTIFY_URL", f"{base}/api/v1/callbacks/payment"),
                    "return_base": env("PAYMENT_RETURN_BASE", base), "timeout": float(env("PAYMENT_TIMEOUT", "5"))},
        "axis": {"url": env("AXIS_URL", ""), "agency_code": env("AGENCY_CODE", "000.00.00.H41"),
                 "key_file": env("AXIS_KEY_FILE", ""), "cert_file": env("AXIS_CERT_FILE", ""),
                 "ca_file": env("AXIS_CA_FILE", ""), "token": env("AXIS_TOKEN", ""),
                 "timeout": float(env("AXIS_TIMEOUT", "20"))},
    }


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
    #: remind a task's handler when its due time is this many working hours away (app/inbox/reminders.py)
    REMINDER_WORKING_HOURS = float(os.environ.get("REMINDER_WORKING_HOURS", "8"))
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
    #: this installation's agency code on the document axis (Decision 20/2020 shape)
    AGENCY_CODE = os.environ.get("AGENCY_CODE", "000.00.00.H41")
    #: partners; a connector whose url (host for e-mail) is empty is off and nothing is queued for it
    CONNECTORS = connectors_from_env()
    PAYMENT_POLL_MINUTES = float(os.environ.get("PAYMENT_POLL_MINUTES", "5"))
    PAYMENT_REUSE_MINUTES = float(os.environ.get("PAYMENT_REUSE_MINUTES", "10"))
    OUTBOX_MAX_ATTEMPTS = int(os.environ.get("OUTBOX_MAX_ATTEMPTS", "12"))
    OUTBOX_WORKERS = int(os.environ.get("OUTBOX_WORKERS", "2"))
    OUTBOX_POLL_SECONDS = float(os.environ.get("OUTBOX_POLL_SECONDS", "1"))


class TestConfig(Config):
    TESTING = True
    WTF_CSRF_ENABLED = False
    RATELIMIT_ENABLED = False
    SECRET_KEY = "test"
