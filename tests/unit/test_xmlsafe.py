"""Safe XML parsing of untrusted BPMN uploads (app.engine.xmlsafe).

The integration test that feeds `parse_xml` into SpiffWorkflow's parser lives in
tests/unit/test_engine_sandbox.py: only test_engine*.py files may import SpiffWorkflow.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from app.engine import xmlsafe
from app.engine.xmlsafe import MAX_XML_BYTES, UnsafeXmlError, XmlSyntaxError, parse_xml

DOCTYPE_MESSAGE = "Tệp BPMN chứa khai báo DOCTYPE/ENTITY, không được phép vì lý do an toàn."
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"

MINIMAL_BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="defs" targetNamespace="http://bpmn.io/schema/bpmn">
  <!-- comments are kept: editors put notes in them -->
  <bpmn:process id="thu_tuc" name="Cấp giấy phép" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="end" />
    <bpmn:endEvent id="end"><bpmn:incoming>f1</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>
"""

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<lolz a="&lol9;">&lol9;</lolz>
"""

XXE_PASSWD = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<r>&xxe;</r>
"""


# --------------------------------------------------------------------------- fixtures


class _Recorder(BaseHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
        type(self).requests.append(self.path)
        body = b"<!ENTITY % all \"<!ENTITY send SYSTEM 'http://127.0.0.1/leak'>\">"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        return


@pytest.fixture
def http_server() -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server that records every request: proof that nothing is fetched.

    The libxml2 bundled with lxml 6.1 has no HTTP client at all; `no_network=True` keeps us safe on
    builds that still have one, and these tests would catch a regression there.
    """
    recorder = type("Recorder", (_Recorder,), {"requests": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", recorder.requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def secret_file(tmp_path: Path) -> tuple[Path, str]:
    secret = "TOP-SECRET-7f3a9c"
    path = tmp_path / "secret.txt"
    path.write_text(secret, encoding="utf-8")
    return path, secret


@pytest.fixture
def without_precheck(monkeypatch: pytest.MonkeyPatch) -> None:
    """Disable the raw-text DOCTYPE scan, to prove the parser and the post-parse check hold on their own."""
    monkeypatch.setattr(xmlsafe, "_check_no_declarations", lambda data: None)


# --------------------------------------------------------------------------- accepted documents


def test_normal_bpmn_parses_to_its_root_element() -> None:
    root = parse_xml(MINIMAL_BPMN.encode("utf-8"))
    assert root.tag == f"{{{BPMN_NS}}}definitions"
    process = root.find(f"{{{BPMN_NS}}}process")
    assert process is not None and process.get("name") == "Cấp giấy phép"
    assert len(root.xpath("//comment()")) == 1  # remove_comments=False


def test_str_with_encoding_declaration_is_accepted() -> None:
    # lxml refuses str input that declares an encoding; parse_xml handles it.
    root = parse_xml(MINIMAL_BPMN)
    assert root.find(f"{{{BPMN_NS}}}process").get("name") == "Cấp giấy phép"


def test_str_declaring_another_encoding_keeps_its_text() -> None:
    text = '<?xml version="1.0" encoding="ISO-8859-1"?><a>Hồ sơ é</a>'
    assert parse_xml(text).text == "Hồ sơ é"


def test_bytes_in_latin1_and_utf16_are_accepted() -> None:
    latin1 = '<?xml version="1.0" encoding="ISO-8859-1"?><a>é</a>'.encode("latin-1")
    assert parse_xml(latin1).text == "é"
    utf16 = '<?xml version="1.0" encoding="UTF-16"?><a>Hồ sơ</a>'.encode("utf-16")
    assert parse_xml(utf16).text == "Hồ sơ"


# --------------------------------------------------------------------------- refused documents


def test_billion_laughs_is_refused() -> None:
    with pytest.raises(UnsafeXmlError) as info:
        parse_xml(BILLION_LAUGHS)
    assert info.value.message == DOCTYPE_MESSAGE
    assert str(info.value) == DOCTYPE_MESSAGE
    assert info.value.line == 2


def test_external_entity_to_etc_passwd_is_refused() -> None:
    with pytest.raises(UnsafeXmlError, match="DOCTYPE/ENTITY"):
        parse_xml(XXE_PASSWD)


def test_external_parameter_entity_is_refused(http_server: tuple[str, list[str]]) -> None:
    base, requests = http_server
    doc = f"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY % remote SYSTEM "{base}/evil.dtd"> %remote; %all;]>
<r>&send;</r>""".encode()
    with pytest.raises(UnsafeXmlError):
        parse_xml(doc)
    assert requests == []


def test_doctype_only_file_is_refused_as_unsafe_not_as_syntax() -> None:
    with pytest.raises(UnsafeXmlError) as info:
        parse_xml(b"<!DOCTYPE html>")
    assert info.value.message == DOCTYPE_MESSAGE


@pytest.mark.parametrize(
    "doc",
    [
        b"<!doctype r><r/>",
        b"<r/>\n<!DoCtYpE r>",
        b"<!ENTITY x 'y'><r/>",
        b'<?xml version="1.0"?>\n\n<!DOCTYPE r SYSTEM "r.dtd"><r/>',
        "<!DOCTYPE r><r/>",
    ],
)
def test_any_doctype_or_entity_spelling_is_refused(doc: bytes | str) -> None:
    with pytest.raises(UnsafeXmlError, match="DOCTYPE/ENTITY"):
        parse_xml(doc)


def test_doctype_line_is_reported() -> None:
    with pytest.raises(UnsafeXmlError) as info:
        parse_xml(b'<?xml version="1.0"?>\n\n<!DOCTYPE r SYSTEM "r.dtd"><r/>')
    assert info.value.line == 3


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_doctype_hidden_in_a_wide_encoding_is_refused(encoding: str) -> None:
    doc = '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x "y">]><r>&x;</r>'.encode(encoding)
    with pytest.raises(UnsafeXmlError):
        parse_xml(doc)


def test_unusual_declared_encoding_is_refused() -> None:
    # In UTF-7, '<!DOCTYPE' can be written without a literal '<'.
    doc = b'<?xml version="1.0" encoding="UTF-7"?>+ADw-!DOCTYPE r+AD4-<r/>'
    with pytest.raises(UnsafeXmlError, match="UTF-7"):
        parse_xml(doc)


def test_oversized_input_is_refused_before_parsing() -> None:
    big = b"<r>" + b"a" * MAX_XML_BYTES + b"</r>"
    with pytest.raises(UnsafeXmlError, match="quá lớn"):
        parse_xml(big)
    with pytest.raises(UnsafeXmlError, match="quá lớn"):
        parse_xml(big.decode("ascii"))


def test_oversized_after_utf8_encoding_is_refused() -> None:
    # Fewer characters than the limit, more bytes: the limit is on bytes.
    text = "<r>" + "ệ" * (MAX_XML_BYTES // 3 + 10) + "</r>"
    assert len(text) < MAX_XML_BYTES
    with pytest.raises(UnsafeXmlError):
        parse_xml(text)


# --------------------------------------------------------------------------- syntax errors


def test_syntax_error_has_vietnamese_message_and_line() -> None:
    with pytest.raises(XmlSyntaxError) as info:
        parse_xml(b"<a>\n<b>\n</a>")
    assert info.value.line == 3
    assert info.value.message.startswith("Tệp không phải XML hợp lệ (dòng 3): ")
    assert str(info.value) == info.value.message


@pytest.mark.parametrize("doc", [b"", b"   ", b"not xml", b"<a>", "<a>&undefined;</a>"])
def test_malformed_documents_raise_xml_syntax_error(doc: bytes | str) -> None:
    with pytest.raises(XmlSyntaxError, match="^Tệp không phải XML hợp lệ"):
        parse_xml(doc)


def test_both_errors_are_value_errors() -> None:
    assert issubclass(UnsafeXmlError, ValueError)
    assert issubclass(XmlSyntaxError, ValueError)


# --------------------------------------------------------------------------- defence in depth


def test_hardened_parser_alone_does_not_read_files(secret_file: tuple[Path, str]) -> None:
    path, secret = secret_file
    doc = f'<!DOCTYPE r [<!ENTITY x SYSTEM "{path.as_uri()}">]><r>&x;</r>'.encode()
    root = etree.fromstring(doc, xmlsafe._make_parser())
    assert secret not in etree.tostring(root, encoding="unicode")
    assert root.text is None  # the entity stays an unexpanded reference


def test_hardened_parser_alone_ignores_external_parameter_entities(tmp_path: Path) -> None:
    dtd = tmp_path / "evil.dtd"
    dtd.write_text('<!ENTITY leak "TOP-SECRET-dtd">', encoding="utf-8")
    doc = f'<!DOCTYPE r [<!ENTITY % p SYSTEM "{dtd.as_uri()}"> %p;]><r>&leak;</r>'.encode()
    try:
        root = etree.fromstring(doc, xmlsafe._make_parser())
    except etree.XMLSyntaxError:
        return  # refusing is as good as not loading
    assert "TOP-SECRET-dtd" not in etree.tostring(root, encoding="unicode")


def test_permissive_parser_would_leak(secret_file: tuple[Path, str]) -> None:
    # Control for the tests above: the same document does leak through a permissive parser, so an
    # absent secret there means the hardening worked, not that the test cannot see a leak.
    path, secret = secret_file
    doc = f'<!DOCTYPE r [<!ENTITY x SYSTEM "{path.as_uri()}">]><r>&x;</r>'.encode()
    permissive = etree.XMLParser(resolve_entities=True, load_dtd=True)
    assert etree.fromstring(doc, permissive).text == secret


def test_post_parse_check_refuses_what_the_scan_missed(without_precheck: None, secret_file: tuple[Path, str]) -> None:
    path, secret = secret_file
    doc = f'<!DOCTYPE r [<!ENTITY x SYSTEM "{path.as_uri()}">]><r>&x;</r>'.encode()
    with pytest.raises(UnsafeXmlError) as info:
        parse_xml(doc)
    assert secret not in str(info.value)
    with pytest.raises(UnsafeXmlError):
        parse_xml(b"<!DOCTYPE r><r/>")


def test_post_parse_check_refuses_billion_laughs(without_precheck: None) -> None:
    with pytest.raises((UnsafeXmlError, XmlSyntaxError)):
        parse_xml(BILLION_LAUGHS)


def test_no_network_access_even_without_the_scan(without_precheck: None, http_server: tuple[str, list[str]]) -> None:
    base, requests = http_server
    docs = [
        f'<!DOCTYPE r SYSTEM "{base}/external.dtd"><r/>',
        f'<!DOCTYPE r [<!ENTITY % p SYSTEM "{base}/param.dtd"> %p;]><r/>',
        f'<!DOCTYPE r [<!ENTITY e SYSTEM "{base}/entity.xml">]><r>&e;</r>',
    ]
    for doc in docs:
        with pytest.raises((UnsafeXmlError, XmlSyntaxError)):
            parse_xml(doc.encode())
    assert requests == []


def test_http_server_fixture_does_record_requests(http_server: tuple[str, list[str]]) -> None:
    # Guards the proof above: the recorder really sees a request when one is made.
    from urllib.request import urlopen

    base, requests = http_server
    with urlopen(f"{base}/probe") as response:  # noqa: S310 - local test server
        response.read()
    assert requests == ["/probe"]


# --------------------------------------------------------------------------- fuzzing


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300)))
def test_arbitrary_input_only_raises_our_errors(data: bytes | str) -> None:
    try:
        root = parse_xml(data)
    except (UnsafeXmlError, XmlSyntaxError):
        return
    assert isinstance(root, etree._Element)


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Cn", "Co")), max_size=50))
def test_text_content_round_trips(text: str) -> None:
    from xml.sax.saxutils import escape

    root = parse_xml(f"<a>{escape(text)}</a>")
    assert (root.text or "") == text
