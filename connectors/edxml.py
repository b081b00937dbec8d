"""edXML messages of the national document axis (QCVN 102:2016): model, build, sign, verify, parse.

Two kinds of message travel on the axis, both in an `edXML:edXMLEnvelope` of namespace `NS`:

- a **document** (`Document`): `edXMLHeader/MessageHeader` (From, To+, Code, PromulgationInfo, DocumentType,
  Subject, Content?, SignerInfo, DueDate?, OtherInfo, SteeringType, DocumentId), `edXMLHeader/TraceHeaderList`
  (TraceHeader+ and `Bussiness` — sic, the standard's spelling — with BussinessDocType 0 new / 1 recall /
  2 update / 3 replace), the XML signature, then `edXMLBody` with the `edXMLManifest` and the attachments;
- a **status** (`StatusMessage`): `edXMLHeader/Status` (ResponseFor{OrganId, Code, PromulgationDate, DocumentId},
  From, To, StatusCode, Description, Timestamp, StaffInfo?) and the signature; codes in `STATUS_CODES`.

Deviations and extensions (the standard ships attachments as MIME parts beside the XML; we keep one XML document
so one signature covers everything):

- attachments are embedded in `edXMLBody/AttachmentEncodedList/Attachment[@ContentId]/Value` as base64, each one
  named by a `edXMLManifest/Reference` (ContentId, ContentType, Description, AttachmentName);
- **business data**: `edXMLBody/mc:BusinessData` (namespace `MC_NS`, attribute `encoding="json"`) carries a free
  JSON object so MotCua can ship a dossier between agencies, by convention
  `{"dossier_code", "procedure_code", "applicant": {...}, "form_data": {...}, ...}`. Agencies that do not know the
  extension ignore it; it is covered by the signature like the rest of the document;
- `Status/To` names the organ the status is addressed to (the axis routes on it).

Dates are `yyyy/MM/dd`, timestamps `yyyy/MM/dd HH:mm:ss` (Vietnam local time, naive). Agency codes (Decision
20/2020) are up to 35 characters of `[0-9A-Z.]`. DocumentId is `"<organ>,<yyyy/MM/dd>,<number>/<notation>"`
(sender organ, promulgation date, code) and must agree with the header.

API: `build(message) -> bytes`, `sign(xml, key_pem, cert_pem) -> bytes` (enveloped XML-DSig, RSA-SHA256, the
certificate in KeyInfo, the signature inside `edXMLHeader`), `verify(xml, ca_cert_pem) -> bytes` (the verified,
canonicalised document without its signature), `parse(xml) -> Document | StatusMessage`, `receive(xml, ca) ->
message` (verify, parse, and check the signer's certificate belongs to the From organ), `build_status(...)`,
`parse_status(xml)`, `refusal_for(message_or_raw, error, our_organ)`, `message_to_dict` / `message_from_dict`
(the JSON form the outbox stores), `recipients_of(xml)`. Every failure is an `EdxmlError(kind, message)` with kind
"xml" (unsafe or malformed XML), "structure" (missing/invalid element) or "signature"; messages are Vietnamese.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import json
import re
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree

__all__ = [
    "MC_NS", "NS", "STATUS_CODES", "Attachment", "Business", "Code", "Document", "DocumentType", "EdxmlError",
    "Organ", "OtherInfo", "PromulgationInfo", "SignerInfo", "StaffInfo", "StatusMessage", "TraceHeader", "build",
    "build_status", "document_id_for", "message_from_dict", "message_to_dict", "parse", "parse_status",
    "receive", "recipients_of", "refusal_for", "safe_fromstring", "sign", "validate", "verify",
]

NS = "http://www.mic.gov.vn/TBT/QCVN_102_2016"
MC_NS = "urn:motcua:edxml:1"
DS_NS = "http://www.w3.org/2000/09/xmldsig#"
NSMAP = {"edXML": NS}
MAX_BYTES = 20 * 1024 * 1024

AGENCY_RE = re.compile(r"\A[0-9A-Z.]{1,35}\Z")
DOCUMENT_ID_RE = re.compile(r"\A([0-9A-Z.]{1,35}),(\d{4}/\d{2}/\d{2}),([^/,]+)/([^,]+)\Z")
DATE_FMT = "%Y/%m/%d"
TS_FMT = "%Y/%m/%d %H:%M:%S"
VN_TZ = dt.timezone(dt.timedelta(hours=7))

STATUS_CODES: dict[str, str] = {
    "01": "Đã đến",
    "02": "Từ chối tiếp nhận",
    "03": "Đã tiếp nhận",
    "04": "Chờ phân công xử lý",
    "05": "Đã phân công, đang xử lý",
    "06": "Hoàn thành",
    "13": "Lấy lại",
    "15": "Đồng ý lấy lại/cập nhật",
    "16": "Từ chối lấy lại/cập nhật",
}
BUSINESS_TYPES = {0: "Gửi mới", 1: "Thu hồi", 2: "Cập nhật", 3: "Thay thế"}


class EdxmlError(ValueError):
    """A refused edXML message. `kind` is "xml", "structure" or "signature"; `message` is Vietnamese."""

    KINDS = ("xml", "structure", "signature")

    def __init__(self, kind: str, message: str) -> None:
        if kind not in self.KINDS:
            raise ValueError(f"unknown EdxmlError kind {kind!r}")
        super().__init__(message)
        self.kind = kind
        self.message = message

    def __str__(self) -> str:
        return self.message


# --------------------------------------------------------------------------------------------------- the model


@dataclass
class Organ:
    organ_id: str
    organ_name: str
    organ_add: str | None = None
    email: str | None = None
    telephone: str | None = None


@dataclass
class Code:
    code_number: str
    code_notation: str


@dataclass
class PromulgationInfo:
    place: str
    promulgation_date: dt.date


@dataclass
class DocumentType:
    type: int = 2  # 1 legal (quy phạm pháp luật), 2 administrative (hành chính)
    type_name: str = "Công văn"


@dataclass
class SignerInfo:
    competence: str
    position: str
    full_name: str


@dataclass
class OtherInfo:
    priority: int = 0  # 0 normal … 4 "hỏa tốc hẹn giờ"
    sphere_of_promulgation: str | None = None
    typer_notation: str | None = None
    promulgation_amount: int | None = None
    page_amount: int | None = None
    appendixes: list[str] = field(default_factory=list)


@dataclass
class TraceHeader:
    organ_id: str
    timestamp: dt.datetime


@dataclass
class Business:
    business_doc_type: int = 0  # 0 new, 1 recall, 2 update, 3 replace
    business_doc_reason: str | None = None


@dataclass
class Attachment:
    name: str
    content_type: str
    data: bytes
    description: str | None = None


@dataclass
class Document:
    from_organ: Organ
    to: list[Organ]
    code: Code
    promulgation: PromulgationInfo
    subject: str
    signer: SignerInfo
    document_type: DocumentType = field(default_factory=DocumentType)
    content: str | None = None
    due_date: dt.date | None = None
    other: OtherInfo = field(default_factory=OtherInfo)
    steering_type: int = 1  # 1 send, 2 for information, 3 report (the standard's "Kiểu chỉ đạo")
    document_id: str = ""  # computed from From/date/code when empty
    trace: list[TraceHeader] = field(default_factory=list)
    business: Business = field(default_factory=Business)
    attachments: list[Attachment] = field(default_factory=list)
    business_data: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if not self.document_id and self.from_organ and self.code and self.promulgation:
            self.document_id = document_id_for(self.from_organ.organ_id, self.promulgation.promulgation_date,
                                               self.code)


@dataclass
class StaffInfo:
    department: str | None = None
    staff: str | None = None
    mobile: str | None = None
    email: str | None = None


@dataclass
class StatusMessage:
    from_organ: Organ
    to: list[Organ]
    status_code: str
    document_id: str
    description: str = ""
    timestamp: dt.datetime | None = None
    staff: StaffInfo | None = None

    def __post_init__(self) -> None:
        if self.timestamp is None:
            self.timestamp = _now()
        if not self.description and self.status_code in STATUS_CODES:
            self.description = STATUS_CODES[self.status_code]


Message = Document | StatusMessage


def _now() -> dt.datetime:
    return dt.datetime.now(VN_TZ).replace(tzinfo=None, microsecond=0)


def document_id_for(organ_id: str, promulgation_date: dt.date, code: Code) -> str:
    """`"<organ>,<yyyy/MM/dd>,<number>/<notation>"`."""
    return f"{organ_id},{promulgation_date.strftime(DATE_FMT)},{code.code_number}/{code.code_notation}"


# ---------------------------------------------------------------------------------------------- validation


def _structure(message: str) -> EdxmlError:
    return EdxmlError("structure", message)


def _check_organ(organ: Organ, role: str) -> None:
    if not isinstance(organ.organ_id, str) or not AGENCY_RE.match(organ.organ_id):
        raise _structure(f"Mã cơ quan {role} '{organ.organ_id}' không hợp lệ: "
                         "tối đa 35 ký tự gồm 0-9, A-Z và dấu chấm.")
    if not (organ.organ_name or "").strip():
        raise _structure(f"Thiếu tên cơ quan {role} ({organ.organ_id}).")


def _check_range(value: Any, low: int, high: int, label: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _structure(f"{label} phải là số nguyên từ {low} đến {high}, nhận được '{value}'.")


def validate(message: Message) -> None:
    """Structural checks shared by `build` and `parse`; raises EdxmlError("structure", …)."""
    if isinstance(message, StatusMessage):
        _check_organ(message.from_organ, "gửi")
        if not message.to:
            raise _structure("Thông điệp trạng thái phải có ít nhất một cơ quan nhận.")
        for organ in message.to:
            _check_organ(organ, "nhận")
        if message.status_code not in STATUS_CODES:
            raise _structure(f"Mã trạng thái '{message.status_code}' không hợp lệ "
                             f"(cho phép: {', '.join(STATUS_CODES)}).")
        if not DOCUMENT_ID_RE.match(message.document_id or ""):
            raise _structure(f"Mã định danh văn bản '{message.document_id}' không đúng dạng "
                             "'<mã cơ quan>,<yyyy/MM/dd>,<số>/<ký hiệu>'.")
        return
    if not isinstance(message, Document):
        raise _structure("Thông điệp không phải văn bản hay trạng thái edXML.")
    _check_organ(message.from_organ, "gửi")
    if not message.to:
        raise _structure("Văn bản phải có ít nhất một cơ quan nhận.")
    for organ in message.to:
        _check_organ(organ, "nhận")
    if not (message.code.code_number or "").strip() or not (message.code.code_notation or "").strip():
        raise _structure("Thiếu số hoặc ký hiệu văn bản.")
    if "/" in message.code.code_number or "," in message.code.code_number + message.code.code_notation:
        raise _structure("Số văn bản không được chứa '/', số và ký hiệu không được chứa dấu phẩy.")
    if not (message.promulgation.place or "").strip():
        raise _structure("Thiếu địa danh ban hành.")
    if not isinstance(message.promulgation.promulgation_date, dt.date):
        raise _structure("Ngày ban hành không hợp lệ.")
    _check_range(message.document_type.type, 1, 2, "Loại văn bản")
    if not (message.subject or "").strip():
        raise _structure("Thiếu trích yếu nội dung văn bản.")
    if not (message.signer.full_name or "").strip():
        raise _structure("Thiếu họ tên người ký.")
    _check_range(message.other.priority, 0, 4, "Độ khẩn (Priority)")
    _check_range(message.steering_type, 1, 3, "Kiểu chỉ đạo (SteeringType)")
    _check_range(message.business.business_doc_type, 0, 3, "Loại nghiệp vụ (BussinessDocType)")
    expected = document_id_for(message.from_organ.organ_id, message.promulgation.promulgation_date, message.code)
    if not DOCUMENT_ID_RE.match(message.document_id or ""):
        raise _structure(f"Mã định danh văn bản '{message.document_id}' không đúng dạng "
                         "'<mã cơ quan>,<yyyy/MM/dd>,<số>/<ký hiệu>'.")
    if message.document_id != expected:
        raise _structure(f"Mã định danh văn bản '{message.document_id}' không khớp với tiêu đề ('{expected}').")
    for trace in message.trace:
        if not AGENCY_RE.match(trace.organ_id or ""):
            raise _structure(f"Mã cơ quan trong vết xử lý '{trace.organ_id}' không hợp lệ.")
    for att in message.attachments:
        if not (att.name or "").strip() or not (att.content_type or "").strip():
            raise _structure("Tệp đính kèm phải có tên và kiểu nội dung.")
    if message.business_data is not None and not isinstance(message.business_data, dict):
        raise _structure("Dữ liệu nghiệp vụ (BusinessData) phải là một đối tượng JSON.")


# --------------------------------------------------------------------------------------------------- build


def _q(tag: str) -> str:
    return f"{{{NS}}}{tag}"


def _sub(parent: etree._Element, tag: str, text: Any = None) -> etree._Element:
    el = etree.SubElement(parent, _q(tag))
    if text is not None:
        el.text = str(text)
    return el


def _opt(parent: etree._Element, tag: str, text: Any) -> None:
    if text is not None and text != "":
        _sub(parent, tag, text)


def _organ_el(parent: etree._Element, tag: str, organ: Organ) -> None:
    el = _sub(parent, tag)
    _sub(el, "OrganId", organ.organ_id)
    _sub(el, "OrganName", organ.organ_name)
    _opt(el, "OrganAdd", organ.organ_add)
    _opt(el, "Email", organ.email)
    _opt(el, "Telephone", organ.telephone)


def _envelope() -> tuple[etree._Element, etree._Element, etree._Element]:
    root = etree.Element(_q("edXMLEnvelope"), nsmap=NSMAP)
    header = _sub(root, "edXMLHeader")
    body = _sub(root, "edXMLBody")
    return root, header, body


def _signature_placeholder(header: etree._Element) -> None:
    etree.SubElement(header, f"{{{DS_NS}}}Signature", {"Id": "placeholder"}, nsmap={"ds": DS_NS})


def _serialize(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def build(message: Message) -> bytes:
    """The unsigned edXML document for a `Document` or `StatusMessage` (validated first)."""
    validate(message)
    if isinstance(message, StatusMessage):
        return _build_status_xml(message)
    root, header, body = _envelope()
    mh = _sub(header, "MessageHeader")
    _organ_el(mh, "From", message.from_organ)
    for organ in message.to:
        _organ_el(mh, "To", organ)
    code = _sub(mh, "Code")
    _sub(code, "CodeNumber", message.code.code_number)
    _sub(code, "CodeNotation", message.code.code_notation)
    prom = _sub(mh, "PromulgationInfo")
    _sub(prom, "Place", message.promulgation.place)
    _sub(prom, "PromulgationDate", message.promulgation.promulgation_date.strftime(DATE_FMT))
    dtype = _sub(mh, "DocumentType")
    _sub(dtype, "Type", message.document_type.type)
    _sub(dtype, "TypeName", message.document_type.type_name)
    _sub(mh, "Subject", message.subject)
    _opt(mh, "Content", message.content)
    signer = _sub(mh, "SignerInfo")
    _sub(signer, "Competence", message.signer.competence)
    _sub(signer, "Position", message.signer.position)
    _sub(signer, "FullName", message.signer.full_name)
    if message.due_date is not None:
        _sub(mh, "DueDate", message.due_date.strftime(DATE_FMT))
    other = _sub(mh, "OtherInfo")
    _sub(other, "Priority", message.other.priority)
    _opt(other, "SphereOfPromulgation", message.other.sphere_of_promulgation)
    _opt(other, "TyperNotation", message.other.typer_notation)
    _opt(other, "PromulgationAmount", message.other.promulgation_amount)
    _opt(other, "PageAmount", message.other.page_amount)
    if message.other.appendixes:
        apps = _sub(other, "Appendixes")
        for appendix in message.other.appendixes:
            _sub(apps, "Appendix", appendix)
    _sub(mh, "SteeringType", message.steering_type)
    _sub(mh, "DocumentId", message.document_id)

    trace_list = _sub(header, "TraceHeaderList")
    traces = message.trace or [TraceHeader(message.from_organ.organ_id, _now())]
    for trace in traces:
        th = _sub(trace_list, "TraceHeader")
        _sub(th, "OrganId", trace.organ_id)
        _sub(th, "Timestamp", trace.timestamp.strftime(TS_FMT))
    bus = _sub(trace_list, "Bussiness")
    _sub(bus, "BussinessDocType", message.business.business_doc_type)
    _opt(bus, "BussinessDocReason", message.business.business_doc_reason)

    manifest = _sub(body, "edXMLManifest")
    manifest.set("version", "1.0")
    if message.attachments:
        encoded = _sub(body, "AttachmentEncodedList")
        for index, att in enumerate(message.attachments, start=1):
            cid = f"att{index}"
            ref = _sub(manifest, "Reference")
            _sub(ref, "ContentId", f"cid:{cid}")
            _sub(ref, "ContentType", att.content_type)
            _opt(ref, "Description", att.description)
            _sub(ref, "AttachmentName", att.name)
            el = _sub(encoded, "Attachment")
            el.set("ContentId", cid)
            _sub(el, "Value", base64.b64encode(att.data).decode("ascii"))
    if message.business_data is not None:
        bd = etree.SubElement(body, f"{{{MC_NS}}}BusinessData", {"encoding": "json"}, nsmap={"mc": MC_NS})
        bd.text = json.dumps(message.business_data, ensure_ascii=False, sort_keys=True)
    return _serialize(root)


def _build_status_xml(status: StatusMessage) -> bytes:
    root, header, _body = _envelope()
    st = _sub(header, "Status")
    match = DOCUMENT_ID_RE.match(status.document_id)
    assert match is not None  # validated
    rf = _sub(st, "ResponseFor")
    _sub(rf, "OrganId", match.group(1))
    _sub(rf, "Code", f"{match.group(3)}/{match.group(4)}")
    _sub(rf, "PromulgationDate", match.group(2))
    _sub(rf, "DocumentId", status.document_id)
    _organ_el(st, "From", status.from_organ)
    for organ in status.to:
        _organ_el(st, "To", organ)
    _sub(st, "StatusCode", status.status_code)
    _sub(st, "Description", status.description or STATUS_CODES[status.status_code])
    assert status.timestamp is not None
    _sub(st, "Timestamp", status.timestamp.strftime(TS_FMT))
    if status.staff is not None:
        si = _sub(st, "StaffInfo")
        _opt(si, "Department", status.staff.department)
        _opt(si, "Staff", status.staff.staff)
        _opt(si, "Mobile", status.staff.mobile)
        _opt(si, "Email", status.staff.email)
    return _serialize(root)


def build_status(from_organ: Organ, to: Organ | list[Organ], status_code: str, document_id: str,
                 description: str = "", *, timestamp: dt.datetime | None = None, staff: StaffInfo | None = None,
                 ) -> bytes:
    """The unsigned edXML status message `status_code` about `document_id`, from `from_organ` to `to`."""
    recipients = [to] if isinstance(to, Organ) else list(to)
    return build(StatusMessage(from_organ, recipients, status_code, document_id, description, timestamp, staff))


# ------------------------------------------------------------------------------------------ safe XML parsing

_DECL_RE = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_ENCODING_RE = re.compile(rb"\A(?:\xef\xbb\xbf)?<\?xml[^>]*?\bencoding\s*=\s*([\"'])([A-Za-z0-9._:-]*)\1", re.DOTALL)


def _parser(*, strip: bool = True) -> etree.XMLParser:
    """Hardened: no entity substitution, no DTD, no network, no huge trees. `strip=False` keeps comments and
    processing instructions (the signature check must see the document exactly as it was signed)."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                           huge_tree=False, remove_comments=strip, remove_pis=strip)


def safe_fromstring(data: bytes) -> etree._Element:
    """Parse untrusted XML: UTF-8 only, at most `MAX_BYTES`, no DOCTYPE/ENTITY, no network, no entity expansion."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    if not isinstance(data, bytes | bytearray):
        raise EdxmlError("xml", "Thông điệp edXML phải là dãy byte XML.")
    data = bytes(data)
    if len(data) > MAX_BYTES:
        raise EdxmlError("xml", f"Thông điệp edXML quá lớn: giới hạn {MAX_BYTES // (1024 * 1024)} MB.")
    if b"\x00" in data:
        raise EdxmlError("xml", "Thông điệp edXML phải dùng bảng mã UTF-8.")
    match = _ENCODING_RE.match(data[:512])
    if match and match.group(2).decode("ascii").lower().replace("-", "") not in ("utf8", "usascii", "ascii"):
        raise EdxmlError("xml", f"Bảng mã '{match.group(2).decode('ascii')}' không được hỗ trợ; hãy dùng UTF-8.")
    if _DECL_RE.search(data):
        raise EdxmlError("xml", "Thông điệp edXML chứa khai báo DOCTYPE/ENTITY, không được phép vì lý do an toàn.")
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise EdxmlError("xml", f"Thông điệp không phải XML hợp lệ: {exc.msg or exc}") from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or next(root.iter(etree.Entity), None) is not None:
        raise EdxmlError("xml", "Thông điệp edXML chứa khai báo DOCTYPE/ENTITY, không được phép vì lý do an toàn.")
    if root.tag != _q("edXMLEnvelope"):
        raise _structure(f"Phần tử gốc phải là edXMLEnvelope thuộc không gian tên {NS}.")
    return root


# --------------------------------------------------------------------------------------------------- sign


def sign(xml_bytes: bytes, key_pem: bytes, cert_pem: bytes) -> bytes:
    """Sign an edXML document: enveloped XML-DSig over the whole document (Reference URI=""), RSA-SHA256, SHA-256
    digests, the certificate in KeyInfo/X509Data; the ds:Signature sits at the end of edXMLHeader."""
    from signxml import DigestAlgorithm, SignatureMethod, XMLSigner, methods

    root = safe_fromstring(xml_bytes)
    header = root.find(_q("edXMLHeader"))
    if header is None:
        raise _structure("Thiếu phần tử edXMLHeader.")
    existing = [el for el in header.findall(f"{{{DS_NS}}}Signature") if el.get("Id") != "placeholder"]
    if existing:
        raise EdxmlError("signature", "Thông điệp đã được ký.")
    if header.find(f"{{{DS_NS}}}Signature") is None:
        _signature_placeholder(header)
    signer = XMLSigner(method=methods.enveloped, signature_algorithm=SignatureMethod.RSA_SHA256,
                       digest_algorithm=DigestAlgorithm.SHA256)
    signed = signer.sign(root, key=key_pem, cert=cert_pem)
    return _serialize(signed)


# ------------------------------------------------------------------------------------------------- verify


@functools.cache
def _verifier_class() -> type:
    from signxml import XMLVerifier
    from signxml.util import X509CertChainVerifier

    class _PemChainVerifier(X509CertChainVerifier):  # type: ignore[misc]
        """signxml's chain verifier, with the trust store from PEM bytes rather than a file."""

        def __init__(self, ca_pem: bytes, **kwargs: Any) -> None:
            super().__init__(ca_pem_file="<memory>", **kwargs)
            self._ca_pem = ca_pem

        @property
        def store(self) -> x509.verification.Store:
            return x509.verification.Store(x509.load_pem_x509_certificates(self._ca_pem))

    class _Verifier(XMLVerifier):  # type: ignore[misc]
        ca_pem: bytes = b""

        def get_cert_chain_verifier(self, ca_pem_file, ee_policy, ca_policy):  # type: ignore[no-untyped-def]
            return _PemChainVerifier(self.ca_pem, verification_time=self._get_cert_verification_time(),
                                     ee_policy=ee_policy, ca_policy=ca_policy)

    return _Verifier


def _verify(xml_bytes: bytes, ca_cert_pem: bytes) -> tuple[bytes, x509.Certificate]:
    from signxml import SignatureConfiguration, SignatureMethod
    from signxml.exceptions import InvalidCertificate, InvalidDigest, InvalidSignature, SignXMLException

    root = safe_fromstring(xml_bytes)
    header = root.find(_q("edXMLHeader"))
    signatures = list(root.iter(f"{{{DS_NS}}}Signature"))
    if header is None or not signatures:
        raise EdxmlError("signature", "Thông điệp chưa được ký số (không có chữ ký XML).")
    if len(signatures) != 1 or signatures[0].getparent() is not header:
        raise EdxmlError("signature", "Thông điệp phải có đúng một chữ ký số, nằm trong edXMLHeader.")
    try:
        ca_certs = x509.load_pem_x509_certificates(ca_cert_pem)
    except ValueError as exc:
        raise EdxmlError("signature", f"Chứng thư của CA tin cậy không đọc được: {exc}") from None
    if not ca_certs:
        raise EdxmlError("signature", "Không có chứng thư CA tin cậy để kiểm tra chữ ký.")
    config = SignatureConfiguration(
        location=f"./{{{NS}}}edXMLHeader/",
        expect_references=1,
        signature_methods=frozenset({SignatureMethod.RSA_SHA256, SignatureMethod.RSA_SHA384,
                                     SignatureMethod.RSA_SHA512}),
    )
    verifier = _verifier_class()()
    verifier.ca_pem = ca_cert_pem
    try:
        result = verifier.verify(xml_bytes, parser=_parser(strip=False), expect_config=config)
    except InvalidCertificate as exc:
        raise EdxmlError("signature",
                         f"Chứng thư ký số không do CA tin cậy cấp hoặc không còn hiệu lực: {exc}") from None
    except (InvalidDigest, InvalidSignature) as exc:
        raise EdxmlError("signature", f"Chữ ký số không khớp: thông điệp đã bị sửa đổi sau khi ký ({exc}).") from None
    except (SignXMLException, etree.LxmlError, ValueError) as exc:  # malformed ds:Signature, bad KeyInfo…
        raise EdxmlError("signature", f"Chữ ký số không hợp lệ: {exc}") from None
    reference = result.signature_xml.find(f"{{{DS_NS}}}SignedInfo/{{{DS_NS}}}Reference")
    if reference is None or reference.get("URI") != "":
        raise EdxmlError("signature", "Chữ ký số phải bao trùm toàn bộ thông điệp (Reference URI=\"\").")
    signer_cert = _signer_certificate(result.signature_xml, result.signature_key)
    return result.signed_data, signer_cert


def _signer_certificate(signature_xml: etree._Element, public_key_pem: bytes) -> x509.Certificate:
    for el in signature_xml.iter(f"{{{DS_NS}}}X509Certificate"):
        try:
            cert = x509.load_der_x509_certificate(base64.b64decode("".join((el.text or "").split())))
        except (ValueError, binascii.Error):
            continue
        pem = cert.public_key().public_bytes(serialization.Encoding.PEM,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)
        if pem == public_key_pem:
            return cert
    raise EdxmlError("signature", "Không tìm thấy chứng thư của người ký trong chữ ký số.")


def verify(xml_bytes: bytes, ca_cert_pem: bytes) -> bytes:
    """Check the XML signature and that the signing certificate chains to `ca_cert_pem`.

    Returns the verified document (canonical XML, signature removed): parse *that*, never the input, so nothing
    unsigned can slip in. Raises EdxmlError("signature") for unsigned, tampered or untrusted input.
    """
    return _verify(xml_bytes, ca_cert_pem)[0]


# -------------------------------------------------------------------------------------------------- parse


def _text(parent: etree._Element, path: str, label: str, *, required: bool = True) -> str | None:
    el = parent.find("/".join(_q(p) for p in path.split("/")))
    value = (el.text or "").strip() if el is not None else ""
    if not value:
        if required:
            raise _structure(f"Thiếu phần tử bắt buộc {label}.")
        return None
    return value


def _req(parent: etree._Element, path: str, label: str) -> str:
    value = _text(parent, path, label)
    assert value is not None
    return value


def _date(value: str | None, label: str) -> dt.date | None:
    if value is None:
        return None
    if not re.fullmatch(r"\d{4}/\d{2}/\d{2}", value):
        raise _structure(f"{label} '{value}' không đúng định dạng yyyy/MM/dd.")
    try:
        return dt.datetime.strptime(value, DATE_FMT).date()
    except ValueError:
        raise _structure(f"{label} '{value}' không phải ngày hợp lệ.") from None


def _timestamp(value: str, label: str) -> dt.datetime:
    if not re.fullmatch(r"\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}", value):
        raise _structure(f"{label} '{value}' không đúng định dạng yyyy/MM/dd HH:mm:ss.")
    try:
        return dt.datetime.strptime(value, TS_FMT)
    except ValueError:
        raise _structure(f"{label} '{value}' không phải thời điểm hợp lệ.") from None


def _int(value: str | None, label: str) -> int | None:
    if value is None:
        return None
    if not re.fullmatch(r"-?\d{1,9}", value):
        raise _structure(f"{label} '{value}' phải là số nguyên.")
    return int(value)


def _organ(el: etree._Element, label: str) -> Organ:
    return Organ(
        organ_id=_req(el, "OrganId", f"{label}/OrganId"),
        organ_name=_req(el, "OrganName", f"{label}/OrganName"),
        organ_add=_text(el, "OrganAdd", "", required=False),
        email=_text(el, "Email", "", required=False),
        telephone=_text(el, "Telephone", "", required=False),
    )


def _child(parent: etree._Element, tag: str, label: str) -> etree._Element:
    el = parent.find(_q(tag))
    if el is None:
        raise _structure(f"Thiếu phần tử bắt buộc {label}.")
    return el


def _parse_root(root: etree._Element) -> Message:
    header = _child(root, "edXMLHeader", "edXMLHeader")
    if header.find(_q("Status")) is not None:
        message: Message = _parse_status_el(header.find(_q("Status")))  # type: ignore[arg-type]
    else:
        message = _parse_document(root, header)
    validate(message)
    return message


def _parse_document(root: etree._Element, header: etree._Element) -> Document:
    mh = _child(header, "MessageHeader", "MessageHeader")
    from_organ = _organ(_child(mh, "From", "MessageHeader/From"), "From")
    to = [_organ(el, "To") for el in mh.findall(_q("To"))]
    if not to:
        raise _structure("Thiếu phần tử bắt buộc MessageHeader/To.")
    code = Code(_req(mh, "Code/CodeNumber", "Code/CodeNumber"), _req(mh, "Code/CodeNotation", "Code/CodeNotation"))
    prom_date = _date(_req(mh, "PromulgationInfo/PromulgationDate", "PromulgationInfo/PromulgationDate"),
                      "Ngày ban hành")
    assert prom_date is not None
    promulgation = PromulgationInfo(_req(mh, "PromulgationInfo/Place", "PromulgationInfo/Place"), prom_date)
    dtype = DocumentType(_int(_req(mh, "DocumentType/Type", "DocumentType/Type"), "Loại văn bản") or 0,
                         _text(mh, "DocumentType/TypeName", "", required=False) or "")
    signer_el = _child(mh, "SignerInfo", "SignerInfo")
    signer = SignerInfo(_text(signer_el, "Competence", "", required=False) or "",
                        _text(signer_el, "Position", "", required=False) or "",
                        _req(signer_el, "FullName", "SignerInfo/FullName"))
    other_el = _child(mh, "OtherInfo", "OtherInfo")
    other = OtherInfo(
        priority=_int(_req(other_el, "Priority", "OtherInfo/Priority"), "Độ khẩn (Priority)") or 0,
        sphere_of_promulgation=_text(other_el, "SphereOfPromulgation", "", required=False),
        typer_notation=_text(other_el, "TyperNotation", "", required=False),
        promulgation_amount=_int(_text(other_el, "PromulgationAmount", "", required=False), "Số bản phát hành"),
        page_amount=_int(_text(other_el, "PageAmount", "", required=False), "Số trang"),
        appendixes=[(el.text or "").strip() for el in other_el.findall(f"{_q('Appendixes')}/{_q('Appendix')}")],
    )
    trace: list[TraceHeader] = []
    business = Business()
    trace_list = header.find(_q("TraceHeaderList"))
    if trace_list is not None:
        for th in trace_list.findall(_q("TraceHeader")):
            trace.append(TraceHeader(_req(th, "OrganId", "TraceHeader/OrganId"),
                                     _timestamp(_req(th, "Timestamp", "TraceHeader/Timestamp"), "Thời điểm vết")))
        bus = trace_list.find(_q("Bussiness"))
        if bus is not None:
            business = Business(
                _int(_req(bus, "BussinessDocType", "Bussiness/BussinessDocType"), "Loại nghiệp vụ") or 0,
                _text(bus, "BussinessDocReason", "", required=False))
    body = root.find(_q("edXMLBody"))
    attachments = _parse_attachments(body) if body is not None else []
    business_data = None
    if body is not None:
        bd = body.find(f"{{{MC_NS}}}BusinessData")
        if bd is not None:
            try:
                business_data = json.loads(bd.text or "")
            except ValueError:
                raise _structure("Dữ liệu nghiệp vụ (BusinessData) không phải JSON hợp lệ.") from None
            if not isinstance(business_data, dict):
                raise _structure("Dữ liệu nghiệp vụ (BusinessData) phải là một đối tượng JSON.")
    return Document(
        from_organ=from_organ, to=to, code=code, promulgation=promulgation, subject=_req(mh, "Subject", "Subject"),
        signer=signer, document_type=dtype, content=_text(mh, "Content", "", required=False),
        due_date=_date(_text(mh, "DueDate", "", required=False), "Hạn xử lý (DueDate)"), other=other,
        steering_type=_int(_req(mh, "SteeringType", "SteeringType"), "Kiểu chỉ đạo (SteeringType)") or 0,
        document_id=_req(mh, "DocumentId", "DocumentId"), trace=trace, business=business,
        attachments=attachments, business_data=business_data,
    )


def _parse_attachments(body: etree._Element) -> list[Attachment]:
    manifest = body.find(_q("edXMLManifest"))
    refs = manifest.findall(_q("Reference")) if manifest is not None else []
    values: dict[str, str] = {}
    encoded = body.find(_q("AttachmentEncodedList"))
    if encoded is not None:
        for el in encoded.findall(_q("Attachment")):
            cid = el.get("ContentId") or ""
            if not cid or cid in values:
                raise _structure("Tệp đính kèm thiếu ContentId hoặc ContentId bị trùng.")
            values[cid] = _text(el, "Value", f"Attachment[{cid}]/Value", required=False) or ""
    result: list[Attachment] = []
    seen: set[str] = set()
    for ref in refs:
        cid = _req(ref, "ContentId", "Reference/ContentId").removeprefix("cid:")
        if cid not in values:
            raise _structure(f"Danh mục tệp đính kèm nêu '{cid}' nhưng không có nội dung tệp.")
        try:
            data = base64.b64decode(values[cid], validate=True)
        except (binascii.Error, ValueError):
            raise _structure(f"Nội dung tệp đính kèm '{cid}' không phải base64 hợp lệ.") from None
        seen.add(cid)
        result.append(Attachment(name=_req(ref, "AttachmentName", "Reference/AttachmentName"),
                                 content_type=_req(ref, "ContentType", "Reference/ContentType"),
                                 data=data, description=_text(ref, "Description", "", required=False)))
    extra = set(values) - seen
    if extra:
        raise _structure(f"Tệp đính kèm không có trong danh mục (edXMLManifest): {', '.join(sorted(extra))}.")
    return result


def _parse_status_el(st: etree._Element) -> StatusMessage:
    to = [_organ(el, "To") for el in st.findall(_q("To"))]
    if not to:
        raise _structure("Thiếu phần tử bắt buộc Status/To.")
    staff = None
    si = st.find(_q("StaffInfo"))
    if si is not None:
        staff = StaffInfo(*(_text(si, tag, "", required=False) for tag in ("Department", "Staff", "Mobile", "Email")))
    code = _req(st, "StatusCode", "StatusCode")
    return StatusMessage(
        from_organ=_organ(_child(st, "From", "Status/From"), "From"),
        to=to,
        status_code=code,
        document_id=_req(st, "ResponseFor/DocumentId", "ResponseFor/DocumentId"),
        description=_text(st, "Description", "", required=False) or "",
        timestamp=_timestamp(_req(st, "Timestamp", "Status/Timestamp"), "Thời điểm trạng thái"),
        staff=staff,
    )


def parse(xml_bytes: bytes) -> Message:
    """Parse and validate an edXML document or status (signature NOT checked: use `receive` for input)."""
    return _parse_root(safe_fromstring(xml_bytes))


def parse_status(xml_bytes: bytes) -> StatusMessage:
    """Parse a status message; anything else is EdxmlError("structure")."""
    message = parse(xml_bytes)
    if not isinstance(message, StatusMessage):
        raise _structure("Thông điệp không phải thông điệp trạng thái (Status).")
    return message


def receive(xml_bytes: bytes, ca_cert_pem: bytes) -> Message:
    """Verify, then parse the verified bytes; the signer's certificate must carry the From organ's code."""
    from connectors.pki import agency_code_of

    verified, cert = _verify(xml_bytes, ca_cert_pem)
    message = parse(verified)
    signer_code = agency_code_of(cert)
    if signer_code != message.from_organ.organ_id:
        raise EdxmlError("signature", f"Chứng thư ký số thuộc cơ quan '{signer_code}', không phải cơ quan gửi "
                                      f"'{message.from_organ.organ_id}'.")
    return message


def recipients_of(xml_bytes: bytes) -> list[str]:
    """The To organ ids of a document or status (parsed safely, not validated, signature not checked)."""
    root = safe_fromstring(xml_bytes)
    ids: list[str] = []
    for path in ("edXMLHeader/MessageHeader/To/OrganId", "edXMLHeader/Status/To/OrganId"):
        for el in root.iterfind("/".join(_q(p) for p in path.split("/"))):
            value = (el.text or "").strip()
            if value and value not in ids:
                ids.append(value)
    return ids


def _loose_header(raw: bytes) -> tuple[str | None, str | None]:
    """(From organ id, DocumentId) read from possibly-invalid XML, for refusals; (None, None) when unreadable."""
    try:
        root = safe_fromstring(raw)
    except EdxmlError:
        return None, None
    sender = document_id = None
    for path in ("edXMLHeader/MessageHeader/From/OrganId", "edXMLHeader/Status/From/OrganId"):
        el = root.find("/".join(_q(p) for p in path.split("/")))
        if el is not None and el.text:
            sender = el.text.strip()
    for path in ("edXMLHeader/MessageHeader/DocumentId", "edXMLHeader/Status/ResponseFor/DocumentId"):
        el = root.find("/".join(_q(p) for p in path.split("/")))
        if el is not None and el.text:
            document_id = el.text.strip()
    return sender, document_id


def refusal_for(message_or_raw: Message | bytes, error: EdxmlError | str, our_organ: Organ, *,
                sender: str | None = None) -> StatusMessage:
    """The status 02 (refused) answering a message we could not accept.

    `message_or_raw` is the parsed message or the raw bytes as received (read leniently for the sender and the
    DocumentId; `sender`, e.g. the axis' `from`, overrides). Raises EdxmlError("structure") if no sender or
    DocumentId can be found — nobody to refuse to.
    """
    if isinstance(message_or_raw, (Document, StatusMessage)):
        sender_organ: Organ | None = message_or_raw.from_organ
        document_id: str | None = message_or_raw.document_id
    else:
        loose_sender, document_id = _loose_header(message_or_raw)
        code = sender or loose_sender
        sender_organ = Organ(code, code) if code else None
    if sender is not None and (sender_organ is None or sender_organ.organ_id != sender):
        sender_organ = Organ(sender, sender)
    if sender_organ is None or not AGENCY_RE.match(sender_organ.organ_id or ""):
        raise _structure("Không xác định được cơ quan gửi để trả lời từ chối.")
    if not document_id or not DOCUMENT_ID_RE.match(document_id):
        raise _structure("Không xác định được mã định danh văn bản để trả lời từ chối.")
    reason = error.message if isinstance(error, EdxmlError) else str(error)
    return StatusMessage(from_organ=our_organ, to=[sender_organ], status_code="02", document_id=document_id,
                         description=f"{STATUS_CODES['02']}: {reason}"[:2000])


# --------------------------------------------------------------------------------------------- JSON form


def _iso(value: dt.date | dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _to_date(value: Any, label: str) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.date):
        return value
    text = str(value).replace("/", "-")
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise _structure(f"{label} '{value}' không phải ngày hợp lệ (yyyy-MM-dd).") from None


def _to_datetime(value: Any, label: str) -> dt.datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value
    text = str(value)
    if re.fullmatch(r"\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}", text):
        return _timestamp(text, label)
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise _structure(f"{label} '{value}' không phải thời điểm hợp lệ.") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(VN_TZ).replace(tzinfo=None)
    return parsed


def _organ_dict(organ: Organ) -> dict[str, Any]:
    return {"organ_id": organ.organ_id, "organ_name": organ.organ_name, "organ_add": organ.organ_add,
            "email": organ.email, "telephone": organ.telephone}


def _organ_from(value: Any, label: str) -> Organ:
    if not isinstance(value, dict):
        raise _structure(f"{label} phải là đối tượng cơ quan {{organ_id, organ_name, …}}.")
    return Organ(organ_id=str(value.get("organ_id") or ""), organ_name=str(value.get("organ_name") or ""),
                 organ_add=value.get("organ_add"), email=value.get("email"), telephone=value.get("telephone"))


def message_to_dict(message: Message) -> dict[str, Any]:
    """The JSON-able form of a message (dates ISO, attachment bytes base64): what the outbox stores."""
    if isinstance(message, StatusMessage):
        return {
            "kind": "status", "from": _organ_dict(message.from_organ), "to": [_organ_dict(o) for o in message.to],
            "status_code": message.status_code, "document_id": message.document_id,
            "description": message.description, "timestamp": _iso(message.timestamp),
            "staff": None if message.staff is None else {
                "department": message.staff.department, "staff": message.staff.staff,
                "mobile": message.staff.mobile, "email": message.staff.email},
        }
    return {
        "kind": "document",
        "from": _organ_dict(message.from_organ),
        "to": [_organ_dict(o) for o in message.to],
        "code": {"code_number": message.code.code_number, "code_notation": message.code.code_notation},
        "promulgation": {"place": message.promulgation.place,
                         "promulgation_date": _iso(message.promulgation.promulgation_date)},
        "document_type": {"type": message.document_type.type, "type_name": message.document_type.type_name},
        "subject": message.subject,
        "content": message.content,
        "signer": {"competence": message.signer.competence, "position": message.signer.position,
                   "full_name": message.signer.full_name},
        "due_date": _iso(message.due_date),
        "other": {"priority": message.other.priority,
                  "sphere_of_promulgation": message.other.sphere_of_promulgation,
                  "typer_notation": message.other.typer_notation,
                  "promulgation_amount": message.other.promulgation_amount,
                  "page_amount": message.other.page_amount, "appendixes": list(message.other.appendixes)},
        "steering_type": message.steering_type,
        "document_id": message.document_id,
        "trace": [{"organ_id": t.organ_id, "timestamp": _iso(t.timestamp)} for t in message.trace],
        "business": {"business_doc_type": message.business.business_doc_type,
                     "business_doc_reason": message.business.business_doc_reason},
        "attachments": [{"name": a.name, "content_type": a.content_type, "description": a.description,
                         "data_base64": base64.b64encode(a.data).decode("ascii")} for a in message.attachments],
        "business_data": message.business_data,
    }


def message_from_dict(data: dict[str, Any]) -> Message:
    """The inverse of `message_to_dict` (kind "document" by default); validated. Raises EdxmlError("structure")."""
    if not isinstance(data, dict):
        raise _structure("Dữ liệu thông điệp phải là một đối tượng JSON.")
    try:
        message = _message_from_dict(data)
    except EdxmlError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise _structure(f"Dữ liệu thông điệp thiếu hoặc sai trường: {exc}") from None
    validate(message)
    return message


def _message_from_dict(data: dict[str, Any]) -> Message:
    to = data.get("to") or []
    if isinstance(to, dict):
        to = [to]
    recipients = [_organ_from(o, "to") for o in to]
    if data.get("kind", "document") == "status":
        staff = data.get("staff")
        return StatusMessage(
            from_organ=_organ_from(data.get("from"), "from"), to=recipients,
            status_code=str(data.get("status_code", "")), document_id=str(data.get("document_id", "")),
            description=data.get("description") or "",
            timestamp=_to_datetime(data.get("timestamp"), "timestamp"),
            staff=StaffInfo(**staff) if isinstance(staff, dict) else None)
    if data.get("kind", "document") != "document":
        raise _structure(f"Loại thông điệp '{data.get('kind')}' không hợp lệ (document hoặc status).")
    prom = data["promulgation"]
    other = data.get("other") or {}
    dtype = data.get("document_type") or {}
    business = data.get("business") or {}
    promulgation_date = _to_date(prom.get("promulgation_date"), "promulgation_date")
    if promulgation_date is None:
        raise _structure("Thiếu ngày ban hành (promulgation_date).")
    attachments = []
    for att in data.get("attachments") or []:
        try:
            raw = base64.b64decode(att.get("data_base64") or "", validate=True)
        except (binascii.Error, ValueError):
            raise _structure(f"Tệp đính kèm '{att.get('name')}' không phải base64 hợp lệ.") from None
        attachments.append(Attachment(name=att["name"], content_type=att.get("content_type") or
                                      "application/octet-stream", data=raw, description=att.get("description")))
    return Document(
        from_organ=_organ_from(data.get("from"), "from"),
        to=recipients,
        code=Code(str(data["code"]["code_number"]), str(data["code"]["code_notation"])),
        promulgation=PromulgationInfo(prom.get("place") or "", promulgation_date),
        subject=data.get("subject") or "",
        signer=SignerInfo(**{k: data["signer"].get(k) or "" for k in ("competence", "position", "full_name")}),
        document_type=DocumentType(int(dtype.get("type", 2)), dtype.get("type_name") or "Công văn"),
        content=data.get("content"),
        due_date=_to_date(data.get("due_date"), "due_date"),
        other=OtherInfo(priority=int(other.get("priority", 0)),
                        sphere_of_promulgation=other.get("sphere_of_promulgation"),
                        typer_notation=other.get("typer_notation"),
                        promulgation_amount=other.get("promulgation_amount"),
                        page_amount=other.get("page_amount"),
                        appendixes=list(other.get("appendixes") or [])),
        steering_type=int(data.get("steering_type", 1)),
        document_id=data.get("document_id") or "",
        trace=[TraceHeader(t["organ_id"], _to_datetime(t["timestamp"], "trace.timestamp") or _now())
               for t in data.get("trace") or []],
        business=Business(int(business.get("business_doc_type", 0)), business.get("business_doc_reason")),
        attachments=attachments,
        business_data=data.get("business_data"),
    )
