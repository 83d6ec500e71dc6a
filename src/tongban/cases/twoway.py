"""Two-way post (邮政双向速递) and the fees of the items offered to Hong Kong and Macao residents.

With the `two_way_post` workflow (data/workflows/two_way_post.toml), accepting an application:
- writes the inbound parcel — the applicant posts the originals (a permit card, a licence) to the office —
  and the courier order for it through the outbox; the waybill is shown on the applicant's case page;
- issues the fee notice the item's fee table names (data/fee_notices.toml) through `tongban.payments`,
  payable online by anyone, a Hong Kong or Macao resident included; the case page shows it.
The case then waits in 待收原件 (the promise's clock stopped) until the courier reports the inbound parcel
signed for at the office (`originals_received`, a system action; an officer may record originals handed in
at the counter instead). Approval sends the originals and the result back (the outbound parcel).
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Any

from tongban.cases.models import Case, CaseEvent, Parcel, ParcelDirection

AWAITING_ORIGINALS = "awaiting_originals"
ORIGINALS_RECEIVED = "originals_received"
FEE_NOTICES = Path(__file__).resolve().parent / "data" / "fee_notices.toml"


@cache
def fee_notices() -> dict[str, dict[str, Any]]:
    """Item code -> {"category", "items": [{"code", "quantity"}], "payee_unit", "on"}."""
    with FEE_NOTICES.open("rb") as handle:
        return {code: dict(entry) for code, entry in tomllib.load(handle).items()}


def office_of(case: Case) -> str:
    """Where the originals go: the item's first station (its name carries the office)."""
    stations = case.item_snapshot.get("pickup_stations") or []
    return str(stations[0]) if stations else case.item_title


def on_transition(case: Case, event: CaseEvent) -> None:
    """In the transition's transaction: the fee notice on the configured action, and on entering
    待收原件 the inbound parcel and its courier order."""
    fee = fee_notices().get(case.item_code)
    if fee is not None and event.action == fee.get("on", "accept"):
        _issue_fee_notice(case, fee)
    if event.to_state == AWAITING_ORIGINALS and event.from_state != AWAITING_ORIGINALS:
        from tongban.cases.delivery import EMS_CHANNEL
        from tongban.jobs.services import outbox_send

        parcel, _ = Parcel.objects.get_or_create(case=case, direction=ParcelDirection.INBOUND,
                                                 defaults={"order_id": f"tongban-{case.pk}-in"})
        outbox_send(channel=EMS_CHANNEL, payload={"parcel_id": parcel.pk}, idempotency_key=f"ems-order:{parcel.pk}")


def _issue_fee_notice(case: Case, fee: dict[str, Any]) -> None:
    from tongban.accounts.models import CitizenProfile
    from tongban.payments.models import PayerKind
    from tongban.payments.services import notice_issue

    enterprise = case.enterprise
    payer_id: str | None
    if enterprise is not None:
        payer_name, payer_id, kind = enterprise.name, enterprise.uscc, PayerKind.ENTERPRISE
    else:
        profile = CitizenProfile.objects.filter(user_id=case.applicant_id).first()
        payer_name = (profile.name if profile else "") or ""
        payer_id, kind = (profile.id_number if profile else None), PayerKind.PERSON
    notice_issue(category=str(fee["category"]), items=[dict(i) for i in fee["items"]], payer_name=payer_name,
                 payer_id_number=payer_id, payer_kind=kind, payer_user_id=case.applicant_id,
                 region_code=case.region_code, payee_unit=str(fee["payee_unit"]), case_id=case.pk,
                 component="cases")
