"""What each paper says, from the dossier's data (see the package docstring)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

from flask import current_app, has_request_context, url_for
from sqlalchemy import select

from app.catalog.record import CatalogRecord, fee_for, money, record_of
from app.common.errors import AppError
from app.common.timefmt import fmt_date, fmt_datetime, to_local
from app.common.types import utcnow
from app.dossiers import services as dossiers
from app.dossiers.decisions import as_lines, field_lines
from app.dossiers.models import Dossier, DossierStep, status_label
from app.extensions import db
from app.papers.layout import A4_MM, Paper, font_dir
from app.papers.words import amount_in_words

TITLES = {
    "01": "GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ",
    "02": "PHIẾU YÊU CẦU BỔ SUNG, HOÀN THIỆN HỒ SƠ",
    "03": "PHIẾU TỪ CHỐI TIẾP NHẬN GIẢI QUYẾT HỒ SƠ",
    "04": "PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ",
    "05": "PHIẾU KIỂM SOÁT QUÁ TRÌNH GIẢI QUYẾT HỒ SƠ",
    "06": "SỔ THEO DÕI HỒ SƠ",
    "07": "THÔNG BÁO DỪNG XỬ LÝ HỒ SƠ",
}
#: file names (Vietnamese) per kind
FILE_NAMES = {
    "01": "Giấy tiếp nhận và hẹn trả kết quả",
    "02": "Phiếu yêu cầu bổ sung hồ sơ",
    "03": "Phiếu từ chối tiếp nhận hồ sơ",
    "04": "Phiếu xin lỗi và hẹn lại ngày trả",
    "05": "Phiếu kiểm soát quá trình giải quyết",
    "06": "Sổ theo dõi hồ sơ",
    "07": "Thông báo dừng xử lý hồ sơ",
}
#: page per kind when not A5 portrait: the log's table needs A4 landscape
PAGES: dict[str, dict[str, Any]] = {"06": {"page_format": A4_MM, "orientation": "L"}}
#: statuses for which paper 07 applies: 7 withdrawn by the applicant, 8 processing stopped
STOPPED_STATUSES = (7, 8)
#: audit actions as the log (paper 06) and the dossier page name them
ACTION_TEXT = {"submit": "Nộp hồ sơ", "claim": "Nhận xử lý", "release": "Trả lại hàng chờ",
               "complete_task": "Hoàn thành", "status": "Đổi trạng thái", "note": "Ghi chú nội bộ",
               "attach": "Đính kèm tệp", "assign": "Giao việc", "timer_fired": "Hẹn giờ đến hạn",
               "complete_on_behalf": "Xử lý thay (ủy quyền)", "apology": "Xin lỗi, hẹn lại ngày trả",
               "postal": "Bưu điện", "message": "Phản hồi của đối tác", "axis_status": "Liên thông",
               "payment": "Thanh toán lệ phí"}
KINDS = tuple(TITLES)
CHANNEL_TEXT = {"counter": "trực tiếp", "online": "trực tuyến", "postal": "qua dịch vụ bưu chính công ích"}
NO_DATA = "…"


class PaperError(AppError):
    status = 422
    code = "paper_invalid"


def title_of(kind: str) -> str:
    return TITLES[kind]


def file_name(kind: str, dossier: Dossier) -> str:
    return f"{kind} {FILE_NAMES[kind]} - {dossier.code}.pdf"


def render(kind: str, dossier: Dossier, **extra: Any) -> bytes:
    """The paper ``kind`` ("01".."07") of the dossier as PDF bytes."""
    builder = _BUILDERS.get(kind)
    if builder is None:
        raise PaperError(f"Không có mẫu giấy tờ '{kind}'.", f"No paper of kind '{kind}'.", status=404,
                         code="not_found")
    pdf = Paper(font_dir(current_app.config.get("PAPERS_FONT_DIR")), TITLES[kind], **PAGES.get(kind, {}))
    try:
        builder(pdf, dossier, extra)
        return bytes(pdf.output())
    finally:
        pdf.close_fonts()


# --------------------------------------------------------------------------- shared pieces


def tracking_url(dossier: Dossier, secret: str | None = None) -> str:
    """PUBLIC_BASE_URL + the tracking page; with the secret only when it is given (it is never stored)."""
    values: dict[str, Any] = {"code": dossier.code}
    if secret:
        values["mat_ma"] = secret
    if has_request_context():
        path = url_for("tracking.show", **values)
    else:
        path = current_app.url_map.bind("localhost").build("tracking.show", values)
    return current_app.config.get("PUBLIC_BASE_URL", "").rstrip("/") + path


def long_date(value: date | datetime | None = None) -> str:
    value = to_local(value or utcnow()) if isinstance(value, datetime) or value is None else value
    return f"ngày {value.day:02d} tháng {value.month:02d} năm {value.year}"


def _record(dossier: Dossier) -> CatalogRecord | None:
    try:
        return record_of(dossier.procedure)
    except Exception:  # noqa: BLE001 - a broken catalogue record must not stop the desk from printing
        return None


def _processing_time(record: CatalogRecord | None, channel: str) -> str:
    if record is None:
        return NO_DATA
    time = record.processing_time_by_channel.get(channel) or record.processing_time
    return time.describe()


def _start(pdf: Paper, dossier: Dossier, kind: str, subtitle: str = "") -> None:
    pdf.header_block("", dossier.unit.name, f"Số: {dossier.code}")
    pdf.heading(TITLES[kind], subtitle)


def _applicant(pdf: Paper, dossier: Dossier, *, full: bool = True) -> None:
    pdf.field("Ông/Bà", dossier.applicant_name)
    if full:
        pdf.field("Số định danh cá nhân/CCCD", dossier.applicant_id_number or "")
        pdf.field("Địa chỉ", dossier.applicant_address or "")
        pdf.field("Số điện thoại", dossier.applicant_phone or "")
        pdf.field("Thư điện tử", dossier.applicant_email or "")


def _received(dossier: Dossier) -> datetime:
    return dossier.received_at or dossier.submitted_at


def _reception_official(dossier: Dossier) -> str:
    for step in dossiers.steps(dossier):
        if step.role_code == "reception" and step.actor_id:
            return step.actor_label
    return ""


def _decision_value(dossier: Dossier, suffix: str) -> list[str] | None:
    """What the latest completed task (any role: the desk, or a specialist later) entered in a field named
    ``suffix`` or ``<prefix>_<suffix>`` (``supplement_items``, ``appraisal_supplement_items``…), as lines; None if
    none."""
    from app.inbox.models import DONE, Task

    rows = db.session.scalars(
        select(Task).where(Task.dossier_id == dossier.id, Task.state == DONE, Task.data.is_not(None))
        .order_by(Task.completed_at.desc(), Task.id.desc()))
    for task in rows:
        lines = field_lines(task.data, suffix)
        if lines:
            return lines
    return None


def _components(dossier: Dossier, record: CatalogRecord | None) -> list[list[str]]:
    if record is not None and record.components:
        return [[str(i), c.name, str(c.originals), str(c.copies)] for i, c in enumerate(record.components, 1)]
    # no catalogue list: the files the applicant sent, as electronic copies
    return [[str(i), a.filename, "0", "1 (điện tử)"] for i, a in enumerate(dossiers.attachments(dossier), 1)]


# --------------------------------------------------------------------------- 01 receipt and appointment


def _paper_01(pdf: Paper, dossier: Dossier, extra: dict[str, Any]) -> None:
    record = _record(dossier)
    _start(pdf, dossier, "01")
    unit = dossier.unit
    pdf.para(f"{unit.name} tiếp nhận hồ sơ của:")
    _applicant(pdf, dossier)
    pdf.field("Nội dung yêu cầu giải quyết", f"{dossier.procedure.name} (mã thủ tục {dossier.procedure.code})")
    pdf.field("Mã hồ sơ", dossier.code)
    pdf.field("Hình thức nộp", CHANNEL_TEXT.get(dossier.channel, dossier.channel))
    pdf.para("1. Thành phần hồ sơ nộp gồm:")
    rows = _components(dossier, record)
    if rows:
        pdf.grid(["STT", "Tên giấy tờ", "Bản chính", "Bản sao"], rows, (9, 58, 18, 18), size=9,
                 aligns=("CENTER", "LEFT", "CENTER", "CENTER"))
    else:
        pdf.para("(Không có giấy tờ kèm theo)", style="I")
    pdf.para("2. Số lượng hồ sơ: 01 (bộ)")
    pdf.para(f"3. Thời gian giải quyết hồ sơ theo quy định: {_processing_time(record, dossier.channel)}")
    fee = fee_for(record, dossier.data or {}) if record is not None else 0
    pdf.para(f"4. Phí, lệ phí: {money(fee)} (Bằng chữ: {amount_in_words(fee)})")
    pdf.para(f"5. Thời gian nhận hồ sơ: {fmt_datetime(_received(dossier)) or NO_DATA}")
    pdf.para(f"6. Thời gian trả kết quả giải quyết hồ sơ: {fmt_datetime(dossier.due_at) or NO_DATA}",
             style="B")
    where = unit.name + (f", {unit.address}" if unit.address else "")
    pdf.para(f"7. Nơi nhận kết quả: {where}")
    pdf.ln(1)
    url = tracking_url(dossier, extra.get("secret"))
    caption = (f"Quét mã QR để tra cứu tình trạng hồ sơ {dossier.code}"
               + ("." if extra.get("secret") else " (nhập mã tra cứu được cấp khi nộp hồ sơ).")
               + f" Địa chỉ: {url}")
    pdf.qr(url, caption)
    official = extra.get("official") or _reception_official(dossier)
    pdf.signatures([("NGƯỜI NỘP HỒ SƠ", "(Ký và ghi rõ họ tên)", dossier.applicant_name),
                    ("NGƯỜI TIẾP NHẬN HỒ SƠ", "(Ký và ghi rõ họ tên)", official)])


# --------------------------------------------------------------------------- 02 supplement request


def supplement_items(dossier: Dossier, given: Any = None) -> list[str]:
    """The items given, else those of the latest decision asking for them (desk or specialist), else the
    dossier data's ``supplement_items``."""
    items = as_lines(given)
    if not items:
        items = as_lines(_decision_value(dossier, "supplement_items"))
    if not items:
        items = as_lines((dossier.data or {}).get("supplement_items"))
    return items


def _paper_02(pdf: Paper, dossier: Dossier, extra: dict[str, Any]) -> None:
    items = supplement_items(dossier, extra.get("items"))
    if not items:
        raise PaperError("Hồ sơ chưa có nội dung cần bổ sung (supplement_items).",
                         "The dossier has no supplement items.")
    _start(pdf, dossier, "02")
    unit = dossier.unit
    pdf.para(f"Ngày {fmt_date(_received(dossier))}, {unit.name} tiếp nhận hồ sơ của:")
    _applicant(pdf, dossier, full=False)
    pdf.field("Nội dung yêu cầu giải quyết", dossier.procedure.name)
    pdf.field("Mã hồ sơ", dossier.code)
    pdf.para("Sau khi xem xét, đề nghị Ông/Bà bổ sung, hoàn thiện hồ sơ gồm những nội dung sau:", indent=True)
    pdf.numbered(items)
    reason = extra.get("reason") or (dossier.data or {}).get("supplement_reason")
    if reason:
        pdf.para(f"Lý do: {reason}")
    contact = ", ".join(x for x in (unit.phone and f"số điện thoại {unit.phone}",
                                    unit.email and f"thư điện tử {unit.email}") if x)
    pdf.para("Trong quá trình hoàn thiện hồ sơ nếu có vướng mắc, Ông/Bà liên hệ với "
             f"{unit.name}{' (' + contact + ')' if contact else ''} để được hướng dẫn.", indent=True)
    pdf.para(f"Ngày lập phiếu: {fmt_datetime(extra.get('at') or utcnow())}", style="I", size=9.5)
    pdf.signatures([("NGƯỜI HƯỚNG DẪN", "(Ký và ghi rõ họ tên)", extra.get("official") or "")])


# --------------------------------------------------------------------------- 03 refusal


def refusal_reasons(dossier: Dossier, given: Any = None) -> list[str]:
    data = dossier.data or {}
    for value in (given, _decision_value(dossier, "refusal_reason"), data.get("refusal_reason"),
                  data.get("refusal_reasons"), data.get("reception_note")):
        lines = as_lines(value)
        if lines:
            return lines
    return []


def _paper_03(pdf: Paper, dossier: Dossier, extra: dict[str, Any]) -> None:
    reasons = refusal_reasons(dossier, extra.get("reasons"))
    if not reasons:
        raise PaperError("Hồ sơ chưa có lý do từ chối (refusal_reason).", "The dossier has no refusal reason.")
    _start(pdf, dossier, "03")
    unit = dossier.unit
    pdf.para(f"{unit.name} tiếp nhận hồ sơ của:")
    _applicant(pdf, dossier, full=False)
    pdf.field("Địa chỉ", dossier.applicant_address or "")
    pdf.field("Nội dung yêu cầu giải quyết", dossier.procedure.name)
    pdf.field("Mã hồ sơ", dossier.code)
    pdf.para("Qua xem xét, cơ quan, đơn vị không tiếp nhận, giải quyết hồ sơ này với lý do cụ thể như sau:",
             indent=True)
    pdf.numbered(reasons)
    pdf.para("Xin thông báo để Ông/Bà được biết và thực hiện./.", indent=True)
    pdf.para(f"Ngày lập phiếu: {fmt_datetime(extra.get('at') or utcnow())}", style="I", size=9.5)
    pdf.signatures([("NGƯỜI TIẾP NHẬN HỒ SƠ", "(Ký và ghi rõ họ tên)",
                     extra.get("official") or _reception_official(dossier))])


# --------------------------------------------------------------------------- 04 apology and new date


def _paper_04(pdf: Paper, dossier: Dossier, extra: dict[str, Any]) -> None:
    new_date, reason = extra.get("new_date"), (extra.get("reason") or "").strip()
    old_due, at = dossier.due_at, extra.get("at")
    if not isinstance(new_date, date) or not reason:
        from app.dossiers.late import latest_apology

        apology = extra.get("apology") or latest_apology(dossier)
        if apology is None:
            raise PaperError("Hồ sơ chưa có lần xin lỗi và hẹn lại ngày trả nào: dùng mục “Xin lỗi và hẹn lại ngày "
                             "trả” trên trang hồ sơ trước khi in phiếu.",
                             "No apology has been issued for this dossier yet.", code="no_apology")
        new_date, reason, old_due, at = apology.new_due, apology.reason, apology.old_due, at or apology.issued_at
    new_text = fmt_datetime(new_date) if isinstance(new_date, datetime) else fmt_date(new_date)
    _start(pdf, dossier, "04")
    unit = dossier.unit
    pdf.para(f"Ngày {fmt_date(_received(dossier))}, {unit.name} tiếp nhận giải quyết hồ sơ của:")
    _applicant(pdf, dossier, full=False)
    pdf.field("Nội dung yêu cầu giải quyết", dossier.procedure.name)
    pdf.field("Mã hồ sơ", dossier.code)
    pdf.field("Thời gian hẹn trả kết quả giải quyết hồ sơ", fmt_datetime(old_due) or NO_DATA)
    pdf.para(f"Tuy nhiên đến nay, {unit.name} chưa trả kết quả giải quyết hồ sơ cho Ông/Bà đúng hẹn ghi trên "
             "Giấy tiếp nhận hồ sơ và hẹn trả kết quả.", indent=True)
    pdf.field("Lý do", reason)
    pdf.para(f"Sự chậm trễ này đã gây phiền hà cho Ông/Bà, {unit.name} xin lỗi Ông/Bà và sẽ trả kết quả giải "
             "quyết hồ sơ cho Ông/Bà vào:", indent=True)
    pdf.field("Ngày hẹn trả kết quả mới", new_text)
    pdf.para("Chúng tôi xin trân trọng cảm ơn sự hợp tác của Ông/Bà./.", indent=True)
    pdf.place_date(long_date(at).capitalize())
    pdf.signatures([("THỦ TRƯỞNG CƠ QUAN, ĐƠN VỊ", "(Ký, ghi rõ họ tên và đóng dấu)", extra.get("official") or "")])


# --------------------------------------------------------------------------- 05 process-control sheet


def timeliness(finished: datetime | None, due: datetime | None) -> str:
    """'Trước hạn' (a day or more early), 'Đúng hạn' (by the due time, on its day) or 'Quá hạn'."""
    if finished is None or due is None:
        return "—"
    if finished > due:
        return "Quá hạn"
    local_finished, local_due = to_local(finished), to_local(due)
    assert local_finished is not None and local_due is not None
    return "Đúng hạn" if local_finished.date() == local_due.date() else "Trước hạn"


def handovers(dossier: Dossier, steps: Sequence[DossierStep] | None = None) -> list[dict[str, Any]]:
    """Each hand-over: the previous holder gives the dossier to the one who did the step."""
    rows: list[dict[str, Any]] = []
    holder = "Người nộp hồ sơ"
    for step in steps if steps is not None else dossiers.steps(dossier):
        if step.role_code == "applicant" and not step.actor_id:
            holder = step.actor_label or holder
            continue
        if not step.actor_id and step.actor_label == "Hệ thống":
            continue  # milestones the engine reached: no one handed anything over
        unit = step.unit.name if step.unit is not None else dossier.unit.name
        receiver = f"{step.actor_label} ({unit})" if step.actor_label else unit
        rows.append({"name": step.name, "from": holder, "to": receiver,
                     "at": step.started_at or step.finished_at, "done": step.finished_at, "due": step.due_at,
                     "result": timeliness(step.finished_at, step.due_at)})
        holder = receiver
    return rows


def _paper_05(pdf: Paper, dossier: Dossier, extra: dict[str, Any]) -> None:
    _start(pdf, dossier, "05", f"(Kèm theo Giấy tiếp nhận hồ sơ và hẹn trả kết quả mã {dossier.code})")
    pdf.field("Người nộp hồ sơ", dossier.applicant_name)
    pdf.field("Nội dung yêu cầu giải quyết", dossier.procedure.name)
    pdf.field("Cơ quan giải quyết", dossier.unit.name)
    pdf.field("Thời gian nhận hồ sơ", fmt_datetime(_received(dossier)) or NO_DATA)
    pdf.field("Thời gian hẹn trả kết quả", fmt_datetime(dossier.due_at) or NO_DATA)
    pdf.ln(1)
    rows = [[str(i), f"{r['name']}\nGiao: {r['from']}\nNhận: {r['to']}",
             f"{fmt_datetime(r['at'])}\nXong: {fmt_datetime(r['done'])}", fmt_datetime(r["due"]) or "—",
             r["result"]] for i, r in enumerate(handovers(dossier), 1)]
    if rows:
        pdf.grid(["TT", "Bước, giao và nhận hồ sơ", "Thời gian", "Hạn xử lý", "Kết quả"], rows,
                 (8, 41, 21, 17, 16), size=8, aligns=("CENTER", "LEFT", "CENTER", "CENTER", "CENTER"))
    else:
        pdf.para("(Chưa có bước giao, nhận hồ sơ nào)", style="I")
    late = dossier.due_at is not None and (dossier.finished_at or utcnow()) > dossier.due_at
    if dossier.due_at is not None:
        state = "đã hoàn thành" if dossier.finished_at else "đang giải quyết"
        pdf.para(f"Tình trạng: hồ sơ {state}, {'quá hạn' if late else 'trong hạn'}.", style="I", size=9.5)
    pdf.place_date(long_date(extra.get("at")).capitalize())


# --------------------------------------------------------------------------- 06 dossier log


def _action_text(row: Any) -> str:
    text = ACTION_TEXT.get(row.action, row.action)
    if row.action == "complete_task" and (row.detail or {}).get("name"):
        text += f": {row.detail['name']}"
    elif row.action == "assign" and (row.detail or {}).get("to"):
        text += f" cho {row.detail['to']}"
    if row.note:
        text += f": {row.note}"
    if row.action == "apology" and (row.detail or {}).get("new_due"):
        new_due = datetime.fromisoformat(row.detail["new_due"])
        text += f" (hẹn trả mới {fmt_datetime(new_due)})"
    return text


def _actor_text(row: Any) -> str:
    if row.actor is not None:
        return row.actor.display_name
    return "Người nộp hồ sơ" if row.actor_label == "applicant" else "Hệ thống"


def _status_text(row: Any) -> str:
    if row.to_status is None:
        return ""
    if row.from_status is None or row.from_status == row.to_status:
        return status_label(row.to_status)
    return f"{status_label(row.from_status)} → {status_label(row.to_status)}"


def _paper_06(pdf: Paper, dossier: Dossier, extra: dict[str, Any]) -> None:
    """The log as Form 06 lays it out (one row: this dossier), then every entry of its audit trail."""
    _start(pdf, dossier, "06")
    unit = dossier.unit
    contact = ", ".join(x for x in (dossier.applicant_address, dossier.applicant_phone) if x)
    returned = dossier.finished_at if dossier.status == 10 else None
    late = dossier.due_at is not None and (dossier.finished_at or utcnow()) > dossier.due_at
    note = f"{dossier.status_label()}; {'quá hạn' if late else 'trong hạn'}" if dossier.due_at else \
        dossier.status_label()
    pdf.grid(["TT", "Mã hồ sơ", "Tên thủ tục hành chính", "Số lượng hồ sơ (bộ)", "Tên cá nhân, tổ chức",
              "Địa chỉ, số điện thoại", "Cơ quan chủ trì giải quyết", "Nhận hồ sơ (ngày, giờ)",
              "Hẹn trả kết quả (ngày, giờ)", "Trả kết quả (ngày, giờ)", "Ghi chú"],
             [["1", dossier.code, dossier.procedure.name, "01", dossier.applicant_name, contact or "",
               unit.name, fmt_datetime(_received(dossier)), fmt_datetime(dossier.due_at) or "—",
               fmt_datetime(returned) or "—", note]],
             (8, 30, 32, 14, 26, 30, 26, 20, 20, 20, 26), size=8,
             aligns=("CENTER", "LEFT", "LEFT", "CENTER", "LEFT", "LEFT", "LEFT", "CENTER", "CENTER", "CENTER",
                     "LEFT"))
    pdf.para("Nhật ký xử lý hồ sơ", style="B")
    rows = [[str(i), fmt_datetime(h.at), _actor_text(h), _action_text(h), _status_text(h)]
            for i, h in enumerate(dossiers.history(dossier), 1)]
    if rows:
        pdf.grid(["TT", "Thời gian", "Người thực hiện", "Nội dung", "Trạng thái hồ sơ"], rows,
                 (8, 30, 50, 110, 54), size=8, aligns=("CENTER", "CENTER", "LEFT", "LEFT", "LEFT"))
    else:
        pdf.para("(Chưa có thao tác nào)", style="I")
    pdf.place_date(long_date(extra.get("at")).capitalize())


# --------------------------------------------------------------------------- 07 processing stopped


def stop_reasons(dossier: Dossier, given: Any = None) -> list[str]:
    """Why processing stopped: given, else the latest decision's ``stop_reason`` / ``withdrawal_reason``
    (any prefix), else the dossier data's; for a withdrawal without one, the applicant's request."""
    data = dossier.data or {}
    for value in (given, _decision_value(dossier, "stop_reason"), _decision_value(dossier, "withdrawal_reason"),
                  data.get("stop_reason"), data.get("withdrawal_reason")):
        lines = as_lines(value)
        if lines:
            return lines
    if dossier.status == 7:
        return ["Ông/Bà đề nghị rút hồ sơ."]
    return []


def _paper_07(pdf: Paper, dossier: Dossier, extra: dict[str, Any]) -> None:
    if dossier.status not in STOPPED_STATUSES:
        raise PaperError("Hồ sơ không ở trạng thái dừng xử lý (8) hoặc rút hồ sơ (7).",
                         "The dossier is neither stopped (8) nor withdrawn (7).", code="not_stopped")
    reasons = stop_reasons(dossier, extra.get("reasons"))
    if not reasons:
        raise PaperError("Hồ sơ chưa có lý do dừng xử lý (stop_reason).", "The dossier has no stop reason.")
    withdrawn = dossier.status == 7
    _start(pdf, dossier, "07", "(Hồ sơ được rút theo đề nghị của người nộp)" if withdrawn else "")
    unit = dossier.unit
    pdf.para(f"Ngày {fmt_date(_received(dossier))}, {unit.name} tiếp nhận hồ sơ của:")
    _applicant(pdf, dossier, full=False)
    pdf.field("Địa chỉ", dossier.applicant_address or "")
    pdf.field("Nội dung yêu cầu giải quyết", dossier.procedure.name)
    pdf.field("Mã hồ sơ", dossier.code)
    stopped_at = _stopped_at(dossier)
    pdf.para(f"{unit.name} thông báo dừng xử lý hồ sơ nêu trên kể từ {fmt_datetime(stopped_at) or NO_DATA}, "
             "với lý do:", indent=True)
    pdf.numbered(reasons)
    pdf.para("Hồ sơ và giấy tờ đã nộp được trả lại cho Ông/Bà tại nơi tiếp nhận (hoặc theo hình thức đã đăng "
             "ký). Ông/Bà có thể nộp lại hồ sơ khi đáp ứng đủ điều kiện theo quy định./.", indent=True)
    pdf.place_date(long_date(extra.get("at")).capitalize())
    head = ("THỦ TRƯỞNG CƠ QUAN, ĐƠN VỊ", "(Ký, ghi rõ họ tên và đóng dấu)", extra.get("official") or "")
    pdf.signatures([("NGƯỜI NỘP HỒ SƠ", "(Ký và ghi rõ họ tên)", dossier.applicant_name), head] if withdrawn
                   else [head])


def _stopped_at(dossier: Dossier) -> datetime | None:
    for row in reversed(dossiers.history(dossier)):
        if row.action == "status" and row.to_status == dossier.status:
            return row.at
    return dossier.finished_at


_BUILDERS: dict[str, Callable[[Paper, Dossier, dict[str, Any]], None]] = {
    "01": _paper_01, "02": _paper_02, "03": _paper_03, "04": _paper_04, "05": _paper_05, "06": _paper_06,
    "07": _paper_07,
}

__all__ = ["KINDS", "PaperError", "file_name", "handovers", "long_date", "refusal_reasons", "render",
           "stop_reasons", "supplement_items", "timeliness", "title_of", "tracking_url"]
