"""Who the signed-in citizen is: a session key of its own ("citizen_id"), apart from officials' "uid"."""

from __future__ import annotations

from flask import g, has_request_context, session

from app.citizens.models import Citizen
from app.dossiers.models import Dossier
from app.extensions import db

SESSION_KEY = "citizen_id"
VERSION_KEY = "citizen_pwv"


def _pw_version(citizen: Citizen) -> str:
    # a password change ends the citizen's other sessions
    return citizen.password_hash[-12:]


def current_citizen() -> Citizen | None:
    """The citizen signed in on this browser, or None (also outside a request)."""
    if not has_request_context():
        return None
    if "citizen" not in g:
        citizen = None
        cid = session.get(SESSION_KEY)
        if cid is not None:
            citizen = db.session.get(Citizen, cid)
            if citizen is not None and (not citizen.active or session.get(VERSION_KEY) != _pw_version(citizen)):
                citizen = None
        g.citizen = citizen
    return g.citizen


def login_citizen(citizen: Citizen) -> None:
    session.pop(SESSION_KEY, None)
    session[SESSION_KEY] = citizen.id
    session[VERSION_KEY] = _pw_version(citizen)
    session.permanent = True
    g.citizen = citizen


def logout_citizen() -> None:
    session.pop(SESSION_KEY, None)
    session.pop(VERSION_KEY, None)
    g.pop("citizen", None)


def attach_to_current_citizen(dossier: Dossier) -> bool:
    """The submission hook: a dossier submitted while a citizen is signed in becomes theirs
    (`dossiers.citizen_id`). Call it after `dossiers.submit()`, before the commit. True when attached."""
    citizen = current_citizen()
    if citizen is None:
        return False
    dossier.citizen_id = citizen.id  # type: ignore[attr-defined]
    return True
