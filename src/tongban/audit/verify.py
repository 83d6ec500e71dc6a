"""Verification of the whole audit log (`tongban audit verify`) and of a signed export.

Streams: checkpoints in seq order, then each chain's entries in seq order through a database cursor,
so memory grows with the number of chains and checkpoints, not with the number of entries.
"""

from __future__ import annotations

import datetime as dt
import json
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tongban.audit import keys
from tongban.audit.canonical import ZERO_HASH, chain_document, dumps, entry_hash_of_row
from tongban.audit.guard import missing_triggers
from tongban.audit.models import AuditChain, AuditCheckpoint, AuditEntry
from tongban.crypto.sm2 import SM2PublicKey
from tongban.crypto.sm3 import sm3

# A chain opened this long before the newest checkpoint must be in it (a transaction that opened a
# chain may commit after a checkpoint was taken; none stays open this long).
SEAL_GRACE = dt.timedelta(minutes=10)
MAX_PROBLEMS = 200

ALTERED = "altered"
DELETED = "deleted"
INSERTED = "inserted"
CHECKPOINT = "checkpoint"
GUARD = "guard"


@dataclass
class Problem:
    kind: str  # altered | deleted | inserted | checkpoint | guard
    message: str
    chain_id: str | None = None
    seq: int | None = None
    entry_id: int | None = None
    checkpoint_seq: int | None = None

    def __str__(self) -> str:
        where = []
        if self.entry_id is not None:
            where.append(f"entry id={self.entry_id}")
        if self.chain_id is not None:
            where.append(f"chain={self.chain_id}")
        if self.seq is not None:
            where.append(f"seq={self.seq}")
        if self.checkpoint_seq is not None:
            where.append(f"checkpoint #{self.checkpoint_seq}")
        return f"[{self.kind}] {self.message}" + (f" ({', '.join(where)})" if where else "")


@dataclass
class Sealed:
    seq: int
    hash: str
    closed: bool
    checkpoint_seq: int


@dataclass
class Floor:
    seq: int
    hash: str


@dataclass
class Report:
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    entries: int = 0
    chains: int = 0
    checkpoints: int = 0
    unsealed: int = 0
    sealed: dict[str, Sealed] = field(default_factory=dict)
    floors: dict[str, Floor] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first(self) -> Problem | None:
        """The first problem by position in the log: the lowest entry id, then checkpoints."""
        if not self.problems:
            return None
        return min(self.problems, key=lambda p: (p.entry_id is None, p.entry_id or 0, p.checkpoint_seq or 0))

    def add(self, problem: Problem) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)


class _Assertions:
    """Every (seq, hash) a checkpoint asserted for one chain, compactly (40 bytes each)."""

    __slots__ = ("seqs", "hashes")

    def __init__(self) -> None:
        self.seqs = array("q")
        self.hashes = bytearray()

    def add(self, seq: int, hash_hex: str) -> None:
        if self.seqs and self.seqs[-1] == seq:
            return
        self.seqs.append(seq)
        self.hashes += bytes.fromhex(hash_hex)

    def hash_at(self, i: int) -> str:
        return bytes(self.hashes[i * 32:(i + 1) * 32]).hex()


class _Keys:
    def __init__(self) -> None:
        self._cache: dict[str, SM2PublicKey | None] = {}

    def verify(self, key_id: str, signature_hex: str, data: bytes) -> bool | None:
        """True/False; None if the key is unknown here."""
        if key_id not in self._cache:
            try:
                self._cache[key_id] = keys.verifying_key(key_id)
            except keys.UnknownKeyError:
                self._cache[key_id] = None
        public = self._cache[key_id]
        if public is None:
            return None
        try:
            signature = bytes.fromhex(signature_hex)
        except ValueError:
            return False
        return public.verify(signature, data)


Progress = Callable[[int], None]


def verify_log(*, using: str = "default", progress: Progress | None = None, chunk_size: int = 5000) -> Report:
    report = Report()
    verifier = _Keys()
    for name in missing_triggers(using):
        report.add(Problem(GUARD, f"append-only trigger {name} is missing or disabled"))
    assertions, closed_at, last_checkpoint_at = _verify_checkpoints(report, verifier, using)
    chain_rows = {c.id: c for c in AuditChain.objects.using(using).all()}
    report.chains = len(chain_rows)

    for chain_id in report.sealed:
        if chain_id not in chain_rows:
            report.add(Problem(DELETED, "a sealed chain's record is missing", chain_id=chain_id))

    seen = 0
    for chain_id, c in sorted(chain_rows.items(), key=lambda kv: (kv[1].opened_at, kv[0])):
        genesis = _verify_chain_row(report, verifier, c, using)
        sealed = report.sealed.get(chain_id)
        if sealed is None and last_checkpoint_at is not None and c.opened_at < last_checkpoint_at - SEAL_GRACE:
            report.add(Problem(INSERTED, "chain opened before the newest checkpoint but sealed by none",
                               chain_id=chain_id))
        elif sealed is None:
            report.warnings.append(f"chain {chain_id} is not sealed by a checkpoint yet")
        seen += _verify_entries(report, c.id, genesis, sealed, report.floors.get(chain_id),
                                assertions.get(chain_id), using, progress, chunk_size)

    total = AuditEntry.objects.using(using).count()
    if total != seen:
        orphans = (AuditEntry.objects.using(using).exclude(chain_id__in=list(chain_rows))
                   .order_by("id").values_list("id", "chain_id", "seq")[:10])
        for entry_id, chain_id, seq in orphans:
            report.add(Problem(INSERTED, "entry belongs to no chain", chain_id=chain_id, seq=seq, entry_id=entry_id))
    report.entries = seen
    return report


def _verify_checkpoints(report: Report, verifier: _Keys, using: str
                        ) -> tuple[dict[str, _Assertions], dict[str, int], dt.datetime | None]:
    assertions: dict[str, _Assertions] = {}
    closed_at: dict[str, int] = {}
    open_chains: set[str] = set()
    prev_hash = ZERO_HASH
    expected_seq = 1
    last_at = None
    qs = (AuditCheckpoint.objects.using(using).order_by("seq")
          .values_list("seq", "kind", "created_at", "body", "prev_hash", "hash", "key_id", "signature"))
    for seq, kind, created_at, body_text, row_prev, row_hash, key_id, signature in qs.iterator(chunk_size=500):
        report.checkpoints += 1
        last_at = created_at
        if seq != expected_seq:
            report.add(Problem(DELETED, f"checkpoints #{expected_seq}..#{seq - 1} are missing", checkpoint_seq=seq))
        expected_seq = seq + 1
        body_bytes = body_text.encode()
        try:
            body = json.loads(body_text)
        except ValueError:
            report.add(Problem(CHECKPOINT, "checkpoint body is not JSON", checkpoint_seq=seq))
            prev_hash = row_hash
            continue
        ok_sig = verifier.verify(key_id, signature, body_bytes)
        if ok_sig is None:
            report.add(Problem(CHECKPOINT, f"checkpoint signed with unknown key {key_id}", checkpoint_seq=seq))
        elif not ok_sig:
            report.add(Problem(CHECKPOINT, "checkpoint SM2 signature is invalid (body or signature altered)",
                               checkpoint_seq=seq))
        try:
            own_hash = sm3(body_bytes + bytes.fromhex(signature)).hex()
        except ValueError:
            own_hash = ""
        if own_hash != row_hash:
            report.add(Problem(CHECKPOINT, "checkpoint hash does not match its body and signature",
                               checkpoint_seq=seq))
        if body.get("seq") != seq or body.get("prev") != row_prev or body.get("key_id") != key_id \
                or body.get("kind") != kind or dumps(body) != body_bytes:
            report.add(Problem(CHECKPOINT, "checkpoint columns disagree with the signed body", checkpoint_seq=seq))
        if body.get("prev") != prev_hash:
            report.add(Problem(CHECKPOINT, "checkpoint does not link to the previous checkpoint",
                               checkpoint_seq=seq))
        prev_hash = row_hash
        heads: dict[str, Any] = body.get("heads", {})
        for chain_id in open_chains - set(heads):
            report.add(Problem(CHECKPOINT, "an open chain is missing from the checkpoint", chain_id=chain_id,
                               checkpoint_seq=seq))
        for chain_id, head in heads.items():
            before = report.sealed.get(chain_id)
            if chain_id in closed_at:
                report.add(Problem(INSERTED, f"chain closed at checkpoint #{closed_at[chain_id]} reappears",
                                   chain_id=chain_id, checkpoint_seq=seq))
                continue
            if before is not None and (head["seq"] < before.seq or
                                       (head["seq"] == before.seq and head["hash"] != before.hash)):
                report.add(Problem(CHECKPOINT, "chain head went backwards between checkpoints", chain_id=chain_id,
                                   checkpoint_seq=seq))
            report.sealed[chain_id] = Sealed(head["seq"], head["hash"], bool(head.get("closed")), seq)
            assertions.setdefault(chain_id, _Assertions()).add(head["seq"], head["hash"])
            if head.get("closed"):
                closed_at[chain_id] = seq
                open_chains.discard(chain_id)
            else:
                open_chains.add(chain_id)
        if kind == "purge":
            report.floors = {cid: Floor(f["seq"], f["hash"]) for cid, f in body.get("floors", {}).items()}
    return assertions, closed_at, last_at


def _verify_chain_row(report: Report, verifier: _Keys, c: AuditChain, using: str) -> str:
    doc = chain_document(chain_id=c.id, opened_at=c.opened_at, label=c.label, anchor_seq=c.anchor_seq,
                         anchor_hash=c.anchor_hash, key_id=c.key_id)
    body = dumps(doc)
    genesis = sm3(body).hex()
    ok = verifier.verify(c.key_id, c.signature, body)
    if ok is None:
        report.add(Problem(INSERTED, f"chain signed with unknown key {c.key_id}", chain_id=c.id))
    elif not ok or genesis != c.genesis_hash:
        report.add(Problem(INSERTED, "chain record is not what the platform signed (forged or altered)",
                           chain_id=c.id))
    if c.anchor_seq:
        anchor = (AuditCheckpoint.objects.using(using).filter(seq=c.anchor_seq)
                  .values_list("hash", flat=True).first())
        if anchor != c.anchor_hash:
            report.add(Problem(CHECKPOINT, f"chain anchor checkpoint #{c.anchor_seq} is missing or differs",
                               chain_id=c.id))
    return genesis


def _verify_entries(report: Report, chain_id: str, genesis: str, sealed: Sealed | None, floor: Floor | None,
                    asserted: _Assertions | None, using: str, progress: Progress | None, chunk_size: int) -> int:
    expected_seq = (floor.seq if floor else 0) + 1
    expected_prev = floor.hash if floor else genesis
    prev_row: dict[str, Any] | None = None
    ai = 0
    if asserted is not None and floor is not None:
        while ai < len(asserted.seqs) and asserted.seqs[ai] <= floor.seq:
            ai += 1
    last_good_assert = floor.seq if floor else 0
    count = 0
    fields = ("id", "chain_id", "seq", "occurred_at", "actor_type", "actor_id", "action", "subject_type",
              "subject_id", "outcome", "client_ip", "request_id", "details", "prev_hash", "hash")
    qs = AuditEntry.objects.using(using).filter(chain_id=chain_id).order_by("seq", "id").values(*fields)
    for row in qs.iterator(chunk_size=chunk_size):
        count += 1
        if progress is not None and count % 1000 == 0:
            progress(1000)
        seq = row["seq"]
        if floor is not None and seq <= floor.seq:
            report.add(Problem(INSERTED, "entry at or below the purge floor", chain_id=chain_id, seq=seq,
                               entry_id=row["id"]))
            continue
        if seq < expected_seq:
            report.add(Problem(INSERTED, "duplicate sequence number in chain", chain_id=chain_id, seq=seq,
                               entry_id=row["id"]))
            continue
        if sealed is not None and sealed.closed and seq > sealed.seq:
            report.add(Problem(INSERTED, f"entry after the chain was closed at seq {sealed.seq}",
                               chain_id=chain_id, seq=seq, entry_id=row["id"]))
            expected_seq, expected_prev = seq + 1, row["hash"]
            continue
        if seq > expected_seq:
            after = f"after entry id={prev_row['id']}" if prev_row else "at the start of the chain"
            report.add(Problem(DELETED, f"entries seq {expected_seq}..{seq - 1} are missing ({after})",
                               chain_id=chain_id, seq=expected_seq, entry_id=row["id"]))
        elif row["prev_hash"] != expected_prev:
            if prev_row is not None and entry_hash_of_row(prev_row) == prev_row["hash"]:
                report.add(Problem(ALTERED, "entry was re-hashed or replaced: the next entry does not chain to it",
                                   chain_id=chain_id, seq=prev_row["seq"], entry_id=prev_row["id"]))
            else:
                report.add(Problem(INSERTED, "entry does not chain to its predecessor", chain_id=chain_id,
                                   seq=seq, entry_id=row["id"]))
        if entry_hash_of_row(row) != row["hash"]:
            report.add(Problem(ALTERED, "entry content does not match its hash", chain_id=chain_id, seq=seq,
                               entry_id=row["id"]))
        if asserted is not None:
            while ai < len(asserted.seqs) and asserted.seqs[ai] < seq:
                ai += 1
            if ai < len(asserted.seqs) and asserted.seqs[ai] == seq:
                if asserted.hash_at(ai) != row["hash"]:
                    report.add(Problem(ALTERED, f"entries after seq {last_good_assert} up to here differ from "
                                                f"what a checkpoint sealed (altered, inserted or re-hashed)",
                                       chain_id=chain_id, seq=seq, entry_id=row["id"]))
                else:
                    last_good_assert = seq
        expected_seq, expected_prev = seq + 1, row["hash"]
        prev_row = row
    if progress is not None:
        progress(count % 1000)
    last_seq = expected_seq - 1
    if sealed is not None:
        if last_seq < sealed.seq:
            after = f"after entry id={prev_row['id']}" if prev_row else "all of them"
            report.add(Problem(DELETED, f"entries seq {last_seq + 1}..{sealed.seq} sealed by checkpoint "
                                        f"#{sealed.checkpoint_seq} are missing ({after})",
                               chain_id=chain_id, seq=last_seq + 1, checkpoint_seq=sealed.checkpoint_seq))
        elif not sealed.closed and last_seq > sealed.seq:
            report.unsealed += last_seq - sealed.seq
    elif count:
        report.unsealed += count
    return count


# -- exports ---------------------------------------------------------------------------------------------


@dataclass
class ExportCheck:
    ok: bool
    message: str
    entries: int = 0
    key_id: str = ""


def verify_export(path: Path, *, signature_file: Path | None = None,
                  public_key: SM2PublicKey | None = None) -> ExportCheck:
    """Check an export's detached signature and the hash links of the entries inside it.

    Without `public_key`, the key id is looked up among this installation's audit keys, and the
    public key inside the signature file must be that key (an export re-signed with another key fails).
    """
    from tongban.audit.services import EXPORT_FORMAT, file_sm3, signature_path

    sig_path = signature_file or signature_path(path)
    try:
        sig = json.loads(sig_path.read_text())
    except (OSError, ValueError) as exc:
        return ExportCheck(False, f"cannot read the signature file: {exc}")
    if sig.get("format") != EXPORT_FORMAT:
        return ExportCheck(False, "unknown export format")
    digest = file_sm3(path)
    if digest.hex() != sig.get("sm3"):
        return ExportCheck(False, "the file's SM3 differs from the signed one: the export was modified")
    embedded = SM2PublicKey.from_pem(sig["public_key_pem"])
    if public_key is None:
        try:
            public_key = keys.verifying_key(sig["key_id"])
        except keys.UnknownKeyError:
            return ExportCheck(False, f"signed with a key unknown here ({sig['key_id']}); pass the public key")
    if embedded != public_key:
        return ExportCheck(False, "the export names a different public key than expected")
    if not public_key.verify(bytes.fromhex(sig["signature"]), digest):
        return ExportCheck(False, "the SM2 signature over the file is invalid")
    entries = 0
    last: dict[str, tuple[int, str]] = {}
    with open(path, "rb") as fh:
        for line in fh:
            obj = json.loads(line)
            if obj.get("type") != "entry":
                continue
            entries += 1
            row = dict(obj, chain_id=obj["chain"], occurred_at=_parse_iso(obj["occurred_at"]))
            if entry_hash_of_row(row) != obj["hash"]:
                return ExportCheck(False, f"entry id={obj['id']} does not match its hash", entries)
            before = last.get(obj["chain"])
            if before is not None and before[0] + 1 == obj["seq"] and before[1] != obj["prev_hash"]:
                return ExportCheck(False, f"entry id={obj['id']} does not chain to its predecessor", entries)
            last[obj["chain"]] = (obj["seq"], obj["hash"])
    if entries != sig.get("entries"):
        return ExportCheck(False, "entry count differs from the signed count", entries)
    return ExportCheck(True, "signature and hash chain verify", entries, sig["key_id"])


def _parse_iso(value: str) -> dt.datetime:
    return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)
