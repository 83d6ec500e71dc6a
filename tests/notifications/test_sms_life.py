"""A text message's useful life (issue 12, finding 4): a login code goes out within its five minutes or
not at all.

The code's expiry travels with its outbox message; the SMS channel's lease is shorter than that life,
so a code held by a worker that crashed is sent again in time; a code that could not go out in time is
marked expired (its text erased) instead of arriving useless, and the person simply asks again.
tests/jobs/test_processes.py does the crash with real processes and `kill -9`.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tests.accounts.conftest import code_for, deliver, past_cooldown
from tests.accounts.factories import make_citizen
from tongban.accounts import otp
from tongban.accounts.models import CitizenProfile, OneTimeCode
from tongban.core.errors import TongbanError
from tongban.jobs import registry
from tongban.jobs.models import Job, JobStatus
from tongban.jobs.worker import Worker
from tongban.notifications.models import SmsMessage, SmsStatus
from tongban.notifications.services import sms_queue

pytestmark = pytest.mark.django_db

PHONE = "13800000021"


@pytest.fixture
def account():
    user = make_citizen("citizen-life")
    CitizenProfile.objects.create(user=user, phone=PHONE)
    return user


def test_the_sms_lease_is_shorter_than_a_codes_life():
    spec = registry.get_channel("sms")
    assert spec is not None
    # A crash costs one lease (plus a poll) before another worker sends the code: well inside its life.
    assert spec.lease_seconds * 2 <= otp.CODE_TTL.total_seconds()


def test_a_login_code_carries_its_lifetime_to_the_outbox(sms_sim, account):
    ticket = otp.otp_send(phone=PHONE, purpose="login")
    job = Job.objects.get(task="outbox.sms")
    assert job.expires_at == OneTimeCode.objects.get(pk=ticket.id).expires_at


def test_a_code_held_by_a_crashed_worker_is_sent_within_its_life(sms_sim, account, monkeypatch):
    ticket = otp.otp_send(phone=PHONE, purpose="login")
    row = OneTimeCode.objects.get(pk=ticket.id)
    assert Worker(worker_id="crashed").claim() is not None  # the worker died holding the message
    lease = registry.get_channel("sms").lease_seconds
    later = timezone.now() + dt.timedelta(seconds=lease + 1)
    monkeypatch.setattr("tongban.core.clock.now", lambda: later)
    assert deliver() == 1
    assert later < row.expires_at
    monkeypatch.undo()
    (message,) = sms_sim.messages(PHONE)
    assert "登录验证码" in message.text
    assert otp.otp_verify(ticket_id=ticket.id, purpose="login", code=code_for(sms_sim, PHONE)).pk == row.pk


def test_a_code_not_sent_in_its_life_is_expired_and_the_person_asks_again(sms_sim, account, monkeypatch):
    ticket = otp.otp_send(phone=PHONE, purpose="login")
    row = OneTimeCode.objects.get(pk=ticket.id)
    with monkeypatch.context() as m:
        # No worker came by during the code's five minutes (the clock the worker reads moves on).
        after = row.expires_at + dt.timedelta(seconds=1)
        m.setattr("tongban.core.clock.now", lambda: after)
        assert deliver() == 0
    assert sms_sim.messages(PHONE) == []  # not sent late
    assert Job.objects.get(task="outbox.sms").status == JobStatus.EXPIRED
    message = SmsMessage.objects.get()
    assert message.status == SmsStatus.EXPIRED and message.text is None  # the code is not kept either
    # The person asks again once the five minutes are over (rows aged as in the other OTP tests, and the
    # per-phone cooldown past).
    past_cooldown()
    OneTimeCode.objects.update(created_at=timezone.now() - dt.timedelta(minutes=6),
                               expires_at=timezone.now() - dt.timedelta(minutes=1))
    with pytest.raises(TongbanError) as exc:
        otp.otp_verify(ticket_id=ticket.id, purpose="login", code="000000")
    assert exc.value.code == "otp_expired"
    again = otp.otp_send(phone=PHONE, purpose="login")
    code = code_for(sms_sim, PHONE)
    assert otp.otp_verify(ticket_id=again.id, purpose="login", code=code).pk == again.id
    assert [m.status for m in SmsMessage.objects.order_by("pk")] == [SmsStatus.EXPIRED, SmsStatus.SENT]


def test_a_message_without_a_life_waits_as_long_as_it_takes(sms_sim, monkeypatch):
    """A notice (the account's phone number was changed) has no useful life: it is sent however late."""
    sms_queue(phone=PHONE, text="【一网通办】通知", purpose="phone_changed")
    later = timezone.now() + dt.timedelta(days=2)
    monkeypatch.setattr("tongban.core.clock.now", lambda: later)
    assert deliver() == 1
    assert [m.text for m in sms_sim.messages(PHONE)] == ["【一网通办】通知"]
