"""Every procedure in workflows/ runs end to end through the API, along every scenario written for it.

Scenarios live in tests/workflows/scenarios/<bpmn stem>.json; each step names the user task expected next,
its lane, the data an official (or the applicant, for the applicant's lane) enters, and the national status
the dossier must have afterwards.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.auth.services import BUILTIN_ROLES
from app.common.text import fold
from app.seed import PROCEDURE_UNITS, UNITS

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = Path(__file__).resolve().parent / "scenarios"
WORKFLOWS = sorted((ROOT / "workflows").glob("*.bpmn"))
USER_PREFIX = {"reception": "tiepnhan", "specialist": "chuyenvien", "leader": "lanhdao"}


def lane_role(lane: str) -> str:
    for code, (name, _en, aliases) in BUILTIN_ROLES.items():
        if fold(lane) in {fold(code), fold(name), *map(fold, aliases)}:
            return code
    raise AssertionError(f"lane {lane!r} matches no built-in role")


def cases():
    for bpmn in WORKFLOWS:
        path = SCENARIOS / f"{bpmn.stem}.json"
        assert path.is_file(), f"no scenarios for {bpmn.name}"
        for scenario in json.loads(path.read_text(encoding="utf-8")):
            yield pytest.param(bpmn.stem, scenario, id=f"{bpmn.stem}:{scenario['name']}")


def test_every_workflow_has_scenarios():
    assert len(WORKFLOWS) >= 3
    for bpmn in WORKFLOWS:
        assert (SCENARIOS / f"{bpmn.stem}.json").is_file()
        assert (bpmn.with_suffix(".procedure.json")).is_file()


@pytest.mark.parametrize(("stem", "scenario"), list(cases()))
def test_scenario(client, auth, stem, scenario):
    meta = json.loads((ROOT / "workflows" / f"{stem}.procedure.json").read_text(encoding="utf-8"))
    unit_code = PROCEDURE_UNITS[stem]
    short = next(u["short"] for u in UNITS if u["code"] == unit_code)
    r = client.post("/api/v1/dossiers", json={
        "procedure": meta["code"], "channel": scenario.get("channel", "online"),
        "applicant": {"name": "Trần Thị Mai", "id_number": "040190001234", "phone": "0987654321",
                      "email": "mai@example.vn", "address": "Phường Trường Vinh, Nghệ An"},
        "data": scenario["submission"]})
    assert r.status_code == 201, r.get_json()
    created = r.get_json()
    code, secret = created["code"], created["tracking_secret"]
    assert code.startswith(unit_code + "-")

    for i, step in enumerate(scenario["steps"]):
        role = lane_role(step["lane"])
        where = f"step {i} ({step['task']})"
        if role == "applicant":
            tracking = client.get(f"/api/v1/tracking/{code}?secret={secret}").get_json()
            tasks = [t for t in tracking["tasks"]]
            assert len(tasks) == 1, where
            r = client.post(f"/api/v1/tracking/{code}/tasks/{tasks[0]['id']}/complete",
                            json={"secret": secret, "data": step["data"]})
            assert r.status_code == 200, (where, r.get_json())
            status = r.get_json()["status"]
        else:
            user = f"{USER_PREFIX[role]}.{short}"
            items = client.get("/api/v1/tasks?scope=available&limit=500", headers=auth(user)).get_json()["items"]
            mine = [t for t in items if t["dossier_code"] == code]
            assert [t["bpmn_id"] for t in mine] == [step["task"]], (where, mine)
            r = client.post(f"/api/v1/tasks/{mine[0]['id']}/complete", json={"data": step["data"]},
                            headers=auth(user))
            assert r.status_code == 200, (where, r.get_json())
            status = r.get_json()["status"]
        assert status == step["expect_status_after"], where

    tracking = client.get(f"/api/v1/tracking/{code}?secret={secret}").get_json()
    assert tracking["status"] == scenario["final_status"]
    assert tracking["tasks"] == []
    assert tracking["steps"][0]["name"] == "Nộp hồ sơ"
    reception = f"tiepnhan.{short}"
    detail = client.get(f"/api/v1/dossiers/{code}", headers=auth(reception)).get_json()
    assert detail["tasks"] == [], "a finished scenario leaves no open task"
    assert detail["history"][0]["action"] == "submit"
