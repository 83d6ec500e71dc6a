"""Every change to a citizen account and every read of its personal data is in the audit log, masked."""

from __future__ import annotations

import json

import pytest

from tests.accounts.test_citizen_flows import PASSWORD, PHONE, register
from tongban.audit.models import AuditEntry

pytestmark = pytest.mark.django_db(databases="__all__")


def test_changes_and_reads_are_audited_without_personal_data(client, sms_sim, people):
    user = register(client, sms_sim)
    person = people.mainland[0]
    client.post("/me/identity/", {"id_type": "resident_id", "id_number": person["id_number"],
                                  "name": person["name"], "level": "1"})
    client.get("/me/")
    client.post("/me/close/", {"password": PASSWORD, "confirm": "on"})
    entries = list(AuditEntry.objects.filter(subject_type="accounts.user", subject_id=str(user.pk)))
    events = [e.details.get("event") for e in entries]
    for event in ("citizen_registered", "identity_verified", "personal_data_read", "account_closed"):
        assert event in events, event
    read = next(e for e in entries if e.details.get("event") == "personal_data_read")
    assert read.action == "personal_data.read" and read.actor_id == str(user.pk)
    assert set(read.details["fields"]) == {"phone", "id_number", "name"}
    dump = json.dumps([e.details for e in AuditEntry.objects.all()], ensure_ascii=False)
    assert PHONE not in dump and person["id_number"] not in dump and person["name"] not in dump
    assert AuditEntry.objects.filter(action="verification.request", details__channel="portal").exists()
