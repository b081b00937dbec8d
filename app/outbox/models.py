"""The outbox (every outbound partner call, stored before it is made), inbound events (deduplicated
partner callbacks and polled messages) and postal shipments."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.common.types import JsonType, UTCDateTime, utcnow
from app.extensions import db

PENDING = "pending"   # waiting for its next attempt (attempts > 0 means it is failing)
SENDING = "sending"   # claimed by a worker until claimed_until
DONE = "done"
DEAD = "dead"         # permanent error or too many attempts: an administrator decides
STATES = (PENDING, SENDING, DONE, DEAD)


class OutboxMessage(db.Model):
    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "state", "next_attempt_at"),
        Index("ix_outbox_ordering", "ordering_key", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    connector: Mapped[str] = mapped_column(String(32))
    operation: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    #: sent to the partner as Idempotency-Key: a retry after a crash is recognised there
    key: Mapped[str] = mapped_column(String(100), unique=True)
    dossier_id: Mapped[int | None] = mapped_column(ForeignKey("dossiers.id"), index=True)
    #: messages with the same ordering key are delivered one after the other, oldest first
    ordering_key: Mapped[str | None] = mapped_column(String(120))
    #: what to do with the partner's answer (app/outbox/handlers.py), e.g. "shipment"
    on_done: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=12)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(120))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    last_status: Mapped[int | None] = mapped_column(Integer)
    result: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    resolved_by: Mapped[str | None] = mapped_column(String(120))  # "mark done" / "resend" by an administrator

    @property
    def failing(self) -> bool:
        return self.state == PENDING and self.attempts > 0


class InboundEvent(db.Model):
    """A partner callback or polled message, stored once: a repeat with the same event id is ignored."""

    __tablename__ = "inbound_events"
    __table_args__ = (UniqueConstraint("partner", "event_id", name="uq_inbound_partner_event"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    partner: Mapped[str] = mapped_column(String(32))
    event_id: Mapped[str] = mapped_column(String(200))
    dossier_id: Mapped[int | None] = mapped_column(ForeignKey("dossiers.id"), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    occurred_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    payload: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    outcome: Mapped[str] = mapped_column(String(200), default="")


class Shipment(db.Model):
    """A Vietnam Post order for a dossier: pickup (dossier to the agency) or delivery (result to the citizen)."""

    __tablename__ = "shipments"
    __table_args__ = (UniqueConstraint("dossier_id", "service", name="uq_shipment_dossier_service"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)
    service: Mapped[str] = mapped_column(String(16))  # pickup | delivery
    item_code: Mapped[str | None] = mapped_column(String(64), index=True)  # the waybill
    status: Mapped[int] = mapped_column(Integer, default=0)  # 0 ordered, 1 registered … (connectors.vnpost)
    status_message: Mapped[str] = mapped_column(String(500), default="")
    cod_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    last_event_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class InteragencyLink(db.Model):
    """A dossier sent to another agency over the document axis (out), or received from one (in)."""

    __tablename__ = "interagency_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)
    direction: Mapped[str] = mapped_column(String(3))  # out | in
    partner_code: Mapped[str] = mapped_column(String(35))
    partner_name: Mapped[str] = mapped_column(String(255), default="")
    document_id: Mapped[str] = mapped_column(String(200), index=True)  # edXML DocumentId of the request
    remote_dossier_code: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(40), default="sent")  # last status code or "result"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
