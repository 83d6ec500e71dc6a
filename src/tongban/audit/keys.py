"""Where the audit log's SM2 signing key comes from: the one adapter to change when key handling moves.

Two sources, chosen by the setting `TONGBAN_AUDIT_KEY_SOURCE`:

* "keyring" (default): the platform keyring, `tongban.crypto.keys` purpose "audit_signing" (wrapped by
  the master key, rotated by the key admin). Key id "keyring:audit_signing:<version>".
* "file": a PEM file, `TONGBAN_AUDIT_KEY_FILE` (default var/keys/audit_signing.pem, created on first
  use outside production). Key id "file:<first 16 hex of SM3(public key)>". For development and for
  the benchmark; a production start refuses to create one.

Every checkpoint and chain stores the key id it was signed with, so verification finds the right
public key even after a rotation or a change of source.
"""

from __future__ import annotations

import functools
import os
import threading
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from tongban.crypto.sm2 import SM2PrivateKey, SM2PublicKey
from tongban.crypto.sm3 import sm3

PURPOSE = "audit_signing"
_file_lock = threading.Lock()


class UnknownKeyError(LookupError):
    """A signature names a key this installation cannot find."""


def _source() -> str:
    source = str(getattr(settings, "TONGBAN_AUDIT_KEY_SOURCE", "keyring"))
    if source not in ("keyring", "file"):
        raise ImproperlyConfigured("TONGBAN_AUDIT_KEY_SOURCE must be keyring or file")
    return source


def fingerprint(public: SM2PublicKey) -> str:
    return sm3(public.to_raw()).hex()[:16]


def _key_file() -> Path:
    configured = getattr(settings, "TONGBAN_AUDIT_KEY_FILE", None)
    if configured:
        return Path(configured)
    return Path(settings.TONGBAN_VAR_DIR) / "keys" / "audit_signing.pem"


@functools.lru_cache(maxsize=4)
def _file_key(path: Path) -> SM2PrivateKey:
    with _file_lock:
        if not path.exists():
            env = getattr(settings, "ENV", None)
            if env is not None and env.is_production:
                raise ImproperlyConfigured(f"the audit signing key file {path} does not exist")
            path.parent.mkdir(parents=True, exist_ok=True)
            key = SM2PrivateKey.generate()
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(key.to_pem())
            return key
        return SM2PrivateKey.from_pem(path.read_bytes())


def current_signing_key() -> tuple[str, SM2PrivateKey]:
    """(key id, private key) to sign new chains and checkpoints with."""
    if _source() == "file":
        key = _file_key(_key_file())
        return f"file:{fingerprint(key.public_key())}", key
    from tongban.crypto import keys as crypto_keys

    version, key = crypto_keys.current_signing_key(PURPOSE)
    return f"keyring:{PURPOSE}:{version}", key


def verifying_key(key_id: str) -> SM2PublicKey:
    """The public key a stored key id names; UnknownKeyError if this installation does not have it."""
    kind, _, rest = key_id.partition(":")
    if kind == "file":
        path = _key_file()
        if path.exists():
            public = _file_key(path).public_key()
            if fingerprint(public) == rest:
                return public
        raise UnknownKeyError(f"no audit key file with fingerprint {rest}")
    if kind == "keyring":
        purpose, _, version = rest.partition(":")
        if purpose != PURPOSE or not version.isdigit():
            raise UnknownKeyError(f"malformed key id {key_id!r}")
        from tongban.crypto import keys as crypto_keys

        try:
            return crypto_keys.verifying_key(PURPOSE, int(version))
        except Exception as exc:
            raise UnknownKeyError(f"no {PURPOSE} key version {version}: {exc}") from exc
    raise UnknownKeyError(f"unknown key id {key_id!r}")
