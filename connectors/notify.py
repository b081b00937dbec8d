"""Notifications to citizens: SMS (an HTTP gateway, `connectors/contracts/sms.yaml`) and e-mail (SMTP).

`sms` — settings `url` (gateway base URL), `token` (bearer token), `timeout` (default 10).
Operation `send`, payload `to` (Vietnamese number, `0…` or `+84…`; spaces, dots and dashes are removed),
`text`, optional `ref` (our reference; defaults to the idempotency key). Answers `{id, status: "queued"}`.

`email` — settings `host`, `port` (default 25), `sender` (From, e.g. `"Một cửa <motcua@example.gov.vn>"`),
optional `username`/`password` (SMTP AUTH), `starttls` (bool), `timeout` (default 10).
Operation `send`, payload `to` (an address or a list), `subject`, `text`, optional `html`.
The message is UTF-8; its `Message-ID` is derived from the idempotency key (`message_id_for(key, sender)`), so a
resent duplicate carries the same id. SMTP 4xx, connection errors and timeouts → `TransientError`; 5xx →
`PermanentError`. Answers `{message_id, to: [...], refused: {...}}`.
"""

from __future__ import annotations

import hashlib
import re
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, getaddresses
from typing import Any

from connectors.base import Connector, PermanentError, TransientError, http_call, json_of, register

_SAFE_KEY = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")


@register
class SmsConnector(Connector):
    name = "sms"
    operations = ("send",)

    def send(self, operation: str, payload: dict[str, Any], key: str) -> dict[str, Any]:
        self.check_operation(operation)
        base = str(self.settings.get("url") or "").rstrip("/")
        if not base:
            raise PermanentError("Chưa cấu hình địa chỉ cổng SMS (sms.url).")
        to = re.sub(r"[\s.\-()]", "", str(payload.get("to") or ""))
        text = str(payload.get("text") or "")
        if not to or not text:
            raise PermanentError("Tin nhắn SMS thiếu số điện thoại (to) hoặc nội dung (text).")
        resp = http_call("POST", f"{base}/api/v1/sms", key=key, timeout=float(self.settings.get("timeout") or 10.0),
                         headers={"Authorization": f"Bearer {self.settings.get('token') or ''}"},
                         json_body={"to": to, "text": text, "ref": str(payload.get("ref") or key)})
        return json_of(resp)


def message_id_for(key: str, sender: str = "") -> str:
    """`<key@domain>` when the key is a safe dot-atom (else its SHA-256 prefix); the domain is the sender's."""
    addrs = getaddresses([sender or ""])
    domain = addrs[0][1].rpartition("@")[2] if addrs and "@" in addrs[0][1] else "motcua.local"
    left = key if _SAFE_KEY.match(key or "") and len(key) <= 64 else hashlib.sha256(key.encode()).hexdigest()[:40]
    return f"<motcua.{left}@{domain}>"


def _smtp_error(exc: smtplib.SMTPException) -> Exception:
    code = getattr(exc, "smtp_code", None)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [c for c, _ in exc.recipients.values()]
        msg = "; ".join(f"{addr}: {c} {m.decode(errors='replace') if isinstance(m, bytes) else m}"
                        for addr, (c, m) in exc.recipients.items())
        if codes and all(400 <= c < 500 for c in codes):
            return TransientError(f"Máy chủ thư tạm từ chối người nhận: {msg}", status=codes[0])
        return PermanentError(f"Máy chủ thư từ chối người nhận: {msg}", status=codes[0] if codes else None)
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return TransientError(f"Máy chủ thư ngắt kết nối: {exc}")
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        msg = f"Máy chủ thư trả lời {code}: {text}"
        if code is not None and 400 <= code < 500:
            return TransientError(msg, status=code)
        return PermanentError(msg, status=code)
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return PermanentError(f"Máy chủ thư không hỗ trợ: {exc}")
    return TransientError(f"Lỗi gửi thư: {type(exc).__name__}: {exc}")


@register
class EmailConnector(Connector):
    name = "email"
    operations = ("send",)

    def build(self, payload: dict[str, Any], key: str) -> EmailMessage:
        sender = str(self.settings.get("sender") or "")
        if not sender:
            raise PermanentError("Chưa cấu hình địa chỉ gửi thư (email.sender).")
        to = payload.get("to")
        recipients = [to] if isinstance(to, str) else list(to or [])
        recipients = [str(r).strip() for r in recipients if str(r).strip()]
        if not recipients:
            raise PermanentError("Thư điện tử thiếu người nhận (to).")
        for r in recipients:
            if "@" not in r or any(c in r for c in "\r\n"):
                raise PermanentError(f"Địa chỉ thư không hợp lệ: {r!r}.")
        subject = str(payload.get("subject") or "")
        text = str(payload.get("text") or "")
        if not subject or not text:
            raise PermanentError("Thư điện tử thiếu tiêu đề (subject) hoặc nội dung (text).")
        msg = EmailMessage()
        msg["From"] = sender
        try:
            msg["To"] = ", ".join(recipients)
            msg["Subject"] = subject
        except (ValueError, IndexError) as exc:
            raise PermanentError(f"Tiêu đề thư không hợp lệ: {exc}") from exc
        msg["Date"] = formatdate(localtime=False, usegmt=True)
        msg["Message-ID"] = message_id_for(key, sender)
        msg.set_content(text, charset="utf-8")
        if payload.get("html"):
            msg.add_alternative(str(payload["html"]), subtype="html", charset="utf-8")
        return msg

    def send(self, operation: str, payload: dict[str, Any], key: str) -> dict[str, Any]:
        self.check_operation(operation)
        msg = self.build(payload, key)
        host = str(self.settings.get("host") or "")
        if not host:
            raise PermanentError("Chưa cấu hình máy chủ thư (email.host).")
        port = int(self.settings.get("port") or 25)
        timeout = float(self.settings.get("timeout") or 10.0)
        try:
            with smtplib.SMTP(host, port, timeout=timeout) as smtp:
                if self.settings.get("starttls"):
                    smtp.starttls(context=ssl.create_default_context())
                if self.settings.get("username"):
                    smtp.login(str(self.settings["username"]), str(self.settings.get("password") or ""))
                refused = smtp.send_message(msg)
        except smtplib.SMTPException as exc:
            raise _smtp_error(exc) from exc
        except (OSError, TimeoutError) as exc:  # connection refused, reset, DNS, socket timeout
            raise TransientError(f"Không kết nối được máy chủ thư {host}:{port}: {type(exc).__name__}: {exc}") from exc
        return {
            "message_id": msg["Message-ID"],
            "to": [a.addr_spec for a in msg["To"].addresses] if hasattr(msg["To"], "addresses") else [msg["To"]],
            "refused": {addr: [c, m.decode(errors="replace") if isinstance(m, bytes) else str(m)]
                        for addr, (c, m) in (refused or {}).items()},
        }


__all__ = ["EmailConnector", "SmsConnector", "message_id_for"]
