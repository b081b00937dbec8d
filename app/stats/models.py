"""Usage counters: one row per (day, procedure, event, channel), incremented in batches by the buffer."""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Date, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db

VIEW, START, SUBMIT = "view", "start", "submit"
EVENTS = (VIEW, START, SUBMIT)


class UsageCounter(db.Model):
    """`day` is the Vietnam date (Asia/Ho_Chi_Minh). No foreign key on `procedure_id`: a counter is a statistic
    and a batch of counts must never fail on a procedure row (reports join the procedures)."""

    __tablename__ = "usage_counters"
    __table_args__ = (Index("ix_usage_counters_procedure_day", "procedure_id", "day"),)

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    procedure_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event: Mapped[str] = mapped_column(String(16), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, default=0)
