"""National public-service portal simulator honouring `connectors/contracts/portal.yaml`.

Partner routes (header `X-Api-Key`): `POST /api/v1/DongBoHoSoMC`, `POST /api/v1/CapNhatTienDoHoSoMC`, both with
a body `{"data": [object, ...]}`. Shapes are validated strictly; the answer is HTTP 200
`{"error_code": "0", "message": ...}` or a refusal code (see ERRORS); a wrong API key is HTTP 401.
A repeated `Idempotency-Key` gets the first answer again and changes nothing.

Control routes (besides the common `/_sim/faults`, `/_sim/received`, `/_sim/reset`):

- `GET /_sim/dossiers/<MaHoSo>` → `{"dossier": latest synced object, "syncCount": n, "progress": [...]}` (404 if
  never synced; progress received for it is kept in order of arrival);
- `GET /_sim/dossiers` → every MaHoSo stored;
- `POST /_sim/busy` `{"count": n}`: the next n partner calls answer `error_code` "99" (temporary).

Environment: `PORTAL_SIM_API_KEY` (default `motcua-dev-portal-key`).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets
from typing import Any

from flask import Flask, jsonify, request

from connectors.simulators import add_control

DATE_RE = re.compile(r"^\d{14}$")
ERRORS = {
    "1": "Thiếu trường bắt buộc",
    "2": "Sai định dạng ngày (yyyyMMddHHmmss)",
    "3": "Giá trị không hợp lệ",
    "4": "Hồ sơ chưa được đồng bộ lên Cổng",
    "5": "Sai cấu trúc yêu cầu",
    "99": "Hệ thống Cổng đang bận, vui lòng thử lại sau",
}


class Refusal(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.message = f"{ERRORS[code]}: {detail}"


def _str(obj: dict[str, Any], field: str, where: str, *, required: bool = True) -> None:
    value = obj.get(field)
    if value is None or value == "":
        if required:
            raise Refusal("1", f"{where}{field}")
        return
    if not isinstance(value, str):
        raise Refusal("3", f"{where}{field} phải là chuỗi")


def _int(obj: dict[str, Any], field: str, where: str, allowed: range | tuple[int, ...]) -> None:
    value = obj.get(field)
    if value is None or value == "":
        raise Refusal("1", f"{where}{field}")
    if isinstance(value, bool) or not isinstance(value, int) or value not in allowed:
        raise Refusal("3", f"{where}{field} = {value!r} (cho phép {min(allowed)}–{max(allowed)})")


def _date(obj: dict[str, Any], field: str, where: str, *, required: bool = True) -> None:
    value = obj.get(field)
    if value is None or value == "":
        if required:
            raise Refusal("1", f"{where}{field}")
        return
    if not isinstance(value, str) or not DATE_RE.match(value):
        raise Refusal("2", f"{where}{field} = {value!r}")
    try:
        dt.datetime.strptime(value, "%Y%m%d%H%M%S")
    except ValueError:
        raise Refusal("2", f"{where}{field} = {value!r}") from None


def validate_dossier(d: Any, where: str = "") -> None:
    if not isinstance(d, dict):
        raise Refusal("5", f"{where}hồ sơ phải là đối tượng JSON")
    for field in ("MaHoSo", "MaTTHC", "TenTTHC", "ChuHoSo", "DonViXuLy"):
        _str(d, field, where)
    _int(d, "KenhThucHien", where, (1, 2, 3))
    _int(d, "LoaiDoiTuong", where, range(1, 5))
    _int(d, "TrangThaiHoSo", where, range(1, 11))
    _int(d, "HinhThuc", where, (0, 1))
    _date(d, "NgayTiepNhan", where)
    _date(d, "NgayHenTra", where)
    _date(d, "NgayTra", where, required=d.get("TrangThaiHoSo") == 10)
    for field in ("SoDienThoaiChuHoSo", "EmailChuHoSo", "DiaChiChuHoSo", "SoGiayToChuHoSo"):
        _str(d, field, where, required=False)
    docs = d.get("TaiLieuNop", [])
    if not isinstance(docs, list):
        raise Refusal("3", f"{where}TaiLieuNop phải là mảng")
    for i, doc in enumerate(docs):
        w = f"{where}TaiLieuNop[{i}]."
        if not isinstance(doc, dict):
            raise Refusal("3", f"{w[:-1]} phải là đối tượng")
        _str(doc, "TenTaiLieu", w)
        for field in ("MaThanhPhan", "TenTepDinhKem", "DuongDanTaiTep", "LoaiBan"):
            _str(doc, field, w, required=False)
        if "SoLuong" in doc and (isinstance(doc["SoLuong"], bool) or not isinstance(doc["SoLuong"], int)
                                 or doc["SoLuong"] < 0):
            raise Refusal("3", f"{w}SoLuong")
    sups = d.get("DanhSachBoSung", [])
    if not isinstance(sups, list):
        raise Refusal("3", f"{where}DanhSachBoSung phải là mảng")
    for i, sup in enumerate(sups):
        w = f"{where}DanhSachBoSung[{i}]."
        if not isinstance(sup, dict):
            raise Refusal("3", f"{w[:-1]} phải là đối tượng")
        _date(sup, "NgayYeuCau", w)
        _str(sup, "NoiDungYeuCau", w)
        _date(sup, "NgayBoSung", w, required=False)
        _date(sup, "NgayHenTraMoi", w, required=False)
        _str(sup, "NguoiYeuCau", w, required=False)


def validate_progress(p: Any, where: str = "") -> None:
    if not isinstance(p, dict):
        raise Refusal("5", f"{where}tiến độ phải là đối tượng JSON")
    for field in ("MaHoSo", "NguoiXuLy", "ChucDanh", "PhongBanXuLy", "NoiDungXuLy"):
        _str(p, field, where)
    _int(p, "TrangThai", where, range(1, 11))
    for field in ("ThoiDiemXuLy", "NgayBatDau", "NgayKetThucTheoQuyDinh"):
        _date(p, field, where)


def create_app() -> Flask:
    app = Flask("portal_sim")
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    state = add_control(app)
    api_key = os.environ.get("PORTAL_SIM_API_KEY", "motcua-dev-portal-key")

    def data() -> dict[str, Any]:
        d = state.data
        d.setdefault("dossiers", {})
        d.setdefault("keys", {})
        d.setdefault("busy", 0)
        return d

    def handle(kind: str):  # type: ignore[no-untyped-def]
        given = request.headers.get("X-Api-Key", "")
        if not secrets.compare_digest(given.encode(), api_key.encode()):
            return jsonify(error_code="401", message="Sai hoặc thiếu khóa truy cập X-Api-Key."), 401
        key = request.headers.get("Idempotency-Key")
        with state.lock:
            d = data()
            if key and (kind, key) in d["keys"]:
                return jsonify(d["keys"][(kind, key)])
            if d["busy"] > 0:
                d["busy"] -= 1
                return jsonify(error_code="99", message=ERRORS["99"])
        body = request.get_json(silent=True)
        try:
            if not isinstance(body, dict) or not isinstance(body.get("data"), list) or not body["data"]:
                raise Refusal("5", "cần {\"data\": [ ... ]} với ít nhất một phần tử")
            validate = validate_dossier if kind == "sync" else validate_progress
            for i, item in enumerate(body["data"]):
                validate(item, f"data[{i}].")
            with state.lock:
                d = data()
                if kind == "progress":
                    for item in body["data"]:
                        if item["MaHoSo"] not in d["dossiers"]:
                            raise Refusal("4", item["MaHoSo"])
                for item in body["data"]:
                    copy = json.loads(json.dumps(item))
                    if kind == "sync":
                        entry = d["dossiers"].setdefault(item["MaHoSo"], {"syncCount": 0, "progress": []})
                        entry["dossier"] = copy
                        entry["syncCount"] += 1
                    else:
                        d["dossiers"][item["MaHoSo"]]["progress"].append(copy)
                reply = {"error_code": "0", "message": f"Thành công: đã nhận {len(body['data'])} bản ghi."}
                if key:
                    d["keys"][(kind, key)] = reply
        except Refusal as exc:
            reply = {"error_code": exc.code, "message": exc.message}
            if exc.code == "4":
                return jsonify(reply)  # temporary: not remembered under the key
            with state.lock:
                if key:
                    data()["keys"][(kind, key)] = reply
            return jsonify(reply)
        state.record(method="POST", path=request.path, key=key, body=body)
        return jsonify(reply)

    @app.post("/api/v1/DongBoHoSoMC")
    def sync():  # type: ignore[no-untyped-def]
        return handle("sync")

    @app.post("/api/v1/CapNhatTienDoHoSoMC")
    def progress():  # type: ignore[no-untyped-def]
        return handle("progress")

    @app.get("/_sim/dossiers/<code>")
    def dossier(code: str):  # type: ignore[no-untyped-def]
        with state.lock:
            entry = data()["dossiers"].get(code)
            if entry is None:
                return jsonify(error=f"Không có hồ sơ {code}"), 404
            return jsonify(json.loads(json.dumps(entry)))

    @app.get("/_sim/dossiers")
    def dossiers():  # type: ignore[no-untyped-def]
        with state.lock:
            return jsonify(dossiers=sorted(data()["dossiers"]))

    @app.post("/_sim/busy")
    def busy():  # type: ignore[no-untyped-def]
        body = request.get_json(force=True, silent=True) or {}
        with state.lock:
            data()["busy"] = int(body.get("count", 1))
        return jsonify(ok=True)

    return app
