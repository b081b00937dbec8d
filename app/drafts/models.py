"""A submission in progress (bản nháp hồ sơ): what the citizen answered so far, files as storage references."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.catalog.models import Procedure
from app.common.types import JsonType, UTCDateTime, utcnow
from app.extensions import db


class Draft(db.Model):
    """One citizen's submission in progress. The resume token is random and only its SHA-256 is stored.

    ``data`` holds the start form's answers; a file field holds ``{"sha256", "filename", "content_type", "size"}``
    (several: a list), the bytes being in ``app.dossiers.storage``. ``choices`` holds how the dossier is submitted
    and returned (and the postal address), ``steps_done`` the steps validated so far.
    """

    __tablename__ = "drafts"
    id: Mapped[int] = mapped_column(primary_key=True)
    procedure_id: Mapped[int] = mapped_column(ForeignKey("procedures.id"), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("procedure_versions.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    applicant: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    data: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    choices: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    steps_done: Mapped[list[str]] = mapped_column(JsonType, default=list)
    #: where the resume link was sent (e-mail address or phone number), if it was
    contact: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    submitted_dossier_id: Mapped[int | None] = mapped_column(ForeignKey("dossiers.id", ondelete="SET NULL"))
    #: the citizen account it was started from (app/citizens): listed in "Hồ sơ của tôi", resumable when signed in
    citizen_id: Mapped[int | None] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"), index=True)

    procedure: Mapped[Procedure] = relationship()
    submitted_dossier = relationship("Dossier")
