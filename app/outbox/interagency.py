"""Inter-agency procedures (liên thông) over the national document axis.

Agency A's BPMN sends the dossier with a service task `axis.send_document` (parameters `to`, `to_name`,
`procedure`: the procedure code at B, optional `subject`) and waits for the message `axis.result`.
B's poller receives the signed edXML, verifies it, opens a dossier of that procedure in B's own inbox
(answering status 01 "arrived") and links it to A's. When B's BPMN reaches its own `axis.send_document`
with parameter `reply` = True, the result goes back to A, whose waiting element receives the payload
(`result` = B's process data, `outcome`, `remote_dossier_code`) and A continues. A tampered or unsigned
message is refused with status 02 to its sender; statuses from the partner are recorded on the dossier.
"""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import select

import connectors
from app.common.types import utcnow
from app.dossiers.models import Attachment, Dossier
from app.extensions import db
from app.outbox.handlers import builder
from app.outbox.inbound import deliver_to_workflow
from app.outbox.models import InteragencyLink
from app.outbox.services import enabled, enqueue, record_inbound, settings_for
from connectors import edxml

log = logging.getLogger(__name__)

RESULT_MESSAGE = "axis.result"
MAX_ATTACHED_BYTES = 6 * 1024 * 1024  # per file: edXML attachments travel base64 inside the signed XML


def our_organ() -> edxml.Organ:
    code = current_app.config["AGENCY_CODE"]
    from app.auth.models import Unit

    unit = db.session.scalar(select(Unit).where(Unit.code == code))
    return edxml.Organ(organ_id=code, organ_name=unit.name if unit else code,
                       email=unit.email if unit else None, telephone=unit.phone if unit else None)


def _plain(data: dict[str, Any]) -> dict[str, Any]:
    """Process data without attachment references (the files travel as edXML attachments)."""
    out = {}
    for k, v in data.items():
        if isinstance(v, dict) and "attachment_id" in v:
            continue
        if isinstance(v, list) and v and all(isinstance(x, dict) and "attachment_id" in x for x in v):
            continue
        out[k] = v
    return out


def _attachments(dossier: Dossier) -> list[edxml.Attachment]:
    from app.dossiers.storage import read

    out = []
    for a in db.session.scalars(select(Attachment).where(Attachment.dossier_id == dossier.id).order_by(Attachment.id)):
        if a.size <= MAX_ATTACHED_BYTES:
            out.append(edxml.Attachment(name=a.filename, content_type=a.content_type, data=read(a.sha256),
                                        description=a.field))
    return out


def _document(dossier: Dossier, to: edxml.Organ, subject: str, notation: str, business_data: dict[str, Any],
              attachments: list[edxml.Attachment]) -> dict[str, Any]:
    sender = our_organ()
    doc = edxml.Document(
        from_organ=sender, to=[to], code=edxml.Code(code_number=str(dossier.id), code_notation=notation),
        promulgation=edxml.PromulgationInfo(place=dossier.unit.name[:100], promulgation_date=date.today()),
        subject=subject[:500], signer=edxml.SignerInfo(competence="KT", position="Bộ phận Một cửa",
                                                       full_name=dossier.unit.name[:100]),
        business_data=business_data, attachments=attachments)
    return edxml.message_to_dict(doc)


@builder("axis", "send_document")
def _axis_document(dossier: Dossier, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    if params.get("reply"):
        link = db.session.scalar(select(InteragencyLink).where(InteragencyLink.dossier_id == dossier.id,
                                                               InteragencyLink.direction == "in"))
        if link is None:
            raise ValueError("Hồ sơ không đến từ cơ quan khác: không có nơi để trả kết quả liên thông.")
        to = edxml.Organ(organ_id=link.partner_code, organ_name=link.partner_name or link.partner_code)
        business = {"kind": "lienthong_result", "dossier_code": link.remote_dossier_code,
                    "remote_dossier_code": dossier.code, "request_document_id": link.document_id,
                    "outcome": str(params.get("outcome") or data.get("decision") or ""), "result": _plain(data)}
        link.state = "result"
        return _document(dossier, to, str(params.get("subject") or f"Kết quả giải quyết hồ sơ liên thông "
                                          f"{link.remote_dossier_code}"), "KQLT", business, [])
    to_code = str(params.get("to") or "")
    procedure = str(params.get("procedure") or "")
    if not edxml.AGENCY_RE.match(to_code) or not procedure:
        raise ValueError("axis.send_document cần tham số 'to' (mã cơ quan nhận) và 'procedure' (mã thủ tục).")
    to = edxml.Organ(organ_id=to_code, organ_name=str(params.get("to_name") or to_code))
    business = {"kind": "lienthong_request", "dossier_code": dossier.code, "procedure": procedure,
                "applicant": {"name": dossier.applicant_name, "id_number": dossier.applicant_id_number,
                              "phone": dossier.applicant_phone, "email": dossier.applicant_email,
                              "address": dossier.applicant_address},
                "data": _plain(data)}
    payload = _document(dossier, to, str(params.get("subject") or f"Chuyển hồ sơ liên thông {dossier.code}: "
                                         f"{dossier.procedure.name}"), "LT", business, _attachments(dossier))
    db.session.add(InteragencyLink(dossier_id=dossier.id, direction="out", partner_code=to_code,
                                   partner_name=to.organ_name, document_id=payload.get("document_id") or "",
                                   state="sent"))
    return payload


# --------------------------------------------------------------------------- receiving (the poller)


def _ca_pem() -> bytes:
    path = settings_for("axis").get("ca_file")
    if not path:
        raise connectors.PermanentError("Thiếu AXIS_CA_FILE: không kiểm tra được chữ ký số.")
    return Path(path).read_bytes()


def _status(to_code: str, to_name: str, document_id: str, code: str, description: str = "") -> None:
    msg = edxml.StatusMessage(from_organ=our_organ(), to=[edxml.Organ(organ_id=to_code, organ_name=to_name)],
                              status_code=code, document_id=document_id, description=description)
    enqueue("axis", "send_status", edxml.message_to_dict(msg), key=f"axis-status-{code}-{document_id}")


def poll_axis(limit: int = 50) -> int:
    """Fetch this agency's mailbox, apply every message, acknowledge it. Returns how many were handled."""
    if not enabled("axis"):
        return 0
    conn = connectors.get("axis", settings_for("axis"))
    handled = 0
    for item in conn.fetch(limit):  # type: ignore[attr-defined]
        try:
            apply_axis_message(item["id"], item.get("from") or "", item["xml"])
            db.session.commit()
        except Exception:  # noqa: BLE001 — leave it in the mailbox, try again next poll
            db.session.rollback()
            log.exception("axis message %s failed", item.get("id"))
            continue
        conn.ack(item["id"])  # type: ignore[attr-defined]
        handled += 1
    return handled


def apply_axis_message(message_id: str, sender: str, xml: bytes) -> str:
    """Verify and apply one axis message in the current transaction. Returns what was done."""
    event = record_inbound("axis", f"msg:{message_id}", {"from": sender, "size": len(xml)})
    if event is None:
        return "duplicate"
    try:
        message = edxml.receive(xml, _ca_pem())
    except edxml.EdxmlError as exc:
        event.outcome = f"refused: {exc.kind}"
        try:
            refusal = edxml.refusal_for(xml, exc, our_organ(), sender=sender or None)
        except edxml.EdxmlError:
            return event.outcome  # not even a sender to answer: recorded, dropped
        enqueue("axis", "send_status", edxml.message_to_dict(refusal), key=f"axis-refuse-{message_id}")
        log.warning("axis message %s from %s refused: %s", message_id, sender, exc)
        return event.outcome
    if isinstance(message, edxml.StatusMessage):
        event.outcome = _apply_status(message)
        return event.outcome
    kind = (message.business_data or {}).get("kind")
    if kind == "lienthong_request":
        event.outcome = _open_dossier(message)
    elif kind == "lienthong_result":
        event.outcome = _apply_result(message)
    else:
        event.outcome = "ignored: not a MotCua inter-agency document"
    return event.outcome


def _apply_status(message: edxml.StatusMessage) -> str:
    from app.dossiers.services import SYSTEM, audit

    link = db.session.scalar(select(InteragencyLink).where(InteragencyLink.document_id == message.document_id,
                                                           InteragencyLink.direction == "out"))
    if link is None:
        return f"status {message.status_code} for an unknown document"
    link.state = message.status_code
    link.updated_at = utcnow()
    dossier = db.session.get(Dossier, link.dossier_id)
    audit(dossier, SYSTEM, "axis_status", detail={"partner": link.partner_code, "status": message.status_code},
          note=f"{link.partner_name}: {message.description or edxml.STATUS_CODES.get(message.status_code, '')}")
    return f"status {message.status_code}"


def _open_dossier(message: edxml.Document) -> str:
    from app.dossiers.services import SYSTEM, submit
    from app.dossiers.storage import save

    bd = message.business_data or {}
    sender = message.from_organ
    existing = db.session.scalar(select(InteragencyLink).where(InteragencyLink.document_id == message.document_id,
                                                               InteragencyLink.direction == "in"))
    if existing is not None:
        return "duplicate document"
    applicant = {k: v for k, v in (bd.get("applicant") or {}).items() if v}
    dossier, _secret = submit(str(bd.get("procedure") or ""), "online", applicant, dict(bd.get("data") or {}),
                              actor=SYSTEM)
    db.session.add(InteragencyLink(dossier_id=dossier.id, direction="in", partner_code=sender.organ_id,
                                   partner_name=sender.organ_name, document_id=message.document_id,
                                   remote_dossier_code=str(bd.get("dossier_code") or ""), state="received"))
    for att in message.attachments:
        db.session.add(Attachment(dossier_id=dossier.id, field=(att.description or "lien_thong")[:100],
                                  filename=att.name[:255], content_type=att.content_type, size=len(att.data),
                                  sha256=save(att.data)))
    _status(sender.organ_id, sender.organ_name, message.document_id, "01",
            f"Đã nhận, mở hồ sơ {dossier.code}")
    if not dossier.is_final:
        _status(sender.organ_id, sender.organ_name, message.document_id, "04",
                f"Hồ sơ {dossier.code} chờ phân công xử lý")
    return f"opened {dossier.code}"


def _apply_result(message: edxml.Document) -> str:
    bd = message.business_data or {}
    dossier = db.session.scalar(select(Dossier).where(Dossier.code == str(bd.get("dossier_code") or "")))
    if dossier is None:
        return "result for an unknown dossier"
    link = db.session.scalar(select(InteragencyLink).where(InteragencyLink.dossier_id == dossier.id,
                                                           InteragencyLink.direction == "out",
                                                           InteragencyLink.partner_code == message.from_organ.organ_id))
    if link is None:
        return "result from an agency this dossier was not sent to"
    link.state = "result"
    link.remote_dossier_code = str(bd.get("remote_dossier_code") or "") or link.remote_dossier_code
    payload = {"outcome": bd.get("outcome"), "result": bd.get("result") or {},
               "remote_dossier_code": link.remote_dossier_code, "from": message.from_organ.organ_name}
    if deliver_to_workflow(dossier, RESULT_MESSAGE, payload, note=f"Kết quả liên thông từ {link.partner_name}"):
        return "result delivered"
    return "result recorded (nothing waiting)"
