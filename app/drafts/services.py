"""Drafts: the steps of a submission, its answers kept server-side, save and resume by link, and submission.

The steps of a procedure's start form come from (first that applies) the UI schema's ``ui:steps``
(``[{"title": …, "fields": [...]}]``), its top-level object properties (one step each), or an automatic
grouping of the fields in ``ui:order``: consecutive fields sharing a name prefix (``mother_*``) form a topic,
at most ``MAX_FIELDS_PER_STEP`` fields a page, files on a last "Giấy tờ đính kèm" page. A short form
(``SHORT_FORM`` fields or fewer) stays one page, with the applicant's details.

Services flush; the route commits.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import delete, select, update

from app.catalog.models import Procedure, ProcedureVersion
from app.catalog.record import record_of
from app.common.errors import Conflict, ValidationFailed
from app.common.types import utcnow
from app.dossiers import storage
from app.dossiers.files import accept_upload
from app.dossiers.models import Dossier
from app.drafts.models import Draft
from app.extensions import db
from app.i18n import N_
from app.schemaforms import decode_data_url, encode_data_url, file_fields, validate_data, vn
from app.schemaforms.schema import is_file, is_file_array, ordered_names, properties_of

DRAFT_DAYS = 30
SHORT_FORM = 10
MAX_FIELDS_PER_STEP = 8
MIN_TOPIC = 3
#: a placeholder standing for a file already held, so that a step is validated against the whole schema
_PLACEHOLDER = "data:application/pdf;name=tep.pdf;base64,JVBERi0xLjQK"

#: titles of the automatic steps, by the fields' name prefix
TOPIC_TITLES = {
    "child": N_("Thông tin người được khai sinh"), "mother": N_("Thông tin người mẹ"),
    "father": N_("Thông tin người cha"),
    "owner": N_("Thông tin chủ hộ kinh doanh"), "business": N_("Thông tin hộ kinh doanh"),
    "site": N_("Địa điểm xây dựng"), "land": N_("Thông tin thửa đất"), "building": N_("Quy mô công trình"),
    "designer": N_("Đơn vị thiết kế"), "document": N_("Giấy tờ cần chứng thực"), "applicant": N_("Người yêu cầu"),
    "company": N_("Thông tin doanh nghiệp"), "vehicle": N_("Thông tin phương tiện"),
    "spouse": N_("Thông tin vợ/chồng"),
}
FILES_TITLE = N_("Giấy tờ đính kèm")

SUBMISSION_METHODS = {"online": N_("Nộp trực tuyến: tải lên bản điện tử các giấy tờ"),
                      "postal": N_("Nhân viên bưu điện đến nhận hồ sơ giấy tại địa chỉ của tôi (bưu chính công ích)")}
RETURN_METHODS = {"counter": N_("Nhận trực tiếp tại bộ phận một cửa"),
                  "postal": N_("Nhận qua dịch vụ bưu chính công ích tại địa chỉ của tôi"),
                  "electronic": N_("Nhận bản điện tử (tải về từ trang tra cứu hồ sơ)")}


@dataclass
class Step:
    id: str  #: in URLs: "nguoi-nop", "cach-thuc", "phan-1"…
    title: str
    kind: str  #: "applicant", "choices", "form" or "single" (applicant + the whole short form)
    fields: list[str] = field(default_factory=list)  #: start-form properties shown on this step


# --------------------------------------------------------------------------- tokens and lifetime


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create(procedure: Procedure) -> tuple[Draft, str]:
    """A new draft of the procedure's current version; returns it with its (only) clear token."""
    version = procedure.current_version
    assert version is not None
    token = secrets.token_urlsafe(24)
    now = utcnow()
    from app.citizens import current_citizen

    citizen = current_citizen()
    draft = Draft(procedure_id=procedure.id, version_id=version.id, token_hash=hash_token(token), applicant={},
                  data={}, choices={}, steps_done=[], created_at=now, updated_at=now,
                  expires_at=now + timedelta(days=DRAFT_DAYS), citizen_id=citizen.id if citizen else None)
    db.session.add(draft)
    db.session.flush()
    return draft, token


def find(token: str | None) -> Draft | None:
    if not token or len(token) > 100:
        return None
    return db.session.scalar(select(Draft).where(Draft.token_hash == hash_token(token)))


def open_drafts_of(citizen_id: int, procedure_id: int | None = None, now: datetime | None = None) -> list[Draft]:
    """A signed-in citizen's drafts still open (not submitted, not expired), the latest first."""
    query = select(Draft).where(Draft.citizen_id == citizen_id, Draft.submitted_at.is_(None),
                                Draft.expires_at > (now or utcnow()))
    if procedure_id is not None:
        query = query.where(Draft.procedure_id == procedure_id)
    return list(db.session.scalars(query.order_by(Draft.updated_at.desc(), Draft.id.desc())))


def reissue_token(draft: Draft) -> str:
    """A new resume token for a draft its owner continues from their account (the old link stops working)."""
    token = secrets.token_urlsafe(24)
    draft.token_hash = hash_token(token)
    return token


def is_expired(draft: Draft, now: datetime | None = None) -> bool:
    return draft.submitted_at is None and draft.expires_at <= (now or utcnow())


def touch(draft: Draft) -> None:
    """Saved now: the link lives DRAFT_DAYS more days."""
    now = utcnow()
    draft.updated_at = now
    draft.expires_at = now + timedelta(days=DRAFT_DAYS)


def purge_expired(now: datetime | None = None) -> int:
    """Delete drafts expired and never submitted (the scheduler's daily job). Files stay in the content-addressed
    storage: another dossier may hold the same bytes."""
    result = db.session.execute(delete(Draft).where(Draft.submitted_at.is_(None),
                                                    Draft.expires_at <= (now or utcnow())))
    return int(result.rowcount or 0)


# --------------------------------------------------------------------------- steps


def postal_offer(procedure: Procedure) -> tuple[bool, bool]:
    """(postal submission offered, postal return offered) by the catalogue record."""
    rec = record_of(procedure)
    return rec.postal_submission, bool(rec.postal_return)


def _prefix(name: str) -> str:
    return name.split("_", 1)[0]


def _auto_groups(names: list[str], schema: Mapping[str, Any]) -> list[list[str]]:
    props = schema.get("properties") or {}
    runs: list[list[str]] = []
    for name in names:
        if isinstance(props.get(name), Mapping) and props[name].get("type") == "object":
            runs.append([name])
            runs.append([])  # an object is a step of its own
        elif runs and runs[-1] and _prefix(runs[-1][-1]) == _prefix(name) and not (
                isinstance(props.get(runs[-1][-1]), Mapping) and props[runs[-1][-1]].get("type") == "object"):
            runs[-1].append(name)
        else:
            runs.append([name])
    runs = [r for r in runs if r]
    chunks: list[list[str]] = []
    topic = False
    for run in runs:
        is_object = isinstance(props.get(run[0]), Mapping) and props[run[0]].get("type") == "object"
        is_topic = len(run) >= MIN_TOPIC or is_object
        if not chunks or (is_topic and topic) or len(chunks[-1]) + len(run) > MAX_FIELDS_PER_STEP or is_object:
            chunks.append(list(run))
            topic = is_topic
        else:
            chunks[-1].extend(run)
            topic = topic or is_topic
    merged: list[list[str]] = []
    for chunk in chunks:  # a step of one or two loose fields joins its neighbour
        if merged and len(chunk) < MIN_TOPIC and len(merged[-1]) + len(chunk) <= MAX_FIELDS_PER_STEP + MIN_TOPIC:
            merged[-1].extend(chunk)
        else:
            merged.append(chunk)
    if len(merged) > 1 and len(merged[0]) < MIN_TOPIC:
        merged[1][:0] = merged.pop(0)
    return merged


def _group_title(group: list[str], schema: Mapping[str, Any], index: int) -> str:
    props = schema.get("properties") or {}
    if len(group) == 1 and isinstance(props.get(group[0]), Mapping) and props[group[0]].get("type") == "object":
        return str(props[group[0]].get("title") or group[0])
    counts: dict[str, int] = {}
    for name in group:
        counts[_prefix(name)] = counts.get(_prefix(name), 0) + 1
    for prefix, _n in sorted(counts.items(), key=lambda kv: -kv[1]):
        if prefix in TOPIC_TITLES:
            return TOPIC_TITLES[prefix]
    return f"Nội dung hồ sơ (phần {index})"


def plan(procedure: Procedure, version: ProcedureVersion) -> list[Step]:
    """The steps of a submission, before the check page."""
    schema, ui = start_form(version)
    props = schema.get("properties") or {}
    names = ordered_names(list(props), ui)
    postal_in, postal_out = postal_offer(procedure)
    steps: list[Step] = []
    explicit = ui.get("ui:steps") if isinstance(ui.get("ui:steps"), list) else None
    if explicit:
        seen: set[str] = set()
        groups = []
        for i, item in enumerate(explicit, 1):
            if isinstance(item, Mapping):
                fields = [n for n in item.get("fields") or [] if n in props and n not in seen]
                seen.update(fields)
                if fields:
                    groups.append((str(item.get("title") or f"Nội dung hồ sơ (phần {i})"), fields))
        rest = [n for n in names if n not in seen]
        if rest:
            groups.append((N_("Thông tin khác"), rest))
        steps.append(Step("nguoi-nop", N_("Thông tin người nộp hồ sơ"), "applicant"))
        if postal_in or postal_out:
            steps.append(Step("cach-thuc", N_("Cách nộp hồ sơ và nhận kết quả"), "choices"))
        steps.extend(Step(f"phan-{i}", title, "form", fields) for i, (title, fields) in enumerate(groups, 1))
        return steps
    files = [n for n in names if is_file(props[n], schema) or is_file_array(props[n], schema)]
    others = [n for n in names if n not in files]
    has_objects = any(isinstance(props[n], Mapping) and props[n].get("type") == "object" for n in names)
    if len(names) <= SHORT_FORM and not has_objects:
        steps.append(Step("thong-tin", N_("Thông tin người nộp và nội dung hồ sơ"), "single", names))
        if postal_in or postal_out:
            steps.append(Step("cach-thuc", N_("Cách nộp hồ sơ và nhận kết quả"), "choices"))
        return steps
    steps.append(Step("nguoi-nop", N_("Thông tin người nộp hồ sơ"), "applicant"))
    if postal_in or postal_out:
        steps.append(Step("cach-thuc", N_("Cách nộp hồ sơ và nhận kết quả"), "choices"))
    groups = _auto_groups(others, schema)
    if files:
        groups.append(files)
    for i, group in enumerate(groups, 1):
        title = FILES_TITLE if group is groups[-1] and files and group == files else _group_title(group, schema, i)
        steps.append(Step(f"phan-{i}", title, "form", group))
    return steps


def start_form(version: ProcedureVersion) -> tuple[dict[str, Any], dict[str, Any]]:
    outline = version.spec.outline
    schema = version.form(outline.get("start_form")) or {"type": "object", "properties": {}}
    ui = version.form(outline.get("start_ui_form")) or {}
    return schema, ui


def sub_form(schema: Mapping[str, Any], ui: Mapping[str, Any], fields: list[str]) -> tuple[dict, dict]:
    """The part of the start form shown on one step (its fields, their required flags, their UI)."""
    props = schema.get("properties") or {}
    sub: dict[str, Any] = {"type": "object", "properties": {n: props[n] for n in fields if n in props},
                           "required": [n for n in schema.get("required") or [] if n in fields]}
    if "definitions" in schema:
        sub["definitions"] = schema["definitions"]
    sub_ui: dict[str, Any] = {n: ui[n] for n in fields if isinstance(ui.get(n), Mapping)}
    sub_ui["ui:order"] = [n for n in fields if n in props]
    return sub, sub_ui


def with_placeholders(schema: Mapping[str, Any], data: Mapping[str, Any]) -> dict[str, Any]:
    """The draft's data where file references stand as (valid) data URLs, for validation."""
    out = dict(data)
    for name in file_fields(dict(schema)):
        value = out.get(name)
        if isinstance(value, list):
            out[name] = [_PLACEHOLDER if isinstance(v, Mapping) else v for v in value]
        elif isinstance(value, Mapping):
            out[name] = _PLACEHOLDER
    return out


def step_errors(schema: dict[str, Any], data: Mapping[str, Any], fields: list[str],
                lang: str = "vi") -> dict[str, list[str]]:
    """Errors of the whole start form (conditions across steps included) that fall on this step's fields."""
    errors = validate_data(schema, with_placeholders(schema, data), lang=lang)
    wanted = set(fields)
    return {k: v for k, v in errors.items() if k and k.split(".", 1)[0] in wanted}


def step_of_field(steps: list[Step], name: str) -> Step | None:
    top = name.split(".", 1)[0]
    return next((s for s in steps if top in s.fields), None)


# --------------------------------------------------------------------------- files


def take_uploads(schema: dict[str, Any], fields: list[str], submitted: Mapping[str, Any],
                 held: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Check and store the files uploaded on a step: ``({field: reference(s)}, {field: [messages]})``.

    An accepted file is stored at once (``app.dossiers.storage``) and kept as a reference, so a later failure
    of the step or of another step loses nothing; a refused one leaves what the draft held.
    """
    limit = current_app.config["MAX_UPLOAD_BYTES"]
    refs: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    names = set(file_fields(schema)) & set(fields)
    for name in names:
        value = submitted.get(name)
        if value is None:
            continue
        many = isinstance(value, list)
        out, messages = [], []
        for item in value if many else [value]:
            try:
                filename, _declared, content = decode_data_url(item)
                filename, mime, content = accept_upload(name, filename, content, limit)
            except ValueError as exc:
                messages.append(str(exc))
                continue
            except ValidationFailed as exc:
                messages.extend((exc.details or {}).get(name) or [exc.message])
                continue
            out.append({"sha256": storage.save(content), "filename": filename, "content_type": mime,
                        "size": len(content)})
        if messages:
            errors[name] = messages
        elif out:
            refs[name] = out if many else out[0]
    return refs, errors


def as_submission(schema: dict[str, Any], data: Mapping[str, Any]) -> dict[str, Any]:
    """The draft's answers as the submission service takes them: files back as data URLs; answers to fields the
    current version no longer has (a new version was published meanwhile) are left out."""
    props = properties_of(schema, schema)
    out = {k: v for k, v in data.items() if k in props}
    for name in file_fields(schema):
        value = out.get(name)
        if value is None:
            continue
        items = value if isinstance(value, list) else [value]
        urls = [encode_data_url(r["filename"], r["content_type"], storage.read(r["sha256"]))
                for r in items if isinstance(r, Mapping) and r.get("sha256")]
        out[name] = urls if isinstance(value, list) else (urls[0] if urls else None)
        if out[name] is None:
            out.pop(name)
    return out


# --------------------------------------------------------------------------- channel choices


def choices_schema(procedure: Procedure) -> dict[str, Any]:
    postal_in, postal_out = postal_offer(procedure)
    submission = [{"const": k, "title": v} for k, v in SUBMISSION_METHODS.items() if k == "online" or postal_in]
    ret = [{"const": k, "title": v} for k, v in RETURN_METHODS.items() if k != "postal" or postal_out]
    postal_when = [{"properties": {"submission_method": {"const": "postal"}}, "required": ["submission_method"]},
                   {"properties": {"return_method": {"const": "postal"}}, "required": ["return_method"]}]
    province = _unit_province(procedure)
    return {
        "type": "object",
        "required": ["submission_method", "return_method"],
        "properties": {
            "submission_method": {"type": "string", "title": N_("Cách nộp hồ sơ"), "default": "online",
                                  "oneOf": submission},
            "return_method": {"type": "string", "title": N_("Cách nhận kết quả"), "default": "counter", "oneOf": ret},
            "postal_province": {"type": "string", "format": "vn-province", "title": N_("Tỉnh/thành phố"),
                                "description": N_("Chỉ điền phần địa chỉ khi chọn dịch vụ bưu chính."),
                                **({"default": province} if province else {})},
            "postal_ward": {"type": "string", "format": "vn-ward", vn.PROVINCE_LINK: "postal_province",
                            "title": N_("Xã/phường/đặc khu"),
                            "description": N_("Đổi tỉnh/thành phố rồi bấm Tiếp tục để chọn xã/phường của tỉnh đó.")},
            "postal_street": {"type": "string", "title": N_("Số nhà, đường/phố, thôn/ấp/tổ dân phố"),
                              "minLength": 2, "maxLength": 300},
            "postal_phone": {"type": "string", "format": "vn-phone", "title": N_("Số điện thoại liên hệ với bưu điện")},
        },
        "allOf": [{"if": {"anyOf": postal_when},
                   "then": {"required": ["postal_province", "postal_ward", "postal_street", "postal_phone"]}}],
    }


CHOICES_UI = {"submission_method": {"ui:widget": "radio"}, "return_method": {"ui:widget": "radio"},
              "postal_street": {"ui:widget": "textarea", "ui:options": {"rows": 2}},
              "ui:order": ["submission_method", "return_method", "postal_province", "postal_ward", "postal_street",
                           "postal_phone"]}


def _unit_province(procedure: Procedure) -> str | None:
    address = (procedure.unit.address or "") if procedure.unit else ""
    for p in vn.provinces():
        if p.short_name and p.short_name in address:
            return p.code
    return None


def postal_address(choices: Mapping[str, Any]) -> dict[str, Any] | None:
    if "postal" not in (choices.get("submission_method"), choices.get("return_method")):
        return None
    p, w = vn.province(choices.get("postal_province")), vn.ward(choices.get("postal_ward"))
    return {"province": choices.get("postal_province"), "province_name": p.name if p else "",
            "ward": choices.get("postal_ward"), "ward_name": w.name if w else "",
            "street": choices.get("postal_street", ""), "phone": choices.get("postal_phone", "")}


# --------------------------------------------------------------------------- submission


def submit(draft: Draft, lang: str = "vi") -> tuple[Dossier, str]:
    """The dossier from the draft (validated again in full by `dossiers.submit`); the draft is then spent."""
    from app.dossiers import services as dossiers

    procedure = draft.procedure
    version = procedure.current_version
    assert version is not None
    now = utcnow()
    # claimed atomically: a second click on "Nộp hồ sơ" (or another browser holding the link) submits nothing
    claimed = db.session.execute(update(Draft).where(Draft.id == draft.id, Draft.submitted_at.is_(None))
                                 .values(submitted_at=now).execution_options(synchronize_session=False))
    if claimed.rowcount != 1:
        raise Conflict("Hồ sơ này đã được nộp.", "This draft was already submitted.")
    draft.submitted_at = now
    schema, _ui = start_form(version)
    choices = dict(draft.choices or {})
    method = choices.get("submission_method") or "online"
    channel = "postal" if method == "postal" else "online"
    dossier, secret = dossiers.submit(procedure.code, channel, dict(draft.applicant or {}),
                                      as_submission(schema, draft.data or {}), lang=lang)
    from app.citizens import attach_to_current_citizen

    attach_to_current_citizen(dossier)  # "Hồ sơ của tôi" when a citizen is signed in
    dossier.submission_method = method
    dossier.return_method = choices.get("return_method")
    dossier.postal_address = postal_address(choices)
    if method == "postal":
        queue_pickup(dossier)
    draft.submitted_dossier_id = dossier.id
    draft.updated_at = now
    db.session.flush()
    return dossier, secret


def queue_pickup(dossier: Dossier) -> Any:
    """A Vietnam Post pickup order of the paper originals at the applicant's address (when vnpost is on)."""
    from app.outbox.handlers import BUILDERS
    from app.outbox.services import enabled, enqueue

    if not enabled("vnpost"):
        return None
    address = dossier.postal_address or {}
    data = {"diaChiBuuChinh": {"province": address.get("province_name", ""), "ward": address.get("ward_name", ""),
                               "street": address.get("street", "")}}
    payload = BUILDERS[("vnpost", "create_order")](dossier, {"service": "pickup"}, data)
    on_done = payload.pop("_on_done", None)
    if address.get("phone"):
        payload["sender"]["Tel"] = address["phone"]
    return enqueue("vnpost", "create_order", payload, dossier=dossier, key=f"{dossier.code}-vnpost-pickup",
                   ordering_key=f"vnpost:{dossier.id}", on_done=on_done)


def send_resume_link(draft: Draft, contact: str, url: str, procedure_name: str) -> str | None:
    """Queue the resume link to an e-mail address or a phone number; returns the channel used ("email", "sms")
    or None when that channel is not configured (the page shows the link anyway)."""
    from app.outbox.services import enabled, enqueue

    draft.contact = contact
    days = DRAFT_DAYS
    if "@" in contact:
        if not enabled("email"):
            return None
        enqueue("email", "send", {
            "to": contact, "subject": f"Tiếp tục nộp hồ sơ: {procedure_name}",
            "text": (f"Bạn đã lưu hồ sơ \"{procedure_name}\" để nộp tiếp sau.\n\nMở đường dẫn sau để tiếp tục:\n{url}"
                     f"\n\nĐường dẫn dùng được trong {days} ngày kể từ lần lưu cuối và hết hiệu lực khi hồ sơ đã "
                     "được nộp. Không chia sẻ đường dẫn này cho người khác.")})
        return "email"
    if not enabled("sms"):
        return None
    enqueue("sms", "send", {"to": contact, "text": f"MotCua: tiep tuc nop ho so tai {url} (hieu luc {days} ngay)."})
    return "sms"
