#!/usr/bin/env python3
"""`make bench`: one 5-task BPMN procedure through the raw SpiffWorkflow engine and through the app over HTTP.

Measures, in the same run:

- raw engine (in this process, one core): in memory; with a full serialization round trip after every task;
  with a round trip of the state only (spec stored once, zlib, as the app stores it);
- the app over HTTP (gunicorn), on SQLite and on PostgreSQL: dossier submissions, then every task of every
  dossier completed through `POST /api/v1/tasks/{id}/complete` by C client threads on keep-alive connections;

and prints task completions per second, median and p95 latency of a completion, and stored bytes per finished
dossier, each app figure also as a ratio against the raw engine measured in the same run.

Only the standard library, the app's own dependencies and the app's CLI are used. See bench/README.md.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import queue
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
BPMN_FILE = BENCH / "five_step.bpmn"
FORMS_DIR = BENCH / "forms"
RESULTS_DIR = BENCH / "results"
PROCESS_ID = "bench_five_step"
PROCEDURE_CODE = "9.999005"
UNIT_CODE = "000.00.99.B01"
PG_ADMIN_DSN = os.environ.get("BENCH_PG_ADMIN_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=postgres")
PG_URL_TEMPLATE = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/{db}")
TASKS_PER_DOSSIER = 5
FINAL_STATUS = 10

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# --------------------------------------------------------------------------- the data the procedure is fed

APPLICANT = {
    "name": "Nguyễn Thị Minh Anh",
    "id_number": "040190012345",
    "phone": "0912345678",
    "email": "minhanh@example.vn",
    "address": "Số 12, đường Lê Lợi, phường Trường Vinh, tỉnh Nghệ An",
}
SUBMISSION = {
    "business_name": "Quán cơm Minh Anh",
    "business_address": "Số 12, đường Lê Lợi, phường Trường Vinh, tỉnh Nghệ An",
    "business_line": "an_uong",
    "capital": 150000000,
    "employees": 4,
    "owner_name": "Nguyễn Thị Minh Anh",
    "owner_id_number": "040190012345",
    "owner_birth_date": "1990-05-17",
    "start_date": "2026-12-01",
    "contact_email": "minhanh@example.vn",
    "commitment": True,
}
TASK_DATA: dict[str, dict[str, Any]] = {
    "tiep_nhan_ho_so": {
        "received_components": ["to_khai", "giay_to_tuy_than"],
        "reception_decision": "accept",
        "reception_note": "Hồ sơ đầy đủ thành phần theo quy định.",
    },
    "tham_dinh_ho_so": {
        "appraisal_result": "dat",
        "appraisal_opinion": "Địa điểm kinh doanh phù hợp, đủ điều kiện cấp giấy xác nhận theo quy định.",
        "site_visit": True,
        "site_visit_date": "2026-11-26",
    },
    "du_thao_ket_qua": {
        "result_kind": "giay_xac_nhan",
        "draft_number": "125/GXN-UBND",
        "draft_summary": "Giấy xác nhận đủ điều kiện hoạt động của Quán cơm Minh Anh.",
        "valid_until": "2029-12-01",
    },
    "phe_duyet_ket_qua": {"leader_decision": "approve", "leader_comment": "Đồng ý ký."},
    "tra_ket_qua": {"return_method": "counter", "recipient_name": "Nguyễn Thị Minh Anh",
                    "return_note": "Đã trả bản chính giấy xác nhận."},
}
TASK_ORDER = list(TASK_DATA)
ROLE_USERS = {"reception": "bench.tiepnhan", "specialist": "bench.chuyenvien", "leader": "bench.lanhdao"}


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def pct(values: list[float], p: float) -> float:
    """Percentile by linear interpolation (p in 0..100)."""
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * p / 100.0
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def summary(latencies_s: list[float], wall_s: float) -> dict[str, Any]:
    n = len(latencies_s)
    return {
        "count": n,
        "wall_s": round(wall_s, 4),
        "per_s": round(n / wall_s, 2) if wall_s > 0 else None,
        "median_ms": round(statistics.median(latencies_s) * 1000, 3) if n else None,
        "p95_ms": round(pct(latencies_s, 95) * 1000, 3) if n else None,
        "mean_ms": round(statistics.fmean(latencies_s) * 1000, 3) if n else None,
        "max_ms": round(max(latencies_s) * 1000, 3) if n else None,
    }


# =========================================================================== (a) raw engine


def raw_bench(n: int, warm: int) -> dict[str, Any]:

    from SpiffWorkflow.bpmn import BpmnWorkflow
    from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
    from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
    from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
    from SpiffWorkflow.util.task import TaskState

    from app.engine import StateConverter
    from app.engine.xmlsafe import parse_xml

    t0 = time.perf_counter()
    parser = SpiffBpmnParser(validator=VALIDATOR)
    parser.add_bpmn_xml(parse_xml(BPMN_FILE.read_bytes()), filename=BPMN_FILE.name)
    spec = parser.get_spec(PROCESS_ID)
    subs = parser.get_subprocess_specs(PROCESS_ID)
    parse_ms = (time.perf_counter() - t0) * 1000

    full = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))

    state_registry = BpmnWorkflowSerializer.configure(SPIFF_CONFIG)
    state_conv = StateConverter(BpmnWorkflow, state_registry)  # the app's spec-free converter

    def dump_state(wf) -> bytes:
        dct = state_registry.convert(wf)
        return zlib.compress(json.dumps(dct, separators=(",", ":")).encode(), 6)

    def load_state(blob: bytes):
        dct = json.loads(zlib.decompress(blob))
        dct.pop("typename", None)
        return state_conv.from_dict(dct, spec=spec, subprocess_specs=subs)

    engine_factory: list = []  # [make_script_engine] once the sandbox variant runs

    def start():
        wf = BpmnWorkflow(spec, subs)
        if engine_factory:
            wf.script_engine = engine_factory[0](None)
        for task in wf.get_tasks(state=TaskState.READY):
            task.set_data(**SUBMISSION)
        wf.do_engine_steps()
        return wf

    def complete_one(wf) -> str | None:
        ready = wf.get_tasks(state=TaskState.READY, manual=True)
        if not ready:
            return None
        task = ready[0]
        task.set_data(**TASK_DATA[task.task_spec.bpmn_id])
        task.run()
        wf.do_engine_steps()
        return task.task_spec.bpmn_id

    def run_mode(mode: str, count: int, record: bool) -> dict[str, Any]:
        starts: list[float] = []
        comps: list[float] = []
        sizes: dict[str, list[int]] = {"full_json": [], "full_zlib": [], "state_json": [], "state_zlib": []}
        cpu = 0.0
        for _ in range(count):
            t = time.perf_counter()
            wf = start()
            if mode == "full":
                state: Any = full.serialize_json(wf)
            elif mode == "state":
                state = dump_state(wf)
            starts.append(time.perf_counter() - t)
            done = 0
            while True:
                t, c0 = time.perf_counter(), time.process_time()
                if mode == "full":
                    wf = full.deserialize_json(state)
                elif mode == "state":
                    wf = load_state(state)
                bpmn_id = complete_one(wf)
                if bpmn_id is None:
                    break
                if mode == "full":
                    state = full.serialize_json(wf)
                elif mode == "state":
                    state = dump_state(wf)
                comps.append(time.perf_counter() - t)
                cpu += time.process_time() - c0
                done += 1
            if done != TASKS_PER_DOSSIER or not wf.is_completed():
                raise RuntimeError(f"raw engine ({mode}): {done} tasks completed, finished={wf.is_completed()}")
            if record and mode == "memory":
                js = full.serialize_json(wf).encode()
                sizes["full_json"].append(len(js))
                sizes["full_zlib"].append(len(zlib.compress(js, 6)))
                sj = json.dumps(state_registry.convert(wf), separators=(",", ":")).encode()
                sizes["state_json"].append(len(sj))
                sizes["state_zlib"].append(len(zlib.compress(sj, 6)))
        out = {"completions": summary(comps, sum(comps)), "starts": summary(starts, sum(starts)),
               "instances": count, "cpu_ms_per_completion": round(1000 * cpu / max(1, len(comps)), 4)}
        if record and mode == "memory":
            out["bytes"] = {k: round(statistics.fmean(v)) for k, v in sizes.items()}
        return out

    result: dict[str, Any] = {"parse_ms": round(parse_ms, 2), "instances": n}
    labels = {"memory": "in memory", "full": "full serialization round trip per task",
              "state": "state round trip per task, spec stored once (zlib)"}
    for mode in ("memory", "full", "state"):
        run_mode(mode, warm, record=False)
        r = run_mode(mode, n, record=True)
        r["label"] = labels[mode]
        result[mode] = r
        c = r["completions"]
        log(f"raw {labels[mode]}: {c['per_s']}/s, median {c['median_ms']} ms, p95 {c['p95_ms']} ms")
    result["bytes"] = result["memory"].pop("bytes")
    # the same engine run with the app's script engine (RestrictedPython sandbox), if it is there yet
    try:
        from app.engine.sandbox import make_script_engine
    except Exception as exc:  # noqa: BLE001
        result["sandbox"] = {"skipped": f"{type(exc).__name__}: {exc}"}
    else:
        engine_factory.append(make_script_engine)
        try:
            run_mode("memory", warm, record=False)
            r = run_mode("memory", n, record=False)
        except Exception as exc:  # the sandbox is another engineer's moving target: never fail the bench for it
            result["sandbox"] = {"skipped": f"{type(exc).__name__}: {exc}"}
        else:
            r["label"] = "in memory, app sandbox script engine"
            result["sandbox"] = r
            c = r["completions"]
            log(f"raw {r['label']}: {c['per_s']}/s, median {c['median_ms']} ms, p95 {c['p95_ms']} ms")
    return result


# =========================================================================== (b) the app over HTTP


class BenchError(RuntimeError):
    pass


CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def proc_tree(pid: int) -> list[int]:
    """pid and its children (gunicorn's master and workers)."""
    out = [pid]
    try:
        out += [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        pass
    return out


def cpu_seconds(pids: list[int]) -> float:
    """user + system CPU time of these processes (Linux /proc; 0 elsewhere)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            pass
    return total / CLK_TCK


def system_busy_seconds() -> float:
    """CPU time all processes of the machine spent busy (Linux /proc/stat), to tell how much other work ran."""
    try:
        f = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (f + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def loadavg() -> list[float]:
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    """One keep-alive HTTP/1.1 connection (http.client reconnects by itself when the server closes it)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.reconnects = 0

    def call(self, method: str, path: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
        headers = {"Accept": "application/json", "Accept-Language": "vi"}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = f"Bearer {token}"
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=payload, headers=headers)
                resp = self.conn.getresponse()
                raw = resp.read()
                if resp.will_close:
                    self.conn.close()
                    self.reconnects += 1
                try:
                    data = json.loads(raw) if raw else None
                except ValueError:
                    data = raw[:500].decode("utf-8", "replace")
                return resp.status, data
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # an idle keep-alive connection the server closed before our request: open a new one
                self.conn.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.conn.close()


class AppBackend:
    """A fresh database, the app set up through its CLI, and gunicorn in front of it."""

    def __init__(self, kind: str, tmp: Path) -> None:
        self.kind = kind
        self.tmp = tmp / kind
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.pg_db: str | None = None
        self.sqlite_path: Path | None = None
        if kind == "sqlite":
            self.sqlite_path = self.tmp / "bench.sqlite"
            self.url = f"sqlite:///{self.sqlite_path}"
        else:
            self.pg_db = f"motcua_bench_{os.getpid()}"
            self.url = PG_URL_TEMPLATE.format(db=self.pg_db)
        self.env = dict(os.environ)
        self.env.update({
            "DATABASE_URL": self.url,
            "RATELIMIT_ENABLED": "0",
            "UPLOAD_DIR": str(self.tmp / "uploads"),
            "SECRET_KEY": "bench-secret-key-not-for-production",
            "PYTHONDONTWRITEBYTECODE": "1",
        })
        self.tokens: dict[str, str] = {}
        self.gunicorn: subprocess.Popen | None = None
        self.gunicorn_log: Path | None = None
        self.port = 0

    # -- database
    def create_database(self) -> None:
        if self.kind == "postgres":
            import psycopg

            with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.pg_db}" WITH (FORCE)')
                conn.execute(f'CREATE DATABASE "{self.pg_db}"')

    def drop_database(self) -> None:
        if self.kind == "postgres" and self.pg_db:
            import psycopg

            with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.pg_db}" WITH (FORCE)')

    def sql(self, query: str, params: tuple = ()) -> list[tuple]:
        if self.kind == "sqlite":
            conn = sqlite3.connect(str(self.sqlite_path), timeout=60)
            try:
                return conn.execute(query, params).fetchall()
            finally:
                conn.close()
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port=5432 user=postgres dbname={self.pg_db}", autocommit=True) as c:
            cur = c.execute(query.replace("?", "%s"), params)
            return cur.fetchall() if cur.description else []

    def db_server_pids(self) -> list[int]:
        """PostgreSQL backends serving the app's connections to the bench database (their CPU is the DB's)."""
        if self.kind != "postgres":
            return []
        rows = self.sql("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                        "AND backend_type = 'client backend' AND pid <> pg_backend_pid()")
        return [int(r[0]) for r in rows]

    def size(self) -> dict[str, Any]:
        """Database size on disk, settled: SQLite after a WAL checkpoint, PostgreSQL after VACUUM."""
        if self.kind == "sqlite":
            assert self.sqlite_path is not None
            conn = sqlite3.connect(str(self.sqlite_path), timeout=60)
            try:
                for _ in range(50):
                    busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
                    if not busy:
                        break
                    time.sleep(0.1)
                tables = dict(conn.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall())
            finally:
                conn.close()
            wal = self.sqlite_path.with_name(self.sqlite_path.name + "-wal")
            total = self.sqlite_path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
            return {"total": total, "tables": tables}
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port=5432 user=postgres dbname={self.pg_db}", autocommit=True) as c:
            c.execute("VACUUM")
            total = c.execute("SELECT pg_database_size(current_database())").fetchone()[0]
            tables = dict(c.execute(
                "SELECT relname, pg_total_relation_size(c.oid) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'public' AND c.relkind = 'r'").fetchall())
        return {"total": total, "tables": tables}

    # -- the app's CLI
    def flask(self, *args: str) -> str:
        cmd = [sys.executable, "-m", "flask", "--app", "wsgi", *args]
        proc = subprocess.run(cmd, cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=180)
        if proc.returncode != 0:
            raise BenchError(f"`flask {' '.join(args)}` failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc.stdout

    def setup(self) -> dict[str, float]:
        t = {}
        t0 = time.perf_counter()
        self.create_database()
        self.flask("db", "upgrade", "heads")
        t["migrate_s"] = time.perf_counter() - t0
        self.flask("units", "create", UNIT_CODE, "--name", "Đơn vị đo hiệu năng (bench)")
        for role, username in ROLE_USERS.items():
            self.flask("users", "create", username, "--role", role, "--unit", UNIT_CODE,
                       "--name", f"Bench {role}")
            out = self.flask("users", "token", username)
            self.tokens[role] = out.strip().splitlines()[-1].strip()
        t1 = time.perf_counter()
        self.flask("workflows", "deploy", str(BPMN_FILE), "--forms", str(FORMS_DIR), "--unit", UNIT_CODE)
        t["deploy_s"] = time.perf_counter() - t1
        t["setup_s"] = time.perf_counter() - t0
        return {k: round(v, 2) for k, v in t.items()}

    # -- gunicorn
    def start_server(self, workers: int, threads: int, worker_class: str) -> None:
        self.port = free_port()
        self.gunicorn_log = self.tmp / f"gunicorn-{workers}w-{threads}t-{worker_class}.log"
        cmd = [sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{self.port}",
               "--worker-class", worker_class, "--keep-alive", "30", "--timeout", "120",
               "--log-level", "warning", "--error-logfile", str(self.gunicorn_log)]
        if worker_class == "gthread":
            cmd += ["--threads", str(threads)]
        cmd.append("wsgi:app")
        self.gunicorn = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.gunicorn.poll() is not None:
                raise BenchError(f"gunicorn exited ({self.gunicorn.returncode}):\n{self.log_tail()}")
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                c.request("GET", "/api/v1/procedures")
                r = c.getresponse()
                r.read()
                c.close()
                if r.status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise BenchError(f"gunicorn did not answer within 60 s:\n{self.log_tail()}")

    def log_tail(self, n: int = 40) -> str:
        if self.gunicorn_log and self.gunicorn_log.exists():
            return "\n".join(self.gunicorn_log.read_text(errors="replace").splitlines()[-n:])
        return ""

    def stop_server(self) -> None:
        proc, self.gunicorn = self.gunicorn, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)  # gunicorn's master stops its workers
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # the session we started for it, and nothing else
            except ProcessLookupError:
                pass
            proc.wait(timeout=10)

    def cleanup(self) -> None:
        try:
            self.stop_server()
        finally:
            self.drop_database()


class Load:
    """Drives the app: submissions, then every task chain, with C threads on keep-alive connections."""

    def __init__(self, backend: AppBackend, threads: int, reconnect: bool = True) -> None:
        self.b = backend
        self.threads = threads
        self.reconnect = reconnect
        self.clients = [Client(backend.port) for _ in range(threads)]
        self.errors: list[str] = []
        self.lock = threading.Lock()

    def close(self) -> None:
        for c in self.clients:
            c.close()

    def _parallel(self, items: list[Any], fn) -> float:
        q: queue.Queue = queue.Queue()
        for it in items:
            q.put(it)
        start = threading.Barrier(self.threads + 1)

        def worker(client: Client) -> None:
            start.wait()
            while True:
                try:
                    it = q.get_nowait()
                except queue.Empty:
                    return
                try:
                    fn(client, it)
                except Exception as exc:  # noqa: BLE001
                    with self.lock:
                        self.errors.append(f"{type(exc).__name__}: {exc}")

        ts = [threading.Thread(target=worker, args=(c,), daemon=True) for c in self.clients]
        for t in ts:
            t.start()
        start.wait()
        t0 = time.perf_counter()
        for t in ts:
            t.join()
        return time.perf_counter() - t0

    def submit(self, count: int) -> tuple[list[str], list[float], float]:
        codes: list[str] = []
        lat: list[float] = []
        body = {"procedure": PROCEDURE_CODE, "channel": "online", "applicant": APPLICANT, "data": SUBMISSION}

        def one(client: Client, _i: int) -> None:
            t = time.perf_counter()
            status, out = client.call("POST", "/api/v1/dossiers", body)
            dt = time.perf_counter() - t
            if status != 201:
                raise BenchError(f"submit: HTTP {status}: {str(out)[:300]}")
            with self.lock:
                codes.append(out["code"])
                lat.append(dt)
            if self.reconnect and _i % TASKS_PER_DOSSIER == TASKS_PER_DOSSIER - 1:
                client.conn.close()  # as for completions: spread the connections over the workers

        wall = self._parallel(list(range(count)), one)
        return codes, lat, wall

    def first_tasks(self, codes: list[str]) -> dict[str, dict[str, Any]]:
        """The reception inbox, paged: the first open task of each new dossier."""
        wanted = set(codes)
        found: dict[str, dict[str, Any]] = {}
        cursor = None
        client = self.clients[0]
        while True:
            path = "/api/v1/tasks?scope=available&limit=500" + (f"&cursor={cursor}" if cursor else "")
            status, out = client.call("GET", path, token=self.b.tokens["reception"])
            if status != 200:
                raise BenchError(f"inbox: HTTP {status}: {str(out)[:300]}")
            for t in out["items"]:
                if t["dossier_code"] in wanted:
                    found[t["dossier_code"]] = t
            cursor = out["next_cursor"]
            if not cursor:
                break
        missing = wanted - set(found)
        if missing:
            raise BenchError(f"{len(missing)} dossiers have no open reception task, e.g. {sorted(missing)[:3]}")
        return found

    def complete_all(self, firsts: dict[str, dict[str, Any]]) -> dict[str, Any]:
        lat: list[float] = []
        finals: dict[str, int] = {}
        done: dict[str, int] = {}
        by_task: dict[str, list[float]] = {k: [] for k in TASK_ORDER}

        def chain(client: Client, item: tuple[str, dict[str, Any]]) -> None:
            code, task = item
            n = 0
            while task is not None:
                token = self.b.tokens[task["role"]]
                body = {"data": TASK_DATA[task["bpmn_id"]]}
                t = time.perf_counter()
                status, out = client.call("POST", f"/api/v1/tasks/{task['id']}/complete", body, token)
                dt = time.perf_counter() - t
                if status != 200:
                    raise BenchError(f"complete {code}/{task['bpmn_id']}: HTTP {status}: {str(out)[:300]}")
                n += 1
                with self.lock:
                    lat.append(dt)
                    by_task[task["bpmn_id"]].append(dt)
                nxt = [x for x in out["tasks"] if x["state"] == "open"]
                if len(nxt) > 1:
                    raise BenchError(f"{code}: {len(nxt)} open tasks at once")
                task = nxt[0] if nxt else None
                if task is None:
                    with self.lock:
                        finals[code] = out["status"]
                        done[code] = n
            if self.reconnect:
                # a new connection per dossier: whichever worker is free accepts it (keep-alive connections
                # otherwise stay where they landed, and two can land on the same worker for the whole run)
                client.conn.close()

        pids = proc_tree(self.b.gunicorn.pid) if self.b.gunicorn else []
        db_pids = self.b.db_server_pids()
        server0, db0, client0 = cpu_seconds(pids), cpu_seconds(db_pids), time.process_time()
        sys0 = system_busy_seconds()
        wall = self._parallel(list(firsts.items()), chain)
        server_cpu, client_cpu = cpu_seconds(pids) - server0, time.process_time() - client0
        db_cpu = cpu_seconds(db_pids) - db0
        other = system_busy_seconds() - sys0 - server_cpu - client_cpu - db_cpu
        n = max(1, len(lat))
        self.cpu = {"server_ms_per_completion": round(1000 * server_cpu / n, 3),
                    "client_ms_per_completion": round(1000 * client_cpu / n, 3),
                    "server_cores_busy": round(server_cpu / wall, 2) if wall else None,
                    "other_processes_cores_busy": round(max(0.0, other) / wall, 2) if wall else None}
        if db_pids:
            self.cpu["postgres_ms_per_completion"] = round(1000 * db_cpu / n, 3)
        return {"latencies": lat, "wall": wall, "finals": finals, "done": done,
                "by_task": {k: round(statistics.median(v) * 1000, 3) for k, v in by_task.items() if v}}

    def run_dossiers(self, count: int) -> dict[str, Any]:
        codes, sub_lat, sub_wall = self.submit(count)
        if self.errors:
            raise BenchError("submissions failed: " + "; ".join(self.errors[:5]))
        firsts = self.first_tasks(codes)
        comp = self.complete_all(firsts)
        if self.errors:
            raise BenchError(f"{len(self.errors)} chains failed: " + "; ".join(self.errors[:5]))
        bad = {c: s for c, s in comp["finals"].items() if s != FINAL_STATUS}
        short = {c: n for c, n in comp["done"].items() if n != TASKS_PER_DOSSIER}
        if len(comp["finals"]) != count or bad or short:
            raise BenchError(f"{count} dossiers: {len(comp['finals'])} finished, wrong status {list(bad.items())[:3]},"
                             f" wrong task count {list(short.items())[:3]}")
        return {"codes": codes, "submit": summary(sub_lat, sub_wall),
                "complete": summary(comp["latencies"], comp["wall"]), "by_task_median_ms": comp["by_task"],
                "cpu": self.cpu, "loadavg": loadavg()}


def verify(backend: AppBackend, first_id: int, count: int, codes: list[str]) -> dict[str, Any]:
    """Every measured dossier finished: status 10 in the DB, no open task, a completed workflow state;
    and a sample checked through the API."""
    rows = backend.sql("SELECT status, COUNT(*) FROM dossiers WHERE id > ? GROUP BY status", (first_id,))
    statuses = {int(s): int(n) for s, n in rows}
    open_tasks = backend.sql("SELECT COUNT(*) FROM tasks WHERE state = 'open'")[0][0]
    done_tasks = backend.sql("SELECT COUNT(*) FROM tasks WHERE state = 'done' AND dossier_id > ?", (first_id,))[0][0]
    unfinished = backend.sql(
        "SELECT COUNT(*) FROM workflow_states WHERE dossier_id > ? AND NOT completed", (first_id,))[0][0]
    ok = (statuses == {FINAL_STATUS: count} and open_tasks == 0 and unfinished == 0
          and done_tasks == count * TASKS_PER_DOSSIER)
    client = Client(backend.port)
    api_ok = 0
    try:
        for code in codes[:: max(1, len(codes) // 10)]:
            status, out = client.call("GET", f"/api/v1/dossiers/{code}", token=backend.tokens["reception"])
            if status == 200 and out["status"] == FINAL_STATUS and not out["tasks"]:
                api_ok += 1
            else:
                ok = False
    finally:
        client.close()
    out = {"ok": ok, "statuses": statuses, "open_tasks": open_tasks, "done_tasks": done_tasks,
           "unfinished_states": unfinished, "api_checked_ok": api_ok}
    if not ok:
        raise BenchError(f"verification failed: {out}")
    return out


def app_bench(kind: str, tmp: Path, settings: list[tuple[int, int]], worker_class: str, dossiers: int,
              sweep_dossiers: int, warm: int) -> dict[str, Any]:
    backend = AppBackend(kind, tmp)
    result: dict[str, Any] = {"backend": kind, "worker_class": worker_class}
    try:
        log(f"{kind}: setting up a fresh database through the CLI")
        result["setup"] = backend.setup()

        def run(workers: int, threads: int, count: int, measure: bool) -> dict[str, Any]:
            backend.start_server(workers, -(-threads // workers) if worker_class == "gthread" else 1, worker_class)
            load = Load(backend, threads)
            try:
                load.run_dossiers(max(warm, workers * 2))  # every worker caches the spec, opens its pool
                load.errors.clear()
                if measure:
                    before = backend.size()
                    first_id = backend.sql("SELECT COALESCE(MAX(id), 0) FROM dossiers")[0][0]
                r = load.run_dossiers(count)
                r["reconnects"] = sum(c.reconnects for c in load.clients)
                if measure:
                    after = backend.size()
                    r["verify"] = verify(backend, first_id, count, r["codes"])
                    st = backend.sql("SELECT AVG(LENGTH(state)), MIN(LENGTH(state)), MAX(LENGTH(state)) "
                                     "FROM workflow_states WHERE dossier_id > ?", (first_id,))[0]
                    r["state_bytes"] = {"avg": round(float(st[0])), "min": int(st[1]), "max": int(st[2])}
                    growth = after["total"] - before["total"]
                    r["db_growth"] = {"before": before["total"], "after": after["total"],
                                      "per_dossier": round(growth / count),
                                      "tables_per_dossier": {
                                          k: round((after["tables"].get(k, 0) - before["tables"].get(k, 0)) / count)
                                          for k in sorted(after["tables"])
                                          if after["tables"].get(k, 0) != before["tables"].get(k, 0)}}
                r.pop("codes")
            finally:
                load.close()
                backend.stop_server()
            r.update({"workers": workers, "threads": threads, "dossiers": count, "warm": max(warm, workers * 2),
                      "server_threads": -(-threads // workers) if worker_class == "gthread" else 1})
            return r

        sweep = []
        if len(settings) > 1:
            for w, c in settings:
                r = run(w, c, sweep_dossiers, measure=False)
                sweep.append({"workers": w, "threads": c, "completions_per_s": r["complete"]["per_s"],
                              "median_ms": r["complete"]["median_ms"], "p95_ms": r["complete"]["p95_ms"],
                              "cpu": r["cpu"]})
                log(f"{kind} sweep w={w} c={c}: {r['complete']['per_s']}/s, median {r['complete']['median_ms']} ms,"
                    f" p95 {r['complete']['p95_ms']} ms")
            # the best throughput; within 10 % of it (the noise between two short runs) the lower median wins
            top = max(s_["completions_per_s"] for s_ in sweep)
            best = min((s_ for s_ in sweep if s_["completions_per_s"] >= 0.9 * top), key=lambda s_: s_["median_ms"])
            chosen = (best["workers"], best["threads"])
        else:
            chosen = settings[0]
        result["sweep"] = sweep
        log(f"{kind}: measured run with {dossiers} dossiers, {chosen[0]} gunicorn workers, {chosen[1]} client threads")
        main = run(chosen[0], chosen[1], dossiers, measure=True)
        result.update(main)
        c = main["complete"]
        log(f"{kind}: {c['per_s']} completions/s, median {c['median_ms']} ms, p95 {c['p95_ms']} ms; "
            f"state {main['state_bytes']['avg']} B, DB growth {main['db_growth']['per_dossier']} B per dossier")
        return result
    except BaseException:
        tail = backend.log_tail()
        if tail:
            log(f"{kind}: gunicorn log tail:\n{tail}")
        raise
    finally:
        backend.cleanup()


# =========================================================================== report


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


def fmt_ratio(r: float | None) -> str:
    if r is None:
        return "–"
    return f"{r:.3f}×" if r < 0.1 else f"{r:.2f}×" if r < 10 else f"{r:.1f}×"


def fmt_num(v: Any, digits: int = 1) -> str:
    if v is None:
        return "–"
    if isinstance(v, (int,)) or (isinstance(v, float) and v >= 1000):
        return f"{v:,.0f}".replace(",", " ")
    return f"{v:.{digits}f}"


TARGETS = {"per_s": 200.0, "median_ms": 15.0, "bytes": 16 * 1024}
#: (gunicorn workers, client threads) tried by default on 2 cores; the best is measured: the highest
#: completions/s, and among the settings within 10 % of it the lowest median latency
DEFAULT_SETTINGS = ((1, 2), (2, 2), (2, 4))


def render(results: dict[str, Any]) -> str:
    raw = results.get("raw") or {}
    apps = [(k, results[k]) for k in ("sqlite", "postgres") if k in results and "complete" in results[k]]
    meta = results["meta"]
    b = raw.get("bytes") or {}
    L: list[str] = []
    L.append(f"## MotCua benchmark — {meta['date']}")
    L.append("")
    L.append(f"Host `{meta['host']}`, {meta['cpus']} CPUs, Python {meta['python']}, SpiffWorkflow "
             f"{meta.get('spiffworkflow', '?')}; load average at start {meta.get('loadavg_start')}, at end "
             f"{meta.get('loadavg_end')}. Procedure `bench/five_step.bpmn`: {TASKS_PER_DOSSIER} user tasks in 3 lanes,"
             " 2 exclusive gateways, statuses 1→2→4→9→10.")
    L.append(f"Raw engine: {raw.get('instances', '–')} instances per mode, one thread, in this process."
             + "".join(f" App on {k}: {v['dossiers']} dossiers (+ {v.get('warm', '?')} warm-up), gunicorn "
                       f"{v['workers']} {v['worker_class']} worker(s)"
                       + (f" × {v['server_threads']} thread(s)" if v["worker_class"] == "gthread" else "")
                       + f", {v['threads']} client threads on keep-alive connections."
                       for k, v in apps))
    L.append("")
    L.append("| mode | completions/s | median ms | p95 ms | CPU ms / completion | submissions/s | submit median ms "
             "| state bytes / dossier | DB bytes / dossier |")
    L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    stored = {"memory": None, "sandbox": None, "full": b.get("full_json"), "state": b.get("state_zlib")}
    for mode in ("memory", "sandbox", "full", "state"):
        r = raw.get(mode)
        if not r or "completions" not in r:
            continue
        c, st = r["completions"], r["starts"]
        L.append(f"| raw engine: {r['label']} | {fmt_num(c['per_s'])} | {c['median_ms']:.3f} | {c['p95_ms']:.3f} "
                 f"| {r['cpu_ms_per_completion']:.3f} | {fmt_num(st['per_s'])} | {st['median_ms']:.3f} "
                 f"| {fmt_num(stored[mode])} | – |")
    for k, v in apps:
        c, st = v["complete"], v["submit"]
        L.append(f"| **app over HTTP, {k}** | **{fmt_num(c['per_s'])}** | **{c['median_ms']:.2f}** | {c['p95_ms']:.2f} "
                 f"| {v['cpu']['server_ms_per_completion']:.2f} | {fmt_num(st['per_s'])} | {st['median_ms']:.2f} "
                 f"| {fmt_num(v['state_bytes']['avg'])} | {fmt_num(v['db_growth']['per_dossier'])} |")
    L.append("")
    if b:
        L.append(f"Serialized bytes per finished raw instance: full JSON {fmt_num(b['full_json'])} "
                 f"({fmt_num(b['full_zlib'])} zlib); state without the spec {fmt_num(b['state_json'])} "
                 f"({fmt_num(b['state_zlib'])} zlib, what the app stores). App state bytes = average "
                 "`workflow_states.state`; DB bytes = database growth per dossier (SQLite: file + WAL after "
                 "`wal_checkpoint(TRUNCATE)`; PostgreSQL: `pg_database_size` after `VACUUM`), submission included. "
                 "App CPU = user+system time of gunicorn's processes during the completion phase ÷ completions.")
        L.append("")
    if apps and raw.get("memory") and raw.get("state"):
        mem, rt = raw["memory"], raw["state"]
        L.append("### Ratios app ÷ raw engine (same run)")
        L.append("")
        L.append("| figure | "
                 + " | ".join(f"{k} ÷ raw in memory | {k} ÷ raw state round trip" for k, _ in apps) + " |")
        L.append("|---|" + "---:|---:|" * len(apps))

        def row(label: str, get_app, get_mem, get_rt) -> None:
            cells = []
            for _, v in apps:
                cells += [fmt_ratio(ratio(get_app(v), get_mem)), fmt_ratio(ratio(get_app(v), get_rt))]
            L.append(f"| {label} | " + " | ".join(cells) + " |")

        row("completions/s (higher is better)", lambda v: v["complete"]["per_s"],
            mem["completions"]["per_s"], rt["completions"]["per_s"])
        row("median latency", lambda v: v["complete"]["median_ms"],
            mem["completions"]["median_ms"], rt["completions"]["median_ms"])
        row("p95 latency", lambda v: v["complete"]["p95_ms"], mem["completions"]["p95_ms"], rt["completions"]["p95_ms"])
        row("CPU per completion (app: gunicorn processes)", lambda v: v["cpu"]["server_ms_per_completion"],
            mem["cpu_ms_per_completion"], rt["cpu_ms_per_completion"])
        row("submission median latency (raw: start an instance)", lambda v: v["submit"]["median_ms"],
            mem["starts"]["median_ms"], rt["starts"]["median_ms"])
        row("state bytes (raw: full JSON; state round trip: zlib state)", lambda v: v["state_bytes"]["avg"],
            b.get("full_json"), b.get("state_zlib"))
        row("DB bytes per dossier (same denominators)", lambda v: v["db_growth"]["per_dossier"],
            b.get("full_json"), b.get("state_zlib"))
        L.append("")
    if "sqlite" in results and "complete" in results["sqlite"]:
        v = results["sqlite"]
        c = v["complete"]
        sb, tb = v["state_bytes"]["avg"], v["db_growth"]["per_dossier"]
        L.append("### Targets (SQLite over HTTP)")
        L.append("")
        L.append("| target | measured | measured ÷ target | met |")
        L.append("|---|---:|---:|:-:|")
        L.append(f"| ≥ 200 task completions/s | {c['per_s']:.1f} /s | {c['per_s'] / TARGETS['per_s']:.2f}× | "
                 f"{'yes' if c['per_s'] >= TARGETS['per_s'] else '**no**'} |")
        L.append(f"| median ≤ 15 ms | {c['median_ms']:.2f} ms | {c['median_ms'] / TARGETS['median_ms']:.2f}× | "
                 f"{'yes' if c['median_ms'] <= TARGETS['median_ms'] else '**no**'} |")
        L.append(f"| ≤ 16 KB per finished dossier: workflow state | {fmt_num(sb)} B | {sb / TARGETS['bytes']:.2f}× | "
                 f"{'yes' if sb <= TARGETS['bytes'] else '**no**'} |")
        L.append(f"| ≤ 16 KB per finished dossier: whole DB growth | {fmt_num(tb)} B | {tb / TARGETS['bytes']:.2f}× | "
                 f"{'yes' if tb <= TARGETS['bytes'] else '**no**'} |")
        L.append("")
    L.append("### Details")
    L.append("")
    for k, v in apps:
        if v.get("sweep"):
            L.append(f"- {k}, settings tried ({v['sweep_dossiers']} dossiers each; workers × client threads → "
                     "completions/s, median): "
                     + "; ".join(f"{s_['workers']}×{s_['threads']} → {s_['completions_per_s']:.0f}/s, "
                                 f"{s_['median_ms']:.1f} ms" for s_ in v["sweep"])
                     + f". Measured with the best (highest completions/s; within 10 % of it, the lowest median):"
                       f" {v['workers']}×{v['threads']}.")
        tb = v["db_growth"]["tables_per_dossier"]
        top = sorted(tb.items(), key=lambda kv: -kv[1])[:8]
        L.append(f"- {k}, DB growth per dossier by table/index (bytes): "
                 + ", ".join(f"{n_} {s_}" for n_, s_ in top) + ".")
        L.append(f"- {k}, median completion latency by task (ms): "
                 + ", ".join(f"{t} {ms:.1f}" for t, ms in v["by_task_median_ms"].items())
                 + (f"; PostgreSQL backends {v['cpu']['postgres_ms_per_completion']:.2f} ms CPU per completion"
                    if "postgres_ms_per_completion" in v["cpu"] else "")
                 + f"; gunicorn {v['cpu']['server_cores_busy']} cores busy, client "
                   f"{v['cpu']['client_ms_per_completion']:.2f} ms CPU per completion; other processes on the"
                   f" machine {v['cpu'].get('other_processes_cores_busy')} cores busy during the run"
                   + (" (**noisy: another job competed for the CPU**)"
                      if (v['cpu'].get('other_processes_cores_busy') or 0) > 0.3 else "") + ".")
        cpu = v["cpu"]
        per = (cpu["server_ms_per_completion"] + cpu["client_ms_per_completion"]
               + cpu.get("postgres_ms_per_completion", 0.0))
        if per > 0:
            L.append(f"- {k}, CPU-bound ceiling: {meta['cpus']} cores ÷ {per:.2f} ms of CPU per completion (gunicorn + "
                     f"client{' + PostgreSQL' if 'postgres_ms_per_completion' in cpu else ''}) ≈ "
                     f"{1000 * (meta['cpus'] or 1) / per:.0f} completions/s if nothing else ran and nothing waited.")
        vf = v["verify"]
        L.append(f"- {k}, verified: statuses {vf['statuses']}, {vf['done_tasks']} tasks done, {vf['open_tasks']} "
                 f"open, {vf['unfinished_states']} unfinished workflow states, {vf['api_checked_ok']} dossiers "
                 "re-read through the API with status 10.")
    for k in ("sqlite", "postgres"):
        if k in results and "error" in results[k]:
            L.append(f"- **{k}: FAILED** — {results[k]['error'][:500]}")
    sandbox = raw.get("sandbox") or {}
    if sandbox.get("skipped"):
        L.append(f"- raw engine with the app's sandbox: skipped ({sandbox['skipped']}).")
    L.append("")
    return "\n".join(L)


# =========================================================================== main


def parse_list(value: str) -> list[int]:
    return [int(x) for x in str(value).split(",") if x.strip()]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a small smoke run (about a minute)")
    ap.add_argument("--dossiers", type=int, help="dossiers per measured app run (default 200; quick: 30)")
    ap.add_argument("--instances", type=int, help="raw engine instances per mode (default 300; quick: 30)")
    ap.add_argument("--workers", default=None,
                    help="gunicorn workers; a comma list tries each (default: the pairs 1×2, 2×2, 2×4; quick: 2×2)")
    ap.add_argument("--threads", default=None,
                    help="client threads (= keep-alive connections); a comma list tries each (with --workers: every "
                         "combination). "
                         "gthread workers get ceil(threads / workers) threads each")
    ap.add_argument("--worker-class", default="gthread", choices=["gthread", "sync"],
                    help="gunicorn worker class (default gthread: keep-alive, as many threads per worker as "
                         "client threads; sync closes every connection and waits for the client to close)")
    ap.add_argument("--sweep-dossiers", type=int, help="dossiers per setting tried (default 40; quick: 10)")
    ap.add_argument("--only", default="all",
                    help="sqlite, postgres, raw or a comma list; the raw baseline is always measured")
    ap.add_argument("--no-write", action="store_true", help="do not write bench/results/")
    args = ap.parse_args(argv)

    quick = args.quick
    dossiers = args.dossiers or (30 if quick else 200)
    instances = args.instances or (30 if quick else 300)
    if args.workers or args.threads:
        workers = parse_list(args.workers or "2")
        threads = parse_list(args.threads or "2")
        settings = [(w, c) for w in workers for c in threads]
    else:
        settings = [(2, 2)] if quick else list(DEFAULT_SETTINGS)
    sweep_dossiers = args.sweep_dossiers or (10 if quick else 40)
    only = {x.strip() for x in args.only.split(",")}
    backends = [k for k in ("sqlite", "postgres") if "all" in only or k in only]

    import platform
    from importlib.metadata import version

    results: dict[str, Any] = {"meta": {
        "date": datetime.now(UTC).astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "host": platform.node(), "cpus": os.cpu_count(), "python": platform.python_version(),
        "spiffworkflow": version("SpiffWorkflow"), "quick": quick, "argv": sys.argv[1:],
        "loadavg_start": loadavg(),
    }}
    started = time.perf_counter()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally blocks: stop gunicorn, drop DBs
    tmp = Path(tempfile.mkdtemp(prefix="motcua_bench_"))
    failed = False
    try:
        log(f"raw engine: {instances} instances per mode")
        results["raw"] = raw_bench(instances, warm=max(5, instances // 10))
        for kind in backends:
            try:
                r = app_bench(kind, tmp, settings, args.worker_class, dossiers, sweep_dossiers,
                              warm=4)
                r["sweep_dossiers"] = sweep_dossiers
                results[kind] = r
            except Exception as exc:  # noqa: BLE001
                failed = True
                traceback.print_exc()
                results[kind] = {"error": f"{type(exc).__name__}: {str(exc)[:2000]}"}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    results["meta"]["elapsed_s"] = round(time.perf_counter() - started, 1)
    results["meta"]["loadavg_end"] = loadavg()
    report = render(results)
    print(report)
    print(f"\n(total {results['meta']['elapsed_s']} s)")
    if not args.no_write:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        for name in (f"bench-{stamp}", "latest"):
            (RESULTS_DIR / f"{name}.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n",
                                                       encoding="utf-8")
            (RESULTS_DIR / f"{name}.md").write_text(report + "\n", encoding="utf-8")
        log(f"written to {RESULTS_DIR}/latest.{{md,json}}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
