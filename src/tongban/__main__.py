"""The `tongban` console script: Django's management commands with tongban's settings."""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    default = "config.settings.production" if os.environ.get("TONGBAN_ENV") == "production" else "config.settings.development"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", default)
    from django.core.management import execute_from_command_line

    execute_from_command_line(["tongban", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    main()
