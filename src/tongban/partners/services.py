"""Writes on partner organisations and apps, and on abuse alerts; each audited in its transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction
from django.http import HttpRequest

from tongban.audit.actions import Action
from tongban.audit.services import Actor, Subject, audit_record
from tongban.core import clock
from tongban.core.errors import TongbanError
from tongban.crypto.errors import KeyFormatError
from tongban.crypto.sm2 import SM2PrivateKey, SM2PublicKey
from tongban.partners.models import (
    LEVEL_CODES,
    AbuseAlert,
    AppStatus,
    IdempotencyRecord,
    OrganisationKind,
    PartnerApp,
    PartnerOrganisation,
    PurposeCode,
)
from tongban.partners.selectors import forget_apps


def parse_public_key(value: bytes | str) -> bytes:
    """A partner's SM2 public key as 65 raw bytes, from raw bytes, hex, or PEM."""
    try:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("-----BEGIN"):
                return SM2PublicKey.from_pem(text).to_raw()
            return SM2PublicKey.from_raw(bytes.fromhex(text)).to_raw()
        return SM2PublicKey.from_raw(value).to_raw()
    except (KeyFormatError, ValueError):
        raise TongbanError("validation_error", details=[{"field": "public_key", "type": "invalid",
                                                         "message": "not an SM2 public key"}]) from None


def organisation_get_or_create(*, name: str, kind: str, region_code: str = "", actor: Actor) -> PartnerOrganisation:
    if kind not in OrganisationKind.values:
        raise TongbanError("validation_error", details=[{"field": "kind", "type": "invalid"}])
    with transaction.atomic():
        org, created = PartnerOrganisation.objects.get_or_create(
            name=name, defaults={"kind": kind, "region_code": region_code})
        if created:
            org.full_clean()
            audit_record(action=Action.CONFIG_CHANGE, actor=actor, subject=Subject.of(org),
                         details={"change": "partner_organisation_create", "kind": kind, "region_code": region_code})
    return org


@dataclass(frozen=True)
class NewApp:
    app: PartnerApp
    private_key_pem: str | None  # only when the platform generated the key pair (demo use)


def partner_app_create(
    *,
    organisation: PartnerOrganisation,
    name: str,
    levels: Iterable[str],
    purposes: Iterable[str],
    actor: Actor,
    public_key: bytes | str | None = None,
    daily_quota: int = 100_000,
    rate_per_second: int = 50,
    rate_per_minute: int = 1_500,
    contacts: str = "",
) -> NewApp:
    """Register an app. Without `public_key` a key pair is generated and its private half returned
    once (for demos and the benchmark; a real partner generates its own and sends the public key)."""
    private_pem = None
    if public_key is None:
        private = SM2PrivateKey.generate()
        raw = private.public_key().to_raw()
        private_pem = private.to_pem().decode("ascii")
    else:
        raw = parse_public_key(public_key)
    levels, purposes = sorted(set(levels)), sorted(set(purposes))
    unknown_levels = [lv for lv in levels if lv not in LEVEL_CODES]
    if unknown_levels or not levels:
        raise TongbanError("validation_error", details=[{"field": "levels", "type": "invalid"}])
    known = set(PurposeCode.objects.filter(code__in=purposes, active=True).values_list("code", flat=True))
    if not purposes or set(purposes) - known:
        raise TongbanError("validation_error", details=[{"field": "purposes", "type": "invalid",
                                                         "message": f"unknown: {sorted(set(purposes) - known)}"}])
    with transaction.atomic():
        app = PartnerApp(organisation=organisation, name=name, public_key=raw, allowed_levels=levels,
                         purposes=purposes, daily_quota=daily_quota, rate_per_second=rate_per_second,
                         rate_per_minute=rate_per_minute, contacts=contacts)
        app.save()
        audit_record(action=Action.PARTNER_APP_CREATE, actor=actor, subject=Subject.of(app),
                     details={"app": app.app_id, "organisation": organisation.pk, "levels": levels,
                              "purposes": purposes, "daily_quota": daily_quota, "key_generated": private_pem is not None})
    return NewApp(app=app, private_key_pem=private_pem)


def partner_app_set_status(*, app: PartnerApp, status: str, actor: Actor, request: HttpRequest | None = None) -> None:
    if status not in AppStatus.values:
        raise TongbanError("validation_error", details=[{"field": "status", "type": "invalid"}])
    with transaction.atomic():
        old = app.status
        app.status = status
        app.save(update_fields=["status", "updated_at"])
        audit_record(action=Action.PARTNER_APP_CHANGE, actor=actor, subject=Subject.of(app), request=request,
                     details={"app": app.app_id, "status": {"old": old, "new": status}})
    forget_apps()


def abuse_alert_acknowledge(*, alert: AbuseAlert, actor: Actor, username: str,
                            request: HttpRequest | None = None) -> None:
    with transaction.atomic():
        locked = AbuseAlert.objects.select_for_update().get(pk=alert.pk)
        if locked.acknowledged:
            return
        locked.acknowledged = True
        locked.acknowledged_by = username[:150]
        locked.acknowledged_at = clock.now()
        locked.save(update_fields=["acknowledged", "acknowledged_by", "acknowledged_at"])
        audit_record(action=Action.PARTNER_ALERT_ACK, actor=actor, subject=Subject.of(locked), request=request,
                     details={"alert_id": locked.pk, "kind": locked.kind})


def idempotency_purge(*, older_than: dt.timedelta = dt.timedelta(hours=24)) -> int:
    """Delete idempotency records past their 24 hours (a periodic job; `tongban partners purge`)."""
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=clock.now() - older_than).delete()
    return deleted
