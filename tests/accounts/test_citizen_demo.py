"""The demo's citizens are real citizen accounts: a phone, and L2 against the generated registry."""

from __future__ import annotations

import pytest

from tongban.accounts.models import CitizenProfile
from tongban.demo.seed import DEMO_ACCOUNTS, demo_accounts_ensure

pytestmark = pytest.mark.django_db(databases="__all__")


def test_demo_citizens_are_verified_to_l2(people, client):
    demo_accounts_ensure()
    demo_accounts_ensure()  # idempotent
    citizen = CitizenProfile.objects.get(user__username="citizen")
    hk = CitizenProfile.objects.get(user__username="hkresident")
    assert citizen.phone == "13800000001" and citizen.level == 2 and citizen.id_type == "resident_id"
    assert hk.phone == "+85291230002" and hk.level == 2 and hk.id_type == "hk_macao_permit"
    assert hk.name_en and hk.name_en == hk.name_en.strip()  # the permit's English name, from the source
    account = next(a for a in DEMO_ACCOUNTS if a.account_name == "citizen")
    assert account.username == "13800000001"
    response = client.post("/login/", {"username": account.username, "password": account.password})
    assert response.status_code == 302
    assert "实证 L2" in client.get("/me/").content.decode()
