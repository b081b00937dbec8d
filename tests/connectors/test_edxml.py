"""edXML (QCVN 102:2016): build → sign → verify → parse, refusals, status messages, the JSON form."""

from __future__ import annotations

import base64
import datetime as dt
import os
import stat
from pathlib import Path

import pytest
from lxml import etree

from connectors import edxml
from connectors.edxml import EdxmlError
from connectors.pki import agency_code_of, ensure_demo_pki

TINH = "000.00.00.H41"
PHUONG = "000.31.33.H41"
TINH_NAME = "Trung tâm Phục vụ hành chính công tỉnh Nghệ An"
PHUONG_NAME = "Ủy ban nhân dân phường Trường Vinh"
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, bytes]]:
    directory = tmp_path_factory.mktemp("pki")
    paths = ensure_demo_pki(directory, {TINH: TINH_NAME, PHUONG: PHUONG_NAME})
    other = ensure_demo_pki(directory / "other", {TINH: TINH_NAME})  # another CA, same agency code
    loaded = {name: {k: Path(p).read_bytes() for k, p in entry.items()} for name, entry in paths.items()}
    loaded["other"] = {k: Path(p).read_bytes() for k, p in other[TINH].items()}
    loaded["_paths"] = paths  # type: ignore[assignment]
    return loaded


def make_document(**overrides) -> edxml.Document:
    fields = dict(
        from_organ=edxml.Organ(TINH, TINH_NAME, organ_add="Số 16 Trường Thi, Vinh, Nghệ An",
                               email="vanthu@nghean.gov.vn", telephone="02383840000"),
        to=[edxml.Organ(PHUONG, PHUONG_NAME)],
        code=edxml.Code("123", "TTPVHCC-VP"),
        promulgation=edxml.PromulgationInfo("Nghệ An", dt.date(2026, 11, 24)),
        subject="Về việc chuyển hồ sơ đăng ký hộ kinh doanh của bà Trần Thị Bích",
        signer=edxml.SignerInfo("KT. GIÁM ĐỐC", "Phó Giám đốc", "Nguyễn Văn Ân"),
        content="Đề nghị Ủy ban nhân dân phường xác minh địa điểm kinh doanh.",
        due_date=dt.date(2026, 12, 1),
        other=edxml.OtherInfo(priority=2, promulgation_amount=2, page_amount=1, appendixes=["Phụ lục I"]),
        steering_type=1,
        trace=[edxml.TraceHeader(TINH, dt.datetime(2026, 11, 24, 9, 30, 0))],
        attachments=[edxml.Attachment("tờ khai đăng ký.pdf", "application/pdf", PDF, "Tờ khai")],
        business_data={"dossier_code": "H41.99-261124-0001", "procedure_code": "2.000720",
                       "applicant": {"full_name": "Trần Thị Bích", "address": "Phường Trường Vinh"},
                       "form_data": {"ten_ho_kinh_doanh": "Tiệm bánh Ánh Dương", "von": 50000000}},
    )
    fields.update(overrides)
    return edxml.Document(**fields)


def signed(doc, pki, who: str = TINH) -> bytes:
    return edxml.sign(edxml.build(doc), pki[who]["key"], pki[who]["cert"])


def test_pki_files_are_idempotent_and_private(pki):
    paths = pki["_paths"]
    again = ensure_demo_pki(Path(paths["ca"]["cert"]).parent, [TINH, PHUONG])
    assert again == paths
    assert Path(paths[TINH]["cert"]).read_bytes() == pki[TINH]["cert"]
    assert stat.S_IMODE(os.stat(paths[TINH]["key"]).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(paths["ca"]["key"]).st_mode) == 0o600
    assert agency_code_of(pki[TINH]["cert"]) == TINH


def test_round_trip_with_vietnamese_text_and_attachment(pki):
    doc = make_document()
    xml = signed(doc, pki)
    assert doc.document_id == f"{TINH},2026/11/24,123/TTPVHCC-VP"
    assert "Trần Thị Bích".encode() in xml  # UTF-8, not character references
    root = etree.fromstring(xml)
    value = root.find(f".//{{{edxml.NS}}}AttachmentEncodedList/{{{edxml.NS}}}Attachment/{{{edxml.NS}}}Value")
    assert base64.b64decode(value.text) == PDF
    assert root.find(f"{{{edxml.NS}}}edXMLHeader/{{{edxml.DS_NS}}}Signature") is not None

    message = edxml.receive(xml, pki["ca"]["cert"])
    assert message == doc
    assert message.subject == "Về việc chuyển hồ sơ đăng ký hộ kinh doanh của bà Trần Thị Bích"
    assert message.to[0].organ_name == PHUONG_NAME
    assert message.attachments[0].name == "tờ khai đăng ký.pdf" and message.attachments[0].data == PDF
    assert message.business_data["applicant"]["full_name"] == "Trần Thị Bích"
    assert edxml.message_from_dict(edxml.message_to_dict(message)) == message


def test_verify_returns_the_signed_document_without_signature(pki):
    verified = edxml.verify(signed(make_document(), pki), pki["ca"]["cert"])
    assert b"Signature" not in verified
    assert edxml.parse(verified).subject.startswith("Về việc")


def test_tampered_subject_is_refused(pki):
    xml = signed(make_document(), pki)
    tampered = xml.replace("Trần Thị Bích</edXML:Subject>".encode(), "Trần Thị Bích Ngọc</edXML:Subject>".encode())
    assert tampered != xml
    with pytest.raises(EdxmlError) as err:
        edxml.receive(tampered, pki["ca"]["cert"])
    assert err.value.kind == "signature"


def test_tampered_attachment_is_refused(pki):
    xml = signed(make_document(), pki)
    evil = base64.b64encode(b"%PDF-1.4 evil").decode()
    root = etree.fromstring(xml)
    root.find(f".//{{{edxml.NS}}}Attachment/{{{edxml.NS}}}Value").text = evil
    with pytest.raises(EdxmlError) as err:
        edxml.verify(etree.tostring(root, xml_declaration=True, encoding="UTF-8"), pki["ca"]["cert"])
    assert err.value.kind == "signature"


def test_certificate_from_another_ca_is_refused(pki):
    xml = edxml.sign(edxml.build(make_document()), pki["other"]["key"], pki["other"]["cert"])
    with pytest.raises(EdxmlError) as err:
        edxml.receive(xml, pki["ca"]["cert"])
    assert err.value.kind == "signature"
    assert "CA" in err.value.message


def test_signer_must_be_the_sending_organ(pki):
    xml = signed(make_document(), pki, who=PHUONG)  # trusted CA, but the ward signs as the province
    with pytest.raises(EdxmlError) as err:
        edxml.receive(xml, pki["ca"]["cert"])
    assert err.value.kind == "signature"


def test_unsigned_is_refused(pki):
    with pytest.raises(EdxmlError) as err:
        edxml.receive(edxml.build(make_document()), pki["ca"]["cert"])
    assert err.value.kind == "signature"
    assert "chưa được ký" in err.value.message
    xml = signed(make_document(), pki)
    root = etree.fromstring(xml)
    signature = root.find(f"{{{edxml.NS}}}edXMLHeader/{{{edxml.DS_NS}}}Signature")
    for child in list(signature):
        signature.remove(child)  # an empty ds:Signature is no signature either
    with pytest.raises(EdxmlError) as err:
        edxml.receive(etree.tostring(root), pki["ca"]["cert"])
    assert err.value.kind == "signature"


@pytest.mark.parametrize("payload", [
    b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>'
    b'<edXMLEnvelope xmlns="http://www.mic.gov.vn/TBT/QCVN_102_2016">&lol2;</edXMLEnvelope>',
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b'<edXMLEnvelope xmlns="http://www.mic.gov.vn/TBT/QCVN_102_2016">&xxe;</edXMLEnvelope>',
    '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE r><r/>'.encode("utf-16"),
])
def test_doctype_and_entities_are_refused(pki, payload):
    for call in (lambda: edxml.receive(payload, pki["ca"]["cert"]), lambda: edxml.parse(payload),
                 lambda: edxml.recipients_of(payload)):
        with pytest.raises(EdxmlError) as err:
            call()
        assert err.value.kind == "xml"


def test_malformed_and_oversized_xml_are_refused():
    with pytest.raises(EdxmlError) as err:
        edxml.parse(b"<edXMLEnvelope")
    assert err.value.kind == "xml"
    with pytest.raises(EdxmlError) as err:
        edxml.parse(b"<a/>" + b" " * (edxml.MAX_BYTES + 1))
    assert err.value.kind == "xml" and "quá lớn" in err.value.message
    with pytest.raises(EdxmlError) as err:
        edxml.parse(b"<other/>")
    assert err.value.kind == "structure"


def _replace(xml: bytes, old: str, new: str) -> bytes:
    assert old.encode() in xml
    return xml.replace(old.encode(), new.encode(), 1)


@pytest.mark.parametrize(("old", "new", "needle"), [
    ("<edXML:PromulgationDate>2026/11/24<", "<edXML:PromulgationDate>24/11/2026<", "yyyy/MM/dd"),
    ("<edXML:DueDate>2026/12/01<", "<edXML:DueDate>2026/02/30<", "không phải ngày"),
    ("<edXML:Priority>2<", "<edXML:Priority>7<", "Priority"),
    ("<edXML:SteeringType>1<", "<edXML:SteeringType>4<", "SteeringType"),
    ("<edXML:OrganId>000.31.33.H41<", "<edXML:OrganId>000.31.33.h41-x<", "Mã cơ quan"),
    (f"<edXML:OrganId>{PHUONG}<", "<edXML:OrganId>" + "A" * 36 + "<", "35 ký tự"),
    ("<edXML:Subject>", "<edXML:Subject2>", "Subject"),
    ("<edXML:DocumentId>000.00.00.H41,2026/11/24,123/TTPVHCC-VP<",
     "<edXML:DocumentId>000.00.00.H41,2026/11/25,123/TTPVHCC-VP<", "không khớp"),
])
def test_structural_errors(old, new, needle):
    xml = edxml.build(make_document())
    if old == "<edXML:Subject>":
        xml = _replace(_replace(xml, "<edXML:Subject>", "<edXML:Subject2>"), "</edXML:Subject>", "</edXML:Subject2>")
    else:
        xml = _replace(xml, old, new)
    with pytest.raises(EdxmlError) as err:
        edxml.parse(xml)
    assert err.value.kind == "structure"
    assert needle in err.value.message


def test_build_refuses_invalid_messages():
    with pytest.raises(EdxmlError) as err:
        edxml.build(make_document(other=edxml.OtherInfo(priority=5)))
    assert err.value.kind == "structure"
    with pytest.raises(EdxmlError):
        edxml.build(make_document(to=[]))
    with pytest.raises(EdxmlError):
        edxml.build(make_document(from_organ=edxml.Organ("ubnd tinh", TINH_NAME)))


@pytest.mark.parametrize("code", sorted(edxml.STATUS_CODES))
def test_status_round_trip(pki, code):
    document_id = make_document().document_id
    xml = edxml.build_status(edxml.Organ(PHUONG, PHUONG_NAME), edxml.Organ(TINH, TINH_NAME), code, document_id,
                             staff=edxml.StaffInfo(department="Văn phòng", staff="Lê Thị Hồng"),
                             timestamp=dt.datetime(2026, 11, 24, 10, 0, 5))
    status = edxml.parse_status(edxml.verify(edxml.sign(xml, pki[PHUONG]["key"], pki[PHUONG]["cert"]),
                                             pki["ca"]["cert"]))
    assert status.status_code == code
    assert status.document_id == document_id
    assert status.description == edxml.STATUS_CODES[code]
    assert status.to[0].organ_id == TINH and status.from_organ.organ_name == PHUONG_NAME
    assert status.staff.staff == "Lê Thị Hồng"
    assert status.timestamp == dt.datetime(2026, 11, 24, 10, 0, 5)
    assert edxml.recipients_of(xml) == [TINH]
    assert edxml.message_from_dict(edxml.message_to_dict(status)) == status


def test_status_structure_is_checked():
    with pytest.raises(EdxmlError) as err:
        edxml.build_status(edxml.Organ(PHUONG, PHUONG_NAME), edxml.Organ(TINH, TINH_NAME), "07",
                           make_document().document_id)
    assert err.value.kind == "structure"
    with pytest.raises(EdxmlError):
        edxml.build_status(edxml.Organ(PHUONG, PHUONG_NAME), edxml.Organ(TINH, TINH_NAME), "01", "khong-hop-le")
    with pytest.raises(EdxmlError) as err:
        edxml.parse_status(edxml.build(make_document()))
    assert err.value.kind == "structure"


def test_refusal_for_tampered_input(pki):
    xml = signed(make_document(), pki)
    tampered = _replace(xml, "<edXML:Priority>2<", "<edXML:Priority>4<")
    with pytest.raises(EdxmlError) as err:
        edxml.receive(tampered, pki["ca"]["cert"])
    ward = edxml.Organ(PHUONG, PHUONG_NAME)
    refusal = edxml.refusal_for(tampered, err.value, ward)
    assert refusal.status_code == "02"
    assert refusal.document_id == make_document().document_id
    assert [o.organ_id for o in refusal.to] == [TINH]
    assert err.value.message in refusal.description
    answer = edxml.parse_status(edxml.build(refusal))
    assert answer.status_code == "02" and answer.from_organ == ward

    from_message = edxml.refusal_for(make_document(), "Không đúng thẩm quyền", ward)
    assert from_message.status_code == "02" and "Không đúng thẩm quyền" in from_message.description
    with pytest.raises(EdxmlError):
        edxml.refusal_for(b"not xml", err.value, ward)


def test_message_from_dict_accepts_outbox_json():
    data = edxml.message_to_dict(make_document())
    data.pop("document_id")
    data["promulgation"]["promulgation_date"] = "2026/11/24"
    message = edxml.message_from_dict(data)
    assert message.document_id == f"{TINH},2026/11/24,123/TTPVHCC-VP"
    data["other"]["priority"] = 9
    with pytest.raises(EdxmlError) as err:
        edxml.message_from_dict(data)
    assert err.value.kind == "structure"
    with pytest.raises(EdxmlError):
        edxml.message_from_dict({"kind": "document"})
