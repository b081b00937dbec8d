"""The citizen's timeline of a dossier in plain Vietnamese, built from its audit rows and steps.

What a citizen sees, and only that: status changes worded for a person ("Đã tiếp nhận, hẹn trả ngày …"), the
supplement items asked for, apologies with the new date, postal and inter-agency states, the steps done and the
unit that did them. Never shown: officials' names (the unit is shown instead), internal notes and comments
(`DossierNote`, audit notes, officials' opinions in task data), claims, assignments, delegations, timers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from app.auth.models import Role, Unit
from app.common.timefmt import fmt_datetime
from app.dossiers.decisions import field_lines
from app.dossiers.models import CHANNEL_LABELS, AuditLog, Dossier, DossierApology, DossierStep
from app.extensions import db
from app.i18n import N_, tr
from app.inbox.models import DONE, Task

#: the kinds of entries, for the template's styling: major ones are status milestones
MAJOR, MINOR = "major", "minor"


@dataclass
class Entry:
    """One line of the timeline: when, a headline, optional detail lines, and a kind for styling."""

    at: datetime
    title: str
    lines: list[str] = field(default_factory=list)
    kind: str = MAJOR
    icon: str = "dot"

    @property
    def when(self) -> str:
        return fmt_datetime(self.at)


def _decision_before(tasks: list[Task], at: datetime, suffix: str) -> list[str]:
    """What the latest task completed at or before `at` entered as `*suffix` (supplement items, refusal)."""
    for task in reversed(tasks):
        if task.completed_at is not None and task.completed_at <= at:
            lines = field_lines(task.data, suffix)
            if lines:
                return lines
    return []


def _due_history(rows: list[AuditLog], final_due: datetime | None) -> dict[int, datetime | None]:
    """The appointment date right after each audit row, walked back from today's: an apology moved it from
    `old_due`, the end of a supplement pause from `due_before` (receipt sets it afresh)."""
    due = final_due
    after: dict[int, datetime | None] = {}
    for row in reversed(rows):
        after[row.id] = due
        detail = row.detail or {}
        if row.action == "apology" and detail.get("old_due"):
            due = _parse(detail["old_due"]) or due
        elif row.action == "status" and detail.get("due_before"):
            due = _parse(detail["due_before"]) or due
    return after


def _parse(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None


def _working_unit(ctx: dict[str, Any], at: datetime, fallback: Unit) -> Unit:
    """The unit of the first officials' task that opened at or after `at` (where the dossier now is)."""
    for task in ctx["tasks"]:
        if task.created_at >= at and ctx["roles"].get(task.role_id) != "applicant":
            return ctx["units"].get(task.unit_id) or fallback
    return fallback


def _status_entries(row: AuditLog, dossier: Dossier, ctx: dict[str, Any]) -> list[Entry]:
    new, old = row.to_status, row.from_status
    at = row.at
    due = ctx["due_after"].get(row.id)
    out: list[Entry] = []
    if old == 5 and new != 5:
        entry = Entry(at, _("Đã nhận giấy tờ bổ sung"), icon="received")
        if (row.detail or {}).get("due_before") and due is not None:
            entry.lines.append(_("Thời hạn giải quyết được tính tiếp, hẹn trả kết quả ngày %(due)s",
                                 due=fmt_datetime(due)))
        out.append(entry)
    if new in (2, 4) and not ctx["received"]:
        ctx["received"] = True
        title = _("Đã tiếp nhận hồ sơ")
        if due is not None:
            title += _(", hẹn trả kết quả ngày %(due)s", due=fmt_datetime(due))
        entry = Entry(at, title, icon="received")
        if new == 4:
            entry.lines.append(_("Đang giải quyết tại %(unit)s", unit=_working_unit(ctx, at, dossier.unit).name))
        out.append(entry)
    elif new == 2:
        title = _("Đã tiếp nhận lại hồ sơ")
        if due is not None:
            title += _(", hẹn trả kết quả ngày %(due)s", due=fmt_datetime(due))
        out.append(Entry(at, title, icon="received"))
    elif new == 4:
        out.append(Entry(at, _("Đang giải quyết tại %(unit)s", unit=_working_unit(ctx, at, dossier.unit).name),
                         icon="working"))
    elif new == 5:
        items = _decision_before(ctx["done"], at, "supplement_items")
        title = _("Cần bổ sung giấy tờ") + (": " + items[0] if len(items) == 1 else "")
        entry = Entry(at, title, lines=items if len(items) > 1 else [], icon="supplement")
        entry.lines.append(_("Thời hạn giải quyết tạm dừng cho đến khi bạn bổ sung."))
        out.append(entry)
    elif new == 3:
        reasons = _decision_before(ctx["done"], at, "refusal_reason")
        out.append(Entry(at, _("Hồ sơ không được tiếp nhận"), lines=[_("Lý do: %(reason)s", reason=r) for r in reasons],
                         icon="stop"))
    elif new in STATUS_TEXTS:
        title, lines, icon = STATUS_TEXTS[new]
        out.append(Entry(at, tr(title) or title, lines=[tr(line) or line for line in lines], icon=icon))
    return out


#: the other statuses, worded for the citizen: (headline, detail lines, icon)
STATUS_TEXTS: dict[int, tuple[str, tuple[str, ...], str]] = {
    6: (N_("Cần nộp phí, lệ phí hoặc thực hiện nghĩa vụ tài chính"), (), "payment"),
    7: (N_("Đã rút hồ sơ theo yêu cầu của người nộp"), (), "stop"),
    8: (N_("Hồ sơ đã dừng xử lý"), (), "stop"),
    9: (N_("Đã có kết quả"), (N_("Mời bạn nhận kết quả theo hình thức đã chọn."),), "result"),
    10: (N_("Đã trả kết quả"), (), "done"),
}


def _apology_entry(row: AuditLog, apologies: dict[int, DossierApology]) -> Entry:
    detail = row.detail or {}
    apology = apologies.get(detail.get("apology_id") or 0)
    new_due = apology.new_due if apology else _parse(detail.get("new_due") or "")
    entry = Entry(row.at, _("Xin lỗi, hẹn lại ngày trả kết quả: %(due)s", due=fmt_datetime(new_due)), icon="apology")
    if apology is not None and apology.old_due is not None:
        entry.lines.append(_("Ngày hẹn cũ: %(due)s", due=fmt_datetime(apology.old_due)))
    if apology is not None and apology.reason:
        # the reason is the apology letter's (paper 04, sent to the applicant), not an internal note
        entry.lines.append(_("Lý do: %(reason)s", reason=apology.reason))
    return entry


def _postal_entry(row: AuditLog) -> Entry | None:
    from app.outbox.inbound import SHIPMENT_LABELS

    detail = row.detail or {}
    label = SHIPMENT_LABELS.get(detail.get("to"))  # type: ignore[arg-type]
    if not label:
        return None
    service = _("Thu gom hồ sơ tại nhà") if detail.get("service") == "pickup" else _("Chuyển phát kết quả")
    title = _("Bưu chính (%(service)s): %(state)s", service=service.lower(), state=(tr(label) or label).lower())
    lines = [_("Mã vận đơn: %(code)s", code=detail["item_code"])] if detail.get("item_code") else []
    return Entry(row.at, title, lines=lines, kind=MINOR, icon="postal")


def _axis_entry(row: AuditLog, partners: dict[str, str]) -> Entry | None:
    from connectors.edxml import STATUS_CODES

    detail = row.detail or {}
    label = STATUS_CODES.get(str(detail.get("status") or ""))
    if not label:
        return None
    partner = partners.get(str(detail.get("partner") or "")) or _("Cơ quan phối hợp")
    return Entry(row.at, f"{partner}: {label.lower()}", kind=MINOR, icon="working")


#: payment states another module may audit (action "payment", detail "status"/"state")
PAYMENT_TEXTS = {"paid": N_("Đã thanh toán phí, lệ phí"), "success": N_("Đã thanh toán phí, lệ phí"),
                 "succeeded": N_("Đã thanh toán phí, lệ phí"), "failed": N_("Thanh toán phí, lệ phí chưa thành công"),
                 "cancelled": N_("Đã hủy giao dịch thanh toán"), "expired": N_("Giao dịch thanh toán đã hết hạn")}


def _payment_entry(row: AuditLog) -> Entry | None:
    detail = row.detail or {}
    text = PAYMENT_TEXTS.get(str(detail.get("status") or detail.get("state") or "").lower())
    return Entry(row.at, tr(text) or text, kind=MINOR, icon="payment") if text else None


def build(dossier: Dossier) -> list[Entry]:
    """The dossier's timeline, oldest first."""
    rows = list(db.session.scalars(select(AuditLog).where(AuditLog.dossier_id == dossier.id)
                                   .order_by(AuditLog.at, AuditLog.id)))
    tasks = list(db.session.scalars(select(Task).where(Task.dossier_id == dossier.id).order_by(Task.created_at,
                                                                                              Task.id)))
    roles = {r.id: r.code for r in db.session.scalars(select(Role))}
    done = sorted((t for t in tasks if t.state == DONE and t.completed_at is not None),
                  key=lambda t: (t.completed_at, t.id))
    unit_ids = {t.unit_id for t in tasks} | {dossier.unit_id}
    steps = list(db.session.scalars(select(DossierStep).where(DossierStep.dossier_id == dossier.id)
                                    .order_by(DossierStep.finished_at, DossierStep.id)))
    unit_ids |= {s.unit_id for s in steps if s.unit_id}
    units = {u.id: u for u in db.session.scalars(select(Unit).where(Unit.id.in_(unit_ids)))}
    apologies = {a.id: a for a in db.session.scalars(select(DossierApology)
                                                     .where(DossierApology.dossier_id == dossier.id))}
    partners: dict[str, str] = {}
    if any(r.action == "axis_status" for r in rows):
        from app.outbox.models import InteragencyLink

        partners = {link.partner_code: link.partner_name for link in db.session.scalars(
            select(InteragencyLink).where(InteragencyLink.dossier_id == dossier.id))}
    ctx: dict[str, Any] = {"due_after": _due_history(rows, dossier.due_at), "received": False, "tasks": tasks,
                           "done": done, "units": units, "roles": roles}
    entries: list[Entry] = []
    status_names: set[str] = set()
    for row in rows:
        entry: Entry | None = None
        if row.action == "submit":
            channel = CHANNEL_LABELS.get(str((row.detail or {}).get("channel") or dossier.channel))
            entry = Entry(row.at, _("Đã nộp hồ sơ"),
                          lines=[_("Nộp hồ sơ %(channel)s", channel=(tr(channel) or channel).lower())]
                          if channel else [],
                          icon="submitted")
        elif row.action == "status":
            status_names.add(row.note or "")  # the BPMN element that set the status
            entries.extend(_status_entries(row, dossier, ctx))
        elif row.action == "apology":
            entry = _apology_entry(row, apologies)
        elif row.action == "postal":
            entry = _postal_entry(row)
        elif row.action == "axis_status":
            entry = _axis_entry(row, partners)
        elif row.action == "payment":
            entry = _payment_entry(row)
        if entry is not None:
            entries.append(entry)
    for step in steps:
        if step.role_code == "applicant" or step.name == "Nộp hồ sơ":
            continue  # the submission and the citizen's own supplements have their entries already
        if step.role_code is None and step.name in status_names:
            continue  # a milestone that set a status: its status entry says it better
        unit = units.get(step.unit_id or 0)
        title = _("Đã xong bước: %(step)s", step=step.name)
        entries.append(Entry(step.finished_at, title, lines=[unit.name] if unit and step.role_code else [],
                             kind=MINOR, icon="step"))
    entries.sort(key=lambda e: e.at)
    return entries


def appointment(dossier: Dossier) -> dict[str, Any]:
    """The appointment facts the page shows prominently: the date, whether it was moved by an apology, whether
    the clock is paused or the result is out."""
    from app.dossiers.late import latest_apology

    apology = latest_apology(dossier)
    return {
        "due_at": dossier.due_at,
        "received": dossier.received_at is not None,
        "paused": dossier.clock_paused_at is not None or dossier.status == 5,
        "finished": dossier.status in (3, 7, 8, 9, 10),
        "apology": apology,
    }
