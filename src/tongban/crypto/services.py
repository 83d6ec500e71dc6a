"""Key administration: create keys, rotate a purpose, and the re-encryption walk a rotation runs.

A rotation of field_encryption or blind_index makes the new version current at once (new writes
use it), then a background job walks every model with encrypted fields in primary-key order,
batch by batch, each batch one transaction holding the rotation row and the batch's rows locked.
Reads never stop: every value names its key version, and old versions stay readable. When the
walk — and a second, verifying walk — is done, the old versions are retired. docs/keys.md.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import IntegrityError, connections, transaction

from tongban.core import clock
from tongban.core.errors import TongbanError
from tongban.core.logging import get_logger
from tongban.crypto import fields as f
from tongban.crypto import keys
from tongban.crypto.errors import DecryptionError
from tongban.crypto.models import (
    DATA_PURPOSES,
    MAX_KEY_VERSION,
    UNFINISHED_ROTATION_STATES,
    DataKey,
    KeyPurpose,
    KeyRotation,
    KeyState,
    RotationPhase,
    RotationState,
)

log = get_logger("tongban.crypto.keys")

ROTATE_TASK = "crypto.rotate_keys"
MAX_FAILED_LISTED = 50


def _setting(name: str, default: float) -> float:
    return float(getattr(settings, name, default))


def rotation_batch_size() -> int:
    return int(_setting("TONGBAN_KEY_ROTATION_BATCH", 500))


def rotation_delay() -> dt.timedelta:
    """How long the walk waits after the switch: until every process has re-read the current version."""
    default = 2 * keys.keyring().ttl + 5
    return dt.timedelta(seconds=_setting("TONGBAN_KEY_ROTATION_DELAY", default))


def rotation_job_seconds() -> float:
    """One job runs batches for about this long, then hands over to a new job (well inside its lease)."""
    return _setting("TONGBAN_KEY_ROTATION_JOB_SECONDS", 60)


def _purpose(value: str) -> KeyPurpose:
    try:
        return KeyPurpose(value)
    except ValueError:
        raise TongbanError("validation_error", message_zh=f"未知的密钥用途：{value}",
                           message_en=f"Unknown key purpose {value!r}; one of "
                                      f"{', '.join(p.value for p in KeyPurpose)}.") from None


_key_admin_checks: list[Callable[[Any], bool]] = []


def register_key_admin_check(check: Callable[[Any], bool]) -> None:
    """The accounts app says who holds the key-administrator role (crypto does not import a domain app).
    With no check registered, the `crypto.administer_keys` permission of an active account decides."""
    if check not in _key_admin_checks:
        _key_admin_checks.append(check)


def require_key_admin(*, username: str) -> str:
    """Refuse unless `username` is an active staff account holding the key-administrator role.

    Key administration is its own duty, never the auditor's (accounts.roles.CONFLICTS). "Not found"
    and "not allowed" give the same answer.
    """
    from django.contrib.auth import get_user_model

    user = get_user_model()._default_manager.filter(username=username).first() if username else None
    allowed = False
    if user is not None:
        if _key_admin_checks:
            allowed = any(bool(check(user)) for check in _key_admin_checks)
        else:
            allowed = bool(user.is_active and user.has_perm("crypto.administer_keys"))
    if not allowed:
        raise TongbanError("forbidden", message_zh="须由具有密钥管理员角色的账号执行。",
                           message_en="Only an account holding the key-administrator role may do this.")
    return username


def keys_init(*, operator: str) -> list[DataKey]:
    """Create version 1 of every purpose that has none (migrate does this too)."""
    return keys.ensure_keys(operator=operator)


@dataclass(frozen=True)
class RotateResult:
    key: DataKey
    rotation: KeyRotation | None


def models_for(purpose: str) -> list[Any]:
    if purpose == KeyPurpose.FIELD_ENCRYPTION:
        return [m for m in f.encrypted_models() if f.encrypted_fields(m)]
    if purpose == KeyPurpose.BLIND_INDEX:
        return [m for m in f.encrypted_models() if f.blind_index_fields(m)]
    return []


def _count_rows(purpose: str) -> int:
    return sum(m._base_manager.using("default").count() for m in models_for(purpose))


def _audit(action: str, *, operator: str | None, subject_id: str, details: dict[str, Any],
           outcome: str = "success") -> None:
    """One audit entry in the caller's transaction (invariant 3): key events are state changes."""
    from tongban.audit.actions import Action, Outcome
    from tongban.audit.services import Actor, Subject, audit_record

    actor = Actor.system("crypto.keys")
    if operator:
        from django.contrib.auth import get_user_model

        user = get_user_model()._default_manager.filter(username=operator).first()
        actor = Actor.user(user) if user is not None else Actor.cli()
        details = {**details, "operator": operator}
    audit_record(action=Action(action), outcome=Outcome(outcome), actor=actor,
                 subject=Subject("crypto.datakey", subject_id), details=details)


def _check_can_rotate(kind: KeyPurpose) -> int:
    """Lock the purpose's key rows; refuse if a rotation runs; the next version number."""
    rows = list(DataKey.objects.select_for_update().filter(purpose=kind).order_by("id"))
    if kind in DATA_PURPOSES and KeyRotation.objects.filter(
            purpose=kind, state__in=UNFINISHED_ROTATION_STATES).exists():
        raise TongbanError("conflict", message_zh="该用途已有一次密钥轮换尚未完成。",
                           message_en="A rotation of this purpose is still running.")
    version = max((r.version for r in rows), default=0) + 1
    if version > MAX_KEY_VERSION:
        raise TongbanError("conflict", message_zh="密钥版本号已用尽。", message_en="Key versions are exhausted.")
    return version


def key_rotate(*, purpose: str, operator: str, reencrypt: bool = True) -> RotateResult:
    """Make a new version of `purpose` current; for data purposes start the re-encryption job.

    The caller must hold the key-administrator role (`require_key_admin`). With `reencrypt=False`
    the old data version stays `active` (rows move to the new one when next saved).

    Two transactions, on purpose, so it must not run inside `transaction.atomic()`: the new key is
    committed (state `active`: readable, used by nobody) before the second makes it current. A
    process can then never encrypt under a key that a rollback makes disappear; if the second
    step fails, the new key is simply left unused.
    """
    from django.db import connections

    from tongban.jobs.services import job_enqueue

    if connections["default"].in_atomic_block:
        raise RuntimeError("key_rotate commits the new key by itself: call it outside transaction.atomic()")
    kind = _purpose(purpose)
    if not operator:
        raise TongbanError("validation_error", message_zh="须注明操作人。", message_en="An operator is required.")
    data_purpose = kind in DATA_PURPOSES

    with transaction.atomic():
        version = _check_can_rotate(kind)
        new_key = keys.create_data_key(purpose=kind, version=version, state=KeyState.ACTIVE, operator=operator)
        _audit("key.generate", operator=operator, subject_id=str(new_key.pk),
               details={"purpose": kind.value, "version": version, "algorithm": new_key.algorithm})

    with transaction.atomic():
        if _check_can_rotate(kind) != version + 1:
            raise TongbanError("conflict", message_zh="另一次轮换同时进行。", message_en="Another rotation ran meanwhile.")
        now = clock.now()
        moving: list[int] = []
        for row in DataKey.objects.filter(purpose=kind).exclude(pk=new_key.pk).exclude(state=KeyState.RETIRED):
            if not data_purpose:
                new_state = KeyState.RETIRED  # an old signing key signs nothing more; its public half stays
            elif reencrypt:
                new_state = KeyState.RETIRING
                moving.append(row.version)
            else:
                new_state = KeyState.ACTIVE
            row.state = new_state
            row.retired_at = now if new_state == KeyState.RETIRED else None
            row.save(update_fields=["state", "retired_at"])
        new_key.state = KeyState.CURRENT
        new_key.save(update_fields=["state"])
        rotation = None
        if data_purpose and reencrypt:
            rotation = KeyRotation.objects.create(
                purpose=kind, to_version=version, from_versions=sorted(moving), operator=operator,
                total_rows=_count_rows(kind), created_at=now, updated_at=now)
            job = job_enqueue(task=ROTATE_TASK, payload={"rotation_id": rotation.id, "step": 0},
                              idempotency_key=f"key-rotation:{rotation.id}:0", run_after=now + rotation_delay())
            rotation.last_job_id = job.id
            rotation.save(update_fields=["last_job_id"])
        _audit("key.rotate", operator=operator, subject_id=str(new_key.pk),
               details={"purpose": kind.value, "version": version, "previous_versions": sorted(moving),
                        "reencrypt": bool(data_purpose and reencrypt),
                        "rotation_id": rotation.id if rotation else None})
        transaction.on_commit(keys.keyring().invalidate)
    log.info("keys.rotated", purpose=kind.value, version=version, operator=operator,
             rotation_id=rotation.id if rotation else None, moving_versions=moving)
    return RotateResult(new_key, rotation)


@transaction.atomic
def master_key_rewrap(*, old: keys.MasterKeyProvider, operator: str) -> int:
    """Re-wrap every data key from the `old` master key to the configured one; returns rows changed.

    One transaction: either every key moves or none. Rows already under the configured master key
    are skipped, so running it twice is harmless. Restart every process afterwards (a process
    still holding the old master key cannot unwrap a version it had not cached yet).
    """
    new = keys.master_key_provider()
    if new.key_id == old.key_id:
        raise TongbanError("conflict", message_zh="新旧主密钥相同。", message_en="The old and new master keys are the same.")
    changed = 0
    for row in DataKey.objects.select_for_update().order_by("id"):
        if row.master_key_id == new.key_id:
            continue
        try:
            secret = old.unwrap(row.purpose, row.version, bytes(row.wrapped))
        except DecryptionError:
            raise TongbanError("conflict", message_zh=f"旧主密钥无法解封 {row.purpose} v{row.version}。",
                               message_en=f"The old master key does not unwrap {row.purpose} v{row.version}.") from None
        row.wrapped = new.wrap(row.purpose, row.version, secret)
        row.master_key_id = new.key_id
        row.save(update_fields=["wrapped", "master_key_id"])
        changed += 1
    keys.keyring().clear()  # re-read the new wraps (the audit chain may need the audit-signing key)
    _audit("key.rotate", operator=operator, subject_id="master",
           details={"master_key": True, "from": old.key_id, "to": new.key_id, "data_keys": changed})
    transaction.on_commit(keys.keyring().clear)
    log.info("keys.master_key_rewrapped", old=old.key_id, new=new.key_id, data_keys=changed, operator=operator)
    return changed


@transaction.atomic
def rotation_resume(*, rotation_id: int, operator: str) -> KeyRotation:
    """Send a failed rotation back to work from where it stopped (after fixing the cause)."""
    from tongban.jobs.services import job_enqueue

    rotation = KeyRotation.objects.select_for_update().filter(pk=rotation_id).first()
    if rotation is None:
        raise TongbanError("not_found")
    if rotation.state != RotationState.FAILED:
        raise TongbanError("conflict", message_zh="只有已失败的轮换可以继续。",
                           message_en="Only a failed rotation can be resumed.")
    rotation.state = RotationState.RUNNING
    rotation.steps += 1
    rotation.updated_at = clock.now()
    job = job_enqueue(task=ROTATE_TASK, payload={"rotation_id": rotation.id, "step": rotation.steps},
                      idempotency_key=f"key-rotation:{rotation.id}:{rotation.steps}")
    rotation.last_job_id = job.id
    rotation.save(update_fields=["state", "steps", "updated_at", "last_job_id"])
    _audit("key.rotate", operator=operator, subject_id=f"rotation:{rotation.id}",
           details={"purpose": rotation.purpose, "version": rotation.to_version, "resumed": True})
    log.info("keys.rotation_resumed", rotation_id=rotation.id, operator=operator)
    return rotation


@transaction.atomic
def rotation_fail(*, rotation_id: int, error: str) -> None:
    """Called when the job runs out of attempts: the rotation shows as failed (and can be resumed)."""
    rotation = KeyRotation.objects.select_for_update().filter(pk=rotation_id,
                                                              state__in=UNFINISHED_ROTATION_STATES).first()
    if rotation is not None:
        previous = rotation.state
        rotation.state = RotationState.FAILED
        rotation.last_error = error[:2000]
        rotation.updated_at = clock.now()
        rotation.save(update_fields=["state", "last_error", "updated_at"])
        # The error text stays on the row (it may name rows); the entry says that and where it stopped.
        _audit("key.rotate", operator=None, subject_id=f"rotation:{rotation.id}", outcome="failure",
               details={"purpose": rotation.purpose, "version": rotation.to_version, "failed": True,
                        "previous_state": previous, "phase": rotation.phase, "done_rows": rotation.done_rows})
    log.error("keys.rotation_failed", rotation_id=rotation_id)


# -- the walk --------------------------------------------------------------------------------------------


def _after_batch(rotation: KeyRotation) -> None:
    """Called after each committed batch (tests interrupt the walk here)."""


def rotation_step(*, rotation_id: int, step: int = 0) -> bool:
    """Run batches for a while; True when the rotation is finished. Called by the rotation job."""
    from tongban.jobs.services import job_enqueue

    deadline = time.monotonic() + rotation_job_seconds()
    while True:
        with transaction.atomic():
            rotation = KeyRotation.objects.select_for_update().filter(pk=rotation_id).first()
            if rotation is None or rotation.state not in UNFINISHED_ROTATION_STATES:
                return True
            if rotation.steps != step:
                return False  # a newer job of this rotation exists (we were presumed dead): it carries on
            now = clock.now()
            if rotation.state == RotationState.PENDING:
                rotation.state = RotationState.RUNNING
                rotation.started_at = now
            outcome = _walk_one_batch(rotation)
            rotation.updated_at = now
            if outcome == "finished":
                _finish(rotation)
                return True
            if outcome == "phase_done" or time.monotonic() >= deadline:
                # Hand over to a new job: after a rewrite walk, wait for stale keyrings to expire;
                # otherwise at once (one job must not outlive its lease).
                rotation.steps += 1
                run_after = now + rotation_delay() if outcome == "phase_done" else now
                job = job_enqueue(task=ROTATE_TASK, payload={"rotation_id": rotation.id, "step": rotation.steps},
                                  idempotency_key=f"key-rotation:{rotation.id}:{rotation.steps}",
                                  run_after=run_after)
                rotation.last_job_id = job.id
                rotation.save()
                return False
            rotation.save()
        _after_batch(rotation)


def _walk_one_batch(rotation: KeyRotation) -> str:
    """Process the next batch; 'batch', 'phase_done' (verify walk starts later) or 'finished'."""
    order = [m._meta.label for m in models_for(rotation.purpose)]
    while True:
        label = rotation.cursor_model or next((x for x in order if x not in rotation.models_done), "")
        if not label:
            if rotation.phase == RotationPhase.REWRITE:
                rotation.phase = RotationPhase.VERIFY
                rotation.models_done = []
                rotation.cursor_model = ""
                rotation.cursor_pk = ""
                return "phase_done"
            return "finished"
        try:
            model = apps.get_model(label)
        except LookupError:
            model = None
        rows = _rewrite_batch(rotation, model) if model is not None else 0
        if rows:
            return "batch"
        rotation.models_done = [*rotation.models_done, label]
        rotation.cursor_model = ""
        rotation.cursor_pk = ""


def _rewrite_batch(rotation: KeyRotation, model: Any) -> int:
    """Re-encrypt (or re-index) one batch of `model` after the cursor; returns rows read."""
    pk_field = model._meta.pk
    manager = model._base_manager.using("default")
    qs = manager.order_by("pk")
    if rotation.cursor_model == model._meta.label and rotation.cursor_pk:
        qs = qs.filter(pk__gt=pk_field.to_python(rotation.cursor_pk))
    if rotation.purpose == KeyPurpose.FIELD_ENCRYPTION:
        enc = f.encrypted_fields(model)
        bidx: list[f.BlindIndexField] = []
    else:
        bidx = f.blind_index_fields(model)
        enc = [model._meta.get_field(b.source) for b in bidx]
    names = list(dict.fromkeys([fld.attname for fld in enc] + [b.attname for b in bidx]))
    batch = list(qs.select_for_update().values_list("pk", *names)[: rotation_batch_size()])
    if not batch:
        return 0
    target = rotation.to_version
    table = model._meta.db_table
    rewritten = 0
    failed: list[str] = []
    pending: dict[Any, dict[str, Any]] = {}
    for row in batch:
        pk, values = row[0], dict(zip(names, row[1:], strict=True))
        try:
            changes = (_reencrypt(enc, values, table, pk, target) if not bidx
                       else _reindex(model, bidx, values, table, pk, target))
        except DecryptionError:
            failed.append(f"{model._meta.label}:{pk}")
            continue
        if changes:
            pending[pk] = changes
            rewritten += 1
    try:
        with transaction.atomic():
            _write_batch(model, manager, pending)
    except IntegrityError:
        # A unique blind index clashed: during a blind-index rotation a row under the new version
        # can duplicate one still under the old (uniqueness holds per version). Write row by row;
        # the clashing rows keep their old index and are reported, the walk goes on.
        for pk, changes in pending.items():
            try:
                with transaction.atomic():
                    _write_batch(model, manager, {pk: changes})
            except IntegrityError:
                failed.append(f"{model._meta.label}:{pk}:duplicate")
                rewritten -= 1
    rotation.cursor_model = model._meta.label
    rotation.cursor_pk = str(batch[-1][0])
    if rotation.phase == RotationPhase.REWRITE:
        rotation.done_rows += len(batch)
    rotation.rewritten_rows += rewritten
    if failed:
        rotation.failed_rows += len(failed)
        listed = [x for x in rotation.last_error.split() if x][:MAX_FAILED_LISTED]
        rotation.last_error = " ".join((listed + failed)[:MAX_FAILED_LISTED])
        log.error("keys.rotation_rows_not_rewritten", rotation_id=rotation.id, rows=failed[:10], count=len(failed))
    return len(batch)


def _write_batch(model: Any, manager: Any, pending: dict[Any, dict[str, Any]]) -> None:
    """UPDATE the batch with executemany, one statement shape per set of changed columns."""
    if not pending:
        return
    connection = connections[manager.db]
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    pk_column = quote(model._meta.pk.column)
    groups: dict[tuple[str, ...], list[tuple[Any, dict[str, Any]]]] = {}
    for pk, changes in pending.items():
        groups.setdefault(tuple(sorted(changes)), []).append((pk, changes))
    with connection.cursor() as cursor:
        for attnames, rows in groups.items():
            fields = [model._meta.get_field(a) for a in attnames]
            assignments = ", ".join(f"{quote(f.column)} = %s" for f in fields)
            sql = f"UPDATE {table} SET {assignments} WHERE {pk_column} = %s"  # noqa: S608 - names quoted
            params = [[*(f.get_db_prep_save(changes[f.attname], connection) for f in fields),
                       model._meta.pk.get_db_prep_value(pk, connection)] for pk, changes in rows]
            cursor.executemany(sql, params)


def _reencrypt(enc: list[Any], values: dict[str, Any], table: str, pk: Any, target: int) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for fld in enc:
        sealed = values[fld.attname]
        if sealed is None or sealed.version == target:
            continue
        plain = f.unseal(sealed, table=table, column=fld.column, pk=pk)
        changes[fld.attname] = f.seal(plain, table=table, column=fld.column, pk=pk,
                                      pad=sealed.format == f.FORMAT_PADDED, version=target)
    return changes


def _reindex(model: Any, bidx: list[f.BlindIndexField], values: dict[str, Any], table: str, pk: Any,
             target: int) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for b in bidx:
        stored = values[b.attname]
        if stored is not None and int.from_bytes(stored[: f.BIDX_VERSION_SIZE], "big") == target:
            continue
        source = model._meta.get_field(b.source)
        sealed = values[source.attname]
        if sealed is None:
            if stored is not None:
                changes[b.attname] = None
            continue
        plain = source.from_plaintext_bytes(f.unseal(sealed, table=table, column=source.column, pk=pk))
        changes[b.attname] = b.compute(plain.isoformat() if isinstance(plain, dt.date) else plain, version=target)
    return changes


def _finish(rotation: KeyRotation) -> None:
    now = clock.now()
    retired = list(DataKey.objects.select_for_update().filter(
        purpose=rotation.purpose, version__in=rotation.from_versions, state=KeyState.RETIRING).order_by("id"))
    for key in retired:
        key.state = KeyState.RETIRED
        key.retired_at = now
        key.save(update_fields=["state", "retired_at"])
        _audit("key.retire", operator=None, subject_id=str(key.pk),
               details={"purpose": key.purpose, "version": key.version, "rotation_id": rotation.id,
                        "rows": rotation.done_rows, "rewritten": rotation.rewritten_rows,
                        "unreadable": rotation.failed_rows})
    rotation.state = RotationState.DONE
    rotation.finished_at = now
    rotation.done_rows = max(rotation.done_rows, rotation.total_rows)
    rotation.save()
    transaction.on_commit(keys.keyring().invalidate)
    log.info("keys.rotation_finished", rotation_id=rotation.id, purpose=rotation.purpose,
             version=rotation.to_version, retired=rotation.from_versions, rows=rotation.done_rows,
             rewritten=rotation.rewritten_rows, unreadable=rotation.failed_rows)
