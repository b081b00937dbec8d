"""National public-service portal sync: the simulator as a real process and the `portal` connector."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from connectors import get
from connectors.base import PermanentError, TransientError
from connectors.portal import PortalConnector, parse_portal_datetime, portal_datetime
from tests.simulators import Simulator, start_simulator

CODE = "000.00.00.H41-251114-0007"


def _stop(simulator: Simulator) -> None:
    simulator.stop()
    if simulator.proc.stdout is not None:
        simulator.proc.stdout.close()


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    simulator = start_simulator("portal", env={"PORTAL_SIM_API_KEY": "portal-test-key"})
    try:
        yield simulator
    finally:
        _stop(simulator)


@pytest.fixture
def portal(sim: Simulator) -> Simulator:
    sim.reset()
    return sim


def connector(sim: Simulator, **extra: Any) -> PortalConnector:
    return get("portal", {"url": sim.url, "api_key": "portal-test-key", "timeout": 5, **extra})  # type: ignore[return-value]


def dossier(**over: Any) -> dict[str, Any]:
    received = dt.datetime(2025, 11, 14, 2, 30, tzinfo=dt.UTC)
    return {
        "MaHoSo": CODE, "MaTTHC": "1.001612", "TenTTHC": "Đăng ký thành lập hộ kinh doanh", "KenhThucHien": 2,
        "ChuHoSo": "Nguyễn Thị Hồng Nhung", "LoaiDoiTuong": 1, "NgayTiepNhan": portal_datetime(received),
        "NgayHenTra": portal_datetime(received + dt.timedelta(days=5)), "TrangThaiHoSo": 2, "NgayTra": "",
        "HinhThuc": 1, "DonViXuLy": "Trung tâm Phục vụ hành chính công tỉnh Nghệ An",
        "TaiLieuNop": [{"TenTaiLieu": "Giấy đề nghị đăng ký hộ kinh doanh", "SoLuong": 1, "LoaiBan": "ban_chinh"}],
        "DanhSachBoSung": [],
        **over,
    }


def progress(**over: Any) -> dict[str, Any]:
    return {"MaHoSo": CODE, "NguoiXuLy": "Trần Văn Đức", "ChucDanh": "Chuyên viên",
            "ThoiDiemXuLy": "20251114103000", "PhongBanXuLy": "Phòng Tài chính – Kế hoạch",
            "NoiDungXuLy": "Thẩm định hồ sơ", "TrangThai": 4, "NgayBatDau": "20251114093000",
            "NgayKetThucTheoQuyDinh": "20251119170000", **over}


def stored(sim: Simulator, code: str = CODE) -> httpx.Response:
    return httpx.get(f"{sim.url}/_sim/dossiers/{code}", timeout=5)


def test_portal_datetime_is_vietnam_time() -> None:
    utc = dt.datetime(2025, 12, 31, 17, 5, 9, tzinfo=dt.UTC)
    assert portal_datetime(utc) == "20260101000509"
    assert portal_datetime(utc.replace(tzinfo=None)) == "20260101000509"  # naive means UTC
    assert portal_datetime(utc.astimezone(dt.timezone(dt.timedelta(hours=-5)))) == "20260101000509"
    assert parse_portal_datetime("20260101000509") == utc
    assert parse_portal_datetime("20260101000509").tzinfo is not None
    for bad in ("2026-01-01 00:05:09", "2026010100050", "20261301000000", ""):
        with pytest.raises(ValueError):
            parse_portal_datetime(bad)


def test_sync_then_progress_are_stored(portal: Simulator) -> None:
    c = connector(portal)
    reply = c.send("sync_dossier", dossier(), "sync-1")
    assert reply["error_code"] == "0"
    assert c.send("update_progress", progress(), "prog-1")["error_code"] == "0"
    assert c.send("update_progress", progress(TrangThai=9, NoiDungXuLy="Trình ký"), "prog-2")["error_code"] == "0"
    c.send("sync_dossier", dossier(TrangThaiHoSo=9), "sync-2")

    entry = stored(portal).json()
    assert entry["syncCount"] == 2 and entry["dossier"]["TrangThaiHoSo"] == 9  # latest wins
    assert entry["dossier"]["TenTTHC"] == "Đăng ký thành lập hộ kinh doanh"
    assert entry["dossier"]["NgayTiepNhan"] == "20251114093000"
    assert [p["NoiDungXuLy"] for p in entry["progress"]] == ["Thẩm định hồ sơ", "Trình ký"]
    assert entry["progress"][0]["PhongBanXuLy"] == "Phòng Tài chính – Kế hoạch"

    received = portal.received()
    assert received[0]["path"] == "/api/v1/DongBoHoSoMC" and received[0]["key"] == "sync-1"
    assert received[0]["body"] == {"data": [dossier()]}


def test_same_key_is_deduplicated(portal: Simulator) -> None:
    c = connector(portal)
    c.send("sync_dossier", dossier(), "sync-1")
    c.send("update_progress", progress(), "prog-1")
    assert c.send("sync_dossier", dossier(), "sync-1")["error_code"] == "0"
    assert c.send("update_progress", progress(), "prog-1")["error_code"] == "0"
    entry = stored(portal).json()
    assert entry["syncCount"] == 1 and len(entry["progress"]) == 1


def test_refusals_are_permanent_with_the_portal_message(portal: Simulator) -> None:
    c = connector(portal)
    with pytest.raises(PermanentError) as exc:
        c.send("sync_dossier", dossier(NgayHenTra="2025-11-19 17:00"), "k-1")
    assert "mã 2" in exc.value.message and "NgayHenTra" in exc.value.message
    assert "Sai định dạng ngày" in exc.value.message
    with pytest.raises(PermanentError) as exc:
        c.send("sync_dossier", dossier(NgayHenTra="20251132170000"), "k-2")  # 32 November
    assert "mã 2" in exc.value.message
    with pytest.raises(PermanentError) as exc:
        c.send("sync_dossier", dossier(TrangThaiHoSo=11), "k-3")
    assert "mã 3" in exc.value.message and "TrangThaiHoSo" in exc.value.message
    with pytest.raises(PermanentError) as exc:
        c.send("sync_dossier", dossier(TrangThaiHoSo=10), "k-4")  # returned without NgayTra
    assert "mã 1" in exc.value.message and "NgayTra" in exc.value.message
    without = dossier()
    del without["DonViXuLy"]
    with pytest.raises(PermanentError) as exc:
        c.send("sync_dossier", without, "k-5")
    assert "mã 1" in exc.value.message and "DonViXuLy" in exc.value.message
    with pytest.raises(PermanentError) as exc:
        c.send("sync_dossier", dossier(KenhThucHien="2"), "k-6")
    assert "KenhThucHien" in exc.value.message
    with pytest.raises(PermanentError) as exc:
        c.send("sync_dossier", dossier(DanhSachBoSung=[{"NgayYeuCau": "20251115", "NoiDungYeuCau": "Bổ sung"}]), "k")
    assert "DanhSachBoSung[0].NgayYeuCau" in exc.value.message
    assert stored(portal).status_code == 404


def test_progress_before_sync_and_busy_portal_are_transient(portal: Simulator) -> None:
    c = connector(portal)
    with pytest.raises(TransientError) as exc:
        c.send("update_progress", progress(), "prog-early")
    assert "mã 4" in exc.value.message
    c.send("sync_dossier", dossier(), "sync-1")
    assert c.send("update_progress", progress(), "prog-early")["error_code"] == "0"  # the retry now lands

    httpx.post(f"{portal.url}/_sim/busy", json={"count": 1}, timeout=5).raise_for_status()
    with pytest.raises(TransientError) as exc:
        c.send("sync_dossier", dossier(), "sync-2")
    assert "mã 99" in exc.value.message


def test_http_failures(portal: Simulator) -> None:
    with pytest.raises(PermanentError) as exc:
        connector(portal, api_key="sai").send("sync_dossier", dossier(), "k")
    assert exc.value.status == 401
    portal.faults(status=503, count=1)
    with pytest.raises(TransientError):
        connector(portal).send("sync_dossier", dossier(), "k")
    with pytest.raises(PermanentError):
        connector(portal).send("sync_dossier", {"MaTTHC": "1.001612"}, "k")  # no MaHoSo: not even sent
    with pytest.raises(TransientError):
        get("portal", {"url": "http://127.0.0.1:9", "api_key": "x", "timeout": 2}).send("sync_dossier", dossier(), "k")
