"""Citizens' optional accounts and the dossiers they claimed with code + secret."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.common.types import UTCDateTime, utcnow
from app.dossiers.models import Dossier
from app.extensions import db


class Citizen(db.Model):
    """A citizen who chose to have an account: signs in with an e-mail address or a phone number."""

    __tablename__ = "citizens"
    id: Mapped[int] = mapped_column(primary_key=True)
    #: lower case
    email: Mapped[str | None] = mapped_column(String(255), unique=True)
    #: normalised to 0xxxxxxxxx
    phone: Mapped[str | None] = mapped_column(String(20), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def login_name(self) -> str:
        return self.email or self.phone or ""


class CitizenDossier(db.Model):
    """A dossier a citizen added to "Hồ sơ của tôi" by giving its code and secret."""

    __tablename__ = "citizen_dossiers"
    __table_args__ = (UniqueConstraint("citizen_id", "dossier_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"), index=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# The dossiers a citizen submitted while signed in carry `dossiers.citizen_id` (migration 20261124_0015).
# Until app/dossiers/models.py declares the column itself, it is added to the mapped class here.
if "citizen_id" not in Dossier.__table__.c:
    Dossier.citizen_id = mapped_column(  # type: ignore[attr-defined]
        "citizen_id", Integer, ForeignKey("citizens.id", ondelete="SET NULL"), nullable=True, index=True)
