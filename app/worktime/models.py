"""Admin-edited calendar overrides: extra days off and extra working days, over the `holidays` package."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.auth.models import User
from app.common.types import UTCDateTime, utcnow
from app.extensions import db


class CalendarOverride(db.Model):
    """One date the government (or the province) decided differently from the package."""

    __tablename__ = "calendar_overrides"
    __table_args__ = (CheckConstraint("kind IN ('day_off', 'working_day')", name="ck_calendar_overrides_kind"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    date: Mapped[dt.date] = mapped_column(Date, unique=True)
    #: "day_off" | "working_day"
    kind: Mapped[str] = mapped_column(String(20))
    #: why, in Vietnamese (e.g. the decision that decided it)
    reason: Mapped[str] = mapped_column(String(500), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[User | None] = relationship(lazy="joined")
