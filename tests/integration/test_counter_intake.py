"""The reception desk registers a walk-in dossier (channel 'counter') and prints the receipt."""

from __future__ import annotations

import io
import re

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from app.dossiers.models import AuditLog, Dossier
from app.extensions import db


@pytest.fixture(autouse=True)
def _library(library_procedure):
    return library_procedure


def login(app, username):
    c = app.test_client()
    assert c.post("/dang-nhap", data={"username": username, "password": "MotCua@2026"}).status_code == 302
    return c


FIELDS = {"nguoinop-name": "Đặng Thị Hồng", "nguoinop-phone": "0912000444", "nguoinop-id_number": "040190004321",
          "hoso-reader_name": "Đặng Thị Hồng", "hoso-birth_date": "03/04/1995"}


def test_reception_registers_a_counter_dossier_and_prints_the_receipt(app):
    desk = login(app, "tiepnhan.tinh")
    assert "Cấp thẻ thư viện (thử nghiệm)" in desk.get("/can-bo/tiep-nhan").get_data(as_text=True)
    bad = desk.post("/can-bo/tiep-nhan/9.999001", data={"nguoinop-name": ""}, content_type="multipart/form-data")
    assert bad.status_code == 422 and "Có lỗi cần sửa" in bad.get_data(as_text=True)
    r = desk.post("/can-bo/tiep-nhan/9.999001", data=FIELDS, content_type="multipart/form-data")
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    page = desk.get(r.headers["Location"]).get_data(as_text=True)
    code = re.search(r'id="dossier-code">([^<]+)<', page).group(1)
    secret = re.search(r'id="tracking-secret">([^<]+)<', page).group(1)
    with app.app_context():
        d = db.session.scalar(select(Dossier).where(Dossier.code == code))
        assert d.channel == "counter" and d.applicant_name == "Đặng Thị Hồng"
        first = db.session.scalar(select(AuditLog).where(AuditLog.dossier_id == d.id).order_by(AuditLog.id))
        assert first.action == "submit" and first.actor_label == "user:tiepnhan.tinh"
    pdf = desk.get(f"/can-bo/ho-so/{code}/giay-to/01.pdf?mat_ma={secret}")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages)
    assert code in text and "Đặng Thị Hồng" in text
    # the secret is shown once, to the desk that registered it
    assert login(app, "lanhdao.tinh").get(f"/can-bo/tiep-nhan/ho-so/{code}").status_code == 404
    # the citizen tracks it like any other dossier
    assert app.test_client().get(f"/api/v1/tracking/{code}?secret={secret}").status_code == 200


def test_only_the_handling_units_reception_may_register(app):
    assert login(app, "chuyenvien.tinh").get("/can-bo/tiep-nhan/9.999001").status_code == 403
    assert login(app, "tiepnhan.phuong").post("/can-bo/tiep-nhan/9.999001", data=FIELDS,
                                              content_type="multipart/form-data").status_code == 403
