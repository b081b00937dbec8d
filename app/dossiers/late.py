"""Late dossiers: the desk apologises and gives a new appointment date (paper 04, DOMAIN.md "Late").

``issue_apology(dossier, new_due, reason, actor) -> DossierApology`` validates (the new date is after now
and after the current appointment, a reason is given, the dossier is not finished), stores the apology with
the date it replaces, moves ``dossier.due_at``, audits (action ``apology``, the status unchanged, old and new
due in the detail) and sends ``events.apology_issued`` (listeners notify the applicant). Flushes, never commits.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from sqlalchemy import select

from app.common.errors import Conflict, Forbidden, ValidationFailed
from app.common.timefmt import VN_TZ
from app.common.types import utcnow
from app.dossiers import events
from app.dossiers.models import FINAL_STATUSES, Dossier, DossierApology
from app.dossiers.services import Actor, audit
from app.extensions import db
from app.worktime.calendar import office_hours

#: roles that may issue an apology in the dossier's unit
APOLOGY_ROLES = ("reception", "leader")
MAX_REASON = 2000


def end_of_office_day(day: date) -> datetime:
    """A date given alone means the end of office hours that day (Vietnam time), stored in UTC."""
    hours = office_hours()
    closing = hours[-1][1] if hours else time(17, 0)
    return datetime.combine(day, closing, VN_TZ).astimezone(UTC)


def parse_new_due(value: str | date | datetime | None) -> datetime | None:
    """A date (YYYY-MM-DD: end of office hours that day) or an ISO 8601 datetime (naive = Vietnam time)."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=VN_TZ)).astimezone(UTC)
    if isinstance(value, date):
        return end_of_office_day(value)
    raw = (value or "").strip() if isinstance(value, str) else ""
    if not raw:
        return None
    try:
        if len(raw) == 10:
            return end_of_office_day(date.fromisoformat(raw))
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=VN_TZ)).astimezone(UTC)


def may_apologise(user, dossier: Dossier) -> bool:
    return any(user.has_role(role, dossier.unit_id) for role in APOLOGY_ROLES)


def is_finished(dossier: Dossier) -> bool:
    return dossier.finished_at is not None or dossier.status in FINAL_STATUSES | {9}


def issue_apology(dossier: Dossier, new_due: datetime | None, reason: str, actor: Actor) -> DossierApology:
    if actor.user is not None and not may_apologise(actor.user, dossier):
        raise Forbidden("Chỉ Bộ phận một cửa hoặc lãnh đạo đơn vị giải quyết mới được xin lỗi và hẹn lại ngày trả.",
                        "Only the handling unit's reception desk or leaders may issue an apology.")
    if is_finished(dossier):
        raise Conflict("Hồ sơ đã giải quyết xong hoặc đã kết thúc, không hẹn lại ngày trả.",
                       "The dossier is finished: no new appointment date.")
    now = utcnow()
    reason = (reason or "").strip()
    errors: dict[str, list[str]] = {}
    if not isinstance(new_due, datetime):
        errors["new_due"] = ["Nhập ngày hẹn trả kết quả mới (ngày YYYY-MM-DD hoặc ngày giờ ISO 8601)."]
    elif new_due <= now:
        errors["new_due"] = ["Ngày hẹn trả mới phải sau thời điểm hiện tại."]
    elif dossier.due_at is not None and new_due <= dossier.due_at:
        errors["new_due"] = ["Ngày hẹn trả mới phải sau ngày hẹn trả hiện tại."]
    if not reason:
        errors["reason"] = ["Nhập lý do chậm trễ."]
    elif len(reason) > MAX_REASON:
        errors["reason"] = [f"Lý do tối đa {MAX_REASON} ký tự."]
    if errors:
        raise ValidationFailed("Phiếu xin lỗi chưa hợp lệ, vui lòng kiểm tra các trường được đánh dấu.",
                               "The apology is not valid.", details=errors)
    assert isinstance(new_due, datetime)
    old_due = dossier.due_at
    apology = DossierApology(dossier_id=dossier.id, issued_at=now, issued_by_id=actor.user.id if actor.user else None,
                             old_due=old_due, new_due=new_due, reason=reason)
    db.session.add(apology)
    dossier.due_at = new_due
    db.session.flush()
    audit(dossier, actor, "apology", from_status=dossier.status, to_status=dossier.status, note=reason,
          detail={"old_due": old_due.isoformat() if old_due else None, "new_due": new_due.isoformat(),
                  "apology_id": apology.id})
    db.session.flush()
    events.apology_issued.send(dossier, new_due=new_due, reason=reason, actor=actor)
    return apology


def latest_apology(dossier: Dossier) -> DossierApology | None:
    return db.session.scalar(select(DossierApology).where(DossierApology.dossier_id == dossier.id)
                             .order_by(DossierApology.issued_at.desc(), DossierApology.id.desc()).limit(1))


def apologies(dossier: Dossier) -> list[DossierApology]:
    return list(db.session.scalars(select(DossierApology).where(DossierApology.dossier_id == dossier.id)
                                   .order_by(DossierApology.issued_at, DossierApology.id)))
