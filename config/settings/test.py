"""Settings for the test suite: fast hashing, fixed key, no in-process worker (tests drive jobs)."""

import os

os.environ.setdefault("TONGBAN_ENV", "test")
os.environ.setdefault("TONGBAN_LOG_JSON", "true")
os.environ.setdefault("TONGBAN_SECRET_KEY", "test-only-secret-key-not-for-production-0123456789")
# SQLite files under var/test unless the run names a database (make test runs both).
os.environ.setdefault("TONGBAN_DATABASE_URL", "sqlite:///var/test/tongban.sqlite3")
# A fixed, test-only master key (tongban.crypto.keys.EnvMasterKey); never used outside tests.
os.environ.setdefault("TONGBAN_MASTER_KEY", "74657374206f6e6c79206d6173746572206b6579202d2d206e6f742075736521")

from config.settings.base import *  # noqa: E402, F403
from config.settings.base import DATABASES, INSTALLED_APPS, STATIC_ROOT, VAR_DIR  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
TONGBAN_INPROCESS_WORKER = False
(VAR_DIR / "test").mkdir(parents=True, exist_ok=True)
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns on every start without it
# One set of files per test run (inherited by the run's subprocesses), so two runs never share them.
_RUN = os.environ.setdefault("TONGBAN_TEST_RUN_ID", str(os.getpid()))
for _alias, _db in DATABASES.items():
    # Each source gets its own test database too (test_tongban_population, ...). On SQLite they are
    # files, not shared memory, so concurrent-writer tests see real locking (waits, not errors).
    _test: dict = _db.setdefault("TEST", {})  # type: ignore[assignment]
    if _db["ENGINE"] == "django.db.backends.sqlite3":
        _test.setdefault("NAME", str(VAR_DIR / "test" / f"test-{_RUN}-{_alias}.sqlite3"))

# A test-only app with models holding encrypted fields (tests/crypto_testapp, issue 3).
INSTALLED_APPS = [*INSTALLED_APPS, "tests.crypto_testapp"]
