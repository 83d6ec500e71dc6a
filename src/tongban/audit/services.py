"""Writing to the audit log: `audit_record` (in the caller's transaction), checkpoints, export, purge.

There is deliberately no setting that turns auditing off: `audit_record` always writes.
"""

from __future__ import annotations

import datetime as dt
import getpass
import ipaddress
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connections, transaction
from django.http import HttpRequest
from django.utils import timezone

from tongban.audit import chain, keys
from tongban.audit.actions import Action, ActorType, Outcome
from tongban.audit.canonical import dumps, iso_utc, normalise_details
from tongban.audit.guard import MIN_RETENTION_DAYS, purge_permit
from tongban.audit.models import AuditChain, AuditCheckpoint, AuditEntry, CheckpointKind
from tongban.audit.signals import entry_recorded
from tongban.core.masking import scrub
from tongban.crypto.sm3 import SM3Hash

DB = "default"


@dataclass(frozen=True)
class Actor:
    """Who did it: never a name or an ID number, only an account id, an app id or a component."""

    type: ActorType
    id: str = ""

    @classmethod
    def user(cls, user: Any) -> Actor:
        if user is None or not getattr(user, "is_authenticated", False):
            return cls.anonymous()
        return cls(ActorType.USER, str(user.pk))

    @classmethod
    def partner_app(cls, app_id: str) -> Actor:
        return cls(ActorType.PARTNER_APP, str(app_id))

    @classmethod
    def system(cls, component: str) -> Actor:
        return cls(ActorType.SYSTEM, component)

    @classmethod
    def anonymous(cls) -> Actor:
        return cls(ActorType.ANONYMOUS, "")

    @classmethod
    def cli(cls) -> Actor:
        """An operator at the server's command line, by operating-system account."""
        try:
            who = getpass.getuser()
        except Exception:
            who = "unknown"
        return cls(ActorType.SYSTEM, f"cli:{who}")


@dataclass(frozen=True)
class Subject:
    """What it was done to: a type and a non-personal id (a primary key, a blind-index reference).

    Pass a row's primary key as an int: tongban ids are 18-19 digits and, as strings, could be taken for
    ID numbers by the personal-data check every string id goes through."""

    type: str
    id: str | int = ""

    @classmethod
    def of(cls, obj: Any) -> Subject:
        return cls(obj._meta.label_lower, obj.pk if isinstance(obj.pk, int) else str(obj.pk))


def client_ip(request: HttpRequest) -> str:
    """The client's address as the security core determines it (proxy-aware), else REMOTE_ADDR."""
    try:
        from tongban.core.security import client_ip as security_client_ip
    except ImportError:
        value = request.META.get("REMOTE_ADDR", "")
    else:
        value = security_client_ip(request) or ""
    return _normalise_ip(value)


_ip_cache: dict[str, str] = {}


def _normalise_ip(value: str | None) -> str:
    """The address in its canonical text form, or "" if it is not one. Remembered (a bounded table):
    the same few addresses — partners' gateways, the proxies — write most entries."""
    if not value:
        return ""
    known = _ip_cache.get(value)
    if known is not None:
        return known
    try:
        normalised = ipaddress.ip_address(value.strip()).compressed
    except ValueError:
        normalised = ""
    if len(_ip_cache) >= 4096:
        _ip_cache.clear()
    _ip_cache[value] = normalised
    return normalised


def actor_from_request(request: HttpRequest) -> Actor:
    """A partner app authenticated by the API layer sets `request.audit_actor`; else the session user."""
    preset = getattr(request, "audit_actor", None)
    if isinstance(preset, Actor):
        return preset
    return Actor.user(getattr(request, "user", None))


def current_request_id(request: HttpRequest | None = None) -> str:
    if request is not None and getattr(request, "request_id", None):
        return str(request.request_id)  # type: ignore[attr-defined]
    return str(structlog.contextvars.get_contextvars().get("request_id", "") or "")


def _check_subject_id(value: str | int) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    value = str(value)
    if scrub(value) != value:
        raise ValueError("audit subject ids must not be personal data (an ID or phone number was passed)")
    return value


def audit_record(
    *,
    action: Action,
    outcome: Outcome = Outcome.SUCCESS,
    actor: Actor | None = None,
    subject: Subject | None = None,
    request: HttpRequest | None = None,
    details: dict[str, Any] | None = None,
    client_address: str | None = None,
    request_id: str | None = None,
) -> AuditEntry:
    """Append one audit entry in the current transaction (opened here if there is none).

    `actor` defaults to the request's (partner app or user), else raises: a background task names
    itself with `Actor.system("jobs.worker")`. `details` are masked (ID, permit and phone numbers;
    names; secrets dropped) before they are hashed and stored.
    """
    action = Action(action)
    outcome = Outcome(outcome)
    if actor is None:
        if request is None:
            raise ValueError("audit_record needs an actor or a request")
        actor = actor_from_request(request)
    ip = _normalise_ip(client_address) if client_address is not None else (client_ip(request) if request else "")
    rid = (request_id if request_id is not None else current_request_id(request))[:64]
    fields: dict[str, Any] = {
        "occurred_at": timezone.now(),
        "actor_type": ActorType(actor.type).value,
        "actor_id": scrub(str(actor.id))[:128],
        "action": action.value,
        "subject_type": (subject.type if subject else "")[:64],
        "subject_id": _check_subject_id(subject.id if subject else "")[:128],
        "outcome": outcome.value,
        "client_ip": ip,
        "request_id": rid,
        "details": normalise_details(details),
    }
    if connections[DB].in_atomic_block:
        entry = chain.append(using=DB, **fields)
    else:
        # No transaction open (a pure read, such as a verification): the entry is its own transaction,
        # committed and flushed before this returns — in one round trip when the chain allows it.
        committed = chain.append_committed(using=DB, **fields)
        if committed is None:
            with transaction.atomic(using=DB):
                committed = chain.append(using=DB, **fields)
        entry = committed
    if entry_recorded.receivers:
        entry_recorded.send(sender=AuditEntry, entry=entry)
    return entry


def audit_checkpoint() -> AuditCheckpoint:
    """Sign the current heads of all chains now (`tongban audit checkpoint`; a periodic timer)."""
    return chain.make_checkpoint(using=DB)


# -- retention -----------------------------------------------------------------------------------------


def retention_days() -> int:
    days = int(getattr(settings, "TONGBAN_AUDIT_RETENTION_DAYS", MIN_RETENTION_DAYS))
    if days < MIN_RETENTION_DAYS:
        raise ImproperlyConfigured(f"TONGBAN_AUDIT_RETENTION_DAYS must be at least {MIN_RETENTION_DAYS}")
    return days


@dataclass
class PurgeResult:
    cutoff: dt.datetime
    deleted: int
    chains: int
    checkpoint: AuditCheckpoint | None


class PurgeRefused(RuntimeError):
    pass


def audit_purge(*, older_than_days: int | None = None, actor: Actor | None = None,
                now: dt.datetime | None = None) -> PurgeResult:
    """Delete sealed entries older than the retention period, leaving a signed floor per chain.

    Refuses a period shorter than 180 days (and so does the database trigger), and refuses to purge
    a log that does not verify: old evidence of tampering is not destroyed by routine retention.
    """
    from tongban.audit.verify import verify_log

    days = retention_days() if older_than_days is None else older_than_days
    if days < MIN_RETENTION_DAYS:
        raise PurgeRefused(f"audit entries are kept at least {MIN_RETENTION_DAYS} days")
    cutoff = (now or timezone.now()) - dt.timedelta(days=days)
    actor = actor or Actor.system("audit.retention")
    with transaction.atomic(using=DB):
        chain._lock_checkpoints(DB)
        report = verify_log(using=DB)
        if not report.ok:
            raise PurgeRefused(f"the audit log does not verify ({report.first}); not purging")
        floors: dict[str, dict[str, Any]] = {cid: {"seq": f.seq, "hash": f.hash}
                                             for cid, f in report.floors.items()}
        deleted = 0
        touched = 0
        with purge_permit(DB):
            for chain_id, sealed in report.sealed.items():
                floor_seq = int(floors.get(chain_id, {}).get("seq", 0))
                young = (AuditEntry.objects.using(DB).filter(chain_id=chain_id, occurred_at__gte=cutoff)
                         .order_by("seq").values_list("seq", flat=True).first())
                cut = min(sealed.seq, (young - 1) if young is not None else sealed.seq)
                if cut <= floor_seq:
                    continue
                cut_hash = (AuditEntry.objects.using(DB).filter(chain_id=chain_id, seq=cut)
                            .values_list("hash", flat=True).get())
                n, _ = AuditEntry.objects.using(DB).filter(chain_id=chain_id, seq__lte=cut).delete()
                deleted += n
                touched += 1
                floors[chain_id] = {"seq": cut, "hash": cut_hash}
        checkpoint = None
        if touched:
            checkpoint = chain.make_checkpoint(using=DB, kind=CheckpointKind.PURGE, floors=floors)
        audit_record(action=Action.AUDIT_PURGE, actor=actor, subject=Subject("audit.log", ""),
                     details={"cutoff": iso_utc(cutoff), "deleted": deleted, "chains": touched,
                              "retention_days": days})
    return PurgeResult(cutoff=cutoff, deleted=deleted, chains=touched, checkpoint=checkpoint)


# -- export --------------------------------------------------------------------------------------------

EXPORT_FORMAT = "tongban-audit-export/1"


def _entry_line(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "entry", "id": row["id"], "chain": row["chain_id"], "seq": row["seq"],
        "occurred_at": iso_utc(row["occurred_at"]), "actor_type": row["actor_type"], "actor_id": row["actor_id"],
        "action": row["action"], "subject_type": row["subject_type"], "subject_id": row["subject_id"],
        "outcome": row["outcome"], "client_ip": row["client_ip"], "request_id": row["request_id"],
        "details": row["details"], "prev_hash": row["prev_hash"], "hash": row["hash"],
    }


ENTRY_FIELDS = ("id", "chain_id", "seq", "occurred_at", "actor_type", "actor_id", "action", "subject_type",
                "subject_id", "outcome", "client_ip", "request_id", "details", "prev_hash", "hash")


def signature_path(path: Path) -> Path:
    return path.with_name(path.name + ".sig")


def audit_export(*, start: dt.datetime, end: dt.datetime, out: Path, actor: Actor | None = None) -> dict[str, Any]:
    """Write entries with start <= occurred_at < end as JSON Lines, with the chains and checkpoints that
    vouch for them, and a detached SM2 signature over the file's SM3 (`<out>.sig`). Audited."""
    actor = actor or Actor.cli()
    key_id, key = keys.current_signing_key()
    created_at = timezone.now()
    h = SM3Hash()
    count = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    with transaction.atomic(using=DB):
        audit_record(action=Action.AUDIT_EXPORT, actor=actor, subject=Subject("audit.log", ""),
                     details={"from": iso_utc(start), "to": iso_utc(end), "file": out.name})
    with open(out, "wb") as fh:
        def write(obj: dict[str, Any]) -> None:
            line = dumps(obj) + b"\n"
            fh.write(line)
            h.update(line)

        write({"type": "header", "format": EXPORT_FORMAT, "from": iso_utc(start), "to": iso_utc(end),
               "created_at": iso_utc(created_at), "exported_by": f"{actor.type}:{actor.id}", "key_id": key_id})
        chain_ids: set[str] = set()
        qs = (AuditEntry.objects.using(DB).filter(occurred_at__gte=start, occurred_at__lt=end)
              .order_by("chain_id", "seq").values(*ENTRY_FIELDS))
        for row in qs.iterator(chunk_size=2000):
            chain_ids.add(row["chain_id"])
            write(_entry_line(row))
            count += 1
        for c in AuditChain.objects.using(DB).filter(id__in=chain_ids).order_by("opened_at").iterator():
            write({"type": "chain", "chain": c.id, "opened_at": iso_utc(c.opened_at), "label": c.label,
                   "anchor_seq": c.anchor_seq, "anchor_hash": c.anchor_hash, "genesis_hash": c.genesis_hash,
                   "key_id": c.key_id, "signature": c.signature})
        # Every checkpoint from the last one before the range to the first one after it.
        first = (AuditCheckpoint.objects.using(DB).filter(created_at__lt=start).order_by("-seq")
                 .values_list("seq", flat=True).first() or 1)
        last = (AuditCheckpoint.objects.using(DB).filter(created_at__gte=end).order_by("seq")
                .values_list("seq", flat=True).first())
        cps = AuditCheckpoint.objects.using(DB).filter(seq__gte=first).order_by("seq")
        if last is not None:
            cps = cps.filter(seq__lte=last)
        for cp in cps.iterator():
            write({"type": "checkpoint", "seq": cp.seq, "body": cp.body, "hash": cp.hash, "key_id": cp.key_id,
                   "signature": cp.signature})
    file_digest = h.digest()
    public = key.public_key()
    sig = {
        "format": EXPORT_FORMAT,
        "file": out.name,
        "sm3": file_digest.hex(),
        "entries": count,
        "key_id": key_id,
        "public_key_pem": public.to_pem().decode(),
        "uid": "1234567812345678",
        "signature": key.sign(file_digest).hex(),
        "signed_at": iso_utc(timezone.now()),
    }
    signature_path(out).write_text(json.dumps(sig, ensure_ascii=False, indent=2) + "\n")
    return sig


def file_sm3(path: Path) -> bytes:
    h = SM3Hash()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.digest()

