"""Real-person verification through the portal's two calls, on real faces: L3 reached, a still photo refused,
another person rejected, the middle band reviewed by four eyes, images kept only while under review."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.accounts.factories import login_verified, make_officer
from tests.face.conftest import make_l2_citizen, needs_face
from tongban.accounts.models import CitizenProfile
from tongban.audit.models import AuditEntry
from tongban.face import services
from tongban.face.liveness import Challenge
from tongban.face.models import CheckStatus, FaceCheck

pytestmark = [pytest.mark.django_db(databases="__all__"), needs_face]


@pytest.fixture
def citizen(client):
    user = make_l2_citizen()
    client.force_login(user)
    return user


def _fix(monkeypatch, challenge: Challenge) -> None:
    monkeypatch.setattr(services, "pick_challenge", lambda: challenge)


def _run(client, frames: list[bytes]) -> tuple[int, dict]:
    issued = client.post(reverse("face:challenge"))
    assert issued.status_code == 200, issued.content
    challenge_id = issued.json()["challenge_id"]
    files = {"challenge_id": challenge_id,
             "frames": [_upload(i, data) for i, data in enumerate(frames)]}
    response = client.post(reverse("face:check"), files)
    return response.status_code, response.json()


def _upload(index: int, data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(f"f{index}.jpg", data, content_type="image/jpeg")


def _level(user) -> int:
    return CitizenProfile.objects.get(user=user).level


def test_the_person_turning_as_asked_reaches_l3(client, citizen, bursts, monkeypatch):
    _fix(monkeypatch, Challenge.TURN_LEFT)
    status, body = _run(client, bursts.left)
    assert status == 200 and body["passed"] is True and body["status"] == "accepted"
    assert "distance" not in body and _level(citizen) == 3
    check = FaceCheck.objects.get()
    assert check.status == CheckStatus.ACCEPTED and check.distance is not None and check.distance <= 0.45
    assert check.selfie is None and check.card_photo is None  # nothing kept after the decision
    entry = AuditEntry.objects.filter(action="face.check").get()
    assert entry.details["status"] == "accepted" and entry.details["images_kept"] is False
    assert AuditEntry.objects.filter(action="account.identity.verify").exists() or \
        AuditEntry.objects.filter(details__new_level=3).exists()


def test_a_replayed_still_photo_fails_the_challenge(client, citizen, bursts, monkeypatch):
    _fix(monkeypatch, Challenge.TURN_LEFT)
    status, body = _run(client, bursts.still)
    assert status == 200 and body["passed"] is False and body["reason"] == "face_challenge_failed"
    assert _level(citizen) == 2
    assert FaceCheck.objects.get().status == CheckStatus.REFUSED


def test_turning_the_other_way_fails_the_challenge(client, citizen, bursts, monkeypatch):
    _fix(monkeypatch, Challenge.TURN_RIGHT)
    status, body = _run(client, bursts.left)
    assert body["reason"] == "face_challenge_failed" and _level(citizen) == 2
    status, body = _run(client, bursts.right)
    assert body["passed"] is True and _level(citizen) == 3


def test_another_person_is_rejected(client, citizen, bursts, monkeypatch):
    _fix(monkeypatch, Challenge.TURN_LEFT)
    status, body = _run(client, bursts.other_left)
    assert body["passed"] is False and body["reason"] == "face_mismatch" and _level(citizen) == 2
    check = FaceCheck.objects.get()
    assert check.status == CheckStatus.REJECTED and check.distance > 0.6 and check.selfie is None


def test_a_challenge_is_used_once_and_frames_are_bounded(client, citizen, bursts, monkeypatch):
    _fix(monkeypatch, Challenge.TURN_LEFT)
    challenge_id = client.post(reverse("face:challenge")).json()["challenge_id"]
    few = client.post(reverse("face:check"), {"challenge_id": challenge_id,
                                              "frames": [_upload(0, bursts.left[0])]})
    assert few.status_code == 422 and few.json()["error"]["code"] == "face_frames_invalid"
    again = client.post(reverse("face:check"), {"challenge_id": challenge_id,
                                                "frames": [_upload(i, d) for i, d in enumerate(bursts.left)]})
    assert again.json()["error"]["code"] == "face_challenge_invalid"
    challenge_id = client.post(reverse("face:challenge")).json()["challenge_id"]
    fake = client.post(reverse("face:check"), {"challenge_id": challenge_id, "frames": [
        _upload(i, b"<script>alert(1)</script>" * 10) for i in range(6)]})
    assert fake.status_code == 415 and fake.json()["error"]["code"] == "upload_type_not_allowed"
    assert not FaceCheck.objects.exists() and _level(citizen) == 2


def test_the_middle_band_goes_to_four_eyes_review(client, citizen, bursts, monkeypatch, settings):
    settings.TONGBAN_FACE = {"accept_max": 0.05, "review_max": 0.6}  # the astronaut's own distance is ~0.15
    _fix(monkeypatch, Challenge.TURN_LEFT)
    status, body = _run(client, bursts.left)
    assert body["passed"] is False and body["reason"] == "face_review" and "distance" not in body
    check = FaceCheck.objects.get()
    assert check.status == CheckStatus.REVIEW and check.selfie and check.card_photo
    assert bytes(check.selfie)[:3] == b"\xff\xd8\xff"
    from django.db import connection

    with connection.cursor() as cursor:  # encrypted at rest: the stored bytes are no JPEG
        cursor.execute("SELECT selfie FROM face_facecheck")
        stored = bytes(cursor.fetchone()[0])
    assert not stored.startswith(b"\xff\xd8\xff") and b"JFIF" not in stored

    first, second = make_officer("hk1"), make_officer("hk2")
    traffic = make_officer("tr1", department="traffic")
    staff = client.__class__()
    login_verified(staff, traffic)
    assert staff.get(reverse("face:review_list")).status_code == 403  # another department may not review
    login_verified(staff, first)
    page = staff.get(reverse("face:review_detail", args=[check.pk]))
    assert page.status_code == 200
    image = staff.get(reverse("face:review_image", args=[check.pk, "selfie"]))
    assert image.status_code == 200 and image.content[:3] == b"\xff\xd8\xff"
    assert AuditEntry.objects.filter(action="face.image.open").count() == 1
    staff.post(reverse("face:review_detail", args=[check.pk]), {"decision": "approve"})
    staff.post(reverse("face:review_detail", args=[check.pk]), {"decision": "approve"})  # the same eyes again
    check.refresh_from_db()
    assert check.status == CheckStatus.REVIEW and check.first_reviewer == first and _level(citizen) == 2
    login_verified(staff, second)
    staff.post(reverse("face:review_detail", args=[check.pk]), {"decision": "approve"})
    check.refresh_from_db()
    assert check.status == CheckStatus.APPROVED and check.second_reviewer == second
    assert check.selfie is None and check.card_photo is None  # deleted with the decision
    assert _level(citizen) == 3
    steps = [e.details["step"] for e in AuditEntry.objects.filter(action="face.review").order_by("id")]
    assert steps == ["first", "second"]


def test_reviewers_who_disagree_send_it_back(client, citizen, bursts, monkeypatch, settings):
    settings.TONGBAN_FACE = {"accept_max": 0.05}
    _fix(monkeypatch, Challenge.TURN_LEFT)
    _run(client, bursts.left)
    check = FaceCheck.objects.get()
    first, second = make_officer("hk1"), make_officer("hk2")
    services.face_review_decide(actor=first, check_id=check.pk, decision="approve")
    services.face_review_decide(actor=second, check_id=check.pk, decision="deny")
    check.refresh_from_db()
    assert check.status == CheckStatus.REVIEW and not check.first_reviewer_id and check.selfie
    services.face_review_decide(actor=second, check_id=check.pk, decision="deny")
    services.face_review_decide(actor=first, check_id=check.pk, decision="deny")
    check.refresh_from_db()
    assert check.status == CheckStatus.DENIED and check.selfie is None and _level(citizen) == 2


def test_challenges_are_rate_limited_per_citizen(client, citizen, settings):
    settings.TONGBAN_FACE_CHALLENGES_PER_HOUR = (2, 100)
    assert [client.post(reverse("face:challenge")).status_code for _ in range(3)] == [200, 200, 429]


def test_the_demo_puts_one_check_in_the_review_queue():
    from tongban.face.demo import face_demo_ensure

    check = face_demo_ensure()
    assert check is not None and face_demo_ensure().pk == check.pk  # idempotent
    assert check.status == CheckStatus.REVIEW and check.distance is not None and check.selfie and check.card_photo
    first, second = make_officer("hk1"), make_officer("hk2")
    services.face_review_decide(actor=first, check_id=check.pk, decision="approve")
    decided = services.face_review_decide(actor=second, check_id=check.pk, decision="approve")
    assert decided.status == CheckStatus.APPROVED and decided.selfie is None
