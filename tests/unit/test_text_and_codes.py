from __future__ import annotations

from app.common.text import fold
from app.web.helpers import money


def test_fold_ignores_case_diacritics_and_spacing():
    assert fold("  Bộ phận   Một cửa ") == "bo phan mot cua"
    assert fold("ĐĂNG KÝ") == "dang ky"
    assert fold("Nguyễn Văn An") == fold("nguyen van an")
    assert fold(None) == ""


def test_money_is_written_the_vietnamese_way():
    assert money(200000) == "200.000 đ"
    assert money(0) == "0 đ"
