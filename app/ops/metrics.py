"""Prometheus metrics: HTTP requests and latency (measured in the request hooks) and the state of the service,
computed from the database when `/metrics` is scraped (a custom collector: no background job, never stale).

Exposed families (all prefixed ``motcua_``):

- ``http_requests_total{endpoint,method,status}`` counter, ``http_request_duration_seconds{endpoint,method}``
  histogram (``endpoint`` is the Flask endpoint name, ``none`` for an unknown URL: bounded cardinality);
- ``dossiers{status}`` dossiers by national status (1–10), ``dossiers_overdue`` open dossiers past their
  appointment date (``due_at`` < now, not finished: status not 3/7/8/9/10 and no ``finished_at``),
  ``tasks_open``, ``outbox_messages{state}`` (pending, failing, sending, dead, done, as ``outbox.services.summary()``),
  ``scheduler_heartbeat_age_seconds`` (+Inf when the scheduler never beat), ``timers_pending``,
  ``usage_buffer_pending`` (usage counts of this process not yet written), ``db_up`` (0 when the queries failed).

Several gunicorn workers: set ``PROMETHEUS_MULTIPROC_DIR`` (see ``app/ops/__init__.py``); the HTTP families are
then summed over the workers by ``prometheus_client.multiprocess``. The database gauges are computed by whichever
worker answers the scrape, so they are never summed twice.
"""

from __future__ import annotations

import hmac
import ipaddress
import math
import os
from collections.abc import Iterator
from typing import Any

from flask import Flask, abort, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import case, func, select

from app.extensions import db

HTTP = CollectorRegistry(auto_describe=True)
REQUESTS = Counter("motcua_http_requests", "HTTP requests by endpoint, method and status",
                   ["endpoint", "method", "status"], registry=HTTP)
LATENCY = Histogram("motcua_http_request_duration_seconds", "HTTP request duration (seconds) by endpoint and method",
                    ["endpoint", "method"], registry=HTTP,
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def init_app(app: Flask) -> None:
    from app.ops import hooks

    hooks.install(app)


def multiprocess_mode() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


def observe(status: int, duration: float | None) -> None:
    endpoint = request.endpoint or "none"
    method = request.method if request.method in _METHODS else "OTHER"
    REQUESTS.labels(endpoint, method, str(status)).inc()
    if duration is not None:
        LATENCY.labels(endpoint, method).observe(duration)


# --------------------------------------------------------------------------- scrape


class _Forward:
    """Collects another registry's metrics into the scrape registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Metric]:
        yield from self.registry.collect()


class DatabaseCollector:
    """Gauges read from the database at scrape time (needs an application context)."""

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("motcua_db_up", "1 when the database answered the metric queries")
        try:
            families = list(self._families())
        except Exception:  # noqa: BLE001 — a scrape reports the failure instead of failing
            db.session.rollback()
            current_app.logger.exception("metrics: database queries failed")
            up.add_metric([], 0)
            families = []
        else:
            up.add_metric([], 1)
        yield up
        yield from families
        buffer = current_app.extensions.get("usage_counters")
        if buffer is not None:
            yield GaugeMetricFamily("motcua_usage_buffer_pending", "Usage counts of this process not yet written",
                                    value=buffer.pending())

    def _families(self) -> Iterator[Metric]:
        from app.common.types import utcnow
        from app.dossiers.models import FINAL_STATUSES, STATUS_LABELS, Dossier
        from app.inbox.models import OPEN, Task
        from app.jobs.models import PENDING, Timer
        from app.jobs.timers import heartbeat

        now = utcnow()
        by_status = dict(db.session.execute(select(Dossier.status, func.count()).group_by(Dossier.status)).all())
        dossiers = GaugeMetricFamily("motcua_dossiers", "Dossiers by national status (1-10)", labels=["status"])
        for status in sorted(set(STATUS_LABELS) | set(by_status)):
            dossiers.add_metric([str(status)], by_status.get(status, 0))
        yield dossiers
        overdue = db.session.scalar(select(func.count()).select_from(Dossier).where(
            Dossier.due_at < now, Dossier.finished_at.is_(None), Dossier.status.not_in(FINAL_STATUSES | {9})))
        yield GaugeMetricFamily("motcua_dossiers_overdue", "Open dossiers past their appointment date",
                                value=overdue or 0)
        tasks = db.session.scalar(select(func.count()).select_from(Task).where(Task.state == OPEN))
        yield GaugeMetricFamily("motcua_tasks_open", "Open human tasks", value=tasks or 0)
        outbox = GaugeMetricFamily("motcua_outbox_messages", "Outbox messages by state", labels=["state"])
        for state, n in outbox_summary().items():
            outbox.add_metric([state], n)
        yield outbox
        beat = heartbeat()
        age = beat["age_seconds"] if beat is not None else math.inf
        yield GaugeMetricFamily("motcua_scheduler_heartbeat_age_seconds",
                                "Seconds since the scheduler's last heartbeat (+Inf: never)", value=max(age, 0.0))
        timers = db.session.scalar(select(func.count()).select_from(Timer).where(Timer.state == PENDING))
        yield GaugeMetricFamily("motcua_timers_pending", "BPMN timers waiting to fire", value=timers or 0)
        db.session.rollback()  # end the read transaction


def outbox_summary() -> dict[str, int]:
    """`app.outbox.services.summary()`'s figures (pending, failing, sending, dead, done) in a query PostgreSQL
    accepts: summary() groups by `attempts > :param`, a bound parameter PostgreSQL does not match with the one
    of the select list (GroupingError)."""
    from app.outbox.models import PENDING, OutboxMessage

    tried = func.sum(case((OutboxMessage.attempts > 0, 1), else_=0))
    out = {"pending": 0, "failing": 0, "sending": 0, "dead": 0, "done": 0}
    for state, n, n_tried in db.session.execute(select(OutboxMessage.state, func.count(), tried)
                                                .group_by(OutboxMessage.state)).all():
        if state == PENDING:
            out["failing"] += int(n_tried or 0)
            out["pending"] += n - int(n_tried or 0)
        else:
            out[state] = out.get(state, 0) + n
    return out


def scrape_registry() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    if multiprocess_mode():
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_Forward(HTTP))
        registry.register(_Forward(REGISTRY))  # this process: CPU, memory, open files, GC
    registry.register(DatabaseCollector())
    return registry


def _loopback(address: str | None) -> bool:
    try:
        return ipaddress.ip_address(address or "").is_loopback
    except ValueError:
        return False


def authorize() -> None:
    """METRICS_TOKEN set: a matching bearer token; unset: loopback callers only."""
    token = current_app.config.get("METRICS_TOKEN")
    if token:
        given = request.headers.get("Authorization", "")
        if not (given.startswith("Bearer ") and hmac.compare_digest(given[7:].strip().encode(), token.encode())):
            abort(401)
    elif not _loopback(request.remote_addr):
        abort(403)


def exposition() -> tuple[bytes, dict[str, Any]]:
    return generate_latest(scrape_registry()), {"Content-Type": CONTENT_TYPE_LATEST}
