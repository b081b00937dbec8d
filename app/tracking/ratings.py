"""Satisfaction ratings ("Đánh giá mức độ hài lòng") after the result, and their aggregation for leaders.

Policy: one rating per dossier, given by whoever holds the tracking secret (or the signed-in citizen who owns the
dossier) once the result is ready (status 9) or returned (status 10). It can be changed for
`CHANGE_DAYS` (7) days after it was first given, then it is final. The row holds no personal data: the dossier,
the level, the optional comment (at most `MAX_COMMENT` characters) and when.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.common.errors import Conflict, ValidationFailed
from app.common.timefmt import VN_TZ, iso
from app.common.types import utcnow
from app.dossiers.models import Dossier
from app.extensions import db
from app.tracking.models import LEVELS, Rating

RATEABLE_STATUSES = frozenset({9, 10})
CHANGE_DAYS = 7
MAX_COMMENT = 1000


def rating_of(dossier: Dossier) -> Rating | None:
    return db.session.scalar(select(Rating).where(Rating.dossier_id == dossier.id))


def can_rate(dossier: Dossier) -> bool:
    return dossier.status in RATEABLE_STATUSES


def changeable_until(rating: Rating) -> datetime:
    return rating.created_at + timedelta(days=CHANGE_DAYS)


def state(dossier: Dossier, now: datetime | None = None) -> dict[str, Any]:
    """What the tracking page shows: whether a rating may be given or changed, the current one, until when."""
    now = now or utcnow()
    rating = rating_of(dossier) if can_rate(dossier) else None
    until = changeable_until(rating) if rating is not None else None
    return {"offered": can_rate(dossier), "rating": rating, "until": until,
            "open": can_rate(dossier) and (rating is None or (until is not None and now < until)),
            "levels": LEVELS}


def validate(level: Any, comment: Any, lang: str = "vi") -> tuple[str, str]:
    en = lang == "en"
    errors: dict[str, list[str]] = {}
    if not isinstance(level, str) or level not in LEVELS:
        errors["level"] = ["Choose how satisfied you are." if en else "Vui lòng chọn mức độ hài lòng."]
    if comment is None:
        comment = ""
    if not isinstance(comment, str):
        errors["comment"] = ["The comment must be text." if en else "Ý kiến phải là văn bản."]
    elif len(comment.strip()) > MAX_COMMENT:
        errors["comment"] = [f"At most {MAX_COMMENT} characters." if en
                             else f"Ý kiến tối đa {MAX_COMMENT} ký tự (hiện có {len(comment.strip())} ký tự)."]
    if errors:
        raise ValidationFailed("Đánh giá chưa hợp lệ, vui lòng kiểm tra các trường được đánh dấu.",
                               "The rating is not valid.", details=errors)
    return str(level), str(comment).strip()


def rate(dossier: Dossier, level: Any, comment: Any = "", *, lang: str = "vi",
         now: datetime | None = None) -> tuple[Rating, bool]:
    """Give or change the dossier's rating. Returns (rating, created). Flushes; the caller commits."""
    if not can_rate(dossier):
        raise Conflict("Bạn có thể đánh giá khi hồ sơ đã có kết quả.",
                       "A dossier can be rated once its result is ready.", code="not_rateable")
    level, comment = validate(level, comment, lang)
    now = now or utcnow()
    rating = rating_of(dossier)
    if rating is not None:
        if now >= changeable_until(rating):
            raise Conflict(f"Đánh giá chỉ được thay đổi trong {CHANGE_DAYS} ngày kể từ khi gửi.",
                           f"A rating can only be changed within {CHANGE_DAYS} days.", code="rating_final")
        rating.level, rating.comment, rating.updated_at = level, comment, now
        db.session.flush()
        return rating, False
    rating = Rating(dossier_id=dossier.id, level=level, comment=comment, created_at=now, updated_at=now)
    try:
        with db.session.begin_nested():
            db.session.add(rating)
    except IntegrityError:  # the same dossier rated at the same moment elsewhere
        raise Conflict("Hồ sơ vừa được đánh giá, vui lòng tải lại trang.", "The dossier was just rated; reload.",
                       code="conflict") from None
    return rating, True


def rating_json(rating: Rating, lang: str = "vi") -> dict[str, Any]:
    return {"level": rating.level, "level_label": rating.label(lang), "comment": rating.comment,
            "created_at": iso(rating.created_at), "updated_at": iso(rating.updated_at),
            "changeable_until": iso(changeable_until(rating))}


def _bound(value: date | datetime | None) -> datetime | None:
    """A datetime as given; a date as its midnight in Vietnam time."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.combine(value, time(), tzinfo=VN_TZ)


def summary(unit_id: int | None = None, procedure_id: int | None = None, since: date | datetime | None = None,
            until: date | datetime | None = None) -> dict[str, Any]:
    """Counts and shares of each level for the ratings given in [since, until) (by when first given), for the
    dossiers of a unit and/or a procedure. `satisfied_share` = (very satisfied + satisfied) / total, or None."""
    query = select(Rating.level, func.count(Rating.id), func.count(func.nullif(Rating.comment, "")))
    if unit_id is not None or procedure_id is not None:
        query = query.join(Dossier, Dossier.id == Rating.dossier_id)
        if unit_id is not None:
            query = query.where(Dossier.unit_id == unit_id)
        if procedure_id is not None:
            query = query.where(Dossier.procedure_id == procedure_id)
    start, end = _bound(since), _bound(until)
    if start is not None:
        query = query.where(Rating.created_at >= start)
    if end is not None:
        query = query.where(Rating.created_at < end)
    counts = {level: 0 for level in LEVELS}
    comments = 0
    for level, n, with_comment in db.session.execute(query.group_by(Rating.level)):
        counts[level] = int(n)
        comments += int(with_comment)
    total = sum(counts.values())
    return {
        "total": total,
        "counts": counts,
        "shares": {level: (n / total if total else None) for level, n in counts.items()},
        "satisfied_share": (counts["very_satisfied"] + counts["satisfied"]) / total if total else None,
        "with_comment": comments,
        "labels": {level: vi for level, (vi, _en) in LEVELS.items()},
    }
