"""Fixtures for citizen and enterprise accounts: the SMS gateway simulator, a generated registry,
and helpers that deliver the outbox and read codes as the phone's owner would."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from sim.sms_gateway import SmsSimulator


@pytest.fixture
def sms_sim(settings):
    """The SMS gateway simulator on a free loopback port, the platform's settings pointed at it."""
    sim = SmsSimulator.start("127.0.0.1", 0, token="test-sms-token")
    settings.TONGBAN_SMS_GATEWAY = {"BACKEND": "tongban.notifications.sms.HttpSmsGateway", "URL": sim.url,
                                    "TOKEN": "test-sms-token", "TIMEOUT": 5}
    try:
        yield sim
    finally:
        sim.stop()


def deliver() -> int:
    """Run the outbox once, as the in-process worker does within a second in the demo."""
    from tongban.jobs.worker import Worker

    return Worker(worker_id="tests").run_once()


def past_cooldown() -> None:
    """As if the cooldown after every code sent so far had run out (one code per phone per cooldown, whatever
    its purpose): the code rows made older and the cooldown's cache keys gone."""
    import datetime as dt

    from django.core.cache import cache
    from django.utils import timezone

    from tongban.accounts.models import OneTimeCode
    from tongban.accounts.otp import cooldown_key

    rows = list(OneTimeCode.objects.all())
    OneTimeCode.objects.update(created_at=timezone.now() - dt.timedelta(minutes=2))
    cache.delete_many(sorted({cooldown_key(row.phone) for row in rows}))


def code_for(sim: SmsSimulator, phone: str) -> str:
    """The code in the newest message the phone received (after delivering the outbox)."""
    deliver()
    messages = sim.messages(phone)
    assert messages, f"no SMS for {phone[:3]}****"
    match = re.search(r"验证码为 (\d{6})", messages[0].text)
    assert match, messages[0].text
    return match.group(1)


@dataclass
class People:
    mainland: list[dict]
    hk_macao: list[dict]


@pytest.fixture
def people():
    """A small generated registry (today as its reference date) and some people from it who can
    register: normal status, a valid current card; HK/Macao residents with a valid permit."""
    from tongban.registry.generator import generate
    from tongban.registry.samples import sample
    from tongban.verification.breaker import reset_breakers

    reset_breakers()
    generate(people=1500, seed=7, parallel=False)
    picked = sample(6, seed=3)
    yield People(mainland=picked["people"], hk_macao=picked["hk_macao"])
    reset_breakers()
