"""Safe parsing of untrusted BPMN/DMN/XML uploads.

SpiffWorkflow's own entry points (`add_bpmn_str`, `add_bpmn_file`) parse with lxml's default parser,
which expands entities and follows external DTDs: an upload could read host files (external entities)
or exhaust memory (billion laughs). Everything we hand to the parser goes through `parse_xml` instead:

- a size cap (`MAX_XML_BYTES`) before any parsing;
- a refusal of any DOCTYPE/ENTITY declaration, checked on the raw text *and* on the parsed tree;
- a hardened `lxml.etree.XMLParser`: no entity substitution, no DTD loading, no network, no huge trees;
- a whitelist of character encodings, so an exotic encoding (UTF-7, EBCDIC...) cannot hide a DOCTYPE
  from the raw-text check.

BPMN never needs a DTD, so refusing them costs nothing legitimate.
"""

from __future__ import annotations

import codecs
import re

from lxml import etree

__all__ = ["MAX_XML_BYTES", "UnsafeXmlError", "XmlSyntaxError", "parse_xml"]

MAX_XML_BYTES = 5 * 1024 * 1024

DOCTYPE_MESSAGE = "Tệp BPMN chứa khai báo DOCTYPE/ENTITY, không được phép vì lý do an toàn."

# Matched case-insensitively: XML itself is case-sensitive, but a lenient downstream tool might not be,
# and BPMN has no legitimate use for either declaration.
_DECLARATION_RE = re.compile(r"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_DECLARATION_RE_BYTES = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)

# The encoding pseudo-attribute of an XML declaration, read from an ASCII-compatible prefix.
_XML_DECL_ENCODING_RE = re.compile(
    rb"\A(?:\xef\xbb\xbf)?<\?xml[^>]*?\bencoding\s*=\s*([\"'])([A-Za-z0-9._:-]*)\1", re.DOTALL
)
_STR_XML_DECL_ENCODING_RE = re.compile(r"\A(\ufeff?<\?xml[^>]*?\bencoding\s*=\s*)([\"'])[A-Za-z0-9._:-]*\2", re.DOTALL)

# Encodings a BPMN editor can plausibly produce. Anything else (UTF-7, EBCDIC, ...) is refused because
# the raw-text DOCTYPE check could not see through it.
_ALLOWED_ENCODINGS = re.compile(
    r"\A(?:utf-?8|utf-?16(?:-?[lb]e)?|utf-?32(?:-?[lb]e)?|us-?ascii|ascii|latin-?1|iso-?8859-?\d{1,2}"
    r"|iso_8859-\d{1,2}|(?:windows|cp)-?125\d)\Z",
    re.IGNORECASE,
)

# Wide encodings, detected from the byte-order mark or from the first characters ('<' or '<?'),
# as in appendix F of the XML specification.
_WIDE_ENCODINGS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
    (b"<\x00\x00\x00", "utf-32-le"),
    (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00?\x00", "utf-16-le"),
    (b"\x00<\x00?", "utf-16-be"),
)


class UnsafeXmlError(ValueError):
    """The document is refused for safety (DOCTYPE/ENTITY declaration, size, encoding).

    `message` is Vietnamese and is also what `str()` returns; `line` is 1-based when known.
    """

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line

    def __str__(self) -> str:
        return self.message


class XmlSyntaxError(ValueError):
    """The document is not well-formed XML. `message` is Vietnamese; `line` is 1-based when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line

    def __str__(self) -> str:
        return self.message


def _make_parser() -> etree.XMLParser:
    """A parser that never substitutes entities, loads a DTD or touches the network.

    A new parser per call: lxml parsers keep per-document state and are not meant to be shared
    between threads, and building one costs microseconds.
    """
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=False,
    )


def _to_bytes(data: bytes | str) -> bytes:
    """Bytes for lxml. lxml refuses str input that carries an encoding declaration, and the declared
    encoding would be wrong once we encode to UTF-8 anyway, so it is rewritten to UTF-8."""
    if isinstance(data, bytes):
        return data
    if not isinstance(data, str):
        raise TypeError(f"parse_xml expects bytes or str, not {type(data).__name__}")
    # A cheap bound before encoding: a str longer than the byte limit can never fit in it.
    if len(data) > MAX_XML_BYTES:
        raise _too_large()
    text = _STR_XML_DECL_ENCODING_RE.sub(r'\1"UTF-8"', data, count=1)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:  # lone surrogates in the str
        raise XmlSyntaxError(f"Tệp không phải XML hợp lệ: ký tự không mã hóa được ({exc.reason}).") from None


def _too_large() -> UnsafeXmlError:
    return UnsafeXmlError(f"Tệp quá lớn: giới hạn là {MAX_XML_BYTES // (1024 * 1024)} MB cho một tệp BPMN.")


def _line_of(text: bytes | str, offset: int) -> int:
    newline = b"\n" if isinstance(text, bytes) else "\n"
    return text.count(newline, 0, offset) + 1  # type: ignore[arg-type]


def _scan_texts(data: bytes) -> list[bytes | str]:
    """The views of `data` that the DOCTYPE check must search.

    The raw bytes cover every ASCII-compatible encoding. A wide encoding (UTF-16/32) spreads '<!DOCTYPE'
    over NUL bytes, so it is decoded first; when the document has NUL bytes but no recognisable marker,
    every wide decoding is tried rather than guessing.
    """
    texts: list[bytes | str] = [data]
    head = data[:4]
    for marker, encoding in _WIDE_ENCODINGS:
        if head.startswith(marker):
            texts.append(data.decode(encoding, errors="ignore"))
            return texts
    if b"\x00" in data:
        for encoding in ("utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"):
            texts.append(data.decode(encoding, errors="ignore"))
    return texts


def _check_encoding(data: bytes) -> None:
    """Refuse declared encodings outside the whitelist (see `_ALLOWED_ENCODINGS`)."""
    match = _XML_DECL_ENCODING_RE.match(data[:512])
    if match is None:
        return
    declared = match.group(2).decode("ascii")
    if not _ALLOWED_ENCODINGS.match(declared):
        raise UnsafeXmlError(
            f"Bảng mã '{declared}' của tệp không được hỗ trợ; hãy lưu tệp BPMN với bảng mã UTF-8.", line=1
        )


def _check_no_declarations(data: bytes) -> None:
    """Refuse DOCTYPE/ENTITY declarations before lxml sees the document."""
    for text in _scan_texts(data):
        pattern = _DECLARATION_RE_BYTES if isinstance(text, bytes) else _DECLARATION_RE
        match = pattern.search(text)  # type: ignore[arg-type]
        if match is not None:
            raise UnsafeXmlError(DOCTYPE_MESSAGE, line=_line_of(text, match.start()))


def _check_parsed(root: etree._Element) -> None:
    """Second line of defence: whatever the raw-text scan missed, the parsed tree must have no DTD."""
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise UnsafeXmlError(DOCTYPE_MESSAGE, line=1)
    # An entity reference can only survive parsing (unexpanded) if an entity was declared somewhere.
    if next(root.iter(etree.Entity), None) is not None:
        raise UnsafeXmlError(DOCTYPE_MESSAGE)


def parse_xml(data: bytes | str) -> etree._Element:
    """Parse an untrusted XML document (a BPMN or DMN upload) and return its root element.

    Raises `UnsafeXmlError` for documents refused for safety (larger than `MAX_XML_BYTES`, any
    DOCTYPE/ENTITY declaration, an unsupported encoding) and `XmlSyntaxError` for malformed XML.
    The result can be handed to `SpiffBpmnParser.add_bpmn_xml`.
    """
    raw = _to_bytes(data)
    if len(raw) > MAX_XML_BYTES:
        raise _too_large()
    _check_encoding(raw)
    _check_no_declarations(raw)
    try:
        root = etree.fromstring(raw, _make_parser())
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if isinstance(exc.lineno, int) and exc.lineno > 0 else None
        detail = exc.msg or str(exc)
        where = f" (dòng {line})" if line else ""
        raise XmlSyntaxError(f"Tệp không phải XML hợp lệ{where}: {detail}", line=line) from None
    except (ValueError, LookupError) as exc:
        # lxml raises plain ValueError/LookupError for unknown encodings and similar input problems.
        raise XmlSyntaxError(f"Tệp không phải XML hợp lệ: {exc}") from None
    if root is None:  # pragma: no cover - fromstring only returns None in recover mode
        raise XmlSyntaxError("Tệp không phải XML hợp lệ: tài liệu rỗng.")
    _check_parsed(root)
    return root
