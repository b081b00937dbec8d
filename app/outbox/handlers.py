"""BPMN service tasks → outbox rows, and what happens when a partner answers.

A service task names `<connector>.<operation>` in `spiffworkflow:serviceTaskOperator` (e.g.
`vnpost.create_order`); its parameters are sandboxed expressions. The task does not call the partner: it
stores an outbox row in the dossier's transaction and finishes at once with `{"queued": true, "key": …}`.
A receive task or message catch event after it waits for the partner's answer (README, "Connectors").
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

import connectors
from app.extensions import db
from app.outbox.models import OutboxMessage, Shipment
from app.outbox.services import enqueue

#: the messages the app delivers to a waiting receive task or message catch event (inbound.py, interagency.py);
#: the modeler offers them and the linter knows a connector sends them
PARTNER_MESSAGES = [
    ("vnpost.pickup.delivered", "Bưu điện đã thu gom hồ sơ"),
    ("vnpost.pickup.failed", "Bưu điện thu gom hồ sơ không thành công"),
    ("vnpost.delivery.delivered", "Bưu điện đã phát kết quả"),
    ("vnpost.delivery.failed", "Bưu điện phát kết quả không thành công"),
    ("axis.result", "Kết quả hồ sơ liên thông từ cơ quan khác"),
]

Builder = Callable[[Any, dict[str, Any], dict[str, Any]], dict[str, Any]]
BUILDERS: dict[tuple[str, str], Builder] = {}
ON_DONE: dict[str, Callable[[OutboxMessage], None]] = {}


def builder(connector: str, operation: str) -> Callable[[Builder], Builder]:
    def wrap(fn: Builder) -> Builder:
        BUILDERS[(connector, operation)] = fn
        return fn
    return wrap


def on_done(name: str) -> Callable[[Callable[[OutboxMessage], None]], Callable[[OutboxMessage], None]]:
    def wrap(fn: Callable[[OutboxMessage], None]) -> Callable[[OutboxMessage], None]:
        ON_DONE[name] = fn
        return fn
    return wrap


def run_on_done(msg: OutboxMessage) -> None:
    if msg.on_done:
        ON_DONE[msg.on_done](msg)


def split_operation(name: str) -> tuple[str, str]:
    """`vnpost.create_order` → ("vnpost", "create_order"), checked against the connector registry."""
    connector, _, operation = name.partition(".")
    if not connector or not operation:
        raise ValueError(f"Thao tác '{name}' phải có dạng <kết nối>.<thao tác>, ví dụ vnpost.create_order.")
    connectors.base._load_builtin()
    cls = connectors.REGISTRY.get(connector)
    if cls is None:
        raise ValueError(f"Không có kết nối tên '{connector}'.")
    if operation not in cls.operations:
        raise ValueError(f"Kết nối '{connector}' không có thao tác '{operation}' "
                         f"(có: {', '.join(cls.operations)}).")
    return connector, operation


def service_handler(dossier: Any) -> Callable[[str, dict[str, Any], dict[str, Any]], dict[str, Any]]:
    """The engine's service handler for one dossier: each call becomes an outbox row."""

    def handle(name: str, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        connector, operation = split_operation(name)
        values = {k: (v.get("value") if isinstance(v, dict) and "value" in v else v) for k, v in params.items()}
        build = BUILDERS.get((connector, operation))
        payload = build(dossier, values, data) if build else {"dossier_code": dossier.code, **values}
        key = f"{dossier.code}-{connector}-{operation}-{uuid.uuid4().hex[:12]}"
        msg = enqueue(connector, operation, payload, dossier=dossier, key=key,
                      ordering_key=f"{connector}:{dossier.id}", on_done=payload.pop("_on_done", None))
        return {"queued": True, "key": msg.key}

    return handle


# --------------------------------------------------------------------------- Vietnam Post


def _ward_province(address: str) -> tuple[str, str]:
    """"Số 3 Trường Thi, phường Trường Vinh, tỉnh Nghệ An" → ("phường Trường Vinh", "tỉnh Nghệ An")."""
    parts = [p.strip() for p in address.split(",") if p.strip()]
    return (parts[-2] if len(parts) >= 2 else "", parts[-1] if parts else "")


def _party_applicant(dossier: Any, data: dict[str, Any]) -> dict[str, Any]:
    chosen = getattr(dossier, "postal_address", None)
    if chosen:  # the postal address the applicant gave on the public form (app/drafts)
        province, ward = chosen.get("province_name", ""), chosen.get("ward_name", "")
        street = chosen.get("street", "")
        return {"Name": dossier.applicant_name, "Address": ", ".join(x for x in (street, ward, province) if x),
                "Tel": chosen.get("phone") or dossier.applicant_phone or "", "Email": dossier.applicant_email or "",
                "Province": province, "Ward": ward}
    address = data.get("diaChiNhanKetQua") or data.get("diaChiBuuChinh") or dossier.applicant_address or ""
    if isinstance(address, dict):  # the VN address widget: {province, ward, street}
        province, ward, street = address.get("province", ""), address.get("ward", ""), address.get("street", "")
        address = ", ".join(x for x in (street, ward, province) if x)
    else:
        address = str(address)
        ward, province = _ward_province(address)
    return {"Name": dossier.applicant_name, "Address": address, "Tel": dossier.applicant_phone or "",
            "Email": dossier.applicant_email or "", "Province": province, "Ward": ward}


def _party_unit(dossier: Any) -> dict[str, Any]:
    unit = dossier.unit
    ward, province = _ward_province(unit.address or "")
    return {"Name": unit.name, "Address": unit.address or unit.name, "Tel": unit.phone or "",
            "Email": unit.email or "", "Province": province, "Ward": ward}


@builder("vnpost", "create_order")
def _vnpost_order(dossier: Any, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    service = str(params.get("service") or "delivery")
    if service not in ("pickup", "delivery"):
        raise ValueError("Tham số service của vnpost.create_order phải là 'pickup' hoặc 'delivery'.")
    cod = int(params.get("cod_amount") or 0)
    applicant, unit = _party_applicant(dossier, data), _party_unit(dossier)
    sender, receiver = (applicant, unit) if service == "pickup" else (unit, applicant)
    shipment = db.session.scalar(select(Shipment).where(Shipment.dossier_id == dossier.id,
                                                        Shipment.service == service))
    if shipment is None:
        db.session.add(Shipment(dossier_id=dossier.id, service=service, status=0, cod_amount=cod,
                                status_message="Đã gửi yêu cầu tới bưu điện"))
    what = "Thu gom hồ sơ" if service == "pickup" else "Chuyển phát kết quả"
    return {"service": service, "order_number": dossier.code, "cod_amount": cod, "sender": sender,
            "receiver": receiver, "description": f"{what} {dossier.code}: {dossier.procedure.name}"[:500],
            "_on_done": "shipment"}


@on_done("shipment")
def _shipment_registered(msg: OutboxMessage) -> None:
    from app.outbox.inbound import apply_shipment_event

    result = msg.result or {}
    service = (msg.payload or {}).get("service", "delivery")
    shipment = db.session.scalar(select(Shipment).where(Shipment.dossier_id == msg.dossier_id,
                                                        Shipment.service == service))
    if shipment is None or not result.get("ItemCode"):
        return
    shipment.item_code = result["ItemCode"]
    apply_shipment_event(shipment, int(result.get("statusCode") or 1), result.get("statusMessage") or "",
                         None, event_id=f"order:{msg.key}")
