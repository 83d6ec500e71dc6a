"""Numbers of notices, decisions and receipts, their formats read from TONGBAN_PAYMENTS["NUMBERS"]:
`accept` is what a typed number must match, `layout` how a new one is made ({region}, {date} yymmdd, {yy},
{seq}), followed by a Damm check digit when `check` is set — it catches every single wrong digit and every
swap of neighbours, the mistakes people make copying a number from paper."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from tongban.cases.numbers import damm
from tongban.payments.models import NumberCounter


def number_format(kind: str) -> dict[str, Any]:
    return dict(settings.TONGBAN_PAYMENTS["NUMBERS"][kind])  # type: ignore[index]


def normalise(value: str) -> str:
    return re.sub(r"[\s\-－—]", "", value or "").upper()



def checks_out(kind: str, value: str) -> bool:
    """The number has the configured shape and, when the format has one, a right check digit."""
    fmt = number_format(kind)
    if not re.fullmatch(str(fmt["accept"]), value):
        return False
    return not fmt.get("check") or (value.isdigit() and damm(value) == 0)


def _next(kind: str, scope: str) -> int:
    with transaction.atomic():
        counter = NumberCounter.objects.select_for_update().filter(kind=kind, scope=scope).first()
        if counter is None:
            try:
                with transaction.atomic():
                    counter = NumberCounter.objects.create(kind=kind, scope=scope, last=0)
            except IntegrityError:
                counter = NumberCounter.objects.select_for_update().get(kind=kind, scope=scope)
            counter = NumberCounter.objects.select_for_update().get(pk=counter.pk)
        counter.last += 1
        counter.save(update_fields=["last"])
        return counter.last


def allocate(kind: str, *, region: str, day: dt.date) -> str:
    fmt = number_format(kind)
    layout = str(fmt["layout"])
    scope = f"{region}-{day:%y%m%d}" if "{date}" in layout else f"{day:%Y}"
    seq = _next(kind, scope)
    body = layout.format(region=region, date=f"{day:%y%m%d}", yy=f"{day:%y}", seq=seq)
    return body + str(damm(body)) if fmt.get("check") else body
