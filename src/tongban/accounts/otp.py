"""One-time codes by SMS: six digits, five minutes, five tries, one use, one purpose.

Only an HMAC-SM3 of the code is stored (keyed, so a copy of the table does not give the codes away
by brute force), the phone is encrypted, and the message goes out through the outbox. Sending is
limited per phone (a cooldown of 60 s and a cap per hour) and per client address; checking is
limited per client address on top of the five tries per code. Neither the code nor the phone
reaches a log line in clear.

So that the answers do not tell who has an account, sending looks the same in every case: a code
for registration to a phone that already has an account becomes a notice by SMS instead; a login or
recovery code for a phone without an account is simply not sent.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from tongban.accounts.models import CitizenProfile, OneTimeCode, OtpPurpose
from tongban.core import ratelimit
from tongban.core.errors import TongbanError
from tongban.core.identifiers import validate_mobile
from tongban.core.logging import get_logger
from tongban.core.masking import mask_phone
from tongban.core.security import client_ip
from tongban.crypto.fields import blind_index, blind_lookup
from tongban.notifications.services import sms_queue

log = get_logger("tongban.accounts.otp")

CODE_DIGITS = 6
CODE_TTL = dt.timedelta(minutes=5)
MAX_ATTEMPTS = 5
RESEND_COOLDOWN = 60  # seconds between two codes to one phone for one purpose
PHONE_LIMIT, PHONE_WINDOW = 10, 3600  # codes per phone per hour, all purposes together
IP_LIMIT, IP_WINDOW = 30, 3600  # codes requested per client address per hour
CHECK_IP_LIMIT, CHECK_IP_WINDOW = 60, 600  # codes checked per client address per ten minutes

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


@transaction.atomic
def otp_send(*, phone: str, purpose: str, request: HttpRequest | None = None, user: Any = None) -> OtpTicket:
    """Issue a code for `purpose` to `phone` (validated here) and queue the SMS through the outbox.

    `user` is the signed-in account for change_phone. Raises TongbanError: mobile_invalid, rate_limited.
    """
    purpose = OtpPurpose(purpose)
    phone = validate_mobile(phone, field="phone")
    ref = phone_ref(phone)
    latest = (OneTimeCode.objects.filter(**blind_lookup(OneTimeCode, "phone", phone), purpose=purpose)
              .order_by("-created_at").first())
    now = timezone.now()
    if latest is not None and (now - latest.created_at).total_seconds() < RESEND_COOLDOWN:
        wait = RESEND_COOLDOWN - int((now - latest.created_at).total_seconds())
        raise _error("rate_limited", f"验证码已发送，请 {wait} 秒后再重新获取。",
                     f"A code was just sent; ask again in {wait} seconds.", status=429, field="phone",
                     headers={"Retry-After": str(wait)})
    for key, limit, window in ((f"otp:ip:{_ip(request)}", IP_LIMIT, IP_WINDOW),
                               (f"otp:phone:{ref}", PHONE_LIMIT, PHONE_WINDOW)):
        result = ratelimit.hit(key, limit=limit, window=window)
        if not result.allowed:
            raise _error("rate_limited", "获取验证码过于频繁，请稍后再试。", "Too many codes requested; try later.",
                         status=429, field="phone", headers={"Retry-After": str(result.retry_after)})

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
        text = ""
        outcome = "not_sent_unknown"
    else:
        text = f"{SIGNATURE}您的{label}验证码为 {code}，5 分钟内有效。请勿将验证码告诉他人。"
        outcome = "sent"
    if text:
        # The code's lifetime is the message's: a code that could not go out in time is not sent late.
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
    result = ratelimit.hit(f"otp-check:ip:{_ip(request)}", limit=CHECK_IP_LIMIT, window=CHECK_IP_WINDOW)
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
