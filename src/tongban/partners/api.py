"""The partner verification API, /partner/v1/: signed requests in, signed verdicts out (docs/partner-api.md).

Plain Django views, not django-ninja: this is the platform's hottest path (bench/verify.py), so no
session, CSRF, template or ORM-instance work happens on it. The app is read with one raw query and
cached per process with its parsed key (selectors.partner_app); the nonce check, rate limits and
quota are cache operations; the audit entry is one chain append; metering is an in-process counter.
The OpenAPI description (/partner/v1/openapi.json) is generated from the pydantic models that
validate the input (schemas.py).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.core.cache import cache
from django.db import IntegrityError, InterfaceError, OperationalError, connections, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.encoding import escape_uri_path
from django.views.decorators.csrf import csrf_exempt
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from tongban.audit.actions import Action, Outcome
from tongban.audit.services import Actor, audit_record
from tongban.core import clock, ratelimit
from tongban.core.errors import TongbanError, error_body
from tongban.core.jsonparse import loads_untrusted
from tongban.core.logging import get_logger
from tongban.core.middleware import request_language
from tongban.crypto.sm3 import sm3
from tongban.partners import abuse, metering, signing
from tongban.partners.conf import partners
from tongban.partners.schemas import (
    LONG_TERM,
    MAX_BATCH,
    BatchEnvelope,
    Person,
    VerificationRequest,
)
from tongban.partners.selectors import PartnerAppInfo, partner_app, purpose_levels
from tongban.verification.engine import IdentityClaim, VerificationOutcome
from tongban.verification.levels import AssuranceLevel
from tongban.verification.services import level_code, new_verification_id, verification_perform

log = get_logger("tongban.partners.api")

M = TypeVar("M", bound=BaseModel)

CHANNEL = "partner_api"
IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
IDEMPOTENCY_TTL = dt.timedelta(hours=24)
LEVELS = {"l1": AssuranceLevel.L1, "l2": AssuranceLevel.L2}
# An app id is `pa_` + 20 characters; anything outside this shape is an unknown app, never looked up (a NUL
# byte would fail the query on PostgreSQL) and never written to the audit log as it came.
APP_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
# The error code of a field's own failures (its type, length or shape; docs/partner-api.md §5).
_FIELD_CODES = {"name": "name_invalid", "valid_from": "card_validity_invalid", "valid_to": "card_validity_invalid"}
_IDENTIFIER_CODES = ("id_format", "id_region", "id_birth_date", "id_checksum", "residence_permit_format",
                     "travel_permit_format", "name_invalid", "card_validity_invalid")


@dataclass
class Call:
    """An authenticated request: the app, its nonce, the raw body."""

    app: PartnerAppInfo
    nonce: str
    body: bytes
    idempotency_key: str | None = None
    request_hash: str = ""
    level: str = ""
    throttled: int = 0  # seconds left of the app's enumeration throttle, read with the nonce (abuse)


def _dumps(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _signed(nonce: str, status: int, body: bytes, headers: dict[str, str] | None = None) -> HttpResponse:
    signature, key_id = signing.sign_response(nonce=nonce, status=status, body=body)
    response = HttpResponse(body, status=status, content_type="application/json; charset=utf-8")
    response[signing.HEADER_RESPONSE_SIGNATURE] = signature
    response[signing.HEADER_KEY_ID] = key_id
    response[signing.HEADER_NONCE] = nonce
    response["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _error(request: HttpRequest, nonce: str, exc: TongbanError) -> HttpResponse:
    body = _dumps(error_body(exc.code, language=request_language(request),
                             request_id=getattr(request, "request_id", None),
                             message=exc.message(request_language(request)), details=exc.details))
    return _signed(nonce, exc.http_status(), body, exc.headers)


# -- authentication -----------------------------------------------------------------------------------


def _auth_failure(request: HttpRequest, app_id: str, reason: str, exc: TongbanError) -> TongbanError:
    well_formed = bool(APP_ID_RE.match(app_id))
    log.warning("partner.auth_failed", app=app_id if well_formed else "(malformed)", reason=reason)
    audit_record(action=Action.PARTNER_AUTH_FAILURE, outcome=Outcome.DENIED,
                 actor=Actor.partner_app(app_id) if well_formed else Actor.anonymous(), request=request,
                 details={"reason": reason, "error": exc.code, **({} if well_formed or not app_id
                                                                  else {"app_id_malformed": True})})
    return exc


def authenticate(request: HttpRequest, *, max_body: int | None = None) -> Call:
    """Check the four signature headers, the window, the signature and the nonce; then status and rate.
    `max_body`: the path's own body limit (the face call carries frames), else the configured one."""
    conf = partners()
    max_body = conf.max_body_bytes if max_body is None else max_body
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > max_body:
        raise TongbanError("payload_too_large")
    headers = request.headers
    app_id = headers.get(signing.HEADER_APP, "")
    timestamp = headers.get(signing.HEADER_TIMESTAMP, "")
    nonce = headers.get(signing.HEADER_NONCE, "")
    signature = headers.get(signing.HEADER_SIGNATURE, "")
    missing = [name for name, value in ((signing.HEADER_APP, app_id), (signing.HEADER_TIMESTAMP, timestamp),
                                         (signing.HEADER_NONCE, nonce), (signing.HEADER_SIGNATURE, signature))
               if not value]
    if missing:
        raise _auth_failure(request, app_id, "headers_missing", TongbanError(
            "signature_invalid", details=[{"field": name, "type": "missing"} for name in missing]))
    if not signing.NONCE_RE.match(nonce):
        raise _auth_failure(request, app_id, "nonce_malformed", TongbanError(
            "signature_invalid", details=[{"field": signing.HEADER_NONCE, "type": "invalid",
                                           "message": "16-64 characters of A-Z a-z 0-9 _ -"}]))
    if not signing.TIMESTAMP_RE.match(timestamp):
        raise _auth_failure(request, app_id, "timestamp_malformed", TongbanError(
            "signature_invalid", details=[{"field": signing.HEADER_TIMESTAMP, "type": "invalid",
                                           "message": "unix time in whole seconds"}]))
    now = int(time.time())
    if abs(int(timestamp) - now) > conf.clock_skew_seconds:
        raise _auth_failure(request, app_id, "timestamp_out_of_window", TongbanError(
            "timestamp_out_of_window", details=[{"server_time": now, "allowed_skew": conf.clock_skew_seconds}]))
    app = partner_app(app_id) if APP_ID_RE.match(app_id) else None
    body = request.body
    if len(body) > max_body:
        raise TongbanError("payload_too_large")
    canonical = signing.canonical_request(method=request.method or "", path=escape_uri_path(request.path),
                                          query=request.META.get("QUERY_STRING", ""), timestamp=timestamp,
                                          nonce=nonce, body=body)
    # An unknown app is answered exactly like a bad signature: app ids cannot be probed.
    if app is None or app.public_key is None or not signing.verify_request(app.public_key, canonical, signature):
        raise _auth_failure(request, app_id, "app_unknown" if app is None else "signature_invalid",
                            TongbanError("signature_invalid"))
    # The nonce claimed, the app's rate limits counted and its enumeration throttle read: one cache round trip.
    limits = [ratelimit.Limit(f"pa-rate:{app.app_id}", app.rate_per_second, 1),
              ratelimit.Limit(f"pa-rate:{app.app_id}", app.rate_per_minute, 60)]
    fresh, rates, (throttle_until,) = ratelimit.claim_and_hit(f"pn:{app.app_id}:{nonce}", conf.nonce_ttl_seconds,
                                                              limits, reads=[abuse.throttle_key(app.app_id)])
    if not fresh:
        raise _auth_failure(request, app_id, "nonce_replayed", TongbanError("nonce_replayed"))
    request.audit_actor = Actor.partner_app(app.app_id)  # type: ignore[attr-defined]
    call = Call(app=app, nonce=nonce, body=body, throttled=abuse.throttle_wait(throttle_until))
    if not app.active:
        raise _refused(request, call, TongbanError("app_suspended"))
    for limit, result in zip(limits, rates, strict=True):
        if not result.allowed:
            window = limit.window
            # Logged and metered, not audited one by one: a flood must not turn into audit writes.
            log.info("partner.rate_limited", app=app.app_id, window=window)
            metering.record(app_key=app.app_id, organisation_id=app.organisation_id, level="-",
                            outcome=metering.THROTTLED)
            raise ratelimit.rate_limited_error(result)
    key = headers.get(IDEMPOTENCY_HEADER)
    if key is not None:
        if not IDEMPOTENCY_RE.match(key):
            raise _refused(request, call, TongbanError("idempotency_key_invalid"))
        call.idempotency_key = key
        call.request_hash = sm3(f"{request.method}\n{request.path}\n".encode() + body).hex()
    return call


def _refused(request: HttpRequest, call: Call, exc: TongbanError) -> TongbanError:
    """An authenticated call refused before any verification: audited and metered, then raised."""
    audit_record(action=Action.VERIFICATION_REQUEST, outcome=Outcome.DENIED, actor=Actor.partner_app(call.app.app_id),
                 request=request, details={"channel": CHANNEL, "app": call.app.app_id, "error": exc.code,
                                           "level_requested": call.level or None})
    metering.record(app_key=call.app.app_id, organisation_id=call.app.organisation_id, level=call.level or "-",
                    outcome=metering.INVALID if exc.http_status() == 422 else metering.THROTTLED
                    if exc.http_status() == 429 else metering.REFUSED)
    return exc


# -- idempotency and quota ----------------------------------------------------------------------------


def _idempotent_replay(call: Call) -> tuple[int, bytes] | None:
    if call.idempotency_key is None:
        return None
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT id, request_hash, status, body, created_at FROM partners_idempotencyrecord "
                       "WHERE app_id = %s AND key = %s", [call.app.pk, call.idempotency_key])
        row = cursor.fetchone()
    if row is None:
        return None
    record_id, request_hash, status, body, created_at = row
    if isinstance(created_at, str):  # SQLite through a raw cursor
        created_at = dt.datetime.fromisoformat(created_at)
    if timezone.is_naive(created_at):
        created_at = timezone.make_aware(created_at, dt.UTC)
    if created_at < clock.now() - IDEMPOTENCY_TTL:
        with connections["default"].cursor() as cursor:
            cursor.execute("DELETE FROM partners_idempotencyrecord WHERE id = %s", [record_id])
        return None
    if request_hash != call.request_hash:
        raise TongbanError("idempotency_conflict")
    return int(status), bytes(body)


def _idempotent_store(call: Call, status: int, body: bytes, signature: str, key_id: str) -> None:
    try:
        with transaction.atomic(), connections["default"].cursor() as cursor:
            cursor.execute(
                "INSERT INTO partners_idempotencyrecord (app_id, key, request_hash, status, body, signature, key_id, "
                "nonce, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [call.app.pk, call.idempotency_key, call.request_hash, status, body, signature, key_id, call.nonce,
                 clock.now()])
    except IntegrityError:
        pass  # two identical requests raced: the first stored answer stays the one replayed


def _seconds_to_midnight() -> int:
    now = clock.now().astimezone(clock.SHANGHAI)
    midnight = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), tzinfo=clock.SHANGHAI)
    return max(1, int((midnight - now).total_seconds()))


def _quota(request: HttpRequest, call: Call, cost: int) -> None:
    key = f"pa-quota:{call.app.app_id}:{clock.today_local().isoformat()}"
    used = ratelimit.counter_add(key, cost, timeout=2 * 86400)
    if used > call.app.daily_quota:
        cache.decr(key, cost)  # a refused call does not use the quota
        wait = _seconds_to_midnight()
        raise _refused(request, call, TongbanError("quota_exceeded", headers={"Retry-After": str(wait)},
                                                   details=[{"daily_quota": call.app.daily_quota,
                                                             "retry_after": wait}]))


# -- input ------------------------------------------------------------------------------------------------


_LOC_PART = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _validation_details(exc: PydanticValidationError, prefix: str = "") -> list[dict[str, Any]]:
    """One detail per failure, naming the field as the caller wrote it (`items.3.name`): pydantic's union
    member tags (`literal['长期']`) are left out of the path."""
    details = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if isinstance(p, int) or _LOC_PART.match(str(p))]
        details.append({"field": prefix + ".".join(loc) if loc else prefix.rstrip(".") or None,
                        "type": err.get("type", "invalid"), "message": str(err.get("msg", ""))})
    return details


def _json(body: bytes) -> Any:
    """The body as JSON: not JSON, not UTF-8 or nested too deep is 400 invalid_json (tongban.core.jsonparse)."""
    return loads_untrusted(body)


def _level(data: Any) -> str:
    """The level asked for, for metering and the audit entry of a refusal: "" unless it is a known one."""
    level = data.get("level") if isinstance(data, dict) else None
    return level if isinstance(level, str) and level in LEVELS else ""


def _input_error(exc: PydanticValidationError, data: Any, prefix: str = "") -> TongbanError:
    """A validation failure as the documented code: `purpose_required` for a missing, null or blank purpose;
    the field's own code when every failure is in one field that has one (id_format or travel_permit_format,
    name_invalid, card_validity_invalid); otherwise validation_error. `details` name every failing field."""
    errors = exc.errors()
    fields = {str(e["loc"][0]) if e.get("loc") else "" for e in errors}
    if "purpose" in fields and isinstance(data, dict):
        purpose = data.get("purpose")
        if purpose is None or (isinstance(purpose, str) and not purpose.strip()):
            return TongbanError("purpose_required", details=[{"field": prefix + "purpose", "type": "missing"}])
    details = _validation_details(exc, prefix)
    if len(fields) == 1:
        (field,) = fields
        code = _FIELD_CODES.get(field)
        if field == "id_number":
            permit = isinstance(data, dict) and data.get("id_type") == "hk_macao_permit"
            code = "travel_permit_format" if permit else "id_format"
        if code is not None:
            return TongbanError(code, details=details)
    return TongbanError("validation_error", details=details)


def _parse(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except PydanticValidationError as exc:
        raise _input_error(exc, data) from None


def _check_allowed(request: HttpRequest, call: Call, level: str, purpose: str) -> None:
    if purpose not in call.app.purposes:
        raise _refused(request, call, TongbanError("purpose_not_allowed", details=[{"field": "purpose"}]))
    if level not in call.app.allowed_levels:
        raise _refused(request, call, TongbanError("level_not_allowed", details=[{"field": "level"}]))
    # The purpose's own levels: a courier or internet café asks real-name (l1) only, a bank l2.
    levels = purpose_levels(purpose)
    if levels and level not in levels:
        raise _refused(request, call, TongbanError("level_not_allowed", details=[
            {"field": "level", "type": "level_not_allowed_for_purpose", "purpose": purpose,
             "allowed": sorted(levels)}]))


def _claim(person: Person) -> IdentityClaim:
    long_term = person.valid_to == LONG_TERM
    return IdentityClaim(id_type=person.id_type, id_number=person.id_number, name=person.name,
                         card_valid_from=person.valid_from,
                         card_valid_to=None if long_term else person.valid_to,  # type: ignore[arg-type]
                         card_long_term=long_term)


def _outcome(verification_id: str, outcome: VerificationOutcome) -> dict[str, Any]:
    return {
        "verification_id": verification_id,
        "level_requested": level_code(outcome.requested),
        "level_reached": "none" if outcome.reached is AssuranceLevel.NONE else level_code(outcome.reached),
        "acr": outcome.acr,
        "passed": outcome.passed,
        "reason": None if outcome.reason is None else outcome.reason.value,
        "fields": {name: verdict.value for name, verdict in outcome.fields.items()},
    }


def _perform(request: HttpRequest, call: Call, person: Person, level: str, purpose: str, *,
             batch: bool = False) -> dict[str, Any]:
    verification_id = new_verification_id()
    # A batch reads the throttle again for each person: its own answers may throttle the app half-way.
    outcome = verification_perform(claim=_claim(person), level=LEVELS[level], purpose=purpose,
                                   actor=Actor.partner_app(call.app.app_id), request=request, channel=CHANNEL,
                                   app=call.app, verification_id=verification_id,
                                   app_throttled=None if batch else call.throttled)
    return _outcome(verification_id, outcome)


# -- the endpoints ---------------------------------------------------------------------------------------


def _single(request: HttpRequest, call: Call) -> dict[str, Any]:
    data = _json(call.body)
    call.level = _level(data)
    try:
        parsed = _parse(VerificationRequest, data)
    except TongbanError as exc:
        raise _refused(request, call, exc) from None
    _check_allowed(request, call, parsed.level, parsed.purpose)
    _quota(request, call, 1)
    result = _perform(request, call, parsed, parsed.level, parsed.purpose)
    return {**result, "nonce": call.nonce, "purpose": parsed.purpose}


def _batch(request: HttpRequest, call: Call) -> dict[str, Any]:
    data = _json(call.body)
    call.level = _level(data)
    items = data.get("items") if isinstance(data, dict) else None
    if isinstance(items, list) and len(items) > MAX_BATCH:
        raise _refused(request, call, TongbanError("batch_too_large", details=[
            {"field": "items", "max": MAX_BATCH, "given": len(items)}]))
    # The envelope first (level, purpose, a list of 1-100); each person is then checked on its own.
    try:
        parsed = _parse(BatchEnvelope, data)
    except TongbanError as exc:
        raise _refused(request, call, exc) from None
    items = parsed.items
    _check_allowed(request, call, parsed.level, parsed.purpose)
    _quota(request, call, len(items))
    results: list[dict[str, Any]] = []
    for index, raw in enumerate(items):
        try:
            try:
                person = Person.model_validate(raw)
            except PydanticValidationError as exc:
                error = _input_error(exc, raw, f"items.{index}.")
                audit_record(action=Action.VERIFICATION_REQUEST, outcome=Outcome.FAILURE,
                             actor=Actor.partner_app(call.app.app_id), request=request,
                             details={"channel": CHANNEL, "app": call.app.app_id, "error": error.code,
                                      "batch_index": index, "level_requested": parsed.level})
                metering.record(app_key=call.app.app_id, organisation_id=call.app.organisation_id,
                                level=parsed.level, outcome=metering.INVALID)
                raise error from None
            outcome = _perform(request, call, person, parsed.level, parsed.purpose, batch=True)
            results.append({"index": index, "outcome": outcome, "error": None})
        except TongbanError as exc:
            language = request_language(request)
            body = error_body(exc.code, language=language, request_id=None, message=exc.message(language),
                              details=exc.details)["error"]
            if exc.code in _IDENTIFIER_CODES:
                for detail in body.get("details") or []:
                    if isinstance(detail.get("field"), str) and not detail["field"].startswith("items."):
                        detail["field"] = f"items.{index}.{detail['field']}"
            results.append({"index": index, "outcome": None, "error": body})
    return {"nonce": call.nonce, "purpose": parsed.purpose, "level_requested": parsed.level, "count": len(results),
            "results": results}


def _handle(request: HttpRequest, handler: Callable[[HttpRequest, Call], dict[str, Any]], *,
            max_body: int | None = None) -> HttpResponse:
    nonce = _request_nonce(request)
    try:
        if request.method != "POST":
            return _error(request, nonce, TongbanError("method_not_allowed", headers={"Allow": "POST"}))
        call = authenticate(request, max_body=max_body)
        replay = _idempotent_replay(call)
        if replay is not None:
            status, body = replay
            return _signed(call.nonce, status, body, {"Idempotent-Replayed": "true"})
        payload = handler(request, call)
        body = _dumps(payload)
        response = _signed(call.nonce, 200, body)
        if call.idempotency_key is not None:
            _idempotent_store(call, 200, body, response[signing.HEADER_RESPONSE_SIGNATURE],
                              response[signing.HEADER_KEY_ID])
        return response
    except TongbanError as exc:
        return _error(request, nonce, exc)
    except (OperationalError, InterfaceError):
        # The platform database is unreachable (or the connection died since the last request: the fast
        # lane does not ping before each request). Nothing was answered as verified; retrying is safe. Not
        # logged per request: the database's change of state is (tongban.core.resilience, issue 12).
        log.debug("partner.database_unavailable", path=request.path)
        return _error(request, nonce, TongbanError("service_unavailable", headers={"Retry-After": "1"}))
    except Exception:
        log.exception("partner.unhandled_error", path=request.path)
        return _error(request, nonce, TongbanError("internal_error"))


@csrf_exempt
def verifications(request: HttpRequest) -> HttpResponse:
    """POST /partner/v1/verifications: one person."""
    return _handle(request, _single)


@csrf_exempt
def verifications_batch(request: HttpRequest) -> HttpResponse:
    """POST /partner/v1/verifications/batch: up to 100 people, each answered on its own."""
    return _handle(request, _batch)


def _request_nonce(request: HttpRequest) -> str:
    """The request's nonce if it is well-formed, else "": what the canonical response echoes."""
    header_nonce = request.headers.get(signing.HEADER_NONCE, "")
    return header_nonce if signing.NONCE_RE.match(header_nonce) else ""


def _public(request: HttpRequest, payload: dict[str, Any]) -> HttpResponse:
    """A public document (the keys, the OpenAPI description), signed like every answer on /partner/: with the
    request's nonce when it sent one (then not cacheable), else with an empty one (cacheable for 5 minutes)."""
    nonce = _request_nonce(request)
    response = _signed(nonce, 200, _dumps(payload))
    if not nonce:
        response["Cache-Control"] = "public, max-age=300"
    response["Vary"] = signing.HEADER_NONCE
    return response


@csrf_exempt  # so that any other method gets 405, not the CSRF failure page
def published_keys(request: HttpRequest) -> HttpResponse:
    """GET /partner/v1/keys: the platform's response-signing public keys (current first)."""
    if request.method not in ("GET", "HEAD"):
        return _error(request, _request_nonce(request), TongbanError("method_not_allowed", headers={"Allow": "GET"}))
    return _public(request, {"keys": signing.published_keys()})


@csrf_exempt
def openapi(request: HttpRequest) -> HttpResponse:
    """GET /partner/v1/openapi.json."""
    if request.method not in ("GET", "HEAD"):
        return _error(request, _request_nonce(request), TongbanError("method_not_allowed", headers={"Allow": "GET"}))
    from tongban.partners.openapi import document

    return _public(request, document())


@csrf_exempt
def not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    """Any other path under /partner/: 404 not_found, signed like every other answer there."""
    return _error(request, _request_nonce(request), TongbanError("not_found"))
