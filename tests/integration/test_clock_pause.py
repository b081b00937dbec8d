"""A supplement pauses the deadline clock; supplying the papers moves the due date by the paused working time."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from app.common.timefmt import VN_TZ
from app.dossiers.models import AuditLog, Dossier
from app.extensions import db
from app.worktime import shift_by_working_hours, working_hours_between

SCENARIOS = Path(__file__).resolve().parents[1] / "workflows" / "scenarios" / "cap_phep_xay_dung_nha_o.json"


def complete(client, auth, user, code, data):
    items = client.get("/api/v1/tasks?limit=500", headers=auth(user)).get_json()["items"]
    task = next(t for t in items if t["dossier_code"] == code)
    r = client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": data}, headers=auth(user))
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_supplement_pauses_and_resumes_the_clock(app, client, auth):
    scenario = next(s for s in json.loads(SCENARIOS.read_text(encoding="utf-8")) if "hai lần" in s["name"])
    r = client.post("/api/v1/dossiers", json={"procedure": "1.009994", "applicant": {
        "name": "Hồ Văn Tư", "phone": "0912000333"}, "data": scenario["submission"]})
    code, secret = r.get_json()["code"], r.get_json()["tracking_secret"]
    steps = scenario["steps"]
    assert complete(client, auth, "tiepnhan.tinh", code, steps[0]["data"])["status"] == 4
    assert complete(client, auth, "chuyenvien.tinh", code, steps[1]["data"])["status"] == 5

    # the supplement was asked on Thursday 19/11/2026 at 09:00 (Vietnam time), days before the papers arrive
    paused_at = datetime(2026, 11, 19, 9, 0, tzinfo=VN_TZ)
    with app.app_context():
        d = db.session.scalar(select(Dossier).where(Dossier.code == code))
        assert d.clock_paused_at is not None
        d.clock_paused_at = paused_at
        due_before = d.due_at
        db.session.commit()

    task = client.get(f"/api/v1/tracking/{code}?secret={secret}").get_json()["tasks"][0]
    r = client.post(f"/api/v1/tracking/{code}/tasks/{task['id']}/complete",
                    json={"secret": secret, "data": steps[2]["data"]})
    assert r.status_code == 200 and r.get_json()["status"] == 4, r.get_json()

    with app.app_context():
        d = db.session.scalar(select(Dossier).where(Dossier.code == code))
        resumed = db.session.scalar(select(AuditLog).where(AuditLog.dossier_id == d.id, AuditLog.from_status == 5,
                                                           AuditLog.to_status == 4))
        paused = resumed.detail["paused_working_hours"]
        # the pause counted office time only, from the request to now
        assert abs(paused - working_hours_between(paused_at, resumed.at)) < 0.01
        assert paused >= 14  # at least the rest of Thursday 19/11 and the whole of Friday 20/11
        assert d.due_at == shift_by_working_hours(due_before, paused)
        assert d.due_at - due_before >= timedelta(days=1)
        assert d.clock_paused_at is None
