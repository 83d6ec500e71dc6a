"""Writes of 一键挪车: a verified citizen asks the owner of a blocking car to move it; the owner answers
through the link in the SMS (or their account); 催单 after ten minutes puts the request in the local traffic
police's queue; a contested request is reviewed by an officer, and three confirmed malicious requests in a
year ban the requester for a year.

Privacy: the owner's phone is asked of the traffic source each time a message goes out — every ask audited
(`personal_data.read`, purpose `carmove_notify`) — and is never stored here, returned, shown or logged. The
requester learns only the request's status; the owner never learns who asked.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import secrets
from typing import IO, Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _

from tongban.audit.actions import Action, Outcome
from tongban.audit.services import Actor, Subject, audit_record
from tongban.carmove import conf
from tongban.carmove.models import Ban, MovePhoto, MoveRequest, MoveStatus, PlateType, ReviewOutcome
from tongban.core import clock, ratelimit
from tongban.core.errors import TongbanError
from tongban.core.uploads import sniff_upload
from tongban.crypto.fields import blind_lookup
from tongban.crypto.sm3 import sm3

PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_PLATE = re.compile(rf"^[{PROVINCES}][A-HJ-NP-Z][A-HJ-NP-Z0-9]{{5,6}}$")
_PLATE_SEPARATORS = re.compile(r"[\s·•.\-]+")
# Seven digits in a row (allowing spaces or dashes) look like a phone number: neither side may pass theirs on.
_PHONE_LIKE = re.compile(r"(?:\d[\s\-]?){7,}")
OPEN_STATES = (MoveStatus.NOTIFIED, MoveStatus.MOVING)


def refuse(code: str, zh: str, status: int = 422, **details: Any) -> TongbanError:
    return TongbanError(code, zh, None, status, [details] if details else None)


def not_found() -> TongbanError:
    return TongbanError("not_found", _("挪车请求不存在或您无权查看。"), "No such request, or not yours to see.", 404)


def normalise_plate(value: str) -> str:
    return _PLATE_SEPARATORS.sub("", value or "").upper()


def _plate_valid(plate: str, plate_type: str) -> bool:
    if not _PLATE.match(plate):
        return False
    new_energy = plate_type in (PlateType.SMALL_NEV, PlateType.LARGE_NEV)
    return (len(plate) == 8) == new_energy  # new-energy plates have six characters after the letter


def _no_phone(text: str, field: str) -> str:
    text = (text or "").strip()
    if _PHONE_LIKE.search(text):
        raise refuse("carmove_contact_in_text", _("为保护双方隐私，留言中不能包含电话号码或其他联系方式。"), field=field)
    return text


def _profile(user: Any) -> Any:
    from tongban.accounts.models import CitizenProfile

    if user is None or getattr(user, "kind", None) != "citizen" or not getattr(user, "is_active", False):
        return None
    return CitizenProfile.objects.filter(user_id=user.pk, closed_at__isnull=True).first()


def active_ban(user: Any) -> Ban | None:
    return Ban.objects.filter(user_id=user.pk, starts_at__lte=clock.now(), ends_at__gt=clock.now()).first()


def _month_start(now: dt.datetime) -> dt.datetime:
    local = clock.to_local(now)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def reply_url(token: str) -> str:
    base = str(getattr(settings, "TONGBAN_PUBLIC_URL", "http://127.0.0.1:8000")).rstrip("/")
    return f"{base}/carmove/r/{token}/"


def _token_digest(token: str) -> str:
    return sm3(token.encode()).hex()


def _owner_contact(move: MoveRequest, *, actor: Actor, request: HttpRequest | None, why: str) -> Any:
    """Ask the traffic source for the owner's contact (audited in the caller's transaction); never kept."""
    from tongban.registry.interfaces import SourceUnavailable, traffic

    try:
        contact = traffic().owner_contact_for_plate(move.plate)
    except SourceUnavailable:
        raise refuse("carmove_source_unavailable", _("交管信息系统暂时无法访问，请稍后再试，紧急情况请拨打 122。"),
                     503) from None
    audit_record(action=Action.PERSONAL_DATA_READ, actor=actor, subject=Subject("carmove.request", move.pk),
                 request=request, details={"source": "traffic", "field": "owner_phone", "purpose": "carmove_notify",
                                           "why": why, "found": contact is not None})
    return contact


def _photo_bytes(file: IO[bytes] | Any) -> tuple[bytes, str]:
    """Judged by its bytes, bounded, decoded and encoded again (EXIF — the place and the phone model — gone)."""
    from PIL import Image, ImageOps

    sniff_upload(file, allowed={"image/jpeg", "image/png"}, max_bytes=conf.get("MAX_PHOTO_BYTES"))
    file.seek(0)
    with Image.open(file) as opened:
        image = ImageOps.exif_transpose(opened).convert("RGB")
        image.thumbnail((1600, 1600))
        out = io.BytesIO()
        image.save(out, "JPEG", quality=85)
    return out.getvalue(), "image/jpeg"


def _notify_owner(move: MoveRequest, *, phone: str | None, token: str, nudge: bool) -> None:
    from tongban.notifications.services import account_message_post, sms_queue

    what = _("催促") if nudge else _("提醒")
    text = _("【一网通办】挪车%(what)s：您的车辆 %(plate)s 停在“%(place)s”，挡住他人通行，请尽快挪车。"
             "答复请点击 %(url)s") % {"what": what, "plate": move.plate, "place": move.location[:40],
                                     "url": reply_url(token)}
    if phone:
        sms_queue(phone=phone, text=text[:500], purpose="carmove")
    if move.owner_user_id is not None:
        account_message_post(user_id=move.owner_user_id, title=_("挪车提醒"),
                             body=_("您的车辆 %(plate)s 停在“%(place)s”，挡住他人通行，请尽快挪车。")
                             % {"plate": move.plate, "place": move.location[:60]},
                             link=f"/carmove/owner/{move.pk}/", source_key=f"carmove:{move.pk}:owner:{move.nudges}")


def _tell_requester(move: MoveRequest, key: str, title: str, body: str) -> None:
    from tongban.notifications.services import account_message_post

    account_message_post(user_id=move.requester_id, title=title, body=body, link=f"/carmove/{move.pk}/",
                         source_key=f"carmove:{move.pk}:{key}")


def _owner_account(id_number: str) -> int | None:
    from tongban.accounts.models import CitizenProfile

    row = (CitizenProfile.objects.filter(**blind_lookup(CitizenProfile, "person_key", id_number),
                                         closed_at__isnull=True).values_list("user_id", flat=True).first())
    return int(row) if row is not None else None


def _refused(user: Any, request: HttpRequest | None, exc: TongbanError) -> TongbanError:
    return _refused_audited(user, request, exc)


def _refused_audited(user: Any, request: HttpRequest | None, exc: TongbanError) -> TongbanError:
    audit_record(action=Action.CARMOVE_REFUSED, outcome=Outcome.DENIED, actor=Actor.user(user), request=request,
                 subject=Subject("accounts.user", user.pk), details={"code": exc.code})
    return exc


def move_request_create(*, user: Any, plate_type: str, plate: str, location: str, message: str = "",
                        photos: list[Any] | None = None, request: HttpRequest | None = None) -> MoveRequest:
    """Check who asks and the limits, then notify the owner by SMS (and in their account) in one transaction.
    A refusal writes nothing but its audit entry."""
    profile = _profile(user)
    if profile is None or profile.level < 2:
        raise refuse("carmove_level_too_low", _("一键挪车需要完成实名认证（L2 及以上），请先在“我的”中完成认证。"), 403)
    ban = active_ban(user)
    if ban is not None:
        raise _refused(user, request, refuse(
            "carmove_banned", _("您因多次恶意挪车请求，暂停使用一键挪车至 %(day)s。")
            % {"day": clock.to_local(ban.ends_at).strftime("%Y-%m-%d")}, 403))
    plate = normalise_plate(plate)
    if plate_type not in PlateType.values:
        raise refuse("carmove_plate_type", _("请选择号牌种类。"), field="plate_type")
    if not _plate_valid(plate, plate_type):
        raise refuse("carmove_plate_invalid", _("号牌号码格式不正确（例：浙A12345，新能源：浙AD12345）。"), field="plate")
    location = _no_phone(location, "location")
    if not location or len(location) > 200:
        raise refuse("carmove_location_required", _("请填写挡车位置（1–200 字）。"), field="location")
    message = _no_phone(message, "message")
    if len(message) > 200:
        raise refuse("carmove_message_too_long", _("留言不能超过 200 字。"), field="message")
    photos = [p for p in (photos or []) if p]
    if len(photos) > conf.get("MAX_PHOTOS"):
        raise refuse("carmove_too_many_photos", _("最多上传 %(n)d 张照片。") % {"n": conf.get("MAX_PHOTOS")},
                     field="photos")
    images = [_photo_bytes(p) for p in photos]

    now = clock.now()
    _check_limits(user, plate, now, request)
    ratelimit.enforce(f"carmove:user:{user.pk}", limit=conf.get("BURST_LIMIT"), window=60)

    token = secrets.token_urlsafe(16)
    # The queue is the local traffic police's: the deployment's region. (Where the car stands is free text or
    # coordinates; resolving it to a district is a geocoder's work, which the platform does not have.)
    region = str(conf.get("DEFAULT_REGION"))
    try:
        move, contact = _create_locked(user=user, plate_type=plate_type, plate=plate, location=location,
                                       message=message, images=images, region=region, token=token, now=now,
                                       request=request)
    except TongbanError as exc:
        if exc.code in {"carmove_monthly_limit", "carmove_plate_limit"}:  # lost a race: audited here, after
            raise _refused_audited(user, request, exc) from None  # the rolled-back transaction
        raise
    if contact is None:
        with transaction.atomic():  # ... but the look-up is: it asked the source about a plate
            audit_record(action=Action.PERSONAL_DATA_READ, actor=Actor.user(user), request=request,
                         subject=Subject("accounts.user", user.pk),
                         details={"source": "traffic", "field": "owner_phone", "purpose": "carmove_notify",
                                  "why": "request", "found": False})
        raise _refused(user, request, refuse(
            "carmove_plate_unknown", _("未能通过该号牌联系到车主，请核对号牌号码和种类；紧急情况请拨打 122。"),
            field="plate"))
    return move


@transaction.atomic
def _create_locked(*, user: Any, plate_type: str, plate: str, location: str, message: str,
                   images: list[tuple[bytes, str]], region: str, token: str, now: dt.datetime,
                   request: HttpRequest | None) -> tuple[MoveRequest, Any]:
    # The limits again, under locks: two requests at the same instant (one person's, or several people's
    # at one plate) are counted one after the other, so neither limit can be overrun.
    _serialise(user, plate)
    _check_limits(user, plate, now, request, audited=False)
    move = MoveRequest(requester=user, plate_type=plate_type, plate=plate, location=location, message=message,
                       region_code=region, reply_token_sm3=_token_digest(token), created_at=now,
                       notified_at=now)
    move.save()
    contact = _owner_contact(move, actor=Actor.user(user), request=request, why="request")
    if contact is None:
        transaction.set_rollback(True)  # nothing of the request is kept ...
    else:
        move.owner_user_id = _owner_account(contact.owner_id_number)
        move.save(update_fields=["owner_user"])
        for data, content_type in images:
            MovePhoto(request=move, content=data, content_type=content_type, size=len(data),
                      sm3=sm3(data).hex()).save()
        audit_record(action=Action.CARMOVE_REQUEST, actor=Actor.user(user), request=request,
                     subject=Subject("carmove.request", move.pk),
                     details={"plate_type": plate_type, "photos": len(images), "region": move.region_code})
        _notify_owner(move, phone=contact.phone, token=token, nudge=False)
    return move, contact


def _check_limits(user: Any, plate: str, now: dt.datetime, request: HttpRequest | None, *,
                  audited: bool = True) -> None:
    """The monthly, open-request and per-plate limits. A refusal is audited (`audited`) unless the caller's
    transaction is about to roll back, in which case the caller audits it after."""
    def _refused(user: Any, request: HttpRequest | None, exc: TongbanError) -> TongbanError:
        return _refused_audited(user, request, exc) if audited else exc

    used = MoveRequest.objects.filter(requester_id=user.pk, created_at__gte=_month_start(now)).count()
    if used >= conf.get("MONTHLY_LIMIT"):
        raise _refused(user, request, refuse(
            "carmove_monthly_limit", _("本月一键挪车次数（%(n)d 次）已用完，紧急情况请拨打 122。")
            % {"n": conf.get("MONTHLY_LIMIT")}, 429))
    by_plate = MoveRequest.objects.filter(**blind_lookup(MoveRequest, "plate", plate))
    if by_plate.filter(requester_id=user.pk, status__in=OPEN_STATES).exists():
        raise refuse("carmove_already_open", _("您对该车辆已有进行中的挪车请求，可在请求页面催单。"), 409)
    if by_plate.filter(created_at__gte=now - dt.timedelta(days=1)).count() >= conf.get("PLATE_DAILY_LIMIT"):
        raise _refused(user, request, refuse(
            "carmove_plate_limit", _("该车辆今日已被多次通知，暂不能再次发送，紧急情况请拨打 122。"), 429))


def _serialise(user: Any, plate: str) -> None:
    """Within the caller's transaction: the requester's row locked, and on PostgreSQL a transaction-scoped
    advisory lock on the plate's blind index (SQLite's writers already queue: BEGIN IMMEDIATE). The lock key is
    the keyed digest, never the plate."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    get_user_model().objects.select_for_update().filter(pk=user.pk).first()
    if connection.vendor == "postgresql":
        digest = next(iter(blind_lookup(MoveRequest, "plate", plate).values()))  # a list while a rotation runs
        first = digest[0] if isinstance(digest, list) else digest
        key = int.from_bytes(bytes(first)[:8], "big", signed=True)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def _lock(pk: int) -> MoveRequest:
    move = MoveRequest.objects.select_for_update().filter(pk=pk).first()
    if move is None:
        raise not_found()
    return move


def nudge_available_at(move: MoveRequest) -> dt.datetime:
    return move.notified_at + dt.timedelta(minutes=conf.get("NUDGE_AFTER_MINUTES"))


@transaction.atomic
def move_request_nudge(*, user: Any, request_id: int, request: HttpRequest | None = None) -> MoveRequest:
    """催单: notify the owner again, ten minutes after the last message; the request goes into the local
    traffic police's queue and the page shows the hotline and 122."""
    move = _lock(request_id)
    if move.requester_id != getattr(user, "pk", None):
        raise not_found()
    if move.status not in OPEN_STATES:
        raise refuse("carmove_not_open", _("该挪车请求已结束，不能催单。"), 409)
    now = clock.now()
    if now < nudge_available_at(move):
        left = int((nudge_available_at(move) - now).total_seconds() // 60) + 1
        raise refuse("carmove_nudge_too_soon", _("通知车主后 %(n)d 分钟才能催单，请 %(left)d 分钟后再试。")
                     % {"n": conf.get("NUDGE_AFTER_MINUTES"), "left": left}, 409)
    contact = _owner_contact(move, actor=Actor.user(user), request=request, why="nudge")
    move.nudges += 1
    move.notified_at = now
    if move.escalated_at is None:
        move.escalated_at = now
    move.version += 1
    move.save(update_fields=["nudges", "notified_at", "escalated_at", "version"])
    token = secrets.token_urlsafe(16)  # a fresh link; the old one stops working
    move.reply_token_sm3 = _token_digest(token)
    move.save(update_fields=["reply_token_sm3"])
    _notify_owner(move, phone=contact.phone if contact else None, token=token, nudge=True)
    audit_record(action=Action.CARMOVE_NUDGE, actor=Actor.user(user), request=request,
                 subject=Subject("carmove.request", move.pk), details={"nudges": move.nudges, "escalated": True})
    return move


def request_by_token(token: str) -> MoveRequest | None:
    if not token or len(token) > 64:
        return None
    return MoveRequest.objects.filter(reply_token_sm3=_token_digest(token)).first()


@transaction.atomic
def move_request_reply(*, request_id: int, answer: str, reason: str = "", token: str = "", user: Any = None,
                       request: HttpRequest | None = None) -> MoveRequest:
    """The owner answers "moving" or contests the request — through the SMS link's token, or signed in to
    the account the platform found for them."""
    move = _lock(request_id)
    by_token = bool(token) and secrets.compare_digest(move.reply_token_sm3, _token_digest(token))
    by_account = user is not None and move.owner_user_id is not None and move.owner_user_id == getattr(user, "pk", None)
    if not (by_token or by_account):
        raise not_found()
    if move.status not in OPEN_STATES or (answer == "moving" and move.status == MoveStatus.MOVING):
        raise refuse("carmove_already_answered", _("该挪车请求已答复或已结束。"), 409)
    if answer == "moving":
        move.status = MoveStatus.MOVING
        _tell_requester(move, "moving", _("车主已答复"), _("车主已答复：正在挪车，请稍候。"))
    elif answer == "contest":
        reason = _no_phone(reason, "reason")
        if not reason or len(reason) > 500:
            raise refuse("carmove_reason_required", _("请说明异议理由（1–500 字），民警将复核。"), field="reason")
        move.status = MoveStatus.CONTESTED
        move.contest_reason = reason
        _tell_requester(move, "contested", _("车主对挪车请求有异议"),
                        _("车主对您的挪车请求提出异议，将由民警复核。如仍被挡，请拨打 122。"))
    else:
        raise refuse("carmove_answer_invalid", _("请选择答复：正在挪车，或提出异议。"), field="answer")
    move.replied_at = clock.now()
    move.version += 1
    move.save(update_fields=["status", "contest_reason", "replied_at", "version"])
    audit_record(action=Action.CARMOVE_REPLY, actor=Actor.user(user) if by_account else Actor.anonymous(),
                 request=request, subject=Subject("carmove.request", move.pk),
                 details={"answer": answer, "via": "account" if by_account else "sms_link"})
    return move


@transaction.atomic
def move_request_confirm(*, user: Any, request_id: int, request: HttpRequest | None = None) -> MoveRequest:
    """The requester says the car has been moved (or that they no longer need it): the request ends."""
    move = _lock(request_id)
    if move.requester_id != getattr(user, "pk", None):
        raise not_found()
    if move.status not in OPEN_STATES:
        raise refuse("carmove_not_open", _("该挪车请求已结束。"), 409)
    move.status = MoveStatus.MOVED
    move.version += 1
    move.save(update_fields=["status", "version"])
    audit_record(action=Action.CARMOVE_CONFIRM, actor=Actor.user(user), request=request,
                 subject=Subject("carmove.request", move.pk), details={})
    return move


def _officer_lock(user: Any, request_id: int) -> MoveRequest:
    from tongban.accounts.roles import Department
    from tongban.accounts.selectors import officer_can_access

    move = _lock(request_id)
    if not (getattr(user, "role_officer", False) and getattr(user, "is_active", False)
            and officer_can_access(user, department=Department.TRAFFIC, region_code=move.region_code)):
        raise not_found()
    return move


@transaction.atomic
def move_request_handle(*, user: Any, request_id: int, note: str, request: HttpRequest | None = None
                        ) -> MoveRequest:
    """A traffic officer records what was done about an escalated request (dispatched, car moved, ticketed)."""
    move = _officer_lock(user, request_id)
    if move.escalated_at is None or move.handled_at is not None:
        raise refuse("carmove_not_in_queue", _("该请求不在待处置队列中。"), 409)
    note = (note or "").strip()
    if not note or len(note) > 500:
        raise refuse("carmove_note_required", _("请填写处置情况（1–500 字）。"), field="note")
    move.handled_at = clock.now()
    move.handled_by = user
    move.handling_note = note
    if move.status in OPEN_STATES:
        move.status = MoveStatus.MOVED
    move.version += 1
    move.save(update_fields=["handled_at", "handled_by", "handling_note", "status", "version"])
    _tell_requester(move, "handled", _("交警已处置"), _("属地交警已处置您的挪车请求。"))
    audit_record(action=Action.CARMOVE_HANDLE, actor=Actor.user(user), request=request,
                 subject=Subject("carmove.request", move.pk), details={})
    return move


@transaction.atomic
def move_request_review(*, user: Any, request_id: int, outcome: str, note: str = "",
                        request: HttpRequest | None = None) -> MoveRequest:
    """An officer decides a contested request; the requester's third confirmed malicious request within a
    year bans them from the service for a year."""
    move = _officer_lock(user, request_id)
    if move.status != MoveStatus.CONTESTED:
        raise refuse("carmove_not_contested", _("该请求没有待复核的异议。"), 409)
    if outcome not in ReviewOutcome.values:
        raise refuse("carmove_outcome_invalid", _("请选择复核结论。"), field="outcome")
    now = clock.now()
    move.status = MoveStatus.REVIEWED
    move.review_outcome = outcome
    move.reviewed_at = now
    move.reviewed_by = user
    move.version += 1
    move.save(update_fields=["status", "review_outcome", "reviewed_at", "reviewed_by", "version"])
    audit_record(action=Action.CARMOVE_REVIEW, actor=Actor.user(user), request=request,
                 subject=Subject("carmove.request", move.pk), details={"outcome": outcome})
    if outcome == ReviewOutcome.MALICIOUS:
        _tell_requester(move, "malicious", _("挪车请求复核结果"),
                        _("经民警复核，您的挪车请求被认定为恶意请求。一年内累计 %(n)d 次将暂停使用一键挪车一年。")
                        % {"n": conf.get("MALICIOUS_FOR_BAN")})
        since = now - dt.timedelta(days=365)
        confirmed = MoveRequest.objects.filter(requester_id=move.requester_id, review_outcome=ReviewOutcome.MALICIOUS,
                                               reviewed_at__gte=since).count()
        if confirmed >= conf.get("MALICIOUS_FOR_BAN") and active_ban(move.requester) is None:
            ban = Ban.objects.create(user_id=move.requester_id, starts_at=now,
                                     ends_at=now + dt.timedelta(days=conf.get("BAN_DAYS")),
                                     reason=f"{confirmed} confirmed malicious requests", created_by=user)
            audit_record(action=Action.CARMOVE_BAN, actor=Actor.user(user), request=request,
                         subject=Subject("accounts.user", move.requester_id),
                         details={"ban": ban.pk, "confirmed": confirmed, "days": conf.get("BAN_DAYS")})
            _tell_requester(move, "banned", _("暂停使用一键挪车"),
                            _("因一年内 %(n)d 次恶意挪车请求，您将暂停使用一键挪车至 %(day)s。")
                            % {"n": confirmed, "day": clock.to_local(ban.ends_at).strftime("%Y-%m-%d")})
    else:
        _tell_requester(move, "genuine", _("挪车请求复核结果"), _("经民警复核，您的挪车请求属实。"))
    return move


def photo_open(*, user: Any, photo_id: int, token: str = "", request: HttpRequest | None = None) -> MovePhoto:
    """A photo for the requester, the owner (token or account) or a traffic officer covering it; audited."""
    from tongban.accounts.roles import Department
    from tongban.accounts.selectors import officer_can_access

    photo = MovePhoto.objects.select_related("request").filter(pk=photo_id).first()
    if photo is None:
        raise not_found()
    move = photo.request
    uid = getattr(user, "pk", None)
    allowed = (uid is not None and uid in (move.requester_id, move.owner_user_id)) or (
        bool(token) and secrets.compare_digest(move.reply_token_sm3, _token_digest(token))) or (
        getattr(user, "role_officer", False) and callable(getattr(user, "is_verified", None)) and user.is_verified()
        and officer_can_access(user, department=Department.TRAFFIC, region_code=move.region_code))
    if not allowed:
        raise not_found()
    with transaction.atomic():
        audit_record(action=Action.CARMOVE_PHOTO_OPEN, actor=Actor.user(user), request=request,
                     subject=Subject("carmove.request", move.pk), details={"photo": photo.pk})
    return photo
