"""The catalogue search index on its own: folding, prefixes, typo tolerance, codes, filters, ranking."""

from __future__ import annotations

import pytest

from app.catalog.search import CatalogIndex, Entry, query_words, tokens

PROVINCE, WARD = "000.00.00.H41", "000.31.33.H41"


def demo_index() -> CatalogIndex:
    def e(code: str, name: str, field: str, unit: str, online: bool = True) -> Entry:
        names = {PROVINCE: "Trung tâm Phục vụ hành chính công tỉnh Nghệ An", WARD: "Ủy ban nhân dân phường Trường Vinh"}
        return Entry(code=code, name=name, field=field, unit_code=unit, unit_name=names[unit], online=online)

    return CatalogIndex([
        e("1.009994", "Cấp giấy phép xây dựng mới đối với nhà ở riêng lẻ", "Hoạt động xây dựng", PROVINCE),
        e("1.009995", "Cấp giấy phép sửa chữa, cải tạo công trình", "Hoạt động xây dựng", PROVINCE),
        e("1.001612", "Đăng ký thành lập hộ kinh doanh", "Thành lập và hoạt động của hộ kinh doanh", PROVINCE),
        e("1.001193", "Đăng ký khai sinh", "Hộ tịch", WARD),
        e("1.001192", "Đăng ký kết hôn", "Hộ tịch", WARD),
        e("2.000815", "Chứng thực bản sao từ bản chính giấy tờ", "Chứng thực", WARD, online=False),
        e("9.000001", "Cấp thẻ thư viện", "", WARD),
    ])


@pytest.fixture(scope="module")
def index() -> CatalogIndex:
    return demo_index()


def codes(entries) -> list[str]:
    return [e.code for e in entries]


def test_tokens_fold_keep_codes_and_read_y_as_i():
    assert tokens("Đăng KÝ khai sinh — mã 1.001193") == ["dang", "ki", "khai", "sinh", "ma", "1.001193"]
    assert tokens("Quy định kỹ thuật") == ["quy", "dinh", "ki", "thuat"]  # "uy" stays, "kỹ" → "ki"
    assert query_words("Thủ tục đăng ký khai sinh") == ["dang", "ki", "khai", "sinh"]
    assert query_words("thủ tục") == ["thu", "tuc"]  # nothing else asked: kept
    assert query_words("a " * 50) == ["a"]


@pytest.mark.parametrize("query", ["giay phep xay dung", "Giấy phép xây dựng", "giay phep xay dugn", "xay dng",
                                   "giay phep xay dung moi", "nha o rieng le", "giây phep xây dụng"])
def test_diacritics_and_typos(index, query):
    assert codes(index.search(query))[0] == "1.009994"


def test_prefixes_and_ranking(index):
    assert codes(index.search("dang k")) == ["1.001192", "1.001193", "1.001612"]  # shorter names first on a tie
    assert codes(index.search("ket hon")) == ["1.001192"]
    assert codes(index.search("dang ky ket hon"))[0] == "1.001192"
    # the name outranks the field: "xây dựng" is in both permits' fields, in one's name
    assert codes(index.search("xay dung"))[:2] == ["1.009994", "1.009995"]


def test_short_words_are_not_fuzzy_against_short_words(index):
    assert codes(index.search("tay")) == []  # not "xay" nor "nay"
    assert codes(index.search("ho tich")) == ["1.001192", "1.001193"]  # the field; not "tinh" of the agency


def test_codes_match_exactly_or_by_part_never_by_typo(index):
    assert codes(index.search("1.001193")) == ["1.001193"]
    assert codes(index.search("1001193")) == ["1.001193"]
    assert codes(index.search("001193")) == ["1.001193"]
    assert codes(index.search("1.00119")) == ["1.001192", "1.001193"]
    assert codes(index.search("1.001199")) == []


def test_filters_by_field_and_agency(index):
    assert codes(index.search(field="Hộ tịch")) == ["1.001192", "1.001193"]  # catalogue order: by name
    assert codes(index.search(field="ho tich")) == ["1.001192", "1.001193"]
    assert codes(index.search("cap", unit=WARD)) == ["9.000001"]
    assert codes(index.search("cap", unit=PROVINCE.lower())) == ["1.009995", "1.009994"]
    assert codes(index.search("khai sinh", field="Hoạt động xây dựng")) == []
    assert codes(index.search(field="Không có")) == [] and codes(index.search(unit="X")) == []


def test_all_words_or_else_approximate(index):
    entries, approximate = index.run("khai sinh")
    assert codes(entries) == ["1.001193"] and not approximate
    entries, approximate = index.run("khai sinh o ha noi")
    assert approximate and codes(entries)[0] == "1.001193"
    assert index.run("zzqx wvvk") == ([], False)


def test_facets_and_catalogue_order(index):
    assert [(f.label, f.count) for f in index.fields] == [
        ("Chứng thực", 1), ("Hộ tịch", 2), ("Hoạt động xây dựng", 2), ("Thành lập và hoạt động của hộ kinh doanh", 1)]
    assert [(u.value, u.count) for u in index.units] == [(PROVINCE, 3), (WARD, 4)]
    assert codes(index.search())[-1] == "9.000001"  # without a field: last


@pytest.mark.parametrize("text", ["Cấp giấy phép xây dựng mới đối với nhà ở riêng lẻ", "ĐĂNG KÝ  KHAI SINH ",
                                  "Ủy ban nhân dân phường Trường Vinh", "Quỹ hỗ trợ; ỷ ỹ ỵ Ỷ — Đông Hưng", ""])
def test_fast_fold_is_fold(text):
    import unicodedata

    from app.catalog.search import fast_fold
    from app.common.text import fold

    assert fast_fold(text) == fold(text)
    assert fast_fold(unicodedata.normalize("NFD", text)) == fold(text)  # decomposed input too
