"""一键挪车 end to end on the service and the pages: the owner reached by SMS through the gateway simulator
and in their account, never seeing who asked; the requester never seeing the owner's phone (pages, logs,
API answers and audit details grepped for it); every look-up of the phone audited; the monthly and
per-plate limits; 催单 after ten minutes (the clock moved, no sleeping) into the traffic police's queue;
a contested request reviewed, and the third confirmed malicious one banning the requester for a year."""

from __future__ import annotations

import datetime as dt
import io
import logging
import re

import pytest
from django.test import Client

from tests.accounts.conftest import sms_sim  # noqa: F401  (fixture)
from tests.accounts.factories import login_verified, make_officer
from tests.cases.conftest import drain, make_citizen, png_bytes
from tongban.audit.models import AuditEntry
from tongban.carmove import services
from tongban.carmove.models import Ban, MovePhoto, MoveRequest, MoveStatus
from tongban.core import clock
from tongban.core.errors import TongbanError
from tongban.notifications.models import AccountMessage, SmsMessage

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def vehicles(db):
    """A small generated reference registry; its vehicles (plate, type, owner number, phone)."""
    from django.db import connections

    from tongban.registry.generator import generate

    generate(people=120, seed=11, parallel=False)
    with connections["traffic"].cursor() as cursor:
        cursor.execute("SELECT plate, plate_type, owner_id_number, owner_phone FROM traffic_vehicle ORDER BY plate")
        return cursor.fetchall()


def _jpeg_with_exif() -> bytes:
    from PIL import Image

    exif = Image.Exif()
    exif[0x010F] = "SecretPhoneMaker"  # camera make: must not survive the re-encoding
    out = io.BytesIO()
    Image.new("RGB", (64, 48), "blue").save(out, "JPEG", exif=exif)
    return out.getvalue()


def _request(user, vehicle, **extra):
    plate, plate_type = vehicle[0], vehicle[1]
    return services.move_request_create(user=user, plate_type=plate_type, plate=plate,
                                        location=extra.pop("location", "文三路 100 号地下车库 B2-031"),
                                        message=extra.pop("message", "麻烦挪一下车，谢谢"), **extra)


def _later(monkeypatch, minutes: float) -> None:
    moved = clock.now() + dt.timedelta(minutes=minutes)
    monkeypatch.setattr(clock, "now", lambda: moved)


def test_request_reaches_the_owner_privately_and_nudge_escalates(client, sms_sim, vehicles, monkeypatch, caplog):  # noqa: F811
    caplog.set_level(logging.DEBUG)
    plate, plate_type, owner_number, owner_phone = vehicles[0]
    owner = make_citizen(id_number=owner_number, name="车主", phone="13700000001")
    owner.citizen.person_key = owner_number  # as registration stores it: a resident ID is its own key
    owner.citizen.save()
    requester = make_citizen(phone="13900009999")
    officer = make_officer("traffic-a", department="traffic", region_code="330100")
    client.force_login(requester)

    # The phone asks for the camera, not the album; the position on request only.
    page = client.get("/carmove/")
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('capture="environment"') == 3 and 'accept="image/*"' in html
    assert "geolocation=(self)" in page["Permissions-Policy"]

    response = client.post("/carmove/", {"plate_type": plate_type, "plate": plate.lower(), "location": "文三路 100 号",
                                         "message": "挡住出口了", "photo1": io.BytesIO(_jpeg_with_exif())})
    assert response.status_code == 302, response.content.decode()[:2000]
    move = MoveRequest.objects.get(requester=requester)
    assert move.owner_user_id == owner.pk and move.status == MoveStatus.NOTIFIED
    photo = MovePhoto.objects.get(request=move)
    assert b"SecretPhoneMaker" not in bytes(photo.content)  # EXIF gone, stored encrypted
    reads = AuditEntry.objects.filter(action="personal_data.read", subject_id=str(move.pk))
    assert reads.count() == 1 and reads.get().details["purpose"] == "carmove_notify"

    drain()  # the outbox sends the SMS through the gateway simulator
    texts = [m.text for m in sms_sim.messages(owner_phone)]
    assert len(texts) == 1 and plate in texts[0]
    token = re.search(r"/carmove/r/([A-Za-z0-9_-]+)/", texts[0]).group(1)
    assert AccountMessage.objects.filter(user=owner, link=f"/carmove/owner/{move.pk}/").exists()

    # 催单 is refused before ten minutes, allowed after (the clock moved, not slept).
    detail = client.get(f"/carmove/{move.pk}/").content.decode()
    assert 'id="nudge"' not in detail and 'id="nudge-wait"' in detail
    with pytest.raises(TongbanError) as early:
        services.move_request_nudge(user=requester, request_id=move.pk)
    assert early.value.code == "carmove_nudge_too_soon"
    _later(monkeypatch, 10.5)
    assert 'id="nudge"' in client.get(f"/carmove/{move.pk}/").content.decode()
    assert client.post(f"/carmove/{move.pk}/nudge/").status_code == 302
    move.refresh_from_db()
    assert move.nudges == 1 and move.escalated_at is not None
    detail = client.get(f"/carmove/{move.pk}/").content.decode()
    assert "122" in detail and 'id="hotline"' in detail
    assert reads.count() == 2  # each look-up of the phone audited
    drain()
    assert len(sms_sim.messages(owner_phone)) == 2
    new_token = re.search(r"/carmove/r/([A-Za-z0-9_-]+)/", sms_sim.messages(owner_phone)[0].text).group(1)
    assert client.get(f"/carmove/r/{token}/").status_code == 404  # the old link no longer works

    # The owner answers through the link, without signing in; the page never names who asked.
    owner_client = type(client)()
    owner_page = owner_client.get(f"/carmove/r/{new_token}/").content.decode()
    assert plate in owner_page and "13900009999" not in owner_page and "张三" not in owner_page
    assert owner_client.get(f"/carmove/photos/{photo.pk}/?t={new_token}").status_code == 200
    assert owner_client.get(f"/carmove/photos/{photo.pk}/").status_code == 404
    owner_client.post(f"/carmove/r/{new_token}/", {"answer": "moving"})
    move.refresh_from_db()
    assert move.status == MoveStatus.MOVING
    assert AccountMessage.objects.filter(user=requester, title="车主已答复").exists()

    # The traffic police's queue in the back office (its region only) holds the escalated request.
    pages = []
    officer_client = type(client)()
    officer_client.force_login(officer)
    from tongban.carmove import selectors

    assert list(selectors.police_queue(officer)) == [move]
    assert not selectors.police_queue(make_officer("hukou-a", department="hukou", region_code="330100")).exists()
    desk = type(client)()
    login_verified(desk, officer)
    assert f"/backoffice/carmove/{move.pk}/" in desk.get("/backoffice/carmove/").content.decode()
    assert 'id="handle"' in desk.get(f"/backoffice/carmove/{move.pk}/").content.decode()
    desk.post(f"/backoffice/carmove/{move.pk}/act/", {"go": "handle", "note": "已联系车主挪车"})
    assert not selectors.police_queue(officer).exists()
    pages.append(desk.get(f"/backoffice/carmove/{move.pk}/").content.decode())

    # The owner's phone is in no page, log line, API answer or audit detail.
    pages += [client.get(u).content.decode() for u in ("/carmove/", f"/carmove/{move.pk}/", "/me/messages/")]
    pages.append(owner_client.get(f"/carmove/r/{new_token}/").content.decode())
    answer = client.get(f"/api/v1/carmove/requests/{move.pk}")
    assert answer.status_code == 200 and answer.json()["escalated"] is True
    assert owner_client.get(f"/api/v1/carmove/requests/{move.pk}").status_code == 401
    assert officer_client.get(f"/api/v1/carmove/requests/{move.pk}").status_code == 404
    api = answer.content.decode()
    audit = " ".join(str(e.details) for e in AuditEntry.objects.all())
    logs = caplog.text
    for text in [*pages, api, audit, logs]:
        assert owner_phone not in text
        assert owner_number not in text
    sms_row = SmsMessage.objects.filter(purpose="carmove").first()
    assert sms_row is not None and sms_row.phone == owner_phone  # kept only encrypted, in the outbox's row


def test_limits_monthly_per_plate_and_phone_numbers_in_text(vehicles, sms_sim, settings):  # noqa: F811
    settings.TONGBAN_CARMOVE = {"MONTHLY_LIMIT": 2, "PLATE_DAILY_LIMIT": 2}
    requester = make_citizen(phone="13900008888")
    with pytest.raises(TongbanError) as caught:
        _request(requester, vehicles[1], message="有事打我 139 0000 8888")
    assert caught.value.code == "carmove_contact_in_text"
    with pytest.raises(TongbanError) as caught:
        _request(make_citizen(level=0, phone="13900008887"), vehicles[1])
    assert caught.value.code == "carmove_level_too_low"
    with pytest.raises(TongbanError) as caught:
        _request(requester, ("浙A1234", "02"))
    assert caught.value.code == "carmove_plate_invalid"

    _request(requester, vehicles[1])
    with pytest.raises(TongbanError) as caught:
        _request(requester, vehicles[1])
    assert caught.value.code == "carmove_already_open"
    _request(requester, vehicles[2])
    with pytest.raises(TongbanError) as caught:
        _request(requester, vehicles[3])
    assert caught.value.code == "carmove_monthly_limit" and caught.value.http_status() == 429
    assert MoveRequest.objects.filter(requester=requester).count() == 2  # nothing half-written

    # Per plate: whoever asks, a plate is notified at most PLATE_DAILY_LIMIT times a day.
    _request(make_citizen(phone="13900008886"), vehicles[4])
    _request(make_citizen(phone="13900008885"), vehicles[4])
    with pytest.raises(TongbanError) as caught:
        _request(make_citizen(phone="13900008884"), vehicles[4])
    assert caught.value.code == "carmove_plate_limit"
    with pytest.raises(TongbanError) as caught:
        _request(make_citizen(phone="13900008883"), ("浙A00000", "02"))
    assert caught.value.code == "carmove_plate_unknown"
    assert AuditEntry.objects.filter(action="personal_data.read", details__found=False).count() == 1

    with pytest.raises(TongbanError) as caught:
        _request(make_citizen(phone="13900008882"), vehicles[5], photos=[io.BytesIO(png_bytes())] * 4)
    assert caught.value.code == "carmove_too_many_photos"
    with pytest.raises(TongbanError) as caught:
        _request(make_citizen(phone="13900008881"), vehicles[5], photos=[io.BytesIO(b"#!/bin/sh\necho hi\n")])
    assert caught.value.code == "upload_type_not_allowed"


def test_three_confirmed_malicious_requests_ban_for_a_year(vehicles, sms_sim, settings, monkeypatch):  # noqa: F811
    settings.TONGBAN_CARMOVE = {"MONTHLY_LIMIT": 10}
    requester = make_citizen(phone="13900007777")
    officer = make_officer("traffic-b", department="traffic", region_code="330100")
    other_region = make_officer("traffic-c", department="traffic", region_code="440100")
    for n in range(3):
        move = _request(requester, vehicles[6 + n])
        token = f"token-{n}"
        move.reply_token_sm3 = services._token_digest(token)
        move.save(update_fields=["reply_token_sm3"])
        services.move_request_reply(request_id=move.pk, answer="contest", reason="车停在自家车位，未挡道", token=token)
        with pytest.raises(TongbanError) as hidden:
            services.move_request_review(user=other_region, request_id=move.pk, outcome="malicious")
        assert hidden.value.code == "not_found"
        if n == 2:  # the last one through the back office page
            desk = Client()
            login_verified(desk, officer)
            assert 'id="contest-reason"' in desk.get(f"/backoffice/carmove/{move.pk}/").content.decode()
            desk.post(f"/backoffice/carmove/{move.pk}/act/", {"go": "review", "outcome": "malicious"})
        else:
            services.move_request_review(user=officer, request_id=move.pk, outcome="malicious")
        assert Ban.objects.filter(user=requester).exists() == (n == 2)
    ban = Ban.objects.get(user=requester)
    assert (ban.ends_at - ban.starts_at).days == 365
    with pytest.raises(TongbanError) as caught:
        _request(requester, vehicles[10])
    assert caught.value.code == "carmove_banned"
    _later(monkeypatch, 366 * 24 * 60)
    assert services.active_ban(requester) is None


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_limits_hold_when_requests_race(vehicles, sms_sim, settings):  # noqa: F811
    """Requests at the same instant are counted one after the other (the requester's row and, on PostgreSQL,
    the plate's advisory lock): neither the per-plate nor the monthly limit can be overrun by racing."""
    import threading

    from django.db import connections

    settings.TONGBAN_CARMOVE = {"MONTHLY_LIMIT": 1, "PLATE_DAILY_LIMIT": 2}
    askers = [make_citizen(phone=f"1390000770{n}") for n in range(5)]
    one = make_citizen(phone="13900007799")
    results: list[str] = []
    start = threading.Barrier(5 + 3)

    def ask(user, vehicle):
        try:
            start.wait(10)
            _request(user, vehicle)
            results.append("created")
        except TongbanError as exc:
            results.append(exc.code)
        finally:
            for connection in connections.all():
                connection.close()

    threads = [threading.Thread(target=ask, args=(user, vehicles[6])) for user in askers]
    threads += [threading.Thread(target=ask, args=(one, vehicle)) for vehicle in vehicles[7:10]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    plate_rows = MoveRequest.objects.filter(requester__in=askers).count()
    assert plate_rows == 2 and MoveRequest.objects.filter(requester=one).count() == 1, results
    assert sorted(results).count("created") == 3
    assert results.count("carmove_plate_limit") == 3 and results.count("carmove_monthly_limit") == 2
    assert AuditEntry.objects.filter(action="carmove.refused").count() == 5  # every refusal audited
