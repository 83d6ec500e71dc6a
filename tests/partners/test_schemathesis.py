"""Property-based checks of /partner/v1 from its OpenAPI description (schemathesis): whatever the input,
the answer is documented, matches its schema, and is never a 500. Unsigned fuzzed requests exercise the
authentication and error paths; signed happy paths are in test_api.py."""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, settings  # noqa: E402

from config.wsgi import application  # noqa: E402
from tongban.partners.openapi import document  # noqa: E402

schema = schemathesis.openapi.from_dict(document())


@pytest.fixture
def _keep_test_connections(monkeypatch):
    """As Django's test client does: a request finishing must not close the test's database connections
    (neither through Django's signals nor through the fast lane's own end-of-request check)."""
    from django.core import signals
    from django.db import close_old_connections

    monkeypatch.setattr("tongban.core.fastlane.release_connections", lambda: None)
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.mark.django_db(databases="__all__")
@pytest.mark.usefixtures("_keep_test_connections")
@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_partner_api_conforms(case):
    response = case.call(app=application)
    case.validate_response(response)
