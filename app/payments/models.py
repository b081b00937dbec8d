"""Payment attempts: several per dossier; the dossier is paid when one attempt is paid."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.common.types import JsonType, UTCDateTime, utcnow
from app.dossiers.models import Dossier
from app.extensions import db
from app.i18n import N_

PENDING, PAID, FAILED, CANCELLED, EXPIRED = "pending", "paid", "failed", "cancelled", "expired"
STATES = (PENDING, PAID, FAILED, CANCELLED, EXPIRED)
STATE_LABELS = {PENDING: N_("Đang chờ thanh toán"), PAID: N_("Đã thanh toán"),
                FAILED: N_("Thanh toán không thành công"), CANCELLED: N_("Đã hủy thanh toán"),
                EXPIRED: N_("Hết hạn thanh toán")}


class Payment(db.Model):
    """One attempt to pay a dossier's fee on the gateway (`reference` is the gateway's order id)."""

    __tablename__ = "payments"
    __table_args__ = (Index("ix_payments_state_created", "state", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)
    reference: Mapped[str] = mapped_column(String(64), unique=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(16), default=PENDING)
    transaction_id: Mapped[str | None] = mapped_column(String(64), index=True)
    payment_url: Mapped[str | None] = mapped_column(String(1000))
    description: Mapped[str] = mapped_column(String(255), default="")
    message: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # last query to the gateway
    last_callback_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_callback: Mapped[dict[str, Any] | None] = mapped_column(JsonType)

    dossier: Mapped[Dossier] = relationship()

    @property
    def state_label(self) -> str:
        return STATE_LABELS.get(self.state, self.state)

    @property
    def is_final(self) -> bool:
        return self.state != PENDING
