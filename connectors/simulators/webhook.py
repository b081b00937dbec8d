"""A generic JSON partner: accepts POST /<anything>, answers {"id": n, "received": true}.

A repeated Idempotency-Key gets the first answer again and is counted in `duplicates`, not as a new call:
that is how a partner that honours idempotency behaves, and what the outbox's delivery tests rely on.
`GET /_sim/calls` lists every attempt (including repeats), `/_sim/received` the accepted ones.
"""

from __future__ import annotations

from flask import Flask, jsonify, request

from connectors.simulators import add_control


def create_app() -> Flask:
    app = Flask(__name__)
    state = add_control(app)

    @app.post("/", defaults={"path": ""})
    @app.post("/<path:path>")
    def receive(path: str):  # type: ignore[no-untyped-def]
        key = request.headers.get("Idempotency-Key", "")
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return jsonify(error="a JSON object is required"), 400
        with state.lock:
            calls = state.data.setdefault("calls", [])
            calls.append({"key": key, "path": "/" + path})
            seen = state.data.setdefault("by_key", {})
            if key and key in seen:
                state.data["duplicates"] = state.data.get("duplicates", 0) + 1
                return jsonify(seen[key])
            answer = {"id": len(state.received) + 1, "received": True}
            if key:
                seen[key] = answer
            state.record(key=key, path="/" + path, body=body)
        return jsonify(answer)

    @app.get("/_sim/calls")
    def calls():  # type: ignore[no-untyped-def]
        with state.lock:
            return jsonify(calls=list(state.data.get("calls", [])), duplicates=state.data.get("duplicates", 0))

    return app
