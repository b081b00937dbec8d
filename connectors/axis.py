"""Connector to the national document axis (see `connectors/contracts/axis.yaml`, `connectors/edxml.py`).

Settings: `url` (axis base URL), `agency_code` (ours, the sender), `key_pem`/`cert_pem` (PEM text or bytes) or
`key_file`/`cert_file` (paths), optional `token` (Bearer), optional `timeout` (seconds, default 10).

Outbox operations (`send(operation, payload, key)`):

- `send_document`: payload = `edxml.message_to_dict(Document)` (kind "document"); built, signed, POSTed.
  Returns `{"message_id", "document_id", "delivered_to"}`;
- `send_status`: payload = `edxml.message_to_dict(StatusMessage)` (kind "status"; `timestamp` may be omitted).
  Returns `{"message_id", "document_id", "status_code", "delivered_to"}`.

A payload that is not a valid message, or whose sender is not `agency_code`, is a PermanentError.

For the poller (not through the outbox): `fetch(limit) -> [{"id", "from", "received_at", "xml": bytes}]` and
`ack(message_id) -> None`. Verify what `fetch` returns with `edxml.receive(xml, ca_cert_pem)`.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote

from connectors import edxml
from connectors.base import Connector, PermanentError, http_call, json_of, register


def _pem(settings: dict[str, Any], inline: str, path: str) -> bytes:
    value = settings.get(inline)
    if value:
        return value.encode("ascii") if isinstance(value, str) else bytes(value)
    file = settings.get(path)
    if file:
        try:
            return Path(file).read_bytes()
        except OSError as exc:
            raise PermanentError(f"Không đọc được tệp '{file}' ({path}): {exc}") from None
    raise PermanentError(f"Thiếu cấu hình '{inline}' hoặc '{path}' cho kết nối trục văn bản.")


@register
class AxisConnector(Connector):
    name: ClassVar[str] = "axis"
    operations: ClassVar[tuple[str, ...]] = ("send_document", "send_status")

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        super().__init__(settings)
        self.url = str(self.settings.get("url") or "").rstrip("/")
        self.agency_code = str(self.settings.get("agency_code") or "")
        self.timeout = float(self.settings.get("timeout") or 10.0)

    # ------------------------------------------------------------------------------------------ plumbing

    def _check_config(self) -> None:
        if not self.url:
            raise PermanentError("Thiếu cấu hình 'url' cho kết nối trục văn bản.")
        if not edxml.AGENCY_RE.match(self.agency_code):
            raise PermanentError(f"Mã cơ quan '{self.agency_code}' của kết nối trục văn bản không hợp lệ.")

    def _headers(self, **extra: str) -> dict[str, str]:
        headers = {"X-Agency-Code": self.agency_code, **extra}
        token = self.settings.get("token")
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def _mailbox(self) -> str:
        return f"{self.url}/api/v1/mailboxes/{quote(self.agency_code, safe='')}/messages"

    def _signed(self, message: edxml.Message) -> bytes:
        key_pem = _pem(self.settings, "key_pem", "key_file")
        cert_pem = _pem(self.settings, "cert_pem", "cert_file")
        try:
            return edxml.sign(edxml.build(message), key_pem, cert_pem)
        except edxml.EdxmlError as exc:
            raise PermanentError(f"Không lập được thông điệp edXML: {exc.message}") from None
        except (ValueError, TypeError) as exc:  # unreadable key/certificate
            raise PermanentError(f"Không ký được thông điệp edXML: {exc}") from None

    def _post(self, xml: bytes, key: str) -> dict[str, Any]:
        resp = http_call("POST", f"{self.url}/api/v1/messages", key=key, content=xml,
                         headers=self._headers(**{"Content-Type": "application/xml"}), timeout=self.timeout)
        answer = json_of(resp)
        if not answer.get("message_id"):
            raise PermanentError(f"Trục văn bản trả lời thiếu message_id: {str(answer)[:200]}")
        return answer

    # ------------------------------------------------------------------------------------------ outbox

    def send(self, operation: str, payload: dict[str, Any], key: str) -> dict[str, Any]:
        self.check_operation(operation)
        self._check_config()
        expected_kind = "document" if operation == "send_document" else "status"
        if not isinstance(payload, dict):
            raise PermanentError("Dữ liệu gửi trục văn bản phải là một đối tượng JSON.")
        if payload.get("kind", expected_kind) != expected_kind:
            raise PermanentError(f"Thao tác '{operation}' cần thông điệp loại '{expected_kind}'.")
        try:
            message = edxml.message_from_dict({**payload, "kind": expected_kind})
        except edxml.EdxmlError as exc:
            raise PermanentError(f"Dữ liệu thông điệp edXML không hợp lệ: {exc.message}") from None
        if message.from_organ.organ_id != self.agency_code:
            raise PermanentError(f"Cơ quan gửi '{message.from_organ.organ_id}' khác mã cơ quan của kết nối "
                                 f"'{self.agency_code}'.")
        answer = self._post(self._signed(message), key)
        result = {"message_id": answer["message_id"], "document_id": message.document_id,
                  "delivered_to": list(answer.get("delivered_to") or [])}
        if isinstance(message, edxml.StatusMessage):
            result["status_code"] = message.status_code
        return result

    # ------------------------------------------------------------------------------------------ poller

    def fetch(self, limit: int = 50) -> list[dict[str, Any]]:
        """Pending messages of our mailbox, oldest first: `[{"id", "from", "received_at", "xml": bytes}]`.

        Raises TransientError/PermanentError like `send`. Nothing is verified here: use `edxml.receive`.
        """
        self._check_config()
        resp = http_call("GET", f"{self._mailbox()}?limit={int(limit)}", headers=self._headers(),
                         timeout=self.timeout)
        answer = json_of(resp)
        items = answer.get("messages")
        if not isinstance(items, list):
            raise PermanentError("Trục văn bản trả lời thiếu danh sách 'messages'.")
        result = []
        for item in items:
            try:
                xml = base64.b64decode(item["xml_base64"], validate=True)
                result.append({"id": str(item["id"]), "from": item.get("from"), "received_at": item.get("received_at"),
                               "xml": xml})
            except (KeyError, TypeError, binascii.Error, ValueError) as exc:
                raise PermanentError(f"Thư trên trục văn bản không đọc được: {exc}") from None
        return result

    def ack(self, message_id: str) -> None:
        """Remove a message from our mailbox (idempotent on the axis side)."""
        self._check_config()
        http_call("POST", f"{self._mailbox()}/{quote(str(message_id), safe='')}/ack", headers=self._headers(),
                  timeout=self.timeout)
