#!/usr/bin/env python3
"""A/B experiments on the cost of a task completion (a helper; not run by `make bench`; app/ is not changed).

Each candidate fix is applied *in this process only*, by monkeypatching or a session event, and toggled per
dossier so that baseline and variant run interleaved (outside load hits both alike):

    python bench/experiments.py [--backend sqlite|postgres] [--dossiers 60]

Times are this thread's CPU time (steady when other jobs load the machine; on PostgreSQL they leave out the
wait for the server, whose statement count is printed instead).

Variants (each alone, then all together):
- no_expire     the session does not expire objects on commit (the route's response then needs no reload)
- auth_1q       bearer token → user in one query (token ⋈ user, grants joined) instead of three
- role_cache    lane → role resolved once per process instead of 2 queries per new task
- lazy_dossier  Task queries do not eager-join dossier → procedure → unit, unit (the dossier is already loaded)
- lean          a prototype of the whole completion route written for speed, same rows written: the four above,
                one query for the task's dossier id, no eager joins on the task, the published version (forms +
                compiled model) cached per process, one flush (no autoflush in advance), the open-task check as a
                column query, the answer built from the objects in hand (no reload, no open-task query)
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import run as bench  # noqa: E402

FLAGS: dict[str, bool] = {"no_expire": False, "auth_1q": False, "role_cache": False, "lazy_dossier": False,
                         "lean": False}
VARIANTS = [("baseline", ()), ("no_expire", ("no_expire",)), ("auth_1q", ("auth_1q",)),
            ("role_cache", ("role_cache",)), ("lazy_dossier", ("lazy_dossier",)),
            ("all four", ("no_expire", "auth_1q", "role_cache", "lazy_dossier")),
            ("lean (prototype route)", ("lean", "auth_1q", "role_cache"))]


def install_lean(flask_app) -> None:  # noqa: ANN001, C901
    """The `lean` variant: a prototype of POST /api/v1/tasks/{id}/complete that writes the same rows."""
    from sqlalchemy import select
    from sqlalchemy.orm import lazyload

    import app.api.routes as routes
    import app.dossiers.services as dsvc
    import app.inbox.services as isvc
    from app import engine
    from app.auth.models import Role, Unit
    from app.catalog.services import model_of
    from app.common.errors import AppError, Conflict, NotFound, ValidationFailed
    from app.common.types import utcnow
    from app.dossiers.models import Dossier, DossierStep, WorkflowState
    from app.extensions import db
    from app.inbox.models import CANCELLED, DONE, OPEN, Task
    from app.worktime import add_working_hours

    versions: dict[int, SimpleNamespace] = {}
    role_codes: dict[int, str] = {}
    unit_codes: dict[int, str] = {}

    def version_of(d: Dossier) -> SimpleNamespace:
        v = versions.get(d.version_id)
        if v is None:  # published versions are immutable: cache forms and the compiled model per process
            ver = d.version
            forms = dict(ver.forms)
            v = SimpleNamespace(id=ver.id, number=ver.number, forms=forms, model=model_of(ver),
                                form=lambda name, f=forms: f.get(name) if name else None)
            versions[d.version_id] = v
        return v

    def role_code(role_id: int) -> str:
        if role_id not in role_codes:
            role_codes[role_id] = db.session.get(Role, role_id).code
        return role_codes[role_id]

    def unit_code(d: Dossier, unit_id: int) -> str:
        if unit_id == d.unit_id:
            return d.unit.code
        if unit_id not in unit_codes:
            unit_codes[unit_id] = db.session.get(Unit, unit_id).code
        return unit_codes[unit_id]

    def sync_tasks(d: Dossier, instance, done_id: int) -> list[Task]:  # noqa: ANN001
        ready = {t.id: t for t in instance.human_tasks()}
        keep = []
        for tid, eid in db.session.execute(select(Task.id, Task.engine_task_id).where(
                Task.dossier_id == d.id, Task.state == OPEN, Task.id != done_id)).all():
            if eid in ready:
                ready.pop(eid)
                keep.append(db.session.get(Task, tid))
            else:
                db.session.get(Task, tid).state = CANCELLED
        now = utcnow()
        new = []
        for t in ready.values():
            role = dsvc.role_for_lane(t.lane)
            if role is None:
                raise engine.EngineError(f"Làn '{t.lane}' không ứng với vai trò nào.", t.bpmn_id)
            due = None
            if t.properties.get("dueInWorkingDays"):
                due = add_working_hours(now, float(t.properties["dueInWorkingDays"]) * 8)
            row = Task(dossier_id=d.id, engine_task_id=t.id, bpmn_id=t.bpmn_id, name=t.name, lane=t.lane,
                       role_id=role.id, unit_id=d.unit_id, form=t.form, ui_form=t.ui_form, state=OPEN,
                       created_at=now, due_at=due, documentation=(t.documentation or None) and t.documentation[:2000])
            db.session.add(row)
            new.append(row)
        return keep + new

    def task_json(t: Task, d: Dossier, user) -> dict:  # noqa: ANN001
        return {"id": t.id, "dossier_code": d.code, "name": t.name, "bpmn_id": t.bpmn_id,
                "role": role_code(t.role_id), "unit": unit_code(d, t.unit_id),
                "assignee": user.username if t.assignee_id == user.id else None, "state": t.state, "form": t.form,
                "created_at": routes.iso(t.created_at), "due_at": routes.iso(t.due_at)}

    def lean_view(task_id: int):
        user = routes.api_user()
        body = routes._json_body()
        data = body.get("data", {})
        if not isinstance(data, dict):
            raise ValidationFailed("data phải là một đối tượng JSON.", "data must be a JSON object.")
        actor = dsvc.Actor(user)
        dossier_id = db.session.scalar(select(Task.dossier_id).where(Task.id == task_id))
        if dossier_id is None:
            raise NotFound("Không tìm thấy công việc.", "No such task.")
        d = db.session.scalar(select(Dossier).where(Dossier.id == dossier_id).with_for_update(of=Dossier)
                              .execution_options(populate_existing=True))
        task = db.session.scalar(select(Task).where(Task.id == task_id).options(lazyload("*"))
                                 .with_for_update(of=Task).execution_options(populate_existing=True))
        isvc._check_official(user, task)
        version = version_of(d)
        lang = routes.lang()
        isvc.validate_form(version, task.form, data, lang)
        data = isvc.store_files(d, version, task.form, data, actor)
        with db.session.no_autoflush:  # nothing is written before the one flush below
            state = db.session.get(WorkflowState, d.id)
            instance = engine.load(version.model, state.state)
            before = d.status
            try:
                instance.complete(task.engine_task_id, data)
            except getattr(engine, "TaskNotReady", ()):  # noqa: B030
                raise Conflict("Công việc đã được xử lý.", "The task is already done.") from None
            except engine.EngineError as exc:
                raise AppError(f"Không hoàn thành được công việc: {exc.message}", status=500) from None
            now = utcnow()
            task.state, task.completed_at, task.data = DONE, now, data
            task.completed_by_id = user.id
            if task.assignee_id is None:
                task.assignee_id, task.claimed_at = user.id, now
            for r in instance.reached:
                raw = r.properties.get("dossierStatus")
                if raw and raw.isdigit() and 1 <= int(raw) <= 10:
                    dsvc.set_status(d, int(raw), actor, r.name)
                if r.kind in dsvc.MILESTONE_KINDS and r.name:
                    db.session.add(DossierStep(dossier_id=d.id, name=r.name, actor_label="Hệ thống", finished_at=now,
                                               status_after=d.status, unit_id=d.unit_id))
            instance.reached.clear()
            open_tasks = sync_tasks(d, instance, task.id)
            d.data = instance.data
            state.state, state.completed = instance.dump(), instance.is_completed
            d.updated_at = now
            db.session.add(DossierStep(dossier_id=d.id, name=task.name, role_code=role_code(task.role_id),
                                       unit_id=task.unit_id, actor_id=user.id, actor_label=actor.display,
                                       started_at=task.created_at, finished_at=now, due_at=task.due_at,
                                       status_after=d.status))
            dsvc.audit(d, actor, "complete_task", from_status=before, to_status=d.status,
                       detail={"task": task.bpmn_id, "task_id": task.id, "name": task.name})
        isvc._flush_or_conflict()
        out = routes._dossier_brief(d)
        out["task"] = task_json(task, d, user)
        out["tasks"] = [task_json(x, d, user) for x in open_tasks]
        db.session.commit()
        return routes.jsonify(out)

    original = flask_app.view_functions["api.complete"]

    def dispatch(task_id: int):
        return lean_view(task_id) if FLAGS["lean"] else original(task_id)

    flask_app.view_functions["api.complete"] = dispatch


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", default="sqlite", choices=["sqlite", "postgres"])
    ap.add_argument("--dossiers", type=int, default=60, help="dossiers per variant")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="motcua_bench_exp_"))
    backend = bench.AppBackend(args.backend, tmp)
    try:
        backend.setup()
        os.environ.update({k: v for k, v in backend.env.items() if k in
                           ("DATABASE_URL", "RATELIMIT_ENABLED", "UPLOAD_DIR", "SECRET_KEY")})
        from sqlalchemy import event, select
        from sqlalchemy.orm import Session, joinedload, lazyload

        import app.api.routes as routes
        import app.auth.services as asvc
        import app.dossiers.services as dsvc
        from app import create_app
        from app.auth import current as auth_current
        from app.auth.models import ApiToken, User
        from app.inbox.models import Task

        flask_app = create_app()
        stats = {"n": 0}

        # -- no_expire: flip the session's flag just before it commits
        orig_commit = Session.commit

        def commit(self, *a, **kw):  # noqa: ANN001
            self.expire_on_commit = not FLAGS["no_expire"]
            return orig_commit(self, *a, **kw)

        Session.commit = commit

        # -- auth_1q
        orig_user_for_token = auth_current.user_for_token

        def user_for_token(token: str):
            if not FLAGS["auth_1q"]:
                return orig_user_for_token(token)
            from app.extensions import db

            return db.session.scalar(
                select(User).join(ApiToken, ApiToken.user_id == User.id)
                .where(ApiToken.token_hash == asvc._token_digest(token), ApiToken.revoked.is_(False),
                       User.active.is_(True))
                .options(joinedload(User.grants)))

        auth_current.user_for_token = user_for_token
        routes.api_user = auth_current.api_user

        # -- role_cache
        orig_role_for_lane = dsvc.role_for_lane
        cache: dict[str | None, SimpleNamespace] = {}

        def role_for_lane(lane):  # noqa: ANN001
            if not FLAGS["role_cache"]:
                return orig_role_for_lane(lane)
            if lane not in cache:
                role = orig_role_for_lane(lane)
                cache[lane] = SimpleNamespace(id=role.id) if role else None
            return cache[lane]

        dsvc.role_for_lane = role_for_lane

        # -- lazy_dossier: Task SELECTs without the dossier → procedure → unit eager joins
        @event.listens_for(Session, "do_orm_execute")
        def _lazy(state):  # noqa: ANN001
            if FLAGS["lazy_dossier"] and state.is_select and not state.is_column_load:
                ents = [d.get("entity") for d in state.statement.column_descriptions]
                if Task in ents:
                    state.statement = state.statement.options(lazyload(Task.dossier))

        install_lean(flask_app)

        with flask_app.app_context():
            from app.extensions import db

            @event.listens_for(db.engine, "after_cursor_execute")
            def _count(*_a):  # noqa: ANN002
                stats["n"] += 1

            @event.listens_for(db.engine, "before_cursor_execute")
            def _first_write(conn, cursor, statement, *_a):  # noqa: ANN001, ANN002
                if stats.get("w0") is None and statement.lstrip()[:6].upper() in ("INSERT", "UPDATE", "DELETE"):
                    stats["w0"] = time.perf_counter()  # SQLite takes the write lock here

            @event.listens_for(db.engine, "commit")
            def _commit(conn):  # noqa: ANN001
                if stats.get("w0") is not None:
                    stats["held"] = stats.get("held", 0.0) + time.perf_counter() - stats["w0"]
                    stats["w0"] = None

        client = flask_app.test_client()
        tokens = backend.tokens
        body = {"procedure": bench.PROCEDURE_CODE, "channel": "online", "applicant": bench.APPLICANT,
                "data": bench.SUBMISSION}
        times: dict[str, list[float]] = {name: [] for name, _ in VARIANTS}
        stmts: dict[str, list[int]] = {name: [] for name, _ in VARIANTS}
        codes: dict[str, list[str]] = {name: [] for name, _ in VARIANTS}
        held: dict[str, list[float]] = {name: [] for name, _ in VARIANTS}

        def one_dossier(variant: str, flags: tuple[str, ...], record: bool) -> None:
            for k in FLAGS:
                FLAGS[k] = k in flags
            r = client.post("/api/v1/dossiers", json=body)
            assert r.status_code == 201, r.get_json()
            code = r.get_json()["code"]
            if record:
                codes[variant].append(code)
            r = client.get("/api/v1/tasks?scope=available&limit=500",
                           headers={"Authorization": f"Bearer {tokens['reception']}"})
            task = next(t for t in r.get_json()["items"] if t["dossier_code"] == code)
            out = {}
            while task:
                hdr = {"Authorization": f"Bearer {tokens[task['role']]}"}
                n0 = stats["n"]
                stats["held"], stats["w0"] = 0.0, None
                t0 = time.thread_time()
                r = client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": bench.TASK_DATA[task["bpmn_id"]]},
                                headers=hdr)
                dt = time.thread_time() - t0
                assert r.status_code == 200, r.get_json()
                if record:
                    times[variant].append(dt)
                    stmts[variant].append(stats["n"] - n0)
                    held[variant].append(stats["held"])
                out = r.get_json()
                task = out["tasks"][0] if out["tasks"] else None
            assert out["status"] == 10, out

        for name, flags in VARIANTS:
            one_dossier(name, flags, record=False)
        for _ in range(args.dossiers):
            for name, flags in VARIANTS:  # interleaved: outside load hits every variant alike
                one_dossier(name, flags, record=True)

        base = statistics.median(times["baseline"])
        print(f"\n{args.backend}: {args.dossiers} dossiers per variant, interleaved, in-process test client\n")
        from sqlalchemy import text

        def rows_written(names: list[str]) -> str:
            """Rows per dossier in tasks / audit_log / dossier_steps, and the statuses: the same for every variant."""
            with flask_app.app_context():
                from app.extensions import db

                out = []
                for table in ("tasks", "audit_log", "dossier_steps"):
                    n = db.session.execute(text(
                        f"SELECT COUNT(*) FROM {table} t JOIN dossiers d ON d.id = t.dossier_id "
                        "WHERE d.code IN (" + ",".join(f"'{c}'" for c in names) + ")")).scalar()
                    out.append(f"{n / len(names):.0f}")
                st = db.session.execute(text("SELECT DISTINCT status FROM dossiers WHERE code IN ("
                                             + ",".join(f"'{c}'" for c in names) + ")")).scalars().all()
                return "/".join(out) + f", status {st}"

        print("| variant | median CPU ms per completion | vs baseline | SQL statements per completion "
              "| write transaction open, median wall ms (SQLite: write lock held) "
              "| rows per dossier (tasks/audit/steps) |")
        print("|---|---:|---:|---:|---:|---|")
        for name, _ in VARIANTS:
            med = statistics.median(times[name])
            print(f"| {name} | {med * 1000:.2f} | {100 * (med - base) / base:+.0f} % "
                  f"| {statistics.fmean(stmts[name]):.1f} | {statistics.median(held[name]) * 1000:.2f} "
                  f"| {rows_written(codes[name])} |")
    finally:
        backend.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
