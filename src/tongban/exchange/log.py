"""The message log (X-Road's idea): every batch sent or received, chained by SM3 per direction, with the
sender's signature and the receiver's signed receipt. `tongban exchange verify-log` re-checks all of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from tongban.core import clock
from tongban.crypto.sm3 import sm3
from tongban.exchange import wire
from tongban.exchange.models import LogHead, MessageLog

GENESIS = "0" * 64


def _line(e: MessageLog) -> bytes:
    parts = [e.direction, e.batch_id, e.at.isoformat(), str(e.count), e.keys_sm3, e.body_sm3, e.signature,
             e.signer_key, e.receipt, e.outcome, e.prev_hash]
    return "|".join(parts).encode()


def log_append(*, direction: str, batch_id: str, count: int, keys_sm3: str, body_sm3: str, signature: str,
               signer_key: str, receipt: str, outcome: str) -> MessageLog:
    with transaction.atomic():
        head, _ = LogHead.objects.select_for_update().get_or_create(direction=direction,
                                                                    defaults={"last_hash": GENESIS})
        entry = MessageLog(direction=direction, batch_id=batch_id, at=clock.now(), count=count, keys_sm3=keys_sm3,
                           body_sm3=body_sm3, signature=signature, signer_key=signer_key, receipt=receipt,
                           outcome=outcome, prev_hash=head.last_hash)
        entry.entry_hash = sm3(_line(entry)).hex()
        entry.save()
        head.last_hash = entry.entry_hash
        head.count += 1
        head.save(update_fields=["last_hash", "count"])
    return entry


@dataclass
class VerifyReport:
    checked: int = 0
    problems: list[str] = field(default_factory=list)
    matched_remote: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_log(*, remote: list[dict[str, Any]] | None = None) -> VerifyReport:
    """Walk both chains: each entry's hash, its link to the one before, the head; the receipts of what we
    sent (the national platform's signature over batch id and body digest). With the national side's own
    log (`remote`), every batch it says it received must be in ours with the same body digest, and vice
    versa for the batches it accepted."""
    from tongban.exchange.conf import peer_public_key

    report = VerifyReport()
    peer = peer_public_key()
    for direction in ("out", "in"):
        prev = GENESIS
        for entry in MessageLog.objects.filter(direction=direction).order_by("id").iterator(chunk_size=2000):
            report.checked += 1
            if entry.prev_hash != prev:
                report.problems.append(f"{direction} #{entry.pk}: chain broken (an entry before it is missing)")
            if sm3(_line(entry)).hex() != entry.entry_hash:
                report.problems.append(f"{direction} #{entry.pk}: entry altered (hash mismatch)")
            if direction == "out" and entry.receipt and not wire.verify(
                    peer, wire.receipt_input(entry.batch_id, entry.body_sm3), entry.receipt):
                report.problems.append(f"out #{entry.pk}: the national platform's receipt does not verify")
            prev = entry.entry_hash
        head = LogHead.objects.filter(direction=direction).first()
        if head is not None and head.last_hash != prev:
            report.problems.append(f"{direction}: the head does not match the last entry (entries removed)")
    if remote is not None:
        ours = {e.batch_id: e.body_sm3 for e in MessageLog.objects.filter(direction="out", receipt__gt="")}
        for r in remote:
            if r.get("direction") != "in":
                continue
            mine = ours.get(r["batch_id"])
            if mine is None:
                report.problems.append(f"national log has batch {r['batch_id']} that ours lacks")
            elif mine != r["body_sm3"]:
                report.problems.append(f"batch {r['batch_id']}: body digests differ between the two logs")
            else:
                report.matched_remote += 1
        theirs = {r["batch_id"] for r in remote if r.get("direction") == "in"}
        for batch_id in ours:
            if batch_id not in theirs:
                report.problems.append(f"our receipted batch {batch_id} is missing from the national log")
    return report
