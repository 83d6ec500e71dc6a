"""Two officers acting on one case at once: one wins, the other is told the case changed.

Each officer runs on its own thread and database connection. The first holds the row lock (as a slow
request would) while the second arrives: the second waits on `select_for_update`, then finds the version
it saw is gone and is refused with a clear message — nothing of its action is written. Proven on
PostgreSQL (run with TONGBAN_DATABASE_URL=postgresql://…); SQLite serialises writers the same way.
"""

from __future__ import annotations

import io
import threading

import pytest
from django.db import connection, connections, transaction

from tests.accounts.factories import make_officer
from tests.cases.conftest import make_citizen, make_item, png_bytes
from tongban.cases.attachments import attachment_add
from tongban.cases.catalog_bridge import withdraw_item
from tongban.cases.models import Case, CaseEvent
from tongban.cases.services import case_act, case_save_draft, case_start, case_submit
from tongban.core.errors import TongbanError

pytestmark = pytest.mark.django_db(transaction=True)


def _in_memory_sqlite() -> bool:
    return connection.vendor == "sqlite" and bool(connection.is_in_memory_db())  # type: ignore[attr-defined]


@pytest.fixture
def submitted_case():
    item = make_item("TC01")
    citizen = make_citizen()
    case = case_start(user=citizen, item_code=item.code)
    case_save_draft(user=citizen, case_id=case.pk, answers={"name": "张三", "reason": "damaged"},
                    delivery={"method": "pickup", "station": "窗口"})
    attachment_add(user=citizen, case_id=case.pk, material_code="photo", file=io.BytesIO(png_bytes()))
    case = case_submit(user=citizen, case_id=case.pk)
    yield case
    withdraw_item(item.code)


def _run(target, results, key):
    try:
        results[key] = target()
    except TongbanError as exc:
        results[key] = exc
    except Exception as exc:  # surfaced by the assertions
        results[key] = exc
    finally:
        connections.close_all()


@pytest.mark.skipif("_in_memory_sqlite()", reason="needs a file or server database for two connections")
def test_two_officers_at_once_one_wins(submitted_case):
    first = make_officer("first", department="hukou", region_code="330100")
    second = make_officer("second", department="hukou", region_code="330106")
    seen = submitted_case.version
    holding = threading.Event()
    results: dict[str, object] = {}

    def officer_one():
        with transaction.atomic():
            Case.objects.select_for_update().get(pk=submitted_case.pk)  # the row is ours
            holding.set()
            threading.Event().wait(0.5)  # the other officer arrives meanwhile and waits on the lock
            return case_act(user=first, case_id=submitted_case.pk, action="accept", expected_version=seen)

    def officer_two():
        holding.wait(5)
        return case_act(user=second, case_id=submitted_case.pk, action="return_for_correction",
                        missing=["照片不清晰"], expected_version=seen)

    threads = [threading.Thread(target=_run, args=(officer_one, results, "one")),
               threading.Thread(target=_run, args=(officer_two, results, "two"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert isinstance(results["one"], Case), results["one"]
    refused = results["two"]
    assert isinstance(refused, TongbanError), refused
    assert refused.code == "case_changed"
    assert "已被他人处理" in refused.message("zh") and "审核" in refused.message("zh")
    case = Case.objects.get(pk=submitted_case.pk)
    assert case.state == "review" and case.version == seen + 1 and case.corrections_used == 0
    assert list(CaseEvent.objects.filter(case=case, kind="transition").values_list("action", flat=True)) == [
        "submit", "accept"]


@pytest.mark.skipif("_in_memory_sqlite()", reason="needs a file or server database for two connections")
def test_a_race_without_versions_still_lets_one_act(submitted_case):
    officers = [make_officer(f"racer{n}", department="hukou", region_code="330100") for n in range(4)]
    barrier = threading.Barrier(len(officers))
    results: dict[str, object] = {}

    def act(officer):
        def go():
            barrier.wait(5)
            return case_act(user=officer, case_id=submitted_case.pk, action="accept")
        return go

    threads = [threading.Thread(target=_run, args=(act(o), results, o.username)) for o in officers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    winners = [r for r in results.values() if isinstance(r, Case)]
    losers = [r for r in results.values() if isinstance(r, TongbanError)]
    assert len(winners) == 1 and len(losers) == len(officers) - 1, results
    assert {exc.code for exc in losers} == {"case_action_not_allowed"}
    assert CaseEvent.objects.filter(case_id=submitted_case.pk, action="accept").count() == 1
