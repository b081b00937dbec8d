"""The engine facade: compile, run, dump/load; the state is compact and spec-free; bad models are refused."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import pytest

from app import engine

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "cap_the_thu_vien.bpmn"


@pytest.fixture(scope="module")
def model() -> engine.CompiledModel:
    return engine.compile_bpmn(FIXTURE.read_bytes())


def test_outline_names_forms_lanes_and_properties(model):
    o = model.outline
    assert o["process_id"] == "cap_the_thu_vien"
    assert o["start_form"] == "thu_vien_nop.json"
    assert o["schema_forms"] == ["thu_vien_nop.json", "thu_vien_tiep_nhan.json", "thu_vien_xu_ly.json"]
    assert o["process_properties"]["procedureCode"] == "9.999001"
    receive = o["elements"]["Receive"]
    assert receive["kind"] == "UserTask" and receive["lane"] == "BỘ PHẬN TIẾP NHẬN VÀ TRẢ KẾT QUẢ"
    assert receive["properties"]["dueInWorkingDays"] == "0.5"
    assert o["elements"]["Done"]["properties"]["dossierStatus"] == "10"


def test_run_route_and_round_trip(model):
    inst = engine.start(model, {"reader_name": "An"})
    [task] = inst.human_tasks()
    assert task.bpmn_id == "Receive" and task.form == "thu_vien_tiep_nhan.json"
    state = inst.dump()
    again = engine.load(model, state)
    [same] = again.human_tasks()
    assert same.id == task.id
    done = again.complete(task.id, {"decision": "accept"})
    assert done.bpmn_id == "Receive"
    reached = [r.bpmn_id for r in again.reached]
    assert reached[:2] == ["Decide", "Received"] and reached[-1] == "Process"
    assert again.data["decision"] == "accept" and again.data["reader_name"] == "An"
    [nxt] = again.human_tasks()
    again.complete(nxt.id, {"card_number": "TV000001"})
    assert again.is_completed
    assert [r.bpmn_id for r in again.reached][-1] == "Done"


def test_gateway_default_route(model):
    inst = engine.start(model, {})
    [task] = inst.human_tasks()
    inst.complete(task.id, {"decision": "refuse"})
    assert inst.is_completed and "Refused" in [r.bpmn_id for r in inst.reached]


def test_state_is_compact_and_does_not_carry_the_spec(model):
    inst = engine.start(model, {"reader_name": "An"})
    blob = inst.dump()
    dct = json.loads(zlib.decompress(blob))
    assert "spec" not in dct and "subprocess_specs" not in dct
    assert len(blob) < 3000, len(blob)


def test_completing_a_task_twice_or_an_unknown_task_fails(model):
    inst = engine.start(model, {})
    [task] = inst.human_tasks()
    inst.complete(task.id, {"decision": "refuse"})
    with pytest.raises(engine.TaskNotReady):
        inst.complete(task.id, {"decision": "accept"})
    with pytest.raises(engine.EngineError):
        inst.complete("not-a-uuid", {})


def test_doctype_and_entities_are_refused():
    evil = b"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">&x;</bpmn:definitions>"""
    with pytest.raises(engine.BpmnError) as err:
        engine.compile_bpmn(evil)
    assert "DOCTYPE" in err.value.message


def test_not_bpmn_and_not_xml_are_refused_clearly():
    with pytest.raises(engine.BpmnError, match="BPMN 2.0"):
        engine.compile_bpmn(b"<html/>")
    with pytest.raises(engine.BpmnError):
        engine.compile_bpmn(b"not xml at all")


def test_reserved_ids_are_refused():
    xml = FIXTURE.read_text(encoding="utf-8").replace("StartEvent_nop", "Start")
    with pytest.raises(engine.BpmnError) as err:
        engine.compile_bpmn(xml.encode())
    assert err.value.element == "Start"


def test_schema_violations_are_located():
    before = "<bpmn:incoming>F1</bpmn:incoming>\n      <bpmn:outgoing>F2"
    xml = FIXTURE.read_text(encoding="utf-8").replace(before, "<bpmn:bogus/>" + before)
    with pytest.raises(engine.BpmnError) as err:
        engine.compile_bpmn(xml.encode())
    assert "không hợp lệ" in err.value.message


@pytest.mark.parametrize("path", sorted((ROOT / "workflows").glob("*.bpmn")), ids=lambda p: p.stem)
def test_every_demo_workflow_compiles_with_lanes_and_forms(path):
    m = engine.compile_bpmn(path.read_bytes())
    assert m.outline["start_form"]
    human = [e for e in m.outline["elements"].values() if e["kind"] == "UserTask"]
    assert human and all(e["lane"] for e in human)
    for name in m.outline["forms"]:
        assert (ROOT / "forms" / name).is_file(), name


def test_progress_lists_the_path_taken_and_the_current_step(model):
    inst = engine.start(model, {})
    assert inst.progress() == {"completed": ["StartEvent_nop"], "current": ["Receive"]}
    [task] = inst.human_tasks()
    inst.complete(task.id, {"decision": "accept"})
    p = inst.progress()
    assert p["completed"] == ["StartEvent_nop", "Receive", "Decide", "Received"] and p["current"] == ["Process"]
