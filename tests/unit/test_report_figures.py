"""Report figures on a small hand-built set whose numbers are worked out by hand below.

Office hours 07:00–11:30 and 13:30–17:00 (8 h = 1 working day). Tết 2026: Monday 16 – Friday 20 February off;
National Day 2026: Monday 31 August (the bridge day) to Wednesday 2 September off.
"now" is Tuesday 15 September 2026, 09:00.

D1 counter, unit A, received Thu 12/02 08:00, due Tue 24/02 17:00, finished Mon 23/02 10:00 (after Tết):
   12/02 7 h + 13/02 8 h + Tết 0 + 23/02 3 h = 18 h = 2.25 days; on time.
D2 online, unit A, received Fri 28/08 09:00, first due Thu 03/09 17:00; supplement asked 28/08 14:00, resumed
   03/09 08:00; apology on 03/09 16:00 moved the due date to Mon 07/09 17:00; finished Fri 04/09 10:00:
   28/08 6 h + weekend and 31/08–2/09 off 0 + 03/09 8 h + 04/09 3 h = 17 h, minus the pause 28/08 3 h +
   03/09 1 h = 4 h
   → 13 h = 1.625 days; LATE (the apology does not make it on time); 1 supplement; very satisfied; paid
   online; synced.
D3 online, unit A, received Mon 07/09, due Thu 10/09 17:00, open → in progress past the deadline; synced.
D4 counter, unit A, received Tue 08/09, due Wed 30/09 17:00, open → in progress within the deadline.
D5 postal, unit A, received Tue 08/09 08:00, refused the same day; not satisfied.
D6 counter, unit B, received Thu 12/02 07:00, finished 17:00 the same day = 8 h = 1 day, due 13/02 → on time;
   satisfied.

Totals: received 6 (counter 3, online 2, postal 1); online ratio 2 ÷ (2 + 3) = 0.4; done 3, on time 2, late 1,
on-time ratio 2/3; open within 1, past 1; supplements 1; refused 1; average (2.25 + 1.625 + 1) ÷ 3 = 1.625 days;
p90 of [1, 1.625, 2.25]: rank 0.9 × 2 = 1.8 → 1.625 + 0.8 × 0.625 = 2.125; ratings 1/1/1 → 2/3 satisfied;
paid online 1 (1/6); synced 2 (2/6).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import delete, select

from app.common.timefmt import VN_TZ
from app.extensions import db
from app.reports import facts as facts_mod
from app.reports.facts import DossierInput, compute_fact, normalise_rating, upsert
from app.reports.figures import Filters, figures, percentile_cont
from app.reports.models import DossierFact


def vn(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=VN_TZ).astimezone(UTC)


NOW = vn(2026, 9, 15, 9)


def hand_built(unit_a: int, unit_b: int, proc_a: int, proc_b: int) -> list[DossierInput]:
    d1 = DossierInput(1001, unit_a, proc_a, "counter", 10, vn(2026, 2, 12, 8), vn(2026, 2, 12, 8),
                      vn(2026, 2, 24, 17), vn(2026, 2, 23, 10), field="Hộ tịch",
                      status_changes=[(vn(2026, 2, 12, 8), 2), (vn(2026, 2, 23, 10), 10)])
    d2 = DossierInput(1002, unit_a, proc_a, "online", 9, vn(2026, 8, 28, 8), vn(2026, 8, 28, 9),
                      vn(2026, 9, 7, 17), vn(2026, 9, 4, 10), field="Hộ tịch",
                      status_changes=[(vn(2026, 8, 28, 9), 2), (vn(2026, 8, 28, 14), 5), (vn(2026, 9, 3, 8), 4),
                                      (vn(2026, 9, 4, 10), 9)],
                      apologies=[(vn(2026, 9, 3, 16), vn(2026, 9, 3, 17), vn(2026, 9, 7, 17))],
                      rating="very_satisfied", paid_online=True, synced=True)
    d3 = DossierInput(1003, unit_a, proc_a, "online", 4, vn(2026, 9, 7, 8), vn(2026, 9, 7, 8),
                      vn(2026, 9, 10, 17), field="Hộ tịch", synced=True)
    d4 = DossierInput(1004, unit_a, proc_a, "counter", 4, vn(2026, 9, 8, 8), vn(2026, 9, 8, 8),
                      vn(2026, 9, 30, 17), field="Hộ tịch")
    d5 = DossierInput(1005, unit_a, proc_a, "postal", 3, vn(2026, 9, 8, 8), vn(2026, 9, 8, 8), None,
                      vn(2026, 9, 8, 9), field="Hộ tịch", rating="not_satisfied")
    d6 = DossierInput(1006, unit_b, proc_b, "counter", 10, vn(2026, 2, 12, 7), vn(2026, 2, 12, 7),
                      vn(2026, 2, 13, 17), vn(2026, 2, 12, 17), field="Xây dựng", rating="satisfied")
    return [d1, d2, d3, d4, d5, d6]


@pytest.fixture
def dataset(app):
    from app.auth.models import Unit
    from app.catalog.models import Procedure

    with app.app_context():
        units = list(db.session.scalars(select(Unit).order_by(Unit.id)))[:2]
        procs = list(db.session.scalars(select(Procedure).order_by(Procedure.id)))[:2]
        inputs = hand_built(units[0].id, units[1].id, procs[0].id, procs[1].id)
        rows = [compute_fact(d, NOW) for d in inputs]
        db.session.execute(delete(DossierFact))
        upsert(rows)
        db.session.commit()
        yield {"units": [u.id for u in units], "procs": [p.id for p in procs], "rows": rows,
               "names": [u.name for u in units]}
        db.session.execute(delete(DossierFact))
        db.session.commit()


def test_compute_fact_holiday_pause_and_apology():
    inputs = hand_built(1, 2, 1, 2)
    facts = {f["dossier_id"]: f for f in (compute_fact(d, NOW) for d in inputs)}
    assert facts[1001]["working_days"] == 2.25 and facts[1001]["on_time"] is True
    assert facts[1002]["working_days"] == 1.625
    assert facts[1002]["on_time"] is False  # the apology's new date does not make it on time
    assert facts[1002]["due_at"] == vn(2026, 9, 3, 17)  # the first due date, before the apology
    assert facts[1002]["supplements"] == 1
    assert facts[1006]["working_days"] == 1.0 and facts[1006]["on_time"] is True
    assert facts[1003]["outcome"] == "open" and facts[1003]["on_time"] is None
    assert facts[1005]["outcome"] == "refused" and facts[1005]["working_days"] is None
    assert facts[1002]["received_day"] == date(2026, 8, 28)
    # received at 00:30 in Vietnam is still the same Vietnam day though the UTC date is the day before
    late_night = DossierInput(9, 1, 1, "online", 1, vn(2026, 3, 2, 0, 30))
    assert compute_fact(late_night, NOW)["received_day"] == date(2026, 3, 2)


def test_rating_names_are_normalised():
    assert normalise_rating("Rất hài lòng") == "very_satisfied"
    assert normalise_rating("very-satisfied") == "very_satisfied"
    assert normalise_rating("satisfied") == "satisfied"
    assert normalise_rating("Không hài lòng") == "not_satisfied"
    assert normalise_rating("unsatisfied") == "not_satisfied"
    assert normalise_rating(2) == "satisfied"
    assert normalise_rating("meh") is None
    assert facts_mod.RATING_LEVELS == ("very_satisfied", "satisfied", "not_satisfied")


def test_percentile_cont_matches_postgresql():
    assert percentile_cont([1.0, 1.625, 2.25], 0.9) == 2.125
    assert percentile_cont([5.0], 0.9) == 5.0
    assert percentile_cont([], 0.9) is None


def test_totals_exact(app, dataset):
    with app.app_context():
        rows, total = figures(Filters(since=date(2026, 1, 1), until=date(2026, 12, 31), now=NOW))
    assert rows == []
    t = total.values
    assert (t["received"], t["counter"], t["online"], t["postal"]) == (6, 3, 2, 1)
    assert t["online_ratio"] == 0.4
    assert (t["done"], t["on_time"], t["late"]) == (3, 2, 1)
    assert t["on_time_ratio"] == 2 / 3
    assert (t["open_within"], t["open_late"]) == (1, 1)
    assert (t["supplements"], t["refused"], t["withdrawn_stopped"]) == (1, 1, 0)
    assert t["avg_days"] == 1.625
    assert t["p90_days"] == 2.125
    assert (t["very_satisfied"], t["satisfied"], t["not_satisfied"]) == (1, 1, 1)
    assert t["satisfied_ratio"] == 2 / 3
    assert t["paid_online"] == 1 and t["paid_online_ratio"] == 1 / 6
    assert t["synced"] == 2 and t["synced_ratio"] == 2 / 6


def test_by_month_and_unit_exact(app, dataset):
    with app.app_context():
        months, _ = figures(Filters(since=date(2026, 1, 1), until=date(2026, 12, 31), group="month", now=NOW))
        units, _ = figures(Filters(since=date(2026, 1, 1), until=date(2026, 12, 31), group="unit", now=NOW))
        restricted, total = figures(Filters(since=date(2026, 9, 1), until=date(2026, 9, 30),
                                            unit_ids={dataset["units"][0]}, now=NOW))
    assert [(r.key, r.label, r["received"]) for r in months] == [
        ("2026-02", "02/2026", 2), ("2026-08", "08/2026", 1), ("2026-09", "09/2026", 3)]
    feb = months[0].values
    assert (feb["done"], feb["on_time"], feb["late"], feb["avg_days"], feb["p90_days"]) == (2, 2, 0, 1.625, 2.125)
    aug = months[1].values
    assert (aug["late"], aug["on_time_ratio"], aug["supplements"], aug["avg_days"]) == (1, 0.0, 1, 1.625)
    sep = months[2].values
    assert (sep["open_within"], sep["open_late"], sep["refused"], sep["online_ratio"]) == (1, 1, 1, 0.5)
    by_unit = {r.key: r.values for r in units}
    assert by_unit[dataset["units"][0]]["received"] == 5 and by_unit[dataset["units"][1]]["received"] == 1
    assert by_unit[dataset["units"][1]]["satisfied_ratio"] == 1.0
    # September only, unit A only: D3, D4, D5
    assert restricted == [] and total["received"] == 3 and total["done"] == 0 and total["avg_days"] is None
