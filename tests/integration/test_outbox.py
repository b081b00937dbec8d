"""The outbox against a real partner process (the webhook simulator): stored with the change, delivered
once, retried on transient errors, dead on permanent ones, ordered per key, safe with several workers and
after a crash."""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from app.common.types import utcnow
from app.extensions import db
from app.outbox import services
from app.outbox.models import DEAD, DONE, PENDING, SENDING, OutboxMessage
from tests.simulators import ROOT, start_simulator

LATER = timedelta(hours=2)  # "the partner was down for an hour, then back": the clock moved on


@pytest.fixture(scope="module")
def partner():
    sim = start_simulator("webhook")
    yield sim
    sim.stop()


@pytest.fixture
def wired(app, partner):
    """The app's webhook connector pointed at the simulator (restored afterwards)."""
    before = app.config["CONNECTORS"]
    app.config["CONNECTORS"] = copy.deepcopy(before)  # never mutate the shared default
    app.config["CONNECTORS"]["webhook"] = {"url": partner.url, "timeout": 1.5}
    partner.reset()
    yield partner
    app.config["CONNECTORS"] = before


def _calls(partner) -> dict:
    return httpx.get(f"{partner.url}/_sim/calls", timeout=5).json()


def _msg(msg_id: int) -> OutboxMessage:
    db.session.expire_all()
    msg = db.session.get(OutboxMessage, msg_id)
    assert msg is not None
    return msg


def _enqueue(n: int = 1, **kw) -> list[int]:
    ids = []
    for i in range(n):
        msg = services.enqueue("webhook", "post", {"path": "/hook", "n": i, "text": "Hồ sơ đã tiếp nhận"}, **kw)
        db.session.flush()
        ids.append(msg.id)
    db.session.commit()
    return ids


def test_nothing_is_stored_when_the_change_rolls_back(ctx, wired):
    services.enqueue("webhook", "post", {"n": 1})
    db.session.rollback()
    assert db.session.scalar(select(OutboxMessage.id)) is None
    assert services.deliver_due("w1") == {}
    assert wired.received() == []


def test_delivered_once_with_the_idempotency_key(ctx, wired):
    [msg_id] = _enqueue()
    assert services.deliver_due("w1") == {DONE: 1}
    msg = _msg(msg_id)
    assert msg.state == DONE and msg.attempts == 1 and msg.result == {"id": 1, "received": True}
    [got] = wired.received()
    assert got["key"] == msg.key and got["body"]["text"] == "Hồ sơ đã tiếp nhận"
    assert services.deliver_due("w1") == {}  # nothing left: never sent twice


def test_same_key_twice_is_one_message(ctx, wired):
    a = services.enqueue("webhook", "post", {"n": 1}, key="k-1")
    b = services.enqueue("webhook", "post", {"n": 2}, key="k-1")
    db.session.commit()
    c = services.enqueue("webhook", "post", {"n": 3}, key="k-1")
    assert a is b and c.id == a.id


def test_partner_down_for_an_hour_then_back(ctx, wired):
    ids = _enqueue(5)
    wired.faults(down=True)
    assert services.deliver_due("w1") == {PENDING: 5}
    first = _msg(ids[0])
    assert first.attempts == 1 and first.state == PENDING and "503" in first.last_error
    assert first.next_attempt_at > utcnow()  # backoff: not retried at once
    assert services.deliver_due("w1") == {}
    for step in range(1, 4):  # still down at a few later retries
        assert services.deliver_due("w1", now=utcnow() + timedelta(minutes=15 * step)) == {PENDING: 5}
    wired.faults(down=False)
    assert services.deliver_due("w1", now=utcnow() + LATER) == {DONE: 5}
    assert sorted(r["body"]["n"] for r in wired.received()) == [0, 1, 2, 3, 4]
    assert all(_msg(i).state == DONE and _msg(i).attempts == 5 for i in ids)


def test_500_is_retried_and_400_goes_dead(ctx, wired):
    [retry] = _enqueue()
    wired.faults(status=500, count=1)
    assert services.deliver_due("w1") == {PENDING: 1}
    assert _msg(retry).last_status == 500
    assert services.deliver_due("w1", now=utcnow() + LATER) == {DONE: 1}

    [dead] = _enqueue()
    wired.faults(status=400, count=1)
    assert services.deliver_due("w1") == {DEAD: 1}
    msg = _msg(dead)
    assert msg.state == DEAD and msg.last_status == 400 and msg.attempts == 1
    assert services.deliver_due("w1", now=utcnow() + LATER) == {}  # dead stays dead until an admin acts


def test_slow_partner_times_out_and_is_retried(ctx, wired):
    [msg_id] = _enqueue()
    wired.faults(delay_ms=2500)  # longer than the connector's 1.5 s timeout
    assert services.deliver_due("w1") == {PENDING: 1}
    assert "thời gian" in _msg(msg_id).last_error
    wired.faults(delay_ms=0)
    assert services.deliver_due("w1", now=utcnow() + LATER) == {DONE: 1}
    # the slow first attempt reached the partner too: the key made the retry a duplicate, not a new order
    time.sleep(1.2)
    assert len(wired.received()) == 1


def test_too_many_failures_go_dead_then_resend_and_mark_done(ctx, wired, app):
    [msg_id] = _enqueue(max_attempts=3)
    wired.faults(down=True)
    now = utcnow()
    for i in range(3):
        services.deliver_due("w1", now=now + timedelta(hours=i + 1))
    msg = _msg(msg_id)
    assert msg.state == DEAD and msg.attempts == 3
    wired.faults(down=False)
    services.resend(msg, "quantri.tinh")
    db.session.commit()
    assert services.deliver_due("w1") == {DONE: 1}
    [other] = _enqueue()
    services.mark_done(_msg(other), "quantri.tinh", "đã gửi bằng đường công văn")
    db.session.commit()
    assert services.deliver_due("w1") == {}
    assert _msg(other).resolved_by == "done:quantri.tinh"
    with pytest.raises(ValueError):
        services.resend(_msg(msg_id), "quantri.tinh")


def test_one_ordering_key_is_delivered_in_order(ctx, wired):
    first, second = _enqueue(2, ordering_key="portal:1")
    [free] = _enqueue(ordering_key="portal:2")
    wired.faults(status=500, count=1)
    counts = services.deliver_due("w1")
    # the first of "portal:1" failed; the second waits behind it; the other key went through
    assert _msg(first).state == PENDING and _msg(second).attempts == 0
    assert _msg(free).state == DONE or counts.get(PENDING) == 1
    while services.deliver_due("w1", now=utcnow() + LATER):
        pass
    assert _msg(first).sent_at <= _msg(second).sent_at
    keys = [r["key"] for r in wired.received() if r["body"]["n"] in (0, 1) and r["key"] != _msg(free).key]
    assert keys == [_msg(first).key, _msg(second).key]


def test_four_workers_deliver_each_message_once(app, wired):
    with app.app_context():
        ids = _enqueue(40)

    def work(name: str) -> None:
        with app.app_context():
            while services.deliver_due(name, limit=3):
                pass
            db.session.remove()

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    calls = _calls(wired)
    assert len(calls["calls"]) == 40 and calls["duplicates"] == 0
    with app.app_context():
        assert {_msg(i).state for i in ids} == {DONE}


def test_a_worker_killed_mid_delivery_is_redelivered_once(app, wired, database_url):
    """A real `flask outbox deliver` process is SIGKILLed while the partner is answering; after its
    claim expires another worker sends again with the same key and the partner keeps one."""
    with app.app_context():
        [msg_id] = _enqueue()
    wired.faults(delay_ms=3000)
    env = {**os.environ, "DATABASE_URL": database_url, "WEBHOOK_URL": wired.url, "SECRET_KEY": "test"}
    proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "outbox", "deliver"], cwd=ROOT,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 20
    while time.time() < deadline and not wired.arrivals():
        time.sleep(0.1)  # the partner has the request: kill the worker before it records the answer
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    wired.faults(delay_ms=0)
    with app.app_context():
        msg = _msg(msg_id)
        assert msg.state == SENDING and msg.attempts == 0  # claimed, outcome never recorded
        assert services.deliver_due("w2") == {}  # the claim still holds
        assert services.deliver_due("w2", now=utcnow() + timedelta(seconds=services.CLAIM_SECONDS + 1)) == {DONE: 1}
        assert _msg(msg_id).state == DONE
    time.sleep(3.2)  # let the killed worker's request finish on the partner's side
    calls = _calls(wired)
    assert len(calls["calls"]) == 2 and calls["duplicates"] == 1
    assert len(wired.received()) == 1


def test_the_scheduler_process_delivers_the_outbox(app, wired, database_url, tmp_path):
    """`flask jobs run` (what `make run` starts) runs the outbox workers beside the timers."""
    with app.app_context():
        ids = _enqueue(3)
    env = {**os.environ, "DATABASE_URL": database_url, "WEBHOOK_URL": wired.url, "SECRET_KEY": "test",
           "OUTBOX_POLL_SECONDS": "0.2"}
    log = (tmp_path / "jobs.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "jobs", "run", "--interval", "0.3"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 30
        while time.time() < deadline and len(wired.received()) < 3:
            time.sleep(0.2)
        assert len(wired.received()) == 3, (tmp_path / "jobs.log").read_text()
        with app.app_context():
            deadline = time.time() + 10
            while time.time() < deadline and {_msg(i).state for i in ids} != {DONE}:
                time.sleep(0.1)
            assert {_msg(i).state for i in ids} == {DONE}
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


def _login(app, username: str):
    c = app.test_client()
    r = c.post("/dang-nhap", data={"username": username, "password": "MotCua@2026"})
    assert r.status_code == 302
    return c


def test_admin_page_lists_failing_and_dead_and_acts(app, wired):
    with app.app_context():
        failing, dead = _enqueue(2)
        wired.faults(status=500, count=1)
        services.deliver_due("w1", limit=1)
        wired.faults(status=422, count=1)
        services.deliver_due("w1", limit=1)
        assert (_msg(failing).state, _msg(dead).state) == (PENDING, DEAD)
    admin = _login(app, "quantri.tinh")
    page = admin.get("/quan-tri/hop-thu-di/?xem=failing").get_data(as_text=True)
    assert f"#{failing}" in page and "HTTP 500" in page and f"#{dead}" not in page
    page = admin.get("/quan-tri/hop-thu-di/?xem=dead").get_data(as_text=True)
    assert f"#{dead}" in page and "422" in page and "Hỏng (cần xử lý) <span class=\"count\">(1)" in page
    detail = admin.get(f"/quan-tri/hop-thu-di/{dead}").get_data(as_text=True)
    assert "Idempotency-Key" in detail and "Hồ sơ đã tiếp nhận" in detail
    r = admin.post(f"/quan-tri/hop-thu-di/{dead}/gui-lai")
    assert r.status_code == 302
    with app.app_context():
        assert _msg(dead).state == PENDING and _msg(dead).resolved_by == "resend:quantri.tinh"
        assert services.deliver_due("w1") == {DONE: 1}  # the failing one waits for its backoff
    r = admin.post(f"/quan-tri/hop-thu-di/{failing}/da-xong", data={"ghi_chu": "đã gửi bằng công văn giấy"})
    assert r.status_code == 302
    with app.app_context():
        assert _msg(failing).state == DONE and _msg(failing).result["note"] == "đã gửi bằng công văn giấy"
    again = admin.post(f"/quan-tri/hop-thu-di/{failing}/da-xong", follow_redirects=True).get_data(as_text=True)
    assert "Thông điệp đã gửi xong." in again
    official = _login(app, "tiepnhan.tinh")
    assert official.get("/quan-tri/hop-thu-di/").status_code == 403
    assert official.post(f"/quan-tri/hop-thu-di/{dead}/gui-lai").status_code == 403
