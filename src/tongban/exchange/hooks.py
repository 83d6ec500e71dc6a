"""Where the exchange listens: the rows the other apps' services already write, in their transactions
(post_save fires inside the service's atomic block, so a message exists iff the change commits). The
cases, evaluation and catalog apps import nothing of the exchange."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save
from django.dispatch import receiver

from tongban.cases.models import CaseEvent
from tongban.catalog.models import CatalogChange
from tongban.evaluation.models import Rating
from tongban.exchange import messages
from tongban.exchange.services import message_emit


def _enabled() -> bool:
    from tongban.exchange.conf import conf

    return bool(conf().url)


@receiver(post_save, sender=CaseEvent, dispatch_uid="exchange.case_event")
def on_case_event(sender: Any, instance: CaseEvent, created: bool, **kwargs: Any) -> None:
    if not created or instance.kind != "transition" or not _enabled():
        return
    case = instance.case
    if not case.item_version_id or not messages.version_hooked(case.item_version_id):
        return
    message_emit(type=messages.CASE_EVENT, source_id=instance.pk, entity=f"case:{case.number}",
                 occurred_at=instance.created_at)


@receiver(post_save, sender=Rating, dispatch_uid="exchange.rating")
def on_rating(sender: Any, instance: Rating, created: bool, **kwargs: Any) -> None:
    # A rating that came from the national platform is not sent back to it.
    if not created or instance.national_id or not _enabled():
        return
    case = instance.case
    if not case.item_version_id or not messages.version_hooked(case.item_version_id):
        return
    message_emit(type=messages.RATING, source_id=instance.pk, entity=f"rating:{instance.pk}",
                 occurred_at=instance.created_at)


@receiver(post_save, sender=CatalogChange, dispatch_uid="exchange.catalog_change")
def on_catalog_change(sender: Any, instance: CatalogChange, created: bool, **kwargs: Any) -> None:
    if not created or not _enabled() or not instance.version.hooked_national:
        return
    message_emit(type=messages.ITEM_PUBLICATION, source_id=instance.pk,
                 entity=f"item:{instance.implementation.code}", occurred_at=instance.occurred_at)
