"""Working days and appointment dates (Vietnam: holidays, swapped days, office hours)."""

from __future__ import annotations

from datetime import date, datetime

from hypothesis import given
from hypothesis import strategies as st

from app.common.timefmt import VN_TZ
from app.worktime import add_working_hours, due_date, is_working_day


def vn(*args: int) -> datetime:
    return datetime(*args, tzinfo=VN_TZ)


def test_tet_2026_and_the_2025_swap():
    assert not is_working_day(date(2026, 2, 17))        # Tết
    assert not is_working_day(date(2025, 5, 2))         # Friday off (swap)
    assert is_working_day(date(2025, 4, 26))            # Saturday worked (swap)
    assert not is_working_day(date(2025, 9, 2))         # National Day
    assert is_working_day(date(2026, 11, 25))


def test_one_working_day_from_monday_morning():
    assert due_date(vn(2026, 11, 30, 8, 0), {"value": 1, "unit": "working_days"}) == vn(2026, 12, 1, 8, 0)
    # 24/11 is Vietnam Culture Day (a day off since 2026): Monday 23/11 + 1 day lands on Wednesday
    assert due_date(vn(2026, 11, 23, 8, 0), {"value": 1, "unit": "working_days"}) == vn(2026, 11, 25, 8, 0)


def test_hours_skip_lunch_and_the_night():
    # 10:30 + 2 h = 1 h before lunch + 1 h after it
    assert add_working_hours(vn(2026, 11, 25, 10, 30), 2) == vn(2026, 11, 25, 14, 30)
    # 16:00 + 2 h = 1 h today, 1 h the next morning
    assert add_working_hours(vn(2026, 11, 25, 16, 0), 2) == vn(2026, 11, 26, 8, 0)


def test_three_working_days_across_the_2025_national_day():
    # Friday 29/8/2025 08:00 + 3 working days; Mon 1/9 and Tue 2/9 are holidays: Wed, Thu, Fri 08:00
    assert due_date(vn(2025, 8, 29, 8, 0), {"value": 3, "unit": "working_days"}) == vn(2025, 9, 5, 8, 0)


def test_same_day_cutoff_at_15_00_on_the_eve_of_a_holiday():
    same_day = {"value": 1, "unit": "working_days", "same_day": True}
    assert due_date(vn(2025, 4, 29, 14, 59), same_day) == vn(2025, 4, 29, 17, 0)
    # 15:01 on Tuesday 29/4/2025: 30/4, 1/5 and 2/5 are days off, Sat 3/5 and Sun 4/5 too
    assert due_date(vn(2025, 4, 29, 15, 1), same_day) == vn(2025, 5, 5, 17, 0)


@given(st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2027, 12, 1)),
       st.integers(min_value=1, max_value=120))
def test_working_hours_land_inside_office_hours_on_working_days(start, hours):
    start = start.replace(tzinfo=VN_TZ)
    end = add_working_hours(start, hours).astimezone(VN_TZ)
    assert end > start
    assert is_working_day(end.date())
    t = end.time()
    assert (7 <= t.hour < 11 or (t.hour, t.minute) == (11, 30) or (t.hour == 11 and t.minute <= 30)
            or (13, 30) <= (t.hour, t.minute) <= (17, 0))


@given(st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2027, 12, 1)),
       st.integers(min_value=1, max_value=40), st.integers(min_value=1, max_value=40))
def test_adding_is_additive(start, a, b):
    start = start.replace(tzinfo=VN_TZ)
    assert add_working_hours(add_working_hours(start, a), b) == add_working_hours(start, a + b)
