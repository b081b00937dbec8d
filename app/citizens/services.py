"""Citizen accounts: sign up, sign in (argon2, as officials), claim a dossier with its code and secret, list
"Hồ sơ của tôi". Services flush; the route commits."""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask_babel import gettext
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from app.auth.services import hash_password
from app.citizens.models import Citizen, CitizenDossier
from app.common.errors import ValidationFailed
from app.common.types import utcnow
from app.dossiers import services as dossiers
from app.dossiers.models import Dossier
from app.extensions import db
from app.i18n import N_

_hasher = PasswordHasher()
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE_RE = re.compile(r"^0[0-9]{9,10}$")
MIN_PASSWORD, MAX_PASSWORD = 8, 128
NOT_FOUND = N_("Không tìm thấy hồ sơ với mã hồ sơ và mã tra cứu đã nhập. Vui lòng kiểm tra lại.")


def normalise_login(value: str | None) -> tuple[str, str] | None:
    """("email", "an@example.vn") or ("phone", "0912345678") from what the citizen typed; None if neither."""
    value = (value or "").strip()
    if "@" in value:
        email = value.lower()
        return ("email", email) if EMAIL_RE.match(email) and len(email) <= 255 else None
    phone = re.sub(r"[\s.\-()]", "", value)
    if phone.startswith("+84"):
        phone = "0" + phone[3:]
    elif phone.startswith("84") and len(phone) in (11, 12):
        phone = "0" + phone[2:]
    return ("phone", phone) if PHONE_RE.match(phone) else None


def find(login: str | None) -> Citizen | None:
    parsed = normalise_login(login)
    if parsed is None:
        return None
    kind, value = parsed
    column = Citizen.email if kind == "email" else Citizen.phone
    return db.session.scalar(select(Citizen).where(column == value))


def sign_up(login: str | None, password: str | None, confirm: str | None) -> Citizen:
    errors: dict[str, list[str]] = {}
    parsed = normalise_login(login)
    if not (login or "").strip():
        errors["login"] = [gettext("Vui lòng nhập thư điện tử hoặc số điện thoại.")]
    elif parsed is None:
        errors["login"] = [gettext("Thư điện tử hoặc số điện thoại chưa đúng (ví dụ: an@example.vn hoặc 0912345678).")]
    elif find(login) is not None:
        errors["login"] = [gettext("Thư điện tử hoặc số điện thoại này đã có tài khoản. Vui lòng đăng nhập.")]
    password = password or ""
    if len(password) < MIN_PASSWORD:
        errors["password"] = [gettext("Mật khẩu cần ít nhất %(n)s ký tự.", n=MIN_PASSWORD)]
    elif len(password) > MAX_PASSWORD:
        errors["password"] = [gettext("Mật khẩu tối đa %(n)s ký tự.", n=MAX_PASSWORD)]
    elif password != (confirm or ""):
        errors["confirm"] = [gettext("Mật khẩu nhập lại không khớp.")]
    if errors:
        raise ValidationFailed("Thông tin đăng ký chưa hợp lệ.", "The sign-up details are not valid.", details=errors)
    assert parsed is not None
    kind, value = parsed
    citizen = Citizen(password_hash=hash_password(password), created_at=utcnow(), active=True,
                      **{kind: value})
    try:
        with db.session.begin_nested():
            db.session.add(citizen)
    except IntegrityError:
        raise ValidationFailed("Thông tin đăng ký chưa hợp lệ.", "The sign-up details are not valid.",
                               details={"login": [gettext("Thư điện tử hoặc số điện thoại này đã có tài khoản.")]},
                               ) from None
    return citizen


def authenticate(login: str | None, password: str | None) -> Citizen | None:
    citizen = find(login)
    if citizen is None or not citizen.active:
        _hasher.hash("timing-equaliser")  # the same cost whether or not the account exists
        return None
    try:
        _hasher.verify(citizen.password_hash, password or "")
    except (VerificationError, InvalidHashError):
        return None
    if _hasher.check_needs_rehash(citizen.password_hash):
        citizen.password_hash = hash_password(password or "")
    citizen.last_login_at = utcnow()
    return citizen


def owns(citizen: Citizen | None, dossier: Dossier) -> bool:
    """The dossier was submitted by this citizen while signed in, or claimed by them with its secret."""
    if citizen is None:
        return False
    if getattr(dossier, "citizen_id", None) == citizen.id:
        return True
    return db.session.scalar(select(CitizenDossier.id).where(CitizenDossier.citizen_id == citizen.id,
                                                             CitizenDossier.dossier_id == dossier.id)) is not None


def claim(citizen: Citizen, code: str | None, secret: str | None) -> tuple[Dossier, bool]:
    """Add a dossier to the citizen's list by its code and secret. (dossier, newly added). An unknown code and a
    wrong secret give the same error."""
    code, secret = (code or "").strip(), (secret or "").strip()
    errors: dict[str, list[str]] = {}
    if not code:
        errors["code"] = [gettext("Vui lòng nhập mã hồ sơ.")]
    if not secret:
        errors["secret"] = [gettext("Vui lòng nhập mã tra cứu.")]
    if errors:
        raise ValidationFailed("Vui lòng nhập mã hồ sơ và mã tra cứu.", details=errors)
    dossier = db.session.scalar(select(Dossier).where(Dossier.code == code))
    if dossier is None or not dossiers.check_secret(dossier, secret):
        raise ValidationFailed(NOT_FOUND, "No dossier with that code and secret.",
                               details={"code": [gettext(NOT_FOUND)]})
    if owns(citizen, dossier):
        return dossier, False
    try:
        with db.session.begin_nested():
            db.session.add(CitizenDossier(citizen_id=citizen.id, dossier_id=dossier.id, claimed_at=utcnow()))
    except IntegrityError:  # claimed twice at once
        return dossier, False
    return dossier, True


def unclaim(citizen: Citizen, code: str) -> bool:
    """Remove a claimed dossier from the list (a dossier submitted while signed in stays)."""
    row = db.session.scalar(select(CitizenDossier).join(Dossier, Dossier.id == CitizenDossier.dossier_id)
                            .where(CitizenDossier.citizen_id == citizen.id, Dossier.code == code))
    if row is None:
        return False
    db.session.delete(row)
    db.session.flush()
    return True


def my_dossiers(citizen: Citizen) -> list[tuple[Dossier, bool]]:
    """(dossier, submitted while signed in) for every dossier of the citizen, the newest first."""
    claimed = select(CitizenDossier.dossier_id).where(CitizenDossier.citizen_id == citizen.id)
    rows = db.session.scalars(select(Dossier).where(or_(Dossier.citizen_id == citizen.id,  # type: ignore[attr-defined]
                                                        Dossier.id.in_(claimed)))
                              .order_by(Dossier.submitted_at.desc(), Dossier.id.desc()))
    return [(d, getattr(d, "citizen_id", None) == citizen.id) for d in rows]

