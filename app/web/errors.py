"""Errors become JSON under /api/ and a Vietnamese page elsewhere; nothing leaks a traceback."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from app.common.errors import AppError
from app.extensions import db
from app.web.helpers import lang

log = logging.getLogger(__name__)

HTTP_MESSAGES = {
    400: ("Yêu cầu không hợp lệ.", "Bad request."),
    401: ("Cần đăng nhập.", "Authentication required."),
    403: ("Bạn không có quyền thực hiện thao tác này.", "Forbidden."),
    404: ("Không tìm thấy trang hoặc dữ liệu yêu cầu.", "Not found."),
    405: ("Phương thức không được hỗ trợ.", "Method not allowed."),
    409: ("Xung đột dữ liệu, vui lòng tải lại.", "Conflict."),
    413: ("Dữ liệu gửi lên quá lớn.", "Request too large."),
    415: ("Định dạng dữ liệu không được hỗ trợ.", "Unsupported media type."),
    422: ("Dữ liệu chưa hợp lệ.", "Invalid data."),
    429: ("Bạn thao tác quá nhanh, vui lòng thử lại sau ít phút.", "Too many requests; try again later."),
    500: ("Hệ thống gặp sự cố, vui lòng thử lại sau.", "Internal error; please try again later."),
}
CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
         409: "conflict", 413: "too_large", 415: "unsupported_media_type", 422: "validation_failed",
         429: "rate_limited", 500: "internal_error"}


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def _respond(status: int, code: str, message: str, details=None):
    if _wants_json():
        body: dict = {"error": {"code": code, "message": message}}
        if details is not None:
            body["error"]["details"] = details
        return jsonify(body), status
    return render_template("error.html", status=status, message=message, details=details), status


def register(app: Flask) -> None:
    @app.errorhandler(AppError)
    def app_error(exc: AppError):
        db.session.rollback()
        return _respond(exc.status, exc.code, exc.text(lang()), exc.details)

    @app.errorhandler(StaleDataError)
    def stale(_exc: StaleDataError):
        # optimistic locking: someone else changed the dossier or task first
        db.session.rollback()
        msg = ("Hồ sơ vừa được người khác cập nhật, vui lòng tải lại." if lang() != "en"
               else "Someone else changed this first; reload and try again.")
        return _respond(409, "conflict", msg)

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        msg = ("Phiên làm việc đã hết hạn hoặc biểu mẫu không hợp lệ, vui lòng tải lại trang và gửi lại."
               if lang() != "en" else "The form expired; reload the page and send it again.")
        return _respond(400, "csrf", msg)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        status = exc.code or 500
        vi, en = HTTP_MESSAGES.get(status, (exc.description or "", exc.description or ""))
        return _respond(status, CODES.get(status, "http_error"), en if lang() == "en" else vi)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        db.session.rollback()
        log.exception("unhandled error on %s %s", request.method, request.path)
        vi, en = HTTP_MESSAGES[500]
        return _respond(500, "internal_error", en if lang() == "en" else vi)
