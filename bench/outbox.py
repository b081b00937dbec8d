#!/usr/bin/env python3
"""The outbox on PostgreSQL against a local webhook partner (run on demand: `.venv/bin/python bench/outbox.py`).

Starts the webhook simulator (`connectors/simulators/webhook.py`, a real process on loopback, honouring
Idempotency-Key), creates a database `motcua_bench_outbox_<pid>`, migrates it and seeds the demo data with the
app's own commands, then measures in the same run:

1. the partner's own ceiling: raw httpx POSTs to the simulator from 1 and T threads for a few seconds each, on a
   keep-alive client per thread and with a new client per call (what `connectors.base.http_call` does);
2. outbox throughput: N messages enqueued with `enqueue(...)` (committed in batches), then delivered by 1 and by
   T threads, each running `deliver_due(f"w{i}", limit=L)` in its own app context until nothing is left;
   verified exactly once (simulator calls == N with the right keys, 0 duplicates, every row `done`);
   messages/s and the ratio against the raw POSTs of the same thread count;
3. delay from commit to delivery: W workers polling like the scheduler (`flask jobs run`: drain with
   `deliver_due` until empty, every P seconds on a fixed cadence, a run that overruns skips ticks) while a
   producer commits one message at a time at R/s for D seconds; delay = sent_at − created_at of the rows, p50/p95
   per poll interval.

Prints markdown tables. The database and the simulator are removed at the end (`--keep` keeps the database).
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import statistics
import sys
import threading
import time
import uuid
from contextlib import contextmanager, nullcontext
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PG_ADMIN_DSN = os.environ.get("BENCH_PG_ADMIN_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=postgres")
PG_URL_TEMPLATE = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/{db}")
HOOK_PATH = "/dossier-events"


def _admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(sql)


def _payload(i: int) -> dict:
    return {"event": "dossier.status_changed", "dossier": f"BENCH.000-261124-{i:06d}", "status": 4,
            "applicant": "Nguyễn Thị Minh Anh", "at": "2026-11-24T08:00:00Z"}


def _proc_cpu(pid: int) -> float:
    """User + system CPU seconds of another process (from /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pg_cpu(dbname: str) -> float:
    """CPU seconds of the PostgreSQL backends connected to our database (process title names it)."""
    total = 0.0
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            cmd = (d / "cmdline").read_bytes()
        except OSError:
            continue
        if cmd.startswith(b"postgres:") and f" {dbname} ".encode() in cmd:
            cpu = _proc_cpu(int(d.name))
            total += 0.0 if math.isnan(cpu) else cpu
    return total


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    if not s:
        return float("nan")
    k = (len(s) - 1) * q
    lo, hi = math.floor(k), math.ceil(k)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


class Partner:
    """The simulator process and its control surface."""

    def __init__(self, sim) -> None:
        self.sim = sim
        self.url = sim.url

    def reset(self) -> None:
        self.sim.reset()

    def calls(self) -> tuple[list[str], int]:
        import httpx

        data = httpx.get(f"{self.url}/_sim/calls", timeout=30).json()
        return [c["key"] for c in data["calls"]], int(data["duplicates"])

    def cpu(self) -> float:
        return _proc_cpu(self.sim.proc.pid)


# --------------------------------------------------------------------------- 1. raw POSTs


def raw_posts(partner: Partner, threads: int, seconds: float, keep_alive: bool) -> dict:
    import httpx

    from connectors.base import http_call

    partner.reset()
    url = partner.url + HOOK_PATH
    counts = [0] * threads
    errors: list[str] = []
    start = threading.Barrier(threads + 1)
    stop_at = [0.0]

    def run(t: int) -> None:
        client = httpx.Client(timeout=10) if keep_alive else None
        start.wait()
        n = 0
        try:
            while time.perf_counter() < stop_at[0]:
                key = f"raw-{uuid.uuid4().hex}"
                if client is not None:
                    resp = client.post(url, json=_payload(n), headers={"User-Agent": "MotCua/1.0",
                                                                        "Idempotency-Key": key})
                    resp.raise_for_status()
                    resp.json()
                else:
                    http_call("POST", url, key=key, json_body=_payload(n), timeout=10).json()
                n += 1
        except Exception as exc:  # noqa: BLE001 — reported, fails the run
            errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            counts[t] = n
            if client is not None:
                client.close()

    workers = [threading.Thread(target=run, args=(t,), daemon=True) for t in range(threads)]
    for w in workers:
        w.start()
    cpu0, sim0 = time.process_time(), partner.cpu()
    t0 = time.perf_counter()
    stop_at[0] = t0 + seconds
    start.wait()
    for w in workers:
        w.join()
    wall = time.perf_counter() - t0
    total = sum(counts)
    keys, dups = partner.calls()
    if errors:
        raise RuntimeError(f"raw POSTs failed: {errors[0]}")
    if len(keys) != total or dups:
        raise RuntimeError(f"raw POSTs: simulator saw {len(keys)} calls ({dups} duplicates), sent {total}")
    return {"threads": threads, "keep_alive": keep_alive, "messages": total, "seconds": wall,
            "rate": total / wall, "cpu_ms": (time.process_time() - cpu0) / total * 1000,
            "sim_cpu_ms": (partner.cpu() - sim0) / total * 1000}


# --------------------------------------------------------------------------- 2. outbox throughput


@contextmanager
def keep_alive_connector():
    """What-if, patched in this process only: the webhook connector sends through one keep-alive httpx.Client
    per worker thread instead of building a new client (and SSL context) per call in `http_call`."""
    import httpx

    import connectors.webhook as hook
    from connectors import base

    local = threading.local()
    clients: list[httpx.Client] = []
    original = hook.http_call

    def http_call(*args, **kwargs):
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client()
            clients.append(client)
        kwargs.setdefault("client", client)
        return base.http_call(*args, **kwargs)

    hook.http_call = http_call
    try:
        yield
    finally:
        hook.http_call = original
        for client in clients:
            client.close()



def _truncate(app) -> None:
    from app.extensions import db

    with app.app_context():
        db.session.execute(db.text("TRUNCATE outbox RESTART IDENTITY"))
        db.session.commit()
        db.session.remove()


def enqueue_batch(app, n: int, batch: int, tag: str) -> float:
    from app.extensions import db
    from app.outbox.services import enqueue

    t0 = time.perf_counter()
    with app.app_context():
        for i in range(n):
            enqueue("webhook", "post", {"path": HOOK_PATH, **_payload(i)}, key=f"bench-{tag}-{i}")
            if (i + 1) % batch == 0:
                db.session.commit()
        db.session.commit()
        db.session.execute(db.text("ANALYZE outbox"))
        db.session.commit()
        db.session.remove()
    return time.perf_counter() - t0


def drain(app, worker: str, limit: int) -> dict[str, int]:
    """What a scheduler outbox tick does: deliver_due until a claim comes back empty."""
    from app.extensions import db
    from app.outbox.services import deliver_due

    totals: dict[str, int] = {}
    with app.app_context():
        try:
            while True:
                counts = deliver_due(worker, limit=limit)
                if not counts:
                    return totals
                for state, k in counts.items():
                    totals[state] = totals.get(state, 0) + k
        finally:
            db.session.remove()


def verify(app, partner: Partner, n: int) -> dict:
    from sqlalchemy import func, select

    from app.extensions import db
    from app.outbox.models import DONE, OutboxMessage

    keys, dups = partner.calls()
    with app.app_context():
        rows = dict(db.session.execute(select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state)).all())
        stored = set(db.session.scalars(select(OutboxMessage.key)))
        attempts = db.session.scalar(select(func.max(OutboxMessage.attempts)))
        db.session.remove()
    problems = []
    if len(keys) != n:
        problems.append(f"simulator calls {len(keys)} != {n}")
    if dups:
        problems.append(f"{dups} duplicates")
    if set(keys) != stored or len(set(keys)) != len(keys):
        problems.append("simulator keys differ from the outbox keys")
    if rows.get(DONE, 0) != n or len(rows) != 1:
        problems.append(f"row states {rows}")
    if attempts != 1:
        problems.append(f"max attempts {attempts}")
    return {"calls": len(keys), "duplicates": dups, "states": rows, "ok": not problems, "problems": problems}


def throughput(app, partner: Partner, n: int, batch: int, workers: int, limit: int, what_if: bool) -> dict:
    _truncate(app)
    partner.reset()
    enq_s = enqueue_batch(app, n, batch, f"t{workers}")
    results: list[dict[str, int]] = [{} for _ in range(workers)]
    errors: list[str] = []

    def run(i: int) -> None:
        try:
            results[i] = drain(app, f"w{i}", limit)
        except Exception as exc:  # noqa: BLE001 — reported, fails the run
            errors.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(workers)]
    dbname = app.config["SQLALCHEMY_DATABASE_URI"].rsplit("/", 1)[1]
    with keep_alive_connector() if what_if else nullcontext():
        cpu0, sim0, pg0 = time.process_time(), partner.cpu(), _pg_cpu(dbname)
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    wall = time.perf_counter() - t0
    cpu, sim_cpu, pg_cpu = time.process_time() - cpu0, partner.cpu() - sim0, _pg_cpu(dbname) - pg0
    if errors:
        raise RuntimeError(f"delivery failed: {errors[0]}")
    check = verify(app, partner, n)
    per_worker = [sum(r.values()) for r in results]
    return {"what_if": what_if, "workers": workers, "messages": n, "enqueue_s": enq_s, "enqueue_rate": n / enq_s,
            "seconds": wall, "rate": n / wall, "cpu_ms": cpu / n * 1000, "sim_cpu_ms": sim_cpu / n * 1000,
            "pg_cpu_ms": pg_cpu / n * 1000, "per_worker": per_worker, **check}


# --------------------------------------------------------------------------- 3. delay commit → delivery


def _producer(url: str, rate: float, seconds: float, tag: str, ready, go, results) -> None:
    """A separate process, like the web workers that change dossiers: one message per transaction at `rate`/s."""
    from app import create_app
    from app.extensions import db
    from app.outbox.services import enqueue

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "RATELIMIT_ENABLED": False})
    lag: list[float] = []
    with app.app_context():
        db.session.execute(db.text("SELECT 1"))  # connect before the clock starts
        db.session.rollback()
        ready.set()
        go.wait()
        total = int(rate * seconds)
        t0 = time.perf_counter()
        for i in range(total):
            due = t0 + i / rate
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            lag.append(time.perf_counter() - due)
            enqueue("webhook", "post", {"path": HOOK_PATH, **_payload(i)}, key=f"bench-{tag}-{i}")
            db.session.commit()
        results.put({"messages": total, "produce_s": time.perf_counter() - t0, "lag_p95_ms": _pct(lag, 0.95) * 1000})
        db.session.remove()
        db.engine.dispose()


def delay(app, partner: Partner, workers: int, poll: float, rate: float, seconds: float, limit: int,
          what_if: bool, drain_wait: float) -> dict:
    with keep_alive_connector() if what_if else nullcontext():
        return {"what_if": what_if, **_delay(app, partner, workers, poll, rate, seconds, limit, drain_wait)}


def _delay(app, partner: Partner, workers: int, poll: float, rate: float, seconds: float, limit: int,
           drain_wait: float) -> dict:
    import multiprocessing

    from sqlalchemy import func, select

    from app.extensions import db
    from app.outbox.models import DONE, OutboxMessage

    _truncate(app)
    partner.reset()
    ctx = multiprocessing.get_context("spawn")
    ready, go, results = ctx.Event(), ctx.Event(), ctx.Queue()
    proc = ctx.Process(target=_producer, daemon=True,
                       args=(app.config["SQLALCHEMY_DATABASE_URI"], rate, seconds, f"d{rate:g}-{poll:g}", ready, go,
                             results))
    proc.start()
    if not ready.wait(60):
        proc.kill()
        raise RuntimeError("the producer process did not start")
    stop = threading.Event()
    errors: list[str] = []
    ticks = [0] * workers

    def worker(i: int) -> None:
        # APScheduler interval job, max_instances=1: ticks at start + k·poll; a tick that is still running when
        # the next one is due makes that one skip.
        start = time.perf_counter()
        while not stop.is_set():
            try:
                drain(app, f"d{i}", limit)
            except Exception as exc:  # noqa: BLE001
                errors.append(f"{type(exc).__name__}: {exc}")
                return
            ticks[i] += 1
            now = time.perf_counter()
            nxt = start + math.floor((now - start) / poll + 1) * poll
            stop.wait(max(0.0, nxt - now))

    def not_done() -> int:
        n = db.session.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.state != DONE))
        db.session.rollback()
        return int(n or 0)

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(workers)]
    for t in threads:
        t.start()
    go.set()
    produced = results.get(timeout=seconds * 20 + 60)
    proc.join(30)
    with app.app_context():
        backlog = not_done()
        deadline = time.perf_counter() + drain_wait
        while time.perf_counter() < deadline and not_done():
            time.sleep(0.05)
        stop.set()
        for t in threads:
            t.join()
        rows = db.session.execute(select(OutboxMessage.created_at, OutboxMessage.sent_at)).all()
        db.session.remove()
    if errors:
        raise RuntimeError(f"delivery failed: {errors[0]}")
    total = produced["messages"]
    check = verify(app, partner, total)
    ms = [(s - c).total_seconds() * 1000 for c, s in sorted(rows) if s is not None]
    half = len(ms) // 2
    return {"workers": workers, "poll": poll, "rate": rate, **produced,
            "achieved_rate": total / produced["produce_s"], "backlog": backlog, "delivered": len(ms),
            "p50": _pct(ms, 0.5), "p95": _pct(ms, 0.95),
            "p50_first_half": _pct(ms[:half], 0.5), "p50_second_half": _pct(ms[half:], 0.5),
            "max": max(ms) if ms else float("nan"), "ticks": sum(ticks), **check}


# --------------------------------------------------------------------------- report


def _variant(r: dict) -> str:
    return "what-if: keep-alive client per worker" if r["what_if"] else "connector as is"


def report(raw: list[dict], thr: list[dict], dly: list[dict], args, elapsed: float, loads: tuple) -> str:
    out = []
    out.append(f"Outbox on PostgreSQL → webhook simulator (loopback), {os.cpu_count()} CPUs, load average "
               f"{loads[0]:.2f} at start / {loads[1]:.2f} at end, {elapsed:.0f} s in all\n")
    out.append("| partner ceiling: raw httpx POSTs | threads | messages/s | client CPU ms/msg | partner CPU ms/msg |")
    out.append("|---|---:|---:|---:|---:|")
    for r in raw:
        mode = "keep-alive client per thread" if r["keep_alive"] else "new client per call (as `http_call`)"
        out.append(f"| {mode} | {r['threads']} | {r['rate']:.0f} | {r['cpu_ms']:.2f} | {r['sim_cpu_ms']:.2f} |")
    ka = {r["threads"]: r["rate"] for r in raw if r["keep_alive"]}
    nc = {r["threads"]: r["rate"] for r in raw if not r["keep_alive"]}
    out.append("")
    out.append(f"| outbox, {args.messages} messages, `deliver_due(limit={args.limit})` | workers | messages/s | "
               "÷ raw keep-alive | ÷ raw new client | CPU ms/msg: app / PostgreSQL / partner | exactly once |")
    out.append("|---|---:|---:|---:|---:|---:|:-:|")
    for r in thr:
        w = r["workers"]
        ok = "yes" if r["ok"] else "**NO** " + "; ".join(r["problems"])
        out.append(f"| {_variant(r)} | {w} | {r['rate']:.0f} | {r['rate'] / ka[w]:.2f}× | {r['rate'] / nc[w]:.2f}× | "
                   f"{r['cpu_ms']:.1f} / {r['pg_cpu_ms']:.1f} / {r['sim_cpu_ms']:.1f} | {ok} |")
    enq = statistics.fmean(r["enqueue_rate"] for r in thr)
    out.append(f"\nenqueue: {enq:.0f} messages/s (one session, commit every {args.batch}); messages per worker: "
               + ", ".join(f"{'/'.join(map(str, r['per_worker']))}" for r in thr if r["workers"] > 1) + "\n")
    out.append(f"| delay commit → delivered, {args.delay_workers} workers, {args.duration:g} s of production | "
               "poll s | rate /s (achieved) | p50 ms | p95 ms | max ms | p50 1st / 2nd half ms | backlog at end | "
               "exactly once |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|:-:|")
    for r in dly:
        ok = "yes" if r["ok"] else "**NO** " + "; ".join(r["problems"])
        out.append(f"| {_variant(r)} ({r['messages']} messages, {r['ticks']} ticks) | {r['poll']:g} | "
                   f"{r['rate']:g} ({r['achieved_rate']:.0f}) | {r['p50']:.0f} | {r['p95']:.0f} | {r['max']:.0f} | "
                   f"{r['p50_first_half']:.0f} / {r['p50_second_half']:.0f} | {r['backlog']} | {ok} |")
    lag = max(r["lag_p95_ms"] for r in dly)
    out.append(f"\nproducer: a separate process, one message per transaction; worst p95 lag behind its schedule "
               f"{lag:.1f} ms")
    return "\n".join(out) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--messages", type=int, default=500, help="messages per throughput run")
    ap.add_argument("--batch", type=int, default=200, help="enqueue: commit every B messages")
    ap.add_argument("--threads", type=int, default=4, help="the multi-threaded setting (raw and outbox)")
    ap.add_argument("--limit", type=int, default=20, help="deliver_due batch size")
    ap.add_argument("--raw-seconds", type=float, default=3.0, help="duration of each raw POST setting")
    ap.add_argument("--delay-workers", type=int, default=2)
    ap.add_argument("--poll", default="1", help="poll interval(s) in seconds, comma-separated (the scheduler's: 1)")
    ap.add_argument("--rate", default="50,20", help="producer messages per second, comma-separated")
    ap.add_argument("--drain-wait", type=float, default=45.0,
                    help="after production, wait at most this long for the backlog to drain")
    ap.add_argument("--duration", type=float, default=20.0, help="producer seconds per delay run")
    ap.add_argument("--no-what-if", action="store_true",
                    help="skip the runs with a keep-alive client per worker (patched in this process only)")
    ap.add_argument("--keep", action="store_true", help="keep the database")
    args = ap.parse_args()
    polls = [float(p) for p in args.poll.split(",") if p.strip()]
    rates = [float(r) for r in args.rate.split(",") if r.strip()]
    variants = [False] if args.no_what_if else [False, True]

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    load0 = os.getloadavg()[0]
    started = time.perf_counter()
    name = f"motcua_bench_outbox_{os.getpid()}"
    url = PG_URL_TEMPLATE.format(db=name)
    from tests.simulators import start_simulator

    sim = start_simulator("webhook")
    partner = Partner(sim)
    app = None
    try:
        _admin(f'CREATE DATABASE "{name}"')
        from flask_migrate import upgrade

        from app import create_app
        from app.extensions import db

        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "RATELIMIT_ENABLED": False,
                          "UPLOAD_DIR": str(Path("/tmp") / name),
                          "CONNECTORS": {"webhook": {"url": partner.url, "timeout": 10}}})
        with app.app_context():
            upgrade(directory=str(ROOT / "migrations"), revision="heads")
            result = app.test_cli_runner().invoke(args=["seed", "demo"])
            assert result.exit_code == 0, result.output
            db.session.remove()
        print(f"setup {time.perf_counter() - started:.1f} s; partner {partner.url}", flush=True)

        raw = []
        for keep_alive in (True, False):
            for threads in (1, args.threads):
                raw.append(raw_posts(partner, threads, args.raw_seconds, keep_alive))
                r = raw[-1]
                print(f"raw {'keep-alive' if keep_alive else 'new client'} ×{threads}: {r['rate']:.0f}/s",
                      flush=True)
        thr = []
        for what_if in variants:
            for workers in (1, args.threads):
                thr.append(throughput(app, partner, args.messages, args.batch, workers, args.limit, what_if))
                r = thr[-1]
                print(f"outbox {_variant(r)} ×{workers}: {r['rate']:.0f}/s, exactly once: {r['ok']} "
                      f"{r['problems']}", flush=True)
        dly = []
        runs = [(rate, poll, False) for rate in rates for poll in polls]
        if len(variants) > 1:
            runs.insert(1, (rates[0], polls[0], True))
        for rate, poll, what_if in runs:
            dly.append(delay(app, partner, args.delay_workers, poll, rate, args.duration, args.limit, what_if,
                             args.drain_wait))
            r = dly[-1]
            print(f"delay {_variant(r)}, {rate:g}/s, poll {poll:g} s: p50 {r['p50']:.0f} ms, p95 {r['p95']:.0f} ms, "
                  f"backlog {r['backlog']}, exactly once: {r['ok']}", flush=True)
        text = report(raw, thr, dly, args, time.perf_counter() - started, (load0, os.getloadavg()[0]))
        print()
        print(text)
        return 0 if all(r["ok"] for r in thr + dly) else 1
    finally:
        if app is not None:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
        sim.stop()
        if not args.keep:
            _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        upload = Path("/tmp") / name
        if upload.is_dir() and not any(upload.iterdir()):
            upload.rmdir()


if __name__ == "__main__":
    sys.exit(main())
