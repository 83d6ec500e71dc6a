"""Per-writer hash chains and signed checkpoints: how appending avoids one global lock.

Each thread of each process that writes audit entries owns one chain (an `AuditChain` row created,
SM2-signed, in the same transaction as its first entry). Appending needs only the chain's head,
which the owning thread keeps in memory: no lock, no extra query. The unique (chain_id, seq) turns
any concurrent misuse of a chain into an error, never into a silent fork.

The head in memory follows the database's transactions exactly:

* an appended entry is *pending* until Django's on_commit callback for it runs, then *committed*;
* Django drops the callbacks of a transaction or savepoint that rolls back. Before each append the
  chain checks whether its newest pending entry's callback is still queued on the connection; if
  it is, the entry is still part of the open transaction and the head is that entry. If it is not
  (a rollback, or a callback lost because another callback raised), the head is re-read from the
  database — inside the current transaction, so entries of still-open savepoints count. Rollbacks
  cost one indexed query; commits cost nothing.

A checkpoint (every N committed entries or M seconds per process, at process exit, and by
`tongban audit checkpoint`) takes a lock, lists the head of every open chain and signs the list with
SM2, linked to the previous checkpoint. For the chains this process owns, the checkpoint uses the
head it knows from memory when the database shows less: a tail deleted behind a live writer is
thereby still caught. docs/audit.md walks through the failure cases.
"""

from __future__ import annotations

import atexit
import datetime as dt
import json
import os
import socket
import threading
import time
import uuid
import weakref
from dataclasses import dataclass
from typing import Any, cast

from django.conf import settings
from django.core.signals import setting_changed
from django.db import DatabaseError, IntegrityError, connections, transaction
from django.db.models import Field
from django.db.models.base import ModelState
from django.db.models.signals import post_migrate
from django.dispatch import receiver
from django.utils import timezone

from tongban.audit import keys
from tongban.audit.canonical import ZERO_HASH, chain_document, chain_hash, dumps, entry_document, iso_utc
from tongban.audit.models import AuditChain, AuditChainClosure, AuditCheckpoint, AuditEntry, CheckpointKind
from tongban.core.logging import get_logger
from tongban.core.statements import Statement
from tongban.crypto.sm3 import sm3

log = get_logger("tongban.audit")

# PostgreSQL advisory lock key for checkpoints (any fixed 64-bit number; "tbaudit" in ASCII).
CHECKPOINT_LOCK_KEY = 0x7462617564697400


_settings_cache: dict[str, float] = {}


def _setting(name: str, default: float) -> float:
    """Read on every append: kept until a setting changes (tests), since a missing setting costs Django's
    LazySettings a failed look-up each time."""
    value = _settings_cache.get(name)
    if value is None:
        value = _settings_cache[name] = float(getattr(settings, name, default))
    return value


@receiver(setting_changed)
def _forget_settings(**_kwargs: Any) -> None:
    _settings_cache.clear()


def checkpoint_every() -> int:
    """Committed entries per process after which it checkpoints (if no one did in the last seconds)."""
    return int(_setting("TONGBAN_AUDIT_CHECKPOINT_EVERY", 1000))


def checkpoint_seconds() -> float:
    """A process that appended anything checkpoints at least this often."""
    return _setting("TONGBAN_AUDIT_CHECKPOINT_SECONDS", 60)


def checkpoint_min_interval() -> float:
    """Piggy-backed checkpoints are skipped if another was made this recently."""
    return _setting("TONGBAN_AUDIT_CHECKPOINT_MIN_INTERVAL", 5)


def idle_close_seconds() -> float:
    """A chain whose newest entry is older than this is closed by any checkpoint (its writer died)."""
    return _setting("TONGBAN_AUDIT_IDLE_CLOSE_SECONDS", 24 * 3600)


class AuditChainConflict(RuntimeError):
    """Someone else wrote into this writer's chain: tampering, or a chain shared across a fork."""


@dataclass
class Head:
    seq: int
    hash: str


class _Pending:
    """The on_commit callback of one appended entry (or of a chain's creation, seq 0)."""

    __slots__ = ("state", "seq", "hash")

    def __init__(self, state: ChainState, seq: int, hash_: str) -> None:
        self.state = state
        self.seq = seq
        self.hash = hash_

    def __call__(self) -> None:
        self.state._on_commit(self)


class ChainState:
    """One writer's chain, as its owning thread knows it."""

    def __init__(self, *, chain_id: str, using: str, genesis: str) -> None:
        self.chain_id = chain_id
        self.using = using
        self.db_name = str(connections[using].settings_dict.get("NAME"))
        self.pid = os.getpid()
        self.thread = weakref.ref(threading.current_thread())
        self.genesis = genesis
        self.created = False  # the AuditChain row is committed
        self.creation: _Pending | None = None
        self.committed = Head(0, genesis)  # replaced, never mutated: other threads read it
        self.pending: list[_Pending] = []
        self.last_append = time.monotonic()
        self.closing: str | None = None  # why the next checkpoint should close it

    def _on_commit(self, token: _Pending) -> None:
        if token.seq == 0:
            self.created = True
            self.creation = None
        else:
            if token.seq > self.committed.seq:
                self.committed = Head(token.seq, token.hash)
            if token in self.pending:
                self.pending.remove(token)
            _note_committed_entry()
        self.last_append = time.monotonic()

    def owner_alive(self) -> bool:
        thread = self.thread()
        return thread is not None and thread.is_alive()


_registry_lock = threading.Lock()
_registry: dict[str, ChainState] = {}  # this process's chains, open or waiting to be closed
_local = threading.local()
_counter_lock = threading.Lock()
_since_checkpoint = 0
_last_checkpoint = time.monotonic()


def _alive(connection: Any, token: _Pending) -> bool:
    """Is this callback still queued, i.e. is its entry still part of the open transaction?"""
    return any(item[1] is token for item in reversed(connection.run_on_commit))


def _thread_states() -> dict[str, ChainState]:
    states = getattr(_local, "states", None)
    if states is None:
        states = {}
        _local.states = states
    return states


def _retire(state: ChainState, reason: str) -> None:
    """Stop appending to `state`; the next checkpoint made by this process closes it."""
    state.closing = reason
    states = _thread_states()
    if states.get(state.using) is state:
        del states[state.using]


def _label() -> str:
    thread = threading.current_thread()
    return f"{socket.gethostname()}:{os.getpid()}:{thread.name}"[:200]


def _open_chain(using: str) -> ChainState:
    latest = (AuditCheckpoint.objects.using(using).order_by("-seq").values_list("seq", "hash").first()
              or (0, ZERO_HASH))
    key_id, key = keys.current_signing_key()
    chain_id = uuid.uuid4().hex
    opened_at = timezone.now()
    label = _label()
    document = chain_document(chain_id=chain_id, opened_at=opened_at, label=label, anchor_seq=latest[0],
                              anchor_hash=latest[1], key_id=key_id)
    body = dumps(document)
    genesis = sm3(body).hex()
    AuditChain.objects.using(using).create(
        id=chain_id, opened_at=opened_at, label=label, anchor_seq=latest[0], anchor_hash=latest[1],
        genesis_hash=genesis, key_id=key_id, signature=key.sign(body).hex())
    state = ChainState(chain_id=chain_id, using=using, genesis=genesis)
    token = _Pending(state, 0, genesis)
    state.creation = token
    transaction.on_commit(token, using=using, robust=True)
    with _registry_lock:
        _registry[chain_id] = state
    _thread_states()[using] = state
    return state


def _db_head(using: str, chain_id: str, genesis: str) -> Head:
    row = (AuditEntry.objects.using(using).filter(chain_id=chain_id).order_by("-seq")
           .values_list("seq", "hash").first())
    return Head(row[0], row[1]) if row else Head(0, genesis)


def _resync(state: ChainState, connection: Any) -> ChainState | None:
    """Bring the thread's chain in line with the transaction; None if a new chain must be opened."""
    if state.pid != os.getpid() or state.closing:
        return None
    if state.db_name != str(connection.settings_dict.get("NAME")):
        return None  # the test runner switched databases
    if state.creation is not None and not _alive(connection, state.creation):
        # The transaction that created the chain is over without our callback having run.
        if not AuditChain.objects.using(state.using).filter(pk=state.chain_id).exists():
            _drop(state)
            return None
        state.created, state.creation = True, None
    if state.pending and not _alive(connection, state.pending[-1]):
        state.pending = [p for p in state.pending if _alive(connection, p)]
        if not state.pending:
            if not AuditChain.objects.using(state.using).filter(pk=state.chain_id).exists():
                _drop(state)  # the database was emptied (a test flush): start afresh
                return None
            db = _db_head(state.using, state.chain_id, state.genesis)
            if db.seq > state.committed.seq:
                state.committed = db  # a commit whose callback was lost
            elif db.seq < state.committed.seq:
                # Committed entries of ours are gone. Carry on from memory: the next entry's seq
                # leaves the gap visible to verification.
                log.critical("audit.chain_tail_missing", chain=state.chain_id, db_seq=db.seq,
                             expected_seq=state.committed.seq)
    if time.monotonic() - state.last_append > idle_close_seconds() / 2:
        _retire(state, "rotated")
        return None
    return state


def _drop(state: ChainState) -> None:
    with _registry_lock:
        _registry.pop(state.chain_id, None)
    states = _thread_states()
    if states.get(state.using) is state:
        del states[state.using]


# -- the INSERT itself ----------------------------------------------------------------------------------

_FIELDS = ("occurred_at", "actor_type", "actor_id", "action", "subject_type", "subject_id", "outcome", "client_ip",
           "request_id", "details", "chain_id", "seq", "prev_hash", "hash")
_prep = {name: cast("Field[Any, Any]", AuditEntry._meta.get_field(name)).get_db_prep_save for name in _FIELDS}
# Built once from the model's own table and column names (constants, never input); values are parameters.
_COLUMNS = ", ".join(f'"{name}"' for name in _FIELDS)
_PLACEHOLDERS = ", ".join(["%s"] * len(_FIELDS))
_INSERT_SQL = f'INSERT INTO "{AuditEntry._meta.db_table}" ({_COLUMNS}) VALUES ({_PLACEHOLDERS}) RETURNING "id"'  # noqa: S608


_INSERTS: dict[str, Statement] = {}


def _insert(connection: Any, values: dict[str, Any]) -> AuditEntry:
    """One INSERT … RETURNING id, without the ORM's model save machinery (the audit row has no signals,
    no defaults to compute, and is never updated). In autocommit on PostgreSQL it is a lean prepared
    statement (tongban.core.statements: the database commits it, and with synchronous_commit on
    flushes it, before it answers); anywhere else it runs through Django's cursor, in the caller's
    transaction, with the values prepared by the model's fields."""
    statement = _INSERTS.get(connection.alias)
    if statement is None:
        statement = _INSERTS[connection.alias] = Statement(connection.alias, _INSERT_SQL)
    row = statement.one([values[name] for name in _FIELDS],
                        cursor_params=lambda: [_prep[name](values[name], connection=connection) for name in _FIELDS])
    assert row is not None
    entry = AuditEntry.__new__(AuditEntry)  # what Model.from_db builds, without __init__'s keyword handling
    entry.__dict__.update(values)
    entry.id = row[0]
    entry._state = ModelState()
    entry._state.adding = False
    entry._state.db = connection.alias
    return entry


def _link(state: Any, head: Head | _Pending, fields: dict[str, Any]) -> tuple[int, str, dict[str, Any]]:
    """The next entry of `state`'s chain after `head`: its seq, its hash and the row to insert."""
    seq = head.seq + 1
    digest = chain_hash(head.hash, entry_document(chain_id=state.chain_id, seq=seq, **fields))
    return seq, digest, {**fields, "chain_id": state.chain_id, "seq": seq, "prev_hash": head.hash, "hash": digest}


def _insert_linked(connection: Any, state: Any, seq: int, values: dict[str, Any]) -> AuditEntry:
    """Insert a linked entry; a seq already taken means two writers share a chain, which retires it."""
    try:
        return _insert(connection, values)
    except IntegrityError as exc:
        log.critical("audit.chain_conflict", chain=state.chain_id, seq=seq)
        _retire(state, "conflict")
        raise AuditChainConflict(f"audit chain {state.chain_id} already has seq {seq}") from exc


def append(*, using: str, occurred_at: dt.datetime, actor_type: str, actor_id: str, action: str,
           subject_type: str, subject_id: str, outcome: str, client_ip: str, request_id: str,
           details: dict[str, Any]) -> AuditEntry:
    """Insert one entry into this thread's chain, inside the caller's open transaction."""
    connection = connections[using]
    if not connection.in_atomic_block:
        raise RuntimeError("audit entries are appended inside a transaction")
    state = _thread_states().get(using)
    if state is not None:
        state = _resync(state, connection)
    if state is None:
        state = _open_chain(using)
    head = state.pending[-1] if state.pending else state.committed
    seq, digest, values = _link(state, head, dict(
        occurred_at=occurred_at, actor_type=actor_type, actor_id=actor_id, action=action,
        subject_type=subject_type, subject_id=subject_id, outcome=outcome, client_ip=client_ip,
        request_id=request_id, details=details))
    entry = _insert_linked(connection, state, seq, values)
    token = _Pending(state, seq, digest)
    state.pending.append(token)
    state.last_append = time.monotonic()
    transaction.on_commit(token, using=using, robust=True)
    return entry


def append_committed(*, using: str, occurred_at: dt.datetime, actor_type: str, actor_id: str, action: str,
                     subject_type: str, subject_id: str, outcome: str, client_ip: str, request_id: str,
                     details: dict[str, Any]) -> AuditEntry | None:
    """Outside any transaction: append one entry as a transaction of its own — a single INSERT in
    autocommit mode, which the database commits (and, with synchronous_commit on, flushes) before it
    answers — and advance the head at once. One round trip instead of BEGIN, INSERT, COMMIT.

    Returns None, writing nothing, when the thread's chain is not in a plain committed state (no
    chain yet, a rollback to account for, a rotation due): the caller then appends in a transaction,
    which sorts that out first.
    """
    connection = connections[using]
    if connection.in_atomic_block or not connection.get_autocommit():
        return None
    state = _thread_states().get(using)
    if (state is None or not state.created or state.creation is not None or state.pending or state.closing
            or state.pid != os.getpid() or state.db_name != str(connection.settings_dict.get("NAME"))
            or time.monotonic() - state.last_append > idle_close_seconds() / 2):
        return None
    seq, digest, values = _link(state, state.committed, dict(
        occurred_at=occurred_at, actor_type=actor_type, actor_id=actor_id, action=action,
        subject_type=subject_type, subject_id=subject_id, outcome=outcome, client_ip=client_ip,
        request_id=request_id, details=details))
    try:
        entry = _insert_linked(connection, state, seq, values)
    except DatabaseError:
        # Committed or not? (The connection may have dropped after the commit.) A token that is not
        # queued anywhere makes the next append re-read the head from the database first.
        state.pending.append(_Pending(state, seq, digest))
        raise
    state.committed = Head(seq, digest)
    state.last_append = time.monotonic()
    _note_committed_entry()
    return entry


# -- checkpoints --------------------------------------------------------------------------------------


def _note_committed_entry() -> None:
    global _since_checkpoint
    with _counter_lock:
        _since_checkpoint += 1
        due = _since_checkpoint >= checkpoint_every() or time.monotonic() - _last_checkpoint >= checkpoint_seconds()
    if due:
        # We are in an on_commit callback: the caller's transaction is committed and closed.
        maybe_checkpoint()


def maybe_checkpoint(using: str = "default") -> AuditCheckpoint | None:
    """A piggy-backed checkpoint, unless another process made one within the minimum interval."""
    global _since_checkpoint, _last_checkpoint
    with _counter_lock:
        _since_checkpoint = 0
        _last_checkpoint = time.monotonic()
    if connections[using].in_atomic_block:
        return None
    latest = AuditCheckpoint.objects.using(using).order_by("-seq").values_list("created_at", flat=True).first()
    if latest is not None and (timezone.now() - latest).total_seconds() < checkpoint_min_interval():
        return None
    try:
        return make_checkpoint(using=using)
    except Exception:
        log.exception("audit.checkpoint_failed")
        return None


def _lock_checkpoints(using: str) -> None:
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHECKPOINT_LOCK_KEY])
    # SQLite: the transaction holds the database's write lock from BEGIN IMMEDIATE (settings), or
    # from this transaction's first write; checkpoints are serialised either way.


def _own_states(using: str, db_name: str) -> dict[str, ChainState]:
    pid = os.getpid()
    with _registry_lock:
        return {cid: s for cid, s in _registry.items()
                if s.pid == pid and s.using == using and s.db_name == db_name and (s.created or s.creation)}


def make_checkpoint(*, using: str = "default", close_own: str | None = None, kind: str = CheckpointKind.SEAL,
                    floors: dict[str, dict[str, Any]] | None = None) -> AuditCheckpoint:
    """Sign the heads of all open chains. `close_own` closes this process's chains (with that reason)."""
    with transaction.atomic(using=using):
        _lock_checkpoints(using)
        connection = connections[using]
        db_name = str(connection.settings_dict.get("NAME"))
        prev = AuditCheckpoint.objects.using(using).order_by("-seq").first()
        prev_heads: dict[str, dict[str, Any]] = json.loads(prev.body)["heads"] if prev else {}
        closed_ids = AuditChainClosure.objects.using(using).values("chain_id")
        chains = list(AuditChain.objects.using(using).exclude(id__in=closed_ids)
                      .values_list("id", "genesis_hash", "opened_at"))
        own = _own_states(using, db_name)
        now = timezone.now()
        idle_limit = now - dt.timedelta(seconds=idle_close_seconds())
        heads: dict[str, dict[str, Any]] = {}
        closing: dict[str, str] = {}
        if close_own:
            # Before any head is read: an own chain's writer that appends meanwhile opens a new chain.
            for own_state in own.values():
                own_state.closing = close_own
        for chain_id, genesis, opened_at in chains:
            state = own.get(chain_id)
            # Whether an own chain closes is decided *before* its head is read: a writer found alive may
            # append after the read (its chain then stays open and the next checkpoint seals the rest); one
            # found gone or retired appends nothing more, so the head read next is its last. The other
            # order let a writer append its last entry and exit between the two, and the chain was closed
            # below an entry it holds (seen as an "inserted" entry by verification).
            reason = None
            known: Head | _Pending | None = None
            if state is not None:
                reason = close_own or state.closing or (None if state.owner_alive() else "thread_exit")
                # The head the writer knows is read before the database's, for the same reason: the writer
                # advances it only once the database has committed the entry (an on_commit callback, or
                # after the autocommit INSERT returned), so the query below — a statement that starts
                # later, READ COMMITTED — sees at least that entry, and a database showing less really
                # lost committed entries. The other order let an entry commit between the two reads, and
                # a chain whose entry existed was reported as a missing tail (a false CRITICAL).
                # `pending` belongs to the writer's thread: one read of it (a slice is atomic), not a test
                # and then an index that its on_commit callback may empty in between.
                last_pending = state.pending[-1:]
                known = last_pending[0] if last_pending and _alive(connection, last_pending[0]) \
                    else state.committed
            row = (AuditEntry.objects.using(using).filter(chain_id=chain_id).order_by("-seq")
                   .values_list("seq", "hash", "occurred_at").first())
            head = Head(row[0], row[1]) if row else Head(0, genesis)
            last_at = row[2] if row else opened_at
            if known is not None:
                if head.seq < known.seq:
                    log.critical("audit.chain_tail_missing", chain=chain_id, db_seq=head.seq, expected_seq=known.seq)
                    head = Head(known.seq, known.hash)
            sealed = prev_heads.get(chain_id)
            if sealed is not None and head.seq < sealed["seq"]:
                # Sealed entries are gone: keep asserting what was sealed, so verification flags it.
                log.critical("audit.sealed_entries_missing", chain=chain_id, db_seq=head.seq, sealed_seq=sealed["seq"])
                head = Head(sealed["seq"], sealed["hash"])
            if state is None and last_at < idle_limit:
                reason = "idle"  # another process's writer, silent for a day (its own append retires it sooner)
            if reason:
                closing[chain_id] = reason
            heads[chain_id] = {"seq": head.seq, "hash": head.hash, "closed": bool(reason)}
        key_id, key = keys.current_signing_key()
        seq = (prev.seq if prev else 0) + 1
        body: dict[str, Any] = {
            "v": 1,
            "type": "checkpoint",
            "kind": str(kind),
            "seq": seq,
            "created_at": iso_utc(now),
            "prev": prev.hash if prev else ZERO_HASH,
            "key_id": key_id,
            "heads": heads,
        }
        if floors is not None:
            body["floors"] = floors
        raw = dumps(body)
        signature = key.sign(raw)
        checkpoint = AuditCheckpoint.objects.using(using).create(
            seq=seq, kind=kind, created_at=now, body=raw.decode(), prev_hash=body["prev"],
            hash=sm3(raw + signature).hex(), key_id=key_id, signature=signature.hex())
        AuditChainClosure.objects.using(using).bulk_create([
            AuditChainClosure(chain_id=cid, checkpoint_seq=seq, closed_at=now, reason=reason)
            for cid, reason in closing.items()])

        def forget_closed() -> None:
            with _registry_lock:
                for cid in closing:
                    state = _registry.pop(cid, None)
                    if state is not None:
                        state.closing = state.closing or "closed"

        transaction.on_commit(forget_closed, using=using)
    return checkpoint


# -- process life ---------------------------------------------------------------------------------------


def reset_local_chains() -> None:
    """Forget this process's chains without closing them (after a fork; after a test flush)."""
    global _local, _since_checkpoint
    with _registry_lock:
        _registry.clear()
    _local = threading.local()
    _since_checkpoint = 0


def close_own_chains(reason: str = "shutdown", using: str = "default") -> AuditCheckpoint | None:
    """Checkpoint and close this process's chains: called at exit so no tail stays unsealed."""
    connection = connections[using]
    db_name = str(connection.settings_dict.get("NAME"))
    own = _own_states(using, db_name)
    if not any(s.created for s in own.values()) or connection.in_atomic_block:
        return None
    return make_checkpoint(using=using, close_own=reason)


def _at_exit() -> None:
    try:
        close_own_chains()
    except Exception as exc:  # the database may be gone at exit; the next checkpoint closes them as idle
        log.warning("audit.close_at_exit_failed", error=type(exc).__name__)


def _after_migrate(sender: Any, using: str = "default", **kwargs: Any) -> None:
    # A flush (tests) emits post_migrate: every chain we knew of is gone with the rows.
    if getattr(sender, "label", None) == "audit":
        reset_local_chains()


_hooks_installed = False


def install_process_hooks() -> None:
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    os.register_at_fork(after_in_child=reset_local_chains)
    atexit.register(_at_exit)
    post_migrate.connect(_after_migrate, dispatch_uid="tongban.audit.chain")
