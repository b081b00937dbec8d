"""Optional citizen accounts: sign up with an e-mail address or a phone number, see "Hồ sơ của tôi".

Wiring (app/__init__.py): `from app.citizens import register as register_citizens; register_citizens(app)`
(idempotent; the tracking blueprint also calls it so the pages exist before that line is added).
The submission path calls `attach_to_current_citizen(dossier)` right after `dossiers.submit()`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.citizens.current import attach_to_current_citizen, current_citizen

if TYPE_CHECKING:
    from flask import Flask

__all__ = ["attach_to_current_citizen", "current_citizen", "register"]


def register(app: Flask) -> None:
    """Register the citizens' blueprint once (its context processor gives templates `current_citizen`)."""
    from app.citizens.routes import bp

    if bp.name not in app.blueprints:
        app.register_blueprint(bp)
