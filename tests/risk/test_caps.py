"""Responses capped (the exfiltration guard): the back office's case inbox and staff list show at most
export_cap() rows, page after page, and say so; a cursor edited to restart the count is no cursor."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from tests.accounts.factories import login_verified, make_officer, make_staff
from tests.backoffice.test_cases_inbox import make_case
from tests.cases.conftest import make_citizen
from tongban.accounts.roles import StaffRole
from tongban.core import clock
from tongban.risk import engine
from tongban.risk.models import Rule
from tongban.risk.services import rules_ensure

pytestmark = pytest.mark.django_db


@pytest.fixture
def cap_of_25():
    rules_ensure()
    Rule.objects.filter(code="export_large").update(threshold=25)
    engine.rules_forget()
    yield 25
    engine.rules_forget()


def _listed(body: str) -> list[str]:
    return re.findall(r'<a href="/backoffice/cases/(\d+)/">', body)


def test_the_case_inbox_stops_at_the_cap_with_a_notice(client, cap_of_25):
    citizen = make_citizen()
    at = clock.now()
    for i in range(45):
        make_case(citizen, submitted_at=at - dt.timedelta(minutes=i))
    login_verified(client, make_officer("officer_cap", department="hukou", region_code="330100"))
    first = client.get("/backoffice/cases/?state=submitted").content.decode()
    assert len(_listed(first)) == 20 and 'id="list-capped"' not in first
    cursor = re.search(r'before=([0-9-]+)" rel="next"', first).group(1)
    second = client.get(f"/backoffice/cases/?state=submitted&before={cursor}").content.decode()
    # 25 in all: the second page holds the last five, says the list is capped, and offers no next page.
    assert len(_listed(second)) == 5 and 'id="list-capped"' in second and "25" in second
    assert 'rel="next"' not in second
    # The count is signed: a cursor whose count is reset shows the first page again, not the rest.
    micros, pk, _seen, mac = cursor.split("-")
    forged = client.get(f"/backoffice/cases/?state=submitted&before={micros}-{pk}-0-{mac}").content.decode()
    assert _listed(forged) == _listed(first)


def test_a_short_inbox_is_not_capped(client, cap_of_25):
    citizen = make_citizen()
    for _ in range(3):
        make_case(citizen)
    login_verified(client, make_officer("officer_few", department="hukou", region_code="330100"))
    body = client.get("/backoffice/cases/").content.decode()
    assert len(_listed(body)) == 3 and 'id="list-capped"' not in body


def test_the_staff_list_stops_at_the_cap_with_a_notice(client, settings):
    rules_ensure()
    Rule.objects.filter(code="export_large").update(threshold=4)
    engine.rules_forget()
    try:
        login_verified(client, make_staff("sec_cap", StaffRole.SECURITY_ADMIN))
        for i in range(6):
            make_officer(f"o_cap_{i}", department="hukou", region_code="330100")
        body = client.get("/backoffice/staff/").content.decode()
        assert 'id="list-capped"' in body
        assert len(re.findall(r'href="/backoffice/staff/[^/"]+/"', body)) == 4
        narrowed = client.get("/backoffice/staff/?role=security_admin").content.decode()
        assert 'id="list-capped"' not in narrowed
    finally:
        engine.rules_forget()
