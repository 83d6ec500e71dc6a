"""What one-time codes by SMS may cost (issue 11, item 14): one cooldown per phone whatever the purpose, a cap
per phone per hour and per 24 hours, a cap per client network (/24 for IPv4, /64 for IPv6), and a global
ceiling that raises an alert. The probe had sent bursts of four codes to one phone (one per purpose), ~240 a
day to one phone, and 120 codes in 3 s from 18 addresses."""

from __future__ import annotations

import dataclasses

import pytest

from tests.accounts.conftest import deliver, past_cooldown
from tongban.accounts import otp
from tongban.audit.models import AuditEntry
from tongban.core.errors import TongbanError
from tongban.partners.models import AbuseAlert, AlertKind

pytestmark = pytest.mark.django_db

PHONE = "13812345670"


def _limits(settings, **changes):
    settings.TONGBAN_SMS_LIMITS = dataclasses.replace(settings.TONGBAN_SMS_LIMITS, **changes)


def _send(rf, phone=PHONE, purpose="register", ip="192.0.2.10"):
    return otp.otp_send(phone=phone, purpose=purpose, request=rf.post("/", REMOTE_ADDR=ip))


def _refused(call) -> TongbanError:
    with pytest.raises(TongbanError) as exc:
        call()
    assert exc.value.code == "rate_limited" and exc.value.http_status() == 429
    assert int(exc.value.headers["Retry-After"]) >= 1
    return exc.value


def test_one_cooldown_per_phone_whatever_the_purpose(sms_sim, rf):
    _send(rf, purpose="register")
    for purpose in ("login", "recover", "register"):
        error = _refused(lambda purpose=purpose: _send(rf, purpose=purpose, ip="203.0.113.9"))
        assert int(error.headers["Retry-After"]) <= 60
    deliver()
    assert len(sms_sim.messages(PHONE)) == 1
    past_cooldown()
    _send(rf, purpose="login")


def test_a_daily_cap_per_phone(sms_sim, rf, settings):
    _limits(settings, phone_per_hour=100, phone_per_day=3)
    for _ in range(3):
        _send(rf)
        past_cooldown()
    _refused(lambda: _send(rf, purpose="login"))
    _send(rf, phone="13812345671")  # another phone is not affected


def test_an_hourly_cap_per_phone_across_purposes(sms_sim, rf, settings):
    _limits(settings, phone_per_hour=2)
    for purpose in ("register", "login"):
        _send(rf, purpose=purpose)
        past_cooldown()
    _refused(lambda: _send(rf, purpose="recover"))


@pytest.mark.parametrize(("inside", "outside"), [
    (["198.51.100.1", "198.51.100.77", "198.51.100.254", "198.51.100.3"], "198.51.101.1"),
    (["2001:db8:1:2::1", "2001:db8:1:2::ffff", "2001:db8:1:2:aaaa::9", "2001:db8:1:2::42"], "2001:db8:1:3::1"),
])
def test_addresses_are_limited_by_network(sms_sim, rf, settings, inside, outside):
    """Walking through the addresses of one /24 (IPv4) or one /64 (IPv6) is one requester."""
    _limits(settings, network_per_hour=3)
    for i, ip in enumerate(inside[:3]):
        _send(rf, phone=f"1381234560{i}", ip=ip)
    _refused(lambda: _send(rf, phone="13812345609", ip=inside[3]))
    _send(rf, phone="13812345608", ip=outside)


def test_the_global_ceiling_refuses_and_raises_one_alert(sms_sim, rf, settings):
    _limits(settings, global_per_hour=3)
    for i in range(3):
        _send(rf, phone=f"1371234560{i}", ip=f"192.0.{i}.1")
    for i in range(3, 6):
        error = _refused(lambda i=i: _send(rf, phone=f"1371234560{i}", ip=f"192.0.{i}.1"))
        assert "发送繁忙" in error.message("zh")
    [alert] = AbuseAlert.objects.all()
    assert alert.kind == AlertKind.SMS_CEILING and alert.window_seconds == 3600 and alert.count >= 4
    entry = AuditEntry.objects.get(action="partner.abuse.alert")
    assert entry.details["kind"] == "sms_ceiling" and entry.details["limit"] == 3
    deliver()
    assert sum(len(sms_sim.messages(f"1371234560{i}")) for i in range(6)) == 3


def test_the_limits_come_from_the_environment(monkeypatch):
    from config import env

    defaults = env.load_sms_limits()
    assert (defaults.cooldown_seconds, defaults.phone_per_hour, defaults.phone_per_day, defaults.network_per_hour,
            defaults.ipv4_prefix, defaults.ipv6_prefix) == (60, 5, 10, 30, 24, 64)
    monkeypatch.setenv("TONGBAN_SMS_PHONE_LIMIT_PER_DAY", "20")
    monkeypatch.setenv("TONGBAN_SMS_IPV6_PREFIX", "56")
    changed = env.load_sms_limits()
    assert changed.phone_per_day == 20 and changed.ipv6_prefix == 56
    monkeypatch.setenv("TONGBAN_SMS_IPV4_PREFIX", "33")
    with pytest.raises(env.ConfigurationError, match="TONGBAN_SMS_IPV4_PREFIX"):
        env.load_sms_limits()
