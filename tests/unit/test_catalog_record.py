"""The catalogue record: reading every shape, validation messages, fees, time per channel, the file format."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from app.catalog import record as catalog
from app.catalog.record import RecordError, fee_for, processing_time_for, read_record, validate_record

ROOT = Path(__file__).resolve().parents[2]
SIDECARS = sorted((ROOT / "workflows").glob("*.procedure.json"))


def base(**extra):
    raw = {"code": "9.777001", "name": "Thủ tục thử nghiệm", "channels": ["counter", "online"]}
    raw.update(extra)
    return raw


# --------------------------------------------------------------------------- the existing sidecars


@pytest.mark.parametrize("path", SIDECARS, ids=lambda p: p.stem)
def test_every_existing_sidecar_reads_without_errors(path):
    raw = json.loads(path.read_text(encoding="utf-8"))
    rec, errors = read_record(raw)
    assert errors == {}
    assert rec.code == raw["code"] and rec.name == raw["name"] and rec.field == raw["field"]
    # one processing_time means every channel, exactly as stored
    for channel in rec.channels:
        pt = processing_time_for(rec, channel)
        assert pt["value"] == raw["processing_time"]["value"] and pt["unit"] == raw["processing_time"]["unit"]
        assert pt["same_day"] == raw["processing_time"].get("same_day", False)
    assert rec.processing_time_by_channel == {}
    # older shapes: fee {amount, note} is a fixed fee; result is one string; components keep their counts
    assert rec.fee.kind == "fixed" and rec.fee.amount == raw["fee"]["amount"] and rec.fee.note == raw["fee"]["note"]
    assert rec.results == [raw["result"]]
    assert [(c.name, c.originals, c.copies, c.required) for c in rec.components] == [
        (c["name"], c["originals"], c["copies"], c["required"]) for c in raw["components"]]
    assert rec.legal_basis == raw["legal_basis"]
    assert rec.postal_return is raw["postal_return"]
    assert rec.postal_submission is ("postal" in raw["channels"])
    assert rec.service_level == "partial"  # online submission offered, no level given
    assert rec.extra == {}
    assert fee_for(rec, {}) == raw["fee"]["amount"]


@pytest.mark.parametrize("path", SIDECARS, ids=lambda p: p.stem)
def test_export_import_round_trip_of_each_sidecar(path):
    rec = validate_record(json.loads(path.read_text(encoding="utf-8")))
    text = catalog.dumps(rec)
    again = catalog.loads(text.encode("utf-8"))
    assert again == rec
    data = json.loads(text)
    # what deploy_file and Procedure.processing_time read keeps its old shape
    assert data["processing_time"] == rec.processing_time.as_dict()
    assert isinstance(data["result"], str) and data["fee"]["kind"] == "fixed" and "amount" in data["fee"]


def test_round_trip_of_a_full_record_with_everything():
    raw = base(
        unit="000.00.00.H41", process_id="p_test", service_level="full", channels=["online", "postal"],
        postal_return=True,
        processing_time={"value": 3, "unit": "working_days"},
        processing_time_by_channel={"postal": {"value": 5, "unit": "working_days", "note": "cộng thời gian chuyển"}},
        fee={"kind": "tiered", "unit_field": "page_count", "unit_label": "trang",
             "tiers": [{"upto": 2, "unit_price": 2000}, {"upto": None, "unit_price": 1000}], "max": 200000,
             "quantity_field": "copy_count", "note": "Theo Thông tư 226/2016/TT-BTC"},
        components=[{"name": "Tờ khai", "originals": 1, "copies": 0, "required": True, "file_types": ["pdf"]}],
        results=["Giấy chứng nhận", "Bản sao trích lục"], legal_basis=["Luật Hộ tịch số 60/2014/QH13"],
        effective_from="2025-07-01", effective_to="2026-12-31", custom_key={"kept": True},
    )
    rec = validate_record(raw)
    assert rec.effective_from == date(2025, 7, 1) and rec.extra == {"custom_key": {"kept": True}}
    again = catalog.loads(catalog.dumps(rec))
    assert again == rec
    assert json.loads(catalog.dumps(rec))["custom_key"] == {"kept": True}


# --------------------------------------------------------------------------- validation


def test_missing_and_malformed_values_give_vietnamese_messages_by_path():
    raw = {
        "code": "bad code!", "name": "", "channels": ["fax"], "service_level": "level9",
        "processing_time": {"value": "abc", "unit": "weeks"},
        "fee": {"kind": "per_unit", "unit_field": "số trang", "min": 5000, "max": 1000},
        "components": [{"name": "", "originals": -1, "copies": "hai", "file_types": ["docx"]}],
        "legal_basis": [""], "effective_from": "2026-02-30", "effective_to": "01/01/2020",
    }
    with pytest.raises(RecordError) as info:
        validate_record(raw)
    errors = info.value.errors
    assert "Mã thủ tục gồm chữ" in errors["code"][0]
    assert errors["name"] == ["Vui lòng nhập tên thủ tục."]
    assert "fax" in errors["channels"][0]
    assert "Mức độ dịch vụ" in errors["service_level"][0]
    assert "Đơn vị thời hạn" in errors["processing_time.unit"][0]
    assert "phải là một số" in errors["processing_time.value"][0]
    assert "chữ không dấu" in errors["fee.unit_field"][0]
    assert errors["fee.unit_price"] == ["Vui lòng nhập đơn giá."]
    assert "lớn hơn hoặc bằng mức tối thiểu" in errors["fee.max"][0]
    assert errors["components.0.name"] == ["Vui lòng nhập tên giấy tờ."]
    assert "từ 0 đến 99" in errors["components.0.originals"][0]
    assert "phải là số nguyên" in errors["components.0.copies"][0]
    assert "docx" in errors["components.0.file_types"][0]
    assert errors["legal_basis.0"] == ["Vui lòng nhập căn cứ pháp lý."]
    assert "không hợp lệ" in errors["effective_from"][0]
    # the summary message names each place in words
    assert "Thành phần hồ sơ 1 — tên giấy tờ" in info.value.message


def test_service_level_must_agree_with_online_submission():
    _, errors = read_record(base(service_level="full", channels=["counter"]))
    assert "phải cho phép nộp trực tuyến" in errors["service_level"][0]
    _, errors = read_record(base(service_level="information", channels=["counter", "online"]))
    assert "chỉ cung cấp thông tin" in errors["service_level"][0]
    rec, errors = read_record(base(channels=["counter"]))
    assert errors == {} and rec.service_level == "information"
    _, errors = read_record(base(channels=[]))
    assert errors["channels"] == ["Chọn ít nhất một cách thức nộp hồ sơ."]


def test_effective_dates_in_order_and_in_force():
    _, errors = read_record(base(effective_from="2026-01-01", effective_to="2025-12-31"))
    assert errors["effective_to"] == ["Ngày hết hiệu lực phải sau ngày có hiệu lực."]
    rec = validate_record(base(effective_from="01/07/2025", effective_to="2026-06-30"))
    assert rec.effective_from == date(2025, 7, 1)
    assert rec.in_force(date(2025, 7, 1)) and rec.in_force(date(2026, 6, 30))
    assert not rec.in_force(date(2025, 6, 30)) and not rec.in_force(date(2026, 7, 1))


def test_tiers_must_increase_and_end_open():
    _, errors = read_record(base(fee={"kind": "tiered", "unit_field": "n", "tiers": [
        {"upto": 5, "unit_price": 100}, {"upto": 3, "unit_price": 50}, {"upto": 10, "unit_price": 10}]}))
    assert errors["fee.tiers.1.upto"] == ["Giới hạn các bậc phải tăng dần."]
    assert "Bậc cuối cùng để trống" in errors["fee.tiers.2.upto"][0]
    _, errors = read_record(base(fee={"kind": "tiered", "unit_field": "n", "tiers": []}))
    assert "ít nhất một bậc" in errors["fee.tiers"][0]


def test_money_accepts_vietnamese_thousands_separators():
    rec = validate_record(base(fee={"kind": "fixed", "amount": "75.000"}))
    assert rec.fee.amount == 75000
    rec = validate_record(base(fee={"kind": "per_unit", "unit_field": "so_trang", "unit_price": "2 000 đ",
                                    "max": "200.000"}))
    assert (rec.fee.unit_price, rec.fee.max) == (2000, 200000)
    _, errors = read_record(base(fee={"amount": "2.5"}))
    assert "số nguyên" in errors["fee.amount"][0]


def test_file_import_errors():
    with pytest.raises(RecordError) as info:
        catalog.loads(b"{not json")
    assert "không phải JSON hợp lệ (dòng 1" in info.value.errors[""][0]
    with pytest.raises(RecordError) as info:
        catalog.loads(b"\xff\xfe")
    assert info.value.errors[""] == ["Tệp phải được mã hoá UTF-8."]
    with pytest.raises(RecordError) as info:
        catalog.loads(b"[1, 2]")
    assert "đối tượng JSON" in info.value.errors[""][0]
    with pytest.raises(RecordError):
        catalog.loads(b" " * (catalog.MAX_FILE_BYTES + 1))
    # defaults fill what the file leaves out
    rec = catalog.loads(json.dumps({"name": "Tên mới của thủ tục"}), defaults={"code": "9.777001", "unit": "X.1"})
    assert rec.code == "9.777001" and rec.unit == "X.1"


# --------------------------------------------------------------------------- fees


def test_per_unit_fee_with_cap_from_the_brief():
    rec = validate_record(base(fee={"kind": "per_unit", "unit_price": 2000, "unit_field": "so_trang",
                                    "max": 200000}))
    assert fee_for(rec, {"so_trang": 1}) == 2000
    assert fee_for(rec, {"so_trang": 30}) == 60000
    assert fee_for(rec, {"so_trang": 100}) == 200000
    assert fee_for(rec, {"so_trang": 101}) == 200000  # capped
    assert fee_for(rec, {"so_trang": 5000}) == 200000
    assert fee_for(rec, {"so_trang": "12"}) == 24000  # strings from forms
    assert fee_for(rec, {"so_trang": 2.2}) == 6000  # a started page counts
    assert fee_for(rec, {}) == 0 and fee_for(rec, None) == 0
    assert fee_for(rec, {"so_trang": -4}) == 0 and fee_for(rec, {"so_trang": "abc"}) == 0
    assert fee_for(rec, {"so_trang": True}) == 0
    assert rec.fee.describe() == "2.000 đ/trang, tối đa 200.000 đ"


def test_tiered_fee_of_certified_copies_per_copy():
    """Chứng thực bản sao: 2.000 đ/trang for pages 1–2, 1.000 đ/trang after, at most 200.000 đ per copy."""
    fee = {"kind": "tiered", "unit_field": "page_count", "unit_label": "trang", "max": 200000,
           "tiers": [{"upto": 2, "unit_price": 2000}, {"upto": None, "unit_price": 1000}],
           "quantity_field": "copy_count", "quantity_label": "bản"}
    rec = validate_record(base(fee=fee))
    assert fee_for(rec, {"page_count": 1}) == 2000
    assert fee_for(rec, {"page_count": 2}) == 4000
    assert fee_for(rec, {"page_count": 3}) == 5000
    assert fee_for(rec, {"page_count": 10, "copy_count": 3}) == 3 * 12000
    assert fee_for(rec, {"page_count": 500, "copy_count": 2}) == 2 * 200000  # the cap is per copy
    assert fee_for(rec, {"page_count": 10, "copy_count": 0}) == 0
    assert fee_for(rec, {"page_count": 0}) == 0
    assert rec.fee.describe() == ("2.000 đ/trang (trang thứ 1 đến 2), 1.000 đ/trang (từ trang thứ 3 trở đi), "
                                  "tối đa 200.000 đ/bản; tính cho từng bản")


def test_fixed_fee_minimum_and_words():
    assert fee_for(base(fee={"amount": 75000}), {"anything": 1}) == 75000  # a raw mapping works too
    free = validate_record(base(fee={"amount": 0}))
    assert fee_for(free, {}) == 0 and free.fee.is_free and free.fee.describe() == "Không thu phí, lệ phí"
    minimum = validate_record(base(fee={"kind": "per_unit", "unit_field": "n", "unit_price": 1000, "min": 5000}))
    assert fee_for(minimum, {"n": 1}) == 5000 and fee_for(minimum, {"n": 9}) == 9000 and fee_for(minimum, {}) == 0
    assert minimum.fee.describe() == "1.000 đ/trang, tối thiểu 5.000 đ"
    per_copy = validate_record(base(fee={"amount": 8000, "quantity_field": "so_ban"}))
    assert fee_for(per_copy, {"so_ban": 3}) == 24000 and fee_for(per_copy, {}) == 8000
    assert per_copy.fee.describe() == "8.000 đ/bản"


# --------------------------------------------------------------------------- processing time


def test_processing_time_per_channel_and_the_single_object_compatibility():
    rec = validate_record(base(channels=["counter", "online", "postal"],
                               processing_time={"value": 3, "unit": "working_days"},
                               processing_time_by_channel={"online": {"value": 2, "unit": "working_days"},
                                                           "postal": {"same_day": True}}))
    assert processing_time_for(rec, "counter") == {"value": 3, "unit": "working_days", "same_day": False}
    assert processing_time_for(rec, "online") == {"value": 2, "unit": "working_days", "same_day": False}
    assert processing_time_for(rec, "postal")["same_day"] is True
    assert processing_time_for(rec, None) == processing_time_for(rec, "counter")  # unknown: the default
    assert rec.times_differ
    assert [c for c, _ in rec.times_by_channel()] == ["counter", "online", "postal"]
    # a processing_time keyed by channel is accepted and split into default + overrides
    keyed = validate_record(base(processing_time={"counter": {"value": 15, "unit": "calendar_days"},
                                                  "online": {"value": 10, "unit": "calendar_days"}}))
    assert keyed.processing_time.as_dict() == {"value": 15, "unit": "calendar_days", "same_day": False}
    assert processing_time_for(keyed, "online")["value"] == 10
    # an override for a channel not offered, or equal to the default, is dropped
    dropped = validate_record(base(processing_time={"value": 1, "unit": "working_days"},
                                   processing_time_by_channel={"postal": {"value": 9, "unit": "working_days"},
                                                               "online": {"value": 1, "unit": "working_days"}}))
    assert dropped.processing_time_by_channel == {} and not dropped.times_differ
    # same day, and the default when nothing is given (as Procedure.processing_time)
    assert validate_record(base(processing_time={"same_day": True})).processing_time.describe().startswith(
        "Trong ngày làm việc")
    assert processing_time_for(base(), "online") == {"value": 1, "unit": "working_days", "same_day": False}
    assert validate_record(base(processing_time={"value": 0.5, "unit": "working_days"})).processing_time.describe() \
        == "0,5 ngày làm việc"


def test_due_date_reads_the_exported_time_unchanged():
    from datetime import UTC, datetime

    from app.worktime import due_date

    rec = validate_record(base(processing_time={"value": 3, "unit": "working_days"},
                               processing_time_by_channel={"online": {"value": 1, "unit": "working_days"}}))
    monday = datetime(2025, 11, 10, 2, 0, tzinfo=UTC)  # 09:00 in Vietnam
    assert due_date(monday, processing_time_for(rec, "online")) < due_date(monday, processing_time_for(rec, "counter"))
    assert due_date(monday, json.loads(catalog.dumps(rec))["processing_time"]) == \
        due_date(monday, processing_time_for(rec, "counter"))


def test_describe_path():
    assert catalog.describe_path("components.2.name") == "Thành phần hồ sơ 3 — tên giấy tờ"
    assert catalog.describe_path("processing_time_by_channel.online.value") == \
        "Thời hạn theo cách thức nộp — trực tuyến — số lượng"
    assert catalog.describe_path("fee.tiers.0.upto") == "Phí, lệ phí — bậc 1 — đến"


def test_older_keys_written_over_newer_ones_win():
    """A redeploy merges an older sidecar over stored meta: its `result` and `channels` are what counts."""
    exported = catalog.to_file(validate_record(base(results=["Thẻ"], channels=["counter", "online", "postal"])))
    assert exported["result"] == "Thẻ" and exported["postal_submission"] is True
    merged = {**exported, "result": "Giấy chứng nhận", "channels": ["counter", "online"]}
    rec = validate_record(merged)
    assert rec.results == ["Giấy chứng nhận"] and not rec.postal_submission
    # postal_submission alone (no channels) adds or removes the postal channel
    assert validate_record({"code": "9.777001", "name": "Thủ tục", "postal_submission": True}).channels == [
        "counter", "online", "postal"]
