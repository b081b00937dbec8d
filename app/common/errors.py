"""Domain errors: raised by services, turned into JSON or a page by the error handlers."""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    """An error a user can act on. `message` is Vietnamese, `message_en` English."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, message_en: str | None = None, *, details: Any = None,
                 code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.message_en = message_en or message
        self.details = details
        if code:
            self.code = code
        if status:
            self.status = status

    def text(self, lang: str) -> str:
        return self.message_en if lang == "en" else self.message


class NotFound(AppError):
    status = 404
    code = "not_found"


class Forbidden(AppError):
    status = 403
    code = "forbidden"


class Conflict(AppError):
    status = 409
    code = "conflict"


class ValidationFailed(AppError):
    status = 422
    code = "validation_failed"


class Unauthorized(AppError):
    status = 401
    code = "unauthorized"
