"""The receipt (biên lai thu phí, lệ phí) of a paid attempt, as PDF: A5, Liberation Serif, amount in figures and
in words, dossier code, payer, date and the gateway's transaction id."""

from __future__ import annotations

from flask import current_app

from app.catalog.record import money
from app.common.timefmt import fmt_datetime, to_local
from app.papers.layout import Paper, font_dir
from app.papers.words import amount_in_words
from app.payments.models import PAID, Payment

TITLE = "BIÊN LAI THU PHÍ, LỆ PHÍ"


def file_name(payment: Payment) -> str:
    return f"Biên lai thu lệ phí - {payment.dossier.code}.pdf"


def render(payment: Payment) -> bytes:
    """PDF bytes of the receipt; only a paid attempt has one."""
    if payment.state != PAID:
        raise ValueError("only a paid attempt has a receipt")
    dossier = payment.dossier
    paid_at = payment.paid_at or payment.updated_at
    local = to_local(paid_at)
    assert local is not None
    pdf = Paper(font_dir(current_app.config.get("PAPERS_FONT_DIR")), TITLE)
    try:
        pdf.header_block("", dossier.unit.name, f"Số: {payment.reference}")
        pdf.heading(TITLE, "(Biên lai điện tử - thanh toán trực tuyến)")
        pdf.field("Họ tên người nộp tiền", dossier.applicant_name)
        if dossier.applicant_address:
            pdf.field("Địa chỉ", dossier.applicant_address)
        pdf.field("Mã hồ sơ", dossier.code)
        pdf.field("Thủ tục hành chính", dossier.procedure.name)
        pdf.field("Nội dung thu", f"Lệ phí giải quyết thủ tục hành chính, hồ sơ {dossier.code}")
        pdf.field("Số tiền", money(payment.amount))
        pdf.field("Bằng chữ", amount_in_words(payment.amount))
        pdf.field("Hình thức thanh toán", "Trực tuyến qua cổng thanh toán")
        pdf.field("Mã giao dịch", payment.transaction_id or "")
        pdf.field("Mã thanh toán", payment.reference)
        pdf.field("Thời điểm thanh toán", fmt_datetime(paid_at))
        pdf.ln(3)
        pdf.place_date(f"Ngày {local.day:02d} tháng {local.month:02d} năm {local.year}")
        pdf.signatures([("Người nộp tiền", "(Đã thanh toán trực tuyến)", dossier.applicant_name),
                        ("Đơn vị thu", "(Biên lai điện tử)", dossier.unit.name)])
        return bytes(pdf.output())
    finally:
        pdf.close_fonts()
