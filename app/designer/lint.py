"""The process linter: every reason a model would not deploy, or would leave a dossier stuck.

`lint(xml, forms)` returns issues with a level (error refuses publishing; warning does not), a stable
code, the element's id and name, and a Vietnamese message. The same function serves the designer UI,
the deploy API and `flask workflows check`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from app import engine
from app.schemaforms import check_schema

ERROR, WARNING = "error", "warning"


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


HUMAN_KINDS = {"UserTask", "ManualTask", "NoneTask"}


def lint(xml: bytes | str, forms: dict[str, Any], *,
         lane_role: Callable[[str | None], bool] | None = None) -> LintReport:
    """Check a BPMN model and its forms. `lane_role(lane)` tells whether a lane maps to a role
    (None: skip that rule, e.g. outside an installation)."""
    report = LintReport()
    data = xml.encode("utf-8") if isinstance(xml, str) else xml
    try:
        model = engine.compile_bpmn(data)
    except engine.BpmnError as exc:
        report.issues.append(Issue(ERROR, "parse", exc.message, exc.element))
        return report
    report.model = model
    outline = model.outline
    if not outline.get("start_form"):
        report.issues.append(Issue(ERROR, "start-form", "Sự kiện bắt đầu chưa khai báo biểu mẫu nộp hồ sơ "
                                   "(thuộc tính formJsonSchemaFilename).", "startEvent"))
    for bpmn_id, el in outline["elements"].items():
        if el["kind"] in HUMAN_KINDS and lane_role is not None and not lane_role(el.get("lane")):
            lane = el.get("lane")
            msg = (f"Bước nằm trong làn '{lane}' không ứng với vai trò nào." if lane
                   else "Bước không nằm trong làn nào (làn quyết định vai trò xử lý).")
            report.issues.append(Issue(ERROR, "lane-role", msg, bpmn_id, el["name"] or None))
    for name in outline["forms"]:
        if name not in forms:
            report.issues.append(Issue(ERROR, "form-missing", f"Không tìm thấy tệp biểu mẫu '{name}'.", name))
    for name in outline["schema_forms"]:
        schema = forms.get(name)
        if schema is None:
            continue
        for msg in check_schema(schema):
            report.issues.append(Issue(ERROR, "form-invalid", f"{name}: {msg}", name))
    return report
