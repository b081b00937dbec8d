"""Users, units, roles and tokens. Services flush; the caller commits."""

from __future__ import annotations

import hashlib
import re
import secrets
import time

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select

from app.auth.models import ApiToken, Role, RoleAlias, RoleGrant, Unit, User
from app.common.errors import AppError, NotFound
from app.common.text import fold
from app.extensions import db

_hasher = PasswordHasher()

#: Built-in roles and their default lane aliases (administrators can add more).
BUILTIN_ROLES: dict[str, tuple[str, str, list[str]]] = {
    "reception": ("Bộ phận một cửa", "Reception desk",
                  ["Bộ phận Tiếp nhận và Trả kết quả", "Tiếp nhận", "Một cửa", "Reception"]),
    "specialist": ("Chuyên viên", "Specialist", ["Chuyên viên thụ lý", "Specialist"]),
    "leader": ("Lãnh đạo", "Leader", ["Lãnh đạo phòng", "Lãnh đạo đơn vị", "Leader"]),
    "designer": ("Thiết kế quy trình", "Process designer", ["Designer"]),
    "admin": ("Quản trị", "Administrator", ["Quản trị hệ thống", "Administrator"]),
    "applicant": ("Công dân", "Applicant", ["Tổ chức", "Công dân / Tổ chức", "Người nộp hồ sơ", "Applicant"]),
}
#: the role of tasks in a process without lanes
DEFAULT_ROLE = "specialist"


def ensure_builtin_roles() -> None:
    for code, (name, name_en, aliases) in BUILTIN_ROLES.items():
        role = db.session.scalar(select(Role).where(Role.code == code))
        if role is None:
            role = Role(code=code, name=name, name_en=name_en)
            db.session.add(role)
            db.session.flush()
        for alias in [code, name, *aliases]:
            add_alias(role, alias)
    db.session.flush()


def add_alias(role: Role, alias: str) -> RoleAlias | None:
    folded = fold(alias)
    existing = db.session.scalar(select(RoleAlias).where(RoleAlias.folded == folded))
    if existing is not None:
        if existing.role_id != role.id:
            raise AppError(f"Tên làn '{alias}' đã thuộc vai trò khác.", f"Alias '{alias}' belongs to another role.")
        return existing
    ra = RoleAlias(role=role, alias=alias, folded=folded)
    db.session.add(ra)
    _LANE_CACHE.clear()
    return ra


#: folded lane name → (role id, when looked up): lanes resolve on every new task, aliases rarely change
_LANE_CACHE: dict[str, tuple[int | None, float]] = {}
LANE_CACHE_SECONDS = 60.0


def role_for_lane(lane: str | None) -> Role | None:
    """The role whose code, name or alias matches a lane name, ignoring case and diacritics.

    Cached per process for a minute; adding an alias clears this process's cache at once.
    """
    folded = fold(lane) if lane else fold(DEFAULT_ROLE)
    hit = _LANE_CACHE.get(folded)
    now = time.monotonic()
    if hit is not None and now - hit[1] < LANE_CACHE_SECONDS and hit[0] is not None:
        role = db.session.get(Role, hit[0])
        if role is not None:
            return role
    alias = db.session.scalar(select(RoleAlias).where(RoleAlias.folded == folded))
    _LANE_CACHE[folded] = (alias.role_id if alias else None, now)
    return alias.role if alias else None


def get_role(code: str) -> Role:
    role = db.session.scalar(select(Role).where(Role.code == code))
    if role is None:
        raise NotFound(f"Không có vai trò '{code}'.", f"No role '{code}'.")
    return role


def get_unit(code: str) -> Unit:
    unit = db.session.scalar(select(Unit).where(Unit.code == code))
    if unit is None:
        raise NotFound(f"Không có đơn vị có mã '{code}'.", f"No unit with code '{code}'.")
    return unit


def create_unit(code: str, name: str, **extra: str | None) -> Unit:
    if db.session.scalar(select(Unit).where(Unit.code == code)) is not None:
        raise AppError(f"Đơn vị '{code}' đã tồn tại.", f"Unit '{code}' exists.")
    if not re.fullmatch(r"[0-9A-Z.]{1,35}", code):
        raise AppError("Mã định danh đơn vị chỉ gồm 0-9, A-Z và dấu chấm, tối đa 35 ký tự.",
                       "An agency code has up to 35 characters of 0-9, A-Z and dots.")
    unit = Unit(code=code, name=name, **extra)
    db.session.add(unit)
    db.session.flush()
    return unit


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def create_user(username: str, *, password: str | None = None, full_name: str = "",
                email: str | None = None) -> User:
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        user = User(username=username, full_name=full_name, email=email)
        db.session.add(user)
    if password:
        user.password_hash = hash_password(password)
    db.session.flush()
    return user


def grant(user: User, role_code: str, unit_code: str) -> RoleGrant:
    role, unit = get_role(role_code), get_unit(unit_code)
    for g in user.grants:
        if g.role_id == role.id and g.unit_id == unit.id:
            return g
    g = RoleGrant(user=user, role=role, unit=unit)
    db.session.add(g)
    db.session.flush()
    return g


def authenticate(username: str, password: str) -> User | None:
    user = db.session.scalar(select(User).where(User.username == username, User.active.is_(True)))
    if user is None or not user.password_hash:
        _hasher.hash("timing-equaliser")  # same cost whether or not the user exists
        return None
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(user: User) -> str:
    token = "mc_" + secrets.token_urlsafe(32)
    db.session.add(ApiToken(user=user, token_hash=_token_digest(token)))
    db.session.flush()
    return token


def user_for_token(token: str) -> User | None:
    return db.session.scalar(
        select(User).join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == _token_digest(token), ApiToken.revoked.is_(False), User.active.is_(True))
    )
