"""A generic JSON webhook: POST the payload to a configured URL (settings `url`, optional `token`).

Designers can call any HTTP partner that accepts JSON from a BPMN service task (`webhook.post`), with
the outbox's retries and idempotency key. The payload's `path` (optional) is appended to the URL.
"""

from __future__ import annotations

from typing import Any

from connectors.base import Connector, PermanentError, http_call, json_of, register


@register
class WebhookConnector(Connector):
    name = "webhook"
    operations = ("post",)

    def send(self, operation: str, payload: dict[str, Any], key: str) -> dict[str, Any]:
        self.check_operation(operation)
        url = str(self.settings.get("url") or "").rstrip("/")
        if not url:
            raise PermanentError("Chưa cấu hình địa chỉ webhook.")
        body = dict(payload)
        path = str(body.pop("path", "") or "")
        if path and not path.startswith("/"):
            path = "/" + path
        headers = {"Authorization": f"Bearer {self.settings['token']}"} if self.settings.get("token") else {}
        resp = http_call("POST", url + path, key=key, json_body=body, headers=headers,
                         timeout=float(self.settings.get("timeout", 10)))
        return json_of(resp) if resp.content else {}
