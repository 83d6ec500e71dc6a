"""The key hierarchy: a master key wraps versioned data keys per purpose; a process keyring caches them.

    master key (file, environment, or an HSM/KMS behind MasterKeyProvider)
      └─ wraps (SM4-GCM, AAD = purpose|version) ─ DataKey rows: field_encryption v1, v2 …
                                                  blind_index v1 …, audit_signing v1 …, api_signing v1 …

Only wrapped keys are stored. Each process unwraps a key the first time it needs it and keeps it
in memory; it re-reads which version is current every TONGBAN_KEYRING_TTL seconds, and at once
when it meets a version it does not know. docs/keys.md has the whole story.
"""

from __future__ import annotations

import base64
import binascii
import os
import stat
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as _crypto_hmac
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, connections, transaction
from django.utils.module_loading import import_string

from tongban.core import clock
from tongban.core.logging import get_logger
from tongban.crypto.errors import CryptoError, DecryptionError, KeyFormatError
from tongban.crypto.models import (
    MAX_KEY_VERSION,
    READABLE_STATES,
    SIGNING_PURPOSES,
    DataKey,
    KeyPurpose,
    KeyState,
)
from tongban.crypto.sm2 import SM2PrivateKey, SM2PublicKey
from tongban.crypto.sm3 import hmac_sm3
from tongban.crypto.sm4 import KEY_SIZE as SM4_KEY_SIZE
from tongban.crypto.sm4 import SM4GCM

log = get_logger("tongban.crypto.keys")

MASTER_KEY_SIZE = 32
BLIND_INDEX_KEY_SIZE = 32
_WRAP_FORMAT = b"\x01"  # SM4-GCM under a KEK derived from the master key
_KEK_LABEL = b"tongban/kek/sm4-gcm/v1"
_KEY_ID_LABEL = b"tongban/master-key-id/v1"

ALGORITHMS = {
    KeyPurpose.FIELD_ENCRYPTION: "SM4-GCM",
    KeyPurpose.BLIND_INDEX: "HMAC-SM3",
    KeyPurpose.AUDIT_SIGNING: "SM2",
    KeyPurpose.API_SIGNING: "SM2",
    KeyPurpose.DOCUMENT_SIGNING: "SM2",
}


class KeyUnavailableError(CryptoError):
    """A data key the caller needs does not exist (yet) or cannot be unwrapped with this master key."""


# -- master key providers ----------------------------------------------------------------------------


@runtime_checkable
class MasterKeyProvider(Protocol):
    """Wraps and unwraps data keys. An HSM or KMS client implements the same three members."""

    @property
    def key_id(self) -> str:
        """A short, non-secret name of the master key (stored beside each wrapped key)."""
        ...

    def wrap(self, purpose: str, version: int, dek: bytes) -> bytes: ...

    def unwrap(self, purpose: str, version: int, wrapped: bytes) -> bytes: ...


def _wrap_aad(purpose: str, version: int) -> bytes:
    return f"tongban/dek/v1|{purpose}|{version}".encode()


class LocalMasterKey:
    """A 32-byte master key held in this process's memory (the base of the file and env providers).

    The SM4 key-encryption key is HMAC-SM3(master, label)[:16], so the 32-byte master key is
    never used directly and the same file could later also derive other keys by label.
    """

    def __init__(self, master: bytes) -> None:
        if len(master) != MASTER_KEY_SIZE:
            raise KeyFormatError(f"a master key is {MASTER_KEY_SIZE} bytes, not {len(master)}")
        self._kek = SM4GCM(hmac_sm3(master, _KEK_LABEL)[:SM4_KEY_SIZE])
        self._key_id = hmac_sm3(master, _KEY_ID_LABEL)[:8].hex()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} id={self._key_id}>"

    @property
    def key_id(self) -> str:
        return self._key_id

    def wrap(self, purpose: str, version: int, dek: bytes) -> bytes:
        return _WRAP_FORMAT + self._kek.encrypt(dek, _wrap_aad(purpose, version))

    def unwrap(self, purpose: str, version: int, wrapped: bytes) -> bytes:
        if not wrapped.startswith(_WRAP_FORMAT):
            raise DecryptionError("unknown wrapped-key format")
        return self._kek.decrypt(wrapped[1:], _wrap_aad(purpose, version))


def parse_master_key(text: str | bytes, *, source: str) -> bytes:
    """32 raw bytes, or 64 hex digits, or base64 of 32 bytes (surrounding white space ignored)."""
    if isinstance(text, bytes):
        if len(text) == MASTER_KEY_SIZE:
            return text
        try:
            text = text.decode("ascii")
        except UnicodeDecodeError:
            raise KeyFormatError(f"{source}: not a 32-byte key, 64 hex digits or base64") from None
    text = text.strip()
    candidates: list[bytes] = []
    if len(text) == 2 * MASTER_KEY_SIZE:
        try:
            candidates.append(bytes.fromhex(text))
        except ValueError:
            pass
    try:
        candidates.append(base64.b64decode(text, validate=True))
    except (binascii.Error, ValueError):
        pass
    for value in candidates:
        if len(value) == MASTER_KEY_SIZE:
            return value
    raise KeyFormatError(f"{source}: not a 32-byte key, 64 hex digits or base64 of 32 bytes")


class FileMasterKey(LocalMasterKey):
    """The master key from a file readable by its owner only (mode 0600 or stricter).

    Outside production a missing file is created with a fresh random key; in production a missing
    file stops the platform (a new key would make every existing key unreadable).
    """

    def __init__(self, path: str | Path | None = None, *, create: bool | None = None) -> None:
        self.path = Path(path if path is not None else settings.TONGBAN_MASTER_KEY_FILE)
        if create is None:
            create = not _is_production()
        if not self.path.exists():
            if not create:
                raise ImproperlyConfigured(
                    f"主密钥文件不存在：{self.path}。生产环境不会自动生成主密钥，请按 docs/keys.md 放置（权限 0600）"
                    f" 或设置 TONGBAN_MASTER_KEY。 Master key file {self.path} is missing; production never creates"
                    " one (it would orphan every existing key)."
                )
            _create_key_file(self.path)
            log.warning("keys.master_key_created", path=str(self.path))
        mode = stat.S_IMODE(self.path.stat().st_mode)
        if mode & 0o077:
            raise ImproperlyConfigured(
                f"主密钥文件 {self.path} 的权限为 {mode:04o}，组或其他用户可读；请 chmod 600。"
                f" Master key file {self.path} has mode {mode:04o}; it must be 0600 (owner only)."
            )
        super().__init__(parse_master_key(self.path.read_bytes(), source=str(self.path)))


def _create_key_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_EXCL: two processes starting together must not each write a different key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "wb") as handle:
        handle.write(os.urandom(MASTER_KEY_SIZE))


class EnvMasterKey(LocalMasterKey):
    """The master key from TONGBAN_MASTER_KEY (64 hex digits or base64 of 32 bytes)."""

    def __init__(self, value: str | None = None) -> None:
        value = value if value is not None else getattr(settings, "TONGBAN_MASTER_KEY", None)
        if not value:
            raise ImproperlyConfigured("TONGBAN_MASTER_KEY is not set (64 hex digits or base64 of 32 bytes)")
        super().__init__(parse_master_key(value, source="TONGBAN_MASTER_KEY"))


def _is_production() -> bool:
    env = getattr(settings, "ENV", None)
    return bool(getattr(env, "is_production", False))


_provider: MasterKeyProvider | None = None
_provider_lock = threading.Lock()


def master_key_provider() -> MasterKeyProvider:
    """The provider named by TONGBAN_KEY_PROVIDER (a dotted path to a class taking no arguments)."""
    global _provider
    with _provider_lock:
        if _provider is None:
            path = getattr(settings, "TONGBAN_KEY_PROVIDER", "tongban.crypto.keys.FileMasterKey")
            provider = import_string(path)()
            if not isinstance(provider, MasterKeyProvider):
                raise ImproperlyConfigured(f"TONGBAN_KEY_PROVIDER {path} does not implement MasterKeyProvider")
            _provider = provider
        return _provider


def set_master_key_provider(provider: MasterKeyProvider | None) -> None:
    """Replace the process's provider (tests, or a deployment that builds its HSM client itself)."""
    global _provider
    with _provider_lock:
        _provider = provider
    keyring().invalidate()


# -- creating data keys -------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewKeyMaterial:
    secret: bytes
    public_key: bytes | None


def generate_key_material(purpose: str) -> NewKeyMaterial:
    if purpose == KeyPurpose.FIELD_ENCRYPTION:
        return NewKeyMaterial(os.urandom(SM4_KEY_SIZE), None)
    if purpose == KeyPurpose.BLIND_INDEX:
        return NewKeyMaterial(os.urandom(BLIND_INDEX_KEY_SIZE), None)
    if purpose in SIGNING_PURPOSES:
        private = SM2PrivateKey.generate()
        return NewKeyMaterial(private.to_raw(), private.public_key().to_raw())
    raise ValueError(f"unknown key purpose {purpose!r}")


def create_data_key(*, purpose: str, version: int, state: str, operator: str, using: str = "default") -> DataKey:
    """Generate, wrap and insert one data key (the caller holds the transaction and the locks)."""
    if not 1 <= version <= MAX_KEY_VERSION:
        raise ValueError(f"key version {version} is outside 1..{MAX_KEY_VERSION}")
    provider = master_key_provider()
    material = generate_key_material(purpose)
    return DataKey.objects.using(using).create(
        purpose=purpose,
        version=version,
        state=state,
        algorithm=ALGORITHMS[KeyPurpose(purpose)],
        wrapped=provider.wrap(purpose, version, material.secret),
        master_key_id=provider.key_id,
        public_key=material.public_key,
        created_at=clock.now(),
        created_by=operator,
    )


def ensure_keys(*, using: str = "default", operator: str = "system") -> list[DataKey]:
    """Create version 1 of every purpose that has no key at all. Safe to run concurrently."""
    created: list[DataKey] = []
    existing = set(DataKey.objects.using(using).values_list("purpose", flat=True).distinct())
    for purpose in KeyPurpose:
        if purpose.value in existing:
            continue
        try:
            with transaction.atomic(using=using):
                created.append(create_data_key(purpose=purpose.value, version=1, state=KeyState.CURRENT,
                                               operator=operator, using=using))
        except IntegrityError:
            continue  # another process created it first
    if created:
        log.info("keys.created", purposes=[k.purpose for k in created], master_key_id=created[0].master_key_id)
        keyring().invalidate()
        if operator != "system":
            _audit_created(created, operator=operator, using=using)
    return created


def _audit_created(created: list[DataKey], *, operator: str, using: str) -> None:
    # `tongban keys init` by an operator is audited, after the keys are committed (the audit chain
    # itself needs the audit_signing key just made). The automatic bootstrap at `migrate` (and
    # after each test flush) is only logged: the DataKey rows record created_by="system".
    from tongban.crypto.services import _audit

    try:
        with transaction.atomic(using=using):
            for key in created:
                _audit("key.generate", operator=operator, subject_id=str(key.pk),
                       details={"purpose": key.purpose, "version": key.version, "algorithm": key.algorithm,
                                "bootstrap": True})
    except Exception as exc:
        log.error("keys.created_not_audited", error=type(exc).__name__, detail=str(exc)[:200])


# -- the keyring ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Row:
    row_id: int
    purpose: str
    version: int
    state: str
    wrapped: bytes
    public_key: bytes | None


class Keyring:
    """This process's view of the data keys: which version is current, and the unwrapped keys.

    Thread-safe. Unwrapped keys stay in memory for the life of the process (or until the row they
    came from changes); the list of versions and states is re-read at most every
    TONGBAN_KEYRING_TTL seconds, and at once when a caller asks for a version it does not know.
    The hot path (current version, a cached key) is two dictionary look-ups.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._rows: dict[tuple[str, int], _Row] = {}
        self._current: dict[str, int] = {}
        self._expires_at = -1.0
        self._forced: dict[tuple[str, int], float] = {}
        self._objects: dict[tuple[str, int, str], Any] = {}

    @property
    def ttl(self) -> float:
        return float(getattr(settings, "TONGBAN_KEYRING_TTL", 15))

    def invalidate(self) -> None:
        """Re-read the version list on next use (unwrapped keys stay while their rows do)."""
        with self._lock:
            self._expires_at = -1.0

    def clear(self) -> None:
        """Forget everything, unwrapped keys included (tests; after a master-key change)."""
        with self._lock:
            self._rows = {}
            self._current = {}
            self._objects = {}
            self._forced = {}
            self._expires_at = -1.0

    def _stale(self) -> bool:
        return time.monotonic() >= self._expires_at

    def _load(self) -> None:
        rows: dict[tuple[str, int], _Row] = {}
        current: dict[str, int] = {}
        qs = DataKey.objects.using("default").values_list(
            "id", "purpose", "version", "state", "wrapped", "public_key")
        for row_id, purpose, version, state, wrapped, public_key in qs:
            rows[(purpose, version)] = _Row(row_id, purpose, version, state, bytes(wrapped),
                                            bytes(public_key) if public_key is not None else None)
            if state == KeyState.CURRENT:
                current[purpose] = version
        ttl = self.ttl
        with self._lock:
            # Keys unwrapped from a row that went away or was replaced (a test flush, a restore)
            # are dropped; the rest stay.
            old = self._rows
            gone = {k for k, row in old.items() if (new := rows.get(k)) is None or new.row_id != row.row_id}
            if gone:
                self._objects = {k: v for k, v in self._objects.items() if (k[0], k[1]) not in gone}
            self._rows = rows
            self._current = current
            self._expires_at = time.monotonic() + ttl

    def _refresh(self, *, missing: tuple[str, int] | None = None) -> None:
        if missing is not None:
            # Something we do not know: re-read now, but for the same unknown version at most once
            # a second (a forged version number must not turn every request into a query).
            now = time.monotonic()
            if now - self._forced.get(missing, -10.0) < 1.0 and not self._stale():
                return
            if len(self._forced) > 1000:
                self._forced.clear()
            self._forced[missing] = now
            self._load()
        elif self._stale():
            self._load()

    def _row(self, purpose: str, version: int) -> _Row:
        self._refresh()
        row = self._rows.get((purpose, version))
        if row is None:
            self._refresh(missing=(purpose, version))
            row = self._rows.get((purpose, version))
        if row is None:
            raise KeyUnavailableError(f"no {purpose} key version {version}")
        return row

    def current_version(self, purpose: str) -> int:
        if time.monotonic() < self._expires_at:
            found = self._current.get(purpose)
            if found is not None:
                return found
        self._refresh()
        version = self._current.get(purpose)
        if version is None:
            self._refresh(missing=(purpose, 0))
            version = self._current.get(purpose)
        if version is None:
            version = self._bootstrap(purpose)
        return version

    def _bootstrap(self, purpose: str) -> int:
        # Normally `migrate` created the keys (post_migrate). Create them now only outside a
        # transaction: a key born inside one that rolls back would leave data nobody can read.
        if connections["default"].in_atomic_block:
            raise KeyUnavailableError(
                f"no current {purpose} key; run `tongban keys init` (or `tongban migrate`) first")
        ensure_keys()
        self._load()
        version = self._current.get(purpose)
        if version is None:
            raise KeyUnavailableError(f"no current {purpose} key")
        return version

    def versions(self, purpose: str, states: Iterable[str] = READABLE_STATES) -> list[int]:
        """Versions of `purpose` in the given states, newest first."""
        self._refresh()
        wanted = set(states)
        return sorted((v for (p, v), row in self._rows.items() if p == purpose and row.state in wanted),
                      reverse=True)

    def state(self, purpose: str, version: int) -> str:
        return self._row(purpose, version).state

    def secret(self, purpose: str, version: int) -> bytes:
        """The unwrapped key bytes of one version."""
        return self._object(purpose, version, "secret")  # type: ignore[no-any-return]

    def _object(self, purpose: str, version: int, kind: str) -> Any:
        found = self._objects.get((purpose, version, kind))
        if found is not None:
            return found
        row = self._row(purpose, version)
        secret = self._objects.get((purpose, version, "secret"))
        if secret is None:
            try:
                secret = master_key_provider().unwrap(purpose, version, row.wrapped)
            except DecryptionError:
                raise KeyUnavailableError(
                    f"{purpose} key version {version} does not unwrap with this master key") from None
            self._objects[(purpose, version, "secret")] = secret
        if kind == "secret":
            return secret
        obj: Any
        if kind == "sm4":
            obj = SM4GCM(secret)
        elif kind == "sm2":
            obj = SM2PrivateKey.from_raw(secret)
        elif kind == "hmac":
            obj = _crypto_hmac.HMAC(secret, hashes.SM3())
        else:
            raise ValueError(kind)
        self._objects[(purpose, version, kind)] = obj
        return obj

    def sm4(self, version: int) -> SM4GCM:
        return self._object(KeyPurpose.FIELD_ENCRYPTION.value, version, "sm4")  # type: ignore[no-any-return]

    def sm2(self, purpose: str, version: int) -> SM2PrivateKey:
        return self._object(purpose, version, "sm2")  # type: ignore[no-any-return]

    def blind_index_mac(self, version: int, message: bytes) -> bytes:
        """HMAC-SM3 under a blind-index key (a keyed context copied per call: half the cost)."""
        base = self._object(KeyPurpose.BLIND_INDEX.value, version, "hmac")
        mac = base.copy()
        mac.update(message)
        return mac.finalize()  # type: ignore[no-any-return]

    def public_key(self, purpose: str, version: int) -> SM2PublicKey:
        row = self._row(purpose, version)
        if row.public_key is None:
            raise KeyUnavailableError(f"{purpose} key version {version} has no public key")
        return SM2PublicKey.from_raw(row.public_key)


_keyring = Keyring()


def keyring() -> Keyring:
    return _keyring


# -- what the rest of the platform calls ----------------------------------------------------------------


def current_version(purpose: str) -> int:
    return _keyring.current_version(purpose)


def field_cipher(version: int | None = None) -> tuple[int, SM4GCM]:
    """The SM4-GCM key for field encryption: the current version, or a given one (to decrypt)."""
    if version is None:
        version = _keyring.current_version(KeyPurpose.FIELD_ENCRYPTION)
    return version, _keyring.sm4(version)


def blind_index_key(version: int | None = None) -> tuple[int, bytes]:
    """The HMAC-SM3 blind-index key: the current version, or a given one."""
    if version is None:
        version = _keyring.current_version(KeyPurpose.BLIND_INDEX)
    return version, _keyring.secret(KeyPurpose.BLIND_INDEX, version)


def blind_index_mac(message: bytes, version: int | None = None) -> tuple[int, bytes]:
    """(version, HMAC-SM3(blind-index key of that version, message)); the current version by default."""
    if version is None:
        version = _keyring.current_version(KeyPurpose.BLIND_INDEX)
    return version, _keyring.blind_index_mac(version, message)


def searchable_blind_index_versions() -> list[int]:
    """The versions a look-up must try: current first, then those a rotation has not finished with."""
    current = _keyring.current_version(KeyPurpose.BLIND_INDEX)
    others = [v for v in _keyring.versions(KeyPurpose.BLIND_INDEX) if v != current]
    return [current, *others]


def _check_signing(purpose: str) -> None:
    if purpose not in SIGNING_PURPOSES:
        raise ValueError(f"{purpose!r} is not a signing purpose ({', '.join(SIGNING_PURPOSES)})")


def current_signing_key(purpose: str) -> tuple[int, SM2PrivateKey]:
    """(version, private key) of the current SM2 key for audit_signing or api_signing.

    Put the version beside every signature so that verifiers pick `verifying_key(purpose, version)`.
    """
    _check_signing(purpose)
    version = _keyring.current_version(purpose)
    return version, _keyring.sm2(purpose, version)


def signing_key(purpose: str) -> SM2PrivateKey:
    """The current SM2 private key of a signing purpose (see `current_signing_key` for its version)."""
    return current_signing_key(purpose)[1]


def verifying_key(purpose: str, version: int) -> SM2PublicKey:
    """The SM2 public key of any version, retired ones included (old signatures keep verifying)."""
    _check_signing(purpose)
    return _keyring.public_key(purpose, version)


def check_master_key() -> str | None:
    """None if the master key provider loads and unwraps the current keys; otherwise what is wrong."""
    try:
        provider = master_key_provider()
    except (ImproperlyConfigured, CryptoError, ImportError, OSError) as exc:
        return str(exc)
    try:
        for purpose, version, wrapped in DataKey.objects.filter(state=KeyState.CURRENT).values_list(
                "purpose", "version", "wrapped"):
            provider.unwrap(purpose, version, bytes(wrapped))
    except DecryptionError:
        return "现有数据密钥无法用当前主密钥解封（主密钥不对？） The current data keys do not unwrap with this master key."
    except Exception as exc:  # the table may not exist before migrate: that is not a key problem
        log.debug("keys.check_skipped", error=type(exc).__name__)
    return None
