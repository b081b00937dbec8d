"""Partner simulators: small Flask apps run as separate processes (`python -m connectors.simulators NAME`).

Each module `connectors/simulators/<name>.py` exposes `create_app() -> Flask` and calls `add_control(app)`,
which gives every simulator the same control surface for tests and demos:

- `POST /_sim/faults` `{"status": 500, "count": 3}` answer the next 3 partner calls with HTTP 500;
  `{"delay_ms": 2000}` answer slowly; `{"down": true}` refuse everything with 503 until `{"down": false}`;
- `GET /_sim/received` every partner call accepted so far (method, path, headers that matter, JSON body);
- `GET /_sim/arrivals` how many partner requests arrived (counted before faults and delays apply);
- `POST /_sim/reset` forget calls and faults.

Faults apply to partner routes only, never to `/_sim/*`. State lives in memory: one process, threads.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from flask import Flask, jsonify, request


class SimState:
    """Faults and the record of accepted calls, shared by a simulator's threads."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.fail_status = 500
            self.fail_count = 0
            self.delay_ms = 0
            self.down = False
            self.received: list[dict[str, Any]] = []
            self.arrivals = 0  # partner requests that reached the server, before any fault or delay
            self.data: dict[str, Any] = {}  # the simulator's own state (orders, mailboxes, …)

    def record(self, **entry: Any) -> None:
        with self.lock:
            entry.setdefault("at", time.time())
            self.received.append(entry)


def add_control(app: Flask) -> SimState:
    state = SimState()
    app.extensions["sim_state"] = state

    @app.before_request
    def _faults():  # type: ignore[no-untyped-def]
        if request.path.startswith("/_sim/"):
            return None
        with state.lock:
            state.arrivals += 1
            delay, down = state.delay_ms, state.down
            fail = state.fail_count > 0
            if fail:
                state.fail_count -= 1
            status = state.fail_status
        if delay:
            time.sleep(delay / 1000)
        if down:
            return jsonify(error="simulated outage"), 503
        if fail:
            return jsonify(error=f"simulated failure {status}"), status
        return None

    @app.post("/_sim/faults")
    def _set_faults():  # type: ignore[no-untyped-def]
        body = request.get_json(force=True, silent=True) or {}
        with state.lock:
            if "status" in body:
                state.fail_status = int(body["status"])
            if "count" in body:
                state.fail_count = int(body["count"])
            if "delay_ms" in body:
                state.delay_ms = int(body["delay_ms"])
            if "down" in body:
                state.down = bool(body["down"])
        return jsonify(ok=True)

    @app.get("/_sim/received")
    def _received():  # type: ignore[no-untyped-def]
        with state.lock:
            return jsonify(received=list(state.received))

    @app.get("/_sim/arrivals")
    def _arrivals():  # type: ignore[no-untyped-def]
        with state.lock:
            return jsonify(arrivals=state.arrivals)

    @app.post("/_sim/reset")
    def _reset():  # type: ignore[no-untyped-def]
        state.reset()
        return jsonify(ok=True)

    @app.get("/_sim/health")
    def _health():  # type: ignore[no-untyped-def]
        return jsonify(ok=True)

    return state
