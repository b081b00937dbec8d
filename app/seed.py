"""Demo data: two agencies, users in every role of each, and the procedures in workflows/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from app.auth import services as auth
from app.auth.models import Unit
from app.catalog.services import deploy_file
from app.extensions import db

DEMO_PASSWORD = "MotCua@2026"

UNITS = [
    {"code": "000.00.00.H41", "name": "Trung tâm Phục vụ hành chính công tỉnh Nghệ An",
     "address": "Số 3 Trường Thi, phường Trường Vinh, tỉnh Nghệ An", "phone": "02383598888",
     "email": "motcua@nghean.gov.vn", "short": "tinh"},
    {"code": "000.31.33.H41", "name": "Ủy ban nhân dân phường Trường Vinh",
     "address": "Số 1 Lê Hồng Phong, phường Trường Vinh, tỉnh Nghệ An", "phone": "02383844123",
     "email": "truongvinh@nghean.gov.vn", "short": "phuong"},
]

#: who handles which demo procedure (by BPMN file stem)
PROCEDURE_UNITS = {
    "dang_ky_khai_sinh": "000.31.33.H41",
    "chung_thuc_ban_sao": "000.31.33.H41",
    "dang_ky_ho_kinh_doanh": "000.00.00.H41",
    "cap_phep_xay_dung_nha_o": "000.00.00.H41",
}

USERS = [
    # (username prefix, full name, roles)
    ("tiepnhan", "Nguyễn Thị Lan", ["reception"]),
    ("chuyenvien", "Trần Văn Hùng", ["specialist"]),
    ("lanhdao", "Lê Minh Đức", ["leader"]),
    ("thietke", "Phạm Thu Hà", ["designer"]),
    ("quantri", "Hoàng Quốc Việt", ["admin"]),
]


def seed_demo(workflows_dir: Path, forms_dir: Path) -> Iterator[str]:
    """Idempotent: running it twice changes nothing."""
    auth.ensure_builtin_roles()
    for u in UNITS:
        if db.session.query(Unit).filter_by(code=u["code"]).first() is None:
            auth.create_unit(u["code"], u["name"], address=u["address"], phone=u["phone"], email=u["email"])
            yield f"đơn vị {u['code']} — {u['name']}"
    for u in UNITS:
        for prefix, full_name, roles in USERS:
            username = f"{prefix}.{u['short']}"
            user = auth.create_user(username, password=DEMO_PASSWORD, full_name=full_name,
                                    email=f"{username}@demo.motcua.vn")
            for role in roles:
                auth.grant(user, role, u["code"])
    yield f"người dùng: <vai trò>.tinh và <vai trò>.phuong (tiepnhan, chuyenvien, lanhdao, thietke, quantri), " \
          f"mật khẩu {DEMO_PASSWORD}"
    for path in sorted(workflows_dir.glob("*.bpmn")):
        unit = PROCEDURE_UNITS.get(path.stem, UNITS[0]["code"])
        version = deploy_file(path, forms_dir=forms_dir, unit=unit)
        yield f"thủ tục {version.procedure.code} — {version.procedure.name} (phiên bản {version.number})"
    db.session.flush()
