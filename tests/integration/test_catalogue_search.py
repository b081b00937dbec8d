"""The public catalogue: search ignoring diacritics and typos, filters by field and agency, the procedure page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from app.catalog import search as catalog_search
from app.catalog.models import Procedure
from app.catalog.record import apply_record, read_record
from app.extensions import db

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
COUNTER_ONLY = "9.777301"
PERMIT = "1.009994"  # Cấp giấy phép xây dựng mới đối với nhà ở riêng lẻ (tỉnh)
BIRTH = "1.001193"  # Đăng ký khai sinh (phường Trường Vinh)
PROVINCE = "000.00.00.H41"
WARD = "000.31.33.H41"


@pytest.fixture(scope="module")
def counter_only(app, tmp_path_factory) -> str:
    """A procedure of our own that is offered at the counter only (no online submission)."""
    path = tmp_path_factory.mktemp("catalogue") / "le_hoi.bpmn"
    path.write_text((FIXTURES / "cap_the_thu_vien.bpmn").read_text(encoding="utf-8")
                    .replace("9.999001", COUNTER_ONLY), encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["workflows", "deploy", str(path), "--forms",
                                                str(FIXTURES / "forms"), "--unit", WARD])
    assert result.exit_code == 0, result.output
    with app.app_context():
        proc = db.session.scalar(select(Procedure).where(Procedure.code == COUNTER_ONLY))
        rec, errors = read_record({
            "code": COUNTER_ONLY, "name": "Đăng ký tổ chức lễ hội truyền thống (thử nghiệm)",
            "field": "Văn hóa cơ sở", "unit": WARD, "service_level": "information", "channels": ["counter"],
            "postal_return": False, "processing_time": {"value": 20, "unit": "working_days"},
            "fee": {"kind": "fixed", "amount": 0},
            "components": [{"name": "Văn bản đăng ký tổ chức lễ hội", "originals": 1, "copies": 0, "required": True}],
            "legal_basis": ["Nghị định số 110/2018/NĐ-CP quy định về quản lý và tổ chức lễ hội"],
        })
        assert not errors, errors
        apply_record(proc, rec)
        db.session.commit()  # commits invalidate the search index of this process
    return COUNTER_ONLY


def codes(html: str) -> list[str]:
    """Procedure codes in the result list, in order."""
    return re.findall(r'href="/thu-tuc/([0-9A-Za-z._-]+)"', html.split('id="results-heading"', 1)[1])


def found(client, **params) -> list[str]:
    r = client.get("/", query_string=params)
    assert r.status_code == 200
    return codes(r.get_data(as_text=True))


# --------------------------------------------------------------------------- the catalogue page


def test_catalogue_page_browses_by_field_and_agency(client, counter_only):
    r = client.get("/")
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert '<h1>Thủ tục hành chính</h1>' in html
    assert 'role="search"' in html and '<label class="sf-label" for="q">Tìm thủ tục</label>' in html
    assert '<label class="sf-label" for="linh_vuc">Lĩnh vực</label>' in html
    assert '<label class="sf-label" for="co_quan">Cơ quan giải quyết</label>' in html
    assert "Theo lĩnh vực" in html and "Theo cơ quan giải quyết" in html
    assert 'href="/?linh_vuc=Ho%E1%BA%A1t+%C4%91%E1%BB%99ng+x%C3%A2y+d%E1%BB%B1ng"' in html  # Hoạt động xây dựng
    assert f'href="/?co_quan={WARD}"' in html
    assert "Ủy ban nhân dân phường Trường Vinh" in html and "Đăng ký khai sinh" in html
    assert re.search(r"Có <strong>\d+</strong> thủ tục đang được công bố", html)
    listed = codes(html)
    assert {PERMIT, BIRTH, COUNTER_ONLY} <= set(listed)
    assert len(html.encode()) < 200_000


@pytest.mark.parametrize("query", ["giay phep xay dung", "Giấy phép xây dựng", "GIAY PHEP XAY DUNG",
                                   "giay phep xay dugn", "xay dng", "giay phep xay dung nha o rieng le",
                                   "thu tuc cap giay phep xay dung"])
def test_search_ignores_diacritics_and_tolerates_typos(client, query):
    result = found(client, q=query)
    assert result and result[0] == PERMIT, (query, result)


def test_search_by_code_and_by_field(client):
    assert found(client, q=PERMIT)[0] == PERMIT
    assert found(client, q="1009994")[0] == PERMIT
    assert found(client, q="ho tich")[0] == BIRTH  # the field of birth registration
    assert found(client, q="dang ki khai sinh")[0] == BIRTH  # "kí" and "ký" are one syllable


def test_field_and_agency_filters(client, counter_only):
    in_field = found(client, linh_vuc="Hoạt động xây dựng")
    assert in_field == [PERMIT]
    assert found(client, linh_vuc="hoat dong xay dung") == [PERMIT]  # without diacritics too
    ward = found(client, co_quan=WARD)
    assert BIRTH in ward and COUNTER_ONLY in ward and PERMIT not in ward
    province = found(client, co_quan=PROVINCE)
    assert PERMIT in province and BIRTH not in province
    # words and a filter together; the filter is shown as chosen
    r = client.get("/", query_string={"q": "dang ky", "co_quan": WARD})
    html = r.get_data(as_text=True)
    assert codes(html)[0] == BIRTH and "1.001612" not in codes(html)  # hộ kinh doanh is the province's
    assert f'<option value="{WARD}" selected>' in html
    assert "Tìm thấy <strong>" in html and "cơ quan Ủy ban nhân dân phường Trường Vinh" in html


def test_no_result_is_a_clear_empty_state(client):
    r = client.get("/", query_string={"q": "zzqxw vvkjh"})
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and codes(html) == []
    assert 'id="no-results"' in html and "Không tìm thấy thủ tục nào phù hợp." in html
    assert "Tìm thấy <strong>0</strong> thủ tục cho “zzqxw vvkjh”" in html
    assert "xem tất cả thủ tục" in html
    # an unknown field finds nothing rather than everything; the words are offered without the filters
    html = client.get("/", query_string={"q": "khai sinh", "linh_vuc": "Không có"}).get_data(as_text=True)
    assert codes(html) == [] and 'id="no-results"' in html
    assert "/?q=khai+sinh" in html


def test_search_escapes_the_query_and_bad_pages_are_harmless(client):
    html = client.get("/", query_string={"q": '<script>alert(1)</script>', "trang": "x"}).get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert client.get("/", query_string={"trang": "99999999999"}).status_code == 200


def test_the_index_follows_catalogue_changes(app, client, counter_only):
    assert found(client, q="le hoi truyen thong") == [COUNTER_ONLY]
    with app.app_context():
        proc = db.session.scalar(select(Procedure).where(Procedure.code == COUNTER_ONLY))
        proc.name = "Đăng ký tổ chức lễ hội dân gian (thử nghiệm)"
        db.session.commit()
    try:
        assert found(client, q="le hoi dan gian") == [COUNTER_ONLY]
    finally:
        with app.app_context():
            proc = db.session.scalar(select(Procedure).where(Procedure.code == COUNTER_ONLY))
            proc.name = "Đăng ký tổ chức lễ hội truyền thống (thử nghiệm)"
            db.session.commit()
    with app.app_context():
        catalog_search.invalidate()
        assert [e.code for e in catalog_search.catalog_index().search("le hoi")] == [COUNTER_ONLY]


# --------------------------------------------------------------------------- the procedure page


def test_procedure_page_shows_the_level_one_information(client):
    r = client.get("/thu-tuc/1.001612")  # Đăng ký thành lập hộ kinh doanh
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert "<h1>Đăng ký thành lập hộ kinh doanh</h1>" in html
    # components: originals / copies, required or not
    assert "Thành phần hồ sơ" in html and "Giấy đề nghị đăng ký hộ kinh doanh" in html
    assert '<td data-label="Bản chính">1</td>' in html and '<td data-label="Bản sao">1</td>' in html
    assert '<td data-label="Bắt buộc">Có</td>' in html and '<td data-label="Bắt buộc">Không</td>' in html
    # time limit, fee as money
    assert "3 ngày làm việc" in html
    assert re.search(r'<dd id="fee">100\.000 đ', html)
    # where and how to submit
    assert "Trung tâm Phục vụ hành chính công tỉnh Nghệ An" in html
    assert "Số 1 Lê Hồng Phong, phường Trường Vinh, tỉnh Nghệ An" in html or "Số 3 Trường Thi" in html
    assert 'href="tel:' in html
    assert "Qua dịch vụ bưu chính công ích" in html and "Trực tuyến trên trang này" in html
    assert "Nộp hồ sơ qua bưu chính: có; nhận kết quả qua bưu chính: có" in html
    assert "Căn cứ pháp lý" in html and "Luật Doanh nghiệp số 59/2020/QH14" in html
    # one primary button to the submission form
    assert html.count("Nộp hồ sơ trực tuyến</a>") == 1
    assert '<a class="button" href="/thu-tuc/1.001612/nop-ho-so">Nộp hồ sơ trực tuyến</a>' in html
    # back to the catalogue, filtered by the procedure's field
    assert 'href="/?linh_vuc=Th%C3%A0nh+l%E1%BA%ADp' in html


def test_procedure_without_online_channel_has_no_button(client, counter_only):
    html = client.get(f"/thu-tuc/{counter_only}").get_data(as_text=True)
    assert "<h1>Đăng ký tổ chức lễ hội truyền thống (thử nghiệm)</h1>" in html
    assert "/nop-ho-so" not in html and "Nộp hồ sơ trực tuyến</a>" not in html
    assert 'id="no-online"' in html and "chưa nhận hồ sơ trực tuyến" in html
    assert "trực tiếp tại Ủy ban nhân dân phường Trường Vinh" in html
    assert "Không thu phí, lệ phí" in html and "20 ngày làm việc" in html
    assert "Nộp hồ sơ qua bưu chính: không; nhận kết quả qua bưu chính: không" in html
    # the catalogue does not label it as submitted online
    r = client.get("/", query_string={"q": "le hoi"})
    item = r.get_data(as_text=True).split(f'href="/thu-tuc/{counter_only}"', 1)[1].split("</li>", 1)[0]
    assert "Nộp trực tuyến" not in item


def test_unknown_procedure_is_404(client):
    assert client.get("/thu-tuc/0.000000").status_code == 404
