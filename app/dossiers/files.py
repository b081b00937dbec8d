"""Checking uploaded files by their content, not their name.

`check_upload` is the one gate every stored file passes (web pages, the API, supplements, notes): non-empty,
not larger than `MAX_UPLOAD_BYTES`, really a PDF, JPEG or PNG by its first bytes, never an archive (ZIP, RAR, 7z,
gzip…: a "zip bomb" is refused before anything reads it), never an image whose pixel count would blow up memory
when decoded. `accept_upload` is what the citizen's submission pages use: it also converts HEIC/HEIF phone
photos to JPEG (pillow-heif, when installed) and refuses a file whose name claims another type than its content
("to_khai.pdf" holding a PNG). Every message is Vietnamese and names the file.
"""

from __future__ import annotations

import io
import warnings

from app.common.errors import ValidationFailed

#: magic bytes → MIME type, for what dossiers accept
_SIGNATURES: list[tuple[bytes, str]] = [
    (b"%PDF-", "application/pdf"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
]
ALLOWED = {mime for _, mime in _SIGNATURES}
#: file name extensions of the accepted types
EXTENSIONS = {".pdf": "application/pdf", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".jpe": "image/jpeg",
              ".png": "image/png"}
TYPE_NAMES = {"application/pdf": "PDF", "image/jpeg": "ảnh JPEG", "image/png": "ảnh PNG"}

#: archives and compressed streams: never accepted, whatever their name (office files are ZIPs too)
_ARCHIVES: list[tuple[int, bytes, str]] = [
    (0, b"PK\x03\x04", "ZIP"), (0, b"PK\x05\x06", "ZIP"), (0, b"PK\x07\x08", "ZIP"),
    (0, b"Rar!\x1a\x07", "RAR"), (0, b"7z\xbc\xaf\x27\x1c", "7z"), (0, b"\x1f\x8b", "gzip"),
    (0, b"BZh", "bzip2"), (0, b"\xfd7zXZ\x00", "xz"), (0, b"\x28\xb5\x2f\xfd", "zstd"),
    (257, b"ustar", "tar"), (0, b"MSCF", "CAB"), (0, b"\x1f\x9d", "compress"), (0, b"\x04\x22\x4d\x18", "lz4"),
]
#: ISO-BMFF brands of HEIC/HEIF (and AVIF) still images, as phones write them
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1",
                b"avif", b"avis"}
#: an image larger than this (pixels) is refused: decoding it would take gigabytes (a "decompression bomb")
MAX_PIXELS = 80_000_000

HEIC_FIX = ("Vui lòng chụp lại ở định dạng JPEG (trên iPhone: Cài đặt › Camera › Định dạng › "
            "“Tương thích nhất”) hoặc gửi bản PDF.")


def sniff(content: bytes) -> str | None:
    for magic, mime in _SIGNATURES:
        if content.startswith(magic):
            return mime
    return None


def archive_kind(content: bytes) -> str | None:
    """"ZIP", "RAR", … when the bytes are an archive or a compressed stream."""
    for offset, magic, name in _ARCHIVES:
        if content[offset:offset + len(magic)] == magic:
            return name
    return None


def is_heif(content: bytes) -> bool:
    """An ISO-BMFF file (``....ftyp<brand>``) whose major or a compatible brand is HEIC/HEIF/AVIF."""
    if len(content) < 12 or content[4:8] != b"ftyp":
        return False
    size = int.from_bytes(content[0:4], "big")
    box = content[8:max(16, min(size, 64))]
    brands = [box[i:i + 4] for i in range(0, len(box) - 3, 4)]
    return any(b in _HEIF_BRANDS for b in brands)


def _fail(field: str, vi: str, en: str) -> ValidationFailed:
    return ValidationFailed(vi, en, details={field: [vi]})


def _check_pixels(field: str, filename: str, content: bytes) -> None:
    """Refuse images whose declared size would exhaust memory once decoded. Unreadable images are left alone:
    their signature matched and nothing here decodes them."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(content)) as img:
                width, height = img.size
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        width = height = 0  # Pillow itself found it too large
    except Exception:  # noqa: BLE001 — not decodable by Pillow: nothing to measure
        return
    if width * height > MAX_PIXELS or not width:
        size = f" ({width}×{height} điểm ảnh)" if width else ""
        raise _fail(field, f"Ảnh '{filename}' quá lớn{size}: vui lòng chụp lại với độ phân giải thấp hơn hoặc gửi "
                           "bản PDF.",
                    f"Image '{filename}' has too many pixels.")


def check_upload(field: str, filename: str, content: bytes, max_bytes: int) -> str:
    """The real MIME type of an accepted upload; ValidationFailed with a Vietnamese message otherwise."""
    if not content:
        raise ValidationFailed(f"Tệp '{filename}' rỗng.", f"File '{filename}' is empty.",
                               details={field: [f"Tệp '{filename}' rỗng."]})
    if len(content) > max_bytes:
        mb = max_bytes // (1024 * 1024)
        msg = f"Tệp '{filename}' vượt quá {mb} MB."
        raise ValidationFailed(msg, f"File '{filename}' is larger than {mb} MB.", details={field: [msg]})
    archive = archive_kind(content)
    if archive:
        raise _fail(field, f"Tệp '{filename}' là tệp nén {archive}: không nhận tệp nén. Vui lòng tải lên từng giấy "
                           "tờ ở dạng PDF, JPEG hoặc PNG.",
                    f"File '{filename}' is a {archive} archive: archives are not accepted.")
    if is_heif(content):
        raise _fail(field, f"Tệp '{filename}' là ảnh HEIC/HEIF của điện thoại, hệ thống chưa đọc được. {HEIC_FIX}",
                    f"File '{filename}' is a HEIC/HEIF photo: take it again as JPEG or send a PDF.")
    mime = sniff(content)
    if mime is None:
        msg = f"Tệp '{filename}' không phải PDF, JPEG hoặc PNG (kiểm tra theo nội dung tệp)."
        raise ValidationFailed(msg, f"File '{filename}' is not a PDF, JPEG or PNG.", details={field: [msg]})
    if mime != "application/pdf":
        _check_pixels(field, filename, content)
    return mime


def heif_to_jpeg(content: bytes) -> bytes | None:
    """JPEG bytes of a HEIC/HEIF photo (first image, EXIF orientation applied); None without pillow-heif or when
    the photo cannot be decoded."""
    try:
        import pillow_heif
        from PIL import ImageOps
    except ImportError:
        return None
    try:
        heif = pillow_heif.open_heif(io.BytesIO(content), convert_hdr_to_8bit=True)
        if heif.size[0] * heif.size[1] > MAX_PIXELS:
            return None
        img = heif.to_pillow()
        img = ImageOps.exif_transpose(img).convert("RGB")
        out = io.BytesIO()
        img.save(out, format="JPEG", quality=90)
        return out.getvalue()
    except Exception:  # noqa: BLE001 — any decoding failure means: refuse with the fix
        return None


def _extension(filename: str) -> str:
    dot = filename.rfind(".")
    return filename[dot:].lower() if dot > 0 else ""


def accept_upload(field: str, filename: str, content: bytes, max_bytes: int) -> tuple[str, str, bytes]:
    """Check a citizen's upload and normalise it: ``(filename, mime, content)``.

    HEIC/HEIF photos become JPEG (``anh.heic`` → ``anh.jpg``) when pillow-heif can read them, else are refused
    with the fix. A name whose extension claims another accepted type than the content is refused.
    """
    if content and len(content) <= max_bytes and is_heif(content):
        jpeg = heif_to_jpeg(content)
        if jpeg is None:
            raise _fail(field, f"Không đọc được ảnh HEIC/HEIF '{filename}'. {HEIC_FIX}",
                        f"Could not read the HEIC/HEIF photo '{filename}': take it again as JPEG.")
        stem = filename[:-len(_extension(filename))] if _extension(filename) else filename
        filename, content = f"{stem or 'anh'}.jpg", jpeg
    mime = check_upload(field, filename, content, max_bytes)
    claimed = EXTENSIONS.get(_extension(filename))
    if claimed is not None and claimed != mime:
        raise _fail(field, f"Tệp '{filename}' có đuôi {_extension(filename)} nhưng nội dung là "
                           f"{TYPE_NAMES[mime]}: vui lòng kiểm tra lại tệp.",
                    f"File '{filename}' is named as another type than its content.")
    return filename, mime, content
