"""Procedures (TTHC), their versions and the BPMN specs they run."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.auth.models import Unit, User
from app.common.types import JsonType, UTCDateTime, utcnow
from app.extensions import db


class WorkflowSpec(db.Model):
    """A compiled BPMN model, stored once by the SHA-256 of its source."""

    __tablename__ = "workflow_specs"
    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    process_id: Mapped[str] = mapped_column(String(255))
    #: deferred: large, and needed only when a process has not cached the spec yet
    bpmn_xml: Mapped[str] = mapped_column(Text, deferred=True)
    #: the engine's serialized spec (compressed); see app.engine.compile_bpmn
    compiled: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    #: what the app needs without deserializing: user tasks, lanes, forms, properties
    outline: Mapped[dict[str, Any]] = mapped_column(JsonType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Procedure(db.Model):
    """An administrative procedure as citizens see it in the catalogue."""

    __tablename__ = "procedures"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(50), unique=True)
    name: Mapped[str] = mapped_column(String(500))
    field: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    #: processing time and everything else of the catalogue record (components, fees, legal basis)
    meta: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    active: Mapped[bool] = mapped_column(default=True)
    current_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("procedure_versions.id", use_alter=True, name="fk_procedures_current_version")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    unit: Mapped[Unit] = relationship()
    current_version: Mapped[ProcedureVersion | None] = relationship(
        foreign_keys=[current_version_id], post_update=True
    )

    @property
    def processing_time(self) -> dict[str, Any]:
        return dict(self.meta.get("processing_time") or {"value": 1, "unit": "working_days"})


class ProcedureVersion(db.Model):
    """One version of a procedure's BPMN and forms. Running dossiers stay on their version."""

    __tablename__ = "procedure_versions"
    __table_args__ = (UniqueConstraint("procedure_id", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    procedure_id: Mapped[int] = mapped_column(ForeignKey("procedures.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="draft")  # draft | published | retired
    #: compiled spec; None while a draft does not compile yet
    spec_id: Mapped[int | None] = mapped_column(ForeignKey("workflow_specs.id"))
    #: the BPMN source of this version (a draft's work in progress, or what was published)
    bpmn_xml: Mapped[str] = mapped_column(Text, default="", server_default="", deferred=True)
    note: Mapped[str] = mapped_column(Text, default="", server_default="")
    #: the last lint result: [{level, code, element, name, message}]
    lint: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, default=list, server_default="[]")
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: form file name → JSON Schema, frozen with the version
    forms: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    procedure: Mapped[Procedure] = relationship(foreign_keys=[procedure_id])
    spec: Mapped[WorkflowSpec | None] = relationship(lazy="joined")
    published_by: Mapped[User | None] = relationship(foreign_keys=[published_by_id])
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])

    @property
    def outline(self) -> dict[str, Any]:
        return self.spec.outline if self.spec is not None else {}

    def form(self, filename: str | None) -> dict[str, Any] | None:
        if not filename:
            return None
        return self.forms.get(filename)
