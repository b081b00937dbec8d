"""Upload abuse: wrong type with a .pdf name, oversized, zip bomb, empty, archives, HEIC photos, pixel bombs."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

import pytest

from app.common.errors import ValidationFailed
from app.dossiers import files
from app.dossiers.files import accept_upload, archive_kind, check_upload, is_heif, sniff

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
LIMIT = 1024 * 1024


def _png(width: int, height: int) -> bytes:
    """A PNG whose header declares width × height (the pixel data is a tiny compressed stream)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(
        b"IEND", b"")


def _jpeg() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 120, 200)).save(out, format="JPEG")
    return out.getvalue()


def _heic() -> bytes:
    pillow_heif = pytest.importorskip("pillow_heif")
    from PIL import Image

    pillow_heif.register_heif_opener()
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 30, 30)).save(out, format="HEIF")
    return out.getvalue()


def _zip_bomb() -> bytes:
    """10 MB of zeros squeezed into a few kilobytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("bomb.txt", b"\x00" * (10 * 1024 * 1024))
    return out.getvalue()


def message(exc: pytest.ExceptionInfo[ValidationFailed], field: str = "f") -> str:
    return exc.value.details[field][0]


def test_real_types_pass():
    assert check_upload("f", "a.pdf", PDF, LIMIT) == "application/pdf"
    assert check_upload("f", "a.png", _png(10, 10), LIMIT) == "image/png"
    assert accept_upload("f", "a.jpg", _jpeg(), LIMIT)[1] == "image/jpeg"
    assert sniff(PDF) == "application/pdf" and sniff(b"GIF89a") is None


def test_wrong_type_with_a_pdf_name_is_refused():
    with pytest.raises(ValidationFailed) as exc:
        check_upload("f", "to_khai.pdf", b"MZ\x90\x00 an executable", LIMIT)
    assert "Tệp 'to_khai.pdf' không phải PDF, JPEG hoặc PNG" in message(exc)
    with pytest.raises(ValidationFailed) as exc:  # an accepted type, but not the one its name claims
        accept_upload("f", "to_khai.pdf", _png(4, 4), LIMIT)
    assert "'to_khai.pdf' có đuôi .pdf nhưng nội dung là ảnh PNG" in message(exc)
    with pytest.raises(ValidationFailed):
        accept_upload("f", "anh.jpg", PDF, LIMIT)


def test_oversized_is_refused():
    with pytest.raises(ValidationFailed) as exc:
        check_upload("f", "lon.pdf", PDF + b"0" * LIMIT, LIMIT)
    assert message(exc) == "Tệp 'lon.pdf' vượt quá 1 MB."


def test_empty_is_refused():
    for fn in (check_upload, accept_upload):
        with pytest.raises(ValidationFailed) as exc:
            fn("f", "trong.pdf", b"", LIMIT)
        assert message(exc) == "Tệp 'trong.pdf' rỗng."


def test_zip_bomb_and_other_archives_are_refused_without_being_opened():
    bomb = _zip_bomb()
    assert len(bomb) < 100_000 and archive_kind(bomb) == "ZIP"
    with pytest.raises(ValidationFailed) as exc:
        check_upload("f", "ho_so.pdf", bomb, LIMIT)
    assert "Tệp 'ho_so.pdf' là tệp nén ZIP: không nhận tệp nén" in message(exc)
    for body, kind in ((b"Rar!\x1a\x07\x01\x00", "RAR"), (b"7z\xbc\xaf\x27\x1c\x00\x04", "7z"),
                       (zlib.compress(b"x") and b"\x1f\x8b\x08\x00" + b"\x00" * 8, "gzip"),
                       (b"\x00" * 257 + b"ustar\x0000", "tar")):
        with pytest.raises(ValidationFailed) as exc:
            accept_upload("f", "giay.pdf", body, LIMIT)
        assert f"là tệp nén {kind}" in message(exc)


def test_a_pixel_bomb_is_refused():
    with pytest.raises(ValidationFailed) as exc:
        check_upload("f", "anh.png", _png(50_000, 50_000), LIMIT)
    assert "Ảnh 'anh.png' quá lớn" in message(exc) and "độ phân giải thấp hơn" in message(exc)
    with pytest.raises(ValidationFailed) as exc:
        check_upload("f", "anh.png", _png(9_000, 9_000), LIMIT)
    assert "(9000×9000 điểm ảnh)" in message(exc)
    assert check_upload("f", "anh.png", _png(4000, 3000), LIMIT) == "image/png"


def test_heic_photo_is_converted_to_jpeg():
    heic = _heic()
    assert is_heif(heic)
    name, mime, content = accept_upload("f", "IMG_0001.HEIC", heic, LIMIT)
    assert (name, mime) == ("IMG_0001.jpg", "image/jpeg") and content.startswith(b"\xff\xd8\xff")
    from PIL import Image

    assert Image.open(io.BytesIO(content)).size == (32, 24)


def test_heic_is_refused_with_the_fix_where_it_cannot_be_converted(monkeypatch):
    heic = _heic()
    with pytest.raises(ValidationFailed) as exc:  # the API path stores files as they come: no conversion there
        check_upload("f", "IMG_0001.heic", heic, LIMIT)
    assert "'IMG_0001.heic' là ảnh HEIC/HEIF" in message(exc) and "chụp lại ở định dạng JPEG" in message(exc)
    monkeypatch.setattr(files, "heif_to_jpeg", lambda content: None)  # pillow-heif missing or photo unreadable
    with pytest.raises(ValidationFailed) as exc:
        accept_upload("f", "IMG_0001.heic", heic, LIMIT)
    assert "Không đọc được ảnh HEIC/HEIF 'IMG_0001.heic'" in message(exc)
    assert "chụp lại ở định dạng JPEG" in message(exc)
    broken = heic[:40]
    monkeypatch.undo()
    with pytest.raises(ValidationFailed) as exc:
        accept_upload("f", "hong.heic", broken, LIMIT)
    assert "chụp lại ở định dạng JPEG" in message(exc)
