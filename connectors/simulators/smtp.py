"""SMTP server simulator: an aiosmtpd server on 127.0.0.1 inside the simulator process, plus the Flask control app.

`create_app()` starts an aiosmtpd `Controller` (port from `SMTP_SIM_PORT`, else a free one) in a thread.
Received messages are kept decoded: `{mail_from, rcpt_tos, to, subject, text, html, message_id, at}`.

Control routes (besides `/_sim/faults`, `/_sim/received`, `/_sim/reset`, which apply to HTTP only):

- `GET /_sim/smtp` → `{"host": "127.0.0.1", "port": N}`: where to send mail;
- `GET /_sim/messages` → every message received;
- `POST /_sim/smtp/faults` `{"code": 451, "count": 1, "stage": "rcpt"|"data"}`: answer the next `count`
  recipients (or DATA commands) with that SMTP code (4xx temporary, 5xx permanent).

The SMTP server stops when the process exits (SIGTERM included).
"""

from __future__ import annotations

import atexit
import email
import os
import signal
import socket
import threading
import time
from email import policy
from email.message import EmailMessage
from typing import Any

from flask import Flask, jsonify, request

from connectors.simulators import SimState, add_control

HOST = "127.0.0.1"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _decode(raw: bytes) -> dict[str, Any]:
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    text_part = msg.get_body(preferencelist=("plain",))
    html_part = msg.get_body(preferencelist=("html",))
    return {
        "from": str(msg.get("From", "")),
        "to": str(msg.get("To", "")),
        "subject": str(msg.get("Subject", "")),
        "message_id": str(msg.get("Message-ID", "")),
        "text": text_part.get_content().replace("\r\n", "\n") if text_part is not None else "",
        "html": html_part.get_content().replace("\r\n", "\n") if html_part is not None else None,
    }


class Handler:
    def __init__(self, state: SimState) -> None:
        self.state = state

    def _fault(self, stage: str) -> str | None:
        with self.state.lock:
            f = self.state.data.get("smtp_fault")
            if f and f["count"] > 0 and f["stage"] == stage:
                f["count"] -= 1
                return f"{f['code']} Simulated {'temporary' if f['code'] < 500 else 'permanent'} failure"
        return None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]
        fault = self._fault("rcpt")
        if fault:
            return fault
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        fault = self._fault("data")
        if fault:
            return fault
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
        try:
            decoded = _decode(raw)
        except Exception as exc:  # a malformed message is refused, not crashed on
            return f"554 Cannot parse message: {exc}"
        entry = {"mail_from": envelope.mail_from, "rcpt_tos": list(envelope.rcpt_tos), **decoded, "at": time.time()}
        with self.state.lock:
            self.state.data.setdefault("messages", []).append(entry)
        return "250 Message accepted for delivery"


def create_app() -> Flask:
    from aiosmtpd.controller import Controller  # imported here: only the simulator process needs it

    app = Flask("smtp_sim")
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    state = add_control(app)
    port = int(os.environ.get("SMTP_SIM_PORT") or 0) or _free_port()
    controller = Controller(Handler(state), hostname=HOST, port=port, decode_data=False, enable_SMTPUTF8=True)
    controller.start()
    stopped = threading.Event()

    def stop() -> None:
        if not stopped.is_set():
            stopped.set()
            controller.stop()

    atexit.register(stop)
    if threading.current_thread() is threading.main_thread():
        def _term(signum, frame):  # type: ignore[no-untyped-def]
            raise KeyboardInterrupt  # the runner's serve_forever() returns; atexit stops the SMTP server

        signal.signal(signal.SIGTERM, _term)

    @app.get("/_sim/smtp")
    def smtp_address():  # type: ignore[no-untyped-def]
        return jsonify(host=HOST, port=port)

    @app.get("/_sim/messages")
    def messages():  # type: ignore[no-untyped-def]
        with state.lock:
            return jsonify(messages=list(state.data.get("messages", [])))

    @app.post("/_sim/smtp/faults")
    def smtp_faults():  # type: ignore[no-untyped-def]
        body = request.get_json(force=True, silent=True) or {}
        stage = body.get("stage", "rcpt")
        if stage not in ("rcpt", "data"):
            return jsonify(error="stage: rcpt or data"), 400
        with state.lock:
            state.data["smtp_fault"] = {"code": int(body.get("code", 451)), "count": int(body.get("count", 1)),
                                        "stage": stage}
        return jsonify(ok=True)

    return app
