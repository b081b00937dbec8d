"""Vietnam Post (BCCI, "dịch vụ bưu chính công ích") client: our own contract, `connectors/contracts/vnpost.yaml`.

Settings: `url` (base URL, e.g. `http://127.0.0.1:8081`), `client_id`, `client_secret`, `customer_code`,
`callback_url` (where the partner POSTs status callbacks; optional), `timeout` (seconds, default 10).

Operations (payload keys):

- `create_order`: `service` ("pickup": the citizen's dossier to the agency; "delivery": the result to the citizen),
  `order_number` (the dossier code), `cod_amount` (whole đồng, default 0), `sender`, `receiver` (dicts with
  `name`, `address`, `tel`, `email`, `province`, `ward`, optional `district`; the partner's capitalised keys
  `Name`, `Address`… are accepted too), `description`, optional `callback_url` (overrides the setting).
  Answers `{ItemCode, OrderNumber, statusCode, statusMessage}`; the same idempotency key gives the same waybill.
- `track_order`: `item_code`. Answers `{ItemCode, OrderNumber, statusCode, statusMessage, history: [...]}`.
- `cancel_order`: `item_code`, optional `reason`. Answers the order with `statusCode` 4.

The bearer token is fetched once per (url, client id) and cached in the process until shortly before it expires;
a 401 on an order route drops it and retries once with a fresh one.

Callbacks are verified with `verify_callback(raw_body, signature_header, secret)`.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from connectors.base import Connector, PermanentError, http_call, json_of, register

STATUS_LABELS: dict[int, str] = {
    0: "Không sử dụng dịch vụ bưu chính",
    1: "Đã đăng ký đơn hàng",
    2: "Bưu tá đang thu gom / vận chuyển",
    3: "Đã phát thành công",
    4: "Đã hủy đơn hàng",
    5: "Phát không thành công",
}
SERVICES = ("pickup", "delivery")
SIGNATURE_HEADER = "X-VNPost-Signature"
ADDRESS_FIELDS = ("Name", "Address", "Tel", "Email", "Province", "Ward", "District")
TOKEN_MARGIN = 30.0  # seconds: refresh a token this long (at most a tenth of its life) before it expires

_tokens: dict[tuple[str, str], tuple[str, float]] = {}
_tokens_lock = threading.Lock()


def verify_callback(raw_body: bytes, signature_header: str | None, secret: str) -> bool:
    """True when `signature_header` is `sha256=<hex HMAC-SHA256 of raw_body keyed with secret>` (constant time)."""
    if not signature_header or not secret:
        return False
    value = signature_header.strip()
    if not value.lower().startswith("sha256="):
        return False
    given = value[len("sha256="):].strip().lower()
    expected = hmac.new(secret.encode("utf-8"), raw_body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(given.encode("ascii", "replace"), expected.encode("ascii"))


def sign_body(raw_body: bytes, secret: str) -> str:
    """The header value the partner sends: `sha256=<hex>` (used by the simulator and by tests)."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), raw_body, hashlib.sha256).hexdigest()


def clear_token_cache() -> None:
    with _tokens_lock:
        _tokens.clear()


def _address(value: Any, which: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise PermanentError(f"Thiếu thông tin {which} cho đơn hàng bưu chính.")
    out: dict[str, str] = {}
    for field in ADDRESS_FIELDS:
        raw = value.get(field, value.get(field.lower()))
        if raw not in (None, ""):
            out[field] = str(raw)
    missing = [f for f in ("Name", "Address", "Tel", "Province", "Ward") if f not in out]
    if missing:
        raise PermanentError(f"Thông tin {which} thiếu: {', '.join(missing)}.")
    return out


def _cod(value: Any) -> int:
    """Whole đồng: an int, an integral float/Decimal or a string of digits; never negative."""
    if value in (None, ""):
        return 0
    amount: int | None = None
    if isinstance(value, bool):
        amount = None
    elif isinstance(value, int):
        amount = value
    elif isinstance(value, float | Decimal):
        try:
            amount = int(value) if value == int(value) else None
        except (OverflowError, ValueError, ArithmeticError):  # inf, nan
            amount = None
    elif isinstance(value, str) and value.strip().isdigit():
        amount = int(value.strip())
    if amount is None or amount < 0:
        raise PermanentError(f"Số tiền thu hộ (COD) phải là số đồng nguyên không âm: {value!r}.")
    return amount


@register
class VNPostConnector(Connector):
    name = "vnpost"
    operations = ("create_order", "cancel_order", "track_order")

    @property
    def base(self) -> str:
        url = str(self.settings.get("url") or "").rstrip("/")
        if not url:
            raise PermanentError("Chưa cấu hình địa chỉ dịch vụ Bưu điện (vnpost.url).")
        return url

    @property
    def timeout(self) -> float:
        return float(self.settings.get("timeout") or 10.0)

    # -- token -----------------------------------------------------------------------------------------------
    def _cache_key(self) -> tuple[str, str]:
        return (self.base, str(self.settings.get("client_id") or ""))

    def token(self, *, fresh: bool = False) -> str:
        ck = self._cache_key()
        with _tokens_lock:
            cached = _tokens.get(ck)
            if cached and not fresh and cached[1] > time.time():
                return cached[0]
            _tokens.pop(ck, None)
        resp = http_call("POST", f"{self.base}/api/v1/token", timeout=self.timeout, json_body={
            "client_id": self.settings.get("client_id") or "",
            "client_secret": self.settings.get("client_secret") or "",
        })
        body = json_of(resp)
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise PermanentError("Bưu điện không cấp mã truy cập (access_token).")
        try:
            expires_in = float(body.get("expires_in") or 300)
        except (TypeError, ValueError):
            expires_in = 300.0
        with _tokens_lock:  # keep it until shortly before the partner's expiry
            _tokens[ck] = (token, time.time() + expires_in - min(TOKEN_MARGIN, expires_in / 10))
        return token

    def _call(self, method: str, path: str, *, key: str | None, json_body: Any = None) -> dict[str, Any]:
        for attempt in (0, 1):
            token = self.token(fresh=attempt > 0)
            try:
                resp = http_call(method, f"{self.base}{path}", key=key, json_body=json_body, timeout=self.timeout,
                                 headers={"Authorization": f"Bearer {token}"})
            except PermanentError as exc:
                if exc.status == 401 and attempt == 0:
                    with _tokens_lock:
                        _tokens.pop(self._cache_key(), None)
                    continue
                raise
            return json_of(resp)
        raise AssertionError("unreachable")  # pragma: no cover

    # -- operations ------------------------------------------------------------------------------------------
    def send(self, operation: str, payload: dict[str, Any], key: str) -> dict[str, Any]:
        self.check_operation(operation)
        if operation == "create_order":
            return self._create(payload, key)
        item = str(payload.get("item_code") or payload.get("ItemCode") or "").strip()
        if not item:
            raise PermanentError("Thiếu mã vận đơn (item_code).")
        path = f"/api/v1/orders/{quote(item, safe='')}"
        if operation == "track_order":
            return self._call("GET", path, key=None)
        return self._call("POST", f"{path}/cancel", key=key, json_body={"Reason": str(payload.get("reason") or "")})

    def _create(self, payload: dict[str, Any], key: str) -> dict[str, Any]:
        service = payload.get("service")
        if service not in SERVICES:
            raise PermanentError(f"Dịch vụ bưu chính không hợp lệ: {service!r} (pickup hoặc delivery).")
        order_number = str(payload.get("order_number") or "").strip()
        if not order_number:
            raise PermanentError("Thiếu mã hồ sơ (order_number) cho đơn hàng bưu chính.")
        customer = str(self.settings.get("customer_code") or "").strip()
        if not customer:
            raise PermanentError("Chưa cấu hình mã khách hàng Bưu điện (vnpost.customer_code).")
        body: dict[str, Any] = {
            "CustomerCode": customer,
            "OrderNumber": order_number,
            "Service": service,
            "CODAmount": _cod(payload.get("cod_amount")),
            "Sender": _address(payload.get("sender"), "người gửi"),
            "Receiver": _address(payload.get("receiver"), "người nhận"),
            "Description": str(payload.get("description") or ""),
        }
        callback = payload.get("callback_url") or self.settings.get("callback_url")
        if callback:
            body["CallbackUrl"] = str(callback)
        return self._call("POST", "/api/v1/orders", key=key, json_body=body)
