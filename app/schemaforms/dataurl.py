"""rjsf data URLs: ``data:<mime>;name=<urlencoded filename>;base64,<data>``.

File components of a form travel as data URLs, both from the JSON API (rjsf in SpiffArena
produces them) and from the server-rendered forms (uploads are converted by
:meth:`SchemaForm.to_data`), so both paths validate exactly the same way.
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
import re
import unicodedata
from urllib.parse import quote, unquote

from werkzeug.utils import secure_filename

__all__ = ["decode_data_url", "encode_data_url", "safe_filename", "DEFAULT_MIME"]

DEFAULT_MIME = "application/octet-stream"
#: Filename used when the data URL (or the upload) carries none, without its extension.
_FALLBACK_STEM = "tep-dinh-kem"
_MAX_FILENAME = 180

_MIME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*$")
_ASCII_SPACE = re.compile(r"[ \t\r\n\f\v]+")
#: Punctuation kept in file names; every other non letter/digit character becomes "_".
_KEEP_PUNCT = frozenset(" ._-()[]+")
_WINDOWS_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL"} | {f"COM{i}" for i in range(1, 10)} | {f"LPT{i}" for i in range(1, 10)}
)


def safe_filename(filename: str | None, mime: str | None = None) -> str:
    """A file name safe to store and to offer for download, keeping Vietnamese letters.

    Only the last path component is kept (both ``/`` and ``\\`` count as separators),
    the text is NFC-normalised, control characters and shell/URL punctuation become
    ``_``, leading dots and spaces are stripped and the length is capped. Falls back to
    werkzeug's ``secure_filename`` and finally to ``tep-dinh-kem<.ext>``: never a path.

    >>> safe_filename("../../Đơn đề nghị (bản 2).pdf")
    'Đơn đề nghị (bản 2).pdf'
    >>> safe_filename("C:\\\\tmp\\\\a;b.png")
    'a_b.png'
    """
    name = unicodedata.normalize("NFC", filename or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    chars = []
    for ch in name:
        category = unicodedata.category(ch)
        if category[0] in "LN" or ch in _KEEP_PUNCT or category == "Mn":
            chars.append(ch)
        elif category[0] == "Z":
            chars.append(" ")
        else:
            chars.append("_")
    name = re.sub(r" +", " ", "".join(chars))
    name = re.sub(r"_+", "_", name).strip(" ._")
    if name and name.split(".", 1)[0].upper() in _WINDOWS_RESERVED:
        name = "_" + name
    if len(name) > _MAX_FILENAME:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            name = stem[: _MAX_FILENAME - len(ext) - 1].rstrip(" ._") + "." + ext
        else:
            name = name[:_MAX_FILENAME].rstrip(" ._")
    if not name.strip("_ ."):
        name = secure_filename(filename or "")
    if not name:
        ext = mimetypes.guess_extension(mime or "") or ""
        name = _FALLBACK_STEM + ext
    return name


def encode_data_url(filename: str, mime: str, content: bytes) -> str:
    """Build an rjsf data URL: ``data:<mime>;name=<urlencoded filename>;base64,<data>``.

    The filename is sanitised with :func:`safe_filename` and URL-encoded the way the
    browser's ``encodeURIComponent`` does; an empty or malformed MIME type becomes
    ``application/octet-stream``.
    """
    mime = (mime or "").split(";", 1)[0].strip().lower()
    if not _MIME.match(mime):
        mime = DEFAULT_MIME
    name = quote(safe_filename(filename, mime), safe="!~*'()")
    payload = base64.b64encode(bytes(content)).decode("ascii")
    return f"data:{mime};name={name};base64,{payload}"


def decode_data_url(value: str) -> tuple[str, str, bytes]:
    """Split an rjsf data URL into ``(filename, mime, content)``.

    The filename comes from the ``name=`` parameter (URL-decoded, then sanitised with
    :func:`safe_filename`); a missing one becomes ``tep-dinh-kem<.ext>``. An empty MIME
    type becomes ``application/octet-stream``. Whitespace inside the base64 payload is
    ignored; anything else that is not strict base64 is refused.

    :raises ValueError: with a Vietnamese message when the value is not a well-formed
        base64 data URL.
    """
    if not isinstance(value, str):
        raise ValueError("Tệp không hợp lệ: dữ liệu tệp phải là một chuỗi data URL.")
    if not value.startswith("data:"):
        raise ValueError("Tệp không hợp lệ: dữ liệu tệp phải bắt đầu bằng “data:”.")
    header, comma, payload = value[5:].partition(",")
    if not comma:
        raise ValueError("Tệp không hợp lệ: thiếu dấu phẩy ngăn cách phần dữ liệu.")
    params = header.split(";")
    if params[-1].strip().lower() != "base64":
        raise ValueError("Tệp không hợp lệ: dữ liệu tệp phải được mã hoá base64.")
    mime = params[0].strip().lower() or DEFAULT_MIME
    if not _MIME.match(mime):
        raise ValueError(f"Tệp không hợp lệ: kiểu tệp “{params[0].strip()}” không đúng dạng.")
    raw_name = ""
    for param in params[1:-1]:
        key, eq, val = param.partition("=")
        if eq and key.strip().lower() == "name":
            try:
                raw_name = unquote(val.strip(), errors="strict")
            except UnicodeDecodeError as exc:
                raise ValueError("Tệp không hợp lệ: tên tệp không đúng mã UTF-8.") from exc
    try:
        content = base64.b64decode(_ASCII_SPACE.sub("", payload), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("Tệp không hợp lệ: dữ liệu base64 bị hỏng.") from exc
    return safe_filename(raw_name, mime), mime, content
