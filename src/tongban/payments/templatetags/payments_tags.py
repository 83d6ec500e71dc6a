"""`{% case_payments case %}`: the case page's hook — the fees notices issued for the case, each with its
amount, state, a link to pay and the QR code (the same as printed on the notice)."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.inclusion_tag("payments/_case_payments.html")
def case_payments(case: Any) -> dict[str, Any]:
    from tongban.payments import fees, selectors, services
    from tongban.payments.views import _qr_svg, pay_url_for

    rows = []
    for doc in selectors.notices_for_case(case.pk):
        unpaid = doc.status == "unpaid"
        rows.append({"doc": doc, "yuan": fees.yuan(doc.amount_fen),
                     "link": f"/pay/{doc.number}/?t={services.qr_token(doc.number)}",
                     "qr_svg": _qr_svg(pay_url_for(doc), "扫码缴款的二维码") if unpaid else ""})
    return {"rows": rows}
