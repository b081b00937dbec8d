"""Working days and appointment dates (Vietnam: holidays, swapped days, office hours)."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.common.timefmt import VN_TZ
from app.worktime import (
    OFFICE_HOURS,
    add_working_hours,
    due_date,
    is_working_day,
    next_working_day,
    shift_by_working_hours,
    working_hours_between,
)
from app.worktime.calendar import name_vi, overrides, package_days_off, package_working_weekends, parse_office_hours


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


# --- calendar properties ---------------------------------------------------------------------------------

starts = st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2027, 12, 1)).map(
    lambda d: d.replace(tzinfo=VN_TZ))


def in_office_hours(moment: datetime) -> bool:
    t = moment.astimezone(VN_TZ).time()
    return time(7, 0) <= t <= time(11, 30) or time(13, 30) <= t <= time(17, 0)


@given(starts, st.integers(min_value=0, max_value=200), st.integers(min_value=0, max_value=200))
def test_adding_is_monotonic(start, a, b):
    a, b = sorted((a, b))
    assert add_working_hours(start, a) <= add_working_hours(start, b)


@given(starts, starts, st.integers(min_value=1, max_value=80))
def test_later_start_never_gives_an_earlier_end(s1, s2, hours):
    s1, s2 = sorted((s1, s2))
    assert add_working_hours(s1, hours) <= add_working_hours(s2, hours)


@given(starts, st.floats(min_value=0.25, max_value=400, allow_nan=False))
def test_never_lands_on_a_day_off_and_always_in_office_hours(start, hours):
    end = add_working_hours(start, hours).astimezone(VN_TZ)
    assert is_working_day(end.date())
    assert in_office_hours(end)


@given(starts, st.integers(min_value=0, max_value=4 * 8 * 60).map(lambda m: m / 4))  # quarter-minute steps
def test_working_hours_between_is_the_inverse_of_add_working_hours(start, minutes):
    hours = minutes / 60
    end = add_working_hours(start, hours)
    assert abs(working_hours_between(start, end) - hours) < 1e-6


@given(starts, starts)
def test_adding_the_elapsed_time_lands_on_the_same_office_moment(a, b):
    a, b = sorted((a, b))
    elapsed = working_hours_between(a, b)
    assert elapsed >= 0
    if elapsed > 0:
        # b may lie outside office hours: adding lands on the last office moment at or before it
        assert add_working_hours(a, elapsed) <= b
        assert working_hours_between(add_working_hours(a, elapsed), b) < 1e-6


@given(starts, st.integers(min_value=0, max_value=200), st.integers(min_value=0, max_value=200))
def test_working_hours_between_is_additive(start, a, b):
    m = add_working_hours(start, a)
    e = add_working_hours(m, b)
    assert working_hours_between(start, e) == working_hours_between(start, m) + working_hours_between(m, e)


# --- fixed cases ---------------------------------------------------------------------------------------------

def test_tet_2026_every_day_off():
    for day in range(16, 21):  # Mon 16/2 (Giao thừa) .. Fri 20/2 (mùng 4)
        assert not is_working_day(date(2026, 2, day))
    assert is_working_day(date(2026, 2, 13)) and is_working_day(date(2026, 2, 23))
    # Friday 13/2/2026 16:00 + 1 working day: 1 h on Friday, 7 h on Monday 23/2 (4.5 h + 2.5 h)
    assert due_date(vn(2026, 2, 13, 16, 0), {"value": 1, "unit": "working_days"}) == vn(2026, 2, 23, 16, 0)
    assert next_working_day(date(2026, 2, 13)) == date(2026, 2, 23)


def test_the_2025_swap_moves_a_deadline():
    # Friday 25/4/2025 16:00 + 1 day: 1 h on Friday, 7 h on the worked Saturday 26/4
    assert due_date(vn(2025, 4, 25, 16, 0), {"value": 1, "unit": "working_days"}) == vn(2025, 4, 26, 16, 0)
    assert next_working_day(date(2025, 4, 29)) == date(2025, 5, 5)


def test_national_day_2026():
    assert not is_working_day(date(2026, 9, 2)) and not is_working_day(date(2026, 9, 1))
    assert next_working_day(date(2026, 8, 28)) == date(2026, 9, 3)  # Mon 31/8 off too (swapped from Sat 22/8)


def test_working_hours_between_counts_only_office_time():
    assert working_hours_between(vn(2026, 11, 25, 10, 0), vn(2026, 11, 25, 14, 0)) == 2.0
    assert working_hours_between(vn(2026, 11, 25, 14, 0), vn(2026, 11, 25, 10, 0)) == 0.0
    # Friday 16:00 → Monday 08:00: 1 h + 1 h
    assert working_hours_between(vn(2026, 11, 27, 16, 0), vn(2026, 11, 30, 8, 0)) == 2.0
    # across the 2025 National Day holidays (Mon 1/9, Tue 2/9): Fri 29/8 08:00 → Wed 3/9 08:00 = 7 h + 1 h
    assert working_hours_between(vn(2025, 8, 29, 8, 0), vn(2025, 9, 3, 8, 0)) == 8.0


def test_a_supplement_pause_moves_the_due_date_by_the_paused_office_time():
    due = due_date(vn(2026, 11, 25, 8, 0), {"value": 3, "unit": "working_days"})
    assert due == vn(2026, 11, 30, 8, 0)
    paused = working_hours_between(vn(2026, 11, 26, 16, 0), vn(2026, 11, 27, 9, 0))  # 1 h + 2 h
    assert paused == 3.0
    assert shift_by_working_hours(due, paused) == vn(2026, 11, 30, 11, 0)
    assert shift_by_working_hours(due, 0) == due


def test_office_hours_and_names():
    assert parse_office_hours("07:00-11:30, 13:30-17:00") == OFFICE_HOURS
    assert parse_office_hours("08:00-12:00") == ((time(8, 0), time(12, 0)),)
    for bad in ("", "12:00-08:00", "07:00-12:00,11:00-17:00"):
        with pytest.raises(ValueError):
            parse_office_hours(bad)
    assert name_vi("Lunar New Year") == "Tết Nguyên đán (mùng 1)"
    assert name_vi("Hung Kings' Commemoration Day (observed)") == "Giỗ Tổ Hùng Vương (10/3 âm lịch) (nghỉ bù)"
    assert name_vi("Day off (substituted from 04/26/2025)") == "Nghỉ bù (đi làm bù ngày 26/04/2025)"
    assert name_vi("Something new") == "Something new"
    names = dict(package_days_off(2026))
    assert names[date(2026, 9, 2)] == "Quốc khánh (2/9)"
    assert names[date(2026, 1, 1)] == "Tết Dương lịch"
    assert names[date(2026, 11, 24)].startswith("Ngày Văn hóa Việt Nam")
    assert names[date(2026, 4, 30)].startswith("Ngày Giải phóng")
    assert names[date(2026, 5, 1)].startswith("Ngày Quốc tế Lao động")
    assert date(2025, 4, 26) in package_working_weekends(2025)


def test_without_an_app_context_only_the_package_decides():
    assert overrides(2026) == {}
