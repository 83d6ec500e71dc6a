"""One-time codes: hashed, five minutes, five tries, one use, one purpose, cooldown and rate limits."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from django.utils import timezone

from tests.accounts.conftest import code_for, deliver, past_cooldown
from tongban.accounts import otp
from tongban.accounts.models import OneTimeCode, OtpPurpose
from tongban.core.errors import TongbanError

pytestmark = pytest.mark.django_db

PHONE = "13812340000"


def _send(purpose=OtpPurpose.REGISTER, phone=PHONE):
    return otp.otp_send(phone=phone, purpose=purpose)


def test_code_is_stored_as_a_keyed_mac_only(sms_sim):
    ticket = _send()
    code = code_for(sms_sim, PHONE)
    row = OneTimeCode.objects.get(pk=ticket.id)
    assert code.encode() not in bytes(row.code_mac) and len(bytes(row.code_mac)) == 34
    assert otp.otp_verify(ticket_id=ticket.id, purpose="register", code=code).pk == row.pk


def test_single_use(sms_sim):
    ticket = _send()
    code = code_for(sms_sim, PHONE)
    otp.otp_verify(ticket_id=ticket.id, purpose="register", code=code)
    with pytest.raises(TongbanError) as exc:
        otp.otp_verify(ticket_id=ticket.id, purpose="register", code=code)
    assert exc.value.code == "otp_expired"


def test_expires_after_five_minutes(sms_sim):
    ticket = _send()
    code = code_for(sms_sim, PHONE)
    OneTimeCode.objects.filter(pk=ticket.id).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    with pytest.raises(TongbanError) as exc:
        otp.otp_verify(ticket_id=ticket.id, purpose="register", code=code)
    assert exc.value.code == "otp_expired"
    row = OneTimeCode.objects.get(pk=ticket.id)
    assert (row.expires_at - row.created_at) <= dt.timedelta(minutes=5)


def test_five_wrong_tries_use_the_code_up(sms_sim):
    ticket = _send()
    code = code_for(sms_sim, PHONE)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for left in (4, 3, 2, 1):
        with pytest.raises(TongbanError) as exc:
            otp.otp_verify(ticket_id=ticket.id, purpose="register", code=wrong)
        assert exc.value.code == "otp_invalid" and f"还可尝试 {left} 次" in exc.value.message("zh")
    with pytest.raises(TongbanError) as exc:
        otp.otp_verify(ticket_id=ticket.id, purpose="register", code=wrong)
    assert exc.value.code == "otp_expired"
    with pytest.raises(TongbanError):
        otp.otp_verify(ticket_id=ticket.id, purpose="register", code=code)  # even the right one now


def test_purpose_bound(sms_sim):
    ticket = _send()
    code = code_for(sms_sim, PHONE)
    with pytest.raises(TongbanError):
        otp.otp_verify(ticket_id=ticket.id, purpose="recover", code=code)


def test_resend_cooldown_and_latest_code_only(sms_sim):
    first = _send()
    first_code = code_for(sms_sim, PHONE)
    with pytest.raises(TongbanError) as exc:
        _send()
    assert exc.value.code == "rate_limited" and int(exc.value.headers["Retry-After"]) <= 60
    past_cooldown()
    second = _send()
    second_code = code_for(sms_sim, PHONE)
    with pytest.raises(TongbanError):
        otp.otp_verify(ticket_id=first.id, purpose="register", code=first_code)
    assert otp.otp_verify(ticket_id=second.id, purpose="register", code=second_code)


def _limits(settings, **changes):
    settings.TONGBAN_SMS_LIMITS = dataclasses.replace(settings.TONGBAN_SMS_LIMITS, **changes)


def test_per_phone_limit(sms_sim, settings):
    _limits(settings, phone_per_hour=2)
    for _ in range(2):
        _send()
        past_cooldown()
    with pytest.raises(TongbanError) as exc:
        _send()
    assert exc.value.code == "rate_limited" and exc.value.http_status() == 429


def test_per_address_limit(sms_sim, settings, rf):
    _limits(settings, network_per_hour=3)
    request = rf.post("/", REMOTE_ADDR="198.51.100.7")
    for i in range(3):
        otp.otp_send(phone=f"1381234000{i}", purpose="register", request=request)
    with pytest.raises(TongbanError) as exc:
        otp.otp_send(phone="13812340009", purpose="register", request=request)
    assert exc.value.code == "rate_limited"


def test_bad_phone_and_bad_code_shapes():
    with pytest.raises(TongbanError) as exc:
        otp.otp_send(phone="12345", purpose="register")
    assert exc.value.code == "mobile_invalid"
    for code in ("", "12345", "1234567", "12a456", "１２３４５６", "' OR 1=1"):
        with pytest.raises(TongbanError) as exc:
            otp.otp_verify(ticket_id=1, purpose="register", code=code)
        assert exc.value.code == "otp_invalid"


def test_unknown_phone_gets_no_login_code_but_the_same_answer(sms_sim):
    """No code for a phone without an account; a notice instead (the same work as a code: item 18 of issue 11,
    tests/accounts/test_otp_same_work.py)."""
    ticket = otp.otp_send(phone="13800009999", purpose="login")
    deliver()
    assert ticket.phone_masked == "138****9999"
    [message] = sms_sim.messages("13800009999")
    assert "尚未注册" in message.text and "验证码为" not in message.text


def test_registered_phone_gets_a_notice_instead_of_a_code(client, sms_sim):
    from tests.accounts.test_citizen_flows import register

    register(client, sms_sim, phone=PHONE)
    past_cooldown()
    _send()
    deliver()
    assert "已注册" in sms_sim.messages(PHONE)[0].text and "验证码为" not in sms_sim.messages(PHONE)[0].text


def test_logs_hold_no_code_and_no_phone(sms_sim, caplog):
    import logging

    with caplog.at_level(logging.DEBUG):
        ticket = _send()
        code = code_for(sms_sim, PHONE)
        otp.otp_verify(ticket_id=ticket.id, purpose="register", code=code)
    text = " ".join(str(r.msg) + str(r.args) for r in caplog.records)
    assert PHONE not in text and code not in text.replace(str(ticket.id), "")
