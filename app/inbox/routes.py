"""Officials' pages: the task inbox, a task with its dossier and form, a dossier, its files."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, session, url_for
from sqlalchemy import select

from app.auth.current import current_user, login_required
from app.catalog.models import Procedure
from app.catalog.services import get_procedure
from app.common.errors import AppError, Forbidden, ValidationFailed
from app.common.types import utcnow
from app.dossiers import services as dossiers
from app.dossiers import storage
from app.dossiers.models import CHANNEL_LABELS, CHANNELS, STATUS_LABELS, Attachment
from app.extensions import db
from app.inbox import services as inbox
from app.web.forms import COUNTER_APPLICANT_FORM, attach_errors, schema_form
from app.web.helpers import lang

bp = Blueprint("inbox", __name__, url_prefix="/can-bo")


def _file_url(ref: dict) -> str:
    return url_for("inbox.attachment", attachment_id=ref["attachment_id"])


TABS = (("mine", "Của tôi"), ("queue", "Vai trò của tôi"), ("unassigned", "Chưa ai nhận"))
PAGE = 50


def _date_arg(name: str) -> date | None:
    raw = (request.args.get(name) or "").strip()
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


def filters_from_args(args) -> inbox.Filters:
    """Filters from a query string (the web form and the API share the names)."""
    status = args.get("status", type=int)
    channel = args.get("channel") or None
    due = args.get("due") or None
    soon_days = args.get("days", type=int) or 2
    return inbox.Filters(
        procedure=(args.get("procedure") or "").strip() or None,
        status=status if status in STATUS_LABELS else None,
        channel=channel if channel in CHANNELS else None,
        due=due if due in inbox.DUE_STATES else None,
        soon_days=max(1, min(soon_days, 30)),
        received_from=_date_arg("from"),
        received_to=_date_arg("to"),
        q=(args.get("q") or "").strip()[:100] or None,
    )


@bp.get("/")
@login_required
def index():
    user = current_user()
    assert user is not None
    scope = request.args.get("tab", "queue")
    if scope not in ("mine", "queue", "unassigned", "available"):
        scope = "queue"
    filters = filters_from_args(request.args)
    now = utcnow()
    try:
        tasks = inbox.list_tasks(user, scope, limit=PAGE, cursor=request.args.get("sau"), filters=filters, now=now)
    except AppError:
        tasks = inbox.list_tasks(user, scope, limit=PAGE, filters=filters, now=now)
    counts = inbox.count_tasks(user, filters, now=now)
    leader_units = {g.unit_id for g in user.grants if g.role.code == "leader"}
    candidates: dict[tuple[int, int], list] = {}
    for t in tasks:
        if t.unit_id in leader_units and (t.role_id, t.unit_id) not in candidates:
            candidates[(t.role_id, t.unit_id)] = inbox.role_holders(t.role_id, t.unit_id)
    keep = {k: v for k, v in request.args.items() if k not in ("sau", "tab") and v}
    procedures = db.session.scalars(select(Procedure).where(Procedure.unit_id.in_(list(user.unit_ids)))
                                    .order_by(Procedure.code)).all()
    return render_template("inbox/index.html", tasks=tasks, scope=scope, tabs=TABS, counts=counts,
                           filters=filters, keep=keep, procedures=procedures, statuses=STATUS_LABELS,
                           channels=CHANNEL_LABELS, candidates=candidates, now=now,
                           due_state=lambda t: inbox.due_state(t, now, filters.soon_days),
                           next_cursor=inbox.next_cursor(tasks, PAGE), user=user, may_work=inbox.may_work,
                           stands_in=lambda t: t.assignee_id not in (None, user.id))


@bp.post("/cong-viec/<int:task_id>/giao")
@login_required
def assign(task_id: int):
    user = current_user()
    assert user is not None
    try:
        t = inbox.assign(task_id, user, (request.form.get("assignee") or "").strip())
        db.session.commit()
        flash(f"Đã giao “{t.name}” (hồ sơ {t.dossier.code}) cho {t.assignee.display_name}.", "success")
    except Forbidden:
        db.session.rollback()
        abort(403)
    except AppError as exc:
        db.session.rollback()
        flash(exc.text(lang()), "error")
        return redirect(request.referrer or url_for("inbox.index")), 303
    return redirect(request.referrer or url_for("inbox.index"), 303)


@bp.route("/uy-quyen", methods=["GET", "POST"])
@login_required
def delegations():
    user = current_user()
    assert user is not None
    status = 200
    errors: dict = {}
    if request.method == "POST":
        grant = next((g for g in user.grants if str(g.id) == request.form.get("grant")), None)
        try:
            starts = date.fromisoformat(request.form.get("starts_on", ""))
            ends = date.fromisoformat(request.form.get("ends_on", ""))
        except ValueError:
            starts = ends = None
        try:
            if grant is None:
                raise ValidationFailed("Chọn vai trò.", "Choose a role.", details={"grant": ["Chọn vai trò."]})
            if starts is None or ends is None:
                raise ValidationFailed("Nhập ngày.", "Enter the dates.",
                                       details={"ends_on": ["Nhập ngày bắt đầu và ngày kết thúc (YYYY-MM-DD)."]})
            d = inbox.create_delegation(user, (request.form.get("delegate") or "").strip(), grant.role_id,
                                        grant.unit_id, starts, ends, request.form.get("note", ""))
            db.session.commit()
            flash(f"Đã ủy quyền cho {d.delegate.display_name} từ {starts:%d/%m/%Y} đến {ends:%d/%m/%Y}.", "success")
            return redirect(url_for("inbox.delegations"), 303)
        except AppError as exc:
            db.session.rollback()
            errors = exc.details if isinstance(exc.details, dict) else {}
            flash(exc.text(lang()), "error")
            status = 422
    return render_template("inbox/delegations.html", delegations=inbox.delegations_of(user), user=user,
                           candidates=inbox.delegate_candidates(user), errors=errors, today=inbox.today_vn(),
                           form=request.form), status


@bp.post("/uy-quyen/<int:delegation_id>/huy")
@login_required
def cancel_delegation(delegation_id: int):
    user = current_user()
    assert user is not None
    _act(lambda: inbox.cancel_delegation(delegation_id, user), "Đã hủy ủy quyền.")
    return redirect(url_for("inbox.delegations"), 303)


def _act(action, done: str) -> None:
    """Run a task verb, commit, and tell the official how it went (a refusal becomes a notice, not an error page)."""
    try:
        action()
        db.session.commit()
        flash(done, "success")
    except AppError as exc:
        db.session.rollback()
        flash(exc.text(lang()), "error")


def offer_paper(code: str, kind: str | None) -> None:
    """A panel "In giấy …" on the next page, linking the paper the outcome calls for (see OFFERED_PAPERS)."""
    if not kind:
        return
    from app.papers import title_of

    flash({"kind": kind, "code": code, "title": title_of(kind),
           "url": url_for("papers.paper", code=code, kind=kind)}, "paper")


def _viewable_task(task_id: int):
    user = current_user()
    assert user is not None
    task = inbox.get_task(task_id)
    if not inbox.may_work(user, task) and not dossiers.can_view(user, task.dossier):
        abort(403)
    return user, task


@bp.route("/cong-viec/<int:task_id>", methods=["GET", "POST"])
@login_required
def task(task_id: int):
    user, t = _viewable_task(task_id)
    version = t.dossier.version
    form = schema_form(version.form(t.form), version.form(t.ui_form), prefix="cv-")
    status = 200
    if request.method == "POST":
        if form.validate_schema(lang=lang()):
            try:
                done = inbox.complete(task_id, form.clean_data, dossiers.Actor(user), lang=lang())
                kind, code, name = done.offered_paper, t.dossier.code, t.name
                db.session.commit()
                flash(f"Đã hoàn thành “{name}” cho hồ sơ {code}.", "success")
                offer_paper(code, kind)
                return redirect(url_for("inbox.index"))
            except ValidationFailed as exc:
                db.session.rollback()
                attach_errors(form, exc.details)
            except AppError as exc:
                db.session.rollback()
                flash(exc.text(lang()), "error")
                return redirect(url_for("inbox.task", task_id=task_id))
        status = 422
    d = t.dossier
    return render_template("inbox/task.html", task=t, dossier=d, form=form, may_work=inbox.may_work(user, t),
                           steps=dossiers.steps(d), attachments=dossiers.attachments(d), file_url=_file_url), status


@bp.post("/cong-viec/<int:task_id>/nhan")
@login_required
def claim(task_id: int):
    user = current_user()
    assert user is not None
    _act(lambda: inbox.claim(task_id, user), "Đã nhận xử lý công việc.")
    return redirect(url_for("inbox.task", task_id=task_id))


@bp.post("/cong-viec/<int:task_id>/tra-lai")
@login_required
def release(task_id: int):
    user = current_user()
    assert user is not None
    _act(lambda: inbox.release(task_id, user), "Đã trả công việc về hàng chờ chung.")
    return redirect(url_for("inbox.index"))


@bp.get("/ho-so/<code>")
@login_required
def dossier(code: str):
    user = current_user()
    assert user is not None
    d = dossiers.get_viewable(code, user)
    from app.dossiers import late

    return render_template("inbox/dossier.html", dossier=d, steps=dossiers.steps(d),
                           history=dossiers.history(d), attachments=dossiers.attachments(d),
                           tasks=inbox.open_tasks(d), file_url=_file_url, apologies=late.apologies(d),
                           may_apologise=late.may_apologise(user, d) and not late.is_finished(d))


@bp.get("/tep/<int:attachment_id>")
@login_required
def attachment(attachment_id: int):
    user = current_user()
    assert user is not None
    att = db.session.get(Attachment, attachment_id)
    if att is None:
        abort(404)
    d = dossiers.get_dossier_by_id(att.dossier_id)
    if not dossiers.can_view(user, d):
        abort(403)
    return send_file(storage.path_for(att.sha256), mimetype=att.content_type, download_name=att.filename,
                     as_attachment=att.content_type not in ("application/pdf", "image/jpeg", "image/png"))


# --------------------------------------------------------------------------- counter intake (the reception desk)


def _reception_procedures(user) -> list[Procedure]:
    units = {g.unit_id for g in user.grants if g.role.code == "reception"}
    if not units:
        return []
    return list(db.session.scalars(select(Procedure).where(
        Procedure.unit_id.in_(units), Procedure.active.is_(True), Procedure.current_version_id.is_not(None))
        .order_by(Procedure.field, Procedure.name)))


@bp.get("/tiep-nhan")
@login_required
def counter_index():
    user = current_user()
    assert user is not None
    procedures = _reception_procedures(user)
    if not procedures and not user.has_role("reception"):
        abort(403)
    return render_template("inbox/counter_index.html", procedures=procedures)


@bp.route("/tiep-nhan/<code>", methods=["GET", "POST"])
@login_required
def counter_intake(code: str):
    """The desk registers a dossier brought in person (channel 'counter') on the applicant's behalf."""
    user = current_user()
    assert user is not None
    proc = get_procedure(code)
    if not user.has_role("reception", proc.unit_id):
        abort(403)
    version = proc.current_version
    assert version is not None
    outline = version.spec.outline
    applicant_form = schema_form(COUNTER_APPLICANT_FORM, None, prefix="nguoinop-")
    data_form = schema_form(version.form(outline.get("start_form")), version.form(outline.get("start_ui_form")),
                            prefix="hoso-")
    if request.method == "POST":
        ok_a = applicant_form.validate_schema(lang=lang())
        ok_d = data_form.validate_schema(lang=lang())
        if ok_a and ok_d:
            try:
                dossier, secret = dossiers.submit(code, "counter", dict(applicant_form.clean_data),
                                                  data_form.clean_data, actor=dossiers.Actor(user), lang=lang())
                db.session.commit()
            except ValidationFailed as exc:
                db.session.rollback()
                attach_errors(applicant_form, exc.details, "applicant.")
                attach_errors(data_form, exc.details, "data.")
            else:
                session["counter_submitted"] = {dossier.code: secret}  # shown once, on the next page
                return redirect(url_for("inbox.counter_done", code=dossier.code))
    return render_template("inbox/counter.html", procedure=proc, applicant_form=applicant_form,
                           data_form=data_form), (422 if request.method == "POST" else 200)


@bp.get("/tiep-nhan/ho-so/<code>")
@login_required
def counter_done(code: str):
    user = current_user()
    assert user is not None
    d = dossiers.get_dossier(code)
    secret = (session.get("counter_submitted") or {}).get(code)
    if secret is None or not dossiers.can_view(user, d):
        abort(404)
    return render_template("inbox/counter_done.html", dossier=d, secret=secret)
