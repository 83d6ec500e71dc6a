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


def worker_application() -> FastLane:
    """The application for one server worker process (granian calls it in each): starts that process's
    job worker when the embedded default runs jobs in the web processes."""
    from django.conf import settings

    if settings.TONGBAN_INPROCESS_WORKER:
        from tongban.jobs.worker import start_inprocess_worker

        start_inprocess_worker()
    return application
