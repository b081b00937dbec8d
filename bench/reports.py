#!/usr/bin/env python3
"""Report queries at 1,000,000 dossier facts on PostgreSQL (run on demand: `.venv/bin/python bench/reports.py`).

Creates a database `motcua_reports_<pid>`, migrates it and seeds the demo data with the app's own commands, adds
48 agencies, bulk-loads N `dossier_facts` rows (COPY; three years of receipts, 60 agencies' worth of procedures,
three channels, realistic outcomes, ratings, payments, portal sync), ANALYZEs, then times the report queries
through `app.reports.figures.figures()` — by agency for a year, by procedure for a month, by month for one
agency, the p90 of a year alone, the public page's two queries — median of R runs, each as a ratio against
`SELECT count(*) FROM dossier_facts` measured in the same run. Target: every query under 2 s.
The database is dropped at the end (`--keep` keeps it). `--readme` appends the table to bench/README.md.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PG_ADMIN_DSN = os.environ.get("BENCH_PG_ADMIN_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=postgres")
PG_URL_TEMPLATE = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/{db}")
FIELDS = ["Hộ tịch", "Chứng thực", "Đất đai", "Xây dựng", "Kinh doanh", "Tư pháp", "Lao động", "Giáo dục"]
FIRST_DAY, LAST_DAY = date(2024, 1, 1), date(2026, 11, 23)
YEAR = 2026
TARGET_S = 2.0


def _admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(sql)


def load(url: str, n: int, seed: int) -> dict:
    """48 more agencies, then n facts rows by COPY; returns the unit ids and the load time."""
    import psycopg

    rnd = random.Random(seed)
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    started = time.perf_counter()
    now = datetime.now(UTC)
    with psycopg.connect(dsn) as conn:
        for i in range(48):
            conn.execute("INSERT INTO units (code, name, created_at) VALUES (%s, %s, %s)",
                         (f"000.{i:02d}.99.H41", f"Ủy ban nhân dân xã thử nghiệm số {i + 1}", now))
        units = [r[0] for r in conn.execute("SELECT id FROM units ORDER BY id")]
        procedures = list(range(1, 301))
        span = (LAST_DAY - FIRST_DAY).days
        columns = ["dossier_id", "unit_id", "procedure_id", "field", "channel", "received_day", "received_at",
                   "due_at", "finished_at", "status", "outcome", "on_time", "working_days", "supplements", "rating",
                   "paid_online", "synced", "refreshed_at"]
        with conn.cursor() as cur, cur.copy(f"COPY dossier_facts ({', '.join(columns)}) FROM STDIN") as copy:
            for i in range(1, n + 1):
                day = FIRST_DAY + timedelta(days=rnd.randrange(span + 1))
                received = datetime(day.year, day.month, day.day, rnd.randrange(0, 10), rnd.randrange(60), tzinfo=UTC)
                due = received + timedelta(days=rnd.choice([1, 3, 5, 7, 15, 20]))
                proc = rnd.choice(procedures)
                recent = (LAST_DAY - day).days < 30
                roll = rnd.random()
                if recent and roll < 0.6:
                    status, outcome = rnd.choice([2, 4, 5]), "open"
                elif roll < 0.05:
                    status, outcome = 3, "refused"
                elif roll < 0.07:
                    status, outcome = rnd.choice([7, 8]), rnd.choice(["withdrawn", "stopped"])
                else:
                    status, outcome = rnd.choice([9, 10, 10]), "done"
                finished = on_time = working = None
                if outcome != "open":
                    finished = received + timedelta(hours=rnd.uniform(2, 24 * 25))
                if outcome == "done":
                    on_time = finished <= due or rnd.random() < 0.5
                    working = round(rnd.gammavariate(2.0, 2.5), 3)
                channel = rnd.choices(["online", "counter", "postal"], [55, 40, 5])[0]
                rating = rnd.choices([None, "very_satisfied", "satisfied", "not_satisfied"], [70, 12, 15, 3])[0]
                copy.write_row((i, rnd.choice(units), proc, FIELDS[proc % len(FIELDS)], channel, day, received, due,
                                finished, status, outcome, on_time, working, rnd.choices([0, 1, 2], [85, 12, 3])[0],
                                rating, rnd.random() < 0.2, rnd.random() < 0.95, now))
        conn.commit()
        conn.autocommit = True
        conn.execute("ANALYZE dossier_facts")
    return {"units": units, "load_seconds": time.perf_counter() - started}


def _median_ms(fn, runs: int) -> float:
    fn()  # warm
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def measure(app, units: list[int], runs: int) -> list[dict]:
    from sqlalchemy import text

    from app.extensions import db
    from app.reports.figures import Filters, _p90, figures

    year = (date(YEAR, 1, 1), date(YEAR, 12, 31))
    month = (date(YEAR, 10, 1), date(YEAR, 10, 31))
    busiest = units[0]
    cases = [
        ("baseline: SELECT count(*) FROM dossier_facts",
         lambda: db.session.execute(text("SELECT count(*) FROM dossier_facts")).scalar()),
        (f"by agency, year {YEAR} (figures + p90 per agency)",
         lambda: figures(Filters(since=year[0], until=year[1], group="unit"))),
        (f"by procedure, month 10/{YEAR}",
         lambda: figures(Filters(since=month[0], until=month[1], group="procedure"))),
        (f"by month, one agency, year {YEAR}",
         lambda: figures(Filters(since=year[0], until=year[1], unit_id=busiest, group="month"))),
        (f"by field, year {YEAR}, a leader's 3 agencies",
         lambda: figures(Filters(since=year[0], until=year[1], unit_ids=set(units[:3]), group="field"))),
        (f"p90 alone, all agencies, year {YEAR}",
         lambda: _p90(Filters(since=year[0], until=year[1]))),
        ("public page: by agency, year + month",
         lambda: (figures(Filters(since=year[0], until=year[1], group="unit")),
                  figures(Filters(since=month[0], until=month[1], group="unit")))),
    ]
    out = []
    with app.app_context():
        for name, fn in cases:
            out.append({"query": name, "ms": _median_ms(fn, runs)})
            db.session.rollback()
        db.session.remove()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--facts", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--keep", action="store_true", help="keep the database")
    ap.add_argument("--readme", action="store_true", help="append the results to bench/README.md")
    args = ap.parse_args()

    name = f"motcua_reports_{os.getpid()}"
    url = PG_URL_TEMPLATE.format(db=name)
    _admin(f'CREATE DATABASE "{name}"')
    try:
        from flask_migrate import upgrade

        from app import create_app
        from app.extensions import db

        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "RATELIMIT_ENABLED": False,
                          "UPLOAD_DIR": str(Path("/tmp") / name)})
        with app.app_context():
            upgrade(directory=str(ROOT / "migrations"), revision="heads")
            result = app.test_cli_runner().invoke(args=["seed", "demo"])
            assert result.exit_code == 0, result.output
            db.session.remove()
            db.engine.dispose()
        info = load(url, args.facts, args.seed)
        rows = measure(app, info["units"], args.runs)
        base = rows[0]["ms"]
        buf = io.StringIO()
        buf.write(f"\n{args.facts:,} `dossier_facts` rows, {len(info['units'])} agencies, 300 procedures, receipts "
                  f"{FIRST_DAY:%d/%m/%Y}–{LAST_DAY:%d/%m/%Y}, on PostgreSQL (COPY load "
                  f"{info['load_seconds']:.1f} s); median of {args.runs} runs, end to end through "
                  "`app.reports.figures` (SQL + Python)\n\n")
        buf.write("| query | ms | × baseline |\n|---|---:|---:|\n")
        for r in rows:
            buf.write(f"| {r['query']} | {r['ms']:.1f} | {r['ms'] / base:.2f} |\n")
        worst = max(r["ms"] for r in rows[1:])
        verdict = f"slowest report query: {worst / 1000:.2f} s ({'under' if worst < TARGET_S * 1000 else 'OVER'} " \
                  f"the {TARGET_S:.0f} s target)"
        buf.write(f"\n{verdict}\n")
        print(buf.getvalue())
        if args.readme:
            with open(ROOT / "bench" / "README.md", "a", encoding="utf-8") as fh:
                fh.write("\n## Reports (`bench/reports.py`)\n" + buf.getvalue())
        with app.app_context():
            db.engine.dispose()
        return 0 if worst < TARGET_S * 1000 else 1
    finally:
        if not args.keep:
            _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    sys.exit(main())
