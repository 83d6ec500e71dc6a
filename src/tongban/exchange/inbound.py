"""Inbound: batches the national platform sends us. The signature is checked before anything is read; each
message is validated against its schema and applied in its own transaction together with its record, so a
message is applied once (by idempotency key) and never half; the batch is logged and answered with a signed
receipt. Cases go to the case engine, ratings to the evaluation app."""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

from django.db import IntegrityError, transaction
from pydantic import ValidationError

from tongban.audit.actions import Action
from tongban.audit.services import Actor, Subject, audit_record
from tongban.core.errors import TongbanError
from tongban.crypto.errors import DecryptionError
from tongban.crypto.sm3 import sm3
from tongban.exchange import keys, wire
from tongban.exchange.conf import peer_public_key
from tongban.exchange.log import log_append
from tongban.exchange.models import InMessage, InStatus
from tongban.exchange.schemas import INCOMING, Envelope

logger = logging.getLogger("tongban.exchange")
COMPONENT = "exchange.inbound"


class Refused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _user_by_id_number(number: str) -> Any:
    from tongban.accounts.models import CitizenProfile
    from tongban.crypto.fields import blind_lookup

    profile = (CitizenProfile.objects.filter(**blind_lookup(CitizenProfile, "person_key", number),
                                             closed_at__isnull=True).select_related("user").first())
    return profile.user if profile else None


def _apply_case(body: dict[str, Any], personal: dict[str, Any]) -> dict[str, Any]:
    from tongban.cases import services as cases

    user = _user_by_id_number(personal["applicant_id_number"])
    if user is None:
        raise Refused("applicant_unknown", "申请人未在本平台注册实名账号。")
    case = cases.case_start(user=user, item_code=body["item_code"])
    cases.case_save_draft(user=user, case_id=case.pk, answers=body.get("answers") or {},
                          delivery=body.get("delivery") or {"method": "electronic"})
    case = cases.case_submit(user=user, case_id=case.pk)
    return {"case_number": case.number, "case_id": case.pk}


def _apply_rating(body: dict[str, Any], personal: dict[str, Any] | None) -> dict[str, Any]:
    from tongban.evaluation.services import rating_receive_from_national

    rated_at = dt.datetime.fromisoformat(body["rated_at"]) if body.get("rated_at") else None
    if rated_at is not None and rated_at.tzinfo is None:
        raise Refused("schema_invalid", "评价时间必须带时区。")
    rating, created = rating_receive_from_national(
        national_id=body["national_id"], case_number=body["case_number"], level=body["level"],
        tags=body.get("tags") or [], comment=body.get("comment"), rated_at=rated_at,
        real_name=body.get("real_name", True))
    return {"rating_id": rating.pk, "created": created}


def _apply_user_link(body: dict[str, Any], personal: dict[str, Any]) -> dict[str, Any]:
    user = _user_by_id_number(personal["id_number"])
    return {"known_here": user is not None, "event": body["event"]}


APPLY = {"case.application": _apply_case, "evaluation.rating": _apply_rating, "user.link": _apply_user_link}


def _one(message: dict[str, Any], personal_block: dict[str, Any], batch_id: str) -> dict[str, Any]:
    key = str(message.get("key") or "")[:100]
    if not key:
        return {"key": "", "status": "rejected", "code": "key_missing", "message": "缺少幂等键。"}
    seen = InMessage.objects.filter(key=key).first()
    if seen is not None:
        return {"key": key, "status": "duplicate", "code": seen.code, "result": seen.result}
    type_, version = str(message.get("type")), message.get("v")
    schemas = INCOMING.get((type_, int(version) if isinstance(version, int) else 0))
    try:
        if schemas is None:
            raise Refused("type_unknown", f"不支持的消息类型：{type_} v{version}。")
        body_model, personal_model = schemas
        body = body_model.model_validate(message.get("body")).model_dump()
        personal = personal_block.get(key)
        if personal_model is not None:
            personal = personal_model.model_validate(personal or {}).model_dump()
        with transaction.atomic():
            result = APPLY[type_](body, personal or {})
            row = InMessage(key=key, type=type_, batch_id=batch_id, status=InStatus.APPLIED, result=result,
                            body=json.dumps(body, ensure_ascii=False))
            row.save()
            audit_record(action=Action.EXCHANGE_INBOUND, actor=Actor.system(COMPONENT), subject=Subject.of(row),
                         details={"type": type_, "result": result})
        return {"key": key, "status": "accepted", "result": result}
    except IntegrityError:  # the same key applied by a concurrent delivery: theirs stands
        return {"key": key, "status": "duplicate"}
    except (Refused, TongbanError, ValidationError, ValueError, KeyError) as exc:
        if isinstance(exc, Refused):
            code, text = exc.code, exc.message
        elif isinstance(exc, TongbanError):
            code, text = exc.code, exc.message("zh-hans")
        elif isinstance(exc, ValidationError):
            code, text = "schema_invalid", "消息不符合模式：" + "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['type']}" for e in exc.errors()[:5])
        else:
            code, text = "message_invalid", "消息无法解析。"
        try:
            with transaction.atomic():
                InMessage(key=key, type=type_[:40], batch_id=batch_id, status=InStatus.REJECTED, code=code[:64],
                          message=text[:300]).save()
        except IntegrityError:
            pass
        logger.info("exchange.inbound_rejected", extra={"key": key, "code": code})
        return {"key": key, "status": "rejected", "code": code, "message": text}


def inbound_batch(*, body: bytes, signature: str, signer: str) -> dict[str, Any]:
    """Apply one signed batch; raises TongbanError (401 / 400) for a batch refused as a whole."""
    body_sm3 = sm3(body).hex()
    if not wire.verify(peer_public_key(), body, signature):
        log_append(direction="in", batch_id="(unverified)", count=0, keys_sm3="", body_sm3=body_sm3,
                   signature=signature[:200], signer_key=signer[:40], receipt="", outcome="bad_signature")
        audit_record(action=Action.EXCHANGE_INBOUND_REFUSED, actor=Actor.system(COMPONENT),
                     subject=Subject("exchange.batch", 0), details={"signer": signer[:40], "body_sm3": body_sm3})
        raise TongbanError("exchange_bad_signature", "批次签名无效，已拒绝。", "Bad batch signature.", 401)
    try:
        envelope = Envelope.model_validate_json(body)
        recipient = envelope.recipient_key or ""
        cipher = keys.inbound_cipher(envelope.envelope["key_id"], wire.unb64(envelope.envelope["wrapped_key"]),
                                     recipient)
    except (ValidationError, ValueError, KeyError) as exc:
        raise TongbanError("exchange_batch_invalid", "批次格式无效。", f"Invalid batch: {type(exc).__name__}",
                           400) from exc
    try:
        block = wire.open_personal(cipher, envelope.batch_id, envelope.personal)
    except (ValueError, DecryptionError) as exc:
        raise TongbanError("exchange_batch_invalid", "批次个人信息无法解密。", "The personal block does not open.",
                           400) from exc
    results = [_one(m, block, envelope.batch_id) for m in envelope.messages]
    signer_name, private = keys.signer()
    receipt = wire.sign(private, wire.receipt_input(envelope.batch_id, body_sm3))
    keys_list = [r["key"] for r in results]
    log_append(direction="in", batch_id=envelope.batch_id, count=len(results), keys_sm3=wire.keys_digest(keys_list),
               body_sm3=body_sm3, signature=signature, signer_key=signer[:40], receipt=receipt,
               outcome="accepted" if all(r["status"] != "rejected" for r in results) else "partial")
    return {"batch_id": envelope.batch_id, "results": results, "receipt": receipt, "receipt_signer": signer_name}
