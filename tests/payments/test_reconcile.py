"""Daily reconciliation with planted differences: a payment missing from the settlement file, one the file has
and we do not, one with another amount — each reported to finance staff."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.payments.conftest import make_notice
from tongban.core import clock
from tongban.notifications.models import AccountMessage
from tongban.payments import reconcile, services
from tongban.payments.models import DifferenceKind, PaymentStatus, ReconciliationDifference

pytestmark = pytest.mark.django_db


def _paid(pay_sim, n: int) -> list:
    payments = []
    for i in range(n):
        payment = services.payment_create(document_id=make_notice().pk, idempotency_key=f"rc{i}").payment
        pay_sim.pay(payment.order_id)
        payments.append(services.payment_refresh(payment_id=payment.pk))
    assert all(p.status == PaymentStatus.SUCCESS for p in payments)
    return payments


def test_a_clean_day_has_no_differences(pay_sim, finance):
    _paid(pay_sim, 3)
    run = reconcile.reconciliation_run(day=clock.today_local())
    assert (run.ours, run.theirs, run.differences) == (3, 3, 0)
    assert run.ours_fen == run.theirs_fen == 3 * 4000


def test_planted_differences_are_found_and_reported(pay_sim, finance):
    from tests.accounts.conftest import deliver

    payments = _paid(pay_sim, 5)
    today = clock.today_local()
    lines = pay_sim.app.settlement(today).decode().splitlines()
    header, rows = lines[0], lines[1:]
    missing = payments[0].order_id
    changed = payments[1].order_id
    rows = [r for r in rows if not r.startswith(missing + ",")]
    rows = [r.replace(",pay,4000,", ",pay,3900,") if r.startswith(changed + ",") else r for r in rows]
    rows.append(f"TB000000STRANGER,P0000,pay,12000,{clock.now().isoformat()}")
    rows.append(f"{payments[2].order_id},R1,refund,100,{clock.now().isoformat()}")  # a refund line is not a payment
    run = reconcile.reconciliation_run(day=today, data=("\n".join([header, *rows]) + "\n").encode())
    found = {(d.kind, d.order_id): d for d in ReconciliationDifference.objects.filter(reconciliation=run)}
    assert set(found) == {(DifferenceKind.MISSING, missing), (DifferenceKind.AMOUNT, changed),
                          (DifferenceKind.EXTRA, "TB000000STRANGER")}
    assert (found[(DifferenceKind.AMOUNT, changed)].ours_fen, found[(DifferenceKind.AMOUNT, changed)].theirs_fen) == \
        (4000, 3900)
    assert run.differences == 3
    deliver()
    assert AccountMessage.objects.filter(user=finance, title="对账差异待处理").count() == 1
    # Run the day again (a corrected file): the result is replaced, not added to.
    run = reconcile.reconciliation_run(day=today)
    assert run.differences == 0 and ReconciliationDifference.objects.count() == 0


def test_payments_of_other_days_are_not_compared(pay_sim):
    _paid(pay_sim, 2)
    run = reconcile.reconciliation_run(day=clock.today_local() - dt.timedelta(days=1))
    assert (run.ours, run.theirs, run.differences) == (0, 0, 0)


def test_a_file_that_is_not_a_settlement_file_is_refused():
    with pytest.raises(reconcile.SettlementFileError):
        reconcile.reconciliation_run(day=clock.today_local(), data=b"hello,world\n1,2\n")


def test_finance_resolves_a_difference(pay_sim, finance, client):
    from tests.accounts.factories import login_verified

    payments = _paid(pay_sim, 1)
    run = reconcile.reconciliation_run(day=clock.today_local(), data=b"order_id,gateway_ref,type,amount_fen,time\n")
    item = ReconciliationDifference.objects.get(reconciliation=run)
    assert item.payment_id == payments[0].pk
    login_verified(client, finance)
    page = client.get("/backoffice/payments/reconciliation/")
    assert page.status_code == 200 and item.order_id in page.content.decode()
    client.post(f"/backoffice/payments/reconciliation/differences/{item.pk}/resolve/", {"note": "银行补记"})
    item.refresh_from_db()
    assert item.resolved_by == finance and item.note == "银行补记"
