"""Claiming work rows so that any number of processes, on any number of machines, never take the same row twice.

PostgreSQL: the candidates are read `FOR UPDATE SKIP LOCKED` (rows another transaction is claiming are skipped,
not waited for), then marked in the same transaction. SQLite: the read ends at once and each row is marked by a
conditional UPDATE that re-checks `claimable` (the write lock serialises them; rowcount says who won).
Used by the BPMN timers (`app/jobs/timers.py`) and the outbox (`app/outbox/services.py`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, select, update

from app.extensions import db


def claim_rows(model: Any, claimable: ColumnElement[bool], order_by: tuple[Any, ...], limit: int,
               values: dict[str, Any]) -> list[int]:
    """Mark up to `limit` rows of `model` matching `claimable` with `values`; return the ids this caller won.
    Commits."""
    query = select(model.id).where(claimable).order_by(*order_by).limit(limit)
    postgres = db.session.get_bind().dialect.name == "postgresql"
    if postgres:
        query = query.with_for_update(skip_locked=True, of=model)
    ids = list(db.session.scalars(query))
    if not postgres:
        db.session.rollback()  # end the read; each claim below is its own short write
    claimed = []
    for row_id in ids:
        result = db.session.execute(update(model).where(model.id == row_id, claimable).values(**values)
                                    .execution_options(synchronize_session=False))
        if result.rowcount == 1:
            claimed.append(row_id)
        if not postgres:
            db.session.commit()
    db.session.commit()
    return claimed
