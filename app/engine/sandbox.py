"""A sandbox for the Python that BPMN models carry: script tasks, gateway conditions, timer expressions,
service-task parameters and DMN cells.

SpiffWorkflow runs all of these with plain `eval`/`exec`. Models are uploaded by users, so that would be
remote code execution. This module replaces SpiffWorkflow's script environment with one that:

- compiles with RestrictedPython (`compile_restricted_exec`/`compile_restricted_eval`) under a stricter
  policy (`_SandboxPolicy`): no imports, classes, generators, `with`, `print`, nor names or attributes
  starting with "_";
- guards every attribute access: only plain data types (str, numbers, list, dict, tuple, set, dates,
  Decimal) expose attributes, and never `format`/`format_map` (their format strings walk attributes
  unchecked); modules, functions, classes, frames and generators expose nothing;
- offers only a short list of builtins plus date helpers, all plain functions;
- bounds run time (counted steps and a wall clock, via `sys.settrace` on sandbox frames only) and the
  size of what a script can build (big `*`, `**`, `<<`, `+`, `%`, f-strings, joins, `str()` of large
  containers, and a per-run allocation budget);
- keeps task data JSON-native: dates become ISO strings, durations ISO 8601 durations, tuples and sets
  lists; functions are dropped and other objects refused.

Limits that are not closed here (see `SandboxEnvironment`): memory is bounded per operation and per run
by counting, not by the operating system; a single C-level operation on allowed sizes (sorting a
million items) cannot be interrupted mid-way; the timer runs per call, not per workflow.
"""

from __future__ import annotations

import ast
import datetime as dt
import decimal
import functools
import itertools
import json
import math
import operator
import re
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import CodeType, FrameType
from typing import Any

from RestrictedPython import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.Guards import guarded_iter_unpack_sequence, guarded_unpack_sequence
from RestrictedPython.transformer import RestrictingNodeTransformer
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

__all__ = [
    "SCRIPT_FILENAME",
    "ScriptError",
    "ScriptTimeoutError",
    "SandboxEnvironment",
    "SandboxScriptEngine",
    "ServiceHandler",
    "make_script_engine",
    "to_json_native",
]

# Code compiled here carries this filename: the tracer counts only frames with it, and tracebacks are
# searched for it to find the offending line.
SCRIPT_FILENAME = "<bpmn-script>"

DEFAULT_MAX_STEPS = 200_000
DEFAULT_TIMEOUT_SECONDS = 1.0
MAX_RANGE = 100_000  # items a single range() may produce
MAX_SIZE = 1_000_000  # characters / items of any single value built in the sandbox
DEFAULT_MAX_ALLOC = 10_000_000  # characters / items built in one run, all values together
MAX_ITER_ITEMS = 5_000_000  # items pulled through for-loops and comprehensions in one run
MAX_INT_BITS = 100_000  # about 30,000 decimal digits; arithmetic on such numbers is still fast
MAX_FORMAT_WIDTH = 1_000  # width/precision in f-strings and %-formatting
MAX_ROUND_DIGITS = 1_000  # round(5, -10**9) would compute 10**(10**9)
MAX_SOURCE_CHARS = 100_000
MAX_CACHED_SOURCE_CHARS = 10_000  # longer sources are compiled every time, so the cache stays small
MAX_DATA_DEPTH = 100  # nesting of values stored in task data (SpiffWorkflow deep-copies task data)
COMPILE_CACHE_SIZE = 1024

TIMEOUT_MESSAGE = "Biểu thức/kịch bản chạy quá lâu"

# Vietnam has used UTC+7 without daylight saving since 1975, so a fixed offset is exact and needs no
# tz database on the host.
VN_TZ = dt.timezone(dt.timedelta(hours=7), "Asia/Ho_Chi_Minh")

# Called as handler(operation_name, operation_params, task_data); returns a JSON string or a
# JSON-native value. operation_params is SpiffWorkflow's shape: {name: {"value": ..., "type": ...}}.
ServiceHandler = Callable[[str, dict[str, Any], dict[str, Any]], Any]


# --------------------------------------------------------------------------- errors


class ScriptError(Exception):
    """A BPMN expression or script was refused or failed.

    `message` is Vietnamese (also `str()` and `args[0]`, which SpiffWorkflow copies into its own
    errors), `expression` the offending source, `line` the 1-based line in it when known.
    """

    def __init__(self, message: str, expression: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.expression = expression
        self.line = line

    def __str__(self) -> str:
        return self.message


class ScriptTimeoutError(ScriptError):
    """The step budget or the wall-clock limit ran out."""


# --------------------------------------------------------------------------- compiling


def _name(id_: str) -> ast.Name:
    return ast.Name(id=id_, ctx=ast.Load())


def _call(func: str, *args: ast.expr) -> ast.Call:
    return ast.Call(func=_name(func), args=list(args), keywords=[])


def _tick_statement() -> ast.Expr:
    return ast.Expr(value=_call("_tick_"))


# Operators whose result can be far larger than their operands; everything else is bounded by them.
_GUARDED_BINOPS: dict[type[ast.operator], str] = {
    ast.Add: "+",
    ast.Mult: "*",
    ast.Pow: "**",
    ast.LShift: "<<",
    ast.Mod: "%",
}

_FORMAT_NUMBER_RE = re.compile(r"\d+")


class _SandboxPolicy(RestrictingNodeTransformer):
    """RestrictedPython's policy, tightened for BPMN and instrumented for the run-time guards.

    Rewrites (applied after RestrictedPython's own):
    - `a * b` (and `+ ** << %`) becomes `_binop_("*", a, b)`, which refuses oversized results before
      computing them; this also stops CPython's constant folding from building them at compile time;
    - f-string values go through `_fmtval_`, starred values through `_unpack_` and displays holding them
      through `_account_`, for size accounting;
    - every `while` body starts with `_tick_()`: a one-line `while True: pass` produces no trace events;
    - every `except` and `finally` body starts with `_tick_()`: when the tracer stops a script by raising,
      CPython switches tracing off, so a script that catches that exception must be stopped again.
    """

    def _refuse(self, node: ast.AST, message: str) -> None:
        self.error(node, message)

    def visit_Import(self, node: ast.Import) -> ast.AST:
        self._refuse(node, "không được dùng import trong kịch bản BPMN")
        return node

    def visit_ImportFrom(self, node: ast.ImportFrom) -> ast.AST:
        self._refuse(node, "không được dùng import trong kịch bản BPMN")
        return node

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        self._refuse(node, "không được định nghĩa class trong kịch bản BPMN")
        return node

    def visit_Yield(self, node: ast.Yield) -> ast.AST:
        self._refuse(node, "không được dùng yield trong kịch bản BPMN")
        return node

    def visit_YieldFrom(self, node: ast.YieldFrom) -> ast.AST:
        self._refuse(node, "không được dùng yield trong kịch bản BPMN")
        return node

    def visit_With(self, node: ast.With) -> ast.AST:
        self._refuse(node, "không được dùng with trong kịch bản BPMN")
        return node

    def visit_Name(self, node: ast.Name) -> Any:
        if node.id in ("print", "printed"):
            self._refuse(node, "không hỗ trợ print trong kịch bản BPMN; hãy gán kết quả vào một biến")
            return node
        return super().visit_Name(node)

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        node = super().visit_BinOp(node)
        symbol = _GUARDED_BINOPS.get(type(node.op))
        if symbol is None:
            return node
        new = _call("_binop_", ast.Constant(symbol), node.left, node.right)
        return ast.copy_location(new, node)

    def visit_FormattedValue(self, node: ast.FormattedValue) -> Any:
        node = super().visit_FormattedValue(node)
        spec = node.format_spec
        if spec is not None:
            parts = spec.values if isinstance(spec, ast.JoinedStr) else [spec]
            for part in parts:
                if not (isinstance(part, ast.Constant) and isinstance(part.value, str)):
                    self._refuse(node, "định dạng trong f-string phải là hằng số")
                    break
                if any(int(n) > MAX_FORMAT_WIDTH for n in _FORMAT_NUMBER_RE.findall(part.value)):
                    self._refuse(node, f"độ rộng/độ chính xác trong f-string vượt quá {MAX_FORMAT_WIDTH}")
                    break
        node.value = _call("_fmtval_", node.value)
        return node

    def visit_Starred(self, node: ast.Starred) -> Any:
        node = super().visit_Starred(node)
        if isinstance(node.ctx, ast.Load):
            node.value = _call("_unpack_", node.value)
        return node

    def _account_display(self, node: ast.List | ast.Tuple | ast.Set) -> Any:
        # [*a, *b] can exceed MAX_SIZE even when each part is within it: check the whole display too.
        if isinstance(getattr(node, "ctx", ast.Load()), ast.Load) and any(
            isinstance(elt, ast.Starred) for elt in node.elts
        ):
            return ast.copy_location(_call("_account_", node), node)
        return node

    def visit_List(self, node: ast.List) -> Any:
        return self._account_display(super().visit_List(node))

    def visit_Tuple(self, node: ast.Tuple) -> Any:
        return self._account_display(super().visit_Tuple(node))

    def visit_Set(self, node: ast.Set) -> Any:
        return self._account_display(super().visit_Set(node))

    def visit_While(self, node: ast.While) -> Any:
        node = super().visit_While(node)
        node.body.insert(0, _tick_statement())
        return node

    def visit_Try(self, node: ast.Try) -> Any:
        node = super().visit_Try(node)
        for handler in node.handlers:
            handler.body.insert(0, _tick_statement())
        if node.finalbody:
            node.finalbody.insert(0, _tick_statement())
        return node

    # The inserted nodes carry no position; give them their parent's before CPython compiles the tree.
    def visit_Module(self, node: ast.Module) -> Any:
        return ast.fix_missing_locations(super().visit_Module(node))

    def visit_Expression(self, node: ast.Expression) -> Any:
        return ast.fix_missing_locations(super().visit_Expression(node))


_RP_ERROR_RE = re.compile(r"^Line (\d+|None): (.*)$", re.DOTALL)
_RP_TRANSLATIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r'^"(.+)" is an invalid variable name because it starts with "_"'),
        "tên '{0}' không được phép (tên bắt đầu bằng '_' bị cấm)",
    ),
    (
        re.compile(r'^"(.+)" is an invalid attribute name because it starts with "_"'),
        "thuộc tính '{0}' không được phép (tên bắt đầu bằng '_' bị cấm)",
    ),
    (re.compile(r'^"(.+)" is a restricted name'), "thuộc tính '{0}' bị cấm"),
    (re.compile(r'^"(.+)" is a reserved name'), "tên '{0}' bị cấm"),
    (re.compile(r"^(Exec|Eval) calls are not allowed"), "không được gọi exec/eval"),
    (re.compile(r"^(\w+) statements are not allowed"), "câu lệnh {0} không được phép"),
    (re.compile(r"^SyntaxError: (.*) at statement: .*$", re.DOTALL), "lỗi cú pháp: {0}"),
)


def _kind(mode: str) -> str:
    return "biểu thức" if mode == "eval" else "kịch bản"


def _compile_error(errors: Iterable[str], source: str, mode: str) -> ScriptError:
    """RestrictedPython reports errors as strings ("Line N: ..."): turn the first into a located error."""
    first = next(iter(errors), "lỗi không rõ")
    line: int | None = None
    detail = first
    match = _RP_ERROR_RE.match(first)
    if match:
        line = int(match.group(1)) if match.group(1).isdigit() else None
        detail = match.group(2)
    for pattern, template in _RP_TRANSLATIONS:
        found = pattern.match(detail)
        if found:
            detail = template.format(*found.groups())
            break
    where = f" (dòng {line})" if line else ""
    return ScriptError(f"{_kind(mode).capitalize()} không hợp lệ{where}: {detail}", source, line)


def _compile(source: str, mode: str) -> CodeType:
    """Compile once per distinct source: code objects are immutable, so one process-wide LRU cache
    serves every workflow and thread (the facade builds a new engine per request)."""
    if len(source) <= MAX_CACHED_SOURCE_CHARS:
        return _compile_cached(source, mode)
    return _compile_uncached(source, mode)


def _compile_uncached(source: str, mode: str) -> CodeType:
    if len(source) > MAX_SOURCE_CHARS:
        raise ScriptError(f"{_kind(mode).capitalize()} quá dài (tối đa {MAX_SOURCE_CHARS} ký tự).", source)
    compiler = compile_restricted_eval if mode == "eval" else compile_restricted_exec
    try:
        result = compiler(source, filename=SCRIPT_FILENAME, policy=_SandboxPolicy)
    except SyntaxError as exc:  # raised by CPython's compile() after the policy: 'return' outside function...
        where = f" (dòng {exc.lineno})" if exc.lineno else ""
        raise ScriptError(
            f"{_kind(mode).capitalize()} không hợp lệ{where}: lỗi cú pháp: {exc.msg}", source, exc.lineno
        ) from None
    except (ValueError, RecursionError, MemoryError) as exc:  # NUL bytes, absurd nesting
        raise ScriptError(f"{_kind(mode).capitalize()} không hợp lệ: {exc}", source) from None
    if result.errors or result.code is None:
        raise _compile_error(result.errors, source, mode)
    return result.code


_compile_cached = functools.lru_cache(maxsize=COMPILE_CACHE_SIZE)(_compile_uncached)


# --------------------------------------------------------------------------- JSON-native data


def _iso_duration(value: dt.timedelta) -> str:
    """A timedelta as an ISO 8601 duration ("P3D", "PT1H30M"), the form BPMN timers read."""
    micros = (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds
    sign = "-" if micros < 0 else ""
    micros = abs(micros)
    days, micros = divmod(micros, 86_400_000_000)
    hours, micros = divmod(micros, 3_600_000_000)
    minutes, micros = divmod(micros, 60_000_000)
    seconds, micros = divmod(micros, 1_000_000)
    clock = ""
    if hours:
        clock += f"{hours}H"
    if minutes:
        clock += f"{minutes}M"
    if micros:
        clock += f"{seconds}.{micros:06d}".rstrip("0") + "S"
    elif seconds:
        clock += f"{seconds}S"
    text = f"{sign}P" + (f"{days}D" if days else "") + (f"T{clock}" if clock else "")
    return text if text not in ("P", "-P") else "PT0S"


def _json_key(key: Any, where: str) -> str:
    # The same keys json.dumps accepts, converted the way it converts them.
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, bool):
        return json.dumps(key)
    if isinstance(key, int):
        return str(key)
    if isinstance(key, float) and math.isfinite(key):
        return repr(key)
    raise ScriptError(f"Khóa {key!r} trong '{where}' không lưu được vào dữ liệu hồ sơ (chỉ dùng chuỗi hoặc số).")


def to_json_native(value: Any, where: str = "giá trị") -> Any:
    """Return `value` as JSON-native data (dict/list/str/int/float/bool/None).

    date/datetime become ISO strings, timedelta an ISO 8601 duration, Decimal an int (when integral) or a
    float, tuples and sets lists (sets sorted when possible). Anything else, non-finite floats, or nesting
    deeper than `MAX_DATA_DEPTH` (which also catches self-referencing lists) raise `ScriptError`;
    `where` names the variable in the message.
    """
    return _native(value, where, 0)


def _native(value: Any, where: str, depth: int) -> Any:
    kind = type(value)
    if value is None or kind is str or kind is bool or kind is int:
        return value
    if kind is float:
        if not math.isfinite(value):
            raise ScriptError(f"Giá trị của '{where}' không phải số hữu hạn ({value}).")
        return value
    if depth >= MAX_DATA_DEPTH:
        raise ScriptError(f"Dữ liệu '{where}' lồng nhau quá sâu hoặc tự tham chiếu.")
    if kind is dict:
        return {_json_key(k, where): _native(v, where, depth + 1) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [_native(item, where, depth + 1) for item in value]
    if kind is set or kind is frozenset:
        items = [_native(item, where, depth + 1) for item in value]
        try:
            items.sort()
        except TypeError:  # mixed types: keep the iteration order
            pass
        return items
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if kind is dt.timedelta:
        return _iso_duration(value)
    if kind is decimal.Decimal:
        if not value.is_finite():
            raise ScriptError(f"Giá trị của '{where}' không phải số hữu hạn ({value}).")
        if value == value.to_integral_value() and value.adjusted() < 4000:
            return int(value)
        number = float(value)
        if not math.isfinite(number):
            raise ScriptError(f"Giá trị của '{where}' quá lớn ({value}).")
        return number
    # Mappings and sequences of other types (e.g. OrderedDict from app code) are converted structurally.
    if isinstance(value, Mapping):
        return {_json_key(k, where): _native(v, where, depth + 1) for k, v in value.items()}
    raise ScriptError(
        f"Giá trị của '{where}' có kiểu {kind.__name__}, không lưu được vào dữ liệu hồ sơ; "
        "hãy chuyển thành list, dict, chuỗi hoặc số."
    )


# --------------------------------------------------------------------------- helpers exposed to scripts


def _date(value: Any, month: int | None = None, day: int | None = None) -> dt.date:
    """date(2024, 5, 1), date("2024-05-01") or date(a_datetime)."""
    if isinstance(value, str) and month is None and day is None:
        text = value.strip()
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            return _datetime(text).date()
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if month is None or day is None:
        raise TypeError("date() cần (năm, tháng, ngày) hoặc một chuỗi ISO 'YYYY-MM-DD'")
    return dt.date(value, month, day)


def _datetime(
    value: Any,
    month: int | None = None,
    day: int | None = None,
    hour: int = 0,
    minute: int = 0,
    second: int = 0,
    microsecond: int = 0,
) -> dt.datetime:
    """datetime(2024, 5, 1, 8, 30) or datetime("2024-05-01T08:30"); times without an offset are taken as
    Vietnam time, so they compare with now()."""
    if isinstance(value, str) and month is None and day is None:
        parsed = dt.datetime.fromisoformat(value.strip())
    elif isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, dt.date):
        parsed = dt.datetime(value.year, value.month, value.day)
    else:
        if month is None or day is None:
            raise TypeError("datetime() cần (năm, tháng, ngày, ...) hoặc một chuỗi ISO")
        parsed = dt.datetime(value, month, day, hour, minute, second, microsecond)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=VN_TZ)


def _timedelta(
    days: float = 0,
    seconds: float = 0,
    microseconds: float = 0,
    milliseconds: float = 0,
    minutes: float = 0,
    hours: float = 0,
    weeks: float = 0,
) -> dt.timedelta:
    """timedelta(days=3): a duration; stored in task data as an ISO 8601 duration ("P3D")."""
    return dt.timedelta(
        days=days,
        seconds=seconds,
        microseconds=microseconds,
        milliseconds=milliseconds,
        minutes=minutes,
        hours=hours,
        weeks=weeks,
    )


def _today() -> dt.date:
    """Today's date in Vietnam (Asia/Ho_Chi_Minh)."""
    return dt.datetime.now(VN_TZ).date()


def _now() -> dt.datetime:
    """The current time in Vietnam, timezone-aware."""
    return dt.datetime.now(VN_TZ)


# Builtins that need no per-run state. Types such as `bool` or `map` are callable but, like every type,
# expose no attributes to scripts (see `_Run.getattr_`).
_STATIC_BUILTINS: dict[str, Any] = {
    "abs": abs,
    "all": all,
    "any": any,
    "bool": bool,
    "enumerate": enumerate,
    "filter": filter,
    "float": float,
    "len": len,
    "map": map,
    "max": max,
    "min": min,
    "zip": zip,
    "date": _date,
    "datetime": _datetime,
    "timedelta": _timedelta,
    "today": _today,
    "now": _now,
}

# Exact types (not subclasses) whose attributes scripts may read.
_ATTR_TYPES: frozenset[type] = frozenset(
    {str, int, float, bool, list, dict, tuple, set, dt.date, dt.datetime, dt.timedelta, decimal.Decimal}
)
# str.format/format_map resolve "{0.__class__}" inside C code, past every attribute guard; the int
# byte conversions allocate whatever length they are given.
_BLOCKED_ATTRS = frozenset({"format", "format_map", "to_bytes", "from_bytes"})
_ITEM_TYPES: frozenset[type] = frozenset({str, bytes, list, tuple, dict, range})
_WRITE_TYPES: frozenset[type] = frozenset({dict, list})
_SIZED_TYPES: frozenset[type] = frozenset({str, bytes, list, tuple, dict, set, frozenset, range})
_SEQ_TYPES: frozenset[type] = frozenset({str, bytes, list, tuple})
_NUMBER_TYPES: frozenset[type] = frozenset({int, float, bool, decimal.Decimal})

_BINOPS: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "*": operator.mul,
    "**": operator.pow,
    "<<": operator.lshift,
    "%": operator.mod,
}
_INPLACE_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "+=": operator.iadd,
    "-=": operator.isub,
    "*=": operator.imul,
    "/=": operator.itruediv,
    "//=": operator.ifloordiv,
    "%=": operator.imod,
    "**=": operator.ipow,
    "<<=": operator.ilshift,
    ">>=": operator.irshift,
    "|=": operator.ior,
    "^=": operator.ixor,
    "&=": operator.iand,
    "@=": operator.imatmul,
}

_PERCENT_RE = re.compile(r"%(?:\([^)]*\))?[#0 +\-]*(\*|\d+)?(?:\.(\*|\d+))?")


def _count(number: int) -> str:
    """1000000 -> "1.000.000", the Vietnamese digit grouping."""
    return f"{number:,}".replace(",", ".")


def _decimal_text_len(value: decimal.Decimal) -> int:
    if not value.is_finite():
        return 10
    sign, digits, exponent = value.as_tuple()
    return len(digits) + abs(int(exponent)) + 3


def _estimate_text_len(value: Any, limit: int) -> int:
    """About len(str(value)), counted without building it; stops as soon as the count passes `limit`."""
    total = 0
    stack = [value]
    seen: set[int] = set()
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str or kind is bytes:
            total += len(item) + 3
        elif kind is int:
            total += item.bit_length() * 3 // 10 + 2
        elif kind is decimal.Decimal:
            total += _decimal_text_len(item)
        elif kind in (list, tuple, set, frozenset, dict):
            if id(item) in seen:  # str() prints a cycle as [...]
                total += 5
                continue
            seen.add(id(item))
            total += 2 + 2 * len(item)
            if total > limit:
                return total
            if kind is dict:
                stack.extend(item.keys())
                stack.extend(item.values())
            else:
                stack.extend(item)
        else:  # None, bool, float, dates, functions: short, fixed-size texts
            total += 40
        if total > limit:
            return total
    return total


# --------------------------------------------------------------------------- one run


class _Run:
    """The budget and guards of one evaluate/execute call.

    The guards are bound methods of this object, placed in the script's globals under names starting
    with "_" (which scripts cannot write), so they can count steps and allocations for this run only.
    """

    def __init__(self, max_steps: int, timeout_seconds: float, max_alloc: int, source: str) -> None:
        self.max_steps = max_steps
        self.timeout_seconds = timeout_seconds
        self.deadline = time.monotonic() + timeout_seconds
        self.max_alloc = max_alloc
        self.source = source
        self.steps = 0
        self.iter_items = 0
        self.alloc = 0
        self.stopped: ScriptError | None = None

    # -- budget

    def _stop(self, error: ScriptError) -> ScriptError:
        self.stopped = error
        return error

    def tick(self) -> None:
        """Count one step; raise once the step budget or the wall clock runs out (and forever after)."""
        if self.stopped is not None:
            raise self.stopped
        self.steps += 1
        if self.steps > self.max_steps:
            raise self._stop(ScriptTimeoutError(f"{TIMEOUT_MESSAGE} (vượt quá {self.max_steps} bước).", self.source))
        if time.monotonic() > self.deadline:
            raise self._stop(ScriptTimeoutError(f"{TIMEOUT_MESSAGE} (quá {self.timeout_seconds:g} giây).", self.source))

    def finish(self) -> None:
        # Anything the script left behind that still runs later (it cannot, by design) would stop here.
        if self.stopped is None:
            self.stopped = ScriptError("Kịch bản đã kết thúc.", self.source)

    def global_trace(self, frame: FrameType, event: str, arg: Any) -> Any:
        """sys.settrace hook: count calls into sandbox code and trace only those frames.

        Other Python frames (our guards, method wrappers) are not traced, but their calls still check
        the clock: `sum(map(text.count, many))` loops in C over a Python-level wrapper and produces
        no line events at all.
        """
        if frame.f_code.co_filename != SCRIPT_FILENAME:
            if self.stopped is None and time.monotonic() > self.deadline:
                raise self._stop(
                    ScriptTimeoutError(f"{TIMEOUT_MESSAGE} (quá {self.timeout_seconds:g} giây).", self.source)
                )
            return None
        self.tick()
        return self.local_trace

    def local_trace(self, frame: FrameType, event: str, arg: Any) -> Any:
        if event == "line":
            self.tick()
        return self.local_trace

    def check_size(self, size: int, what: str = "Giá trị") -> None:
        if size > MAX_SIZE:
            raise ScriptError(f"{what} quá lớn (vượt quá {_count(MAX_SIZE)} phần tử/ký tự).")

    def charge(self, size: int) -> None:
        """Count characters/items built in this run against the allocation budget."""
        self.alloc += size
        if self.alloc > self.max_alloc:
            raise self._stop(
                ScriptError(
                    f"Biểu thức/kịch bản dùng quá nhiều bộ nhớ (vượt quá {_count(self.max_alloc)} phần tử/ký tự).",
                    self.source,
                )
            )

    def account(self, result: Any) -> Any:
        if type(result) in _SIZED_TYPES and type(result) is not range:
            size = len(result)
            self.check_size(size)
            self.charge(size)
        return result

    def bounded_list(self, iterable: Iterable[Any]) -> list[Any]:
        items = list(itertools.islice(iterable, MAX_SIZE + 1))
        self.check_size(len(items))
        return items

    def sized(self, value: Any) -> Any:
        """`value` itself when its size is known and acceptable, else its items as a bounded list."""
        if type(value) in _SIZED_TYPES:
            self.check_size(len(value))
            return value
        return self.bounded_list(value)

    # -- guards called by the rewritten code

    def getattr_(self, obj: Any, name: str) -> Any:
        if type(name) is not str or name.startswith("_"):
            raise ScriptError(f"Không được truy cập thuộc tính '{name}'.")
        kind = type(obj)
        if kind not in _ATTR_TYPES:
            raise ScriptError(f"Không được truy cập thuộc tính '{name}' của giá trị kiểu {kind.__name__}.")
        if name in _BLOCKED_ATTRS:
            raise ScriptError(f"Không được dùng '{name}' trong kịch bản BPMN; hãy dùng f-string.")
        value = getattr(obj, name)
        if callable(value):
            return self._wrap_method(obj, name, value)
        return value

    def _wrap_method(self, obj: Any, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            args = self._precheck(obj, name, args, kwargs)
            return self.account(method(*args, **kwargs))

        return call

    def _precheck(self, obj: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
        """Refuse method calls whose result would be oversized, before making them."""
        kind = type(obj)
        if kind is str:
            if name == "join" and args:
                items = self.sized(args[0])
                total = len(obj) * max(len(items) - 1, 0)
                total += sum(len(item) for item in items if type(item) is str)
                self.check_size(total, "Chuỗi")
                return (items, *args[1:])
            if name in ("ljust", "rjust", "center", "zfill"):
                width = args[0] if args else kwargs.get("width", 0)
                if isinstance(width, int):
                    self.check_size(width, "Chuỗi")
            elif name == "expandtabs":
                tabsize = args[0] if args else kwargs.get("tabsize", 8)
                if isinstance(tabsize, int):
                    self.check_size(len(obj) + obj.count("\t") * max(tabsize, 0), "Chuỗi")
            elif name == "replace" and len(args) >= 2 and type(args[0]) is str and type(args[1]) is str:
                old, new = args[0], args[1]
                count = obj.count(old) if old else len(obj) + 1
                limit = args[2] if len(args) > 2 else kwargs.get("count", -1)
                if isinstance(limit, int) and limit >= 0:
                    count = min(count, limit)
                self.check_size(len(obj) + count * (len(new) - len(old)), "Chuỗi")
        elif kind is list and name == "extend" and args:
            items = self.sized(args[0])
            self.check_size(len(obj) + len(items), "Danh sách")
            self.charge(len(items))
            return (items, *args[1:])
        return args

    def getitem_(self, obj: Any, key: Any) -> Any:
        kind = type(obj)
        if kind not in _ITEM_TYPES:
            raise ScriptError(f"Không được lấy phần tử của giá trị kiểu {kind.__name__}.")
        result = obj[key]
        if type(key) is slice:
            self.account(result)
        return result

    def write_(self, obj: Any) -> Any:
        if type(obj) not in _WRITE_TYPES:
            raise ScriptError(f"Chỉ được ghi vào dict hoặc list, không được ghi vào giá trị kiểu {type(obj).__name__}.")
        return obj

    def getiter_(self, obj: Any) -> Iterator[Any]:
        return self._counted(iter(obj))

    def _counted(self, iterator: Iterator[Any]) -> Iterator[Any]:
        for item in iterator:
            self.iter_items += 1
            if self.iter_items > MAX_ITER_ITEMS:
                raise self._stop(
                    ScriptTimeoutError(f"{TIMEOUT_MESSAGE} (vòng lặp quá {MAX_ITER_ITEMS} phần tử).", self.source)
                )
            if not self.iter_items & 1023 and time.monotonic() > self.deadline:
                raise self._stop(
                    ScriptTimeoutError(f"{TIMEOUT_MESSAGE} (quá {self.timeout_seconds:g} giây).", self.source)
                )
            yield item

    def unpack_sequence_(self, it: Any, spec: dict[str, Any], _getiter_: Any) -> list[Any]:
        return guarded_unpack_sequence(it, spec, self.getiter_)  # type: ignore[no-any-return]

    def iter_unpack_sequence_(self, it: Any, spec: dict[str, Any], _getiter_: Any) -> Iterator[Any]:
        return guarded_iter_unpack_sequence(it, spec, self.getiter_)  # type: ignore[no-any-return]

    def apply_(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    def unpack_(self, value: Any) -> Any:
        """`*value` in a display or call: count the items it adds (`[*l, *l]` doubles a list)."""
        value = self.sized(value)
        self.charge(len(value))
        return value

    def fmtval_(self, value: Any) -> Any:
        """A value formatted into an f-string: refuse one whose text would be huge."""
        size = _estimate_text_len(value, MAX_SIZE)
        self.check_size(size, "Chuỗi")
        self.charge(size)
        return value

    def binop_(self, symbol: str, left: Any, right: Any) -> Any:
        self._check_binop(symbol, left, right)
        return self.account(_BINOPS[symbol](left, right))

    def inplacevar_(self, op: str, left: Any, right: Any) -> Any:
        func = _INPLACE_OPS.get(op)
        if func is None:
            raise ScriptError(f"Phép gán '{op}' không được hỗ trợ.")
        self._check_binop(op[:-1], left, right)
        return self.account(func(left, right))

    def _check_binop(self, symbol: str, left: Any, right: Any) -> None:
        lkind, rkind = type(left), type(right)
        if lkind in _NUMBER_TYPES and rkind in _NUMBER_TYPES:
            if not (isinstance(left, int) and isinstance(right, int)):
                return  # float and Decimal arithmetic is bounded by their fixed precision
            if symbol == "*" and left.bit_length() + right.bit_length() > MAX_INT_BITS:
                raise ScriptError("Số quá lớn.")
            if symbol == "**" and right > 0 and abs(left) > 1:
                # Checked before computing: 10**10**10 would otherwise run for hours in one C call.
                if right > MAX_INT_BITS or right * math.log2(abs(left)) > MAX_INT_BITS:
                    raise ScriptError("Số quá lớn.")
            if symbol == "<<" and left and right > 0 and left.bit_length() + right > MAX_INT_BITS:
                raise ScriptError("Số quá lớn.")
            return
        if symbol == "*":
            if lkind in _SEQ_TYPES and isinstance(right, int):
                self.check_size(len(left) * max(right, 0))
            elif rkind in _SEQ_TYPES and isinstance(left, int):
                self.check_size(len(right) * max(left, 0))
        elif symbol == "+":
            if lkind in _SEQ_TYPES and rkind in _SEQ_TYPES:
                self.check_size(len(left) + len(right))
        elif symbol == "%" and lkind in (str, bytes):
            self._check_percent(left, right)

    def _check_percent(self, template: str | bytes, args: Any) -> None:
        text = template.decode("latin-1") if isinstance(template, bytes) else template
        for match in _PERCENT_RE.finditer(text):
            for number in match.groups():
                if number == "*":
                    raise ScriptError("Không hỗ trợ độ rộng '*' trong định dạng %.")
                if number and (len(number) > 6 or int(number) > MAX_FORMAT_WIDTH):
                    raise ScriptError(f"Độ rộng/độ chính xác trong định dạng % vượt quá {MAX_FORMAT_WIDTH}.")
        values = list(args.values()) if type(args) is dict else list(args) if type(args) is tuple else [args]
        size = len(text) + _estimate_text_len(values, MAX_SIZE)
        self.check_size(size, "Chuỗi")

    # -- builtins with per-run accounting

    def list_(self, iterable: Iterable[Any] = ()) -> list[Any]:
        return self.account(list(self.sized(iterable)))  # type: ignore[no-any-return]

    def tuple_(self, iterable: Iterable[Any] = ()) -> tuple[Any, ...]:
        return self.account(tuple(self.sized(iterable)))  # type: ignore[no-any-return]

    def set_(self, iterable: Iterable[Any] = ()) -> set[Any]:
        return self.account(set(self.sized(iterable)))  # type: ignore[no-any-return]

    def dict_(self, *args: Any, **kwargs: Any) -> dict[Any, Any]:
        if args:
            args = (self.sized(args[0]) if not isinstance(args[0], Mapping) else args[0], *args[1:])
        return self.account(dict(*args, **kwargs))  # type: ignore[no-any-return]

    def sorted_(self, iterable: Iterable[Any], *, key: Any = None, reverse: bool = False) -> list[Any]:
        return self.account(sorted(self.sized(iterable), key=key, reverse=reverse))  # type: ignore[no-any-return]

    def str_(self, value: Any = "", *args: Any) -> str:
        if not args:
            self.check_size(_estimate_text_len(value, MAX_SIZE), "Chuỗi")
        return self.account(str(value, *args))  # type: ignore[no-any-return]

    def int_(self, value: Any = 0, *args: Any) -> int:
        # int(Decimal("1E+1000000000")) would build a billion-digit number.
        if type(value) is decimal.Decimal and value.is_finite() and value.adjusted() > 4300:
            raise ScriptError("Số quá lớn.")
        return int(value, *args)

    def sum_(self, iterable: Iterable[Any], start: Any = 0) -> Any:
        # sum(lists, []) concatenates quadratically and unboundedly: only numbers are summed here.
        if type(start) not in _NUMBER_TYPES:
            raise ScriptError("sum() chỉ dùng để cộng các số.")
        return sum(iterable, start)

    def range_(self, *args: int) -> range:
        result = range(*args)
        try:
            size = len(result)
        except OverflowError:
            size = MAX_RANGE + 1
        if size > MAX_RANGE:
            raise ScriptError(f"range() quá lớn (tối đa {_count(MAX_RANGE)} phần tử).")
        return result

    def round_(self, number: Any, ndigits: int | None = None) -> Any:
        if isinstance(ndigits, int) and abs(ndigits) > MAX_ROUND_DIGITS:
            raise ScriptError(f"round(): số chữ số vượt quá {MAX_ROUND_DIGITS}.")
        return round(number) if ndigits is None else round(number, ndigits)

    def make_globals(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The guard names (globals) and the builtins of this run."""
        guards: dict[str, Any] = {
            "_getattr_": self.getattr_,
            "_getitem_": self.getitem_,
            "_getiter_": self.getiter_,
            "_write_": self.write_,
            "_inplacevar_": self.inplacevar_,
            "_unpack_sequence_": self.unpack_sequence_,
            "_iter_unpack_sequence_": self.iter_unpack_sequence_,
            "_apply_": self.apply_,
            "_binop_": self.binop_,
            "_fmtval_": self.fmtval_,
            "_unpack_": self.unpack_,
            "_account_": self.account,
            "_tick_": self.tick,
        }
        builtins = dict(_STATIC_BUILTINS)
        builtins.update(
            dict=self.dict_,
            int=self.int_,
            list=self.list_,
            range=self.range_,
            round=self.round_,
            set=self.set_,
            sorted=self.sorted_,
            str=self.str_,
            sum=self.sum_,
            tuple=self.tuple_,
        )
        return guards, builtins

    def run(self, code: CodeType, namespace: dict[str, Any], mode: str) -> Any:
        """Run `code` under the tracer; restore whatever tracer was there before (debugger, coverage)."""
        previous = sys.gettrace()
        sys.settrace(self.global_trace)
        try:
            if mode == "eval":
                return eval(code, namespace)  # restricted code in a guarded namespace
            exec(code, namespace)
            return None
        finally:
            sys.settrace(previous)
            self.finish()


def _script_line(exc: BaseException) -> int | None:
    """The innermost line of sandbox code in the traceback."""
    line = None
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        if frame.f_code.co_filename == SCRIPT_FILENAME:
            line = lineno
    return line


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ScriptError):
        return exc.message.rstrip(".")
    if isinstance(exc, NameError):
        name = getattr(exc, "name", None)
        return f"tên '{name}' chưa được định nghĩa hoặc không được phép dùng" if name else str(exc)
    if isinstance(exc, ZeroDivisionError):
        return "chia cho 0"
    if isinstance(exc, KeyError):
        return f"không có khóa {exc.args[0]!r}" if exc.args else "không có khóa"
    if isinstance(exc, IndexError):
        return "chỉ số vượt ngoài danh sách"
    if isinstance(exc, RecursionError):
        return "đệ quy quá sâu"
    if isinstance(exc, MemoryError):
        return "hết bộ nhớ"
    if isinstance(exc, OverflowError):
        return "số quá lớn"
    if isinstance(exc, AssertionError):
        return str(exc) or "điều kiện kiểm tra không thỏa"
    return f"{type(exc).__name__}: {exc}"


def _runtime_error(exc: BaseException, source: str, mode: str) -> ScriptError:
    line = exc.line if isinstance(exc, ScriptError) and exc.line else _script_line(exc)
    where = f" (dòng {line})" if line else ""
    cls = type(exc) if isinstance(exc, ScriptError) else ScriptError
    # No final period: SpiffWorkflow appends ". " and its notes when it wraps the message.
    return cls(f"Lỗi trong {_kind(mode)}{where}: {_describe(exc)}", source, line)


# --------------------------------------------------------------------------- SpiffWorkflow plumbing


class SandboxEnvironment(BasePythonScriptEngineEnvironment):
    """SpiffWorkflow script environment that runs everything through the sandbox.

    Same contract as SpiffWorkflow's `TaskDataEnvironment`: `evaluate` sees task data as variables;
    `execute` runs with task data as globals and leaves new and changed variables in it, without the
    names it injected. Differences, on purpose: results and task data are made JSON-native (see
    `to_json_native`); functions a script defines are dropped; if a script fails, the top-level task
    data is left as it was (in-place changes to nested lists/dicts before the failure remain); names from
    `external_context` (data objects) are readable but not written back unless they were task data.

    Every error is a `ScriptError` (`ScriptTimeoutError` for the time budget).
    """

    def __init__(
        self,
        service_handler: ServiceHandler | None = None,
        *,
        max_steps: int = DEFAULT_MAX_STEPS,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        max_alloc: int = DEFAULT_MAX_ALLOC,
    ) -> None:
        # No extra globals: anything placed there would be reachable from every script.
        super().__init__({})
        self.service_handler = service_handler
        self.max_steps = max_steps
        self.timeout_seconds = timeout_seconds
        self.max_alloc = max_alloc

    def _new_run(self, source: str) -> _Run:
        return _Run(self.max_steps, self.timeout_seconds, self.max_alloc, source)

    def evaluate(self, expression: str, context: dict[str, Any], external_context: dict[str, Any] | None = None) -> Any:
        """Evaluate `expression` with `external_context` and `context` (task data, which wins) as
        variables; return a JSON-native value."""
        # Builtin eval() skips leading blanks; compile() does not, and BPMN text often has them.
        source = expression.strip() if isinstance(expression, str) else expression
        if not isinstance(source, str):
            raise ScriptError("Biểu thức phải là chuỗi.", str(expression))
        code = _compile(source, "eval")
        run = self._new_run(source)
        guards, builtins = run.make_globals()
        namespace: dict[str, Any] = {**(external_context or {}), **context, **guards, "__builtins__": builtins}
        try:
            value = run.run(code, namespace, "eval")
            return to_json_native(value, "kết quả biểu thức")
        except Exception as exc:
            raise _runtime_error(exc, source, "eval") from exc

    def execute(self, script: str, context: dict[str, Any], external_context: dict[str, Any] | None = None) -> bool:
        """Run `script` with task data as globals; on success, write its variables back to `context`."""
        if not isinstance(script, str):
            raise ScriptError("Kịch bản phải là chuỗi.", str(script))
        code = _compile(script, "exec")
        run = self._new_run(script)
        guards, builtins = run.make_globals()
        external = external_context or {}
        namespace: dict[str, Any] = {**external, **context, **guards, "__builtins__": builtins}
        try:
            run.run(code, namespace, "exec")
            updates: dict[str, Any] = {}
            for key, value in namespace.items():
                if key == "__builtins__" or key in guards:
                    continue
                if key.startswith("_") and key not in context:
                    continue  # temporaries of RestrictedPython's rewriting, or `_`
                if key in external and key not in context:
                    continue
                if callable(value):
                    continue  # functions the script defined, as TaskDataEnvironment drops them
                updates[key] = to_json_native(value, key)
        except Exception as exc:
            raise _runtime_error(exc, script, "exec") from exc
        for key in [k for k in context if k not in namespace]:
            del context[key]  # `del x` in the script
        context.update(updates)
        return True

    def call_service(
        self,
        context: dict[str, Any],
        operation_name: str | None = None,
        operation_params: dict[str, Any] | None = None,
        task_data: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> str:
        """Run a service task through `service_handler`; return its result as a JSON string.

        SpiffWorkflow 3.2 calls `call_service(task.data, operation_name=..., operation_params=...)`;
        `task_data` is accepted for newer callers. The handler gets a shallow copy of the task data.
        Any failure becomes a `ScriptError` naming the operation.
        """
        name = operation_name or "?"
        if self.service_handler is None:
            raise ScriptError(f"Chưa cấu hình kết nối cho thao tác '{name}'.", name)
        data = dict(task_data if task_data is not None else context)
        try:
            result = self.service_handler(name, dict(operation_params or {}), data)
        except Exception as exc:
            raise ScriptError(f"Thao tác '{name}' thất bại: {type(exc).__name__}: {exc}", name) from exc
        try:
            if isinstance(result, bytes | bytearray):
                result = result.decode("utf-8")
            if isinstance(result, str):
                json.loads(result)
                return result
            return json.dumps(to_json_native(result, f"kết quả thao tác {name}"), ensure_ascii=False)
        except (ValueError, ScriptError) as exc:
            raise ScriptError(f"Thao tác '{name}' trả về dữ liệu không phải JSON: {exc}", name) from exc


class SandboxScriptEngine(PythonScriptEngine):
    """SpiffWorkflow's script engine with the sandbox environment and Vietnamese, located errors.

    Errors reach SpiffWorkflow as `WorkflowTaskException` (so tasks go to ERROR as usual) with the
    `ScriptError` as `__cause__` and `line_number` set. `call_service` is overridden because the base
    class's error path refers to an undefined name in 3.2.0 and turns any failure into a NameError.
    """

    environment: SandboxEnvironment

    def __init__(self, environment: SandboxEnvironment | None = None) -> None:
        super().__init__(environment=environment or SandboxEnvironment())

    @staticmethod
    def _error_line(source: str, line: int | None) -> str:
        lines = source.splitlines() if isinstance(source, str) else []
        return lines[line - 1] if line and 0 < line <= len(lines) else ""

    def evaluate(self, task: Any, expression: str, external_context: dict[str, Any] | None = None) -> Any:
        """Evaluate an expression for `task` (conditions, timers, parameters, DMN cells)."""
        try:
            return self.environment.evaluate(expression, task.data, external_context)
        except ScriptError as err:
            raise WorkflowTaskException(
                err.message,
                task=task,
                exception=err,
                line_number=err.line,
                error_line=self._error_line(expression, err.line),
            ) from err

    def execute(self, task: Any, script: str, external_context: dict[str, Any] | None = None) -> bool:
        """Run a script task's script on `task`'s data."""
        try:
            return self.environment.execute(script, task.data, external_context or {})
        except ScriptError as err:
            raise WorkflowTaskException(
                err.message,
                task=task,
                exception=err,
                line_number=err.line,
                error_line=self._error_line(script, err.line),
            ) from err

    def call_service(self, task: Any, **kwargs: Any) -> str:
        """Run a service task's operation through the environment's service handler."""
        try:
            return self.environment.call_service(task.data, **kwargs)
        except ScriptError as err:
            raise WorkflowTaskException(err.message, task=task, exception=err) from err


def make_script_engine(
    service_handler: ServiceHandler | None = None,
    *,
    max_steps: int = DEFAULT_MAX_STEPS,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
) -> PythonScriptEngine:
    """A sandboxed script engine for `BpmnWorkflow(spec, subprocess_specs, script_engine=...)`.

    SpiffWorkflow does not serialize the engine: set `workflow.script_engine = make_script_engine(...)`
    again after every deserialization, or scripts run unrestricted.
    """
    environment = SandboxEnvironment(service_handler, max_steps=max_steps, timeout_seconds=timeout_seconds)
    return SandboxScriptEngine(environment)


def check_expression(source: str, mode: str = "eval") -> str | None:
    """Compile `source` as the sandbox would run it, without running it: "eval" for gateway conditions
    and timer expressions, "exec" for scripts. Returns the Vietnamese error message, or None when it
    compiles. Used by the process linter, so a model is refused before a dossier ever reaches it."""
    if not isinstance(source, str):
        return "Biểu thức phải là chuỗi." if mode == "eval" else "Kịch bản phải là chuỗi."
    try:
        _compile(source.strip() if mode == "eval" else source, mode)
    except ScriptError as exc:
        return exc.message
    return None
