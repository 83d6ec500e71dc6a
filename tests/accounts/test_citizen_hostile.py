"""Hostile and malformed input on the citizen pages: clear errors next to the field, never a 500."""

from __future__ import annotations

import pytest

from tests.accounts.test_citizen_flows import register

pytestmark = pytest.mark.django_db(databases="__all__")

NASTY = ["", " ", "x" * 10_000, "<script>alert(1)</script>", "' OR '1'='1", "13800138000'; DROP TABLE x;--",
         "\x00\x01", "１３８００１３８０００", "😀" * 50, "110105199001011234" * 3]


@pytest.mark.parametrize("value", NASTY)
def test_public_forms_answer_with_a_page(client, sms_sim, value):
    for path, data in (("/login/", {"username": value, "password": value}), ("/register/", {"phone": value}),
                       ("/login/code/", {"phone": value}), ("/recover/", {"phone": value}),
                       ("/register/verify/", {"code": value, "password": value, "password2": value}),
                       ("/login/code/verify/", {"code": value}), ("/recover/verify/", {"code": value})):
        response = client.post(path, data)
        assert response.status_code in (302, 401, 422, 429), (path, response.status_code)
        assert b"<script>alert" not in response.content


@pytest.mark.parametrize("value", NASTY)
def test_identity_form_with_nonsense(client, sms_sim, value):
    register(client, sms_sim)
    for id_type in ("resident_id", "hk_macao_permit", value):
        response = client.post("/me/identity/", {"id_type": id_type, "id_number": value, "name": value,
                                                 "level": "2", "card_valid_from": value, "card_valid_to": value})
        assert response.status_code == 422, response.status_code
        body = response.content.decode()
        assert 'class="error' in body and "<script>alert" not in body


def test_wrong_formats_say_what_is_wrong(client, sms_sim, people):
    register(client, sms_sim)
    cases = [
        ({"id_type": "resident_id", "id_number": "11010519900101123", "name": "张三", "level": "1"}, "18 位"),
        ({"id_type": "resident_id", "id_number": "110105199001011235", "name": "张三", "level": "1"}, "校验码"),
        ({"id_type": "hk_macao_permit", "id_number": "X1234567", "name": "CHAN Tai Man", "level": "1"}, "H 或 M"),
        ({"id_type": "resident_id", "id_number": people.mainland[0]["id_number"], "name": "", "level": "1"}, "请填写姓名"),
    ]
    for data, message in cases:
        response = client.post("/me/identity/", data)
        assert response.status_code == 422 and message in response.content.decode(), message


def test_html_in_a_name_is_escaped_and_refused(client, sms_sim, people):
    register(client, sms_sim)
    response = client.post("/me/identity/", {"id_type": "resident_id", "id_number": people.mainland[0]["id_number"],
                                             "name": "<b>张三</b>", "level": "1"})
    assert response.status_code == 422 and b"<b>" not in response.content


def test_pages_need_a_citizen(client):
    from tests.accounts.factories import make_officer

    for path in ("/me/", "/me/identity/", "/me/sessions/", "/me/phone/", "/me/close/", "/enterprise/"):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/login/")
    client.force_login(make_officer("o1"))
    assert client.get("/me/identity/").status_code in (302, 404)
