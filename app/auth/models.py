"""Units (agencies), roles, users, role grants and API tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.common.types import UTCDateTime, utcnow
from app.extensions import db


class Unit(db.Model):
    """An agency or office that handles dossiers, identified by its agency code (mã định danh)."""

    __tablename__ = "units"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(35), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    address: Mapped[str | None] = mapped_column(String(500))
    phone: Mapped[str | None] = mapped_column(String(50))
    email: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Role(db.Model):
    """A role that works BPMN lanes. Lanes match a role by code, name or alias, folded."""

    __tablename__ = "roles"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(50), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    name_en: Mapped[str] = mapped_column(String(255), default="")
    aliases: Mapped[list[RoleAlias]] = relationship(back_populates="role", cascade="all, delete-orphan")


class RoleAlias(db.Model):
    __tablename__ = "role_aliases"
    id: Mapped[int] = mapped_column(primary_key=True)
    role_id: Mapped[int] = mapped_column(ForeignKey("roles.id", ondelete="CASCADE"), index=True)
    alias: Mapped[str] = mapped_column(String(255))
    #: folded form (no diacritics, lower case) — what lane names are matched against
    folded: Mapped[str] = mapped_column(String(255), unique=True)
    role: Mapped[Role] = relationship(back_populates="aliases")


class User(db.Model):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    full_name: Mapped[str] = mapped_column(String(255), default="")
    email: Mapped[str | None] = mapped_column(String(255))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    grants: Mapped[list[RoleGrant]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )

    def has_role(self, role_code: str, unit_id: int | None = None) -> bool:
        return any(
            g.role.code == role_code and (unit_id is None or g.unit_id == unit_id) for g in self.grants
        )

    @property
    def unit_ids(self) -> set[int]:
        return {g.unit_id for g in self.grants}

    @property
    def display_name(self) -> str:
        return self.full_name or self.username


class RoleGrant(db.Model):
    """User U holds role R in unit N. A user may hold several roles, in several units."""

    __tablename__ = "role_grants"
    __table_args__ = (UniqueConstraint("user_id", "role_id", "unit_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role_id: Mapped[int] = mapped_column(ForeignKey("roles.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    user: Mapped[User] = relationship(back_populates="grants")
    role: Mapped[Role] = relationship(lazy="joined")
    unit: Mapped[Unit] = relationship(lazy="joined")


class ApiToken(db.Model):
    """Bearer tokens; only a SHA-256 of the (high-entropy) token is stored."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked: Mapped[bool] = mapped_column(default=False)
    user: Mapped[User] = relationship()
