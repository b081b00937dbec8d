"""Online payment of fees and charges (PayGov-like gateway): our contract, `connectors/contracts/payment.yaml`.

Settings: `url` (the gateway's base URL, e.g. `http://127.0.0.1:8106`), `merchant_code`, `secret` (the merchant's
shared secret for check values), `timeout` (seconds, default 5: the citizen waits for the answer).

Operations (payload keys), also available as methods:

- `create`: `reference` (our order id, unique per attempt), `dossier_code`, `amount` (whole đồng), `description`,
  `return_url`, `notify_url`, optional `created` (a datetime). Answers
  `{responseCode, merchantCode, orderId, transactionId, amount, paymentUrl, checkValue}`.
- `query`: `reference`. Answers the result fields `{merchantCode, orderId, transactionId, dossierCode, amount,
  status, responseCode, payDate, message, checkValue}`.

Every message carries a **check value**: the lower-case hex HMAC-SHA256, keyed with the merchant secret, of the
string `name=value&name=value…` over every field of the message except `checkValue` itself, sorted by field name
(byte order), values URL-encoded (UTF-8, RFC 3986, nothing kept: `quote(str(value), safe="")`); fields whose value
is null are left out. `check_value(fields, secret)` computes it, `verify(fields, value, secret)` checks it in
constant time. Answers whose check value does not match are refused (PermanentError).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from connectors.base import Connector, PermanentError, http_call, json_of, register

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
CHECK_FIELD = "checkValue"
#: payment states, the same on both sides
PENDING, PAID, FAILED, CANCELLED, EXPIRED = "pending", "paid", "failed", "cancelled", "expired"
STATES = (PENDING, PAID, FAILED, CANCELLED, EXPIRED)
STATE_LABELS = {PENDING: "Đang chờ thanh toán", PAID: "Đã thanh toán", FAILED: "Thanh toán không thành công",
                CANCELLED: "Đã hủy thanh toán", EXPIRED: "Hết hạn thanh toán"}
#: responseCode values
RESPONSE_CODES = {
    "00": "Thành công",
    "01": "Không tìm thấy giao dịch",
    "02": "Giao dịch đang chờ thanh toán",
    "04": "Số tiền không hợp lệ",
    "07": "Giao dịch bị từ chối",
    "09": "Người dùng hủy giao dịch",
    "11": "Giao dịch hết hạn",
    "94": "Trùng mã đơn hàng với nội dung khác",
    "97": "Sai giá trị kiểm tra (checkValue)",
    "99": "Lỗi khác",
}
#: the result code that goes with each final state
STATE_CODES = {PAID: "00", PENDING: "02", FAILED: "07", CANCELLED: "09", EXPIRED: "11"}
TIME_FORMAT = "%Y%m%d%H%M%S"


def signing_string(fields: Mapping[str, Any]) -> str:
    """`a=1&b=x%20y`: every field but `checkValue` (and nulls), sorted by name, values URL-encoded."""
    parts = []
    for name in sorted(k for k in fields if k != CHECK_FIELD and fields[k] is not None):
        value = fields[name]
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        parts.append(f"{name}={quote(text, safe='')}")
    return "&".join(parts)


def check_value(fields: Mapping[str, Any], secret: str) -> str:
    """The hex HMAC-SHA256 of `signing_string(fields)` keyed with the merchant secret."""
    return hmac.new(secret.encode("utf-8"), signing_string(fields).encode("utf-8"), hashlib.sha256).hexdigest()


def verify(fields: Mapping[str, Any], value: str | None, secret: str) -> bool:
    """True when `value` is the check value of `fields` (constant time); False without a secret or a value."""
    if not value or not secret or not isinstance(value, str):
        return False
    expected = check_value(fields, secret)
    return hmac.compare_digest(value.strip().lower().encode("ascii", "replace"), expected.encode("ascii"))


def signed(fields: Mapping[str, Any], secret: str) -> dict[str, Any]:
    """The fields with their `checkValue` added."""
    out = {k: v for k, v in fields.items() if k != CHECK_FIELD}
    out[CHECK_FIELD] = check_value(out, secret)
    return out


def vn_time(value: datetime | None = None) -> str:
    """`yyyyMMddHHmmss` in Asia/Ho_Chi_Minh."""
    return (value or datetime.now(VN_TZ)).astimezone(VN_TZ).strftime(TIME_FORMAT)


def parse_vn_time(text: Any) -> datetime | None:
    """`yyyyMMddHHmmss` (Asia/Ho_Chi_Minh) → an aware datetime; None when empty or malformed."""
    try:
        return datetime.strptime(str(text), TIME_FORMAT).replace(tzinfo=VN_TZ)
    except (TypeError, ValueError):
        return None


def whole_dong(value: Any) -> int:
    """A positive whole number of đồng (int or a string of digits), or PermanentError."""
    if isinstance(value, bool):
        raise PermanentError(f"Số tiền phải là số đồng nguyên dương: {value!r}.")
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or value <= 0:
        raise PermanentError(f"Số tiền phải là số đồng nguyên dương: {value!r}.")
    return value


@register
class PaymentConnector(Connector):
    name = "payment"
    operations = ("create", "query")

    @property
    def base(self) -> str:
        url = str(self.settings.get("url") or "").rstrip("/")
        if not url:
            raise PermanentError("Chưa cấu hình địa chỉ cổng thanh toán (payment.url).")
        return url

    @property
    def merchant(self) -> str:
        code = str(self.settings.get("merchant_code") or "").strip()
        if not code:
            raise PermanentError("Chưa cấu hình mã đơn vị thụ hưởng (payment.merchant_code).")
        return code

    @property
    def secret(self) -> str:
        secret = str(self.settings.get("secret") or "")
        if not secret:
            raise PermanentError("Chưa cấu hình khóa bí mật của cổng thanh toán (payment.secret).")
        return secret

    @property
    def timeout(self) -> float:
        return float(self.settings.get("timeout") or 5.0)

    def send(self, operation: str, payload: dict[str, Any], key: str) -> dict[str, Any]:
        self.check_operation(operation)
        if operation == "create":
            return self.create(reference=payload.get("reference"), dossier_code=payload.get("dossier_code"),
                               amount=payload.get("amount"), description=payload.get("description") or "",
                               return_url=payload.get("return_url"), notify_url=payload.get("notify_url"))
        return self.query(payload.get("reference"))

    def _post(self, path: str, body: dict[str, Any], key: str | None = None) -> dict[str, Any]:
        answer = json_of(http_call("POST", f"{self.base}{path}", key=key, json_body=body, timeout=self.timeout))
        if not verify(answer, answer.get(CHECK_FIELD), self.secret):
            raise PermanentError("Cổng thanh toán trả lời với giá trị kiểm tra (checkValue) không hợp lệ.")
        return answer

    def create(self, *, reference: Any, dossier_code: Any, amount: Any, description: str, return_url: Any,
               notify_url: Any, created: datetime | None = None) -> dict[str, Any]:
        """Register one payment attempt; answers the transaction id and the payment page URL."""
        ref = str(reference or "").strip()
        if not ref:
            raise PermanentError("Thiếu mã thanh toán (reference).")
        for name, value in (("return_url", return_url), ("notify_url", notify_url)):
            if not isinstance(value, str) or not value.startswith(("http://", "https://")):
                raise PermanentError(f"{name} phải là URL http(s).")
        body = signed({
            "merchantCode": self.merchant, "orderId": ref, "dossierCode": str(dossier_code or ""),
            "amount": whole_dong(amount), "orderInfo": str(description or "")[:255],
            "returnUrl": return_url, "notifyUrl": notify_url, "createDate": vn_time(created),
        }, self.secret)
        answer = self._post("/api/v1/payments", body, key=ref)
        if answer.get("responseCode") != "00" or not answer.get("transactionId") or not answer.get("paymentUrl"):
            raise PermanentError(f"Cổng thanh toán từ chối tạo giao dịch: {answer.get('message') or answer}.")
        if answer.get("orderId") != ref or int(answer.get("amount") or 0) != body["amount"]:
            raise PermanentError("Cổng thanh toán trả lời không khớp mã thanh toán hoặc số tiền.")
        return answer

    def query(self, reference: Any) -> dict[str, Any]:
        """The gateway's view of one attempt (status by order id)."""
        ref = str(reference or "").strip()
        if not ref:
            raise PermanentError("Thiếu mã thanh toán (reference).")
        body = signed({"merchantCode": self.merchant, "orderId": ref, "requestDate": vn_time()}, self.secret)
        answer = self._post("/api/v1/payments/query", body)
        if answer.get("orderId") != ref or answer.get("status") not in STATES:
            raise PermanentError(f"Cổng thanh toán trả lời truy vấn không hợp lệ: {answer}.")
        return answer
