"""Checking uploaded files by their content, not their name."""

from __future__ import annotations

from app.common.errors import ValidationFailed

#: magic bytes → MIME type, for what dossiers accept
_SIGNATURES: list[tuple[bytes, str]] = [
    (b"%PDF-", "application/pdf"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
]
ALLOWED = {mime for _, mime in _SIGNATURES}


def sniff(content: bytes) -> str | None:
    for magic, mime in _SIGNATURES:
        if content.startswith(magic):
            return mime
    return None


def check_upload(field: str, filename: str, content: bytes, max_bytes: int) -> str:
    """The real MIME type of an accepted upload; ValidationFailed with a Vietnamese message otherwise."""
    if not content:
        raise ValidationFailed(f"Tệp '{filename}' rỗng.", f"File '{filename}' is empty.",
                               details={field: [f"Tệp '{filename}' rỗng."]})
    if len(content) > max_bytes:
        mb = max_bytes // (1024 * 1024)
        msg = f"Tệp '{filename}' vượt quá {mb} MB."
        raise ValidationFailed(msg, f"File '{filename}' is larger than {mb} MB.", details={field: [msg]})
    mime = sniff(content)
    if mime is None:
        msg = f"Tệp '{filename}' không phải PDF, JPEG hoặc PNG (kiểm tra theo nội dung tệp)."
        raise ValidationFailed(msg, f"File '{filename}' is not a PDF, JPEG or PNG.", details={field: [msg]})
    return mime
