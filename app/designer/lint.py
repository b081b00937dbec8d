"""The process linter: every reason a model would not deploy, or would leave a dossier stuck.

`lint(xml, forms)` returns issues with a level (error refuses publishing; warning does not), a stable
code, the element's id and name, and a Vietnamese message. The same function serves the designer UI,
the deploy API and `flask workflows check`.

How it works, cheapest first, so that hostile uploads are refused fast:

1. bounds on the raw input (size), then the hardened XML parser (`app.engine.xmlsafe`: no DOCTYPE, no
   entities, no network), then bounds on the tree (elements, flow elements, nesting, path length);
2. an analysis of our own of the XML: ids, references, the graph of every (sub)process (reachability,
   dead ends, ways to an end event), gateways and their conditions, scripts and expressions (compiled,
   never run, through the sandbox's RestrictedPython path), timers (ISO 8601, bounded), events, lanes,
   forms and the procedure properties the application reads;
3. only when all of that passed, the engine itself (`engine.compile_bpmn`: BPMN XSD and SpiffWorkflow's
   parser), whose rare remaining complaints are translated and located.

No network, no file access, no database access except through the `lane_role` callback.
"""

from __future__ import annotations

import ast
import datetime as dt
import hashlib
import json
import math
import re
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from lxml import etree

from app import engine
from app.engine.sandbox import check_expression
from app.engine.xmlsafe import MAX_XML_BYTES, UnsafeXmlError, XmlSyntaxError, parse_xml
from app.schemaforms import check_schema
from app.schemaforms.schema import choices_of, deref, json_type, properties_of

__all__ = [
    "ERROR",
    "WARNING",
    "Issue",
    "LintReport",
    "form_references",
    "lint",
    "SANDBOX_BUILTINS",
]

ERROR, WARNING = "error", "warning"

BPMN_NS = engine.BPMN_NS
SPIFF_NS = engine.SPIFF_NS
_B = f"{{{BPMN_NS}}}"
_S = f"{{{SPIFF_NS}}}"

#: bounds for untrusted uploads (the byte bound is the XML parser's own)
MAX_BYTES = MAX_XML_BYTES
MAX_XML_ELEMENTS = 50_000
MAX_FLOW_ELEMENTS = 2_000
#: SpiffWorkflow parses a model recursively along its flows; about 490 steps in a row overflow
#: Python's stack, so longer chains are refused here with a clear message.
MAX_PATH_LENGTH = 250
MAX_NESTING = 20
MAX_EXPRESSION_CHARS = 10_000
MAX_SCRIPT_CHARS = 100_000
MAX_TOTAL_CODE_CHARS = 1_000_000
MAX_DUE_DAYS = 1_000
MAX_TIMER_SECONDS = 100 * 366 * 86_400
MIN_CYCLE_SECONDS = 60
MAX_CYCLE_REPEATS = 1_000
MAX_ISSUES_PER_CODE = 50

#: the builtins scripts and expressions may use in the sandbox (`app.engine.sandbox`); a test keeps
#: this list equal to the sandbox's own
SANDBOX_BUILTINS = frozenset({
    "abs", "all", "any", "bool", "date", "datetime", "dict", "enumerate", "filter", "float", "int", "len",
    "list", "map", "max", "min", "now", "range", "round", "set", "sorted", "str", "sum", "timedelta",
    "today", "tuple", "zip",
})

ACTIVITIES = frozenset({
    "task", "userTask", "manualTask", "scriptTask", "serviceTask", "sendTask", "receiveTask",
    "businessRuleTask", "callActivity", "subProcess", "transaction", "adHocSubProcess",
})
GATEWAYS = frozenset({"exclusiveGateway", "inclusiveGateway", "parallelGateway", "eventBasedGateway",
                      "complexGateway"})
EVENTS = frozenset({"startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent"})
FLOW_NODES = ACTIVITIES | GATEWAYS | EVENTS
CONTAINERS = frozenset({"subProcess", "transaction", "adHocSubProcess"})
HUMAN_TAGS = frozenset({"userTask", "manualTask", "task"})
CONDITIONAL_GATEWAYS = frozenset({"exclusiveGateway", "inclusiveGateway"})
#: kept for callers that used it: SpiffWorkflow's class names of the human task kinds
HUMAN_KINDS = {"UserTask", "ManualTask", "NoneTask"}

UNSUPPORTED_TAGS = {
    "complexGateway": "Cổng phức hợp (complex gateway) không được bộ máy quy trình hỗ trợ; hãy dùng cổng "
                      "loại trừ, bao hàm hoặc song song.",
    "adHocSubProcess": "Tiến trình con tùy biến (ad-hoc) không được hỗ trợ: không có cách nào chọn bước bên "
                       "trong để chạy, hồ sơ sẽ bị kẹt; hãy vẽ thành tiến trình con thường.",
    "businessRuleTask": "Tác vụ quy tắc nghiệp vụ (business rule task) cần bảng quyết định DMN, hệ thống chưa "
                        "hỗ trợ; hãy dùng tác vụ kịch bản (script task) hoặc cổng có điều kiện.",
}

_DEF_NAMES = {
    "messageEventDefinition": "message",
    "signalEventDefinition": "signal",
    "timerEventDefinition": "timer",
    "conditionalEventDefinition": "conditional",
    "errorEventDefinition": "error",
    "escalationEventDefinition": "escalation",
    "cancelEventDefinition": "cancel",
    "terminateEventDefinition": "terminate",
    "compensateEventDefinition": "compensate",
    "linkEventDefinition": "link",
}
_DEF_VI = {
    "message": "thông điệp", "signal": "tín hiệu", "timer": "hẹn giờ", "conditional": "điều kiện",
    "error": "lỗi", "escalation": "chuyển cấp", "cancel": "hủy", "terminate": "kết thúc ngay",
    "compensate": "bù trừ", "link": "liên kết",
}
#: event definitions SpiffWorkflow 3.2 reads, per event kind (anything else is silently dropped by it)
SUPPORTED_DEFS = {
    "startEvent": {"message", "signal", "timer", "conditional"},
    "endEvent": {"message", "cancel", "error", "escalation", "terminate"},
    "intermediateCatchEvent": {"message", "signal", "timer", "conditional"},
    "intermediateThrowEvent": {"escalation", "message", "signal"},
    "boundaryEvent": {"cancel", "error", "escalation", "message", "signal", "timer", "conditional"},
}
_KIND_VI = {
    "task": "bước", "userTask": "công việc", "manualTask": "công việc thủ công", "scriptTask": "tác vụ kịch bản",
    "serviceTask": "tác vụ dịch vụ", "sendTask": "tác vụ gửi", "receiveTask": "tác vụ nhận",
    "businessRuleTask": "tác vụ quy tắc", "callActivity": "bước gọi quy trình", "subProcess": "tiến trình con",
    "transaction": "giao dịch", "adHocSubProcess": "tiến trình con tùy biến",
    "exclusiveGateway": "cổng loại trừ", "inclusiveGateway": "cổng bao hàm", "parallelGateway": "cổng song song",
    "eventBasedGateway": "cổng sự kiện", "complexGateway": "cổng phức hợp",
    "startEvent": "sự kiện bắt đầu", "endEvent": "sự kiện kết thúc",
    "intermediateCatchEvent": "sự kiện chờ", "intermediateThrowEvent": "sự kiện phát",
    "boundaryEvent": "sự kiện biên",
}
RESERVED_SUFFIXES = (".EndJoin", ".BoundaryEventSplit", ".BoundaryEventJoin")

FORM_KEY = "formJsonSchemaFilename"
UI_FORM_KEY = "formUiSchemaFilename"


@dataclass(frozen=True)
class Issue:
    level: str
    code: str
    message: str
    element: str | None = None
    name: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        where = f"[{self.element}{' — ' + self.name if self.name else ''}] " if self.element else ""
        return f"{'LỖI' if self.level == ERROR else 'Cảnh báo'}: {where}{self.message}"


@dataclass
class LintReport:
    issues: list[Issue] = field(default_factory=list)
    model: engine.CompiledModel | None = None

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.level == ERROR]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.level == WARNING]

    @property
    def ok(self) -> bool:
        return not self.errors


# --------------------------------------------------------------------------- public helpers


def lint(xml: bytes | str, forms: dict[str, Any], *,
         lane_role: Callable[[str | None], bool] | None = None) -> LintReport:
    """Check a BPMN model and its forms (file name → parsed JSON). `lane_role(lane)` tells whether a lane
    maps to a role; `lane_role(None)` whether a process without lanes has a default role (None: skip
    that rule, e.g. outside an installation). Never raises: problems are issues."""
    report = LintReport()
    try:
        _Linter(report, forms if isinstance(forms, dict) else {}, lane_role).run(xml)
    except Exception as exc:  # a linter must never take its caller down; the issue says what happened
        report.model = None
        report.issues.append(Issue(ERROR, "internal", "Lỗi nội bộ khi kiểm tra quy trình "
                                   f"({type(exc).__name__}); hãy báo cho quản trị hệ thống."))
    return report


def form_references(xml: bytes | str) -> list[str]:
    """The form files (JSON Schema and UI schema) a BPMN file names, in order; empty when it does not
    parse safely. Lets a caller load exactly the forms `lint` needs."""
    try:
        if isinstance(xml, str | bytes) and len(xml) > MAX_BYTES:
            return []
        root = parse_xml(xml)
    except (UnsafeXmlError, XmlSyntaxError, TypeError):
        return []
    names: list[str] = []
    for prop in root.iter(f"{_S}property"):
        if prop.get("name") in (FORM_KEY, UI_FORM_KEY):
            value = (prop.get("value") or "").strip()
            if value and value not in names:
                names.append(value)
    return names


_SCHEMA_CACHE: OrderedDict[str, list[str]] = OrderedDict()
_SCHEMA_CACHE_SIZE = 512
_SCHEMA_LOCK = threading.Lock()


def _schema_problems(schema: Any) -> list[str]:
    """`check_schema`, remembered by content: the metaschema check is most of a lint's time, and a
    designer saving a draft sends the same forms again and again."""
    try:
        key = hashlib.sha256(json.dumps(schema, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    except (TypeError, ValueError):
        return check_schema(schema)
    with _SCHEMA_LOCK:
        hit = _SCHEMA_CACHE.get(key)
        if hit is not None:
            _SCHEMA_CACHE.move_to_end(key)
            return list(hit)
    problems = check_schema(schema)
    with _SCHEMA_LOCK:
        _SCHEMA_CACHE[key] = list(problems)
        while len(_SCHEMA_CACHE) > _SCHEMA_CACHE_SIZE:
            _SCHEMA_CACHE.popitem(last=False)
    return problems


# --------------------------------------------------------------------------- the model as we read it


@dataclass(eq=False)
class _Flow:
    el: Any
    id: str
    name: str
    source_ref: str
    target_ref: str
    condition: str | None  # text of conditionExpression (None: no such element)
    source: _Node | None = None
    target: _Node | None = None


@dataclass(eq=False)
class _Node:
    el: Any
    id: str
    name: str
    tag: str
    box: _Box
    defs: list[tuple[str, Any]] = field(default_factory=list)  # (kind, definition element)
    props: dict[str, str] = field(default_factory=dict)
    outgoing: list[_Flow] = field(default_factory=list)
    incoming: list[_Flow] = field(default_factory=list)
    boundary: list[_Node] = field(default_factory=list)
    attached_to: _Node | None = None
    inner: _Box | None = None
    lane: str | None = None

    @property
    def kinds(self) -> set[str]:
        return {k for k, _ in self.defs}

    @property
    def event_sub(self) -> bool:
        return self.tag in CONTAINERS and self.el.get("triggeredByEvent") == "true"


@dataclass(eq=False)
class _Box:
    """A process or an embedded sub-process: flow nodes and the sequence flows between them."""

    el: Any
    id: str
    name: str
    kind: str  # "main", "called", "sub", "event-sub"
    process: _Box | None
    parent_node: _Node | None
    depth: int
    nodes: dict[str, _Node] = field(default_factory=dict)
    flows: list[_Flow] = field(default_factory=list)
    data_objects: set[str] = field(default_factory=set)

    @property
    def top(self) -> _Box:
        return self.process or self


def _local(el: Any) -> str | None:
    if el is None:
        return None
    tag = el.tag
    if isinstance(tag, str) and tag.startswith(_B):
        return tag[len(_B):]
    return None


def _text(el: Any) -> str | None:
    return el.text if el is not None else None


def _name(el: Any) -> str:
    return " ".join((el.get("name") or "").split())


def _n(number: int) -> str:
    """1000000 → "1.000.000", the Vietnamese digit grouping."""
    return f"{number:,}".replace(",", ".")


def _quote(value: str, limit: int = 80) -> str:
    value = value.replace("\n", " ")
    return value if len(value) <= limit else value[: limit - 1] + "…"


#: an ISO 8601 duration, cycle or date-time written without the quotes a Python expression needs
_ISO_BARE = re.compile(r"\A(?:R\d*/)?(?:P[0-9TYMWDHS.,]+|\d{4}-\d{2}-\d{2}[0-9T:.+\-Z]*)(?:/\S+)?\Z")
_DURATION = re.compile(
    r"\AP(?!\Z)(?:(?P<Y>\d+(?:[.,]\d+)?)Y)?(?:(?P<M>\d+(?:[.,]\d+)?)M)?(?:(?P<W>\d+(?:[.,]\d+)?)W)?"
    r"(?:(?P<D>\d+(?:[.,]\d+)?)D)?(?:T(?=\d)(?:(?P<h>\d+(?:[.,]\d+)?)H)?(?:(?P<m>\d+(?:[.,]\d+)?)M)?"
    r"(?:(?P<s>\d+(?:[.,]\d+)?)S)?)?\Z"
)
_UNIT_SECONDS = {"Y": 365.25 * 86_400, "M": 30.44 * 86_400, "W": 7 * 86_400, "D": 86_400, "h": 3_600,
                 "m": 60, "s": 1}
#: a form file name: a base name ending in .json (no folder, not hidden)
_FORM_NAME = re.compile(r"[^/\\.][^/\\]*\.json")
_NUMBER = re.compile(r"\A\s*[0-9]+(?:\.[0-9]+)?\s*\Z")


def _duration_seconds(text: str) -> tuple[float | None, str | None]:
    """Seconds of an ISO 8601 duration as SpiffWorkflow reads it, or (None, why not)."""
    match = _DURATION.match(text.strip().upper())
    if match is None:
        return None, f"'{_quote(text)}' không phải khoảng thời gian ISO 8601 (ví dụ P10D, PT4H, P1DT12H)"
    parts = {k: v for k, v in match.groupdict().items() if v is not None}
    # SpiffWorkflow accepts a fraction only in the last component and weeks only on their own
    keys = list(parts)
    for key in keys[:-1]:
        if not parts[key].isdigit():
            return None, f"'{_quote(text)}': chỉ thành phần cuối cùng được có phần lẻ"
    if "W" in parts and len(parts) > 1:
        return None, f"'{_quote(text)}': không được kết hợp tuần (W) với thành phần khác"
    seconds = sum(float(v.replace(",", ".")) * _UNIT_SECONDS[k] for k, v in parts.items())
    if not math.isfinite(seconds) or seconds > MAX_TIMER_SECONDS or float(parts.get("Y", "0").replace(",", ".")) * 12 \
            + float(parts.get("M", "0").replace(",", ".")) > 1_200:
        return None, f"'{_quote(text)}' quá dài (tối đa 100 năm)"
    return seconds, None


def _check_datetime(text: str) -> tuple[bool, str | None]:
    """(has a time zone, error) for an ISO 8601 date-time as SpiffWorkflow reads timeDate."""
    value = text.strip()
    if value.upper().startswith("P"):
        return False, (f"'{_quote(text)}' là khoảng thời gian; hẹn giờ theo ngày (timeDate) cần một thời điểm "
                       "(ví dụ 2026-01-31T17:00:00+07:00), còn khoảng thời gian thì dùng timeDuration")
    if "W" in value.upper():
        return False, f"'{_quote(text)}': không hỗ trợ ngày theo tuần ISO; hãy ghi ngày giờ cụ thể"
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return False, f"'{_quote(text)}' không phải thời điểm ISO 8601 (ví dụ 2026-01-31T17:00:00+07:00)"
    return moment.tzinfo is not None, None


def _check_cycle(text: str, boundary: bool) -> str | None:
    value = text.strip().upper().replace("--", "/")
    match = re.fullmatch(r"R(\d*)/([^/]+)(?:/([^/]+))?", value)
    if match is None:
        return f"'{_quote(text)}' không phải chu kỳ ISO 8601 (ví dụ R3/P1D hoặc R/2026-01-01T08:00:00+07:00/P1D)"
    count, first, second = match.groups()
    if count == "" and not boundary:
        return (f"'{_quote(text)}' lặp vô hạn; chỉ sự kiện biên (dừng khi bước kết thúc) mới được lặp không "
                "giới hạn, ở đây hãy ghi số lần (ví dụ R3/P1D)")
    if count != "" and (len(count) > 6 or not 1 <= int(count) <= MAX_CYCLE_REPEATS):
        return f"'{_quote(text)}': số lần lặp phải từ 1 đến {MAX_CYCLE_REPEATS}"
    pieces = [first] + ([second] if second else [])
    durations = [p for p in pieces if p.startswith("P")]
    if len(durations) != 1 or (second is None and not first.startswith("P")):
        return f"'{_quote(text)}': chu kỳ cần đúng một khoảng thời gian (và tùy chọn một thời điểm bắt đầu/kết thúc)"
    seconds, why = _duration_seconds(durations[0])
    if why:
        return why
    assert seconds is not None
    if seconds < MIN_CYCLE_SECONDS:
        return f"'{_quote(text)}': chu kỳ ngắn hơn 1 phút sẽ lặp liên tục; hãy dùng chu kỳ dài hơn"
    for piece in pieces:
        if not piece.startswith("P"):
            _, why = _check_datetime(piece)
            if why:
                return why
    return None


def _names_in(tree: ast.AST) -> tuple[set[str], set[str]]:
    """(names read, names bound) anywhere in a parsed expression or script."""
    loaded: set[str] = set()
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (loaded if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            bound.add(node.name)
    return loaded, bound


def _choice_cover(tree: ast.AST) -> tuple[str, list[Any]] | None:
    """`x == "a"`, `x in ("a", "b")`, and `or`s of them on one name: (name, values), else None."""
    if isinstance(tree, ast.Expression):
        tree = tree.body
    if isinstance(tree, ast.BoolOp) and isinstance(tree.op, ast.Or):
        name: str | None = None
        values: list[Any] = []
        for part in tree.values:
            got = _choice_cover(part)
            if got is None or (name is not None and got[0] != name):
                return None
            name = got[0]
            values.extend(got[1])
        return (name, values) if name is not None else None
    if isinstance(tree, ast.Compare) and len(tree.ops) == 1:
        left, op, right = tree.left, tree.ops[0], tree.comparators[0]
        if isinstance(op, ast.Eq):
            if isinstance(left, ast.Name) and isinstance(right, ast.Constant):
                return left.id, [right.value]
            if isinstance(right, ast.Name) and isinstance(left, ast.Constant):
                return right.id, [left.value]
        if isinstance(op, ast.In) and isinstance(left, ast.Name) and isinstance(right, ast.Tuple | ast.List | ast.Set):
            if all(isinstance(e, ast.Constant) for e in right.elts):
                return left.id, [e.value for e in right.elts]
    return None


# --------------------------------------------------------------------------- the linter


class _Stop(Exception):
    """Nothing further can be checked (the file is not safe XML, is too big, ...)."""


class _Linter:
    def __init__(self, report: LintReport, forms: dict[str, Any],
                 lane_role: Callable[[str | None], bool] | None) -> None:
        self.report = report
        self.forms = forms
        self.lane_role = lane_role
        self._lane_cache: dict[str | None, bool] = {}
        self._counts: dict[str, int] = {}
        self.root: Any = None
        self.ids: dict[str, Any] = {}
        self.processes: dict[str, Any] = {}
        self.boxes: list[_Box] = []
        self.nodes: dict[str, _Node] = {}
        self.process_boxes: dict[str, _Box] = {}
        self.calls: list[tuple[_Node, str]] = []
        self.messages: dict[str, str] = {}
        self.signals: dict[str, str] = {}
        self.errors_defs: set[str] = set()
        self.escalations: set[str] = set()
        self.lanes: dict[str | None, str | None] = {}
        self.code_chars = 0
        self.conditions: list[tuple[_Node, _Flow, ast.AST]] = []
        self.timers: list[tuple[_Node, ast.AST]] = []
        self.form_fields: dict[str, dict[str, tuple[str | None, bool]]] = {}
        self.form_choices: dict[str, dict[str, list[Any] | None]] = {}
        self.needs_cover: list[_Node] = []
        self.assigns: dict[str, set[str]] = {}
        self._laneless_reported: set[str] = set()
        #: a form could not be read: the fields it would define are unknown, so unknown names prove nothing
        self.unusable_forms = False
        self.reached: set[_Node] = set()

    # -- reporting

    def add(self, level: str, code: str, message: str, element: str | None = None, name: str | None = None) -> None:
        count = self._counts.get(code, 0) + 1
        self._counts[code] = count
        if count == MAX_ISSUES_PER_CODE + 1:
            self.report.issues.append(Issue(level, code, f"Còn nhiều vấn đề cùng loại '{code}' khác; đã lược bớt.",
                                            element, name))
        if count > MAX_ISSUES_PER_CODE:
            return
        self.report.issues.append(Issue(level, code, message, element, name or None))

    def error(self, code: str, message: str, element: str | None = None, name: str | None = None) -> None:
        self.add(ERROR, code, message, element, name)

    def warn(self, code: str, message: str, element: str | None = None, name: str | None = None) -> None:
        self.add(WARNING, code, message, element, name)

    def at(self, level: str, code: str, message: str, obj: _Node | _Flow | _Box | Any) -> None:
        if isinstance(obj, _Node | _Flow | _Box):
            self.add(level, code, message, obj.id, obj.name)
        else:
            self.add(level, code, message, obj.get("id") if obj is not None else None,
                     _name(obj) if obj is not None else None)

    # -- the run

    def run(self, xml: bytes | str) -> None:
        try:
            self._run(xml)
        except _Stop:
            pass

    def _run(self, xml: bytes | str) -> None:
        if not isinstance(xml, bytes | str):
            self.error("xml-syntax", "Nội dung tệp BPMN phải là văn bản XML.")
            raise _Stop
        size = len(xml) if isinstance(xml, bytes) or len(xml) > MAX_BYTES else len(xml.encode("utf-8", "replace"))
        if size > MAX_BYTES:
            self.error("too-large", f"Tệp quá lớn: vượt giới hạn {MAX_BYTES // (1024 * 1024)} MB cho một tệp BPMN.")
            raise _Stop
        try:
            root = parse_xml(xml)
        except UnsafeXmlError as exc:
            where = f" (dòng {exc.line})" if exc.line else ""
            self.error("xml-unsafe", f"{exc.message}{where}")
            raise _Stop from None
        except XmlSyntaxError as exc:
            self.error("xml-syntax", exc.message)
            raise _Stop from None
        self.root = root
        if root.tag != f"{_B}definitions":
            self.error("not-bpmn", "Tệp không phải BPMN 2.0: phần tử gốc phải là bpmn:definitions "
                       "(không gian tên http://www.omg.org/spec/BPMN/20100524/MODEL).")
            raise _Stop
        self._bounds(root)
        self._index(root)
        main = self._choose(root)
        self._build_all(main)
        for box in self.boxes:
            self._check_box(box)
        self._check_calls()
        self._check_messages()
        self._check_forms_and_lanes()
        self._check_expression_names()
        if self.code_chars > MAX_TOTAL_CODE_CHARS:
            self.error("too-large", f"Tổng độ dài các kịch bản và biểu thức vượt quá {_n(MAX_TOTAL_CODE_CHARS)} ký tự.",
                       main.id, main.name)
        if not self.report.errors:
            self._compile(xml, main)

    # -- 1. bounds and index

    def _bounds(self, root: Any) -> None:
        total = flow = 0
        for el in root.iter():
            total += 1
            if total > MAX_XML_ELEMENTS:
                self.error("too-many-elements", f"Tệp có quá nhiều phần tử XML (hơn {_n(MAX_XML_ELEMENTS)}); "
                           "không nhận xử lý.", root.get("id"))
                raise _Stop
            local = _local(el)
            if local in FLOW_NODES or local == "sequenceFlow":
                flow += 1
        if flow > MAX_FLOW_ELEMENTS:
            self.error("too-many-elements", f"Quy trình có {_n(flow)} bước và luồng, vượt giới hạn "
                       f"{_n(MAX_FLOW_ELEMENTS)}; hãy tách thành các quy trình nhỏ hơn.", root.get("id"))
            raise _Stop

    def _index(self, root: Any) -> None:
        seen: dict[str, int] = {}
        for el in root.iter():
            tag = el.tag
            if not isinstance(tag, str) or not tag.startswith("{http://www.omg.org/spec/"):
                continue
            el_id = el.get("id")
            if el_id is None:
                continue
            if el_id in self.ids:
                seen[el_id] = seen.get(el_id, 1) + 1
            else:
                self.ids[el_id] = el
        for el_id, count in seen.items():
            self.at(ERROR, "duplicate-id", f"Mã phần tử '{el_id}' được dùng cho {count} phần tử; mã phải là duy "
                    "nhất trong tệp.", self.ids[el_id])
        for child in root:
            local = _local(child)
            if local == "message" and child.get("id"):
                self.messages[child.get("id")] = child.get("name") or child.get("id")
            elif local == "signal" and child.get("id"):
                self.signals[child.get("id")] = child.get("name") or child.get("id")
            elif local == "error" and child.get("id"):
                self.errors_defs.add(child.get("id"))
            elif local == "escalation" and child.get("id"):
                self.escalations.add(child.get("id"))
        for store in root.iter(f"{_B}dataStore"):
            self.at(ERROR, "data-store", "Kho dữ liệu (data store) không được hỗ trợ: hệ thống không có kho dữ liệu "
                    "ngoài nào để nối vào; hãy bỏ nó đi hoặc dùng đối tượng dữ liệu (data object).", store)
        for ref in root.iter(f"{_B}flowNodeRef"):
            parent = ref.getparent()
            self.lanes[ref.text] = parent.get("name") if parent is not None else None
        process_ids = set()
        for proc in root.iter(f"{_B}process"):
            pid = proc.get("id")
            if pid:
                process_ids.add(pid)
                self.processes.setdefault(pid, proc)
        reserved = engine.RESERVED_IDS
        for proc in root.iter(f"{_B}process"):
            for el in proc.iter():
                el_id = el.get("id") if isinstance(el.tag, str) else None
                if el is proc or not el_id:
                    continue
                if el_id in reserved or el_id in process_ids or el_id.endswith(RESERVED_SUFFIXES):
                    why = ("trùng với mã của một quy trình" if el_id in process_ids
                           else "trùng với tên dành riêng của bộ máy quy trình")
                    qname = etree.QName(el)
                    what = "" if qname.namespace == BPMN_NS else \
                        f" (phần tử {el.prefix + ':' if el.prefix else ''}{qname.localname} trong phần mở rộng)"
                    self.at(ERROR, "reserved-id", f"Mã phần tử '{el_id}'{what} {why}; hãy đổi mã phần tử.", el)

    def _choose(self, root: Any) -> _Box:
        procs = list(root.iter(f"{_B}process"))
        if not procs:
            self.error("no-process", "Tệp không chứa quy trình nào (bpmn:process); có thể đây là sơ đồ hợp tác "
                       "hoặc biên đạo không có quy trình thực thi.", root.get("id"))
            raise _Stop
        executable = [p for p in procs if p.get("isExecutable", "true") == "true" and p.get("id")]
        if not executable:
            first = procs[0]
            self.at(ERROR, "no-process", "Không có quy trình nào được đánh dấu thực thi được "
                    "(isExecutable=\"true\"); hãy đánh dấu quy trình cần chạy.", first)
            raise _Stop
        chosen = executable[0]
        if len(executable) > 1:
            ids = {p.get("id") for p in executable}
            for participant in root.iter(f"{_B}participant"):
                if participant.get("processRef") in ids:
                    chosen = self.processes[participant.get("processRef")]
                    break
        box = _Box(chosen, chosen.get("id"), _name(chosen), "main", None, None, 0)
        self.process_boxes[box.id] = box
        called = {c.get("calledElement") for c in root.iter(f"{_B}callActivity")}
        for other in executable:
            if other is not chosen and other.get("id") not in called:
                self.at(WARNING, "several-processes", f"Tệp có nhiều quy trình thực thi được; chỉ quy trình "
                        f"'{box.id}' được chạy, quy trình này bị bỏ qua.", other)
        return box

    # -- 2. the model

    def _build_all(self, main: _Box) -> None:
        queue = deque([main])
        while queue:
            box = queue.popleft()
            self._build_box(box)
            for _node, called in self.calls:
                if called in self.processes and called not in self.process_boxes:
                    proc = self.processes[called]
                    new = _Box(proc, called, _name(proc), "called", None, None, 0)
                    self.process_boxes[called] = new
                    queue.append(new)

    def _build_box(self, box: _Box) -> None:
        stack = [(box, None)]
        while stack:
            current, inherited_lane = stack.pop()
            self.boxes.append(current)
            for child in current.el:
                local = _local(child)
                if local is None:
                    continue
                if local in FLOW_NODES:
                    node = self._make_node(child, local, current, inherited_lane)
                    if node is None:
                        continue
                    if local in CONTAINERS:
                        if current.depth + 1 > MAX_NESTING:
                            self.at(ERROR, "too-deep", f"Tiến trình con lồng nhau quá {MAX_NESTING} cấp.", node)
                            continue
                        kind = "event-sub" if node.event_sub else "sub"
                        inner = _Box(child, node.id, node.name, kind, current.top, node, current.depth + 1)
                        node.inner = inner
                        stack.append((inner, inherited_lane if inherited_lane is not None else node.lane))
                elif local == "sequenceFlow":
                    cond_el = child.find(f"{_B}conditionExpression")
                    current.flows.append(_Flow(child, child.get("id") or "", _name(child),
                                               child.get("sourceRef") or "", child.get("targetRef") or "",
                                               None if cond_el is None else (cond_el.text or "")))
                elif local == "dataObject" and child.get("id"):
                    current.data_objects.add(child.get("id"))
                elif local == "dataStoreReference":
                    self.at(ERROR, "data-store", "Tham chiếu kho dữ liệu (data store) không được hỗ trợ; hãy bỏ "
                            "nó đi hoặc dùng đối tượng dữ liệu (data object).", child)
            self._link_box(current)

    def _make_node(self, el: Any, local: str, box: _Box, inherited_lane: str | None) -> _Node | None:
        node_id = el.get("id")
        if not node_id:
            self.error("id-missing", f"Một {_KIND_VI.get(local, local)} không có mã (id); mọi phần tử của quy "
                       "trình cần mã duy nhất.", box.id, box.name)
            return None
        node = _Node(el, node_id, _name(el), local, box)
        for child in el:
            child_local = _local(child)
            if child_local in _DEF_NAMES:
                node.defs.append((_DEF_NAMES[child_local], child))
            elif child_local == "eventDefinitionRef":
                self.at(ERROR, "unsupported-event", "Tham chiếu định nghĩa sự kiện (eventDefinitionRef) không "
                        "được hỗ trợ; hãy khai báo định nghĩa sự kiện ngay trong sự kiện.", node)
        node.props = self._props(el, node)
        node.lane = inherited_lane if inherited_lane is not None else self.lanes.get(node_id)
        if local == "callActivity":
            self.calls.append((node, el.get("calledElement") or ""))
        box.nodes.setdefault(node_id, node)
        self.nodes.setdefault(node_id, node)
        return node

    def _props(self, el: Any, node: _Node | None) -> dict[str, str]:
        props: dict[str, str] = {}
        ext = el.find(f"{_B}extensionElements")
        if ext is None:
            return props
        for holder in ext.findall(f"{_S}properties"):
            for prop in holder.iter(f"{_S}property"):
                name, value = prop.get("name"), prop.get("value")
                if name is None or value is None:
                    self.at(ERROR, "property-invalid", "Thuộc tính spiffworkflow:property phải có đủ name và value.",
                            node if node is not None else el)
                    continue
                props[name] = value
        return props

    def _link_box(self, box: _Box) -> None:
        for flow in box.flows:
            if not flow.id:
                self.error("id-missing", "Một luồng (sequence flow) không có mã (id).", box.id, box.name)
            for attr, ref in (("nguồn (sourceRef)", flow.source_ref), ("đích (targetRef)", flow.target_ref)):
                if ref in box.nodes:
                    continue
                if not ref:
                    why = f"Luồng thiếu {attr}."
                elif ref not in self.ids:
                    why = f"Luồng trỏ tới {attr} '{ref}' không tồn tại trong tệp."
                elif _local(self.ids[ref]) in FLOW_NODES:
                    why = (f"Luồng nối tới '{ref}' ở ngoài (tiến trình con/quy trình) của nó; luồng chỉ được nối "
                           "các phần tử trong cùng một (tiến trình con) quy trình.")
                else:
                    why = f"Luồng trỏ tới {attr} '{ref}' không phải là một bước, cổng hay sự kiện."
                self.at(ERROR, "flow-ref", why, flow)
            flow.source = box.nodes.get(flow.source_ref)
            flow.target = box.nodes.get(flow.target_ref)
            if flow.source is not None and flow.target is not None:
                flow.source.outgoing.append(flow)
                flow.target.incoming.append(flow)
        for node in box.nodes.values():
            if node.tag != "boundaryEvent":
                continue
            ref = node.el.get("attachedToRef") or ""
            host = box.nodes.get(ref)
            if host is None or host.tag not in ACTIVITIES:
                why = ("Sự kiện biên chưa gắn vào bước nào (attachedToRef)." if not ref else
                       f"Sự kiện biên gắn vào '{ref}', không phải một bước trong cùng quy trình.")
                self.at(ERROR, "boundary-ref", why, node)
                continue
            node.attached_to = host
            host.boundary.append(node)

    # -- 3. per (sub)process checks

    def _check_box(self, box: _Box) -> None:
        nodes = list(box.nodes.values())
        starts = [n for n in nodes if n.tag == "startEvent"]
        plain = [n for n in starts if not n.defs]
        where = box.parent_node if box.parent_node is not None else box
        if box.kind in ("main", "called"):
            if not plain:
                self.at(ERROR, "no-start", "Quy trình không có sự kiện bắt đầu thường (không kèm thông điệp, hẹn "
                        "giờ...) nên không thể khởi tạo hồ sơ.", where)
            for extra in plain[1:]:
                self.at(ERROR, "multiple-start", "Quy trình có nhiều sự kiện bắt đầu thường; hồ sơ chỉ được bắt "
                        "đầu từ một chỗ.", extra)
            for typed in (n for n in starts if n.defs):
                kinds = ", ".join(_DEF_VI[k] for k in sorted(typed.kinds))
                self.at(ERROR, "start-event-type", f"Sự kiện bắt đầu loại {kinds} không dùng được ở mức quy trình: "
                        "hồ sơ bắt đầu khi công dân nộp, và sự kiện này sẽ chờ mãi; hãy dùng sự kiện bắt đầu "
                        "thường.", typed)
        else:
            what = "Tiến trình con sự kiện" if box.kind == "event-sub" else "Tiến trình con"
            if not starts:
                self.at(ERROR, "no-start", f"{what} phải có đúng một sự kiện bắt đầu; ở đây không có.", where)
            for extra in starts[1:]:
                self.at(ERROR, "multiple-start", f"{what} phải có đúng một sự kiện bắt đầu; đây là sự kiện thừa.",
                        extra)
            if starts and box.kind == "event-sub" and not starts[0].defs:
                self.at(ERROR, "start-event-type", "Sự kiện bắt đầu của tiến trình con sự kiện phải có loại "
                        "(thông điệp, hẹn giờ, lỗi...).", starts[0])
            if starts and box.kind == "sub" and starts[0].defs:
                self.at(ERROR, "start-event-type", "Sự kiện bắt đầu của tiến trình con phải là sự kiện thường; "
                        "sự kiện có loại sẽ chờ mãi.", starts[0])
            if not any(n.tag == "endEvent" for n in nodes):
                self.at(ERROR, "no-end", f"{what} phải có ít nhất một sự kiện kết thúc.", where)
        for node in nodes:
            self._check_node(node)
        for flow in box.flows:
            self._check_flow(flow)
        self._check_graph(box)

    def _check_node(self, node: _Node) -> None:
        tag = node.tag
        if tag in UNSUPPORTED_TAGS:
            self.at(ERROR, "unsupported-element", UNSUPPORTED_TAGS[tag], node)
        if node.el.get("isForCompensation") == "true":
            self.at(ERROR, "unsupported-element", "Bước bù trừ (compensation) không được bộ máy quy trình hỗ trợ.",
                    node)
        if tag == "startEvent" and node.incoming:
            self.at(ERROR, "flow-invalid", "Sự kiện bắt đầu không được có luồng đi vào.", node)
        if tag == "endEvent" and node.outgoing:
            self.at(ERROR, "flow-invalid", "Sự kiện kết thúc không được có luồng đi ra.", node)
        if tag == "boundaryEvent" and node.incoming:
            self.at(ERROR, "flow-invalid", "Sự kiện biên không được có luồng đi vào.", node)
        if node.event_sub and (node.incoming or node.outgoing):
            self.at(ERROR, "flow-invalid", "Tiến trình con sự kiện không được nối luồng vào hay ra.", node)
        if len(node.outgoing) > 1 and tag not in GATEWAYS and tag != "startEvent":
            self.at(ERROR, "multiple-outgoing", f"{_KIND_VI.get(tag, tag).capitalize()} có {len(node.outgoing)} "
                    "luồng đi ra; bộ máy quy trình chỉ cho phép nhiều luồng ra từ một cổng. Hãy thêm cổng song "
                    "song (tách nhánh) hoặc cổng loại trừ (chọn nhánh).", node)
        if tag in EVENTS:
            self._check_event(node)
        if tag == "scriptTask":
            fmt = (node.el.get("scriptFormat") or "python").strip().lower()
            if fmt not in ("python", "py", "text/x-python", "python3"):
                self.at(ERROR, "script-language", f"Ngôn ngữ kịch bản '{_quote(fmt)}' không được hỗ trợ; kịch bản "
                        "phải viết bằng Python.", node)
            script = node.el.find(f"{_B}script")
            if script is None or not (script.text or "").strip():
                self.at(ERROR, "script-syntax", "Tác vụ kịch bản chưa có mã kịch bản.", node)
            else:
                self._compile_script(node, script.text, "script-syntax", "Kịch bản")
        ext = node.el.find(f"{_B}extensionElements")
        if ext is not None:
            for key, label in (("preScript", "Kịch bản trước (preScript)"),
                               ("postScript", "Kịch bản sau (postScript)")):
                extra = ext.find(f"{_S}{key}")
                if extra is not None and (extra.text or "").strip():
                    self._compile_script(node, extra.text, "script-syntax", label)
        if tag == "serviceTask":
            operator = ext.find(f"{_S}serviceTaskOperator") if ext is not None else None
            if operator is None or not operator.get("id"):
                self.at(ERROR, "service-operator", "Tác vụ dịch vụ chưa khai báo thao tác cần gọi "
                        "(spiffworkflow:serviceTaskOperator với id).", node)
            else:
                for param in operator.iter(f"{_S}parameter"):
                    if "value" in param.attrib and (not param.get("id") or not param.get("type")):
                        self.at(ERROR, "service-operator", "Tham số của thao tác dịch vụ phải có id và type.", node)
                        break
                from app.outbox.handlers import split_operation

                try:
                    split_operation(operator.get("id"))
                except ValueError as exc:
                    self.at(ERROR, "service-operator", f"{exc} Các kết nối có sẵn: vnpost, axis, portal, email, sms, "
                            "webhook (xem README, mục Connectors).", node)
                else:
                    self.at(WARNING, "service-task", f"Tác vụ dịch vụ gọi '{_quote(operator.get('id'))}' qua hộp "
                            "thư đi: lời gọi được gửi sau khi lưu hồ sơ, có thử lại; để chờ trả lời của đối tác, "
                            "đặt sau nó một tác vụ nhận hoặc sự kiện chờ thông điệp.", node)
        if tag in ACTIVITIES:
            self._check_loops(node)
            self._check_data_associations(node)
        if tag in ("sendTask", "receiveTask"):
            ref = node.el.get("messageRef")
            if ref is not None:
                self._check_ref(node, ref, self.messages, "thông điệp", "messageRef")
            elif "message" not in node.kinds:
                self.at(ERROR, "event-ref-missing", f"{_KIND_VI[tag].capitalize()} chưa chọn thông điệp (messageRef).",
                        node)
        default = node.el.get("default")
        if default is not None and default not in {f.id for f in node.outgoing}:
            self.at(ERROR, "default-flow", f"Luồng mặc định '{_quote(default)}' không phải là một luồng đi ra từ "
                    "phần tử này.", node)
        if tag in CONDITIONAL_GATEWAYS:
            self._check_gateway(node)
        if tag == "eventBasedGateway":
            for flow in node.outgoing:
                target = flow.target
                assert target is not None
                if target.tag != "receiveTask" and not (target.tag == "intermediateCatchEvent" and target.defs):
                    self.at(ERROR, "event-gateway-target", "Sau cổng sự kiện chỉ được là sự kiện chờ (thông điệp, "
                            "hẹn giờ, tín hiệu...) hoặc tác vụ nhận.", target)
        self._check_properties(node)

    def _check_event(self, node: _Node) -> None:
        supported = SUPPORTED_DEFS.get(node.tag, set())
        for kind, definition in node.defs:
            if kind not in supported:
                self.at(ERROR, "unsupported-event", f"{_KIND_VI[node.tag].capitalize()} loại {_DEF_VI[kind]} không "
                        "được bộ máy quy trình hỗ trợ (sẽ bị coi như sự kiện thường).", node)
                continue
            if kind == "message":
                self._check_ref(node, definition.get("messageRef"), self.messages, "thông điệp", "messageRef")
            elif kind == "signal":
                self._check_ref(node, definition.get("signalRef"), self.signals, "tín hiệu", "signalRef")
            elif kind == "error" and definition.get("errorRef") is not None:
                self._check_ref(node, definition.get("errorRef"), self.errors_defs, "lỗi", "errorRef")
            elif kind == "escalation" and definition.get("escalationRef") is not None:
                self._check_ref(node, definition.get("escalationRef"), self.escalations, "chuyển cấp",
                                "escalationRef")
            elif kind == "timer":
                self._check_timer(node, definition)
            elif kind == "conditional":
                condition = definition.find(f"{_B}condition")
                text = _text(condition)
                if not (text or "").strip():
                    self.at(ERROR, "expression-syntax", "Sự kiện điều kiện chưa có biểu thức điều kiện.", node)
                else:
                    self._compile_expression(node, text, "expression-syntax", "Điều kiện của sự kiện")
        if node.tag == "boundaryEvent" and not node.defs:
            self.at(ERROR, "unsupported-event", "Sự kiện biên phải có loại (hẹn giờ, thông điệp, lỗi...).", node)

    def _check_ref(self, node: _Node, ref: str | None, known: Iterable[str], what: str, attr: str) -> None:
        if not ref:
            self.at(ERROR, "event-ref-missing", f"Sự kiện {what} chưa chọn {what} nào ({attr}).", node)
        elif ref not in known:
            self.at(ERROR, "event-ref-missing", f"{what.capitalize()} '{_quote(ref)}' ({attr}) không được khai báo "
                    "trong tệp.", node)

    def _check_timer(self, node: _Node, definition: Any) -> None:
        # SpiffWorkflow looks for the first of these anywhere under the event, in this order
        for key in ("timeDate", "timeDuration", "timeCycle"):
            expr_el = next(node.el.iter(f"{_B}{key}"), None)
            if expr_el is not None:
                break
        else:
            self.at(ERROR, "timer-invalid", "Sự kiện hẹn giờ chưa có thời điểm, khoảng thời gian hay chu kỳ "
                    "(timeDate/timeDuration/timeCycle).", node)
            return
        text = expr_el.text or ""
        if not text.strip():
            self.at(ERROR, "timer-invalid", "Biểu thức hẹn giờ để trống.", node)
            return
        if _ISO_BARE.match(text.strip()):
            self.at(ERROR, "timer-invalid", f"Biểu thức hẹn giờ là biểu thức Python: giá trị ISO 8601 phải đặt "
                    f"trong dấu ngoặc kép, ví dụ \"{_quote(text.strip())}\".", node)
            return
        tree = self._compile_expression(node, text, "timer-invalid", "Biểu thức hẹn giờ")
        if tree is None:
            return
        body = tree.body if isinstance(tree, ast.Expression) else tree
        if isinstance(body, ast.Constant) and isinstance(body.value, str):
            value = body.value
            why: str | None = None
            if key == "timeDuration":
                _, why = _duration_seconds(value)
            elif key == "timeDate":
                has_tz, why = _check_datetime(value)
                if why is None and not has_tz:
                    self.at(WARNING, "timer-timezone", f"Thời điểm '{_quote(value)}' không ghi múi giờ; máy chủ sẽ "
                            "hiểu theo giờ của nó. Hãy ghi rõ, ví dụ +07:00.", node)
            else:
                why = _check_cycle(value, node.tag == "boundaryEvent")
            if why:
                self.at(ERROR, "timer-invalid", f"Hẹn giờ không hợp lệ: {why}.", node)
            return
        if isinstance(body, ast.Constant):
            self.at(ERROR, "timer-invalid", "Biểu thức hẹn giờ phải cho ra một chuỗi ISO 8601, ví dụ \"P10D\".", node)
            return
        self.timers.append((node, tree))
        self.at(WARNING, "timer-dynamic", "Biểu thức hẹn giờ được tính khi chạy nên không kiểm tra trước được; "
                "nó phải cho ra chuỗi ISO 8601 hợp lệ, nếu không hồ sơ sẽ dừng lại.", node)

    def _check_loops(self, node: _Node) -> None:
        standard = node.el.find(f"{_B}standardLoopCharacteristics")
        if standard is not None:
            cond = standard.find(f"{_B}loopCondition")
            maximum = standard.get("loopMaximum")
            if (cond is None or not (cond.text or "").strip()) and not maximum:
                self.at(ERROR, "loop-invalid", "Vòng lặp chuẩn cần điều kiện lặp (loopCondition) hoặc số lần tối "
                        "đa (loopMaximum), nếu không sẽ lặp mãi.", node)
            elif cond is not None and (cond.text or "").strip():
                self._compile_expression(node, cond.text, "expression-syntax", "Điều kiện lặp")
        multi = node.el.find(f"{_B}multiInstanceLoopCharacteristics")
        if multi is not None:
            cardinality = multi.find(f"{_B}loopCardinality")
            data_input = multi.find(f"{_B}loopDataInputRef")
            if (cardinality is None or not (cardinality.text or "").strip()) and \
                    (data_input is None or not (data_input.text or "").strip()):
                self.at(ERROR, "loop-invalid", "Bước đa thể hiện (multi-instance) cần số lượng (loopCardinality) "
                        "hoặc danh sách đầu vào (loopDataInputRef).", node)
            elif cardinality is not None and (cardinality.text or "").strip():
                self._compile_expression(node, cardinality.text, "expression-syntax", "Số lượng thể hiện")
            completion = multi.find(f"{_B}completionCondition")
            if completion is not None and (completion.text or "").strip():
                self._compile_expression(node, completion.text, "expression-syntax", "Điều kiện hoàn thành")

    def _check_data_associations(self, node: _Node) -> None:
        for assoc_tag, ref_tag in (("dataInputAssociation", "sourceRef"), ("dataOutputAssociation", "targetRef")):
            for assoc in node.el.findall(f"{_B}{assoc_tag}"):
                for ref in assoc.findall(f"{_B}{ref_tag}"):
                    target = self.ids.get(ref.text or "")
                    obj = self.ids.get(target.get("dataObjectRef") or "") if target is not None else None
                    ok = _local(target) == "dataObjectReference" and obj is not None and _local(obj) == "dataObject"
                    if not ok:
                        self.at(ERROR, "data-association", f"Liên kết dữ liệu trỏ tới '{_quote(ref.text or '')}', "
                                "không phải một tham chiếu đối tượng dữ liệu (dataObjectReference) hợp lệ; chỉ hỗ trợ "
                                "đối tượng dữ liệu của quy trình.", node)

    def _check_properties(self, node: _Node) -> None:
        props = node.props
        if "dossierStatus" in props:
            raw = props["dossierStatus"]
            if not re.fullmatch(r"[0-9]{1,2}", raw) or not 1 <= int(raw) <= 10:
                self.at(ERROR, "dossier-status", f"dossierStatus '{_quote(raw)}' không hợp lệ: phải là số nguyên từ "
                        "1 đến 10 (trạng thái hồ sơ theo quy định).", node)
        if "dueInWorkingDays" in props:
            raw = props["dueInWorkingDays"]
            if node.tag not in HUMAN_TAGS:
                self.at(WARNING, "due-days-ignored", "dueInWorkingDays chỉ có tác dụng trên công việc của người "
                        "xử lý; ở đây nó bị bỏ qua.", node)
            elif not _NUMBER.match(raw) or not 0 < float(raw) <= MAX_DUE_DAYS:
                self.at(ERROR, "due-days", f"dueInWorkingDays '{_quote(raw)}' không hợp lệ: phải là số ngày làm "
                        f"việc dương, tối đa {MAX_DUE_DAYS} (ví dụ 0.5 hoặc 3).", node)

    def _check_flow(self, flow: _Flow) -> None:
        source = flow.source
        if source is None or flow.condition is None:
            return
        if source.tag not in CONDITIONAL_GATEWAYS:
            self.at(ERROR, "condition-ignored", f"Luồng có điều kiện nhưng đi ra từ {_KIND_VI.get(source.tag, '')} "
                    f"'{source.id}': bộ máy quy trình bỏ qua điều kiện này. Hãy đặt điều kiện trên luồng ra của "
                    "cổng loại trừ hoặc cổng bao hàm.", flow)

    def _check_gateway(self, node: _Node) -> None:
        default = node.el.get("default")
        outgoing = node.outgoing
        for flow in outgoing:
            if flow.id == default:
                if flow.condition is not None and flow.condition.strip():
                    self.at(WARNING, "default-condition", "Luồng mặc định có điều kiện; điều kiện này bị bỏ qua "
                            "(luồng mặc định được đi khi không điều kiện nào khác đúng).", flow)
                continue
            if flow.condition is None or not flow.condition.strip():
                if len(outgoing) > 1:
                    self.at(ERROR, "gateway-condition-missing", f"Luồng ra từ cổng '{node.id}' không có điều kiện và "
                            "không phải luồng mặc định; hãy ghi điều kiện hoặc chọn nó làm luồng mặc định.", flow)
                continue
            tree = self._compile_expression(flow, flow.condition, "condition-syntax", "Điều kiện")
            if tree is not None:
                self.conditions.append((node, flow, tree))
        conditioned = [f for f in outgoing if f.id != default and f.condition is not None and f.condition.strip()]
        if default is None and conditioned and len(conditioned) == len(outgoing):
            self.needs_cover.append(node)  # decided once the forms are known

    def _compile_script(self, node: _Node, source: str, code: str, label: str) -> ast.AST | None:
        self.code_chars += len(source)
        if len(source) > MAX_SCRIPT_CHARS:
            self.at(ERROR, code, f"{label} quá dài (tối đa {_n(MAX_SCRIPT_CHARS)} ký tự).", node)
            return None
        message = check_expression(source, "exec")
        if message:
            self.at(ERROR, code, f"{label}: {message}", node)
            return None
        try:
            tree = ast.parse(source, mode="exec")
        except (SyntaxError, ValueError, RecursionError, MemoryError):  # pragma: no cover - compiled above
            return None
        _, bound = _names_in(tree)
        self.assigns.setdefault(node.id, set()).update(bound)
        return tree

    def _compile_expression(self, obj: _Node | _Flow, source: str, code: str, label: str) -> ast.AST | None:
        self.code_chars += len(source)
        if len(source) > MAX_EXPRESSION_CHARS:
            self.at(ERROR, code, f"{label} quá dài (tối đa {_n(MAX_EXPRESSION_CHARS)} ký tự).", obj)
            return None
        message = check_expression(source, "eval")
        if message:
            self.at(ERROR, code, f"{label} '{_quote(source.strip())}': {message}", obj)
            return None
        try:
            return ast.parse(source.lstrip(" \t"), mode="eval")
        except (SyntaxError, ValueError, RecursionError, MemoryError):  # pragma: no cover - compiled above
            return None

    # -- the graph of one (sub)process

    def _successors(self, node: _Node) -> Iterator[_Node]:
        yield from node.boundary
        for flow in node.outgoing:
            assert flow.target is not None
            yield flow.target

    def _check_graph(self, box: _Box) -> None:
        nodes = list(box.nodes.values())
        if not nodes:
            return
        skip = {n for n in nodes if n.el.get("isForCompensation") == "true" or "link" in n.kinds
                or "compensate" in n.kinds}
        roots = [n for n in nodes if n.tag == "startEvent" or n.event_sub]
        reached: set[_Node] = set(roots)
        queue = deque(roots)
        while queue:
            for nxt in self._successors(queue.popleft()):
                if nxt not in reached:
                    reached.add(nxt)
                    queue.append(nxt)
        self.reached |= reached
        for node in nodes:
            if node not in reached and node not in skip:
                if node.tag == "boundaryEvent" and node.attached_to is None:
                    continue
                self.at(ERROR, "unreachable", "Không có đường nào từ sự kiện bắt đầu tới phần tử này "
                        "(thiếu luồng đi vào hoặc nằm trên nhánh bị cắt).", node)
        sinks: list[_Node] = []
        for node in nodes:
            if node.tag == "endEvent" or node.event_sub or node in skip:
                sinks.append(node)
                continue
            if node.outgoing:
                continue
            sinks.append(node)
            if node.tag == "boundaryEvent" and node.attached_to is None:
                continue
            self.at(ERROR, "dead-end", f"{_KIND_VI.get(node.tag, node.tag).capitalize()} không có luồng đi ra mà "
                    "cũng không phải sự kiện kết thúc: hồ sơ đến đây sẽ dừng mà không có kết quả. Hãy nối tới "
                    "bước tiếp theo hoặc tới sự kiện kết thúc.", node)
        predecessors: dict[_Node, list[_Node]] = {n: [] for n in nodes}
        for node in nodes:
            for nxt in self._successors(node):
                predecessors[nxt].append(node)
        finishing: set[_Node] = set(sinks)
        queue = deque(sinks)
        while queue:
            for prev in predecessors[queue.popleft()]:
                if prev not in finishing:
                    finishing.add(prev)
                    queue.append(prev)
        for node in nodes:
            if node in reached and node not in finishing:
                self.at(ERROR, "cannot-finish", "Từ phần tử này không có đường nào tới sự kiện kết thúc "
                        "(vòng lặp không lối ra): hồ sơ vào đây sẽ không bao giờ kết thúc.", node)
        self._check_path_length(box, roots)

    def _check_path_length(self, box: _Box, roots: list[_Node]) -> None:
        """Follow the flows depth-first as SpiffWorkflow's parser does, and refuse what would overflow it."""
        seen: set[_Node] = set()
        for root in roots:
            if root in seen:
                continue
            seen.add(root)
            stack = [self._successors(root)]
            while stack:
                nxt = next(stack[-1], None)
                if nxt is None:
                    stack.pop()
                    continue
                if nxt in seen:
                    continue
                seen.add(nxt)
                stack.append(self._successors(nxt))
                if len(stack) > MAX_PATH_LENGTH:
                    self.at(ERROR, "too-deep", f"Chuỗi bước nối tiếp quá dài (hơn {MAX_PATH_LENGTH} bước liên tiếp) "
                            "đối với bộ máy quy trình; hãy gom bớt bước hoặc tách thành tiến trình con.", nxt)
                    return

    # -- 4. across the model

    def _check_calls(self) -> None:
        graph: dict[str, set[str]] = {}
        for node, called in self.calls:
            if not called:
                self.at(ERROR, "call-missing", "Bước gọi quy trình chưa chỉ rõ quy trình được gọi (calledElement).",
                        node)
                continue
            if called not in self.processes:
                self.at(ERROR, "call-missing", f"Bước gọi quy trình '{_quote(called)}' nhưng tệp không có quy trình "
                        "nào mang mã đó.", node)
                continue
            if self.processes[called].get("isExecutable", "true") != "true":
                self.at(ERROR, "call-missing", f"Quy trình được gọi '{_quote(called)}' chưa được đánh dấu thực thi "
                        "được (isExecutable=\"true\"); bộ máy quy trình không chạy được nó.", node)
            graph.setdefault(node.box.top.id, set()).add(called)
        for node, called in self.calls:
            if called not in self.processes:
                continue
            caller = node.box.top.id
            seen, queue = {called}, deque([called])
            while queue:
                current = queue.popleft()
                if current == caller:
                    self.at(ERROR, "call-recursive", f"Bước gọi quy trình '{called}', mà quy trình đó lại gọi "
                            "(trực tiếp hay gián tiếp) quy trình chứa bước này: đệ quy không có điểm dừng.", node)
                    break
                for nxt in graph.get(current, ()):
                    if nxt not in seen:
                        seen.add(nxt)
                        queue.append(nxt)

    def _check_messages(self) -> None:
        thrown: dict[str, set[str]] = {"message": set(), "signal": set()}
        caught: list[tuple[_Node, str, str]] = []
        for node in self.nodes.values():
            if node.box.top.id not in self.process_boxes:
                continue
            refs: list[tuple[str, str | None]] = []
            for kind, definition in node.defs:
                if kind == "message":
                    refs.append((kind, definition.get("messageRef")))
                elif kind == "signal":
                    refs.append((kind, definition.get("signalRef")))
            if node.tag in ("sendTask", "receiveTask") and node.el.get("messageRef"):
                refs.append(("message", node.el.get("messageRef")))
            throws = node.tag in ("intermediateThrowEvent", "endEvent", "sendTask")
            for kind, ref in refs:
                if not ref:
                    continue
                if throws:
                    thrown[kind].add(ref)
                else:
                    caught.append((node, kind, ref))
        from app.outbox.handlers import PARTNER_MESSAGES

        partner = {name for name, _label in PARTNER_MESSAGES}
        for node, kind, ref in caught:
            if node.tag == "startEvent" and node.box.kind in ("main", "called"):
                continue  # already refused as a start event type
            if kind == "message" and self.messages.get(ref) in partner:
                continue  # a connector delivers it (Vietnam Post, the document axis)
            if ref not in thrown[kind]:
                label = self.messages.get(ref) if kind == "message" else self.signals.get(ref)
                what = "thông điệp" if kind == "message" else "tín hiệu"
                self.at(WARNING, f"{kind}-never-sent", f"Không có phần tử nào trong quy trình gửi {what} "
                        f"'{_quote(label or ref)}': hồ sơ sẽ chờ ở đây cho tới khi một kết nối bên ngoài gửi nó.", node)

    # -- forms, fields, lanes

    def _form_fields(self, form: str) -> dict[str, tuple[str | None, bool]]:
        """{field: (JSON type, always present once the form is submitted)} of a valid form."""
        if form in self.form_fields:
            return self.form_fields[form]
        schema = self.forms.get(form)
        fields: dict[str, tuple[str | None, bool]] = {}
        choices: dict[str, list[Any] | None] = {}
        if isinstance(schema, dict):
            required = schema.get("required") if isinstance(schema.get("required"), list) else []
            for name, prop in properties_of(schema, schema).items():
                prop = deref(schema, prop)
                kind = json_type(prop)
                fields[name] = (kind, name in required or kind == "boolean")
                found = choices_of(prop)
                choices[name] = [value for value, _ in found] if found else None
        self.form_fields[form] = fields
        self.form_choices[form] = choices
        return fields

    def _lane_ok(self, lane: str | None) -> bool:
        if lane not in self._lane_cache:
            assert self.lane_role is not None
            self._lane_cache[lane] = bool(self.lane_role(lane))
        return self._lane_cache[lane]

    def _check_forms_and_lanes(self) -> None:
        checked: dict[str, bool] = {}
        types: dict[str, tuple[str, str]] = {}  # field → (type, form)
        main = next(b for b in self.boxes if b.kind == "main")
        laned = {pid: any(lane.get("name") for lane in box.el.iter(f"{_B}lane"))
                 for pid, box in self.process_boxes.items()}
        for node in self.nodes.values():
            box = node.box
            form = node.props.get(FORM_KEY, "").strip()
            ui_form = node.props.get(UI_FORM_KEY, "").strip()
            is_main_start = box.kind == "main" and node.tag == "startEvent" and not node.defs
            if is_main_start and not form:
                self.at(ERROR, "start-form", "Sự kiện bắt đầu chưa khai báo biểu mẫu nộp hồ sơ (thuộc tính "
                        "formJsonSchemaFilename).", node)
            if node.tag in HUMAN_TAGS:
                if not form:
                    self.at(WARNING, "task-no-form", "Công việc không có biểu mẫu: người xử lý chỉ bấm hoàn thành, "
                            "không ghi được kết quả để các bước sau dùng.", node)
                self._check_lane(node, laned.get(box.top.id, False))
            for name, schema_form in ((form, True), (ui_form, False)):
                if not name:
                    continue
                if name not in checked:
                    checked[name] = self._check_form(node, name, schema_form)
                elif not checked[name] and (name not in self.forms or not _FORM_NAME.fullmatch(name)):
                    self._check_form(node, name, schema_form)  # each element that wants a missing form is told
                if schema_form and checked[name]:
                    for field_name, (kind, _) in self._form_fields(name).items():
                        if kind is None:
                            continue
                        previous = types.setdefault(field_name, (kind, name))
                        if previous[0] != kind and not {previous[0], kind} <= {"integer", "number"}:
                            self.at(WARNING, "field-type-clash", f"Trường '{field_name}' có kiểu {kind} trong biểu mẫu "
                                    f"'{name}' nhưng kiểu {previous[0]} trong '{previous[1]}': các bước sau sẽ đọc "
                                    "giá trị nào nộp sau cùng.", node)
                            types[field_name] = (kind, name)
        days = self._props(main.el, None).get("processingDays")
        if days is not None and (not _NUMBER.match(days) or not 0 < float(days) <= MAX_DUE_DAYS):
            self.at(ERROR, "processing-days", f"processingDays '{_quote(days)}' không hợp lệ: phải là số ngày làm "
                    f"việc dương, tối đa {MAX_DUE_DAYS}.", main)

    def _check_form(self, node: _Node, name: str, schema_form: bool) -> bool:
        if not _FORM_NAME.fullmatch(name):
            self.at(ERROR, "form-name", f"Tên tệp biểu mẫu '{_quote(name)}' không hợp lệ: chỉ là tên tệp .json, "
                    "không kèm thư mục.", node)
            self.unusable_forms = True
            return False
        if name not in self.forms:
            self.at(ERROR, "form-missing", f"Không tìm thấy tệp biểu mẫu '{name}'.", node)
            self.unusable_forms = True
            return False
        schema = self.forms[name]
        if not schema_form:
            if not isinstance(schema, dict):
                self.at(ERROR, "form-invalid", f"{name}: giao diện biểu mẫu (UI schema) phải là một đối tượng JSON.",
                        node)
                return False
            return True
        problems = _schema_problems(schema)
        for msg in problems[:10]:
            self.at(ERROR, "form-invalid", f"{name}: {msg}", node)
        if problems:
            self.unusable_forms = True
        return not problems

    def _check_lane(self, node: _Node, laned: bool) -> None:
        lane = node.lane
        if lane is None and laned:
            self.at(ERROR, "lane-missing", "Công việc nằm ngoài mọi làn (lane) trong khi quy trình có chia làn; hãy "
                    "kéo nó vào làn của vai trò xử lý.", node)
            return
        if lane is None:
            process = node.box.top
            if process.id in self._laneless_reported:
                return
            self._laneless_reported.add(process.id)
            if self.lane_role is not None and not self._lane_ok(None):
                self.at(ERROR, "lane-role", "Quy trình không chia làn và hệ thống không có vai trò mặc định: không "
                        "biết giao công việc cho ai. Hãy chia làn theo vai trò.", process)
            else:
                self.at(WARNING, "no-lanes", "Quy trình không chia làn: mọi công việc được giao cho vai trò mặc định "
                        "của hệ thống. Hãy chia làn theo vai trò xử lý.", process)
            return
        if self.lane_role is not None and not self._lane_ok(lane):
            self.at(ERROR, "lane-role", f"Công việc nằm trong làn '{lane}' không ứng với vai trò nào; hãy đổi tên làn "
                    "theo vai trò (Bộ phận một cửa, Chuyên viên, Lãnh đạo, Công dân...) hoặc thêm tên làn cho vai "
                    "trò (flask roles alias).", node)

    # -- names read by gateway conditions and timers

    def _contributions(self) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
        """(names a node may set, names it surely sets) for every node."""
        may: dict[str, set[str]] = {}
        sure: dict[str, set[str]] = {}
        for node in self.nodes.values():
            names: set[str] = set()
            certain: set[str] = set()
            form = node.props.get(FORM_KEY, "").strip()
            if form and isinstance(self.forms.get(form), dict) and node.tag in HUMAN_TAGS | {"startEvent"}:
                for field_name, (_, present) in self._form_fields(form).items():
                    names.add(field_name)
                    if present:
                        certain.add(field_name)
            assigns = self.assigns.get(node.id)
            if assigns:
                names |= assigns
                certain |= assigns
            ext = node.el.find(f"{_B}extensionElements")
            if ext is not None:
                operator = ext.find(f"{_S}serviceTaskOperator")
                if operator is not None and operator.get("resultVariable"):
                    names.add(operator.get("resultVariable"))
                    certain.add(operator.get("resultVariable"))
                for var in ext.iter(f"{_S}messageVariable"):
                    if (var.text or "").strip():
                        names.add(var.text.strip())
            for kind, definition in node.defs:
                if kind != "message":
                    continue
                if definition.get(f"{_S}messageVariable"):
                    names.add(definition.get(f"{_S}messageVariable"))
                # the engine reads <spiffworkflow:messageVariable> inside the event definition's extensions
                for var in definition.iter(f"{_S}messageVariable"):
                    if (var.text or "").strip():
                        names.add(var.text.strip())
                        certain.add(var.text.strip())
            if names:
                may[node.id] = names
                sure[node.id] = certain
        return may, sure

    def _predecessors(self) -> dict[str, list[str]]:
        preds: dict[str, list[str]] = {n: [] for n in self.nodes}
        for box in self.boxes:
            for flow in box.flows:
                if flow.source is not None and flow.target is not None:
                    preds[flow.target.id].append(flow.source.id)
            for node in box.nodes.values():
                if node.attached_to is not None:
                    preds[node.id].append(node.attached_to.id)
                entry = f"\0in:{node.id}"
                inner_starts: list[_Node] = []
                inner_ends: list[_Node] = []
                inner_box = node.inner
                if inner_box is None and node.tag == "callActivity":
                    inner_box = self.process_boxes.get(node.el.get("calledElement") or "")
                if inner_box is not None:
                    inner_starts = [n for n in inner_box.nodes.values() if n.tag == "startEvent"]
                    # without an end event (already refused), count everything inside as done
                    inner_ends = [n for n in inner_box.nodes.values() if n.tag == "endEvent"] or \
                        list(inner_box.nodes.values())
                if not inner_starts and not inner_ends:
                    continue
                if node.event_sub:
                    # it may start at any moment of the enclosing (sub)process
                    for start in inner_starts:
                        preds[start.id].extend(n for n in box.nodes if n != node.id)
                    continue
                preds[entry] = [f.source.id for f in node.incoming if f.source is not None]
                for start in inner_starts:
                    preds[start.id].append(entry)
                preds[node.id].extend(end.id for end in inner_ends)
        return preds

    def _check_expression_names(self) -> None:
        needs_cover = self.needs_cover
        if not self.conditions and not self.timers and not needs_cover:
            return
        may, sure = self._contributions()
        preds = self._predecessors()
        known_everywhere = set(SANDBOX_BUILTINS)
        for box in self.boxes:
            known_everywhere |= box.data_objects
        main = next(b for b in self.boxes if b.kind == "main")
        start_fields: set[str] = set()
        start_sure: set[str] = set()
        for node in main.nodes.values():
            if node.tag == "startEvent" and not node.defs:
                start_fields |= may.get(node.id, set())
                start_sure |= sure.get(node.id, set())
        known_everywhere |= start_fields
        cache: dict[str, tuple[set[str], set[str]]] = {}

        def upstream(node_id: str) -> tuple[set[str], set[str]]:
            if node_id in cache:
                return cache[node_id]
            names: set[str] = set()
            certain: set[str] = set()
            seen = {node_id}
            queue = deque(preds.get(node_id, ()))
            while queue:
                current = queue.popleft()
                if current in seen:
                    continue
                seen.add(current)
                names |= may.get(current, set())
                certain |= sure.get(current, set())
                queue.extend(preds.get(current, ()))
            cache[node_id] = (names, certain)
            return names, certain

        for gateway, flow, tree in self.conditions:
            if gateway not in self.reached or self.unusable_forms:
                continue  # already refused; its names would only repeat that
            names, certain = upstream(gateway.id)
            loaded, bound = _names_in(tree)
            for name in sorted(loaded - bound):
                if name in known_everywhere and name not in start_fields:
                    continue  # a builtin or a data object
                if name in start_fields or name in names:
                    if name not in start_sure and name not in certain:
                        self.at(WARNING, "condition-optional", f"Điều kiện đọc trường '{name}', nhưng trường này "
                                "không bắt buộc trong các biểu mẫu trước cổng: nếu người dùng bỏ trống, điều kiện sẽ "
                                "lỗi và hồ sơ dừng lại. Hãy đặt trường là bắt buộc.", flow)
                    continue
                self.at(ERROR, "condition-field", f"Điều kiện dùng tên '{name}' nhưng không biểu mẫu nào trước cổng "
                        f"'{gateway.id}' có trường này, cũng không có kịch bản nào gán nó.", flow)
        for node, tree in self.timers:
            if node not in self.reached or self.unusable_forms:
                continue
            names, _ = upstream(node.attached_to.id if node.attached_to is not None else node.id)
            loaded, bound = _names_in(tree)
            for name in sorted(loaded - bound - known_everywhere - names):
                self.at(ERROR, "timer-field", f"Biểu thức hẹn giờ dùng tên '{name}' nhưng không biểu mẫu nào trước "
                        "đó có trường này, cũng không có kịch bản nào gán nó.", node)
        for gateway in needs_cover:
            if not self._covered(gateway, upstream(gateway.id)[0] | known_everywhere):
                self.at(WARNING, "gateway-no-default", "Cổng không có luồng mặc định: nếu không điều kiện nào đúng, "
                        "hồ sơ sẽ dừng lại với lỗi. Hãy chọn một luồng làm mặc định.", gateway)

    def _covered(self, gateway: _Node, known: set[str]) -> bool:
        """True when the conditions out of the gateway test one required choice field against all its values."""
        trees = [tree for node, _, tree in self.conditions if node is gateway]
        if len(trees) != len([f for f in gateway.outgoing if f.condition is not None and f.condition.strip()]):
            return False
        field_name: str | None = None
        values: list[Any] = []
        for tree in trees:
            got = _choice_cover(tree)
            if got is None or (field_name is not None and got[0] != field_name):
                return False
            field_name = got[0]
            values.extend(got[1])
        if field_name is None or field_name not in known:
            return False
        # every form that defines the field must require it and offer only values the conditions test
        found = False
        for form in {n.props.get(FORM_KEY, "").strip() for n in self.nodes.values()}:
            if not form or form not in self.form_fields:
                continue
            fields = self.form_fields[form]
            if field_name not in fields:
                continue
            found = True
            present = fields[field_name][1]
            choices = self.form_choices[form].get(field_name)
            if not present or not choices or any(choice not in values for choice in choices):
                return False
        return found

    # -- 5. the engine

    def _compile(self, xml: bytes | str, main: _Box) -> None:
        try:
            model = engine.compile_bpmn(xml)
        except engine.BpmnError as exc:
            element = exc.element or self._element_at(exc.message, exc.line) or main.id
            target = self.ids.get(element)
            name = _name(target) if target is not None else None
            self.error("engine", _translate(exc.message, exc.line), element, name)
            return
        self.report.model = model

    def _element_at(self, message: str, line: int | None) -> str | None:
        """The id of the element an engine message is about: the XML element it names (on its line when
        known), else the first element on that line; or its nearest ancestor with an id."""
        named = re.search(r"Element '(\{[^}]*\}[\w.-]+)'", message)
        candidates = []
        for el in self.root.iter(named.group(1) if named else None):
            if not isinstance(el.tag, str) or (line and el.sourceline != line):
                continue
            candidates.append(el)
            break
        if not candidates:
            return None
        el = candidates[0]
        while el is not None and not (el.get("id") and _local(el)):
            el = el.getparent()
        return el.get("id") if el is not None else None


_TRANSLATIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"RecursionError"), "mô hình quá sâu hoặc quá dài đối với bộ máy quy trình; hãy chia nhỏ quy trình"),
    (re.compile(r"The attribute '([^']+)' is required but missing"), "thiếu thuộc tính bắt buộc '{0}'"),
    (re.compile(r"This element is not expected"), "phần tử này không được phép ở vị trí này theo lược đồ BPMN"),
    (re.compile(r"Missing child element\(s\)\. Expected is \( ?([^)]*?) ?\)"), "thiếu phần tử con bắt buộc {0}"),
    (re.compile(r"is not a valid value of the atomic type '([^']+)'"), "giá trị không hợp lệ theo kiểu {0}"),
    (re.compile(r"The attribute '([^']+)' is not allowed"), "không được phép có thuộc tính '{0}'"),
    (re.compile(r"Character content other than whitespace is not allowed"), "không được chứa văn bản ở đây"),
    (re.compile(r"Duplicate process ID: (.+)"), "trùng mã quy trình {0}"),
    (re.compile(r"Multiple outgoing flows are not supported"), "một bước không được có nhiều luồng đi ra"),
    (re.compile(r"Non-default exclusive outgoing sequence flow without condition"),
     "luồng ra từ cổng không có điều kiện và không phải luồng mặc định"),
    (re.compile(r"No DMN Diagram available"), "không có bảng quyết định DMN"),
    (re.compile(r"Process (.+) is not executable"), "quy trình {0} chưa được đánh dấu thực thi được"),
)


def _translate(message: str, line: int | None) -> str:
    """A Vietnamese, located version of what the engine said; the original stays in brackets."""
    detail = message.split(": ", 1)[1] if message.startswith(("BPMN không hợp lệ: ", "Không đọc được")) else message
    detail = detail.strip().rstrip(".").strip()
    for pattern, template in _TRANSLATIONS:
        found = pattern.search(detail)
        if found:
            text = template.format(*found.groups())
            break
    else:
        text = "mô hình không hợp lệ"
    where = f" (dòng {line})" if line else ""
    text, detail = (value.replace(_B, "bpmn:").replace(_S, "spiffworkflow:") for value in (text, detail))
    return f"Bộ máy quy trình không nhận mô hình{where}: {text} [{_quote(detail, 300)}]."
