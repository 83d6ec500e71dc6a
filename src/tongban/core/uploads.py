"""Uploaded files are judged by their bytes, never by the name or the Content-Type the client sent.

`sniff_upload` reads the leading magic bytes, checks the size, and for images has Pillow parse the
whole file, so a script renamed `photo.jpg` or a PDF with a PNG header is refused.
"""

from __future__ import annotations

import io
from typing import IO, Any

from tongban.core.errors import TongbanError

DEFAULT_ALLOWED = frozenset({"image/jpeg", "image/png", "application/pdf"})
DEFAULT_MAX_BYTES = 10 * 1024 * 1024

# (MIME type, offset, signature). Longest signatures first where they share a prefix.
_SIGNATURES: tuple[tuple[str, int, bytes], ...] = (
    ("image/png", 0, b"\x89PNG\r\n\x1a\n"),
    ("image/jpeg", 0, b"\xff\xd8\xff"),
    ("application/pdf", 0, b"%PDF-"),
    ("image/gif", 0, b"GIF87a"),
    ("image/gif", 0, b"GIF89a"),
    ("image/webp", 8, b"WEBP"),  # RIFF....WEBP
)
_PILLOW_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/gif": "GIF", "image/webp": "WEBP"}


def detect_type(head: bytes) -> str | None:
    """The MIME type the leading bytes announce, or None."""
    for mime, offset, signature in _SIGNATURES:
        if head[offset:offset + len(signature)] == signature:
            if mime == "image/webp" and not head.startswith(b"RIFF"):
                continue
            return mime
    return None


def _read_all(file: Any, max_bytes: int) -> bytes:
    if hasattr(file, "seek"):
        file.seek(0)
    if hasattr(file, "chunks"):  # Django's UploadedFile
        buffer = bytearray()
        for chunk in file.chunks():
            buffer.extend(chunk)
            if len(buffer) > max_bytes:
                break
        data = bytes(buffer)
    else:
        data = file.read(max_bytes + 1)
    if hasattr(file, "seek"):
        file.seek(0)
    return data


def sniff_upload(file: IO[bytes] | Any, *, allowed: frozenset[str] | set[str] = DEFAULT_ALLOWED,
                 max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """Return the file's real MIME type if it is allowed and whole; raise TongbanError otherwise.

    Codes: upload_empty, upload_too_large, upload_type_not_allowed, upload_corrupt.
    """
    declared_size = getattr(file, "size", None)
    if isinstance(declared_size, int) and declared_size > max_bytes:
        raise _too_large(max_bytes)
    data = _read_all(file, max_bytes)
    if not data:
        raise TongbanError("upload_empty")
    if len(data) > max_bytes:
        raise _too_large(max_bytes)
    mime = detect_type(data[:32])
    if mime is None or mime not in allowed:
        raise TongbanError("upload_type_not_allowed", details=[{"allowed": sorted(allowed)}])
    if mime in _PILLOW_FORMATS:
        _check_image(data, _PILLOW_FORMATS[mime])
    elif mime == "application/pdf" and b"%%EOF" not in data[-1024:]:
        raise TongbanError("upload_corrupt")
    return mime


def _too_large(max_bytes: int) -> TongbanError:
    return TongbanError("upload_too_large", details=[{"max_bytes": max_bytes}])


def _check_image(data: bytes, expected_format: str) -> None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format != expected_format:
                raise TongbanError("upload_corrupt")
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise TongbanError("upload_corrupt") from exc
