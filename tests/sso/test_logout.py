"""Single logout in-process: logging out, or a session ended for the person (revoked from the device list,
password recovered), ends every sign-in of that session and queues one logout token per relying party."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def _jobs() -> list:
    from tongban.jobs.models import Job

    return list(Job.objects.filter(task="outbox.oidc_backchannel"))


def test_logout_notifies_every_client_of_the_session_once(signed_in, client):
    from django.test import Client as Browser

    page = Browser()  # a second session of someone else is not touched
    assert not _jobs()
    client.post("/logout/")
    jobs = _jobs()
    assert len(jobs) == 2 and {j.payload["iss"] for j in jobs} == {"http://testserver"}
    for flow, tokens in signed_in:
        assert flow.refresh(tokens["refresh_token"]).json()["error"] == "invalid_grant"
    assert page.get("/").status_code == 200


def test_session_revoked_from_the_device_list_ends_its_sign_ins(signed_in, person):
    from tongban.accounts.sessions import sessions_end_all

    assert sessions_end_all(person) == 1
    assert len(_jobs()) == 2
    from tongban.sso.models import SessionParticipation

    assert not SessionParticipation.objects.filter(ended_at__isnull=True).exists()


def test_logout_token_is_what_the_spec_asks(signed_in, client):
    from tests.sso.conftest import decode
    from tongban.sso.models import SessionParticipation
    from tongban.sso.tasks import EVENT, logout_token

    part = SessionParticipation.objects.first()
    claims = decode(logout_token(part, iss="http://testserver"))
    assert claims["events"] == {EVENT: {}} and "nonce" not in claims
    assert claims["sid"] == part.sid and claims["aud"] == part.client.client_id and claims["sub"]
