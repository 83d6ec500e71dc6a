"""Citizen accounts through the pages: register by phone, verify identity, log in by password or
code, recover, sessions, change phone, close — codes read from the SMS simulator."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.accounts.conftest import code_for, deliver, past_cooldown
from tongban.accounts.models import CitizenProfile, LoginSession, User
from tongban.audit.models import AuditEntry
from tongban.crypto.fields import blind_lookup

pytestmark = pytest.mark.django_db(databases="__all__")

PASSWORD = "Citizen-2026-pw"
PHONE = "13912345678"


def register(client, sim, phone=PHONE, password=PASSWORD):
    response = client.post("/register/", {"phone": phone})
    assert response.status_code == 302 and response["Location"] == "/register/verify/"
    code = code_for(sim, phone)
    response = client.post("/register/verify/", {"code": code, "password": password, "password2": password})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert response["Location"] == "/me/identity/"
    return User.objects.get(citizen__phone_bidx=blind_lookup(CitizenProfile, "phone", phone)["phone_bidx"])


def card_dates(person):
    card = person["card"]
    end = card["valid_to"]
    return {"card_valid_from": card["valid_from"], "card_valid_to": "" if end == "长期" else end,
            "card_long_term": "on" if end == "长期" else ""}


def test_register_then_verify_to_l2_mainland(client, sms_sim, people):
    user = register(client, sms_sim)
    assert user.kind == "citizen" and user.username.startswith("yw") and user.citizen.level == 0
    person = people.mainland[0]
    response = client.post("/me/identity/", {"id_type": "resident_id", "id_number": person["id_number"],
                                             "name": person["name"], "level": "2", **card_dates(person)})
    assert response.status_code == 302, response.content.decode()[-3000:]
    profile = CitizenProfile.objects.get(user=user)
    assert profile.level == 2 and profile.id_number == person["id_number"] and profile.name == person["name"]
    page = client.get("/me/").content.decode()
    assert "实证 L2" in page
    assert person["id_number"][:3] + "*" * 11 + person["id_number"][-4:] in page
    assert person["name"][0] + "*" in page and person["name"] not in page
    assert "139****5678" in page
    assert AuditEntry.objects.filter(action="personal_data.read", subject_id=str(user.pk)).exists()


def test_hk_resident_to_l2_with_permit(client, sms_sim, people):
    user = register(client, sms_sim, phone="13700000077")
    permit = people.hk_macao[0]
    response = client.post("/me/identity/", {"id_type": "hk_macao_permit",
                                             "id_number": permit["permit_number_with_count"],
                                             "name": permit["name_en"], "level": "2"})
    assert response.status_code == 302, response.content.decode()[-3000:]
    profile = CitizenProfile.objects.get(user=user)
    assert profile.level == 2 and profile.id_type == "hk_macao_permit"
    assert profile.person_key == permit["permit_number"]
    page = client.get("/me/").content.decode()
    assert "实证 L2" in page and permit["permit_number"][0] + "****" in page


def test_same_identity_twice_is_refused_without_saying_whose(client, sms_sim, people):
    person = people.mainland[1]
    fields = {"id_type": "resident_id", "id_number": person["id_number"], "name": person["name"], "level": "1"}
    register(client, sms_sim, phone="13600000001")
    assert client.post("/me/identity/", fields).status_code == 302
    client.logout()
    register(client, sms_sim, phone="13600000002")
    response = client.post("/me/identity/", fields)
    body = response.content.decode()
    assert response.status_code == 422 and "该身份已注册，请找回账号" in body
    assert "136****0001" not in body


def test_wrong_name_is_a_clear_error(client, sms_sim, people):
    register(client, sms_sim)
    person = people.mainland[0]
    response = client.post("/me/identity/", {"id_type": "resident_id", "id_number": person["id_number"],
                                             "name": "王某某", "level": "1"})
    assert response.status_code == 422 and "姓名与证件号码不一致" in response.content.decode()
    assert CitizenProfile.objects.get(user__username=response.wsgi_request.user.username).level == 0


def test_login_by_password_and_by_code(client, sms_sim):
    register(client, sms_sim)
    client.post("/logout/")
    response = client.post("/login/", {"username": "139 1234 5678", "password": "wrong"})
    assert response.status_code == 422 and "手机号或密码不正确" in response.content.decode()
    response = client.post("/login/", {"username": PHONE, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/me/"
    client.post("/logout/")
    past_cooldown()  # one code per phone a minute, whatever its purpose: the registration code was one
    assert client.post("/login/code/", {"phone": PHONE}).status_code == 302
    code = code_for(sms_sim, PHONE)
    response = client.post("/login/code/verify/", {"code": code})
    assert response.status_code == 302 and client.get("/me/").status_code == 200
    methods = set(LoginSession.objects.values_list("method", flat=True))
    assert "sms_code" in methods


def test_recover_password_by_code(client, sms_sim):
    register(client, sms_sim)
    client.post("/logout/")
    past_cooldown()
    assert client.post("/recover/", {"phone": PHONE}).status_code == 302
    code = code_for(sms_sim, PHONE)
    new = "Another-Pass-2026"
    response = client.post("/recover/verify/", {"code": code, "password": new, "password2": new})
    assert response.status_code == 302
    assert client.post("/login/", {"username": PHONE, "password": new}).status_code == 302


def test_change_phone_needs_password_and_new_phone_code(client, sms_sim):
    user = register(client, sms_sim)
    response = client.post("/me/phone/", {"phone": "13512345678", "password": "wrong"})
    assert response.status_code == 422 and "登录密码不正确" in response.content.decode()
    assert client.post("/me/phone/", {"phone": "13512345678", "password": PASSWORD}).status_code == 302
    code = code_for(sms_sim, "13512345678")
    assert client.post("/me/phone/verify/", {"code": code}).status_code == 302
    assert CitizenProfile.objects.get(user=user).phone == "13512345678"
    deliver()
    assert "更换为 135****5678" in sms_sim.messages(PHONE)[0].text
    assert AuditEntry.objects.filter(details__event="phone_changed").exists()


def test_sessions_list_and_revoke(client, sms_sim):
    from django.test import Client

    register(client, sms_sim)
    other = Client(HTTP_USER_AGENT="Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Safari/604.1")
    assert other.post("/login/", {"username": PHONE, "password": PASSWORD}).status_code == 302
    page = client.get("/me/sessions/").content.decode()
    assert "Safari · iPhone" in page and "本机" in page
    row = LoginSession.objects.get(user_agent="Safari · iPhone")
    assert client.post(f"/me/sessions/{row.pk}/revoke/").status_code == 302
    assert other.get("/me/").status_code == 302  # signed out there
    assert client.get("/me/").status_code == 200  # still signed in here


def test_revoke_works_with_the_cache_session_engine(client, sms_sim, settings):
    from django.test import Client

    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cache"
    register(client, sms_sim)
    other = Client()
    assert other.post("/login/", {"username": PHONE, "password": PASSWORD}).status_code == 302
    assert other.get("/me/").status_code == 200
    assert client.post("/me/sessions/revoke-others/").status_code == 302
    assert other.get("/me/").status_code == 302 and client.get("/me/").status_code == 200
    assert LoginSession.objects.count() == 1


def test_another_users_session_is_not_found(client, sms_sim):
    from django.test import Client

    register(client, sms_sim)
    other = Client()
    register(other, sms_sim, phone="13912345679")
    theirs = LoginSession.objects.exclude(pk=LoginSession.objects.order_by("pk").first().pk).get()
    assert client.post(f"/me/sessions/{theirs.pk}/revoke/").status_code == 404
    assert other.get("/me/").status_code == 200


def test_close_account_erases_personal_data(client, sms_sim, people):
    user = register(client, sms_sim)
    person = people.mainland[2]
    client.post("/me/identity/", {"id_type": "resident_id", "id_number": person["id_number"],
                                  "name": person["name"], "level": "1"})
    response = client.post("/me/close/", {"password": PASSWORD, "confirm": "on"})
    assert response.status_code == 200 and "账号已注销" in response.content.decode()
    profile = CitizenProfile.objects.get(user=user)
    assert profile.phone is None and profile.id_number is None and profile.name is None
    assert profile.phone_bidx is None and profile.person_key_bidx is None and profile.closed_at
    user.refresh_from_db()
    assert not user.is_active and not user.has_usable_password()
    assert client.get("/me/").status_code == 302
    # The phone and the identity can be registered again (once the resend cooldown has passed).
    past_cooldown()
    register(client, sms_sim)
    response = client.post("/me/identity/", {"id_type": "resident_id", "id_number": person["id_number"],
                                             "name": person["name"], "level": "1"})
    assert response.status_code == 302


def test_card_dates_required_for_l2(client, sms_sim, people):
    register(client, sms_sim)
    person = people.mainland[0]
    response = client.post("/me/identity/", {"id_type": "resident_id", "id_number": person["id_number"],
                                             "name": person["name"], "level": "2"})
    assert response.status_code == 422 and "有效期" in response.content.decode()
    assert dt.date.today()  # nothing verified
