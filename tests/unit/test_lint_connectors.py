"""The linter and partners: connector operations are checked, partner messages are known to arrive, and the
variable a message catch event fills (`spiffworkflow:messageVariable` in its definition) can be read after it."""

from __future__ import annotations

import json
from pathlib import Path

from app.designer.lint import lint

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "connectors"
FORMS = {p.name: json.loads(p.read_text(encoding="utf-8")) for p in (FIXTURES / "forms").glob("*.json")}


def codes(xml: str) -> list[tuple[str, str, str | None]]:
    return [(i.level, i.code, i.element) for i in lint(xml, FORMS).issues]


def test_partner_messages_are_not_reported_as_never_sent():
    found = codes((FIXTURES / "buu_chinh.bpmn").read_text(encoding="utf-8"))
    assert not [c for c in found if c[1] == "message-never-sent"]
    own = (FIXTURES / "buu_chinh.bpmn").read_text(encoding="utf-8").replace(
        'name="vnpost.delivery.failed"', 'name="tin_nhan_rieng"')
    assert ("warning", "message-never-sent", "GiaoLoi") in codes(own)


def test_the_variable_of_a_message_catch_event_is_known_after_it():
    xml = (FIXTURES / "buu_chinh_kiem_tra.bpmn").read_text(encoding="utf-8")
    assert not [c for c in codes(xml) if c[0] == "error"]
    wrong = xml.replace('buuChinh["status"] == 3', 'khongTonTai["status"] == 3')
    assert ("error", "condition-field", "F8a") in codes(wrong)


def test_unknown_connector_operations_are_refused():
    xml = (FIXTURES / "buu_chinh.bpmn").read_text(encoding="utf-8").replace("vnpost.create_order", "vnpost.gui_thu")
    assert ("error", "service-operator", "GuiBuuDien") in codes(xml)
