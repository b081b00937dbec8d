"""Gunicorn hook for the Prometheus multiprocess mode: in the gunicorn config file (``-c gunicorn.conf.py``)

    from app.ops.gunicorn import child_exit  # noqa: F401

and start gunicorn with ``PROMETHEUS_MULTIPROC_DIR`` set to an empty directory (emptied at every start).
"""

from __future__ import annotations

from typing import Any


def child_exit(_server: Any, worker: Any) -> None:
    """A worker died: drop its live gauge files (its counters stay summed)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
