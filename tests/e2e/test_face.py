"""实人 (L3) in the browser: Chromium's fake camera plays a recorded burst to the portal's camera page.

The recordings are built here from the real faces that ship in packages (tongban.face.samples): a person
looking at the camera then turning to their left, and a still photo of the same person held up. The first
reaches L3; the second is refused. The challenge is fixed to "turn left" to match the recording.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.face.conftest import make_l2_citizen, needs_face
from tongban.accounts.models import CitizenProfile
from tongban.face import services
from tongban.face.liveness import Challenge

pytestmark = [pytest.mark.django_db(transaction=True, databases="__all__"), needs_face]

FPS = 10


def write_y4m(path: Path, frames: list[np.ndarray]) -> Path:
    """An uncompressed YUV 4:2:0 (JPEG range) file, what --use-file-for-fake-video-capture plays in a loop."""
    from PIL import Image

    height, width = frames[0].shape[:2]
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{FPS}:1 Ip A1:1 C420jpeg\n".encode())
        for rgb in frames:
            ycc = np.asarray(Image.fromarray(rgb).convert("YCbCr"))
            out.write(b"FRAME\n")
            out.write(np.ascontiguousarray(ycc[..., 0]).tobytes())
            for channel in (1, 2):
                plane = ycc[..., channel].astype(np.uint16)
                half = (plane[0::2, 0::2] + plane[1::2, 0::2] + plane[0::2, 1::2] + plane[1::2, 1::2] + 2) // 4
                out.write(half.astype(np.uint8).tobytes())
    return path


def recordings(tmp_path: Path) -> tuple[Path, Path]:
    from tongban.face import matcher, samples

    base = samples.selfie("astronaut")
    box = matcher.analyse(base, encode=False).box
    assert box is not None
    # 1 s looking at the camera, 1 s turning to the left, then held (the file loops after 6 s).
    turning = [samples.turned(base, box, 0.22 * (i + 1) / FPS) for i in range(FPS)]
    person = [base] * FPS + turning + [turning[-1]] * (4 * FPS)
    return write_y4m(tmp_path / "person.y4m", person), write_y4m(tmp_path / "still.y4m", [base] * FPS)


def _camera_page(browser_type, live_server, video: Path, phone: str):
    browser = browser_type.launch(executable_path=CHROMIUM, headless=True, args=[
        *CHROMIUM_ARGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={video}"])
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}, is_mobile=True,
                                  has_touch=True, permissions=["camera"])
    page = context.new_page()
    page.goto(live_server.url + "/login/")
    page.fill("#id_username", phone)
    page.fill("#id_password", "Citizen-2026-pw")
    page.click("button[type=submit]")
    page.wait_for_url("**/me/")
    page.click("text=升级为实人 L3（刷脸）")
    page.wait_for_url("**/me/face/")
    return browser, page


def test_a_person_reaches_l3_and_a_still_photo_is_refused(browser, live_server, tmp_path, monkeypatch,
                                                          assert_accessible):
    # A browser of its own (a fake camera playing a recording), launched by the session's Playwright: a second
    # sync_playwright() in the same thread refuses to start while the session's runs.
    chromium = browser.browser_type  # type: ignore[attr-defined]
    monkeypatch.setattr(services, "pick_challenge", lambda: Challenge.TURN_LEFT)
    person_video, still_video = recordings(tmp_path)
    user = make_l2_citizen("face-e2e", serial=901)
    phone = CitizenProfile.objects.get(user=user).phone
    camera, page = _camera_page(chromium, live_server, still_video, phone)
    try:
        assert_accessible(page)
        page.click("#face-start")
        page.wait_for_selector("#face-prompt:has-text('向左转头')", timeout=10_000)
        page.wait_for_selector("#face[data-result]", timeout=30_000)
        assert page.get_attribute("#face", "data-result") == "refused"
        assert "未完成指定动作" in page.locator("#face-status").inner_text()
    finally:
        camera.close()
    assert CitizenProfile.objects.get(user=user).level == 2

    camera, page = _camera_page(chromium, live_server, person_video, phone)
    try:
        page.click("#face-start")
        page.wait_for_selector("#face-prompt:has-text('向左转头')", timeout=10_000)
        page.wait_for_url("**/me/", timeout=30_000)
        assert page.locator("#level").get_attribute("data-level") == "3"
        assert "实人" in page.locator("#level").inner_text()
    finally:
        camera.close()


def test_a_refused_camera_gets_a_clear_fallback(phone_page, live_server, assert_accessible):
    """No camera permission (the plain test browser has neither a device nor the grant): the page says why
    and what to do instead, and stays accessible."""
    user = make_l2_citizen("face-e2e2", serial=902)
    phone = CitizenProfile.objects.get(user=user).phone
    page = phone_page
    page.goto(live_server.url + "/login/")
    page.fill("#id_username", phone)
    page.fill("#id_password", "Citizen-2026-pw")
    page.click("button[type=submit]")
    page.wait_for_url("**/me/")
    page.goto(live_server.url + "/me/face/")
    page.click("#face-start")
    page.wait_for_selector("#face-fallback:not([hidden])", timeout=15_000)
    assert "无法使用摄像头" in page.locator("#face-fallback").inner_text()
    assert page.locator("#face-start").is_hidden()
    assert_accessible(page)
