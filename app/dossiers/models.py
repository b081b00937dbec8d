"""Dossiers (hồ sơ), their workflow state, attachments, progress and audit trail."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.auth.models import Unit, User
from app.catalog.models import Procedure, ProcedureVersion
from app.common.types import JsonType, UTCDateTime, utcnow
from app.extensions import db
from app.i18n import N_

#: National status codes (TrangThaiHoSo) exchanged with the national public-service portal.
STATUS_LABELS: dict[int, tuple[str, str]] = {
    1: ("Mới đăng ký", "Newly submitted"),
    2: ("Đã tiếp nhận", "Received"),
    3: ("Không được tiếp nhận", "Refused"),
    4: ("Đang xử lý", "Processing"),
    5: ("Yêu cầu bổ sung", "Supplement requested"),
    6: ("Yêu cầu thực hiện nghĩa vụ tài chính", "Fee or tax requested"),
    7: ("Công dân yêu cầu rút hồ sơ", "Withdrawn by the applicant"),
    8: ("Dừng xử lý", "Processing stopped"),
    9: ("Đã xử lý xong", "Processing finished"),
    10: ("Đã trả kết quả", "Result returned"),
}
#: statuses after which nothing more happens to a dossier
FINAL_STATUSES = frozenset({3, 7, 8, 10})

CHANNELS = {"counter": 1, "online": 2, "postal": 3}
CHANNEL_LABELS = {"counter": N_("Trực tiếp"), "online": N_("Trực tuyến"), "postal": N_("Qua bưu chính công ích")}


def status_label(status: int, lang: str = "vi") -> str:
    vi, en = STATUS_LABELS.get(status, (str(status), str(status)))
    return en if lang == "en" else vi


class Dossier(db.Model):
    __tablename__ = "dossiers"
    __table_args__ = (
        Index("ix_dossiers_unit_status", "unit_id", "status"),
        Index("ix_dossiers_procedure_created", "procedure_id", "created_at"),
        Index("ix_dossiers_updated_id", "updated_at", "id"),  # the report facts watermark (app/reports)
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    procedure_id: Mapped[int] = mapped_column(ForeignKey("procedures.id"))
    version_id: Mapped[int] = mapped_column(ForeignKey("procedure_versions.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    channel: Mapped[str] = mapped_column(String(16))
    status: Mapped[int] = mapped_column(Integer, default=1)
    applicant_name: Mapped[str] = mapped_column(String(255))
    #: folded applicant name, for diacritic-insensitive search
    applicant_name_folded: Mapped[str] = mapped_column(String(255), index=True)
    applicant_id_number: Mapped[str | None] = mapped_column(String(20))
    applicant_phone: Mapped[str | None] = mapped_column(String(20))
    applicant_email: Mapped[str | None] = mapped_column(String(255))
    applicant_address: Mapped[str | None] = mapped_column(String(500))
    #: process data: submission and task form fields, as gateways read them
    data: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    tracking_secret_hash: Mapped[str] = mapped_column(String(64))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: set while a supplement is awaited: the clock is paused (the due date moves by the paused working time)
    clock_paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    #: the applicant's choices on the public form: "online" upload or "postal" pickup of the paper originals;
    #: result returned at the "counter", by "postal" service or "electronic"; the postal address when needed
    submission_method: Mapped[str | None] = mapped_column(String(16))
    return_method: Mapped[str | None] = mapped_column(String(16))
    postal_address: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    #: the citizen account the dossier was submitted from, if any (app/citizens)
    citizen_id: Mapped[int | None] = mapped_column(ForeignKey("citizens.id", ondelete="SET NULL"), index=True)
    #: optimistic lock: two writers of the same dossier cannot both win
    lock_version: Mapped[int] = mapped_column(Integer, default=1)

    procedure: Mapped[Procedure] = relationship()
    version: Mapped[ProcedureVersion] = relationship()
    unit: Mapped[Unit] = relationship()

    __mapper_args__ = {"version_id_col": lock_version}

    def status_label(self, lang: str = "vi") -> str:
        return status_label(self.status, lang)

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


class WorkflowState(db.Model):
    """The dossier's SpiffWorkflow state without its spec, zlib-compressed JSON."""

    __tablename__ = "workflow_states"
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), primary_key=True)
    state: Mapped[bytes] = mapped_column(LargeBinary)
    completed: Mapped[bool] = mapped_column(default=False)


class DossierSequence(db.Model):
    """Per-agency, per-day counter behind dossier codes."""

    __tablename__ = "dossier_sequences"
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


class Attachment(db.Model):
    """A file of a dossier, stored outside the web root under its SHA-256."""

    __tablename__ = "attachments"
    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)
    field: Mapped[str] = mapped_column(String(100))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    def as_ref(self) -> dict[str, Any]:
        """What the process data holds in place of the file."""
        return {"attachment_id": self.id, "filename": self.filename,
                "content_type": self.content_type, "size": self.size}


class DossierStep(db.Model):
    """A step done on a dossier (a completed task or milestone): the tracking timeline and paper 05."""

    __tablename__ = "dossier_steps"
    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    role_code: Mapped[str | None] = mapped_column(String(50))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_label: Mapped[str] = mapped_column(String(255), default="")
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status_after: Mapped[int] = mapped_column(Integer)
    unit: Mapped[Unit | None] = relationship()


class AuditLog(db.Model):
    """Every change to a dossier: who, what, when, from which status to which."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: "user:<username>", "applicant", "system"
    actor_label: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(50))
    from_status: Mapped[int | None] = mapped_column(Integer)
    to_status: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    note: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[User | None] = relationship()


class DossierNote(db.Model):
    """A comment or internal note on a dossier, for officials only (never shown to the applicant)."""

    __tablename__ = "dossier_notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    text: Mapped[str] = mapped_column(Text)
    #: ids of the dossier attachments added with the note
    attachment_ids: Mapped[list[int]] = mapped_column(JsonType, default=list)
    author: Mapped[User] = relationship()


class DossierApology(db.Model):
    """An apology for a late dossier with a new appointment date (paper 04): the stored record the paper is
    drawn from, with the date it replaced."""

    __tablename__ = "dossier_apologies"
    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    old_due: Mapped[datetime | None] = mapped_column(UTCDateTime())
    new_due: Mapped[datetime] = mapped_column(UTCDateTime())
    reason: Mapped[str] = mapped_column(Text)
    issued_by: Mapped[User | None] = relationship()
