"""The embedded default: SQLite under var/, local-memory cache, worker in-process."""

from config.settings.base import *  # noqa: F403
