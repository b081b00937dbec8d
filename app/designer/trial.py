"""Trial run: try a version (a draft before publishing, or any other) with test data, in a sandbox.

Nothing is stored: no dossier, no attachment, no database write, no connector call. Service tasks go to a
handler that records what would be called and answers with a canned result. The engine state between
requests travels in the page: ``Instance.dump()`` (zlib JSON) with the steps taken so far, signed with the
application's secret key (itsdangerous) so it cannot be altered, and bounded in size. Going back in the
browser and sending an older page simply continues from that older state.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, abort, current_app, render_template, request
from itsdangerous import BadSignature, URLSafeSerializer

from app import engine
from app.auth.current import current_user, login_required
from app.auth.models import User
from app.auth.services import role_for_lane
from app.catalog import record as catalog
from app.catalog.models import Procedure, ProcedureVersion
from app.common.errors import ValidationFailed
from app.designer import services as designer
from app.dossiers.files import check_upload
from app.dossiers.models import status_label
from app.schemaforms import decode_data_url, file_fields
from app.web.forms import attach_errors, schema_form
from app.web.helpers import lang

bp = Blueprint("trial", __name__, url_prefix="/thiet-ke")

SALT = "motcua.designer.trial-run"
#: the signed state travels in a hidden field: refuse anything larger (a runaway loop, a forged page)
MAX_STATE_CHARS = 200_000
MAX_STEPS = 500
CANNED_ANSWER = {"ok": True, "simulated": True, "message": "Kết quả giả lập khi chạy thử"}
EMPTY_FORM: dict[str, Any] = {"type": "object", "properties": {}}
#: element kinds that wait for a person (as the inbox materialises them)
HUMAN_KINDS = frozenset({"UserTask", "ManualTask", "NoneTask"})

KIND_LABELS = {
    "StartEvent": "Sự kiện bắt đầu", "EndEvent": "Sự kiện kết thúc", "IntermediateThrowEvent": "Mốc",
    "IntermediateCatchEvent": "Sự kiện chờ", "BoundaryEvent": "Sự kiện biên", "UserTask": "Công việc",
    "ManualTask": "Công việc thủ công", "NoneTask": "Công việc", "ScriptTask": "Kịch bản tự động",
    "ServiceTask": "Gọi dịch vụ", "BusinessRuleTask": "Bảng quyết định", "SendTask": "Gửi tin",
    "ReceiveTask": "Nhận tin", "ExclusiveGateway": "Cổng rẽ nhánh (chọn một)",
    "InclusiveGateway": "Cổng rẽ nhánh (chọn nhiều)", "ParallelGateway": "Cổng song song",
    "EventBasedGateway": "Cổng theo sự kiện", "CallActivity": "Gọi quy trình con",
    "SubWorkflowTask": "Quy trình con", "TransactionSubprocess": "Quy trình con giao dịch",
}


class TrialStateError(Exception):
    """The state sent back is not one this server signed for this version (or is too large)."""


@dataclass
class Trial:
    """What the signed hidden field carries."""

    key: str
    channel: str = "online"
    state: bytes | None = None
    steps: list[dict[str, Any]] = field(default_factory=list)
    status: int = 1
    fee: int | None = None
    #: ids of human tasks already listed as waiting (a task still waiting is not listed again)
    waiting: list[str] = field(default_factory=list)


class ServiceRecorder:
    """The service handler of a trial: records each call and answers with a canned result."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, operation: str, params: dict[str, Any], data: dict[str, Any]) -> Any:
        flat = {k: (v.get("value") if isinstance(v, dict) and "value" in v else v) for k, v in params.items()}
        text = json.dumps(flat, ensure_ascii=False, default=str)
        self.calls.append({"operation": operation, "params": text if len(text) <= 2000 else text[:2000] + "…",
                           "answer": json.dumps(CANNED_ANSWER, ensure_ascii=False)})
        return CANNED_ANSWER


# --------------------------------------------------------------------------- the signed state


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt=SALT)


def sign(trial: Trial, version: ProcedureVersion, user: User) -> str:
    payload = {"v": version.id, "u": user.id, "k": trial.key, "c": trial.channel, "st": trial.status,
               "f": trial.fee, "w": trial.waiting, "steps": trial.steps,
               "s": base64.b64encode(trial.state).decode("ascii") if trial.state else None}
    token = _serializer().dumps(payload)
    if len(token) > MAX_STATE_CHARS:
        raise TrialStateError("Lần chạy thử đã quá lớn để giữ trong trang; hãy chạy lại từ đầu với ít dữ liệu hơn.")
    return token


def unsign(token: str, version: ProcedureVersion, user: User, key: str) -> Trial:
    if not token:
        raise TrialStateError("Không có dữ liệu chạy thử; hãy bắt đầu lại từ biểu mẫu nộp hồ sơ.")
    if len(token) > MAX_STATE_CHARS:
        raise TrialStateError("Dữ liệu chạy thử quá lớn; hãy chạy lại từ đầu.")
    try:
        payload = _serializer().loads(token)
    except BadSignature:
        raise TrialStateError("Dữ liệu chạy thử không hợp lệ hoặc đã bị sửa đổi; hãy chạy lại từ đầu.") from None
    if not isinstance(payload, dict) or payload.get("v") != version.id or payload.get("u") != user.id:
        raise TrialStateError("Dữ liệu chạy thử không thuộc phiên bản này hoặc của người dùng khác; "
                              "hãy chạy lại từ đầu.")
    if payload.get("k") != key:
        raise TrialStateError("Sơ đồ của phiên bản đã thay đổi kể từ khi bắt đầu chạy thử; hãy chạy lại từ đầu.")
    try:
        state = base64.b64decode(payload["s"]) if payload.get("s") else None
        return Trial(key=key, channel=str(payload.get("c") or "online"), state=state,
                     steps=list(payload.get("steps") or []), status=int(payload.get("st") or 1),
                     fee=payload.get("f"), waiting=list(payload.get("w") or []))
    except (ValueError, TypeError, KeyError):
        raise TrialStateError("Dữ liệu chạy thử không hợp lệ; hãy chạy lại từ đầu.") from None


# --------------------------------------------------------------------------- steps


def _short(value: Any) -> str:
    if isinstance(value, dict) and "filename" in value:
        return f"tệp {value['filename']}"
    if isinstance(value, list):
        return ", ".join(_short(v) for v in value)
    if isinstance(value, bool):
        return "Có" if value else "Không"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 200 else text[:200] + "…"


def _summary(data: dict[str, Any]) -> list[list[str]]:
    return [[k, _short(v)] for k, v in list(data.items())[:50]]


def _status_of(properties: dict[str, str]) -> int | None:
    raw = properties.get("dossierStatus")
    return int(raw) if raw and raw.isdigit() and 1 <= int(raw) <= 10 else None


def record_reached(trial: Trial, instance: engine.Instance, outline: dict[str, Any], recorder: ServiceRecorder,
                   *, submitted: list[list[str]] | None = None) -> None:
    """Append what the engine ran through to the trial's steps, as `dossiers.advance` would apply it."""
    elements = outline.get("elements", {})
    for r in instance.reached:
        el = elements.get(r.bpmn_id, {})
        step: dict[str, Any] = {"id": r.bpmn_id, "name": r.name or el.get("name") or "", "kind": r.kind,
                                "lane": el.get("lane"), "event": "passed"}
        if r.kind in HUMAN_KINDS:
            if r.bpmn_id in trial.waiting:
                continue  # still waiting since an earlier step: already listed
            trial.waiting.append(r.bpmn_id)
            step["event"] = "ready"
        if submitted is not None and r.kind == "StartEvent" and not trial.steps:
            step.update(event="submit", status=1, data=submitted)
        status = _status_of(r.properties)
        if status is not None:
            step["status"] = status
            trial.status = status
        if r.kind == "ServiceTask":
            step["call"] = recorder.calls.pop(0) if recorder.calls else None
        trial.steps.append(step)
    for call in recorder.calls:  # calls not matched to a service task element (e.g. from a subprocess)
        trial.steps.append({"id": "", "name": "Gọi dịch vụ", "kind": "ServiceTask", "lane": None,
                            "event": "passed", "call": call})
    recorder.calls.clear()
    instance.reached.clear()
    if len(trial.steps) > MAX_STEPS:
        raise TrialStateError(f"Lần chạy thử đã quá {MAX_STEPS} bước (có thể quy trình lặp vô hạn); "
                              "hãy chạy lại từ đầu.")


# --------------------------------------------------------------------------- forms


def _files_to_refs(form: Any, schema: dict[str, Any]) -> dict[str, Any] | None:
    """Check uploaded files as a real submission would, and keep only their description (no storage)."""
    data = dict(form.clean_data or {})
    limit = current_app.config["MAX_UPLOAD_BYTES"]
    for name in file_fields(schema):
        value = data.get(name)
        if value is None:
            continue
        refs = []
        try:
            for item in value if isinstance(value, list) else [value]:
                filename, _declared, content = decode_data_url(item)
                mime = check_upload(name, filename, content, limit)
                refs.append({"attachment_id": None, "filename": filename, "content_type": mime,
                             "size": len(content), "trial": True})
        except ValueError as exc:
            attach_errors(form, {name: [str(exc)]})
            return None
        except ValidationFailed as exc:
            attach_errors(form, exc.details)
            return None
        data[name] = refs if isinstance(value, list) else refs[0]
    return data


# --------------------------------------------------------------------------- the page


@dataclass
class Page:
    user: User
    procedure: Procedure
    version: ProcedureVersion
    record: catalog.CatalogRecord
    model: engine.CompiledModel | None = None
    trial: Trial | None = None
    instance: engine.Instance | None = None
    start_form: Any = None
    task: engine.HumanTask | None = None
    task_form: Any = None
    channel: str = "online"
    error: str | None = None
    refused: list[dict[str, Any]] = field(default_factory=list)

    def render(self, status: int = 200):
        token = None
        if self.trial is not None and self.trial.state is not None:
            try:
                token = sign(self.trial, self.version, self.user)
            except TrialStateError as exc:
                self.error, self.trial, self.instance, token = str(exc), None, None, None
                status = 422
        tasks = self.instance.human_tasks() if self.instance is not None else []
        roles: dict[str | None, str] = {}
        for t in [*(self.trial.steps if self.trial else []), *({"lane": t.lane} for t in tasks)]:
            lane = t.get("lane")
            if lane not in roles:
                role = role_for_lane(lane)
                roles[lane] = role.name if role else "không ứng với vai trò nào"
        data_text = ""
        if self.instance is not None:
            data_text = json.dumps(self.instance.data, ensure_ascii=False, indent=2, default=str)
            data_text = data_text if len(data_text) <= 20000 else data_text[:20000] + "\n…"
        return render_template(
            "designer/trial/run.html", procedure=self.procedure, version=self.version, record=self.record,
            trial=self.trial, token=token, start_form=self.start_form, task=self.task, task_form=self.task_form,
            tasks=tasks, instance=self.instance, completed=bool(self.instance and self.instance.is_completed),
            timers=self.instance.waiting_timers() if self.instance is not None and not tasks else [],
            channel=self.channel, error=self.error, refused=self.refused, roles=roles, kind_labels=KIND_LABELS,
            status_label=status_label, data_text=data_text, channel_labels=catalog.CHANNEL_LABELS,
            time_for=self.record.time_for(self.trial.channel if self.trial else self.channel),
        ), status

    # -- forms of the version

    def _start_schema(self) -> tuple[dict[str, Any], dict[str, Any] | None]:
        assert self.model is not None
        outline = self.model.outline
        return (self.version.form(outline.get("start_form")) or EMPTY_FORM,
                self.version.form(outline.get("start_ui_form")))

    def new_start_form(self, submitted: bool) -> None:
        schema, ui = self._start_schema()
        self.start_form = schema_form(schema, ui, prefix="hoso-") if submitted else \
            _plain_form(schema, ui, "hoso-")

    def show_task(self, task_id: str | None, submitted: bool = False) -> None:
        assert self.instance is not None
        tasks = self.instance.human_tasks()
        self.task = next((t for t in tasks if t.id == task_id), tasks[0] if tasks else None)
        if self.task is None:
            self.task_form = None
            return
        schema = self.version.form(self.task.form) or EMPTY_FORM
        ui = self.version.form(self.task.ui_form)
        self.task_form = schema_form(schema, ui, prefix="cv-") if submitted else _plain_form(schema, ui, "cv-")


def _plain_form(schema: dict[str, Any], ui: dict[str, Any] | None, prefix: str) -> Any:
    from app.schemaforms import build_form

    return build_form(schema, ui, prefix=prefix, lang=lang())


def _procedure_for_design(code: str) -> tuple[User, Procedure]:
    user = current_user()
    assert user is not None
    proc = designer.get_procedure_any(code)
    if not designer.can_design(user, proc):
        abort(403)
    return user, proc


@bp.route("/<code>/v/<int:number>/chay-thu", methods=["GET", "POST"])
@login_required
def run(code: str, number: int):
    user, proc = _procedure_for_design(code)
    version = designer.get_version(proc, number)
    page = Page(user=user, procedure=proc, version=version, record=catalog.record_of(proc))
    page.channel = "online" if "online" in page.record.channels else page.record.channels[0]
    report = designer.lint_version_source(version.bpmn_xml, version.forms)
    if not report.ok or report.model is None:
        page.refused = [i.as_dict() for i in report.errors]
        return page.render(409)
    page.model = model = report.model
    action = request.form.get("action") if request.method == "POST" else None

    if action not in ("start", "complete", "choose"):
        page.new_start_form(submitted=False)
        return page.render()

    if action == "start":
        return _start(page, model)

    try:
        trial = unsign(request.form.get("trial_state", ""), version, user, model.key)
        if trial.state is None:
            raise TrialStateError("Không có dữ liệu chạy thử; hãy bắt đầu lại từ biểu mẫu nộp hồ sơ.")
        recorder = ServiceRecorder()
        instance = engine.load(model, trial.state, recorder)
    except TrialStateError as exc:
        page.error = str(exc)
        page.new_start_form(submitted=False)
        return page.render(400)
    except Exception:  # a state we signed but cannot load (e.g. the engine changed): start again
        page.error = "Không đọc được trạng thái chạy thử; hãy chạy lại từ đầu."
        page.new_start_form(submitted=False)
        return page.render(400)
    page.trial, page.instance = trial, instance
    task_id = request.form.get("task_id")
    if action == "choose":
        page.show_task(task_id)
        return page.render()
    return _complete(page, model, recorder, task_id)


def _start(page: Page, model: engine.CompiledModel):
    page.new_start_form(submitted=True)
    form = page.start_form
    channel = request.form.get("trial-channel") or page.channel
    if channel in page.record.channels:
        page.channel = channel
    ok = form.validate_schema(lang=lang())
    data = _files_to_refs(form, page._start_schema()[0]) if ok else None
    if data is None:
        return page.render(422)
    trial = Trial(key=model.key, channel=page.channel, fee=catalog.fee_for(page.record, data))
    recorder = ServiceRecorder()
    try:
        instance = engine.start(model, data, recorder)
    except engine.EngineError as exc:
        page.error = f"Quy trình gặp lỗi ngay sau khi nộp hồ sơ: {exc.message}"
        return page.render(422)
    try:
        record_reached(trial, instance, model.outline, recorder, submitted=_summary(data))
    except TrialStateError as exc:
        page.error = str(exc)
        return page.render(422)
    if not trial.steps or trial.steps[0].get("event") != "submit":
        trial.steps.insert(0, {"id": "", "name": "Nộp hồ sơ", "kind": "StartEvent", "lane": None,
                               "event": "submit", "status": 1, "data": _summary(data)})
    trial.state = instance.dump()
    page.trial, page.instance = trial, instance
    page.show_task(None)
    return page.render()


def _complete(page: Page, model: engine.CompiledModel, recorder: ServiceRecorder, task_id: str | None):
    assert page.instance is not None and page.trial is not None
    instance, trial = page.instance, page.trial
    page.show_task(task_id, submitted=True)
    task = page.task
    if task is None or task.id != task_id:
        page.error = "Bước này không còn chờ xử lý trong lần chạy thử; trang hiển thị bước đang chờ."
        page.show_task(None)
        return page.render(409)
    schema = page.version.form(task.form) or EMPTY_FORM
    form = page.task_form
    ok = form.validate_schema(lang=lang())
    data = _files_to_refs(form, schema) if ok else None
    if data is None:
        return page.render(422)
    try:
        instance.complete(task.id, data)
    except engine.EngineError as exc:
        page.error = f"Quy trình gặp lỗi sau bước “{task.name}”: {exc.message}"
        page.instance = engine.load(model, trial.state or b"", ServiceRecorder())  # back to before the step
        page.show_task(task.id)
        return page.render(422)
    if task.bpmn_id in trial.waiting:
        trial.waiting.remove(task.bpmn_id)
    kind = model.outline.get("elements", {}).get(task.bpmn_id, {}).get("kind", "UserTask")
    trial.steps.append({"id": task.bpmn_id, "name": task.name, "kind": kind, "lane": task.lane,
                        "event": "done", "data": _summary(data)})
    try:
        record_reached(trial, instance, model.outline, recorder)
    except TrialStateError as exc:
        page.error = str(exc)
        page.trial, page.instance = None, None
        page.new_start_form(submitted=False)
        return page.render(422)
    trial.state = instance.dump()
    page.show_task(None)
    return page.render()
