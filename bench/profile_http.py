#!/usr/bin/env python3
"""Sample a gunicorn worker with py-spy while it completes tasks over HTTP (a helper; not run by `make bench`).

    .venv/bin/pip install py-spy        # for your own use; the app does not need it
    python bench/profile_http.py [--backend sqlite|postgres] [--dossiers 150] [--workers 1] [--threads 1]

Same setup as bench/run.py (fresh database through the CLI, gunicorn, keep-alive clients); py-spy records the
worker(s) only during the completion phase; the samples are then attributed to stages of a completion by the
app function on the stack (auth, task/dossier loading, validation, engine load/complete/dump, advance, flush,
commit, response) and, separately, by the package of the innermost frame (SQLAlchemy, sqlite3/psycopg driver,
SpiffWorkflow, Flask/Werkzeug/gunicorn, jsonschema, json, zlib...).
"""

from __future__ import annotations

import argparse
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run as bench  # noqa: E402

# (stage, regex on one frame "function (path:line)"); the first rule matching any frame, innermost first, wins
STAGES: list[tuple[str, str]] = [
    ("engine: load (state → workflow)", r"^(\w+\.)?load \(app/engine/__init__\.py"),
    ("engine: dump (serialize + zlib)", r"^(\w+\.)?dump \(app/engine/__init__\.py"),
    ("engine: complete (task.run + engine steps)", r"^(\w+\.)?complete \(app/engine/__init__\.py"),
    ("engine: human_tasks / data", r"^(\w+\.)?(human_tasks|data|is_completed) \(app/engine/__init__\.py"),
    ("JSON Schema validation", r"^(validate_form|validate_data) \("),
    ("advance: role_for_lane", r"^role_for_lane \("),
    ("advance: _sync_tasks (open-task query + autoflush, new Task rows)", r"^_sync_tasks \("),
    ("advance: statuses, steps, audit", r"^(set_status|audit) \("),
    ("auth: bearer token → user (+ grants)", r"^api_user \("),
    ("load: get_task ×2", r"^get_task \("),
    ("final flush (INSERT/UPDATE)", r"^_flush_or_conflict \("),
    ("response: open_tasks query", r"^open_tasks \("),
    ("response: task_json / dossier brief", r"^(task_json|_dossier_brief) \("),
    ("commit", r"^(\w+\.)?commit \(sqlalchemy/orm/(scoping|session)\.py"),
    ("inbox.complete, other lines (dossier lock query, version load, step/audit rows)",
     r"^complete \(app/inbox/services\.py"),
    ("route, other lines (reload after commit, JSON body, lang)", r"^complete \(app/api/routes\.py"),
    ("Flask/Werkzeug request handling (outside the view)", r"\((flask|werkzeug|flask_sqlalchemy)/"),
    ("gunicorn HTTP parsing / socket", r"\(gunicorn/"),
]
# (category, regex on the whole stack joined by ";"): the first match wins — cross-cutting cost centres
CATEGORIES: list[tuple[str, str]] = [
    ("auth: bearer token → user (token query, lazy user, selectin grants)", r";api_user \("),
    ("JSON Schema validation", r";validate_form \("),
    ("engine: load state (json + zlib + deserialize)", r";(\w+\.)?load \(app/engine/__init__\.py"),
    ("engine: dump state (serialize + json + zlib)", r";(\w+\.)?dump \(app/engine/__init__\.py"),
    ("engine: complete task + run engine steps + ready tasks",
     r";(\w+\.)?(complete|human_tasks|data|is_completed|run) \(app/engine/__init__\.py"),
    ("DB commit", r";(\w+\.)?commit \(sqlalchemy/orm/(scoping|session)\.py"),
    ("ORM flush: INSERT/UPDATE (autoflush + final flush)", r";(\w+\.)?_flush \(sqlalchemy/orm/session\.py"),
    ("ORM reads: SELECTs, eager joins, lazy loads, reload after commit", r"\(sqlalchemy/"),
    ("app logic (advance, statuses, due dates, task rows, response dicts)", r"\(app/[^;]*\)$"),
    ("Flask / Werkzeug (routing, request/response, jsonify)", r"\((flask|werkzeug|flask_sqlalchemy)/"),
    ("gunicorn (HTTP parsing, socket, worker loop)", r"\(gunicorn/|selectors\.py|concurrent/futures"),
]
PACKAGES: list[tuple[str, str]] = [
    ("DB driver + database (inside cursor.execute / commit / fetch)",
     r"^(\w+\.)?(do_execute|do_executemany|do_commit|do_rollback|_fetchall_impl|_fetchone_impl|"
     r"fetchall|fetchone|_init_metadata) \(sqlalchemy/engine/|\((psycopg|psycopg_binary|psycopg_pool)/"),
    ("SQLAlchemy (Python side of the ORM/Core)", r"\(sqlalchemy/"),
    ("flask_sqlalchemy", r"\(flask_sqlalchemy/"),
    ("SpiffWorkflow", r"\(SpiffWorkflow/"),
    ("jsonschema / referencing", r"\((jsonschema|referencing|rpds|jsonschema_specifications)/"),
    ("Flask / Werkzeug", r"\((flask|werkzeug)/"),
    ("gunicorn", r"\(gunicorn/"),
    ("json (stdlib)", r"\(json/"),
    ("zlib / uuid / datetime (stdlib)", r"\((uuid|datetime|zlib)"),
    ("app code (own frames)", r"\(app/"),
]


def children(pid: int) -> list[int]:
    try:
        return [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", default="sqlite", choices=["sqlite", "postgres"])
    ap.add_argument("--dossiers", type=int, default=150)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rate", type=int, default=400)
    ap.add_argument("--worker-class", default="gthread", choices=["gthread", "sync"])
    ap.add_argument("--idle", action="store_true",
                    help="also sample waiting threads (lock waits, I/O): shows where wall time goes, not CPU")
    ap.add_argument("--keep", help="keep the raw collapsed stacks in this file")
    args = ap.parse_args()
    pyspy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")

    tmp = Path(tempfile.mkdtemp(prefix="motcua_bench_spy_"))
    backend = bench.AppBackend(args.backend, tmp)
    spies: list[subprocess.Popen] = []
    try:
        backend.setup()
        backend.start_server(args.workers, -(-args.threads // args.workers), args.worker_class)
        load = bench.Load(backend, args.threads)
        load.run_dossiers(max(4, 2 * args.workers))
        codes, _lat, _wall = load.submit(args.dossiers)
        firsts = load.first_tasks(codes)
        assert backend.gunicorn is not None
        outs = []
        for i, pid in enumerate(children(backend.gunicorn.pid)):
            out = tmp / f"spy-{i}.txt"
            outs.append(out)
            spies.append(subprocess.Popen([pyspy, "record", "--pid", str(pid), "--rate", str(args.rate),
                                           "--format", "raw", "--output", str(out), "--nonblocking"]
                                          + (["--idle"] if args.idle else []),
                                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
        time.sleep(1.0)
        comp = load.complete_all(firsts)
        time.sleep(0.2)
        for sp in spies:
            sp.send_signal(signal.SIGINT)
        for sp in spies:
            try:
                sp.wait(timeout=30)
            except subprocess.TimeoutExpired:
                sp.kill()
        if load.errors:
            print("errors:", load.errors[:3])
        n = len(comp["latencies"])
        print(f"{args.backend}: {n} completions in {comp['wall']:.2f} s = {n / comp['wall']:.1f}/s with "
              f"{args.workers} worker(s), {args.threads} client thread(s); median "
              f"{sorted(comp['latencies'])[n // 2] * 1000:.2f} ms")
        stages: Counter[str] = Counter()
        pkgs: Counter[str] = Counter()
        cats: Counter[str] = Counter()
        total = 0
        idle = 0
        raw_lines = []
        for out in outs:
            if not out.exists():
                print(f"no py-spy output {out}: {spies[0].stderr.read().decode() if spies[0].stderr else ''}")
                continue
            for line in out.read_text().splitlines():
                stack, _, count = line.rpartition(" ")
                if not count.isdigit():
                    continue
                c = int(count)
                raw_lines.append(line)
                frames = stack.split(";")
                # idle: the worker waiting for a request in select/accept
                if not any("handle_request (gunicorn" in f or "Flask.wsgi_app" in f for f in frames):
                    # the worker's loop between requests: counted as HTTP server cost, not as a stage
                    if (not stack.strip() or "EpollSelector.select" in frames[-1] or "wait (" in frames[-1]
                            or "_worker (concurrent/futures/thread.py" in frames[-1]):
                        idle += c
                        continue
                total += c
                inner = list(reversed(frames))
                stage = None
                for f in inner:  # innermost app-level frame decides
                    for name, rx in STAGES:
                        if re.search(rx, f):
                            stage = name
                            break
                    if stage:
                        break
                stages[stage or "unattributed"] += c
                joined = ";" + stack
                cats[next((name for name, rx in CATEGORIES if re.search(rx, joined)), "other")] += c
                leaf = inner[0]
                pkg = next((name for name, rx in PACKAGES if re.search(rx, leaf)), None)
                if pkg is None:
                    pkg = "other: " + (re.sub(r".*\((.*?)(:\d+)?\)$", r"\1", leaf).split("/")[-1])
                pkgs[pkg] += c
        if args.keep:
            Path(args.keep).write_text("\n".join(raw_lines) + "\n")
        busy_ms = 1000 * comp["wall"] * args.workers * (total / max(1, total + idle))
        print(f"\n{total} busy samples ({idle} idle) at {args.rate} Hz; worker busy "
              f"≈ {busy_ms / max(1, n):.2f} ms CPU+wait per completion\n")
        print("| stage of a completion (innermost app frame) | share |")
        print("|---|---:|")
        for k, v in stages.most_common():
            print(f"| {k} | {100 * v / total:.1f} % |")
        print("\n| cost centre (whole stack) | share |")
        print("|---|---:|")
        for k, v in cats.most_common():
            print(f"| {k} | {100 * v / total:.1f} % |")
        print("\n| innermost frame's package | share |")
        print("|---|---:|")
        for k, v in pkgs.most_common(16):
            print(f"| {k} | {100 * v / total:.1f} % |")
    finally:
        for sp in spies:
            if sp.poll() is None:
                sp.kill()
        backend.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
