"""Pieces of the standard papers that need no database: amounts in words, timeliness, fonts, QR."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.dossiers.decisions import as_lines
from app.papers import documents, layout
from app.papers.words import amount_in_words, number_words


@pytest.mark.parametrize(("amount", "words"), [
    (0, "Không đồng"),
    (1_000, "Một nghìn đồng"),
    (15_000, "Mười lăm nghìn đồng"),
    (200_000, "Hai trăm nghìn đồng"),
    (1_250_500, "Một triệu hai trăm năm mươi nghìn năm trăm đồng"),
    (1_000_000_000, "Một tỷ đồng"),
    (2_000, "Hai nghìn đồng"),
    (105, "Một trăm lẻ năm đồng"),
    (1_005, "Một nghìn không trăm lẻ năm đồng"),
    (21_000, "Hai mươi mốt nghìn đồng"),
    (45_000, "Bốn mươi lăm nghìn đồng"),
    (110_000, "Một trăm mười nghìn đồng"),
    (1_050_000, "Một triệu không trăm năm mươi nghìn đồng"),
    (3_000_000_007, "Ba tỷ không trăm lẻ bảy đồng"),
    (1_500_000_000_000, "Một nghìn năm trăm tỷ đồng"),
])
def test_amount_in_words(amount, words):
    assert amount_in_words(amount) == words


def test_number_words_is_lower_case_and_handles_ten_and_teens():
    assert number_words(10) == "mười"
    assert number_words(15) == "mười lăm"
    assert number_words(11) == "mười một"
    assert number_words(-5) == "âm năm"


def test_timeliness_early_on_time_late():
    due = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)  # 17:00 in Vietnam
    assert documents.timeliness(datetime(2026, 11, 25, 3, 0, tzinfo=UTC), due) == "Trước hạn"
    assert documents.timeliness(datetime(2026, 11, 26, 2, 0, tzinfo=UTC), due) == "Đúng hạn"
    assert documents.timeliness(datetime(2026, 11, 26, 10, 1, tzinfo=UTC), due) == "Quá hạn"
    assert documents.timeliness(datetime(2026, 11, 26, 2, 0, tzinfo=UTC), None) == "—"


def test_items_read_from_text_lists_and_objects():
    assert as_lines("- Ảnh 3x4\n\n• Tờ khai") == ["Ảnh 3x4", "Tờ khai"]
    assert as_lines([{"name": "CCCD", "note": "bản sao"}, "Ảnh", {"label": "Tờ khai"}]) == [
        "CCCD: bản sao", "Ảnh", "Tờ khai"]
    assert as_lines(None) == [] and as_lines("") == []


def test_a_missing_font_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(layout, "FONT_DIRS", (str(tmp_path),))
    monkeypatch.delenv("PAPERS_FONT_DIR", raising=False)
    with pytest.raises(layout.FontMissing, match="fonts-liberation2"):
        layout.font_dir(str(tmp_path / "none"))


def test_the_font_is_found_where_debian_puts_it():
    assert (layout.font_dir() / "LiberationSerif-Regular.ttf").is_file()


def test_qr_is_a_png():
    assert layout.make_qr("http://127.0.0.1:5000/tra-cuu/000.00.00.H41-261124-0001").startswith(b"\x89PNG")


def test_every_kind_has_a_title_and_a_vietnamese_file_name():
    assert documents.KINDS == ("01", "02", "03", "04", "05", "06", "07")
    assert documents.title_of("01") == "GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ"
    assert all(documents.FILE_NAMES[k] for k in documents.KINDS)
