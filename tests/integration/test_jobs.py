"""BPMN timers fired by the scheduler: boundary (interrupting, non-interrupting), intermediate, claims, restarts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from app.auth.models import User
from app.common.types import utcnow
from app.dossiers.models import AuditLog, Dossier
from app.dossiers.services import Actor, submit
from app.extensions import db
from app.inbox import services as inbox
from app.inbox.models import CANCELLED, OPEN, Task
from app.jobs import heartbeat, run_due
from app.jobs.models import CANCELLED as TIMER_CANCELLED
from app.jobs.models import FIRED, PENDING, Timer

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "timers"
UNIT = "000.00.00.H41"
APPLICANT = {"name": "Trần Thị Hẹn", "phone": "0912345678"}


@pytest.fixture(scope="module")
def procedures(app) -> tuple[str, str]:
    run = app.test_cli_runner().invoke
    for name in ("hen_gio.bpmn", "hen_gio_ngan.bpmn"):
        r = run(args=["workflows", "deploy", str(FIXTURES / name), "--forms", str(FIXTURES / "forms"), "--unit", UNIT])
        assert r.exit_code == 0, r.output
    return "9.999100", "9.999101"


def _submit(code: str) -> int:
    dossier, _secret = submit(code, "online", dict(APPLICANT), {"noi_dung": "Đề nghị thử nghiệm"})
    db.session.commit()
    return dossier.id


def _timers(dossier_id: int) -> dict[str, Timer]:
    db.session.expire_all()
    rows = db.session.scalars(select(Timer).where(Timer.dossier_id == dossier_id).order_by(Timer.id)).all()
    return {r.bpmn_id: r for r in rows}


def _tasks(dossier_id: int) -> dict[str, Task]:
    db.session.expire_all()
    return {t.bpmn_id: t for t in db.session.scalars(select(Task).where(Task.dossier_id == dossier_id))}


def _audits(dossier_id: int, action: str = "timer_fired") -> list[AuditLog]:
    return list(db.session.scalars(select(AuditLog).where(AuditLog.dossier_id == dossier_id,
                                                          AuditLog.action == action).order_by(AuditLog.id)))


def test_waiting_timers_become_rows(ctx, procedures):
    before = utcnow()
    dossier_id = _submit(procedures[0])
    timers = _timers(dossier_id)
    assert set(timers) == {"NhacViec", "QuaHan"}
    assert all(t.state == PENDING for t in timers.values())
    assert timedelta(minutes=29) < timers["NhacViec"].due_at - before < timedelta(minutes=31)
    assert timedelta(minutes=59) < timers["QuaHan"].due_at - before < timedelta(minutes=61)
    assert run_due(now=utcnow()) == []  # nothing due yet
    assert _tasks(dossier_id)["TiepNhan"].state == OPEN


def test_reminder_fires_and_task_stays(ctx, procedures):
    dossier_id = _submit(procedures[0])
    fired = run_due(now=utcnow() + timedelta(minutes=31))
    assert fired == [(dossier_id, "NhacViec")]
    timers = _timers(dossier_id)
    assert timers["NhacViec"].state == FIRED and timers["QuaHan"].state == PENDING
    audits = _audits(dossier_id)
    assert [a.detail["timer"] for a in audits] == ["NhacViec"] and audits[0].actor_label == "system"
    tasks = _tasks(dossier_id)
    assert tasks["TiepNhan"].state == OPEN and "LanhDaoXuLy" not in tasks
    assert run_due(now=utcnow() + timedelta(minutes=32)) == []  # fired once only


def test_escalation_interrupts_the_task(ctx, procedures):
    dossier_id = _submit(procedures[0])
    fired = run_due(now=utcnow() + timedelta(minutes=61))
    assert sorted(b for _, b in fired) == ["NhacViec", "QuaHan"]
    timers = _timers(dossier_id)
    assert {b: t.state for b, t in timers.items()} == {"NhacViec": FIRED, "QuaHan": FIRED}
    tasks = _tasks(dossier_id)
    assert tasks["TiepNhan"].state == CANCELLED
    leader_task = tasks["LanhDaoXuLy"]
    assert leader_task.state == OPEN and leader_task.role.code == "leader"
    dossier = db.session.get(Dossier, dossier_id)
    from app.dossiers.services import load_instance

    instance, _ = load_instance(dossier)
    assert "QuaHan" in instance.progress()["completed"]
    assert sorted(a.detail["timer"] for a in _audits(dossier_id)) == ["NhacViec", "QuaHan"]


def test_completing_the_task_cancels_its_timers_and_arms_the_intermediate_one(ctx, procedures):
    dossier_id = _submit(procedures[0])
    user = db.session.scalar(select(User).where(User.username == "tiepnhan.tinh"))
    inbox.complete(_tasks(dossier_id)["TiepNhan"].id, {"ghi_chu": "xong"}, Actor(user))
    db.session.commit()
    timers = _timers(dossier_id)
    assert timers["NhacViec"].state == TIMER_CANCELLED and timers["QuaHan"].state == TIMER_CANCELLED
    assert timers["ChoKetQua"].state == PENDING
    assert run_due(now=utcnow() + timedelta(minutes=90)) == []  # the boundary timers are gone
    assert run_due(now=utcnow() + timedelta(hours=2, minutes=1)) == [(dossier_id, "ChoKetQua")]
    tasks = _tasks(dossier_id)
    assert tasks["TraKetQua"].state == OPEN and "LanhDaoXuLy" not in tasks
    assert _timers(dossier_id)["ChoKetQua"].state == FIRED


def test_two_concurrent_runs_fire_each_timer_once(app, ctx, procedures):
    ids = [_submit(procedures[0]) for _ in range(3)]
    db.session.remove()
    now = utcnow() + timedelta(minutes=61)
    results: list[list] = [[], []]
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def work(i: int) -> None:
        try:
            with app.app_context():
                barrier.wait()
                results[i] = run_due(now=now, worker=f"thread-{i}")
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    fired = sorted(results[0] + results[1])
    assert fired == sorted((d, b) for d in ids for b in ("NhacViec", "QuaHan"))
    for d in ids:
        assert len(_audits(d)) == 2
        tasks = _tasks(d)
        assert tasks["TiepNhan"].state == CANCELLED and tasks["LanhDaoXuLy"].state == OPEN
        assert db.session.scalar(select(func.count()).select_from(Task).where(
            Task.dossier_id == d, Task.bpmn_id == "LanhDaoXuLy")) == 1


def test_a_dead_claim_is_taken_over_and_a_live_one_is_not(ctx, procedures):
    dossier_id = _submit(procedures[0])
    now = utcnow() + timedelta(minutes=31)
    row = _timers(dossier_id)["NhacViec"]
    db.session.execute(update(Timer).where(Timer.id == row.id)
                       .values(claimed_by="otherhost:1", locked_until=now + timedelta(seconds=30), attempts=1))
    db.session.commit()
    assert run_due(now=now) == []  # claimed by a live scheduler
    db.session.execute(update(Timer).where(Timer.id == row.id).values(locked_until=now - timedelta(seconds=1)))
    db.session.commit()
    assert run_due(now=now) == [(dossier_id, "NhacViec")]  # its process died: the claim expired
    row = _timers(dossier_id)["NhacViec"]
    assert row.state == FIRED and row.attempts == 2


def test_a_timer_of_a_dossier_being_edited_is_retried_not_lost(ctx, procedures, monkeypatch):
    from app.common.errors import AppError
    from app.jobs import timers as timers_module

    dossier_id = _submit(procedures[0])
    now = utcnow() + timedelta(minutes=31)
    real = timers_module._lock_dossier

    def busy(_dossier_id):
        raise AppError("busy")

    monkeypatch.setattr(timers_module, "_lock_dossier", busy)
    assert run_due(now=now) == []
    row = _timers(dossier_id)["NhacViec"]
    assert row.state == PENDING and row.last_error and row.locked_until > now
    monkeypatch.setattr(timers_module, "_lock_dossier", real)
    assert run_due(now=row.locked_until + timedelta(seconds=1)) == [(dossier_id, "NhacViec")]


def _start_scheduler(database_url: str, log: Path) -> subprocess.Popen:
    env = dict(os.environ, DATABASE_URL=database_url, PYTHONUNBUFFERED="1")
    env.pop("FLASK_APP", None)
    with log.open("ab") as out:  # the child keeps its own descriptor
        return subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "jobs", "run", "--interval", "0.3"],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def _wait_for(check, seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def test_scheduler_process_survives_sigkill(ctx, procedures, database_url, tmp_path):
    dossier_id = _submit(procedures[1])
    assert set(_timers(dossier_id)) == {"ChoLan1"}
    log = tmp_path / "jobs.log"
    proc = _start_scheduler(database_url, log)
    try:
        assert _wait_for(lambda: _timers(dossier_id).get("ChoLan1") is not None
                         and _timers(dossier_id)["ChoLan1"].state == FIRED), log.read_text()
        beat = heartbeat()
        assert beat is not None and beat["age_seconds"] < 10
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    db.session.remove()
    second = _timers(dossier_id)["ChoLan2"]
    assert second.state == PENDING or second.state == FIRED
    proc = _start_scheduler(database_url, log)
    try:
        assert _wait_for(lambda: "XuLyNgan" in _tasks(dossier_id)), log.read_text()
        assert _timers(dossier_id)["ChoLan2"].state == FIRED
        assert [a.detail["timer"] for a in _audits(dossier_id)] == ["ChoLan1", "ChoLan2"]
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def test_only_one_scheduler_leads(app, ctx):
    from app.jobs.models import SchedulerHeartbeat
    from app.jobs.scheduler import Leader

    db.session.execute(update(SchedulerHeartbeat).values(holder=None))
    db.session.commit()
    first, second = Leader(app, "host-a:1", 30), Leader(app, "host-b:2", 30)
    try:
        assert first.beat() is True
        assert second.beat() is False  # idles while the first one beats
        assert first.beat() is True
        beat = heartbeat()
        assert beat is not None and beat["holder"] == "host-a:1" and beat["age_seconds"] < 5
        if db.engine.dialect.name == "sqlite":  # a stale beat is taken over
            db.session.execute(update(SchedulerHeartbeat).values(beat_at=utcnow() - timedelta(minutes=5)))
            db.session.commit()
            assert second.beat() is True
            assert first.beat() is False
            second.resign()
            assert first.beat() is True
        first.resign()
        assert second.beat() is True
        assert heartbeat()["holder"] == "host-b:2"
    finally:
        first.resign()
        second.resign()
