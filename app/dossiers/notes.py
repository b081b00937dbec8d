"""Officials' comments and internal notes on a dossier, with optional files that join the dossier.

Notes are for officials who may view the dossier (`services.can_view`); never for tracking.
Services flush; the route commits.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy import select

from app.common.errors import ValidationFailed
from app.common.timefmt import iso
from app.common.types import utcnow
from app.dossiers import storage
from app.dossiers.files import check_upload
from app.dossiers.models import Attachment, Dossier, DossierNote
from app.dossiers.services import Actor, audit
from app.extensions import db

MAX_TEXT = 4000
#: attachment field (kind) → label
FILE_KINDS = {"ghi_chu": "Tài liệu kèm ghi chú", "ket_qua": "Kết quả giải quyết (bản ký)"}


def validate_text(text: str | None) -> str:
    text = (text or "").strip()
    if not text:
        msg = "Vui lòng nhập nội dung ghi chú."
        raise ValidationFailed(msg, "Enter the note's text.", details={"text": [msg]})
    if len(text) > MAX_TEXT:
        msg = f"Nội dung ghi chú không được vượt quá {MAX_TEXT} ký tự (hiện có {len(text)} ký tự)."
        raise ValidationFailed(msg, f"The note is longer than {MAX_TEXT} characters.", details={"text": [msg]})
    return text


def add_note(dossier: Dossier, actor: Actor, text: str | None,
             files: list[tuple[str, bytes]] | None = None, kind: str = "ghi_chu") -> DossierNote:
    """Add a note (1–4000 characters) with optional files (PDF/JPEG/PNG by content); audit `attach` + `note`."""
    assert actor.user is not None, "notes are written by officials"
    text = validate_text(text)
    if kind not in FILE_KINDS:
        kind = "ghi_chu"
    limit = current_app.config["MAX_UPLOAD_BYTES"]
    checked = [(filename, content, check_upload("files", filename, content, limit))
               for filename, content in files or []]
    ids: list[int] = []
    for filename, content, mime in checked:
        att = Attachment(dossier_id=dossier.id, field=kind, filename=filename[:255], content_type=mime,
                         size=len(content), sha256=storage.save(content), uploaded_by_id=actor.user.id,
                         uploaded_at=utcnow())
        db.session.add(att)
        db.session.flush()
        ids.append(att.id)
        audit(dossier, actor, "attach", detail={"attachment_id": att.id, "filename": att.filename,
                                                "field": kind, "size": att.size})
    note = DossierNote(dossier_id=dossier.id, author_id=actor.user.id, text=text, attachment_ids=ids,
                       created_at=utcnow())
    db.session.add(note)
    db.session.flush()
    audit(dossier, actor, "note", detail={"note_id": note.id, "attachment_ids": ids})
    return note


def notes_of(dossier: Dossier) -> list[DossierNote]:
    return list(db.session.scalars(select(DossierNote).where(DossierNote.dossier_id == dossier.id)
                                   .order_by(DossierNote.created_at, DossierNote.id)))


def attachments_by_id(dossier: Dossier) -> dict[int, Attachment]:
    return {a.id: a for a in db.session.scalars(select(Attachment).where(Attachment.dossier_id == dossier.id))}


def notes_json(dossier: Dossier) -> list[dict[str, Any]]:
    return [{"id": n.id, "author": n.author.username, "at": iso(n.created_at), "text": n.text,
             "attachment_ids": list(n.attachment_ids or [])} for n in notes_of(dossier)]
