"""Reads for key administrators: versions and states per purpose, and rotation progress."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import QuerySet

from tongban.crypto.models import DataKey, KeyPurpose, KeyRotation, KeyState


@dataclass(frozen=True)
class KeyVersionInfo:
    version: int
    state: str
    algorithm: str
    master_key_id: str
    created_by: str
    created_at: object
    retired_at: object


@dataclass(frozen=True)
class PurposeStatus:
    purpose: str
    label: str
    current: int | None
    versions: list[KeyVersionInfo] = field(default_factory=list)
    rotation: KeyRotation | None = None


def key_status() -> list[PurposeStatus]:
    """Every purpose with its versions (newest first) and its latest rotation. No key material."""
    by_purpose: dict[str, list[KeyVersionInfo]] = {p.value: [] for p in KeyPurpose}
    current: dict[str, int] = {}
    for key in DataKey.objects.order_by("purpose", "-version").only(
            "purpose", "version", "state", "algorithm", "master_key_id", "created_by", "created_at", "retired_at"):
        by_purpose.setdefault(key.purpose, []).append(KeyVersionInfo(
            key.version, key.state, key.algorithm, key.master_key_id, key.created_by, key.created_at,
            key.retired_at))
        if key.state == KeyState.CURRENT:
            current[key.purpose] = key.version
    latest: dict[str, KeyRotation] = {}
    for rotation in KeyRotation.objects.order_by("-id"):
        latest.setdefault(rotation.purpose, rotation)
    return [PurposeStatus(p.value, str(p.label), current.get(p.value), by_purpose[p.value], latest.get(p.value))
            for p in KeyPurpose]


def rotation_get(*, rotation_id: int) -> KeyRotation | None:
    return KeyRotation.objects.filter(pk=rotation_id).first()


def rotations_recent(*, limit: int = 20) -> QuerySet[KeyRotation]:
    return KeyRotation.objects.order_by("-id")[:limit]
