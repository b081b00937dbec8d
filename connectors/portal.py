"""National public-service portal (Cổng Dịch vụ công quốc gia) sync client: `connectors/contracts/portal.yaml`.

Settings: `url` (base URL), `api_key` (sent as `X-Api-Key`), `timeout` (seconds, default 10).

Operations; the payload is ONE portal-shaped object, the connector wraps it as `{"data": [payload]}`:

- `sync_dossier` → `POST /api/v1/DongBoHoSoMC`: MaHoSo, MaTTHC, TenTTHC, KenhThucHien, ChuHoSo, LoaiDoiTuong,
  NgayTiepNhan, NgayHenTra, TrangThaiHoSo, NgayTra, HinhThuc, DonViXuLy, TaiLieuNop, DanhSachBoSung;
- `update_progress` → `POST /api/v1/CapNhatTienDoHoSoMC`: MaHoSo, NguoiXuLy, ChucDanh, ThoiDiemXuLy,
  PhongBanXuLy, NoiDungXuLy, TrangThai, NgayBatDau, NgayKetThucTheoQuyDinh.

The portal answers HTTP 200 `{"error_code": "0", "message": ...}` on success (returned as is). A non-zero
`error_code` is a refusal → `PermanentError` with the portal's message, except the codes the contract marks
temporary (`TEMPORARY_CODES`: "4" dossier not synced yet, "99" portal busy) → `TransientError`.

Dates are `yyyyMMddHHmmss` in Asia/Ho_Chi_Minh: `portal_datetime(dt_utc)` and `parse_portal_datetime(text)`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from connectors.base import Connector, PermanentError, TransientError, http_call, json_of, register

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
PORTAL_FORMAT = "%Y%m%d%H%M%S"
ENDPOINTS = {"sync_dossier": "/api/v1/DongBoHoSoMC", "update_progress": "/api/v1/CapNhatTienDoHoSoMC"}
TEMPORARY_CODES = frozenset({"4", "99"})


def portal_datetime(dt_utc: dt.datetime) -> str:
    """A UTC datetime (naive = UTC; aware is converted) as `yyyyMMddHHmmss` Vietnam time."""
    if dt_utc.tzinfo is None:
        dt_utc = dt_utc.replace(tzinfo=dt.UTC)
    return dt_utc.astimezone(VN_TZ).strftime(PORTAL_FORMAT)


def parse_portal_datetime(text: str) -> dt.datetime:
    """`yyyyMMddHHmmss` (Vietnam time) → an aware datetime in UTC. Raises ValueError when malformed."""
    value = (text or "").strip()
    if len(value) != 14 or not value.isdigit():
        raise ValueError(f"not a portal date (yyyyMMddHHmmss): {text!r}")
    local = dt.datetime.strptime(value, PORTAL_FORMAT).replace(tzinfo=VN_TZ)
    return local.astimezone(dt.UTC)


@register
class PortalConnector(Connector):
    name = "portal"
    operations = ("sync_dossier", "update_progress")

    def send(self, operation: str, payload: dict[str, Any], key: str) -> dict[str, Any]:
        self.check_operation(operation)
        base = str(self.settings.get("url") or "").rstrip("/")
        if not base:
            raise PermanentError("Chưa cấu hình địa chỉ Cổng Dịch vụ công (portal.url).")
        if not isinstance(payload, dict) or not payload.get("MaHoSo"):
            raise PermanentError("Dữ liệu gửi Cổng Dịch vụ công thiếu MaHoSo.")
        resp = http_call("POST", base + ENDPOINTS[operation], key=key, json_body={"data": [payload]},
                         headers={"X-Api-Key": str(self.settings.get("api_key") or "")},
                         timeout=float(self.settings.get("timeout") or 10.0))
        reply = json_of(resp)
        code = str(reply.get("error_code", "")).strip()
        if code == "0":
            return reply
        message = str(reply.get("message") or "không rõ lý do")
        text = f"Cổng Dịch vụ công từ chối (mã {code or '?'}): {message}"
        if code in TEMPORARY_CODES:
            raise TransientError(text)
        raise PermanentError(text)
