#!/usr/bin/env python3
"""Where the app's time goes per task completion (a helper for bench/README.md; not run by `make bench`).

Sets up a fresh SQLite (default) or PostgreSQL database through the CLI exactly like bench/run.py, then, in
this process, drives the WSGI app with Flask's test client (no HTTP server, one thread) and times each layer
of `POST /api/v1/tasks/{id}/complete` by wrapping the app's functions (nothing in app/ is changed):

    python bench/profile_app.py [--backend sqlite|postgres] [--dossiers 100] [--cprofile out.pstats]

Prints, per completion: total, and the inclusive time of token auth, task/dossier loading and locking,
JSON Schema validation, engine load / complete / dump, advance() (statuses, task rows), flush, commit,
response shaping, and SQL statements (count and time, from SQLAlchemy cursor events).
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import os
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import run as bench  # noqa: E402

TIMES: dict[str, list[float]] = defaultdict(list)
CURRENT: dict[str, float] = defaultdict(float)
SQL = {"n": 0, "t": 0.0}
BY_STATEMENT: dict[str, list] = defaultdict(lambda: [0, 0.0])
ACTIVE = {"on": False}
#: the clock of every timer: this thread's CPU time by default (steady when other jobs load the machine;
#: with PostgreSQL it leaves out the wait for the server), or wall time (--clock wall)
CLOCK = [time.thread_time]
WRITE: dict[str, float | None] = {"start": None}


def timed(name: str, fn):
    @functools.wraps(fn)
    def wrapper(*a, **kw):
        if not ACTIVE["on"]:
            return fn(*a, **kw)
        t = CLOCK[0]()
        try:
            return fn(*a, **kw)
        finally:
            CURRENT[name] += CLOCK[0]() - t

    return wrapper


def patch(module, attr: str, name: str) -> None:
    setattr(module, attr, timed(name, getattr(module, attr)))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", default="sqlite", choices=["sqlite", "postgres"])
    ap.add_argument("--dossiers", type=int, default=100)
    ap.add_argument("--cprofile", help="write a cProfile of the measured completions to this file")
    ap.add_argument("--clock", default="cpu", choices=["cpu", "wall"],
                    help="cpu: this thread's CPU time (default, steady under outside load); wall: elapsed time")
    args = ap.parse_args()
    CLOCK[0] = time.thread_time if args.clock == "cpu" else time.perf_counter

    tmp = Path(tempfile.mkdtemp(prefix="motcua_bench_prof_"))
    backend = bench.AppBackend(args.backend, tmp)
    try:
        backend.setup()
        os.environ.update({k: v for k, v in backend.env.items() if k in
                           ("DATABASE_URL", "RATELIMIT_ENABLED", "UPLOAD_DIR", "SECRET_KEY")})
        from sqlalchemy import event

        import app.api.routes as routes
        import app.dossiers.services as dsvc
        import app.inbox.services as isvc
        from app import create_app, engine
        from app.auth import current as auth_current
        from app.extensions import db

        flask_app = create_app()

        # -- layers (inclusive times; nested names are reported separately, not subtracted)
        patch(auth_current, "user_for_token", "auth: token → user")
        routes.api_user = timed("auth: api_user()", routes.api_user)
        patch(isvc, "get_task", "inbox.get_task (x2, 2nd locks)")
        patch(isvc, "validate_form", "JSON Schema validation")
        patch(isvc, "store_files", "store_files (no files here)")
        patch(isvc, "load_instance", "engine.load (state → workflow)")
        patch(dsvc, "_sync_tasks", "advance: _sync_tasks (task rows, role_for_lane)")
        patch(dsvc, "set_status", "advance: set_status (+ due_date)")
        patch(isvc, "advance", "advance() total (incl. dump)")
        patch(isvc, "_flush_or_conflict", "final flush (UPDATE/INSERT)")
        patch(isvc, "open_tasks", "response: open_tasks query")
        routes.inbox = isvc
        routes.task_json = timed("response: task_json() (lazy loads)", routes.task_json)
        engine.Instance.complete = timed("engine: Instance.complete (run task + engine steps)",
                                         engine.Instance.complete)
        engine.Instance.dump = timed("engine: Instance.dump (serialize + zlib)", engine.Instance.dump)
        engine.Instance.human_tasks = timed("engine: human_tasks()", engine.Instance.human_tasks)
        orig_commit = db.session.commit

        with flask_app.app_context():
            sa_engine = db.engine

            @event.listens_for(sa_engine, "before_cursor_execute")
            def _b(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
                now = CLOCK[0]()
                conn.info.setdefault("t0", []).append(now)
                if ACTIVE["on"] and WRITE.get("start") is None and statement.lstrip()[:6].upper() in (
                        "INSERT", "UPDATE", "DELETE"):
                    WRITE["start"] = time.perf_counter()  # SQLite takes the write lock here (wall time)

            @event.listens_for(sa_engine, "after_cursor_execute")
            def _a(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
                t0 = conn.info["t0"].pop()
                if ACTIVE["on"]:
                    dt = CLOCK[0]() - t0
                    SQL["n"] += 1
                    SQL["t"] += dt
                    key = " ".join(statement.split())[:90]
                    BY_STATEMENT[key][0] += 1
                    BY_STATEMENT[key][1] += dt
                    if SQL.get("log") is not None:
                        SQL["log"].append(statement.split("\n")[0][:140])

        from flask_sqlalchemy.session import Session

        Session.commit = timed("db commit", Session.commit)
        inner_commit = Session.commit

        def commit_and_note(self, *a, **kw):  # noqa: ANN001
            try:
                return inner_commit(self, *a, **kw)
            finally:
                if ACTIVE["on"] and WRITE.get("start") is not None:
                    CURRENT["SQLite write lock held: first INSERT/UPDATE → commit end (wall)"] += (
                        time.perf_counter() - WRITE["start"])
                    WRITE["start"] = None

        Session.commit = commit_and_note
        del orig_commit

        client = flask_app.test_client()
        tokens = backend.tokens
        body = {"procedure": bench.PROCEDURE_CODE, "channel": "online", "applicant": bench.APPLICANT,
                "data": bench.SUBMISSION}

        def run_one(record: bool, prof: cProfile.Profile | None, sql_log: list | None = None) -> None:
            r = client.post("/api/v1/dossiers", json=body)
            assert r.status_code == 201, r.get_json()
            code = r.get_json()["code"]
            r = client.get("/api/v1/tasks?scope=available&limit=500",
                           headers={"Authorization": f"Bearer {tokens['reception']}"})
            task = next(t for t in r.get_json()["items"] if t["dossier_code"] == code)
            while task:
                hdr = {"Authorization": f"Bearer {tokens[task['role']]}"}
                data = {"data": bench.TASK_DATA[task["bpmn_id"]]}
                CURRENT.clear()
                SQL["n"], SQL["t"] = 0, 0.0
                SQL["log"] = sql_log if (sql_log is not None and task["bpmn_id"] == "tham_dinh_ho_so") else None
                ACTIVE["on"] = record
                if prof:
                    prof.enable()
                t = CLOCK[0]()
                r = client.post(f"/api/v1/tasks/{task['id']}/complete", json=data, headers=hdr)
                dt = CLOCK[0]() - t
                if prof:
                    prof.disable()
                ACTIVE["on"] = False
                assert r.status_code == 200, r.get_json()
                if record:
                    TIMES["TOTAL (test client, no HTTP server)"].append(dt)
                    for k, v in CURRENT.items():
                        TIMES[k].append(v)
                    TIMES["SQL: statements (count)"].append(SQL["n"])
                    TIMES["SQL: time in cursor.execute"].append(SQL["t"])
                out = r.get_json()
                tasks = out["tasks"]
                task = tasks[0] if tasks else None
            assert out["status"] == 10

        for _ in range(5):
            run_one(False, None)
        prof = cProfile.Profile() if args.cprofile else None
        sql_log: list[str] = []
        db_pids = backend.db_server_pids()
        db_cpu0 = bench.cpu_seconds(db_pids)
        for i in range(args.dossiers):
            run_one(True, prof, sql_log if i == 0 else None)
        db_cpu = bench.cpu_seconds(db_pids) - db_cpu0

        total = statistics.fmean(TIMES["TOTAL (test client, no HTTP server)"])
        print(f"\n{args.backend}: {len(TIMES['TOTAL (test client, no HTTP server)'])} completions, "
              f"mean {total * 1000:.2f} ms {'CPU' if args.clock == 'cpu' else 'wall'} per completion "
              "(in-process, one thread)\n")
        if db_pids:
            n_c = len(TIMES["TOTAL (test client, no HTTP server)"])
            print(f"PostgreSQL backends: {1000 * db_cpu / n_c:.2f} ms CPU per completion "
                  f"({len(db_pids)} connection(s))\n")
        print("| layer (inclusive) | mean ms | % of total |")
        print("|---|---:|---:|")
        for k in sorted(TIMES, key=lambda k: -statistics.fmean(TIMES[k]) if "count" not in k else 0):
            v = statistics.fmean(TIMES[k])
            if "count" in k:
                print(f"| {k} | {v:.1f} | |")
            else:
                print(f"| {k} | {v * 1000:.2f} | {100 * v / total:.1f} % |")
        n_comp = len(TIMES["TOTAL (test client, no HTTP server)"])
        print("\n| SQL statement (first 90 chars) | per completion | mean ms each | ms per completion |")
        print("|---|---:|---:|---:|")
        for k, (cnt, t) in sorted(BY_STATEMENT.items(), key=lambda kv: -kv[1][1]):
            print(f"| `{k}` | {cnt / n_comp:.2f} | {1000 * t / cnt:.3f} | {1000 * t / n_comp:.3f} |")
        print("\nSQL of one completion (tham_dinh_ho_so):")
        for s in sql_log:
            print("  ", s)
        if prof:
            prof.dump_stats(args.cprofile)
            st = pstats.Stats(prof)
            st.sort_stats("cumulative").print_stats(45)
            st.sort_stats("tottime").print_stats(30)
    finally:
        backend.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
