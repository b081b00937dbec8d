"""The BPMN script sandbox (app.engine.sandbox), alone and inside SpiffWorkflow.

Named test_engine_* because the integration tests build SpiffWorkflow objects directly. They also cover
app.engine.xmlsafe end to end: every model here goes through `parse_xml` into `SpiffBpmnParser`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from xml.sax.saxutils import escape

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskState

from app.engine import sandbox
from app.engine.sandbox import (
    SandboxEnvironment,
    ScriptError,
    ScriptTimeoutError,
    make_script_engine,
    to_json_native,
)
from app.engine.xmlsafe import parse_xml


@pytest.fixture
def env() -> SandboxEnvironment:
    return SandboxEnvironment()


def _refused(env: SandboxEnvironment, source: str, data: dict[str, Any] | None = None) -> ScriptError:
    """Run `source` as an expression, or as a script when it is not one, and return the ScriptError."""
    data = dict(data or {})
    with pytest.raises(ScriptError) as info:
        try:
            compile(source, "<probe>", "eval")
            is_expression = True
        except SyntaxError:
            is_expression = False
        if is_expression:
            env.evaluate(source, data)
        else:
            env.execute(source, data)
    return info.value


# --------------------------------------------------------------------------- what must keep working


@pytest.mark.parametrize(
    ("expression", "data", "expected"),
    [
        ('decision == "accept"', {"decision": "accept"}, True),
        ('decision == "accept"', {"decision": "reject"}, False),
        ("len(files) > 0", {"files": ["a.pdf"]}, True),
        ('x in ["a", "b"]', {"x": "b"}, True),
        ("[i * 2 for i in items if i % 2]", {"items": [1, 2, 3]}, [2, 6]),
        ("{k: v for k, v in zip(keys, values)}", {"keys": ["a", "b"], "values": [1, 2]}, {"a": 1, "b": 2}),
        ("dict(a=1, b=[1, 2])", {}, {"a": 1, "b": [1, 2]}),
        ("sum(f['pages'] for f in files)", {"files": [{"pages": 2}, {"pages": 3}]}, 5),
        ("sorted(set(xs), reverse=True)[:2]", {"xs": [3, 1, 3, 2]}, [3, 2]),
        ("max(xs, default=0) + min(xs) + abs(-1)", {"xs": [4, 2]}, 7),
        ("any(x > 2 for x in xs) and all(x > 0 for x in xs)", {"xs": [1, 3]}, True),
        ("list(enumerate(map(str, filter(bool, xs))))", {"xs": [0, 1, 2]}, [[0, "1"], [1, "2"]]),
        ("round(fee * 1.1, 2)", {"fee": 1000}, 1100.0),
        ("int('42') + float('0.5') + len(range(10))", {}, 52.5),
        ("name.strip().upper().replace(' ', '_')", {"name": " ho so "}, "HO_SO"),
        ("', '.join(tags)", {"tags": ["a", "b"]}, "a, b"),
        ("f'{fee:,} đồng - {name!r:>6}'", {"fee": 200000, "name": "x"}, "200,000 đồng -    'x'"),
        ("'%s/%05d' % (prefix, n)", {"prefix": "HS", "n": 42}, "HS/00042"),
        ("data['a']['b'][1]", {"data": {"a": {"b": [0, 9]}}}, 9),
        ("d.get('missing', 'none')", {"d": {}}, "none"),
        ("timedelta(days=3)", {}, "P3D"),
        ("timedelta(hours=1, minutes=30, seconds=1.5)", {}, "PT1H30M1.5S"),
        ("date(2024, 5, 1) + timedelta(days=30)", {}, "2024-05-31"),
        ("date('2024-05-01').isoformat()", {}, "2024-05-01"),
        ("(date(due) - date(2024, 1, 1)).days", {"due": "2024-01-11"}, 10),
        ("datetime(2024, 5, 1, 8, 30)", {}, "2024-05-01T08:30:00+07:00"),
        ("datetime('2024-05-01T08:30') < datetime('2024-05-01T08:30+00:00')", {}, True),
        ("(1, 2)", {}, [1, 2]),
        ("y > 10", {"y": 12}, True),
        ("  \tx + 1", {"x": 1}, 2),  # leading blanks, as builtin eval() accepts
        ("10 ** 100 > 0 and 2 ** 0.5 > 1", {}, True),
    ],
)
def test_normal_expressions(env: SandboxEnvironment, expression: str, data: dict[str, Any], expected: Any) -> None:
    assert env.evaluate(expression, data) == expected


def test_today_and_now_are_vietnam_time(env: SandboxEnvironment) -> None:
    vn = dt.timezone(dt.timedelta(hours=7))
    assert env.evaluate("today()", {}) in {
        dt.datetime.now(vn).date().isoformat(),
        (dt.datetime.now(vn) - dt.timedelta(seconds=5)).date().isoformat(),
    }
    now = dt.datetime.fromisoformat(env.evaluate("now()", {}))
    assert now.utcoffset() == dt.timedelta(hours=7)
    assert abs((now - dt.datetime.now(dt.UTC)).total_seconds()) < 5


def test_task_data_wins_over_external_context(env: SandboxEnvironment) -> None:
    assert env.evaluate("a + b", {"a": 1}, external_context={"a": 100, "b": 10}) == 11


def test_fee_script_from_a_real_procedure(env: SandboxEnvironment) -> None:
    data: dict[str, Any] = {"fee": 2000, "pages": 30}
    assert env.execute("total = fee * pages if pages < 100 else 200000", data) is True
    assert data == {"fee": 2000, "pages": 30, "total": 60000}
    data["pages"] = 150
    env.execute("total = fee * pages if pages < 100 else 200000", data)
    assert data["total"] == 200000


def test_execute_leaves_new_and_changed_variables_only(env: SandboxEnvironment) -> None:
    data: dict[str, Any] = {"x": 1, "old": "gone", "docs": [1]}
    script = (
        "x = x + 1\n"
        "del old\n"
        "docs.append(2)\n"
        "a, (b, c) = 1, (2, 3)\n"
        "for i, j in [(1, 2), (3, 4)]:\n"
        "    a += i * j\n"
        "def helper(v):\n"
        "    return v * 10\n"
        "scaled = helper(a)\n"
        "square = lambda v: v * v\n"
        "record = {}\n"
        "record['k'] = [n for n in range(3)]\n"
        "count = 0\n"
        "while count < 5:\n"
        "    count += 1\n"
        "try:\n"
        "    missing = record['nope']\n"
        "except:\n"
        "    missing = None\n"
    )
    env.execute(script, data)
    assert data == {
        "x": 2,
        "docs": [1, 2],
        "a": 15,
        "b": 2,
        "c": 3,
        "i": 3,
        "j": 4,
        "scaled": 150,
        "record": {"k": [0, 1, 2]},
        "count": 5,
        "missing": None,
    }
    assert "helper" not in data and "square" not in data and "__builtins__" not in data
    assert not any(key.startswith("_") for key in data)


def test_execute_makes_values_json_native(env: SandboxEnvironment) -> None:
    data: dict[str, Any] = {}
    env.execute(
        "d = date(2024, 5, 1)\nt = datetime(2024, 5, 1, 8)\ndur = timedelta(days=2, hours=3)\n"
        "tags = {'b', 'a'}\npair = (1, (2, 3))\nnested = {'when': [date(2024, 1, 2)], 1: 'x'}",
        data,
    )
    assert data == {
        "d": "2024-05-01",
        "t": "2024-05-01T08:00:00+07:00",
        "dur": "P2DT3H",
        "tags": ["a", "b"],
        "pair": [1, [2, 3]],
        "nested": {"when": ["2024-01-02"], "1": "x"},
    }
    json.dumps(data)


@pytest.mark.parametrize(
    ("script", "fragment"),
    [
        ("pairs = zip([1], [2])", "pairs"),
        ("numbers = range(3)", "numbers"),
        ("gen = (i for i in [1])", "gen"),
        ("x = float('nan')", "x"),
        ("loop = []\nloop.append(loop)", "loop"),
    ],
)
def test_non_json_values_are_refused_with_the_variable_name(
    env: SandboxEnvironment, script: str, fragment: str
) -> None:
    data: dict[str, Any] = {"keep": 1}
    with pytest.raises(ScriptError, match=fragment):
        env.execute(script, data)
    assert data == {"keep": 1}


def test_failed_script_leaves_task_data_unchanged(env: SandboxEnvironment) -> None:
    data: dict[str, Any] = {"x": 1}
    with pytest.raises(ScriptError):
        env.execute("x = 2\ny = 3\nz = 1 / 0", data)
    assert data == {"x": 1}


def test_external_context_is_readable_but_not_written_back(env: SandboxEnvironment) -> None:
    data: dict[str, Any] = {"mine": 1}
    env.execute("copy = shared * 2\nshared = 0", data, external_context={"shared": 21})
    assert data == {"mine": 1, "copy": 42}


def test_compiled_code_is_cached_by_source() -> None:
    first = sandbox._compile("cache_probe + 1", "eval")
    assert sandbox._compile("cache_probe + 1", "eval") is first
    assert sandbox._compile("cache_probe + 1", "exec") is not first
    assert sandbox._compile_cached.cache_info().maxsize == sandbox.COMPILE_CACHE_SIZE
    long_source = "x = 1\n" * (sandbox.MAX_CACHED_SOURCE_CHARS // 6 + 1)
    assert sandbox._compile(long_source, "exec") is not sandbox._compile(long_source, "exec")


@settings(max_examples=150, deadline=None)
@given(
    st.recursive(
        st.integers(min_value=-50, max_value=50).map(str),
        lambda inner: st.tuples(inner, st.sampled_from(["+", "-", "*", "//", "%", "<", "==", "and", "or"]), inner).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        max_leaves=12,
    )
)
def test_arithmetic_matches_plain_python(expression: str) -> None:
    environment = SandboxEnvironment()
    try:
        expected = eval(expression, {"__builtins__": {}})  # the expression is digits and operators only
    except ZeroDivisionError:
        with pytest.raises(ScriptError, match="chia cho 0"):
            environment.evaluate(expression, {})
        return
    assert environment.evaluate(expression, {}) == expected


# --------------------------------------------------------------------------- escapes that must fail


@pytest.mark.parametrize(
    "source",
    [
        "().__class__.__bases__[0].__subclasses__()",
        "[c for c in ().__class__.__base__.__subclasses__()]",
        "__import__('os')",
        "__import__('os').system('id')",
        "__builtins__",
        "getattr(x, '__class__')",
        "type(x)",
        "type(x).__subclasses__",
        "vars()",
        "globals()",
        "locals()",
        "dir()",
        "open('/etc/passwd')",
        "open('/etc/passwd').read()",
        "eval('1')",
        "exec('1')",
        "compile('1', 'f', 'eval')",
        "breakpoint()",
        "help()",
        "(lambda: 0).__globals__",
        "(lambda: 0).__code__",
        "'{0.__class__}'.format(x)",
        "'{0.__class__.__mro__}'.format(x)",
        "'{x.__class__}'.format_map({'x': x})",
        "f'{x.__class__}'",
        "(i for i in x).gi_frame",
        "(i for i in x).gi_frame.f_back.f_globals",
        "(i for i in x).gi_running",
        "(i for i in x).send",
        "x.append.__self__",
        "len.__self__",
        "max.__module__",
        "date.__globals__",
        "today.__wrapped__",
        "map.mro()",
        "bool.from_bytes",
        "float.fromhex",
        "str.maketrans",
        "enumerate.__subclasses__()",
        "x.copy.__func__",
        "(1).to_bytes(10, 'big')",
        "import os",
        "from os import system",
        "import builtins",
        "class A: pass",
        "def g():\n    yield 1",
        "with x as y:\n    pass",
        "print(1)",
        "_ = 1\n_getattr_ = None",
        "x.__class__ = dict",
        "now().tzinfo.utcoffset",
        "today().timetuple().tm_year",
    ],
)
def test_escape_attempts_are_refused(env: SandboxEnvironment, source: str) -> None:
    error = _refused(env, source, {"x": [1, 2]})
    assert error.message
    assert error.expression is not None


def test_format_walk_does_not_reach_the_class(env: SandboxEnvironment) -> None:
    error = _refused(env, "'{0.__class__}'.format(x)", {"x": 1})
    assert "format" in error.message
    assert "int" not in error.message


def test_writes_only_into_dicts_and_lists(env: SandboxEnvironment) -> None:
    data: dict[str, Any] = {"d": {}, "l": [0]}
    env.execute("d['k'] = 1\nl[0] = 2\ndel d['k']", data)
    assert data == {"d": {}, "l": [2]}
    for script in ["t[0] = 5", "del t[0]", "s.x = 1", "today().year = 1", "f = lambda: 0\nf.attr = 1"]:
        _refused(env, script, {"s": "abc", "t": (1,)})


def test_compile_errors_are_located(env: SandboxEnvironment) -> None:
    error = _refused(env, "a = 1\nb = 2\nc = __import__('os')")
    assert error.line == 3
    assert "dòng 3" in error.message
    assert "__import__" in error.message

    syntax = _refused(env, "a = 1\nb = (\n")
    assert syntax.line is not None and "cú pháp" in syntax.message


def test_runtime_errors_are_located_in_the_script(env: SandboxEnvironment) -> None:
    error = _refused(env, "def f(v):\n    return v / 0\na = 1\nb = f(a)")
    assert error.line == 2
    assert error.message == "Lỗi trong kịch bản (dòng 2): chia cho 0"
    assert _refused(env, "a = 1\nb = missing_name").line == 2
    assert "missing_name" in _refused(env, "a = 1\nb = missing_name").message


def test_script_error_shape() -> None:
    error = ScriptError("Thông báo", "x + 1", 3)
    assert str(error) == "Thông báo" and error.args[0] == "Thông báo"
    assert (error.expression, error.line) == ("x + 1", 3)
    assert issubclass(ScriptTimeoutError, ScriptError)


# --------------------------------------------------------------------------- resource limits


def _quick(env: SandboxEnvironment, source: str, data: dict[str, Any] | None = None) -> ScriptError:
    started = time.monotonic()
    error = _refused(env, source, data)
    assert time.monotonic() - started < 3, "a limit took too long to trigger"
    return error


@pytest.mark.parametrize(
    "source",
    [
        "'a' * 10**9",
        "[0] * 10**9",
        "10**9 * 'a'",
        "10**10**10",
        "2 ** 10**8",
        "1 << 10**10",
        "(10**20000) * (10**20000)",
        "round(5, -10**9)",
        "range(10**9)",
        "'x'.zfill(10**9)",
        "'x'.ljust(10**9)",
        "'a\\tb'.expandtabs(10**9)",
        "('a' * 999999).replace('a', 'aa')",
        "'x'.join(['a' * 999999] * 10)",
        "str(['a' * 999999] * 999999)",
        "f'{big}'",
        "f'{x:>1000000000}'",
        "f'{x:.1000000}'",
        "'%*d' % (10**9, 1)",
        "'%1000000000d' % 1",
        "'%s' % (big,)",
        "sum([[1]] * 10, [])",
        "s = 'a' * 999999\nwhile True:\n    s = s + s",
        "l = [1] * 999999\nwhile True:\n    l = [*l, *l]",
        "l = [1] * 999999\nwhile True:\n    l.extend(l)",
        "l = [1] * 999999\nwhile True:\n    l += l",
        "keep = []\nwhile True:\n    keep.append('a' * 999999)",
        "keep = [s[:] for s in ['a' * 999999] * 50]",
        "keep = [f'{s}{s}' for s in ['a' * 999999] * 20]",
    ],
)
def test_oversized_results_are_refused_quickly(env: SandboxEnvironment, source: str) -> None:
    error = _quick(env, source, {"x": 1, "big": ["a" * 999_999] * 2})
    # Refused by a size guard, not merely stopped by the clock after building something huge.
    assert not isinstance(error, ScriptTimeoutError), error.message


@pytest.mark.parametrize(
    "source",
    [
        "while True: pass",
        "while True:\n    pass",
        "x = 0\nwhile x >= 0:\n    x += 1",
        "def f(n):\n    return f(n - 1) + f(n - 1) if n else 1\nr = f(60)",
        "r = [i for i in range(100000) for j in range(100000)]",
        "r = sum(1 for i in range(100000) for j in range(100000))",
        "r = sorted(range(100000), key=lambda i: [j for j in range(100000)])",
        # C loops over a Python-level method wrapper: no line events, only calls.
        "r = sum(map(text.count, ['a'] * 999999))",
        # Catching the timeout does not help: every except/finally re-checks the budget.
        "try:\n    while True: pass\nexcept:\n    while True: pass",
        "try:\n    while True: pass\nfinally:\n    while True: pass",
        "def f():\n    try:\n        while True: pass\n    except:\n        return f()\nf()",
        "while True:\n    try:\n        while True: pass\n    except:\n        pass",
    ],
)
def test_endless_work_times_out(env: SandboxEnvironment, source: str) -> None:
    error = _quick(env, source, {"text": "ab" * 50_000})
    assert isinstance(error, ScriptTimeoutError)
    assert "Biểu thức/kịch bản chạy quá lâu" in error.message


def test_wall_clock_limit_applies_when_steps_are_plenty() -> None:
    environment = SandboxEnvironment(max_steps=10**12, timeout_seconds=0.05)
    started = time.monotonic()
    with pytest.raises(ScriptTimeoutError, match="giây"):
        environment.execute("while True: pass", {})
    assert time.monotonic() - started < 1


def test_step_budget_is_configurable() -> None:
    with pytest.raises(ScriptTimeoutError, match="100 bước"):
        make_script_engine(max_steps=100).environment.execute("for i in range(1000):\n    x = i", {})
    data: dict[str, Any] = {}
    SandboxEnvironment(max_steps=100).execute("for i in range(10):\n    x = i", data)
    assert data["x"] == 9


def test_deep_recursion_is_an_error_not_a_crash(env: SandboxEnvironment) -> None:
    assert "đệ quy" in _refused(env, "def f():\n    return f()\nf()").message


def test_deeply_nested_data_is_refused(env: SandboxEnvironment) -> None:
    assert "sâu" in _refused(env, "x = []\nfor i in range(500):\n    x = [x]").message


@pytest.fixture
def probe_tracer() -> Iterator[Callable[..., Any]]:
    """Install a tracer of our own (as coverage or a debugger would) and restore the original after."""
    original = sys.gettrace()

    def tracer(frame: Any, event: str, arg: Any) -> None:
        return None

    sys.settrace(tracer)
    try:
        yield tracer
    finally:
        sys.settrace(original)


def test_previous_tracer_is_restored(env: SandboxEnvironment, probe_tracer: Callable[..., Any]) -> None:
    env.evaluate("1 + 1", {})
    assert sys.gettrace() is probe_tracer
    with pytest.raises(ScriptTimeoutError):
        env.execute("try:\n    while True: pass\nexcept:\n    pass", {})
    assert sys.gettrace() is probe_tracer
    with pytest.raises(ScriptError):
        env.evaluate("__import__('os')", {})
    assert sys.gettrace() is probe_tracer


def test_runs_in_parallel_threads_keep_their_own_budgets() -> None:
    environment = SandboxEnvironment(timeout_seconds=0.5)
    results: dict[str, Any] = {}

    def spin() -> None:
        try:
            environment.execute("while True: pass", {})
        except ScriptTimeoutError as exc:
            results["spin"] = exc

    def work(n: int) -> None:
        data = {"n": n}
        environment.execute("total = 0\nfor i in range(n):\n    total += i", data)
        results[f"work{n}"] = data["total"]

    threads = [threading.Thread(target=spin)] + [threading.Thread(target=work, args=(n,)) for n in (10, 100)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert isinstance(results["spin"], ScriptTimeoutError)
    assert results["work10"] == 45 and results["work100"] == 4950


# --------------------------------------------------------------------------- service tasks


def test_call_service_without_handler(env: SandboxEnvironment) -> None:
    with pytest.raises(ScriptError, match="Chưa cấu hình kết nối cho thao tác 'tra_cuu'"):
        env.call_service({}, operation_name="tra_cuu", operation_params={})


def test_call_service_delegates_and_returns_json() -> None:
    calls: list[tuple[str, dict[str, Any], dict[str, Any]]] = []

    def handler(name: str, params: dict[str, Any], data: dict[str, Any]) -> Any:
        calls.append((name, params, data))
        data["tampered"] = True  # a copy: must not reach task data
        return {"ok": True, "when": dt.date(2024, 5, 1)}

    environment = SandboxEnvironment(handler)
    task_data = {"code": "A1"}
    params = {"code": {"value": "A1", "type": "str"}}
    result = environment.call_service(task_data, operation_name="tra_cuu", operation_params=params)
    assert json.loads(result) == {"ok": True, "when": "2024-05-01"}
    assert calls[0][0] == "tra_cuu" and calls[0][1] == params and calls[0][2]["code"] == "A1"
    assert task_data == {"code": "A1"}
    assert SandboxEnvironment(lambda *a: '{"a": 1}').call_service({}, operation_name="x") == '{"a": 1}'


def test_call_service_wraps_every_handler_failure() -> None:
    def broken(name: str, params: dict[str, Any], data: dict[str, Any]) -> Any:
        raise ConnectionError("timeout contacting the registry")

    with pytest.raises(ScriptError, match="Thao tác 'tra_cuu' thất bại") as info:
        SandboxEnvironment(broken).call_service({}, operation_name="tra_cuu", operation_params={})
    assert isinstance(info.value.__cause__, ConnectionError)
    with pytest.raises(ScriptError, match="không phải JSON"):
        SandboxEnvironment(lambda *a: "not json").call_service({}, operation_name="x")


# --------------------------------------------------------------------------- with SpiffWorkflow

BPMN_TEMPLATE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
    id="defs" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="p" name="Thử nghiệm" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>{start_flow}</bpmn:outgoing></bpmn:startEvent>
    {first}
    <bpmn:scriptTask id="script" name="Tính y"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:script>{script}</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="f2" sourceRef="script" targetRef="gw" />
    <bpmn:exclusiveGateway id="gw" default="f_small"><bpmn:incoming>f2</bpmn:incoming>
      <bpmn:outgoing>f_big</bpmn:outgoing><bpmn:outgoing>f_small</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:sequenceFlow id="f_big" sourceRef="gw" targetRef="end_big">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{condition}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_small" sourceRef="gw" targetRef="end_small" />
    <bpmn:endEvent id="end_big"><bpmn:incoming>f_big</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="end_small"><bpmn:incoming>f_small</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>
"""

# What sits between the start event and the script task (the script task's incoming flow is f1).
DIRECT = '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="script" />'
MANUAL = """<bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="review" />
    <bpmn:manualTask id="review" name="Xem xét"><bpmn:incoming>f0</bpmn:incoming><bpmn:outgoing>f1</bpmn:outgoing>
    </bpmn:manualTask>
    <bpmn:sequenceFlow id="f1" sourceRef="review" targetRef="script" />"""
SERVICE = """<bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="lookup" />
    <bpmn:serviceTask id="lookup" name="Tra cứu">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="tra_cuu" resultVariable="registry">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="code" type="str" value="code.upper()" />
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
      <bpmn:incoming>f0</bpmn:incoming><bpmn:outgoing>f1</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:sequenceFlow id="f1" sourceRef="lookup" targetRef="script" />"""


def _bpmn(script: str, condition: str = "y > 10", first: str = DIRECT) -> bytes:
    """start → [first] → script task → exclusive gateway (condition / default) → end_big / end_small."""
    return BPMN_TEMPLATE.format(
        start_flow="f1" if first is DIRECT else "f0",
        first=first,
        script=escape(script),
        condition=escape(condition),
    ).encode("utf-8")


def _workflow(xml: bytes, engine: PythonScriptEngine | None = None, **data: Any) -> BpmnWorkflow:
    parser = SpiffBpmnParser()
    parser.add_bpmn_xml(parse_xml(xml), filename="t.bpmn")
    workflow = BpmnWorkflow(
        parser.get_spec("p"), parser.get_subprocess_specs("p"), script_engine=engine or make_script_engine()
    )
    for task in workflow.get_tasks(state=TaskState.READY):
        task.set_data(**data)
    return workflow


def _route(workflow: BpmnWorkflow) -> list[str]:
    return [t.task_spec.bpmn_id for t in workflow.get_tasks(state=TaskState.COMPLETED) if t.task_spec.bpmn_id]


def test_make_script_engine_is_a_spiff_engine_with_the_sandbox() -> None:
    engine = make_script_engine()
    assert isinstance(engine, PythonScriptEngine)
    assert isinstance(engine.environment, SandboxEnvironment)


@pytest.mark.parametrize(("x", "end", "y"), [(6, "end_big", 12), (3, "end_small", 6)])
def test_bpmn_script_and_gateway_run_in_the_sandbox(x: int, end: str, y: int) -> None:
    workflow = _workflow(_bpmn("y = x * 2"), x=x)
    workflow.do_engine_steps()
    assert workflow.is_completed()
    assert _route(workflow) == ["start", "script", "gw", end]
    assert workflow.data == {"x": x, "y": y}


def test_bpmn_escape_attempt_fails_before_anything_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(os, "system", lambda command: calls.append(command) or 0)
    workflow = _workflow(_bpmn("marker = 1\n__import__('os').system('id')"), x=1)
    with pytest.raises(WorkflowTaskException) as info:
        workflow.do_engine_steps()
    assert isinstance(info.value.__cause__, ScriptError)
    assert info.value.line_number == 2
    assert "__import__" in str(info.value)
    assert calls == []
    script_task = next(t for t in workflow.get_tasks() if t.task_spec.bpmn_id == "script")
    assert script_task.state == TaskState.ERROR
    assert "marker" not in script_task.data
    assert not workflow.is_completed()


def test_bpmn_runtime_refusal_is_a_located_workflow_error() -> None:
    workflow = _workflow(_bpmn("y = x * 2\nz = getattr(x, '__class__')"), x=1)
    with pytest.raises(WorkflowTaskException) as info:
        workflow.do_engine_steps()
    assert isinstance(info.value.__cause__, ScriptError)
    assert info.value.line_number == 2
    assert info.value.error_line == "z = getattr(x, '__class__')"


def test_bpmn_gateway_condition_is_sandboxed() -> None:
    workflow = _workflow(_bpmn("y = x * 2", condition="y.__class__ is int"), x=1)
    with pytest.raises(WorkflowTaskException) as info:
        workflow.do_engine_steps()
    assert isinstance(info.value.__cause__, ScriptError)


def test_bpmn_endless_script_times_out() -> None:
    workflow = _workflow(_bpmn("while True:\n    pass"), make_script_engine(max_steps=1000), x=1)
    with pytest.raises(WorkflowTaskException) as info:
        workflow.do_engine_steps()
    assert isinstance(info.value.__cause__, ScriptTimeoutError)


def test_engine_reattached_after_deserialization() -> None:
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
    workflow = _workflow(_bpmn("y = x * 2\nchecked = today()", first=MANUAL), x=6)
    workflow.do_engine_steps()
    state = serializer.serialize_json(workflow)

    restored = serializer.deserialize_json(state)
    restored.script_engine = make_script_engine()
    (review,) = restored.get_tasks(state=TaskState.READY, manual=True)
    review.run()
    restored.do_engine_steps()
    assert restored.is_completed()
    assert _route(restored) == ["start", "review", "script", "gw", "end_big"]
    # today() exists only in the sandbox, and its date became an ISO string there.
    assert restored.data["checked"] == dt.date.fromisoformat(restored.data["checked"]).isoformat()


def test_bpmn_service_task_result_and_failure() -> None:
    seen: list[tuple[str, dict[str, Any]]] = []

    def handler(name: str, params: dict[str, Any], data: dict[str, Any]) -> Any:
        seen.append((name, params))
        return {"found": params["code"]["value"] == "A1"}

    workflow = _workflow(
        _bpmn("y = 20 if registry['found'] else 0", first=SERVICE), make_script_engine(handler), code="a1"
    )
    workflow.do_engine_steps()
    assert workflow.is_completed() and workflow.data["registry"] == {"found": True}
    assert seen == [("tra_cuu", {"code": {"value": "A1", "type": "str"}})]
    assert _route(workflow)[-1] == "end_big"

    def broken(name: str, params: dict[str, Any], data: dict[str, Any]) -> Any:
        raise TimeoutError("registry down")

    failing = _workflow(_bpmn("y = 1", first=SERVICE), make_script_engine(broken), code="a1")
    with pytest.raises(WorkflowTaskException) as info:
        failing.do_engine_steps()
    # SpiffWorkflow 3.2 alone would report an unrelated NameError here.
    assert isinstance(info.value.__cause__, ScriptError)
    assert "tra_cuu" in str(info.value) and "registry down" in str(info.value)


TIMER_BPMN = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="defs" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait" />
    <bpmn:intermediateCatchEvent id="wait"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:timerEventDefinition>
        <bpmn:timeDuration xsi:type="bpmn:tFormalExpression">timedelta(days=days)</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="end" />
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>
"""


def test_bpmn_timer_expression_runs_in_the_sandbox() -> None:
    workflow = _workflow(TIMER_BPMN, days=3)
    workflow.do_engine_steps()
    (event,) = workflow.waiting_events()
    due = dt.datetime.fromisoformat(event.value)
    expected = dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
    assert abs((due - expected).total_seconds()) < 60


def test_to_json_native_is_usable_on_its_own() -> None:
    assert to_json_native({"a": (1, dt.date(2024, 1, 1))}) == {"a": [1, "2024-01-01"]}
    with pytest.raises(ScriptError):
        to_json_native({"f": object()})


def test_a_condition_written_on_its_own_indented_line_evaluates():
    from app.engine.sandbox import SandboxEnvironment, check_expression

    env = SandboxEnvironment()
    assert env.evaluate('\n      decision == "accept"\n    ', {"decision": "accept"}) is True
    assert check_expression('\n   decision == "accept"\n') is None
