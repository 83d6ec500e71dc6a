"""WSGI entry point for the server (the demo and production both serve through it).

tongban.core.fastlane.FastLane sends the self-authenticating hot endpoints (TONGBAN_FAST_PATHS) through a
short path and everything else to Django's handler.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault(
    "DJANGO_SETTINGS_MODULE",
    "config.settings.production" if os.environ.get("TONGBAN_ENV") == "production" else "config.settings.development",
)
_django = get_wsgi_application()  # django.setup() first

from tongban.core.fastlane import FastLane  # noqa: E402

application = FastLane(_django)
