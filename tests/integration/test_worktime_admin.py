"""The working calendar: overrides over the holidays package, the admin page and the `flask calendar` CLI."""

from __future__ import annotations

import re
from datetime import date, datetime

import pytest
from sqlalchemy import text

from app.common.timefmt import VN_TZ
from app.extensions import db
from app.worktime import calendar, due_date, is_working_day, working_hours_between

PAGE = "/quan-tri/lich-lam-viec/"
ONE_DAY = {"value": 1, "unit": "working_days"}


def vn(*args: int) -> datetime:
    return datetime(*args, tzinfo=VN_TZ)


def login(app, username):
    c = app.test_client()
    r = c.post("/dang-nhap", data={"username": username, "password": "MotCua@2026"})
    assert r.status_code == 302
    return c


@pytest.fixture(autouse=True)
def _no_overrides(app):
    yield
    with app.app_context():
        db.session.rollback()
        db.session.execute(text("DELETE FROM calendar_overrides"))
        db.session.commit()
    calendar.invalidate()


def test_only_admins_see_the_calendar(app):
    r = app.test_client().get(PAGE)
    assert r.status_code == 302 and "/dang-nhap" in r.headers["Location"]
    assert login(app, "tiepnhan.tinh").get(PAGE).status_code == 403
    assert login(app, "tiepnhan.tinh").post(PAGE, data={"date": "2026-12-01", "kind": "day_off",
                                                        "reason": "x"}).status_code == 403
    assert login(app, "tiepnhan.tinh").post(PAGE + "2026-12-01/xoa").status_code == 403
    r = login(app, "quantri.phuong").get(PAGE + "?nam=2026")
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    for name in ("Tết Nguyên đán", "Giỗ Tổ Hùng Vương", "Tết Dương lịch", "Quốc khánh (2/9)",
                 "Ngày Giải phóng miền Nam", "Ngày Quốc tế Lao động", "Ngày Văn hóa Việt Nam"):
        assert name in page, name
    assert 'name="csrf_token"' in page and '<label class="sf-label" for="ov-reason">' in page
    page_2025 = login(app, "quantri.tinh").get(PAGE + "?nam=2025").get_data(as_text=True)
    assert "26/04/2025" in page_2025 and "Ngày làm việc bù" in page_2025
    assert login(app, "quantri.tinh").get(PAGE + "?nam=abc").status_code == 400


def test_add_and_remove_through_the_page(app):
    admin = login(app, "quantri.tinh")
    with app.app_context():
        assert due_date(vn(2026, 11, 30, 8, 0), ONE_DAY) == vn(2026, 12, 1, 8, 0)
    r = admin.post(PAGE, data={"date": "2026-12-01", "kind": "day_off", "reason": "Nghỉ thêm theo quyết định của tỉnh"})
    assert r.status_code == 302
    page = admin.get(r.headers["Location"]).get_data(as_text=True)
    assert "Nghỉ thêm theo quyết định của tỉnh" in page and "01/12/2026" in page and "Đã thêm" in page
    with app.app_context():  # the override day off moves the due date at once (cache invalidated)
        assert not is_working_day(date(2026, 12, 1))
        assert due_date(vn(2026, 11, 30, 8, 0), ONE_DAY) == vn(2026, 12, 2, 8, 0)
    # the same date twice, no reason, a bad kind, a bad date: the form again with the message
    r = admin.post(PAGE, data={"date": "2026-12-01", "kind": "working_day", "reason": "Lần hai"})
    assert r.status_code == 409 and "đã có điều chỉnh" in r.get_data(as_text=True)
    r = admin.post(PAGE, data={"date": "2026-12-03", "kind": "day_off", "reason": " "})
    assert r.status_code == 422 and "Cần ghi lý do" in r.get_data(as_text=True)
    assert admin.post(PAGE, data={"date": "2026-12-03", "kind": "holiday", "reason": "x"}).status_code == 422
    assert admin.post(PAGE, data={"date": "3/12/2026", "kind": "day_off", "reason": "x"}).status_code == 422
    assert admin.post(PAGE + "2026-12-01/xoa").status_code == 302
    assert admin.post(PAGE + "2026-12-01/xoa").status_code == 404
    with app.app_context():
        assert is_working_day(date(2026, 12, 1))
        assert due_date(vn(2026, 11, 30, 8, 0), ONE_DAY) == vn(2026, 12, 1, 8, 0)


def test_forms_are_csrf_protected(app):
    admin = login(app, "quantri.tinh")
    page = admin.get(PAGE).get_data(as_text=True)
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        r = admin.post(PAGE, data={"date": "2026-12-01", "kind": "day_off", "reason": "Không có mã CSRF"})
        assert r.status_code == 400
        page = admin.get(PAGE).get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        r = admin.post(PAGE, data={"csrf_token": token, "date": "2026-12-01", "kind": "day_off",
                                   "reason": "Có mã CSRF"})
        assert r.status_code == 302
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


def test_cli_add_list_remove_and_an_extra_working_saturday(app):
    runner = app.test_cli_runner()
    with app.app_context():
        # Friday 4/12/2026 16:00 + 1 day: 1 h on Friday, 7 h on Monday 7/12
        assert due_date(vn(2026, 12, 4, 16, 0), ONE_DAY) == vn(2026, 12, 7, 16, 0)
    r = runner.invoke(args=["calendar", "add", "2026-12-05", "--kind", "working_day",
                            "--reason", "Làm bù cho ngày nghỉ 31/12"])
    assert r.exit_code == 0, r.output
    with app.app_context():
        assert is_working_day(date(2026, 12, 5))
        assert due_date(vn(2026, 12, 4, 16, 0), ONE_DAY) == vn(2026, 12, 5, 16, 0)
        assert working_hours_between(vn(2026, 12, 4, 17, 0), vn(2026, 12, 7, 7, 0)) == 8.0
    r = runner.invoke(args=["calendar", "add", "2026-12-31", "--kind", "day_off", "--reason", "Nghỉ cuối năm"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(args=["calendar", "list", "--year", "2026"])
    assert r.exit_code == 0, r.output
    assert "2026-12-05\tworking_day\toverride\tLàm bù cho ngày nghỉ 31/12" in r.output
    assert "2026-12-31\tday_off\toverride\tNghỉ cuối năm" in r.output
    assert "2026-09-02\tday_off\tpackage\tQuốc khánh (2/9)" in r.output
    r = runner.invoke(args=["calendar", "add", "2026-12-05", "--kind", "day_off", "--reason", "Trùng"])
    assert r.exit_code == 1 and "đã có điều chỉnh" in r.output
    assert runner.invoke(args=["calendar", "add", "2026-13-01", "--kind", "day_off", "--reason", "x"]).exit_code == 1
    assert runner.invoke(args=["calendar", "add", "2026-12-07", "--kind", "nope", "--reason", "x"]).exit_code != 0
    r = runner.invoke(args=["calendar", "remove", "2026-12-05"])
    assert r.exit_code == 0, r.output
    assert runner.invoke(args=["calendar", "remove", "2026-12-05"]).exit_code == 1
    with app.app_context():
        assert not is_working_day(date(2026, 12, 5))
        assert due_date(vn(2026, 12, 4, 16, 0), ONE_DAY) == vn(2026, 12, 7, 16, 0)


def test_an_override_beats_the_package_both_ways(app):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["calendar", "add", "2026-09-02", "--kind", "working_day",
                               "--reason", "Thử: đi làm ngày lễ"]).exit_code == 0
    with app.app_context():
        assert is_working_day(date(2026, 9, 2))
        r = runner.invoke(args=["calendar", "list", "--year", "2026"])
        assert "Quốc khánh (2/9) (overridden)" in r.output
    # the same-day cut-off on the eve of an override day off: 15:01 on Mon 30/11 → Wed 2/12
    assert runner.invoke(args=["calendar", "add", "2026-12-01", "--kind", "day_off",
                               "--reason", "Nghỉ thêm"]).exit_code == 0
    same_day = {"value": 1, "unit": "working_days", "same_day": True}
    with app.app_context():
        assert due_date(vn(2026, 11, 30, 15, 0), same_day) == vn(2026, 11, 30, 17, 0)
        assert due_date(vn(2026, 11, 30, 15, 1), same_day) == vn(2026, 12, 2, 17, 0)


def test_office_hours_and_cutoff_come_from_config(app):
    app.config.update(OFFICE_HOURS="08:00-12:00,13:00-17:00", SAME_DAY_CUTOFF="16:00")
    try:
        with app.app_context():
            assert due_date(vn(2026, 11, 25, 11, 0), {"value": 2, "unit": "working_hours"}) == vn(2026, 11, 25, 14, 0)
            same_day = {"value": 1, "unit": "working_days", "same_day": True}
            assert due_date(vn(2026, 11, 25, 15, 30), same_day) == vn(2026, 11, 25, 17, 0)
    finally:
        app.config.pop("OFFICE_HOURS")
        app.config.pop("SAME_DAY_CUTOFF")


def test_overrides_are_cached_with_a_short_ttl(app, monkeypatch):
    with app.app_context():
        assert is_working_day(date(2026, 12, 1))  # loads and caches 2026
        db.session.execute(text("INSERT INTO calendar_overrides (date, kind, reason, created_at) "
                                "VALUES ('2026-12-01', 'day_off', 'Từ tiến trình khác', '2026-11-24 00:00:00')"))
        db.session.commit()
        assert is_working_day(date(2026, 12, 1))  # another process's change: not seen within the TTL
        monkeypatch.setattr(calendar, "OVERRIDE_TTL", 0.0)
        assert not is_working_day(date(2026, 12, 1))  # seen once the TTL has passed


def test_properties_hold_with_overrides(app):
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from app.worktime import add_working_hours

    runner = app.test_cli_runner()
    for day, kind in (("2026-12-01", "day_off"), ("2026-12-02", "day_off"), ("2026-12-05", "working_day"),
                      ("2027-01-02", "working_day"), ("2026-12-31", "day_off")):
        assert runner.invoke(args=["calendar", "add", day, "--kind", kind, "--reason", "Kiểm thử"]).exit_code == 0
    off = {date(2026, 12, 1), date(2026, 12, 2), date(2026, 12, 31)}

    @settings(max_examples=60, deadline=None)
    @given(st.datetimes(min_value=datetime(2026, 11, 20), max_value=datetime(2027, 1, 10)).map(
        lambda d: d.replace(tzinfo=VN_TZ)), st.integers(min_value=1, max_value=60),
        st.integers(min_value=1, max_value=60))
    def check(start, a, b):
        end = add_working_hours(start, a).astimezone(VN_TZ)
        assert end.date() not in off and is_working_day(end.date())
        assert add_working_hours(end, b) == add_working_hours(start, a + b)
        assert working_hours_between(start, end) == a

    with app.app_context():
        check()
