"""The `dossier_facts` table: one pre-aggregated row per dossier, what every report reads.

`refresh_facts(limit)` (the scheduler's housekeeping, every minute) reads the dossiers changed since its
watermark — `dossiers.updated_at` then `id`, stored in the one-row `report_state` table — at most `limit` of
them, plus the dossiers whose payment, rating or portal message changed since the previous run (those rows do
not touch the dossier), computes their facts and upserts them (`INSERT … ON CONFLICT DO UPDATE` on SQLite and
PostgreSQL: running it twice writes the same rows). `refresh_all()` repeats it until nothing is left.

How a fact is derived (`compute_fact`, pure, no database):

- outcome: status 9/10 → done, 3 → refused, 7 → withdrawn, 8 → stopped, otherwise open;
- received_day: the Vietnam date of `received_at` (of `submitted_at` while a dossier is not yet received);
- due_at: the first due date, before any apology: the `old_due` of the earliest apology when there is one,
  else the dossier's `due_at` (supplement pauses move it legitimately and stay counted);
- on_time (done dossiers only; null otherwise): finished_at <= due_at (true without a due date);
- supplements: the audit rows `status` → 5; a pause runs from each such row to the next status change (or to
  the end / now while still waiting);
- working_days (done dossiers only): office hours from received_at to finished_at minus the office hours of
  the supplement pauses, ÷ 8 (`app.worktime`: weekends, VN holidays and admin overrides excluded), to 3 places;
- rating: the newest rating of the dossier, normalised by `normalise_rating` (the one mapping of level names);
- paid_online: a payment in state "paid"; synced: a `portal` / `sync_dossier` outbox message in state "done".
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, inspect, or_, select, text
from sqlalchemy.dialects import postgresql, sqlite

from app.common.timefmt import VN_TZ
from app.common.types import utcnow
from app.extensions import db
from app.reports.models import DONE, OPEN, REFUSED, STOPPED, WITHDRAWN, DossierFact, ReportState
from app.worktime import HOURS_PER_DAY, working_hours_between

STATE_NAME = "facts"
SUPPLEMENT = 5
OUTCOME_OF_STATUS = {9: DONE, 10: DONE, 3: REFUSED, 7: WITHDRAWN, 8: STOPPED}
CHUNK = 500

VERY_SATISFIED, SATISFIED, NOT_SATISFIED = "very_satisfied", "satisfied", "not_satisfied"
RATING_LEVELS = (VERY_SATISFIED, SATISFIED, NOT_SATISFIED)
RATING_LABELS = {VERY_SATISFIED: "Rất hài lòng", SATISFIED: "Hài lòng", NOT_SATISFIED: "Không hài lòng"}
#: every spelling of a satisfaction level the ratings table may hold → ours (keys folded: lower case, no
#: diacritics, "_" for spaces and dashes); numbers are the 3-point scale
_RATING_ALIASES = {
    "very_satisfied": VERY_SATISFIED, "rat_hai_long": VERY_SATISFIED, "very_good": VERY_SATISFIED,
    "3": VERY_SATISFIED,
    "satisfied": SATISFIED, "hai_long": SATISFIED, "good": SATISFIED, "2": SATISFIED,
    "not_satisfied": NOT_SATISFIED, "unsatisfied": NOT_SATISFIED, "dissatisfied": NOT_SATISFIED,
    "khong_hai_long": NOT_SATISFIED, "bad": NOT_SATISFIED, "1": NOT_SATISFIED,
}
#: columns of the ratings table that may hold the level, in order of preference
_RATING_COLUMNS = ("level", "rating", "satisfaction", "value", "score")


def normalise_rating(value: Any) -> str | None:
    """'very_satisfied' | 'satisfied' | 'not_satisfied' from any spelling the ratings table may use."""
    if value is None:
        return None
    raw = unicodedata.normalize("NFD", str(value).strip().lower()).replace("đ", "d")
    folded = "".join(c for c in raw if not unicodedata.combining(c)).replace(" ", "_").replace("-", "_")
    return _RATING_ALIASES.get(folded)


# --------------------------------------------------------------------------- one dossier


@dataclass
class DossierInput:
    """What `compute_fact` needs of one dossier (read in bulk by `refresh_facts`)."""

    id: int
    unit_id: int
    procedure_id: int
    channel: str
    status: int
    submitted_at: datetime
    received_at: datetime | None = None
    due_at: datetime | None = None
    finished_at: datetime | None = None
    field: str = ""
    #: (at, to_status) of the audit rows "status", in time order
    status_changes: list[tuple[datetime, int]] = dc_field(default_factory=list)
    #: (issued_at, old_due, new_due) of the apologies
    apologies: list[tuple[datetime, datetime | None, datetime]] = dc_field(default_factory=list)
    rating: str | None = None
    paid_online: bool = False
    synced: bool = False


def vn_day(value: datetime) -> date:
    return value.astimezone(VN_TZ).date()


def first_due(d: DossierInput) -> datetime | None:
    """The due date before any apology moved it."""
    for _issued, old_due, _new in sorted(d.apologies, key=lambda a: a[0]):
        if old_due is not None:
            return old_due
    return d.due_at


def pauses(d: DossierInput, now: datetime) -> list[tuple[datetime, datetime]]:
    """The supplement pauses: from each change to status 5 to the next change to another status."""
    out: list[tuple[datetime, datetime]] = []
    started: datetime | None = None
    for at, to_status in sorted(d.status_changes, key=lambda c: c[0]):
        if to_status == SUPPLEMENT:
            if started is None:
                started = at
        elif started is not None:
            out.append((started, at))
            started = None
    if started is not None:
        out.append((started, d.finished_at or now))
    return out


def compute_fact(d: DossierInput, now: datetime | None = None) -> dict[str, Any]:
    """The `dossier_facts` row of one dossier (a dict of column values)."""
    now = now or utcnow()
    outcome = OUTCOME_OF_STATUS.get(d.status, OPEN)
    due = first_due(d)
    on_time: bool | None = None
    working_days: float | None = None
    if outcome == DONE and d.finished_at is not None:
        on_time = True if due is None else d.finished_at <= due
        if d.received_at is not None:
            hours = working_hours_between(d.received_at, d.finished_at)
            for a, b in pauses(d, now):
                lo, hi = max(a, d.received_at), min(b, d.finished_at)
                if hi > lo:
                    hours -= working_hours_between(lo, hi)
            working_days = round(max(hours, 0.0) / HOURS_PER_DAY, 3)
    supplements = sum(1 for _at, to_status in d.status_changes if to_status == SUPPLEMENT)
    return {
        "dossier_id": d.id, "unit_id": d.unit_id, "procedure_id": d.procedure_id, "field": d.field or "",
        "channel": d.channel, "received_day": vn_day(d.received_at or d.submitted_at),
        "received_at": d.received_at, "due_at": due, "finished_at": d.finished_at, "status": d.status,
        "outcome": outcome, "on_time": on_time, "working_days": working_days, "supplements": supplements,
        "rating": d.rating, "paid_online": bool(d.paid_online), "synced": bool(d.synced), "refreshed_at": now,
    }


# --------------------------------------------------------------------------- bulk reads


def has_table(name: str) -> bool:
    return inspect(db.engine).has_table(name)


def _chunks(ids: Sequence[int]) -> Iterable[list[int]]:
    for i in range(0, len(ids), CHUNK):
        yield list(ids[i:i + CHUNK])


def _ratings_columns() -> tuple[str, str | None] | None:
    """(level column, change-time column or None) of the ratings table, or None without a usable one."""
    if not has_table("ratings"):
        return None
    columns = {c["name"] for c in inspect(db.engine).get_columns("ratings")}
    if "dossier_id" not in columns:
        return None
    level = next((c for c in _RATING_COLUMNS if c in columns), None)
    if level is None:
        return None
    changed = next((c for c in ("updated_at", "created_at") if c in columns), None)
    return level, changed


def load_inputs(ids: Sequence[int]) -> list[DossierInput]:
    """The dossiers of `ids` (those that still exist) with their audit rows, apologies and side facts."""
    from app.catalog.models import Procedure
    from app.dossiers.models import AuditLog, Dossier, DossierApology

    inputs: dict[int, DossierInput] = {}
    ratings = _ratings_columns()
    payments = has_table("payments")
    for chunk in _chunks(sorted(set(ids))):
        rows = db.session.execute(
            select(Dossier.id, Dossier.unit_id, Dossier.procedure_id, Dossier.channel, Dossier.status,
                   Dossier.submitted_at, Dossier.received_at, Dossier.due_at, Dossier.finished_at, Procedure.field)
            .join(Procedure, Procedure.id == Dossier.procedure_id).where(Dossier.id.in_(chunk)))
        for r in rows:
            inputs[r.id] = DossierInput(id=r.id, unit_id=r.unit_id, procedure_id=r.procedure_id, channel=r.channel,
                                        status=r.status, submitted_at=r.submitted_at, received_at=r.received_at,
                                        due_at=r.due_at, finished_at=r.finished_at, field=r.field or "")
        for dossier_id, at, to_status in db.session.execute(
                select(AuditLog.dossier_id, AuditLog.at, AuditLog.to_status)
                .where(AuditLog.dossier_id.in_(chunk), AuditLog.action == "status",
                       AuditLog.to_status.is_not(None))
                .order_by(AuditLog.dossier_id, AuditLog.at, AuditLog.id)):
            if dossier_id in inputs:
                inputs[dossier_id].status_changes.append((at, to_status))
        for dossier_id, issued, old, new in db.session.execute(
                select(DossierApology.dossier_id, DossierApology.issued_at, DossierApology.old_due,
                       DossierApology.new_due).where(DossierApology.dossier_id.in_(chunk))):
            if dossier_id in inputs:
                inputs[dossier_id].apologies.append((issued, old, new))
        params = {f"i{n}": v for n, v in enumerate(chunk)}
        in_list = ", ".join(f":i{n}" for n in range(len(chunk)))
        for (dossier_id,) in db.session.execute(text(
                "SELECT DISTINCT dossier_id FROM outbox WHERE connector = 'portal' AND operation = 'sync_dossier' "
                f"AND state = 'done' AND dossier_id IN ({in_list})"), params):
            if dossier_id in inputs:
                inputs[dossier_id].synced = True
        if payments:
            for (dossier_id,) in db.session.execute(text(
                    f"SELECT DISTINCT dossier_id FROM payments WHERE state = 'paid' AND dossier_id IN ({in_list})"),
                    params):
                if dossier_id in inputs:
                    inputs[dossier_id].paid_online = True
        if ratings is not None:
            level = ratings[0]
            for dossier_id, value in db.session.execute(text(
                    f"SELECT dossier_id, {level} FROM ratings WHERE dossier_id IN ({in_list}) ORDER BY id"), params):
                if dossier_id in inputs:  # the newest (highest id) wins
                    inputs[dossier_id].rating = normalise_rating(value) or inputs[dossier_id].rating
    return list(inputs.values())


def _outbox_low() -> int:
    """The lowest outbox id still to be delivered (pending or sending), or the next id when none is."""
    low = db.session.execute(text("SELECT min(id) FROM outbox WHERE state IN ('pending', 'sending')")).scalar()
    if low is None:
        low = (db.session.execute(text("SELECT max(id) FROM outbox")).scalar() or 0) + 1
    return int(low)


def _side_changes(since: datetime | None, outbox_low: int | None) -> set[int]:
    """Dossiers whose payment, rating or portal message changed after `since` (portal messages from id
    `outbox_low` on: every message still undelivered at `since` has an id at least that)."""
    if since is None:
        return set()
    from app.common.types import UTCDateTime

    out: set[int] = set()
    bound = UTCDateTime().process_bind_param(since, db.engine.dialect)
    queries = ["SELECT DISTINCT dossier_id FROM outbox WHERE id >= :low AND connector = 'portal' "
               "AND updated_at > :since AND dossier_id IS NOT NULL"]
    if has_table("payments"):
        queries.append("SELECT DISTINCT dossier_id FROM payments WHERE updated_at > :since")
    ratings = _ratings_columns()
    if ratings is not None and ratings[1] is not None:
        queries.append(f"SELECT DISTINCT dossier_id FROM ratings WHERE {ratings[1]} > :since")
    for sql in queries:
        out.update(r[0] for r in db.session.execute(text(sql), {"since": bound, "low": outbox_low or 0}))
    return out


def upsert(rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    dialect = db.engine.dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    columns = [c.name for c in DossierFact.__table__.columns if c.name != "dossier_id"]
    for i in range(0, len(rows), CHUNK):
        stmt = insert(DossierFact.__table__).values(rows[i:i + CHUNK])
        stmt = stmt.on_conflict_do_update(index_elements=["dossier_id"],
                                          set_={c: getattr(stmt.excluded, c) for c in columns})
        db.session.execute(stmt)


# --------------------------------------------------------------------------- the refresh


def _state() -> ReportState:
    state = db.session.get(ReportState, STATE_NAME)
    if state is None:
        state = ReportState(name=STATE_NAME, watermark_at=None, watermark_id=0, side_at=None)
        db.session.add(state)
        db.session.flush()
    return state


def refresh_facts(limit: int = 5000, now: datetime | None = None) -> int:
    """Bring at most `limit` changed dossiers (plus those with changed payments, ratings, portal messages)
    into `dossier_facts`; commits; returns how many facts rows were written."""
    return _refresh(limit, now)[0]


def _refresh(limit: int, now: datetime | None) -> tuple[int, int]:
    from app.dossiers.models import Dossier

    started = utcnow()
    now = now or started
    state = _state()
    outbox_low = _outbox_low()
    query = select(Dossier.id, Dossier.updated_at).order_by(Dossier.updated_at, Dossier.id).limit(limit)
    if state.watermark_at is not None:
        query = query.where(or_(Dossier.updated_at > state.watermark_at,
                                and_(Dossier.updated_at == state.watermark_at, Dossier.id > state.watermark_id)))
    changed = db.session.execute(query).all()
    ids = {r.id for r in changed} | _side_changes(state.side_at, state.outbox_low)
    rows = [compute_fact(d, now) for d in load_inputs(sorted(ids))]
    upsert(rows)
    if changed:
        state.watermark_at, state.watermark_id = changed[-1].updated_at, changed[-1].id
    state.side_at, state.outbox_low = started, outbox_low
    state.updated_at = utcnow()
    db.session.commit()
    return len(rows), len(changed)


def refresh_all(limit: int = 5000) -> int:
    """refresh_facts() until the watermark reaches the newest dossier; the total of rows written."""
    total = 0
    while True:
        written, read = _refresh(limit, None)
        total += written
        if read < limit:
            return total


def refresh_dossiers(ids: Iterable[int], now: datetime | None = None) -> int:
    """Recompute the facts of these dossiers now (no watermark change); flushes, does not commit."""
    rows = [compute_fact(d, now) for d in load_inputs(sorted(set(ids)))]
    upsert(rows)
    return len(rows)

