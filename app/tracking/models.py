"""Citizens' satisfaction ratings of a returned dossier: one per dossier, no personal data."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.common.types import UTCDateTime, utcnow
from app.extensions import db

#: level code → (Vietnamese, English), best first
LEVELS: dict[str, tuple[str, str]] = {
    "very_satisfied": ("Rất hài lòng", "Very satisfied"),
    "satisfied": ("Hài lòng", "Satisfied"),
    "not_satisfied": ("Không hài lòng", "Not satisfied"),
}


class Rating(db.Model):
    """How satisfied the applicant was with a dossier's handling (the tracking page, after the result)."""

    __tablename__ = "ratings"
    __table_args__ = (CheckConstraint("level IN ('very_satisfied', 'satisfied', 'not_satisfied')", name="level"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), unique=True)
    level: Mapped[str] = mapped_column(String(20))
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    def label(self, lang: str = "vi") -> str:
        vi, en = LEVELS.get(self.level, (self.level, self.level))
        return en if lang == "en" else vi
