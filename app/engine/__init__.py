"""The engine facade: the only package that imports SpiffWorkflow.

The rest of the app speaks in compiled models (bytes + an outline dict), instances, and human tasks.

- `compile_bpmn(xml)` parses untrusted BPMN safely and returns the serialized spec and an outline
  (user tasks, lanes, forms, properties) that the app stores once per content hash.
- `start(model, data)` / `load(model, state)` give an `Instance`; `Instance.complete(task_id, data)`
  completes a human task and runs the engine on; `Instance.dump()` gives the compact state
  (the spec is *not* in it: it is stored once and cached per process by its key).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from lxml import etree
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.exceptions import SpiffWorkflowException, TaskNotFoundException, WorkflowException
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition as SpiffMessage
from SpiffWorkflow.util.task import TaskState

from .sandbox import ScriptError, make_script_engine
from .xmlsafe import UnsafeXmlError, XmlSyntaxError, parse_xml

__all__ = [
    "BpmnError",
    "EngineError",
    "TaskNotReady",
    "CompiledModel",
    "HumanTask",
    "Reached",
    "Instance",
    "compile_bpmn",
    "start",
    "load",
    "read_process_properties",
]

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NS = {"bpmn": BPMN_NS, "spiffworkflow": SPIFF_NS}
STATE_FORMAT = 1


class BpmnError(ValueError):
    """A BPMN file that cannot be deployed. `message` is Vietnamese; `element` the offending id."""

    def __init__(self, message: str, element: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.element = element
        self.line = line


class EngineError(RuntimeError):
    """The engine failed while running a dossier (a script, a condition, a broken model)."""

    def __init__(self, message: str, element: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.element = element


class TaskNotReady(EngineError):
    """The human task is not (or no longer) waiting: someone completed it first, or it was cancelled."""


@dataclass(frozen=True)
class CompiledModel:
    key: str  # content hash: the cache key of the deserialized spec
    process_id: str
    #: the serialized spec, or a function that loads it (called only when this process lacks the spec)
    compiled: bytes | Callable[[], bytes]
    outline: dict[str, Any]

    def compiled_bytes(self) -> bytes:
        return self.compiled() if callable(self.compiled) else self.compiled


@dataclass(frozen=True)
class HumanTask:
    id: str
    bpmn_id: str
    name: str
    lane: str | None
    properties: dict[str, str]
    documentation: str | None

    @property
    def form(self) -> str | None:
        return self.properties.get("formJsonSchemaFilename")

    @property
    def ui_form(self) -> str | None:
        return self.properties.get("formUiSchemaFilename")


@dataclass(frozen=True)
class Reached:
    """An element the engine ran through (or a human task that became ready)."""

    bpmn_id: str
    name: str
    kind: str
    properties: dict[str, str]
    at: float = field(default=0.0)


# --------------------------------------------------------------------------- serializer plumbing


def _spec_registry():
    return BpmnWorkflowSerializer.configure(SPIFF_CONFIG)


class StateConverter(BpmnWorkflowConverter):
    """Serializes a workflow *without* its spec: specs are stored once, by content hash."""

    def to_dict(self, workflow):  # type: ignore[override]
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct, spec=None, subprocess_specs=None):  # type: ignore[override]
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


_SPEC_REGISTRY = _spec_registry()
_STATE_REGISTRY = _spec_registry()
_STATE_CONVERTER = StateConverter(BpmnWorkflow, _STATE_REGISTRY)


class _SpecCache:
    """Deserialized specs per process, keyed by content hash (immutable, so always safe to share)."""

    def __init__(self, size: int = 128) -> None:
        self._items: OrderedDict[str, tuple[Any, dict[str, Any]]] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, model: CompiledModel) -> tuple[Any, dict[str, Any]]:
        with self._lock:
            hit = self._items.get(model.key)
            if hit is not None:
                self._items.move_to_end(model.key)
                return hit
        dct = json.loads(zlib.decompress(model.compiled_bytes()))
        spec = _SPEC_REGISTRY.restore(dct["spec"])
        subs = {name: _SPEC_REGISTRY.restore(s) for name, s in dct["subprocess_specs"].items()}
        with self._lock:
            self._items[model.key] = (spec, subs)
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return spec, subs


_SPECS = _SpecCache()


# --------------------------------------------------------------------------- compiling


def _property_dict(element: etree._Element) -> dict[str, str]:
    props: dict[str, str] = {}
    for prop in element.findall("bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property", NS):
        name = prop.get("name")
        if name:
            props[name] = prop.get("value", "")
    return props


def read_process_properties(root: etree._Element, process_id: str) -> dict[str, str]:
    """`spiffworkflow:property` values set on the process element itself (procedure metadata)."""
    for proc in root.iter(f"{{{BPMN_NS}}}process"):
        if proc.get("id") == process_id:
            return _property_dict(proc)
    return {}


def _choose_process(parser: SpiffBpmnParser, root: etree._Element, process_id: str | None) -> str:
    ids = parser.get_process_ids()
    if process_id:
        if process_id not in ids:
            raise BpmnError(f"Không tìm thấy quy trình thực thi được có mã '{process_id}'.", process_id)
        return process_id
    if not ids:
        raise BpmnError("Tệp không có quy trình nào được đánh dấu thực thi được (isExecutable=\"true\").")
    if len(ids) == 1:
        return ids[0]
    # several executable processes: the one a collaboration's participant names first, else the first
    for participant in root.iter(f"{{{BPMN_NS}}}participant"):
        ref = participant.get("processRef")
        if ref in ids:
            return ref
    return ids[0]


def _outline(spec: Any, subs: dict[str, Any], root: etree._Element, process_id: str) -> dict[str, Any]:
    elements: dict[str, dict[str, Any]] = {}
    start_props: dict[str, str] = {}
    for s in [spec, *subs.values()]:
        for ts in s.task_specs.values():
            bpmn_id = getattr(ts, "bpmn_id", None)
            if not bpmn_id:
                continue
            kind = type(ts).__name__
            props = dict((getattr(ts, "extensions", None) or {}).get("properties", {}))
            elements[bpmn_id] = {
                "name": ts.bpmn_name or "",
                "kind": kind,
                "lane": getattr(ts, "lane", None),
                "manual": bool(ts.manual),
                "properties": props,
                "documentation": getattr(ts, "documentation", None),
                "process": s.name,
            }
            if kind == "StartEvent" and s is spec and not start_props:
                start_props = props
    forms = sorted(
        {
            p[k]
            for e in elements.values()
            for p in [e["properties"]]
            for k in ("formJsonSchemaFilename", "formUiSchemaFilename")
            if p.get(k)
        }
    )
    return {
        "process_id": process_id,
        "name": spec.description or process_id,
        "process_properties": read_process_properties(root, process_id),
        "start_form": start_props.get("formJsonSchemaFilename"),
        "start_ui_form": start_props.get("formUiSchemaFilename"),
        "elements": elements,
        "lanes": sorted({e["lane"] for e in elements.values() if e["lane"]}),
        "forms": forms,
        "schema_forms": sorted({e["properties"]["formJsonSchemaFilename"] for e in elements.values()
                                if e["properties"].get("formJsonSchemaFilename")}),
    }


#: task spec names SpiffWorkflow uses itself; an element with such an id silently empties the spec
RESERVED_IDS = {"Start", "End", "Root"}


def _refuse_reserved_ids(root: etree._Element) -> None:
    process_ids = {p.get("id") for p in root.iter(f"{{{BPMN_NS}}}process")}
    for proc in root.iter(f"{{{BPMN_NS}}}process"):
        for el in proc.iter():
            el_id = el.get("id")
            if el is proc or not el_id or not isinstance(el.tag, str):
                continue
            if el_id in RESERVED_IDS or el_id in process_ids or el_id.endswith(".EndJoin"):
                raise BpmnError(f"Mã phần tử '{el_id}' trùng với tên dành riêng của bộ máy quy trình "
                                "hoặc với mã quy trình; hãy đổi mã phần tử.", el_id)


def compile_bpmn(xml: bytes | str, process_id: str | None = None, *, key: str | None = None) -> CompiledModel:
    """Parse BPMN safely (no DTD, no entities, no network), validate it, and serialize the spec.

    Raises `BpmnError` with a Vietnamese message for anything that stops it from running.
    """
    try:
        root = parse_xml(xml)
    except (UnsafeXmlError, XmlSyntaxError) as exc:
        raise BpmnError(str(exc), line=getattr(exc, "line", None)) from None
    if root.tag != f"{{{BPMN_NS}}}definitions":
        raise BpmnError("Tệp không phải BPMN 2.0: phần tử gốc phải là bpmn:definitions.")
    _refuse_reserved_ids(root)
    parser = SpiffBpmnParser(validator=VALIDATOR)
    try:
        parser.add_bpmn_xml(root, filename="model.bpmn")
        chosen = _choose_process(parser, root, process_id)
        spec = parser.get_spec(chosen)
        subs = parser.get_subprocess_specs(chosen)
    except BpmnError:
        raise
    except ValidationException as exc:
        element = getattr(exc, "id", None)
        line = getattr(exc, "line_number", None)
        raise BpmnError(f"BPMN không hợp lệ: {exc}", element=element, line=line) from None
    except (SpiffWorkflowException, KeyError, AttributeError, TypeError, ValueError) as exc:
        raise BpmnError(f"Không đọc được quy trình BPMN: {exc}") from None
    payload = {
        "spec": _SPEC_REGISTRY.convert(spec),
        "subprocess_specs": {name: _SPEC_REGISTRY.convert(s) for name, s in subs.items()},
    }
    compiled = zlib.compress(json.dumps(payload, separators=(",", ":")).encode(), 6)
    digest = key or hashlib.sha256(xml if isinstance(xml, bytes) else xml.encode()).hexdigest()
    return CompiledModel(key=digest, process_id=chosen, compiled=compiled, outline=_outline(spec, subs, root, chosen))


# --------------------------------------------------------------------------- running


ServiceHandler = Callable[[str, dict[str, Any], dict[str, Any]], Any]


class Instance:
    """One running dossier workflow. Not thread-safe; load, change, dump, within one request."""

    def __init__(self, workflow: BpmnWorkflow, service_handler: ServiceHandler | None = None) -> None:
        self._wf = workflow
        self._wf.script_engine = make_script_engine(service_handler)
        self.reached: list[Reached] = []

    # -- reading
    @property
    def is_completed(self) -> bool:
        return bool(self._wf.is_completed())

    @property
    def data(self) -> dict[str, Any]:
        """The process data as gateways see it: the last completed task's data, or the workflow's."""
        if self._wf.is_completed():
            return dict(self._wf.data)
        last = self._wf.last_task
        return dict(last.data) if last is not None else dict(self._wf.data)

    def human_tasks(self) -> list[HumanTask]:
        """Ready tasks that need a person (user, manual and plain tasks)."""
        out = []
        for task in self._wf.get_tasks(state=TaskState.READY, manual=True):
            ts = task.task_spec
            out.append(
                HumanTask(
                    id=str(task.id),
                    bpmn_id=ts.bpmn_id,
                    name=ts.bpmn_name or ts.bpmn_id,
                    lane=getattr(ts, "lane", None),
                    properties=dict((getattr(ts, "extensions", None) or {}).get("properties", {})),
                    documentation=getattr(ts, "documentation", None),
                )
            )
        return out

    def progress(self) -> dict[str, list[str]]:
        """Element ids done (in the order they finished, repeated for loops) and under way now."""
        done: list[tuple[float, str]] = []
        current: list[str] = []
        busy = TaskState.READY | TaskState.WAITING | TaskState.STARTED
        for task in self._wf.get_tasks():
            bpmn_id = getattr(task.task_spec, "bpmn_id", None)
            if not bpmn_id:
                continue
            if task.has_state(TaskState.COMPLETED):
                done.append((task.last_state_change, bpmn_id))
            elif task.has_state(busy):
                current.append(bpmn_id)
        return {"completed": [b for _, b in sorted(done)], "current": current}

    def waiting_timers(self) -> list[dict[str, Any]]:
        """Timers the workflow waits on: [{bpmn_id, name, due (UTC ISO)}]."""
        out = []
        for ev in self._wf.waiting_events():
            value = getattr(ev, "value", None)
            out.append({"bpmn_id": getattr(ev, "name", None), "event_type": ev.event_type, "due": value})
        return out

    def waiting_messages(self) -> list[str]:
        """Names of the messages the workflow waits for (receive tasks, message catch events)."""
        names: list[str] = []
        for task in self._wf.get_tasks(state=TaskState.WAITING):
            definition = getattr(task.task_spec, "event_definition", None)
            # an event-based gateway waits on several definitions at once
            for d in getattr(definition, "event_definitions", None) or [definition]:
                if isinstance(d, SpiffMessage) and d.name not in names:
                    names.append(d.name)
        return names

    # -- changing
    def deliver_message(self, name: str, payload: dict[str, Any]) -> bool:
        """Hand a partner's answer to the task waiting for message `name`, then run on.

        The payload lands in the waiting element's `messageVariable` (set it in the BPMN to read it).
        Returns False, changing nothing, when no element waits for that message now.
        """
        if name not in self.waiting_messages():
            return False
        # Spiff events match by class: the Spiff message class, not plain BPMN's (ENGINE-NOTES).
        self._wf.catch(BpmnEvent(SpiffMessage(name), payload=payload))
        self.run()
        return True

    def _record(self, task: Any) -> None:
        ts = task.task_spec
        bpmn_id = getattr(ts, "bpmn_id", None)
        if not bpmn_id:
            return
        props = dict((getattr(ts, "extensions", None) or {}).get("properties", {}))
        self.reached.append(Reached(bpmn_id, ts.bpmn_name or "", type(ts).__name__, props, time.time()))

    def run(self) -> None:
        """Run every automatic task until only human tasks or waits remain."""
        try:
            self._wf.do_engine_steps(did_complete_task=self._record)
        except ScriptError as exc:
            raise EngineError(str(exc)) from None
        except WorkflowException as exc:
            spec = getattr(getattr(exc, "task_spec", None), "bpmn_id", None)
            raise EngineError(f"Lỗi khi chạy quy trình tại bước '{spec or '?'}': {exc}", spec) from None
        for task in self._wf.get_tasks(state=TaskState.READY, manual=True):
            self._record(task)

    def complete(self, task_id: str, data: dict[str, Any]) -> Reached:
        """Complete a ready human task with form data, then run the engine on."""
        try:
            task = self._wf.get_task_from_id(UUID(task_id))
        except (ValueError, TaskNotFoundException):
            task = None
        if task is None or not task.has_state(TaskState.READY) or not task.task_spec.manual:
            raise TaskNotReady("Công việc không còn ở trạng thái chờ xử lý.")
        task.set_data(**data)
        try:
            task.run()
        except WorkflowException as exc:
            raise EngineError(f"Không hoàn thành được công việc: {exc}", task.task_spec.bpmn_id) from None
        ts = task.task_spec
        done = Reached(ts.bpmn_id, ts.bpmn_name or ts.bpmn_id, type(ts).__name__,
                       dict((getattr(ts, "extensions", None) or {}).get("properties", {})), time.time())
        self.run()
        return done

    def dump(self) -> bytes:
        """Compact state: zlib-compressed JSON of the task tree and data, without the spec."""
        _STATE_REGISTRY._encoder_mode = False
        dct = _STATE_REGISTRY.convert(self._wf)
        dct["_format"] = STATE_FORMAT
        return zlib.compress(json.dumps(dct, separators=(",", ":"), default=_json_default).encode(), 6)


def _json_default(value: Any) -> Any:
    # Task data is kept JSON-native by the sandbox; dates from scripts are the one common exception.
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")



def start(model: CompiledModel, data: dict[str, Any], service_handler: ServiceHandler | None = None) -> Instance:
    """A new instance whose start event receives the submission data, run up to its first wait."""
    spec, subs = _SPECS.get(model)
    wf = BpmnWorkflow(spec, subs)
    inst = Instance(wf, service_handler)
    for task in wf.get_tasks(state=TaskState.READY):
        task.set_data(**data)
    inst.run()
    return inst


def load(model: CompiledModel, state: bytes, service_handler: ServiceHandler | None = None) -> Instance:
    spec, subs = _SPECS.get(model)
    dct = json.loads(zlib.decompress(state))
    dct.pop("_format", None)
    dct.pop("typename", None)
    wf = _STATE_CONVERTER.from_dict(dct, spec=spec, subprocess_specs=subs)
    return Instance(wf, service_handler)


def element_ids(model: CompiledModel) -> Iterable[str]:
    return model.outline["elements"].keys()


# --------------------------------------------------------------------------- timers (used by app.jobs)


def _timer_due(task: Any) -> Any:
    """The UTC datetime a waiting timer task is due, or None (cycles, or not yet evaluated)."""
    from datetime import UTC, datetime

    value = task._get_internal_data("event_value")
    if not isinstance(value, str):
        return None
    try:
        due = datetime.fromisoformat(value)
    except ValueError:
        return None
    if due.tzinfo is None:
        due = due.replace(tzinfo=UTC)
    return due.astimezone(UTC)


def _timer_tasks(instance: Instance) -> list[Any]:
    from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

    out = []
    for task in list(instance._wf.event_manager.tasks.values()):
        definition = getattr(task.task_spec, "event_definition", None)
        if isinstance(definition, TimerEventDefinition) and task.has_state(TaskState.WAITING):
            out.append(task)
    return out


def pending_timers(instance: Instance) -> list[dict[str, Any]]:
    """Timers the workflow waits on: [{bpmn_id, name, due (aware UTC datetime)}], by element id."""
    out = []
    for task in _timer_tasks(instance):
        due = _timer_due(task)
        if due is None:
            continue
        ts = task.task_spec
        out.append({"bpmn_id": ts.bpmn_id, "name": ts.bpmn_name or ts.bpmn_id, "due": due})
    return out


def fire_due_timers(instance: Instance, now: Any) -> list[str]:
    """Fire every timer due at `now` (an aware datetime; may be ahead of the clock), then run the engine on.

    Returns the element ids of the timers fired. Elements reached are added to `instance.reached`.
    """
    fired = []
    for task in _timer_tasks(instance):
        due = _timer_due(task)
        if due is not None and due <= now:
            task._set_internal_data(event_fired=True)
            fired.append(task.task_spec.bpmn_id)
    if fired:
        try:
            instance._wf.refresh_timers()
        except WorkflowException as exc:
            raise EngineError(f"Lỗi khi kích hoạt hẹn giờ: {exc}") from None
        instance.run()
    return fired
