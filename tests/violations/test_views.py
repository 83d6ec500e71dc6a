"""The citizen's pages (Django test client): the overview, where to go when it cannot be done online, handling
through to the payment page, registering a car, the catalog item leading here, and the demo data."""

from __future__ import annotations

import pytest

from tests.violations.conftest import record
from tongban.violations import selectors
from tongban.violations.models import Decision, Violation

pytestmark = pytest.mark.django_db(databases="__all__")


def test_overview_and_handling_to_the_payment_page(client, world):
    violation = record(code="1625")
    client.force_login(world["owner"])
    page = client.get("/violations/")
    assert page.status_code == 200
    body = page.content.decode()
    assert violation.number in body and 'id="points">0<' in body
    detail = client.get(f"/violations/{violation.number}/")
    assert 'id="handle"' in detail.content.decode()
    handled = client.post(f"/violations/{violation.number}/")
    decision = Decision.objects.get(violation=violation)
    assert handled.status_code == 302 and handled["Location"] == f"/violations/decision/{decision.number}/"
    shown = client.get(handled["Location"]).content.decode()
    assert "¥200.00" in shown and f'href="/pay/{decision.number}/"' in shown
    pay = client.get(f"/pay/{decision.number}/")  # the payer, signed in, sees their own decision
    assert pay.status_code == 200 and 'id="total">¥200.00<' in pay.content.decode()


def test_the_page_says_where_to_go_when_not_online(client, world):
    from tongban.catalog.loading import catalog_load

    catalog_load()
    violation = record(code="1636")
    client.force_login(world["owner"])
    body = client.get(f"/violations/{violation.number}/").content.decode()
    assert 'data-reason="fine_over_limit"' in body and 'id="handle"' not in body
    assert "广州市公安局交通警察支队服务窗口" in body  # the catalog item's place for 440100
    assert client.post(f"/violations/{violation.number}/").status_code == 302
    assert Violation.objects.get(pk=violation.pk).status == "unhandled"


def test_others_get_404_and_staff_too(client, world):
    violation = record()
    client.force_login(world["other"])
    assert client.get(f"/violations/{violation.number}/").status_code == 404
    assert client.post(f"/violations/{violation.number}/").status_code == 404


def test_register_a_car_from_the_page(client, world):
    client.force_login(world["driver"])
    client.post("/violations/vehicles/", {"plate": "粤A00502"})
    page = client.get("/violations/").content.decode()
    assert 'data-plate="粤A00502" data-status="pending"' in page


def test_catalog_item_leads_to_the_service(client, db):
    from tongban.catalog.loading import catalog_load

    catalog_load()
    body = client.get("/items/440100-GAJG002/").content.decode()
    assert 'id="apply" href="/violations/"' in body


def test_demo_records_violations_for_the_demo_citizens_car(world):
    from tongban.violations.demo import demo_violations_ensure

    people: list[dict] = [{"plates": ["粤A00501"], "plate": "粤A00501"}]
    assert demo_violations_ensure(people) == 4
    rows = Violation.objects.filter(plate="粤A00501")
    assert sorted(rows.values_list("code", flat=True)) == ["1039", "1625", "1625", "1636"]
    assert {r.province for r in rows} == {"44", "33"}
    assert demo_violations_ensure(people) == 0  # once only


def test_demo_citizen_without_a_car_drives_anothers_with_consent(world):
    from tongban.violations.demo import demo_violations_ensure

    people: list[dict] = [{"plates": []}, {"plates": ["粤A00502"], "plate": "粤A00502"}]
    assert demo_violations_ensure(people, world["driver"]) == 4
    seen = selectors.overview(world["driver"])
    assert len(seen.violations) == 4 and [d.plate for d in seen.driven] == ["粤A00502"]


def test_api_gives_a_codes_standard_by_province(client):
    zhejiang = client.get("/api/v1/violations/standards/33/1625").json()
    assert (zhejiang["fine_fen"], zhejiang["points"], zhejiang["online"]) == (15_000, 6, True)
    assert client.get("/api/v1/violations/standards/44/1636").json()["online"] is False
    missing = client.get("/api/v1/violations/standards/44/9999")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert client.get("/api/v1/violations/standards/4x/1625").status_code == 422


def test_generate_command_records_violations_for_generated_cars(db):
    import io

    from django.core.management import call_command

    from tongban.notifications.models import SmsMessage

    call_command("registry", "generate", "--people", "400", "--seed", "5", "--no-progress", stdout=io.StringIO())
    out = io.StringIO()
    call_command("violations", "generate", "--owners", "3", "--per-plate", "2", stdout=out)
    plates = set(Violation.objects.values_list("plate", flat=True))
    assert len(plates) >= 1 and Violation.objects.count() == 2 * len(plates)
    assert SmsMessage.objects.filter(purpose="violation").count() == Violation.objects.count()
    assert f"录入 {Violation.objects.count()} 条" in out.getvalue()


def test_overview_queries_do_not_grow_with_violations(client, world):
    from django.db import connections
    from django.test.utils import CaptureQueriesContext

    client.force_login(world["owner"])
    record(code="1625")
    with CaptureQueriesContext(connections["default"]) as one:
        assert client.get("/violations/").status_code == 200
    from tongban.violations.services import violation_handle

    more = [record(code="1344") for _ in range(4)]
    violation_handle(user=world["owner"], violation_number=more[0].number)
    with CaptureQueriesContext(connections["default"]) as five:
        assert client.get("/violations/").status_code == 200
    assert len(five.captured_queries) <= len(one.captured_queries) + 1  # + the decision's payment document


def test_unverified_and_hk_accounts_are_told_what_to_do(client, db):
    from django.utils import timezone

    from tongban.accounts.models import CitizenProfile, User, UserKind

    user = User.objects.create_user("hk1", "Citizen-2026-pw", kind=UserKind.CITIZEN)
    profile = CitizenProfile.objects.create(user=user, phone="13900000592", level=0)
    client.force_login(user)
    page = client.get("/violations/")
    assert page.status_code == 403 and "实名认证" in page.content.decode()
    CitizenProfile.objects.filter(pk=profile.pk).update(level=2, verified_at=timezone.now())
    profile = CitizenProfile.objects.get(pk=profile.pk)
    profile.id_type, profile.id_number, profile.person_key, profile.name = "hk_macao_permit", "H12345678", "H12345678", "陈大文"
    profile.save()
    page = client.get("/violations/")
    assert page.status_code == 403 and "居民身份证" in page.content.decode()
