"""Uploads are judged by their bytes: a disguised file is refused whatever its name and declared type."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from tongban.core.errors import TongbanError
from tongban.core.uploads import detect_type, sniff_upload


def _image(fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(buffer, format=fmt)
    return buffer.getvalue()


PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def _code(data, name="x.bin", content_type="application/octet-stream", **kwargs):
    with pytest.raises(TongbanError) as exc:
        sniff_upload(SimpleUploadedFile(name, data, content_type=content_type), **kwargs)
    return exc.value.code


def test_real_files_pass():
    assert sniff_upload(SimpleUploadedFile("a.jpg", _image("JPEG"))) == "image/jpeg"
    assert sniff_upload(SimpleUploadedFile("a.png", _image("PNG"))) == "image/png"
    assert sniff_upload(SimpleUploadedFile("a.pdf", PDF)) == "application/pdf"
    assert sniff_upload(io.BytesIO(_image("PNG"))) == "image/png"  # any binary file object


def test_name_and_declared_type_do_not_matter():
    # A PNG named .pdf and declared as a PDF is a PNG.
    assert sniff_upload(SimpleUploadedFile("scan.pdf", _image("PNG"), content_type="application/pdf")) == "image/png"


def test_disguised_script_is_refused():
    script = b"<?php system($_GET['c']); ?>"
    assert _code(script, "photo.jpg", "image/jpeg") == "upload_type_not_allowed"
    assert _code(b"MZ\x90\x00" + b"\x00" * 100, "id.png", "image/png") == "upload_type_not_allowed"
    assert _code(b"<html><script>alert(1)</script></html>", "a.pdf", "application/pdf") == "upload_type_not_allowed"


def test_magic_bytes_followed_by_garbage_is_refused():
    assert _code(b"\x89PNG\r\n\x1a\n" + b"<script>alert(1)</script>" * 10, "a.png", "image/png") == "upload_corrupt"
    assert _code(b"\xff\xd8\xff\xe0" + b"not really a jpeg" * 10, "a.jpg", "image/jpeg") == "upload_corrupt"
    assert _code(b"%PDF-1.4 but cut short", "a.pdf", "application/pdf") == "upload_corrupt"


def test_type_outside_the_allowed_set_is_refused():
    assert _code(_image("GIF"), "a.gif", "image/gif") == "upload_type_not_allowed"
    assert sniff_upload(SimpleUploadedFile("a.gif", _image("GIF")), allowed={"image/gif"}) == "image/gif"
    assert _code(PDF, "a.pdf", allowed={"image/jpeg"}) == "upload_type_not_allowed"


def test_size_limit_and_empty():
    assert _code(_image("PNG"), max_bytes=50) == "upload_too_large"
    assert _code(b"") == "upload_empty"
    with pytest.raises(TongbanError) as exc:
        sniff_upload(SimpleUploadedFile("a.png", _image("PNG")), max_bytes=50)
    assert exc.value.http_status() == 413


def test_error_codes_have_messages():
    error = TongbanError("upload_type_not_allowed")
    assert error.http_status() == 415 and "PDF" in error.message("zh")


def test_detect_type():
    assert detect_type(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert detect_type(b"XXXX\x00\x00\x00\x00WEBP") is None
    assert detect_type(b"") is None


def test_file_position_is_restored():
    upload = SimpleUploadedFile("a.png", _image("PNG"))
    upload.read(3)
    sniff_upload(upload)
    assert upload.tell() == 0
