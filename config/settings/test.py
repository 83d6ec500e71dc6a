"""Settings for the test suite: fast hashing, fixed key, no in-process worker (tests drive jobs)."""

import os

os.environ.setdefault("TONGBAN_ENV", "test")
os.environ.setdefault("TONGBAN_LOG_JSON", "true")
os.environ.setdefault("TONGBAN_SECRET_KEY", "test-only-secret-key-not-for-production-0123456789")
# In-memory SQLite unless the run names a database (make test runs both).
os.environ.setdefault("TONGBAN_DATABASE_URL", "sqlite:///var/test/tongban.sqlite3")

from config.settings.base import *  # noqa: E402, F403
from config.settings.base import DATABASES  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
TONGBAN_INPROCESS_WORKER = False
for _db in DATABASES.values():
    # Each source gets its own test database too (test_tongban_population, ...).
    _db.setdefault("TEST", {})
