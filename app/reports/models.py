"""Pre-aggregated report facts: one row per dossier, refreshed incrementally (`app.reports.facts`).

No foreign key to `dossiers`: the table is derived data (a dossier that disappears is dropped from it by the
next refresh), and the benchmark fills it without dossiers.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.common.types import UTCDateTime, utcnow
from app.extensions import db

OPEN, DONE, REFUSED, WITHDRAWN, STOPPED = "open", "done", "refused", "withdrawn", "stopped"
OUTCOMES = (OPEN, DONE, REFUSED, WITHDRAWN, STOPPED)


class DossierFact(db.Model):
    __tablename__ = "dossier_facts"
    __table_args__ = (
        Index("ix_dossier_facts_unit_day", "unit_id", "received_day"),
        Index("ix_dossier_facts_procedure_day", "procedure_id", "received_day"),
        Index("ix_dossier_facts_field_day", "field", "received_day"),
        Index("ix_dossier_facts_day", "received_day"),
        Index("ix_dossier_facts_open_due", "outcome", "due_at"),
    )
    dossier_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    unit_id: Mapped[int] = mapped_column(Integer)
    procedure_id: Mapped[int] = mapped_column(Integer)
    field: Mapped[str] = mapped_column(String(255), default="")
    channel: Mapped[str] = mapped_column(String(16))
    #: the Vietnam date of receipt (of submission while not received)
    received_day: Mapped[date] = mapped_column(Date)
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: the first due date: before any apology moved it (supplement pauses do count)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(16))
    on_time: Mapped[bool | None] = mapped_column(Boolean)
    working_days: Mapped[float | None] = mapped_column(Float)
    supplements: Mapped[int] = mapped_column(Integer, default=0)
    rating: Mapped[str | None] = mapped_column(String(20))
    paid_online: Mapped[bool] = mapped_column(Boolean, default=False)
    synced: Mapped[bool] = mapped_column(Boolean, default=False)
    refreshed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ReportState(db.Model):
    """One row (name "facts"): how far `refresh_facts()` has read `dossiers.updated_at`."""

    __tablename__ = "report_state"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    watermark_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    watermark_id: Mapped[int] = mapped_column(Integer, default=0)
    #: start of the last run: payments, ratings and portal messages changed since then are re-read too
    side_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: the lowest outbox id still pending or sending at the start of the last run: portal messages done since
    #: then are found from there on (a primary-key range, not a scan of the whole outbox)
    outbox_low: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
