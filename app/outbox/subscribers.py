"""Listeners on dossier events that queue partner messages in the same transaction.

- every status change → the national portal's dossier sync (`portal.sync_dossier`)
- every progress step → the portal's progress update (`portal.update_progress`)
- received (2), supplement requested (5), refused (3), result ready (9), apology (paper 04) → the applicant
  by e-mail and SMS, from the templates in `app/templates/notify/`
- a task due soon → its handler by e-mail

Portal messages of one dossier share an ordering key, so they reach the portal in the order they happened.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import select

from app.common.timefmt import VN_TZ, fmt_date
from app.dossiers import events
from app.dossiers.models import CHANNELS, Attachment, AuditLog, Dossier, status_label
from app.extensions import db
from app.outbox.models import InteragencyLink, OutboxMessage
from app.outbox.services import enabled, enqueue

#: statuses the applicant hears about, with the template and the subject
APPLICANT_NOTICES = {
    2: ("received", "Hồ sơ {code} đã được tiếp nhận"),
    3: ("refused", "Hồ sơ {code} không được tiếp nhận"),
    5: ("supplement", "Hồ sơ {code} cần bổ sung giấy tờ"),
    9: ("result_ready", "Hồ sơ {code} đã có kết quả"),
}


#: our status → the edXML status sent back to the agency that sent us the dossier
AXIS_STATUS = {2: "03", 3: "02", 4: "05", 9: "06"}


def portal_time(value: datetime | None) -> str:
    """yyyyMMddHHmmss in Asia/Ho_Chi_Minh, "" for none (the portal's date shape)."""
    return value.astimezone(VN_TZ).strftime("%Y%m%d%H%M%S") if value is not None else ""


def _subject_kind(dossier: Dossier) -> int:
    number = (dossier.applicant_id_number or "").replace("-", "")
    return 2 if len(number) in (10, 13) else 1  # a tax code: a business; a citizen ID: a person


def portal_dossier(dossier: Dossier) -> dict[str, Any]:
    """The portal's dossier shape (DongBoHoSoMC), from our dossier."""
    data = dossier.data or {}
    supplements = db.session.scalars(select(AuditLog).where(AuditLog.dossier_id == dossier.id,
                                                            AuditLog.to_status == 5).order_by(AuditLog.id))
    files = db.session.scalars(select(Attachment).where(Attachment.dossier_id == dossier.id).order_by(Attachment.id))
    by_post = data.get("nhanKetQua") == "buu_chinh" or dossier.channel == "postal"
    return {
        "MaHoSo": dossier.code,
        "MaTTHC": dossier.procedure.code,
        "TenTTHC": dossier.procedure.name,
        "KenhThucHien": CHANNELS.get(dossier.channel, 2),
        "ChuHoSo": dossier.applicant_name,
        "LoaiDoiTuong": _subject_kind(dossier),
        "NgayTiepNhan": portal_time(dossier.received_at or dossier.submitted_at),
        "NgayHenTra": portal_time(dossier.due_at),
        "TrangThaiHoSo": dossier.status,
        "NgayTra": portal_time(dossier.finished_at),
        "HinhThuc": 1 if by_post else 0,
        "DonViXuLy": dossier.unit.name,
        "TaiLieuNop": [{"TenTaiLieu": a.field, "TenTepDinhKem": a.filename, "SoLuong": 1} for a in files],
        "DanhSachBoSung": [{"NgayYeuCau": portal_time(a.at), "NoiDungYeuCau": a.note or "Bổ sung hồ sơ"}
                           for a in supplements],
    }


def _on_status(dossier: Dossier, *, old: int, new: int, actor: Any, reason: str = "") -> None:
    if dossier.id is None:
        return
    if enabled("portal"):
        db.session.flush()  # the audit row of this change is part of the snapshot
        enqueue("portal", "sync_dossier", portal_dossier(dossier), dossier=dossier,
                ordering_key=f"portal:{dossier.id}")
    if new == 9 and getattr(dossier, "return_method", None) == "postal":
        order_result_delivery(dossier)
    link = _inbound_link(dossier)
    if link is not None:  # an inter-agency dossier: the sending agency hears, it talks to the applicant
        code = AXIS_STATUS.get(new)
        if code and enabled("axis"):
            from app.outbox.interagency import _status

            _status(link.partner_code, link.partner_name, link.document_id, code,
                    f"Hồ sơ {dossier.code}: {reason or status_label(new)}")
        return
    notice = APPLICANT_NOTICES.get(new)
    if new == 10 and old != 9:  # returned without a "result ready" step: say it now
        notice = APPLICANT_NOTICES[9]
    if notice is not None:
        notify_applicant(dossier, notice[0], notice[1], reason=reason)


def order_result_delivery(dossier: Dossier) -> None:
    """The applicant chose to receive the result by post: order the delivery when the result is ready,
    unless the procedure's BPMN already ordered it with a `vnpost.create_order` service task."""
    from app.outbox.handlers import BUILDERS
    from app.outbox.models import Shipment

    if not enabled("vnpost"):
        return
    exists = db.session.scalar(select(Shipment.id).where(Shipment.dossier_id == dossier.id,
                                                         Shipment.service == "delivery"))
    pending = any(isinstance(o, Shipment) and o.dossier_id == dossier.id and o.service == "delivery"
                  for o in db.session.new)  # ordered in this unit of work (advance does not autoflush)
    if exists is not None or pending:
        return
    payload = BUILDERS[("vnpost", "create_order")](dossier, {"service": "delivery", "cod_amount": 0},
                                                   dossier.data or {})
    on_done = payload.pop("_on_done", None)
    enqueue("vnpost", "create_order", payload, dossier=dossier, ordering_key=f"vnpost:{dossier.id}",
            on_done=on_done, key=f"{dossier.code}-vnpost-delivery")


def _inbound_link(dossier: Dossier) -> InteragencyLink | None:
    return db.session.scalar(select(InteragencyLink).where(InteragencyLink.dossier_id == dossier.id,
                                                           InteragencyLink.direction == "in"))


def _on_step(dossier: Dossier, *, step: Any) -> None:
    if dossier.id is None or not enabled("portal"):
        return
    db.session.flush()
    synced = db.session.scalar(select(OutboxMessage.id).where(OutboxMessage.dossier_id == dossier.id,
                                                              OutboxMessage.connector == "portal",
                                                              OutboxMessage.operation == "sync_dossier").limit(1))
    if synced is None:  # the portal refuses progress for a dossier it does not know yet
        enqueue("portal", "sync_dossier", portal_dossier(dossier), dossier=dossier,
                ordering_key=f"portal:{dossier.id}")
    enqueue("portal", "update_progress", {
        "MaHoSo": dossier.code,
        "NguoiXuLy": step.actor_label or "Hệ thống",
        "ChucDanh": _role_title(step.role_code),
        "ThoiDiemXuLy": portal_time(step.finished_at),
        "PhongBanXuLy": dossier.unit.name,
        "NoiDungXuLy": step.name,
        "TrangThai": step.status_after,
        "NgayBatDau": portal_time(step.started_at or step.finished_at),
        "NgayKetThucTheoQuyDinh": portal_time(step.due_at or dossier.due_at),
    }, dossier=dossier, ordering_key=f"portal:{dossier.id}", key=f"portal-progress-{dossier.code}-{step.id}")


def _role_title(code: str | None) -> str:
    if code is None:
        return "Hệ thống"
    if code == "applicant":
        return "Người nộp hồ sơ"
    from app.auth.models import Role

    return db.session.scalar(select(Role.name).where(Role.code == code)) or code


def _on_apology(dossier: Dossier, *, new_due: datetime, reason: str, actor: Any = None, **_: Any) -> None:
    notify_applicant(dossier, "late", "Xin lỗi: hồ sơ {code} được hẹn trả lại", reason=reason,
                     extra={"new_due": fmt_date(new_due)})


def _on_task_due(task: Any, *, hours_left: float) -> None:
    user = task.assignee
    if user is None or not user.email or not enabled("email"):
        return
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    text = _render("notify/task_due.txt", task=task, dossier=task.dossier, hours_left=hours_left,
                           link=f"{base}/can-bo/cong-viec/{task.id}")
    enqueue("email", "send", {"to": user.email, "subject": f"Sắp đến hạn: {task.name} ({task.dossier.code})",
                              "text": text}, dossier=task.dossier, key=f"due-{task.id}")


def notify_applicant(dossier: Dossier, template: str, subject: str, reason: str = "",
                     extra: dict[str, Any] | None = None) -> None:
    """Queue the e-mail and the SMS for one event, to whatever contact the applicant gave."""
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    context = {"dossier": dossier, "reason": reason, "due": fmt_date(dossier.due_at),
               "link": f"{base}/tra-cuu/{dossier.code}", **(extra or {})}
    if dossier.applicant_email and enabled("email"):
        enqueue("email", "send", {"to": dossier.applicant_email, "subject": subject.format(code=dossier.code),
                                  "text": _render(f"notify/{template}.txt", **context)},
                dossier=dossier)
    if dossier.applicant_phone and enabled("sms"):
        enqueue("sms", "send", {"to": dossier.applicant_phone,
                                "text": _render(f"notify/{template}.sms.txt", **context).strip()},
                dossier=dossier)


def _render(name: str, **context: Any) -> str:
    """A notice template, without request context processors (the scheduler and pollers have no request)."""
    return current_app.jinja_env.get_template(name).render(**context)


def connect() -> None:
    """Subscribe (idempotent: blinker keeps one connection per receiver)."""
    from app.outbox import interagency  # noqa: F401 — registers the axis service-task builder
    events.status_changed.connect(_on_status)
    events.step_recorded.connect(_on_step)
    events.apology_issued.connect(_on_apology)
    events.task_due_soon.connect(_on_task_due)
