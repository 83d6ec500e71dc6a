"""One-time codes by SMS: six digits, five minutes, five tries, one use, one purpose.

Only an HMAC-SM3 of the code is stored (keyed, so a copy of the table does not give the codes away
by brute force), the phone is encrypted, and the message goes out through the outbox. Neither the code
nor the phone reaches a log line in clear.

What a code costs is limited (TONGBAN_SMS_* settings, config.env.SmsLimitsEnv): one code per phone per
cooldown whatever its purpose, a cap per phone per hour and per 24 hours, a cap per client network (an
IPv4 address's /24, an IPv6 address's /64) per hour, and a global ceiling per hour that raises an alert
(tongban.partners.abuse.volume_alert) when it is reached. Checking is limited per client network on top
of the five tries per code.

So that the answers do not tell who has an account — in what they say and in the work they take — every
request that passes the limits does the same work: one code row, one message queued through the outbox.
A registration code to a phone that already has an account becomes a notice; a login or recovery code to
a phone without one becomes a notice that the number has no account (it used to be not sent at all, which
made the request measurably quicker for unknown numbers).
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from config.env import SmsLimitsEnv
from tongban.accounts.models import CitizenProfile, OneTimeCode, OtpPurpose
from tongban.core import ratelimit
from tongban.core.errors import TongbanError
from tongban.core.identifiers import validate_mobile
from tongban.core.logging import get_logger
from tongban.core.masking import mask_phone
from tongban.core.security import address_network, client_ip
from tongban.crypto.fields import blind_index, blind_lookup
from tongban.notifications.services import sms_queue

log = get_logger("tongban.accounts.otp")

CODE_DIGITS = 6
CODE_TTL = dt.timedelta(minutes=5)
MAX_ATTEMPTS = 5
HOUR, DAY = 3600, 86400
CHECK_IP_LIMIT, CHECK_IP_WINDOW = 60, 600  # codes checked per client network per ten minutes

_LABELS = {
    OtpPurpose.REGISTER: "注册",
    OtpPurpose.LOGIN: "登录",
    OtpPurpose.CHANGE_PHONE: "更换手机号",
    OtpPurpose.RECOVER: "找回密码",
}
SIGNATURE = "【一网通办】"


def _error(code: str, zh: str, en: str, *, status: int = 422, field: str | None = "code",
           headers: dict[str, str] | None = None) -> TongbanError:
    return TongbanError(code, message_zh=zh, message_en=en, status=status, headers=headers,
                        details=[{"field": field, "type": code}] if field else None)


class OtpWrongCode(TongbanError):
    """A wrong code tried against a live ticket: a guess, which used one of the ticket's tries (the one that
    used the last try too). Callers that sign someone in count it in the accounts lockout; a malformed code
    or a ticket already dead is not a guess and is never this."""


def phone_ref(phone: str) -> str:
    """A keyed, non-reversible reference to a phone number, for rate-limit and lockout keys."""
    return blind_index(phone, scope="accounts.phone.ref", normalizer="phone")[2:18].hex()


def _code_mac(pk: int, code: str, version: int | None = None) -> bytes:
    return blind_index(code, scope=f"accounts.otp.{pk}", normalizer="exact", version=version)


def _ip(request: HttpRequest | None) -> str:
    return client_ip(request) if request is not None else "-"


@dataclass(frozen=True)
class OtpTicket:
    """What the page remembers between "send" and "check": the code row's id, never the phone."""

    id: int
    purpose: str
    phone_masked: str


def profile_for_phone(phone: str) -> CitizenProfile | None:
    """The open account registered with this phone, if any."""
    return (CitizenProfile.objects.select_related("user")
            .filter(**blind_lookup(CitizenProfile, "phone", phone), closed_at__isnull=True).first())


def limits() -> SmsLimitsEnv:
    value: SmsLimitsEnv = settings.TONGBAN_SMS_LIMITS
    return value


def cooldown_key(phone: str) -> str:
    """The cache key that holds, for the cooldown after a code to `phone` (any purpose), when it ends."""
    return f"otp:cool:{phone_ref(phone)}"


def _network(request: HttpRequest | None, conf: SmsLimitsEnv) -> str:
    return address_network(_ip(request), ipv4_prefix=conf.ipv4_prefix, ipv6_prefix=conf.ipv6_prefix)


def _too_soon(wait: int) -> TongbanError:
    wait = max(1, wait)
    return _error("rate_limited", f"验证码已发送，请 {wait} 秒后再重新获取。",
                  f"A code was just sent; ask again in {wait} seconds.", status=429, field="phone",
                  headers={"Retry-After": str(wait)})


def _cooldown_claim(phone: str, conf: SmsLimitsEnv, now: dt.datetime) -> None:
    """One code per phone per cooldown, whatever the purpose (a code for each purpose used to have a
    cooldown of its own, so four purposes went out in bursts of four). The newest code row decides (it
    survives a cache flush); a cache add makes two requests at the same moment one."""
    latest = (OneTimeCode.objects.filter(**blind_lookup(OneTimeCode, "phone", phone))
              .order_by("-created_at").values_list("created_at", flat=True).first())
    if latest is not None and (now - latest).total_seconds() < conf.cooldown_seconds:
        raise _too_soon(conf.cooldown_seconds - int((now - latest).total_seconds()))
    until = int(time.time()) + conf.cooldown_seconds
    if not cache.add(cooldown_key(phone), until, timeout=conf.cooldown_seconds):
        raise _too_soon(int(float(cache.get(cooldown_key(phone)) or until) - time.time()))


def _limits_hit(phone: str, request: HttpRequest | None, conf: SmsLimitsEnv) -> None:
    """The caps, in order: the requester's network, the phone (hour, 24 hours), then the platform's ceiling
    — each counted only once the ones before it passed, so a refused request does not use up the next."""
    ref = phone_ref(phone)
    for key, limit, window in ((f"otp:net:{_network(request, conf)}", conf.network_per_hour, HOUR),
                               (f"otp:phone:{ref}", conf.phone_per_hour, HOUR),
                               (f"otp:phone-day:{ref}", conf.phone_per_day, DAY)):
        result = ratelimit.hit(key, limit=limit, window=window)
        if not result.allowed:
            raise _error("rate_limited", "获取验证码过于频繁，请稍后再试。", "Too many codes requested; try later.",
                         status=429, field="phone", headers={"Retry-After": str(result.retry_after)})
    result = ratelimit.hit("otp:global", limit=conf.global_per_hour, window=HOUR)
    if not result.allowed:
        from tongban.audit.services import Actor
        from tongban.partners.abuse import volume_alert
        from tongban.partners.models import AlertKind

        volume_alert(kind=AlertKind.SMS_CEILING, scope="sms:otp", count=int(result.count), window_seconds=HOUR,
                     actor=Actor.system("accounts.otp"), details={"limit": conf.global_per_hour})
        log.warning("otp.global_ceiling", count=int(result.count), limit=conf.global_per_hour)
        raise _error("rate_limited", "短信验证码发送繁忙，请稍后再试。", "Too many codes are being sent; try later.",
                     status=429, field="phone", headers={"Retry-After": str(result.retry_after)})


def otp_send(*, phone: str, purpose: str, request: HttpRequest | None = None, user: Any = None) -> OtpTicket:
    """Issue a code for `purpose` to `phone` (validated here) and queue the SMS through the outbox.

    `user` is the signed-in account for change_phone. Raises TongbanError: mobile_invalid, rate_limited
    (the cooldown, a cap, or the global ceiling — which also raises an alert, once an hour).
    """
    purpose = OtpPurpose(purpose)
    phone = validate_mobile(phone, field="phone")
    conf = limits()
    _cooldown_claim(phone, conf, timezone.now())
    _limits_hit(phone, request, conf)
    return _issue(phone=phone, purpose=purpose, user=user)


@transaction.atomic
def _issue(*, phone: str, purpose: OtpPurpose, user: Any) -> OtpTicket:
    """The code row and its message, in one transaction. Every branch does the same work — one profile
    look-up, one code row, one message through the outbox — so neither the answer nor its timing tells
    whether the phone has an account (tests/accounts/test_otp_same_work.py compares the queries and the
    crypto operations)."""
    now = timezone.now()
    existing = profile_for_phone(phone)
    # Earlier codes for the same phone and purpose stop working: only the latest one counts.
    (OneTimeCode.objects.filter(**blind_lookup(OneTimeCode, "phone", phone), purpose=purpose,
                                consumed_at__isnull=True).update(consumed_at=now))
    code = f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"
    row = OneTimeCode(purpose=purpose, phone=phone, created_at=now, expires_at=now + CODE_TTL,
                      user=user if purpose == OtpPurpose.CHANGE_PHONE else (existing.user if existing else None))
    row.code_mac = _code_mac(row.pk, code)
    row.save()
    label = _LABELS[purpose]
    if purpose == OtpPurpose.REGISTER and existing is not None:
        text = f"{SIGNATURE}该手机号已注册一网通办账号，请直接登录；如忘记密码，可通过“找回密码”重设。"
        outcome = "notice_registered"
    elif purpose == OtpPurpose.CHANGE_PHONE and existing is not None:
        text = f"{SIGNATURE}该手机号已绑定其他一网通办账号，不能用于更换手机号。如非本人操作，请忽略。"
        outcome = "notice_taken"
    elif purpose in (OtpPurpose.LOGIN, OtpPurpose.RECOVER) and existing is None:
        text = f"{SIGNATURE}该手机号尚未注册一网通办账号，无法{label}。如需办理业务，请先注册。如非本人操作，请忽略。"
        outcome = "notice_unknown"
    else:
        text = f"{SIGNATURE}您的{label}验证码为 {code}，5 分钟内有效。请勿将验证码告诉他人。"
        outcome = "sent"
    # The code's lifetime is the message's (notices too: every branch does the same work): a message that
    # could not go out in time is not sent late.
    sms_queue(phone=phone, text=text, purpose=f"otp.{purpose}", expires_at=row.expires_at)
    log.info("otp.issued", purpose=str(purpose), phone=mask_phone(phone), otp_id=row.pk, outcome=outcome)
    return OtpTicket(id=row.pk, purpose=str(purpose), phone_masked=mask_phone(phone))


def otp_verify(*, ticket_id: int | None, purpose: str, code: str, request: HttpRequest | None = None,
               user: Any = None) -> OneTimeCode:
    """Check a code and use it up; the row (with its decryptable phone) on success.

    Commits its own transaction, so a wrong try counts even when the caller then fails: call it
    before (outside) the transaction of the change the code authorises. Errors: otp_invalid (wrong
    code, with the tries left), otp_expired (expired, used, superseded or out of tries); a wrong guess
    (the otp_invalid of a wrong code, the otp_expired of the last try) is raised as `OtpWrongCode`.
    """
    purpose = OtpPurpose(purpose)
    code = (code or "").strip()
    if len(code) != CODE_DIGITS or not code.isascii() or not code.isdigit():
        raise _error("otp_invalid", "请输入短信中的 6 位数字验证码。", "Enter the 6-digit code from the SMS.")
    network = address_network(_ip(request))  # the address; for IPv6 its /64
    result = ratelimit.hit(f"otp-check:net:{network}", limit=CHECK_IP_LIMIT, window=CHECK_IP_WINDOW)
    if not result.allowed:
        raise _error("rate_limited", "验证码尝试过于频繁，请稍后再试。", "Too many tries; try later.", status=429,
                     headers={"Retry-After": str(result.retry_after)})
    expired = _error("otp_expired", "验证码已失效，请重新获取。", "The code has expired or was used; ask for a new one.")
    wrong_left = None
    with transaction.atomic():
        row = OneTimeCode.objects.select_for_update().filter(pk=ticket_id or 0, purpose=purpose).first()
        now = timezone.now()
        if row is None or row.consumed_at is not None or row.expires_at <= now or row.attempts >= MAX_ATTEMPTS:
            raise expired
        if user is not None and row.user_id != getattr(user, "pk", None):
            raise expired
        stored = bytes(row.code_mac)
        try:
            expected = _code_mac(row.pk, code, version=int.from_bytes(stored[:2], "big"))
        except Exception:  # the blind-index key version is gone: the code cannot be checked any more
            expected = b""
        if hmac.compare_digest(stored, expected):
            row.consumed_at = now
            row.save(update_fields=["consumed_at"])
            log.info("otp.accepted", purpose=str(purpose), otp_id=row.pk)
            return row
        row.attempts += 1
        if row.attempts >= MAX_ATTEMPTS:
            row.consumed_at = now
        row.save(update_fields=["attempts", "consumed_at"])
        wrong_left = MAX_ATTEMPTS - row.attempts
    log.info("otp.rejected", purpose=str(purpose), otp_id=ticket_id, tries_left=wrong_left)
    if not wrong_left:
        raise OtpWrongCode("otp_expired", message_zh="验证码错误次数过多，已失效，请重新获取。",
                           message_en="Too many wrong tries; the code no longer works. Ask for a new one.",
                           status=422, details=[{"field": "code", "type": "otp_expired"}])
    raise OtpWrongCode("otp_invalid", message_zh=f"验证码不正确，还可尝试 {wrong_left} 次。",
                       message_en=f"The code is wrong; {wrong_left} tries left.", status=422,
                       details=[{"field": "code", "type": "otp_invalid"}])
